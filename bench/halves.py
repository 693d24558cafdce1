"""How much the offline scores move with the sample of threads: scores on random halves of cmv-dev.

Runs the offline backend (shipped weights, so in-sample: the weights were tuned on these threads) once over
../shared/eval/cmv-dev, scores every thread on its own with ``threadbrief eval``'s rules, then draws random
halves of the threads (seeded: the same halves on every run) and pools each half's counts, as the eval
pools threads. Prints, for claim, attack-edge and post-pair F1: the score on all threads, and the 5th, 50th
and 95th percentiles and the range over the halves.
Usage: python bench/halves.py [CMV_DIR] [--draws 2000] [--seed 14]
"""

from __future__ import annotations

import random
import sys

from cmv import annotated, argument_parser, offline_briefs

from pipeline.evaluate import Score, SystemScores, evaluate

METRICS = {"claim F1": "claims", "attack-edge F1": "attack_edges", "post-pair F1": "post_pairs"}


def pooled_f1(parts: list[SystemScores], metric: str) -> float:
    total = Score()
    for part in parts:
        score = getattr(part, metric)
        total.add(score.tp, score.fp, score.fn)
    return total.f1


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile by the nearest-rank rule on sorted values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def main() -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--draws", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    data = annotated(args.cmv_dir)
    if data is None:
        return 2
    threads_dir, gold = data
    with offline_briefs([threads_dir], "tb-halves-") as out:
        per_thread = {tid: evaluate({tid: gold[tid]}, out).systems["threadbrief"] for tid in sorted(gold)}
    ids = sorted(per_thread)
    rng = random.Random(args.seed)
    halves = [rng.sample(ids, len(ids) // 2) for _ in range(args.draws)]
    print(
        f"offline backend, shipped weights (in-sample); {len(ids)} threads; {args.draws} random halves of "
        f"{len(ids) // 2} threads (seed {args.seed}), counts pooled over each half's threads"
    )
    print(f"{'metric':<16} {'all':>6} {'p5':>6} {'p50':>6} {'p95':>6} {'min':>6} {'max':>6}")
    for label, metric in METRICS.items():
        scores = [pooled_f1([per_thread[t] for t in half], metric) for half in halves]
        everything = pooled_f1(list(per_thread.values()), metric)
        cells = [everything, *(percentile(scores, q) for q in (5, 50, 95)), min(scores), max(scores)]
        print(f"{label:<16} " + " ".join(f"{value:>6.3f}" for value in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
