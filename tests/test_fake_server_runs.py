"""Whole runs against the project's fake OpenAI-compatible server on 127.0.0.1 (started and stopped here)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from conftest import grounded_everywhere, make_threads

from pipeline.extract_openai import OpenAIExtractor
from pipeline.fakeserver import FakeOpenAIServer, FakeServerConfig
from pipeline.limiter import RateLimiter
from pipeline.runner import RunConfig, run

KEY = "sk-fake-server-key-7"


def extractor(server: FakeOpenAIServer, rpm: float | None = None) -> OpenAIExtractor:
    return OpenAIExtractor(
        model="gpt-4o-mini", api_key=KEY, base_url=server.base_url, limiter=RateLimiter(rpm=rpm), output_budget=200
    )


def test_a_429_storm_completes_every_thread_and_a_warm_rerun_makes_no_call(tmp_path: Path) -> None:
    inputs = make_threads(tmp_path / "in", 8)
    config = RunConfig(inputs=[inputs], out=tmp_path / "out", cache_dir=tmp_path / "cache", concurrency=4)
    with FakeOpenAIServer(FakeServerConfig(rate_429=0.2, retry_after=0.01, seed=3)) as server:
        exit_code, manifest = run(config, extractor(server))
        assert exit_code == 0 and manifest["totals"]["complete"] == 8
        assert manifest["totals"]["rate_limited"] == server.stats.statuses[429] > 0
        assert server.stats.answered == {"extraction": 8, "summary": 8}
        for brief_path in (tmp_path / "out").glob("*/brief.json"):
            brief = json.loads(brief_path.read_text())
            assert grounded_everywhere(brief) and brief["relations"]  # the fake rebuts the opening post
        requests = server.stats.requests
        exit_code, manifest = run(config, extractor(server))
        assert exit_code == 0 and server.stats.requests == requests  # warm: zero HTTP calls
        assert (manifest["totals"]["calls"], manifest["totals"]["cached_calls"]) == (0, 16)


def test_server_side_limits_pause_the_run_and_client_limits_avoid_them(tmp_path: Path) -> None:
    inputs = make_threads(tmp_path / "in", 5)  # 10 requests
    with FakeOpenAIServer(FakeServerConfig(rpm=240)) as server:  # 4 per second, a burst of 8
        started = time.monotonic()
        exit_code, manifest = run(
            RunConfig(inputs=[inputs], out=tmp_path / "o1", use_cache=False, concurrency=8), extractor(server)
        )
        assert exit_code == 0 and server.stats.statuses.get(429, 0) > 0
        assert manifest["totals"]["rate_limited"] == server.stats.statuses[429]
        assert time.monotonic() - started >= 0.45  # (10 - 8) requests at 4 per second
    with FakeOpenAIServer(FakeServerConfig(rpm=120)) as server:
        exit_code, manifest = run(
            RunConfig(inputs=[inputs], out=tmp_path / "o2", use_cache=False, concurrency=8), extractor(server, rpm=110)
        )
        assert exit_code == 0 and server.stats.statuses.get(429, 0) == 0
        assert manifest["totals"]["rate_limited"] == 0


def test_killed_mid_run_then_rerun_redoes_only_unfinished_chunks(tmp_path: Path, report_case: Any) -> None:
    report_case("endpoint", "SIGKILL mid-run, then a re-run", "only unfinished chunks redone; no temp or half file")
    inputs = make_threads(tmp_path / "in", 10)
    out, cache = tmp_path / "out", tmp_path / "cache"
    with FakeOpenAIServer(FakeServerConfig(latency=0.15)) as server:
        command = [
            sys.executable,
            "-c",
            "from pipeline.cli import main; main()",
            "run",
            str(inputs),
            "-o",
            str(out),
            "--cache-dir",
            str(cache),
            "--base-url",
            server.base_url,
            "--concurrency",
            "1",
            "--quiet",
        ]
        child = subprocess.Popen(command, env={**os.environ, "OPENAI_API_KEY": KEY}, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while server.stats.answered.get("extraction", 0) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        assert child.returncode == -signal.SIGKILL
        first_run = server.stats.answered.get("extraction", 0)
        assert 4 <= first_run < 10
        with sqlite3.connect(cache / "extractions.sqlite") as db:
            cached = db.execute("SELECT count(*) FROM extraction WHERE value LIKE '{\"payload\"%'").fetchone()[0]
        assert cached >= first_run - 1  # every finished chunk was kept, bar the one in flight
        # run.json and the flat files are written only at the end, whole: a killed run leaves none of them,
        # only its run record (a scratch file the re-run removes).
        assert [p.name for p in out.iterdir() if p.is_file() and not p.name.startswith(".run-record.")] == []

        exit_code, manifest = run(RunConfig(inputs=[inputs], out=out, cache_dir=cache), extractor(server))
        assert exit_code == 0 and manifest["totals"]["complete"] == 10
        assert server.stats.answered["extraction"] - first_run == 10 - cached  # only the unfinished ones
    leftovers = [p for p in [*out.rglob("*"), *cache.rglob("*")] if p.name.endswith(".tmp")]
    assert leftovers == []
    for brief_path in out.glob("*/brief.json"):
        assert grounded_everywhere(json.loads(brief_path.read_text()))
    assert KEY.encode() not in b"".join(p.read_bytes() for p in [*out.rglob("*"), *cache.rglob("*")] if p.is_file())


def test_a_server_that_only_speaks_json_object_gets_the_schema_in_the_prompt(tmp_path: Path) -> None:
    """Like llama.cpp's server or an older vLLM: `response_format: json_schema` is refused with a 400."""
    inputs = make_threads(tmp_path / "in", 6)
    seen: list[dict[str, Any]] = []

    def script(body: dict[str, Any], kind: str) -> None:
        seen.append(body)
        return None

    config = FakeServerConfig(json_schema=False, script=script)
    with FakeOpenAIServer(config) as server:
        ex = OpenAIExtractor(model="local-llama", api_key="no-key-needed", base_url=server.base_url, max_connections=4)
        exit_code, manifest = run(RunConfig(inputs=[inputs], out=tmp_path / "out", use_cache=False, concurrency=4), ex)
        # The first requests go out together and are all refused; each is re-sent as json_object, and the
        # backend stays in json_object for the rest of the run.
        assert exit_code == 0 and manifest["totals"]["complete"] == 6
        assert 1 <= server.stats.statuses[400] <= 4
        assert ex.response_mode == "json_object"
    assert all(body["response_format"] == {"type": "json_object"} for body in seen)
    assert all("valid against this JSON Schema" in body["messages"][0]["content"] for body in seen)
    assert manifest["model"] == "local-llama" and manifest["totals"]["cost_usd"] is None
