"""Hacker News: threads from the Algolia items API and items from the official Firebase API.

Input: parsed JSON documents.
- ``hn-algolia``: ``https://hn.algolia.com/api/v1/items/<id>``, one item with its replies nested in
  ``children`` (a JSON array of such items, or JSON Lines, gives one thread each). Read one document at a time.
- ``hn-firebase``: ``https://hacker-news.firebaseio.com/v0/item/<id>.json`` items (``by``, ``parent``,
  ``kids``, ``text``, ``time``, ...), one per file, a JSON array of them or one per JSON Lines line (a crawl
  of the API or an items dump of millions of lines, plain or compressed). Pooled: every Firebase item of the
  run joins its thread, so a folder of one-item downloads joins into its threads. The items are spilled to a
  scratch SQLite file in ``$TMPDIR`` as they are read (``FirebasePool``), each item's thread is resolved
  there, and threads are built one at a time: memory holds one thread, never the dump.

Output: ``Imported`` threads ``hn-<root id>`` with ``source`` the item's page on news.ycombinator.com.
The opening post is the root item (the story's text; a link story's title, so the loader adds no separate
title post), replies carry their parent's id, HTML bodies go through ``html_to_text``. A deleted or dead
item is kept as a ``[deleted]`` / ``[dead]`` placeholder (author unknown) when a kept reply hangs under it,
else left out. Firebase threads: the root first, then by ``time`` and id. Items whose ``parent`` chain
leaves the input form a thread under the highest item they reach (the missing story's id when none is
given); ``kids`` that are not in the input are counted.

Failure modes: nothing raised for bad items. An array element that is not an item is an ``InputError`` for
that file (the other elements are kept); every repair or omission (missing story, replies not in the input,
deleted items, repeated ids, ``null`` items) is a ``Note``, one per kind for a file (Algolia) or for the run
(Firebase), naming the first instance. Trees are walked with explicit stacks, never recursion: any depth the
loader's JSON parser accepts is read, and a Firebase reply chain has no depth limit at all. A Firebase run
needs temp space for its items (``OSError`` / ``sqlite3.Error`` when ``$TMPDIR`` cannot be written or fills).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import InputError
from ..models import Post
from ..spill import ScratchDatabase
from .base import Doc, DraftThread, Format, Imported, Note, text_of, through_pool
from .html import html_to_text

ITEM_URL = "https://news.ycombinator.com/item?id={}"
FIREBASE_ITEM_URL = "https://hacker-news.firebaseio.com/v0/item/{}.json"
DELETED_TEXT = "[deleted]"
DEAD_TEXT = "[dead]"
_ITEM_TYPES = frozenset({"story", "comment", "job", "poll", "pollopt"})
_HEADED_TYPES = frozenset({"story", "job", "poll"})  # items with a title: they open a thread
# What parse_firebase reads of an item; the rest (score, descendants, url) is dropped before pooling.
_FIREBASE_FIELDS = ("id", "by", "parent", "poll", "kids", "parts", "text", "time", "type", "title", "deleted", "dead")


# --- shared ---------------------------------------------------------------------------------------------


def _item_id(value: Any) -> str | None:
    """An HN item id (an int, or a string of digits) as our string id; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value) if value >= 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        return str(int(value.strip()))
    return None


def _ids(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [i for i in (_item_id(v) for v in value) if i is not None]


def _html(value: Any) -> str:
    text = text_of(value)
    return html_to_text(text) if text.strip() else ""


def _author(value: Any) -> str | None:
    name = text_of(value).strip()
    return name or None


def _title(value: Any) -> str | None:
    title = text_of(value).strip()
    return title or None


def _numeric_key(item_id: str) -> tuple[int, str]:
    return (int(item_id), "") if item_id.isdigit() else (0, item_id)


def _first(ids: list[str]) -> str:
    shown = ids[0]
    return shown if len(shown) <= 80 else shown[:77] + "..."


def _prune_placeholders(posts: list[Post], placeholders: set[str]) -> tuple[list[Post], list[str]]:
    """Drop placeholder posts (deleted/dead items) that end up with no kept reply, bottom-up and in any order
    of ``posts``: a deleted comment whose only replies were deleted too goes with them."""
    kept_children: dict[str, int] = {}
    parent_of = {p.id: p.parent_id for p in posts}
    for post in posts:
        if post.parent_id is not None:
            kept_children[post.parent_id] = kept_children.get(post.parent_id, 0) + 1
    dropped: set[str] = set()
    queue = [pid for pid in placeholders if kept_children.get(pid, 0) == 0]
    while queue:
        pid = queue.pop()
        if pid in dropped:
            continue
        dropped.add(pid)
        parent = parent_of.get(pid)
        if parent is not None and parent in kept_children:
            kept_children[parent] -= 1
            if parent in placeholders and kept_children[parent] == 0:
                queue.append(parent)
    kept = [p for p in posts if p.id not in dropped]
    return kept, [p.id for p in posts if p.id in dropped]


_REASONS = {
    "dropped": "{n} deleted or dead item(s) with no reply left out (first: {first})",
    "placeholder": f"{{n}} deleted or dead item(s) kept as '{DELETED_TEXT}' / '{DEAD_TEXT}' placeholders without an "
    "author so their replies stay attached (first: {first})",
    "kids": "{n} replies listed in kids are not in the input (first: {first}): fetch "
    + FIREBASE_ITEM_URL.format("<id>")
    + " for each to include them",
    "parts": "{n} poll options listed in parts are not in the input (first: {first})",
    "unlinked": "{n} item(s) reply to items not in the input (first: {first}): kept without their reply link",
    "malformed": "{n} child item(s) without a numeric id left out, with their replies (first under: {first})",
    "empty": "{n} thread(s) of only deleted or dead items left out: nothing to read (first: {first})",
}


@dataclass
class _Kind:
    where: str  # the first thread that has it: its file, id, count and first instance
    thread: str | None
    n: int
    first: str
    total: int = 0  # over every thread
    threads: int = 0


class _Tally:
    """What was left out or repaired, counted per kind over many threads: one note per kind, naming the thread
    when only one has it (as the loader does for its own repairs). Keeps the first thread's instance and the
    counts, so a dump of millions of threads is tallied in constant memory."""

    def __init__(self) -> None:
        self.kinds: dict[str, _Kind] = {}

    def add(self, kind: str, where: str, thread: str | None, n: int, first: str) -> None:
        if n:
            seen = self.kinds.setdefault(kind, _Kind(where, thread, n, first))
            seen.total += n
            seen.threads += 1

    def notes(self) -> list[Note]:
        notes: list[Note] = []
        for kind, seen in self.kinds.items():
            where, thread, n, first, total = seen.where, seen.thread, seen.n, seen.first, seen.total
            if kind == "root":
                reason = (
                    f"item {first} (the story, or the comment these reply to) is not in the input: {n} item(s) "
                    f"replying to it open the thread without it; add {FIREBASE_ITEM_URL.format(first)} to include it"
                )
                if seen.threads > 1:
                    reason = (
                        f"{seen.threads} threads lack their story or top item (first: item {first}): {total} item(s) "
                        f"reply to an item not in the input; add {FIREBASE_ITEM_URL.format('<id>')} for each"
                    )
            elif kind == "comment-root":
                reason = (
                    f"the file's root item {first} is a comment: the thread starts at it; the story and its other "
                    "comments are not in the file (fetch the story's id from the items API for all of it)"
                )
                if seen.threads > 1:
                    reason = (
                        f"{seen.threads} root items are comments, not stories (first: {first}): threads start at them"
                    )
            else:
                reason = _REASONS[kind].format(n=total, first=first)
            if seen.threads == 1:
                notes.append(Note(where, reason, thread))
            elif kind in ("root", "comment-root"):  # these already count their threads
                notes.append(Note(where, reason))
            else:
                notes.append(Note(where, f"{reason} (in {seen.threads} threads, first: {thread})"))
        return notes


# --- Algolia items API ------------------------------------------------------------------------------------


def _is_algolia_item(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("children"), list)
        and "author" in value
        and ("created_at" in value or "created_at_i" in value)
        and _item_id(value.get("id")) is not None
    )


def detect_algolia(value: Any) -> bool:
    if isinstance(value, list):
        return bool(value) and all(isinstance(v, dict) for v in value) and any(_is_algolia_item(v) for v in value)
    return _is_algolia_item(value)


def _algolia_thread(root: dict[str, Any], where: str, tally: _Tally) -> DraftThread | None:
    root_id = _item_id(root.get("id")) or ""
    thread_id = f"hn-{root_id}"
    root_type = text_of(root.get("type"))
    title = _title(root.get("title")) if root_type in _HEADED_TYPES or root_type == "" else None
    opening = _html(root.get("text")) or (title or "")
    root_gone = not opening  # a deleted root still opens the thread when a reply to it is kept
    posts = [Post(root_id, None if root_gone else _author(root.get("author")), None, opening or DELETED_TEXT)]
    placeholders: set[str] = set()
    if root_type == "comment":
        story = _item_id(root.get("story_id"))
        of_story = f" (of story {story})" if story and story != root_id else ""
        tally.add("comment-root", where, thread_id, 1, root_id + of_story)
    # A poll's options (Algolia lists them under "options") read as replies to the poll.
    for option in root.get("options") or []:
        option_id = _item_id(option.get("id")) if isinstance(option, dict) else None
        text = _html(option.get("text")) if isinstance(option, dict) else ""
        if option_id is not None and text:
            posts.append(Post(option_id, _author(option.get("author")), root_id, text))

    malformed = 0
    malformed_under = ""
    # Pre-order walk with an explicit stack (reading order: a comment, then its replies), never recursion.
    stack: list[tuple[Any, str]] = [(child, root_id) for child in reversed(root["children"])]
    while stack:
        node, parent = stack.pop()
        node_id = _item_id(node.get("id")) if isinstance(node, dict) else None
        if node_id is None:
            malformed += 1
            malformed_under = malformed_under or parent
            continue
        children = node.get("children")
        if isinstance(children, list):
            stack.extend((child, node_id) for child in reversed(children))
        text = _html(node.get("text"))
        if text:
            posts.append(Post(node_id, _author(node.get("author")), parent, text))
        else:
            # Deleted (author and text null): a placeholder, dropped below unless a kept reply hangs under it.
            placeholders.add(node_id)
            posts.append(Post(node_id, None, parent, DELETED_TEXT))
    posts, dropped = _prune_placeholders(posts, placeholders)
    kept_placeholders = [p.id for p in posts if p.id in placeholders]
    tally.add("dropped", where, thread_id, len(dropped), dropped[0] if dropped else "")
    if root_gone and len(posts) == 1:
        tally.add("empty", where, thread_id, 1, thread_id)
        return None
    tally.add(
        "placeholder", where, thread_id, len(kept_placeholders), kept_placeholders[0] if kept_placeholders else ""
    )
    tally.add("malformed", where, thread_id, malformed, malformed_under)
    return DraftThread(id=thread_id, title=title, source=ITEM_URL.format(root_id), posts=posts, where=where)


def parse_algolia(docs: list[Doc]) -> Imported:
    found = Imported()
    for doc in docs:
        values = doc.value if isinstance(doc.value, list) else [doc.value]
        bad: list[int] = []
        tally = _Tally()
        for index, value in enumerate(values, 1):
            if not _is_algolia_item(value):
                bad.append(index)
                continue
            where = doc.where if len(values) == 1 else f"{doc.where} item {index}"
            thread = _algolia_thread(value, where, tally)
            if thread is not None:
                found.threads.append(thread)
        found.notes += tally.notes()
        if bad:
            found.errors.append(
                InputError(
                    doc.path,
                    f"{len(bad)} array element(s) are not Algolia items (first: element {bad[0]}): left out; each "
                    "must be an object from hn.algolia.com/api/v1/items/<id> (id, author, created_at, children)",
                    doc.line,
                )
            )
    return found


# --- Firebase API items -----------------------------------------------------------------------------------


def _is_firebase_item(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and value.get("type") in _ITEM_TYPES
        and _item_id(value.get("id")) is not None
        and ("by" in value or "kids" in value or "deleted" in value)
        and "children" not in value
        and "author" not in value
    )


def detect_firebase(value: Any) -> bool:
    if isinstance(value, list):
        # The API answers null for an id it does not know; a download loop may keep those.
        return (
            bool(value)
            and all(v is None or (isinstance(v, dict) and "children" not in v and "posts" not in v) for v in value)
            and any(_is_firebase_item(v) for v in value)
        )
    return _is_firebase_item(value)


def _slim_item(value: Any) -> Any:
    return {k: value[k] for k in _FIREBASE_FIELDS if k in value} if isinstance(value, dict) else value


def slim_firebase(value: Any) -> Any:
    """Only what parse_firebase reads, so a pooled run spills no scores, urls or descendant counts."""
    if isinstance(value, list):
        return [_slim_item(v) for v in value]
    return _slim_item(value)


def _firebase_parent(item: dict[str, Any]) -> str | None:
    parent = _item_id(item.get("parent"))
    if parent is None and item.get("type") == "pollopt":
        parent = _item_id(item.get("poll"))  # an option answers its poll
    return parent


_FIREBASE_SCHEMA = """
CREATE TABLE files (n INTEGER PRIMARY KEY, path BLOB NOT NULL);
CREATE TABLE items (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, parent TEXT, file INTEGER NOT NULL,
    line INTEGER, value TEXT NOT NULL);
CREATE TABLE listed (kid TEXT PRIMARY KEY, lister INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE chain (seq INTEGER PRIMARY KEY, up0 INTEGER, up INTEGER, top TEXT);
"""
_COMMIT_EVERY = 10_000  # items per transaction: one per item would make a dump's load disk-bound
_IN_BATCH = 500  # ids per "id IN (...)" query, well under SQLite's limit on parameters


def _path_bytes(path: str) -> bytes:
    # A file name that is not UTF-8 arrives with surrogate escapes, which SQLite's TEXT would refuse.
    return path.encode("utf-8", "surrogateescape")


class FirebasePool:
    """A run's Firebase items, spilled to a scratch SQLite file as they are read, then built into threads one
    at a time: a dump of any size, in the memory of its largest thread.

    Which thread an item belongs to (the top of its reply chain) is known only once every item is read, so it
    is resolved on disk: each item points one step up its chain (its parent, or through a missing parent the
    item that lists it in ``kids``), and the pointers are doubled with UPDATE statements until each reaches
    the chain's top (log₂ of the deepest chain rounds). Items on a reply cycle never reach a top; those few
    are walked one by one, as the in-memory algorithm walked every item, so the same cycle member names the
    thread (tests/test_import_hackernews_pool.py keeps that algorithm as its oracle).
    """

    def __init__(self) -> None:
        self.spill = ScratchDatabase(_FIREBASE_SCHEMA, prefix="threadbrief-hn-")
        self.db = self.spill.db
        self.first_path = ""
        self.notes: list[Note] = []  # the null items of each file, in the order they were read
        self.errors: list[InputError] = []
        self.repeated = 0
        self.first_repeat = ""
        self.first_repeat_where = ""
        self._path: str | None = None
        self._file = 0
        self._pending = 0
        self._resolved = False

    def add(self, doc: Doc) -> None:
        self.first_path = self.first_path or doc.path
        values = doc.value if isinstance(doc.value, list) else [doc.value]
        bad, first_bad, nulls = 0, 0, 0
        for index, value in enumerate(values, 1):
            if value is None:
                nulls += 1
                continue
            item_id = _item_id(value.get("id")) if isinstance(value, dict) else None
            if item_id is None or value.get("type") not in _ITEM_TYPES:
                bad += 1
                first_bad = first_bad or index
                continue
            self._add_item(item_id, _slim_item(value), doc)
        if bad:
            self.errors.append(
                InputError(
                    doc.path,
                    f"{bad} element(s) are not Hacker News items (first: element {first_bad}; an item needs a "
                    "numeric id and a type story/comment/job/poll/pollopt): left out",
                    doc.line,
                )
            )
        if nulls:
            self.notes.append(Note(doc.where, f"{nulls} null item(s) (ids the API does not know) skipped"))

    def _add_item(self, item_id: str, item: dict[str, Any], doc: Doc) -> None:
        if doc.path != self._path:
            self._path = doc.path
            cursor = self.db.execute("INSERT INTO files (path) VALUES (?)", (_path_bytes(doc.path),))
            self._file = int(cursor.lastrowid or 0)
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO items (id, parent, file, line, value) VALUES (?, ?, ?, ?, ?)",
            (item_id, _firebase_parent(item), self._file, doc.line, json.dumps(item)),
        )
        if cursor.rowcount != 1:  # the first copy of an id is kept
            if not self.repeated:
                self.first_repeat, self.first_repeat_where = item_id, doc.where
            self.repeated += 1
            return
        seq = int(cursor.lastrowid or 0)
        # The first item (in reading order) to list a kid is the one a chain climbs through when it is missing.
        listed = _ids(item.get("kids")) + _ids(item.get("parts"))
        if listed:
            self.db.executemany("INSERT OR IGNORE INTO listed (kid, lister) VALUES (?, ?)", ((k, seq) for k in listed))
        self._pending += 1
        if self._pending >= _COMMIT_EVERY:
            self.db.commit()
            self._pending = 0

    def _resolve_tops(self) -> None:
        """Fill chain.top for every item: its thread's key (an item id, given or missing). Once: a run's second
        pass reads the threads again from the same tops."""
        if self._resolved:
            return
        db = self.db
        db.commit()
        db.execute("DROP INDEX IF EXISTS chain_top")
        db.execute("DELETE FROM chain")  # what a call stopped part-way left
        # One step up: the parent when given, else the first item listing the missing parent as a kid; none
        # at the top, which is the item itself (no parent) or the missing parent no item lists.
        db.execute(
            "INSERT INTO chain (seq, up0, up, top) "
            "SELECT i.seq, coalesce(p.seq, l.lister), coalesce(p.seq, l.lister), "
            "CASE WHEN i.parent IS NULL THEN i.id WHEN p.seq IS NULL AND l.lister IS NULL THEN i.parent END "
            "FROM items AS i LEFT JOIN items AS p ON p.id = i.parent "
            "LEFT JOIN listed AS l ON p.seq IS NULL AND l.kid = i.parent"
        )
        left = db.execute("SELECT count(*) FROM chain WHERE top IS NULL").fetchone()[0]
        while left:
            # Correlated subqueries rather than UPDATE ... FROM, which SQLite has only since 3.33 (2020): Python
            # links the system's SQLite, older on some distributions still in use. A row read already doubled
            # in this statement is only further up the same chain.
            db.execute(
                "UPDATE chain SET up = (SELECT c.up FROM chain AS c WHERE c.seq = chain.up), "
                "top = (SELECT c.top FROM chain AS c WHERE c.seq = chain.up) WHERE top IS NULL"
            )
            before, left = left, db.execute("SELECT count(*) FROM chain WHERE top IS NULL").fetchone()[0]
            if left == before:
                break  # only items on or under a reply cycle are left: none of them reaches a top
        # Each round settles at least the unsettled item nearest its top, so what is left reaches a cycle. The
        # first (in reading order) of a cycle's items walks up until it meets its own path: that item names
        # the thread of the cycle and of every item under it, as the in-memory walk did.
        seq = 0
        while left:
            row = db.execute("SELECT seq FROM chain WHERE top IS NULL AND seq > ? ORDER BY seq LIMIT 1", (seq,))
            found = row.fetchone()
            if found is None:
                break
            seq = node = int(found[0])
            path: list[int] = []
            on_path: set[int] = set()
            while True:
                top, step = db.execute("SELECT top, up0 FROM chain WHERE seq = ?", (node,)).fetchone()
                if top is not None:
                    break
                path.append(node)
                on_path.add(node)
                if step in on_path:
                    top = db.execute("SELECT id FROM items WHERE seq = ?", (step,)).fetchone()[0]
                    break
                node = step
            db.executemany("UPDATE chain SET top = ? WHERE seq = ?", ((top, n) for n in path))
        db.execute("CREATE INDEX chain_top ON chain (top, seq)")
        db.commit()
        self._resolved = True

    def _known(self, ids: set[str]) -> set[str]:
        """Those of ``ids`` that are items of the input."""
        wanted = sorted(ids)
        known: set[str] = set()
        for start in range(0, len(wanted), _IN_BATCH):
            batch = wanted[start : start + _IN_BATCH]
            marks = ",".join("?" * len(batch))
            known.update(r[0] for r in self.db.execute(f"SELECT id FROM items WHERE id IN ({marks})", batch))
        return known

    def threads(self) -> Iterator[Imported]:
        """One thread per top, in the order of each thread's first item read; the notes and errors after. Each
        call builds them again from the spill, with the same notes (a run reads its inputs twice)."""
        self._resolve_tops()
        tally = _Tally()
        members_of = self.db.cursor()
        groups = self.db.cursor().execute("SELECT top, min(seq) AS first FROM chain GROUP BY top ORDER BY first")
        for top, _first_seq in groups:
            items: dict[str, dict[str, Any]] = {}
            where_of: dict[str, str] = {}
            rows = members_of.execute(
                "SELECT i.id, f.path, i.line, i.value FROM chain AS c JOIN items AS i ON i.seq = c.seq "
                "JOIN files AS f ON f.n = i.file WHERE c.top = ? ORDER BY c.seq",
                (top,),
            )
            for item_id, path, line, value in rows:
                items[item_id] = json.loads(value)
                where_of[item_id] = Doc(path.decode("utf-8", "surrogateescape"), None, line).where
            wanted = {top}
            for item in items.values():
                wanted.update(_ids(item.get("kids")), _ids(item.get("parts")))
                parent = _firebase_parent(item)
                if parent is not None:
                    wanted.add(parent)
            known = self._known(wanted - items.keys()) | items.keys()
            thread = _firebase_thread(top, items, known, where_of, tally)
            if thread is not None:
                yield Imported(threads=[thread])
        notes = list(self.notes)
        if self.repeated:
            notes.append(
                Note(
                    self.first_repeat_where,
                    f"{self.repeated} item(s) given more than once (first: {_first([self.first_repeat])}): the "
                    "first copy kept",
                )
            )
        yield Imported(notes=notes + tally.notes(), errors=list(self.errors))

    def close(self) -> None:
        self.spill.close()


def _firebase_thread(
    top: str, items: dict[str, dict[str, Any]], known: set[str], where_of: dict[str, str], tally: _Tally
) -> DraftThread | None:
    """The thread of ``items`` (every item whose chain tops at ``top``); ``known``: which of the ids they name
    (parents, kids, parts, the top) are items of the input."""
    root = items.get(top)

    def order(item_id: str) -> tuple[int, float, tuple[int, str]]:
        time = items[item_id].get("time")
        at = float(time) if isinstance(time, (int, float)) and not isinstance(time, bool) else float("inf")
        return (0 if item_id == top else 1, at, _numeric_key(item_id))

    ordered = sorted(items, key=order)
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
        kids_missing += [k for k in _ids(item.get("kids")) if k not in known]
        parts_missing += [k for k in _ids(item.get("parts")) if k not in known]
        parent = _firebase_parent(item)
        if parent is not None and parent not in known:
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


def parse_firebase(docs: list[Doc]) -> Imported:
    """Firebase items in memory → threads (what the loader does through ``FirebasePool``, for a list at hand)."""
    return through_pool(FirebasePool(), docs)


ALGOLIA = Format(
    name="hn-algolia",
    title="Hacker News thread from the Algolia items API (nested children)",
    obtain="curl -o thread.json https://hn.algolia.com/api/v1/items/<story id> (one thread per file; an array "
    "of items or JSON Lines give one thread each)",
    kept="every comment with its author and reply link; the story's text (a link story's title) as the opening "
    "post, poll options as replies to the poll; HTML → text; deleted comments kept as '[deleted]' when a reply "
    "hangs under them, else left out (noted)",
    detect_json=detect_algolia,
    parse_json=parse_algolia,
)

FIREBASE = Format(
    name="hn-firebase",
    title="Hacker News items from the official Firebase API (by, parent, kids)",
    obtain="curl https://hacker-news.firebaseio.com/v0/item/<id>.json for the story and every id in its kids "
    "(recursively): one file per item, a JSON array or JSON Lines (an items dump of any size, .gz/.zst too); all "
    "files of a run are read together",
    kept="items (story, comment, job, poll, pollopt) joined into threads by parent: the story first, then by time; "
    "authors, reply links, HTML → text; deleted/dead items kept as placeholders when a reply hangs under them, "
    "else left out; kids not in the input and a missing story are noted",
    detect_json=detect_firebase,
    parse_json=parse_firebase,
    pooled=True,
    slim=slim_firebase,
    pool=FirebasePool,
)

FORMATS: tuple[Format, ...] = (ALGOLIA, FIREBASE)
