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
Calls of one level run together; when some of them raise ``RequestDeferred`` (batch mode), the others
still run and then ``RequestDeferred`` is raised for the level.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from .errors import ExtractionError, RequestDeferred
from .models import Claim, Relation

SummarizeClaims = Callable[[str, list[Claim], list[Relation]], Awaitable[str]]
SummarizeParts = Callable[[str, list[str]], Awaitable[str]]
ClaimsTokens = Callable[[str, list[Claim], list[Relation]], int]
PartsTokens = Callable[[str, list[str]], int]

MAX_DEPTH = 3  # levels of part overviews; at a 6,000-token budget that is ~100,000 claims


def claim_groups(
    title: str, claims: list[Claim], relations: list[Relation], measure: ClaimsTokens, budget: int
) -> list[tuple[list[Claim], list[Relation]]]:
    """Claims in reading order, cut into groups whose prompt fits ``budget``; each group also holds the
    earlier claims its claims respond to, and the relations among what it holds."""
    by_id = {c.id: c for c in claims}
    answers: dict[str, list[str]] = {}
    for relation in relations:
        answers.setdefault(relation.source, []).append(relation.target)

    def closed(members: list[Claim]) -> tuple[list[Claim], list[Relation]]:
        ids = {c.id for c in members}
        extra = [by_id[t] for c in members for t in answers.get(c.id, ()) if t not in ids and t in by_id]
        held = {c.id: c for c in [*extra, *members]}
        ordered = sorted(held.values(), key=lambda c: int(c.id[1:]) if c.id[1:].isdigit() else 0)
        return ordered, [r for r in relations if r.source in held and r.target in held]

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


async def _all(calls: list[Awaitable[str]]) -> list[str]:
    """Every call of a level runs; deferred or failed calls surface after the others are done."""
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    deferred = False
    for outcome in outcomes:
        if isinstance(outcome, RequestDeferred):
            deferred = True
        elif isinstance(outcome, BaseException):
            raise outcome
    if deferred:
        raise RequestDeferred("overview")
    return [str(o) for o in outcomes]


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
) -> tuple[str, int]:
    if claims_tokens is None or parts_tokens is None or claims_tokens(title, claims, relations) <= budget:
        return await summarize_claims(title, claims, relations), 0
    groups = claim_groups(title, claims, relations, claims_tokens, budget)
    count = len(groups)
    parts = await _all(
        [
            summarize_claims(f"{title} (part {number} of {count})", group, group_relations)
            for number, (group, group_relations) in enumerate(groups, 1)
        ]
    )
    depth = 1
    while parts_tokens(title, parts) > budget:
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
    return await summarize_parts(title, parts), depth
