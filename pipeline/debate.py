"""Debate structure of a brief: its core (the rebuttal chains), main positions and key exchanges.

Input: a ``Brief``. Output: plain data that ``render.brief_markdown`` (Mermaid map, "At a glance") and
``report`` (SVG map, thread page) both draw, so the two always show the same core and the same exchanges.
Nothing here reads the text for meaning: positions and exchanges follow the relations the extractor found.

- The **core** is the claims in rebuttal chains: connected components of the rebuttal edges (read as
  undirected), largest first, until a cap; a component larger than what is left of the cap is cut to the
  breadth-first neighbourhood of its most rebutted claim, so what is shown stays connected.
- A **position** is a component's root (its most rebutted claim that rebuts nothing, or its most rebutted
  one); the claims an even number of rebuttals away hold it, an odd number oppose it (a rebuttal of a
  rebuttal defends the root), and supports or agreements join the side they back.
- A **key exchange** is one of the most rebutted claims, its strongest rebuttals (the most backed by
  supports and agreements, then the most answered) and the replies rebutting those.

Failure modes: none; a brief with no rebuttal has an empty core, no position and no exchange.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from .brief_types import Brief, BriefClaim, BriefRelation

BACKING = ("supports", "agrees")


@dataclass(frozen=True)
class Core:
    """The claims a map shows (in components, largest first) and what it leaves out."""

    components: list[list[str]]  # claim ids, each component in reading order
    in_chains: int  # claims in any rebuttal chain
    chains: int  # rebuttal components of two claims or more
    rebuttals: bool = True  # False: the thread has no rebuttal, and these are chains of other relations

    @property
    def claim_ids(self) -> list[str]:
        return [cid for component in self.components for cid in component]

    def left_out_note(self, total_claims: int) -> str:
        shown = len(self.claim_ids)
        kind = "rebuttal chains" if self.rebuttals else "chains of relations (the thread has no rebuttal)"
        parts = [f"{shown} claims in {len(self.components)} of the {self.chains} {kind}"]
        if shown < self.in_chains:
            parts.append(f"{self.in_chains - shown} more claims in chains left out (smallest chains first)")
        if total_claims > self.in_chains:
            parts.append(f"{total_claims - self.in_chains} claims in no chain left out")
        return "; ".join(parts)


@dataclass
class Exchange:
    """A contested claim, its strongest rebuttals and, for each, the replies rebutting it."""

    claim: str
    rebuttals: list[tuple[str, list[str]]] = field(default_factory=list)
    total_rebuttals: int = 0


@dataclass(frozen=True)
class Position:
    root: str
    holders: list[str]  # speakers, most claims first
    opponents: list[str]
    rebuttals: int  # rebuttal edges in the component


def speaker_count(brief: Brief) -> int:
    """The thread's distinct post authors (an unknown author counts once), as brief.md, the thread page and the
    index all show it."""
    return len({p["author"] for p in brief["posts"]})


def _order(claim_id: str) -> int:
    return int(claim_id[1:]) if claim_id[1:].isdigit() else 0


class Relations:
    """A brief's relations indexed both ways, by type."""

    def __init__(self, brief: Brief) -> None:
        self.claims: dict[str, BriefClaim] = {c["id"]: c for c in brief["claims"]}
        self.by_post: dict[str, list[str]] = {}
        for claim in brief["claims"]:
            self.by_post.setdefault(claim["post_id"], []).append(claim["id"])
        self.into: dict[str, list[BriefRelation]] = {}
        self.out_of: dict[str, list[BriefRelation]] = {}
        for rel in brief["relations"]:
            if rel["source"] in self.claims and rel["target"] in self.claims:
                self.out_of.setdefault(rel["source"], []).append(rel)
                self.into.setdefault(rel["target"], []).append(rel)
        # Chains are rebuttals; a thread with none is mapped by its other relations rather than not at all.
        self.rebuttal_chains = any(r["type"] == "rebuts" for rels in self.out_of.values() for r in rels)

    def linked(self, claim_id: str) -> list[str]:
        """The claims one chain step away: rebutting or rebutted (any relation when the thread has no rebuttal)."""
        if self.rebuttal_chains:
            return self.rebutters(claim_id) + self.rebutted(claim_id)
        return [r["source"] for r in self.into.get(claim_id, [])] + [r["target"] for r in self.out_of.get(claim_id, [])]

    def rebutters(self, claim_id: str) -> list[str]:
        return [r["source"] for r in self.into.get(claim_id, []) if r["type"] == "rebuts"]

    def rebutted(self, claim_id: str) -> list[str]:
        return [r["target"] for r in self.out_of.get(claim_id, []) if r["type"] == "rebuts"]

    def strength(self, claim_id: str) -> tuple[int, int, int]:
        """How strong a rebuttal is, for ordering: backing received, answers drawn, earlier first."""
        into = self.into.get(claim_id, [])
        backing = sum(1 for r in into if r["type"] in BACKING)
        return (-backing, -len(into), _order(claim_id))

    def speaker(self, claim_id: str) -> str:
        return self.claims[claim_id]["speaker"] or "Unattributed"


def _bfs(rels: Relations, start: str, limit: int | None = None) -> list[str]:
    """Claims reachable from ``start`` over rebuttal edges either way, nearest first, up to ``limit``."""
    members, seen, queue = [start], {start}, deque([start])
    while queue and (limit is None or len(members) < limit):
        current = queue.popleft()
        for other in sorted(rels.linked(current), key=_order):
            if other not in seen and (limit is None or len(members) < limit):
                seen.add(other)
                members.append(other)
                queue.append(other)
    return members


def rebuttal_components(rels: Relations) -> list[list[str]]:
    """Rebuttal components of two claims or more, largest first (then earliest), each in reading order."""
    seen: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(rels.claims, key=_order):
        if start in seen or not rels.linked(start):
            continue
        members = _bfs(rels, start)
        seen.update(members)
        found.append(sorted(members, key=_order))
    return sorted(found, key=lambda members: (-len(members), _order(members[0])))


def most_rebutted(rels: Relations, members: list[str]) -> str:
    return min(members, key=lambda cid: (-len(set(rels.rebutters(cid))), _order(cid)))


def debate_core(rels: Relations, cap: int) -> Core:
    """The largest rebuttal components that fit in ``cap`` claims; the first one cut to fit if it must be."""
    components = rebuttal_components(rels)
    kept: list[list[str]] = []
    room = cap
    for members in components:
        if room < 2:
            break
        if len(members) <= room:
            kept.append(members)
            room -= len(members)
        elif not kept:  # the largest chain alone overflows: its most contested claim's neighbourhood
            kept.append(sorted(_bfs(rels, most_rebutted(rels, members), room), key=_order))
            room = 0
    return Core(kept, sum(len(m) for m in components), len(components), rels.rebuttal_chains)


def positions(rels: Relations, components: list[list[str]], limit: int) -> list[Position]:
    """The root claim of each of the first ``limit`` components, the speakers who hold it and who oppose it."""
    found: list[Position] = []
    for members in components[:limit]:
        roots = [cid for cid in members if not rels.rebutted(cid)] or members
        root = most_rebutted(rels, roots)
        side: dict[str, int] = {root: 0}
        queue = deque([root])
        while queue:
            current = queue.popleft()
            for other in rels.rebutters(current) + rels.rebutted(current):
                if other not in side:
                    side[other] = 1 - side[current]
                    queue.append(other)
        for cid in list(side):  # backing joins the side it backs
            for rel in rels.into.get(cid, []):
                if rel["type"] in BACKING and rel["source"] not in side:
                    side[rel["source"]] = side[cid]
        count: list[dict[str, int]] = [{}, {}]
        for cid, which in sorted(side.items(), key=lambda item: _order(item[0])):
            speaker = rels.speaker(cid)
            count[which][speaker] = count[which].get(speaker, 0) + 1
        holders, opponents = (sorted(c, key=lambda s, c=c: -c[s]) for c in count)  # type: ignore[misc]
        rebuttals = sum(len(rels.rebutted(cid)) for cid in members)
        found.append(Position(root, holders, opponents, rebuttals))
    return found


def key_exchanges(rels: Relations, limit: int, rebuttals: int, replies: int) -> list[Exchange]:
    """The ``limit`` most rebutted claims, each with its strongest ``rebuttals`` and their first ``replies``."""
    contested = [cid for cid in rels.claims if rels.rebutters(cid)]
    contested.sort(key=lambda cid: (-len(set(rels.rebutters(cid))), _order(cid)))
    exchanges: list[Exchange] = []
    for cid in contested[:limit]:
        against = sorted(set(rels.rebutters(cid)), key=rels.strength)
        exchange = Exchange(cid, total_rebuttals=len(against))
        for rebuttal in against[:rebuttals]:
            answers = sorted(set(rels.rebutters(rebuttal)) - {cid}, key=rels.strength)
            exchange.rebuttals.append((rebuttal, answers[:replies]))
        exchanges.append(exchange)
    return exchanges
