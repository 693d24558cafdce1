"""Validate: a brief (parsed JSON) → the list of problems with it; empty means valid.

Checks the schema (``schemas/brief.schema.json``), the grounding invariant (every claim's quote is
non-empty and equals its post's text at its span), unique post and claim ids, and that relations join
existing claims. Failure modes: none raised; unreadable files are reported by the caller.
"""

from __future__ import annotations

from typing import Any

from .brief_types import Brief
from .resources import schema_errors


def brief_problems(brief: Any) -> list[str]:
    """``brief``: a built ``Brief``, or any parsed JSON (a file being validated); read as a ``Brief`` only
    once it is valid against the schema."""
    problems = schema_errors("brief", brief)
    if problems:
        return problems
    return _invariant_problems(brief)


def _invariant_problems(brief: Brief) -> list[str]:
    """What the schema cannot say: ids unique, quotes grounded, relations joining existing claims."""
    problems: list[str] = []
    posts: dict[str, str] = {}
    for post in brief["posts"]:
        if post["id"] in posts:
            problems.append(f"posts: id {post['id']!r} appears twice")
        posts[post["id"]] = post["text"]
    claim_ids: set[str] = set()
    for claim in brief["claims"]:
        where = f"claims/{claim['id']}"
        if claim["id"] in claim_ids:
            problems.append(f"{where}: id appears twice")
        claim_ids.add(claim["id"])
        text = posts.get(claim["post_id"])
        if text is None:
            problems.append(f"{where}: post {claim['post_id']!r} is not in posts")
            continue
        start, end = claim["span"]
        if not claim["quote"] or not 0 <= start < end <= len(text) or text[start:end] != claim["quote"]:
            problems.append(f"{where}: quote is not the post's text at span {claim['span']} (grounding invariant)")
    for index, rel in enumerate(brief["relations"]):
        for role, claim_id in (("source", rel["source"]), ("target", rel["target"])):
            if claim_id not in claim_ids:
                problems.append(f"relations/{index}: {role} {claim_id!r} is not a claim")
    return problems
