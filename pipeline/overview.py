"""Overview: a thread's merged claims → one overview paragraph, by hierarchical reduce when they do not fit.

Input: the title, the merged ``Claim``s and ``Relation``s, two summarizing calls (claims → text, part
overviews → text), the prompt-token measures of those two calls and the prompt budget. Output: the
overview and the number of reduce levels it took (0: one call over every claim).
When the claims do not fit one prompt, they are cut in reading order into groups that fit, each group
carrying the claims its own claims respond to from earlier groups (so a reply in chunk 7 to a claim in
chunk 2 is summarized with what it answers); each group gets an overview, then the part overviews are
summarized together, in groups again when they do not fit, at most ``max_depth`` levels deep.
Failure modes: ``ExtractionError`` when one claim alone exceeds the budget, when the reduce would need
more than ``max_depth`` levels, or when a summarizing call fails (the runner marks the thread partial).
Calls of one level run together; when some of them answer ``WAITING`` (batch mode), the others still
run, and the overview is ``WAITING`` too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from .answers import Waiting
from .errors import ExtractionError
from .models import Claim, Relation

SummarizeClaims = Callable[[str, list[Claim], list[Relation]], Awaitable[str | Waiting]]
SummarizeParts = Callable[[str, list[str]], Awaitable[str | Waiting]]
ClaimsTokens = Callable[[str, list[Claim], list[Relation]], int]
PartsTokens = Callable[[str, list[str]], int]

MAX_DEPTH = 3  # levels of part overviews; at a 6,000-token budget that is ~100,000 claims


def claim_groups(
    title: str, claims: list[Claim], relations: list[Relation], measure: ClaimsTokens, budget: int
) -> list[tuple[list[Claim], list[Relation]]]:
    """Claims in reading order, cut into groups whose prompt fits ``budget``; each group also holds the
    earlier claims its claims respond to, and the relations among what it holds."""
    by_id = {c.id: c for c in claims}
    outgoing: dict[str, list[int]] = {}  # claim id → the places in ``relations`` of the relations from it
    for place, relation in enumerate(relations):
        outgoing.setdefault(relation.source, []).append(place)

    def closed(members: list[Claim]) -> tuple[list[Claim], list[Relation]]:
        # Only the relations from what the group holds are looked at (not every relation of the thread, for
        # every claim tried): the work is the group's, which the budget bounds, so the grouping is linear.
        ids = {c.id for c in members}
        extra = [
            by_id[relations[p].target]
            for c in members
            for p in outgoing.get(c.id, ())
            if relations[p].target not in ids and relations[p].target in by_id
        ]
        held = {c.id: c for c in [*extra, *members]}
        ordered = sorted(held.values(), key=lambda c: int(c.id[1:]) if c.id[1:].isdigit() else 0)
        places = sorted(p for claim_id in held for p in outgoing.get(claim_id, ()) if relations[p].target in held)
        return ordered, [relations[p] for p in places]  # in the order of ``relations``, as before

    groups: list[tuple[list[Claim], list[Relation]]] = []
    current: list[Claim] = []
    for claim in claims:
        trial = closed([*current, claim])
        if measure(title, *trial) <= budget:
            current.append(claim)
            continue
        if not current:
            raise ExtractionError(
                f"claim {claim.id} alone makes a {measure(title, *trial)}-token overview prompt, over the "
                f"{budget}-token budget: raise --max-chunk-tokens"
            )
        groups.append(closed(current))
        current = [claim]
        if measure(title, *closed(current)) > budget:
            raise ExtractionError(
                f"claim {claim.id} and what it answers make an overview prompt over the {budget}-token budget: "
                "raise --max-chunk-tokens"
            )
    if current:
        groups.append(closed(current))
    return groups


def part_groups(title: str, parts: list[str], measure: PartsTokens, budget: int) -> list[list[str]]:
    groups: list[list[str]] = []
    current: list[str] = []
    for part in parts:
        if current and measure(title, [*current, part]) > budget:
            groups.append(current)
            current = []
        current.append(part)
    groups.append(current)
    return groups


async def _all(calls: list[Awaitable[str | Waiting]]) -> list[str] | Waiting:
    """Every call of a level runs; a failure surfaces after the others are done, then a wait."""
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    texts: list[str] = []
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
        if not isinstance(outcome, Waiting):
            texts.append(outcome)
    return texts if len(texts) == len(outcomes) else Waiting.WAITING


async def write_overview(
    title: str,
    claims: list[Claim],
    relations: list[Relation],
    *,
    summarize_claims: SummarizeClaims,
    summarize_parts: SummarizeParts,
    claims_tokens: ClaimsTokens | None,
    parts_tokens: PartsTokens | None,
    budget: int,
    max_depth: int = MAX_DEPTH,
) -> tuple[str, int] | Waiting:
    if claims_tokens is None or parts_tokens is None or claims_tokens(title, claims, relations) <= budget:
        return _with_depth(await summarize_claims(title, claims, relations), 0)
    groups = claim_groups(title, claims, relations, claims_tokens, budget)
    count = len(groups)
    parts: list[str] | Waiting = await _all(
        [
            summarize_claims(f"{title} (part {number} of {count})", group, group_relations)
            for number, (group, group_relations) in enumerate(groups, 1)
        ]
    )
    depth = 1
    while not isinstance(parts, Waiting) and parts_tokens(title, parts) > budget:
        if depth >= max_depth:
            raise ExtractionError(
                f"the overview needs more than {max_depth} levels of part overviews ({len(parts)} parts left): "
                "raise --max-chunk-tokens"
            )
        grouped = part_groups(title, parts, parts_tokens, budget)
        if len(grouped) >= len(parts):
            raise ExtractionError(
                f"part overviews do not fit the {budget}-token overview budget two at a time: raise --max-chunk-tokens"
            )
        parts = await _all([summarize_parts(title, group) for group in grouped])
        depth += 1
    if isinstance(parts, Waiting):
        return parts
    return _with_depth(await summarize_parts(title, parts), depth)


def _with_depth(overview: str | Waiting, depth: int) -> tuple[str, int] | Waiting:
    return overview if isinstance(overview, Waiting) else (overview, depth)
