"""Batch state: what a batch run keeps in ``OUT/batch/state.json`` between its steps.

Input: a ``RunConfig`` (to start a state) or OUT (to read one). Output: a ``BatchState``: the run's settings
(so ``batch collect`` reruns what ``run --batch`` started), the extractor fingerprint, every batch created,
every request by cache key (its state, attempts, last reason, re-ask messages) and the tokens the batch
answers used. Request states: ``sent`` (in a batch not collected yet), ``done`` (its answer is in the
cache), ``retry`` (to be sent again), ``failed`` (attempts spent; its thread records the reason).
Failure modes: ``ConfigError`` for a missing, unreadable or foreign state file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, TypedDict

from .cache import default_cache_dir
from .errors import ConfigError
from .outputs import atomic_write, batch_dir
from .settings import RunConfig, public_url

STATE_VERSION = 1
MAX_ATTEMPTS = 3  # per request: the first submission and two re-submissions or re-asks
RequestState = Literal["sent", "done", "retry", "failed"]
REQUEST_STATES: tuple[RequestState, ...] = ("sent", "done", "retry", "failed")


# Keys a record or a batch may lack, as a base with total=False (typing.NotRequired needs Python 3.11).
class _RequestRecordExtras(TypedDict, total=False):
    reask: list[dict[str, str]]  # the invalid answers and the validator's messages, to send again


class _BatchRecordExtras(TypedDict, total=False):
    request_counts: dict[str, int] | None


class RequestRecord(_RequestRecordExtras):
    attempts: int
    reason: str | None
    custom_id: str
    schema: str
    thread: str
    state: RequestState
    batch: str


class BatchRecord(_BatchRecordExtras):
    id: str
    file: str
    input_file_id: str
    requests: int
    status: str | None
    submitted_at: float
    collected: bool


class BatchUsage(TypedDict):
    answers: int
    tokens_in: int
    tokens_out: int


class ConfigRecord(TypedDict):
    inputs: list[str]
    out: str
    model: str | None
    base_url: str | None
    max_chunk_tokens: int
    output_budget: int
    cache_dir: str
    prices: str | None
    response_format: str
    input_format: str | None
    columns: dict[str, str] | None
    language: str | None


class BatchState(TypedDict):
    version: int
    config: ConfigRecord
    fingerprint: str
    batches: list[BatchRecord]
    requests: dict[str, RequestRecord]
    usage: BatchUsage


def state_path(out: Path) -> Path:
    return batch_dir(out) / "state.json"


def new_state(config: RunConfig, fingerprint: str) -> BatchState:
    return {
        "version": STATE_VERSION,
        "config": {
            "inputs": [str(p.resolve()) for p in config.inputs],
            "out": str(config.out.resolve()),
            "model": config.model,
            "base_url": public_url(config.base_url),
            "max_chunk_tokens": config.max_chunk_tokens,
            "output_budget": config.output_budget,
            "cache_dir": str((config.cache_dir or default_cache_dir()).resolve()),
            "prices": str(config.prices.resolve()) if config.prices else None,
            "response_format": config.response_format,
            "input_format": config.input_format,
            "columns": config.columns,
            "language": config.language,
        },
        "fingerprint": fingerprint,
        "batches": [],
        "requests": {},
        "usage": {"answers": 0, "tokens_in": 0, "tokens_out": 0},
    }


def load_state(out: Path) -> BatchState:
    path = state_path(out)
    try:
        state: BatchState = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"no batch in {out} ({path} is missing): start one with `threadbrief run --batch`") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path} ({exc}): it was not written by threadbrief") from exc
    if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
        found: Any = state.get("version") if isinstance(state, dict) else None
        raise ConfigError(f"{path} has state version {found!r}, expected {STATE_VERSION}")
    return state


def save_state(out: Path, state: BatchState) -> None:
    atomic_write(state_path(out), json.dumps(state, ensure_ascii=False, indent=1) + "\n")


def config_from_state(state: BatchState, base_url: str | None = None) -> RunConfig:
    saved = state["config"]
    return RunConfig(
        inputs=[Path(p) for p in saved["inputs"]],
        out=Path(saved["out"]),
        backend="openai",
        model=saved["model"],
        base_url=base_url or saved["base_url"],
        max_chunk_tokens=saved["max_chunk_tokens"],
        output_budget=saved["output_budget"],
        cache_dir=Path(saved["cache_dir"]),
        prices=Path(saved["prices"]) if saved["prices"] else None,
        response_format=saved.get("response_format", "auto"),
        input_format=saved.get("input_format"),
        columns=saved.get("columns"),
        language=saved.get("language"),
    )


def settle(record: RequestRecord, reason: str, retryable: bool) -> None:
    """A request that got no valid answer: sent again while attempts remain and it may help, else failed."""
    record["reason"] = reason
    record["state"] = "retry" if retryable and record["attempts"] < MAX_ATTEMPTS else "failed"


def waiting(state: BatchState) -> int:
    """Requests in batches not collected yet."""
    return sum(1 for r in state["requests"].values() if r["state"] == "sent")
