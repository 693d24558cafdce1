"""Export: briefs → flat rows for other tools (JSON Lines) and spreadsheets (CSV).

Input: briefs (or an output directory of ``*/brief.json``, read by ``read_brief``). Output: one row per
grounded claim (thread id, claim id, post id, speaker, kind, text, quote, start, end, match) or per
relation (thread id, source, target, type, and both quotes). Every claim row's quote is its post's text
at [start, end), as in the brief. Memory does not grow with the run: briefs are read one at a time, run.json
is read as a stream, and the list of the run's folders is kept in a temporary SQLite file (``RunBriefs``).
Failure modes: an unreadable brief.json or run.json raises ``InputError`` naming it.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import ijson

from .brief_types import Brief
from .errors import InputError
from .spill import ScratchDatabase

CLAIM_FIELDS = ("thread_id", "claim_id", "post_id", "speaker", "kind", "text", "quote", "start", "end", "match")
RELATION_FIELDS = ("thread_id", "source", "target", "type", "source_quote", "target_quote")


class RunBriefs(ScratchDatabase):
    """The brief.json files of OUT's last run, in folder-name order, and the thread folders beside them that
    run did not write. With a run.json, only the briefs it lists: an earlier run's folders left in OUT are
    not mixed in. Without one (briefs copied by hand), every ``*/brief.json``.

    Neither list is held: the folder names and the briefs run.json lists go to a temporary SQLite file,
    which sorts and joins them (a run of 100,000 threads would otherwise hold two lists of 100,000 names)."""

    def __init__(self, out: Path) -> None:
        self.out = out
        super().__init__(
            "CREATE TABLE found (name TEXT PRIMARY KEY) WITHOUT ROWID;"
            "CREATE TABLE listed (brief TEXT PRIMARY KEY) WITHOUT ROWID;",
            prefix="threadbrief-briefs-",
        )
        self.db.executemany("INSERT OR IGNORE INTO found VALUES (?)", ((name,) for name in brief_folders(out)))
        manifest = out / "run.json"
        self.has_manifest = manifest.is_file()
        if self.has_manifest:
            try:
                with manifest.open("rb") as handle:
                    self.db.executemany("INSERT OR IGNORE INTO listed VALUES (?)", ((b,) for b in _listed(handle)))
            except (OSError, ijson.JSONError, ValueError, TypeError) as exc:
                self.close()
                raise InputError(
                    str(manifest), f"cannot read this run manifest ({exc}); re-run threadbrief run"
                ) from exc
        self.db.commit()

    def _names(self, listed: bool) -> Iterator[str]:
        if not self.has_manifest:
            query = "SELECT name FROM found WHERE ? ORDER BY name"
        else:
            query = (
                "SELECT name FROM found WHERE (name || '/brief.json' IN (SELECT brief FROM listed)) = ? ORDER BY name"
            )
        for (name,) in self.db.execute(query, (listed,)):
            yield name

    def paths(self) -> Iterator[Path]:
        return (self.out / name / "brief.json" for name in self._names(True))

    def unlisted(self) -> list[str]:
        return list(self._names(False)) if self.has_manifest else []

    def briefs(self) -> Iterator[Brief]:
        """The briefs of ``paths``, read one at a time."""
        return (read_brief(path) for path in self.paths())


def brief_folders(out: Path) -> Iterator[str]:
    """The names of OUT's folders that hold a brief.json, in directory order, read as a stream: pathlib's
    ``glob`` (Python 3.11) lists the whole directory first, 25 MB of entries at 100,000 threads."""
    with os.scandir(out) as entries:
        for entry in entries:
            if entry.is_dir() and os.path.isfile(os.path.join(entry.path, "brief.json")):
                yield entry.name


def _listed(handle: IO[bytes]) -> Iterator[str]:
    """The brief paths run.json lists, read as a stream."""
    if not _names_threads(handle):
        raise ValueError("no 'threads' list")
    handle.seek(0)
    for entry in ijson.items(handle, "threads.item"):
        if not isinstance(entry, dict):
            raise TypeError(f"a thread entry that is a {type(entry).__name__}")
        if entry.get("brief"):
            yield str(entry["brief"])


def _names_threads(handle: IO[bytes]) -> bool:
    """Whether the document is an object with a "threads" key (found near the top: it is read that far)."""
    for prefix, event, value in ijson.parse(handle):
        if prefix == "" and event == "map_key" and value == "threads":
            return True
        if prefix == "" and event not in ("start_map", "map_key"):
            return False  # the end of the top-level object, or a document that is no object
    return False


def run_stopped(out: Path) -> dict[str, Any] | None:
    """run.json's ``stopped`` (what stopped the run part-way: reason, threads not run), read as a stream; None
    when the run ran to the end or OUT has no readable run.json."""
    try:
        with (out / "run.json").open("rb") as handle:
            return next((s for s in ijson.items(handle, "stopped") if isinstance(s, dict)), None)
    except (OSError, ijson.JSONError, ValueError):
        return None


def run_brief_paths(out: Path) -> tuple[list[Path], list[str]]:
    """``RunBriefs`` as two lists (for a look at a small OUT)."""
    briefs = RunBriefs(out)
    try:
        return list(briefs.paths()), briefs.unlisted()
    finally:
        briefs.close()


def read_brief(path: Path) -> Brief:
    """A brief.json, parsed. Typed as a ``Brief`` on trust, not checked: a brief is written only after
    it passes ``validate.brief_problems``, and ``threadbrief validate`` checks one edited since."""
    try:
        brief: Brief = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(str(path), f"cannot read this brief ({exc}); re-run threadbrief run") from exc
    return brief


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
    write_csv(buffer, rows, fields)
    return buffer.getvalue()


def write_csv(handle: IO[str], rows: Iterable[dict[str, Any]], fields: tuple[str, ...]) -> None:
    writer = csv.DictWriter(handle, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)


def write_jsonl(handle: IO[str], rows: Iterable[dict[str, Any]]) -> None:
    for row in rows:
        handle.write(json.dumps(row, ensure_ascii=False) + "\n")
