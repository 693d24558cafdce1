"""End to end: `threadbrief run` over the seeds (offline) and over a respx-mocked OpenAI endpoint."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import random
import re
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from click.testing import CliRunner
from conftest import (
    CMV_THREADS,
    FAKE_BASE_URL,
    SEEDS,
    SleepRecorder,
    claim,
    completion,
    extraction,
    grounded_everywhere,
    need,
    write_thread,
)

from pipeline.cli import cli
from pipeline.debate import Relations
from pipeline.extract import Extractor
from pipeline.extract_openai import OpenAIExtractor
from pipeline.models import Chunk, ChunkExtraction, Usage
from pipeline.render import argument_map
from pipeline.resources import prompt_sha256, schema_path
from pipeline.runner import run
from pipeline.settings import NO_LLM_NOTICE, RunConfig
from pipeline.text import as_sentence

KEY = "sk-live-DO-NOT-LEAK-42"


def invoke(args: list[str], env: dict[str, str] | None = None) -> Any:
    base = {"OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}
    return CliRunner().invoke(cli, args, env={**base, **(env or {})}, catch_exceptions=False)


def read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def seed_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    out = tmp_path_factory.mktemp("seeds-out")
    return invoke(["run", str(SEEDS), "-o", str(out)]), out


def test_seeds_run_offline_with_one_notice_and_exit_0(seed_run: tuple[Any, Path]) -> None:
    result, out = seed_run
    assert result.exit_code == 0, result.stderr
    assert result.stderr.count(NO_LLM_NOTICE) == 1
    assert result.stdout == ""  # stdout is for data; progress goes to stderr
    manifest = read(out / "run.json")
    assert manifest["backend"] == "offline" and manifest["exit_code"] == 0
    assert [t["status"] for t in manifest["threads"]] == ["complete"] * 5
    assert {p["name"]: p["sha256"] for p in manifest["prompts"]}["extract_user"] == prompt_sha256("extract_user")


def test_every_seed_brief_is_valid_grounded_and_deduplicated(seed_run: tuple[Any, Path]) -> None:
    _, out = seed_run
    expected_duplicates = {"000": 5, "001": 20, "002": 7, "003": 0, "004": 4}
    for folder in sorted(p for p in out.iterdir() if p.is_dir()):
        brief = read(folder / "brief.json")
        assert grounded_everywhere(brief)
        assert brief["thread"]["counts"]["duplicates_removed"] == expected_duplicates[folder.name[:3]]
        assert all(c["speaker"] is None for c in brief["claims"])  # plain text: never an invented name
        duplicate_ids = {p["id"] for p in brief["posts"] if p["duplicate_of"]}
        assert not duplicate_ids & {c["post_id"] for c in brief["claims"]}
        assert brief["summary"]
        assert (folder / "brief.md").read_text().startswith("# ")
    assert invoke(["validate", str(out)]).exit_code == 0


# Seeds are plain text (no reply links): only an explicit disagreement marker makes a rebuttal there, and only
# seed 003 has one ("I disagree" and the like); 001 and 002 argue without such a marker and get none.
@pytest.mark.parametrize("prefix", ["003"])
def test_seeds_that_argue_get_a_rebuttal(seed_run: tuple[Any, Path], prefix: str) -> None:
    _, out = seed_run
    brief = read(next(out.glob(f"{prefix}_*/brief.json")))
    claims = {c["id"]: c for c in brief["claims"]}
    rebuttals = [r for r in brief["relations"] if r["type"] == "rebuts"]
    assert rebuttals
    for r in rebuttals:  # a reply rebuts an earlier post, never itself
        assert claims[r["source"]]["post_id"] != claims[r["target"]]["post_id"]
    markdown = next(out.glob(f"{prefix}_*/brief.md")).read_text()
    assert f"**{rebuttals[0]['source']}** (Unattributed) rebuts **{rebuttals[0]['target']}**" in markdown


def test_offline_briefs_are_deterministic(seed_run: tuple[Any, Path], tmp_path: Path) -> None:
    _, out = seed_run
    assert invoke(["run", str(SEEDS), "-o", str(tmp_path)]).exit_code == 0
    for folder in sorted(p for p in out.iterdir() if p.is_dir()):
        first, second = read(folder / "brief.json"), read(tmp_path / folder.name / "brief.json")
        for brief in (first, second):
            del brief["provenance"]["created_at"], brief["stats"]["seconds"]
        assert first == second


def test_validate_catches_a_tampered_quote(seed_run: tuple[Any, Path], tmp_path: Path) -> None:
    _, out = seed_run
    brief = read(next(out.glob("002_*/brief.json")))
    brief["claims"][0]["quote"] = brief["claims"][0]["quote"].replace("DoD", "NSA").replace("safety", "sefety")
    bad = tmp_path / "brief.json"
    bad.write_text(json.dumps(brief))
    result = invoke(["validate", str(bad)])
    assert result.exit_code == 1
    assert "claims/C1: quote is not the post's text at span" in result.stderr


def test_validate_a_folder_checks_every_brief_under_it(seed_run: tuple[Any, Path], tmp_path: Path) -> None:
    _, out = seed_run
    folder = tmp_path / "briefs"
    good, tampered = sorted(out.glob("*/brief.json"))[:2]
    (folder / "a").mkdir(parents=True)
    (folder / "b" / "nested").mkdir(parents=True)
    shutil.copy(good, folder / "a" / "brief.json")
    brief = read(tampered)
    brief["claims"][0]["quote"] = "words the post does not hold"
    (folder / "b" / "nested" / "brief.json").write_text(json.dumps(brief))
    (folder / "b" / "notes.json").write_text("{}")  # not a brief.json: not checked
    result = invoke(["validate", str(folder)])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == f"{folder / 'a' / 'brief.json'}: ok"
    assert lines[1].startswith(f"{folder / 'b' / 'nested' / 'brief.json'}: claims/")
    assert lines[-1] == "threadbrief: 1 of 2 brief(s) valid"
    (folder / "empty").mkdir()
    result = invoke(["validate", str(folder / "empty")])
    assert result.exit_code == 2 and "no brief.json found under" in result.stderr


def test_a_run_removes_the_temp_files_a_killed_run_left_and_nothing_else(tmp_path: Path) -> None:
    out = tmp_path / "out"
    left = [out / ".run.json.abc.tmp", out / "t9" / ".brief.json.x1.tmp", out / "report" / "t" / ".index.html.y.tmp"]
    kept = [out / ".keep", out / "t9" / "notes.tmp", out / "t9" / "brief.json"]
    for path in left + kept:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    assert invoke(["run", str(SEEDS), "-o", str(out), "-q"]).exit_code == 0
    assert not [path for path in left if path.exists()]
    assert all(path.exists() for path in kept)
    assert not list(out.rglob(".*.tmp"))


def test_schema_prints_the_schema_file() -> None:
    result = invoke(["schema", "brief"])
    assert result.exit_code == 0 and result.stdout == schema_path("brief").read_text()
    assert invoke(["schema", "nope"]).exit_code == 2


def test_usage_and_configuration_errors_exit_2_with_one_line(tmp_path: Path) -> None:
    result = invoke(["run", str(SEEDS), "--backend", "openai", "-o", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "threadbrief: error: no OPENAI_API_KEY: set it, pass --base-url, or use --backend offline"
    )
    assert invoke(["run", str(tmp_path / "missing")]).exit_code == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    result = invoke(["run", str(empty), "-o", str(tmp_path / "o")])
    assert result.exit_code == 2 and "no input threads found" in result.stderr
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    result = invoke(["run", str(SEEDS), "-o", str(blocker / "sub")])
    assert result.exit_code == 2 and "cannot write to" in result.stderr and "-o" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 2  # the offline notice, then the one-line error
    result = invoke(["run", str(SEEDS), "--max-chunk-tokens", "300", "-o", str(tmp_path / "o2")])
    assert result.exit_code == 2 and "raise it (at least" in result.stderr
    assert list((tmp_path / "o2").iterdir()) == []  # refused before any thread ran


def test_a_bad_input_file_is_recorded_and_the_rest_complete(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(next(SEEDS.glob("002_*.txt")), inputs / "good.txt")
    (inputs / "bad.json").write_text("{oops")
    out = tmp_path / "out"
    result = invoke(["run", str(inputs), "-o", str(out)])
    assert result.exit_code == 1
    assert f"{inputs / 'bad.json'}: invalid JSON" in result.stderr
    manifest = read(out / "run.json")
    assert manifest["input_errors"][0]["input"] == str(inputs / "bad.json")
    assert [t["status"] for t in manifest["threads"]] == ["complete"]
    assert (out / "good" / "brief.json").exists()


# --- the OpenAI backend through the whole pipeline, against a respx-mocked endpoint ------------------------


def answer_for(request: httpx.Request) -> httpx.Response:
    """A fake model: thread 'broken' always fails; 'debate' gets one true and one invented quote."""
    sent = json.loads(request.content)
    if sent["response_format"]["json_schema"]["name"] == "thread_summary":
        return httpx.Response(200, json=completion(json.dumps({"overview": "Ann defends nuclear; Bob objects."})))
    prompt = sent["messages"][-1]["content"]
    if "Thread: Broken" in prompt:
        return httpx.Response(503, json={"error": {"message": "overloaded"}})
    if "Thread: Debate" in prompt:
        return httpx.Response(
            200,
            json=completion(
                extraction(
                    [
                        claim("k1", "a", "Nuclear power is the safest source of energy per kWh."),
                        claim("k2", "b", "Waste storage is still unsolved."),
                        claim("k3", "b", "Chernobyl killed millions of people."),
                    ],  # invented: not in post b
                    [
                        {"source": "k2", "target": "k1", "type": "rebuts"},
                        {"source": "k3", "target": "k1", "type": "rebuts"},
                    ],
                )
            ),
        )
    raise AssertionError(f"unexpected request: {prompt[:80]}")


def make_inputs(tmp_path: Path) -> Path:
    inputs = tmp_path / "in"
    inputs.mkdir()
    write_thread(
        inputs / "debate.json",
        "debate",
        [
            ("a", "ann", None, "Nuclear power is the safest source of energy per kWh. It should be expanded."),
            ("b", "bob", "a", "I disagree. Waste storage is still unsolved."),
        ],
        title="Debate",
    )
    write_thread(
        inputs / "broken.json", "broken", [("a", "cat", None, "Nothing here will be extracted.")], title="Broken"
    )
    return inputs


def openai_run(tmp_path: Path, out: Path, sleeps: SleepRecorder, use_cache: bool = True) -> tuple[int, dict[str, Any]]:
    extractor = OpenAIExtractor(model="gpt-4o-mini", api_key=KEY, base_url=FAKE_BASE_URL, sleep=sleeps, max_attempts=3)
    config = RunConfig(
        inputs=[tmp_path / "in"], out=out, backend="openai", cache_dir=tmp_path / "cache", use_cache=use_cache
    )
    return run(config, extractor)


@respx.mock(base_url=FAKE_BASE_URL)
def test_openai_run_grounds_rejects_inventions_and_records_failures(
    respx_mock: respx.MockRouter, sleeps: SleepRecorder, tmp_path: Path
) -> None:
    route = respx_mock.post("/chat/completions").mock(side_effect=answer_for)
    make_inputs(tmp_path)
    out = tmp_path / "out"
    exit_code, summary = openai_run(tmp_path, out, sleeps)
    manifest = read(out / "run.json")
    # The run returns run.json but for its thread entries, which were streamed to the file.
    assert exit_code == 1 and {key: value for key, value in manifest.items() if key != "threads"} == summary
    statuses = {t["id"]: t for t in manifest["threads"]}
    assert statuses["debate"]["status"] == "complete"
    assert statuses["broken"]["status"] == "failed"
    failure = statuses["broken"]["failures"][0]
    assert failure["stage"] == "extract" and failure["chunk"] == "c001" and "HTTP 503" in failure["reason"]
    assert statuses["broken"]["calls"] == 3 and len(sleeps.waits) == 2

    debate = read(out / "debate" / "brief.json")
    assert grounded_everywhere(debate)
    assert [c["quote"] for c in debate["claims"]] == [
        "Nuclear power is the safest source of energy per kWh.",
        "Waste storage is still unsolved.",
    ]
    assert [c["speaker"] for c in debate["claims"]] == ["ann", "bob"]
    assert debate["relations"] == [{"source": "C2", "target": "C1", "type": "rebuts"}]
    rejected = {r["reason"] for r in debate["rejected"]}
    assert "quote not found in post b" in rejected
    assert "claim 'k3' was not grounded, so the relation has no end" in rejected
    assert "Chernobyl" not in json.dumps(debate["claims"])
    assert debate["summary"] == "Ann defends nuclear; Bob objects."
    assert debate["provenance"]["model"] == "gpt-4o-mini"
    assert debate["stats"]["calls"] == 2 and debate["stats"]["tokens_in"] == 200

    broken = read(out / "broken" / "brief.json")  # a failed thread still gets a brief saying so
    assert broken["status"] == "failed" and broken["claims"] == [] and broken["failures"][0]["stage"] == "extract"
    assert "Status: failed" in (out / "broken" / "brief.md").read_text()

    # The key is nowhere: not in briefs, run.json or the cache.
    for path in [*out.rglob("*"), *(tmp_path / "cache").rglob("*")]:
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path

    # A re-run answers the finished chunk and its summary from the cache; the failure was not cached, so
    # it is retried.
    calls_before = route.call_count
    exit_code, _summary = openai_run(tmp_path, out, sleeps)
    manifest = read(out / "run.json")
    statuses = {t["id"]: t for t in manifest["threads"]}
    assert (statuses["debate"]["cached_calls"], statuses["debate"]["calls"]) == (2, 0)
    assert statuses["broken"]["calls"] == 3
    assert route.call_count == calls_before + 3
    assert read(out / "debate" / "brief.json")["summary"] == "Ann defends nuclear; Bob objects."


@respx.mock(base_url=FAKE_BASE_URL)
def test_a_thread_with_one_failed_chunk_is_partial_and_keeps_the_rest(
    respx_mock: respx.MockRouter, sleeps: SleepRecorder, tmp_path: Path
) -> None:
    first = "The first half argues that taxes should be lower for small firms. " * 30
    second = "The second half claims that regulation is the real burden on firms. " * 30

    def answer(request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)
        if sent["response_format"]["json_schema"]["name"] == "thread_summary":
            return httpx.Response(200, json=completion(json.dumps({"overview": "About taxes."})))
        if 'id="p2"' in sent["messages"][-1]["content"]:
            return httpx.Response(500)
        quote = "The first half argues that taxes should be lower for small firms."
        return httpx.Response(200, json=completion(extraction([claim("k1", "p1", quote)])))

    respx_mock.post("/chat/completions").mock(side_effect=answer)
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "long.txt").write_text(first + "\n\n" + second)
    out = tmp_path / "out"
    extractor = OpenAIExtractor(model="gpt-4o-mini", api_key=KEY, base_url=FAKE_BASE_URL, sleep=sleeps, max_attempts=2)
    exit_code, _summary = run(RunConfig(inputs=[inputs], out=out, max_chunk_tokens=900, use_cache=False), extractor)
    manifest = read(out / "run.json")
    brief = read(out / "long" / "brief.json")
    assert exit_code == 1 and manifest["threads"][0]["status"] == "partial" == brief["status"]
    assert brief["thread"]["counts"]["chunks"] == 2
    assert [c["post_id"] for c in brief["claims"]] == ["p1"] and grounded_everywhere(brief)
    assert [(f["stage"], f["chunk"]) for f in brief["failures"]] == [("extract", "c002")]
    assert "Status: partial" in (out / "long" / "brief.md").read_text()


def test_the_cmv_dev_threads_run_offline_into_valid_attributed_briefs(tmp_path: Path) -> None:
    need(CMV_THREADS.is_dir(), "../shared/eval/cmv-dev")
    result = invoke(["run", str(CMV_THREADS), "-o", str(tmp_path)])
    assert result.exit_code == 0, result.stderr
    briefs = [read(p) for p in sorted(tmp_path.glob("*/brief.json"))]
    assert len(briefs) == 64
    assert all(grounded_everywhere(b) for b in briefs)
    authors = {b["thread"]["id"]: {p["id"]: p["author"] for p in b["posts"]} for b in briefs}
    for brief in briefs:
        assert all(c["speaker"] == authors[brief["thread"]["id"]][c["post_id"]] for c in brief["claims"])
    assert sum(len(b["claims"]) for b in briefs) > 64
    assert sum(1 for b in briefs for r in b["relations"] if r["type"] == "rebuts") > 0


class FakeExtractor(Extractor):
    """A backend through the Extractor seam: counts requests in flight; thread 'odd' gets a bad payload."""

    name = "fake"
    model = None
    fingerprint = "fake"

    def __init__(self) -> None:
        self.in_flight = 0
        self.peak = 0

    async def extract(self, chunk: Chunk) -> ChunkExtraction:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        await asyncio.sleep(0.005)
        self.in_flight -= 1
        if chunk.thread_id == "odd":
            return ChunkExtraction(chunk.id, {"claims": [{"id": "k1"}], "relations": []}, Usage(calls=1))
        first = chunk.posts[0]
        quote = first.text.split(".")[0] + "."
        payload = {
            "claims": [{"id": "k1", "post_id": first.post.id, "kind": "claim", "text": "t", "quote": quote}],
            "relations": [],
        }
        return ChunkExtraction(chunk.id, payload, Usage(calls=1))

    async def summarize(self, title: str, claims: list[Any], relations: list[Any]) -> tuple[str, Usage]:
        return "summary", Usage()


def test_concurrency_is_bounded_and_every_backend_is_validated(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in ("one", "two", "odd"):
        rng = random.Random(name)  # distinct posts, not near-duplicates of each other
        vocabulary = "claims evidence reply argues policy labs safety models data risk funding rule".split()
        body = "\n\n".join(" ".join(rng.choice(vocabulary) for _ in range(150)) + "." for _ in range(8))
        (inputs / f"{name}.txt").write_text(body)
    fake = FakeExtractor()
    config = RunConfig(inputs=[inputs], out=tmp_path / "out", max_chunk_tokens=700, concurrency=2, use_cache=False)
    exit_code, _summary = run(config, fake)
    manifest = read(tmp_path / "out" / "run.json")
    assert fake.peak == 2
    statuses = {t["id"]: t for t in manifest["threads"]}
    assert statuses["one"]["status"] == statuses["two"]["status"] == "complete"
    assert read(tmp_path / "out" / "one" / "brief.json")["thread"]["counts"]["chunks"] > 2
    assert statuses["odd"]["status"] == "failed" and exit_code == 1
    assert "fake extractor returned an invalid payload" in statuses["odd"]["failures"][0]["reason"]


def test_estimate_counts_chunks_calls_tokens_and_cost_with_no_network(tmp_path: Path) -> None:
    result = invoke(["estimate", str(SEEDS), "--json"])
    assert result.exit_code == 0, result.stderr
    estimate = json.loads(result.stdout)
    assert (estimate["threads"], estimate["chunks"], estimate["calls"]) == (5, 5, 10)
    assert estimate["output_budget"] == 10 * 1024 and estimate["prompt_tokens"] > 5000
    expected = estimate["prompt_tokens"] / 1e6 * 0.15 + estimate["output_budget"] / 1e6 * 0.60  # gpt-4o-mini
    assert estimate["cost_usd"] == pytest.approx(expected, abs=1e-6)
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"my-llama": {"input": 1.0, "output": 2.0}}))
    result = invoke(["estimate", str(SEEDS), "--model", "my-llama", "--prices", str(prices), "--json"])
    mine = json.loads(result.stdout)
    assert mine["cost_usd"] == pytest.approx(mine["prompt_tokens"] / 1e6 + mine["output_budget"] / 1e6 * 2, abs=1e-6)
    unknown = invoke(["estimate", str(SEEDS), "--model", "nobody-prices-this"])
    assert unknown.exit_code == 0 and "cost unknown (no price for nobody-prices-this" in unknown.stderr
    prices.write_text('{"bad": 3}')
    broken = invoke(["estimate", str(SEEDS), "--prices", str(prices)])
    assert broken.exit_code == 2 and "not a price table" in broken.stderr


def test_estimate_reads_the_inputs_as_run_does_skipping_what_it_cannot_read(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    shutil.copytree(SEEDS, folder)
    (folder / "broken.json").write_text("{ not json")
    result = invoke(["estimate", str(folder), "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["threads"] == 5
    assert "SKIPPED" in result.stderr and "broken.json" in result.stderr
    narrow = invoke(["estimate", str(folder), "--max-chunk-tokens", "300"])
    assert narrow.exit_code == 2 and "--max-chunk-tokens 300 leaves" in narrow.stderr


def test_max_cost_refuses_to_start_a_run_over_budget(tmp_path: Path) -> None:
    env = {"OPENAI_API_KEY": KEY}
    base = ["run", str(SEEDS), "-o", str(tmp_path / "o"), "--base-url", "http://127.0.0.1:9/v1", "--no-cache"]
    result = invoke([*base, "--max-cost", "0.0001"], env=env)
    assert result.exit_code == 2 and "exceeds --max-cost $0.0001" in result.stderr
    assert not list((tmp_path / "o").glob("*/brief.json"))
    result = invoke([*base, "--model", "nobody-prices-this", "--max-cost", "5"], env=env)
    assert result.exit_code == 2 and "no price known for model 'nobody-prices-this'" in result.stderr


def test_quiet_keeps_problems_and_the_closing_line(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(next(SEEDS.glob("002_*.txt")), inputs / "good.txt")
    (inputs / "bad.json").write_text("{oops")
    result = invoke(["run", str(inputs), "-o", str(tmp_path / "out"), "--quiet"])
    lines = result.stderr.strip().splitlines()
    assert not any(line.strip().startswith("ok ") for line in lines)
    assert any("bad.json: invalid JSON" in line for line in lines)
    assert lines[-1].startswith("threadbrief: 1 thread(s): 1 complete")


def test_claims_and_relations_files_and_export(seed_run: tuple[Any, Path]) -> None:
    _, out = seed_run
    briefs = {p.parent.name: read(p) for p in out.glob("*/brief.json")}
    rows = [json.loads(line) for line in (out / "claims.jsonl").read_text().splitlines()]
    assert len(rows) == sum(len(b["claims"]) for b in briefs.values())
    for row in rows:  # every exported claim is grounded: its quote is the post text at [start, end)
        post = next(p for p in briefs[row["thread_id"]]["posts"] if p["id"] == row["post_id"])
        assert post["text"][row["start"] : row["end"]] == row["quote"]
    relations = [json.loads(line) for line in (out / "relations.jsonl").read_text().splitlines()]
    assert len(relations) == sum(len(b["relations"]) for b in briefs.values()) > 0
    result = invoke(["export", str(out), "--format", "csv"])
    table = list(csv.DictReader(io.StringIO(result.stdout)))
    assert result.exit_code == 0 and [r["quote"] for r in table] == [r["quote"] for r in rows]
    assert invoke(["export", str(out), "--format", "jsonl", "--what", "relations"]).stdout.count("\n") == len(relations)


def test_brief_markdown_carries_a_mermaid_argument_map(seed_run: tuple[Any, Path]) -> None:
    _, out = seed_run
    markdown = next(out.glob("003_*/brief.md")).read_text()
    block = markdown.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert block.startswith("flowchart LR\n") and "-- rebuts -->" in block and 'subgraph S1["Unattributed"]' in block
    brief = {
        "claims": [
            {"id": "C1", "post_id": "p1", "speaker": 'Ann "the" [critic]', "text": 'She said "no" | [maybe]; <b>'},
            {"id": "C2", "post_id": "p2", "speaker": None, "text": "Reply"},
        ],
        "relations": [{"source": "C2", "target": "C1", "type": "qualifies"}],
    }
    lines = argument_map(brief, Relations(brief))
    assert 'C1["C1: She said #quot;no#quot; #124; #91;maybe#93;#59; #lt;b#gt;"]' in "\n".join(lines)
    assert '  subgraph S1["Ann #quot;the#quot; #91;critic#93;"]' in lines
    assert "  C2 -. qualifies .-> C1" in lines


def test_the_glance_line_ends_the_title_as_one_sentence(tmp_path: Path) -> None:
    thread = {
        "id": "parks",
        "title": "Parks should stay open at night.",
        "posts": [
            {"id": "p1", "author": "ann", "parent_id": None, "text": "Parks should stay open at night for walkers."},
            {"id": "p2", "author": "bob", "parent_id": "p1", "text": "I disagree, parks are unsafe after dark."},
        ],
    }
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "parks.json").write_text(json.dumps(thread), encoding="utf-8")
    result = CliRunner().invoke(cli, ["run", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--quiet"])
    assert result.exit_code == 0, result.output
    markdown = (tmp_path / "out" / "parks" / "brief.md").read_text(encoding="utf-8")
    assert "**Debated:** Parks should stay open at night. " in markdown
    assert not re.search(r"\*\*Debated:\*\* [^\n]*[.!?]\. ", markdown)
    assert as_sentence("Should parks stay open?") == "Should parks stay open?"
    assert as_sentence("He said “stop.”") == "He said “stop.”"
    assert as_sentence("公園は夜も開けるべきだ。") == "公園は夜も開けるべきだ。"
    assert as_sentence("Night parks") == "Night parks."
