"""`run --batch` and `batch status|collect` against a respx-mocked Files + Batches API (no network).

The mock is the fake server's ``FakeBatches`` (pipeline/fakeserver.py) on respx, following the documented
endpoints: POST /files (multipart, purpose=batch), POST /batches, GET /batches/{id} (validating →
in_progress → completed, with output_file_id / error_file_id), and GET /files/{id}/content (JSONL:
{"custom_id", "response": {"status_code", "body"}, "error"}). Answers are those of the fake server, so they
quote the posts verbatim; a ``fault`` hook changes one, ``endings`` makes a batch expire or fail.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from click.testing import CliRunner
from conftest import FAKE_BASE_URL, SleepRecorder, completion, grounded_everywhere, write_thread

from pipeline import batch as batch_module
from pipeline.batch import BatchJob
from pipeline.batch_api import BatchAPI
from pipeline.batch_state import MAX_ATTEMPTS, config_from_state, new_state
from pipeline.cli import cli
from pipeline.fakeserver import FakeBatches, FakeOpenAIServer, FakeServerConfig, LineFault, answer_for
from pipeline.fakeserver import Fault as FakeFault
from pipeline.resources import prompt_text
from pipeline.settings import RunConfig, make_extractor

KEY = "sk-batch-SECRET-42"
WAIT = ("--wait", "--poll", "0.01")  # --wait polling every 10 ms, not the 30 s default


def answer(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """A line's answer: the fake server's content, in a completion with fixed usage (100 tokens in)."""
    return 200, completion(json.dumps(answer_for(body)))


class FakeBatchAPI(FakeBatches):
    """The fake server's Files + Batches state on respx's mocks; every request must carry the key."""

    def __init__(self, router: respx.MockRouter, polls: int = 1, fault: LineFault | None = None) -> None:
        super().__init__(answer, polls=polls, fault=fault)
        for endpoint in (
            router.post(f"{FAKE_BASE_URL}/files"),
            router.post(f"{FAKE_BASE_URL}/batches"),
            router.get(url__regex=rf"{re.escape(FAKE_BASE_URL)}/batches/[^/]+$"),
            router.get(url__regex=rf"{re.escape(FAKE_BASE_URL)}/files/[^/]+/content$"),
        ):
            endpoint.mock(side_effect=self.respond)
        self.chat = router.post(f"{FAKE_BASE_URL}/chat/completions").mock(return_value=httpx.Response(500))

    def respond(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == f"Bearer {KEY}"
        content_type = request.headers.get("content-type", "")
        status, payload = self.route(request.method, request.url.path, request.content, content_type)
        if isinstance(payload, str):  # a file's content
            return httpx.Response(status, text=payload)
        return httpx.Response(status, json=payload)


def threads(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_thread(
        folder / "a.json",
        "a",
        [("p1", "ann", None, "Cities should ban cars downtown."), ("p2", "bob", "p1", "Banning cars hurts shops.")],
        title="Car-free downtown",
    )
    long_posts = [("q0", "cat", None, "Nuclear power is the safest energy source per unit of energy. " * 3)]
    long_posts += [
        (f"q{n}", f"u{n}", "q0", f"Reply {n} disputes the safety record with new data. " * 3) for n in range(1, 12)
    ]
    write_thread(folder / "b.json", "b", long_posts, title="Nuclear safety")
    return folder


def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    environment = {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": FAKE_BASE_URL, **(env or {})}
    return CliRunner().invoke(cli, list(args), env=environment, catch_exceptions=False)


def run_args(tmp_path: Path, *extra: str) -> list[str]:
    return [
        "run",
        str(threads(tmp_path / "in")),
        "-o",
        str(tmp_path / "out"),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--max-chunk-tokens",
        "900",
        "--batch",
        *extra,
    ]


def brief(tmp_path: Path, thread_id: str) -> dict[str, Any]:
    return json.loads((tmp_path / "out" / thread_id / "brief.json").read_text())


def no_key_anywhere(folder: Path) -> bool:
    return all(
        KEY not in p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file() and p.suffix != ".sqlite"
    )


def test_run_batch_uploads_the_requests_and_records_the_batch_then_collect_writes_grounded_briefs(
    tmp_path: Path,
) -> None:
    with respx.mock(assert_all_called=False) as router:
        api = FakeBatchAPI(router)
        result = invoke(*run_args(tmp_path))
        assert result.exit_code == 0, result.output
        # What was sent: one JSONL of chat requests, uploaded for purpose=batch, started as a 24 h batch.
        assert [u["purpose"] for u in api.uploads] == ["batch"] and api.uploads[0]["name"] == "requests-001.jsonl"
        lines = api.uploads[0]["lines"]
        assert {line["method"] for line in lines} == {"POST"} and {line["url"] for line in lines} == {
            "/v1/chat/completions"
        }
        ids = [line["custom_id"] for line in lines]
        assert ids[0].startswith("a/c001-") and sum(i.startswith("b/c") for i in ids) >= 2 and len(set(ids)) == len(ids)
        body = lines[0]["body"]
        assert body["model"] == "gpt-4o-mini" and body["response_format"]["type"] == "json_schema"
        assert body["messages"][0]["content"] == prompt_text("extract_system")
        assert api.created == [
            {
                "input_file_id": "file-1",
                "endpoint": "/v1/chat/completions",
                "completion_window": "24h",
                "metadata": {"threadbrief_file": "requests-001.jsonl"},
            }
        ]
        state = json.loads((tmp_path / "out" / "batch" / "state.json").read_text())
        assert [b["id"] for b in state["batches"]] == ["batch_1"]
        manifest = json.loads((tmp_path / "out" / "run.json").read_text())
        assert {t["status"] for t in manifest["threads"]} == {"pending"} and manifest["batch"]["requests"][
            "sent"
        ] == len(ids)
        assert not (tmp_path / "out" / "a" / "brief.json").exists()
        assert "batch_1" in result.output and "batch collect" in result.output

        status = invoke("batch", "status", str(tmp_path / "out"), "--json")
        assert status.exit_code == 0 and json.loads(status.stdout)[0]["status"] == "in_progress"

        # Round 2: extractions collected into the cache; the overviews go out as the next batch.
        second = invoke("batch", "collect", str(tmp_path / "out"))
        assert second.exit_code == 3, second.output
        overview_ids = [line["custom_id"] for line in api.uploads[1]["lines"]]
        assert sorted(i.split("/")[0] for i in overview_ids) == ["a", "b"] and all(
            "/overview-" in i for i in overview_ids
        )
        assert api.uploads[1]["lines"][0]["body"]["messages"][0]["content"] == prompt_text("summarize_system")

        # The overview batch is still running: nothing to write, nothing new to send.
        waiting = invoke("batch", "collect", str(tmp_path / "out"))
        assert waiting.exit_code == 3 and len(api.uploads) == 2 and "2 waiting" in waiting.output
        # Round 3: every answer in: briefs written through the usual stages.
        third = invoke("batch", "collect", str(tmp_path / "out"))
        assert third.exit_code == 0, third.output
        assert api.chat.call_count == 0  # not one live request
    for thread_id in ("a", "b"):
        written = brief(tmp_path, thread_id)
        assert written["status"] == "complete" and written["claims"] and grounded_everywhere(written)
        assert written["summary"]
    manifest = json.loads((tmp_path / "out" / "run.json").read_text())
    assert manifest["totals"]["complete"] == 2 and manifest["batch"]["requests"] == {
        "sent": 0,
        "done": len(ids) + 2,
        "retry": 0,
        "failed": 0,
    }
    assert manifest["batch"]["answers"] == len(ids) + 2 and manifest["batch"]["tokens_in"] == 100 * (len(ids) + 2)
    assert manifest["batch"]["cost_usd"] is not None
    assert no_key_anywhere(tmp_path / "out")


def test_the_batch_shares_the_cache_with_live_runs(tmp_path: Path) -> None:
    with respx.mock(assert_all_called=False) as router:
        api = FakeBatchAPI(router, polls=0)
        result = invoke(*run_args(tmp_path, *WAIT), env={})
        assert result.exit_code == 0, result.output
        batch_requests = sum(len(u["lines"]) for u in api.uploads)
        # A live run over the same threads afterwards: every answer is in the cache, no request is made.
        live = invoke(
            "run",
            str(tmp_path / "in"),
            "-o",
            str(tmp_path / "live"),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--max-chunk-tokens",
            "900",
        )
        assert live.exit_code == 0, live.output
        assert api.chat.call_count == 0
        assert json.loads((tmp_path / "live" / "run.json").read_text())["totals"]["cached_calls"] == batch_requests


def test_answers_already_in_the_cache_are_not_sent_again(tmp_path: Path) -> None:
    with respx.mock(assert_all_called=False) as router:
        api = FakeBatchAPI(router, polls=0)
        assert invoke(*run_args(tmp_path, *WAIT)).exit_code == 0
        earlier_uploads = len(api.uploads)
        write_thread(tmp_path / "in" / "c.json", "c", [("r1", "dan", None, "Trains beat planes under 500 km.")])
        again = invoke(
            "run",
            str(tmp_path / "in"),
            "-o",
            str(tmp_path / "out2"),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--max-chunk-tokens",
            "900",
            "--batch",
            *WAIT,
        )
        assert again.exit_code == 0, again.output
        later = [line["custom_id"] for u in api.uploads[earlier_uploads:] for line in u["lines"]]
        assert later and all(i.startswith("c/") for i in later)  # only the new thread's requests


def test_an_invalid_answer_is_re_asked_with_the_validator_messages_and_errors_are_re_sent(tmp_path: Path) -> None:
    def fault(custom_id: str, body: dict[str, Any], attempt: int) -> dict[str, Any] | None:
        if custom_id.startswith("a/c001") and attempt == 1:
            return {"content": '{"claims": "not a list"}'}
        if custom_id.startswith("b/c002") and attempt == 1:
            return {"status": 503}
        return None

    with respx.mock(assert_all_called=False) as router:
        api = FakeBatchAPI(router, polls=0, fault=fault)
        assert invoke(*run_args(tmp_path)).exit_code == 0
        second = invoke("batch", "collect", str(tmp_path / "out"))
        assert second.exit_code == 3
        resent = {line["custom_id"]: line["body"] for line in api.uploads[1]["lines"]}
        reask = next(body for cid, body in resent.items() if cid.startswith("a/c001"))
        assert reask["messages"][-2] == {"role": "assistant", "content": '{"claims": "not a list"}'}
        assert "claims" in reask["messages"][-1]["content"] and "array" in reask["messages"][-1]["content"]
        assert any(cid.startswith("b/c002") for cid in resent)  # the 503 re-sent unchanged
        assert not any(cid.startswith("b/c001") for cid in resent)  # answered: not sent again
        codes = [invoke("batch", "collect", str(tmp_path / "out")).exit_code for _round in range(3)]
        assert codes == [3, 0, 0]  # the re-sent requests, then the overviews; a further collect changes nothing
    assert brief(tmp_path, "a")["status"] == brief(tmp_path, "b")["status"] == "complete"


def test_a_request_that_keeps_failing_fails_its_thread_with_the_reason_after_the_allowed_attempts(
    tmp_path: Path,
) -> None:
    def fault(custom_id: str, body: dict[str, Any], attempt: int) -> dict[str, Any] | None:
        return {"status": 500} if custom_id.startswith("b/c001") else None

    with respx.mock(assert_all_called=False) as router:
        api = FakeBatchAPI(router, polls=0, fault=fault)
        result = invoke(*run_args(tmp_path, *WAIT))
        assert result.exit_code == 1, result.output
        assert max(api.answered.values()) == MAX_ATTEMPTS
        assert [cid for cid, n in api.answered.items() if n > 1][0].startswith("b/c001")
    partial = brief(tmp_path, "b")
    assert partial["status"] == "partial" and grounded_everywhere(partial)
    manifest = json.loads((tmp_path / "out" / "run.json").read_text())
    failure = next(t for t in manifest["threads"] if t["id"] == "b")["failures"][0]
    assert failure["stage"] == "extract" and failure["chunk"] == "c001" and "HTTP 500" in failure["reason"]
    assert manifest["batch"]["requests"]["failed"] == 1 and brief(tmp_path, "a")["status"] == "complete"


@pytest.mark.parametrize("limit", ["requests", "bytes"])
def test_requests_over_the_per_file_limit_are_split_into_several_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: str
) -> None:
    if limit == "requests":
        monkeypatch.setattr(batch_module, "MAX_REQUESTS_PER_BATCH", 2)
    else:
        monkeypatch.setattr(batch_module, "MAX_BYTES_PER_FILE", 11_000)  # each line is 4–6 kB
    with respx.mock(assert_all_called=False) as router:
        api = FakeBatchAPI(router, polls=0)
        result = invoke(*run_args(tmp_path))
        assert result.exit_code == 0
        sizes = [len(u["lines"]) for u in api.uploads]
        assert len(sizes) >= 2 and max(sizes) <= 2
        assert [b["input_file_id"] for b in api.created] == [f"file-{n}" for n in range(1, len(sizes) + 1)]
        assert len({line["custom_id"] for u in api.uploads for line in u["lines"]}) == sum(sizes)


def test_wait_polls_with_a_growing_delay_until_done(tmp_path: Path) -> None:
    config = RunConfig(
        inputs=[threads(tmp_path / "in")],
        out=tmp_path / "out",
        cache_dir=tmp_path / "cache",
        max_chunk_tokens=900,
        backend="openai",
        base_url=FAKE_BASE_URL,
    )
    sleeps = SleepRecorder()
    with respx.mock(assert_all_called=False) as router:
        FakeBatchAPI(router, polls=3)
        extractor, _ = make_extractor(config, {"OPENAI_API_KEY": KEY})
        api = BatchAPI(api_key=KEY, base_url=FAKE_BASE_URL)
        outcome = asyncio.run(BatchJob(config, extractor, api).run_until_done(sleep=sleeps, first_poll=10, max_poll=20))
    assert outcome.exit_code == 0 and outcome.waiting == 0
    assert sleeps.waits[:3] == [10, 15, 20] and max(sleeps.waits) <= 20


def test_batch_errors_are_one_line_and_redacted(tmp_path: Path) -> None:
    with respx.mock(assert_all_called=False) as router:
        router.post(f"{FAKE_BASE_URL}/files").mock(
            return_value=httpx.Response(401, json={"error": {"message": f"Incorrect API key provided: {KEY}"}})
        )
        result = invoke(*run_args(tmp_path))
    assert result.exit_code == 1
    assert "HTTP 401: check OPENAI_API_KEY" in result.output and KEY not in result.output
    offline = invoke(*run_args(tmp_path, "--backend", "offline"))
    assert offline.exit_code == 2 and "--batch needs the openai backend" in offline.output
    missing = invoke("batch", "collect", str(tmp_path))
    assert missing.exit_code == 2 and "run --batch" in missing.output


def test_a_batch_end_to_end_against_the_fake_server_over_http(tmp_path: Path) -> None:
    """The fake server's Files + Batches endpoints, over real HTTP on 127.0.0.1: a line answered 503 lands in
    the error file and is re-sent; every brief is written and grounded; no live chat request is made."""
    failed_once: set[str] = set()

    def script(body: dict[str, Any], kind: str) -> FakeFault | None:
        user = body["messages"][-1]["content"]
        if kind == "extraction" and 'id="q3"' in user and "q3" not in failed_once:
            failed_once.add("q3")
            return FakeFault(status=503)
        return None

    with FakeOpenAIServer(FakeServerConfig(script=script)) as server:
        result = invoke(*run_args(tmp_path, "--wait", "--poll", "0.05"), env={"OPENAI_BASE_URL": server.base_url})
        chat_requests = server.stats.requests
        batches = dict(server.batches.batches)
    assert result.exit_code == 0, result.output
    assert failed_once == {"q3"} and len(batches) == 3  # extractions, the re-sent one, the overviews
    assert chat_requests == sum(b["request_counts"]["total"] for b in batches.values())  # every one via a batch
    for thread_id in ("a", "b"):
        written = brief(tmp_path, thread_id)
        assert written["status"] == "complete" and grounded_everywhere(written) and written["summary"]
    assert no_key_anywhere(tmp_path / "out")


def test_requests_an_expired_batch_left_unanswered_are_sent_again(tmp_path: Path) -> None:
    with respx.mock(assert_all_called=False) as router:
        api = FakeBatchAPI(router, polls=0)
        api.endings = ["expired"]
        result = invoke(*run_args(tmp_path, *WAIT))
        assert result.exit_code == 0, result.output
        first = [line["custom_id"] for line in api.uploads[0]["lines"]]
        second = [line["custom_id"] for line in api.uploads[1]["lines"]]
        # The one line the expired batch answered is not sent again; every other one is, unchanged.
        assert len(first) > 1 and first[1:] == [cid for cid in second if cid in first]
        assert first[0] not in second and api.answered[first[0]] == 1
    assert brief(tmp_path, "a")["status"] == brief(tmp_path, "b")["status"] == "complete"
    assert "expired" in (tmp_path / "out" / "batch" / "state.json").read_text()


def test_a_batch_the_provider_rejects_fails_its_requests_with_the_providers_reason(tmp_path: Path) -> None:
    with respx.mock(assert_all_called=False) as router:
        api = FakeBatchAPI(router, polls=0)
        api.endings = ["failed"]
        result = invoke(*run_args(tmp_path, *WAIT))
        # A rejected file would be rejected again unchanged: no re-send, every thread failed, exit 1.
        assert result.exit_code == 1, result.output
        assert len(api.uploads) == 1 and not api.answered
    manifest = json.loads((tmp_path / "out" / "run.json").read_text())
    assert {t["status"] for t in manifest["threads"]} == {"failed"}
    reason = manifest["threads"][0]["failures"][0]["reason"]
    assert "ended failed" in reason and "scripted reject" in reason
    assert grounded_everywhere(brief(tmp_path, "a")) and brief(tmp_path, "a")["status"] == "failed"


@pytest.mark.parametrize("server", ["rejects json_schema", "ignores json_schema"])
def test_a_batch_server_without_json_schema_gets_json_object_with_the_schema_in_the_prompt(
    tmp_path: Path, server: str
) -> None:
    def fault(custom_id: str, body: dict[str, Any], attempt: int) -> dict[str, Any] | None:
        if body["response_format"]["type"] != "json_schema":
            return None
        if server == "rejects json_schema":
            return {"status": 400, "message": "response_format type json_schema is not supported"}
        return {"content": "Here is what the posts claim: cars, shops and nuclear safety."}

    with respx.mock(assert_all_called=False) as router:
        api = FakeBatchAPI(router, polls=0, fault=fault)
        result = invoke(*run_args(tmp_path, *WAIT))
        assert result.exit_code == 0, result.output
    first, *later = [[line["body"] for line in upload["lines"]] for upload in api.uploads]
    assert {body["response_format"]["type"] for body in first} == {"json_schema"}
    resent = [body for upload in later for body in upload]
    assert resent and {body["response_format"]["type"] for body in resent} == {"json_object"}
    assert all("valid against this JSON Schema" in body["messages"][0]["content"] for body in resent)
    assert max(api.answered.values()) == 2  # one refused or ignored answer, then the right one
    state = json.loads((tmp_path / "out" / "batch" / "state.json").read_text())
    assert state["config"]["response_format"] == "json_object"
    assert json.loads((tmp_path / "out" / "run.json").read_text())["settings"]["response_format"] == "json_object"
    assert brief(tmp_path, "a")["status"] == brief(tmp_path, "b")["status"] == "complete"


def test_estimate_and_max_cost_use_batch_prices(tmp_path: Path) -> None:
    inputs = str(threads(tmp_path / "in"))
    live = invoke("estimate", inputs, "--max-chunk-tokens", "900", "--json")
    batch = invoke("estimate", inputs, "--max-chunk-tokens", "900", "--batch", "--json")
    full, half = json.loads(live.stdout)["cost_usd"], json.loads(batch.stdout)["cost_usd"]
    assert full > 0 and half == pytest.approx(full * batch_module.BATCH_DISCOUNT)
    assert "at batch prices" in batch.stderr
    with respx.mock(assert_all_called=False) as router:
        api = FakeBatchAPI(router, polls=0)
        refused = invoke(*run_args(tmp_path, "--max-cost", f"{half * 0.9:.10f}"))
        assert refused.exit_code == 2 and "exceeds --max-cost" in refused.stderr and not api.uploads
        started = invoke(*run_args(tmp_path, "--max-cost", f"{(half + full) / 2:.10f}"))  # over the live price
        assert started.exit_code == 0, started.output
        assert api.uploads


def test_quiet_batch_runs_print_the_summary_and_problems_only(tmp_path: Path) -> None:
    def fault(custom_id: str, body: dict[str, Any], attempt: int) -> dict[str, Any] | None:
        return {"status": 500} if custom_id.startswith("b/c001") else None

    with respx.mock(assert_all_called=False) as router:
        FakeBatchAPI(router, polls=0, fault=fault)
        result = invoke(*run_args(tmp_path, *WAIT, "-q"))
    lines = result.stderr.splitlines()
    assert result.exit_code == 1
    assert not [line for line in lines if line.lstrip().startswith(("ok ", "PENDING ", "BATCH "))]
    assert any(line.lstrip().startswith("PARTIAL") and " b:" in line and "HTTP 500" in line for line in lines)
    assert lines[-1].startswith("threadbrief: 2 thread(s): 1 complete, 1 partial")


def test_the_state_keeps_every_run_setting_a_collect_needs(tmp_path: Path) -> None:
    config = RunConfig(
        inputs=[tmp_path / "in"],
        out=tmp_path / "out",
        backend="openai",
        model="gpt-4o-mini",
        base_url="http://user:pw@127.0.0.1:9/v1?token=x",
        max_chunk_tokens=900,
        output_budget=333,
        cache_dir=tmp_path / "cache",
        response_format="json_object",
        input_format="reddit",
        columns={"text": "body"},
        language="de",
    )
    again = config_from_state(json.loads(json.dumps(new_state(config, "fp"))))
    for name in ("model", "max_chunk_tokens", "output_budget", "response_format", "input_format", "columns"):
        assert getattr(again, name) == getattr(config, name), name
    assert again.language == "de" and again.inputs == [(tmp_path / "in").resolve()]
    assert again.base_url == "http://127.0.0.1:9/v1"  # no password or token written down
