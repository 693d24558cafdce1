from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from pipeline.models import Post, Thread

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
# .ci/run sets this: there, a test that needs chromium or ../shared fails when they are missing instead of
# skipping, so a CI that tests less than it should is red, not green.
STRICT = os.environ.get("THREADBRIEF_STRICT_TESTS") == "1"


def need(available: bool, what: str) -> None:
    """Skip (or, under .ci/run, fail) a test whose environment lacks ``what``."""
    if not available:
        if STRICT:
            pytest.fail(f"{what} is missing, and .ci/run must test with it")
        pytest.skip(f"{what} is missing here (.ci/run provides it)")


CMV_THREADS = ROOT.parent / "shared" / "eval" / "cmv-dev" / "threads"
FAKE_BASE_URL = "http://llm.test/v1"


def completion(
    content: str | None,
    *,
    finish_reason: str = "stop",
    refusal: str | None = None,
    prompt_tokens: int = 100,
    completion_tokens: int = 20,
) -> dict[str, Any]:
    """A Chat Completions response body as an OpenAI-compatible server sends it."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if refusal is not None:
        message["refusal"] = refusal
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def extraction(claims: list[dict[str, str]], relations: list[dict[str, str]] | None = None) -> str:
    return json.dumps({"claims": claims, "relations": relations or []})


def claim(local_id: str, post_id: str, quote: str, kind: str = "claim") -> dict[str, str]:
    return {"id": local_id, "post_id": post_id, "kind": kind, "text": f"paraphrase of {local_id}", "quote": quote}


class SleepRecorder:
    """Stands in for asyncio.sleep in the retry loop: records the waits instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


def write_thread(
    path: Path, thread_id: str, posts: list[tuple[str, str | None, str | None, str]], title: str = "A debate"
) -> Path:
    """posts: (id, author, parent_id, text)."""
    path.write_text(
        json.dumps(
            {
                "id": thread_id,
                "title": title,
                "source": None,
                "posts": [{"id": i, "author": a, "parent_id": p, "text": t} for i, a, p, t in posts],
            }
        ),
        encoding="utf-8",
    )
    return path


def blank_keys(value: Any, keys: tuple[str, ...]) -> Any:
    """``value`` with every dict entry under one of ``keys`` set to None, at any depth (run-specific fields
    such as timestamps, before two runs' outputs are compared)."""
    if isinstance(value, dict):
        return {k: None if k in keys else blank_keys(v, keys) for k, v in value.items()}
    if isinstance(value, list):
        return [blank_keys(v, keys) for v in value]
    return value


def grounded_everywhere(brief: dict[str, Any]) -> bool:
    """The grounding invariant, checked independently of pipeline.validate."""
    texts = {p["id"]: p["text"] for p in brief["posts"]}
    return all(c["quote"] and texts[c["post_id"]][c["span"][0] : c["span"][1]] == c["quote"] for c in brief["claims"])


# --- the fault report: each case of tests/test_faults.py records a row; `make fault-report` writes the table
# (the suite itself never rewrites a tracked file) -----------------------------------------------------------

_report_rows: dict[str, tuple[str, str, str, str]] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and item.nodeid in _report_rows:
        category, case, expectation, _ = _report_rows[item.nodeid]
        _report_rows[item.nodeid] = (category, case, expectation, "pass" if report.passed else "FAIL")


@pytest.fixture
def report_case(request: pytest.FixtureRequest) -> Any:
    def record(category: str, case: str, expectation: str) -> None:
        _report_rows[request.node.nodeid] = (category, case, expectation, "not finished")

    return record


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write the fault report to $THREADBRIEF_FAULT_REPORT (`make fault-report`: docs/fault-report.md) when the
    whole fault suite ran; a selection of tests, or a run without that variable, writes nothing."""
    target = os.environ.get("THREADBRIEF_FAULT_REPORT")
    if not target:
        return
    from test_faults import ANSWERS, BAD_INPUTS, ODD, TRANSPORT  # noqa: PLC0415 - only when it ran

    expected = len(TRANSPORT) + len(ANSWERS) + len(BAD_INPUTS) + len(ODD) + 10 + 1  # + the SIGKILL case
    if len(_report_rows) < expected:
        return
    rows = sorted(_report_rows.values())
    lines = [
        "# Fault-injection report",
        "",
        "Written by `make fault-report` (`tests/test_faults.py` and the SIGKILL case); every row is one test case.",
        "",
        "| area | case | expected | result |",
        "| --- | --- | --- | --- |",
        *(f"| {a} | {c} | {e} | {r} |" for a, c, e, r in rows),
        "",
    ]
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    Path(target).write_text("\n".join(lines), encoding="utf-8")


def make_threads(folder: Path, count: int) -> Path:
    """`count` two-post debates, an opening claim and a disagreeing reply, as t0.json, t1.json…"""
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        write_thread(
            folder / f"t{n}.json",
            f"t{n}",
            [
                ("a", "ann", None, f"Thread {n} opens with a claim about topic {n}. It adds a reason."),
                ("b", "bob", "a", f"I disagree with the claim about topic {n}. Here is why it fails."),
            ],
            title=f"Debate {n}",
        )
    return folder


def posts_by_id(thread: Thread) -> dict[str, Post]:
    return {post.id: post for post in thread.posts}


def write_json(folder: Path, name: str, value: Any) -> Path:
    """A made-up input file for a bad-input test: ``value`` as JSON in ``folder/name``."""
    path = folder / name
    path.write_text(json.dumps(value), encoding="utf-8")
    return path
