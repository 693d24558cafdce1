"""Reddit importers on real public samples (tests/fixtures/README.md) and on made-up bad inputs."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
import zstandard
from conftest import posts_by_id, write_thread

from pipeline.importers import reddit
from pipeline.importers.base import Doc
from pipeline.load import InputStream, load_inputs
from pipeline.models import Thread

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "reddit"
THREAD_PAGE = FIXTURES / "thread_1cebxh.json"  # r/self self post, 50 comments, 'more' stubs, deleted accounts
LINK_PAGE = FIXTURES / "thread_w9bomy.json"  # r/toolgifs link post (empty self text), 21 comments
RC_THREAD = FIXTURES / "RC_j1qaqu.jsonl"  # 32 Pushshift comments of r/science j1qaqu
RS_THREAD = FIXTURES / "RS_j1qaqu.jsonl"  # its submission (a link post counting 181 comments)
RC_SAMPLE = FIXTURES / "RC_sample.jsonl"  # 27 dump comments of 2005-2024, each from another thread
RS_SAMPLE = FIXTURES / "RS_sample.jsonl"  # 9 dump submissions of 2005-2024
TAG = re.compile(r"<[a-zA-Z/!][^>]*>")


def only_thread(paths: list[Path]) -> tuple[Thread, list[str]]:
    loaded = load_inputs(paths)
    assert loaded.errors == []
    assert len(loaded.threads) == 1
    return loaded.threads[0], [note.reason for note in loaded.notes]


def comments_in_page(path: Path) -> list[dict[str, Any]]:
    """Every t1 of a thread page, counted independently of the importer."""
    found: list[dict[str, Any]] = []
    stack = list(json.loads(path.read_text(encoding="utf-8"))[1]["data"]["children"])
    while stack:
        item = stack.pop()
        if item["kind"] == "t1":
            found.append(item["data"])
            if item["data"]["replies"]:
                stack += item["data"]["replies"]["data"]["children"]
    return found


def assert_clean(thread: Thread) -> None:
    for post in thread.posts:
        assert TAG.search(post.text) is None, post.id
        assert not re.search(r"&(amp|lt|gt);", post.text), post.id


# --- format "reddit": a thread page's .json -------------------------------------------------------------


def test_thread_page_posts_authors_links_and_text() -> None:
    thread, notes = only_thread([THREAD_PAGE])
    raw = comments_in_page(THREAD_PAGE)
    assert len(raw) == 50
    assert thread.id == "reddit-1cebxh"
    assert (
        thread.title
        == "my wife passed away eight months ago, yesterday I found a post-it note she'd hidden in my office."
    )
    assert thread.source == (
        "https://www.reddit.com/r/self/comments/1cebxh/my_wife_passed_away_eight_months_ago_yesterday_i/"
    )
    # the title post (the loader's), the self post, then the 50 comments in the page's order
    assert [p.id for p in thread.posts[:4]] == ["title", "1cebxh", "c9ftsjg", "c9fwx7a"]
    assert len(thread.posts) == 2 + 50
    assert [p.id for p in thread.posts[2:]] == [c["id"] for c in _page_order(THREAD_PAGE)]
    opening = thread.posts[1]
    assert (opening.author, opening.parent_id) == ("hglkgkjd", None)
    assert opening.text.startswith("it feels like I'm losing my shit all over again, I'd managed to keep myself")
    posts = posts_by_id(thread)
    # top-level comments reply to the submission; replies to their comment (prefixes stripped)
    assert posts["c9ftsjg"].parent_id == "1cebxh"
    assert posts["c9fwx7a"].parent_id == "c9ftsjg"
    assert all(p.parent_id is not None for p in thread.posts[2:])
    assert sum(p.parent_id == "1cebxh" for p in thread.posts) == 7
    # Reddit's &gt; escape is a > quote line again
    assert posts["c9fr1dz"].text == "> nose-breathe laughed\n\nthe ol' reddit laugh."
    assert posts["c9frgbu"].text.startswith(">Ain't no shame in holding onto grief")
    # deleted accounts: author unknown; a deleted comment keeps its place and its replies
    assert (posts["c9fs6hy"].author, posts["c9fs6hy"].text) == (None, "[deleted]")
    assert posts["c9fseyi"].parent_id == "c9fs6hy"
    assert (posts["c9fsi2e"].author, posts["c9fsi2e"].text, posts["c9fsi2e"].parent_id) == (
        None,
        "[removed]",
        "c9fs6hy",
    )
    assert posts["c9h8wz5"].author is None and posts["c9h8wz5"].text.startswith("Historians will note this era")
    assert sum(p.author is None for p in thread.posts) == 7
    assert len({p.author for p in thread.posts if p.author}) == len({c["author"] for c in raw} - {"[deleted]"}) == 32
    assert_clean(thread)
    assert sorted(notes) == sorted(
        [
            "37 'more' stub(s): 951 comment(s) not in the file (first under post 'c9h8wz5'); to include them, "
            "save the thread with its comments expanded (e.g. PRAW's replace_more)",
            "1 'continue this thread' link(s): deeper replies not in the file (first under post 'c9fygn5'); "
            "to include them, save that comment's permalink .json as well",
            "7 post(s) by a deleted or removed account (first: 'c9h8wz5'): author unknown",
            "3 post(s) whose text was deleted or removed (first: 'c9fs6hy'): kept with the text "
            "'[deleted]'/'[removed]' so their replies stay linked",
        ]
    )


def _page_order(path: Path) -> list[dict[str, Any]]:
    """Depth-first reading order of a page's comments (what Reddit shows)."""
    order: list[dict[str, Any]] = []
    stack = list(reversed(json.loads(path.read_text(encoding="utf-8"))[1]["data"]["children"]))
    while stack:
        item = stack.pop()
        if item["kind"] == "t1":
            order.append(item["data"])
            if item["data"]["replies"]:
                stack += reversed(item["data"]["replies"]["data"]["children"])
    return order


def test_link_post_text_is_its_title_and_replies_keep_their_links() -> None:
    thread, notes = only_thread([LINK_PAGE])
    title = (
        "Inside artificial horizon (or attitude indicator) that informs pilot of the aircraft orientation "
        "relative to Earth's horizon"
    )
    assert (thread.id, thread.title) == ("reddit-w9bomy", title)
    assert (
        thread.source
        == "https://www.reddit.com/r/toolgifs/comments/w9bomy/inside_artificial_horizon_or_attitude_indicator/"
    )
    # no second title post: the opening post's text is the title, so replies to it stay linked to it
    assert [p.id for p in thread.posts[:2]] == ["w9bomy", "ihu9ukp"]
    assert (thread.posts[0].text, thread.posts[0].author, thread.posts[0].parent_id) == (title, "toolgifs", None)
    assert len(thread.posts) == 1 + 21 == 1 + len(comments_in_page(LINK_PAGE))
    posts = posts_by_id(thread)
    assert sum(p.parent_id == "w9bomy" for p in thread.posts) == 9
    chain, node = [], "iibkdpw"
    while node is not None:
        chain.append(node)
        node = posts[node].parent_id
    assert chain == ["iibkdpw", "ihwzgq8", "ihw96eg", "ihuvm4i", "ihu9vyo", "w9bomy"]
    assert posts["ihuk8z8"].text.startswith("> The heart of the AI is a gyroscope (gyro) that spins at high speed")
    assert (posts["ihuk8z8"].author, posts["ihuk8z8"].parent_id) == ("toolgifs", "ihu9ukp")
    assert posts["ihu9vyo"].text.startswith("How does this grey «\u00a0cylinder\u00a0» stay up")
    assert (posts["ijr3pab"].author, posts["ijr3pab"].text) == (None, "I need to get an attitude indicator for my wife")
    assert len({p.author for p in thread.posts if p.author}) == 13
    assert_clean(thread)
    assert notes == ["1 post(s) by a deleted or removed account (first: 'ijr3pab'): author unknown"]


def test_more_stub_only_keeps_the_opening_post_and_says_what_is_missing(tmp_path: Path) -> None:
    # made up: a self post whose only comment item is a 'more' stub
    page = _page("abc12", "Is this a thread?", "Body with &lt;brackets&gt; &amp; an ampersand", [_more(7, 3)])
    path = tmp_path / "more.json"
    path.write_text(json.dumps(page), encoding="utf-8")
    thread, notes = only_thread([path])
    assert [(p.id, p.text) for p in thread.posts] == [
        ("title", "Is this a thread?"),
        ("abc12", "Body with <brackets> & an ampersand"),
    ]
    assert notes == [
        "1 'more' stub(s): 7 comment(s) not in the file (first under post 'abc12'); to include them, save the "
        "thread with its comments expanded (e.g. PRAW's replace_more)"
    ]


def test_malformed_items_are_left_out_with_a_note_and_a_page_without_its_post_is_an_error(tmp_path: Path) -> None:
    # made up: a comment replying to a comment that is not in the file, an unknown kind, a comment without id,
    # an item that is not an object, a comment whose replies are not a Listing
    comments = [
        _comment("c1", "t1_gone", "alice", "I reply to something not here"),
        {"kind": "t5", "data": {"display_name": "x"}},
        _comment("", "t3_abc12", "bob", "no id", replies=[_comment("c2", "t1_c9", "carol", "orphan")]),
        "not an object",
        _comment("c3", "t3_abc12", "[removed]", "&gt; quoted\nreply", replies=""),
    ]
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(_page("abc12", "T", "", comments)), encoding="utf-8")
    loaded = load_inputs([path])
    assert loaded.errors == []
    thread = loaded.threads[0]
    assert [(p.id, p.author, p.parent_id) for p in thread.posts] == [
        ("abc12", "op", None),
        ("c1", "alice", None),  # the loader dropped the link to the missing 'gone'
        ("c2", "carol", None),
        ("c3", None, "abc12"),
    ]
    assert posts_by_id(thread)["c3"].text == "> quoted\nreply"
    reasons = [n.reason for n in loaded.notes]
    assert "1 comment(s) without an id left out (first under post 'abc12')" in reasons
    assert "2 item(s) of no Reddit shape left out (first: a dict of kind 't5' under post 'abc12')" in reasons
    assert any(
        r.startswith("2 post(s) reply to a post that is not in the thread (first: post 'c1' → 'gone')") for r in reasons
    )
    # a page whose first Listing has a t3 without data: an error naming the file, nothing else
    broken = _page("abc12", "T", "", [])
    broken[0]["data"]["children"][0]["data"] = None
    bad = tmp_path / "broken.json"
    bad.write_text(json.dumps(broken), encoding="utf-8")
    loaded = load_inputs([bad, LINK_PAGE])
    assert [t.id for t in loaded.threads] == ["reddit-w9bomy"]
    assert [(e.path, e.reason) for e in loaded.errors] == [
        (str(bad), "Reddit thread JSON whose post (t3) has no data: save the page's .json again")
    ]


def test_deep_replies_are_walked_without_recursion() -> None:
    # made up: 3,000 levels of replies, built as parsed JSON (the importer walks them with a stack)
    depth = 3000
    node: dict[str, Any] = _comment(f"c{depth - 1}", f"t1_c{depth - 2}", "u", "deepest")
    for level in range(depth - 2, -1, -1):
        parent = "t3_deep1" if level == 0 else f"t1_c{level - 1}"
        node = _comment(f"c{level}", parent, "u", f"level {level}", replies=[node])
    found = reddit.parse_thread_page([Doc("deep.json", _page("deep1", "Deep", "top", [node]))])
    assert found.errors == [] and found.notes == []
    posts = found.threads[0].posts
    assert len(posts) == depth + 1
    assert [(p.id, p.parent_id) for p in posts[-2:]] == [("c2998", "c2997"), ("c2999", "c2998")]
    assert posts[-1].text == "deepest"


def test_deep_page_files_load_or_are_one_error_naming_the_file(tmp_path: Path) -> None:
    # made up: the same chain written as a file; Python's JSON parser reads ~190 levels of Reddit replies
    # (5 JSON levels each) and refuses deeper files, which the loader reports as that file's input error.
    def page_text(depth: int) -> str:
        opened = "".join(
            f'{{"kind": "t1", "data": {{"id": "c{i}", "parent_id": "{"t3_deep1" if i == 0 else f"t1_c{i - 1}"}", '
            '"author": "u", "body": "b", "replies": {"kind": "Listing", "data": {"children": ['
            for i in range(depth)
        )
        head = json.dumps(_page("deep1", "Deep", "top", [])[0])
        return f'[{head}, {{"kind": "Listing", "data": {{"children": [{opened}{"]}}}}" * depth}]}}}}]'

    ok, deep = tmp_path / "ok.json", tmp_path / "deep.json"
    ok.write_text(page_text(150), encoding="utf-8")
    deep.write_text(page_text(3000), encoding="utf-8")
    loaded = load_inputs([ok, deep, LINK_PAGE])
    assert [t.id for t in loaded.threads] == ["reddit-deep1", "reddit-w9bomy"]
    assert len(loaded.threads[0].posts) == 2 + 150
    assert (loaded.threads[0].posts[-1].id, loaded.threads[0].posts[-1].parent_id) == ("c149", "c148")
    assert [(e.path, "nested too deeply" in e.reason) for e in loaded.errors] == [(str(deep), True)]


# --- format "reddit-dump": Pushshift / Arctic Shift lines ------------------------------------------------


def test_dump_comments_join_their_submission_given_in_another_file() -> None:
    thread, notes = only_thread([RC_THREAD, RS_THREAD])
    records = [json.loads(line) for line in RC_THREAD.read_text(encoding="utf-8").splitlines()]
    title = "Quantum entanglement realized between distant macroscopic systems"
    assert (thread.id, thread.title) == ("reddit-j1qaqu", title)
    assert (
        thread.source
        == "https://www.reddit.com/r/science/comments/j1qaqu/quantum_entanglement_realized_between_distant/"
    )
    # a link post: its text is its title, so no title post; then the comments by time, then id
    assert (thread.posts[0].id, thread.posts[0].author, thread.posts[0].text) == ("j1qaqu", "spsheridan", title)
    expected = sorted(records, key=lambda r: (r["created_utc"], r["id"]))
    assert [p.id for p in thread.posts[1:]] == [r["id"] for r in expected]
    assert len(thread.posts) == 1 + 32
    posts = posts_by_id(thread)
    assert [p.id for p in thread.posts if p.parent_id == "j1qaqu"] == ["g710pc6", "g723l9c", "g72amuf"]
    assert (posts["g715xfr"].parent_id, posts["g71cjbs"].parent_id) == ("g710pc6", "g715xfr")
    assert posts["g71y648"].text.startswith("> Quantum entanglement does not violate the speed of light.")
    assert posts["g72d6qs"].text.startswith("\n>If we could harness quantum entanglement")
    assert sum(p.parent_id is not None for p in thread.posts) == 16  # 3 top-level + 13 replies within the file
    assert (
        len({p.author for p in thread.posts if p.author}) == 21 == len({r["author"] for r in records} | {"spsheridan"})
    )
    assert_clean(thread)
    assert sorted(notes) == [
        "1 thread(s) hold fewer comments than their submission counts (first: reddit-j1qaqu, 32 of 181): "
        "the others are not in the dump",
        "16 post(s) reply to a post that is not in the thread (first: post 'g71i9wo' → 'g70woyb'): "
        "their reply links were dropped",
    ]
    # the order of the files does not matter
    again, _ = only_thread([RS_THREAD, RC_THREAD])
    assert [(p.id, p.parent_id, p.text) for p in again.posts] == [(p.id, p.parent_id, p.text) for p in thread.posts]


def test_dump_without_its_submission_has_no_opening_post_and_says_so() -> None:
    thread, notes = only_thread([RC_THREAD])
    assert (thread.id, thread.title) == ("reddit-j1qaqu", None)
    assert thread.source == "https://www.reddit.com/r/science/comments/j1qaqu/"
    assert len(thread.posts) == 32
    assert [p.id for p in thread.posts if p.parent_id is None][:3] == ["g710pc6", "g71i9wo", "g71znwl"]
    assert posts_by_id(thread)["g710pc6"].parent_id is None  # top-level: parent t3_j1qaqu is not in the input
    assert (
        "1 thread(s) without their submission (first: reddit-j1qaqu): no opening post, top-level comments reply "
        "to nothing; pass the RS_ (submissions) dump alongside" in notes
    )


def test_zstd_and_gzip_dumps_load_like_the_plain_lines(tmp_path: Path) -> None:
    plain, _ = only_thread([RC_THREAD, RS_THREAD])
    data = RC_THREAD.read_bytes()
    zst, gz = tmp_path / "RC_j1qaqu.zst", tmp_path / "RC_j1qaqu.gz"
    zst.write_bytes(zstandard.ZstdCompressor(level=3).compress(data))
    gz.write_bytes(gzip.compress(data))
    for compressed in (zst, gz):
        thread, notes = only_thread([compressed, RS_THREAD])
        assert [(p.id, p.author, p.parent_id, p.text) for p in thread.posts] == [
            (p.id, p.author, p.parent_id, p.text) for p in plain.posts
        ]
        assert len(notes) == 2


def test_repeated_dump_records_are_kept_once(tmp_path: Path) -> None:
    copy = tmp_path / "RC_copy.jsonl"
    shutil.copy(RC_THREAD, copy)
    thread, notes = only_thread([RC_THREAD, copy, RS_THREAD])
    assert len(thread.posts) == 33
    assert "32 record(s) repeated with the same id (first: 'g786qmf'): each kept once" in notes


def test_dump_records_of_every_era_load() -> None:
    loaded = load_inputs([RC_SAMPLE, RS_SAMPLE])
    assert loaded.errors == []
    threads = {t.id: t for t in loaded.threads}
    assert len(threads) == 27 + 9  # no comment of the sample belongs to a submission of the sample
    # 2005: created_utc an int, no permalink; the source is built from subreddit and link id
    old = threads["reddit-17863"]
    assert [(p.id, p.author, p.parent_id) for p in old.posts] == [("c13", "frjo", None)]
    assert old.source == "https://www.reddit.com/r/reddit.com/comments/17863/"
    # 2009: created_utc a string; &gt; quotes decoded
    assert threads["reddit-9fyq4"].posts[0].text.startswith(">Nebraska\n>Diocese of Grand Island")
    assert threads["reddit-9fz46"].posts[0].text.startswith("You must be one of \n\n> those folks")
    # deleted accounts and texts
    assert [(p.author, p.text) for p in threads["reddit-17870"].posts] == [(None, "[deleted]")]
    assert [(p.author, p.text) for p in threads["reddit-1afnkw1"].posts] == [(None, "[removed]")]
    # submissions alone: a link post is its (decoded) title; a self post gets the title post before its text
    assert [(p.id, p.text) for p in threads["reddit-1v3sg"].posts] == [("1v3sg", "NUMBERS & WEB SITES")]
    assert threads["reddit-1v3sg"].title == "NUMBERS & WEB SITES"
    assert [p.id for p in threads["reddit-2f4i98"].posts] == ["title", "2f4i98"]
    assert threads["reddit-2f4i98"].posts[1].text.startswith("There's 50g of protein in a carton")
    assert threads["reddit-87"].source == "https://www.reddit.com/r/reddit.com/comments/87/the_downing_street_memo/"
    for thread in threads.values():
        assert_clean(thread)
    reasons = sorted(n.reason for n in loaded.notes if n.where == str(RC_SAMPLE))
    assert reasons[:3] == [
        "27 thread(s) without their submission (first: reddit-1afjd7n): no opening post, top-level comments reply "
        "to nothing; pass the RS_ (submissions) dump alongside",
        "4 post(s) whose text was deleted or removed (first: 'kod0bkj'): kept with the text '[deleted]'/'[removed]' "
        "so their replies stay linked",
        "5 post(s) by a deleted or removed account (first: 'kod0bkj'): author unknown",
    ]
    # the loader's note: 9 comments answer a comment the sample does not hold (one in each of 9 threads)
    assert len(reasons) == 4
    assert reasons[3].startswith(
        "9 post(s) reply to a post that is not in the thread (first: post 'kod0bke' → 'kihqg38')"
    )


def test_slim_keeps_only_what_the_importer_reads() -> None:
    record = json.loads(RS_THREAD.read_text(encoding="utf-8"))
    assert len(record) > 50
    assert reddit.slim_dump(record) == {
        key: record[key]
        for key in ("id", "author", "selftext", "title", "created_utc", "permalink", "subreddit", "num_comments")
    }
    comment = json.loads(RC_THREAD.read_text(encoding="utf-8").splitlines()[0])
    assert set(reddit.slim_dump(comment)) == {
        "id",
        "parent_id",
        "link_id",
        "author",
        "body",
        "created_utc",
        "permalink",
        "subreddit",
    }


def test_integer_parent_ids_of_the_2022_pushshift_api_are_base36_ids() -> None:
    # made up around real ids: that API gave parent_id as the base-10 value of the base-36 id
    assert reddit._dump_parent(int("g710pc6", 36), "j1qaqu", True) == "g710pc6"
    assert reddit._dump_parent(int("j1qaqu", 36), "j1qaqu", True) == "j1qaqu"
    assert reddit._dump_parent(None, "j1qaqu", False) is None
    assert reddit._dump_parent("t3_j1qaqu", "j1qaqu", False) is None


# --- detection ------------------------------------------------------------------------------------------


def test_detection_is_specific() -> None:
    page = json.loads(LINK_PAGE.read_text(encoding="utf-8"))
    comment = json.loads(RC_THREAD.read_text(encoding="utf-8").splitlines()[0])
    submission = json.loads(RS_THREAD.read_text(encoding="utf-8"))
    assert reddit.detect_thread_page(page) and not reddit.detect_dump(page)
    assert reddit.detect_dump(comment) and reddit.detect_dump(submission)
    assert not reddit.detect_thread_page(comment)
    # made up: other shapes, ours and other platforms'
    ours = {"id": "t", "title": "T", "posts": [{"id": "p1", "text": "hi"}]}
    hn_algolia = {
        "id": 8863,
        "created_at": "2007-04-04T19:16:40.000Z",
        "author": "dhouston",
        "title": "My YC app",
        "url": "http://x",
        "text": None,
        "points": 111,
        "parent_id": None,
        "children": [{"id": 8952, "author": "nickb", "text": "<p>hi</p>", "parent_id": 8863, "children": []}],
    }
    hn_firebase = {
        "by": "dhouston",
        "descendants": 71,
        "id": 8863,
        "kids": [8952],
        "score": 111,
        "time": 1175714200,
        "title": "My YC app",
        "type": "story",
        "url": "http://x",
    }
    hn_comment = {
        "by": "norvig",
        "id": 2921983,
        "kids": [2922097],
        "parent": 2921506,
        "text": "Aw shucks",
        "time": 1314211127,
        "type": "comment",
    }
    listing_alone = {"kind": "Listing", "data": {"children": [{"kind": "t3", "data": {"id": "x"}}]}}
    wrapped = {"kind": "t1", "data": comment}
    for value in (
        ours,
        [ours],
        hn_algolia,
        hn_firebase,
        hn_comment,
        [hn_firebase, hn_comment],
        listing_alone,
        wrapped,
        [listing_alone],
        {"posts": []},
        [],
        {},
        "text",
        None,
    ):
        assert not reddit.detect_thread_page(value), value
        assert not reddit.detect_dump(value), value
    assert [f.name for f in reddit.FORMATS] == ["reddit", "reddit-dump"]


def test_our_thread_json_is_not_read_as_reddit(tmp_path: Path) -> None:
    path = tmp_path / "ours.json"
    path.write_text(json.dumps({"id": "mine", "posts": [{"id": "p1", "text": "hello there", "parent_id": None}]}))
    loaded = load_inputs([path])
    assert [t.id for t in loaded.threads] == ["mine"] and loaded.notes == [] and loaded.errors == []


# --- made-up building blocks for the bad-input tests ------------------------------------------------------


def _comment(cid: str, parent: str, author: str, body: str, replies: Any = None) -> dict[str, Any]:
    """A t1 item; ``cid`` "" for one without an id; ``replies`` a list (a Listing of them) or a raw value."""
    data: dict[str, Any] = {"parent_id": parent, "author": author, "body": body, "replies": ""}
    if cid:
        data.update(id=cid, name=f"t1_{cid}")
    if isinstance(replies, list):
        data["replies"] = {"kind": "Listing", "data": {"children": replies}}
    elif replies is not None:
        data["replies"] = replies
    return {"kind": "t1", "data": data}


def _more(count: int, children: int) -> dict[str, Any]:
    return {"kind": "more", "data": {"count": count, "children": [f"m{i}" for i in range(children)]}}


def _page(sid: str, title: str, selftext: str, comments: list[Any]) -> list[dict[str, Any]]:
    submission = {
        "kind": "t3",
        "data": {
            "id": sid,
            "name": f"t3_{sid}",
            "title": title,
            "selftext": selftext,
            "author": "op",
            "subreddit": "test",
            "permalink": f"/r/test/comments/{sid}/slug/",
        },
    }
    return [
        {"kind": "Listing", "data": {"children": [submission]}},
        {"kind": "Listing", "data": {"children": comments}},
    ]


def _pass(stream: InputStream) -> tuple[list[tuple[str, list[tuple[str, str | None, str]]]], list[str], list[str]]:
    threads = [(t.id, [(p.id, p.parent_id, p.text) for p in t.posts]) for t in stream]
    return threads, [f"{n.where}: {n.reason}" for n in stream.notes], [str(e) for e in stream.errors]


def test_a_second_pass_builds_a_dump_from_the_first_pass_spill_without_reading_it_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "scratch"))
    (tmp_path / "scratch").mkdir()
    dump, submissions = tmp_path / "RC_j1qaqu.jsonl", tmp_path / "RS_j1qaqu.jsonl"
    shutil.copy(RC_THREAD, dump)
    shutil.copy(RS_THREAD, submissions)
    (tmp_path / "bad.jsonl").write_text('{"body": "no shape"}\n', encoding="utf-8")
    write_thread(tmp_path / "own.json", "own", [("a", "ann", None, "A thread file of our own format.")])
    stream = InputStream([tmp_path / "own.json", dump, submissions, tmp_path / "bad.jsonl"], keep_pools=True)
    first = _pass(stream)
    assert [t for t, _ in first[0]] == ["own", "reddit-j1qaqu"] and len(first[1]) == 2 and len(first[2]) == 1
    assert len(list((tmp_path / "scratch").iterdir())) == 1  # the spill, kept for the next pass
    dump.unlink()  # the dump is not read again: its threads come from the spill, its notes are repeated
    submissions.unlink()
    assert _pass(stream) == first
    assert _pass(stream) == first  # and again: the notes the building finds are not counted twice
    stream.close()
    assert list((tmp_path / "scratch").iterdir()) == []


def test_without_kept_pools_or_with_a_file_that_feeds_a_pool_and_gives_threads_each_pass_reads_everything(
    tmp_path: Path,
) -> None:
    mixed = tmp_path / "mixed.jsonl"
    own = {"id": "own", "posts": [{"id": "a", "author": "ann", "parent_id": None, "text": "Our own thread line."}]}
    mixed.write_text(json.dumps(own) + "\n" + RC_THREAD.read_text(encoding="utf-8"), encoding="utf-8")
    stream = InputStream([mixed], keep_pools=True)
    first = _pass(stream)
    assert [t for t, _ in first[0]] == ["own", "reddit-j1qaqu"]
    assert _pass(stream) == first  # read again, the pool built anew: no record counted as repeated
    mixed.unlink()
    assert _pass(stream)[0] == []  # it was read again, not kept
    stream.close()
    plain = InputStream([RC_THREAD])
    assert _pass(plain) == _pass(plain)
