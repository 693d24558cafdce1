"""The runner: load the inputs, check the budgets, run every thread's stage chain, report progress, and
hand each brief and the run's manifest to ``outputs``.

Input: a ``RunConfig``, an ``Extractor`` and, for a batch pass, the source asked when the cache has no
answer (default: the extractor, live). Output: a ``RunReport`` (exit code, the manifest's summary, the run
record holding every thread's entry and rows); ``run`` also writes the manifest and the flat files
(``outputs.write_run``). Exit code: 0 when every thread is complete, 1 otherwise.
Memory does not grow with the number of threads: the inputs are read twice, streamed (a first pass checks
the budgets, counts the threads and reports input errors; the second feeds the threads in; a dump regrouped
on disk by the first pass is not read again: ``InputStream(keep_pools=True)``), at most ``window`` threads
are in flight, and a finished thread's result goes to the record on disk.
Failure modes: ``ConfigError``/``OutputError`` (exit 2) before any thread runs; everything that goes wrong
inside a thread is recorded in its brief and result, and the other threads carry on. What stops the run
part-way (``WorkersKeepDying``, a ``ConfigError`` from a thread, Ctrl-C, SIGTERM as ``Terminated``) is raised
only after run.json and the flat files are written for the threads that finished, with run.json's ``stopped``
saying what and how many threads did not run: an earlier run's run.json never stays beside this run's briefs.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Iterable
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path

from . import __version__, outputs
from .answers import AnswerSource, CachedAnswers, LiveAnswers, SingleFlight, Tally
from .brief_types import PromptHash
from .cache import ExtractionCache, default_cache_dir
from .chunk import check_budget, fixed_prompt_tokens
from .cost import Estimate, Pricing, estimate_run, load_prices
from .errors import ConfigError, Terminated, ThreadbriefError
from .extract import Extractor
from .extract_openai import EXTRACT_PROMPTS, SUMMARY_PROMPTS
from .jobs import ThreadPool, WorkerSetup, available_cores, brief_and_write, start_early
from .load import InputStream
from .models import Thread, Usage
from .outputs import RunHeader, RunRecord, RunSummary
from .progress import Log, NoProgress, ProgressReporter, no_log
from .render import SCHEMA_VERSION
from .resources import prompt_sha256, schema_sha256
from .settings import RunConfig, public_url
from .thread import ThreadResult, ThreadSettings, result_from_brief
from .tokenizer import Tokenizer, get_tokenizer

__all__ = ["RunConfig", "RunReport", "Runner", "ThreadResult", "run"]

_MARKS = {"complete": "ok", "partial": "PARTIAL", "failed": "FAILED", "pending": "PENDING"}


@dataclass
class RunReport:
    exit_code: int
    manifest: RunSummary
    record: RunRecord  # the caller writes the files from it (outputs.write_run), then closes it
    # What stopped the run part-way (workers that keep dying, a ConfigError, Ctrl-C: asyncio's CancelledError),
    # None when every thread ran. The caller writes the files first, then raises it (``raise_stop``).
    stop: BaseException | None = None

    def raise_stop(self) -> None:
        """Raise what stopped the run, if anything: an interrupt (Ctrl-C) as the KeyboardInterrupt it was."""
        if isinstance(self.stop, asyncio.CancelledError):
            raise KeyboardInterrupt from None
        if self.stop is not None:
            raise self.stop


# Below this many threads per worker, a worker's start (about a second: imports, the language model) costs
# more than it saves; --jobs N asks for N whatever the count.
THREADS_PER_DEFAULT_JOB = 64


def window_size(concurrency: int) -> int:
    """Threads in flight at once: enough that every request slot stays busy while some threads are
    between stages (a thread sends all its chunks at once), few enough that memory stays flat."""
    return max(64, 4 * concurrency)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _prompt_list(extractor: Extractor) -> list[PromptHash]:
    # The offline extractor follows no instructions, but its chunks are sized by the same rendered prompt.
    names = (
        EXTRACT_PROMPTS + SUMMARY_PROMPTS
        if extractor.name == "openai"
        else ("extract_system", "extract_user", "extract_context", "extract_language")
    )
    return [{"name": name, "sha256": prompt_sha256(name)} for name in names]


def refuse_over_budget(estimate: Estimate, model: str | None, max_cost: float) -> None:
    """A ConfigError when the run's estimated cost is unknown or above --max-cost."""
    if estimate.cost_usd is None:
        raise ConfigError(f"no price known for model {model!r}: add it with --prices FILE, or drop --max-cost")
    if estimate.cost_usd > max_cost:
        raise ConfigError(
            f"the estimated cost ${estimate.cost_usd:.4f} ({estimate.calls} calls, {estimate.prompt_tokens} "
            f"prompt tokens, {estimate.output_budget} output budget) exceeds --max-cost ${max_cost:.4f}: "
            "raise --max-cost, or run fewer threads (see `threadbrief estimate`)"
        )


INTERRUPTED_EXIT_CODE = 130  # a shell's code for a process stopped by SIGINT (128 + 2)


def _on_sigterm_cancel(task: asyncio.Task[object] | None) -> threading.Event:
    """SIGTERM stops the run as Ctrl-C does (its task cancelled; the event says it was SIGTERM), so run.json is
    written before the process ends. Only in the main thread of a process with signals (elsewhere the event
    is never set and SIGTERM keeps its default action)."""
    event = threading.Event()

    def terminate() -> None:
        event.set()
        if task is not None:
            task.cancel()

    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, terminate)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no such signals
        pass
    return event


def _stop_handling_sigterm() -> None:
    try:
        asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)
    except (NotImplementedError, RuntimeError, ValueError):
        pass


def stopped_section(
    stop: BaseException,
    count: int,
    ran: int,
    recovered: int = 0,
    unrecorded: outputs.UnrecordedUsage | None = None,
    cancelled_requests: int = 0,
) -> outputs.Stopped:
    """run.json's ``stopped``: what stopped the run part-way, its exit code, how many threads never ran, and what
    the threads that never finished spent (their answered calls, and the requests cancelled in flight)."""
    if isinstance(stop, asyncio.CancelledError):
        error, reason, code = "KeyboardInterrupt", "interrupted (Ctrl-C or SIGINT)", INTERRUPTED_EXIT_CODE
    else:
        error, reason = type(stop).__name__, str(stop) or type(stop).__name__
        code = stop.exit_code if isinstance(stop, ThreadbriefError) else 1
    return {
        "error": error,
        "reason": reason,
        "exit_code": code,
        "threads_not_run": max(0, count - ran),
        "recorded_from_briefs": recovered,
        "unrecorded": unrecorded or outputs.unrecorded_usage(Usage(), None),
        "requests_cancelled": cancelled_requests,
    }


def note_earlier_folders(out: Path, record: RunRecord, log: Log) -> list[str]:
    """The thread folders in OUT this run did not write, said in a NOTE line."""
    earlier = outputs.earlier_thread_folders(out, record.has)
    if earlier:
        shown = ", ".join(earlier[:5]) + (f" and {len(earlier) - 5} more" if len(earlier) > 5 else "")
        log(
            "NOTE",
            f"{out} also holds {len(earlier)} thread folder(s) this run did not write ({shown}): "
            "run.json lists this run's threads, and report and export follow it; delete them or use another -o",
        )
    return earlier


class Runner:
    def __init__(
        self,
        config: RunConfig,
        extractor: Extractor,
        log: Log = no_log,
        progress: ProgressReporter | None = None,
        *,
        on_cache_miss: AnswerSource | None = None,
    ) -> None:
        self.config = config
        self.extractor = extractor
        self.log = log
        self.progress: ProgressReporter = progress or NoProgress()
        self.cache: ExtractionCache | None = None
        if config.use_cache and extractor.name != "offline":  # offline is deterministic and cheap
            self.cache = ExtractionCache(config.cache_dir or default_cache_dir())
        answers = on_cache_miss or LiveAnswers(extractor, config.concurrency)
        # What every answer in this process cost, counted once (behind SingleFlight, whose waiters are charged
        # nothing): a run stopped part-way says what its unfinished threads spent.
        self.tally = Tally(answers if self.cache is None else CachedAnswers(self.cache, extractor.fingerprint, answers))
        self.answers: AnswerSource = self.tally
        self.flights: SingleFlight | None = None
        if extractor.name != "offline":  # offline answers at once: nothing of it is ever in flight to share
            self.answers = self.flights = SingleFlight(extractor.fingerprint, self.tally)
        self.prices = load_prices(config.prices)
        self.price = Pricing(self.prices, extractor.name, extractor.model)
        self.prompts = _prompt_list(extractor)
        self.schemas = {name: schema_sha256(name) for name in ("extraction", "summary", "brief")}
        self.thread_settings = ThreadSettings(
            max_chunk_tokens=config.max_chunk_tokens,
            provenance={
                "backend": extractor.name,
                "model": extractor.model,
                "prompts": self.prompts,
                "schemas": self.schemas,
                "schema_version": SCHEMA_VERSION,
                "threadbrief_version": __version__,
            },
            price=self.price,
            debug=config.debug,
            language=config.language,
            languages=extractor.languages,
        )

    @cached_property
    def tokenizer(self) -> Tokenizer:
        # Loaded on first use (a few tenths of a second): after the workers' server has been started, which
        # then loads its own copy at the same time, on another core.
        return get_tokenizer(self.extractor.model)

    async def _thread(self, thread: Thread) -> ThreadResult:
        """One thread's chain; its brief goes to OUT as soon as it is done. Only a ConfigError stops the run."""
        result = await brief_and_write(
            thread, self.answers, self.tokenizer, self.thread_settings, self.progress, self.config.out
        )
        self._log_result(result)
        return result

    def _log_result(self, result: ThreadResult) -> None:
        detail = f"{result.claims} claims, {result.relations} relations"
        if result.status == "pending":
            detail = f"waiting for {result.pending} batch answer(s)"
        if result.failures:
            detail += f"; {len(result.failures)} failure(s): {result.failures[0].reason[:160]}"
        self.log(_MARKS[result.status], f"{result.thread_id}: {detail}")

    def _survey(self) -> tuple[InputStream, int]:
        """The first pass over the inputs: the threads counted and their titles checked against the chunk
        budget (and the run's cost against --max-cost) before any runs; input errors and notes reported."""
        # The run reads its inputs twice: a dump regrouped on disk by the first pass is kept for the second.
        inputs = InputStream(self.config.inputs, self.config.import_options, keep_pools=True)
        try:
            return inputs, self._first_pass(inputs)
        except BaseException:
            inputs.close()  # the spill of a dump read in this pass
            raise

    def _first_pass(self, inputs: InputStream) -> int:
        count, widest, widest_tokens = 0, "", -1
        # --jobs N asks for workers: their server starts at once, and loads the pipeline and its models while
        # this pass reads the inputs. By default, once there are threads enough for workers (a small run
        # never pays for a server it does not use).
        workers_started = self.jobs_for(2) > 1 and self.config.jobs is not None
        if workers_started:
            start_early()
        for thread in inputs:
            count += 1
            if not workers_started and self.jobs_for(count) > 1:
                start_early()
                workers_started = True
            title = thread.title or thread.id
            if (tokens := fixed_prompt_tokens(self.tokenizer, title)) > widest_tokens:
                widest, widest_tokens = title, tokens
            if thread.renamed_from is not None:
                self.log(
                    "NOTE",
                    f"{thread.input_path}: thread id {thread.renamed_from!r} is not a safe folder name "
                    f"or is already taken: written as {thread.id!r} (give the thread a unique id to choose)",
                )
        self.progress.threads_found(count)
        for error in inputs.errors:
            self.log("SKIPPED", str(error))
        for note in inputs.notes:
            self.log("NOTE", f"{note.where}: {note.reason}")
        if not count and not inputs.errors:
            raise ConfigError(
                "no input threads found: pass thread exports (see `threadbrief formats`) or directories holding them"
            )
        check_budget([widest] if count else [], self.tokenizer, self.config.max_chunk_tokens)
        if self.config.max_cost is not None:
            estimate = estimate_run(
                inputs,
                self.tokenizer,
                max_chunk_tokens=self.config.max_chunk_tokens,
                output_budget=self.config.output_budget,
                backend=self.extractor.name,
                model=self.extractor.model,
                prices=self.prices,
                price_factor=self.config.price_factor,
            )
            refuse_over_budget(estimate, self.extractor.model, self.config.max_cost)
        return count

    def jobs_for(self, count: int) -> int:
        """Worker processes for ``count`` threads: 1 (this process) for a backend that calls a model, whose
        HTTP calls, rate limiter and cache live in this process's event loop; else --jobs, by default the
        cores available but no more than the threads can keep busy (a worker's start costs about a second)."""
        if self.extractor.name != "offline":
            return 1
        if self.config.jobs is not None:
            return max(1, min(self.config.jobs, count))
        return max(1, min(available_cores(), count // THREADS_PER_DEFAULT_JOB))

    async def _run_all(self, threads: Iterable[Thread], record: RunRecord, count: int) -> None:
        """Every thread's chain, in this process (at most ``window_size`` at once) or in worker processes,
        each recorded as it finishes."""
        jobs = self.jobs_for(count)
        try:
            if jobs > 1:
                await self._run_in_workers(threads, record, count, jobs)
            else:
                await self._run_here(threads, record)
        finally:
            if self.flights is not None:  # questions whose callers are gone (the run stopped): not sent on
                await self.flights.cancel()
            self.progress.close()
            if self.cache is not None:
                self.cache.close()
            await self.extractor.aclose()

    async def _run_in_workers(self, threads: Iterable[Thread], record: RunRecord, count: int, jobs: int) -> None:
        setup = WorkerSetup(self.config.out, self.extractor.model, self.thread_settings)
        pool, seq = ThreadPool(setup, jobs), 0
        try:
            # aclosing: an error here closes the results at once, so the batches running finish before what
            # they finished is recorded below.
            async with aclosing(pool.results(threads, count, self.progress)) as results:
                async for renamed_from, result in results:
                    self._log_result(result)
                    record.add(seq, result, renamed_from)
                    seq += 1
        except BaseException:  # cancelled (Ctrl-C, SIGTERM) or an error that stops the run
            # In input order: the threads of the batches that finished as the run stopped, and those whose worker
            # ended with the run (SIGTERM to the process group) after writing their brief, recorded from it: so
            # run.json lists every brief this run wrote, none as an earlier run's.
            for thread, finished in pool.unfinished:
                if finished is None:
                    written = outputs.brief_written_since(self.config.out, thread.id, record.created_ns)
                    if written is None:
                        continue
                    finished = result_from_brief(written)
                    record.recovered += 1
                self._log_result(finished)
                record.add(seq, finished, thread.renamed_from)
                seq += 1
            raise

    async def _run_here(self, threads: Iterable[Thread], record: RunRecord) -> None:
        """At most ``window_size`` threads at once in this process's event loop."""
        slots = asyncio.Semaphore(window_size(self.config.concurrency))
        running: set[asyncio.Task[None]] = set()
        stopped: list[Exception] = []  # what stops the run (a ConfigError; anything with --debug)

        async def one(seq: int, thread: Thread) -> None:
            try:
                record.add(seq, await self._thread(thread), thread.renamed_from)
            except Exception as exc:
                stopped.append(exc)
            finally:
                slots.release()

        try:
            for seq, thread in enumerate(threads):
                await slots.acquire()
                if stopped:
                    break  # start no more threads
                task = asyncio.create_task(one(seq, thread))
                running.add(task)
                task.add_done_callback(running.discard)
                # Let this thread chunk and send its first requests before the next one is prepared:
                # otherwise every thread's CPU work runs before the first request leaves.
                await asyncio.sleep(0)
            await asyncio.gather(*running)
        except asyncio.CancelledError:
            # Interrupted: the threads in flight stop here, so none is recorded after run.json's totals are.
            for task in list(running):
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            raise
        if stopped:
            raise stopped[0]

    async def run(self) -> RunReport:
        """Every thread's brief written and its result recorded; the manifest's summary built, not written
        (the caller may add to it, then writes it with ``outputs.write_run``)."""
        started_at, started = _now(), time.monotonic()
        outputs.prepare(self.config.out)
        inputs, count = self._survey()
        if self.config.language and self.extractor.name == "offline":
            self.log(
                "NOTE",
                f"--language {self.config.language}: the offline extractor writes no paraphrase or overview of "
                "its own (it quotes the posts), so its briefs stay in each thread's language; "
                "--backend openai writes in it",
            )
        record = RunRecord(self.config.out)
        stop: BaseException | None = None
        terminated = _on_sigterm_cancel(asyncio.current_task())
        try:
            await self._run_all(inputs, record, count)
        except (Exception, asyncio.CancelledError) as exc:
            # The threads that finished still go to run.json, with what stopped the run: otherwise an earlier
            # run's run.json would stay beside this run's briefs, and report and export would follow it.
            stop = exc
            if terminated.is_set():  # also when SIGTERM sent to the process group ended the workers first
                stop = Terminated("terminated (SIGTERM): run.json records the threads that finished")
        except BaseException:
            record.close()
            raise
        finally:
            _stop_handling_sigterm()
            inputs.close()
        earlier = note_earlier_folders(self.config.out, record, self.log)
        header: RunHeader = {
            "threadbrief_version": __version__,
            "started_at": started_at,
            "finished_at": _now(),
            "seconds": round(time.monotonic() - started, 3),
            "backend": self.extractor.name,
            "model": self.extractor.model,
            "base_url": public_url(self.extractor.base_url),
            "settings": {
                "max_chunk_tokens": self.config.max_chunk_tokens,
                "concurrency": self.config.concurrency,
                "cache": str(self.cache.path) if self.cache else None,
                # What the endpoint ended up getting (openai backend): json_schema, or json_object when it
                # rejected or ignored json_schema, or --response-format json_object.
                "response_format": self.extractor.response_mode,
                # --language: what paraphrases and overviews are asked in; None: each thread's own language.
                "language": self.config.language,
            },
            "prompts": self.prompts,
            "schemas": self.schemas,
        }
        summary = record.summary(header, inputs.errors, inputs.notes, earlier, self.price, self.extractor.rate_limited)
        if stop is not None:
            spent = self.tally.spent.minus(record.usage)
            summary["stopped"] = stopped_section(
                stop,
                count,
                record.threads,
                record.recovered,
                outputs.unrecorded_usage(spent, self.price(spent)),
                self.extractor.cancelled_requests,
            )
            summary["exit_code"] = summary["stopped"]["exit_code"]
            self.log(
                "STOPPED",
                f"{record.threads} of {count} thread(s) ran before the run stopped; run.json records them "
                f"and what stopped it ({summary['stopped']['reason'][:160]})",
            )
            cancelled = summary["stopped"]["requests_cancelled"]
            if spent.calls or cancelled:
                self.log(
                    "NOTE",
                    f"threads that did not finish made {spent.calls} call(s) ({spent.tokens_in}+{spent.tokens_out} "
                    f"tokens) and {cancelled} request(s) were cancelled in flight: not in the totals, in run.json's "
                    "stopped",
                )
        return RunReport(summary["exit_code"], summary, record, stop)


def run(
    config: RunConfig,
    extractor: Extractor,
    log: Log = no_log,
    progress: ProgressReporter | None = None,
) -> tuple[int, RunSummary]:
    """A live run: every brief, then the manifest and the flat files (the thread entries are in OUT/run.json:
    ``outputs.read_manifest``)."""
    report = asyncio.run(Runner(config, extractor, log, progress).run())
    try:
        outputs.write_run(config.out, report.manifest, report.record)
    finally:
        report.record.close()
    report.raise_stop()
    return report.exit_code, report.manifest
