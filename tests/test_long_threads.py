"""Linear time on long threads and one request per identical question in flight (issue 16, points 2 and 3).

Grounding finds where quoted words come from with an index (``ground.QuoteOrigins``): it must find exactly
what a scan of every earlier post finds (checked against that scan, kept here as the reference), while
``align`` is asked of O(1) posts per claim, not of every earlier post. The overview's claim grouping reads
the relations once, not once per claim. ``answers.SingleFlight`` sends one request for identical questions
in flight, and a failure of it reaches every waiter and is not cached.
"""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

import pytest

import pipeline.ground as ground
from pipeline.answers import CachedAnswers, SingleFlight, Summary
from pipeline.cache import ExtractionCache
from pipeline.errors import ExtractionError
from pipeline.extract_openai import OpenAIExtractor
from pipeline.fakeserver import FakeOpenAIServer, FakeServerConfig
from pipeline.ground import QuoteOrigins, ground_claims
from pipeline.models import Chunk, ChunkExtraction, Claim, Post, Relation, Thread, Usage
from pipeline.normalize import normalize_thread
from pipeline.overview import claim_groups
from pipeline.runner import RunConfig, run
from pipeline.text import align

WORDS = "tax school city road nurse vote plan fund rent law price wage".split()


def reference_origin(text: str, quoting: Post, thread: Thread) -> tuple[Post, tuple[int, int]] | None:
    """The scan the index replaces: every earlier post, parent first, until one says the words itself."""
    position = thread.posts.index(quoting)
    earlier = [p for p in reversed(thread.posts[:position]) if p.duplicate_of is None]
    earlier.sort(key=lambda p: p.id != quoting.parent_id)
    core = text.lstrip(">").removeprefix("&gt;").strip()
    for post in earlier:
        located = align(core, post.text)
        if located and located[2] != "fuzzy" and not post.in_quoted(located[:2]):
            return post, (located[0], located[1])
    return None


def sentence(rng: random.Random) -> str:
    words = rng.choices(WORDS, k=rng.randint(1, 7))
    if rng.random() < 0.2:
        words.insert(rng.randrange(len(words) + 1), rng.choice(["“high”", "'low'", "cost—benefit", "e-mail"]))
    return " ".join(words).capitalize() + rng.choice([".", "!", "?", " .", ""])


def random_thread(rng: random.Random, posts: int) -> Thread:
    made: list[Post] = []
    for n in range(posts):
        parent = None if n == 0 else f"p{rng.randrange(n)}"
        text = " ".join(sentence(rng) for _ in range(rng.randint(1, 4)))
        if n and rng.random() < 0.3:  # a reply quoting some earlier post's words (which may be quotes)
            source = made[rng.randrange(n)].text
            start = rng.randrange(len(source))
            text = f"> {source[start : start + rng.randint(5, 60)].strip()}\n{text}"
        if n and rng.random() < 0.05:
            text = made[rng.randrange(n)].text  # a repeat: a duplicate when the author is the same
        made.append(Post(f"p{n}", f"u{rng.randrange(4)}", parent, text))
    return normalize_thread(Thread("t", "T", None, "t", "0" * 64, made))


def variant(rng: random.Random, words: str) -> str:
    """The words as a model may quote them: as said, typographically different, cut, wrapped or elided."""
    pick = rng.randrange(8)
    if pick == 1:
        return words.replace("'", "’").replace('"', "“").replace("-", "–")
    if pick == 2:
        return words.replace(" ", "  ").replace(".", " .")
    if pick == 3:
        return f"“{words}”"
    if pick == 4 and len(words.split()) > 4:
        split = words.split()
        return " ".join(split[:2]) + " ... " + " ".join(split[-2:])
    if pick == 5:
        return words.rstrip(".!? ") + "."
    if pick == 6:
        return sentence(rng)  # likely said by no post, or by many
    return words


def test_the_index_finds_the_origin_a_scan_of_every_earlier_post_finds() -> None:
    rng = random.Random(16)
    compared = found = 0
    for _ in range(4):
        thread = random_thread(rng, 90)
        origins = QuoteOrigins(thread)
        for _ in range(150):
            quoting = thread.posts[rng.randrange(1, len(thread.posts))]
            source = thread.posts[rng.randrange(len(thread.posts))].text
            start = rng.randrange(len(source))
            text = variant(rng, source[start : start + rng.randint(1, 80)])
            expected = reference_origin(text, quoting, thread)
            got = origins.origin(text, quoting)
            assert (got and (got[0].id, got[1])) == (expected and (expected[0].id, expected[1])), text
            compared += 1
            found += expected is not None
    assert compared == 600 and 100 < found < 500  # both outcomes are exercised


def quoting_thread(posts: int) -> Thread:
    """Every reply opens by quoting words said nowhere in the thread (an outside source): the case that
    scanned every earlier post for every claim."""
    rng = random.Random(posts)
    made = [Post("p0", "u0", None, "Rent control lowers rents for tenants.")]
    for n in range(1, posts):
        outside = " ".join(rng.choices(WORDS, k=8)) + f" number {n}."
        made.append(Post(f"p{n}", f"u{n % 7}", f"p{n - 1}", f"> {outside}\nI disagree with that point {n}."))
    return normalize_thread(Thread("t", "T", None, "t", "0" * 64, made))


def aligns_per_claim(posts: int, monkeypatch: pytest.MonkeyPatch) -> float:
    thread = quoting_thread(posts)
    calls = 0

    def counting_align(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return align(*args, **kwargs)

    monkeypatch.setattr(ground, "align", counting_align)
    origins = QuoteOrigins(thread)
    claims = [
        {"id": f"k{n}", "post_id": p.id, "kind": "claim", "text": "", "quote": p.text.split("\n")[0]}
        for n, p in enumerate(thread.posts[1:])
    ]
    kept, rejected = [], []
    for start in range(0, len(claims), 20):  # chunks of 20 claims sharing the thread's index
        chunk_kept, chunk_rejected = ground_claims("c", claims[start : start + 20], thread, None, origins)
        kept += chunk_kept
        rejected += chunk_rejected
    assert not kept and len(rejected) == len(claims)  # the words are someone else's and no post said them
    return calls / len(claims)


def test_grounding_asks_align_about_a_constant_number_of_posts_per_claim(monkeypatch: pytest.MonkeyPatch) -> None:
    small, large = aligns_per_claim(100, monkeypatch), aligns_per_claim(800, monkeypatch)
    # One align for the claim in its own post; the index finds no earlier post holding the words. A scan
    # of every earlier post would make ~50 and ~400 calls per claim.
    assert small == large == 1.0


def claim(number: int) -> Claim:
    return Claim(f"C{number}", f"p{number}", "u", "claim", f"claim {number} " * 3, "q", (0, 1), "exact", ["c001"])


class CountedRelations(list[Relation]):
    """A list that counts how often it is read through."""

    reads = 0

    def __iter__(self) -> Any:
        CountedRelations.reads += 1
        return super().__iter__()


def reference_groups(
    claims: list[Claim], relations: list[Relation], budget: int
) -> list[tuple[list[Claim], list[Relation]]]:
    """The grouping as it was: every relation looked at for every claim tried."""
    by_id = {c.id: c for c in claims}

    def closed(members: list[Claim]) -> tuple[list[Claim], list[Relation]]:
        ids = {c.id for c in members}
        extra = [by_id[r.target] for c in members for r in relations if r.source == c.id and r.target not in ids]
        held = {c.id: c for c in [*extra, *members]}
        ordered = sorted(held.values(), key=lambda c: int(c.id[1:]))
        return ordered, [r for r in relations if r.source in held and r.target in held]

    groups, current = [], []
    for c in claims:
        if current and measure("T", *closed([*current, c])) > budget:
            groups.append(closed(current))
            current = []
        current.append(c)
    return [*groups, closed(current)]


def measure(title: str, claims: list[Claim], relations: list[Relation]) -> int:
    return 10 * len(claims) + 3 * len(relations)


def test_claim_grouping_reads_the_relations_once_and_groups_as_before() -> None:
    rng = random.Random(3)
    claims = [claim(n) for n in range(1, 401)]
    pairs = {(rng.randrange(2, 401), rng.randrange(1, 401)) for _ in range(600)}
    relations = CountedRelations(
        sorted(
            (Relation(f"C{s}", f"C{t}", "rebuts") for s, t in pairs if s != t),
            key=lambda r: (int(r.source[1:]), int(r.target[1:])),
        )
    )
    expected = reference_groups(claims, list(relations), 200)
    CountedRelations.reads = 0
    groups = claim_groups("T", claims, relations, measure, 200)
    assert CountedRelations.reads == 1  # the old grouping read them once per claim tried, 400+ times
    assert groups == expected and len(groups) > 20


# --- single-flight ----------------------------------------------------------------------------------------


def chunk(chunk_id: str) -> Chunk:
    return Chunk(chunk_id, "t", "T", [], [], user_prompt="the same prompt", prompt_tokens=10)


class Gated:
    """An answer source that counts its questions and answers (or fails) only when the gate opens."""

    window = None

    def __init__(self, fail: bool = False) -> None:
        self.asked = 0
        self.fail = fail
        self.gate = asyncio.Event()

    async def extraction(self, thread_id: str, chunk: Chunk) -> ChunkExtraction:
        self.asked += 1
        await self.gate.wait()
        if self.fail:
            raise ExtractionError("the endpoint said no", usage=Usage(calls=3))
        return ChunkExtraction(chunk.id, {"claims": [], "relations": []}, Usage(calls=1, tokens_in=50))

    async def summary(self, thread_id: str, title: str, claims: list[Claim], relations: list[Relation]) -> Summary:
        self.asked += 1
        await self.gate.wait()
        return "overview", Usage(calls=1)

    async def parts_summary(self, thread_id: str, title: str, parts: list[str]) -> Summary:
        raise AssertionError("not asked")


async def both(flight: SingleFlight, source: Gated) -> list[Any]:
    asked = [asyncio.ensure_future(flight.extraction("t", chunk(f"c00{n}"))) for n in (1, 2)]
    await asyncio.sleep(0)  # both are in flight before the answer comes
    await asyncio.sleep(0)
    source.gate.set()
    return await asyncio.gather(*asked, return_exceptions=True)


def test_two_identical_questions_in_flight_make_one_request_charged_once(tmp_path: Path) -> None:
    source = Gated()
    cache = ExtractionCache(tmp_path)
    flight = SingleFlight("fp", CachedAnswers(cache, "fp", source))
    first, second = asyncio.run(both(flight, source))
    cache.close()
    assert source.asked == 1
    assert (first.chunk_id, first.usage) == ("c001", Usage(calls=1, tokens_in=50))
    assert (second.chunk_id, second.usage) == ("c002", Usage())
    assert first.payload == second.payload and first.payload is not second.payload


def test_two_identical_summaries_in_flight_make_one_request() -> None:
    source = Gated()
    flight = SingleFlight("fp", source)

    async def ask() -> list[Summary]:
        asked = [asyncio.ensure_future(flight.summary("t", "T", [claim(1)], [])) for _ in range(3)]
        await asyncio.sleep(0)
        source.gate.set()
        return list(await asyncio.gather(*asked))

    assert asyncio.run(ask()) == [("overview", Usage(calls=1)), ("overview", Usage()), ("overview", Usage())]
    assert source.asked == 1


def test_a_failed_shared_request_fails_every_waiter_once_charged_and_is_asked_again(tmp_path: Path) -> None:
    source = Gated(fail=True)
    cache = ExtractionCache(tmp_path)
    flight = SingleFlight("fp", CachedAnswers(cache, "fp", source))
    first, second = asyncio.run(both(flight, source))
    assert isinstance(first, ExtractionError) and isinstance(second, ExtractionError)
    assert "the endpoint said no" in str(second)
    assert (first.usage, second.usage) == (Usage(calls=3), Usage())
    source.fail = False  # not cached, not remembered in flight: the next identical question is asked
    again = asyncio.run(both(flight, source))
    cache.close()
    assert source.asked == 2 and [a.usage.calls for a in again] == [1, 0]


def test_two_copies_of_a_thread_run_together_send_each_question_once(tmp_path: Path) -> None:
    posts = [
        {"id": "p1", "author": "ann", "parent_id": None, "text": "Rent control lowers rents for tenants."},
        {"id": "p2", "author": "bob", "parent_id": "p1", "text": "Rent control shrinks the supply of housing."},
    ]
    (tmp_path / "in").mkdir()
    for copy_id in ("a", "b"):  # the same thread under two ids: the same prompts, asked at the same time
        thread = {"id": copy_id, "title": "Rent control", "posts": posts}
        (tmp_path / "in" / f"{copy_id}.json").write_text(json.dumps(thread), encoding="utf-8")
    config = RunConfig(inputs=[tmp_path / "in"], out=tmp_path / "out", use_cache=False, concurrency=4)
    with FakeOpenAIServer(FakeServerConfig(latency=0.2)) as server:
        extractor = OpenAIExtractor(model="gpt-4o-mini", api_key="sk-test", base_url=server.base_url)
        exit_code, manifest = run(config, extractor)
        assert server.stats.answered == {"extraction": 1, "summary": 1}
    assert exit_code == 0 and manifest["totals"]["complete"] == 2 and manifest["totals"]["calls"] == 2
    briefs = [json.loads((tmp_path / "out" / t / "brief.json").read_text()) for t in ("a", "b")]
    assert briefs[0]["claims"] == briefs[1]["claims"] and briefs[0]["claims"]
    assert sorted(b["stats"]["calls"] for b in briefs) == [0, 2]  # the thread that waited paid nothing
