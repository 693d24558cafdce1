"""GitHub importer on real public samples (tests/fixtures/README.md) and on made-up bad inputs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from conftest import posts_by_id, write_json

from pipeline.importers import discord, github
from pipeline.importers.base import ImportOptions
from pipeline.load import load_inputs
from pipeline.models import Thread

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "github"
ISSUE_187 = FIXTURES / "github3py-187-issue.json"  # sigmavirus24/github3.py#187, the issue object
COMMENTS_187 = FIXTURES / "github3py-187-comments.json"  # its 3 comments, the 2nd an e-mail quote-reply
PR_327 = FIXTURES / "emission-327-issue.json"  # artsy/emission#327 (a pull request) as an issue object
COMMENTS_327 = FIXTURES / "emission-327-comments.json"  # its 4 issue comments (2 Danger HTML tables)
REVIEWS_327 = FIXTURES / "emission-327-review-comments.json"  # its 6 review comments
REVIEWS_DC2 = FIXTURES / "delete-contents-2-review-comments.json"  # 3 review comments, 2 with in_reply_to_id
GH_LIST = FIXTURES / "ord-gh-issue-list.json"  # gh issue list --json ... : casey/ord 1501 and 1430
TAG = re.compile(r"<[a-zA-Z/!][^>]*>")


def load(*paths: Path) -> tuple[list[Thread], list[str]]:
    loaded = load_inputs(list(paths))
    assert loaded.errors == []
    return loaded.threads, [note.reason for note in loaded.notes]


def parents(thread: Thread) -> dict[str, str | None]:
    return {post.id: post.parent_id for post in thread.posts}


# --- REST: an issue and its comments, in two files ------------------------------------------------------


def test_issue_and_comments_from_two_files_become_one_thread_in_either_order() -> None:
    for paths in ((ISSUE_187, COMMENTS_187), (COMMENTS_187, ISSUE_187)):
        threads, notes = load(*paths)
        assert len(threads) == 1
        thread = threads[0]
        assert thread.id == "github-sigmavirus24-github3.py-187"
        assert thread.title == "Document two factor auth"
        assert thread.source == "https://github.com/sigmavirus24/github3.py/issues/187"
        assert thread.input_path == str(ISSUE_187)
        assert [p.id for p in thread.posts] == ["title", "187", "31799031", "31799190", "31799437"]
        assert [p.author for p in thread.posts] == [
            "sigmavirus24",
            "sigmavirus24",
            "esacteksab",
            "sigmavirus24",
            "esacteksab",
        ]
        # Flat comments answer the opening post; the e-mail reply quoting the first comment answers it.
        assert parents(thread) == {
            "title": None,
            "187": None,
            "31799031": "187",
            "31799190": "31799031",
            "31799437": "187",
        }
        assert "1 comment(s) quote an earlier comment: linked as replies to it" in notes


def test_markdown_and_quoted_lines_stay_as_written() -> None:
    threads, _ = load(ISSUE_187, COMMENTS_187)
    posts = posts_by_id(threads[0])
    assert posts["187"].text.startswith(
        "https://twitter.com/brian_curtin/status/420665317270900736 made me realize I never documented it _at all_."
    )
    reply = posts["31799190"].text
    assert reply.startswith("On Tue, Jan 07, 2014 at 05:48:28PM -0800, Barry Morrison wrote:\n\n")
    assert "> Note to self: _Don't merge without documentation_ :-p \n\nA thousand times this." in reply
    assert reply.endswith("I'll take it!")
    # The quoted lines are seen as quoted parent lines downstream (normalize marks them).
    assert "\r" not in reply


def test_comments_without_the_issue_make_a_thread_without_opening_post() -> None:
    threads, notes = load(COMMENTS_187)
    thread = threads[0]
    assert thread.id == "github-sigmavirus24-github3.py-187"
    assert thread.title is None
    assert thread.source == "https://github.com/sigmavirus24/github3.py/issues/187"
    assert parents(thread) == {"31799031": None, "31799190": "31799031", "31799437": None}
    assert notes[0].startswith("issue body not given (3 comment(s) read without it): pass the issue JSON alongside")


# --- a pull request: issue object, issue comments and review comments in three files ----------------------


def test_pull_request_joins_issue_comments_and_review_comments_in_time_order() -> None:
    threads, notes = load(PR_327, COMMENTS_327, REVIEWS_327)
    assert len(threads) == 1
    thread = threads[0]
    assert thread.id == "github-artsy-emission-327"
    assert thread.title == "Adds support for showing the metadata and trending Artists to a Gene VC"
    assert thread.source == "https://github.com/artsy/emission/pull/327"
    assert [p.id for p in thread.posts] == [
        "title",
        "327",
        "81345954",  # review comments and issue comments interleave by created_at
        "81346193",
        "81346295",
        "250755850",
        "81357100",
        "81357326",
        "81357371",
        "250770683",
        "251047897",
        "251065326",
    ]
    authors = [p.author for p in thread.posts]
    assert authors.count("orta") == 9 and set(authors) == {"orta", "alloy", "ArtsyOpenSource", "mennenia"}
    # None of the review comments answers another: every comment answers the pull request.
    assert all(p.parent_id == "327" for p in thread.posts[2:])
    assert (
        posts_by_id(thread)["81346295"].text
        == "defaults to the about info ATM, as there's no artworks being downloaded"
    )
    assert notes == ["HTML in 2 post(s) turned into text (first: '250770683')"]


def test_pull_request_issue_object_alone_is_its_opening_post() -> None:
    # The issue object as the API gave it (no labels): the title post and the body, both by the author.
    raw = json.loads(PR_327.read_text())
    assert (raw["number"], raw["user"]["login"], raw["labels"], raw["comments"]) == (327, "orta", [], 5)
    threads, notes = load(PR_327)
    (thread,) = threads
    assert (thread.id, thread.source) == ("github-artsy-emission-327", "https://github.com/artsy/emission/pull/327")
    assert [(p.id, p.author, p.parent_id) for p in thread.posts] == [("title", "orta", None), ("327", "orta", None)]
    assert thread.posts[1].text == (
        "Gap at the top is for follow button \n\n"
        "![screen shot 2016-09-30 at 15 08 40](https://cloud.githubusercontent.com/assets/49038/18994491/"
        "f46402d4-871f-11e6-85c8-21dc99addc7d.png)\n\n"
        "![screen shot 2016-09-30 at 15 08 43](https://cloud.githubusercontent.com/assets/49038/18994493/"
        "f64c635c-871f-11e6-8e95-fe2d7c0e0c1c.png)"
    )
    assert notes == []


def test_inline_html_becomes_text_and_markdown_stays() -> None:
    threads, _ = load(PR_327, COMMENTS_327, REVIEWS_327)
    posts = posts_by_id(threads[0])
    for post in threads[0].posts:
        assert TAG.search(post.text) is None, post.id
        assert "&amp;" not in post.text, post.id
    danger = posts["250770683"].text
    assert "| :warning: | The following files do not have tests: lib/mocks/react-relay.js, " in danger
    assert "lib/components/related_artists/index.js & lib/components/related_artists/related_artist.js |" in danger
    assert danger.endswith("Generated by :no_entry_sign: danger")
    # A Markdown image and a plain Markdown body are kept as written.
    assert (
        "![screen shot 2016-09-30 at 15 08 40](https://cloud.githubusercontent.com/assets/49038/" in posts["327"].text
    )
    assert posts["250755850"].text == (
        "Looking good!\n\nThere’s a bunch of overlap with components on the artist view, will those be sharable in "
        "the future?"
    )


def test_review_comment_replies_follow_in_reply_to_id() -> None:
    threads, notes = load(REVIEWS_DC2)
    thread = threads[0]
    assert thread.id == "github-github3py-delete_contents-2"
    assert thread.source == "https://github.com/github3py/delete_contents/pull/2"
    assert parents(thread) == {"100697470": None, "100697567": "100697470", "163999672": "100697470"}
    assert [p.author for p in thread.posts] == ["sigmavirus24", "gh3test", "gh3test"]
    assert posts_by_id(thread)["100697567"].text == "Replying to comments is fun."
    assert len(notes) == 1 and notes[0].startswith("issue body not given (3 comment(s) read without it)")


# --- gh CLI --json -----------------------------------------------------------------------------------------


def test_gh_issue_list_gives_one_thread_per_issue_with_quote_replies() -> None:
    threads, notes = load(GH_LIST)
    assert [t.id for t in threads] == ["github-casey-ord-1501", "github-casey-ord-1430"]
    vanilla, glibc = threads
    assert vanilla.title == "Vanilla inscriptions"
    assert vanilla.source == "https://github.com/casey/ord/issues/1501"
    assert len(vanilla.posts) == 23  # title, opening post, all 21 comments
    assert len(glibc.posts) == 16  # title, opening post, all 14 comments
    assert vanilla.posts[1].id == "1501" and vanilla.posts[1].author is None  # gh was not asked for the author
    assert len({p.author for p in vanilla.posts[2:]}) == 4  # casey, jotapea, tyjvazum, stet
    links = parents(vanilla)
    # casey answers the opening post line by line: quotes of the opening post stay replies to it.
    assert links["1416843349"] == "1501"
    assert links["1418209529"] == "1418208296"
    # A quote of a quote ("> > ...") is skipped: tyjvazum answers casey's own words.
    assert links["1418268123"] == "1418209529"
    assert links["1421585247"] == "1421489242"
    assert links["1423370021"] == "1421745180"
    # Quoting the docs (text in no earlier post) is no reply to anyone in particular.
    assert links["1420038913"] == "1501"
    quote_replies = [i for i, p in links.items() if p not in (None, "1501")]
    assert len(quote_replies) == 8
    # GitHub's quote reply folds hard-wrapped lines; whitespace folding still finds the quoted comment.
    assert parents(glibc)["1425252911"] == "1424303321"
    assert sum(1 for p in parents(glibc).values() if p not in (None, "1430")) == 3
    assert "8 comment(s) quote an earlier comment: linked as replies to it" in notes
    assert "3 comment(s) quote an earlier comment: linked as replies to it" in notes


def test_gh_comment_text_is_clean() -> None:
    threads, notes = load(GH_LIST)
    glibc = threads[1]
    image_post = posts_by_id(glibc)["1425547252"].text
    assert "<img" not in image_post
    assert image_post.startswith("@dude513 when running `make install`")
    assert "HTML in 1 post(s) turned into text (first: '1425547252')" in notes
    for thread in threads:
        for post in thread.posts:
            assert TAG.search(post.text) is None, post.id
            assert "\r" not in post.text


def test_gh_view_of_one_issue_with_reviews(tmp_path: Path) -> None:
    # Made up: the shape `gh pr view 9 --json title,body,author,comments,reviews,url,number` prints.
    view = {
        "number": 9,
        "title": "Speed up the parser",
        "body": "This makes parsing twice as fast.",
        "url": "https://github.com/octo/widgets/pull/9",
        "author": {"login": "ann"},
        "comments": [
            {
                "id": "IC_kwDOA1",
                "author": {"login": "bob"},
                "body": "Is it correct on empty input?",
                "createdAt": "2024-01-02T10:00:00Z",
                "url": "https://github.com/octo/widgets/pull/9#issuecomment-1001",
            },
            {
                "id": "IC_kwDOA2",
                "author": {"login": "github-actions", "is_bot": True},
                "body": "Benchmarks: 2.1x",
                "createdAt": "2024-01-02T10:05:00Z",
                "url": "https://github.com/octo/widgets/pull/9#issuecomment-1002",
            },
        ],
        "reviews": [
            {"id": "PRR_1", "author": {"login": "carol"}, "body": "", "state": "APPROVED"},
            {
                "id": "PRR_2",
                "author": {"login": "dave"},
                "body": "It still allocates per token.",
                "submittedAt": "2024-01-02T09:00:00Z",
                "state": "COMMENTED",
            },
        ],
    }
    # The approval without text has no time: comments then keep the order gh gave.
    threads, notes = load(write_json(tmp_path, "pr9.json", view))
    thread = threads[0]
    assert thread.id == "github-octo-widgets-9"
    assert thread.source == "https://github.com/octo/widgets/pull/9"
    assert [(p.id, p.author, p.parent_id) for p in thread.posts] == [
        ("title", "ann", None),
        ("9", "ann", None),
        ("1001", "bob", "9"),
        ("PRR_2", "dave", "9"),
    ]
    assert "1 bot comment(s) left out (github-actions; first: '1002'): not part of the debate" in notes
    assert "1 comment(s) without text left out (first: 'PRR_1')" in notes


# --- bad and made-up inputs -------------------------------------------------------------------------------


def comment(
    cid: int, login: str | None, body: Any, *, kind: str = "User", number: int = 5, **extra: Any
) -> dict[str, Any]:
    """Made up: a REST issue comment of octo/widgets#number."""
    user = None if login is None else {"login": login, "type": kind}
    return {
        "id": cid,
        "user": user,
        "body": body,
        "created_at": f"2024-03-01T10:{cid % 60:02d}:00Z",
        "html_url": f"https://github.com/octo/widgets/issues/{number}#issuecomment-{cid}",
        "issue_url": f"https://api.github.com/repos/octo/widgets/issues/{number}",
        **extra,
    }


def test_bots_are_left_out_and_replies_to_them_move_up(tmp_path: Path) -> None:
    # Made up: two bots, a review comment answering a bot's review comment, a deleted ("ghost") user.
    pr = "https://api.github.com/repos/octo/widgets/pulls/5"
    items = [
        comment(1, "dependabot[bot]", "Bumps lodash from 4.17.20 to 4.17.21.", kind="Bot"),
        comment(2, "ghost", "This broke our build."),
        comment(3, "renovate", "Automerge is off.", kind="Bot"),
        {"id": 4, "user": {"login": "codecov[bot]"}, "body": "Coverage 80%", "pull_request_url": pr, "path": "a.py"},
        {
            "id": 5,
            "user": {"login": "erin"},
            "body": "Coverage dropped on a.py, why?",
            "pull_request_url": pr,
            "path": "a.py",
            "in_reply_to_id": 4,
        },
    ]
    threads, notes = load(write_json(tmp_path, "comments.json", items))
    thread = threads[0]
    assert [(p.id, p.author, p.parent_id) for p in thread.posts] == [("2", None, None), ("5", "erin", None)]
    assert (
        "3 bot comment(s) left out (codecov[bot], dependabot[bot], renovate; first: '1'): not part of the debate"
        in notes
    )


def test_repeated_comments_and_issue_are_kept_once() -> None:
    threads, notes = load(ISSUE_187, COMMENTS_187, COMMENTS_187, ISSUE_187)
    assert len(threads) == 1
    assert [p.id for p in threads[0].posts] == ["title", "187", "31799031", "31799190", "31799437"]
    assert "3 comment(s) given more than once ('31799031', '31799190', '31799437'): kept once" in notes
    assert "the issue itself was given 2 times: the first kept" in notes


def test_malformed_items_are_left_out_with_a_note(tmp_path: Path) -> None:
    # Made up: a comment without body, one without user or id, and items of no GitHub shape.
    items = [
        comment(1, "ann", "First!"),
        comment(2, "bob", None),
        {"user": None, "body": "Who wrote this?", "issue_url": "https://api.github.com/repos/octo/widgets/issues/5"},
        "not an object",
        {"id": 9, "text": "a Slack-like message"},
    ]
    threads, notes = load(write_json(tmp_path, "comments.json", items))
    thread = threads[0]
    assert [(p.id, p.author, p.text) for p in thread.posts] == [
        ("1", "ann", "First!"),
        ("p2", None, "Who wrote this?"),  # no id: the loader numbers it
    ]
    assert "1 comment(s) without text left out (first: '2')" in notes
    assert any(n == "2 item(s) are not GitHub issues or comments (first: item 3): left out" for n in notes)


def test_quote_reply_matching_rules(tmp_path: Path) -> None:
    # Made up: a one-word quote must match a word, not part of one; code blocks are not quotes.
    issue = {
        "number": 5,
        "title": "Default port",
        "body": "Should the default port be 8080?",
        "user": {"login": "ann"},
        "html_url": "https://github.com/octo/widgets/issues/5",
    }
    items = [
        issue,
        comment(11, "bob", "Yesterday I tried 9090."),
        comment(12, "carol", "Yes, and it is **the usual choice** for dev servers."),
        comment(13, "dave", "> yes\n\nAgreed."),
        comment(14, "erin", "> it is the usual choice\n\nNot on macOS."),
        comment(15, "frank", "```\n> it is the usual choice\n```\nLooks like a prompt."),
        comment(16, "gus", "> Should the default port be 8080?\n\nNo: 80."),
        comment(17, "hal", "> nobody said this\n\nHmm."),
    ]
    threads, _ = load(write_json(tmp_path, "issue5.json", items))
    links = parents(threads[0])
    assert links["13"] == "12"  # "yes" is in carol's "Yes," but not in bob's "Yesterday"
    assert links["14"] == "12"  # Markdown emphasis and case folded
    assert links["15"] == "5"  # a '>' inside a code block quotes nothing
    assert links["16"] == "5"  # quoting the opening post answers the opening post
    assert links["17"] == "5"
    assert posts_by_id(threads[0])["13"].text == "> yes\n\nAgreed."


def test_html_in_markdown_outside_code_becomes_text(tmp_path: Path) -> None:
    # Made up: an issue template comment, <details>, and HTML-looking text inside code that must stay.
    body = (
        "<!-- Describe the bug below -->\n"
        "The `List<T>` parser fails on `<div>` input.\n\n"
        "<details><summary>Log</summary>\n\nstack &amp; trace\n</details>\n\n"
        '```html\n<div class="x">kept</div>\n```\n'
        "See <https://example.com/docs>."
    )
    threads, notes = load(write_json(tmp_path, "c.json", [comment(1, "ann", body)]))
    text = threads[0].posts[0].text
    assert "Describe the bug" not in text
    assert "The `List<T>` parser fails on `<div>` input." in text
    assert "Log" in text and "stack & trace" in text and "<details>" not in text
    assert '```html\n<div class="x">kept</div>\n```' in text
    assert "See <https://example.com/docs>." in text
    assert "HTML in 1 post(s) turned into text (first: '1')" in notes


def test_long_review_reply_chain_is_read_without_recursion(tmp_path: Path) -> None:
    # Made up: 3000 review comments, each answering the one before.
    pr = "https://api.github.com/repos/octo/widgets/pulls/7"
    items = [
        {
            "id": i,
            "user": {"login": f"u{i % 7}"},
            "body": f"point {i}",
            "pull_request_url": pr,
            "path": "a.py",
            "in_reply_to_id": i - 1 if i > 1 else None,
        }
        for i in range(1, 3001)
    ]
    threads, _ = load(write_json(tmp_path, "chain.json", items))
    thread = threads[0]
    assert len(thread.posts) == 3000
    assert all(p.parent_id == str(int(p.id) - 1) for p in thread.posts[1:])


def test_detection_is_specific() -> None:
    rest_comments = json.loads(COMMENTS_187.read_text(encoding="utf-8"))
    assert github.detect(rest_comments) and github.detect(json.loads(ISSUE_187.read_text(encoding="utf-8")))
    assert github.detect(json.loads(REVIEWS_DC2.read_text(encoding="utf-8")))
    assert github.detect(json.loads(GH_LIST.read_text(encoding="utf-8")))
    assert github.detect({"comments": [{"author": {"login": "ann"}, "body": "hi"}]})  # gh --json comments
    # Made up: other platforms' shapes and ours.
    others: list[Any] = [
        {"posts": [{"id": "1", "text": "ours"}]},
        [{"posts": []}],
        {"guild": {"id": "1"}, "channel": {"id": "2"}, "messages": []},
        [{"type": "message", "user": "U1", "text": "hi", "ts": "1.0"}],
        {"id": 1, "author": "pg", "text": "hn", "children": [], "created_at": "2006-10-09T18:21:51Z"},
        {"by": "pg", "id": 1, "kids": [2], "text": "x", "type": "story"},
        [{"kind": "Listing", "data": {"children": []}}],
        {"post_stream": {"posts": []}, "title": "Discourse"},
        {"data": {"comments": {"results": []}}},
        {"action": "created", "issue": {}, "comment": {}},  # a webhook payload
        [{"id": 1, "body": "GitLab note", "author": {"username": "ann"}, "noteable_type": "Issue"}],
        {"title": "x", "comments": [{"author": "ann", "body": "no login"}]},
        [],
        "text",
    ]
    for value in others:
        assert not github.detect(value), value
    assert not discord.detect(rest_comments)


def test_format_override_and_description() -> None:
    (fmt,) = github.FORMATS
    assert fmt.name == "github" and fmt.pooled and fmt.slim is not None
    assert "gh issue view" in fmt.obtain and "issues/N/comments" in fmt.obtain
    loaded = load_inputs([COMMENTS_187], ImportOptions(format="github"))
    assert [p.id for p in loaded.threads[0].posts] == ["31799031", "31799190", "31799437"]
    # Slimming keeps what the parser needs, and nothing of the API's link soup.
    slimmed = github.slim(json.loads(COMMENTS_187.read_text(encoding="utf-8")))
    assert set(slimmed[0]) == {"id", "body", "html_url", "issue_url", "user", "url", "created_at"}
    assert slimmed[0]["user"] == {"login": "esacteksab", "type": "User"}


def test_gh_list_opening_with_an_uncommented_issue_and_gh_joined_with_rest(tmp_path: Path) -> None:
    # Made up: `gh issue list --json number,title,body,comments` whose first issue has no comment (so no URL
    # names the repository), and the REST comments of the second issue given again in another file.
    listing = [
        {"number": 3, "title": "Typo in README", "body": "", "comments": []},
        {
            "number": 5,
            "title": "Default port",
            "body": "Should it be 8080?",
            "comments": [
                {
                    "id": "IC_kwDOB1",
                    "author": {"login": "bob"},
                    "body": "Yes.",
                    "createdAt": "2024-03-01T10:01:00Z",
                    "url": "https://github.com/octo/widgets/issues/5#issuecomment-1",
                }
            ],
        },
    ]
    gh_file = write_json(tmp_path, "list.json", listing)
    assert github.detect(listing)
    threads, notes = load(gh_file, write_json(tmp_path, "rest.json", [comment(1, "bob", "Yes.")]))
    assert [t.id for t in threads] == ["github-3", "github-octo-widgets-5"]
    assert [(p.id, p.text) for p in threads[0].posts] == [("3", "Typo in README")]
    assert threads[0].source is None
    assert [(p.id, p.author, p.parent_id) for p in threads[1].posts] == [
        ("title", None, None),
        ("5", None, None),
        ("1", "bob", "5"),
    ]
    assert "the opening post has no body: its title stands as its text" in notes
    assert "1 comment(s) given more than once ('1'): kept once" in notes
