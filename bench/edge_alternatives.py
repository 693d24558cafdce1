"""Other ways to pick the clauses of an attack edge, measured against the offline extractor's own choice.

The offline extractor decides which replies rebut which post (the post pairs), then picks the clauses: as
sources, the reply's strongest claim and its opening clauses in order; as the targets, the title (for a reply
to the opening post), or the parent's strongest claim and its opening clause. ``make edge-oracle`` shows that
the clause choice is what costs the attack-edge F1. This script keeps the extractor's post pairs (the
`rebuts` relations of its briefs over ../shared/eval/cmv-dev) and changes only the clauses, scoring each
alternative with ``threadbrief eval``'s edge rule (source and target each overlapping the gold units by half
of each, one-to-one), pooled:
- as shipped (the briefs' own edges);
- sources: every claim of the reply, or every clause of it (claims and premises), with the shipped targets;
- targets: the parent's first claim, or the parent clause sharing most content words with the source;
- a pairwise model: logistic regression over 0/1 features of a (reply clause, parent clause) pair (positions,
  claim or premise, claim-score band, negation and contrast words, question, word overlap), picking the top
  K pairs of each post pair; K and the model are fitted on three quarters of the threads and scored on the
  fourth (4-fold by thread, folds every 4th thread by id), pooled over the folds: cross-validated.
The non-fitted alternatives, like the shipped rules, are in-sample: those rules were tuned on these threads.
Usage: python bench/edge_alternatives.py [CMV_DIR] [--folds 4] [--l2 1.0]
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cmv import annotated, argument_parser, logistic_fit, offline_briefs

from pipeline.chunk import chunk_thread
from pipeline.evaluate import ATTACK_LABELS, Edge, Score, brief_prediction, locate_units, match_edges
from pipeline.extract_offline import Segment, content_words, segments, similarity
from pipeline.load import TITLE_POST_ID, load_inputs
from pipeline.normalize import normalize_thread
from pipeline.tokenizer import get_tokenizer

NEGATION = re.compile(r"\b(?:not|no|never|nothing|wrong|\w+n't)\b")
CONTRAST = re.compile(r"\b(?:but|however|although|though|actually|yet)\b")


@dataclass
class Clause:
    segment: Segment
    unit: tuple[str, tuple[int, int]]


@dataclass
class PostPair:
    """One reply → post rebuttal the extractor made, with the clauses on each side and its own edges."""

    sources: list[Clause]  # the reply's candidate clauses, in order
    targets: list[Clause]  # the answered post's (and the title's, for a reply to the opening post)
    shipped: list[Edge]


@dataclass
class ThreadData:
    thread_id: str
    pairs: list[PostPair]
    gold_edges: list[tuple[Any, Any]]


def load_threads(threads_dir: Path, gold: dict[str, dict[str, Any]], out: Path) -> list[ThreadData]:
    tokenizer = get_tokenizer(None)
    data: list[ThreadData] = []
    for thread in load_inputs([threads_dir]).threads:
        if thread.id not in gold:
            continue
        brief = json.loads((out / thread.id / "brief.json").read_text(encoding="utf-8"))
        (chunk,) = chunk_thread(normalize_thread(thread), tokenizer, 10**9)  # every post with its own segments
        texts = {cp.post.id: cp.text for cp in chunk.posts}
        if any(texts.get(p["id"], p["text"]) != p["text"] for p in brief["posts"]):
            raise SystemExit(f"{thread.id}: a brief's post text differs from the chunk's; spans would not agree")
        clauses: dict[str, list[Clause]] = {}
        for cp in chunk.posts:
            found = [s for s in segments(cp) if s.candidate]
            clauses[cp.post.id] = [
                Clause(s, (cp.post.id, (start, start + len(s.text))))
                for s in found
                if (start := cp.text.find(s.text)) >= 0
            ]
        parents = {cp.post.id: cp.post.parent_id for cp in chunk.posts}
        edges_by_pair: dict[tuple[str, str], list[Edge]] = {}
        for edge in brief_prediction(brief).edges:
            source_post = edge[0][0]
            edges_by_pair.setdefault((source_post, parents.get(source_post) or ""), []).append(edge)
        pairs = []
        for (reply, parent), shipped in sorted(edges_by_pair.items()):
            targets = list(clauses.get(parent, []))
            if parent and parents.get(parent) is None and parent != TITLE_POST_ID:
                targets = clauses.get(TITLE_POST_ID, []) + targets  # a reply to the opening post: the title too
            pairs.append(PostPair(clauses.get(reply, []), targets, shipped))
        units = locate_units(gold[thread.id], brief)
        attacks = [r for r in gold[thread.id]["relations"] if r.get("is_attack", r["label"] in ATTACK_LABELS)]
        data.append(ThreadData(thread.id, pairs, [(units.get(r["source"]), units.get(r["target"])) for r in attacks]))
    return data


def score_of(data: list[ThreadData], pick: Callable[[PostPair], list[Edge]]) -> Score:
    total = Score()
    for thread in data:
        predicted = [edge for pair in thread.pairs for edge in pick(pair)]
        total.add(*match_edges(predicted, thread.gold_edges))
    return total


def shipped_targets(pair: PostPair) -> list[tuple[str, tuple[int, int]]]:
    return list(dict.fromkeys(target for _, target in pair.shipped))


def shipped_sources(pair: PostPair) -> list[tuple[str, tuple[int, int]]]:
    return list(dict.fromkeys(source for source, _ in pair.shipped))


def every_claim_as_source(pair: PostPair) -> list[Edge]:
    return [(s.unit, t) for s in pair.sources if s.segment.kind == "claim" for t in shipped_targets(pair)]


def every_clause_as_source(pair: PostPair) -> list[Edge]:
    return [(s.unit, t) for s in pair.sources for t in shipped_targets(pair)]


def first_claim_as_target(pair: PostPair) -> list[Edge]:
    parent = [t for t in pair.targets if t.segment.post.id != TITLE_POST_ID] or pair.targets
    first = next((t for t in parent if t.segment.kind == "claim"), parent[0] if parent else None)
    return [] if first is None else [(s, first.unit) for s in shipped_sources(pair)]


def most_similar_target(pair: PostPair) -> list[Edge]:
    words = {c.unit: c.segment.words for c in pair.sources}
    edges = []
    for source in shipped_sources(pair):
        source_words = words.get(source) or content_words("")
        if pair.targets:
            best = max(pair.targets, key=lambda t: (similarity(source_words, t.segment.words), -t.segment.index))
            edges.append((source, best.unit))
    return edges


def pair_features(source: Clause, target: Clause) -> list[str]:
    s, t = source.segment, target.segment
    overlap = similarity(s.words, t.words)
    found = [
        "bias",
        f"source_index_{min(s.index, 3)}",
        f"source_sentence_{min(s.sentence, 2)}",
        f"source_{s.kind}",
        f"source_score_{'high' if s.score >= 0.5 else 'mid' if s.score >= -0.8 else 'low'}",
        f"target_index_{min(t.index, 3)}",
        f"target_sentence_{min(t.sentence, 2)}",
        f"target_{t.kind}",
        f"target_score_{'high' if t.score >= 0.5 else 'mid' if t.score >= -0.8 else 'low'}",
        f"overlap_{'none' if overlap == 0 else 'some' if overlap < 0.2 else 'much'}",
    ]
    if t.post.id == TITLE_POST_ID:
        found.append("target_title")
    if NEGATION.search(s.lowered):
        found.append("source_negation")
    if CONTRAST.search(s.lowered):
        found.append("source_contrast")
    if s.text.endswith("?"):
        found.append("source_question")
    return found


def fit(rows: list[tuple[tuple[str, ...], int]], l2: float) -> dict[str, float]:
    return logistic_fit(rows, sorted({name for features, _ in rows for name in features}), l2, iterations=30)


def training_rows(data: list[ThreadData]) -> list[tuple[tuple[str, ...], int]]:
    """Every (reply clause, answered clause) pair of every post pair, labelled 1 when it is a gold attack."""
    rows = []
    for thread in data:
        gold = [(s, t) for s, t in thread.gold_edges if s is not None and t is not None]
        for pair in thread.pairs:
            for source in pair.sources:
                for target in pair.targets:
                    label = int(match_edges([(source.unit, target.unit)], gold)[0] > 0)
                    rows.append((tuple(pair_features(source, target)), label))
    return rows


def top_pairs(weights: dict[str, float], k: int) -> Callable[[PostPair], list[Edge]]:
    def pick(pair: PostPair) -> list[Edge]:
        scored = [
            (sum(weights.get(f, 0.0) for f in pair_features(s, t)), -s.segment.index, -t.segment.index, s, t)
            for s in pair.sources
            for t in pair.targets
        ]
        scored.sort(key=lambda item: item[:3], reverse=True)
        return [(s.unit, t.unit) for *_, s, t in scored[:k]]

    return pick


def pairwise_cross_validated(data: list[ThreadData], folds: int, l2: float) -> tuple[Score, list[int]]:
    ids = sorted(t.thread_id for t in data)
    total, chosen = Score(), []
    for fold in range(folds):
        held_out = set(ids[fold::folds])
        train = [t for t in data if t.thread_id not in held_out]
        weights = fit(training_rows(train), l2)
        k = max((1, 2, 3), key=lambda k: score_of(train, top_pairs(weights, k)).f1)  # K chosen on training only
        chosen.append(k)
        score = score_of([t for t in data if t.thread_id in held_out], top_pairs(weights, k))
        total.add(score.tp, score.fp, score.fn)
    return total, chosen


def main() -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--l2", type=float, default=1.0)
    args = parser.parse_args()
    data = annotated(args.cmv_dir)
    if data is None:
        return 2
    threads_dir, gold = data
    with offline_briefs([threads_dir], "tb-alternatives-") as out:
        data = load_threads(threads_dir, gold, out)
    pairs = sum(len(t.pairs) for t in data)
    print(f"offline briefs of {len(data)} threads: {pairs} reply → post rebuttals kept, clauses changed")
    alternatives: dict[str, Callable[[PostPair], list[Edge]]] = {
        "as shipped (in-sample)": lambda pair: pair.shipped,
        "sources: every claim of the reply (in-sample)": every_claim_as_source,
        "sources: every clause of the reply (in-sample)": every_clause_as_source,
        "target: the parent's first claim (in-sample)": first_claim_as_target,
        "target: the parent clause most like the source (in-sample)": most_similar_target,
    }
    for label, pick in alternatives.items():
        s = score_of(data, pick)
        print(f"{label:<64} attack-edge P {s.precision:.3f} R {s.recall:.3f} F1 {s.f1:.3f}")
    s, chosen = pairwise_cross_validated(data, args.folds, args.l2)
    label = f"pairwise model, top K pairs ({args.folds}-fold cross-validated)"
    print(f"{label:<64} attack-edge P {s.precision:.3f} R {s.recall:.3f} F1 {s.f1:.3f}   (K per fold: {chosen})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
