"""The offline extractor through the same chunk interface the LLM gets, on sentences written for these tests.

Stance honesty: a reply is a rebuttal only on textual evidence of disagreement with what it answers; thanks,
consolation, anecdotes, jokes, information questions and agreement are not."""

from __future__ import annotations

import asyncio

import pytest

import pipeline.extract_offline as extract_offline
from pipeline.chunk import chunk_thread
from pipeline.extract_offline import (
    CLAIM_FEATURES,
    CLAIM_WEIGHTS,
    OfflineExtractor,
    claim_features,
    load_model,
    segments,
    stance,
)
from pipeline.models import ChunkPost, Post, Thread
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


OP = "City parks should stay open all night because night walks are safe for everyone."


def stances_of(reply: str, parent: str = OP) -> list[str]:
    """The stance relations a reply to ``parent`` gets (supports inside the reply left out)."""
    payload = extract([Post("op", "ann", None, parent), Post("r", "bob", "op", reply)])
    return [t for _, t, _ in relation_quotes(payload) if t != "supports"]


# --- no rebuttal without evidence -------------------------------------------------------------------------


def test_thanks_is_no_rebuttal() -> None:
    assert stances_of("Thanks a lot for writing this up, it was a pleasure to read on my lunch break.") == []


def test_a_condolence_is_no_rebuttal() -> None:
    parent = "My grandmother died last week and I never got to say goodbye to her."
    reply = "I am so sorry for your loss. Sending you and your family all my love, take care of yourself."
    assert stances_of(reply, parent) == []


def test_an_anecdote_is_no_rebuttal() -> None:
    reply = "When I lived in Lisbon I walked through the big park every night and never saw anyone else there."
    assert stances_of(reply) == []


def test_a_question_asking_for_information_is_no_rebuttal() -> None:
    assert stances_of("Which cities already keep their parks open after midnight, and how do they light them?") == []


def test_a_joke_is_no_rebuttal() -> None:
    assert stances_of("The ducks will finally get some peace and quiet during the day, ha.") == []


def test_an_announcement_is_no_rebuttal() -> None:
    assert stances_of("We are hosting a picnic in the rose garden this Saturday, everyone is welcome to join.") == []


def test_an_agreement_agrees() -> None:
    assert stances_of("I agree, the parks are the calmest places in town after dark.") == ["agrees"] * 1


def test_an_answer_to_a_question_with_no_is_no_rebuttal() -> None:
    parent = "Has anyone managed to install the printer driver on the new laptop?"
    assert stances_of("No, the installer stopped halfway through for me as well.", parent) == []


def test_a_question_that_states_a_belief_is_answered_like_a_statement() -> None:
    # "Isn't X?" and "Why would X?" tell what their asker believes: "Yes, but" and "No" answer that belief ...
    reply = "Yes, but the small ones drift a little when the plane turns too hard."
    assert stance(reply, "Isn't the compass always level when the plane turns?") == "rebuts"
    assert stance("No, the small ones drift when the plane turns.", "Why would the compass ever drift?") == "rebuts"
    # ... while a question asking for information is only answered.
    assert stance(reply, "Does the compass stay level when the plane turns?") is None


def test_an_answer_to_a_question_that_opens_with_actually_is_no_rebuttal() -> None:
    reply = "Actually, the small ones can drift a little if you turn too hard."
    assert stance(reply, "How does the compass stay level when the plane turns?") is None
    # After a statement the same opener contrasts with it.
    assert stance(reply, "The compass always stays level when the plane turns.") == "rebuts"


COUNTER = "I think a shared cloud folder is the simplest option for large videos."


def test_a_quote_and_counter_of_a_help_request_is_no_rebuttal() -> None:
    # The same quote and answer rebut a statement, and only answer a post that looks for help.
    stated = "We share large files with the team by email. Email attachments are far too small for our videos."
    asked = "I'm looking for a simple way to share large files. Email attachments are far too small for our videos."
    reply = "&gt; Email attachments are far too small for our videos.\n\n" + COUNTER
    assert stances_of(reply, stated) == ["rebuts"]
    assert stances_of(reply, asked) == []


def test_a_quoted_clause_of_a_question_is_a_question() -> None:
    # "..., but ...?" is cut into two clauses; the first does not end with "?" yet asks with the second.
    reply = "&gt; {}\n\nI think running buses every night is too expensive for small cities."
    stated = "Cities should fund night buses. The buses would run every night of the week, but only on weekends late."
    asked = "Cities should fund night buses. Would the buses run every night of the week, but only until midnight?"
    assert stances_of(reply.format("The buses would run every night of the week"), stated) == ["rebuts"]
    assert stances_of(reply.format("Would the buses run every night of the week"), asked) == []


def test_replying_to_oneself_is_no_rebuttal() -> None:
    payload = extract(
        [
            Post("a", "ann", None, "The release should ship on Friday because the tests pass."),
            Post("b", "ann", "a", "I disagree with my earlier estimate: the release is not ready for Friday."),
        ]
    )
    assert [t for _, t, _ in relation_quotes(payload) if t != "supports"] == []


@pytest.mark.parametrize(
    "code",
    [
        "```\nerror: the build directory does not exist\n```",
        # an indented (Markdown) code block whose lines carry programming symbols
        "    $ make build\n    error: the build directory does not exist; exit=2",
    ],
)
def test_a_code_block_is_no_claim_and_no_statement_to_contradict(code: str) -> None:
    parent = f"Running the build prints this:\n\n{code}\n\nAny idea?"
    payload = extract(
        [Post("op", "ann", None, parent), Post("r", "bob", "op", "The build directory exists on my machine.")]
    )
    assert all("error:" not in quote for quote in quotes_by_post(payload).get("op", []))
    assert [t for _, t, _ in relation_quotes(payload) if t != "supports"] == []


def test_indented_prose_is_no_code() -> None:
    # Mail bridges and quoting clients indent prose by four spaces too: without programming symbols it is read.
    text = "Release:\n\n    The release should wait a week because the tests fail.\n    Shipping now breaks users."
    payload = extract([Post("op", "ann", None, text)])
    assert "The release should wait a week" in " ".join(quotes_by_post(payload)["op"])


# --- rebuttals with evidence ------------------------------------------------------------------------------


def test_an_explicit_disagreement_rebuts() -> None:
    assert set(stances_of("I disagree. Lighting a whole park all night costs far more than it gives back.")) == {
        "rebuts"
    }


def test_a_contradiction_of_the_parent_rebuts() -> None:
    assert set(stances_of("Night walks are not safe for everyone in a dark park.")) == {"rebuts"}


def test_a_concession_then_but_rebuts() -> None:
    reply = "Sure, some people like walking late, but most city budgets cannot pay the guards a park needs."
    assert set(stances_of(reply)) == {"rebuts"}
    assert stance("I agree. However, the cost of the guards would be enormous.", OP) == "rebuts"


def test_a_disclaimer_about_ones_own_words_is_no_concession() -> None:
    # "I know it sounds ..., but" grants how the speaker's own advice comes across, not the parent's point.
    for reply in (
        "Try walking with a dog at night. I know it sounds silly, but a dog really does help.",
        "Take a dog along at night. I know this may seem strange, but it keeps the bad guys away.",
    ):
        assert stance(reply, OP) is None
        assert stances_of(reply) == []
    # Granting what the parent says and turning against it is still a concession.
    assert stance("I know that the parks are calm, but the paths are far too dark at night.", OP) == "rebuts"


def test_a_challenging_question_rebuts() -> None:
    assert set(stances_of("Why would anyone want to walk through a park at three in the morning?")) == {"rebuts"}


def test_a_quote_and_counter_rebuts_the_quoted_words() -> None:
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
                "Public services are not overfunded: schools have lost funding for a decade.",
            ),
        ]
    )
    assert all(not q.startswith(("&gt;", ">")) for q in quotes_by_post(payload)["r1"])
    assert ("Public services are not overfunded", "rebuts", "Public services are clearly overfunded today.") in (
        relation_quotes(payload)
    )


def test_stance_reads_agreement_condition_and_concession() -> None:
    assert stance("Great point. I agree and should have said that.", OP) == "agrees"
    assert stance("I agree, as long as the budget allows it.", OP) == "qualifies"
    assert stance("That may be true, but the parks would need far more lighting.", OP) == "rebuts"
    assert stance("I don't agree with any of this.", OP) == "rebuts"
    assert stance("Thank you for the link.", OP) is None
    # an affirmative word answers a question; it agrees only with a statement
    assert stance("Yes, it opens at nine.", "Does the library open on Sundays?") is None
    # a word of agreement after a negation is none ("I don't agree")
    assert stance("I do not agree that parks are safe at night.", OP) == "rebuts"


# --- the argumentative-exchange default ---------------------------------------------------------------------

ARGUING_REPLY = "Keeping parks open all night is a bad idea. The city should spend that money on street lighting."


def nested_stances(parent: str, reply: str = ARGUING_REPLY) -> list[str]:
    """The stance relations of ``reply`` answering ``parent``, itself a reply to an opening post."""
    posts = [
        Post("op", "ann", None, "Cities should cut the bus budget."),
        Post("a", "bob", "op", parent),
        Post("b", "cy", "a", reply),
    ]
    return [t for _, t, _ in relation_quotes(extract(posts)) if t != "supports"]


def test_an_argumentative_reply_to_an_argumentative_post_without_agreement_rebuts() -> None:
    assert set(stances_of(ARGUING_REPLY)) == {"rebuts"}
    assert set(nested_stances(OP)) == {"rebuts"}


def test_the_same_reply_to_a_question_a_help_request_or_a_story_is_no_rebuttal() -> None:
    assert nested_stances("Does anyone know which parks in Lisbon stay open all night?") == []
    assert nested_stances("I am trying to find a park that stays open all night, can someone help me find one?") == []
    assert nested_stances("We opened the new rose garden in the park last weekend.") == []


def test_an_argumentative_reply_that_thanks_agrees_or_tells_a_story_is_no_rebuttal() -> None:
    assert nested_stances(OP, "Thanks for this! " + ARGUING_REPLY) == []
    assert set(nested_stances(OP, "I agree with you. " + ARGUING_REPLY)) == {"agrees"}
    assert nested_stances(OP, "I walked through the park at night last year. " + ARGUING_REPLY) == []


def test_a_habit_told_in_the_first_person_is_no_argument() -> None:
    # What the speaker usually does is an anecdote, not a position against the parent's ...
    for reply in (
        "We often take the bus instead, because the park is far too dark to walk through.",
        "I usually take the long way home, because the park is too dark to cross safely.",
    ):
        assert stances_of(reply) == []
        assert nested_stances(OP, reply) == []
    # ... while a stance verb after the frequency adverb still states one.
    assert set(nested_stances(OP, "I always think parks are a bad place to be after dark.")) == {"rebuts"}


# --- segments and claims ------------------------------------------------------------------------------------


def test_no_clause_break_inside_a_parenthesis_or_a_quotation() -> None:
    payload = extract(
        [
            Post(
                "a",
                "ann",
                None,
                "The bridge needs new paint before winter (edit: at least on the north side, where rust shows). "
                "The council bought some “cheap but durable” coating last year. "
                "Painting is useful maintenance, but it should not replace a structural survey of the bridge.",
            )
        ]
    )
    quotes = [c["quote"] for c in payload["claims"]]
    assert all(q.count("(") == q.count(")") and q.count("“") == q.count("”") for q in quotes), quotes
    assert "but it should not replace a structural survey of the bridge." in quotes  # outside them, "but" breaks


def test_a_bracketed_placeholder_is_no_claim_but_a_bracketed_sentence_is() -> None:
    placeholders = ["[deleted]", "[removed]", "[patch not shown: 42 lines]", "[image]"]
    sentence = "[Edit: on reflection the second argument is stronger than the first one.]"
    posts = [Post("op", "ann", None, "City parks should stay open all night for everyone.")]
    posts += [Post(f"r{i}", "bob", "op", text) for i, text in enumerate([*placeholders, sentence])]
    payload = extract(posts)
    assert [c["quote"] for c in payload["claims"] if c["post_id"] != "op"] == [sentence]


def test_a_rebuttal_answers_the_parents_thesis_and_its_opening_clause_or_only_the_title() -> None:
    parent = (
        "Our town tried a smaller budget last year. I think the cuts should go much further, since most buses "
        "run empty."
    )
    reply = "I disagree. Empty buses at noon still carry the workers who have no car at night."
    thesis, opening = (
        "I think the cuts should go much further, since most buses run empty.",
        parent.split(". ")[0] + ".",
    )
    nested = [
        Post("op", "ann", None, "Cities should cut the bus budget."),
        Post("a", "bob", "op", parent),
        Post("b", "cy", "a", reply),
    ]
    targets = {t for _, kind, t in relation_quotes(extract(nested)) if kind == "rebuts"}
    assert targets == {thesis, opening}
    # a reply to the opening post answers the title, not the opening post's first clause as well
    title = "Cities should cut the bus budget in half"
    to_opening = [Post("title", "ann", None, title), Post("op", "ann", None, parent), Post("b", "cy", "op", reply)]
    assert {t for _, kind, t in relation_quotes(extract(to_opening)) if kind == "rebuts"} == {title}


# Written for this test: a rebutting reply whose strongest claim comes last, after a premise.
ARGUED = (
    "No, the buses at noon carry retirees to their clinics. Many of them have no car at all. "
    "Several of them walk with a cane. I think cutting those routes would be a serious mistake."
)
STRONGEST, OPENING, SECOND = (
    "I think cutting those routes would be a serious mistake.",
    "No, the buses at noon carry retirees to their clinics.",
    "Many of them have no car at all.",
)


@pytest.mark.parametrize("count", [2, 3])
def test_a_rebuttal_speaks_with_its_strongest_claim_then_its_opening_clauses(
    monkeypatch: pytest.MonkeyPatch, count: int
) -> None:
    # The second clause is a premise: the sources after the strongest claim are the opening clauses in order,
    # claim or premise, not the reply's later claims.
    monkeypatch.setattr(extract_offline, "SOURCES_PER_REPLY", count)
    expected = {STRONGEST, OPENING, SECOND} if count == 3 else {STRONGEST, OPENING}
    parent = "Cities should cut the bus budget because most buses run empty at noon."
    plain = extract([Post("op", "ann", None, parent), Post("r", "bob", "op", ARGUED)])
    kinds = {c["quote"]: c["kind"] for c in plain["claims"]}
    # every claim is in the payload: the second clause must not be one, else the rules could not be told apart
    assert kinds.get(SECOND) != "claim" and kinds[STRONGEST] == "claim"
    assert {s for s, kind, _ in relation_quotes(plain) if kind == "rebuts"} == expected
    quoting = extract([Post("op", "ann", None, parent), Post("r", "bob", "op", f"&gt; {parent}\n\n{ARGUED}")])
    assert {s for s, kind, _ in relation_quotes(quoting) if kind == "rebuts"} == expected


def test_in_plain_text_only_an_explicit_marker_makes_a_rebuttal() -> None:
    payload = extract(
        [
            Post("p1", None, None, "Remote work is not the best choice for every team."),
            Post("p2", None, None, "Remote work is the best choice for small teams that write a lot."),
            Post("p3", None, None, "I disagree. Remote work makes mentoring juniors much harder than it should be."),
        ]
    )
    assert {source for source, t, _ in relation_quotes(payload) if t == "rebuts"} <= {
        "I disagree.",
        "Remote work makes mentoring juniors much harder than it should be.",
    }
    assert any(t == "rebuts" for _, t, _ in relation_quotes(payload))
    assert not any(source.startswith("Remote work is the best") for source, _, _ in relation_quotes(payload))


# --- the fitted model -------------------------------------------------------------------------------------


def test_the_shipped_model_names_exactly_the_features_the_extractor_computes() -> None:
    model = load_model()
    assert list(model["claim_weights"]) == list(CLAIM_FEATURES)
    assert set(CLAIM_WEIGHTS) == set(CLAIM_FEATURES)
    assert isinstance(model["claim_threshold"], float)
    assert model["sources_per_reply"] in (1, 2, 3) and isinstance(model["evidence_edges"], bool)
    assert isinstance(model["opening_target"], bool)
    # every feature a segment can show has a weight, and every weight is a feature some segment can show
    texts = [
        "I think we should probably not do this, since it was bad!",
        'If you compare them, e.g. at https://example.org, people said "more" than we did.',
        "So this needs to be fixed because everyone is wrong and it isn't fair.",
        "Because it would be.",
        "When they went there they could see it, and they did, and they told us all about it, over and over "
        "again for many long years, until nobody wanted to hear about it any more at all.",
        "Therefore it is.",
        "It is wrong for example.",
        "It seems they are all quite fine.",
    ]
    shown: set[str] = set()
    for post_id, parent in (("title", None), ("op", None), ("r", "op")):
        for text in texts:
            cp = ChunkPost(Post(post_id, "ann", parent, text), text)
            found = segments(cp)
            for segment in found:
                shown.update(claim_features(segment, len(found)))
            found = segments(ChunkPost(Post(post_id, "ann", parent, text + " " + text), text + " " + text))
            for segment in found:
                shown.update(claim_features(segment, len(found)))
    assert shown == set(CLAIM_FEATURES)


def test_the_same_chunk_gives_the_same_payload() -> None:
    posts = [
        Post("a", "ann", None, "Nuclear power should be expanded because it is safe."),
        Post("b", "bob", "a", "I don't think it is safe: waste storage is unsolved."),
    ]
    assert extract(posts) == extract(posts)


# --- the quote-and-counter default ----------------------------------------------------------------------------

QUOTED_OP = "Remote work should become the default for office jobs. Commuting wastes hours that people never get back."


def quote_reply_relations(reply: str, parent: str = QUOTED_OP) -> list[tuple[str, str, str]]:
    payload = extract([Post("op", "ann", None, parent), Post("r", "bob", "op", reply)])
    return [r for r in relation_quotes(payload) if r[1] != "supports"]


def test_an_argued_answer_under_a_quoted_statement_rebuts_it_without_a_marker() -> None:
    relations = quote_reply_relations(
        "&gt; Remote work should become the default for office jobs.\n\n"
        "I think junior staff need colleagues sitting next to them, and a video call is a poor substitute."
    )
    assert relations and {kind for _, kind, _ in relations} == {"rebuts"}
    assert {target for _, _, target in relations} == {"Remote work should become the default for office jobs."}


def test_an_answer_under_a_quoted_question_or_a_thanks_is_no_rebuttal() -> None:
    asked = "Which editor do you use for Python? I keep switching between two of them every week."
    assert (
        quote_reply_relations(
            "&gt; Which editor do you use for Python?\n\nMost people on my team should be happy with any editor "
            "that has a good debugger built in.",
            asked,
        )
        == []
    )
    thanked = "&gt; Commuting wastes hours that people never get back.\n\nThanks, this is a great summary of my week."
    assert quote_reply_relations(thanked) == []


def test_a_quoted_passage_names_its_most_claim_like_line_not_its_last() -> None:
    parent = (
        "Cities should ban cars from their centres within ten years. I walked to work this morning, by the way.\n"
        "Anyway, that is my view."
    )
    reply = (
        "&gt; Cities should ban cars from their centres within ten years.\n"
        "&gt; I walked to work this morning, by the way.\n\n"
        "A ban would be unfair to disabled people who cannot use buses and must drive into the centre."
    )
    relations = quote_reply_relations(reply, parent)
    assert {target for _, kind, target in relations if kind == "rebuts"} == {
        "Cities should ban cars from their centres within ten years."
    }


def test_a_short_disagreement_under_a_quote_is_read() -> None:
    # "Nope." is too short to be a claim, but it is the stance the answer takes toward the quote.
    relations = quote_reply_relations(
        "&gt; Commuting wastes hours that people never get back.\n\nNope. My train ride is when I read the news."
    )
    assert {kind for _, kind, _ in relations} == {"rebuts"}


def test_an_answer_to_a_rebuttal_goes_on_with_the_argument() -> None:
    # The middle post states no thesis claim-like enough for the default on its own; what makes the last reply
    # a rebuttal of it is that it rebuts the opening post itself.
    middle = "No, buses ran late twice last week."
    chain = [
        Post("op", "ann", None, "Cities should cut the bus budget."),
        Post("a", "bob", "op", middle),
        Post("b", "cy", "a", ARGUING_REPLY),
    ]
    relations = relation_quotes(extract(chain))
    assert any(kind == "rebuts" and target == "Cities should cut the bus budget." for _, kind, target in relations)
    assert any(kind == "rebuts" and target == middle for _, kind, target in relations)
    alone = [Post("op", "ann", None, "Buses ran late twice last week."), Post("b", "cy", "op", ARGUING_REPLY)]
    assert [kind for _, kind, _ in relation_quotes(extract(alone)) if kind != "supports"] == []


def test_the_quote_counter_default_needs_a_reply_structure() -> None:
    # In plain text the post answered is a guess and consecutive posts may be one author going on.
    answer = "I think junior staff need colleagues sitting next to them, and a video call is a poor substitute."
    quoting = f"&gt; Remote work should become the default for office jobs.\n\n{answer}"
    plain = extract([Post("op", "ann", None, QUOTED_OP), Post("r", "bob", None, quoting)])
    assert [kind for _, kind, _ in relation_quotes(plain) if kind != "supports"] == []
    assert {kind for _, kind, _ in quote_reply_relations(quoting)} == {"rebuts"}


def test_in_plain_text_a_quote_reply_rebuts_only_on_an_explicit_disagreement() -> None:
    contradicting = (
        "&gt; Remote work should become the default for office jobs.\n\nRemote work should not become the default."
    )
    explicit = (
        "&gt; Remote work should become the default for office jobs.\n\nI disagree, offices are where people learn."
    )
    for reply, expected in ((contradicting, []), (explicit, ["rebuts"])):
        payload = extract([Post("op", "ann", None, QUOTED_OP), Post("r", "bob", None, reply)])
        assert [kind for _, kind, _ in relation_quotes(payload) if kind != "supports"] == expected, reply
        structured = extract([Post("op", "ann", None, QUOTED_OP), Post("r", "bob", "op", reply)])
        assert [kind for _, kind, _ in relation_quotes(structured) if kind != "supports"] == ["rebuts"], reply
