"""Data passed between stages. Plain dataclasses: every stage is a function of these."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Post:
    id: str
    author: str | None
    parent_id: str | None
    text: str
    duplicate_of: str | None = None


@dataclass
class Thread:
    id: str
    title: str | None
    source: str | None
    input_path: str
    sha256: str
    posts: list[Post]

    def post(self, post_id: str) -> Post | None:
        for post in self.posts:
            if post.id == post_id:
                return post
        return None

    @property
    def unique_posts(self) -> list[Post]:
        return [p for p in self.posts if p.duplicate_of is None]


@dataclass(frozen=True)
class ChunkPost:
    """A post (or, for a post longer than the budget, one part of it) as shown to the extractor."""

    post: Post
    text: str
    part: tuple[int, int] | None = None  # (index, count) when the post is split


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


@dataclass
class ChunkExtraction:
    """What one extractor call returned for one chunk, already valid against extraction.schema.json."""

    chunk_id: str
    payload: dict[str, Any]
    usage: Usage = field(default_factory=Usage)


@dataclass
class Rejection:
    stage: str  # validate | ground | merge
    chunk: str | None
    item: dict[str, Any]
    reason: str


@dataclass
class Failure:
    stage: str
    chunk: str | None
    reason: str


@dataclass
class GroundedClaim:
    """A claim whose quote was found in its post: ``post.text[span[0]:span[1]] == quote``."""

    chunk: str
    local_id: str
    post_id: str
    kind: str
    text: str
    quote: str
    span: tuple[int, int]
    match: str  # exact | normalized | fuzzy


@dataclass
class ProposedRelation:
    chunk: str
    source: str  # local claim id within the chunk
    target: str
    type: str


@dataclass
class Claim:
    id: str
    post_id: str
    speaker: str | None
    kind: str
    text: str
    quote: str
    span: tuple[int, int]
    match: str
    chunks: list[str]


@dataclass(frozen=True)
class Relation:
    source: str
    target: str
    type: str
