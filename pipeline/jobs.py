"""Jobs: how many threads run at once, and where: one thread's chain with its brief written
(``brief_and_write``, the same in the runner's process and in a worker), and whole threads in worker
processes (``ThreadPool``) for a backend that needs no network (offline).

Input: loaded ``Thread``s, a ``WorkerSetup`` (OUT, the tokenizer's model, the ``ThreadSettings``, debug)
and the number of jobs. Output: each thread's ``ThreadResult`` in input order, whatever order the workers
finish in, with its brief already written to OUT by the worker (rendering and writing are CPU too), and the
progress events the worker saw replayed on the runner's reporter. The results are those of one process: the
worker runs the same ``brief_thread`` with the same settings, and nothing in the offline chain depends on
another thread. Failure modes: as in one process, a thread's unexpected error is recorded as an
``internal`` failure of that thread (re-raised with ``debug``); a ``ConfigError`` stops the run. A worker
that dies (``BrokenProcessPool``: killed, out of memory, a crash in native code) loses the batches in flight:
their threads run again one at a time, and a thread whose worker dies again is an ``internal`` failure, the
others get their briefs; ``WorkersKeepDying`` stops the run when ``MAX_DEATHS_IN_A_ROW``
threads in a row each stop their worker, or when no worker can be started (``WorkerStartFailed``: the
forkserver gone, as SIGTERM sent to the whole process group ends it). Whatever stops ``results`` part-way,
the batches running finish first, and ``unfinished`` says which threads it did not yield.
Why whole threads: the offline chain is CPU from end to end, so a thread is the natural unit; an LLM
backend's HTTP calls stay in the runner's event loop with its rate limiter and cache (not here).
Workers are started with forkserver (spawn where there is none), never a bare fork: the runner's process
may hold threads (the progress bar's refresher, the cache's writer) whose locks a fork would copy held.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import multiprocessing.forkserver
import os
import select
import signal
import threading
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from . import outputs
from .answers import AnswerSource, LiveAnswers
from .errors import ConfigError, WorkersKeepDying
from .extract_offline import OfflineExtractor
from .language import detect_texts
from .models import Failure, Thread, Usage
from .progress import ProgressReporter
from .thread import ThreadResult, ThreadSettings, brief_thread
from .tokenizer import Tokenizer, get_tokenizer

# Threads per task sent to a worker: enough to make the pickling round trip small beside the work
# (a thread is milliseconds), few enough that the last tasks balance across workers.
MAX_BATCH = 16
TASKS_PER_WORKER = 8  # aim for this many tasks per worker at least, so a long thread does not leave one idle
IN_FLIGHT_PER_WORKER = 4  # tasks submitted ahead of the results read: bounded memory, workers never starved
# Threads in a row that each stop their own worker before the run stops: past this, the workers cannot run at
# all (a broken install, a failing start), and failing every thread one worker start at a time would only be slow.
MAX_DEATHS_IN_A_ROW = 3


def available_cores() -> int:
    """The cores this process may run on (its affinity mask, not the machine's count)."""
    counter = getattr(os, "process_cpu_count", None)  # Python 3.13+
    if counter is not None:
        return int(counter() or 1)
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


async def brief_and_write(
    thread: Thread,
    answers: AnswerSource,
    tokenizer: Tokenizer,
    settings: ThreadSettings,
    progress: ProgressReporter,
    out: Path,
) -> ThreadResult:
    """One thread's chain, its brief written to OUT. Only a ConfigError (or anything, with ``debug``) stops
    the run; any other error is this thread's ``internal`` failure."""
    try:
        result, brief = await brief_thread(thread, answers, tokenizer, settings, progress)
        if brief is not None:
            outputs.write_brief(out, brief)
        return result
    except ConfigError:
        raise
    except Exception as exc:
        if settings.debug:
            raise
        return failed_thread(thread, f"{type(exc).__name__}: {exc}", progress)


def failed_thread(thread: Thread, reason: str, progress: ProgressReporter) -> ThreadResult:
    """A thread that ended in an unexpected error, with no brief: its ``internal`` failure, counted as done."""
    progress.thread_done(Usage())
    return ThreadResult(thread.id, thread.input_path, "failed", False, failures=[Failure("internal", None, reason)])


@dataclass(frozen=True)
class WorkerSetup:
    """What a worker needs to run threads as the runner would: pickled once per worker."""

    out: Path
    model: str | None  # the tokenizer's model (the chunker sizes chunks by it)
    settings: ThreadSettings
    runner_pid: int = field(default_factory=os.getpid)  # the process the results go to


@dataclass
class RecordedProgress:
    """A worker's progress events, replayed on the runner's reporter when the thread's result comes back."""

    events: list[tuple[str, int | Usage]] = field(default_factory=list)

    def threads_found(self, count: int) -> None:
        self.events.append(("threads_found", count))

    def chunks_found(self, count: int) -> None:
        self.events.append(("chunks_found", count))

    def chunk_done(self, usage: Usage) -> None:
        self.events.append(("chunk_done", usage))

    def thread_done(self, usage: Usage) -> None:
        self.events.append(("thread_done", usage))

    def close(self) -> None:
        pass

    def replay(self, progress: ProgressReporter) -> None:
        for name, argument in self.events:
            getattr(progress, name)(argument)


def load_models(model: str | None = None) -> None:
    """Load the tokenizer's ranks and the language model now (both are cached for the process's life)."""
    get_tokenizer(model)
    detect_texts(["Load the language model once, before the first thread."])


class _Worker:
    """A worker process's state: made once by the pool's initializer, used by every task it runs."""

    def __init__(self, setup: WorkerSetup) -> None:
        self.setup = setup
        self.answers = LiveAnswers(OfflineExtractor(), concurrency=1)
        load_models(setup.model)  # at once when forked from a preloaded forkserver
        self.tokenizer = get_tokenizer(setup.model)
        self.loop = asyncio.new_event_loop()

    def run(self, threads: list[Thread]) -> list[tuple[ThreadResult, RecordedProgress]]:
        done = []
        for thread in threads:
            progress = RecordedProgress()
            result = self.loop.run_until_complete(
                brief_and_write(thread, self.answers, self.tokenizer, self.setup.settings, progress, self.setup.out)
            )
            done.append((result, progress))
        return done


_worker: _Worker | None = None  # this worker process's state (None in the runner's process)


def _exit_when_gone(runner_pid: int) -> None:
    """Exit this worker when the runner is gone. A runner killed with SIGKILL reaches no shutdown, and a
    worker (whose parent is the forkserver, not the runner) would wait on its task queue forever."""
    try:
        handle = os.pidfd_open(runner_pid)  # Linux: this very process, whatever reuses its id later
    except (AttributeError, OSError):
        handle = None
    while True:
        if handle is not None:
            select.select([handle], [], [])  # readable once the process has exited
            os._exit(1)
        time.sleep(1.0)
        try:
            os.kill(runner_pid, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:  # alive, under another user (or its id reused): keep waiting
            pass


def _start_worker(setup: WorkerSetup) -> None:
    global _worker
    # Ctrl-C reaches the terminal's whole process group; the runner alone decides what it stops (it lets the
    # batches in flight finish and records them), so a worker must not die of it half-way through a brief.
    # SIGTERM keeps its default: it is how the pool itself ends workers it finds broken.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_when_gone, args=(setup.runner_pid,), daemon=True).start()
    _worker = _Worker(setup)


def _run_batch(threads: list[Thread]) -> list[tuple[ThreadResult, RecordedProgress]]:
    if _worker is None:  # the initializer always runs first; this guards a misuse of the module
        raise RuntimeError("jobs._run_batch runs only in a ThreadPool worker")
    return _worker.run(threads)


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # The server loads the pipeline and its models once; each worker forked from it starts with them loaded.
    context.set_forkserver_preload([f"{__package__}._worker_preload"])
    return context


def start_early() -> None:
    """Start the forkserver now, so it loads the pipeline and its models while this process reads the inputs:
    the workers forked from it later start at once."""
    if _context().get_start_method() == "forkserver":
        multiprocessing.forkserver.ensure_running()


def _batches(threads: Iterable[Thread], count: int, jobs: int) -> Iterator[list[Thread]]:
    """``threads`` (``count`` of them) in lists of a size that balances the workers, read as they are taken."""
    size = max(1, min(MAX_BATCH, count // (jobs * TASKS_PER_WORKER)))
    stream = iter(threads)
    while batch := list(itertools.islice(stream, size)):
        yield batch


class WorkerStartFailed(BrokenProcessPool):
    """A worker process could not be started: its server died (as SIGTERM sent to the process group ends it),
    or the system refused a process."""


def _submit(pool: ProcessPoolExecutor, batch: list[Thread]) -> Future[list[tuple[ThreadResult, RecordedProgress]]]:
    """The batch's future; when a worker died since the last result was read, or a worker could not be started,
    submitting fails at once, and the future then holds that failure, so the batch is lost and run again with
    those that were in flight (the pool is then shut down and a new one started)."""
    failed: Future[list[tuple[ThreadResult, RecordedProgress]]] = Future()
    try:
        return pool.submit(_run_batch, batch)
    except BrokenProcessPool as exc:
        failed.set_exception(exc)
    except (OSError, EOFError) as exc:  # from starting a worker: the forkserver gone, no process to be had
        failed.set_exception(WorkerStartFailed(f"a worker process could not be started ({type(exc).__name__}: {exc})"))
    return failed


class ThreadPool:
    """Whole threads in ``jobs`` worker processes; results in input order, each with its thread's
    ``renamed_from``. The threads are read as batches are sent, at most ``IN_FLIGHT_PER_WORKER`` batches a
    worker ahead of the results read, so a streamed input is never held whole."""

    def __init__(self, setup: WorkerSetup, jobs: int) -> None:
        self.setup = setup
        self.jobs = jobs
        self._handed: dict[int, Thread] = {}  # threads sent to workers and not yet yielded, by their place
        self._places = itertools.count()
        self._finished: dict[int, ThreadResult] = {}  # by id() of the handed Thread: results not yet yielded

    @property
    def unfinished(self) -> list[tuple[Thread, ThreadResult | None]]:
        """After ``results`` stopped part-way (cancelled, or any error): the threads handed to workers that it
        did not yield, in input order, each with its result when its batch finished (the batches running when
        the run stopped finish first: their briefs are written), else None (its worker was ended with the run,
        as SIGTERM to the process group ends it: it may have written its brief before)."""
        return [(thread, self._finished.get(id(thread))) for _, thread in sorted(self._handed.items())]

    def _keep_finished(
        self, flights: Iterable[tuple[list[Thread], Future[list[tuple[ThreadResult, RecordedProgress]]]]]
    ) -> None:
        for batch, future in flights:
            if future.done() and not future.cancelled() and future.exception() is None:
                self._finished.update((id(t), r) for t, (r, _) in zip(batch, future.result(), strict=True))

    def _hand(self, batch: list[Thread]) -> list[Thread]:
        for thread in batch:
            self._handed[next(self._places)] = thread
        return batch

    def _yielded(self, thread: Thread) -> None:
        for place, handed in self._handed.items():  # the oldest first: a yielded thread is almost always it
            if handed is thread:
                del self._handed[place]
                return

    async def results(
        self, threads: Iterable[Thread], count: int, progress: ProgressReporter
    ) -> AsyncGenerator[tuple[str | None, ThreadResult], None]:
        loop = asyncio.get_running_loop()
        batches = _batches(threads, count, self.jobs)
        pool = self._pool(self.jobs)
        pending: deque[tuple[list[Thread], Future[list[tuple[ThreadResult, RecordedProgress]]]]] = deque()
        try:
            while True:
                while len(pending) < self.jobs * IN_FLIGHT_PER_WORKER and (batch := next(batches, None)):
                    pending.append((batch, _submit(pool, self._hand(batch))))
                if not pending:
                    break
                batch, future = pending[0]
                try:
                    done = await asyncio.wrap_future(future, loop=loop)
                except BrokenProcessPool:
                    # A worker died (killed, out of memory, a crash in native code) and took every batch in
                    # flight with it. Their threads run again one at a time, so the one that kills a worker
                    # is found and failed alone, and the others get their briefs; then a new pool goes on.
                    pool.shutdown(wait=True, cancel_futures=True)
                    lost = [thread for waiting, _ in pending for thread in waiting]
                    pending.clear()
                    async for item in self._one_at_a_time(lost, progress):
                        yield item  # each of these threads is yielded once, here
                    pool = self._pool(self.jobs)
                    continue
                pending.popleft()
                for thread, (result, recorded) in zip(batch, done, strict=True):
                    recorded.replay(progress)
                    self._yielded(thread)
                    yield thread.renamed_from, result
        except BaseException:  # cancelled (Ctrl-C, SIGTERM) or any error: the batches already running finish
            pool.shutdown(wait=True, cancel_futures=True)
            self._keep_finished(pending)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _pool(self, workers: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(workers, mp_context=_context(), initializer=_start_worker, initargs=(self.setup,))

    async def _one_at_a_time(
        self, threads: list[Thread], progress: ProgressReporter
    ) -> AsyncIterator[tuple[str | None, ThreadResult]]:
        """Each thread alone in a one-worker pool; a thread whose worker dies is failed. ``WorkersKeepDying``
        when ``MAX_DEATHS_IN_A_ROW`` threads in a row each kill their worker: the workers cannot run at all."""
        loop = asyncio.get_running_loop()
        pool, deaths_in_a_row = self._pool(1), 0
        try:
            for thread in threads:
                future = _submit(pool, [thread])
                try:
                    [(result, recorded)] = await asyncio.wrap_future(future, loop=loop)
                    recorded.replay(progress)
                    deaths_in_a_row = 0
                except BrokenProcessPool as exc:
                    pool.shutdown(wait=True, cancel_futures=True)
                    if isinstance(exc, WorkerStartFailed):  # not the thread's doing: no worker can be had
                        raise WorkersKeepDying(f"{exc}: run with --jobs 1") from None
                    deaths_in_a_row += 1
                    if deaths_in_a_row >= MAX_DEATHS_IN_A_ROW:
                        raise WorkersKeepDying(
                            f"{deaths_in_a_row} threads in a row each stopped their worker process: run with --jobs 1 "
                            "to see the error"
                        ) from None
                    pool = self._pool(1)
                    reason = "its worker process died while running it (out of memory, or killed): run it with --jobs 1"
                    result = failed_thread(thread, reason, progress)
                except BaseException:  # cancelled, or any error: the thread running finishes and is kept
                    pool.shutdown(wait=True, cancel_futures=True)
                    self._keep_finished([([thread], future)])
                    raise
                self._yielded(thread)
                yield thread.renamed_from, result
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
