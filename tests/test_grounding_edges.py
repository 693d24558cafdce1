"""Quote boundaries: spaced punctuation, end punctuation a quote adds or drops, and words a post says twice.

Sentences are written for these tests. What must hold: grounding forgives whitespace and the quote's own end
punctuation, never a word the post does not contain, and picks the occurrence the answer means.
"""

from __future__ import annotations

import pytest

from pipeline.ground import ground_claims
from pipeline.models import Post, Thread
from pipeline.text import align

TOKENIZED = "The state we want is not a theocracy but a democratic one . Voters , not priests , decide ."


@pytest.mark.parametrize(
    ("quote", "expected"),
    [
        ("a democratic one.", "a democratic one ."),  # the model closed up the space the post has
        ("a democratic one .", "a democratic one ."),  # as the post has it: exact
        ("Voters, not priests, decide.", "Voters , not priests , decide ."),
        ("a democratic one", "a democratic one"),  # the trailing " ." left out: the words alone are the span
    ],
)
def test_spaced_punctuation_is_tolerated(quote: str, expected: str) -> None:
    start, end, _how = align(quote, TOKENIZED) or (0, 0, "")
    assert TOKENIZED[start:end] == expected


def test_end_punctuation_the_post_lacks_is_left_out() -> None:
    post = "We should fund the library\nIt is open every day"
    start, end, how = align("We should fund the library.", post) or (0, 0, "")
    assert (post[start:end], how) == ("We should fund the library", "normalized")
    start, end, _ = align("“It is open every day!”", post) or (0, 0, "")
    assert post[start:end] == "It is open every day"


@pytest.mark.parametrize(
    "quote",
    [
        "a democratic one indeed.",  # a word the post does not have
        "a democratic two .",
        "a democratic ones.",  # a word the post does not have, after a word it has
        "no.",  # without its ".", "no" is inside "not": never a match inside a word
    ],
)
def test_tolerance_never_accepts_words_the_post_lacks(quote: str) -> None:
    assert align(quote, TOKENIZED) is None


REPEATED = "Taxes fund schools. Some say otherwise. Taxes fund schools."


def test_rank_picks_among_occurrences_and_defaults_to_the_first() -> None:
    first = REPEATED.index("Taxes fund schools.")
    second = REPEATED.rindex("Taxes fund schools.")
    assert align("Taxes fund schools.", REPEATED)[:2] == (first, first + 19)  # type: ignore[index]
    later = align("Taxes fund schools.", REPEATED, lambda start, _end: int(start == first))
    assert later is not None and later[:2] == (second, second + 19)
    # The same choice in the normalized step (the quote closes up nothing here, but adds a curly quote mark).
    spaced = "Taxes fund schools . Some say otherwise . Taxes fund schools ."
    located = align("Taxes fund schools.", spaced, lambda start, _end: int(start == 0))
    assert located is not None and located[0] == spaced.rindex("Taxes") and located[2] == "normalized"


def claim(local: str, quote: str, post: str = "b") -> dict[str, str]:
    return {"id": local, "post_id": post, "kind": "claim", "text": "", "quote": quote}


def test_ground_prefers_the_authors_own_words_to_words_it_quotes() -> None:
    said = "Homework should be optional."
    reply = f"> {said}\nI agree with that, and I would go further. {said}"
    posts = [Post("a", "ann", None, f"{said} Kids need rest."), Post("b", "bob", "a", reply, quoted=[(0, 30)])]
    thread = Thread("t", None, None, "t", "0" * 64, posts)
    kept, rejected = ground_claims("c001", [claim("k1", said)], thread)
    assert rejected == []
    assert [(g.post_id, g.span) for g in kept] == [("b", (reply.rindex(said), len(reply)))]


def test_two_claims_on_a_repeated_sentence_take_its_two_occurrences() -> None:
    thread = Thread("t", None, None, "t", "0" * 64, [Post("b", "bob", None, REPEATED)])
    kept, _ = ground_claims("c001", [claim("k1", "Taxes fund schools."), claim("k2", "Taxes fund schools")], thread)
    assert [g.span[0] for g in kept] == [0, REPEATED.rindex("Taxes")]
    assert all(REPEATED[g.span[0] : g.span[1]] == g.quote for g in kept)


def test_a_quote_only_in_quoted_text_is_still_credited_to_its_origin() -> None:
    """The preference for own words leaves the quoted-text rule as it was when there is no own occurrence."""
    said = "Homework should be optional."
    posts = [Post("a", "ann", None, said), Post("b", "bob", "a", f"> {said}\nNo.", quoted=[(0, 30)])]
    kept, _ = ground_claims("c001", [claim("k1", said)], Thread("t", None, None, "t", "0" * 64, posts))
    assert [(g.post_id, g.quote) for g in kept] == [("a", said)]
