"""A generated debate as a brief (made up, seeded): posts in a reply tree, grounded claims, typed relations.

For the report's size and browser tests and bench/report_sizes.py, which need threads of 2,000 and 20,000
posts that no real fixture has. Every claim's quote is its post's text at its span, so the brief satisfies
the grounding invariant; replies quote a line of their parent now and then ("> ..."), as forum posts do.
"""

from __future__ import annotations

import random
from typing import Any

WORDS = (
    "policy evidence market cost risk study people city tax school data model growth energy price law health "
    "rent transit safety privacy budget climate labour housing water power trade science vote court media"
).split()
VERBS = "raises lowers explains ignores predicts undermines supports outweighs doubles hides".split()


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(3, 6))]
    return f"The {words[0]} {rng.choice(VERBS)} the {' '.join(words[1:])}."


def synthetic_brief(posts: int, seed: int = 17) -> dict[str, Any]:
    rng = random.Random(seed)
    speakers = [f"user{n:03d}" for n in range(max(6, posts // 25))]
    post_rows: list[dict[str, Any]] = []
    claims: list[dict[str, Any]] = []
    relations: list[dict[str, str]] = []
    claims_of: dict[str, list[str]] = {}
    for number in range(posts):
        post_id = f"p{number}"
        # Replies favour recent posts, so chains grow deep as in a real argument.
        parent = None if number == 0 else post_rows[max(0, number - 1 - int(rng.expovariate(0.15)))]
        sentences = [_sentence(rng) for _ in range(rng.randint(2, 4))]
        quoted: list[list[int]] = []
        text = " ".join(sentences)
        if parent is not None and rng.random() < 0.3:
            line = "> " + parent["text"].split(". ")[0].rstrip(".") + "."
            quoted.append([0, len(line)])
            text = line + "\n\n" + text
        post_rows.append(
            {
                "id": post_id,
                "author": rng.choice(speakers),
                "parent_id": parent["id"] if parent else None,
                "text": text,
                "duplicate_of": None,
                "quoted": quoted,
            }
        )
        for sentence in rng.sample(sentences, k=min(len(sentences), rng.randint(1, 2))):
            start = text.index(sentence, quoted[0][1] if quoted else 0)
            claim_id = f"C{len(claims) + 1}"
            claims.append(
                {
                    "id": claim_id,
                    "post_id": post_id,
                    "speaker": post_rows[-1]["author"],
                    "kind": "claim",
                    "text": sentence,
                    "quote": sentence,
                    "span": [start, start + len(sentence)],
                    "match": "exact",
                    "chunks": ["c001"],
                }
            )
            claims_of.setdefault(post_id, []).append(claim_id)
            if parent is not None and claims_of.get(parent["id"]) and rng.random() < 0.8:
                kind = rng.choices(["rebuts", "supports", "agrees", "qualifies"], weights=[6, 2, 1, 1])[0]
                relations.append({"source": claim_id, "target": rng.choice(claims_of[parent["id"]]), "type": kind})
    return _wrap(post_rows, claims, relations, posts)


def _wrap(
    posts: list[dict[str, Any]], claims: list[dict[str, Any]], relations: list[dict[str, str]], size: int
) -> dict[str, Any]:
    return {
        "schema_version": "1.0",
        "status": "complete",
        "thread": {
            "id": f"synthetic-{size}",
            "title": f"A generated debate of {size} posts",
            "source": None,
            "input_path": f"synthetic-{size}.json",
            "sha256": "0" * 64,
            "counts": {"posts": size, "duplicates_removed": 0, "tokens": 0, "chunks": 1},
        },
        "language": {"code": "en", "confidence": 1.0, "read_by_backend": True, "requested": None},
        "posts": posts,
        "claims": claims,
        "relations": relations,
        "summary": "A generated debate: every reply argues with a claim of the post it answers.",
        "rejected": [],
        "failures": [],
        "provenance": {
            "backend": "offline",
            "model": None,
            "prompts": [],
            "schemas": {},
            "schema_version": "1.0",
            "threadbrief_version": "0",
            "created_at": "2000-01-01T00:00:00Z",
        },
        "stats": {"calls": 0, "cached_calls": 0, "tokens_in": 0, "tokens_out": 0, "cost_usd": None, "seconds": 0.0},
    }
