"""Fit the offline extractor's tuned parts on annotated threads, and write them where the extractor reads them.

The offline extractor's rules are general word classes (see pipeline/extract_offline.py); what is fitted to
data is written to ``pipeline/data/offline_model.json`` by this script and by nothing else:
- ``claim_weights``: a logistic model over the named 0/1 features ``extract_offline.claim_features`` computes,
  fitted by L2-regularised logistic regression (Newton's method; the bias is not penalised) on every candidate
  segment of the training threads, labelled 1 when it overlaps a gold ``claim``/``main_claim`` unit of its
  post by half of each (the eval's rule), else 0 (questions are left out: no weight decides them);
- ``claim_threshold``: the score cut that maximises segment-level claim F1 on those rows, then moved by the
  offset of ``THRESHOLD_OFFSETS`` that gives the best claim F1 when the whole offline pipeline runs on the
  training threads and ``threadbrief eval`` scores it (segments are not what the eval matches: a post's claims
  are also its most claim-like segment when none passes, and matched by span overlap);
- ``default_parent_score`` and ``default_reply_score``: how claim-like the answered thesis and the reply's
  strongest statement must be for the argumentative-exchange default (``extract_offline.argued_reply``): the
  ``DEFAULT_QUANTILE`` quantile of the claim scores of the training segments labelled claims, i.e. "at least as
  claim-like as three annotated claims in four" (the quantile was chosen with the non-debate dev set in view,
  see DEFAULT_QUANTILE; the score it gives is fitted on the training threads only);
- ``quote_reply_score``: how claim-like the answer under a quote must be for the quote-and-counter default
  (``extract_offline.quote_counter``): the ``QUOTE_QUANTILE`` quantile of the same scores, chosen the same way;
- ``sources_per_reply`` (1, 2 or 3), ``evidence_edges`` (no/yes) and ``opening_target`` (no/yes): how a
  rebutting reply's edges are drawn, picked by running the whole offline pipeline on the training threads with
  each choice and keeping the one with the best attack-edge F1 under ``threadbrief eval``'s rules (a tie keeps
  the earlier, simpler choice).
With --write, the fit on all threads of CMV_DIR (../shared/eval/cmv-dev by default) is written to the model
file; without it, the script prints the fit beside the shipped file and says whether they are the same bytes.
The fit is deterministic: the same threads give the same file. ``make crossval`` (bench/crossval.py) scores
this same fitting procedure on threads it was not fitted on.
Usage: python bench/fit_claims.py [CMV_DIR] [--l2 1.0] [--write]
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cmv import annotated, argument_parser, logistic_fit, offline_briefs

from pipeline import extract_offline
from pipeline.chunk import chunk_thread
from pipeline.evaluate import GOLD_CLAIM_LABELS, SystemScores, evaluate, locate_units, units_match
from pipeline.extract_offline import CLAIM_FEATURES, claim_features, segments
from pipeline.load import load_inputs
from pipeline.normalize import normalize_thread
from pipeline.tokenizer import get_tokenizer

MODEL_PATH = Path(__file__).resolve().parents[1] / "pipeline" / extract_offline.MODEL_FILE
L2 = 1.0  # fixed before fitting, not searched
# The default holds between turns at least as claim-like as this share of the annotated claims fall below.
# Chosen by looking at eval/nondebate (a dev set), with `make stance-tradeoff` (bench/stance_tradeoff.py), which
# prints for several quantiles the cmv-dev attack-edge F1 (in-sample) and the non-debate false-rebuttal rate.
# When it was chosen (on the set's first 25 threads), the median (0.5) marked 8.6% of the non-rebutting replies
# as rebuttals, the upper quartile 3.2%, while cmv-dev's attack-edge F1 barely moved between them (0.144 vs
# 0.142). Maximising cmv-dev's attack-edge F1 alone would open the default to every reply (0.154, and 13.6%
# false rebuttals on the non-debate set), since three ChangeMyView replies in four attack their parent.
DEFAULT_QUANTILE = 0.75
# The quote-and-counter default (``extract_offline.quote_counter``): an answer under a quoted statement counters
# it when its strongest claim is at least as claim-like as half the annotated claims. Quoting is itself the sign
# of a reply taking up a statement point by point, so the bar is lower than the reply default's. Chosen with
# eval/nondebate in view, like DEFAULT_QUANTILE (`make stance-tradeoff` prints the quantiles beside each other).
QUOTE_QUANTILE = 0.5
# A small grid around the segment-level cut, set before it was tried (one grid was tried: `make crossval` gave
# pooled claim F1 0.549 with the segment-level cut alone, 0.560 with this choice through the pipeline).
THRESHOLD_OFFSETS = (-0.3, -0.15, 0.0, 0.15, 0.3)
# (sources per reply, evidence edges, opening target), simplest first: a tie keeps the earlier choice.
EDGE_CHOICES = [
    (sources, evidence, opening) for opening in (False, True) for evidence in (False, True) for sources in (1, 2, 3)
]


@dataclass
class Row:
    thread: str
    features: list[str]
    label: int


def labelled_rows(threads_dir: Path, gold: dict[str, dict[str, Any]]) -> list[Row]:
    """One row per candidate, non-question segment of every annotated thread (the title included)."""
    tokenizer = get_tokenizer(None)
    rows: list[Row] = []
    for thread in load_inputs([threads_dir]).threads:
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
            found = segments(cp)
            for segment in found:
                if not segment.candidate or segment.kind == "question":
                    continue
                start = cp.text.find(segment.text)
                unit = (cp.post.id, (start, start + len(segment.text)))
                label = int(any(units_match(unit, claim) for claim in claims))
                rows.append(Row(thread.id, claim_features(segment, len(found)), label))
    return rows


def fit_weights(rows: list[Row], l2: float) -> dict[str, float]:
    """Logistic regression on the rows; a feature no row shows gets weight 0 (there is nothing to fit it on)."""
    seen = [name for name in CLAIM_FEATURES if any(name in row.features for row in rows)]
    weights = logistic_fit(((row.features, row.label) for row in rows), seen, l2, iterations=25)
    return {name: round(weights.get(name, 0.0), 4) + 0.0 for name in CLAIM_FEATURES}  # + 0.0: no "-0.0"


def best_threshold(rows: list[Row], weights: dict[str, float]) -> float:
    """The score cut that maximises segment-level claim F1 on these rows (midway to the next score down)."""
    scored = sorted(((sum(weights[f] for f in row.features), row.label) for row in rows), reverse=True)
    positives = sum(label for _, label in scored)
    best, cut, tp = 0.0, 0.0, 0
    for k, (score, label) in enumerate(scored, 1):
        tp += label
        f1 = 2 * tp / (k + positives)
        if f1 > best:
            following = scored[k][0] if k < len(scored) else score - 1.0
            best, cut = f1, (score + following) / 2
    return round(cut, 4) + 0.0


def default_score(rows: list[Row], weights: dict[str, float]) -> float:
    """The ``DEFAULT_QUANTILE`` quantile of the claim scores of the rows labelled claims."""
    return score_quantile(rows, weights, DEFAULT_QUANTILE)


def score_quantile(rows: list[Row], weights: dict[str, float], quantile: float) -> float:
    """The ``quantile`` quantile of the claim scores of the rows labelled claims (0.0 when there are none)."""
    scores = sorted(sum(weights[f] for f in row.features) for row in rows if row.label)
    if not scores:
        return 0.0
    return round(scores[min(len(scores) - 1, int(quantile * len(scores)))], 4) + 0.0


@contextmanager
def offline_model(model: dict[str, Any]) -> Iterator[None]:
    """The offline extractor runs with ``model`` instead of the shipped file while the block lasts."""
    names = (
        "CLAIM_THRESHOLD",
        "SOURCES_PER_REPLY",
        "EVIDENCE_EDGES",
        "OPENING_TARGET",
        "DEFAULT_PARENT_SCORE",
        "DEFAULT_REPLY_SCORE",
        "QUOTE_REPLY_SCORE",
    )
    saved = dict(extract_offline.CLAIM_WEIGHTS), {name: getattr(extract_offline, name) for name in names}
    extract_offline.CLAIM_WEIGHTS.update(model["claim_weights"])
    extract_offline.CLAIM_THRESHOLD = model["claim_threshold"]
    extract_offline.SOURCES_PER_REPLY = model["sources_per_reply"]
    extract_offline.EVIDENCE_EDGES = model["evidence_edges"]
    extract_offline.OPENING_TARGET = model["opening_target"]
    extract_offline.DEFAULT_PARENT_SCORE = model["default_parent_score"]
    extract_offline.DEFAULT_REPLY_SCORE = model["default_reply_score"]
    extract_offline.QUOTE_REPLY_SCORE = model["quote_reply_score"]
    try:
        yield
    finally:
        extract_offline.CLAIM_WEIGHTS.update(saved[0])
        for name, value in saved[1].items():
            setattr(extract_offline, name, value)


def scores_on(threads_dir: Path, gold: dict[str, dict[str, Any]], thread_ids: list[str]) -> SystemScores:
    """The offline pipeline (as the module is set now) on these threads, scored by ``threadbrief eval``."""
    with offline_briefs([threads_dir / f"{thread_id}.json" for thread_id in thread_ids], "tb-fit-") as out:
        return evaluate({t: gold[t] for t in thread_ids}, out).systems["threadbrief"]


def fit_model(
    threads_dir: Path, gold: dict[str, dict[str, Any]], thread_ids: list[str], rows: list[Row], l2: float = L2
) -> dict[str, Any]:
    """Every tuned part, fitted on ``thread_ids`` only (their rows and their pipeline runs)."""
    chosen = set(thread_ids)
    train = [row for row in rows if row.thread in chosen]
    weights = fit_weights(train, l2)
    default = default_score(train, weights)
    model: dict[str, Any] = {
        "claim_weights": weights,
        "claim_threshold": best_threshold(train, weights),
        "default_parent_score": default,
        "default_reply_score": default,
        "quote_reply_score": score_quantile(train, weights, QUOTE_QUANTILE),
        "sources_per_reply": EDGE_CHOICES[0][0],
        "evidence_edges": EDGE_CHOICES[0][1],
        "opening_target": EDGE_CHOICES[0][2],
    }
    model["claim_threshold"] = pipeline_threshold(threads_dir, gold, thread_ids, model)
    best = -1.0
    for sources, evidence, opening in EDGE_CHOICES:
        candidate = {**model, "sources_per_reply": sources, "evidence_edges": evidence, "opening_target": opening}
        with offline_model(candidate):
            f1 = scores_on(threads_dir, gold, sorted(thread_ids)).attack_edges.f1
        if f1 > best:
            best, model = f1, candidate
    return model


def pipeline_threshold(
    threads_dir: Path, gold: dict[str, dict[str, Any]], thread_ids: list[str], model: dict[str, Any]
) -> float:
    """``model``'s claim threshold moved by the offset of ``THRESHOLD_OFFSETS`` whose pipeline run on
    ``thread_ids`` scores the best claim F1 (a tie keeps the smaller move: the offsets are tried from the middle
    out). The edge choices do not change which segments are claims, so the first one serves."""
    cut = model["claim_threshold"]
    best_f1, best_cut = -1.0, cut
    for offset in sorted(THRESHOLD_OFFSETS, key=abs):
        candidate = round(cut + offset, 4) + 0.0
        with offline_model({**model, "claim_threshold": candidate}):
            f1 = scores_on(threads_dir, gold, sorted(thread_ids)).claims.f1
        if f1 > best_f1:
            best_f1, best_cut = f1, candidate
    return best_cut


def model_text(model: dict[str, Any], about: str) -> str:
    """The model file's bytes: fixed key order, weights in ``CLAIM_FEATURES`` order, one trailing newline."""
    document = {
        "about": about,
        "claim_threshold": model["claim_threshold"],
        "default_parent_score": model["default_parent_score"],
        "default_reply_score": model["default_reply_score"],
        "quote_reply_score": model["quote_reply_score"],
        "sources_per_reply": model["sources_per_reply"],
        "evidence_edges": model["evidence_edges"],
        "opening_target": model["opening_target"],
        "claim_weights": {name: model["claim_weights"][name] for name in CLAIM_FEATURES},
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def about_text(threads: int, rows: list[Row], l2: float) -> str:
    return (
        f"Written by bench/fit_claims.py --write (do not edit by hand): fitted on {threads} annotated "
        f"ChangeMyView threads (cmv-dev), {len(rows)} candidate segments, L2 {l2:g}."
    )


def main() -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--l2", type=float, default=L2)
    parser.add_argument("--write", action="store_true", help=f"write the fit to {MODEL_PATH}")
    args = parser.parse_args()
    data = annotated(args.cmv_dir)
    if data is None:
        return 2
    threads_dir, gold = data
    ids = sorted(gold)
    rows = labelled_rows(threads_dir, gold)
    print(f"{len(rows)} candidate segments of {len(ids)} threads, {sum(r.label for r in rows)} of them claims")
    model = fit_model(threads_dir, gold, ids, rows, args.l2)
    text = model_text(model, about_text(len(ids), rows, args.l2))
    shipped = MODEL_PATH.read_text(encoding="utf-8") if MODEL_PATH.is_file() else ""
    if args.write:
        MODEL_PATH.write_text(text, encoding="utf-8")
        print(f"wrote {MODEL_PATH}")
    else:
        same = "the same bytes as" if text == shipped else "DIFFERENT from"
        print(f"the fit on all threads is {same} {MODEL_PATH} (--write to replace it)")
    shipped_model = json.loads(shipped) if shipped else None
    print(f"    {'feature':<22} {'fitted':>8} {'shipped':>8}")
    for name in CLAIM_FEATURES:
        old = f"{shipped_model['claim_weights'].get(name, float('nan')):>8.4f}" if shipped_model else ""
        print(f"    {name:<22} {model['claim_weights'][name]:>8.4f} {old}")
    for key in (
        "claim_threshold",
        "default_parent_score",
        "default_reply_score",
        "quote_reply_score",
        "sources_per_reply",
        "evidence_edges",
        "opening_target",
    ):
        old_value = shipped_model.get(key, "-") if shipped_model else ""
        print(f"    {key:<22} {model[key]!s:>8} {old_value!s:>8}")
    with offline_model(model):
        print(f"in-sample on all {len(ids)} threads: {line(scores_on(threads_dir, gold, ids))}")
    return 0


def line(s: SystemScores) -> str:
    c, e, p = s.claims, s.attack_edges, s.post_pairs
    return (
        f"claim P {c.precision:.3f} R {c.recall:.3f} F1 {c.f1:.3f}   attack-edge P {e.precision:.3f} "
        f"R {e.recall:.3f} F1 {e.f1:.3f}   post-pair F1 {p.f1:.3f}"
    )


if __name__ == "__main__":
    sys.exit(main())
