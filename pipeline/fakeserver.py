"""A fake OpenAI-compatible server for tests and benchmarks: ``POST /v1/chat/completions`` on 127.0.0.1,
and the Files + Batches endpoints the batch path uses (``FakeBatches``, whose state tests/test_batch.py also
mounts on respx; a batch is run when it is retrieved, after ``polls`` reads of ``in_progress``).

Input: a ``FakeServerConfig`` (latency and jitter per request, the share of requests answered 429 with a
Retry-After, server-side requests/tokens-per-minute limits). Output: schema-valid answers built from
the request itself: for every ``<post>`` outside ``<context>``, one claim quoting the post's first
sentence verbatim, rebutting the claim of the post it replies to when that post is shown (for a parent
shown as context, a claim quoting the parent's first sentence from its excerpt); a ``thread_summary``
request gets an overview. Limits are token buckets holding ``BURST_SECONDS`` of
capacity; a request over them gets 429 with ``Retry-After`` and ``x-ratelimit-remaining-*: 0``, as
OpenAI sends; injected 429s carry only ``Retry-After``. ``stats`` counts requests, statuses and tokens.
Failure modes: a malformed request gets 400. Run it alone with ``python -m pipeline.fakeserver``.
"""

from __future__ import annotations

import argparse
import email.policy
import json
import random
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .tokenizer import get_tokenizer

BURST_SECONDS = 2.0
_RESET = -1  # handle()'s status for "drop the connection"
_POST = re.compile(r'<post id="([^"]+)"([^>]*)>(.*?)</post>', re.DOTALL)
_REPLY_TO = re.compile(r'reply_to="([^"]+)"')
_FIRST_SENTENCE = re.compile(r"\S.*?(?:[.!?](?=\s)|$)", re.DOTALL)


@dataclass
class Fault:
    """What a scripted request gets instead of the cooperative answer (see ``FakeServerConfig.script``)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content: str | None = None  # the assistant message's content, for a 200
    finish_reason: str = "stop"
    refusal: str | None = None
    reset: bool = False  # drop the connection without answering
    stall: float = 0.0  # seconds to wait before answering (or dropping)


@dataclass
class FakeServerConfig:
    latency: float = 0.0  # seconds per request
    jitter: float = 0.0  # extra seconds, uniform in [0, jitter]
    rate_429: float = 0.0  # share of requests answered 429 (injected)
    retry_after: float = 0.2  # Retry-After of injected 429s, seconds
    rpm: float | None = None  # enforced server-side
    tpm: float | None = None
    seed: int = 0
    # Faults on demand: called with the request body and its kind (extraction | summary); a Fault replaces
    # the cooperative answer, None keeps it.
    script: Callable[[dict[str, Any], str], Fault | None] | None = None
    json_schema: bool = True  # False: answer a json_schema response_format with 400, as llama.cpp or old vLLM
    # True: accept json_schema but ignore it, as servers without structured output do: the model never saw
    # the schema, so it answers in prose; with the schema in the prompt (json_object) it answers in JSON.
    ignores_json_schema: bool = False


@dataclass
class FakeServerStats:
    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    answered: dict[str, int] = field(default_factory=dict)  # 200s by kind: extraction | summary | summary_parts

    def count(self, status: int) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1


class _Bucket:
    def __init__(self, per_minute: float) -> None:
        self.rate = per_minute / 60
        self.capacity = self.rate * BURST_SECONDS
        self.level = self.capacity
        self.updated = time.monotonic()

    def take(self, amount: float) -> float:
        """Take ``amount`` if available and return 0, else return the seconds until it would be."""
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now
        amount = min(amount, self.capacity)
        if self.level >= amount:
            self.level -= amount
            return 0.0
        return (amount - self.level) / self.rate


def _first_sentence(text: str) -> str | None:
    match = _FIRST_SENTENCE.search(re.sub(r"</?quoted>", "", text))
    return match.group(0).strip() if match else None


def _first_user_message(body: dict[str, Any]) -> str:
    """What the request asks about: a re-ask appends the answer and the validator's messages after it."""
    return str(next(m["content"] for m in body["messages"] if m["role"] == "user"))


def answer_for(body: dict[str, Any]) -> dict[str, Any]:
    """The schema-valid content a cooperative model would return for this request."""
    response_format = body.get("response_format", {})
    name = response_format.get("json_schema", {}).get("name") if isinstance(response_format, dict) else None
    user = _first_user_message(body)
    if (
        name == "thread_summary"
        or user.startswith("Thread: ")
        and ("\nClaims (" in user or "Overviews of its parts" in user)
    ):
        return {"overview": "The thread debates its title; the claims and rebuttals are listed below."}
    context, _, shown = user.rpartition("</context>")
    context_first = {post_id: _first_sentence(text) for post_id, _attrs, text in _POST.findall(context)}
    claims: list[dict[str, str]] = []
    relations: list[dict[str, str]] = []
    local: dict[str, str] = {}

    def add_claim(post_id: str, quote: str) -> str:
        claim_id = f"k{len(claims) + 1}"
        local[post_id] = claim_id
        # A first sentence states its claim plainly: the text is empty, "the same as the quote".
        claims.append({"id": claim_id, "post_id": post_id, "kind": "claim", "quote": quote, "text": ""})
        return claim_id

    for post_id, attrs, text in _POST.findall(shown):
        quote = _first_sentence(text)
        if not quote:
            continue
        claim_id = add_claim(post_id, quote)
        parent = _REPLY_TO.search(attrs)
        target = parent.group(1) if parent else None
        if target is not None and target not in local and context_first.get(target):
            # A reply to a post of an earlier chunk: cite the parent's claim from its context excerpt.
            add_claim(target, str(context_first[target]))
        if target is not None and target in local:
            relations.append({"source": claim_id, "target": local[target], "type": "rebuts"})
    return {"claims": claims, "relations": relations}


class FakeOpenAIServer:
    """Start with ``start()`` (returns the base URL), stop with ``stop()``; or use it as a context manager."""

    def __init__(self, config: FakeServerConfig | None = None) -> None:
        self.config = config or FakeServerConfig()
        self.stats = FakeServerStats()
        self._lock = threading.Lock()
        self._random = random.Random(self.config.seed)
        self._requests = _Bucket(self.config.rpm) if self.config.rpm else None
        self._tokens = _Bucket(self.config.tpm) if self.config.tpm else None
        self._tokenizer = get_tokenizer(None)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.batches = FakeBatches(self._answer_line)

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("start() the server first")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self, port: int = 0) -> str:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real endpoint

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
                pass

            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                length = int(self.headers.get("content-length", 0))
                raw = self.rfile.read(length)
                if self.path.endswith(("/files", "/batches")):
                    status, payload = server.batches.route("POST", self.path, raw, self.headers.get("content-type", ""))
                    self._send(status, {}, payload)
                    return
                status, headers, payload = server.handle(self.path, raw)
                if status == _RESET:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self._send(status, headers, payload)

            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                status, payload = server.batches.route("GET", self.path)
                self._send(status, {}, payload)

            def _send(self, status: int, headers: dict[str, str], payload: Any) -> None:
                text = isinstance(payload, str)  # a file's content
                data = payload.encode() if text else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/jsonl" if text else "application/json")
                self.send_header("content-length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        class Server(ThreadingHTTPServer):
            request_queue_size = 256  # the stdlib's 5 drops connections when a client opens dozens at once
            block_on_close = False  # stop() must not wait for a request stalled on purpose

        self._server = Server(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-openai", daemon=True)
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeOpenAIServer:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _answer_line(self, url: str, body: dict[str, Any]) -> tuple[int, Any]:
        """A batch line's answer: what the chat endpoint would send (a dropped connection reads as 500)."""
        status, _headers, payload = self.handle(url, json.dumps(body).encode())
        return (500 if status == _RESET else status), payload

    def handle(self, path: str, raw: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
        if not path.endswith("/chat/completions"):
            return 404, {}, {"error": {"message": f"no route {path}"}}
        try:
            body = json.loads(raw)
            prompt_tokens = sum(self._tokenizer.count(m["content"]) + 4 for m in body["messages"])
        except (ValueError, KeyError, TypeError) as exc:
            return 400, {}, {"error": {"message": f"bad request: {exc}"}}
        response_format = body.get("response_format") or {}
        if not self.config.json_schema and response_format.get("type") == "json_schema":
            with self._lock:
                self.stats.requests += 1
                self.stats.count(400)
            return 400, {}, {"error": {"message": "response_format type json_schema is not supported"}}
        with self._lock:
            self.stats.requests += 1
            if self._random.random() < self.config.rate_429:
                self.stats.count(429)
                return 429, {"retry-after": f"{self.config.retry_after:g}"}, {"error": {"message": "overloaded"}}
            waits = [
                bucket.take(amount)
                for bucket, amount in ((self._requests, 1), (self._tokens, prompt_tokens))
                if bucket is not None
            ]
            if any(waits):
                self.stats.count(429)
                headers = {
                    "retry-after": f"{max(waits):.3f}",
                    "x-ratelimit-remaining-requests": "0",
                    "x-ratelimit-remaining-tokens": "0",
                }
                return 429, headers, {"error": {"message": "rate limit reached", "type": "requests"}}
            delay = self.config.latency + self._random.uniform(0, self.config.jitter)
        time.sleep(delay)
        answer = answer_for(body)
        kind = "extraction" if "overview" not in answer else "summary"
        if kind == "summary" and "Overviews of its parts" in _first_user_message(body):
            kind = "summary_parts"
        fault = self.config.script(body, kind) if self.config.script else None
        if fault is not None:
            time.sleep(fault.stall)
            with self._lock:
                self.stats.count(_RESET if fault.reset else fault.status)
            if fault.reset:
                return _RESET, {}, {}
            if fault.status != 200:
                return fault.status, fault.headers, {"error": {"message": f"scripted {fault.status}"}}
        content = json.dumps(answer) if fault is None or fault.content is None else fault.content
        if self.config.ignores_json_schema and response_format.get("type") == "json_schema" and fault is None:
            content = "Here is what the posts claim:\n" + "\n".join(
                f"- {c.get('text', '')}" for c in answer.get("claims", [])
            )
        completion_tokens = self._tokenizer.count(content)
        message: dict[str, Any] = {"role": "assistant", "content": content}
        finish_reason = "stop"
        if fault is not None:
            finish_reason = fault.finish_reason
            if fault.refusal is not None:
                message = {"role": "assistant", "content": None, "refusal": fault.refusal}
        with self._lock:
            self.stats.count(200)
            self.stats.answered[kind] = self.stats.answered.get(kind, 0) + 1
            self.stats.prompt_tokens += prompt_tokens
            self.stats.completion_tokens += completion_tokens
        return (
            200,
            {},
            {
                "id": f"chatcmpl-fake-{self.stats.requests}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "fake"),
                "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            },
        )


Answer = Callable[[str, dict[str, Any]], tuple[int, Any]]  # (url, body) → (status, response body)
# (custom_id, body, attempt) → None to answer as usual, {"content": ...} to answer 200 with that content, or
# {"status": N, "message": ...} to answer that status instead.
LineFault = Callable[[str, dict[str, Any], int], dict[str, Any] | None]


def parse_multipart(content_type: str, raw: bytes) -> dict[str, tuple[str | None, bytes]]:
    """The fields of a multipart/form-data body by name: (filename or None, content)."""
    message = BytesParser(policy=email.policy.HTTP).parsebytes(f"content-type: {content_type}\r\n\r\n".encode() + raw)
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in message.walk():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str) and not part.is_multipart():
            payload = part.get_payload(decode=True)
            fields[name] = (part.get_filename(), payload if isinstance(payload, bytes) else b"")
    return fields


def _error(message: str) -> dict[str, Any]:
    return {"error": {"message": message}}


class FakeBatches:
    """The Files and Batches endpoints the batch path uses, in memory and independent of the transport: the
    HTTP server routes to ``route``, tests/test_batch.py routes respx's mocks to it.

    A batch reads ``validating`` when created, ``in_progress`` on its first ``polls`` retrievals, and is run
    on the next one, synchronously (deterministic, no thread): each line is answered by ``answer(url, body)``
    unless ``fault`` overrides it, 200s go to the output file and the rest to the error file, as the real
    API does. ``endings`` scripts how the next batches end, in order (then ``completed``): ``expired``
    answers only the first line, ``failed`` (the input file rejected) answers none and says why in
    ``errors``; an input line that is not a JSON request fails its batch the same way. ``uploads``,
    ``created`` and ``answered`` (custom_id → times answered) record what clients sent. Failure modes: an
    unknown id gets 404, a malformed upload or batch request 400."""

    def __init__(self, answer: Answer, *, polls: int = 1, fault: LineFault | None = None) -> None:
        self.answer = answer
        self.polls = polls
        self.fault = fault
        self.endings: list[str] = []
        self.files: dict[str, str] = {}
        self.batches: dict[str, dict[str, Any]] = {}  # id → the record a retrieval returns
        self.uploads: list[dict[str, Any]] = []  # {"name", "purpose", "lines"}
        self.created: list[dict[str, Any]] = []  # the bodies of batch creations
        self.answered: dict[str, int] = {}
        self._gets: dict[str, int] = {}
        # The HTTP server is threaded; one lock over the whole state, held while a batch runs so that
        # concurrent retrievals run it once.
        self._lock = threading.Lock()

    def route(self, method: str, path: str, raw: bytes = b"", content_type: str = "") -> tuple[int, Any]:
        """One request to ``/files``, ``/batches``, ``/batches/{id}`` or ``/files/{id}/content``."""
        parts = path.split("?", 1)[0].rstrip("/").split("/")
        if method == "POST" and parts[-1] == "files":
            fields = parse_multipart(content_type, raw)
            if "file" not in fields:
                return 400, _error("expected a multipart upload with file and purpose=batch")
            filename, content = fields["file"]
            purpose = fields.get("purpose", (None, b""))[1].decode(errors="replace").strip()
            return self.upload(filename or "upload.jsonl", purpose, content)
        if method == "POST" and parts[-1] == "batches":
            try:
                body = json.loads(raw)
            except ValueError as exc:
                return 400, _error(f"bad batch request: {exc}")
            return self.create(body) if isinstance(body, dict) else (400, _error("bad batch request"))
        if method == "GET" and len(parts) >= 2 and parts[-2] == "batches":
            return self.retrieve(parts[-1])
        if method == "GET" and len(parts) >= 3 and parts[-3] == "files" and parts[-1] == "content":
            return self.content(parts[-2])
        return 404, _error(f"no route {method} {path}")

    def upload(self, filename: str, purpose: str, content: bytes) -> tuple[int, Any]:
        text = content.decode(errors="replace")
        try:
            lines = _requests(text)
        except ValueError:
            lines = []  # recorded as sent; the batch made from it fails validation
        with self._lock:
            self.uploads.append({"name": filename, "purpose": purpose, "lines": lines})
            if purpose != "batch":
                return 400, _error("expected a multipart upload with file and purpose=batch")
            file_id = self._store(text)
        return 200, {
            "id": file_id,
            "object": "file",
            "bytes": len(content),
            "created_at": int(time.time()),
            "filename": filename,
            "purpose": "batch",
            "status": "processed",
        }

    def create(self, body: dict[str, Any]) -> tuple[int, Any]:
        with self._lock:
            self.created.append(body)
            if body.get("input_file_id") not in self.files:
                return 400, _error(f"bad batch request: no file {body.get('input_file_id')!r}")
            batch_id = f"batch_{len(self.batches) + 1}"
            self._gets[batch_id] = 0
            self.batches[batch_id] = {
                "id": batch_id,
                "object": "batch",
                "endpoint": body.get("endpoint"),
                "errors": None,
                "input_file_id": body["input_file_id"],
                "completion_window": body.get("completion_window"),
                "status": "validating",
                "created_at": int(time.time()),
                "metadata": body.get("metadata"),
                "request_counts": {"total": 0, "completed": 0, "failed": 0},
            }
            return 200, dict(self.batches[batch_id])

    def retrieve(self, batch_id: str) -> tuple[int, Any]:
        with self._lock:
            batch = self.batches.get(batch_id)
            if batch is None:
                return 404, _error(f"no batch {batch_id}")
            self._gets[batch_id] += 1
            if batch["status"] in ("validating", "in_progress"):
                if self._gets[batch_id] <= self.polls:
                    batch["status"] = "in_progress"
                else:
                    self._run(batch, self.endings.pop(0) if self.endings else "completed")
            return 200, dict(batch)

    def content(self, file_id: str) -> tuple[int, Any]:
        with self._lock:
            if file_id not in self.files:
                return 404, _error(f"no file {file_id}")
            return 200, self.files[file_id]

    def _store(self, text: str) -> str:
        file_id = f"file-{len(self.files) + 1}"
        self.files[file_id] = text
        return file_id

    def _run(self, batch: dict[str, Any], ending: str) -> None:
        """Answer the batch's lines (all, or only the first when it expires) and end it; under the lock."""
        error = {"code": "invalid_request", "message": "scripted reject"}
        try:
            requests = _requests(self.files[batch["input_file_id"]])
            if not all(isinstance(r, dict) and {"custom_id", "url", "body"} <= r.keys() for r in requests):
                raise ValueError("a line lacks custom_id, url or body")
        except ValueError as exc:  # as the real API: the whole batch fails validation
            ending, error = "failed", {"code": "invalid_json_line", "message": str(exc)}
        batch["status"] = ending
        if ending == "failed":
            batch["errors"] = {"object": "list", "data": [error]}
            return
        output: list[str] = []
        errors: list[str] = []
        for request in requests[:1] if ending == "expired" else requests:
            custom_id = str(request["custom_id"])
            attempt = self.answered[custom_id] = self.answered.get(custom_id, 0) + 1
            override = self.fault(custom_id, request["body"], attempt) if self.fault else None
            if override is not None and "status" in override:
                status, payload = int(override["status"]), _error(str(override.get("message", "scripted")))
            else:
                status, payload = self.answer(str(request["url"]), request["body"])
                if override is not None and "content" in override and status == 200:
                    payload["choices"][0]["message"]["content"] = override["content"]
            number = len(output) + len(errors) + 1
            row = {
                "id": f"batch_req_{number}",
                "custom_id": custom_id,
                "response": {"status_code": status, "request_id": f"req_{number}", "body": payload},
                "error": None,
            }
            (output if status == 200 else errors).append(json.dumps(row))
        for field_name, rows in (("output_file_id", output), ("error_file_id", errors)):
            if rows:
                batch[field_name] = self._store("\n".join(rows) + "\n")
        batch["request_counts"] = {"total": len(requests), "completed": len(output), "failed": len(errors)}


def _requests(text: str) -> list[Any]:
    """The JSON values of a JSONL file's non-blank lines; ValueError on a line that is not JSON."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description="A fake OpenAI-compatible server on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--jitter", type=float, default=0.0)
    parser.add_argument("--rate-429", type=float, default=0.0)
    parser.add_argument("--retry-after", type=float, default=0.2)
    parser.add_argument("--rpm", type=float, default=None)
    parser.add_argument("--tpm", type=float, default=None)
    parser.add_argument("--no-json-schema", action="store_true", help="reject response_format json_schema (400)")
    parser.add_argument(
        "--ignore-json-schema", action="store_true", help="accept response_format json_schema and ignore it (prose)"
    )
    parser.add_argument("--seconds", type=float, default=600.0, help="stop by itself after this long")
    args = parser.parse_args()
    server = FakeOpenAIServer(
        FakeServerConfig(
            args.latency,
            args.jitter,
            args.rate_429,
            args.retry_after,
            args.rpm,
            args.tpm,
            json_schema=not args.no_json_schema,
            ignores_json_schema=args.ignore_json_schema,
        )
    )
    # The bound URL is the one line on stdout, so a parent process can read it.
    print(server.start(args.port), flush=True)  # noqa: T201 - this script's output is its address
    time.sleep(args.seconds)
    server.stop()


if __name__ == "__main__":
    main()
