"""Batch: the provider's Batch API fills the cache; the same stages as a live run write the briefs.

Input: a ``RunConfig`` (openai backend), an ``OpenAIExtractor`` (request bodies, fingerprint, answer
checks: the same as live) and a ``BatchAPI`` (Files and Batches endpoints). Output, besides what a run
writes: ``OUT/batch/state.json`` (``batch_state``) and ``OUT/batch/requests-NNN.jsonl`` (each file as
uploaded; no key in them).
A step is collect → pass → submit. ``collect`` downloads the output and error files of finished batches,
checks each answer as the live path does (schema, refusal, truncation) and stores the valid ones in the
cache. The pass runs every thread with ``BatchQueue`` as the answer source behind the cache: a thread whose
answers are all in gets its brief; every answer still missing is queued and the thread is ``pending``
(the overviews, which need the extractions, go out in the next round). ``submit`` writes the queue as
Batch API JSONL (custom_id = ``thread/label-key``), uploads it and starts the batches. A schema-invalid
answer is re-asked with the validator's messages, an error re-submitted, each at most ``MAX_ATTEMPTS``
times; then the request fails with its reason and its thread is partial or failed, as live.
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
from typing import Any

from . import outputs
from .answers import WAITING, Summary, Waiting
from .batch_api import MAX_BYTES_PER_FILE, MAX_REQUESTS_PER_BATCH, BatchAPI, QueuedRequest, request_files
from .batch_state import (
    REQUEST_STATES,
    BatchState,
    RequestRecord,
    new_state,
    save_state,
    settle,
    state_path,
    waiting,
)
from .cache import ExtractionCache, extraction_key, parts_key, summary_key
from .errors import BatchError, ConfigError, ExtractionError
from .extract import ContextWindow
from .extract_openai import (
    RETRYABLE_STATUS,
    OpenAIExtractor,
    extraction_messages,
    is_schema_rejection,
    parts_messages,
    read_answer,
    reask_messages,
    summary_messages,
    unconstrained,
)
from .models import Chunk, ChunkExtraction, Claim, Relation, Usage
from .outputs import RunSummary
from .progress import Log, no_log
from .runner import Runner
from .settings import RunConfig

BATCH_DISCOUNT = 0.5  # batch requests are billed at half the live price
TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
EXIT_WAITING = 3


class BatchQueue:
    """The answer source behind the cache in a batch pass: it answers nothing now. A request never sent, or
    due again, is queued (``WAITING``); one in a batch not collected yet is ``WAITING``; one whose attempts
    are spent raises its failure."""

    def __init__(self, extractor: OpenAIExtractor, requests: dict[str, RequestRecord]) -> None:
        self.extractor = extractor
        self.window: ContextWindow | None = extractor
        self.requests = requests
        self.queued: list[QueuedRequest] = []

    def _ask(self, thread_id: str, key: str, label: str, schema: str, messages: list[dict[str, str]]) -> Waiting:
        record = self.requests.get(key)
        if record is not None and record["state"] == "failed":
            raise ExtractionError(
                f"batch request {record['custom_id']} failed after {record['attempts']} attempt(s): {record['reason']}",
                usage=Usage(calls=record["attempts"]),
            )
        if record is not None and record["state"] == "sent":
            return WAITING
        if record is not None and record["state"] == "retry":
            messages = [*messages, *record.get("reask", [])]
        body = self.extractor.request_body(messages, schema, self.extractor.response_mode)
        self.queued.append(QueuedRequest(f"{thread_id}/{label}-{key[:12]}", key, schema, thread_id, body))
        return WAITING

    async def extraction(self, thread_id: str, chunk: Chunk) -> ChunkExtraction | Waiting:
        key = extraction_key(self.extractor.fingerprint, chunk)
        return self._ask(thread_id, key, chunk.id, "extraction", extraction_messages(chunk))

    async def summary(
        self, thread_id: str, title: str, claims: list[Claim], relations: list[Relation]
    ) -> Summary | Waiting:
        key = summary_key(self.extractor.fingerprint, title, claims, relations)
        return self._ask(thread_id, key, "overview", "summary", summary_messages(title, claims, relations))

    async def parts_summary(self, thread_id: str, title: str, parts: list[str]) -> Summary | Waiting:
        key = parts_key(self.extractor.fingerprint, title, parts)
        return self._ask(thread_id, key, "overview", "summary", parts_messages(title, parts))


@dataclass
class BatchOutcome:
    exit_code: int  # 0 every thread complete, 1 some partial or failed, EXIT_WAITING answers still due
    manifest: RunSummary
    submitted: list[str]  # batch ids created by this call
    waiting: int  # requests in batches not collected yet


def _failure_of(line: dict[str, Any]) -> tuple[str, bool, bool]:
    """An answer line without a usable response → (reason, worth sending again, the server refused the format)."""
    response = line.get("response") or {}
    status = response.get("status_code")
    error = line.get("error") or {}
    body_error = (response.get("body") or {}).get("error") if isinstance(response.get("body"), dict) else None
    message = error.get("message") or (body_error or {}).get("message") or "no answer"
    code = error.get("code") or (body_error or {}).get("code")
    where = f"HTTP {status}" if status else str(code or "error")
    rejected_format = is_schema_rejection(status, str(message))
    retryable = status is None or status in RETRYABLE_STATUS or rejected_format
    return f"{where}: {message}"[:400], retryable, rejected_format


def take_answer(state: BatchState, key: str, line: dict[str, Any], cache: ExtractionCache) -> bool:
    """Settle the request one answer line is for; a valid answer goes into the cache. True when the answer
    shows the server refused or ignored json_schema."""
    record = state["requests"][key]
    response = line.get("response") or {}
    if response.get("status_code") != 200 or not isinstance(response.get("body"), dict):
        reason, retryable, rejected_format = _failure_of(line)
        settle(record, reason, retryable)
        return rejected_format
    usage = Usage()
    try:
        payload, problems, content = read_answer(response["body"], record["schema"], usage)
    except ExtractionError as exc:
        payload, problems, content = None, [], ""
        settle(record, str(exc), retryable=False)
    totals = state["usage"]
    totals["answers"] += 1
    totals["tokens_in"] += usage.tokens_in
    totals["tokens_out"] += usage.tokens_out
    if payload is not None:
        summary = record["schema"] != "extraction"
        cache.put(key, {"summary": str(payload["overview"]).strip()} if summary else {"payload": payload})
        record["state"], record["reason"] = "done", None
        record.pop("reask", None)
    elif problems:
        record["reask"] = [*record.get("reask", []), *reask_messages(content, problems)]
        settle(record, "no schema-valid answer: " + "; ".join(problems)[:400], retryable=True)
    return payload is None and unconstrained(content)


def batch_section(state: BatchState, out: Path, price: Callable[[Usage], float | None]) -> dict[str, Any]:
    """What run.json says of the batches: each batch, the requests by state, the answers' tokens and cost."""
    totals = state["usage"]
    live = price(Usage(tokens_in=totals["tokens_in"], tokens_out=totals["tokens_out"]))
    states = [r["state"] for r in state["requests"].values()]
    return {
        "state": str(state_path(out)),
        "batches": [{k: b.get(k) for k in ("id", "file", "requests", "status", "collected")} for b in state["batches"]],
        "requests": {name: states.count(name) for name in REQUEST_STATES},
        "answers": totals["answers"],
        "tokens_in": totals["tokens_in"],
        "tokens_out": totals["tokens_out"],
        "cost_usd": None if live is None else round(live * BATCH_DISCOUNT, 6),
    }


class BatchJob:
    """One OUT directory's batch work: passes, submissions and collections, saved after each step."""

    def __init__(
        self,
        config: RunConfig,
        extractor: OpenAIExtractor,
        api: BatchAPI,
        *,
        state: BatchState | None = None,
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
        self.state = state or new_state(config, extractor.fingerprint)
        if self.state["fingerprint"] != extractor.fingerprint:
            raise ConfigError(
                "this batch was started with another model, prompts or schemas: collect it with the same "
                "threadbrief version and model, or start a new batch in another -o directory"
            )

    def save(self) -> None:
        save_state(self.config.out, self.state)

    @property
    def waiting(self) -> int:
        return waiting(self.state)

    async def _submit(self, queued: list[QueuedRequest]) -> list[str]:
        created: list[str] = []
        for group in request_files(queued, self.max_requests, self.max_bytes):
            name = f"requests-{len(self.state['batches']) + 1:03d}.jsonl"
            data = b"".join(line for _request, line in group)
            outputs.atomic_write(outputs.batch_dir(self.config.out) / name, data.decode())
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
                record = self.state["requests"].setdefault(
                    request.key,
                    {
                        "attempts": 0,
                        "reason": None,
                        "custom_id": "",
                        "schema": "",
                        "thread": "",
                        "state": "sent",
                        "batch": "",
                    },
                )
                record["custom_id"] = request.custom_id
                record["schema"] = request.schema
                record["thread"] = request.thread
                record["state"] = "sent"
                record["batch"] = batch["id"]
                record["attempts"] += 1
            self.save()  # after each batch: a crash mid-way keeps every batch already created
            created.append(batch["id"])
            self.log("BATCH", f"{batch['id']}: {len(group)} request(s) from {name}")
        return created

    def _use_json_object(self) -> None:
        """As live: a server that rejects or ignores json_schema gets json_object, with the schema in the
        prompt, for every request from now on (this collect's re-sends and later ones: the state keeps it)."""
        if self.extractor.response_mode != "json_object":
            self.extractor.response_mode = "json_object"
            self.state["config"]["response_format"] = "json_object"
            self.log("BATCH", "the server does not apply json_schema: json_object, schema in the prompt")

    async def _collect_batch(self, batch_id: str, info: dict[str, Any], cache: ExtractionCache) -> int:
        """Settle every request a finished batch held: by its answer line, or as ended without one."""
        by_custom_id = {
            r["custom_id"]: key
            for key, r in self.state["requests"].items()
            if r.get("batch") == batch_id and r["state"] == "sent"
        }
        answered: set[str] = set()
        for field_name in ("output_file_id", "error_file_id"):
            lines = (await self.api.content(str(info[field_name]))).splitlines() if info.get(field_name) else []
            for line in (json.loads(raw) for raw in lines if raw.strip()):
                key = by_custom_id.get(str(line.get("custom_id")))
                if key is not None:  # else not ours, or answered in an earlier collect
                    if take_answer(self.state, key, line, cache):
                        self._use_json_object()
                    answered.add(str(line["custom_id"]))
        errors = (info.get("errors") or {}).get("data") or []
        detail = "; ".join(str(e.get("message")) for e in errors if isinstance(e, dict))[:300]
        status = info.get("status")
        for custom_id, key in by_custom_id.items():
            if custom_id not in answered:
                reason = f"batch {batch_id} ended {status} without an answer" + (f": {detail}" if detail else "")
                # A batch that failed validation would fail again unchanged; an expired one may not.
                settle(self.state["requests"][key], reason, retryable=status == "expired")
        return len(answered)

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
                answers = await self._collect_batch(batch["id"], info, cache)
                batch["collected"] = True
                self.log("BATCH", f"{batch['id']}: {batch['status']}, {answers} answer(s) collected")
                self.save()
        finally:
            cache.close()

    async def step(self) -> BatchOutcome:
        """Collect what finished, run a pass, submit what the pass still needs; run.json written once."""
        await self.collect()
        queue = BatchQueue(self.extractor, self.state["requests"])
        runner = Runner(self.config, self.extractor, self.log, on_cache_miss=queue)
        report = await runner.run()
        try:
            # A pass stopped part-way (Ctrl-C, a ConfigError) submits nothing: its queue is incomplete.
            submitted = await self._submit(queue.queued) if queue.queued and report.stop is None else []
            self.save()
            report.manifest["batch"] = batch_section(self.state, self.config.out, runner.price)
            outputs.write_run(self.config.out, report.manifest, report.record)
        finally:
            report.record.close()
        report.raise_stop()
        due = self.waiting
        return BatchOutcome(EXIT_WAITING if due else report.exit_code, report.manifest, submitted, due)

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
