"""The answer source seam and the thread stage chain through it, with in-memory sources (no HTTP, no files).

``thread.brief_thread`` takes a thread, an answer source, a tokenizer and settings and returns the result
and the brief; these tests drive it with sources that answer, fail or answer WAITING, and check the cache
layer and the batch queue on their own.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from pipeline.answers import WAITING, CachedAnswers, LiveAnswers, Summary, Waiting
from pipeline.batch import BatchQueue
from pipeline.batch_state import RequestRecord
from pipeline.cache import ExtractionCache, extraction_key
from pipeline.chunk import chunk_thread
from pipeline.errors import ExtractionError
from pipeline.extract import ContextWindow, Extractor
from pipeline.extract_offline import OfflineExtractor
from pipeline.extract_openai import OpenAIExtractor
from pipeline.models import Chunk, ChunkExtraction, Claim, Post, Relation, Thread, Usage
from pipeline.normalize import normalize_thread
from pipeline.thread import ThreadSettings, brief_thread
from pipeline.tokenizer import get_tokenizer
from pipeline.validate import brief_problems

TOKENIZER = get_tokenizer(None)
SETTINGS = ThreadSettings(
    max_chunk_tokens=700,
    provenance={
        "backend": "test",
        "model": None,
        "prompts": [],
        "schemas": {},
        "schema_version": "1.0",
        "threadbrief_version": "0",
    },
    price=lambda usage: None,
)


def long_thread() -> Thread:
    """Enough distinct replies for several chunks at a 700-token budget."""
    posts = [Post("p0", "ann", None, "Cities should ban cars from their centres because the air gets cleaner.")]
    posts += [
        Post(f"p{n}", f"user{n}", "p0", f"Reply {n}: I disagree, shop number {n} on street {n} would lose trade. " * 4)
        for n in range(1, 16)
    ]
    return Thread("t", "Car-free centres", None, "t.json", "0" * 64, posts)


def chunks_of(thread: Thread) -> list[Chunk]:
    return chunk_thread(normalize_thread(thread), TOKENIZER, SETTINGS.max_chunk_tokens)


class Scripted:
    """An answer source: the offline extractor's answers, except chunks listed in ``waiting`` (WAITING) or
    ``failing`` (ExtractionError); the overview answers WAITING when ``overview_waits``."""

    window: ContextWindow | None = None

    def __init__(self, waiting: set[str] = frozenset(), failing: set[str] = frozenset(), overview_waits: bool = False):
        self.offline = OfflineExtractor()
        self.waiting, self.failing, self.overview_waits = waiting, failing, overview_waits
        self.asked: list[tuple[str, str]] = []

    async def extraction(self, thread_id: str, chunk: Chunk) -> ChunkExtraction | Waiting:
        self.asked.append((thread_id, chunk.id))
        if chunk.id in self.waiting:
            return WAITING
        if chunk.id in self.failing:
            raise ExtractionError("scripted failure", usage=Usage(calls=2, tokens_in=10))
        answer = await self.offline.extract(chunk)
        return ChunkExtraction(answer.chunk_id, answer.payload, Usage(calls=1, tokens_in=100, tokens_out=20))

    async def summary(self, thread_id: str, title: str, claims: list[Claim], relations: list[Relation]) -> Any:
        if self.overview_waits:
            return WAITING
        return f"overview of {len(claims)} claims", Usage(calls=1, tokens_in=50)

    async def parts_summary(self, thread_id: str, title: str, parts: list[str]) -> Summary | Waiting:
        raise AssertionError("no window: the overview is never split")


def test_a_thread_with_every_answer_in_gets_a_valid_brief_and_its_usage() -> None:
    thread = long_thread()
    chunks = chunks_of(thread)
    assert len(chunks) >= 3
    source = Scripted()
    result, brief = asyncio.run(brief_thread(thread, source, TOKENIZER, SETTINGS))
    assert brief is not None and brief_problems(brief) == []
    assert result.status == "complete" and result.brief_written and result.claims == len(brief["claims"]) > 0
    assert source.asked == [("t", c.id) for c in chunks]  # each chunk asked once, labelled by its thread
    assert brief["summary"] == f"overview of {len(brief['claims'])} claims"
    # Every chunk's usage and the overview's, once each.
    assert result.usage.calls == len(chunks) + 1
    assert result.usage.tokens_in == 100 * len(chunks) + 50
    assert brief["stats"]["tokens_in"] == result.usage.tokens_in


def test_a_chunk_still_waiting_makes_the_thread_pending_with_no_brief() -> None:
    thread = long_thread()
    chunks = chunks_of(thread)
    source = Scripted(waiting={chunks[0].id, chunks[-1].id})
    result, brief = asyncio.run(brief_thread(thread, source, TOKENIZER, SETTINGS))
    assert brief is None and result.status == "pending" and not result.brief_written
    assert result.pending == 2 and result.failures == []


def test_an_overview_still_waiting_makes_the_thread_pending() -> None:
    result, brief = asyncio.run(brief_thread(long_thread(), Scripted(overview_waits=True), TOKENIZER, SETTINGS))
    assert brief is None and result.status == "pending" and result.pending == 1


def test_a_failed_chunk_is_recorded_and_its_cost_counted_and_the_thread_is_partial() -> None:
    thread = long_thread()
    chunks = chunks_of(thread)
    source = Scripted(failing={chunks[1].id})
    result, brief = asyncio.run(brief_thread(thread, source, TOKENIZER, SETTINGS))
    assert brief is not None and brief["status"] == result.status == "partial"
    assert [(f.stage, f.chunk, f.reason) for f in result.failures] == [("extract", chunks[1].id, "scripted failure")]
    assert result.usage.calls == 2 + (len(chunks) - 1) + 1
    assert result.usage.tokens_in == 10 + 100 * (len(chunks) - 1) + 50


def test_a_thread_whose_every_chunk_failed_is_failed_but_still_gets_a_brief() -> None:
    thread = long_thread()
    source = Scripted(failing={c.id for c in chunks_of(thread)})
    result, brief = asyncio.run(brief_thread(thread, source, TOKENIZER, SETTINGS))
    assert brief is not None and result.status == brief["status"] == "failed" and brief["claims"] == []


class CountingSource(Scripted):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def extraction(self, thread_id: str, chunk: Chunk) -> ChunkExtraction | Waiting:
        self.calls += 1
        return await super().extraction(thread_id, chunk)


def test_the_cache_answers_a_second_time_for_nothing_and_never_stores_a_wait(tmp_path: Path) -> None:
    chunk = chunks_of(long_thread())[0]
    cache = ExtractionCache(tmp_path)
    inner = CountingSource()
    cached = CachedAnswers(cache, "fp", inner)
    first = asyncio.run(cached.extraction("t", chunk))
    second = asyncio.run(cached.extraction("t", chunk))
    assert isinstance(first, ChunkExtraction) and isinstance(second, ChunkExtraction)
    assert inner.calls == 1 and second.payload == first.payload
    assert second.usage == Usage(cached_calls=1)

    other = chunks_of(long_thread())[1]
    waiting = CachedAnswers(cache, "fp", Scripted(waiting={other.id}))
    assert asyncio.run(waiting.extraction("t", other)) is WAITING
    assert cache.get(extraction_key("fp", other)) is None
    failing = CachedAnswers(cache, "fp", Scripted(failing={other.id}))
    with pytest.raises(ExtractionError):
        asyncio.run(failing.extraction("t", other))
    assert cache.get(extraction_key("fp", other)) is None
    cache.close()


class InvalidExtractor(Extractor):
    name = "bad"
    model = None
    fingerprint = "bad"

    async def extract(self, chunk: Chunk) -> ChunkExtraction:
        return ChunkExtraction(chunk.id, {"claims": [{"id": "k1"}], "relations": []}, Usage(calls=1, tokens_in=7))

    async def summarize(self, title: str, claims: list[Claim], relations: list[Relation]) -> tuple[str, Usage]:
        return "", Usage()


def test_a_live_answer_that_breaks_the_schema_fails_with_its_cost() -> None:
    chunk = chunks_of(long_thread())[0]
    with pytest.raises(ExtractionError, match="bad extractor returned an invalid payload") as caught:
        asyncio.run(LiveAnswers(InvalidExtractor(), concurrency=2).extraction("t", chunk))
    assert caught.value.usage == Usage(calls=1, tokens_in=7)


def record(state: str, attempts: int = 1, **extra: Any) -> RequestRecord:
    base: RequestRecord = {
        "attempts": attempts,
        "reason": "HTTP 500: scripted",
        "custom_id": "t/c001-abc",
        "schema": "extraction",
        "thread": "t",
        "state": state,  # type: ignore[typeddict-item]
        "batch": "batch_1",
    }
    base.update(extra)  # type: ignore[typeddict-item]
    return base


def test_the_batch_queue_queues_what_is_new_or_due_again_and_fails_what_is_spent() -> None:
    extractor = OpenAIExtractor(model="gpt-4o-mini", api_key="sk-x", base_url="http://127.0.0.1:9/v1")
    chunk = chunks_of(long_thread())[0]
    key = extraction_key(extractor.fingerprint, chunk)

    fresh = BatchQueue(extractor, {})
    assert asyncio.run(fresh.extraction("t", chunk)) is WAITING
    [queued] = fresh.queued
    assert queued.custom_id == f"t/{chunk.id}-{key[:12]}" and queued.key == key and queued.thread == "t"
    assert queued.body["messages"][-1]["content"] == chunk.user_prompt

    in_flight = BatchQueue(extractor, {key: record("sent")})
    assert asyncio.run(in_flight.extraction("t", chunk)) is WAITING and in_flight.queued == []

    reask = [{"role": "assistant", "content": "{}"}, {"role": "user", "content": "fix: claims is required"}]
    again = BatchQueue(extractor, {key: record("retry", reask=reask)})
    assert asyncio.run(again.extraction("t", chunk)) is WAITING
    assert again.queued[0].body["messages"][-2:] == reask

    spent = BatchQueue(extractor, {key: record("failed", attempts=3)})
    with pytest.raises(ExtractionError, match="failed after 3 attempt") as caught:
        asyncio.run(spent.extraction("t", chunk))
    assert caught.value.usage.calls == 3 and spent.queued == []
    asyncio.run(extractor.aclose())
