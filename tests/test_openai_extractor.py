"""The OpenAI-compatible backend against a respx-mocked endpoint: what is sent, retries, re-asks."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import httpx
import pytest
import respx
from conftest import FAKE_BASE_URL, SleepRecorder, claim, completion, extraction

from pipeline.chunk import chunk_thread
from pipeline.errors import ExtractionError
from pipeline.extract_openai import OpenAIExtractor
from pipeline.limiter import RateLimiter
from pipeline.models import Chunk, Post, Thread
from pipeline.normalize import normalize_thread
from pipeline.resources import prompt_text, response_schema
from pipeline.tokenizer import get_tokenizer

KEY = "sk-test-SECRET-0123456789"


def make_chunk() -> Chunk:
    posts = [
        Post("p1", "ann", None, "Remote work makes teams more productive."),
        Post("p2", "bob", "p1", "I disagree. Remote work hurts mentoring of juniors."),
    ]
    thread = normalize_thread(Thread("t1", "Remote work", None, "t1.json", "0" * 64, posts))
    return chunk_thread(thread, get_tokenizer("gpt-4o-mini"), 4000)[0]


def make_extractor(sleeps: SleepRecorder, **kwargs: object) -> OpenAIExtractor:
    return OpenAIExtractor(model="gpt-4o-mini", api_key=KEY, base_url=FAKE_BASE_URL, sleep=sleeps, **kwargs)  # type: ignore[arg-type]


VALID = extraction(
    [
        claim("k1", "p1", "Remote work makes teams more productive."),
        claim("k2", "p2", "Remote work hurts mentoring of juniors."),
    ],
    [{"source": "k2", "target": "k1", "type": "rebuts"}],
)


def body(request: httpx.Request) -> dict:
    return json.loads(request.content)


@respx.mock(base_url=FAKE_BASE_URL, assert_all_called=True)
def test_the_request_carries_model_strict_schema_and_tagged_posts(
    respx_mock: respx.MockRouter, sleeps: SleepRecorder
) -> None:
    route = respx_mock.post("/chat/completions").mock(return_value=httpx.Response(200, json=completion(VALID)))
    chunk = make_chunk()
    result = asyncio.run(make_extractor(sleeps).extract(chunk))
    assert route.call_count == 1
    request = route.calls.last.request
    assert request.headers["authorization"] == f"Bearer {KEY}"
    sent = body(request)
    assert sent["model"] == "gpt-4o-mini"
    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "chunk_extraction", "strict": True, "schema": response_schema("extraction")},
    }
    assert sent["messages"][0] == {"role": "system", "content": prompt_text("extract_system")}
    user = sent["messages"][1]["content"]
    assert '<post id="p1" author="ann">Remote work makes teams more productive.</post>' in user
    assert '<post id="p2" author="bob" reply_to="p1">' in user
    assert user == chunk.user_prompt
    assert result.payload == json.loads(VALID)
    assert (result.usage.calls, result.usage.tokens_in, result.usage.tokens_out) == (1, 100, 20)


@respx.mock(base_url=FAKE_BASE_URL)
def test_429_with_retry_after_is_honoured_then_succeeds(respx_mock: respx.MockRouter, sleeps: SleepRecorder) -> None:
    route = respx_mock.post("/chat/completions").mock(
        side_effect=[
            httpx.Response(429, headers={"retry-after": "7"}, json={"error": {"message": "slow down"}}),
            httpx.Response(200, json=completion(VALID)),
        ]
    )
    result = asyncio.run(make_extractor(sleeps).extract(make_chunk()))
    assert route.call_count == 2
    assert sleeps.waits == [7.0]
    assert len(result.payload["claims"]) == 2 and result.usage.calls == 2


@respx.mock(base_url=FAKE_BASE_URL)
def test_retry_after_as_http_date_and_jittered_backoff_without_it(
    respx_mock: respx.MockRouter, sleeps: SleepRecorder
) -> None:
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    route = respx_mock.post("/chat/completions").mock(
        side_effect=[
            httpx.Response(503, headers={"retry-after": when}),
            httpx.Response(502),
            httpx.Response(200, json=completion(VALID)),
        ]
    )
    asyncio.run(make_extractor(sleeps).extract(make_chunk()))
    assert route.call_count == 3
    assert 25 <= sleeps.waits[0] <= 30
    # Without Retry-After: jittered exponential backoff, at most multiplier × 2^(attempt − 1) = 0.5 × 2 s here,
    # not the 30 s the earlier Retry-After asked for.
    assert 0 <= sleeps.waits[1] <= 1.0


class RecordingLimiter(RateLimiter):
    def __init__(self) -> None:
        super().__init__(tpm=10**9)
        self.asked: list[int] = []

    async def acquire(self, tokens: int) -> None:
        self.asked.append(tokens)
        await super().acquire(tokens)


@respx.mock(base_url=FAKE_BASE_URL, assert_all_called=True)
def test_a_request_counts_its_prompt_and_the_output_budget_against_tpm(
    respx_mock: respx.MockRouter, sleeps: SleepRecorder
) -> None:
    route = respx_mock.post("/chat/completions").mock(return_value=httpx.Response(200, json=completion(VALID)))
    limiter = RecordingLimiter()
    extractor = make_extractor(sleeps, limiter=limiter, output_budget=777)
    asyncio.run(extractor.extract(make_chunk()))
    sent = body(route.calls[0].request)["messages"]
    assert limiter.asked == [extractor.prompt_tokens(sent) + 777]


@respx.mock(base_url=FAKE_BASE_URL)
def test_invalid_json_then_schema_invalid_then_valid_reasks_with_the_validator_messages(
    respx_mock: respx.MockRouter, sleeps: SleepRecorder
) -> None:
    schema_invalid = json.dumps({"claims": [{"id": "k1", "post_id": "p1", "kind": "claim", "text": "t"}]})
    route = respx_mock.post("/chat/completions").mock(
        side_effect=[
            httpx.Response(200, json=completion('{"claims": [')),
            httpx.Response(200, json=completion(schema_invalid)),
            httpx.Response(200, json=completion(VALID)),
        ]
    )
    result = asyncio.run(make_extractor(sleeps).extract(make_chunk()))
    assert route.call_count == 3
    second, third = (body(call.request)["messages"] for call in route.calls[1:])
    assert second[-2] == {"role": "assistant", "content": '{"claims": ['}
    assert second[-1]["role"] == "user" and "not valid JSON" in second[-1]["content"]
    assert third[-2]["content"] == schema_invalid
    assert "(root): 'relations' is a required property" in third[-1]["content"]
    assert "claims/0: 'quote' is a required property" in third[-1]["content"]
    assert result.payload == json.loads(VALID) and result.usage.calls == 3


@respx.mock(base_url=FAKE_BASE_URL)
def test_reasks_are_bounded(respx_mock: respx.MockRouter, sleeps: SleepRecorder) -> None:
    route = respx_mock.post("/chat/completions").mock(return_value=httpx.Response(200, json=completion("[]")))
    with pytest.raises(ExtractionError, match="no schema-valid answer after 3 tries") as caught:
        asyncio.run(make_extractor(sleeps).extract(make_chunk()))
    assert route.call_count == 3 and caught.value.usage.calls == 3


@respx.mock(base_url=FAKE_BASE_URL)
def test_exhausted_retries_raise_with_the_calls_counted(respx_mock: respx.MockRouter, sleeps: SleepRecorder) -> None:
    route = respx_mock.post("/chat/completions").mock(
        return_value=httpx.Response(500, json={"error": {"message": "boom"}})
    )
    with pytest.raises(ExtractionError, match="HTTP 500") as caught:
        asyncio.run(make_extractor(sleeps, max_attempts=4).extract(make_chunk()))
    assert route.call_count == 4 and caught.value.usage.calls == 4
    assert len(sleeps.waits) == 3  # the SDK did not retry on its own (max_retries=0): one owner


@respx.mock(base_url=FAKE_BASE_URL)
def test_a_server_that_ignores_json_schema_gets_the_schema_in_the_prompt_from_then_on(
    respx_mock: respx.MockRouter, sleeps: SleepRecorder
) -> None:
    # Accepted with 200 but not enforced: the model never saw the schema and answered in prose.
    route = respx_mock.post("/chat/completions").mock(
        side_effect=[
            httpx.Response(200, json=completion("The posts claim that remote work helps and hurts.")),
            httpx.Response(200, json=completion(VALID)),
            httpx.Response(200, json=completion(VALID)),
        ]
    )
    extractor = make_extractor(sleeps)
    result = asyncio.run(extractor.extract(make_chunk()))
    first, reask = (body(call.request) for call in route.calls)
    assert first["response_format"]["type"] == "json_schema"
    assert reask["response_format"] == {"type": "json_object"}
    assert json.dumps(response_schema("extraction"), indent=1) in reask["messages"][0]["content"]
    prose = "The posts claim that remote work helps and hurts."
    assert reask["messages"][-2] == {"role": "assistant", "content": prose}
    assert "not valid JSON" in reask["messages"][-1]["content"]  # the re-ask names what was wrong
    assert result.payload == json.loads(VALID) and extractor.response_mode == "json_object"
    asyncio.run(extractor.extract(make_chunk()))
    assert body(route.calls.last.request)["response_format"] == {"type": "json_object"}  # it stays


@respx.mock(base_url=FAKE_BASE_URL)
def test_json_that_fails_the_schema_or_is_cut_off_does_not_change_the_format(
    respx_mock: respx.MockRouter, sleeps: SleepRecorder
) -> None:
    # Both can come from a server that enforces the schema (a keyword strict mode does not cover, a stop
    # sequence): only prose or a fence shows that the format was ignored.
    route = respx_mock.post("/chat/completions").mock(
        side_effect=[
            httpx.Response(200, json=completion('{"claims": [{"id": "k1"}]')),
            httpx.Response(200, json=completion('{"claims": "none", "relations": []}')),
            httpx.Response(200, json=completion(VALID)),
        ]
    )
    extractor = make_extractor(sleeps)
    asyncio.run(extractor.extract(make_chunk()))
    assert [body(c.request)["response_format"]["type"] for c in route.calls] == ["json_schema"] * 3
    assert extractor.response_mode == "json_schema"


@respx.mock(base_url=FAKE_BASE_URL)
def test_response_format_json_object_is_used_from_the_first_request(
    respx_mock: respx.MockRouter, sleeps: SleepRecorder
) -> None:
    route = respx_mock.post("/chat/completions").mock(return_value=httpx.Response(200, json=completion(VALID)))
    asyncio.run(make_extractor(sleeps, response_format="json_object").extract(make_chunk()))
    sent = body(route.calls.last.request)
    assert route.call_count == 1 and sent["response_format"] == {"type": "json_object"}
    assert json.dumps(response_schema("extraction"), indent=1) in sent["messages"][0]["content"]
    with pytest.raises(ValueError, match="response_format must be one of auto, json_object"):
        make_extractor(sleeps, response_format="yaml")


@respx.mock(base_url=FAKE_BASE_URL)
def test_a_server_without_json_schema_gets_json_object_with_the_schema_file(
    respx_mock: respx.MockRouter, sleeps: SleepRecorder
) -> None:
    route = respx_mock.post("/chat/completions").mock(
        side_effect=[
            httpx.Response(400, json={"error": {"message": "response_format json_schema is not supported"}}),
            httpx.Response(200, json=completion("Sure! ```json\n" + VALID + "\n```")),
        ]
    )
    extractor = make_extractor(sleeps)
    result = asyncio.run(extractor.extract(make_chunk()))
    assert route.call_count == 2 and extractor.response_mode == "json_object"
    sent = body(route.calls.last.request)
    assert sent["response_format"] == {"type": "json_object"}
    assert json.dumps(response_schema("extraction"), indent=1) in sent["messages"][0]["content"]
    assert result.payload == json.loads(VALID)


@respx.mock(base_url=FAKE_BASE_URL)
def test_refusal_and_truncation_are_errors_not_retries(respx_mock: respx.MockRouter, sleeps: SleepRecorder) -> None:
    route = respx_mock.post("/chat/completions").mock(
        side_effect=[
            httpx.Response(200, json=completion(None, refusal="I can't help with that.")),
            httpx.Response(200, json=completion('{"claims": [', finish_reason="length")),
        ]
    )
    extractor = make_extractor(sleeps)
    with pytest.raises(ExtractionError, match="refused"):
        asyncio.run(extractor.extract(make_chunk()))
    with pytest.raises(ExtractionError, match="max-chunk-tokens"):
        asyncio.run(extractor.extract(make_chunk()))
    assert route.call_count == 2


@respx.mock(base_url=FAKE_BASE_URL)
def test_auth_errors_name_the_fix_and_never_echo_the_key(respx_mock: respx.MockRouter, sleeps: SleepRecorder) -> None:
    respx_mock.post("/chat/completions").mock(
        return_value=httpx.Response(401, json={"error": {"message": f"Incorrect API key provided: {KEY}"}})
    )
    with pytest.raises(ExtractionError) as caught:
        asyncio.run(make_extractor(sleeps).extract(make_chunk()))
    assert "check OPENAI_API_KEY" in str(caught.value)
    assert KEY not in str(caught.value) and "***" in str(caught.value)


@respx.mock(base_url=FAKE_BASE_URL)
def test_timeouts_and_connection_errors_are_retried(respx_mock: respx.MockRouter, sleeps: SleepRecorder) -> None:
    route = respx_mock.post("/chat/completions").mock(
        side_effect=[
            httpx.ReadTimeout("slow"),
            httpx.ConnectError("reset"),
            httpx.Response(200, json=completion(VALID)),
        ]
    )
    result = asyncio.run(make_extractor(sleeps).extract(make_chunk()))
    assert route.call_count == 3 and len(sleeps.waits) == 2 and result.usage.calls == 3
