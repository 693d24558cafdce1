"""The OpenAI-compatible backend: Chat Completions on any base URL (OpenAI, Azure, vLLM, Ollama, llama.cpp).

Input: a ``Chunk`` (or the merged claims, for ``summarize``). Output: a payload valid against
``schemas/extraction.schema.json`` (or ``summary.schema.json``) with token usage.
Behaviour: the schema file is sent as ``response_format`` json_schema (strict); a server that rejects
that (a 400 naming it), or ignores it (an answer in prose or a code fence, which strict decoding cannot
produce), gets ``json_object`` with the same schema file appended to the system prompt from then on;
``response_format="json_object"`` starts there. Every answer is
validated locally (Draft 2020-12); an invalid one is re-asked at most ``max_reasks`` times with the
validator's messages. Transport retries have one owner, tenacity (the SDK client has
``max_retries=0``): 429, 5xx, timeouts and connection errors, honouring ``Retry-After``, with jittered
exponential backoff, bounded in attempts and total time. Every attempt first takes its prompt tokens plus
``output_budget`` from the shared ``RateLimiter``, and reports 429s to it. Requests go through the SDK's
documented ``client.post`` (raw response), spread over small connection pools (see ``POOL_SHARD_SIZE``).
Failure modes: ``ExtractionError`` (retries exhausted, refusal, truncated answer, no valid answer after
the re-asks, a non-retryable HTTP error); its message never contains the API key.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, stop_after_delay
from tenacity.wait import wait_random_exponential

from .errors import ExtractionError
from .extract import parse_json_reply
from .lazy import lazy_module
from .limiter import RateLimiter
from .models import TITLE_POST_ID, Chunk, ChunkExtraction, Claim, Relation, Usage
from .resources import prompt_sha256, prompt_text, render_prompt, response_schema, schema_errors, schema_sha256
from .tokenizer import MESSAGE_TOKENS, Tokenizer, get_tokenizer

if TYPE_CHECKING:
    import openai
else:
    openai = lazy_module("openai")  # the SDK, imported on first use: offline runs never pay for it

EXTRACT_PROMPTS = ("extract_system", "extract_user", "extract_context", "extract_language", "json_object", "reask")
SUMMARY_PROMPTS = ("summarize_system", "summarize_user", "summarize_parts_system", "summarize_parts_user")
RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
# Local servers (Ollama, llama.cpp) need no key, but the SDK's client insists on one.
NO_KEY = "no-key-needed"
# What an HTTP error from the endpoint tells a user to check.
_STATUS_HINTS = {
    401: "check OPENAI_API_KEY",
    403: "check the key's permissions",
    404: "check --model and --base-url (does the server offer this endpoint?)",
}
DEFAULT_OUTPUT_BUDGET = 1024  # output tokens a request is assumed to use, for TPM accounting and estimates
POOL_SHARD_SIZE = 8  # connections per HTTP client
_SCHEMA_REJECTION_HINTS = ("response_format", "json_schema", "structured output", "schema")
RESPONSE_FORMATS = ("auto", "json_object")


def _retry_after_seconds(exc: BaseException, now: Callable[[], float] = time.time) -> float | None:
    """Seconds the server asked us to wait (Retry-After in seconds or HTTP-date, or retry-after-ms)."""
    response = getattr(exc, "response", None)
    if response is None:
        return None
    headers = response.headers
    if "retry-after-ms" in headers:
        try:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - now())


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError)):
        return True
    return isinstance(exc, openai.APIStatusError) and exc.status_code in RETRYABLE_STATUS


def status_hint(status: int) -> str:
    """ ": check ..." for an HTTP status a user can fix, else ""."""
    hint = _STATUS_HINTS.get(status)
    return f": {hint}" if hint else ""


def redact(text: str, api_key: str) -> str:
    """``text`` with the key replaced: no error message, log line or file ever carries it."""
    return text.replace(api_key, "***") if api_key else text


class WaitRetryAfterOrBackoff:
    """tenacity wait: the server's Retry-After when given (capped), else jittered exponential backoff."""

    def __init__(self, max_wait: float, backoff_max: float = 30.0) -> None:
        self.max_wait = max_wait
        self.backoff = wait_random_exponential(multiplier=0.5, max=backoff_max)

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        asked = _retry_after_seconds(exc) if exc else None
        if asked is not None:
            return min(asked, self.max_wait)
        return float(self.backoff(state))


def is_schema_rejection(status: int | None, message: str) -> bool:
    """A 400/422 that names the response format: the server does not take ``json_schema``."""
    return status in (400, 422) and any(hint in message.lower() for hint in _SCHEMA_REJECTION_HINTS)


def _is_schema_rejection(exc: openai.APIStatusError) -> bool:
    return is_schema_rejection(exc.status_code, str(exc))


def extraction_messages(chunk: Chunk) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": prompt_text("extract_system")},
        {"role": "user", "content": chunk.user_prompt},
    ]


def _speaker(claim: Claim | None) -> str:
    return (claim.speaker if claim is not None else None) or "an unnamed speaker"


def _speakers_line(claims: list[Claim]) -> str:
    """Each speaker once, in the order of their first claim, with their count of claims; the title's author
    is named as the one who opened the thread (the title post is theirs), which a reader needs to know."""
    counts: dict[str, int] = {}
    opened: set[str] = set()
    for claim in claims:
        name = _speaker(claim)
        counts[name] = counts.get(name, 0) + 1
        if claim.post_id == TITLE_POST_ID:
            opened.add(name)
    return "; ".join(
        f"{name} ({'opened the thread, ' if name in opened else ''}{count} claim{'s' if count != 1 else ''})"
        for name, count in counts.items()
    )


def summary_messages(title: str, claims: list[Claim], relations: list[Relation]) -> list[dict[str, str]]:
    """The overview's prompt: every claim with its speaker, what it says and, when the claim's text is a
    paraphrase, the words it quotes (an overview written from paraphrases alone lost who said what);
    every relation with the speakers of both ends."""
    by_id = {c.id: c for c in claims}
    claim_lines = "\n".join(
        f"{c.id} {_speaker(c)}, {c.kind}: {c.text}" + ("" if c.text == c.quote else f" | words: “{c.quote}”")
        for c in claims
    )
    relation_lines = "\n".join(
        f"{r.source} ({_speaker(by_id.get(r.source))}) {r.type} {r.target} ({_speaker(by_id.get(r.target))})"
        for r in relations
    )
    user = render_prompt(
        "summarize_user",
        title=title,
        speakers=_speakers_line(claims) or "(none)",
        claims=claim_lines or "(none)",
        relations=relation_lines or "(none)",
    )
    return [{"role": "system", "content": prompt_text("summarize_system")}, {"role": "user", "content": user}]


def parts_messages(title: str, parts: list[str]) -> list[dict[str, str]]:
    listed = "\n\n".join(f"Part {number} of {len(parts)}: {part}" for number, part in enumerate(parts, 1))
    user = render_prompt("summarize_parts_user", title=title, parts=listed)
    return [{"role": "system", "content": prompt_text("summarize_parts_system")}, {"role": "user", "content": user}]


def reask_messages(content: str, problems: list[str]) -> list[dict[str, str]]:
    """The invalid answer and the validator's messages, to send back (as instructor does)."""
    return [
        {"role": "assistant", "content": content},
        {"role": "user", "content": render_prompt("reask", errors="; ".join(problems))},
    ]


def unconstrained(content: str) -> bool:
    """Text that does not even open as a JSON object (prose, a code fence): what a server that ignored
    ``response_format`` returns. Empty or cut-off JSON says nothing about the format, so it is not counted."""
    text = content.strip()
    return bool(text) and not text.startswith("{")


def read_answer(
    response: dict[str, Any], schema_name: str, usage: Usage
) -> tuple[dict[str, Any] | None, list[str], str]:
    """A Chat Completions response → (payload, [], content) when schema-valid, else (None, problems, content).

    Adds the reported tokens to ``usage``. Raises ``ExtractionError`` for what a re-ask cannot fix: a
    refusal, or an answer cut off at the output limit."""
    reported = response.get("usage") or {}
    usage.tokens_in += int(reported.get("prompt_tokens") or 0)
    usage.tokens_out += int(reported.get("completion_tokens") or 0)
    choices = response.get("choices") or []
    if not choices:
        return None, ["the answer had no choices"], ""
    choice = choices[0]
    message = choice.get("message") or {}
    refusal = message.get("refusal")
    if refusal:
        raise ExtractionError(f"the model refused: {str(refusal)[:200]}")
    if choice.get("finish_reason") == "length":
        raise ExtractionError(
            "the answer was cut off at the output token limit (finish_reason=length): lower --max-chunk-tokens"
        )
    content = message.get("content") or ""
    try:
        value = parse_json_reply(content)
        problems = schema_errors(schema_name, value)
    except ValueError as exc:
        return None, [str(exc)], content
    if problems:
        return None, problems, content
    payload: dict[str, Any] = value
    return payload, [], content


class OpenAIExtractor:
    name = "openai"

    def __init__(
        self,
        *,
        model: str,
        api_key: str,
        base_url: str | None = None,
        timeout: float = 120.0,
        max_attempts: int = 6,
        max_retry_seconds: float = 600.0,
        max_wait: float = 120.0,
        max_reasks: int = 2,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        http_client: httpx.AsyncClient | None = None,
        limiter: RateLimiter | None = None,
        output_budget: int = DEFAULT_OUTPUT_BUDGET,
        tokenizer: Tokenizer | None = None,
        max_connections: int = 64,
        response_format: str = "auto",
    ) -> None:
        if response_format not in RESPONSE_FORMATS:
            raise ValueError(f"response_format must be one of {', '.join(RESPONSE_FORMATS)}, not {response_format!r}")
        self.model = model
        self.limiter = limiter or RateLimiter()
        self.output_budget = output_budget
        self.tokenizer = tokenizer or get_tokenizer(model)
        self._api_key = api_key
        if http_client is not None:
            http_clients = [http_client]
        else:
            # httpcore 1.0's pool does work quadratic in its connections on every request (fixed only in
            # httpx2, which respx cannot mock): at 64 connections that was most of the client's CPU. So the
            # connections are split into small pools, one client each, used in turn.
            shards = max(1, -(-max_connections // POOL_SHARD_SIZE))
            size = -(-max_connections // shards)
            limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
            http_clients = [httpx.AsyncClient(limits=limits, timeout=timeout) for _ in range(shards)]
        self._clients = [
            openai.AsyncOpenAI(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout, http_client=c)
            for c in http_clients
        ]
        self._turn = 0
        self._cancelled_requests = 0  # sent, then cancelled before their answer came (the run stopped)
        self.client = self._clients[0]
        self.base_url = str(self.client.base_url)
        self.max_attempts = max_attempts
        self.max_retry_seconds = max_retry_seconds
        self.max_reasks = max_reasks
        self._wait = WaitRetryAfterOrBackoff(max_wait)
        self._sleep = sleep
        # json_schema until a server rejects or ignores it; json_object from the start when asked.
        self.response_mode = "json_object" if response_format == "json_object" else "json_schema"
        identity = {
            "backend": self.name,
            "model": model,
            "prompts": {name: prompt_sha256(name) for name in EXTRACT_PROMPTS + SUMMARY_PROMPTS},
            "schemas": {name: schema_sha256(name) for name in ("extraction", "summary")},
        }
        self.fingerprint = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()

    def request_body(self, messages: list[dict[str, str]], schema_name: str, mode: str) -> dict[str, Any]:
        schema = response_schema(schema_name)
        if mode == "json_schema":
            format_: dict[str, Any] = {
                "type": "json_schema",
                "json_schema": {"name": schema["title"], "strict": True, "schema": schema},
            }
        else:
            format_ = {"type": "json_object"}
            system = messages[0]["content"] + render_prompt("json_object", schema=json.dumps(schema, indent=1))
            messages = [{"role": "system", "content": system}, *messages[1:]]
        return {"model": self.model, "messages": messages, "response_format": format_}

    def prompt_tokens(self, messages: list[dict[str, str]]) -> int:
        return sum(self.tokenizer.count(m["content"]) + MESSAGE_TOKENS for m in messages)

    async def _send(self, messages: list[dict[str, str]], schema_name: str, tokens: int, mode: str) -> dict[str, Any]:
        await self.limiter.acquire(tokens)
        try:
            # The SDK's documented raw call: its errors, auth and base URL handling, without re-walking our
            # large request (the schema) through its type transforms or building a pydantic response,
            # which cost milliseconds of CPU per request at high concurrency.
            self._turn += 1
            client = self._clients[self._turn % len(self._clients)]
            try:
                raw = await client.post(
                    "/chat/completions", cast_to=httpx.Response, body=self.request_body(messages, schema_name, mode)
                )
            except asyncio.CancelledError:
                self._cancelled_requests += 1
                raise
            response: dict[str, Any] = raw.json()
        except openai.RateLimitError as exc:
            headers = exc.response.headers
            spent = "0" in (headers.get("x-ratelimit-remaining-requests"), headers.get("x-ratelimit-remaining-tokens"))
            self.limiter.throttled(tokens, _retry_after_seconds(exc), limit_spent=spent)
            raise
        self.limiter.succeeded()
        return response

    async def _complete(
        self, messages: list[dict[str, str]], schema_name: str, usage: Usage, prompt_tokens: int
    ) -> dict[str, Any]:
        tokens = prompt_tokens + self.output_budget
        retrying = AsyncRetrying(
            retry=retry_if_exception(is_retryable),
            stop=stop_after_attempt(self.max_attempts) | stop_after_delay(self.max_retry_seconds),
            wait=self._wait,
            sleep=self._sleep,
            reraise=True,
        )
        return await retrying(self._attempt, messages, schema_name, usage, tokens)

    async def _attempt(
        self, messages: list[dict[str, str]], schema_name: str, usage: Usage, tokens: int
    ) -> dict[str, Any]:
        usage.calls += 1
        mode = self.response_mode
        try:
            return await self._send(messages, schema_name, tokens, mode)
        except openai.APIStatusError as exc:
            # Decided by the mode this request was sent in: with requests in flight together, the first
            # refusal switches the mode and the others must still be re-sent, not failed.
            if mode == "json_schema" and _is_schema_rejection(exc):
                self.response_mode = "json_object"
                usage.calls += 1
                return await self._send(messages, schema_name, tokens, "json_object")
            raise

    async def _structured(
        self, schema_name: str, messages: list[dict[str, str]], prompt_tokens: int | None = None
    ) -> tuple[dict[str, Any], Usage]:
        """A schema-valid answer and what it cost; every failure becomes one redacted ExtractionError."""
        usage = Usage()
        try:
            tokens = self.prompt_tokens(messages) if prompt_tokens is None else prompt_tokens
            return await self._ask_until_valid(schema_name, messages, usage, tokens), usage
        except ExtractionError as exc:
            reason = str(exc)
        except openai.APIStatusError as exc:
            hint = status_hint(exc.status_code)
            reason = f"HTTP {exc.status_code} from the endpoint after {usage.calls} call(s){hint}: {exc.message}"[:500]
        except (openai.APITimeoutError, openai.APIConnectionError) as exc:
            reason = f"{type(exc).__name__} after {usage.calls} call(s): {exc}: check --base-url and the network"
        raise ExtractionError(redact(reason, self._api_key), usage=usage)

    async def _ask_until_valid(
        self, schema_name: str, messages: list[dict[str, str]], usage: Usage, prompt_tokens: int
    ) -> dict[str, Any]:
        problems: list[str] = []
        for _ask in range(1 + self.max_reasks):
            mode = self.response_mode
            response = await self._complete(messages, schema_name, usage, prompt_tokens)
            payload, problems, content = read_answer(response, schema_name, usage)
            if mode == "json_schema" and unconstrained(content):
                # Strict decoding starts with "{"; prose means the server ignored the format and the model
                # never saw the schema: from now on it is in the prompt.
                self.response_mode = "json_object"
            if payload is not None:
                return payload
            reask = reask_messages(content, problems)
            messages = [*messages, *reask]
            prompt_tokens += self.prompt_tokens(reask)
        raise ExtractionError(f"no schema-valid answer after {1 + self.max_reasks} tries: " + "; ".join(problems)[:400])

    async def extract(self, chunk: Chunk) -> ChunkExtraction:
        payload, usage = await self._structured("extraction", extraction_messages(chunk), chunk.prompt_tokens)
        return ChunkExtraction(chunk.id, payload, usage)

    async def summarize(self, title: str, claims: list[Claim], relations: list[Relation]) -> tuple[str, Usage]:
        payload, usage = await self._structured("summary", summary_messages(title, claims, relations))
        return str(payload["overview"]).strip(), usage

    async def summarize_parts(self, title: str, parts: list[str]) -> tuple[str, Usage]:
        payload, usage = await self._structured("summary", parts_messages(title, parts))
        return str(payload["overview"]).strip(), usage

    @property
    def window(self) -> OpenAIExtractor:
        return self

    @property
    def rate_limited(self) -> int:
        return self.limiter.throttles

    @property
    def cancelled_requests(self) -> int:
        return self._cancelled_requests

    @property
    def languages(self) -> None:  # a model reads every language its threads are in
        return None

    def summary_tokens(self, title: str, claims: list[Claim], relations: list[Relation]) -> int:
        return self.prompt_tokens(summary_messages(title, claims, relations))

    def parts_tokens(self, title: str, parts: list[str]) -> int:
        return self.prompt_tokens(parts_messages(title, parts))

    async def aclose(self) -> None:
        for client in self._clients:
            await client.close()
