from __future__ import annotations

import pytest
import tiktoken.load
from conftest import SEEDS

from pipeline.chunk import chunk_thread, fixed_prompt_tokens
from pipeline.errors import ConfigError
from pipeline.load import load_inputs
from pipeline.models import Post, Thread
from pipeline.normalize import clean_text, normalize_thread
from pipeline.resources import prompt_text
from pipeline.text import sentence_spans
from pipeline.tokenizer import get_tokenizer


def seed(prefix: str) -> Thread:
    threads = load_inputs([next(SEEDS.glob(f"{prefix}_*.txt"))]).threads
    return normalize_thread(threads[0])


def thread_of(*texts: str, authors: list[str | None] | None = None) -> Thread:
    authors = authors or [None] * len(texts)
    posts = [Post(f"p{i}", authors[i - 1], None, t) for i, t in enumerate(texts, 1)]
    return Thread("t", "T", None, "t.txt", "0" * 64, posts)


def test_seed_duplicates_are_marked_not_dropped() -> None:
    s000 = seed("000")
    assert [p.duplicate_of for p in s000.posts[5:]] == ["p1", "p2", "p3", "p4", "p5"]
    assert all(p.duplicate_of is None for p in s000.posts[:5])
    s001 = seed("001")  # the repeat leaves one line out
    assert sum(p.duplicate_of is not None for p in s001.posts) == 20 and len(s001.posts) == 41
    s002 = seed("002")  # the repeat reflows a numbered list onto two lines
    dupes = {p.id: p.duplicate_of for p in s002.posts if p.duplicate_of}
    assert dupes["p12"] == "p6" and dupes["p13"] == "p6" and len(dupes) == 7
    assert seed("003").unique_posts == seed("003").posts  # a profile feed with no repeats


def test_same_words_by_different_authors_are_not_duplicates() -> None:
    t = normalize_thread(thread_of("I agree with that.", "I agree with that.", authors=["ann", "bob"]))
    assert [p.duplicate_of for p in t.posts] == [None, None]
    t = normalize_thread(thread_of("I agree with that.", "I agree with that.", authors=["ann", "ann"]))
    assert [p.duplicate_of for p in t.posts] == [None, "p1"]


def test_near_duplicate_with_changed_quote_marks_and_spacing() -> None:
    a = "It’s dangerous to conflate “specialized models” with short-term safety research in general."
    b = 'It\'s dangerous to  conflate "specialized models" with short-term safety research in general'
    t = normalize_thread(thread_of(a, b))
    assert t.posts[1].duplicate_of == "p1"


def test_clean_text_is_nfc_with_plain_newlines() -> None:
    assert clean_text("  cafe\u0301  \r\nnext\rline  ") == "caf\u00e9\nnext\nline"


def test_tokenizer_never_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*_args: object, **_kwargs: object) -> bytes:
        raise AssertionError("tiktoken tried to download its BPE file")

    monkeypatch.setattr(tiktoken.load, "read_file", no_network)
    monkeypatch.setattr(tiktoken.load, "read_file_cached", no_network)
    get_tokenizer.cache_clear()
    from pipeline import tokenizer as module

    module._offline_encoding.cache_clear()
    tok = get_tokenizer("gpt-4o-mini")
    assert tok.name == "o200k_base"
    encoding = tok.encoding  # type: ignore[attr-defined]
    assert encoding.encode_ordinary("hello world") == [24912, 2375]  # OpenAI's o200k ids: the same ranks
    assert tok.count("grounded quotes") == len(encoding.encode_ordinary("grounded quotes"))
    assert get_tokenizer("some-local-llama").name == "o200k_base"
    assert get_tokenizer("gpt-4").name == "cl100k_base"


def test_chunks_respect_the_budget_of_the_whole_prompt() -> None:
    tok = get_tokenizer(None)
    thread = seed("003")
    for budget in (600, 1200, 6000):
        chunks = chunk_thread(thread, tok, budget)
        assert [c.id for c in chunks] == [f"c{i:03d}" for i in range(1, len(chunks) + 1)]
        system = tok.count(prompt_text("extract_system"))
        for c in chunks:
            assert c.prompt_tokens == system + tok.count(c.user_prompt) + 8
            assert c.prompt_tokens <= budget
        shown = [cp.post.id for c in chunks for cp in c.posts]
        assert shown == [p.id for p in thread.unique_posts]  # no post lost, none split, order kept
    assert len(chunk_thread(thread, tok, 600)) > len(chunk_thread(thread, tok, 6000)) == 1
    assert chunk_thread(thread, tok, 1200)[0].user_prompt == chunk_thread(thread, tok, 1200)[0].user_prompt


def test_a_thread_that_fits_one_prompt_is_one_chunk_even_with_replies() -> None:
    """No room is held back for context a single chunk never needs: a reply thread filling 90% of the
    budget is one chunk, counted exactly; one post more than fits makes two."""
    tok = get_tokenizer(None)
    posts = [Post("p1", "ann", None, "Cities should ban cars downtown because streets are for people.")]
    posts += [
        Post(f"p{n}", f"u{n}", "p1", f"Reply {n}: banning cars would hurt shops and commuters alike.")
        for n in range(2, 40)
    ]
    thread = normalize_thread(Thread("t", "Car-free downtown", None, "t.json", "0" * 64, posts))
    whole = chunk_thread(thread, tok, 100_000)[0]
    budget = int(whole.prompt_tokens / 0.9)
    chunks = chunk_thread(thread, tok, budget)
    assert len(chunks) == 1 and chunks[0].context == [] and len(chunks[0].posts) == len(posts)
    system = tok.count(prompt_text("extract_system"))
    assert chunks[0].prompt_tokens == system + tok.count(chunks[0].user_prompt) + 8 <= budget
    split = chunk_thread(thread, tok, whole.prompt_tokens - 1)
    assert len(split) >= 2 and all(c.prompt_tokens < whole.prompt_tokens for c in split)
    assert [cp.post.id for c in split for cp in c.posts] == [p.id for p in posts]


def test_duplicates_are_not_sent_to_the_extractor() -> None:
    chunks = chunk_thread(seed("000"), get_tokenizer(None), 6000)
    assert [cp.post.id for cp in chunks[0].posts] == ["p1", "p2", "p3", "p4", "p5"]
    assert 'id="p6"' not in chunks[0].user_prompt


def test_an_oversized_post_is_split_at_sentence_boundaries() -> None:
    sentences = [f"Sentence number {i} argues that the budget must hold." for i in range(400)]
    thread = normalize_thread(thread_of(" ".join(sentences), "A short reply."))
    chunks = chunk_thread(thread, get_tokenizer(None), 800)
    parts = [cp for c in chunks for cp in c.posts if cp.post.id == "p1"]
    assert len(parts) > 3
    assert all(cp.part is not None and cp.part[1] == len(parts) for cp in parts)
    assert all(cp.text.endswith("hold.") and cp.text.startswith("Sentence") for cp in parts)
    assert " ".join(cp.text for cp in parts) == thread.posts[0].text
    assert all(c.prompt_tokens <= 800 for c in chunks)


def test_parents_outside_the_chunk_ride_along_as_context() -> None:
    opening = "This opening post makes a point about budgets at some length. " * 12
    replies = [
        Post(f"x{i}", f"user{i}", "a", f"Reply {i} agrees with the opening post, more or less. " * 6) for i in range(6)
    ]
    rebuttal = "I disagree with the opening post. " + "Budgets are not the point here, incentives are. " * 30
    posts = [Post("a", "ann", None, opening), *replies, Post("b", "bob", "a", rebuttal)]
    thread = normalize_thread(Thread("t", "T", None, "t", "0" * 64, posts))
    budget = fixed_prompt_tokens(get_tokenizer(None), "T") + 700  # room for the opening post, not all replies
    chunks = chunk_thread(thread, get_tokenizer(None), budget)
    last = chunks[-1]
    assert len(chunks) > 1 and "a" not in last.post_ids and "b" in last.post_ids
    assert last.context_ids == {"a"}
    assert "<context>" in last.user_prompt and last.prompt_tokens <= budget
    assert all("<context>" not in c.user_prompt for c in chunks if "a" in c.post_ids)
    assert 'excerpt="opening"' in last.user_prompt  # the parent's opening sentences, not all of it
    tok = get_tokenizer(None)
    own = sum(tok.count(cp.text) for cp in last.posts)
    assert last.prompt_tokens - tok.count(prompt_text("extract_system")) <= 1.3 * own


def test_a_budget_below_the_fixed_prompt_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="max-chunk-tokens"):
        chunk_thread(seed("000"), get_tokenizer(None), 300)


def test_sentence_spans_cover_the_sentences() -> None:
    text = "First one. Second one?\nThird “quoted.” Fourth (vs. fifth, e.g. sixth) ends. Etc."
    assert [text[s:e] for s, e in sentence_spans(text)] == [
        "First one.",
        "Second one?",
        "Third “quoted.”",
        "Fourth (vs. fifth, e.g. sixth) ends.",
        "Etc.",
    ]
    # An abbreviation after a dash ends no sentence either.
    assert len(list(sentence_spans("There are good proxies—e.g. Eight Methods to Evaluate Unlearning."))) == 1
