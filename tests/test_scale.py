"""Memory that does not grow with the run: the run record (run.json and the flat files streamed from disk in
input order), the runner's window of threads in flight, and a Reddit dump regrouped into threads through
a spill file. The sizes are small (seconds); `make bench-scale` measures peak memory at 1,000+ threads."""

from __future__ import annotations

import asyncio
import gzip
import json
import random
import tempfile
from pathlib import Path
from typing import Any

import pytest
from conftest import make_threads

from pipeline import runner as runner_module
from pipeline.export import to_jsonl
from pipeline.extract_offline import OfflineExtractor
from pipeline.load import InputStream, load_inputs
from pipeline.models import Failure, Thread, Usage
from pipeline.outputs import RunHeader, RunRecord, read_manifest, thread_entry
from pipeline.runner import Runner, run
from pipeline.settings import RunConfig
from pipeline.thread import ThreadResult

HEADER: RunHeader = {
    "threadbrief_version": "0",
    "started_at": "s",
    "finished_at": "f",
    "seconds": 1.5,
    "backend": "offline",
    "model": None,
    "base_url": None,
    "settings": {"max_chunk_tokens": 6000, "nested": {"list": [1, 2], "empty": []}},
    "prompts": [{"name": "extract_user", "sha256": "ab"}],
    "schemas": {"brief": "cd"},
}


def result(n: int, status: str = "complete") -> ThreadResult:
    return ThreadResult(
        f"t{n}",
        f"in/t{n}.json",
        status,  # type: ignore[arg-type]
        True,
        claims=n,
        failures=[Failure("extract", "c001", "a reason with\na newline and ü")] if status != "complete" else [],
        usage=Usage(calls=n, tokens_in=10 * n),
        claims_jsonl=to_jsonl({"thread_id": f"t{n}", "claim_id": f"C{k}"} for k in range(n)),
        relations_jsonl=to_jsonl([{"thread_id": f"t{n}", "source": "C1", "target": "C0"}] if n > 1 else []),
    )


def test_the_record_writes_run_json_as_one_dump_of_the_whole_would_in_input_order(tmp_path: Path) -> None:
    record = RunRecord(tmp_path)
    results = {n: result(n, "partial" if n == 2 else "complete") for n in range(4)}
    for n in (2, 0, 3, 1):  # finished out of order
        record.add(n, results[n], "t 1" if n == 1 else None)
    # A note holding what the splice point looks like, as text: it must stay text.
    note = type("Note", (), {"where": "x", "thread": None, "reason": 'threads": [\n    "\u0000threads\u0000"'})()
    summary = record.summary(HEADER, [], [note], ["old"], lambda usage: usage.calls * 0.5, 3)  # type: ignore[list-item]
    record.write(tmp_path, summary)
    record.close()

    entries = [thread_entry(results[n], "t 1" if n == 1 else None) for n in range(4)]
    whole = {**HEADER, "threads": entries, **{k: v for k, v in summary.items() if k not in HEADER}}
    assert (tmp_path / "run.json").read_text(encoding="utf-8") == json.dumps(whole, ensure_ascii=False, indent=2) + "\n"
    assert summary["totals"]["threads"] == 4 and summary["totals"]["partial"] == 1 and summary["exit_code"] == 1
    assert summary["totals"]["calls"] == 6 and summary["totals"]["cost_usd"] == 3.0
    claims = [json.loads(line) for line in (tmp_path / "claims.jsonl").read_text().splitlines()]
    assert [(c["thread_id"], c["claim_id"]) for c in claims] == [(f"t{n}", f"C{k}") for n in range(4) for k in range(n)]
    relations = (tmp_path / "relations.jsonl").read_text().splitlines()
    assert [json.loads(r)["thread_id"] for r in relations] == ["t2", "t3"]
    assert list(tmp_path.glob(".run-record.*")) == []  # the scratch file is gone


def test_a_record_of_no_thread_writes_an_empty_list(tmp_path: Path) -> None:
    record = RunRecord(tmp_path)
    summary = record.summary(HEADER, [], [], [], lambda usage: None, 0)
    record.write(tmp_path, summary)
    record.close()
    whole = {**HEADER, "threads": [], **{k: v for k, v in summary.items() if k not in HEADER}}
    assert (tmp_path / "run.json").read_text() == json.dumps(whole, indent=2) + "\n"
    assert (tmp_path / "claims.jsonl").read_text() == "" and summary["exit_code"] == 0


def test_the_runner_keeps_a_window_of_threads_in_flight_and_records_them_in_input_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs = make_threads(tmp_path / "in", 9)
    monkeypatch.setattr(runner_module, "window_size", lambda concurrency: 3)
    in_flight, peak, finished = 0, 0, []
    delays = random.Random(16)
    original = Runner._thread

    async def slow_thread(self: Runner, thread: Thread) -> ThreadResult:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(delays.random() * 0.02)  # threads finish out of input order
        outcome = await original(self, thread)
        in_flight -= 1
        finished.append(thread.id)
        return outcome

    monkeypatch.setattr(Runner, "_thread", slow_thread)
    exit_code, summary = run(RunConfig(inputs=[inputs], out=tmp_path / "out", backend="offline"), OfflineExtractor())
    order = [thread.id for thread in load_inputs([inputs]).threads]
    assert exit_code == 0 and summary["totals"]["complete"] == 9 and "threads" not in summary
    assert peak == 3 and finished != order  # a window of 3, and they did finish out of order ...
    assert [t["id"] for t in read_manifest(tmp_path / "out")["threads"]] == order  # ... recorded in input order
    claims = [json.loads(line)["thread_id"] for line in (tmp_path / "out" / "claims.jsonl").read_text().splitlines()]
    assert sorted(set(claims), key=claims.index) == order


# --- a Reddit dump regrouped through the spill file ------------------------------------------------------


def dump_records(rng: random.Random) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """Submissions named in the order zeta, alpha, mid (not alphabetical), their comments interleaved and
    given out of time order; the expected comment ids per thread, in time order."""
    threads = ["zeta", "alpha", "mid"]
    records: list[dict[str, Any]] = [
        {"id": name, "title": f"About {name}", "selftext": f"{name} is right.", "subreddit": "cmv"} for name in threads
    ]
    comments = [(name, k) for name in threads for k in range(12)]
    rng.shuffle(comments)
    for name, k in comments:
        records.append(
            {
                "id": f"{name}{k}",
                "link_id": f"t3_{name}",
                "parent_id": f"t1_{name}{k - 1}" if k else f"t3_{name}",
                "author": f"user{k % 3}",
                "body": f"Reply {k} to {name}: I disagree.",
                "created_utc": 1000 + k,
            }
        )
    records.append(dict(records[5]))  # a repeated record
    # The loader puts the title first (the opening post says something else), then the submission.
    expected = {f"reddit-{name}": ["title", name, *(f"{name}{k}" for k in range(12))] for name in threads}
    return records, expected


def test_a_compressed_reddit_dump_comes_out_as_complete_threads_in_a_fixed_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "scratch"))
    (tmp_path / "scratch").mkdir()
    records, expected = dump_records(random.Random(6))
    dump = tmp_path / "RC_test.jsonl.gz"
    with gzip.open(dump, "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in records)

    stream = InputStream([dump])
    first = [(t.id, [p.id for p in t.posts]) for t in stream]
    second = [(t.id, [p.id for p in t.posts]) for t in stream]  # a second pass reads the dump again
    assert first == second == list(expected.items())  # first-named order, every comment, in time order
    assert any("repeated" in n.reason for n in stream.notes) and stream.errors == []
    assert list((tmp_path / "scratch").iterdir()) == []  # the spill file is removed after each pass


def test_a_pass_abandoned_half_way_removes_its_spill_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "scratch"))
    (tmp_path / "scratch").mkdir()
    records, _expected = dump_records(random.Random(7))
    dump = tmp_path / "dump.jsonl"
    dump.write_text("".join(json.dumps(r) + "\n" for r in records))
    threads = iter(InputStream([dump]))
    assert next(threads).id == "reddit-zeta"
    assert len(list((tmp_path / "scratch").iterdir())) == 1
    threads.close()  # type: ignore[attr-defined]
    assert list((tmp_path / "scratch").iterdir()) == []
