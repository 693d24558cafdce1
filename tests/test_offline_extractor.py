"""The offline extractor through the same chunk interface the LLM gets."""

from __future__ import annotations

import asyncio

from pipeline.chunk import chunk_thread
from pipeline.extract_offline import OfflineExtractor, stance
from pipeline.models import Post, Thread
from pipeline.normalize import normalize_thread
from pipeline.resources import schema_errors
from pipeline.tokenizer import get_tokenizer


def extract(posts: list[Post]) -> dict:
    thread = normalize_thread(Thread("t", "T", None, "t", "0" * 64, posts))
    chunks = chunk_thread(thread, get_tokenizer(None), 6000)
    payload = asyncio.run(OfflineExtractor().extract(chunks[0])).payload
    assert schema_errors("extraction", payload) == []
    return payload


def quotes_by_post(payload: dict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for c in payload["claims"]:
        out.setdefault(c["post_id"], []).append(c["quote"])
    return out


def relation_quotes(payload: dict) -> list[tuple[str, str, str]]:
    quote = {c["id"]: c["quote"] for c in payload["claims"]}
    return [(quote[r["source"]], r["type"], quote[r["target"]]) for r in payload["relations"]]


def test_a_quote_reply_links_the_answer_to_the_quoted_sentence_and_never_claims_the_quote() -> None:
    payload = extract(
        [
            Post(
                "op", "ann", None, "Taxes should be lower for everyone. Public services are clearly overfunded today."
            ),
            Post(
                "r1",
                "bob",
                "op",
                "&gt; Public services are clearly overfunded today.\n\n"
                "The budget data shows the opposite: schools have lost funding for a decade.",
            ),
        ]
    )
    assert all(not q.startswith(("&gt;", ">")) for q in quotes_by_post(payload)["r1"])
    assert "Public services are clearly overfunded today." not in quotes_by_post(payload)["r1"]
    # The answer is the clause after the quote; the clause after the colon is its evidence.
    assert relation_quotes(payload) == [
        ("schools have lost funding for a decade.", "supports", "The budget data shows the opposite"),
        ("The budget data shows the opposite", "rebuts", "Public services are clearly overfunded today."),
    ]


def test_no_clause_break_inside_a_parenthesis_or_a_quotation() -> None:
    payload = extract(
        [
            Post(
                "a",
                "ann",
                None,
                "Yes, the pause is my secondary goal (edit: conditional on no significant alignment progress). "
                "The lab patches the problem with some “reduces but does not eliminate” technique. "
                "Interpretability research is useful, but it should not be the main bet of the field.",
            )
        ]
    )
    quotes = [c["quote"] for c in payload["claims"]]
    assert all(q.count("(") == q.count(")") and q.count("“") == q.count("”") for q in quotes), quotes
    assert "but it should not be the main bet of the field." in quotes  # outside them, "but" still breaks


def test_stance_from_the_opening_words() -> None:
    assert stance("Great point. I agree and should have said that.") == "agrees"
    assert stance("I agree, as long as the budget allows it.") == "qualifies"
    assert stance("Fair enough, though I still feel swimming is the best exercise.") == "rebuts"  # a concession
    assert stance("I don't agree with any of this.") == "rebuts"
    assert stance("I disagree. Writing code is not being productive.") == "rebuts"
    assert stance("Exactly. That is what the data shows.") == "agrees"
    assert stance("Well... yeah. My comment was a silly way to point out a flaw.") == "agrees"  # an interjection first
    assert stance("Oh, sure, but nobody reads the terms.") == "rebuts"
    # "exactly" agrees as an answer ("Exactly.", "exactly right"), not inside an argument
    assert stance("Both choices cut demand by exactly the same amount, one person.") == "rebuts"


def test_a_reply_opening_with_a_word_of_agreement_agrees_though_the_word_is_no_claim() -> None:
    payload = extract(
        [
            Post("a", "ann", None, "Chickens were first domesticated in Southeast Asia eight thousand years ago."),
            Post("b", "bob", "a", "Interesting. I did not know that history of the farm birds at all."),
        ]
    )
    assert "Interesting." not in quotes_by_post(payload).get("b", [])
    assert [t for _, t, _ in relation_quotes(payload)] == ["agrees"]


def test_thanks_then_but_in_the_next_sentence_is_a_concession_that_rebuts() -> None:
    payload = extract(
        [
            Post("a", "ann", None, "The Marines are the best branch for someone who wants to travel the world."),
            Post(
                "b",
                "bob",
                "a",
                "Okay, thanks so much for the info! I still have a lot to read, but my main reason against the "
                "Marines was that they are very homogeneous.",
            ),
        ]
    )
    assert {t for _, t, _ in relation_quotes(payload) if t != "supports"} == {"rebuts"}


def test_a_reply_agreeing_with_a_condition_qualifies_its_parent() -> None:
    payload = extract(
        [
            Post("a", "ann", None, "Remote work makes teams more productive because meetings shrink."),
            Post("b", "bob", "a", "I agree that remote work is productive, as long as juniors still get mentoring."),
        ]
    )
    assert [t for _, t, _ in relation_quotes(payload)] == ["qualifies"]


def test_a_short_reply_with_no_sign_of_disagreement_is_not_a_rebuttal() -> None:
    payload = extract(
        [
            Post("a", "ann", None, "Remote work makes teams more productive because meetings shrink."),
            Post("b", "bob", "a", "Here is a related article I found."),
            Post("c", "cat", "a", "Remote work is not productive for juniors, who lose mentoring and feedback."),
        ]
    )
    assert {q for q, t, _ in relation_quotes(payload) if t == "rebuts"} == {
        "Remote work is not productive for juniors, who lose mentoring and feedback."
    }


def test_a_reply_to_the_opening_post_answers_the_title() -> None:
    payload = extract(
        [
            Post("title", "ann", None, "CMV: Remote work should be the default for office jobs"),
            Post("op", "ann", None, "Commuting wastes hours. Offices are noisy."),
            Post("r", "bob", "op", "Mentoring suffers badly when nobody shares an office, so it should not be."),
        ]
    )
    assert relation_quotes(payload) == [
        (
            "Mentoring suffers badly when nobody shares an office, so it should not be.",
            "rebuts",
            "CMV: Remote work should be the default for office jobs",
        )
    ]


def test_titles_and_name_lines_are_not_claims_and_plain_text_needs_an_explicit_marker() -> None:
    payload = extract(
        [
            Post("p1", None, None, "Charbel-Raphael Segerie"),
            Post("p2", None, None, "Against Almost Every Theory of Impact of Interpretability"),
            Post("p3", None, None, "Interpretability is not the only way to make progress on alignment."),
            Post("p4", None, None, "I disagree. Interpretability gives us the feedback loops that other agendas lack."),
            Post("p5", None, None, "Feedback loops matter most for empirical agendas like this one."),
        ]
    )
    assert set(quotes_by_post(payload)) == {"p3", "p4", "p5"}
    assert [(t, target) for _, t, target in relation_quotes(payload)] == [
        ("rebuts", "Interpretability is not the only way to make progress on alignment.")
    ]


def test_post_titles_in_a_feed_are_not_claims_though_they_end_in_a_bracket_or_a_smiley() -> None:
    titles = [
        "Preparing for the 100X Economy",
        "Task decomposition for scalable oversight (AGISF Distillation)",
        "Open Problems and Fundamental Limitations of Reinforcement Learning from Human Feedback :)",
    ]
    sentence = "(Anecdotally, I suspect I am already being uplifted a bit as a researcher by using Sonnet.)"
    payload = extract([Post(f"p{i}", None, None, text) for i, text in enumerate([*titles, sentence])])
    assert [c["quote"] for c in payload["claims"]] == [sentence]


def test_a_bracketed_placeholder_is_no_claim_but_a_bracketed_sentence_is() -> None:
    placeholders = ["[deleted]", "[removed]", "[patch not shown: 42 lines]", "[image]"]
    sentence = "[Edit: on reflection the second argument is stronger than the first one.]"
    posts = [Post("op", "ann", None, "City parks should stay open all night for everyone.")]
    posts += [Post(f"r{i}", "bob", "op", text) for i, text in enumerate([*placeholders, sentence])]
    payload = extract(posts)
    assert [c["quote"] for c in payload["claims"] if c["post_id"] != "op"] == [sentence]


def test_in_plain_text_doubting_oneself_is_no_disagreement() -> None:
    payload = extract(
        [
            Post("p1", None, None, "I agree that I have not argued the positive case for governance work yet."),
            Post(
                "p2",
                None,
                None,
                "I hope to write a more constructive post on that, although I doubt that I am the best person to "
                "write it.",
            ),
            Post("p3", None, None, "I doubt governance work can move fast enough to matter before the deadline."),
        ]
    )
    assert {source for source, t, _ in relation_quotes(payload) if t == "rebuts"} == {
        "I doubt governance work can move fast enough to matter before the deadline."
    }


def test_the_same_chunk_gives_the_same_payload() -> None:
    posts = [
        Post("a", "ann", None, "Nuclear power should be expanded because it is safe."),
        Post("b", "bob", "a", "I don't think it is safe: waste storage is unsolved."),
    ]
    assert extract(posts) == extract(posts)
