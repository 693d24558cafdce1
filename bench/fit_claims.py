"""Fit the offline claim model on annotated threads, and measure it on threads it was not fitted on.

The offline extractor decides claim against premise with a logistic model over named 0/1 language
features (``extract_offline.claim_features``, weights in ``CLAIM_WEIGHTS``). This script:
- labels every candidate segment of the annotated threads (../shared/eval/cmv-dev by default): 1 when it
  overlaps a gold ``claim``/``main_claim`` unit of its post by half of each (the eval's rule), else 0;
  questions and the thread title are left out, since no weight decides them;
- fits the weights by L2-regularised logistic regression (Newton's method; a few dozen features) and
  picks the claim threshold that maximises segment-level F1 on the same rows;
- k-fold cross-validation by thread: fits on the other folds, runs the whole offline pipeline on the
  held-out threads with those weights, and scores the briefs with ``threadbrief eval``, pooled over folds;
- prints that beside the shipped weights' scores on all threads (in-sample: they were set on these threads);
- the cross-validated claim F1 again for every combination of --sweep-l2 and --sweep-folds, and its range;
- the weights and threshold fitted on all threads beside the shipped ``CLAIM_WEIGHTS`` and ``CLAIM_THRESHOLD``
  (the shipped ones are not this fit, though they were set on the same threads; the table shows how far apart).
Only the claim weights and threshold are refitted per fold; every other rule of the offline extractor was
tuned on all of these threads, so even the cross-validated figures are not held-out figures for the rules.
Usage: python bench/fit_claims.py [CMV_DIR] [--folds K] [--l2 L] [--sweep-l2 0.1,1,10] [--sweep-folds 4,8]
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cmv import argument_parser, data_paths, logistic_fit, offline_briefs

from pipeline import extract_offline
from pipeline.chunk import chunk_thread
from pipeline.evaluate import GOLD_CLAIM_LABELS, SystemScores, evaluate, load_gold, locate_units, units_match
from pipeline.extract_offline import CLAIM_WEIGHTS, claim_features, segments
from pipeline.load import TITLE_POST_ID, load_inputs
from pipeline.normalize import normalize_thread
from pipeline.tokenizer import get_tokenizer

NAMES = list(CLAIM_WEIGHTS)


@dataclass
class Row:
    thread: str
    features: list[str]
    label: int


def labelled_rows(threads_dir: Path, gold: dict[str, dict[str, Any]]) -> list[Row]:
    tokenizer = get_tokenizer(None)
    rows: list[Row] = []
    threads = load_inputs([threads_dir]).threads
    for thread in threads:
        if thread.id not in gold:
            continue
        thread = normalize_thread(thread)
        # one chunk per thread: every post is read with its own segments, as the extractor reads it
        (chunk,) = chunk_thread(thread, tokenizer, 10**9)
        posts = [{"id": cp.post.id, "text": cp.text} for cp in chunk.posts]
        units = locate_units(gold[thread.id], {"posts": posts})
        adus = gold[thread.id]["adus"]
        claims = [u for a in adus if a["label"] in GOLD_CLAIM_LABELS and (u := units[a["id"]]) is not None]
        for cp in chunk.posts:
            if cp.post.id == TITLE_POST_ID:
                continue
            found = segments(cp)
            for segment in found:
                if not segment.candidate or segment.kind == "question":
                    continue
                start = cp.text.find(segment.text)
                unit = (cp.post.id, (start, start + len(segment.text)))
                label = int(any(units_match(unit, claim) for claim in claims))
                rows.append(Row(thread.id, claim_features(segment, len(found)), label))
    return rows


def fit(rows: list[Row], l2: float) -> dict[str, float]:
    """L2-regularised logistic regression by Newton's method; the bias is not penalised. A feature no
    training row shows keeps its shipped weight (there is nothing to fit it on)."""
    seen = [name for name in NAMES if any(name in row.features for row in rows)]
    weights = logistic_fit(((row.features, row.label) for row in rows), seen, l2, iterations=25)
    fitted = dict(CLAIM_WEIGHTS)
    fitted.update(weights)
    return fitted


def best_threshold(rows: list[Row], weights: dict[str, float]) -> float:
    """The score cut that maximises segment-level claim F1 on these rows."""
    scored = sorted(((sum(weights[f] for f in row.features), row.label) for row in rows), reverse=True)
    positives = sum(label for _, label in scored)
    best, cut, tp = 0.0, 0.0, 0
    for k, (score, label) in enumerate(scored, 1):
        tp += label
        f1 = 2 * tp / (k + positives)
        if f1 > best:
            best, cut = f1, score
    return cut


@contextmanager
def claim_model(weights: dict[str, float], threshold: float) -> Iterator[None]:
    saved, saved_threshold = dict(CLAIM_WEIGHTS), extract_offline.CLAIM_THRESHOLD
    CLAIM_WEIGHTS.update(weights)
    extract_offline.CLAIM_THRESHOLD = threshold
    try:
        yield
    finally:
        CLAIM_WEIGHTS.update(saved)
        extract_offline.CLAIM_THRESHOLD = saved_threshold


def scores_on(threads_dir: Path, gold: dict[str, dict[str, Any]], thread_ids: list[str]) -> SystemScores:
    with offline_briefs([threads_dir / f"{thread_id}.json" for thread_id in thread_ids], "tb-fit-") as out:
        return evaluate({t: gold[t] for t in thread_ids}, out).systems["threadbrief"]


def pooled(parts: list[SystemScores]) -> SystemScores:
    total = SystemScores()
    for part in parts:
        for name in ("claims", "attack_edges", "post_pairs"):
            score = getattr(part, name)
            getattr(total, name).add(score.tp, score.fp, score.fn)
    return total


def line(label: str, s: SystemScores) -> str:
    c, e, p = s.claims, s.attack_edges, s.post_pairs
    return (
        f"{label:<56} claim P {c.precision:.3f} R {c.recall:.3f} F1 {c.f1:.3f}   attack-edge F1 {e.f1:.3f}   "
        f"post-pair F1 {p.f1:.3f}"
    )


def cross_validated(
    threads_dir: Path, gold: dict[str, dict[str, Any]], rows: list[Row], folds: int, l2: float
) -> SystemScores:
    """Fit on all folds but one, run the whole pipeline on the held-out one; counts pooled over folds."""
    ids = sorted(gold)
    parts = []
    for fold in range(folds):
        held_out = ids[fold::folds]  # a fixed split: every k-th thread by id
        train = [r for r in rows if r.thread not in set(held_out)]
        weights = fit(train, l2)
        with claim_model(weights, best_threshold(train, weights)):
            parts.append(scores_on(threads_dir, gold, held_out))
    return pooled(parts)


def numbers(text: str, kind: type[float] | type[int]) -> list[Any]:
    return [kind(value) for value in text.split(",") if value.strip()]


def main() -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--l2", type=float, default=1.0)
    parser.add_argument("--sweep-l2", default="0.1,1,10", help="comma-separated L2 strengths to cross-validate")
    parser.add_argument("--sweep-folds", default="4,8", help="comma-separated fold counts to cross-validate")
    args = parser.parse_args()
    paths = data_paths(args.cmv_dir)
    if paths is None:
        return 2
    threads_dir, gold_path = paths
    gold = load_gold(gold_path)
    ids = sorted(gold)
    rows = labelled_rows(threads_dir, gold)
    print(f"{len(rows)} candidate segments of {len(ids)} threads, {sum(r.label for r in rows)} of them claims")

    shipped = scores_on(threads_dir, gold, ids)
    print(line("shipped weights, all threads (in-sample)", shipped))
    validated = cross_validated(threads_dir, gold, rows, args.folds, args.l2)
    print(line(f"refitted per fold (l2 {args.l2:g}), {args.folds}-fold cross-validated", validated))
    weights = fit(rows, args.l2)
    threshold = best_threshold(rows, weights)
    with claim_model(weights, threshold):
        print(line(f"refitted on all threads (l2 {args.l2:g}, in-sample)", scores_on(threads_dir, gold, ids)))

    sweep = []
    print("\ncross-validated claim F1 (claim weights and threshold refitted per fold, folds by thread id):")
    for folds in numbers(args.sweep_folds, int):
        for l2 in numbers(args.sweep_l2, float):
            claims = cross_validated(threads_dir, gold, rows, folds, l2).claims
            sweep.append(claims.f1)
            print(f"    {folds} folds, l2 {l2:<5g} claim F1 {claims.f1:.3f}")
    print(f"    range: {min(sweep):.3f}-{max(sweep):.3f}")

    print(f"\nclaim model fitted on all threads (l2 {args.l2:g}) beside the shipped one (CLAIM_WEIGHTS):")
    print(f"    {'feature':<22} {'fitted':>7} {'shipped':>8} {'shipped - fitted':>17}")
    unseen = {name for name in NAMES if not any(name in row.features for row in rows)}
    for name in NAMES:
        gap = round(CLAIM_WEIGHTS[name] - weights[name], 2) + 0.0  # + 0.0: no "-0.00"
        note = "   not fitted: no candidate segment has it" if name in unseen else ""
        print(f"    {name:<22} {weights[name]:>7.2f} {CLAIM_WEIGHTS[name]:>8.2f} {gap:>17.2f}{note}")
    shipped_threshold = extract_offline.CLAIM_THRESHOLD
    gap = round(shipped_threshold - threshold, 2) + 0.0
    print(f"    {'threshold':<22} {threshold:>7.2f} {shipped_threshold:>8.2f} {gap:>17.2f}")
    gaps = [abs(CLAIM_WEIGHTS[name] - weights[name]) for name in NAMES if name not in unseen]
    print(
        f"    {sum(g >= 0.05 for g in gaps)} of the {len(gaps)} fitted weights differ by 0.05 or more "
        f"(largest {max(gaps):.2f}): the shipped weights are not this fit"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
