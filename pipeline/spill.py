"""Spill: records grouped by a key on disk, so a dump larger than memory can be regrouped into threads.

Input: records (a key, an item id, the file and line they came from, a JSON value), added in any order.
Output: the groups one at a time, in the order their key was first added, each with its records in the
order they were added; a record whose (key, item) is already there is refused (``add`` says so), so a
repeated record is kept once. Held in memory: one group while it is read, and SQLite's page cache (a few
MB); the rest is in a temporary SQLite file in the system's temp directory (``TMPDIR``), deleted on close.
``ScratchDatabase`` is the temporary SQLite file under it, shared with the run's record (``outputs.RunRecord``),
export's list of briefs (``export.RunBriefs``) and the Hacker News items pool (``hackernews.FirebasePool``).
Failure modes: ``OSError`` / ``sqlite3.Error`` when the temp directory cannot be written or fills up.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_COMMIT_EVERY = 10_000  # records per transaction: one per record would make a dump's load disk-bound


@dataclass(frozen=True)
class Spilled:
    item: str | None
    path: str
    line: int | None
    value: Any


@dataclass(frozen=True)
class Group:
    key: str
    path: str  # where the group was first named
    line: int | None


class ScratchDatabase:
    """A temporary SQLite file made with ``schema`` (in ``folder``, else the system's temp directory), removed
    by ``close``. No journal and no fsync: a crash loses it, and the next run starts again from its input."""

    def __init__(self, schema: str, prefix: str, suffix: str = ".sqlite", folder: Path | None = None) -> None:
        fd, name = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=suffix)
        os.close(fd)
        self.path = Path(name)
        self.db = sqlite3.connect(name)
        self.db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + schema)

    def close(self) -> None:
        self.db.close()
        self.path.unlink(missing_ok=True)


class GroupSpill(ScratchDatabase):
    def __init__(self) -> None:
        super().__init__(
            "CREATE TABLE groups (seq INTEGER PRIMARY KEY, key TEXT UNIQUE NOT NULL, path TEXT, line INTEGER);"
            "CREATE TABLE records (grp INTEGER NOT NULL, item TEXT, path TEXT, line INTEGER, value TEXT,"
            " UNIQUE (grp, item));",
            prefix="threadbrief-spill-",
        )
        self._pending = 0

    def group(self, key: str, path: str, line: int | None) -> int:
        """The group's number, making it (first named at path:line) when the key is new."""
        row = self.db.execute("SELECT seq FROM groups WHERE key = ?", (key,)).fetchone()
        if row is not None:
            return int(row[0])
        cursor = self.db.execute("INSERT INTO groups (key, path, line) VALUES (?, ?, ?)", (key, path, line))
        return int(cursor.lastrowid or 0)

    def add(self, group: int, item: str | None, path: str, line: int | None, value: Any) -> bool:
        """Add a record; False (and nothing added) when the group already holds that item (None: never)."""
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO records (grp, item, path, line, value) VALUES (?, ?, ?, ?, ?)",
            (group, item, path, line, json.dumps(value, ensure_ascii=False)),
        )
        self._pending += 1
        if self._pending >= _COMMIT_EVERY:
            self.db.commit()
            self._pending = 0
        return cursor.rowcount == 1

    def groups(self) -> Iterator[tuple[Group, list[Spilled]]]:
        """Every group with its records, one group at a time."""
        self.db.commit()
        # The UNIQUE (grp, item) index orders by item; reading a group's records in the order added wants
        # (grp, rowid), built once here rather than kept up to date on every insert.
        self.db.execute("CREATE INDEX IF NOT EXISTS records_in_order ON records (grp)")
        reader = self.db.cursor()
        groups = self.db.cursor().execute("SELECT seq, key, path, line FROM groups ORDER BY seq")
        for seq, key, path, line in groups:
            rows = reader.execute(
                "SELECT item, path, line, value FROM records WHERE grp = ? ORDER BY rowid", (seq,)
            ).fetchall()
            yield Group(key, path, line), [Spilled(item, p, n, json.loads(v)) for item, p, n, v in rows]
