"""A run stopped part-way (Ctrl-C, workers that keep dying, a ConfigError from a thread) still writes run.json
for the threads that finished, says what stopped it, and replaces an earlier run's run.json."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import ROOT, make_threads, write_thread

from pipeline import jobs
from pipeline.cli import cli
from pipeline.errors import ConfigError, Terminated
from pipeline.extract_offline import OfflineExtractor
from pipeline.extract_openai import OpenAIExtractor
from pipeline.fakeserver import FakeOpenAIServer, FakeServerConfig
from pipeline.limiter import RateLimiter
from pipeline.load import load_inputs
from pipeline.models import Thread, Usage
from pipeline.outputs import RunRecord, brief_written_since, read_manifest, write_brief, write_run
from pipeline.runner import INTERRUPTED_EXIT_CODE, Runner
from pipeline.settings import RunConfig
from pipeline.thread import brief_thread, result_from_brief

# What an offline run's unfinished threads spent: nothing (no calls).
NOTHING_UNRECORDED = {"calls": 0, "cached_calls": 0, "tokens_in": 0, "tokens_out": 0, "cost_usd": 0.0}


def _earlier_run(folder: Path, out: Path) -> None:
    """A complete run of two threads, e0 and e1, into OUT: the stopped run must replace its run.json."""
    folder.mkdir(parents=True)
    for name in ("e0", "e1"):
        write_thread(folder / f"{name}.json", name, [("a", "ann", None, "Cats are better pets than dogs.")])
    result = CliRunner().invoke(cli, ["run", str(folder), "-o", str(out), "--backend", "offline", "-q"])
    assert result.exit_code == 0, result.stderr


def _this_runs_folders(out: Path, manifest: dict[str, Any]) -> set[str]:
    return {p.parent.name for p in out.glob("*/brief.json")} - set(manifest["earlier_thread_folders"])


def test_a_config_error_from_a_thread_stops_the_run_after_run_json_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _earlier_run(tmp_path / "earlier", tmp_path / "out")
    inputs = make_threads(tmp_path / "in", 6)
    real = jobs.brief_and_write

    async def refuse_t3(thread: Thread, *args: Any) -> Any:
        if thread.id == "t3":
            raise ConfigError("the endpoint refused the key: check OPENAI_API_KEY")
        return await real(thread, *args)

    monkeypatch.setattr("pipeline.runner.brief_and_write", refuse_t3)
    args = ["run", str(inputs), "-o", str(tmp_path / "out"), "--backend", "offline", "-q", "--concurrency", "1"]
    result = CliRunner().invoke(cli, args)

    assert result.exit_code == 2
    assert "threadbrief: error: the endpoint refused the key" in result.stderr
    assert "STOPPED" in result.stderr and "run.json records them" in result.stderr
    manifest = read_manifest(tmp_path / "out")
    listed = [t["id"] for t in manifest["threads"]]
    assert "t3" not in listed and listed and set(listed) <= {f"t{n}" for n in range(6)}
    assert set(listed) == _this_runs_folders(tmp_path / "out", manifest)  # every brief it wrote is listed
    assert manifest["stopped"] == {
        "error": "ConfigError",
        "reason": "the endpoint refused the key: check OPENAI_API_KEY",
        "exit_code": 2,
        "threads_not_run": 6 - len(listed),
        "recorded_from_briefs": 0,
        "unrecorded": NOTHING_UNRECORDED,
        "requests_cancelled": 0,
    }
    assert manifest["exit_code"] == 2 and manifest["totals"]["threads"] == len(listed)
    assert manifest["earlier_thread_folders"] == ["e0", "e1"]  # the earlier run's, not listed as this run's
    lines = (tmp_path / "out" / "claims.jsonl").read_text("utf-8").splitlines()
    assert lines and {json.loads(line)["thread_id"] for line in lines} <= set(listed)

    # report and export say that the run stopped, and which part of its input is missing
    site = tmp_path / "site"
    report = CliRunner().invoke(cli, ["report", str(tmp_path / "out"), "-o", str(site)])
    assert report.exit_code == 0, report.stderr
    assert "run stopped part-way" in report.stderr and f"{6 - len(listed)} thread(s)" in report.stderr
    index = (site / "index.html").read_text("utf-8")
    assert "This run stopped part-way" in index and "the endpoint refused the key" in index
    exported = CliRunner().invoke(cli, ["export", str(tmp_path / "out")])
    assert exported.exit_code == 0 and "run stopped part-way" in exported.stderr


def test_a_complete_run_says_nothing_of_a_stop(tmp_path: Path) -> None:
    _earlier_run(tmp_path / "in", tmp_path / "out")
    assert "stopped" not in read_manifest(tmp_path / "out")
    report = CliRunner().invoke(cli, ["report", str(tmp_path / "out"), "-o", str(tmp_path / "site")])
    assert "stopped" not in report.stderr
    assert "stopped part-way" not in (tmp_path / "site" / "index.html").read_text("utf-8")


class _WorkerKiller(Thread):
    """A thread whose unpickling in a worker exits that process, as an out-of-memory kill would."""

    def __reduce__(self) -> Any:
        return (os._exit, (3,))


def test_workers_that_keep_dying_stop_the_run_after_run_json_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _earlier_run(tmp_path / "earlier", tmp_path / "out")
    threads = load_inputs([make_threads(tmp_path / "in", 3 + jobs.MAX_DEATHS_IN_A_ROW)]).threads
    killers = [_WorkerKiller(**{f.name: getattr(t, f.name) for f in fields(Thread)}) for t in threads[3:]]

    class Stream(list[Thread]):
        errors: list[Any] = []
        notes: list[Any] = []

        def close(self) -> None:
            pass

    monkeypatch.setattr(Runner, "_survey", lambda self: (Stream(threads[:3] + killers), len(threads)))
    args = ["run", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--backend", "offline", "-q", "--jobs", "2"]
    result = CliRunner().invoke(cli, args)

    assert result.exit_code == 1
    assert "threads in a row each stopped their worker process" in result.stderr
    manifest = read_manifest(tmp_path / "out")
    entries = {t["id"]: t["status"] for t in manifest["threads"]}
    assert {"t0", "t1", "t2"} <= set(entries) and all(entries[t] == "complete" for t in ("t0", "t1", "t2"))
    assert all(status == "failed" for name, status in entries.items() if name not in ("t0", "t1", "t2"))
    assert manifest["stopped"]["error"] == "WorkersKeepDying"
    assert manifest["stopped"]["threads_not_run"] == len(threads) - len(entries) > 0
    assert manifest["exit_code"] == 1 and manifest["earlier_thread_folders"] == ["e0", "e1"]


def test_an_interrupted_pass_records_the_threads_that_finished_and_none_after(tmp_path: Path) -> None:
    inputs = make_threads(tmp_path / "in", 400)
    out = tmp_path / "out"
    config = RunConfig(inputs=[inputs], out=out, backend="offline", concurrency=1, jobs=1)  # in this process
    runner = Runner(config, OfflineExtractor())

    async def interrupt_after_some() -> Any:
        task = asyncio.create_task(runner.run())
        for _ in range(20_000):  # bounded: the first briefs come within a second or two
            if len(list(out.glob("*/brief.json"))) >= 5 or task.done():
                break
            await asyncio.sleep(0.001)
        task.cancel()  # what asyncio.run does on Ctrl-C
        return await task

    report = asyncio.run(interrupt_after_some())
    assert isinstance(report.stop, asyncio.CancelledError)
    try:
        write_run(out, report.manifest, report.record)
    finally:
        report.record.close()
    manifest = read_manifest(out)
    listed = {t["id"] for t in manifest["threads"]}
    assert 5 <= len(listed) < 400
    assert listed == {p.parent.name for p in out.glob("*/brief.json")}  # a brief written is a brief listed
    assert manifest["stopped"] == {
        "error": "KeyboardInterrupt",
        "reason": "interrupted (Ctrl-C or SIGINT)",
        "exit_code": INTERRUPTED_EXIT_CODE,
        "threads_not_run": 400 - len(listed),
        "recorded_from_briefs": 0,
        "unrecorded": NOTHING_UNRECORDED,
        "requests_cancelled": 0,
    }
    with pytest.raises(KeyboardInterrupt):
        report.raise_stop()


def _stopped_run(tmp_path: Path, jobs: int, send: Callable[[int], None]) -> tuple[int, str, Path]:
    """A run of 3,000 small threads in a process of its own, sent a signal once 20 briefs are written."""
    inputs = make_threads(tmp_path / "in", 3000)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "pipeline", "run", str(inputs), "-o", str(out), "-q", "--jobs", str(jobs)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            if sum(1 for _ in out.glob("*/brief.json")) >= 20:
                break
            time.sleep(0.05)
        assert process.poll() is None, "the run ended before it could be stopped"
        send(process.pid)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process.returncode, stderr, out


def test_sigterm_stops_a_run_as_ctrl_c_does_and_exits_143(tmp_path: Path) -> None:
    """SIGTERM to the run's process alone, as `timeout` or a container's stop sends it."""
    code, stderr, out = _stopped_run(tmp_path, 1, lambda pid: os.kill(pid, signal.SIGTERM))
    assert code == Terminated.exit_code == 143, stderr
    assert "threadbrief: error: terminated (SIGTERM)" in stderr and "Traceback" not in stderr
    manifest = read_manifest(out)
    listed = {t["id"] for t in manifest["threads"]}
    assert 20 <= len(listed) < 3000 and listed == {p.parent.name for p in out.glob("*/brief.json")}
    assert manifest["stopped"]["error"] == "Terminated" and manifest["exit_code"] == 143
    assert manifest["stopped"]["threads_not_run"] == 3000 - len(listed)


def test_ctrl_c_on_a_run_in_workers_writes_run_json_and_exits_130(tmp_path: Path) -> None:
    """Ctrl-C as a terminal sends it: SIGINT to the whole process group, workers included."""
    code, stderr, out = _stopped_run(tmp_path, 2, lambda pid: os.killpg(pid, signal.SIGINT))
    assert code == INTERRUPTED_EXIT_CODE, stderr
    assert "threadbrief: interrupted" in stderr and "Traceback" not in stderr
    manifest = read_manifest(out)
    listed = {t["id"] for t in manifest["threads"]}
    assert 20 <= len(listed) < 3000
    # the batches the workers were running when Ctrl-C came finished, and are listed with the rest
    assert listed == {p.parent.name for p in out.glob("*/brief.json")}
    assert manifest["stopped"]["threads_not_run"] == 3000 - len(listed)
    assert not list(out.glob(".*.tmp"))  # the run record and temp files are gone


def test_sigterm_to_the_process_group_of_a_run_in_workers_lists_every_brief_it_wrote(tmp_path: Path) -> None:
    """SIGTERM to the whole group, as systemd stops a service: the workers die with their batches half done,
    after some of those threads wrote their brief. Those are this run's briefs: run.json lists them (made from
    the brief), never as an earlier run's folders."""
    code, stderr, out = _stopped_run(tmp_path, 2, lambda pid: os.killpg(pid, signal.SIGTERM))
    assert code == Terminated.exit_code == 143, stderr
    assert "Traceback" not in stderr
    manifest = read_manifest(out)
    listed = {t["id"] for t in manifest["threads"]}
    assert 20 <= len(listed) < 3000
    assert manifest["earlier_thread_folders"] == []
    assert listed == {p.parent.name for p in out.glob("*/brief.json")}
    assert manifest["stopped"]["threads_not_run"] == 3000 - len(listed)
    assert 0 <= manifest["stopped"]["recorded_from_briefs"] <= 2 * jobs.MAX_BATCH
    for entry in manifest["threads"]:  # an entry made from a brief is the entry the run would have made
        brief = json.loads((out / entry["brief"]).read_text("utf-8"))
        assert (entry["status"], entry["claims"], entry["relations"]) == (
            brief["status"],
            len(brief["claims"]),
            len(brief["relations"]),
        )
    rows = (out / "claims.jsonl").read_text("utf-8").splitlines()
    assert {json.loads(row)["thread_id"] for row in rows} == listed
    place = {thread.id: n for n, thread in enumerate(load_inputs([tmp_path / "in"]).threads)}
    ids = [t["id"] for t in manifest["threads"]]
    assert ids == sorted(ids, key=place.__getitem__)  # in input order, those recorded from a brief too


def _german_thread(path: Path) -> Path:
    # A language the offline extractor does not read: its brief is partial, with a failure to carry over.
    posts = [
        ("a", "anna", None, "Ich glaube, dass die Stadt mehr Radwege bauen sollte, weil der Verkehr zu dicht ist."),
        ("b", "ben", "a", "Das sehe ich anders, denn die Straßen sind schon jetzt viel zu schmal für neue Wege."),
    ]
    return write_thread(path, "de1", posts, title="Radwege in der Stadt")


def test_a_brief_gives_back_the_result_its_thread_had(tmp_path: Path) -> None:
    inputs = make_threads(tmp_path / "in", 3)
    _german_thread(inputs / "de1.json")
    runner = Runner(RunConfig(inputs=[inputs], out=tmp_path / "out", backend="offline"), OfflineExtractor())
    statuses = set()
    for thread in load_inputs([inputs, ROOT / "seeds"]).threads:
        result, brief = asyncio.run(brief_thread(thread, runner.answers, runner.tokenizer, runner.thread_settings))
        assert brief is not None
        # The run's result is made from its brief (thread._finish), and one read back from the file is the same.
        assert result_from_brief(json.loads(json.dumps(brief))) == result
        assert (result.thread_id, result.input_path, result.brief_written) == (thread.id, thread.input_path, True)
        assert bool(result.failures) == (result.status == "partial")  # the German thread's failure is carried
        statuses.add(result.status)
    assert statuses == {"complete", "partial"}


def test_a_brief_written_since_is_a_fresh_one_with_both_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    runner = Runner(RunConfig(inputs=[tmp_path], out=out, backend="offline"), OfflineExtractor())
    threads = load_inputs([make_threads(tmp_path / "in", 3)]).threads
    briefs = {}
    for thread in threads:
        _, briefs[thread.id] = asyncio.run(
            brief_thread(thread, runner.answers, runner.tokenizer, runner.thread_settings)
        )
    write_brief(out, briefs["t0"])  # an earlier run's
    old = time.time_ns() - 10**9
    for name in ("brief.json", "brief.md"):
        os.utime(out / "t0" / name, ns=(old, old))
    record = RunRecord(out)
    try:
        write_brief(out, briefs["t1"])
        write_brief(out, briefs["t2"])
        (out / "t2" / "brief.json").unlink()  # its worker ended between its two files (the Markdown is first)
        found = {name: brief_written_since(out, name, record.created_ns) for name in ("t0", "t1", "t2", "t3")}
    finally:
        record.close()
    assert found == {"t0": None, "t1": briefs["t1"], "t2": None, "t3": None}


def test_an_llm_run_stopped_part_way_says_what_its_unfinished_threads_spent(tmp_path: Path) -> None:
    """Ctrl-C in an LLM run: threads in flight had answers back (billed) that no thread entry counts, and
    requests on the wire were cancelled. run.json's stopped says both, and they add up with the server's count."""
    inputs = make_threads(tmp_path / "in", 80)  # each thread: an extraction, then a summary
    out = tmp_path / "out"
    with FakeOpenAIServer(FakeServerConfig(latency=0.05, jitter=0.05, seed=5)) as server:
        extractor = OpenAIExtractor(
            model="gpt-4o-mini", api_key="sk-fake-7", base_url=server.base_url, limiter=RateLimiter(), output_budget=200
        )
        lines: list[str] = []
        config = RunConfig(inputs=[inputs], out=out, use_cache=False, concurrency=8)
        runner = Runner(config, extractor, log=lambda mark, text: lines.append(f"{mark} {text}"))

        async def interrupt_after_some() -> Any:
            task = asyncio.create_task(runner.run())
            for _ in range(20_000):  # bounded: the first briefs come within a second
                if len(list(out.glob("*/brief.json"))) >= 5 or task.done():
                    break
                await asyncio.sleep(0.001)
            task.cancel()
            return await task

        report = asyncio.run(interrupt_after_some())
        received = server.stats.requests
    try:
        write_run(out, report.manifest, report.record)
    finally:
        report.record.close()
    manifest = read_manifest(out)
    totals, stopped = manifest["totals"], manifest["stopped"]
    assert 5 <= totals["threads"] < 80 and stopped["threads_not_run"] == 80 - totals["threads"]
    unrecorded = stopped["unrecorded"]
    assert unrecorded["calls"] > 0 and unrecorded["tokens_in"] > 0 and (unrecorded["cost_usd"] or 0) > 0
    answered = totals["calls"] + unrecorded["calls"]  # every answer read, finished thread or not
    assert answered <= received <= answered + stopped["requests_cancelled"]
    note = f"threads that did not finish made {unrecorded['calls']} call(s)"
    assert any(line.startswith(f"NOTE {note}") for line in lines), lines[-3:]


def test_what_every_answer_cost_is_the_totals_when_every_thread_finishes(tmp_path: Path) -> None:
    """The run-wide tally and the thread entries count the same answers: their difference, which a stopped run
    reports, is nothing for a run that ends, even with identical questions shared in flight."""
    inputs = make_threads(tmp_path / "in", 6)
    for n in range(3):  # copies under other ids: the same questions, asked while the first are in flight
        text = (inputs / f"t{n}.json").read_text("utf-8").replace(f'"id": "t{n}"', f'"id": "copy{n}"')
        (inputs / f"copy{n}.json").write_text(text, "utf-8")
    with FakeOpenAIServer(FakeServerConfig(latency=0.05, seed=2)) as server:
        extractor = OpenAIExtractor(
            model="gpt-4o-mini", api_key="sk-fake-7", base_url=server.base_url, limiter=RateLimiter(), output_budget=200
        )
        runner = Runner(RunConfig(inputs=[inputs], out=tmp_path / "out", use_cache=False, concurrency=16), extractor)
        report = asyncio.run(runner.run())
        report.record.close()
    totals = report.manifest["totals"]
    assert totals["complete"] == 9 and "stopped" not in report.manifest
    assert server.stats.requests == totals["calls"] < 18  # the copies' questions were shared, not sent again
    assert runner.tally.spent == Usage(
        totals["calls"], totals["cached_calls"], totals["tokens_in"], totals["tokens_out"]
    )
