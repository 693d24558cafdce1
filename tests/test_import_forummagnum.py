"""ForumMagnum (LessWrong / Alignment Forum / EA Forum) GraphQL responses through the public loader.

Real fixtures (tests/fixtures/README.md): a post response, and a list of LessWrong comments as a
scraper saved the ``results`` of a per-user ``comments`` query (no user field, no post, every parent outside the
file). No public, permissively licensed repository we could search holds a comments response of one post with
its reply chains, its post or deleted comments, so the tests of those cases use small documents written for them,
each marked MADE UP, shaped after the fields ForumMagnum's schema defines."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from conftest import posts_by_id, write_json

from pipeline.importers import forummagnum
from pipeline.importers.base import ImportOptions
from pipeline.load import Loaded, load_inputs

FIXTURES = Path(__file__).parent / "fixtures" / "forummagnum"
AGI_RUIN = FIXTURES / "lw_post_agi_ruin_preamble.json"
AGI_RUIN_ID = "uMQ3cqWDPHhjtiesc"
# Rob Bensinger's 12 latest LessWrong comments (June–July 2025) as aisafetyconnect's scraper saved them.
ROBBBB = FIXTURES / "lw_user_comments_robbbb_first12.json"


def _reasons(loaded: Loaded) -> list[str]:
    return [note.reason for note in loaded.notes]


# --- real responses -----------------------------------------------------------------------------------------


def test_real_post_response_is_the_opening_post_with_clean_text() -> None:
    loaded = load_inputs([AGI_RUIN])
    assert loaded.errors == []
    [thread] = loaded.threads
    assert thread.id == f"lw-{AGI_RUIN_ID}"
    assert thread.title == "AGI Ruin: A List of Lethalities"
    assert thread.source == f"https://www.lesswrong.com/posts/{AGI_RUIN_ID}/agi-ruin-a-list-of-lethalities"
    assert [p.id for p in thread.posts] == ["title", AGI_RUIN_ID]
    post = posts_by_id(thread)[AGI_RUIN_ID]
    assert post.author == "Eliezer Yudkowsky" and post.parent_id is None
    # htmlBody (no markdown in this response) as text: headings, links' text, entities decoded, no tag.
    assert post.text.startswith("### Preamble:\n\n(If you're already familiar with all basics")
    assert "skip ahead to Section B for technical difficulties of alignment proper." in post.text
    assert (
        "I have several times failed to write up a well-organized list of reasons why AGI will kill you." in post.text
    )
    assert "<" not in post.text and "&nbsp;" not in post.text and "\u00a0" not in post.text
    assert post.text.endswith(
        "Here, from my perspective, are some different true things that could be said, to contradict various false "
        "things that various different people seem to believe, about why AGI would be survivable on anything "
        "remotely remotely resembling the current pathway, or any other pathway we can easily jump to."
    )
    assert _reasons(loaded) == [
        f"post {AGI_RUIN_ID} counts 711 comments, the file holds 0: ask for them with comments(input: "
        f'{{terms: {{view: "postCommentsOld", postId: "{AGI_RUIN_ID}", limit: 711}}}})'
    ]


def test_real_comment_list_one_thread_per_post() -> None:
    loaded = load_inputs([ROBBBB])
    assert loaded.errors == []
    threads = {t.id: t for t in loaded.threads}
    # 12 comments on 4 posts; the file holds none of the posts, so no title and no source.
    assert list(threads) == [
        "lw-dqSwccGTWyBgxrR58",
        "lw-CYTwRZtrhHuYf7QYu",
        "lw-khmpWJnGJnuyPdipE",
        "lw-iNsy7MsbodCyNTwKs",
    ]
    assert all(t.title is None and t.source is None for t in threads.values())
    # The scraper saved its comments newest first; each thread reads in postedAt order.
    assert [p.id for p in threads["lw-dqSwccGTWyBgxrR58"].posts] == [
        "Gxg9AYAXxCWEeJEas",
        "DyXMEtp9pKJNX47qx",
        "5HRd3Ht275osJNDZp",
    ]
    assert [p.id for p in threads["lw-khmpWJnGJnuyPdipE"].posts] == [
        "xPSwrFfXdqZzj5H9J",
        "rChcAGBkXmCgbozL4",
        "QSTvoAuveC6nQTebM",
        "u4ruCe6YNLtXsPug2",
        "h6NHXJSihFcqn2n6A",
        "smbaCaRsqJBwXynFT",
        "RFpWyrd8RTAxRsbgh",
    ]
    posts = [p for t in threads.values() for p in t.posts]
    assert len(posts) == 12
    # Every comment answers a comment by someone else, which a per-user file does not hold: no link survives.
    assert all(p.parent_id is None for p in posts)
    # The query selected no user field: authors are unknown, not guessed from the file name.
    assert all(p.author is None for p in posts)
    by_id = {p.id: p for p in posts}
    # contents.markdown stays as written: escapes, emphasis, links and quote lines.
    assert by_id["xPSwrFfXdqZzj5H9J"].text == '"Inventor" is correct!'
    assert by_id["5HRd3Ht275osJNDZp"].text.startswith(
        "yeah, I left off this part but Nate also said\n\n> \\[people having trouble separating them\\] does"
    )
    assert (
        "*If Anyone Builds It, Everyone Dies: Why Superhuman AI Would Kill Us All*" in by_id["smbaCaRsqJBwXynFT"].text
    )
    assert "the [MIRI Newsletter](https://intelligence.org/contact/)" in by_id["rChcAGBkXmCgbozL4"].text
    assert by_id["TiieqCmCNGfDP9K6s"].text == (
        "> Hopefully a German pre-order from a local bookstore will make a difference.\n\nYep, this counts! :)"
    )
    assert _reasons(loaded) == [
        "4 thread(s) without their post in the file (post dqSwccGTWyBgxrR58, CYTwRZtrhHuYf7QYu, khmpWJnGJnuyPdipE, "
        '...): top-level comments have no parent; add post(input: {selector: {_id: "ID"}}) { result { title '
        "htmlBody user { displayName } } } to the query to get it",
        "12 comment(s) name no author (the query selected no user field; first: Gxg9AYAXxCWEeJEas): authors unknown; "
        "add user { displayName } to the query",
        "12 post(s) reply to a post that is not in the thread (first: post 'Gxg9AYAXxCWEeJEas' → "
        "'nZrW8Nk925XbgsmDp'): their reply links were dropped (in 4 threads, first: lw-dqSwccGTWyBgxrR58)",
    ]


# --- comments (MADE UP: no real response with its post, reply chains or deleted comments was found) ----------


def _comment(cid: str, parent: str | None, posted: str, **fields: Any) -> dict[str, Any]:
    """MADE UP: a comment with the fields a comments query selects."""
    base: dict[str, Any] = {
        "_id": cid,
        "postId": "P1",
        "parentCommentId": parent,
        "postedAt": posted,
        "deleted": False,
        "user": {"displayName": f"Name {cid}", "username": f"user_{cid}", "slug": f"user-{cid}"},
        "contents": {"markdown": f"Comment *{cid}* & `a < b`.\n\n> quoted line"},
        "htmlBody": f"<p>Comment <em>{cid}</em>.</p><blockquote><p>quoted line</p></blockquote>",
    }
    base.update(fields)
    return base


def _post_result(pid: str = "P1", **fields: Any) -> dict[str, Any]:
    """MADE UP: a post selected next to the comments."""
    base: dict[str, Any] = {
        "_id": pid,
        "title": "A made-up post",
        "pageUrl": f"https://www.lesswrong.com/posts/{pid}/a-made-up-post",
        "commentCount": 5,
        "user": {"displayName": "Poster", "username": "poster"},
        "htmlBody": "<p>The post&#39;s <strong>claim</strong> &amp; its reasons.</p>",
    }
    base.update(fields)
    return base


def _response(comments: list[Any], post: dict[str, Any] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"comments": {"results": comments}}
    if post is not None:
        data["post"] = {"result": post}
    return {"data": data}


FIVE = [
    # Returned in score order, as the "postCommentsTop" view does: c3 answers c1 and comes first.
    _comment("c3", "c1", "2024-01-01T12:00:00.000Z"),
    _comment("c1", None, "2024-01-01T10:00:00.000Z"),
    _comment("c2", None, "2024-01-01T11:00:00.000Z", user=None, contents={"markdown": ""}),
    _comment("c4", "c3", "2024-01-01T13:00:00.000Z", user={"displayName": "", "username": "fallback_name"}),
    _comment("c5", "c2", "2024-01-01T14:00:00.000Z", deleted=True),
]


def test_comments_nest_under_the_post(tmp_path: Path) -> None:
    loaded = load_inputs([write_json(tmp_path, "r.json", _response(FIVE, _post_result()))])
    assert loaded.errors == []
    [thread] = loaded.threads
    assert thread.id == "lw-P1"
    assert thread.title == "A made-up post"
    assert thread.source == "https://www.lesswrong.com/posts/P1/a-made-up-post"
    assert [p.id for p in thread.posts] == ["title", "P1", "c1", "c2", "c3", "c4"]  # postedAt order
    posts = posts_by_id(thread)
    assert {i: posts[i].parent_id for i in posts} == {
        "title": None,
        "P1": None,
        "c1": "P1",
        "c2": "P1",
        "c3": "c1",
        "c4": "c3",
    }
    assert posts["P1"].text == "The post's claim & its reasons."  # HTML through html_to_text
    assert posts["c1"].text == "Comment *c1* & `a < b`.\n\n> quoted line"  # markdown kept as written
    assert posts["c2"].text == "Comment c2.\n\n> quoted line"  # empty markdown: htmlBody instead
    assert [posts[i].author for i in ("P1", "c1", "c2", "c4")] == ["Poster", "Name c1", None, "fallback_name"]
    assert _reasons(loaded) == ["1 deleted comment(s) left out (c5); replies to them lose that reply link"]


def test_ea_forum_page_url_html_fallback_and_total_count(tmp_path: Path) -> None:
    # What the real comment list does not show (it has no pageUrl, no htmlBody, no totalCount): made-up comments.
    comments = [
        _comment(
            "b1",
            None,
            "2024-02-01T00:00:00Z",
            postId="P3",
            pageUrl="https://forum.effectivealtruism.org/posts/P3/ea-title?commentId=b1",
        ),
        _comment(
            "b2",
            "b1",
            "2024-02-02T00:00:00Z",
            postId="P3",
            contents=None,
            htmlBody='<p>See <a href="https://example.org">this &amp; that</a></p>'
            '<span class="footnote-back-link">^</span>',
        ),
    ]
    loaded = load_inputs(
        [write_json(tmp_path, "r.json", {"data": {"comments": {"results": comments, "totalCount": 9}}})]
    )
    [thread] = loaded.threads
    assert thread.id == "eaf-P3"  # the EA Forum pageUrl names the site
    assert thread.source == "https://forum.effectivealtruism.org/posts/P3/ea-title"
    assert [(p.id, p.parent_id) for p in thread.posts] == [("b1", None), ("b2", "b1")]
    assert posts_by_id(thread)["b2"].text == "See this & that"
    assert _reasons(loaded) == [
        "1 thread(s) without their post in the file (post P3): top-level comments have no parent; add "
        'post(input: {selector: {_id: "ID"}}) { result { title htmlBody user { displayName } } } '
        "to the query to get it",
        "the response counts 9 comments (totalCount) and holds 2: raise limit",
    ]


def test_aliases_and_a_plain_list_are_read(tmp_path: Path) -> None:
    aliased = {
        "data": {
            "thread": {"result": _post_result("P4")},
            "replies": {"results": [_comment("x1", None, "2024-03-01T00:00:00Z", postId="P4")]},
        }
    }
    plain = [
        _comment("y1", None, "2024-03-01T00:00:00Z", postId="P5"),
        _comment("y2", "y1", "2024-03-02T00:00:00Z", postId="P5", author="Legacy Name", user=None),
    ]
    loaded = load_inputs([write_json(tmp_path, "a.json", aliased), write_json(tmp_path, "b.json", plain)])
    threads = {t.id: t for t in loaded.threads}
    assert [(p.id, p.parent_id) for p in threads["lw-P4"].posts] == [("title", None), ("P4", None), ("x1", "P4")]
    assert [(p.id, p.author) for p in threads["lw-P5"].posts] == [("y1", "Name y1"), ("y2", "Legacy Name")]


def test_malformed_items_and_comments_without_post_id(tmp_path: Path) -> None:
    comments = [
        _comment("m1", None, "2024-04-01T00:00:00Z"),
        "junk",
        {"postId": "P1"},
        _comment("m2", None, "2024-04-01T00:00:00Z", postId=None),
    ]
    loaded = load_inputs([write_json(tmp_path, "r.json", _response(comments))])
    [thread] = loaded.threads
    assert [p.id for p in thread.posts] == ["m1"]
    reasons = _reasons(loaded)
    assert "2 item(s) of the comment results are not comments (no _id): left out" in reasons
    assert "1 comment(s) without postId left out: add postId to the query's fields" in reasons
    # With the post in the response, a comment without postId belongs to it.
    loaded = load_inputs([write_json(tmp_path, "s.json", _response(comments[3:], _post_result(commentCount=1)))])
    assert [(p.id, p.parent_id) for p in loaded.threads[0].posts] == [("title", None), ("P1", None), ("m2", "P1")]
    assert _reasons(loaded) == []


def test_errors_and_null_results_are_input_errors(tmp_path: Path) -> None:
    error = {
        "errors": [{"message": 'Field "slug" is not defined by type "SelectorInput". ' + "x" * 100}],
        "data": {"post": None},
    }
    null_post = {"data": {"post": {"result": None}}}
    all_deleted = _response([_comment("d1", None, "2024-01-01T00:00:00Z", deleted=True)])
    loaded = load_inputs(
        [write_json(tmp_path, n, v) for n, v in (("a.json", error), ("b.json", null_post), ("c.json", all_deleted))]
    )
    assert loaded.threads == []
    reasons = [e.reason for e in loaded.errors]
    assert reasons[0].startswith('ForumMagnum response with no comment and no post (GraphQL error: \'Field "slug"')
    assert len(reasons[0]) < 200  # the message is capped, never echoed whole
    assert reasons[1] == (
        "ForumMagnum response with no comment and no post (the post is null (deleted, a draft, or a wrong id)); "
        "query again"
    )
    assert reasons[2] == "ForumMagnum response: every comment left out (1 deleted)"


def test_detection_is_specific() -> None:
    assert forummagnum.detect(json.loads(AGI_RUIN.read_text()))
    assert forummagnum.detect(json.loads(ROBBBB.read_text(encoding="utf-8")))
    assert forummagnum.detect(_response([]))
    assert forummagnum.detect([_comment("c1", None, "2024-01-01T00:00:00Z")])
    # MADE UP: other shapes.
    assert not forummagnum.detect({"posts": [{"id": "p1", "text": "ours"}]})
    assert not forummagnum.detect({"post_stream": {"posts": [{"post_number": 1, "cooked": "<p>x</p>"}]}})
    assert not forummagnum.detect({"data": {"repository": {"issue": {"comments": {"nodes": []}}}}})
    assert not forummagnum.detect({"data": {"things": {"results": []}}})
    assert not forummagnum.detect([{"id": 1, "body": "a GitHub comment", "user": {"login": "x"}}])
    assert not forummagnum.detect([{"by": "pg", "id": 1, "kids": [2], "text": "HN"}])
    assert not forummagnum.detect({"data": None, "errors": [{"message": "some other API"}]})
    assert not forummagnum.detect([])


def test_forced_format_on_another_shape_says_so(tmp_path: Path) -> None:
    path = write_json(tmp_path, "d.json", {"post_stream": {"posts": [{"post_number": 1, "cooked": "<p>x</p>"}]}})
    loaded = load_inputs([path], ImportOptions(format="forummagnum"))
    assert loaded.threads == []
    assert [e.reason for e in loaded.errors] == ["not a forummagnum export: drop --format to detect the format"]


def test_a_long_reply_chain_loads_fast(tmp_path: Path) -> None:
    # MADE UP: 5,000 comments, each answering the one before it; markdown bodies, so no HTML parsing.
    comments = [_comment("k0", None, "2024-01-01T00:00:00.0000Z")] + [
        _comment(f"k{n}", f"k{n - 1}", f"2024-01-01T00:00:00.{n:04d}Z") for n in range(1, 5000)
    ]
    started = time.perf_counter()
    loaded = load_inputs([write_json(tmp_path, "chain.json", _response(comments, _post_result(commentCount=5000)))])
    assert time.perf_counter() - started < 3
    [thread] = loaded.threads
    assert len(thread.posts) == 5002
    assert posts_by_id(thread)["k4999"].parent_id == "k4998"
    assert _reasons(loaded) == []
