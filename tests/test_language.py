"""Other languages: a thread's language is detected, reported in the brief and run.json, and a backend that does
not read it (``Extractor.languages``: offline reads English only) says so, never a silent, empty "complete".

The threads are short debates written for these tests (Japanese, German, English), not copies of any post.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from click.testing import CliRunner
from conftest import completion, grounded_everywhere, write_thread

from pipeline.answers import Summary, Waiting
from pipeline.cli import cli
from pipeline.errors import ConfigError
from pipeline.extract import ContextWindow
from pipeline.extract_offline import OfflineExtractor
from pipeline.fakeserver import answer_for
from pipeline.language import (
    UNDETERMINED,
    Detected,
    detect,
    detect_texts,
    is_language_code,
    reads,
    thread_texts,
    write_in,
)
from pipeline.models import Chunk, ChunkExtraction, Claim, Post, Relation, Thread, Usage
from pipeline.normalize import normalize_thread
from pipeline.outputs import read_manifest
from pipeline.render import brief_markdown
from pipeline.runner import run
from pipeline.settings import RunConfig, make_extractor
from pipeline.text import sentence_spans
from pipeline.thread import ThreadSettings, brief_thread
from pipeline.tokenizer import get_tokenizer
from pipeline.validate import brief_problems

Posts = list[tuple[str, str | None, str | None, str]]

JAPANESE: Posts = [
    (
        "p1",
        "haruka",
        None,
        "在宅勤務は会社員の生産性を上げると思います。通勤がなくなれば、その時間を仕事や休息に使えるからです。"
        "実際、私のチームでは締め切りを守れる割合が増えました。",
    ),
    (
        "p2",
        "kenta",
        "p1",
        "それは違うと思います！家には子供がいて集中できない人も多いです。オフィスの方が相談もしやすく、効率的です。",
    ),
    ("p3", "haruka", "p2", "確かにそうですね。でも、静かな部屋がある人には在宅の方が向いているのではないでしょうか？"),
    ("p4", "yui", "p1", "面白い議論をありがとうございます。"),
]
GERMAN: Posts = [
    (
        "p1",
        "anna",
        None,
        "Ich finde, Homeoffice sollte ein Recht für alle Angestellten sein. Wer nicht pendeln muss, arbeitet "
        "konzentrierter und ist abends weniger erschöpft.",
    ),
    (
        "p2",
        "jonas",
        "p1",
        "Das sehe ich anders. Viele Teams verlieren den Zusammenhalt, wenn niemand mehr ins Büro kommt, und "
        "neue Kollegen lernen viel langsamer.",
    ),
    ("p3", "lea", "p1", "Danke für den Beitrag!"),
    ("p4", "anna", "p2", "Aber gerade kleine Firmen sparen sich dadurch teure Büroflächen."),
]
ENGLISH: Posts = [
    (
        "p1",
        "sam",
        None,
        "Remote work should be a right for every office worker. People who do not commute get more done and "
        "are less tired in the evening.",
    ),
    (
        "p2",
        "alex",
        "p1",
        "I disagree. Teams lose their cohesion when nobody comes into the office, and new colleagues learn "
        "far more slowly.",
    ),
    ("p3", "kim", "p1", "Thanks for the post!"),
]

TITLES = {"ja": "在宅勤務について", "de": "Homeoffice für alle?", "en": "Remote work for everyone?"}


def thread_of(posts: Posts, title: str | None = None) -> Thread:
    return normalize_thread(
        Thread("t", title, None, "t.json", "0" * 64, [Post(i, a, p, text) for i, a, p, text in posts])
    )


def invoke(args: list[str]) -> Any:
    return CliRunner().invoke(cli, args, env={"OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}, catch_exceptions=False)


def read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


# --- detection ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("posts", "code"), [(JAPANESE, "ja"), (GERMAN, "de"), (ENGLISH, "en")])
def test_a_threads_language_is_detected_with_a_high_probability(posts: Posts, code: str) -> None:
    detected = detect(thread_of(posts))
    assert detected.code == code and detected.confidence is not None and detected.confidence >= 0.9
    assert detect(thread_of(posts)) == detected  # deterministic


@pytest.mark.parametrize(
    "texts",
    [
        [],
        ["ok", "+1", "lol"],  # too short to tell
        ["Danke!"],
        ["https://example.com/a/b", "someone@example.com"],  # no words at all
        [GERMAN[0][3], GERMAN[1][3], ENGLISH[0][3], ENGLISH[1][3]],  # half German, half English
    ],
)
def test_short_mixed_or_wordless_text_is_undetermined_never_a_guess(texts: list[str]) -> None:
    assert detect_texts(texts) == UNDETERMINED and UNDETERMINED.confidence is None


def test_quoted_text_and_links_are_not_read_for_the_language() -> None:
    """A German reply quoting an English post at length is German; a link is no English."""
    quote = "> " + ENGLISH[0][3] + " " + ENGLISH[1][3]
    posts: Posts = [
        GERMAN[0],
        ("p2", "jonas", "p1", f"{quote}\n\nDas stimmt so nicht, https://example.com/remote-work"),
    ]
    thread = thread_of(posts)
    assert thread.posts[1].quoted  # the loader marked the quote
    texts = thread_texts(thread)
    assert "Remote work" not in texts[1] and "https" not in texts[1] and "Das stimmt so nicht" in texts[1]
    assert detect(thread).code == "de"


def test_an_english_thread_with_a_short_reply_in_another_language_stays_english() -> None:
    assert detect_texts([ENGLISH[0][3], ENGLISH[1][3], "Genau."]).code == "en"


def test_who_reads_which_language() -> None:
    japanese, english = Detected("ja", 0.99), Detected("en", 0.98)
    offline = OfflineExtractor().languages
    assert reads(offline, english) is True and reads(offline, japanese) is False
    assert reads(None, japanese) is True  # an LLM backend declares no limit
    assert reads(offline, UNDETERMINED) is None and reads(None, UNDETERMINED) is None


def test_the_language_to_write_in_is_the_requested_one_else_the_threads_own() -> None:
    assert write_in("fr", Detected("ja", 0.99)) == "fr"
    assert write_in(None, Detected("ja", 0.99)) == "ja"
    assert write_in(None, UNDETERMINED) is None


# --- sentence ends of scripts without spaces ---------------------------------------------------------------


def test_full_width_sentence_ends_end_a_sentence_without_a_following_space() -> None:
    text = "在宅勤務は良い。通勤がない！本当ですか？「そうですね。」次に行こう。"
    assert [text[s:e] for s, e in sentence_spans(text)] == [
        "在宅勤務は良い。",
        "通勤がない！",
        "本当ですか？",
        "「そうですね。」",
        "次に行こう。",
    ]
    spaced = "他说：对！ 我同意。\n下一个"
    assert [spaced[s:e] for s, e in sentence_spans(spaced)] == ["他说：对！", "我同意。", "下一个"]


def test_latin_sentence_ends_still_need_a_gap() -> None:
    text = "Version 3.5 is out, e.g. today. Really?Yes. Mr. Smith agrees!"
    assert [text[s:e] for s, e in sentence_spans(text)] == [
        "Version 3.5 is out, e.g. today.",
        "Really?Yes.",
        "Mr. Smith agrees!",
    ]


# --- the offline path: honest about what it does not read --------------------------------------------------


@pytest.fixture(scope="module")
def offline_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Any, Path]]:
    runs = {}
    for name, posts in (("ja", JAPANESE), ("de", GERMAN), ("en", ENGLISH)):
        folder = tmp_path_factory.mktemp(name)
        write_thread(folder / "in.json", f"debate-{name}", posts, title=TITLES[name])
        out = folder / "out"
        runs[name] = invoke(["run", str(folder / "in.json"), "-o", str(out), "--backend", "offline", "-q"]), out
    return runs


@pytest.mark.parametrize("code", ["ja", "de"])
def test_offline_on_a_language_it_does_not_read_is_partial_and_says_so_everywhere(
    offline_runs: dict[str, tuple[Any, Path]], code: str
) -> None:
    result, out = offline_runs[code]
    assert result.exit_code == 1  # not every thread complete
    entry = read(out / "run.json")["threads"][0]
    assert entry["status"] == "partial"
    assert entry["language"]["code"] == code and entry["language"]["read_by_backend"] is False
    reason = entry["failures"][0]["reason"]
    assert entry["failures"][0]["stage"] == "extract" and "extractor does not read it (it reads en)" in reason
    assert f"this thread is in {code}" in reason and "--backend openai" in reason
    brief = read(out / f"debate-{code}" / "brief.json")
    assert brief_problems(brief) == [] and grounded_everywhere(brief)
    assert brief["status"] == "partial" and brief["language"] == entry["language"]
    assert brief["language"]["requested"] is None
    assert brief["summary"] != "No claims were found in this thread."
    if not brief["claims"]:
        assert "which the offline extractor does not read" in brief["summary"]
    markdown = (out / f"debate-{code}" / "brief.md").read_text(encoding="utf-8")
    assert f"**Language: {code}.** The offline extractor does not read {code}" in markdown
    assert "`--backend openai`" in markdown and f"language {code} (p " in markdown
    # The runner's line shows the reason's first 160 characters: the language, the fix.
    line = next(line for line in result.stderr.splitlines() if f"debate-{code}" in line)
    assert "PARTIAL" in line and f"(it reads en): --backend openai reads {code}" in line


def test_offline_still_extracts_a_thread_it_does_not_read(offline_runs: dict[str, tuple[Any, Path]]) -> None:
    """The extraction runs (quotes may hold claims): the German debate's sentences are still found."""
    _, out = offline_runs["de"]
    assert read(out / "debate-de" / "brief.json")["thread"]["counts"]["chunks"] == 1
    assert read(out / "run.json")["threads"][0]["claims"] > 0


def test_offline_on_english_is_complete_with_no_note(offline_runs: dict[str, tuple[Any, Path]]) -> None:
    result, out = offline_runs["en"]
    assert result.exit_code == 0
    entry = read(out / "run.json")["threads"][0]
    assert entry["status"] == "complete" and entry["failures"] == []
    assert entry["language"]["code"] == "en" and entry["language"]["read_by_backend"] is True
    brief = read(out / "debate-en" / "brief.json")
    assert brief["language"] == entry["language"]
    markdown = (out / "debate-en" / "brief.md").read_text(encoding="utf-8")
    assert "does not read" not in markdown and "**Language" not in markdown
    assert "does not read" not in result.stderr


def test_a_brief_without_a_determined_language_says_undetermined() -> None:
    thread = thread_of([("p1", "a", None, "ok"), ("p2", "b", "p1", "+1")])
    result, brief = asyncio.run(brief_thread(thread, Source(), get_tokenizer(None), settings("offline")))
    assert brief is not None and brief_problems(brief) == []
    assert brief["language"] == {"code": "und", "confidence": None, "read_by_backend": None, "requested": None}
    assert result.status == "complete" and result.language == brief["language"]
    assert "language undetermined" in brief_markdown(brief)


# --- the LLM path reads every language ---------------------------------------------------------------------


class Source:
    """An answer source: the offline extractor's answers, and a fixed overview, as if from a model."""

    window: ContextWindow | None = None

    async def extraction(self, thread_id: str, chunk: Chunk) -> ChunkExtraction | Waiting:
        return await OfflineExtractor().extract(chunk)

    async def summary(self, thread_id: str, title: str, claims: list[Claim], relations: list[Relation]) -> Any:
        return "概要", Usage(calls=1)

    async def parts_summary(self, thread_id: str, title: str, parts: list[str]) -> Summary | Waiting:
        raise AssertionError("no window: the overview is never split")


def settings(backend: str, language: str | None = None) -> ThreadSettings:
    return ThreadSettings(
        max_chunk_tokens=2000,
        provenance={
            "backend": backend,
            "model": None,
            "prompts": [],
            "schemas": {},
            "schema_version": "1.0",
            "threadbrief_version": "0",
        },
        price=lambda usage: None,
        language=language,
    )


def test_the_openai_backend_reads_every_language_and_the_brief_records_it() -> None:
    result, brief = asyncio.run(brief_thread(thread_of(JAPANESE), Source(), get_tokenizer(None), settings("openai")))
    assert brief is not None and brief_problems(brief) == []
    assert brief["language"] == {"code": "ja", "confidence": 1.0, "read_by_backend": True, "requested": None}
    assert not any("does not read" in f["reason"] for f in brief["failures"])
    assert "**Language" not in brief_markdown(brief)


def test_the_requested_language_reaches_the_brief() -> None:
    result, brief = asyncio.run(
        brief_thread(thread_of(JAPANESE), Source(), get_tokenizer(None), settings("openai", "en"))
    )
    assert brief is not None and brief["language"]["requested"] == "en" and result.language == brief["language"]
    assert "--language en" in brief_markdown(brief)


# --- --language --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["english", "e", "e1", "en-US", ""])
def test_a_language_that_is_not_two_letters_is_a_config_error_naming_the_fix(code: str) -> None:
    assert not is_language_code(code)
    with pytest.raises(ConfigError, match="not an ISO 639-1 code: give two letters"):
        RunConfig(inputs=[], out=Path("out"), language=code)


def test_language_on_the_command_line_reaches_run_json_and_the_brief(tmp_path: Path) -> None:
    write_thread(tmp_path / "in.json", "debate-ja", JAPANESE, title=TITLES["ja"])
    out = tmp_path / "out"
    result = invoke(["run", str(tmp_path / "in.json"), "-o", str(out), "--backend", "offline", "--language", "FR"])
    manifest = read(out / "run.json")
    assert manifest["settings"]["language"] == "fr"
    assert read(out / "debate-ja" / "brief.json")["language"]["requested"] == "fr"
    # Offline writes no paraphrase of its own: it says --language changes nothing there.
    assert "NOTE" in result.stderr and "--language fr: the offline extractor writes no paraphrase" in result.stderr

    bad = invoke(["run", str(tmp_path / "in.json"), "-o", str(out), "--language", "french"])
    assert bad.exit_code == 2 and "--language 'french' is not an ISO 639-1 code" in bad.stderr


def test_the_runner_passes_the_language_to_every_thread(tmp_path: Path) -> None:
    write_thread(tmp_path / "in.json", "debate-de", GERMAN, title=TITLES["de"])
    config = RunConfig(inputs=[tmp_path / "in.json"], out=tmp_path / "out", backend="offline", language="ja")
    exit_code, _summary = run(config, OfflineExtractor())
    manifest = read_manifest(tmp_path / "out")
    assert exit_code == 1 and manifest["threads"][0]["language"] == {
        "code": "de",
        "confidence": manifest["threads"][0]["language"]["confidence"],
        "read_by_backend": False,
        "requested": "ja",
    }


@pytest.mark.parametrize(("requested", "asked"), [(None, "ja"), ("fr", "fr")])
def test_the_llm_is_asked_to_write_in_the_threads_language_or_the_requested_one(
    tmp_path: Path, requested: str | None, asked: str
) -> None:
    """The extraction prompt as sent carries the language line (the thread's own, or --language), and the
    quotes stay in the thread's language; the overview is asked in the language the claims are stated in."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "ja.json").write_text(
        json.dumps(
            {
                "id": "debate-ja",
                "title": "在宅勤務について",
                "posts": [{"id": i, "author": a, "parent_id": p, "text": t} for i, a, p, t in JAPANESE],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    config = RunConfig(inputs=[inputs], out=tmp_path / "out", backend="openai", use_cache=False, language=requested)
    with respx.mock(base_url="http://127.0.0.1:9/v1") as mock:
        route = mock.post("/chat/completions").mock(
            side_effect=lambda request: httpx.Response(
                200, json=completion(json.dumps(answer_for(json.loads(request.content))))
            )
        )
        extractor, _ = make_extractor(replace(config, base_url="http://127.0.0.1:9/v1"), {"OPENAI_API_KEY": "sk-x"})
        exit_code, _manifest = run(config, extractor)
    bodies = [json.loads(call.request.content) for call in route.calls]
    extraction_users = [
        b["messages"][1]["content"] for b in bodies if b["response_format"]["json_schema"]["name"] != "thread_summary"
    ]
    assert extraction_users and all(f'ISO 639-1 code is "{asked}"' in u for u in extraction_users)
    assert all("在宅勤務は会社員の生産性を上げると思います" in u for u in extraction_users)
    summaries = [b for b in bodies if b["response_format"]["json_schema"]["name"] == "thread_summary"]
    assert summaries and "Write in the language the claims are stated in" in summaries[0]["messages"][0]["content"]
    brief = json.loads((tmp_path / "out" / "debate-ja" / "brief.json").read_text(encoding="utf-8"))
    assert brief["language"]["code"] == "ja" and brief["language"]["requested"] == requested
    assert exit_code == 0 and brief["status"] == "complete"
