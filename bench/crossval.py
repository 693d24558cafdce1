"""The offline extractor cross-validated by thread through the whole pipeline: the headline quality figures.

Splits the annotated threads (../shared/eval/cmv-dev by default) into K folds by thread (every K-th thread
by sorted id, so the split is fixed), and for each fold fits every tuned part of the offline extractor on the
other folds only, with bench/fit_claims.py's procedure (claim weights and threshold on their segments; the
edge choices by running the offline pipeline on them), then runs the offline pipeline with that fit on the
held-out threads and scores the briefs with ``threadbrief eval``'s rules. Prints, for claims, attack edges
and post pairs: each fold's F1, the mean over folds, and the counts pooled over folds (the figure to quote);
then the shipped model (pipeline/data/offline_model.json, fitted on all of these threads) on all of them,
labelled in-sample. The word classes and fixed constants of the extractor are not fitted by this procedure;
they were written from the literature the module cites, though with these threads in view.
Usage: python bench/crossval.py [CMV_DIR] [--folds 8]
"""

from __future__ import annotations

import sys
from statistics import mean

from cmv import annotated, argument_parser
from fit_claims import fit_model, labelled_rows, line, offline_model, scores_on

from pipeline.evaluate import SystemScores

METRICS = (("claim", "claims"), ("attack-edge", "attack_edges"), ("post-pair", "post_pairs"))


def pooled(parts: list[SystemScores]) -> SystemScores:
    total = SystemScores()
    for part in parts:
        for _, name in METRICS:
            score = getattr(part, name)
            getattr(total, name).add(score.tp, score.fp, score.fn)
    return total


def main() -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--folds", type=int, default=8)
    args = parser.parse_args()
    data = annotated(args.cmv_dir)
    if data is None:
        return 2
    threads_dir, gold = data
    ids = sorted(gold)
    rows = labelled_rows(threads_dir, gold)
    print(f"{len(ids)} threads, {args.folds} folds by thread; every tuned part refitted on the training folds")
    parts: list[SystemScores] = []
    for fold in range(args.folds):
        held_out = ids[fold :: args.folds]
        train = [thread_id for thread_id in ids if thread_id not in set(held_out)]
        model = fit_model(threads_dir, gold, train, rows)
        with offline_model(model):
            scores = scores_on(threads_dir, gold, held_out)
        parts.append(scores)
        choice = (
            f"sources {model['sources_per_reply']}, evidence edges {'yes' if model['evidence_edges'] else 'no'}, "
            f"opening target {'yes' if model['opening_target'] else 'no'}"
        )
        print(f"  fold {fold + 1}: {len(held_out):>2} held-out threads  {line(scores)}   ({choice})")
    print(f"\ncross-validated ({args.folds}-fold by thread), held-out threads only:")
    for label, name in METRICS:
        f1s = [getattr(part, name).f1 for part in parts]
        total = getattr(pooled(parts), name)
        print(
            f"  {label + ' F1':<15} pooled {total.f1:.3f} (P {total.precision:.3f} R {total.recall:.3f})   "
            f"mean over folds {mean(f1s):.3f} (min {min(f1s):.3f}, max {max(f1s):.3f})"
        )
    print(f"\nin-sample (the shipped model, fitted on all {len(ids)} threads, scored on them): ", end="")
    print(line(scores_on(threads_dir, gold, ids)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
