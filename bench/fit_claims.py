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
- prints that beside the shipped weights' scores on all threads (in-sample, as they were fitted there),
  and the weights fitted on all threads, rounded, to paste into ``CLAIM_WEIGHTS``.
Usage: python bench/fit_claims.py [CMV_DIR] [--folds K] [--l2 L]
"""

from __future__ import annotations

import math
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cmv import argument_parser, data_paths

from pipeline import extract_offline
from pipeline.chunk import chunk_thread
from pipeline.evaluate import GOLD_CLAIM_LABELS, SystemScores, evaluate, load_gold, locate_units, units_match
from pipeline.extract_offline import CLAIM_WEIGHTS, OfflineExtractor, claim_features, segments
from pipeline.load import TITLE_POST_ID, load_inputs
from pipeline.normalize import normalize_thread
from pipeline.runner import RunConfig, run
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


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (the system is small and positive definite)."""
    n = len(vector)
    a = [row[:] + [vector[i]] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        for r in range(col + 1, n):
            factor = a[r][col] / a[col][col]
            for c in range(col, n + 1):
                a[r][c] -= factor * a[col][c]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (a[r][n] - sum(a[r][c] * x[c] for c in range(r + 1, n))) / a[r][r]
    return x


def fit(rows: list[Row], l2: float) -> dict[str, float]:
    """L2-regularised logistic regression by Newton's method; the bias is not penalised. A feature no
    training row shows keeps its shipped weight (there is nothing to fit it on)."""
    seen = [name for name in NAMES if any(name in row.features for row in rows)]
    index = {name: i for i, name in enumerate(seen)}
    encoded = [([index[f] for f in row.features if f in index], row.label) for row in rows]
    weights = [0.0] * len(seen)
    for _ in range(25):
        gradient = [0.0] * len(seen)
        hessian = [[0.0] * len(seen) for _ in seen]
        for active, label in encoded:
            z = sum(weights[i] for i in active)
            p = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
            for i in active:
                gradient[i] += p - label
                for j in active:
                    hessian[i][j] += p * (1 - p)
        for name, i in index.items():
            if name != "bias":
                gradient[i] += l2 * weights[i]
                hessian[i][i] += l2
        step = _solve(hessian, gradient)
        weights = [w - s for w, s in zip(weights, step, strict=True)]
        if max(abs(s) for s in step) < 1e-6:
            break
    fitted = dict(CLAIM_WEIGHTS)
    fitted.update({name: weights[i] for name, i in index.items()})
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
    with tempfile.TemporaryDirectory(prefix="tb-fit-") as out:
        inputs = [threads_dir / f"{thread_id}.json" for thread_id in thread_ids]
        run(RunConfig(inputs=inputs, out=Path(out), use_cache=False), OfflineExtractor())
        return evaluate({t: gold[t] for t in thread_ids}, Path(out)).systems["threadbrief"]


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
        f"{label:<46} claim P {c.precision:.3f} R {c.recall:.3f} F1 {c.f1:.3f}   attack-edge F1 {e.f1:.3f}   "
        f"post-pair F1 {p.f1:.3f}"
    )


def main() -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--l2", type=float, default=1.0)
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

    parts = []
    for fold in range(args.folds):
        held_out = ids[fold :: args.folds]  # a fixed split: every k-th thread by id
        train = [r for r in rows if r.thread not in set(held_out)]
        weights = fit(train, args.l2)
        with claim_model(weights, best_threshold(train, weights)):
            parts.append(scores_on(threads_dir, gold, held_out))
    print(line(f"refitted per fold, {args.folds}-fold cross-validated", pooled(parts)))

    weights = fit(rows, args.l2)
    threshold = best_threshold(rows, weights)
    with claim_model(weights, threshold):
        print(line("refitted on all threads (in-sample)", scores_on(threads_dir, gold, ids)))
    print(f"\nweights fitted on all threads (l2 {args.l2}), threshold {threshold:.2f}:")
    for name in NAMES:
        print(f"    {name!r}: {weights[name]:.2f},   # shipped {CLAIM_WEIGHTS[name]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
