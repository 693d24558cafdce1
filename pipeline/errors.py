"""The error hierarchy: each message names the fix; the CLI prints it as one line and exits.

Exit codes: 2 for usage or configuration errors (nothing ran, or a configuration error met mid-run stopped
it), 1 for a run where some thread did not complete, 130 for a run interrupted by Ctrl-C (SIGINT), 143 for one
sent SIGTERM. A run
stopped part-way has written run.json for the threads that finished first (``runner``).
"""

from __future__ import annotations

from .models import Usage


class ThreadbriefError(Exception):
    """Base class. ``exit_code`` is what the CLI exits with when this reaches it."""

    exit_code = 1


class ConfigError(ThreadbriefError):
    """Bad options or environment: nothing was run."""

    exit_code = 2


class InputError(ThreadbriefError):
    """One input file (or one line of it) cannot be read as a thread; the other threads still run."""

    MAX_REASON = 400  # a reason quotes at most this much: a message never echoes a whole file

    def __init__(self, path: str, reason: str, line: int | None = None) -> None:
        self.path = path
        self.line = line
        self.reason = reason if len(reason) <= self.MAX_REASON else reason[: self.MAX_REASON - 1] + "…"
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {self.reason}")


class ExtractionError(ThreadbriefError):
    """A chunk could not be extracted after the allowed retries and re-asks. ``usage`` is what the
    attempts cost, so a failure is still counted in the run's calls and tokens."""

    def __init__(self, reason: str, *, usage: Usage | None = None) -> None:
        self.usage = usage if usage is not None else Usage()
        super().__init__(reason)


class WorkersKeepDying(ThreadbriefError):
    """--jobs: worker processes die on every thread they are given, so the run stops (a thread that stops
    its worker once is only that thread's failure)."""


class Terminated(ThreadbriefError):
    """The run was sent SIGTERM (``timeout``, a container stopping, a process manager): it stopped as Ctrl-C
    stops it, after writing run.json for the threads that finished."""

    exit_code = 143  # 128 + SIGTERM, as a shell reports a process it ended


class OutputError(ThreadbriefError):
    """The output directory cannot be written."""

    exit_code = 2


class BatchError(ThreadbriefError):
    """A Files or Batches API call failed after its retries, or a batch request cannot be sent."""
