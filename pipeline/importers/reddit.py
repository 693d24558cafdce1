"""Reddit: a thread page's ``.json`` and Pushshift / Arctic Shift dumps (JSON lines, plain or compressed).

Input, format ``reddit``: one parsed document, what ``https://www.reddit.com/r/SUB/comments/ID/SLUG.json``
returns: an array of two Listings, the submission (``t3``) in the first and the comment tree (``t1`` with
nested ``replies``, ``more`` stubs) in the second. Format ``reddit-dump``: every dump record of the run at
once (the loader pools them across files and decompresses .zst/.gz streams line by line): comments (``id``,
``parent_id``, ``link_id``, ``body``, ...) and submissions (``id``, ``title``, ``selftext``, ...).

Output: one thread per submission, id ``reddit-<submission id>``, source the thread's URL. The opening post
is the submission (its self text, or its title for a link post, so the loader adds no second title post);
then the comments in reading order (the page's tree order; a dump's time order). Ids lose their ``t1_`` /
``t3_`` prefix; a top-level comment replies to the submission; ``[deleted]`` / ``[removed]`` authors become
unknown (None). Bodies are Markdown and stay as written, except that the three entities Reddit escapes in
its JSON (``&amp;`` ``&lt;`` ``&gt;``) are decoded, so a ``&gt;`` quote is a ``>`` quote line again.

Failure modes: a thread page without its submission is an ``InputError``; comments the file does not hold
(``more`` stubs, "continue this thread" links, a dump without the submission or the parent), deleted
accounts and texts, repeated dump records and items of unknown shape are each one ``Note`` per file and
kind. Nested replies are walked with an explicit stack: any depth the JSON parser accepts is read.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError
from ..models import Post
from ..spill import Group, GroupSpill, Spilled
from .base import Doc, DraftThread, Format, Imported, Note, id_of, text_of, through_pool

SITE = "https://www.reddit.com"
_GONE = frozenset({"[deleted]", "[removed]"})
_TYPE_PREFIX = re.compile(r"^t[1-8]_")
# Reddit's JSON (unless raw_json=1) escapes exactly these three in Markdown bodies, titles and self texts.
# One pass, so "&amp;gt;" (a user who typed "&gt;") stays "&gt;"; any other entity is the user's own text.
_ESCAPED = re.compile(r"&(amp|lt|gt);")
_UNESCAPED = {"amp": "&", "lt": "<", "gt": ">"}
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
# What a pooled dump record keeps (the rest of a record is dropped as it is read, to save memory).
_DUMP_FIELDS = (
    "id",
    "parent_id",
    "link_id",
    "author",
    "body",
    "selftext",
    "title",
    "created_utc",
    "permalink",
    "subreddit",
    "num_comments",
)


def unescape(text: str) -> str:
    """Undo Reddit's escaping of ``&``, ``<`` and ``>`` (not HTML-to-text: the body is Markdown)."""
    return _ESCAPED.sub(lambda m: _UNESCAPED[m.group(1)], text) if "&" in text else text


def _plain_id(value: Any) -> str | None:
    """A Reddit id or fullname as our id: ``t1_abc`` → ``abc``."""
    text = id_of(value)
    if text is not None and _TYPE_PREFIX.match(text):
        return text[3:] or None
    return text


def _base36(number: int) -> str:
    """The 2022-23 Pushshift API gave some parent ids as base-10 integers of the base-36 id."""
    digits = ""
    while True:
        number, rest = divmod(number, 36)
        digits = _BASE36[rest] + digits
        if number == 0:
            return digits


def _author(value: Any) -> str | None:
    name = id_of(value)
    return None if name is None or name in _GONE else name


def _thread_url(permalink: Any, subreddit: Any, thread_id: str) -> str | None:
    link = text_of(permalink).strip()
    if link.startswith("/"):
        return SITE + link
    if link.startswith(("https://", "http://")):
        return link
    sub = text_of(subreddit).strip().removeprefix("r/")
    return f"{SITE}/r/{sub}/comments/{thread_id}/" if sub else None


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- notes ----------------------------------------------------------------------------------------------


@dataclass
class _Count:
    items: int = 0
    amount: int = 0  # e.g. the comments a 'more' stub stands for
    first: str = ""
    detail: str = ""


_MESSAGES = {
    "more": lambda c: (
        f"{c.items} 'more' stub(s): {c.amount} comment(s) not in the file (first under post {c.first!r}); "
        "to include them, save the thread with its comments expanded (e.g. PRAW's replace_more)"
    ),
    "continue": lambda c: (
        f"{c.items} 'continue this thread' link(s): deeper replies not in the file (first under post "
        f"{c.first!r}); to include them, save that comment's permalink .json as well"
    ),
    "gone_author": lambda c: f"{c.items} post(s) by a deleted or removed account (first: {c.first!r}): author unknown",
    "gone_text": lambda c: (
        f"{c.items} post(s) whose text was deleted or removed (first: {c.first!r}): kept with the text "
        "'[deleted]'/'[removed]' so their replies stay linked"
    ),
    "no_id": lambda c: f"{c.items} comment(s) without an id left out (first under post {c.first!r})",
    "odd": lambda c: f"{c.items} item(s) of no Reddit shape left out (first: {c.first})",
    "repeated": lambda c: f"{c.items} record(s) repeated with the same id (first: {c.first!r}): each kept once",
    "no_submission": lambda c: (
        f"{c.items} thread(s) without their submission (first: {c.first}): no opening post, top-level "
        "comments reply to nothing; pass the RS_ (submissions) dump alongside"
    ),
    "fewer": lambda c: (
        f"{c.items} thread(s) hold fewer comments than their submission counts (first: {c.first}, {c.detail}): "
        "the others are not in the dump"
    ),
}


@dataclass
class _Tally:
    """What was repaired or left out, counted per file and kind: each (file, kind) becomes one note."""

    counts: dict[tuple[str, str], _Count] = field(default_factory=dict)

    def add(self, where: str, kind: str, first: Any, amount: int = 0, detail: str = "") -> None:
        count = self.counts.setdefault((where, kind), _Count(first=_short(text_of(first)), detail=detail))
        count.items += 1
        count.amount += amount

    def notes(self) -> list[Note]:
        return [Note(where, _MESSAGES[kind](count)) for (where, kind), count in self.counts.items()]


def _gone(tally: _Tally, where: str, post: Post, raw_author: Any) -> None:
    if post.author is None and id_of(raw_author) in _GONE:
        tally.add(where, "gone_author", post.id)
    if post.text.strip() in _GONE:
        tally.add(where, "gone_text", post.id)


def _opening_post(record: dict[str, Any], post_id: str, title: str) -> Post:
    # A link post has no text of its own: its title is its claim (and the loader then adds no title post).
    text = unescape(text_of(record.get("selftext")))
    return Post(id=post_id, author=_author(record.get("author")), parent_id=None, text=text if text.strip() else title)


# --- format "reddit": a thread page's .json -------------------------------------------------------------


def _is_listing(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and value.get("kind") == "Listing"
        and isinstance(value.get("data"), dict)
        and isinstance(value["data"].get("children"), list)
    )


def detect_thread_page(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and _is_listing(value[0])
        and _is_listing(value[1])
        and any(isinstance(c, dict) and c.get("kind") == "t3" for c in value[0]["data"]["children"])
    )


def _page_thread(doc: Doc, tally: _Tally) -> DraftThread:
    where = doc.where
    head, tree = doc.value
    submission = next(
        (
            c["data"]
            for c in head["data"]["children"]
            if isinstance(c, dict) and c.get("kind") == "t3" and isinstance(c.get("data"), dict)
        ),
        None,
    )
    if submission is None:
        raise InputError(
            doc.path, "Reddit thread JSON whose post (t3) has no data: save the page's .json again", doc.line
        )
    thread_id = _plain_id(submission.get("id")) or _plain_id(submission.get("name"))
    if thread_id is None:
        raise InputError(
            doc.path, "Reddit thread JSON whose post (t3) has no id: save the page's .json again", doc.line
        )
    title = unescape(text_of(submission.get("title")))
    opening = _opening_post(submission, thread_id, title)
    _gone(tally, where, opening, submission.get("author"))
    posts = [opening]

    # Depth-first in the page's order, with an explicit stack: (item, the post it hangs under).
    stack: list[tuple[Any, str]] = [(child, thread_id) for child in reversed(tree["data"]["children"])]
    while stack:
        item, under = stack.pop()
        data = item.get("data") if isinstance(item, dict) else None
        kind = item.get("kind") if isinstance(item, dict) else None
        if not isinstance(data, dict) or kind not in ("t1", "more"):
            tally.add(where, "odd", f"a {type(item).__name__} of kind {kind!r} under post {under!r}")
            continue
        if kind == "more":
            children = data.get("children")
            children = children if isinstance(children, list) else []
            count = data.get("count")
            hidden = count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else len(children)
            if hidden:
                tally.add(where, "more", under, amount=hidden)
            else:  # count 0, no children: the "continue this thread" link past Reddit's depth limit
                tally.add(where, "continue", under)
            continue
        post_id = _plain_id(data.get("id")) or _plain_id(data.get("name"))
        if post_id is None:
            tally.add(where, "no_id", under)
        else:
            post = Post(
                id=post_id,
                author=_author(data.get("author")),
                parent_id=_plain_id(data.get("parent_id")) or under,
                text=unescape(text_of(data.get("body"))),
            )
            _gone(tally, where, post, data.get("author"))
            posts.append(post)
        replies = data.get("replies")  # a Listing, or "" when there are none
        if isinstance(replies, dict) and _is_listing(replies):
            stack.extend((child, post_id or under) for child in reversed(replies["data"]["children"]))
    return DraftThread(
        id=f"reddit-{thread_id}",
        title=title or None,
        source=_thread_url(submission.get("permalink"), submission.get("subreddit"), thread_id),
        posts=posts,
        where=where,
    )


def parse_thread_page(docs: list[Doc]) -> Imported:
    found = Imported()
    for doc in docs:
        tally = _Tally()
        try:
            found.threads.append(_page_thread(doc, tally))
        except InputError as exc:
            found.errors.append(exc)
        found.notes += tally.notes()
    return found


# --- format "reddit-dump": Pushshift / Arctic Shift records, pooled across files ------------------------


def _is_comment_record(value: dict[str, Any]) -> bool:
    link = value.get("link_id")
    return isinstance(link, str) and link.startswith("t3_") and "body" in value and "id" in value


def _is_submission_record(value: dict[str, Any]) -> bool:
    return (
        "link_id" not in value
        and "id" in value
        and "title" in value
        and isinstance(value.get("subreddit"), str)
        and ("selftext" in value or "num_comments" in value)
    )


def detect_dump(value: Any) -> bool:
    # "kind" is the API's wrapper ({"kind": "t1", "data": ...}); a dump record is the bare object.
    if not isinstance(value, dict) or "kind" in value:
        return False
    return _is_comment_record(value) or _is_submission_record(value)


def slim_dump(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    return {key: value[key] for key in _DUMP_FIELDS if key in value}


def _time_key(record: dict[str, Any]) -> tuple[int, float, str]:
    # created_utc is an int, a float, or (in early dumps) a string of digits; a missing one sorts last.
    created, key = record.get("created_utc"), text_of(record.get("id"))
    if isinstance(created, (int, float, str)) and not isinstance(created, bool):
        try:
            return (0, float(created), key)
        except ValueError:
            pass
    return (1, 0.0, key)


def _dump_parent(raw: Any, thread_id: str, has_submission: bool) -> str | None:
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
        parent: str | None = _base36(raw)
    else:
        parent = _plain_id(raw)
    if parent is None or parent == thread_id:
        # A top-level comment (a missing parent_id means one too): it replies to the submission, if given.
        return thread_id if has_submission else None
    return parent


class DumpPool:
    """A run's dump records, spilled to disk grouped by submission as they are read (``spill``), then built
    into threads one at a time: a dump of any size, in the memory of its largest thread."""

    def __init__(self) -> None:
        self.tally = _Tally()
        self.spill = GroupSpill()
        self.first_path = ""

    def add(self, doc: Doc) -> None:
        self.first_path = self.first_path or doc.path
        record = doc.value
        if not isinstance(record, dict):
            self.tally.add(doc.path, "odd", f"a {type(record).__name__} at {doc.where}")
            return
        if _is_comment_record(record):
            thread_id = record["link_id"][3:]
            if not thread_id:
                self.tally.add(doc.path, "odd", f"a comment with link_id 't3_' at {doc.where}")
                return
            group = self.spill.group(thread_id, doc.path, doc.line)
            comment_id = _plain_id(record.get("id"))
            if comment_id is None:
                self.tally.add(doc.path, "no_id", thread_id)
            elif not self.spill.add(group, "t1_" + comment_id, doc.path, doc.line, record):
                self.tally.add(doc.path, "repeated", comment_id)
            return
        thread_id = _plain_id(record.get("id")) or ""
        if not thread_id:
            self.tally.add(doc.path, "odd", f"a submission without an id at {doc.where}")
            return
        group = self.spill.group(thread_id, doc.path, doc.line)
        if not self.spill.add(group, "t3", doc.path, doc.line, record):
            self.tally.add(doc.path, "repeated", thread_id)

    def threads(self) -> Iterator[Imported]:
        """One thread per submission, in the order the records first name them; the notes after the last.
        Each call builds them again from the spill, with the same notes (a run reads its inputs twice)."""
        tally = copy.deepcopy(self.tally)  # what reading found, and, for this call only, what building finds
        for group, records in self.spill.groups():
            yield Imported(threads=[self._thread(group, records, tally)])
        yield Imported(notes=tally.notes())

    def _thread(self, group: Group, records: list[Spilled], tally: _Tally) -> DraftThread:
        thread_id = group.key
        submission = next((r for r in records if r.item == "t3"), None)
        comments = [r for r in records if r.item != "t3"]
        where = group.path if group.line is None else f"{group.path}:{group.line}"
        posts: list[Post] = []
        title: str | None = None
        if submission is not None:
            record = submission.value
            where = submission.path if submission.line is None else f"{submission.path}:{submission.line}"
            title = unescape(text_of(record.get("title"))) or None
            opening = _opening_post(record, thread_id, title or "")
            _gone(tally, submission.path, opening, record.get("author"))
            posts.append(opening)
            source = _thread_url(record.get("permalink"), record.get("subreddit"), thread_id)
            counted = record.get("num_comments")
            if isinstance(counted, int) and not isinstance(counted, bool) and counted > len(comments):
                tally.add(submission.path, "fewer", f"reddit-{thread_id}", detail=f"{len(comments)} of {counted}")
        else:
            tally.add(group.path, "no_submission", f"reddit-{thread_id}")
            subreddit = next((c.value.get("subreddit") for c in comments if c.value.get("subreddit")), None)
            source = _thread_url(None, subreddit, thread_id)
        comments.sort(key=lambda comment: _time_key(comment.value))
        for comment in comments:
            record = comment.value
            post = Post(
                id=_plain_id(record.get("id")) or "",
                author=_author(record.get("author")),
                parent_id=_dump_parent(record.get("parent_id"), thread_id, submission is not None),
                text=unescape(text_of(record.get("body"))),
            )
            _gone(tally, comment.path, post, record.get("author"))
            posts.append(post)
        return DraftThread(id=f"reddit-{thread_id}", title=title, source=source, posts=posts, where=where)

    def close(self) -> None:
        self.spill.close()


def parse_dump(docs: list[Doc]) -> Imported:
    """Dump records in memory → threads (what the loader does through ``DumpPool``, for a list at hand)."""
    return through_pool(DumpPool(), docs)


FORMATS: tuple[Format, ...] = (
    Format(
        name="reddit",
        title="Reddit thread page JSON (the post and its comment tree)",
        obtain="add .json to the thread's address and save the page: "
        "https://www.reddit.com/r/SUB/comments/ID/SLUG.json (?limit=500 for more comments)",
        kept="the post (its text, or its title for a link post) and every comment in the file, with authors "
        "and reply links; deleted accounts become unknown authors; 'more' stubs and 'continue this thread' "
        "links (comments not in the file) are counted in a note",
        detect_json=detect_thread_page,
        parse_json=parse_thread_page,
    ),
    Format(
        name="reddit-dump",
        title="Reddit dumps: Pushshift / Arctic Shift comment and submission records, JSON lines (.zst too)",
        obtain="a subreddit's or user's posts and comments from https://arctic-shift.photon-reddit.com/download-tool, "
        "or the monthly dumps RS_YYYY-MM.zst (submissions) and RC_YYYY-MM.zst (comments) of Arctic Shift or "
        "Pushshift; pass the submissions file alongside the comments",
        kept="comments grouped into one thread per submission (link_id) across files, in time order, with "
        "authors and reply links (parent_id); the submission, when given, is the opening post; deleted "
        "accounts become unknown authors; threads without their submission and missing comments are noted",
        detect_json=detect_dump,
        parse_json=parse_dump,
        pooled=True,
        slim=slim_dump,
        pool=DumpPool,
    ),
)
