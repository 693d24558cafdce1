"""What the LLM path tells the model, asserted on the requests as sent (respx) and through the fake server.

Each test pins one point a strong model found hard: a title restated in the opening post, concessions and
view changes, voices the author does not hold, questions, quote boundaries, and an overview that must say
who holds which position. Threads are written for these tests.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from conftest import FAKE_BASE_URL, SleepRecorder, completion, extraction, grounded_everywhere, write_thread

from pipeline.chunk import chunk_thread
from pipeline.extract import check_extraction
from pipeline.extract_openai import OpenAIExtractor, summary_messages
from pipeline.fakeserver import FakeOpenAIServer, FakeServerConfig, answer_for
from pipeline.ground import ground_claims
from pipeline.load import load_inputs
from pipeline.merge import merge_claims
from pipeline.models import Chunk, ChunkExtraction, Claim, Post, Relation, Thread
from pipeline.normalize import normalize_thread
from pipeline.resources import load_schema, schema_errors
from pipeline.runner import run
from pipeline.settings import RunConfig
from pipeline.tokenizer import get_tokenizer

KEY = "sk-test-prompts"
TITLE = "Cities should ban cars from their centres"
OPENING = f"{TITLE}. Streets would be safer and quieter. Isn't a quiet street worth a longer walk?"
REPLY = "You changed my view on noise, ∆. But deliveries still need vans."


def extractor(sleeps: SleepRecorder, **kwargs: Any) -> OpenAIExtractor:
    return OpenAIExtractor(model="gpt-4o-mini", api_key=KEY, base_url=FAKE_BASE_URL, sleep=sleeps, **kwargs)


def restated_title_thread(tmp_path: Path, opening: str = OPENING) -> Thread:
    """Loaded as a user's file is: the loader decides whether the title becomes a post of its own."""
    path = write_thread(
        tmp_path / "cars.json", "cars", [("op", "ann", None, opening), ("r1", "bob", "op", REPLY)], title=TITLE
    )
    return normalize_thread(load_inputs([path]).threads[0])


def sent_extraction(sleeps: SleepRecorder, chunk: Chunk, **kwargs: Any) -> dict[str, Any]:
    """The body of the one extraction request made for ``chunk``."""
    with respx.mock(base_url=FAKE_BASE_URL) as mock:
        route = mock.post("/chat/completions").mock(return_value=httpx.Response(200, json=completion(extraction([]))))
        asyncio.run(extractor(sleeps, **kwargs).extract(chunk))
        body: dict[str, Any] = json.loads(route.calls.last.request.content)
    return body


def field_description(body: dict[str, Any], *path: str) -> str:
    node = body["response_format"]["json_schema"]["schema"]
    for key in path:
        node = node["properties"][key] if key in node.get("properties", {}) else node["items"]["properties"][key]
    return str(node["description"])


def test_a_title_restated_in_the_opening_post_is_shown_twice_and_mapped_once(
    sleeps: SleepRecorder, tmp_path: Path
) -> None:
    thread = restated_title_thread(tmp_path)
    chunk = chunk_thread(thread, get_tokenizer("gpt-4o-mini"), 4000)[0]
    sent = sent_extraction(sleeps, chunk)
    system, user = sent["messages"][0]["content"], sent["messages"][1]["content"]
    # The chunk shows the title as a post of its own and the opening post that restates it ...
    assert f'<post id="title" author="ann">{TITLE}</post>' in user
    assert f'<post id="op" author="ann">{OPENING}</post>' in user
    # ... and the model is told to map the restatement once, on the title post.
    assert "When the opening post restates it word for word, that is one claim, not two" in " ".join(system.split())
    assert "map it once, on the title post" in " ".join(system.split())
    # A model that maps it twice anyway still gives the brief one claim: same words, same speaker.
    payload = {
        "claims": [
            {"id": "k1", "post_id": "title", "kind": "claim", "quote": TITLE, "text": ""},
            {"id": "k2", "post_id": "op", "kind": "claim", "quote": TITLE, "text": ""},
        ],
        "relations": [],
    }
    claims, _, _ = check_extraction(ChunkExtraction(chunk.id, payload), chunk)
    kept, _ = ground_claims(chunk.id, claims, thread)
    merged, _, _ = merge_claims(thread, kept, [])
    assert [(c.post_id, c.quote) for c in merged] == [("title", TITLE)]


def test_an_opening_post_that_is_only_its_title_gets_no_title_post(tmp_path: Path) -> None:
    thread = restated_title_thread(tmp_path, opening=TITLE)
    chunk = chunk_thread(thread, get_tokenizer("gpt-4o-mini"), 4000)[0]
    assert (
        '<post id="title"' not in chunk.user_prompt
        and f'<post id="op" author="ann">{TITLE}</post>' in chunk.user_prompt
    )


def test_concessions_voices_and_questions_are_in_what_is_sent(sleeps: SleepRecorder, tmp_path: Path) -> None:
    chunk = chunk_thread(restated_title_thread(tmp_path), get_tokenizer("gpt-4o-mini"), 4000)[0]
    sent = sent_extraction(sleeps, chunk)
    system = " ".join(sent["messages"][0]["content"].split())
    # A concession or a view change (a delta) is an agrees relation, not a new claim ...
    assert "a delta ∆ award) is an agrees relation" in system
    assert "do not restate the conceded point as a new claim" in system
    assert "∆" in field_description(sent, "relations", "type")
    # ... hypotheticals, parody, sarcasm and borrowed voices are not the author's ...
    for phrase in (
        "hypotheticals",
        "parody",
        "sarcasm",
        "here's a substitution using your syntax",
        "views they report",
    ):
        assert phrase in system
    # ... and a question is a claim when it challenges, with its implied assertion as its text.
    assert "A question is a claim when it challenges or asserts something" in system
    text = field_description(sent, "claims", "text")
    assert "for a question, never empty: the assertion it implies" in text
    assert 'Empty ("") when the quote states the claim plainly' in text


def test_quote_boundaries_are_explained_where_the_quote_is_defined(sleeps: SleepRecorder, tmp_path: Path) -> None:
    chunk = chunk_thread(restated_title_thread(tmp_path), get_tokenizer("gpt-4o-mini"), 4000)[0]
    quote = field_description(sent_extraction(sleeps, chunk), "claims", "quote")
    assert '"a democratic one ." stays so; end punctuation may be left out' in quote


def test_json_object_mode_asks_for_compact_json(sleeps: SleepRecorder, tmp_path: Path) -> None:
    chunk = chunk_thread(restated_title_thread(tmp_path), get_tokenizer("gpt-4o-mini"), 4000)[0]
    sent = sent_extraction(sleeps, chunk, response_format="json_object")
    assert sent["response_format"] == {"type": "json_object"}
    assert "written compactly\n(no indentation, no line breaks)" in sent["messages"][0]["content"]


def test_the_extraction_schema_orders_the_quote_before_its_paraphrase() -> None:
    """Strict decoding writes properties in schema order: the quote comes first, so whether a paraphrase
    is needed is decided with the quote written."""
    items = load_schema("extraction")["properties"]["claims"]["items"]
    assert list(items["properties"]) == ["id", "post_id", "kind", "quote", "text"] == items["required"]


def claim(cid: str, post: str, speaker: str | None, text: str, quote: str, kind: str = "claim") -> Claim:
    return Claim(cid, post, speaker, kind, text, quote, (0, len(quote)), "exact", ["c001"])  # type: ignore[arg-type]


@respx.mock(base_url=FAKE_BASE_URL)
def test_the_overview_is_told_who_says_what(respx_mock: respx.MockRouter, sleeps: SleepRecorder) -> None:
    route = respx_mock.post("/chat/completions").mock(
        return_value=httpx.Response(200, json=completion(json.dumps({"overview": "ann argues; bob concedes."})))
    )
    claims = [
        claim("C1", "title", "ann", TITLE, TITLE),
        claim(
            "C2", "op", "ann", "A car-free centre is worth a longer walk.", "Isn't a quiet street worth a longer walk?"
        ),
        claim("C3", "r1", "bob", "Deliveries still need vans.", "But deliveries still need vans.", "premise"),
        claim("C4", "r2", None, "Vans can come at night.", "Vans can come at night."),
    ]
    relations = [Relation("C3", "C1", "rebuts"), Relation("C4", "C3", "rebuts")]
    overview, _ = asyncio.run(extractor(sleeps).summarize(TITLE, claims, relations))
    assert overview == "ann argues; bob concedes."
    sent = json.loads(route.calls.last.request.content)
    system = " ".join(sent["messages"][0]["content"].split())
    user = sent["messages"][1]["content"]
    # Names, and who opened the thread (the title is the opening post author's) ...
    assert "Speakers, in the order of their first claim: ann (opened the thread, 2 claims); bob (1 claim)" in user
    assert "an unnamed speaker (1 claim)" in user
    # ... every claim with its speaker, and the words it quotes when its text is a paraphrase ...
    assert f"C1 ann, claim: {TITLE}\n" in user  # no words repeated when the text is the quote
    assert "C2 ann, claim: A car-free centre is worth a longer walk. | words: “Isn't a quiet street" in user
    assert "C3 bob, premise: Deliveries still need vans. | words: “But deliveries still need vans.”" in user
    # ... relations with the speakers of both ends ...
    assert "C3 (bob) rebuts C1 (ann)" in user and "C4 (an unnamed speaker) rebuts C3 (bob)" in user
    # ... and the instructions: names, not roles; words counted as a reader counts them.
    assert 'never "the OP", "the replier" or "a user"' in system
    assert "at most 120 words, counted as a reader counts them" in system
    overview_schema = sent["response_format"]["json_schema"]["schema"]["properties"]["overview"]
    assert "120 words as a reader counts them" in overview_schema["description"]


@respx.mock(base_url=FAKE_BASE_URL)
def test_the_part_overviews_prompt_asks_for_names_and_a_readers_word_count(
    respx_mock: respx.MockRouter, sleeps: SleepRecorder
) -> None:
    route = respx_mock.post("/chat/completions").mock(
        return_value=httpx.Response(200, json=completion(json.dumps({"overview": "x"})))
    )
    asyncio.run(extractor(sleeps).summarize_parts(TITLE, ["ann argues for a ban.", "bob answers with vans."]))
    system = " ".join(json.loads(route.calls.last.request.content)["messages"][0]["content"].split())
    assert "counted as a reader counts them" in system and 'never "the OP" or "the replier"' in system


@pytest.mark.parametrize("mode", ["auto", "json_object"])
def test_the_fake_server_answers_both_prompts_schema_valid_in_either_mode(
    sleeps: SleepRecorder, tmp_path: Path, mode: str
) -> None:
    """answer_for tells the summary prompt from an extraction prompt without the schema's name too
    (json_object), and its claims use the compact form: the text empty, "the quote says it"."""
    thread = restated_title_thread(tmp_path)
    chunk = chunk_thread(thread, get_tokenizer("gpt-4o-mini"), 4000)[0]
    ask = extractor(sleeps, response_format=mode)
    body = ask.request_body(
        [{"role": "system", "content": "s"}, {"role": "user", "content": chunk.user_prompt}],
        "extraction",
        ask.response_mode,
    )
    answer = answer_for(body)
    assert schema_errors("extraction", answer) == [] and answer["claims"]
    assert all(c["text"] == "" for c in answer["claims"])
    claims = [claim("C1", "op", "ann", TITLE, TITLE)]
    summary = answer_for(ask.request_body(summary_messages(TITLE, claims, []), "summary", ask.response_mode))
    assert schema_errors("summary", summary) == []


def test_a_run_against_the_fake_server_fills_empty_texts_with_the_quote(tmp_path: Path) -> None:
    write_thread(tmp_path / "in.json", "cars", [("op", "ann", None, OPENING), ("r1", "bob", "op", REPLY)], title=TITLE)
    with FakeOpenAIServer(FakeServerConfig()) as server:
        extractor_ = OpenAIExtractor(model="gpt-4o-mini", api_key=KEY, base_url=server.base_url)
        run(
            RunConfig(inputs=[tmp_path / "in.json"], out=tmp_path / "out", backend="openai", use_cache=False),
            extractor_,
        )
    brief = json.loads((tmp_path / "out" / "cars" / "brief.json").read_text(encoding="utf-8"))
    assert brief["claims"] and grounded_everywhere(brief)
    assert all(c["text"] == c["quote"] for c in brief["claims"])


def test_ground_fills_an_empty_text_with_the_quote() -> None:
    thread = Thread("t", None, None, "t", "0" * 64, [Post("p", "ann", None, "Taxes fund schools.")])
    payload = {"id": "k1", "post_id": "p", "kind": "claim", "quote": "Taxes fund schools.", "text": ""}
    kept, _ = ground_claims("c001", [payload], thread)
    assert [(g.text, g.quote) for g in kept] == [("Taxes fund schools.", "Taxes fund schools.")]
