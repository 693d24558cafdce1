"""The overview of threads longer than one prompt: hierarchical reduce, bounded depth, cross-chunk links."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import pytest
from conftest import grounded_everywhere, write_thread

from pipeline.errors import ExtractionError
from pipeline.extract_openai import OpenAIExtractor
from pipeline.fakeserver import FakeOpenAIServer
from pipeline.models import Claim, Relation
from pipeline.outputs import read_manifest
from pipeline.overview import write_overview
from pipeline.runner import RunConfig, run


def make_claims(count: int) -> list[Claim]:
    return [
        Claim(f"C{n}", f"p{n}", "ann", "claim", f"claim number {n}", f"quote {n}", (0, 7), "exact", ["c001"])
        for n in range(1, count + 1)
    ]


class Recorder:
    """Summarizing calls that record what they were given; one token per claim, relation or part."""

    def __init__(self) -> None:
        self.claim_calls: list[tuple[str, list[str], list[tuple[str, str]]]] = []
        self.part_calls: list[list[str]] = []

    async def claims(self, title: str, claims: list[Claim], relations: list[Relation]) -> str:
        self.claim_calls.append((title, [c.id for c in claims], [(r.source, r.target) for r in relations]))
        return f"overview of {claims[0].id}..{claims[-1].id}"

    async def parts(self, title: str, parts: list[str]) -> str:
        self.part_calls.append(parts)
        return f"overview of {len(parts)} parts"

    @staticmethod
    def claims_tokens(title: str, claims: list[Claim], relations: list[Relation]) -> int:
        return len(claims) + len(relations)

    @staticmethod
    def parts_tokens(title: str, parts: list[str]) -> int:
        return len(parts)


def overview(claims: list[Claim], relations: list[Relation], budget: int, recorder: Recorder, **kw: int) -> tuple:
    return asyncio.run(
        write_overview(
            "T",
            claims,
            relations,
            summarize_claims=recorder.claims,
            summarize_parts=recorder.parts,
            claims_tokens=recorder.claims_tokens,
            parts_tokens=recorder.parts_tokens,
            budget=budget,
            **kw,
        )
    )


def test_claims_that_fit_make_one_call() -> None:
    recorder = Recorder()
    text, depth = overview(make_claims(10), [], 10, recorder)
    assert (text, depth) == ("overview of C1..C10", 0)
    assert len(recorder.claim_calls) == 1 and recorder.part_calls == []


def test_claims_over_the_budget_are_summarized_in_groups_that_carry_what_they_answer() -> None:
    claims = make_claims(100)
    relations = [Relation("C95", "C3", "rebuts"), Relation("C4", "C3", "supports")]
    recorder = Recorder()
    text, depth = overview(claims, relations, 20, recorder)
    assert depth == 1 and text == f"overview of {len(recorder.claim_calls)} parts"
    assert recorder.part_calls == [[f"overview of {ids[0]}..{ids[-1]}" for _t, ids, _r in recorder.claim_calls]]
    for title, ids, rels in recorder.claim_calls:
        assert len(ids) + len(rels) <= 20 and title.startswith("T (part ")
    # Every claim is summarized exactly once in its own group; C3 also rides along with C95, its rebuttal.
    with_reply = next(call for call in recorder.claim_calls if "C95" in call[1])
    assert "C3" in with_reply[1] and ("C95", "C3") in with_reply[2]
    own = [cid for _t, ids, _r in recorder.claim_calls for cid in ids]
    assert sorted(set(own), key=lambda c: int(c[1:])) == [c.id for c in claims]
    assert own.count("C3") == 2


def test_a_second_level_when_the_part_overviews_do_not_fit_and_a_bound_on_depth() -> None:
    recorder = Recorder()
    text, depth = overview(make_claims(60), [], 5, recorder)
    # 12 groups of 5 claims → 12 parts → 3 groups of ≤ 5 → 3 parts that fit → the final call.
    assert (depth, len(recorder.claim_calls)) == (2, 12)
    assert [len(p) for p in recorder.part_calls] == [5, 5, 2, 3]
    with pytest.raises(ExtractionError, match="more than 1 levels"):
        overview(make_claims(60), [], 5, Recorder(), max_depth=1)


def test_a_claim_alone_over_the_budget_is_an_error_naming_the_option() -> None:
    with pytest.raises(ExtractionError, match="--max-chunk-tokens"):
        overview(make_claims(3), [Relation("C2", "C1", "rebuts")], 1, Recorder())


def long_thread(path: Path, posts: int, seed: int = 5) -> None:
    rng = random.Random(seed)
    rows = [("p0", "ann", None, "Cities should ban cars from their centres. Walking is healthier.")]
    for n in range(1, posts):
        parent = f"p{rng.randrange(max(0, n - 40), n)}"  # mostly recent posts, some far back
        rows.append((f"p{n}", f"user{n % 17}", parent, f"Reply {n} argues point {n} against {parent}. More words."))
    write_thread(path, "long", rows, title="Car-free city centres")


def test_a_long_thread_gets_a_hierarchical_overview_and_rebuttals_across_chunks(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    long_thread(tmp_path / "in" / "long.json", 300)
    config = RunConfig(
        inputs=[tmp_path / "in"], out=tmp_path / "out", cache_dir=tmp_path / "cache", max_chunk_tokens=1500
    )
    with FakeOpenAIServer() as server:
        extractor = OpenAIExtractor(model="gpt-4o-mini", api_key="sk-x", base_url=server.base_url, output_budget=200)
        exit_code, _summary = run(config, extractor)
        answered = dict(server.stats.answered)
    assert exit_code == 0, read_manifest(tmp_path / "out")["threads"][0]["failures"]
    brief = json.loads((tmp_path / "out" / "long" / "brief.json").read_text())
    assert grounded_everywhere(brief) and brief["thread"]["counts"]["chunks"] > 5
    # Part overviews first, then one call over them; every call fitted the 1,500-token budget.
    assert answered["summary"] > 1 and answered["summary_parts"] == 1
    assert brief["summary"]
    # Replies whose parent sits in an earlier chunk (shown to them as context) rebut the parent's claim, and
    # that claim is the one extracted in the parent's own chunk: one claim per post, whatever chunks cite it.
    chunks_of = {c["id"]: c["chunks"] for c in brief["claims"]}
    crossing = [r for r in brief["relations"] if min(chunks_of[r["target"]]) < min(chunks_of[r["source"]])]
    assert len(crossing) >= 20, f"only {len(crossing)} rebuttals cross chunks"
    for relation in crossing:
        assert min(chunks_of[relation["source"]]) in chunks_of[relation["target"]]
    per_post = [c["post_id"] for c in brief["claims"]]
    assert len(per_post) == len(set(per_post)) == 301
