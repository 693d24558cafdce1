from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
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


def grounded_everywhere(brief: dict[str, Any]) -> bool:
    """The grounding invariant, checked independently of pipeline.validate."""
    texts = {p["id"]: p["text"] for p in brief["posts"]}
    return all(c["quote"] and texts[c["post_id"]][c["span"][0] : c["span"][1]] == c["quote"] for c in brief["claims"])
