"""Evaluate: briefs against human gold annotations, beside two trivial baselines on the same threads.

Two kinds of gold, told apart by ``gold_format`` from a file's first line:

Argument units (``gold.jsonl``, one thread per line, ``schemas/gold.schema.json``), scored by ``evaluate``
against briefs (``OUT/<thread_id>/brief.json``). Output: a ``Report`` with, for threadbrief and each
baseline, pooled over the threads both sides have:
- claim precision/recall/F1: a predicted claim (kind ``claim``: premises and questions are not)
  matches a gold ``claim``/``main_claim`` unit of the same post when their spans overlap by at least
  half of each (one-to-one);
- attack-edge P/R/F1: a predicted ``rebuts`` relation matches a gold attack relation when its source
  and target claims each match the gold source and target units by that overlap rule (one-to-one);
- post-pair attack P/R/F1: the set of (source post, target post) of rebuttals against that of gold
  attacks, with the thread title counted as part of the opening post;
- grounding: claims whose quote is their post's text at their span, over those claims plus the
  proposed claims rejected by the ground stage.
Baselines: "every sentence is a claim", and that plus "every reply attacks its parent's first
sentence" (an opening post's first sentence is the thread title, when there is one). Gold units
are located in the brief's post text (exactly, else with quote marks and whitespace folded).

Stance labels (one reply per line, ``schemas/stance-gold.schema.json``: does the reply rebut its
parent, and what kind of reply it is), scored by ``evaluate_stance``. A reply is marked as a rebuttal
when the brief has a ``rebuts`` relation from a claim of that reply to a claim of its parent (the title
counted as part of the opening post, as for post pairs). Output: a ``StanceReport``: replies labelled
rebutting / not, the false-rebuttal rate (marked among the non-rebutting replies), rebuttal precision
(rebutting among the marked) and recall (marked among the rebutting), per kind of reply the false
rebuttals, the labels whose post or parent the brief lacks, and the ``rebuts`` relations that join no
labelled reply to its parent.

Failure modes: ``InputError`` for an unreadable or invalid gold line (or a file that is neither kind of
gold, or that labels one reply twice), or an unreadable brief.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .brief_types import Brief
from .errors import InputError
from .export import read_brief
from .models import TITLE_POST_ID
from .resources import schema_errors
from .text import align, sentence_spans

ATTACK_LABELS = frozenset(
    {
        "rebuttal",
        "undercutter",
        "rebuttal_attack",
        "undercutter_attack",
        "partial_attack",
        "attack",
        "disagreement",
        "partial_disagreement",
    }
)
GOLD_CLAIM_LABELS = frozenset({"claim", "main_claim"})
PREDICTED_CLAIM_KINDS = frozenset({"claim"})

Unit = tuple[str, tuple[int, int]]  # (post id, span)


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, tp: int, fp: int, fn: int) -> None:
        self.tp += tp
        self.fp += fp
        self.fn += fn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        return 2 * self.tp / (2 * self.tp + self.fp + self.fn) if self.tp else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


@dataclass
class SystemScores:
    claims: Score = field(default_factory=Score)
    attack_edges: Score = field(default_factory=Score)
    post_pairs: Score = field(default_factory=Score)
    grounded: int = 0
    grounding_total: int = 0

    @property
    def grounding(self) -> float:
        return self.grounded / self.grounding_total if self.grounding_total else 1.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "claims": self.claims.as_dict(),
            "attack_edges": self.attack_edges.as_dict(),
            "post_pairs": self.post_pairs.as_dict(),
            "grounding": round(self.grounding, 4),
        }


@dataclass
class Report:
    threads: int
    missing: list[str]
    systems: dict[str, SystemScores]

    def as_dict(self) -> dict[str, Any]:
        return {
            "threads": self.threads,
            "missing_briefs": self.missing,
            "systems": {name: s.as_dict() for name, s in self.systems.items()},
        }


@dataclass
class Prediction:
    claims: list[Unit]
    edges: list[tuple[Unit, Unit]]


def _json_lines(path: Path, what: str) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) for each non-blank line of a JSON Lines file."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(str(path), f"cannot read {what}: {exc}") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(str(path), f"invalid JSON ({exc.msg})", number) from exc


def load_gold(path: Path) -> dict[str, dict[str, Any]]:
    gold: dict[str, dict[str, Any]] = {}
    for number, row in _json_lines(path, "gold annotations"):
        problems = schema_errors("gold", row, limit=3)
        if problems:
            raise InputError(str(path), "not a gold line (schemas/gold.schema.json): " + "; ".join(problems), number)
        gold[row["thread_id"]] = row
    return gold


def units_match(a: Unit, b: Unit) -> bool:
    """Same post, and the spans overlap by at least half of each (the rule every score here uses)."""
    if a[0] != b[0]:
        return False
    overlap = min(a[1][1], b[1][1]) - max(a[1][0], b[1][0])
    return overlap > 0 and overlap * 2 >= a[1][1] - a[1][0] and overlap * 2 >= b[1][1] - b[1][0]


def _match_units(predicted: list[Unit], gold: list[Unit | None]) -> tuple[int, int, int]:
    used: set[int] = set()
    matched = 0
    for unit in gold:
        if unit is None:
            continue
        for i, guess in enumerate(predicted):
            if i not in used and units_match(guess, unit):
                used.add(i)
                matched += 1
                break
    return matched, len(predicted) - matched, len(gold) - matched


Edge = tuple[Unit, Unit]


def edges_match(predicted: Edge, gold: Edge) -> bool:
    return units_match(predicted[0], gold[0]) and units_match(predicted[1], gold[1])


def match_edges(
    predicted: list[Edge],
    gold: list[tuple[Unit | None, Unit | None]],
    rule: Callable[[Edge, Edge], bool] = edges_match,
) -> tuple[int, int, int]:
    """(tp, fp, fn), one-to-one; a gold edge with an end not found in the brief is only ever missed."""
    used: set[int] = set()
    matched = 0
    for edge in predicted:
        for j, (gold_source, gold_target) in enumerate(gold):
            if j in used or gold_source is None or gold_target is None:
                continue
            if rule(edge, (gold_source, gold_target)):
                used.add(j)
                matched += 1
                break
    return matched, len(predicted) - matched, len(gold) - matched


def _pairs(edges: Iterable[tuple[str, str]], root: str | None) -> set[tuple[str, str]]:
    def home(post_id: str) -> str:
        return root if post_id == TITLE_POST_ID and root else post_id

    return {(home(s), home(t)) for s, t in edges}


def brief_prediction(brief: Brief) -> Prediction:
    claims = {c["id"]: (c["post_id"], (c["span"][0], c["span"][1])) for c in brief["claims"]}
    kinds = {c["id"]: c["kind"] for c in brief["claims"]}
    return Prediction(
        claims=[unit for cid, unit in claims.items() if kinds[cid] in PREDICTED_CLAIM_KINDS],
        edges=[(claims[r["source"]], claims[r["target"]]) for r in brief["relations"] if r["type"] == "rebuts"],
    )


def baseline_predictions(brief: Brief) -> tuple[Prediction, Prediction]:
    """(every sentence a claim, + every reply attacks its parent's first sentence)."""
    posts = [p for p in brief["posts"] if p["duplicate_of"] is None]
    sentences = {p["id"]: [(p["id"], span) for span in sentence_spans(p["text"])] for p in posts}
    every = [unit for units in sentences.values() for unit in units]
    parents = {p["id"]: p["parent_id"] for p in posts}

    def first_sentence(post_id: str) -> Unit | None:
        # An opening post begins with the thread title, when there is one.
        if parents[post_id] is None and post_id != TITLE_POST_ID and sentences.get(TITLE_POST_ID):
            return sentences[TITLE_POST_ID][0]
        return sentences[post_id][0] if sentences[post_id] else None

    edges = []
    for post in posts:
        target = first_sentence(post["parent_id"]) if post["parent_id"] in sentences else None
        if target is not None and sentences[post["id"]]:
            edges.append((sentences[post["id"]][0], target))
    return Prediction(every, []), Prediction(every, edges)


def _score(
    prediction: Prediction, gold: dict[str, Any], units: dict[str, Unit | None], root: str | None, scores: SystemScores
) -> None:
    gold_claims = [units[a["id"]] for a in gold["adus"] if a["label"] in GOLD_CLAIM_LABELS and a["id"] in units]
    missing_claims = sum(1 for a in gold["adus"] if a["label"] in GOLD_CLAIM_LABELS and units.get(a["id"]) is None)
    tp, fp, fn = _match_units(prediction.claims, [u for u in gold_claims if u is not None])
    scores.claims.add(tp, fp, fn + missing_claims)
    attacks = [r for r in gold["relations"] if r.get("is_attack", r["label"] in ATTACK_LABELS)]
    gold_edges = [(units.get(r["source"]), units.get(r["target"])) for r in attacks]
    scores.attack_edges.add(*match_edges(prediction.edges, gold_edges))
    adu_post = {a["id"]: a["post_id"] for a in gold["adus"]}
    gold_pairs = _pairs(
        (
            (adu_post[r["source"]], adu_post[r["target"]])
            for r in attacks
            if r["source"] in adu_post and r["target"] in adu_post
        ),
        root,
    )
    predicted_pairs = _pairs(((s[0], t[0]) for s, t in prediction.edges), root)
    scores.post_pairs.add(
        len(predicted_pairs & gold_pairs), len(predicted_pairs - gold_pairs), len(gold_pairs - predicted_pairs)
    )


def locate_units(gold: dict[str, Any], brief: Brief) -> dict[str, Unit | None]:
    texts = {p["id"]: p["text"] for p in brief["posts"]}
    units: dict[str, Unit | None] = {}
    for adu in gold["adus"]:
        text = texts.get(adu["post_id"])
        found = align(adu["text"], text) if text and adu["text"].strip() else None
        units[adu["id"]] = (adu["post_id"], (found[0], found[1])) if found and found[2] != "fuzzy" else None
    return units


BASELINE_SENTENCES = "baseline: every sentence a claim"
BASELINE_REPLIES = "baseline: + every reply attacks its parent's first sentence"


def evaluate(gold: dict[str, dict[str, Any]], out: Path) -> Report:
    systems = {"threadbrief": SystemScores(), BASELINE_SENTENCES: SystemScores(), BASELINE_REPLIES: SystemScores()}
    missing: list[str] = []
    evaluated = 0
    for thread_id, gold_thread in sorted(gold.items()):
        path = out / thread_id / "brief.json"
        if not path.is_file():
            missing.append(thread_id)
            continue
        brief = read_brief(path)
        evaluated += 1
        units = locate_units(gold_thread, brief)
        root = next((p["id"] for p in brief["posts"] if p["id"] != TITLE_POST_ID), None)
        sentences, replies = baseline_predictions(brief)
        for name, prediction in (
            ("threadbrief", brief_prediction(brief)),
            (BASELINE_SENTENCES, sentences),
            (BASELINE_REPLIES, replies),
        ):
            _score(prediction, gold_thread, units, root, systems[name])
        texts = {p["id"]: p["text"] for p in brief["posts"]}
        ours = systems["threadbrief"]
        ours.grounded += sum(
            1
            for c in brief["claims"]
            if c["quote"] and texts.get(c["post_id"], "")[c["span"][0] : c["span"][1]] == c["quote"]
        )
        ours.grounding_total += len(brief["claims"]) + sum(1 for r in brief["rejected"] if r["stage"] == "ground")
        for name in (BASELINE_SENTENCES, BASELINE_REPLIES):  # sentences are cut from the text: grounded
            systems[name].grounded += len(sentences.claims)
            systems[name].grounding_total += len(sentences.claims)
    return Report(evaluated, missing, systems)


def report_table(report: Report) -> str:
    header = (
        f"{'system':<60} {'claim P':>7} {'R':>6} {'F1':>6}  {'attack-edge P':>13} {'R':>6} {'F1':>6}  "
        f"{'post-pair P':>11} {'R':>6} {'F1':>6}  {'grounding':>9}"
    )
    lines = [
        f"threadbrief eval: {report.threads} thread(s)"
        + (
            f"; {len(report.missing)} gold thread(s) have no brief: {', '.join(report.missing[:5])}"
            if report.missing
            else ""
        ),
        header,
        "-" * len(header),
    ]
    for name, s in report.systems.items():
        c, e, p = s.claims, s.attack_edges, s.post_pairs
        lines.append(
            f"{name:<60} {c.precision:>7.3f} {c.recall:>6.3f} {c.f1:>6.3f}  {e.precision:>13.3f} {e.recall:>6.3f} "
            f"{e.f1:>6.3f}  {p.precision:>11.3f} {p.recall:>6.3f} {p.f1:>6.3f}  {s.grounding:>9.3f}"
        )
    return "\n".join(lines)


# --- Stance labels: is a reply marked as rebutting its parent? ---------------------------------------

GoldFormat = Literal["units", "stance"]


def gold_format(path: Path) -> GoldFormat:
    """Which kind of gold PATH holds, from its first non-blank line: argument units (a thread with
    ``adus``) or stance labels (a reply with ``rebuts``). The full check is the loader's."""
    for number, row in _json_lines(path, "gold annotations"):
        if isinstance(row, dict) and "adus" in row:
            return "units"
        if isinstance(row, dict) and "rebuts" in row:
            return "stance"
        raise InputError(
            str(path),
            "neither a gold line (schemas/gold.schema.json: a thread with 'adus') nor a stance label "
            "(schemas/stance-gold.schema.json: a reply with 'rebuts')",
            number,
        )
    raise InputError(str(path), "no gold line: the file is empty")


@dataclass(frozen=True)
class StanceLabel:
    thread_id: str
    post_id: str
    parent_id: str
    rebuts: bool
    kind: str


def load_stance_labels(path: Path) -> list[StanceLabel]:
    labels: list[StanceLabel] = []
    seen: set[tuple[str, str]] = set()
    for number, row in _json_lines(path, "stance labels"):
        problems = schema_errors("stance-gold", row, limit=3)
        if problems:
            raise InputError(
                str(path), "not a stance label (schemas/stance-gold.schema.json): " + "; ".join(problems), number
            )
        key = (row["thread_id"], row["post_id"])
        if key in seen:
            raise InputError(str(path), f"post {row['post_id']} of thread {row['thread_id']} is labelled twice", number)
        seen.add(key)
        labels.append(StanceLabel(row["thread_id"], row["post_id"], row["parent_id"], row["rebuts"], row["kind"]))
    return labels


@dataclass
class KindCounts:
    replies: int = 0
    rebutting: int = 0
    marked: int = 0
    false_rebuttals: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "replies": self.replies,
            "rebutting": self.rebutting,
            "marked": self.marked,
            "false_rebuttals": self.false_rebuttals,
        }


@dataclass
class StanceReport:
    threads: int
    missing: list[str]
    # tp: a rebutting reply marked; fp: a non-rebutting reply marked; fn: a rebutting reply not marked.
    rebuttals: Score = field(default_factory=Score)
    replies: int = 0
    rebutting: int = 0
    not_in_brief: list[str] = field(default_factory=list)  # "thread/post" of labels the brief cannot place
    other_rebuttals: int = 0  # rebuts relations that join no labelled reply to its parent
    kinds: dict[str, KindCounts] = field(default_factory=dict)
    # The same counts per thread: one thread's jokes or one help forum's replies can carry a set's rate.
    per_thread: dict[str, KindCounts] = field(default_factory=dict)

    @property
    def non_rebutting(self) -> int:
        return self.replies - self.rebutting

    @property
    def marked(self) -> int:
        return self.rebuttals.tp + self.rebuttals.fp

    @property
    def false_rebuttal_rate(self) -> float:
        return self.rebuttals.fp / self.non_rebutting if self.non_rebutting else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "gold": "stance",
            "threads": self.threads,
            "missing_briefs": self.missing,
            "replies": self.replies,
            "rebutting": self.rebutting,
            "non_rebutting": self.non_rebutting,
            "marked": self.marked,
            "false_rebuttals": self.rebuttals.fp,
            "false_rebuttal_rate": round(self.false_rebuttal_rate, 4),
            "rebuttal_precision": round(self.rebuttals.precision, 4),
            "rebuttal_recall": round(self.rebuttals.recall, 4),
            "rebuttal_f1": round(self.rebuttals.f1, 4),
            "labels_not_in_brief": self.not_in_brief,
            "other_rebuttal_relations": self.other_rebuttals,
            "kinds": {kind: counts.as_dict() for kind, counts in sorted(self.kinds.items())},
            "per_thread": {thread: counts.as_dict() for thread, counts in sorted(self.per_thread.items())},
        }


def rebuttal_post_pairs(brief: Brief) -> list[tuple[str, str]]:
    """(source post, target post) of every ``rebuts`` relation, one per relation, the title counted as
    the opening post."""
    root = next((p["id"] for p in brief["posts"] if p["id"] != TITLE_POST_ID), None)
    post_of = {c["id"]: c["post_id"] for c in brief["claims"]}

    def home(post_id: str) -> str:
        return root if post_id == TITLE_POST_ID and root else post_id

    return [
        (home(post_of[r["source"]]), home(post_of[r["target"]]))
        for r in brief["relations"]
        if r["type"] == "rebuts" and r["source"] in post_of and r["target"] in post_of
    ]


def evaluate_stance(labels: list[StanceLabel], out: Path) -> StanceReport:
    by_thread: dict[str, list[StanceLabel]] = {}
    for label in labels:
        by_thread.setdefault(label.thread_id, []).append(label)
    report = StanceReport(threads=0, missing=[])
    for thread_id, thread_labels in sorted(by_thread.items()):
        path = out / thread_id / "brief.json"
        if not path.is_file():
            report.missing.append(thread_id)
            continue
        brief = read_brief(path)
        report.threads += 1
        posts = {p["id"] for p in brief["posts"]}
        pairs = rebuttal_post_pairs(brief)
        marked_pairs = set(pairs)
        labelled_pairs = {(label.post_id, label.parent_id) for label in thread_labels}
        report.other_rebuttals += sum(1 for pair in pairs if pair not in labelled_pairs)
        for label in thread_labels:
            if label.post_id not in posts or label.parent_id not in posts:
                # Counted all the same (as not marked): a brief that drops a reply cannot rebut with it.
                report.not_in_brief.append(f"{thread_id}/{label.post_id}")
            marked = (label.post_id, label.parent_id) in marked_pairs
            for counts in (
                report.kinds.setdefault(label.kind, KindCounts()),
                report.per_thread.setdefault(thread_id, KindCounts()),
            ):
                counts.replies += 1
                counts.rebutting += label.rebuts
                counts.marked += marked
                counts.false_rebuttals += marked and not label.rebuts
            report.replies += 1
            report.rebutting += label.rebuts
            report.rebuttals.add(
                int(marked and label.rebuts), int(marked and not label.rebuts), int(label.rebuts and not marked)
            )
    return report


def stance_table(report: StanceReport) -> str:
    r = report.rebuttals
    lines = [
        f"threadbrief eval (stance labels): {report.threads} thread(s), {report.replies} labelled replies: "
        f"{report.rebutting} rebut their parent, {report.non_rebutting} do not"
        + (
            f"; {len(report.missing)} labelled thread(s) have no brief: {', '.join(report.missing[:5])}"
            if report.missing
            else ""
        ),
        f"marked as rebutting their parent: {report.marked} ({r.fp} of them do not rebut it)",
        f"  false-rebuttal rate  {report.false_rebuttal_rate:.3f}  ({r.fp} of {report.non_rebutting} non-rebutting "
        "replies marked; target: at most 0.050 offline)",
        f"  rebuttal precision   {r.precision:.3f}  ({r.tp} of {report.marked} marked replies rebut their parent)",
        f"  rebuttal recall      {r.recall:.3f}  ({r.tp} of {report.rebutting} rebutting replies marked)",
    ]
    if report.other_rebuttals:
        lines.append(f"  {report.other_rebuttals} rebuts relation(s) join no labelled reply to its parent")
    if report.not_in_brief:
        lines.append(
            f"  {len(report.not_in_brief)} labelled reply(ies) or parent(s) not in their brief: "
            + ", ".join(report.not_in_brief[:5])
        )
    lines += _counts_table("kind of reply", sorted(report.kinds.items(), key=lambda item: (-item[1].replies, item[0])))
    lines += _counts_table("thread", sorted(report.per_thread.items()))
    return "\n".join(lines)


def _counts_table(what: str, rows: list[tuple[str, KindCounts]]) -> list[str]:
    width = max([13, *(len(name) for name, _ in rows)])
    header = f"  {what.split()[0]:<{width}} {'replies':>7} {'rebut':>6} {'marked':>7}  {'false rebuttals':>15}"
    lines = [f"per {what}:", header, "  " + "-" * (len(header) - 2)]
    for name, counts in rows:
        numbers = f"{counts.replies:>7} {counts.rebutting:>6} {counts.marked:>7}  {counts.false_rebuttals:>15}"
        lines.append(f"  {name:<{width}} {numbers}")
    return lines
