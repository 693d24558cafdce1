"""Extract: the backend seam, and the checks every backend's output goes through.

Input: a ``Chunk``. Output: a ``ChunkExtraction`` whose payload is valid against
``schemas/extraction.schema.json``. ``check_extraction`` then splits the payload into the claims and
relations that refer to what the chunk showed, and ``Rejection``s for the rest (a claim citing a post
outside the chunk, a relation to an unknown claim, a repeated local id). Failure modes: a backend
raises ``ExtractionError`` when it cannot produce a valid payload; the runner records it.
"""

from __future__ import annotations

import json
import re
from typing import Any, Protocol

from .models import Chunk, ChunkExtraction, Claim, ProposedRelation, Rejection, Relation, Usage


class ContextWindow(Protocol):
    """What a backend with a context window offers the overview: the prompt tokens of its two summarizing
    calls, to tell whether the claims fit one prompt, and the reduce call over the part overviews of a
    thread that does not fit."""

    def summary_tokens(self, title: str, claims: list[Claim], relations: list[Relation]) -> int: ...

    def parts_tokens(self, title: str, parts: list[str]) -> int: ...

    async def summarize_parts(self, title: str, parts: list[str]) -> tuple[str, Usage]:
        """One overview from the overviews of a long thread's consecutive parts (hierarchical reduce)."""
        ...


class Extractor(Protocol):
    """One narrow seam per backend. ``fingerprint`` identifies everything that shapes the output
    (backend, model, prompt and schema hashes) and is part of the cache key.

    The optional features are declared here with the values of a backend that lacks them; a backend
    without them subclasses ``Extractor`` and inherits these, one with them defines its own."""

    @property
    def name(self) -> str: ...

    @property
    def model(self) -> str | None: ...

    @property
    def fingerprint(self) -> str: ...

    async def extract(self, chunk: Chunk) -> ChunkExtraction: ...

    async def summarize(self, title: str, claims: list[Claim], relations: list[Relation]) -> tuple[str, Usage]: ...

    @property
    def window(self) -> ContextWindow | None:
        """None: no context window to outgrow (offline), so the overview is one call over every claim."""
        return None

    @property
    def languages(self) -> frozenset[str] | None:
        """The languages (ISO 639-1) whose threads the backend reads; None: every language (an LLM)."""
        return None

    @property
    def base_url(self) -> str | None:
        """The endpoint, for run.json (written through ``settings.public_url``)."""
        return None

    @property
    def response_mode(self) -> str | None:
        """The response format the endpoint ended up getting (json_schema or json_object), for run.json."""
        return None

    @property
    def rate_limited(self) -> int:
        """How many 429 answers the backend's limiter saw, for run.json."""
        return 0

    @property
    def cancelled_requests(self) -> int:
        """Requests sent and then cancelled before their answer came (the run stopped): the provider may bill
        them, and no usage of theirs is known; for run.json's ``stopped``."""
        return 0

    async def aclose(self) -> None:
        """Release connections; called once when a run ends."""
        return None


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def parse_json_reply(content: str) -> Any:
    """Model text → JSON value. Tolerates a code fence or prose around one JSON object.

    Raises ``ValueError`` with a message fit to send back to the model."""
    text = content.strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError as first_error:
        fenced = _FENCE.search(text)
        candidates = [fenced.group(1)] if fenced else []
        start, end = text.find("{"), text.rfind("}")
        if 0 <= start < end:
            candidates.append(text[start : end + 1])
        for candidate in candidates:
            try:
                return json.loads(candidate)
            except json.JSONDecodeError:
                continue
        where = f"line {first_error.lineno} column {first_error.colno}"
        raise ValueError(f"not valid JSON ({first_error.msg} at {where})") from None


def check_extraction(
    extraction: ChunkExtraction, chunk: Chunk
) -> tuple[list[dict[str, Any]], list[ProposedRelation], list[Rejection]]:
    """Keep what refers to the chunk's posts and claims; reject the rest with a reason."""
    shown = chunk.post_ids | chunk.context_ids
    claims: list[dict[str, Any]] = []
    rejected: list[Rejection] = []
    ids: set[str] = set()
    for claim in extraction.payload["claims"]:
        if claim["post_id"] not in shown:
            rejected.append(
                Rejection("validate", chunk.id, claim, f"post_id {claim['post_id']!r} was not shown in this chunk")
            )
        elif claim["id"] in ids:
            rejected.append(Rejection("validate", chunk.id, claim, f"claim id {claim['id']!r} is used twice"))
        else:
            ids.add(claim["id"])
            claims.append(claim)
    relations: list[ProposedRelation] = []
    for relation in extraction.payload["relations"]:
        unknown = [end for end in (relation["source"], relation["target"]) if end not in ids]
        if unknown:
            rejected.append(
                Rejection("validate", chunk.id, relation, f"relation refers to unknown claim {unknown[0]!r}")
            )
        elif relation["source"] == relation["target"]:
            rejected.append(Rejection("validate", chunk.id, relation, "relation from a claim to itself"))
        else:
            relations.append(ProposedRelation(chunk.id, relation["source"], relation["target"], relation["type"]))
    return claims, relations, rejected
