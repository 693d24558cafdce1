"""The extraction cache: content-addressed, so an unchanged chunk is never paid for twice.

Input: an extractor's ``fingerprint`` (backend, model, prompt and schema hashes) and a chunk's
rendered prompt. Output: the stored payload of an earlier successful extraction, or
None. Only successes are stored (a failure is retried next run). Storage: one sqlite3 file in WAL
mode; each put is its own transaction, so a run killed midway keeps every chunk finished before it.
Failure modes: an unopenable cache path raises ``ConfigError`` naming ``--cache-dir``/``--no-cache``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .models import Chunk, Claim, Relation


def default_cache_dir() -> Path:
    """Where the extraction cache (and ``langid_model``'s unpacked model) live by default."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "threadbrief"


def cache_key(fingerprint: str, prompt: str) -> str:
    return hashlib.sha256(f"{fingerprint}\0{prompt}".encode()).hexdigest()


# The keys of the three kinds of answers, shared by the live runner and the batch path (one cache for both).
def extraction_key(fingerprint: str, chunk: Chunk) -> str:
    return cache_key(fingerprint, chunk.user_prompt)


def summary_key(fingerprint: str, heading: str, claims: list[Claim], relations: list[Relation]) -> str:
    # Keyed by everything the summary is written from, so a warm re-run makes no call for it either.
    basis = json.dumps(
        [
            heading,
            [(c.id, c.speaker, c.kind, c.text) for c in claims],
            [(r.source, r.type, r.target) for r in relations],
        ],
        ensure_ascii=False,
    )
    return cache_key(fingerprint, "summary\0" + basis)


def parts_key(fingerprint: str, heading: str, parts: list[str]) -> str:
    return cache_key(fingerprint, "summary-parts\0" + json.dumps([heading, parts], ensure_ascii=False))


class ExtractionCache:
    def __init__(self, directory: Path) -> None:
        self.path = directory / "extractions.sqlite"
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a killed process loses nothing committed; only power loss can drop the last puts.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS extraction"
                " (key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL NOT NULL)"
            )
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(
                f"cannot open the cache at {self.path} ({exc}): pass --cache-dir DIR or --no-cache"
            ) from exc

    def get(self, key: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT value FROM extraction WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        value: dict[str, Any] = json.loads(row[0])
        return value

    def put(self, key: str, value: dict[str, Any]) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO extraction (key, value, created) VALUES (?, ?, ?)",
            (key, json.dumps(value, ensure_ascii=False, sort_keys=True), time.time()),
        )

    def close(self) -> None:
        self._db.close()
