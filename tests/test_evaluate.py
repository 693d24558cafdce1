"""`threadbrief eval` on a hand-made brief whose scores are worked out by hand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.errors import InputError
from pipeline.evaluate import BASELINE_REPLIES, BASELINE_SENTENCES, evaluate, load_gold

TITLE = "CMV: Cats are better than dogs."
OP = "Cats are clean. They need little space."
REPLY = "Dogs are more loyal. Loyalty matters more than cleanliness."


def post(pid: str, parent: str | None, text: str) -> dict[str, Any]:
    return {
        "id": pid,
        "author": "a" if pid != "p2" else "b",
        "parent_id": parent,
        "text": text,
        "duplicate_of": None,
        "quoted": [],
    }


def claim(cid: str, pid: str, text: str, quote: str, kind: str = "claim") -> dict[str, Any]:
    start = text.index(quote)
    return {"id": cid, "post_id": pid, "kind": kind, "quote": quote, "span": [start, start + len(quote)]}


def write_case(tmp_path: Path) -> tuple[Path, Path]:
    brief = {
        "posts": [post("title", None, TITLE), post("p1", None, OP), post("p2", "p1", REPLY)],
        "claims": [
            claim("C1", "title", TITLE, TITLE),
            claim("C2", "p1", OP, "Cats are clean."),  # gold calls it a premise: a false positive
            claim("C3", "p2", REPLY, "Loyalty matters more than cleanliness."),
            claim("C4", "p2", REPLY, "Dogs are more loyal.", kind="premise"),  # premises are not scored as claims
        ],
        "relations": [
            {"source": "C3", "target": "C1", "type": "rebuts"},  # the gold attack
            {"source": "C4", "target": "C2", "type": "rebuts"},  # not a gold attack, same post pair
            {"source": "C4", "target": "C3", "type": "supports"},
        ],
        "rejected": [{"stage": "ground", "chunk": "c001", "item": {}, "reason": "quote not found"}],
    }
    out = tmp_path / "out"
    (out / "t1").mkdir(parents=True)
    (out / "t1" / "brief.json").write_text(json.dumps(brief))
    gold = tmp_path / "gold.jsonl"
    rows = [
        {
            "thread_id": "t1",
            "title": TITLE,
            "adus": [
                {"id": "T1", "label": "main_claim", "post_id": "title", "author": "a", "text": TITLE},
                {"id": "T2", "label": "premise", "post_id": "p1", "author": "a", "text": "Cats are clean."},
                {"id": "T3", "label": "premise", "post_id": "p1", "author": "a", "text": "They need little space."},
                {
                    "id": "T4",
                    "label": "claim",
                    "post_id": "p2",
                    "author": "b",
                    "text": "Loyalty matters more than cleanliness",
                },
                {"id": "T5", "label": "premise", "post_id": "p2", "author": "b", "text": "Dogs are more loyal."},
            ],
            "relations": [
                {"source": "T4", "target": "T1", "label": "rebuttal", "is_attack": True, "cross_author": True},
                {"source": "T5", "target": "T4", "label": "support", "is_attack": False, "cross_author": False},
                {"source": "T2", "target": "T1", "label": "support", "is_attack": False, "cross_author": False},
            ],
        },
        {"thread_id": "t2", "adus": [], "relations": []},  # no brief for it
    ]
    gold.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return gold, out


def test_scores_match_the_hand_count(tmp_path: Path) -> None:
    gold, out = write_case(tmp_path)
    report = evaluate(load_gold(gold), out)
    assert report.threads == 1 and report.missing == ["t2"]
    ours = report.systems["threadbrief"]
    assert (ours.claims.tp, ours.claims.fp, ours.claims.fn) == (2, 1, 0)
    assert ours.claims.f1 == pytest.approx(0.8)
    assert (ours.attack_edges.tp, ours.attack_edges.fp, ours.attack_edges.fn) == (1, 1, 0)
    assert (ours.post_pairs.tp, ours.post_pairs.fp, ours.post_pairs.fn) == (1, 0, 0)  # title counts as p1
    assert ours.grounding == pytest.approx(4 / 5)
    sentences = report.systems[BASELINE_SENTENCES]
    assert (sentences.claims.tp, sentences.claims.fp, sentences.claims.fn) == (2, 3, 0)
    assert sentences.attack_edges.tp == sentences.post_pairs.tp == 0
    replies = report.systems[BASELINE_REPLIES]
    # p2's first sentence (a premise) attacks the opening post's first sentence, its title: wrong source.
    assert (replies.attack_edges.tp, replies.attack_edges.fp, replies.attack_edges.fn) == (0, 1, 1)
    assert (replies.post_pairs.tp, replies.post_pairs.fp, replies.post_pairs.fn) == (1, 0, 0)


def test_eval_command_prints_a_table_and_json(tmp_path: Path) -> None:
    gold, out = write_case(tmp_path)
    result = CliRunner().invoke(cli, ["eval", str(gold), str(out), "--json"])
    assert result.exit_code == 0, result.stderr
    assert "threadbrief eval: 1 thread(s); 1 gold thread(s) have no brief: t2" in result.stderr
    assert "claim P" in result.stderr and BASELINE_REPLIES in result.stderr
    scores = json.loads(result.stdout)
    assert scores["systems"]["threadbrief"]["claims"]["f1"] == 0.8
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(cli, ["eval", str(gold), str(empty)])
    assert result.exit_code == 2 and "no brief in" in result.stderr


def test_a_bad_gold_line_is_an_input_error(tmp_path: Path) -> None:
    gold = tmp_path / "gold.jsonl"
    gold.write_text('{"thread_id": "x", "adus": []}\n')
    with pytest.raises(InputError, match="gold.jsonl:1: not a gold line"):
        load_gold(gold)
