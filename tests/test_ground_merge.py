from __future__ import annotations

import pytest

from pipeline.ground import ground_claims
from pipeline.merge import merge_claims
from pipeline.models import GroundedClaim, Post, ProposedRelation, Thread
from pipeline.text import align

SOURCE = "I don’t think it’s a zero sum game—often safety/alignment improvements go hand in hand with capabilities."


@pytest.mark.parametrize(
    ("quote", "expected", "how"),
    [
        ("a zero sum game", "a zero sum game", "exact"),
        ("I don't think it's a zero  sum game-often", "I don’t think it’s a zero sum game—often", "normalized"),
        ("“a zero sum game”", "a zero sum game", "exact"),
        (
            "I do not think it’s a zero sum game—often safety",
            "I don’t think it’s a zero sum game—often safety",
            "fuzzy",
        ),
        ("I don’t think … hand in hand", SOURCE[: SOURCE.index("hand in hand") + len("hand in hand")], "normalized"),
    ],
)
def test_near_miss_quotes_are_aligned_to_the_true_source_span(quote: str, expected: str, how: str) -> None:
    start, end, found_how = align(quote, SOURCE) or (0, 0, "")
    assert SOURCE[start:end] == expected
    assert found_how == how


@pytest.mark.parametrize(
    "quote", ["The moon is made of cheese and rockets.", "", "   ", "capabilities research is zero sum"]
)
def test_inventions_are_not_aligned(quote: str) -> None:
    assert align(quote, SOURCE) is None


def test_ground_claims_keeps_source_text_and_rejects_the_rest() -> None:
    thread = Thread("t", None, None, "t", "0" * 64, [Post("p1", None, None, SOURCE)])
    proposed = [
        {"id": "k1", "post_id": "p1", "kind": "claim", "text": "x", "quote": "I don't think it's a zero sum game"},
        {"id": "k2", "post_id": "p1", "kind": "claim", "text": "x", "quote": "Labs must stop all research now."},
        {"id": "k3", "post_id": "p9", "kind": "claim", "text": "x", "quote": "zero sum"},
        {"id": "k4", "post_id": "p1", "kind": "claim", "text": "x", "quote": ""},
    ]
    kept, rejected = ground_claims("c001", proposed, thread)
    assert [(g.local_id, g.quote, g.match) for g in kept] == [
        ("k1", "I don’t think it’s a zero sum game", "normalized")
    ]
    assert SOURCE[kept[0].span[0] : kept[0].span[1]] == kept[0].quote
    assert [(r.item["id"], r.reason) for r in rejected] == [
        ("k2", "quote not found in post p1"),
        ("k3", "post 'p9' is not in the thread"),
        ("k4", "empty quote"),
    ]


def g(chunk: str, local: str, post: str, span: tuple[int, int], text: str) -> GroundedClaim:
    return GroundedClaim(chunk, local, post, "claim", "para", text[span[0] : span[1]], span, "exact")


def test_merge_gives_stable_ids_in_reading_order_and_repoints_relations() -> None:
    a = "Alpha claims the sky is green. Alpha adds more."
    b = "Beta says the sky is blue, not green."
    thread = Thread("t", None, None, "t", "0" * 64, [Post("p1", "alpha", None, a), Post("p2", "beta", "p1", b)])
    grounded = [
        g("c002", "k1", "p2", (0, len(b)), b),
        g("c002", "k2", "p1", (0, 30), a),  # p1's claim seen again as context in chunk 2
        g("c001", "k1", "p1", (0, 30), a),
        g("c001", "k2", "p1", (6, 30), a),  # overlaps k1 by more than half: same idea
    ]
    relations = [
        ProposedRelation("c002", "k1", "k2", "rebuts"),
        ProposedRelation("c002", "k1", "k9", "rebuts"),
        ProposedRelation("c001", "k1", "k2", "supports"),
    ]
    claims, rels, rejected = merge_claims(thread, grounded, relations)
    assert [(c.id, c.post_id, c.speaker, c.chunks) for c in claims] == [
        ("C1", "p1", "alpha", ["c001", "c002"]),
        ("C2", "p2", "beta", ["c002"]),
    ]
    assert [(r.source, r.target, r.type) for r in rels] == [("C2", "C1", "rebuts")]
    assert sorted(r.reason for r in rejected) == [
        "both ends merged into C1",
        "claim 'k9' was not grounded, so the relation has no end",
    ]
    again, _, _ = merge_claims(thread, list(reversed(grounded)), relations)
    assert [(c.id, c.span) for c in again] == [(c.id, c.span) for c in claims]
