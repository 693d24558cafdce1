"""The runner: the only module that knows the output layout.

Input: a ``RunConfig`` and an ``Extractor``. Output: ``OUT/<thread_id>/brief.json`` and ``brief.md``
for every thread that loaded, ``OUT/claims.jsonl`` and ``OUT/relations.jsonl`` (one row per claim or
relation of this run, for tools), and ``OUT/run.json``, the manifest: backend, model, prompt and schema
hashes, per-thread status (complete | partial | failed), every failure with its stage and reason,
calls, tokens, cost and seconds. Returns the exit code: 0 when every thread is complete, 1 otherwise.
Failure modes: ``ConfigError``/``OutputError`` (exit 2) before any thread runs; everything that goes
wrong inside a thread is recorded in its brief and in run.json, and the other threads carry on.
Files are written atomically (temp file + rename): a killed run never leaves a half-written file.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import __version__
from .cache import ExtractionCache, extraction_key, parts_key, summary_key
from .chunk import check_budget, chunk_thread
from .cost import Estimate, cost_usd, estimate_run, load_prices
from .errors import ConfigError, ExtractionError, OutputError, RequestDeferred
from .export import claim_rows, relation_rows, to_jsonl
from .extract import CURRENT_THREAD, Extractor, check_extraction
from .extract_openai import EXTRACT_PROMPTS, SUMMARY_PROMPTS
from .ground import ground_claims
from .load import load_inputs
from .merge import merge_claims
from .models import (
    Chunk,
    ChunkExtraction,
    Claim,
    Failure,
    GroundedClaim,
    ProposedRelation,
    Rejection,
    Relation,
    Thread,
    Usage,
)
from .normalize import normalize_thread
from .overview import write_overview
from .progress import Log, NoProgress, ProgressReporter, no_log
from .render import SCHEMA_VERSION, brief_markdown, build_brief
from .resources import prompt_sha256, schema_errors, schema_sha256
from .settings import RunConfig, default_cache_dir, public_url
from .tokenizer import Tokenizer, get_tokenizer
from .validate import brief_problems

__all__ = ["RunConfig", "Runner", "ThreadResult", "atomic_write", "run"]


@dataclass
class ThreadResult:
    thread_id: str
    input_path: str
    status: str
    brief_written: bool
    claims: int = 0
    relations: int = 0
    rejected: int = 0
    failures: list[Failure] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = None
    seconds: float = 0.0
    # The brief's claims and relations as flat rows, for OUT/claims.jsonl and OUT/relations.jsonl.
    claim_rows: list[dict[str, Any]] = field(default_factory=list)
    relation_rows: list[dict[str, Any]] = field(default_factory=list)
    pending: int = 0  # batch mode: answers this thread still waits for


def _file_mode() -> int:
    """What open() would give a new file under the user's umask (mkstemp's temp files are 0600)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # The rename is what makes a killed run leave no half-written file; no fsync (that would guard
        # against power loss, at a cost per file that dominated small runs).
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            os.fchmod(handle.fileno(), _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_FILE_MODE = _file_mode()


def earlier_thread_folders(out: Path, written: set[str]) -> list[str]:
    """Thread folders in OUT (a brief.json inside) that this run did not write: an earlier run's."""
    return sorted(p.parent.name for p in out.glob("*/brief.json") if p.parent.name not in written and p.parent.is_dir())


def remove_stale_temp_files(out: Path) -> int:
    """Temp files a killed run left behind (atomic_write's, never a finished output): delete them."""
    stale = [p for p in out.glob("**/.*.tmp") if p.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _prompt_list(extractor: Extractor) -> list[dict[str, str]]:
    # The offline extractor follows no instructions, but its chunks are sized by the same rendered prompt.
    names = (
        EXTRACT_PROMPTS + SUMMARY_PROMPTS
        if extractor.name == "openai"
        else ("extract_system", "extract_user", "extract_context")
    )
    return [{"name": name, "sha256": prompt_sha256(name)} for name in names]


class Runner:
    def __init__(
        self,
        config: RunConfig,
        extractor: Extractor,
        log: Log = no_log,
        progress: ProgressReporter | None = None,
    ) -> None:
        self.config = config
        self.extractor = extractor
        self.log = log
        self.progress: ProgressReporter = progress or NoProgress()
        self.tokenizer: Tokenizer = get_tokenizer(extractor.model)
        self.semaphore = asyncio.Semaphore(max(1, config.concurrency))
        self.cache: ExtractionCache | None = None
        if config.use_cache and extractor.name != "offline":  # offline is deterministic and cheap
            self.cache = ExtractionCache(config.cache_dir or default_cache_dir())
        self.prices = load_prices(config.prices)
        self.provenance_base = {
            "backend": extractor.name,
            "model": extractor.model,
            "prompts": _prompt_list(extractor),
            "schemas": {name: schema_sha256(name) for name in ("extraction", "summary", "brief")},
            "schema_version": SCHEMA_VERSION,
            "threadbrief_version": __version__,
        }

    async def _extract(self, chunk: Chunk) -> ChunkExtraction:
        key = extraction_key(self.extractor.fingerprint, chunk)
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                return ChunkExtraction(chunk.id, hit["payload"], Usage(cached_calls=1))
        async with self.semaphore:
            extraction = await self.extractor.extract(chunk)
        # Every backend's answer is validated here, whatever the backend did itself.
        problems = schema_errors("extraction", extraction.payload)
        if problems:
            raise ExtractionError(
                f"{self.extractor.name} extractor returned an invalid payload: {'; '.join(problems)}",
                usage=extraction.usage,
            )
        if self.cache is not None:
            self.cache.put(key, {"payload": extraction.payload})
        return extraction

    async def _extract_tracked(self, chunk: Chunk) -> ChunkExtraction:
        try:
            extraction = await self._extract(chunk)
        except ExtractionError as exc:
            self.progress.chunk_done(exc.usage)
            raise
        self.progress.chunk_done(extraction.usage)
        return extraction

    async def _cached_summary(self, key: str, call: Callable[[], Awaitable[tuple[str, Usage]]], usage: Usage) -> str:
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                usage.cached_calls += 1
                return str(hit["summary"])
        try:
            async with self.semaphore:
                summary, spent = await call()
        except ExtractionError as exc:
            usage.add(exc.usage)
            raise
        usage.add(spent)
        if self.cache is not None:
            self.cache.put(key, {"summary": summary})
        return summary

    async def _overview(self, title: str, claims: list[Claim], relations: list[Relation], usage: Usage) -> str:
        extractor = self.extractor
        fingerprint = extractor.fingerprint

        async def from_claims(heading: str, group: list[Claim], group_relations: list[Relation]) -> str:
            return await self._cached_summary(
                summary_key(fingerprint, heading, group, group_relations),
                lambda: extractor.summarize(heading, group, group_relations),
                usage,
            )

        async def from_parts(heading: str, parts: list[str]) -> str:
            return await self._cached_summary(
                parts_key(fingerprint, heading, parts), lambda: extractor.summarize_parts(heading, parts), usage
            )

        overview, _depth = await write_overview(
            title,
            claims,
            relations,
            summarize_claims=from_claims,
            summarize_parts=from_parts,
            # Backends without a context window (offline) give no measure and are never split.
            claims_tokens=getattr(extractor, "summary_tokens", None),
            parts_tokens=getattr(extractor, "parts_tokens", None),
            budget=self.config.max_chunk_tokens,
        )
        return overview

    async def process(self, thread: Thread) -> ThreadResult:
        started = time.monotonic()
        CURRENT_THREAD.set(thread.id)  # this task's own context: backends may label requests with it
        usage = Usage()
        failures: list[Failure] = []
        rejected: list[Rejection] = []
        grounded: list[GroundedClaim] = []
        proposed: list[ProposedRelation] = []
        thread = normalize_thread(thread)
        chunks = chunk_thread(thread, self.tokenizer, self.config.max_chunk_tokens)
        self.progress.chunks_found(len(chunks))
        outcomes = await asyncio.gather(*(self._extract_tracked(c) for c in chunks), return_exceptions=True)
        if any(isinstance(outcome, RequestDeferred) for outcome in outcomes):
            return self._pending(thread, chunks, outcomes, started)
        succeeded = 0
        for chunk, outcome in zip(chunks, outcomes, strict=True):
            if isinstance(outcome, ExtractionError):
                usage.add(outcome.usage)
                failures.append(Failure("extract", chunk.id, str(outcome)))
                continue
            if isinstance(outcome, BaseException):
                if self.config.debug or not isinstance(outcome, Exception):
                    raise outcome
                failures.append(Failure("internal", chunk.id, f"{type(outcome).__name__}: {outcome}"))
                continue
            succeeded += 1
            usage.add(outcome.usage)
            chunk_claims, chunk_relations, invalid = check_extraction(outcome, chunk)
            kept, not_found = ground_claims(chunk.id, chunk_claims, thread, chunk.windows())
            grounded += kept
            proposed += chunk_relations
            rejected += invalid + not_found
        claims, relations, unlinked = merge_claims(thread, grounded, proposed)
        rejected += unlinked
        summary = ""
        summary_usage = Usage()
        if claims:
            try:
                summary = await self._overview(thread.title or thread.id, claims, relations, summary_usage)
            except RequestDeferred:
                return self._pending(thread, chunks, outcomes, started)
            except ExtractionError as exc:
                failures.append(Failure("summarize", None, str(exc)))
            usage.add(summary_usage)
        elif succeeded:
            summary = "No claims were found in this thread."
        self.progress.thread_done(summary_usage)
        if chunks and succeeded == 0:
            status = "failed"
        elif failures:
            status = "partial"
        else:
            status = "complete"
        cost = cost_usd(self.prices, self.extractor.name, self.extractor.model, usage.tokens_in, usage.tokens_out)
        seconds = round(time.monotonic() - started, 3)
        brief = build_brief(
            thread=thread,
            status=status,
            tokens=sum(c.prompt_tokens for c in chunks),
            chunks=len(chunks),
            claims=claims,
            relations=relations,
            summary=summary,
            rejected=rejected,
            failures=failures,
            provenance={**self.provenance_base, "created_at": _now()},
            stats={
                "calls": usage.calls,
                "cached_calls": usage.cached_calls,
                "tokens_in": usage.tokens_in,
                "tokens_out": usage.tokens_out,
                "cost_usd": cost,
                "seconds": seconds,
            },
        )
        problems = brief_problems(brief)
        if problems:  # a bug, never a model's fault: refuse to write a brief that breaks the contract
            raise RuntimeError(f"brief for {thread.id} fails its own checks: {'; '.join(problems[:3])}")
        folder = self.config.out / thread.id
        atomic_write(folder / "brief.json", json.dumps(brief, ensure_ascii=False) + "\n")
        atomic_write(folder / "brief.md", brief_markdown(brief))
        return ThreadResult(
            thread.id,
            thread.input_path,
            status,
            True,
            len(claims),
            len(relations),
            len(rejected),
            failures,
            usage,
            cost,
            seconds,
            list(claim_rows([brief])),
            list(relation_rows([brief])),
        )

    def _pending(self, thread: Thread, chunks: list[Chunk], outcomes: list[Any], started: float) -> ThreadResult:
        """Batch mode: some answer this thread needs has not come back; its brief is written on collect."""
        self.progress.thread_done(Usage())
        waiting = sum(1 for o in outcomes if isinstance(o, RequestDeferred)) or 1
        return ThreadResult(
            thread.id,
            thread.input_path,
            "pending",
            False,
            failures=[],
            seconds=round(time.monotonic() - started, 3),
            pending=waiting,
        )

    async def _process_safely(self, thread: Thread) -> ThreadResult:
        try:
            result = await self.process(thread)
        except ConfigError:
            raise
        except Exception as exc:
            if self.config.debug:
                raise
            result = ThreadResult(
                thread.id,
                thread.input_path,
                "failed",
                False,
                failures=[Failure("internal", None, f"{type(exc).__name__}: {exc}")],
            )
            self.progress.thread_done(Usage())
        mark = {"complete": "ok", "partial": "PARTIAL", "failed": "FAILED", "pending": "PENDING"}[result.status]
        detail = f"{result.claims} claims, {result.relations} relations"
        if result.status == "pending":
            detail = f"waiting for {result.pending} batch answer(s)"
        if result.failures:
            detail += f"; {len(result.failures)} failure(s): {result.failures[0].reason[:160]}"
        self.log(mark, f"{thread.id}: {detail}")
        return result

    def estimate(self, threads: list[Thread]) -> Estimate:
        return estimate_run(
            threads,
            self.tokenizer,
            max_chunk_tokens=self.config.max_chunk_tokens,
            output_budget=self.config.output_budget,
            backend=self.extractor.name,
            model=self.extractor.model,
            prices=self.prices,
            price_factor=self.config.price_factor,
        )

    def refuse_over_budget(self, threads: list[Thread], max_cost: float) -> None:
        estimate = self.estimate(threads)
        if estimate.cost_usd is None:
            raise ConfigError(
                f"no price known for model {self.extractor.model!r}: add it with --prices FILE, or drop --max-cost"
            )
        if estimate.cost_usd > max_cost:
            raise ConfigError(
                f"the estimated cost ${estimate.cost_usd:.4f} ({estimate.calls} calls, {estimate.prompt_tokens} "
                f"prompt tokens, {estimate.output_budget} output budget) exceeds --max-cost ${max_cost:.4f}: "
                "raise --max-cost, or run fewer threads (see `threadbrief estimate`)"
            )

    async def run(self) -> tuple[int, dict[str, Any]]:
        started_at, started = _now(), time.monotonic()
        out = self.config.out
        try:
            out.mkdir(parents=True, exist_ok=True)
            probe = out / ".threadbrief-write-test"
            probe.write_text("")
            probe.unlink()
            remove_stale_temp_files(out)
        except OSError as exc:
            raise OutputError(
                f"cannot write to {out} ({exc.strerror or exc}): choose another directory with -o"
            ) from exc
        loaded = load_inputs(self.config.inputs, self.config.import_options)
        threads, input_errors = loaded.threads, loaded.errors
        self.progress.threads_found(len(threads))
        for error in input_errors:
            self.log("SKIPPED", str(error))
        for note in loaded.notes:
            self.log("NOTE", f"{note.where}: {note.reason}")
        for thread in threads:
            if thread.renamed_from is not None:
                self.log(
                    "NOTE",
                    f"{thread.input_path}: thread id {thread.renamed_from!r} is not a safe folder name "
                    f"or is already taken: written as {thread.id!r} (give the thread a unique id to choose)",
                )
        if not threads and not input_errors:
            raise ConfigError(
                "no input threads found: pass thread exports (see `threadbrief formats`) or directories holding them"
            )
        check_budget([t.title or t.id for t in threads], self.tokenizer, self.config.max_chunk_tokens)
        if self.config.max_cost is not None:
            self.refuse_over_budget(threads, self.config.max_cost)
        try:
            tasks = []
            for thread in threads:
                tasks.append(asyncio.create_task(self._process_safely(thread)))
                # Let this thread chunk and send its first requests before the next one is prepared:
                # otherwise every thread's CPU work runs before the first request leaves.
                await asyncio.sleep(0)
            results = await asyncio.gather(*tasks)
        finally:
            self.progress.close()
            if self.cache is not None:
                self.cache.close()
            closer = getattr(self.extractor, "aclose", None)
            if closer is not None:
                await closer()
        renamed = {t.id: t.renamed_from for t in threads}
        earlier = earlier_thread_folders(out, {t.id for t in threads})
        if earlier:
            shown = ", ".join(earlier[:5]) + (f" and {len(earlier) - 5} more" if len(earlier) > 5 else "")
            self.log(
                "NOTE",
                f"{out} also holds {len(earlier)} thread folder(s) this run did not write ({shown}): "
                "run.json lists this run's threads, and report and export follow it; delete them or use another -o",
            )
        total = Usage()
        for result in results:
            total.add(result.usage)
        statuses = [r.status for r in results]
        exit_code = 0 if all(s == "complete" for s in statuses) and not input_errors else 1
        manifest: dict[str, Any] = {
            "threadbrief_version": __version__,
            "started_at": started_at,
            "finished_at": _now(),
            "seconds": round(time.monotonic() - started, 3),
            "backend": self.extractor.name,
            "model": self.extractor.model,
            "base_url": public_url(getattr(self.extractor, "base_url", None)),
            "settings": {
                "max_chunk_tokens": self.config.max_chunk_tokens,
                "concurrency": self.config.concurrency,
                "cache": str(self.cache.path) if self.cache else None,
                # What the endpoint ended up getting (openai backend): json_schema, or json_object when it
                # rejected or ignored json_schema, or --response-format json_object.
                "response_format": getattr(self.extractor, "response_mode", None),
            },
            "prompts": self.provenance_base["prompts"],
            "schemas": self.provenance_base["schemas"],
            "threads": [
                {
                    "id": r.thread_id,
                    "renamed_from": renamed.get(r.thread_id),
                    "input_path": r.input_path,
                    "status": r.status,
                    "brief": f"{r.thread_id}/brief.json" if r.brief_written else None,
                    "markdown": f"{r.thread_id}/brief.md" if r.brief_written else None,
                    "claims": r.claims,
                    "relations": r.relations,
                    "rejected": r.rejected,
                    "failures": [{"stage": f.stage, "chunk": f.chunk, "reason": f.reason} for f in r.failures],
                    "calls": r.usage.calls,
                    "cached_calls": r.usage.cached_calls,
                    "tokens_in": r.usage.tokens_in,
                    "tokens_out": r.usage.tokens_out,
                    "cost_usd": r.cost_usd,
                    "seconds": r.seconds,
                }
                for r in results
            ],
            "input_errors": [
                {"input": e.path, "line": e.line, "stage": "load", "reason": e.reason} for e in input_errors
            ],
            # What the importers and the loader repaired or left out; the threads named still ran.
            "input_notes": [{"input": n.where, "thread": n.thread, "reason": n.reason} for n in loaded.notes],
            # Thread folders in OUT from earlier runs: not this run's, so report and export leave them out.
            "earlier_thread_folders": earlier,
            "totals": {
                "threads": len(results),
                "complete": statuses.count("complete"),
                "partial": statuses.count("partial"),
                "failed": statuses.count("failed"),
                "pending": statuses.count("pending"),
                "input_errors": len(input_errors),
                "input_notes": len(loaded.notes),
                "calls": total.calls,
                "cached_calls": total.cached_calls,
                "tokens_in": total.tokens_in,
                "tokens_out": total.tokens_out,
                "cost_usd": cost_usd(
                    self.prices, self.extractor.name, self.extractor.model, total.tokens_in, total.tokens_out
                ),
                "rate_limited": getattr(getattr(self.extractor, "limiter", None), "throttles", 0),
            },
            "exit_code": exit_code,
        }
        atomic_write(out / "run.json", json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
        # Flat files for tools, over this run's briefs.
        atomic_write(out / "claims.jsonl", to_jsonl(row for r in results for row in r.claim_rows))
        atomic_write(out / "relations.jsonl", to_jsonl(row for r in results for row in r.relation_rows))
        return exit_code, manifest


def run(
    config: RunConfig,
    extractor: Extractor,
    log: Log = no_log,
    progress: ProgressReporter | None = None,
) -> tuple[int, dict[str, Any]]:
    return asyncio.run(Runner(config, extractor, log, progress).run())
