"""The streamed Hacker News Firebase pool (``hackernews.FirebasePool``) against the in-memory algorithm it
replaced, on generated item sets: the same threads in the same order, the same posts, notes and errors.

The oracle below is the previous ``parse_firebase`` (its tally, collect, group and thread functions), copied
verbatim from pipeline/importers/hackernews.py before the pool; it shares only the small helpers with the module.
The item sets are made up: random trees with long reply chains, polls and their options, deleted and dead items,
items missing from the input (a story, a comment in the middle of a chain, kids never given), repeated ids,
null items, elements that are no item, reply cycles with replies under them, missing or tied times.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import InputError
from pipeline.importers import hackernews
from pipeline.importers.base import Doc, DraftThread, Imported, Note
from pipeline.importers.hackernews import (
    _HEADED_TYPES,
    _ITEM_TYPES,
    _REASONS,
    DEAD_TEXT,
    DELETED_TEXT,
    FIREBASE_ITEM_URL,
    ITEM_URL,
    _author,
    _firebase_parent,
    _first,
    _html,
    _ids,
    _item_id,
    _numeric_key,
    _prune_placeholders,
    _title,
)
from pipeline.load import InputStream, load_inputs
from pipeline.models import Post

# --- the oracle: parse_firebase as it was, every item of the run in a dict ---------------------------------------


class _Tally:
    """What was left out or repaired, counted per kind over many threads: one note per kind, naming the thread
    when only one has it (as the loader does for its own repairs)."""

    def __init__(self) -> None:
        self.kinds: dict[str, list[tuple[str, str | None, int, str]]] = {}

    def add(self, kind: str, where: str, thread: str | None, n: int, first: str) -> None:
        if n:
            self.kinds.setdefault(kind, []).append((where, thread, n, first))

    def notes(self) -> list[Note]:
        notes: list[Note] = []
        for kind, group in self.kinds.items():
            where, thread, n, first = group[0]
            total = sum(g[2] for g in group)
            if kind == "root":
                reason = (
                    f"item {first} (the story, or the comment these reply to) is not in the input: {n} item(s) "
                    f"replying to it open the thread without it; add {FIREBASE_ITEM_URL.format(first)} to include it"
                )
                if len(group) > 1:
                    reason = (
                        f"{len(group)} threads lack their story or top item (first: item {first}): {total} item(s) "
                        f"reply to an item not in the input; add {FIREBASE_ITEM_URL.format('<id>')} for each"
                    )
            elif kind == "comment-root":
                reason = (
                    f"the file's root item {first} is a comment: the thread starts at it; the story and its other "
                    "comments are not in the file (fetch the story's id from the items API for all of it)"
                )
                if len(group) > 1:
                    reason = (
                        f"{len(group)} root items are comments, not stories (first: {first}): threads start at them"
                    )
            else:
                reason = _REASONS[kind].format(n=total, first=first)
            if len(group) == 1:
                notes.append(Note(where, reason, thread))
            elif kind in ("root", "comment-root"):  # these already count their threads
                notes.append(Note(where, reason))
            else:
                notes.append(Note(where, f"{reason} (in {len(group)} threads, first: {thread})"))
        return notes


def _old_collect(docs: list[Doc], found: Imported) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Every item of the run by id (the first of repeated ids), and the file each came from."""
    items: dict[str, dict[str, Any]] = {}
    where_of: dict[str, str] = {}
    repeated: list[str] = []
    first_repeat_where = ""
    for doc in docs:
        values = doc.value if isinstance(doc.value, list) else [doc.value]
        bad: list[int] = []
        nulls = 0
        for index, value in enumerate(values, 1):
            if value is None:
                nulls += 1
                continue
            item_id = _item_id(value.get("id")) if isinstance(value, dict) else None
            if item_id is None or value.get("type") not in _ITEM_TYPES:
                bad.append(index)
                continue
            if item_id in items:
                if not repeated:
                    first_repeat_where = doc.where
                repeated.append(item_id)
                continue
            items[item_id] = value
            where_of[item_id] = doc.where
        if bad:
            found.errors.append(
                InputError(
                    doc.path,
                    f"{len(bad)} element(s) are not Hacker News items (first: element {bad[0]}; an item needs a "
                    "numeric id and a type story/comment/job/poll/pollopt): left out",
                    doc.line,
                )
            )
        if nulls:
            found.notes.append(Note(doc.where, f"{nulls} null item(s) (ids the API does not know) skipped"))
    if repeated:
        found.notes.append(
            Note(
                first_repeat_where,
                f"{len(repeated)} item(s) given more than once (first: {_first(repeated)}): the first copy kept",
            )
        )
    return items, where_of


def _old_groups(items: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """Items grouped by the top of their reply chain: a given item with no parent (the story), else the first
    id the chain reaches that is not in the input. A missing parent that a given item lists in its ``kids`` is
    climbed through that item, so a gap in the middle of a thread does not split it."""
    listed_by: dict[str, str] = {}
    for item_id, item in items.items():
        for kid in _ids(item.get("kids")) + _ids(item.get("parts")):
            listed_by.setdefault(kid, item_id)
    top_of: dict[str, str] = {}
    groups: dict[str, list[str]] = {}
    for item_id in items:
        path: list[str] = []
        on_path: set[str] = set()
        node = item_id
        while True:
            if node in top_of:
                top = top_of[node]
                break
            path.append(node)
            on_path.add(node)
            parent = _firebase_parent(items[node])
            if parent is None:
                top = node
                break
            step = parent if parent in items else listed_by.get(parent)
            if step is None:
                top = parent  # the chain leaves the input: the thread is named after the missing item
                break
            if step in on_path:
                top = step  # a reply cycle; the loader cuts it, here it only has to end
                break
            node = step
        for n in path:
            top_of[n] = top
        groups.setdefault(top, []).append(item_id)
    return groups


def _old_thread(
    top: str, member_ids: list[str], items: dict[str, dict[str, Any]], where_of: dict[str, str], tally: _Tally
) -> DraftThread | None:
    root = items.get(top)

    def order(item_id: str) -> tuple[int, float, tuple[int, str]]:
        time = items[item_id].get("time")
        at = float(time) if isinstance(time, (int, float)) and not isinstance(time, bool) else float("inf")
        return (0 if item_id == top else 1, at, _numeric_key(item_id))

    ordered = sorted(member_ids, key=order)
    thread_id = f"hn-{top}"
    where = where_of[top] if root is not None else where_of[ordered[0]]
    title = _title(root.get("title")) if root is not None and root.get("type") in _HEADED_TYPES else None
    posts: list[Post] = []
    placeholders: set[str] = set()
    unlinked: list[str] = []
    orphans: set[str] = set()
    kids_missing: list[str] = []
    parts_missing: list[str] = []
    for item_id in ordered:
        item = items[item_id]
        kids_missing += [k for k in _ids(item.get("kids")) if k not in items]
        parts_missing += [k for k in _ids(item.get("parts")) if k not in items]
        parent = _firebase_parent(item)
        if parent is not None and parent not in items:
            if parent == top:
                orphans.add(item_id)
            else:
                unlinked.append(f"{item_id} → {parent}")
            parent = None
        text = _html(item.get("text"))
        if item_id == top and not text:
            text = title or ""
        if item.get("deleted") is True or item.get("dead") is True or not text:
            placeholders.add(item_id)
            text = DEAD_TEXT if item.get("dead") is True and item.get("deleted") is not True else DELETED_TEXT
            posts.append(Post(item_id, None, parent, text))
        else:
            posts.append(Post(item_id, _author(item.get("by")), parent, text))
    # The opening post stays even when deleted, as long as something else is kept under it.
    posts, dropped = _prune_placeholders(posts, placeholders - {top})
    if all(p.id in placeholders for p in posts):
        tally.add("empty", where, thread_id, 1, thread_id)
        return None
    kept_placeholders = [p.id for p in posts if p.id in placeholders]
    if root is None:
        tally.add("root", where, thread_id, sum(p.id in orphans for p in posts), top)
    tally.add("unlinked", where, thread_id, len(unlinked), unlinked[0] if unlinked else "")
    tally.add("kids", where, thread_id, len(kids_missing), kids_missing[0] if kids_missing else "")
    tally.add("parts", where, thread_id, len(parts_missing), parts_missing[0] if parts_missing else "")
    tally.add("dropped", where, thread_id, len(dropped), dropped[0] if dropped else "")
    tally.add(
        "placeholder", where, thread_id, len(kept_placeholders), kept_placeholders[0] if kept_placeholders else ""
    )
    return DraftThread(id=thread_id, title=title, source=ITEM_URL.format(top), posts=posts, where=where)


def _old_parse(docs: list[Doc]) -> Imported:
    found = Imported()
    items, where_of = _old_collect(docs, found)
    tally = _Tally()
    for top, member_ids in _old_groups(items).items():
        thread = _old_thread(top, member_ids, items, where_of, tally)
        if thread is not None:
            found.threads.append(thread)
    found.notes += tally.notes()
    return found


# --- generated item sets -------------------------------------------------------------------------------------

_TEXTS = ["A plain reply.", "<p>Some <i>HTML</i> &amp; more</p>", "", "Same words.", "Another point, longer."]
_BAD = [{"by": "z", "text": "no id"}, "a string", 5, {"id": 4, "type": "user"}]


def _item_set(seed: int, stories: int = 6, comments: int = 25, deep: int = 0, missing: float = 0.12) -> list[Doc]:
    """A made-up Firebase item set, split into files and JSON Lines lines as the loader would hand it over."""
    rng = random.Random(seed)
    next_id = rng.randrange(1, 50)
    items: list[dict[str, Any]] = []

    def new_id() -> int:
        nonlocal next_id
        next_id += rng.randrange(1, 4)
        return next_id

    def when() -> Any:
        return rng.choice([1000 + len(items), 1000 + len(items), 1000, 999.5, None, True])

    def comment(parent: dict[str, Any]) -> dict[str, Any]:
        item: dict[str, Any] = {"id": new_id(), "by": f"u{rng.randrange(9)}", "parent": parent["id"]}
        item.update(type="comment", time=when(), text=rng.choice(_TEXTS))
        roll = rng.random()
        if roll < 0.1:
            item = {
                "id": item["id"],
                "deleted": True,
                "parent": item["parent"],
                "type": "comment",
                "time": item["time"],
            }
        elif roll < 0.18:
            item["dead"] = True
        elif roll < 0.22:
            item["deleted"], item["dead"] = True, True
        parent.setdefault("kids", []).append(item["id"])
        items.append(item)
        return item

    for _ in range(rng.randrange(1, stories + 1)):
        kind = rng.choice(["story", "story", "story", "poll", "job"])
        story: dict[str, Any] = {"id": new_id(), "by": f"u{rng.randrange(9)}", "type": kind, "time": when()}
        story["title"] = rng.choice([f"Title {story['id']}", "", None])
        if rng.random() < 0.5:
            story["text"] = rng.choice(_TEXTS)
        if rng.random() < 0.1:
            story = {"id": story["id"], "deleted": True, "type": kind, "time": story["time"]}
        items.append(story)
        if kind == "poll":
            story["parts"] = []
            for _ in range(rng.randrange(1, 4)):
                option = {"id": new_id(), "by": story.get("by"), "poll": story["id"], "type": "pollopt"}
                option.update(text=rng.choice(_TEXTS), time=when())
                story["parts"].append(option["id"])
                items.append(option)
            story["parts"].append(next_id + 1000)  # an option never given
        nodes = [story]
        for _ in range(rng.randrange(0, comments + 1)):
            # Half the time under one of the last few: long chains; else anywhere in the thread.
            parent = rng.choice(nodes[-3:]) if rng.random() < 0.5 else rng.choice(nodes)
            nodes.append(comment(parent))
        for _ in range(deep):
            nodes.append(comment(nodes[-1]))
        if rng.random() < 0.3:
            story.setdefault("kids", []).append(next_id + 2000)  # a reply never given
        if len(nodes) > 2 and rng.random() < 0.3:
            # A reply listed by two items: a chain through it, when it is missing, climbs through the first.
            rng.choice(nodes[1:])["kids"] = [*rng.choice(nodes[1:]).get("kids", []), rng.choice(nodes)["id"]]
    for _ in range(rng.randrange(0, 3)):
        # A reply cycle (parents that name each other), sometimes with replies under it.
        ring = [{"id": new_id(), "by": "c", "type": "comment", "text": "loop", "time": when()} for _ in range(3)]
        size = rng.randrange(1, 4)
        for i in range(size):
            ring[i]["parent"] = ring[(i + 1) % size]["id"]
        items += ring[:size]
        for _ in range(rng.randrange(0, 3)):
            comment(rng.choice(ring[:size]))
    # Items missing from the input: a story, a comment in the middle of a chain (listed in its parent's kids).
    kept = [item for item in items if rng.random() >= missing]
    for item in rng.sample(kept, k=min(len(kept), rng.randrange(0, 4))):  # repeated ids, another copy later
        copy = dict(item, text="second copy")
        if rng.random() < 0.5:
            copy["id"] = str(copy["id"])
        kept.append(copy)
    if rng.random() < 0.7:
        rng.shuffle(kept)
    values: list[Any] = [
        dict(item, parent=str(item["parent"])) if "parent" in item and rng.random() < 0.2 else item for item in kept
    ]
    for _ in range(rng.randrange(0, 3)):
        values.insert(rng.randrange(len(values) + 1), rng.choice([None, None, *_BAD]))
    docs: list[Doc] = []
    while values:
        take = rng.randrange(1, 6)
        chunk, values = values[:take], values[take:]
        shape = rng.random()
        if shape < 0.4:
            docs += [Doc(f"dump-{len(docs) // 7}.jsonl", value, line) for line, value in enumerate(chunk, 1)]
        elif shape < 0.7 or len(chunk) > 1:
            docs.append(Doc(f"array-{len(docs)}.json", chunk))
        else:
            docs.append(Doc(f"item-{len(docs)}.json", chunk[0]))
    return docs


def _shape(found: Imported) -> tuple[Any, ...]:
    threads = [(t.id, t.title, t.source, t.where, t.has_opening_post, t.posts) for t in found.threads]
    return threads, found.notes, [(e.path, e.line, e.reason) for e in found.errors]


@pytest.mark.parametrize("seed", range(300))
def test_pool_builds_what_the_in_memory_algorithm_built(seed: int) -> None:
    docs = _item_set(seed)
    assert _shape(hackernews.parse_firebase(docs)) == _shape(_old_parse(docs))


def test_pool_on_a_large_set_with_chains_hundreds_deep() -> None:
    # Chains of 300+ replies take nine rounds of pointer doubling; 40 threads of up to 80 items besides.
    docs = _item_set(7, stories=40, comments=80, deep=300, missing=0.002)
    new, old = hackernews.parse_firebase(docs), _old_parse(docs)
    assert _shape(new) == _shape(old)
    depths = []
    for thread in new.threads:
        parent_of = {p.id: p.parent_id for p in thread.posts}
        for post in thread.posts:
            depth, node = 0, post.parent_id
            while node is not None and depth <= len(parent_of):
                depth, node = depth + 1, parent_of.get(node)
            depths.append(depth)
    assert max(depths) > 128  # eight rounds of doubling at least


def test_the_generated_sets_cover_every_case_the_oracle_reports() -> None:
    # The equivalence above means something only if the sets hold each case: a note of every kind, and cycles.
    reasons: set[str] = set()
    cycles = 0
    for seed in range(300):
        docs = _item_set(seed)
        found = _old_parse(docs)
        reasons |= {n.reason.split(" (first")[0].split(" ", 1)[1][:40] for n in found.notes}
        items = {}
        for doc in docs:
            for value in doc.value if isinstance(doc.value, list) else [doc.value]:
                if isinstance(value, dict) and value.get("text") == "loop":
                    items[str(value["id"])] = str(value["parent"])
        cycles += any(items.get(items.get(i, ""), "") == i or items.get(i) == i for i in items)
    joined = "\n".join(sorted(reasons))
    for phrase in (
        "null item",
        "given more than once",
        "deleted or dead item(s) kept",
        "deleted or dead item(s) with no",
        "replies listed in kids",
        "poll options listed",
        "reply to items not in",
        "thread(s) of only deleted",
        "threads lack their story",
        "(the story, or the comment",
    ):
        assert phrase in joined, phrase
    assert cycles > 20


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The system's temp directory for this test, where the pool's scratch SQLite file goes."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(folder))
    return folder


def test_the_loader_streams_a_json_lines_dump_through_the_pool_and_removes_its_scratch_file(
    tmp_path: Path, scratch: Path
) -> None:
    assert hackernews.FIREBASE.pool is hackernews.FirebasePool
    docs = [doc for doc in _item_set(11, stories=20) if not isinstance(doc.value, list) and doc.value is not None]
    dump = tmp_path / "items.jsonl"
    dump.write_text("".join(json.dumps(doc.value) + "\n" for doc in docs))
    loaded = load_inputs([dump])
    expected = _old_parse([Doc(str(dump), doc.value, line) for line, doc in enumerate(docs, 1)])
    assert [t.id for t in loaded.threads] == [t.id for t in expected.threads if t.posts]
    assert list(scratch.iterdir()) == []


def test_a_second_pass_builds_the_threads_again_from_the_first_pass_spill(tmp_path: Path, scratch: Path) -> None:
    items = [doc.value for doc in _item_set(5, stories=12) if isinstance(doc.value, dict)]
    dump = tmp_path / "items.jsonl"
    dump.write_text("".join(json.dumps(item) + "\n" for item in [*items, items[0]]))  # one id given twice
    stream = InputStream([dump], keep_pools=True)

    def one_pass() -> tuple[list[tuple[str, list[Post]]], list[Note], list[str]]:
        threads = [(t.id, t.posts) for t in stream]
        return threads, stream.notes, [str(e) for e in stream.errors]

    first = one_pass()
    assert len(first[0]) > 3 and len(first[1]) > 3
    assert any("given more than once" in note.reason for note in first[1])
    dump.unlink()  # not read again: the threads come from the spill, resolved once
    assert one_pass() == first
    assert one_pass() == first  # the notes the building finds are not counted twice
    stream.close()
    assert list(scratch.iterdir()) == []
