"""--jobs: the offline run in worker processes writes what one process writes, in the same order."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures.process import BrokenProcessPool
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import CMV_THREADS, SEEDS, blank_keys, need

from pipeline import jobs
from pipeline.cli import cli
from pipeline.errors import WorkersKeepDying
from pipeline.extract_offline import OfflineExtractor
from pipeline.jobs import ThreadPool, WorkerSetup
from pipeline.load import load_inputs
from pipeline.models import Thread, Usage
from pipeline.runner import THREADS_PER_DEFAULT_JOB, Runner
from pipeline.settings import RunConfig

RUN_SPECIFIC = ("created_at", "seconds", "started_at", "finished_at")


def _scrub(value: Any) -> Any:
    return blank_keys(value, RUN_SPECIFIC)


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeds and the first 16 cmv-dev threads: threads of several sizes, so workers finish out of order."""
    need(CMV_THREADS.is_dir(), "../shared/eval/cmv-dev")
    folder = tmp_path_factory.mktemp("jobs-in")
    for path in sorted(SEEDS.iterdir()):
        shutil.copy(path, folder)
    for path in sorted(CMV_THREADS.glob("*.json"))[:16]:
        shutil.copy(path, folder)
    return folder


def _run(inputs: Path, out: Path, jobs: int) -> None:
    args = ["run", str(inputs), "-o", str(out), "--backend", "offline", "-q", "--jobs", str(jobs)]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr


def test_two_jobs_write_the_files_one_job_writes(inputs: Path, tmp_path: Path) -> None:
    _run(inputs, tmp_path / "one", 1)
    _run(inputs, tmp_path / "two", 2)
    one, two = _files(tmp_path / "one"), _files(tmp_path / "two")
    # brief.json and brief.md per thread; run.json, claims.jsonl, relations.jsonl
    assert sorted(one) == sorted(two) and len(one) == 2 * 21 + 3
    for name, content in one.items():
        if name.endswith("brief.json") or name == "run.json":  # they hold the run's timestamps and seconds
            assert _scrub(json.loads(content)) == _scrub(json.loads(two[name])), name
        else:  # Markdown briefs, claims.jsonl, relations.jsonl: byte for byte
            assert content == two[name], name
    ids = [entry["id"] for entry in json.loads(two["run.json"])["threads"]]
    assert ids == [t.id for t in load_inputs([inputs]).threads]


class CountingProgress:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def _add(self, name: str, amount: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + amount

    def threads_found(self, count: int) -> None:
        self._add("threads_found", count)

    def chunks_found(self, count: int) -> None:
        self._add("chunks_found", count)

    def chunk_done(self, usage: Usage) -> None:
        self._add("chunk_done")

    def thread_done(self, usage: Usage) -> None:
        self._add("thread_done")

    def close(self) -> None:
        pass


class BrokenPrice:
    """A price that raises: every thread breaks in its worker, after its chain ran (a module-level class,
    so a worker can unpickle it)."""

    def __call__(self, usage: Usage) -> float | None:
        raise ZeroDivisionError("price table broken on purpose")


def _pool_results(inputs: Path, out: Path, broken: bool = False) -> tuple[list[Any], CountingProgress, list[str]]:
    threads = load_inputs([inputs]).threads
    runner = Runner(RunConfig(inputs=[inputs], out=out, backend="offline"), OfflineExtractor())
    settings = replace(runner.thread_settings, price=BrokenPrice()) if broken else runner.thread_settings
    progress = CountingProgress()

    async def collect() -> list[Any]:
        pool = ThreadPool(WorkerSetup(out, None, settings), 2)
        # A generator, as the runner hands a streamed input: the pool must not need a list.
        return [result async for _, result in pool.results(iter(threads), len(threads), progress)]

    return asyncio.run(collect()), progress, [t.id for t in threads]


def test_pool_gives_results_in_input_order_and_replays_progress(inputs: Path, tmp_path: Path) -> None:
    results, progress, ids = _pool_results(inputs, tmp_path)
    assert [r.thread_id for r in results] == ids
    assert all(r.status == "complete" and (tmp_path / r.thread_id / "brief.md").is_file() for r in results)
    assert progress.counts["thread_done"] == len(ids)
    assert progress.counts["chunk_done"] == progress.counts["chunks_found"] >= len(ids)


def test_a_thread_that_breaks_in_a_worker_is_its_own_failure(inputs: Path, tmp_path: Path) -> None:
    results, progress, ids = _pool_results(inputs, tmp_path, broken=True)
    assert [r.thread_id for r in results] == ids
    assert {r.status for r in results} == {"failed"}
    assert all(r.failures[0].reason == "ZeroDivisionError: price table broken on purpose" for r in results)
    assert not list(tmp_path.glob("*/brief.json"))


class WorkerKiller(Thread):
    """A thread that stops the worker process it is sent to: unpickling it there exits that process, as an
    out-of-memory kill or a crash in native code would."""

    def __reduce__(self) -> Any:
        return (os._exit, (3,))


def _killer(thread: Thread) -> WorkerKiller:
    return WorkerKiller(**{f.name: getattr(thread, f.name) for f in fields(Thread)})


def _pool_run(threads: list[Thread], out: Path) -> tuple[list[Any], CountingProgress]:
    runner = Runner(RunConfig(inputs=[], out=out, backend="offline"), OfflineExtractor())
    progress = CountingProgress()

    async def collect() -> list[Any]:
        pool = ThreadPool(WorkerSetup(out, None, runner.thread_settings), 2)
        return [result async for _, result in pool.results(iter(threads), len(threads), progress)]

    return asyncio.run(collect()), progress


def test_a_thread_that_kills_its_worker_fails_alone_and_the_others_get_their_briefs(
    inputs: Path, tmp_path: Path
) -> None:
    threads = load_inputs([inputs]).threads
    threads[4] = _killer(threads[4])  # its batch, and the batches in flight beside it, die with the worker
    results, progress = _pool_run(threads, tmp_path)
    assert [r.thread_id for r in results] == [t.id for t in threads]
    assert results[4].status == "failed"
    assert "worker process died" in results[4].failures[0].reason
    others = results[:4] + results[5:]
    assert all(r.status == "complete" and (tmp_path / r.thread_id / "brief.json").is_file() for r in others)
    assert not (tmp_path / threads[4].id).exists()
    assert progress.counts["thread_done"] == len(threads)


@pytest.mark.parametrize(
    "failure",
    [
        BrokenProcessPool("A child process terminated abruptly"),
        # What starting a worker raises when its forkserver has just died (SIGTERM sent to the process group)
        EOFError("unexpected EOF"),
        ConnectionRefusedError(111, "Connection refused"),
    ],
)
def test_a_pool_found_broken_as_a_batch_is_submitted_runs_the_lost_threads_again(
    inputs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: BaseException
) -> None:
    """A worker can die between one result and the next submit, or fail to start: then ``submit`` itself raises
    (seen under load, and when the forkserver was killed)."""
    threads = load_inputs([inputs]).threads[:6]
    make_pool, submits = ThreadPool._pool, []

    class BreaksOnTheThirdSubmit:
        def __init__(self, pool: Any) -> None:
            self.pool = pool

        def submit(self, *args: Any) -> Any:
            submits.append(args)
            if len(submits) == 3:
                raise failure
            return self.pool.submit(*args)

        def shutdown(self, **options: Any) -> None:
            self.pool.shutdown(**options)

    monkeypatch.setattr(ThreadPool, "_pool", lambda self, workers: BreaksOnTheThirdSubmit(make_pool(self, workers)))
    results, progress = _pool_run(threads, tmp_path)
    assert len(submits) > len(threads)  # the lost batches were sent again
    assert [r.thread_id for r in results] == [t.id for t in threads]
    assert all(r.status == "complete" for r in results)
    assert progress.counts["thread_done"] == len(threads)


def test_workers_that_cannot_be_started_stop_the_run_and_fail_no_thread(
    inputs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class NoWorkerStarts:
        def submit(self, *args: Any) -> Any:
            raise EOFError("unexpected EOF")

        def shutdown(self, **options: Any) -> None:
            pass

    monkeypatch.setattr(ThreadPool, "_pool", lambda self, workers: NoWorkerStarts())
    with pytest.raises(WorkersKeepDying, match=r"could not be started \(EOFError: unexpected EOF\): run with --jobs 1"):
        _pool_run(load_inputs([inputs]).threads[:4], tmp_path)


def test_workers_that_die_on_every_thread_stop_the_run(inputs: Path, tmp_path: Path) -> None:
    threads = [_killer(t) for t in load_inputs([inputs]).threads[: jobs.MAX_DEATHS_IN_A_ROW + 1]]
    with pytest.raises(WorkersKeepDying, match="--jobs 1"):
        _pool_run(threads, tmp_path)


def test_default_jobs_are_the_cores_a_run_can_keep_busy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(jobs, "available_cores", lambda: 4)
    monkeypatch.setattr("pipeline.runner.available_cores", lambda: 4)
    offline = Runner(RunConfig(inputs=[], out=tmp_path, backend="offline"), OfflineExtractor())
    few, many = 3, 10 * THREADS_PER_DEFAULT_JOB
    assert offline.jobs_for(few) == 1
    assert offline.jobs_for(many) == 4
    asked = Runner(RunConfig(inputs=[], out=tmp_path, backend="offline", jobs=3), OfflineExtractor())
    assert asked.jobs_for(many) == 3
    assert asked.jobs_for(2) == 2  # never more workers than threads


def test_available_cores_is_a_positive_count() -> None:
    assert jobs.available_cores() >= 1


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_workers_exit_when_the_runner_is_killed(inputs: Path, tmp_path: Path) -> None:
    """kill -9 reaches no shutdown: the workers (children of the forkserver) must notice and exit."""
    need(Path("/proc/self/stat").exists(), "/proc (Linux)")
    corpus = tmp_path / "in"
    corpus.mkdir()
    for copy in range(30):  # enough threads that the run is still going when it is killed
        for path in sorted(inputs.glob("*.json")):
            thread = json.loads(path.read_text(encoding="utf-8"))
            thread["id"] = f"{thread['id']}-{copy}"
            (corpus / f"{thread['id']}.json").write_text(json.dumps(thread), encoding="utf-8")
    command = [sys.executable, "-m", "pipeline", "run", str(corpus), "-o", str(tmp_path / "out")]
    runner = subprocess.Popen([*command, "--backend", "offline", "-q", "--jobs", "2"], stderr=subprocess.DEVNULL)
    workers: list[int] = []
    try:
        for _ in range(300):  # up to 30 s for the first brief: the workers are running threads
            if list((tmp_path / "out").glob("*/brief.json")):
                workers = [w for server in _children(runner.pid) for w in _children(server)]
                break
            time.sleep(0.1)
        assert len(workers) == 2 and runner.poll() is None, "the run ended before it could be killed"
    finally:
        runner.kill()
        runner.wait()
    for _ in range(100):  # up to 10 s
        if not any(_alive(w) for w in workers):
            break
        time.sleep(0.1)
    assert not any(_alive(w) for w in workers)


def _alive(pid: int) -> bool:
    try:  # an exited process not yet reaped is a zombie ("Z"): gone, all the same
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
