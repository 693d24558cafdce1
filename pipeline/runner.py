"""The runner: the only module that knows the output layout.

Input: a ``RunConfig`` and an ``Extractor``. Output: ``OUT/<thread_id>/brief.json`` and ``brief.md``
for every thread that loaded, and ``OUT/run.json``, the manifest: backend, model, prompt and schema
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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from . import __version__
from .cache import ExtractionCache, cache_key
from .chunk import check_budget, chunk_thread
from .errors import ConfigError, ExtractionError, OutputError
from .extract import Extractor, check_extraction
from .extract_offline import OfflineExtractor
from .extract_openai import EXTRACT_PROMPTS, SUMMARY_PROMPTS, OpenAIExtractor
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
from .render import SCHEMA_VERSION, brief_markdown, build_brief
from .resources import prompt_sha256, schema_errors, schema_sha256
from .tokenizer import Tokenizer, get_tokenizer
from .validate import brief_problems

DEFAULT_MODEL = "gpt-4o-mini"
NO_LLM_NOTICE = (
    "threadbrief: no OPENAI_API_KEY or OPENAI_BASE_URL set: using the offline extractor. For an LLM, set "
    "OPENAI_API_KEY (and --model), or pass --base-url for a local OpenAI-compatible server (Ollama, vLLM, llama.cpp)."
)


@dataclass
class RunConfig:
    inputs: list[Path]
    out: Path
    backend: str = "auto"
    model: str | None = None
    base_url: str | None = None
    max_chunk_tokens: int = 6000
    concurrency: int = 8
    cache_dir: Path | None = None
    use_cache: bool = True
    debug: bool = False
    # Validate every brief against brief.schema.json before writing it. Off by default: briefs are built by
    # our own code, whose shape the test suite checks, and the pass costs more than the offline extraction.
    # The grounding invariant and references are always checked; `threadbrief validate` does both.
    check_schema: bool = False


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


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "threadbrief"


def make_extractor(config: RunConfig, env: dict[str, str]) -> tuple[Extractor, str | None]:
    """Pick the backend. Returns the extractor and a notice for stderr (or None)."""
    key = env.get("OPENAI_API_KEY", "").strip()
    base_url = config.base_url or env.get("OPENAI_BASE_URL", "").strip() or None
    backend = config.backend
    notice = None
    if backend == "auto":
        backend = "openai" if key or base_url else "offline"
        notice = NO_LLM_NOTICE if backend == "offline" else None
    if backend == "offline":
        return OfflineExtractor(), notice
    if backend != "openai":
        raise ConfigError(f"unknown backend {backend!r}: use auto, openai or offline")
    if not key and not base_url:
        raise ConfigError("no OPENAI_API_KEY: set it, pass --base-url, or use --backend offline")
    model = config.model or env.get("THREADBRIEF_MODEL") or DEFAULT_MODEL
    # Local servers (Ollama, llama.cpp) need no key, but the client insists on one.
    return OpenAIExtractor(model=model, api_key=key or "no-key-needed", base_url=base_url), notice


def public_url(url: str | None) -> str | None:
    """A base URL safe to write down: no user:password, no query string (tokens hide there)."""
    if not url:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


@cache
def _prices() -> dict[str, Any]:
    prices: dict[str, Any] = json.loads(resources.files("pipeline").joinpath("data/prices.json").read_text("utf-8"))
    return prices


def estimate_cost(backend: str, model: str | None, usage: Usage) -> float | None:
    if backend == "offline":
        return 0.0
    price = _prices().get(model or "")
    if not isinstance(price, dict):
        return None
    return round(usage.tokens_in / 1e6 * float(price["input"]) + usage.tokens_out / 1e6 * float(price["output"]), 6)


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # The rename is what makes a killed run leave no half-written file; no fsync (that would guard
        # against power loss, at a cost per file that dominated small runs).
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
    def __init__(self, config: RunConfig, extractor: Extractor, log: Callable[[str], None] = lambda _m: None) -> None:
        self.config = config
        self.extractor = extractor
        self.log = log
        self.tokenizer: Tokenizer = get_tokenizer(extractor.model)
        self.semaphore = asyncio.Semaphore(max(1, config.concurrency))
        self.cache: ExtractionCache | None = None
        if config.use_cache and extractor.name != "offline":  # offline is deterministic and cheap
            self.cache = ExtractionCache(config.cache_dir or default_cache_dir())
        self.provenance_base = {
            "backend": extractor.name,
            "model": extractor.model,
            "prompts": _prompt_list(extractor),
            "schemas": {name: schema_sha256(name) for name in ("extraction", "summary", "brief")},
            "schema_version": SCHEMA_VERSION,
            "threadbrief_version": __version__,
        }

    async def _extract(self, chunk: Chunk) -> ChunkExtraction:
        key = cache_key(self.extractor.fingerprint, chunk.user_prompt)
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                return ChunkExtraction(chunk.id, hit["payload"], Usage(cached_calls=1))
        async with self.semaphore:
            extraction = await self.extractor.extract(chunk)
        # A model's answer is always validated (the OpenAI backend already did, this guards other backends);
        # the built-in offline extractor's payloads are checked against the schema by the test suite.
        problems = [] if self.extractor.name == "offline" else schema_errors("extraction", extraction.payload)
        if problems:
            raise ExtractionError(
                f"{self.extractor.name} extractor returned an invalid payload: {'; '.join(problems)}",
                usage=extraction.usage,
            )
        if self.cache is not None:
            self.cache.put(key, {"payload": extraction.payload})
        return extraction

    async def _summarize(self, title: str, claims: list[Claim], relations: list[Relation]) -> tuple[str, Usage]:
        # Keyed by everything the summary is written from, so a warm re-run makes no call for it either.
        basis = json.dumps(
            [
                title,
                [(c.id, c.speaker, c.kind, c.text) for c in claims],
                [(r.source, r.type, r.target) for r in relations],
            ],
            ensure_ascii=False,
        )
        key = cache_key(self.extractor.fingerprint, "summary\0" + basis)
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                return str(hit["summary"]), Usage(cached_calls=1)
        async with self.semaphore:
            summary, usage = await self.extractor.summarize(title, claims, relations)
        if self.cache is not None:
            self.cache.put(key, {"summary": summary})
        return summary, usage

    async def process(self, thread: Thread) -> ThreadResult:
        started = time.monotonic()
        usage = Usage()
        failures: list[Failure] = []
        rejected: list[Rejection] = []
        grounded: list[GroundedClaim] = []
        proposed: list[ProposedRelation] = []
        thread = normalize_thread(thread)
        chunks = chunk_thread(thread, self.tokenizer, self.config.max_chunk_tokens)
        outcomes = await asyncio.gather(*(self._extract(c) for c in chunks), return_exceptions=True)
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
            kept, not_found = ground_claims(chunk.id, chunk_claims, thread)
            grounded += kept
            proposed += chunk_relations
            rejected += invalid + not_found
        claims, relations, unlinked = merge_claims(thread, grounded, proposed)
        rejected += unlinked
        summary = ""
        if claims:
            try:
                summary, summary_usage = await self._summarize(thread.title or thread.id, claims, relations)
                usage.add(summary_usage)
            except ExtractionError as exc:
                usage.add(exc.usage)
                failures.append(Failure("summarize", None, str(exc)))
        elif succeeded:
            summary = "No claims were found in this thread."
        if chunks and succeeded == 0:
            status = "failed"
        elif failures:
            status = "partial"
        else:
            status = "complete"
        cost = estimate_cost(self.extractor.name, self.extractor.model, usage)
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
        problems = brief_problems(brief, check_schema=self.config.check_schema)
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
        mark = {"complete": "ok", "partial": "PARTIAL", "failed": "FAILED"}[result.status]
        detail = f"{result.claims} claims, {result.relations} relations"
        if result.failures:
            detail += f"; {len(result.failures)} failure(s): {result.failures[0].reason[:160]}"
        self.log(f"{mark:>7}  {thread.id}: {detail}")
        return result

    async def run(self) -> tuple[int, dict[str, Any]]:
        started_at, started = _now(), time.monotonic()
        out = self.config.out
        try:
            out.mkdir(parents=True, exist_ok=True)
            probe = out / ".threadbrief-write-test"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            raise OutputError(
                f"cannot write to {out} ({exc.strerror or exc}): choose another directory with -o"
            ) from exc
        threads, input_errors = load_inputs(self.config.inputs)
        for error in input_errors:
            self.log(f"{'SKIPPED':>7}  {error}")
        if not threads and not input_errors:
            raise ConfigError(
                "no input threads found: pass .txt, .md, .json or .jsonl files or directories holding them"
            )
        check_budget([t.title or t.id for t in threads], self.tokenizer, self.config.max_chunk_tokens)
        try:
            results = await asyncio.gather(*(self._process_safely(t) for t in threads))
        finally:
            if self.cache is not None:
                self.cache.close()
            closer = getattr(self.extractor, "aclose", None)
            if closer is not None:
                await closer()
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
            },
            "prompts": self.provenance_base["prompts"],
            "schemas": self.provenance_base["schemas"],
            "threads": [
                {
                    "id": r.thread_id,
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
            "totals": {
                "threads": len(results),
                "complete": statuses.count("complete"),
                "partial": statuses.count("partial"),
                "failed": statuses.count("failed"),
                "input_errors": len(input_errors),
                "calls": total.calls,
                "cached_calls": total.cached_calls,
                "tokens_in": total.tokens_in,
                "tokens_out": total.tokens_out,
                "cost_usd": estimate_cost(self.extractor.name, self.extractor.model, total),
            },
            "exit_code": exit_code,
        }
        atomic_write(out / "run.json", json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
        return exit_code, manifest


def run(
    config: RunConfig, extractor: Extractor, log: Callable[[str], None] = lambda _m: None
) -> tuple[int, dict[str, Any]]:
    return asyncio.run(Runner(config, extractor, log).run())
