"""Export: briefs → flat rows for other tools (JSON Lines) and spreadsheets (CSV).

Input: briefs (or an output directory of ``*/brief.json``, read by ``read_brief``). Output: one row per
grounded claim (thread id, claim id, post id, speaker, kind, text, quote, start, end, match) or per
relation (thread id, source, target, type, and both quotes). Every claim row's quote is its post's text
at [start, end), as in the brief. Failure modes: an unreadable brief.json raises ``InputError`` naming it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .brief_types import Brief
from .errors import InputError

CLAIM_FIELDS = ("thread_id", "claim_id", "post_id", "speaker", "kind", "text", "quote", "start", "end", "match")
RELATION_FIELDS = ("thread_id", "source", "target", "type", "source_quote", "target_quote")


def run_brief_paths(out: Path) -> tuple[list[Path], list[str]]:
    """The brief.json files of OUT's last run, and the thread folders beside them that run did not write.

    With a run.json, only the briefs it lists: an earlier run's folders left in OUT are not mixed in. Without
    one (briefs copied by hand), every ``*/brief.json``."""
    found = sorted(out.glob("*/brief.json"))
    manifest = out / "run.json"
    if not manifest.is_file():
        return found, []
    try:
        threads = json.loads(manifest.read_text(encoding="utf-8"))["threads"]
        listed = {str(t["brief"]) for t in threads if t.get("brief")}
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise InputError(str(manifest), f"cannot read this run manifest ({exc}); re-run threadbrief run") from exc
    keep = [p for p in found if p.relative_to(out).as_posix() in listed]
    return keep, [p.parent.name for p in found if p.relative_to(out).as_posix() not in listed]


def read_brief(path: Path) -> Brief:
    """A brief.json, parsed. Typed as a ``Brief`` on trust, not checked: a brief is written only after
    it passes ``validate.brief_problems``, and ``threadbrief validate`` checks one edited since."""
    try:
        brief: Brief = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(str(path), f"cannot read this brief ({exc}); re-run threadbrief run") from exc
    return brief


def briefs_in(out: Path) -> Iterator[Brief]:
    """The briefs of OUT's last run (see ``run_brief_paths``), read one at a time."""
    for path in run_brief_paths(out)[0]:
        yield read_brief(path)


def claim_rows(briefs: Iterable[Brief]) -> Iterator[dict[str, Any]]:
    for brief in briefs:
        for claim in brief["claims"]:
            yield {
                "thread_id": brief["thread"]["id"],
                "claim_id": claim["id"],
                "post_id": claim["post_id"],
                "speaker": claim["speaker"],
                "kind": claim["kind"],
                "text": claim["text"],
                "quote": claim["quote"],
                "start": claim["span"][0],
                "end": claim["span"][1],
                "match": claim["match"],
            }


def relation_rows(briefs: Iterable[Brief]) -> Iterator[dict[str, Any]]:
    for brief in briefs:
        quotes = {c["id"]: c["quote"] for c in brief["claims"]}
        for rel in brief["relations"]:
            yield {
                "thread_id": brief["thread"]["id"],
                "source": rel["source"],
                "target": rel["target"],
                "type": rel["type"],
                "source_quote": quotes[rel["source"]],
                "target_quote": quotes[rel["target"]],
            }


def to_jsonl(rows: Iterable[dict[str, Any]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def to_csv(rows: Iterable[dict[str, Any]], fields: tuple[str, ...]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
