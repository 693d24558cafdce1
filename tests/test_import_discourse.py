"""Discourse topic JSON through the public loader, on real topics (tests/fixtures/README.md).

Made-up documents appear only in the bad-input tests below, each marked MADE UP. Two cases have no permissively
licensed real sample (a link preview, a topic's first page that lists more posts than it holds): their tests are
made up too and say so."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from conftest import posts_by_id, write_json

from pipeline.importers import discourse
from pipeline.importers.base import ImportOptions
from pipeline.load import Loaded, load_inputs
from pipeline.models import Thread

FIXTURES = Path(__file__).parent / "fixtures" / "discourse"
SANDBOX = FIXTURES / "topic_try_sandbox.json"
CF_2108 = FIXTURES / "cf_2108_posts_first7.json"
CF_2144 = FIXTURES / "cf_2144_posts_pn21_first4.json"


def _load(path: Path, options: ImportOptions | None = None) -> Loaded:
    return load_inputs([path], options)


def _only(loaded: Loaded) -> Thread:
    assert loaded.errors == []
    assert len(loaded.threads) == 1
    return loaded.threads[0]


def _reasons(loaded: Loaded) -> list[str]:
    return [note.reason for note in loaded.notes]


# --- real topics ------------------------------------------------------------------------------------------


def test_sandbox_topic_posts_authors_links_and_notes() -> None:
    loaded = _load(SANDBOX)
    thread = _only(loaded)
    assert thread.id == "discourse-57"
    assert thread.title == "THIS SITE IS A SANDBOX -- it is reset every day"
    assert thread.source is None  # the file has no internal link naming its site
    # 4 posts in the file: post 2 is a moderator notice ("This topic is now pinned"), left out.
    assert [p.id for p in thread.posts] == ["title", "1", "3", "14"]
    posts = posts_by_id(thread)
    assert [posts[i].author for i in ("1", "3", "14")] == ["samsaffron", "stienman", "splattne"]
    assert posts["1"].parent_id is None
    assert posts["3"].parent_id == "1"  # no reply_to_post_number: it answers the topic
    assert posts["14"].parent_id == "1"  # reply_to_post_number 1
    assert posts["14"].text == "What? So I have to post this every day?"
    assert posts["3"].text == ""  # an image and nothing else
    assert "This site is reset every day (or even more often)." in posts["1"].text
    assert "visit http://www.discourse.org" in posts["1"].text  # a link keeps its text
    assert "<" not in "".join(p.text for p in thread.posts)
    assert _reasons(loaded) == [
        "1 moderator notice(s) (e.g. 'This topic is now pinned') left out (post 2): platform notices, not discussion",
        "1 post(s) have no text once HTML is read (images or embeds only; post 3)",
    ]


def test_posts_page_posts_authors_links_and_site() -> None:
    # /t/2108/posts.json: a posts page (no title, no stream), cut to its first 7 posts.
    loaded = _load(CF_2108)
    thread = _only(loaded)
    assert thread.id == "discourse-2108"
    assert thread.title is None  # a posts page carries no topic title, so no title post is added
    # Post 1 links internally to other topics of the same site: the source is built from it and the slug.
    assert thread.source == (
        "https://discuss.criticalfallibilism.com/t/comments-on-the-boyfriends-introduction-to-feminism/2108"
    )
    assert [p.id for p in thread.posts] == ["1", "2", "3", "4", "5", "6", "7"]
    posts = posts_by_id(thread)
    assert [posts[i].author for i in "1234567"] == [
        "Elliot",
        "Elliot",
        "anonymous45",
        "anonymous45",
        "Elliot",
        "anonymous105",
        "anonymous105",
    ]
    assert {p.id: p.parent_id for p in thread.posts} == {
        "1": None,
        "2": "1",  # reply_to_post_number null: it answers the topic
        "3": "1",
        "4": "1",
        "5": "1",
        "6": "4",  # reply_to_post_number 4
        "7": "4",
    }
    assert _reasons(loaded) == []


def test_cooked_html_becomes_clean_text() -> None:
    posts = posts_by_id(_only(_load(CF_2108)))
    assert posts["2"].text == (
        "The book’s author said this about my blog post:\n\n> Thanks! I appreciate your careful read and critique."
    )
    assert posts["5"].text == (
        "The “Show Full Post…” expansion on the forum is pretty glitched for this specific post. I don’t know why. "
        "You can read the post on my blog though."
    )
    # A quote keeps its words as ">" lines and loses its "Elliot:" header (avatar, quote controls).
    assert (
        "> A lot of men who claim to be feminists actually turn out to be misogynists.\n\n"
        "Yeah, I liked the point about how some men see being feminist as a “noble sacrifice”"
    ) in posts["3"].text
    assert "Elliot:" not in posts["3"].text
    # Entities decoded (`&gt;` in a code span), list items kept, a blockquote inside a list item quoted.
    assert "`god > husband > wife > children`" in posts["3"].text
    assert "3. Patriarchy literally means ‘rule by fathers’." in posts["3"].text
    assert "1. > The name we use for social inequality against women and girls is “patriarchy”." in posts["3"].text
    # A quote that itself quotes: two levels of ">", the header of neither.
    assert posts["6"].text.startswith(
        "> > We can reliably tell men from women by their biological, psychological, and social traits.\n>\n"
        "> Yes, of course, because ‘man’ and ‘woman’ describe biological sex."
    )
    assert "anonymous45:" not in posts["6"].text
    assert "#2 item is a bedrock of patriarchy" in posts["6"].text  # a hashtag span keeps its text
    assert "man & woman are terms" in posts["6"].text
    assert posts["1"].text == (
        "---\n\nThis is a companion discussion topic for the original entry at "
        "https://curi.us/2599-comments-on-the-boyfriends-introduction-to-feminism"
    )
    assert all("<" not in p.text and "&amp;" not in p.text and "&gt;" not in p.text for p in posts.values())


def test_posts_page_in_reverse_order_with_replies_to_posts_it_does_not_hold() -> None:
    # /t/2144/posts.json?post_number=21 serves the posts before 21 newest first; cut to its first 4 (20, 19, 18, 17).
    loaded = _load(CF_2144)
    thread = _only(loaded)
    assert thread.id == "discourse-2144" and thread.title is None
    assert thread.source is None  # no internal link in these posts names the site
    assert [p.id for p in thread.posts] == ["17", "18", "19", "20"]  # post_number order
    posts = posts_by_id(thread)
    assert [posts[i].author for i in ("17", "18", "19", "20")] == ["anonymous105", "Elliot", "anonymous105", "Elliot"]
    # 20 → 19 → 18 are in the file; 18 answered post 15 and 17 answered post 13, which this page does not hold.
    assert {i: posts[i].parent_id for i in posts} == {"17": None, "18": None, "19": "18", "20": "19"}
    assert _reasons(loaded) == [
        "2 post(s) reply to a post that is not in the thread (first: post '17' → '13'): their reply links were dropped"
    ]
    assert posts["18"].text.startswith(
        "> > It might also be that movies and media in general make it seem easier to be nice than it actually is "
        "in real life."
    )
    assert "> ~yeah. I think media makes things feel easier than they are." in posts["18"].text
    assert "Eternity:" not in posts["18"].text and "Apricus:" not in posts["18"].text
    assert posts["20"].text.endswith("And We the Living doesn’t have a good ending despite having a deserving hero.")


# --- bad and unusual input (MADE UP: small documents written for these cases) ----------------------------


def _post(number: Any, **fields: Any) -> dict[str, Any]:
    """MADE UP: a Discourse post with the fields the importer reads."""
    base: dict[str, Any] = {
        "id": 1000 + number if isinstance(number, int) else 999,
        "post_number": number,
        "username": f"user{number}",
        "cooked": f"<p>Post {number}.</p>",
        "post_type": 1,
        "reply_to_post_number": None,
    }
    base.update(fields)
    return base


def _topic(posts: list[Any], **fields: Any) -> dict[str, Any]:
    """MADE UP: a topic document around ``posts``."""
    stream = [p["id"] for p in posts if isinstance(p, dict) and "id" in p]
    return {
        "id": 77,
        "title": "A made-up topic",
        "slug": "made-up",
        "post_stream": {"posts": posts, "stream": stream},
        **fields,
    }


def test_link_previews_are_dropped(tmp_path: Path) -> None:
    # MADE UP (no permissively licensed real topic with a onebox was found): a real post of the 2108 page with
    # a link preview as Discourse cooks one for a pasted URL, and an image with its lightbox metadata.
    page = json.loads(CF_2108.read_text(encoding="utf-8"))
    post = page["post_stream"]["posts"][4]
    post["cooked"] += (
        '\n<aside class="onebox allowlistedgeneric" data-onebox-src="https://curi.us/2599">\n'
        '<header class="source"><a href="https://curi.us/2599">curi.us</a></header>\n'
        '<article class="onebox-body"><h3><a href="https://curi.us/2599">Comments on The Boyfriend&#39;s '
        "Introduction to Feminism</a></h3><p>Preview excerpt.</p></article>\n</aside>\n"
        '<div class="lightbox-wrapper"><a class="lightbox" href="/uploads/a.png"><img src="/uploads/a.png" '
        'alt="cover"><div class="meta"><span class="filename">cover.png</span><span class="informations">'
        "1249×1138 45 KB</span></div></a></div>"
    )
    posts = posts_by_id(_only(_load(write_json(tmp_path, "onebox.json", page))))
    assert posts["5"].text == (
        "The “Show Full Post…” expansion on the forum is pretty glitched for this specific post. I don’t know why. "
        "You can read the post on my blog though."
    )


def test_first_page_of_a_long_topic_counts_the_posts_it_does_not_hold(tmp_path: Path) -> None:
    # MADE UP (no permissively licensed real /t/ID.json of a long topic was found): the real sandbox topic with
    # its stream listing 3 more post ids than the file holds, as the first page of a long topic does.
    topic = json.loads(SANDBOX.read_text(encoding="utf-8"))
    topic["post_stream"]["stream"] += [301, 302, 303]
    reasons = _reasons(_load(write_json(tmp_path, "t.json", topic)))
    assert reasons[-1] == (
        "3 of the topic's 7 posts are not in this file (a topic's JSON holds its first 20): fetch the whole topic "
        "with https://SITE/t/57.json?print=true (up to 1000 posts), or the rest with "
        "https://SITE/t/57/posts.json?post_ids[]=301&post_ids[]=302&post_ids[]=303"
    )


def test_detection_is_specific() -> None:
    for path in (SANDBOX, CF_2108, CF_2144):
        assert discourse.detect(json.loads(path.read_text(encoding="utf-8"))), path.name
    assert discourse.detect(_topic([_post(1)]))
    assert discourse.detect({"post_stream": {"posts": [], "stream": []}})
    # MADE UP: other shapes.
    assert not discourse.detect({"posts": [{"id": "p1", "text": "ours"}]})
    assert not discourse.detect({"post_stream": {"posts": [{"id": 1, "body": "no post_number"}]}})
    assert not discourse.detect({"latest_posts": [_post(1)]})  # /posts.json, across topics
    assert not discourse.detect([{"kind": "Listing", "data": {"children": []}}])
    assert not discourse.detect({"data": {"comments": {"results": [{"_id": "a", "postId": "p"}]}}})
    assert not discourse.detect({"id": 1, "children": [], "author": "pg"})
    assert not discourse.detect([_post(1)])


def test_left_out_posts_are_counted_per_kind(tmp_path: Path) -> None:
    posts = [
        _post(1),
        _post(2, post_type=3, action_code="closed.enabled", cooked=""),
        _post(3, post_type=4, cooked="<p>staff only</p>"),
        _post(
            4,
            hidden=True,
            cooked_hidden=True,
            cooked="<p>This post was flagged by the community and is temporarily hidden.</p>",
        ),
        _post(5, user_deleted=True, cooked="<p>(post withdrawn by author)</p>"),
        _post(6, reply_to_post_number=4),
        _post(7, post_type=3, action_code="pinned.enabled", cooked=""),
        "not a post",
        {"id": 5000, "cooked": "<p>no number</p>"},
    ]
    loaded = _load(write_json(tmp_path, "t.json", _topic(posts)))
    thread = _only(loaded)
    assert [p.id for p in thread.posts] == ["title", "1", "6"]
    assert thread.source is None
    reasons = _reasons(loaded)
    assert (
        "2 small-action post(s) (closed.enabled, pinned.enabled) left out (post 2, 7): platform notices, not discussion"
        in reasons
    )
    assert "1 whisper(s) left out (post 3): staff-only, not part of the public topic" in reasons
    assert (
        "2 post(s) hidden, deleted or withdrawn left out (post 4, 5): the export withholds their text; "
        "replies to them lose that reply link"
    ) in reasons
    assert "2 item(s) of post_stream.posts are not posts (no post_number): left out" in reasons
    # Post 6 answered the hidden post 4: the loader drops that link and says so.
    assert posts_by_id(thread)["6"].parent_id is None
    assert any(
        r.startswith("1 post(s) reply to a post that is not in the thread (first: post '6' → '4')") for r in reasons
    )


def test_missing_username_is_none_and_posts_come_in_number_order(tmp_path: Path) -> None:
    posts = [_post(3, reply_to_post_number=2), _post(1), _post(2, username=None), _post(4, username="")]
    thread = _only(_load(write_json(tmp_path, "t.json", _topic(posts))))
    assert [p.id for p in thread.posts] == ["title", "1", "2", "3", "4"]
    by_post = posts_by_id(thread)
    assert by_post["2"].author is None and by_post["4"].author is None
    assert by_post["3"].parent_id == "2"
    assert by_post["3"].text == "Post 3."


def test_a_posts_page_without_title_or_stream(tmp_path: Path) -> None:
    # MADE UP: /t/ID/posts.json?post_ids[]=... answers with posts only, here without post 1.
    page = {"post_stream": {"posts": [_post(21, topic_id=77), _post(22, reply_to_post_number=21)]}, "id": 77}
    loaded = _load(write_json(tmp_path, "page.json", page))
    thread = _only(loaded)
    assert thread.id == "discourse-77" and thread.title is None
    posts = posts_by_id(thread)
    assert posts["22"].parent_id == "21"
    assert posts["21"].parent_id is None  # it answered post 1, which this page does not hold
    assert any("reply to a post that is not in the thread" in r for r in _reasons(loaded))


def test_a_topic_with_no_readable_post_is_an_input_error(tmp_path: Path) -> None:
    only_actions = _topic([_post(1, post_type=3, action_code="closed.enabled"), "junk"])
    empty = {"id": 5, "post_stream": {"posts": [], "stream": [1, 2]}}
    loaded = load_inputs([write_json(tmp_path, "a.json", only_actions), write_json(tmp_path, "b.json", empty)])
    assert loaded.threads == []
    assert [e.reason for e in loaded.errors] == [
        "Discourse topic '77' holds no readable post (of 2 items): fetch the topic again with /t/ID.json?print=true",
        "Discourse topic '5' holds no readable post (of 0 items): fetch the topic again with /t/ID.json?print=true",
    ]


def test_forced_format_on_another_shape_says_so(tmp_path: Path) -> None:
    loaded = _load(
        write_json(tmp_path, "ours.json", {"posts": [{"id": "p1", "text": "hi"}]}), ImportOptions(format="discourse")
    )
    assert loaded.threads == []
    assert [e.reason for e in loaded.errors] == ["not a discourse export: drop --format to detect the format"]


def test_a_long_reply_chain_loads_fast(tmp_path: Path) -> None:
    # MADE UP: 5,000 posts, each answering the one before it (the deepest a flat topic can nest); plain
    # cooked text, so the time measured is the importer's and the loader's, not the HTML parser's.
    posts = [_post(1, cooked="Post 1.")] + [
        _post(n, reply_to_post_number=n - 1, cooked=f"Post {n}.") for n in range(2, 5001)
    ]
    started = time.perf_counter()
    thread = _only(_load(write_json(tmp_path, "chain.json", _topic(posts))))
    assert time.perf_counter() - started < 3
    assert len(thread.posts) == 5001
    assert posts_by_id(thread)["5000"].parent_id == "4999"
