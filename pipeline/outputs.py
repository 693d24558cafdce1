"""Outputs: the one module that knows the layout of OUT, for live and batch runs alike.

Layout: ``OUT/<thread_id>/brief.json`` and ``brief.md`` per thread with a brief; ``OUT/run.json`` (the
manifest: backend, model, prompt and schema hashes, per-thread status, language and failures, calls, tokens,
cost, seconds; written once per run or batch step); ``OUT/claims.jsonl`` and ``OUT/relations.jsonl`` (one row
per claim or relation of this run, for tools); ``OUT/batch/`` (the batch state and request files).
Input: briefs, thread results and the run's header. Output: those files, each written atomically (temp file +
rename: a killed run never leaves a half-written file; its temp files are removed by the next run).
Memory does not grow with the run: each thread's entry and rows go to a ``RunRecord`` (a temporary SQLite
file in OUT) as the thread finishes, and run.json and the flat files are streamed from it, in input order,
at the end; only counters are held.
Failure modes: ``OutputError`` (exit 2) when OUT cannot be written, before any thread runs.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, TypedDict

from .brief_types import Brief, BriefLanguage, PromptHash
from .errors import InputError, OutputError
from .export import brief_folders, read_brief
from .importers.base import Note
from .models import ThreadStatus, Usage
from .render import brief_markdown
from .spill import ScratchDatabase
from .thread import ThreadResult

RUN_FILE = "run.json"
BATCH_DIR = "batch"


def _file_mode() -> int:
    """What open() would give a new file under the user's umask (mkstemp's temp files are 0600)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _file_mode()


@contextmanager
def atomic_file(path: Path) -> Iterator[IO[str]]:
    """A text file to write in pieces, in place of PATH only once the block ends without an error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # The rename is what makes a killed run leave no half-written file; no fsync (that would guard
        # against power loss, at a cost per file that dominated small runs).
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            yield handle
            os.fchmod(handle.fileno(), _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write(path: Path, text: str) -> None:
    with atomic_file(path) as handle:
        handle.write(text)


def prepare(out: Path) -> None:
    """Make OUT, prove it writable, and remove the temp files a killed run left there."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".threadbrief-write-test"
        probe.write_text("")
        probe.unlink()
        # os.walk, not pathlib's glob: 17 times faster over 1,300 thread folders, and OUT may hold 100,000.
        for folder, _dirs, files in os.walk(out):
            for name in files:
                if name.startswith(".") and name.endswith(".tmp"):
                    Path(folder, name).unlink(missing_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot write to {out} ({exc.strerror or exc}): choose another directory with -o") from exc


def brief_paths(thread_id: str) -> tuple[str, str]:
    """Where a thread's brief and its Markdown go, relative to OUT."""
    return f"{thread_id}/brief.json", f"{thread_id}/brief.md"


def write_brief(out: Path, brief: Brief) -> None:
    as_json, as_markdown = brief_paths(brief["thread"]["id"])
    # The Markdown first: a brief.json is what marks a thread folder (``export.brief_folders``), so a process
    # killed between the two files leaves no brief.json without its brief.md.
    atomic_write(out / as_markdown, brief_markdown(brief))
    atomic_write(out / as_json, json.dumps(brief, ensure_ascii=False) + "\n")


def brief_written_since(out: Path, thread_id: str, since_ns: int) -> Brief | None:
    """The thread's brief when its brief.md and brief.json in OUT were both written at or after ``since_ns`` (a
    filesystem time: ``RunRecord.created_ns``); None when it has none, or an older one (an earlier run's)."""
    paths = [out / name for name in brief_paths(thread_id)]
    try:
        if min(path.stat().st_mtime_ns for path in paths) < since_ns:
            return None
    except FileNotFoundError:  # not written (or only its brief.md): the thread did not finish
        return None
    return read_brief(paths[0])


def earlier_thread_folders(out: Path, written: Callable[[str], bool]) -> list[str]:
    """Thread folders in OUT (a brief.json inside) that this run did not write: an earlier run's."""
    return sorted(name for name in brief_folders(out) if not written(name))


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


class UnrecordedUsage(TypedDict):
    """What the threads that never finished spent: answers that came back, but no thread entry counts them."""

    calls: int
    cached_calls: int
    tokens_in: int
    tokens_out: int
    cost_usd: float | None


def unrecorded_usage(usage: Usage, cost: float | None) -> UnrecordedUsage:
    return {
        "calls": usage.calls,
        "cached_calls": usage.cached_calls,
        "tokens_in": usage.tokens_in,
        "tokens_out": usage.tokens_out,
        "cost_usd": cost,
    }


class Stopped(TypedDict):
    """What stopped a run part-way (``runner.stopped_section``): its threads that finished are in run.json."""

    error: str  # the exception's class: WorkersKeepDying, ConfigError, KeyboardInterrupt, ...
    reason: str
    exit_code: int
    threads_not_run: int  # threads of the input that have no entry (in flight or never started)
    # Of the entries, threads whose worker ended with the run (SIGTERM to the process group) after their brief
    # was written: their entry was made from that brief.
    recorded_from_briefs: int
    # The calls of threads that never finished (their answers came back, and were billed; the totals leave them
    # out, as they count thread entries), and the requests sent and cancelled before their answer came (the
    # provider may bill those too; their usage is not known).
    unrecorded: UnrecordedUsage
    requests_cancelled: int


class _ManifestExtras(TypedDict, total=False):
    batch: dict[str, Any]  # batch runs: the batches and their requests (batch.batch_section)
    stopped: Stopped  # a run stopped part-way


class RunSummary(RunHeader, _ManifestExtras):
    """run.json without its thread entries: what a run returns (the entries are streamed to the file)."""

    input_errors: list[dict[str, Any]]
    input_notes: list[dict[str, str | None]]
    earlier_thread_folders: list[str]
    totals: Totals
    exit_code: int


class Manifest(RunSummary):
    """run.json as a reader gets it (``read_manifest``)."""

    threads: list[ThreadEntry]


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


_COMMIT_EVERY = 256  # threads per transaction of the run record
# Where run.json's thread entries go: json.dumps renders this list as these exact lines, which no string of
# the manifest can hold (a string's newlines are escaped), so the entries are spliced in there.
_SLOT_VALUE = ["\0threads\0"]
_SLOT = '"threads": [\n    "\\u0000threads\\u0000"\n  ]'


class RunRecord(ScratchDatabase):
    """This run's threads, recorded as each finishes: its run.json entry and its flat rows go to a
    temporary SQLite file in OUT (removed by ``close``; a killed run's is removed by the next ``prepare``),
    the totals are counters. ``write`` streams run.json, claims.jsonl and relations.jsonl from it in input
    order, whatever order the threads finished in."""

    def __init__(self, out: Path) -> None:
        # A crash loses it with the run (briefs already written stay); ".tmp": the next ``prepare`` removes it.
        super().__init__(
            "CREATE TABLE threads (seq INTEGER PRIMARY KEY, id TEXT UNIQUE, entry TEXT, claims TEXT, relations TEXT);",
            prefix=".run-record.",
            suffix=".tmp",
            folder=out,
        )
        # The file's time of creation by the filesystem's own clock, the one that stamps the briefs: a brief
        # stamped at or after it was written during this run (``brief_written_since``).
        self.created_ns = self.path.stat().st_mtime_ns
        self.statuses: dict[ThreadStatus, int] = {"complete": 0, "partial": 0, "failed": 0, "pending": 0}
        self.usage = Usage()
        self.threads = 0
        self.recovered = 0  # threads recorded from their brief (``Stopped.recorded_from_briefs``)

    def add(self, seq: int, result: ThreadResult, renamed_from: str | None) -> None:
        """Record a finished thread; SEQ is its place in the input."""
        entry = json.dumps(thread_entry(result, renamed_from), ensure_ascii=False, indent=2)
        self.db.execute(
            "INSERT INTO threads VALUES (?, ?, ?, ?, ?)",
            (seq, result.thread_id, entry, result.claims_jsonl, result.relations_jsonl),
        )
        self.threads += 1
        self.statuses[result.status] += 1
        self.usage.add(result.usage)
        if self.threads % _COMMIT_EVERY == 0:
            self.db.commit()

    def has(self, thread_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM threads WHERE id = ?", (thread_id,)).fetchone() is not None

    def summary(
        self,
        header: RunHeader,
        input_errors: list[InputError],
        notes: list[Note],
        earlier: list[str],
        price: Callable[[Usage], float | None],
        rate_limited: int,
    ) -> RunSummary:
        complete = self.statuses["complete"] == self.threads
        # mypy asks a ** item to name the optional "batch" key too; a live run has none (batch.py adds it).
        return {
            **header,  # type: ignore[typeddict-item]
            "input_errors": [
                {"input": e.path, "line": e.line, "stage": "load", "reason": e.reason} for e in input_errors
            ],
            # What the importers and the loader repaired or left out; the threads named still ran.
            "input_notes": [{"input": n.where, "thread": n.thread, "reason": n.reason} for n in notes],
            # Thread folders in OUT from earlier runs: not this run's, so report and export leave them out.
            "earlier_thread_folders": earlier,
            "totals": {
                "threads": self.threads,
                **self.statuses,  # type: ignore[typeddict-item]
                "input_errors": len(input_errors),
                "input_notes": len(notes),
                "calls": self.usage.calls,
                "cached_calls": self.usage.cached_calls,
                "tokens_in": self.usage.tokens_in,
                "tokens_out": self.usage.tokens_out,
                "cost_usd": price(self.usage),
                "rate_limited": rate_limited,
            },
            "exit_code": 0 if complete and not input_errors else 1,
        }

    def _column(self, name: str) -> Iterator[str]:
        self.db.commit()
        for (value,) in self.db.execute(f"SELECT {name} FROM threads ORDER BY seq"):
            yield value

    def write_manifest(self, handle: IO[str], summary: RunSummary) -> None:
        """run.json: the summary with this run's thread entries in place, as ``json.dumps(indent=2)`` of the
        whole would write it."""
        manifest: dict[str, Any] = {}
        for key, value in summary.items():
            if key == "input_errors":
                manifest["threads"] = _SLOT_VALUE
            manifest[key] = value
        before, after = (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").split(_SLOT)
        if not self.threads:
            handle.write(before + '"threads": []' + after)
            return
        handle.write(before + '"threads": [\n')
        for n, entry in enumerate(self._column("entry")):
            handle.write((",\n    " if n else "    ") + entry.replace("\n", "\n    "))
        handle.write("\n  ]" + after)

    def write(self, out: Path, summary: RunSummary) -> None:
        """run.json, claims.jsonl and relations.jsonl, each written atomically."""
        with atomic_file(out / RUN_FILE) as handle:
            self.write_manifest(handle, summary)
        for name, column in (("claims.jsonl", "claims"), ("relations.jsonl", "relations")):
            with atomic_file(out / name) as handle:
                handle.writelines(self._column(column))


def write_run(out: Path, summary: RunSummary, record: RunRecord) -> None:
    """The manifest and, over this run's briefs, the flat files for tools."""
    record.write(out, summary)


def read_manifest(out: Path) -> Manifest:
    """OUT/run.json, parsed whole (for tests and small runs; ``export.run_brief_paths`` streams it)."""
    manifest: Manifest = json.loads((out / RUN_FILE).read_text(encoding="utf-8"))
    return manifest


def batch_dir(out: Path) -> Path:
    return out / BATCH_DIR
