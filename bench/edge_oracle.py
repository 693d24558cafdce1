"""Where the offline extractor's attack edges go wrong: its source clause, or its target clause.

Runs the offline backend over the annotated threads (../shared/eval/cmv-dev by default) and scores its
`rebuts` relations three ways against the gold attacks, one-to-one as `threadbrief eval` does:
- as evaluated: source and target each match the gold units (half of each overlapping);
- oracle target: the source matches and the target is anywhere in the right post, i.e. the edge F1 if
  the extractor always picked the right clause of the post it answers;
- oracle source: the target matches and the source is anywhere in the right reply.
A benchmark, not a test: it prints what it measured.
Usage: python bench/edge_oracle.py [CMV_DIR]
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

from cmv import annotated, argument_parser, offline_briefs

from pipeline.evaluate import (
    ATTACK_LABELS,
    Edge,
    Score,
    brief_prediction,
    edges_match,
    locate_units,
    match_edges,
    units_match,
)


def any_target_clause(predicted: Edge, gold: Edge) -> bool:
    return units_match(predicted[0], gold[0]) and predicted[1][0] == gold[1][0]


def any_source_clause(predicted: Edge, gold: Edge) -> bool:
    return predicted[0][0] == gold[0][0] and units_match(predicted[1], gold[1])


def main() -> int:
    args = argument_parser(__doc__).parse_args()
    data = annotated(args.cmv_dir)
    if data is None:
        return 2
    threads_dir, gold = data
    rules: dict[str, Callable[[Edge, Edge], bool]] = {
        "as evaluated": edges_match,
        "oracle target (any clause of the right post)": any_target_clause,
        "oracle source (any clause of the right reply)": any_source_clause,
    }
    scores = {name: Score() for name in rules}
    with offline_briefs([threads_dir], "tb-edges-") as out:
        for thread_id, thread_gold in sorted(gold.items()):
            brief_path = out / thread_id / "brief.json"
            brief = json.loads(brief_path.read_text(encoding="utf-8"))
            units = locate_units(thread_gold, brief)
            attacks = [r for r in thread_gold["relations"] if r.get("is_attack", r["label"] in ATTACK_LABELS)]
            gold_edges = [(units.get(r["source"]), units.get(r["target"])) for r in attacks]
            predicted = brief_prediction(brief).edges
            for name, rule in rules.items():
                scores[name].add(*match_edges(predicted, gold_edges, rule))
    for name, score in scores.items():
        print(f"{name:<48} attack-edge P {score.precision:.3f} R {score.recall:.3f} F1 {score.f1:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
