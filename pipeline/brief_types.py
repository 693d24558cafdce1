"""The brief as typed JSON: ``render.build_brief`` builds a ``Brief``; validate, report, export, evaluate and
``render.brief_markdown`` read one.

One TypedDict per object of ``schemas/brief.schema.json``, with its keys and required keys, and the
Literal aliases of ``models`` where the schema has an enum. The schema is the source of truth:
tests/test_types.py fails when these drift from it. A brief read from disk is only as typed as the
file is valid (``threadbrief validate`` checks it). Failure modes: none (types only).
"""

from __future__ import annotations

from typing import Any, TypedDict

from .models import BriefStatus, ClaimKind, FailureStage, GroundingMatch, RejectionStage, RelationType


class BriefCounts(TypedDict):
    posts: int
    duplicates_removed: int
    tokens: int
    chunks: int


class BriefThread(TypedDict):
    id: str
    title: str | None
    source: str | None
    input_path: str
    sha256: str
    counts: BriefCounts


class BriefPost(TypedDict):
    id: str
    author: str | None
    parent_id: str | None
    text: str
    duplicate_of: str | None
    quoted: list[list[int]]  # [start, end) pairs


class BriefClaim(TypedDict):
    id: str
    post_id: str
    speaker: str | None
    kind: ClaimKind
    text: str
    quote: str
    span: list[int]  # [start, end)
    match: GroundingMatch
    chunks: list[str]


class BriefRelation(TypedDict):
    source: str
    target: str
    type: RelationType


class BriefRejection(TypedDict):
    stage: RejectionStage
    chunk: str | None
    item: dict[str, Any]  # the proposed claim or relation as the extractor returned it
    reason: str


class BriefFailure(TypedDict):
    stage: FailureStage
    chunk: str | None
    reason: str


class BriefLanguage(TypedDict):
    code: str  # ISO 639-1 ("en", "ja"; ISO 639-3 where none exists), or "und" (undetermined)
    confidence: float | None  # the code's probability; None when undetermined
    read_by_backend: bool | None  # whether the brief's backend reads the language; None when undetermined
    requested: str | None  # --language: what paraphrases and the overview are asked in; None = the thread's own


class PromptHash(TypedDict):
    name: str
    sha256: str


class ProvenanceBase(TypedDict):
    """What every brief of a run shares; ``Provenance`` adds the time each brief was written."""

    backend: str
    model: str | None
    prompts: list[PromptHash]
    schemas: dict[str, str]  # schema name → sha256
    schema_version: str
    threadbrief_version: str


class Provenance(ProvenanceBase):
    created_at: str


class BriefStats(TypedDict):
    calls: int
    cached_calls: int
    tokens_in: int
    tokens_out: int
    cost_usd: float | None
    seconds: float


class Brief(TypedDict):
    schema_version: str
    status: BriefStatus
    thread: BriefThread
    language: BriefLanguage
    posts: list[BriefPost]
    claims: list[BriefClaim]
    relations: list[BriefRelation]
    summary: str
    rejected: list[BriefRejection]
    failures: list[BriefFailure]
    provenance: Provenance
    stats: BriefStats
