"""Outputs: the one module that knows the layout of OUT, for live and batch runs alike.

Layout: ``OUT/<thread_id>/brief.json`` and ``brief.md`` per thread with a brief; ``OUT/run.json`` (the
manifest: backend, model, prompt and schema hashes, per-thread status, language and failures, calls, tokens,
cost, seconds; written once per run or batch step); ``OUT/claims.jsonl`` and ``OUT/relations.jsonl`` (one row
per claim or relation of this run, for tools); ``OUT/batch/`` (the batch state and request files).
Input: briefs, thread results and the run's header. Output: those files, each written atomically (temp file +
rename: a killed run never leaves a half-written file; its temp files are removed by the next run).
Failure modes: ``OutputError`` (exit 2) when OUT cannot be written, before any thread runs.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypedDict

from .brief_types import Brief, BriefLanguage, PromptHash
from .errors import InputError, OutputError
from .export import to_jsonl
from .importers.base import Note
from .models import ThreadStatus, Usage
from .render import brief_markdown
from .thread import ThreadResult

RUN_FILE = "run.json"
BATCH_DIR = "batch"


def _file_mode() -> int:
    """What open() would give a new file under the user's umask (mkstemp's temp files are 0600)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _file_mode()


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # The rename is what makes a killed run leave no half-written file; no fsync (that would guard
        # against power loss, at a cost per file that dominated small runs).
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            os.fchmod(handle.fileno(), _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def prepare(out: Path) -> None:
    """Make OUT, prove it writable, and remove the temp files a killed run left there."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".threadbrief-write-test"
        probe.write_text("")
        probe.unlink()
        for stale in [p for p in out.glob("**/.*.tmp") if p.is_file()]:
            stale.unlink(missing_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot write to {out} ({exc.strerror or exc}): choose another directory with -o") from exc


def brief_paths(thread_id: str) -> tuple[str, str]:
    """Where a thread's brief and its Markdown go, relative to OUT."""
    return f"{thread_id}/brief.json", f"{thread_id}/brief.md"


def write_brief(out: Path, brief: Brief) -> None:
    as_json, as_markdown = brief_paths(brief["thread"]["id"])
    atomic_write(out / as_json, json.dumps(brief, ensure_ascii=False) + "\n")
    atomic_write(out / as_markdown, brief_markdown(brief))


def earlier_thread_folders(out: Path, written: set[str]) -> list[str]:
    """Thread folders in OUT (a brief.json inside) that this run did not write: an earlier run's."""
    return sorted(p.parent.name for p in out.glob("*/brief.json") if p.parent.name not in written and p.parent.is_dir())


class ThreadEntry(TypedDict):
    id: str
    renamed_from: str | None
    input_path: str
    status: ThreadStatus
    language: BriefLanguage | None  # as in its brief; None when it has none
    brief: str | None
    markdown: str | None
    claims: int
    relations: int
    rejected: int
    failures: list[dict[str, str | None]]
    calls: int
    cached_calls: int
    tokens_in: int
    tokens_out: int
    cost_usd: float | None
    seconds: float


class Totals(TypedDict):
    threads: int
    complete: int
    partial: int
    failed: int
    pending: int
    input_errors: int
    input_notes: int
    calls: int
    cached_calls: int
    tokens_in: int
    tokens_out: int
    cost_usd: float | None
    rate_limited: int


class RunHeader(TypedDict):
    """What run.json says of the run as a whole, before its threads."""

    threadbrief_version: str
    started_at: str
    finished_at: str
    seconds: float
    backend: str
    model: str | None
    base_url: str | None
    settings: dict[str, Any]
    prompts: list[PromptHash]
    schemas: dict[str, str]


class _ManifestExtras(TypedDict, total=False):
    batch: dict[str, Any]  # batch runs: the batches and their requests (batch.batch_section)


class Manifest(RunHeader, _ManifestExtras):
    threads: list[ThreadEntry]
    input_errors: list[dict[str, Any]]
    input_notes: list[dict[str, str | None]]
    earlier_thread_folders: list[str]
    totals: Totals
    exit_code: int


def thread_entry(result: ThreadResult, renamed_from: str | None) -> ThreadEntry:
    as_json, as_markdown = brief_paths(result.thread_id)
    return {
        "id": result.thread_id,
        "renamed_from": renamed_from,
        "input_path": result.input_path,
        "status": result.status,
        "language": result.language,
        "brief": as_json if result.brief_written else None,
        "markdown": as_markdown if result.brief_written else None,
        "claims": result.claims,
        "relations": result.relations,
        "rejected": result.rejected,
        "failures": [{"stage": f.stage, "chunk": f.chunk, "reason": f.reason} for f in result.failures],
        "calls": result.usage.calls,
        "cached_calls": result.usage.cached_calls,
        "tokens_in": result.usage.tokens_in,
        "tokens_out": result.usage.tokens_out,
        "cost_usd": result.cost_usd,
        "seconds": result.seconds,
    }


def manifest(
    header: RunHeader,
    threads: list[ThreadEntry],
    input_errors: list[InputError],
    notes: list[Note],
    earlier: list[str],
    price: Callable[[Usage], float | None],
    rate_limited: int,
) -> Manifest:
    total = Usage(
        calls=sum(t["calls"] for t in threads),
        cached_calls=sum(t["cached_calls"] for t in threads),
        tokens_in=sum(t["tokens_in"] for t in threads),
        tokens_out=sum(t["tokens_out"] for t in threads),
    )
    statuses = [t["status"] for t in threads]
    # mypy asks a ** item to name the optional "batch" key too; a live run has none (batch.py adds it).
    return {
        **header,  # type: ignore[typeddict-item]
        "threads": threads,
        "input_errors": [{"input": e.path, "line": e.line, "stage": "load", "reason": e.reason} for e in input_errors],
        # What the importers and the loader repaired or left out; the threads named still ran.
        "input_notes": [{"input": n.where, "thread": n.thread, "reason": n.reason} for n in notes],
        # Thread folders in OUT from earlier runs: not this run's, so report and export leave them out.
        "earlier_thread_folders": earlier,
        "totals": {
            "threads": len(threads),
            "complete": statuses.count("complete"),
            "partial": statuses.count("partial"),
            "failed": statuses.count("failed"),
            "pending": statuses.count("pending"),
            "input_errors": len(input_errors),
            "input_notes": len(notes),
            "calls": total.calls,
            "cached_calls": total.cached_calls,
            "tokens_in": total.tokens_in,
            "tokens_out": total.tokens_out,
            "cost_usd": price(total),
            "rate_limited": rate_limited,
        },
        "exit_code": 0 if all(s == "complete" for s in statuses) and not input_errors else 1,
    }


def write_run(out: Path, run: Manifest, results: Iterable[ThreadResult]) -> None:
    """The manifest and, over this run's briefs, the flat files for tools."""
    rows = list(results)
    atomic_write(out / RUN_FILE, json.dumps(run, ensure_ascii=False, indent=2) + "\n")
    atomic_write(out / "claims.jsonl", to_jsonl(row for r in rows for row in r.claim_rows))
    atomic_write(out / "relations.jsonl", to_jsonl(row for r in rows for row in r.relation_rows))


def batch_dir(out: Path) -> Path:
    return out / BATCH_DIR
