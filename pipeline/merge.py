"""Merge: grounded claims from all chunks → one claim per idea with stable ids, relations re-pointed.

Input: the thread, every chunk's ``GroundedClaim``s and ``ProposedRelation``s. Output: ``Claim``s with
ids C1, C2... in reading order (post order, then position in the post: independent of the order in
which chunks finished), ``Relation``s between those ids (deduplicated), and ``Rejection``s for
relations that cannot be kept (an endpoint was not grounded, or both ends merged into one claim).
Two grounded claims are one idea when they quote overlapping text of the same post (overlap at least
half of the shorter quote) or the same words by the same speaker in different posts. Provenance is
the union of their chunks. Failure modes: none raised.
"""

from __future__ import annotations

from .models import Claim, GroundedClaim, GroundingMatch, ProposedRelation, Rejection, Relation, Thread
from .text import fold

_MATCH_RANK: dict[GroundingMatch, int] = {"exact": 0, "normalized": 1, "fuzzy": 2}


def _overlap_enough(a: GroundedClaim, b: GroundedClaim) -> bool:
    if a.post_id != b.post_id:
        return False
    overlap = min(a.span[1], b.span[1]) - max(a.span[0], b.span[0])
    shorter = min(a.span[1] - a.span[0], b.span[1] - b.span[0])
    return overlap > 0 and overlap * 2 >= shorter


def merge_claims(
    thread: Thread, grounded: list[GroundedClaim], proposed: list[ProposedRelation]
) -> tuple[list[Claim], list[Relation], list[Rejection]]:
    order = {post.id: index for index, post in enumerate(thread.posts)}
    authors = {post.id: post.author for post in thread.posts}
    items = sorted(grounded, key=lambda g: (order[g.post_id], g.span[0], g.span[1], g.chunk, g.local_id))

    parent = list(range(len(items)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    by_words: dict[tuple[str | None, str], int] = {}
    # A sweep over spans in order of start: only claims still open (ending after this one starts) can
    # overlap it, so a post with thousands of claims costs no more than its overlaps.
    open_spans: list[int] = []
    current_post: str | None = None
    for i, item in enumerate(items):
        if item.post_id != current_post:
            open_spans, current_post = [], item.post_id
        open_spans = [j for j in open_spans if items[j].span[1] > item.span[0]]
        for j in open_spans:
            if _overlap_enough(items[j], item):
                parent[find(i)] = find(j)
        open_spans.append(i)
        words_key = (authors[item.post_id], fold(item.quote))
        if words_key in by_words:
            parent[find(i)] = find(by_words[words_key])
        else:
            by_words[words_key] = i

    groups: dict[int, list[int]] = {}
    for i in range(len(items)):
        groups.setdefault(find(i), []).append(i)
    ordered = sorted(groups.values(), key=lambda members: min(members))

    claims: list[Claim] = []
    claim_of: dict[tuple[str, str], str] = {}
    for number, members in enumerate(ordered, 1):
        best = items[min(members, key=lambda m: (_MATCH_RANK[items[m].match], m))]
        claim_id = f"C{number}"
        chunks = sorted({items[m].chunk for m in members})
        claims.append(
            Claim(
                id=claim_id,
                post_id=best.post_id,
                speaker=authors[best.post_id],
                kind=best.kind,
                text=best.text,
                quote=best.quote,
                span=best.span,
                match=best.match,
                chunks=chunks,
            )
        )
        for m in members:
            claim_of[(items[m].chunk, items[m].local_id)] = claim_id

    relations, rejected = _relations(proposed, claim_of)
    return claims, relations, rejected


def _relations(
    proposed: list[ProposedRelation], claim_of: dict[tuple[str, str], str]
) -> tuple[list[Relation], list[Rejection]]:
    """The proposed relations re-pointed at the merged claims, once each; those left without an end rejected."""
    relations: list[Relation] = []
    seen: set[Relation] = set()
    rejected: list[Rejection] = []
    for rel in proposed:
        proposal = {"source": rel.source, "target": rel.target, "type": rel.type}
        source = claim_of.get((rel.chunk, rel.source))
        target = claim_of.get((rel.chunk, rel.target))
        if source is None or target is None:
            missing = rel.source if source is None else rel.target
            rejected.append(
                Rejection(
                    "merge",
                    rel.chunk,
                    proposal,
                    f"claim {missing!r} was not grounded, so the relation has no end",
                )
            )
            continue
        if source == target:
            rejected.append(Rejection("merge", rel.chunk, proposal, f"both ends merged into {source}"))
            continue
        relation = Relation(source, target, rel.type)
        if relation not in seen:
            seen.add(relation)
            relations.append(relation)
    relations.sort(key=lambda r: (int(r.source[1:]), int(r.target[1:]), r.type))
    return relations, rejected
