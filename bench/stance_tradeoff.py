"""How the offline extractor's two stance defaults trade CMV attack edges against false rebuttals elsewhere.

The default (``extract_offline.argued_reply``) marks a reply as rebutting its parent, without an explicit sign of
disagreement, when both take a position at least as claim-like as a cut on the claim score. bench/fit_claims.py
sets that cut at the ``DEFAULT_QUANTILE`` quantile of the claim scores of annotated claims. This script refits
the claim model on all of cmv-dev, sets the cut at several quantiles (lower = more replies count as argued), and
prints for each: attack-edge and post-pair F1 on cmv-dev (in-sample: the claim model is fitted on the same
threads) and the false-rebuttal rate on the hand-labelled non-debate threads (eval/nondebate). The last row
drops the default altogether; "no cut" applies it to every reply that passes its other gates. A second table does
the same for the quote-and-counter default (``extract_offline.quote_counter``, its cut at ``QUOTE_QUANTILE``), the
argued-reply cut kept as shipped.

Usage: python bench/stance_tradeoff.py [CMV_DIR] [--nondebate DIR]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import fit_claims
from cmv import annotated, argument_parser, offline_briefs

from pipeline.evaluate import evaluate, evaluate_stance, load_stance_labels

NONDEBATE_DIR = Path(__file__).resolve().parents[1] / "eval" / "nondebate"
QUANTILES = (0.9, 0.75, 0.5, 0.25, 0.0)


def attacking_replies(threads_dir: Path, gold: dict[str, dict[str, Any]]) -> tuple[int, int]:
    """(replies with a gold attack on their parent, replies) over the annotated threads; the thread title
    counts as part of the opening post, as the eval has it."""
    attacking = replies = 0
    for thread_id, thread_gold in gold.items():
        thread = json.loads((threads_dir / f"{thread_id}.json").read_text(encoding="utf-8"))
        units = {unit["id"]: unit["post_id"] for unit in thread_gold["adus"]}
        attacks = {(units[r["source"]], units[r["target"]]) for r in thread_gold["relations"] if r["is_attack"]}
        opening = thread["posts"][0]["id"]
        for post in thread["posts"]:
            if post.get("parent_id"):
                replies += 1
                targets = {post["parent_id"]} | ({"title"} if post["parent_id"] == opening else set())
                attacking += any((post["id"], target) in attacks for target in targets)
    return attacking, replies


def main() -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--nondebate", type=Path, default=NONDEBATE_DIR, help="threads/ and labels.jsonl")
    args = parser.parse_args()
    data = annotated(args.cmv_dir)
    if data is None:
        return 2
    threads_dir, gold = data
    labels = load_stance_labels(args.nondebate / "labels.jsonl")
    rows = fit_claims.labelled_rows(threads_dir, gold)
    fitted = fit_claims.fit_model(threads_dir, gold, sorted(gold), rows)
    settings: list[tuple[str, float | None]] = [(f"quantile {q:.2f}", q) for q in QUANTILES]
    settings += [("no cut", float("-inf")), ("no default", None)]
    for default, keys, shipped in (
        ("argued-reply cut", ("default_parent_score", "default_reply_score"), fit_claims.DEFAULT_QUANTILE),
        ("quote-counter cut", ("quote_reply_score",), fit_claims.QUOTE_QUANTILE),
    ):
        print(
            f"{default:<18} {'score':>7}  {'attack-edge P':>13} {'R':>6} {'F1':>6}  {'post-pair F1':>12}  "
            f"{'non-debate false rebuttals':>26}"
        )
        for name, quantile in settings:
            model = dict(fitted)
            if quantile is None:
                cut = None
            elif quantile == float("-inf"):
                cut = -1e9
            else:
                cut = fit_claims.score_quantile(rows, fitted["claim_weights"], quantile)
            model.update(dict.fromkeys(keys, cut))
            with fit_claims.offline_model(model):
                with offline_briefs([threads_dir], "tb-tradeoff-") as out:
                    scores = evaluate(gold, out).systems["threadbrief"]
                with offline_briefs([args.nondebate / "threads"], "tb-tradeoff-") as out:
                    stance = evaluate_stance(labels, out)
            edges, pairs = scores.attack_edges, scores.post_pairs
            shown = "—" if cut is None else ("-inf" if cut < -1e8 else f"{cut:.3f}")
            false_rate = f"{stance.rebuttals.fp}/{stance.non_rebutting} = {stance.false_rebuttal_rate:.3f}"
            print(
                f"{name:<18} {shown:>7}  {edges.precision:>13.3f} {edges.recall:>6.3f} {edges.f1:>6.3f}  "
                f"{pairs.f1:>12.3f}  {false_rate:>26}"
            )
        print(f"(the other cut as shipped; this one ships at quantile {shipped})")
    print("(cmv-dev figures in-sample: the claim model is fitted on the same 64 threads)")
    attacking, replies = attacking_replies(threads_dir, gold)
    print(f"cmv-dev gold: {attacking} of {replies} replies attack their parent ({attacking / replies:.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
