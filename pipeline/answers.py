"""Answers: where a thread's model answers come from (the answer source seam).

Input: a question (a chunk to extract; claims, or part overviews, to summarize) and the thread it is for.
Output: the answer with what it cost (``Usage``), or ``WAITING`` when it has been asked for but has not come
back (batch mode: the thread is pending, not failed). Three sources, composed by the runner:
``CachedAnswers`` (the content-addressed cache, in front of one of the others), ``LiveAnswers`` (the
extractor, now, under the run's concurrency bound) and the batch queue (``batch.BatchQueue``); and in
front of them all ``SingleFlight``, so a question identical to one still being answered (same cache key)
waits for that answer instead of being asked again (it costs nothing: ``Usage()``); and behind it ``Tally``
adds up what every answer cost, whichever thread it was for, so a run stopped part-way can say what its
unfinished threads spent.
Every live answer is checked against its JSON Schema here, whatever the backend did itself, before it is
cached. Failure modes: ``ExtractionError`` (with the usage spent) when no valid answer can be had; the
thread stage records it as a failure of that chunk or of the overview. A failure of a shared question is
raised to every caller waiting for it (to the waiters with no usage, so its cost is counted once) and,
like every failure, is not cached: the next identical question is asked anew.
"""

from __future__ import annotations

import asyncio
import copy
import enum
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from .cache import ExtractionCache, extraction_key, parts_key, summary_key
from .errors import ExtractionError
from .extract import ContextWindow, Extractor
from .models import Chunk, ChunkExtraction, Claim, Relation, Usage
from .resources import schema_errors


class Waiting(enum.Enum):
    """An answer that was asked for and has not come back yet (the batch path); not a failure."""

    WAITING = "waiting"


WAITING = Waiting.WAITING
Summary = tuple[str, Usage]


class AnswerSource(Protocol):
    @property
    def window(self) -> ContextWindow | None:
        """The backend's prompt measures for the overview (None: it has no context window)."""
        ...

    async def extraction(self, thread_id: str, chunk: Chunk) -> ChunkExtraction | Waiting: ...

    async def summary(
        self, thread_id: str, title: str, claims: list[Claim], relations: list[Relation]
    ) -> Summary | Waiting: ...

    async def parts_summary(self, thread_id: str, title: str, parts: list[str]) -> Summary | Waiting: ...


class LiveAnswers:
    """The extractor, asked now; at most ``concurrency`` questions in flight across the run."""

    def __init__(self, extractor: Extractor, concurrency: int) -> None:
        self.extractor = extractor
        self.window = extractor.window
        self._slots = asyncio.Semaphore(max(1, concurrency))

    async def extraction(self, thread_id: str, chunk: Chunk) -> ChunkExtraction:
        async with self._slots:
            extraction = await self.extractor.extract(chunk)
        problems = schema_errors("extraction", extraction.payload)
        if problems:
            raise ExtractionError(
                f"{self.extractor.name} extractor returned an invalid payload: {'; '.join(problems)}",
                usage=extraction.usage,
            )
        return extraction

    async def summary(self, thread_id: str, title: str, claims: list[Claim], relations: list[Relation]) -> Summary:
        async with self._slots:
            return await self.extractor.summarize(title, claims, relations)

    async def parts_summary(self, thread_id: str, title: str, parts: list[str]) -> Summary:
        window = self.window
        if window is None:  # the overview splits only when the backend measured a window
            raise ExtractionError(f"{self.extractor.name} backend has no context window to reduce over")
        async with self._slots:
            return await window.summarize_parts(title, parts)


class CachedAnswers:
    """The cache in front of another source: a stored answer costs nothing; a new one is stored."""

    def __init__(self, cache: ExtractionCache, fingerprint: str, then: AnswerSource) -> None:
        self.cache = cache
        self.fingerprint = fingerprint
        self.then = then
        self.window = then.window

    async def extraction(self, thread_id: str, chunk: Chunk) -> ChunkExtraction | Waiting:
        key = extraction_key(self.fingerprint, chunk)
        hit = self.cache.get(key)
        if hit is not None:
            return ChunkExtraction(chunk.id, hit["payload"], Usage(cached_calls=1))
        answer = await self.then.extraction(thread_id, chunk)
        if not isinstance(answer, Waiting):
            self.cache.put(key, {"payload": answer.payload})
        return answer

    async def summary(
        self, thread_id: str, title: str, claims: list[Claim], relations: list[Relation]
    ) -> Summary | Waiting:
        key = summary_key(self.fingerprint, title, claims, relations)
        return self._stored(key) or self._store(key, await self.then.summary(thread_id, title, claims, relations))

    async def parts_summary(self, thread_id: str, title: str, parts: list[str]) -> Summary | Waiting:
        key = parts_key(self.fingerprint, title, parts)
        return self._stored(key) or self._store(key, await self.then.parts_summary(thread_id, title, parts))

    def _stored(self, key: str) -> Summary | None:
        hit = self.cache.get(key)
        return None if hit is None else (str(hit["summary"]), Usage(cached_calls=1))

    def _store(self, key: str, answer: Summary | Waiting) -> Summary | Waiting:
        if not isinstance(answer, Waiting):
            self.cache.put(key, {"summary": answer[0]})
        return answer


Answer = TypeVar("Answer", ChunkExtraction, Summary)


class SingleFlight:
    """In front of another source: an identical question (same cache key) already being answered is not
    asked again; its callers all wait for the one answer, and only the first is charged for it."""

    def __init__(self, fingerprint: str, then: AnswerSource) -> None:
        self.fingerprint = fingerprint
        self.then = then
        self.window = then.window
        self._flights: dict[str, asyncio.Future[object]] = {}  # cache key → the question being answered

    async def extraction(self, thread_id: str, chunk: Chunk) -> ChunkExtraction | Waiting:
        answer, first = await self._shared(
            extraction_key(self.fingerprint, chunk), lambda: self.then.extraction(thread_id, chunk)
        )
        if first or isinstance(answer, Waiting):
            return answer
        # The waiter's own chunk id, and a payload of its own (later stages read it; none should share it).
        return ChunkExtraction(chunk.id, copy.deepcopy(answer.payload), Usage())

    async def summary(
        self, thread_id: str, title: str, claims: list[Claim], relations: list[Relation]
    ) -> Summary | Waiting:
        key = summary_key(self.fingerprint, title, claims, relations)
        answer, first = await self._shared(key, lambda: self.then.summary(thread_id, title, claims, relations))
        return answer if first or isinstance(answer, Waiting) else (answer[0], Usage())

    async def parts_summary(self, thread_id: str, title: str, parts: list[str]) -> Summary | Waiting:
        key = parts_key(self.fingerprint, title, parts)
        answer, first = await self._shared(key, lambda: self.then.parts_summary(thread_id, title, parts))
        return answer if first or isinstance(answer, Waiting) else (answer[0], Usage())

    async def _shared(self, key: str, ask: Callable[[], Awaitable[Answer | Waiting]]) -> tuple[Answer | Waiting, bool]:
        """The answer to the question ``key`` names, and whether this caller is the one that asked it."""
        flight = self._flights.get(key)
        first = flight is None
        if flight is None:
            # A task of its own, so a caller cancelled while waiting does not cancel the others' answer.
            flight = self._flights[key] = asyncio.ensure_future(ask())
            flight.add_done_callback(lambda done: self._landed(key, done))
        try:
            answer = await asyncio.shield(flight)
        except ExtractionError as exc:
            if first:
                raise
            raise ExtractionError(str(exc), usage=Usage()) from exc  # the cost is the first caller's
        return answer, first  # type: ignore[return-value]  # the flight of ``key`` answers ``ask``

    async def cancel(self) -> None:
        """Cancel the questions still being answered, and wait until they are: when the run stops part-way,
        their callers are gone, and a flight left running would go on calling the model (billed) unseen."""
        flights = list(self._flights.values())
        for flight in flights:
            flight.cancel()
        await asyncio.gather(*flights, return_exceptions=True)

    def _landed(self, key: str, done: asyncio.Future[object]) -> None:
        if self._flights.get(key) is done:
            del self._flights[key]  # answered or failed: the next identical question goes to ``then``
        if not done.cancelled():
            done.exception()  # retrieved here too: a failure with no caller left to see it is not logged


Asked = TypeVar("Asked")


class Tally:
    """Behind ``SingleFlight`` (so a shared answer counts once), in front of the cache and the live source: the
    usage of every answer and every failure (``ExtractionError.usage``), run-wide. Each thread's result adds up
    the same usages (a waiter on a shared answer is charged nothing), so when every thread finished, ``spent``
    is the run's totals;
    when the run stopped part-way, the difference is what the threads that never finished had spent (their
    calls were made, and billed, but no thread entry records them)."""

    def __init__(self, then: AnswerSource) -> None:
        self.then = then
        self.spent = Usage()

    @property
    def window(self) -> ContextWindow | None:
        return self.then.window

    async def extraction(self, thread_id: str, chunk: Chunk) -> ChunkExtraction | Waiting:
        answer = await self._counted(self.then.extraction(thread_id, chunk))
        if not isinstance(answer, Waiting):
            self.spent.add(answer.usage)
        return answer

    async def summary(
        self, thread_id: str, title: str, claims: list[Claim], relations: list[Relation]
    ) -> Summary | Waiting:
        return self._summed(await self._counted(self.then.summary(thread_id, title, claims, relations)))

    async def parts_summary(self, thread_id: str, title: str, parts: list[str]) -> Summary | Waiting:
        return self._summed(await self._counted(self.then.parts_summary(thread_id, title, parts)))

    def _summed(self, answer: Summary | Waiting) -> Summary | Waiting:
        if not isinstance(answer, Waiting):
            self.spent.add(answer[1])
        return answer

    async def _counted(self, asked: Awaitable[Asked]) -> Asked:
        try:
            return await asked
        except ExtractionError as exc:
            self.spent.add(exc.usage)
            raise
