"""Hacker News importers (pipeline/importers/hackernews.py) through the public loader, on real API output.

Fixtures (tests/fixtures/hackernews/, sources and licences in tests/fixtures/README.md):
- algolia-item-18475438.json: the Algolia items API answer for a link story ("Story of a failed pentest"),
  146 items: the story and 145 comments, 8 of them deleted (author and text null, no replies), 7 levels deep.
- algolia-item-17.json: the Algolia answer for item 17, a comment (of story 1) with two replies.
- firebase-api-readme/: the six items the official Firebase API documents (story 8863, comment 2921983,
  Ask HN 121003, job 192327, poll 126809, poll option 160705), one file each, as the README of 2015 shows them
  (the Ask HN with an empty "url", the poll option naming its poll under "parent").
Data written here by hand is marked "made up" and only covers bad inputs and other platforms' shapes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from pipeline.importers import FORMATS, hackernews
from pipeline.importers.base import Doc
from pipeline.load import Loaded, load_inputs

FIXTURES = Path(__file__).parent / "fixtures" / "hackernews"
ALGOLIA_STORY = FIXTURES / "algolia-item-18475438.json"
ALGOLIA_COMMENT = FIXTURES / "algolia-item-17.json"
FIREBASE_README = FIXTURES / "firebase-api-readme"
STORY_ID = "18475438"
DELETED_IN_STORY = ["18476322", "18479684", "18477510", "18477879", "18476796", "18476712", "18477179", "18479371"]
HTML_TAG = re.compile(r"</?(p|i|a|b|em|strong|pre|code|br|span|div)\b[^>]*>", re.IGNORECASE)


@pytest.fixture(scope="module")
def story() -> Loaded:
    """The Algolia link story, loaded once for the tests that only read it."""
    return load_inputs([ALGOLIA_STORY])


def _walk(item: dict[str, Any]) -> list[tuple[dict[str, Any], int | None]]:
    """Every node of an Algolia item with its parent's id, iteratively."""
    out: list[tuple[dict[str, Any], int | None]] = []
    stack: list[tuple[dict[str, Any], int | None]] = [(item, None)]
    while stack:
        node, parent = stack.pop()
        out.append((node, parent))
        stack.extend((child, node["id"]) for child in reversed(node["children"]))
    return out


# --- Algolia: the real link story ---------------------------------------------------------------------------


def test_algolia_link_story_posts_authors_links_against_the_file(story: Loaded) -> None:
    raw = json.loads(ALGOLIA_STORY.read_text())
    nodes = _walk(raw)
    assert len(nodes) == 146
    deleted = [str(n["id"]) for n, _ in nodes if n["author"] is None and n["text"] is None]
    assert sorted(deleted) == sorted(DELETED_IN_STORY)

    assert story.errors == []
    (thread,) = story.threads
    assert thread.id == "hn-18475438"
    assert thread.title == "Story of a failed pentest"
    assert thread.source == "https://news.ycombinator.com/item?id=18475438"
    # Every item but the 8 deleted ones (none has a reply), in the file's reading order.
    expected = [(str(n["id"]), n["author"], None if p is None else str(p)) for n, p in nodes if n["text"] or p is None]
    assert [(p.id, p.author, p.parent_id) for p in thread.posts] == expected
    assert len(thread.posts) == 138
    assert len({p.author for p in thread.posts}) == 95
    assert sum(p.parent_id is not None for p in thread.posts) == 137
    assert not {p.id for p in thread.posts} & set(DELETED_IN_STORY)


def test_algolia_link_story_title_is_the_opening_post_and_replies_keep_their_relations(story: Loaded) -> None:
    (thread,) = story.threads
    opening = thread.posts[0]
    assert (opening.id, opening.author, opening.parent_id) == (STORY_ID, "mariedm", None)
    assert opening.text == "Story of a failed pentest"
    # No separate title post duplicates it, and no reply lost its link to the story.
    assert all(p.id != "title" for p in thread.posts)
    assert [p.text for p in thread.posts].count("Story of a failed pentest") == 1
    top_level = [p for p in thread.posts[1:] if p.parent_id == STORY_ID]
    assert len(top_level) == 27  # 30 top-level children, 3 of them deleted
    assert all(p.parent_id is not None for p in thread.posts[1:])


def test_algolia_text_is_clean(story: Loaded) -> None:
    posts = {p.id: p for p in story.threads[0].posts}
    # "&#x27;" decoded, <p> gone, HN's "&gt;" quote lines become "> " lines.
    assert posts["18476381"].text == (
        "> Maybe throw in a rule that devices are recycled (to be wiped) frequently, say every 6 months.\n\n"
        "That would be doable if setting up devtools at most places didn't take an entire day."
    )
    assert posts["18476381"].author == "swiley"
    assert posts["18476381"].parent_id == "18476346"
    assert posts["18479041"].text.startswith(">> the main benefit of a successful pentest is to achieve a change")
    # <i> text kept without its markers; &quot; and &amp; decoded.
    assert posts["18476420"].text.startswith(
        'I could\'ve run "net accounts" on my workstation to query Active Directory directly & see their password'
    )
    assert "Is there much (any?) public evidence that this tends to happen" in posts["18479041"].text
    # A link keeps its text; the &#x2F; in it are decoded.
    assert posts["18480322"].text.endswith(
        "trivially be cracked: https://www.bleepingcomputer.com/news/security/flaws-in-popu..."
    )
    # <pre><code> stays recognisable as a code block.
    assert posts["18476415"].text.startswith("```\n  no one will use it if it [...] is unnecessarily\n")
    # A user who wrote "&lt;deleted&gt;" gets those words back, not a tag and not a placeholder.
    assert (posts["18476122"].author, posts["18476122"].text) == ("SilasX", "<deleted>")
    for post in posts.values():
        assert not HTML_TAG.search(post.text), post.id
        assert not re.search(r"&(#x?[0-9a-f]+|[a-z]+);", post.text, re.IGNORECASE), post.id


def test_algolia_deleted_comments_are_noted_once(story: Loaded) -> None:
    loaded = story
    assert [n.reason for n in loaded.notes] == ["8 deleted or dead item(s) with no reply left out (first: 18476322)"]
    assert loaded.notes[0].where == str(ALGOLIA_STORY)


# --- Algolia: a comment as the root -------------------------------------------------------------------------


def test_algolia_comment_root_starts_the_thread_and_says_the_story_is_missing() -> None:
    loaded = load_inputs([ALGOLIA_COMMENT])
    (thread,) = loaded.threads
    assert (thread.id, thread.title, thread.source) == ("hn-17", None, "https://news.ycombinator.com/item?id=17")
    assert [(p.id, p.author, p.parent_id, p.text) for p in thread.posts] == [
        ("17", "pg", None, "Is there anywhere to eat on Sandhill Road?"),
        ("1079", "dmon", "17", "sure"),
        ("454426", "Arrington", "17", "This is why we can't have nice things."),
    ]
    (note,) = loaded.notes
    assert (note.thread, note.reason) == (
        "hn-17",
        "the file's root item 17 (of story 1) is a comment: the thread starts at it; the story and its other "
        "comments are not in the file (fetch the story's id from the items API for all of it)",
    )


def test_an_array_of_algolia_items_gives_one_thread_each(tmp_path: Path) -> None:
    items = [json.loads(ALGOLIA_COMMENT.read_text()), json.loads(ALGOLIA_STORY.read_text())]
    path = tmp_path / "two.json"
    path.write_text(json.dumps(items))
    loaded = load_inputs([path])
    assert loaded.errors == []
    assert [(t.id, len(t.posts)) for t in loaded.threads] == [("hn-17", 3), ("hn-18475438", 138)]
    assert loaded.threads[1].input_path == f"{path} item 2"


# --- Firebase: the official API's documented items ----------------------------------------------------------


def test_firebase_readme_items_one_file_each() -> None:
    loaded = load_inputs([FIREBASE_README])
    assert loaded.errors == []
    threads = {t.id: t for t in loaded.threads}
    assert sorted(threads) == ["hn-121003", "hn-126809", "hn-160704", "hn-192327", "hn-2921506", "hn-8863"]

    story = threads["hn-8863"]  # a link story: its title is its only text
    assert story.title == "My YC app: Dropbox - Throw away your USB drive"
    assert story.source == "https://news.ycombinator.com/item?id=8863"
    assert [(p.id, p.author, p.parent_id, p.text) for p in story.posts] == [
        ("8863", "dhouston", None, "My YC app: Dropbox - Throw away your USB drive")
    ]

    ask = threads["hn-121003"]  # Ask HN: the text is the body, the title its own post
    assert ask.title == "Ask HN: The Arc Effect"
    assert json.loads((FIREBASE_README / "121003.json").read_text())["url"] == ""
    assert ask.source == "https://news.ycombinator.com/item?id=121003"  # an empty url is not the thread's address
    assert [(p.id, p.author, p.parent_id) for p in ask.posts] == [("title", "tel", None), ("121003", "tel", None)]
    assert ask.posts[1].text.startswith("or HN: the Next Iteration\n\nI get the impression that with Arc being")
    assert ask.posts[1].text.endswith("What's in store for (++ HN)?")

    job = threads["hn-192327"]
    assert job.posts[1].author == "justin"
    assert "```\n    * Contribute to product design and implementation discussions\n" in job.posts[1].text
    assert job.posts[1].text.endswith(
        "Completing the technical problem at http://www.justin.tv/problems/bml will go a long way with us. Cheers!"
    )

    poll = threads["hn-126809"]  # empty text: the title opens it
    assert [(p.id, p.text) for p in poll.posts] == [
        ("126809", "Poll: What would happen if News.YC had explicit support for polls?")
    ]

    comment = threads["hn-2921506"]  # its parent is not in the input
    assert comment.title is None
    assert [(p.id, p.author, p.parent_id) for p in comment.posts] == [("2921983", "norvig", None)]
    assert comment.posts[0].text == (
        "Aw shucks, guys ... you make me blush with your compliments.\n\n"
        "Tell you what, Ill make a deal: I'll keep writing if you keep reading. K?"
    )
    option = threads["hn-160704"]  # a poll option answers its poll (its "parent"), which is not in the input
    assert json.loads((FIREBASE_README / "160705.json").read_text())["parent"] == 160704
    assert [(p.id, p.author, p.parent_id) for p in option.posts] == [("160705", "pg", None)]
    assert option.posts[0].text == "Yes, ban them; I'm tired of seeing Valleywag stories on News.YC."
    assert option.source == "https://news.ycombinator.com/item?id=160704"

    for thread in loaded.threads:
        assert all(not HTML_TAG.search(p.text) for p in thread.posts)


def test_firebase_readme_notes_name_what_is_missing() -> None:
    loaded = load_inputs([FIREBASE_README])
    # One note per kind for the whole run, naming the first instance (and its thread when only one has it).
    assert [(Path(n.where).name, n.thread, n.reason) for n in loaded.notes] == [
        (
            "121003.json",
            None,
            "68 replies listed in kids are not in the input (first: 121016): fetch "
            "https://hacker-news.firebaseio.com/v0/item/<id>.json for each to include them "
            "(in 4 threads, first: hn-121003)",
        ),
        ("126809.json", "hn-126809", "3 poll options listed in parts are not in the input (first: 126810)"),
        (
            "160705.json",
            None,
            "2 threads lack their story or top item (first: item 160704): 2 item(s) reply to an item not in the "
            "input; add https://hacker-news.firebaseio.com/v0/item/<id>.json for each",
        ),
    ]


def test_firebase_one_item_whose_parent_is_missing_says_which() -> None:
    loaded = load_inputs([FIREBASE_README / "2921983.json"])
    (thread,) = loaded.threads
    assert thread.id == "hn-2921506"
    assert [(n.thread, n.reason) for n in loaded.notes] == [
        (
            "hn-2921506",
            "item 2921506 (the story, or the comment these reply to) is not in the input: 1 item(s) replying to it "
            "open the thread without it; add https://hacker-news.firebaseio.com/v0/item/2921506.json to include it",
        ),
        (
            "hn-2921506",
            "7 replies listed in kids are not in the input (first: 2922097): fetch "
            "https://hacker-news.firebaseio.com/v0/item/<id>.json for each to include them",
        ),
    ]


# --- Firebase: a directory of single items joins into one thread ---------------------------------------------


def _firebase_items_of(algolia: dict[str, Any]) -> list[dict[str, Any]]:
    """The real Algolia fixture's items in the Firebase API's shape (by, kids, parent, time), so the same thread
    can be read both ways. Derived here from the real fixture, not downloaded from the Firebase API."""
    items = []
    for node, parent in _walk(algolia):
        item: dict[str, Any] = {"id": node["id"], "time": node["created_at_i"], "type": node["type"]}
        if node["children"]:
            item["kids"] = [child["id"] for child in node["children"]]
        parent = parent if parent is not None else node.get("parent_id")
        if parent is not None:
            item["parent"] = parent
        if node["author"] is None and node["text"] is None:
            item["deleted"] = True
        else:
            item["by"] = node["author"]
        if node["text"] is not None:
            item["text"] = node["text"]
        if node["type"] == "story":
            item.update(title=node["title"], url=node["url"], score=node["points"], descendants=145)
        items.append(item)
    return items


def _write_items(folder: Path, items: list[dict[str, Any]]) -> None:
    folder.mkdir()
    for item in items:
        (folder / f"{item['id']}.json").write_text(json.dumps(item))


def test_a_directory_of_single_firebase_items_is_one_thread(tmp_path: Path, story: Loaded) -> None:
    algolia_thread = story.threads[0]
    _write_items(tmp_path / "items", _firebase_items_of(json.loads(ALGOLIA_STORY.read_text())))
    assert len(list((tmp_path / "items").iterdir())) == 146
    loaded = load_inputs([tmp_path / "items"])
    assert loaded.errors == []
    (thread,) = loaded.threads
    assert (thread.id, thread.title) == ("hn-18475438", "Story of a failed pentest")
    # The same posts, authors, links and text as the Algolia reading of the same thread ...
    assert {(p.id, p.author, p.parent_id, p.text) for p in thread.posts} == {
        (p.id, p.author, p.parent_id, p.text) for p in algolia_thread.posts
    }
    # ... in the Firebase order: the story first, then by time.
    assert thread.posts[0].id == STORY_ID
    times = {str(i["id"]): i["time"] for i in _firebase_items_of(json.loads(ALGOLIA_STORY.read_text()))}
    assert [times[p.id] for p in thread.posts[1:]] == sorted(times[p.id] for p in thread.posts[1:])
    assert [n.reason.split(" (first")[0] for n in loaded.notes] == ["8 deleted or dead item(s) with no reply left out"]


def test_firebase_missing_middle_comment_keeps_one_thread(tmp_path: Path) -> None:
    items = _firebase_items_of(json.loads(ALGOLIA_STORY.read_text()))
    # 18476346 (fulafel) has 3 replies: the story lists it in kids, so they still join the story's thread.
    _write_items(tmp_path / "items", [i for i in items if i["id"] != 18476346])
    loaded = load_inputs([tmp_path / "items"])
    (thread,) = loaded.threads
    assert (thread.id, thread.title) == ("hn-18475438", "Story of a failed pentest")
    posts = {p.id: p for p in thread.posts}
    assert len(posts) == 137
    assert "18476346" not in posts
    assert (posts["18476381"].author, posts["18476381"].parent_id) == ("swiley", None)
    assert posts["18476657"].parent_id is None and posts["18477893"].parent_id is None
    assert [n.reason.split(": fetch")[0] for n in loaded.notes[:2]] == [
        "3 item(s) reply to items not in the input (first: 18476381 → 18476346): kept without their reply link",
        "1 replies listed in kids are not in the input (first: 18476346)",
    ]


def test_firebase_missing_story_keeps_its_comments_together(tmp_path: Path) -> None:
    items = _firebase_items_of(json.loads(ALGOLIA_STORY.read_text()))
    _write_items(tmp_path / "items", [i for i in items if str(i["id"]) != STORY_ID])
    loaded = load_inputs([tmp_path / "items"])
    (thread,) = loaded.threads
    assert (thread.id, thread.title, thread.source) == (
        "hn-18475438",
        None,
        "https://news.ycombinator.com/item?id=18475438",
    )
    assert len(thread.posts) == 137
    assert sum(p.parent_id is None for p in thread.posts) == 27  # the top-level comments, now without a parent
    assert {p.id: p.parent_id for p in thread.posts}["18478869"] == "18476289"
    assert loaded.notes[0].reason == (
        "item 18475438 (the story, or the comment these reply to) is not in the input: 27 item(s) replying to it "
        "open the thread without it; add https://hacker-news.firebaseio.com/v0/item/18475438.json to include it"
    )


def test_firebase_json_lines_and_an_array_are_read_too(tmp_path: Path) -> None:
    items = _firebase_items_of(json.loads(ALGOLIA_COMMENT.read_text()))
    (tmp_path / "items.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    (tmp_path / "array.json").write_text(json.dumps(items[::-1]))
    for name in ("items.jsonl", "array.json"):
        loaded = load_inputs([tmp_path / name])
        (thread,) = loaded.threads
        assert [(p.id, p.author, p.parent_id) for p in thread.posts] == [
            ("17", "pg", None),
            ("1079", "dmon", "17"),
            ("454426", "Arrington", "17"),
        ]
        # The comment's parent (15) is not given: the thread is named after it.
        assert thread.id == "hn-15"


# --- deep nesting ---------------------------------------------------------------------------------------------


def test_firebase_reply_chain_3000_deep_loads(tmp_path: Path) -> None:
    # Made up: a story and a 3,000-long chain of replies, each to the previous one.
    items: list[dict[str, Any]] = [{"by": "op", "id": 1, "kids": [2], "time": 0, "title": "Deep", "type": "story"}]
    for n in range(2, 3002):
        items.append({"by": f"u{n % 5}", "id": n, "parent": n - 1, "text": f"reply {n}", "time": n, "type": "comment"})
    (tmp_path / "deep.json").write_text(json.dumps(items))
    (thread,) = load_inputs([tmp_path / "deep.json"]).threads
    assert len(thread.posts) == 3001
    assert thread.posts[0].text == "Deep"
    assert all(p.parent_id == str(int(p.id) - 1) for p in thread.posts[1:])


def _deep_algolia(levels: int) -> dict[str, Any]:
    root: dict[str, Any] = {"id": 1, "type": "story", "author": "op", "created_at_i": 0, "title": "Deep"}
    root.update(text=None, children=[])
    node = root
    for n in range(2, levels + 2):
        child = {"id": n, "type": "comment", "author": f"u{n % 5}", "created_at_i": n, "text": f"reply {n}"}
        child["children"] = []
        node["children"].append(child)
        node = child
    return root


def test_algolia_tree_3000_levels_deep_is_read_without_recursion() -> None:
    found = hackernews.parse_algolia([Doc("deep.json", _deep_algolia(3000))])
    assert found.errors == [] and found.notes == []
    (draft,) = found.threads
    assert (draft.id, draft.title) == ("hn-1", "Deep")
    assert len(draft.posts) == 3001
    assert [(p.id, p.parent_id) for p in draft.posts[:3]] == [("1", None), ("2", "1"), ("3", "2")]
    assert all(p.parent_id == str(int(p.id) - 1) for p in draft.posts[1:])
    assert (draft.posts[-1].id, draft.posts[-1].text) == ("3001", "reply 3001")


def test_algolia_file_3000_levels_deep_is_one_input_error_beside_a_good_file(tmp_path: Path) -> None:
    # The loader's JSON parser (not this importer) stops near 500 nested replies: the deep file is one input
    # error and the other file still loads. Written as text: json.dumps recurses as deeply as it nests.
    head = ['{"id":1,"type":"story","author":"op","created_at_i":0,"title":"Deep","text":null,"children":[']
    for n in range(2, 3002):
        head.append(f'{{"id":{n},"type":"comment","author":"u","created_at_i":{n},"text":"r{n}","children":[')
    (tmp_path / "deep.json").write_text("".join(head) + "]}" * 3001)
    loaded = load_inputs([tmp_path / "deep.json", ALGOLIA_COMMENT])
    assert [t.id for t in loaded.threads] == ["hn-17"]
    (error,) = loaded.errors
    assert error.path == str(tmp_path / "deep.json")
    assert "nested too deeply" in error.reason


# --- bad and odd items (made up) ------------------------------------------------------------------------------


def test_algolia_deleted_comment_with_a_reply_is_a_placeholder(tmp_path: Path) -> None:
    # Made up: a deleted comment (author and text null) with a reply, and a deleted chain with no text below it.
    item = {
        "id": 10, "type": "story", "author": "op", "created_at_i": 1, "title": "T", "text": None,
        "children": [
            {"id": 11, "type": "comment", "author": None, "created_at_i": 2, "text": None, "children": [
                {"id": 12, "type": "comment", "author": "b", "created_at_i": 3, "text": "<p>still here</p>",
                 "children": []},
            ]},
            {"id": 13, "type": "comment", "author": None, "created_at_i": 4, "text": None, "children": [
                {"id": 14, "type": "comment", "author": None, "created_at_i": 5, "text": None, "children": []},
            ]},
        ],
    }  # fmt: skip
    (tmp_path / "t.json").write_text(json.dumps(item))
    loaded = load_inputs([tmp_path / "t.json"])
    (thread,) = loaded.threads
    assert [(p.id, p.author, p.parent_id, p.text) for p in thread.posts] == [
        ("10", "op", None, "T"),
        ("11", None, "10", "[deleted]"),
        ("12", "b", "11", "still here"),
    ]
    assert sorted(n.reason for n in loaded.notes) == [
        "1 deleted or dead item(s) kept as '[deleted]' / '[dead]' placeholders without an author so their "
        "replies stay attached (first: 11)",
        "2 deleted or dead item(s) with no reply left out (first: 13)",
    ]


def test_algolia_deleted_root_with_nothing_under_it_is_no_thread(tmp_path: Path) -> None:
    # Made up: the items API's answer for a deleted comment with no replies.
    item = {"id": 5, "type": "comment", "author": None, "created_at_i": 1, "text": None, "children": []}
    (tmp_path / "gone.json").write_text(json.dumps(item))
    loaded = load_inputs([tmp_path / "gone.json"])
    assert loaded.threads == [] and loaded.errors == []
    assert [n.reason for n in loaded.notes][-1] == (
        "1 thread(s) of only deleted or dead items left out: nothing to read (first: hn-5)"
    )


def test_algolia_array_with_a_non_item_keeps_the_items(tmp_path: Path) -> None:
    good = json.loads(ALGOLIA_COMMENT.read_text())
    (tmp_path / "mixed.json").write_text(json.dumps([good, {"id": "x", "note": "made up, not an item"}]))
    loaded = load_inputs([tmp_path / "mixed.json"])
    assert [t.id for t in loaded.threads] == ["hn-17"]
    (error,) = loaded.errors
    assert error.reason.startswith("1 array element(s) are not Algolia items (first: element 2): left out")


def test_firebase_deleted_dead_null_repeated_and_malformed_items(tmp_path: Path) -> None:
    # Made up, in the API's shapes: a deleted comment with a reply, a dead leaf, a deleted leaf, a null (an id
    # the API does not know), the story given twice, and an element that is no item.
    items = [
        {"by": "op", "id": 1, "kids": [2, 3, 5, 9], "time": 10, "title": "Ask HN: T", "text": "Body", "type": "story"},
        {"deleted": True, "id": 2, "kids": [4], "parent": 1, "time": 11, "type": "comment"},
        {"by": "x", "dead": True, "id": 3, "parent": 1, "text": "[dead]", "time": 12, "type": "comment"},
        {"by": "y", "id": 4, "parent": 2, "text": "I&#x27;m a reply", "time": 13, "type": "comment"},
        {"deleted": True, "id": 5, "parent": 1, "time": 14, "type": "comment"},
        None,
        {"by": "op", "id": 1, "time": 10, "title": "Ask HN: T", "type": "story"},
        {"by": "z", "text": "no id"},
    ]
    (tmp_path / "items.json").write_text(json.dumps(items))
    loaded = load_inputs([tmp_path / "items.json"])
    (thread,) = loaded.threads
    assert [(p.id, p.author, p.parent_id, p.text) for p in thread.posts] == [
        ("title", "op", None, "Ask HN: T"),
        ("1", "op", None, "Body"),
        ("2", None, "1", "[deleted]"),
        ("4", "y", "2", "I'm a reply"),
    ]
    (error,) = loaded.errors
    assert error.reason.startswith("1 element(s) are not Hacker News items (first: element 8;")
    reasons = sorted(n.reason for n in loaded.notes)
    assert reasons == [
        "1 deleted or dead item(s) kept as '[deleted]' / '[dead]' placeholders without an author so their "
        "replies stay attached (first: 2)",
        "1 item(s) given more than once (first: 1): the first copy kept",
        "1 null item(s) (ids the API does not know) skipped",
        "1 replies listed in kids are not in the input (first: 9): fetch "
        "https://hacker-news.firebaseio.com/v0/item/<id>.json for each to include them",
        "2 deleted or dead item(s) with no reply left out (first: 3)",
    ]


def test_firebase_reply_cycle_ends(tmp_path: Path) -> None:
    # Made up: two comments that name each other as parent, and nothing else.
    items = [
        {"by": "a", "id": 7, "parent": 8, "text": "one", "time": 1, "type": "comment"},
        {"by": "b", "id": 8, "parent": 7, "text": "two", "time": 2, "type": "comment"},
    ]
    (tmp_path / "cycle.json").write_text(json.dumps(items))
    loaded = load_inputs([tmp_path / "cycle.json"])
    (thread,) = loaded.threads
    assert sorted(p.id for p in thread.posts) == ["7", "8"]
    assert sum(p.parent_id is None for p in thread.posts) == 1
    assert any("reply cycle" in n.reason for n in loaded.notes)


# --- detection ------------------------------------------------------------------------------------------------


def test_formats_are_registered_in_order() -> None:
    names = [f.name for f in FORMATS]
    assert names.index("hn-algolia") + 1 == names.index("hn-firebase")
    assert hackernews.FIREBASE.pooled and hackernews.FIREBASE.slim is not None
    assert hackernews.slim_firebase({"id": 1, "type": "story", "score": 5, "descendants": 9, "url": "u"}) == {
        "id": 1,
        "type": "story",
    }


def test_each_real_fixture_is_detected_by_its_own_format_only() -> None:
    algolia = json.loads(ALGOLIA_STORY.read_text())
    assert hackernews.detect_algolia(algolia) and not hackernews.detect_firebase(algolia)
    assert hackernews.detect_algolia(json.loads(ALGOLIA_COMMENT.read_text()))
    for path in sorted(FIREBASE_README.iterdir()):
        item = json.loads(path.read_text())
        assert hackernews.detect_firebase(item) and not hackernews.detect_algolia(item), path.name


# Made up: minimal copies of other platforms' shapes (and HN shapes that are not threads).
OTHER_SHAPES: dict[str, Any] = {
    "thread json": {"posts": [{"id": "1", "text": "hi"}]},
    "reddit thread page": [
        {"kind": "Listing", "data": {"children": [{"kind": "t3", "data": {"id": "a", "author": "x", "title": "t"}}]}},
        {"kind": "Listing", "data": {"children": [{"kind": "t1", "data": {"id": "b", "author": "y", "body": "z"}}]}},
    ],
    "reddit dump line": {
        "id": "b",
        "author": "y",
        "body": "z",
        "created_utc": 1,
        "link_id": "t3_a",
        "parent_id": "t3_a",
    },
    "discourse topic": {
        "id": 5,
        "title": "t",
        "created_at": "2020-01-01T00:00:00Z",
        "post_stream": {"posts": [{"id": 1, "username": "a", "cooked": "<p>x</p>", "created_at": "2020"}]},
    },
    "github comments": [{"id": 1, "user": {"login": "a"}, "body": "x", "created_at": "2020-01-01T00:00:00Z"}],
    "discord message": {"id": "1", "type": "Default", "author": {"name": "a"}, "content": "x", "timestamp": "t"},
    "slack message": {"type": "message", "user": "U1", "text": "x", "ts": "1.0"},
    "algolia search": {"hits": [{"objectID": "1", "author": "a", "created_at": "t", "title": "x"}], "nbHits": 1},
    "firebase user": {"id": "pg", "created": 1160418092, "karma": 155111, "submitted": [1, 2]},
    "firebase story ids": [9129911, 9129199, 9127761],
}


@pytest.mark.parametrize("name", sorted(OTHER_SHAPES))
def test_detection_does_not_fire_on_other_shapes(name: str) -> None:
    value = OTHER_SHAPES[name]
    assert not hackernews.detect_algolia(value)
    assert not hackernews.detect_firebase(value)
