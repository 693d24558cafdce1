"""Batch: the provider's Batch API fills the cache; the same stages as a live run write the briefs.

Input: a ``RunConfig`` (openai backend), an ``OpenAIExtractor`` (request bodies, fingerprint, answer
checks: the same as live) and a ``BatchAPI`` (Files and Batches endpoints). Output, besides what a run
writes: ``OUT/batch/state.json`` (batches, every request's state and attempts, batch token usage) and
``OUT/batch/requests-NNN.jsonl`` (each file as uploaded; no key in them).
Flow: a pass runs the pipeline with a ``BatchExtractor``, which answers nothing itself: the runner finds
collected answers in the shared cache, and every request it still needs is queued (``RequestDeferred``:
its thread is ``pending``, no brief yet). The queue is written as Batch API JSONL (custom_id =
``thread/chunk-key``), split at the API's per-file limits, uploaded and started. ``collect`` downloads the
output and error files of finished batches, checks each answer as the live path does (schema, refusal,
truncation), stores valid ones in the cache, and runs a pass: threads whose answers are all in get their
briefs; the overviews (which need the extractions) go out in the next batch. A schema-invalid answer is
re-asked with the validator's messages, an error re-submitted, each at most ``MAX_ATTEMPTS`` times; then
the request fails with its reason and its thread is partial or failed, as live.
Failure modes: ``BatchError`` for a Files/Batches call that fails after retries (message redacted),
``ConfigError`` for a missing or foreign state file.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final, TypeVar

import openai
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

from .cache import ExtractionCache, extraction_key, parts_key, summary_key
from .cost import cost_usd, load_prices
from .errors import BatchError, ConfigError, ExtractionError, RequestDeferred
from .extract import CURRENT_THREAD
from .extract_openai import (
    RETRYABLE_STATUS,
    WaitRetryAfterOrBackoff,
    extraction_messages,
    is_retryable,
    is_schema_rejection,
    parts_messages,
    read_answer,
    reask_messages,
    redact,
    status_hint,
    summary_messages,
    unconstrained,
)
from .models import Chunk, ChunkExtraction, Claim, Relation, Usage
from .progress import Log, no_log
from .runner import Runner, atomic_write
from .settings import RunConfig, default_cache_dir, public_url

ENDPOINT: Final = "/v1/chat/completions"
MAX_REQUESTS_PER_BATCH = 50_000  # the Batch API's limit per input file
MAX_BYTES_PER_FILE = 190_000_000  # the limit is 200 MB; the margin covers the upload's multipart framing
MAX_ATTEMPTS = 3  # per request: the first submission and two re-submissions or re-asks
BATCH_DISCOUNT = 0.5  # batch requests are billed at half the live price
TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
STATE_VERSION = 1
T = TypeVar("T")


class BatchAPI:
    """The Files and Batches calls, through the SDK (``max_retries=0``: tenacity owns retries)."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None = None,
        timeout: float = 120.0,
        max_attempts: int = 6,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._api_key = api_key
        self.client = openai.AsyncOpenAI(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout)
        self.max_attempts = max_attempts
        self._sleep = sleep

    async def _call(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        retrying = AsyncRetrying(
            retry=retry_if_exception(is_retryable),
            stop=stop_after_attempt(self.max_attempts),
            wait=WaitRetryAfterOrBackoff(max_wait=60.0),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await call()
        except openai.APIStatusError as exc:
            reason = f"{what}: HTTP {exc.status_code}{status_hint(exc.status_code)}: {exc.message}"
        except (openai.APITimeoutError, openai.APIConnectionError) as exc:
            reason = f"{what}: {type(exc).__name__}: {exc}: check --base-url and the network"
        raise BatchError(redact(reason, self._api_key))

    async def upload(self, name: str, data: bytes) -> str:
        created = await self._call(
            f"uploading {name}",
            lambda: self.client.files.create(file=(name, data, "application/jsonl"), purpose="batch"),
        )
        return str(created.id)

    async def create(self, file_id: str, metadata: dict[str, str]) -> dict[str, Any]:
        batch = await self._call(
            f"creating a batch from {file_id}",
            lambda: self.client.batches.create(
                input_file_id=file_id, endpoint=ENDPOINT, completion_window="24h", metadata=metadata
            ),
        )
        return batch.model_dump()

    async def retrieve(self, batch_id: str) -> dict[str, Any]:
        batch = await self._call(f"reading batch {batch_id}", lambda: self.client.batches.retrieve(batch_id))
        return batch.model_dump()

    async def content(self, file_id: str) -> str:
        response = await self._call(f"downloading {file_id}", lambda: self.client.files.content(file_id))
        return response.text

    async def aclose(self) -> None:
        await self.client.close()


@dataclass
class QueuedRequest:
    custom_id: str
    key: str  # the cache key its answer is stored under
    schema: str
    thread: str
    body: dict[str, Any]


class BatchExtractor:
    """The extractor seam for a batch pass: collected answers come from the cache (the runner looks there
    first); every other request is queued and deferred, or fails once its attempts are spent."""

    name = "openai"

    def __init__(self, inner: Any, requests: dict[str, dict[str, Any]]) -> None:
        self.inner = inner
        self.model = inner.model
        self.fingerprint = inner.fingerprint
        self.base_url = inner.base_url
        self.requests = requests
        self.queued: list[QueuedRequest] = []

    def _defer(self, key: str, label: str, schema: str, messages: list[dict[str, str]]) -> None:
        record = self.requests.get(key)
        if record is not None and record["state"] == "failed":
            raise ExtractionError(
                f"batch request {record['custom_id']} failed after {record['attempts']} attempt(s): {record['reason']}",
                usage=Usage(calls=record["attempts"]),
            )
        if record is not None and record["state"] == "sent":
            raise RequestDeferred(record["custom_id"])
        if record is not None and record["state"] == "retry":
            messages = [*messages, *record.get("reask", [])]
        custom_id = f"{CURRENT_THREAD.get()}/{label}-{key[:12]}"
        body = self.inner.request_body(messages, schema, self.inner.response_mode)
        self.queued.append(QueuedRequest(custom_id, key, schema, CURRENT_THREAD.get(), body))
        raise RequestDeferred(custom_id)

    async def extract(self, chunk: Chunk) -> ChunkExtraction:
        self._defer(extraction_key(self.fingerprint, chunk), chunk.id, "extraction", extraction_messages(chunk))
        raise AssertionError("unreachable: _defer raises")

    async def summarize(self, title: str, claims: list[Claim], relations: list[Relation]) -> tuple[str, Usage]:
        key = summary_key(self.fingerprint, title, claims, relations)
        self._defer(key, "overview", "summary", summary_messages(title, claims, relations))
        raise AssertionError("unreachable: _defer raises")

    async def summarize_parts(self, title: str, parts: list[str]) -> tuple[str, Usage]:
        self._defer(parts_key(self.fingerprint, title, parts), "overview", "summary", parts_messages(title, parts))
        raise AssertionError("unreachable: _defer raises")

    @property
    def response_mode(self) -> str:
        return str(self.inner.response_mode)

    def summary_tokens(self, title: str, claims: list[Claim], relations: list[Relation]) -> int:
        return int(self.inner.summary_tokens(title, claims, relations))

    def parts_tokens(self, title: str, parts: list[str]) -> int:
        return int(self.inner.parts_tokens(title, parts))

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class BatchOutcome:
    exit_code: int  # 0 every thread complete, 1 some partial or failed, EXIT_WAITING answers still due
    manifest: dict[str, Any]
    submitted: list[str]  # batch ids created by this call
    waiting: int  # requests in batches not collected yet


EXIT_WAITING = 3


def state_path(out: Path) -> Path:
    return out / "batch" / "state.json"


def _config_record(config: RunConfig) -> dict[str, Any]:
    return {
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
    }


def load_state(out: Path) -> dict[str, Any]:
    path = state_path(out)
    try:
        state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"no batch in {out} ({path} is missing): start one with `threadbrief run --batch`") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path} ({exc}): it was not written by threadbrief") from exc
    if state.get("version") != STATE_VERSION:
        raise ConfigError(f"{path} has state version {state.get('version')!r}, expected {STATE_VERSION}")
    return state


def config_from_state(state: dict[str, Any], base_url: str | None = None) -> RunConfig:
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
    )


class BatchJob:
    """One OUT directory's batch work: passes, submissions and collections, saved after each step."""

    def __init__(
        self,
        config: RunConfig,
        extractor: Any,
        api: BatchAPI,
        *,
        state: dict[str, Any] | None = None,
        log: Log = no_log,
        max_requests: int | None = None,
        max_bytes: int | None = None,
    ) -> None:
        if not config.use_cache:
            raise ConfigError("--batch keeps the answers it collects in the cache: drop --no-cache")
        self.config = replace(config, price_factor=BATCH_DISCOUNT)  # --max-cost at batch prices
        self.extractor = extractor
        self.api = api
        self.log = log
        self.max_requests = max_requests or MAX_REQUESTS_PER_BATCH
        self.max_bytes = max_bytes or MAX_BYTES_PER_FILE
        self.state = state or {
            "version": STATE_VERSION,
            "config": _config_record(config),
            "fingerprint": extractor.fingerprint,
            "batches": [],
            "requests": {},
            "usage": {"answers": 0, "tokens_in": 0, "tokens_out": 0},
        }
        if self.state["fingerprint"] != extractor.fingerprint:
            raise ConfigError(
                "this batch was started with another model, prompts or schemas: collect it with the same "
                "threadbrief version and model, or start a new batch in another -o directory"
            )

    def save(self) -> None:
        atomic_write(state_path(self.config.out), json.dumps(self.state, ensure_ascii=False, indent=1) + "\n")

    @property
    def waiting(self) -> int:
        return sum(1 for r in self.state["requests"].values() if r["state"] == "sent")

    async def _pass(self) -> tuple[int, dict[str, Any], list[QueuedRequest]]:
        seam = BatchExtractor(self.extractor, self.state["requests"])
        exit_code, manifest = await Runner(self.config, seam, self.log).run()
        return exit_code, manifest, seam.queued

    def _files(self, queued: list[QueuedRequest]) -> list[list[tuple[QueuedRequest, bytes]]]:
        files: list[list[tuple[QueuedRequest, bytes]]] = []
        current: list[tuple[QueuedRequest, bytes]] = []
        size = 0
        seen: set[str] = set()
        for request in queued:
            if request.key in seen:  # two threads with the same chunk: one request answers both
                continue
            seen.add(request.key)
            line = (
                json.dumps(
                    {"custom_id": request.custom_id, "method": "POST", "url": ENDPOINT, "body": request.body},
                    ensure_ascii=False,
                )
                + "\n"
            ).encode()
            if len(line) > self.max_bytes:
                raise BatchError(
                    f"request {request.custom_id} is {len(line)} bytes, over the {self.max_bytes}-byte batch file "
                    "limit: lower --max-chunk-tokens"
                )
            if current and (len(current) >= self.max_requests or size + len(line) > self.max_bytes):
                files.append(current)
                current, size = [], 0
            current.append((request, line))
            size += len(line)
        if current:
            files.append(current)
        return files

    async def _submit(self, queued: list[QueuedRequest]) -> list[str]:
        created: list[str] = []
        for group in self._files(queued):
            name = f"requests-{len(self.state['batches']) + 1:03d}.jsonl"
            data = b"".join(line for _request, line in group)
            atomic_write(self.config.out / "batch" / name, data.decode())
            file_id = await self.api.upload(name, data)
            batch = await self.api.create(file_id, {"threadbrief_file": name})
            self.state["batches"].append(
                {
                    "id": batch["id"],
                    "file": name,
                    "input_file_id": file_id,
                    "requests": len(group),
                    "status": batch.get("status"),
                    "submitted_at": time.time(),
                    "collected": False,
                }
            )
            for request, _line in group:
                record = self.state["requests"].setdefault(request.key, {"attempts": 0, "reason": None})
                record.update(
                    custom_id=request.custom_id,
                    schema=request.schema,
                    thread=request.thread,
                    state="sent",
                    batch=batch["id"],
                    attempts=record["attempts"] + 1,
                )
            self.save()  # after each batch: a crash mid-way keeps every batch already created
            created.append(batch["id"])
            self.log("BATCH", f"{batch['id']}: {len(group)} request(s) from {name}")
        return created

    def _settle(self, record: dict[str, Any], reason: str, retryable: bool) -> None:
        record["reason"] = reason
        record["state"] = "retry" if retryable and record["attempts"] < MAX_ATTEMPTS else "failed"

    def _take(self, line: dict[str, Any], by_custom_id: dict[str, str], cache: ExtractionCache) -> str | None:
        custom_id = str(line.get("custom_id"))
        key = by_custom_id.get(custom_id)
        if key is None:
            return None  # not ours, or answered in an earlier collect
        record = self.state["requests"][key]
        response = line.get("response") or {}
        status = response.get("status_code")
        if status == 200 and isinstance(response.get("body"), dict):
            usage = Usage()
            try:
                payload, problems, content = read_answer(response["body"], record["schema"], usage)
            except ExtractionError as exc:
                payload, problems, content = None, [], ""
                self._settle(record, str(exc), retryable=False)
            if payload is None and unconstrained(content):
                self._use_json_object()
            totals = self.state["usage"]
            totals["answers"] += 1
            totals["tokens_in"] += usage.tokens_in
            totals["tokens_out"] += usage.tokens_out
            if payload is not None:
                if record["schema"] == "extraction":
                    cache.put(key, {"payload": payload})
                else:
                    cache.put(key, {"summary": str(payload["overview"]).strip()})
                record.update(state="done", reason=None)
                record.pop("reask", None)
            elif problems:
                record["reask"] = [*record.get("reask", []), *reask_messages(content, problems)]
                self._settle(record, "no schema-valid answer: " + "; ".join(problems)[:400], retryable=True)
            return custom_id
        error = line.get("error") or {}
        body_error = (response.get("body") or {}).get("error") if isinstance(response.get("body"), dict) else None
        message = error.get("message") or (body_error or {}).get("message") or "no answer"
        code = error.get("code") or (body_error or {}).get("code")
        where = f"HTTP {status}" if status else str(code or "error")
        rejected_format = is_schema_rejection(status, str(message))
        if rejected_format:
            self._use_json_object()
        retryable = status is None or status in RETRYABLE_STATUS or rejected_format
        self._settle(record, f"{where}: {message}"[:400], retryable=retryable)
        return custom_id

    def _use_json_object(self) -> None:
        """As live: a server that rejects or ignores json_schema gets json_object, with the schema in the
        prompt, for every request from now on (this collect's re-sends and later ones: the state keeps it)."""
        if self.extractor.response_mode != "json_object":
            self.extractor.response_mode = "json_object"
            self.state["config"]["response_format"] = "json_object"
            self.log("BATCH", "the server does not apply json_schema: json_object, schema in the prompt")

    async def collect(self) -> None:
        """Download what finished batches returned into the cache; settle every request they held."""
        pending = [b for b in self.state["batches"] if not b["collected"]]
        if not pending:
            return
        cache = ExtractionCache(Path(self.state["config"]["cache_dir"]))
        try:
            for batch in pending:
                info = await self.api.retrieve(batch["id"])
                batch["status"] = info.get("status")
                batch["request_counts"] = info.get("request_counts")
                if batch["status"] not in TERMINAL:
                    continue
                by_custom_id = {
                    r["custom_id"]: key
                    for key, r in self.state["requests"].items()
                    if r.get("batch") == batch["id"] and r["state"] == "sent"
                }
                answered: set[str] = set()
                for field_name in ("output_file_id", "error_file_id"):
                    file_id = info.get(field_name)
                    if not file_id:
                        continue
                    for raw in (await self.api.content(str(file_id))).splitlines():
                        if raw.strip():
                            taken = self._take(json.loads(raw), by_custom_id, cache)
                            if taken is not None:
                                answered.add(taken)
                errors = (info.get("errors") or {}).get("data") or []
                detail = "; ".join(str(e.get("message")) for e in errors if isinstance(e, dict))[:300]
                for custom_id, key in by_custom_id.items():
                    if custom_id not in answered:  # the batch ended without a line for it
                        reason = f"batch {batch['id']} ended {batch['status']} without an answer" + (
                            f": {detail}" if detail else ""
                        )
                        # A batch that failed validation would fail again unchanged; an expired one may not.
                        self._settle(self.state["requests"][key], reason, retryable=batch["status"] == "expired")
                batch["collected"] = True
                self.log("BATCH", f"{batch['id']}: {batch['status']}, {len(answered)} answer(s) collected")
                self.save()
        finally:
            cache.close()

    def _finish_manifest(self, manifest: dict[str, Any]) -> dict[str, Any]:
        totals = self.state["usage"]
        prices = load_prices(self.config.prices)
        live = cost_usd(prices, "openai", self.extractor.model, totals["tokens_in"], totals["tokens_out"])
        states = [r["state"] for r in self.state["requests"].values()]
        manifest["batch"] = {
            "state": str(state_path(self.config.out)),
            "batches": [
                {k: b.get(k) for k in ("id", "file", "requests", "status", "collected")} for b in self.state["batches"]
            ],
            "requests": {name: states.count(name) for name in ("sent", "done", "retry", "failed")},
            "answers": totals["answers"],
            "tokens_in": totals["tokens_in"],
            "tokens_out": totals["tokens_out"],
            "cost_usd": None if live is None else round(live * BATCH_DISCOUNT, 6),
        }
        atomic_write(self.config.out / "run.json", json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
        return manifest

    async def step(self) -> BatchOutcome:
        """Collect what finished, run a pass, submit what the pass still needs."""
        await self.collect()
        exit_code, manifest, queued = await self._pass()
        submitted = await self._submit(queued) if queued else []
        self.save()
        manifest = self._finish_manifest(manifest)
        waiting = self.waiting
        return BatchOutcome(EXIT_WAITING if waiting else exit_code, manifest, submitted, waiting)

    async def run_until_done(
        self,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        first_poll: float = 30.0,
        max_poll: float = 600.0,
        max_steps: int = 1000,
    ) -> BatchOutcome:
        """``--wait``: step, then poll with a growing delay (×1.5 up to ``max_poll``) until nothing is due."""
        delay = first_poll
        outcome = await self.step()
        for _step in range(max_steps):
            if not outcome.waiting:
                return outcome
            await sleep(delay)
            delay = min(max_poll, delay * 1.5)
            before = len(self.state["batches"])
            outcome = await self.step()
            if len(self.state["batches"]) > before:
                delay = first_poll  # a new round was submitted: it starts from a short poll again
        raise BatchError(f"still waiting after {max_steps} polls: run `threadbrief batch collect` later")

    async def status(self) -> list[dict[str, Any]]:
        rows = []
        for batch in self.state["batches"]:
            if not batch["collected"]:
                info = await self.api.retrieve(batch["id"])
                batch["status"] = info.get("status")
                batch["request_counts"] = info.get("request_counts")
            rows.append({k: batch.get(k) for k in ("id", "file", "requests", "status", "request_counts", "collected")})
        self.save()
        return rows
