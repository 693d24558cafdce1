"""Progress on stderr: threads and chunks done, calls, tokens and cost so far.

Input: events from the runner (threads loaded, a thread's chunks known, a chunk or thread done, usage).
Output: a live ``rich`` progress bar on stderr, or nothing (``NoProgress``) when stderr is not a
terminal or with ``--quiet``. Failure modes: none; it only draws.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .models import Usage

# A log line has a kind ("ok", "PARTIAL", "FAILED", "PENDING", "SKIPPED", "NOTE", "BATCH") and a message;
# -q keeps the kinds that report a problem, which are all but PROGRESS_KINDS.
Log = Callable[[str, str], None]
PROGRESS_KINDS = frozenset({"ok", "PENDING", "BATCH"})


def log_line(kind: str, message: str) -> str:
    return f"{kind:>7}  {message}"


def no_log(_kind: str, _message: str) -> None:
    """The default log: says nothing."""


class ProgressReporter(Protocol):
    def threads_found(self, count: int) -> None: ...

    def chunks_found(self, count: int) -> None: ...

    def chunk_done(self, usage: Usage) -> None: ...

    def thread_done(self, usage: Usage) -> None: ...

    def close(self) -> None: ...


class NoProgress:
    def threads_found(self, count: int) -> None:
        pass

    def chunks_found(self, count: int) -> None:
        pass

    def chunk_done(self, usage: Usage) -> None:
        pass

    def thread_done(self, usage: Usage) -> None:
        pass

    def close(self) -> None:
        pass


class RichProgress:
    """Two bars (threads, chunks) and a running total of calls, tokens and cost."""

    def __init__(self, cost_of: Callable[[Usage], float | None]) -> None:
        self._cost_of = cost_of
        self._usage = Usage()
        self._progress = Progress(
            TextColumn("{task.description:>7}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._threads = self._progress.add_task("threads", total=0, detail="")
        self._chunks = self._progress.add_task("chunks", total=0, detail="")
        self._progress.start()

    def _detail(self) -> str:
        cost = self._cost_of(self._usage)
        spent = f", ${cost:.4f}" if cost else ""
        return (
            f"{self._usage.calls} calls ({self._usage.cached_calls} cached), "
            f"{self._usage.tokens_in}+{self._usage.tokens_out} tokens{spent}"
        )

    def threads_found(self, count: int) -> None:
        self._progress.update(self._threads, total=count)

    def chunks_found(self, count: int) -> None:
        total = self._progress.tasks[self._chunks].total or 0
        self._progress.update(self._chunks, total=total + count)

    def chunk_done(self, usage: Usage) -> None:
        self._usage.add(usage)
        self._progress.update(self._chunks, advance=1, detail=self._detail())

    def thread_done(self, usage: Usage) -> None:
        self._usage.add(usage)  # what the thread spent beyond its chunks (the summary)
        self._progress.update(self._threads, advance=1, detail="")
        self._progress.update(self._chunks, detail=self._detail())

    def log_line(self, kind: str, message: str) -> None:
        """A log line above the bars (writing to stderr directly would tear the live display)."""
        self._progress.console.print(log_line(kind, message), markup=False, highlight=False, soft_wrap=True)

    def close(self) -> None:
        self._progress.stop()
