"""The Batch API client: the Files and Batches calls, and the request files they take.

Input: request lines (``QueuedRequest``: custom_id, cache key, schema, thread, Chat Completions body).
Output: JSONL files split at the API's per-file limits; uploads, batch creation, batch status and file
contents through the SDK (``max_retries=0``: tenacity owns retries, as for live requests).
Failure modes: ``BatchError`` for a call that fails after its retries (message redacted: no key in it),
or a single request too large for a batch file.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeVar

from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

from .errors import BatchError
from .extract_openai import WaitRetryAfterOrBackoff, is_retryable, redact, status_hint
from .lazy import lazy_module

if TYPE_CHECKING:
    import openai
else:
    openai = lazy_module("openai")  # the SDK, imported on first use: offline runs never pay for it

ENDPOINT: Final = "/v1/chat/completions"
MAX_REQUESTS_PER_BATCH = 50_000  # the Batch API's limit per input file
MAX_BYTES_PER_FILE = 190_000_000  # the limit is 200 MB; the margin covers the upload's multipart framing
T = TypeVar("T")


@dataclass
class QueuedRequest:
    custom_id: str
    key: str  # the cache key its answer is stored under
    schema: str
    thread: str
    body: dict[str, Any]


def request_files(
    queued: list[QueuedRequest], max_requests: int = MAX_REQUESTS_PER_BATCH, max_bytes: int = MAX_BYTES_PER_FILE
) -> list[list[tuple[QueuedRequest, bytes]]]:
    """The queue as Batch API JSONL lines, one request per cache key, cut into files within the limits."""
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
        if len(line) > max_bytes:
            raise BatchError(
                f"request {request.custom_id} is {len(line)} bytes, over the {max_bytes}-byte batch file "
                "limit: lower --max-chunk-tokens"
            )
        if current and (len(current) >= max_requests or size + len(line) > max_bytes):
            files.append(current)
            current, size = [], 0
        current.append((request, line))
        size += len(line)
    if current:
        files.append(current)
    return files


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
