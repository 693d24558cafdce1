"""Thread: the stage chain for one thread, from its posts to its brief. No file I/O.

Input: a ``Thread``, an ``AnswerSource`` (cache, live extractor or batch queue), the ``Tokenizer`` and
``ThreadSettings`` (the chunk budget, the provenance stamped into the brief, the price of a usage).
Output: a ``ThreadResult`` (status, counts, failures, usage, cost, the brief's flat rows) and the brief,
or no brief when the thread is ``pending`` (an answer it needs has not come back from a batch).
Chain: normalize → detect the language → chunk → extract (every chunk at once) → check → ground → merge →
overview → build the brief → check the brief. Failure modes: a chunk or the overview that cannot be answered
is recorded as a ``Failure`` and the thread is ``partial`` (``failed`` when no chunk was extracted); so is a
thread in a language the backend does not read (``Extractor.languages``; offline: English): it is still
extracted (its quotes may hold claims), but never a silent, empty "complete"; an unexpected error in
one chunk is an ``internal`` failure of that chunk (re-raised with ``debug``). A brief that breaks its
own contract (``validate.brief_problems``) raises ``RuntimeError``: that is a bug, never the model's fault,
and no such brief is written.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from .answers import AnswerSource, Summary, Waiting
from .brief_types import Brief, BriefLanguage, ProvenanceBase
from .chunk import chunk_thread
from .errors import ExtractionError
from .export import claim_rows, relation_rows, to_jsonl
from .extract import check_extraction
from .ground import QuoteOrigins, ground_claims
from .language import Detected, detect, reads, unread_reason, write_in
from .merge import merge_claims
from .models import (
    BriefStatus,
    Chunk,
    ChunkExtraction,
    Claim,
    Failure,
    GroundedClaim,
    ProposedRelation,
    Rejection,
    Relation,
    Thread,
    ThreadStatus,
    Usage,
)
from .normalize import normalize_thread
from .overview import write_overview
from .progress import NoProgress, ProgressReporter
from .render import build_brief
from .tokenizer import Tokenizer
from .validate import brief_problems


@dataclass(frozen=True)
class ThreadSettings:
    max_chunk_tokens: int
    provenance: ProvenanceBase  # backend, model, prompt and schema hashes, versions: every brief carries them
    price: Callable[[Usage], float | None]  # the cost of a usage, None when the model's price is unknown
    debug: bool = False  # re-raise an unexpected error instead of recording it
    # --language: the language paraphrases and the overview are asked in (ISO 639-1); None: the thread's own.
    language: str | None = None
    languages: frozenset[str] | None = None  # what the backend reads (Extractor.languages); None: every language


@dataclass
class ThreadResult:
    thread_id: str
    input_path: str
    status: ThreadStatus
    brief_written: bool
    claims: int = 0
    relations: int = 0
    rejected: int = 0
    failures: list[Failure] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = None
    seconds: float = 0.0
    # The brief's claims and relations as flat rows, JSON Lines for OUT/claims.jsonl and OUT/relations.jsonl:
    # rendered where the brief is built (in a worker, with --jobs), so the runner only stores them.
    claims_jsonl: str = ""
    relations_jsonl: str = ""
    pending: int = 0  # batch mode: answers this thread still waits for
    language: BriefLanguage | None = None  # None when the thread has no brief (pending, or an internal failure)


@dataclass
class Findings:
    """What the extractions of a thread's chunks yielded, checked and grounded."""

    grounded: list[GroundedClaim] = field(default_factory=list)
    proposed: list[ProposedRelation] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    extracted: int = 0  # chunks with an answer


async def brief_thread(
    thread: Thread,
    answers: AnswerSource,
    tokenizer: Tokenizer,
    settings: ThreadSettings,
    progress: ProgressReporter | None = None,
) -> tuple[ThreadResult, Brief | None]:
    started = time.monotonic()
    progress = progress or NoProgress()
    thread = normalize_thread(thread)
    detected = detect(thread)
    chunks = chunk_thread(thread, tokenizer, settings.max_chunk_tokens, write_in(settings.language, detected))
    progress.chunks_found(len(chunks))
    outcomes = await asyncio.gather(
        *(_extraction(answers, thread.id, c, progress) for c in chunks), return_exceptions=True
    )
    answered = [outcome for outcome in outcomes if not isinstance(outcome, Waiting)]
    if len(answered) < len(outcomes):
        return _pending(thread, len(outcomes) - len(answered), started, progress), None
    found = _read_extractions(thread, chunks, answered, settings.debug)
    language = _language(detected, settings)
    if language["read_by_backend"] is False:  # first: the runner's line on stderr shows the first failure
        reason = unread_reason(settings.provenance["backend"], settings.languages or frozenset(), detected)
        found.failures.insert(0, Failure("extract", None, reason))
    claims, relations, unlinked = merge_claims(thread, found.grounded, found.proposed)
    found.rejected += unlinked
    summary, summary_usage = "", Usage()
    if claims:
        overview = await _overview(answers, thread, claims, relations, settings.max_chunk_tokens, summary_usage)
        if isinstance(overview, Waiting):
            return _pending(thread, 1, started, progress), None
        if isinstance(overview, Failure):
            found.failures.append(overview)
        else:
            summary = overview
        found.usage.add(summary_usage)
    elif found.extracted and language["read_by_backend"] is False:
        summary = (
            f"No claims were found: this thread is in {detected.code}, which the "
            f"{settings.provenance['backend']} extractor does not read."
        )
    elif found.extracted:
        summary = "No claims were found in this thread."
    progress.thread_done(summary_usage)
    return _finish(thread, chunks, claims, relations, summary, found, language, settings, started)


def _language(detected: Detected, settings: ThreadSettings) -> BriefLanguage:
    return {
        "code": detected.code,
        "confidence": detected.confidence,
        "read_by_backend": reads(settings.languages, detected),
        "requested": settings.language,
    }


def _finish(
    thread: Thread,
    chunks: list[Chunk],
    claims: list[Claim],
    relations: list[Relation],
    summary: str,
    found: Findings,
    language: BriefLanguage,
    settings: ThreadSettings,
    started: float,
) -> tuple[ThreadResult, Brief]:
    """The brief, checked against its own contract, and the thread's result."""
    status: BriefStatus = "failed" if chunks and not found.extracted else "partial" if found.failures else "complete"
    usage = found.usage
    cost = settings.price(usage)
    seconds = round(time.monotonic() - started, 3)
    brief = build_brief(
        thread=thread,
        status=status,
        language=language,
        tokens=sum(c.prompt_tokens for c in chunks),
        chunks=len(chunks),
        claims=claims,
        relations=relations,
        summary=summary,
        rejected=found.rejected,
        failures=found.failures,
        provenance={**settings.provenance, "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds")},
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
    # The thread's result is what its brief says: the same one a lost result is rebuilt from.
    return result_from_brief(brief), brief


def result_from_brief(brief: Brief) -> ThreadResult:
    """A written brief's thread result, as ``_finish`` made it: for a thread whose result was lost after its
    brief was written (its worker ended with the run)."""
    stats = brief["stats"]
    return ThreadResult(
        brief["thread"]["id"],
        brief["thread"]["input_path"],
        brief["status"],
        True,
        len(brief["claims"]),
        len(brief["relations"]),
        len(brief["rejected"]),
        [Failure(f["stage"], f["chunk"], f["reason"]) for f in brief["failures"]],
        Usage(stats["calls"], stats["cached_calls"], stats["tokens_in"], stats["tokens_out"]),
        stats["cost_usd"],
        stats["seconds"],
        to_jsonl(claim_rows([brief])),
        to_jsonl(relation_rows([brief])),
        language=brief["language"],
    )


async def _extraction(
    answers: AnswerSource, thread_id: str, chunk: Chunk, progress: ProgressReporter
) -> ChunkExtraction | Waiting:
    try:
        extraction = await answers.extraction(thread_id, chunk)
    except ExtractionError as exc:
        progress.chunk_done(exc.usage)
        raise
    if not isinstance(extraction, Waiting):
        progress.chunk_done(extraction.usage)
    return extraction


def _read_extractions(
    thread: Thread, chunks: list[Chunk], outcomes: list[ChunkExtraction | BaseException], debug: bool
) -> Findings:
    """Check each chunk's answer against what the chunk showed, and ground its quotes in the thread."""
    found = Findings()
    origins = QuoteOrigins(thread)  # one quote index for all the thread's chunks
    for chunk, outcome in zip(chunks, outcomes, strict=True):
        if isinstance(outcome, ExtractionError):
            found.usage.add(outcome.usage)
            found.failures.append(Failure("extract", chunk.id, str(outcome)))
            continue
        if isinstance(outcome, BaseException):
            if debug or not isinstance(outcome, Exception):
                raise outcome
            found.failures.append(Failure("internal", chunk.id, f"{type(outcome).__name__}: {outcome}"))
            continue
        found.extracted += 1
        found.usage.add(outcome.usage)
        chunk_claims, chunk_relations, invalid = check_extraction(outcome, chunk)
        kept, not_found = ground_claims(chunk.id, chunk_claims, thread, chunk.windows(), origins)
        found.grounded += kept
        found.proposed += chunk_relations
        found.rejected += invalid + not_found
    return found


async def _overview(
    answers: AnswerSource,
    thread: Thread,
    claims: list[Claim],
    relations: list[Relation],
    budget: int,
    usage: Usage,
) -> str | Failure | Waiting:
    """The overview paragraph, or the failure that kept it from being written; adds its cost to ``usage``."""

    async def spent(asked: Awaitable[Summary | Waiting]) -> str | Waiting:
        try:
            answer = await asked
        except ExtractionError as exc:
            usage.add(exc.usage)
            raise
        if isinstance(answer, Waiting):
            return answer
        text, answer_usage = answer
        usage.add(answer_usage)
        return text

    async def from_claims(heading: str, group: list[Claim], group_relations: list[Relation]) -> str | Waiting:
        return await spent(answers.summary(thread.id, heading, group, group_relations))

    async def from_parts(heading: str, parts: list[str]) -> str | Waiting:
        return await spent(answers.parts_summary(thread.id, heading, parts))

    window = answers.window
    try:
        overview = await write_overview(
            thread.title or thread.id,
            claims,
            relations,
            summarize_claims=from_claims,
            summarize_parts=from_parts,
            # Backends without a context window (offline) give no measure and are never split.
            claims_tokens=window.summary_tokens if window else None,
            parts_tokens=window.parts_tokens if window else None,
            budget=budget,
        )
    except ExtractionError as exc:
        return Failure("summarize", None, str(exc))
    return overview if isinstance(overview, Waiting) else overview[0]


def _pending(thread: Thread, waiting: int, started: float, progress: ProgressReporter) -> ThreadResult:
    """Batch mode: some answer this thread needs has not come back; its brief is written on collect."""
    progress.thread_done(Usage())
    return ThreadResult(
        thread.id,
        thread.input_path,
        "pending",
        False,
        seconds=round(time.monotonic() - started, 3),
        pending=waiting,
    )
