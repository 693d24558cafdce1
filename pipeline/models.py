"""Data passed between stages. Plain dataclasses: every stage is a function of these.

The Literal aliases name the closed vocabularies of ``schemas/`` (the schemas are the source of truth;
tests/test_types.py fails when an alias and its schema enum drift apart).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

# The post id the loader gives a thread's title (the opening post's thesis, quotable like any post).
TITLE_POST_ID = "title"

# brief.schema.json: status. A brief is written only for a thread that finished ...
BriefStatus = Literal["complete", "partial", "failed"]
# ... while a run's thread may also wait for batch answers, with no brief yet (run.json, the log lines).
ThreadStatus = Literal["complete", "partial", "failed", "pending"]
# extraction.schema.json and brief.schema.json: claims[].kind, relations[].type.
ClaimKind = Literal["claim", "premise", "question"]
RelationType = Literal["rebuts", "supports", "agrees", "qualifies"]
# brief.schema.json: claims[].match, how a claim's quote was aligned to its post (text.align).
GroundingMatch = Literal["exact", "normalized", "fuzzy"]
# brief.schema.json: failures[].stage and rejected[].stage.
FailureStage = Literal["load", "chunk", "extract", "ground", "merge", "summarize", "render", "internal"]
RejectionStage = Literal["validate", "ground", "merge"]


@dataclass
class Post:
    id: str
    author: str | None
    parent_id: str | None
    text: str
    duplicate_of: str | None = None
    # [start, end) spans of text this post quotes from another post (">" lines, "&gt;" escapes, or lines
    # repeated verbatim from an earlier post): evidence of what it answers, never the author's own claim.
    quoted: list[tuple[int, int]] = field(default_factory=list)

    def in_quoted(self, span: tuple[int, int]) -> bool:
        """Whether most of ``span`` lies in quoted text."""
        inside = sum(max(0, min(span[1], e) - max(span[0], s)) for s, e in self.quoted)
        return inside * 2 > span[1] - span[0]


@dataclass
class Thread:
    id: str
    title: str | None
    source: str | None
    input_path: str
    sha256: str
    posts: list[Post]
    renamed_from: str | None = None  # the id the input gave, when it was unsafe as a folder name or taken

    def post(self, post_id: str) -> Post | None:
        return self._by_id.get(post_id)

    @cached_property
    def _by_id(self) -> dict[str, Post]:
        return {post.id: post for post in self.posts}

    @property
    def unique_posts(self) -> list[Post]:
        return [p for p in self.posts if p.duplicate_of is None]


@dataclass(frozen=True)
class ChunkPost:
    """A post (or, for a post longer than the budget, one part of it) as shown to the extractor."""

    post: Post
    text: str
    part: tuple[int, int] | None = None  # (index, count) when the post is split
    excerpt: bool = False  # only the post's opening sentences (a parent shown as context)

    @property
    def offset(self) -> int:
        """Where this text starts in the post's text."""
        return 0 if self.part is None else max(0, self.post.text.find(self.text))

    def quoted_spans(self) -> list[tuple[int, int]]:
        """The post's quoted spans that fall in this text, in this text's offsets."""
        base, end = self.offset, self.offset + len(self.text)
        return [(max(s, base) - base, min(e, end) - base) for s, e in self.post.quoted if s < end and e > base]


@dataclass
class Chunk:
    id: str
    thread_id: str
    title: str
    posts: list[ChunkPost]
    context: list[ChunkPost]
    user_prompt: str
    prompt_tokens: int  # system + user prompt as sent

    @property
    def post_ids(self) -> set[str]:
        return {cp.post.id for cp in self.posts}

    @property
    def context_ids(self) -> set[str]:
        return {cp.post.id for cp in self.context}

    def windows(self) -> dict[str, tuple[int, int]]:
        """For posts shown only in part: the [start, end) of the post text the extractor saw."""
        return {
            cp.post.id: (cp.offset, cp.offset + len(cp.text))
            for cp in (*self.posts, *self.context)
            if cp.part is not None or cp.excerpt
        }


@dataclass
class Usage:
    calls: int = 0
    cached_calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0

    def add(self, other: Usage) -> None:
        self.calls += other.calls
        self.cached_calls += other.cached_calls
        self.tokens_in += other.tokens_in
        self.tokens_out += other.tokens_out

    def minus(self, other: Usage) -> Usage:
        return Usage(
            self.calls - other.calls,
            self.cached_calls - other.cached_calls,
            self.tokens_in - other.tokens_in,
            self.tokens_out - other.tokens_out,
        )


@dataclass
class ChunkExtraction:
    """What one extractor call returned for one chunk, already valid against extraction.schema.json."""

    chunk_id: str
    payload: dict[str, Any]
    usage: Usage = field(default_factory=Usage)


@dataclass
class Rejection:
    stage: RejectionStage
    chunk: str | None
    item: dict[str, Any]
    reason: str


@dataclass
class Failure:
    stage: FailureStage
    chunk: str | None
    reason: str


@dataclass
class GroundedClaim:
    """A claim whose quote was found in its post: ``post.text[span[0]:span[1]] == quote``."""

    chunk: str
    local_id: str
    post_id: str
    kind: ClaimKind
    text: str
    quote: str
    span: tuple[int, int]
    match: GroundingMatch


@dataclass
class ProposedRelation:
    chunk: str
    source: str  # local claim id within the chunk
    target: str
    type: RelationType


@dataclass
class Claim:
    id: str
    post_id: str
    speaker: str | None
    kind: ClaimKind
    text: str
    quote: str
    span: tuple[int, int]
    match: GroundingMatch
    chunks: list[str]


@dataclass(frozen=True)
class Relation:
    source: str
    target: str
    type: RelationType
