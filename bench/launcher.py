"""Run commands from a small, fresh process, so that a child's peak RSS is its own.

On Linux a child's ``ru_maxrss`` is at least its parent's peak RSS when it was started: the exec that replaces
the forked (or vforked) copy records the old address space's high-water mark in the child's rusage
(``exec_mmap`` → ``setmax_mm_hiwater_rss``). A benchmark that has itself read a large file (run.json of
100,000 threads) would then report that size for every command it starts after, whatever the command used.
So the benchmark starts this script first, while it is small, and asks it to start each measured command.

Protocol: one JSON object a line on stdin, ``{"command": [...], "stdout": path or null}``; one line back
per command, ``{"wall", "cpu", "peak_kib", "code", "stderr"}`` (``stderr``: its last 2,000 characters).
Used by bench/scale.py through ``Launcher``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import IO, Any


class Launcher:
    """The client: starts the launcher process, then runs commands through it."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )

    def run(self, command: list[str], stdout: str | None = None) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"command": command, "stdout": stdout}) + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            raise SystemExit("the launcher process stopped")
        result: dict[str, Any] = json.loads(answer)
        return result

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait()


def run_one(command: list[str], stdout_path: str | None) -> dict[str, Any]:
    started = time.monotonic()
    stdout: IO[bytes] | int = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL  # noqa: SIM115
    try:
        child = subprocess.Popen(command, stdout=stdout, stderr=subprocess.PIPE)
        assert child.stderr is not None
        # Read stderr before waiting, so a chatty child never blocks on a full pipe; wait4 gives its own rusage.
        errors = child.stderr.read()
        _pid, status, usage = os.wait4(child.pid, 0)
    finally:
        if not isinstance(stdout, int):
            stdout.close()
    return {
        "wall": time.monotonic() - started,
        "cpu": usage.ru_utime + usage.ru_stime,
        "peak_kib": usage.ru_maxrss,
        "code": os.waitstatus_to_exitcode(status),
        "stderr": errors.decode(errors="replace")[-2000:],
    }


def serve() -> None:
    for line in sys.stdin:
        job = json.loads(line)
        sys.stdout.write(json.dumps(run_one(job["command"], job["stdout"])) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve()
