"""Words a post quotes from another post are evidence of what it answers, never its author's claim."""

from __future__ import annotations

from pipeline.chunk import chunk_thread
from pipeline.ground import ground_claims
from pipeline.models import Post, Thread
from pipeline.normalize import normalize_thread
from pipeline.tokenizer import get_tokenizer

PARENT = "Religion makes people violent. History is full of holy wars."
REPLY = (
    "&gt; Religion makes people violent.\n\n"
    "Most believers never hurt anyone.\n"
    "History is full of holy wars.\n"
    "> a line quoted with a plain marker"
)


def thread() -> Thread:
    posts = [Post("a", "ann", None, PARENT), Post("b", "bob", "a", REPLY)]
    return normalize_thread(Thread("t", "T", None, "t", "0" * 64, posts))


def test_quote_markers_and_lines_repeated_from_the_parent_are_marked() -> None:
    reply = thread().posts[1]
    assert [reply.text[s:e] for s, e in reply.quoted] == [
        "&gt; Religion makes people violent.",
        "History is full of holy wars.",
        "> a line quoted with a plain marker",
    ]
    assert thread().posts[0].quoted == []


def test_own_words_repeated_are_not_quotes() -> None:
    posts = [
        Post("a", "ann", None, "Religion makes people violent, I said."),
        Post("b", "ann", "a", "Religion makes people violent, I said.\nAnd I stand by it today."),
    ]
    assert normalize_thread(Thread("t", "T", None, "t", "0" * 64, posts)).posts[1].quoted == []


def test_the_model_sees_quoted_text_marked() -> None:
    prompt = chunk_thread(thread(), get_tokenizer(None), 4000)[0].user_prompt
    assert "<quoted>&gt; Religion makes people violent.</quoted>" in prompt
    assert "Most believers never hurt anyone.\n<quoted>History is full of holy wars.</quoted>" in prompt


def test_a_claim_on_quoted_words_is_credited_to_the_post_they_come_from() -> None:
    t = thread()
    proposed = [
        {"id": "k1", "post_id": "b", "kind": "claim", "text": "x", "quote": "Religion makes people violent."},
        {"id": "k2", "post_id": "b", "kind": "claim", "text": "x", "quote": "Most believers never hurt anyone."},
        {"id": "k3", "post_id": "b", "kind": "claim", "text": "x", "quote": "a line quoted with a plain marker"},
    ]
    kept, rejected = ground_claims("c001", proposed, t)
    assert [(g.local_id, g.post_id, g.quote) for g in kept] == [
        ("k1", "a", "Religion makes people violent."),
        ("k2", "b", "Most believers never hurt anyone."),
    ]
    assert t.posts[0].text[kept[0].span[0] : kept[0].span[1]] == kept[0].quote
    assert [(r.item["id"], r.reason) for r in rejected] == [("k3", "quoted text in post b, not its author's own claim")]
