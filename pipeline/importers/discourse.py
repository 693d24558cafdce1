"""Discourse topics: a topic's JSON as the site serves it (``/t/ID.json``, ``/t/SLUG/ID.json``,
``/t/ID.json?print=true``) or a page of its posts (``/t/ID/posts.json``).

Input: one parsed JSON document, ``{id, title, slug, post_stream: {posts: [...], stream: [post ids]}}``.
Output: one thread ``discourse-<topic id>`` per document. A post's id is its ``post_number`` (what
``reply_to_post_number`` names); a post with no ``reply_to_post_number`` answers the topic, i.e. post 1,
which opens the thread (parent None). Author: ``username`` (None when missing). Text: ``cooked`` HTML through
``html_to_text``, with Discourse's chrome dropped (link previews, quote headers, image metadata, poll
counters); a quote stays as ``>`` lines, so normalize sees what a reply answers. The thread's ``source`` is
built from the slug and id only when the file names the site itself (an internal link's absolute URL);
otherwise None: the topic JSON does not say which site it came from.

Left out, each kind counted in one note per file: small-action posts ("closed the topic", "pinned"),
moderator notices, whispers (staff-only), posts whose text the export withholds (hidden after flags,
deleted, withdrawn) and malformed items. A topic's JSON holds only its first ~20 posts while
``post_stream.stream`` lists every id: the posts not in the file are counted in one note saying how to fetch
them. Failure modes: a document with no readable post is an ``InputError`` naming the file; nothing raises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import InputError
from ..models import Post
from .base import Doc, DraftThread, Format, Imported, Note, each_document, id_of, text_of
from .html import html_to_text

OPENING_POST = "1"
# Discourse's chrome inside cooked HTML: none of it is what the author wrote.
CHROME = (
    "aside.onebox",  # link preview (title, excerpt, site name of a pasted URL)
    "div.onebox",  # video / image-album previews
    "pre.onebox",  # a previewed file's lines
    "div.lazyYT",  # older YouTube previews
    "div.lazy-video-container",  # newer video previews
    "aside.quote > div.title",  # "username:" header of a quote; the blockquote itself stays
    "div.quote-controls",
    ".lightbox-wrapper .meta",  # image filename, size and dimensions
    "div.poll-info",  # "0 voters"
    "div.poll-buttons",
    "a.anchor",  # heading anchors
)
# One selector list: soupsieve walks the tree once instead of once per selector.
_CHROME_SELECTOR = ", ".join(CHROME)
# post_type: 1 regular, 2 moderator action, 3 small action, 4 whisper.
_LEFT_OUT_TYPES = {
    2: ("moderator notice(s) (e.g. 'This topic is now pinned')", "platform notices, not discussion"),
    3: ("small-action post(s) ({actions})", "platform notices, not discussion"),
    4: ("whisper(s)", "staff-only, not part of the public topic"),
}
_MAX_SHOWN = 3


def detect(value: Any) -> bool:
    """A topic or a posts page: ``post_stream.posts`` whose items carry ``post_number``."""
    if not isinstance(value, dict):
        return False
    stream = value.get("post_stream")
    if not isinstance(stream, dict) or not isinstance(stream.get("posts"), list):
        return False
    posts = stream["posts"]
    if not posts:
        return "stream" in stream
    first = posts[0]
    return isinstance(first, dict) and "post_number" in first and ("cooked" in first or "username" in first)


def _site(value: dict[str, Any], posts: list[Any]) -> str | None:
    """The site's base URL, when the file says it: an internal link to a topic (``.../t/...``)."""
    candidates: list[Any] = []
    details = value.get("details")
    if isinstance(details, dict) and isinstance(details.get("links"), list):
        candidates += details["links"]
    for raw in posts:
        if isinstance(raw, dict) and isinstance(raw.get("link_counts"), list):
            candidates += raw["link_counts"]
    for link in candidates:
        if not isinstance(link, dict) or link.get("internal") is not True or not isinstance(link.get("url"), str):
            continue
        parts = urlsplit(link["url"])
        if parts.scheme in ("http", "https") and parts.netloc and "/t/" in parts.path:
            # The part before /t/ keeps a site served from a subfolder (example.org/forum/t/...).
            return f"{parts.scheme}://{parts.netloc}{parts.path.split('/t/', 1)[0]}"
    return None


def _shown(items: list[str], sep: str = ", ") -> str:
    """The first few items, then "..." when there are more."""
    return sep.join(items[:_MAX_SHOWN]) + (f"{sep}..." if len(items) > _MAX_SHOWN else "")


def _number_key(post: Post) -> tuple[int, int]:
    return (0, int(post.id)) if post.id.isdigit() else (1, 0)


@dataclass
class _Read:
    """The posts of a topic's file as read, and what was left out of them, per kind."""

    posts: list[Post] = field(default_factory=list)
    present: set[str] = field(default_factory=set)  # Discourse post ids (not numbers) of every item, kept or not
    left_out: dict[int, list[str]] = field(default_factory=dict)  # post_type → post numbers
    actions: list[str] = field(default_factory=list)  # the small actions' action_code
    withheld: list[str] = field(default_factory=list)
    malformed: int = 0
    empty: list[str] = field(default_factory=list)


def _post(raw: dict[str, Any], number: str) -> Post:
    """A regular post: its reply link, author and cooked HTML as text."""
    reply_to = id_of(raw.get("reply_to_post_number"))
    parent = None if number == OPENING_POST else (reply_to or OPENING_POST)
    username = raw.get("username")
    author = username if isinstance(username, str) and username.strip() else None
    cooked = text_of(raw.get("cooked"))
    # Every chrome selector needs a class attribute: skip the tree walk (most of the cost) without one.
    text = html_to_text(cooked, drop=(_CHROME_SELECTOR,) if "class=" in cooked else ())
    return Post(id=number, author=author, parent_id=parent, text=text)


def _read_posts(raw_posts: list[Any]) -> _Read:
    """The discussion's posts in post_number order; notices, whispers, withheld and malformed items set aside."""
    read = _Read()
    for raw in raw_posts:
        number = id_of(raw.get("post_number")) if isinstance(raw, dict) else None
        if number is None:
            read.malformed += 1
            continue
        if (post_id := id_of(raw.get("id"))) is not None:
            read.present.add(post_id)
        post_type = raw.get("post_type")
        if isinstance(post_type, int) and post_type in _LEFT_OUT_TYPES:
            read.left_out.setdefault(post_type, []).append(number)
            if post_type == 3 and isinstance(raw.get("action_code"), str):
                read.actions.append(raw["action_code"])
            continue
        if raw.get("cooked_hidden") or raw.get("deleted_at") or raw.get("user_deleted") is True:
            read.withheld.append(number)
            continue
        post = _post(raw, number)
        if not post.text:
            read.empty.append(number)
        read.posts.append(post)
    # Reading order is post_number order; merged or hand-assembled files may not keep it.
    read.posts.sort(key=_number_key)
    return read


def _left_out_notes(read: _Read) -> list[str]:
    """One note per kind of post left out or without text."""
    notes: list[str] = []
    for post_type, numbers in sorted(read.left_out.items()):
        head, why = _LEFT_OUT_TYPES[post_type]
        kind = head.format(actions=_shown(sorted(set(read.actions))) or "closed, pinned, ...")
        notes.append(f"{len(numbers)} {kind} left out (post {_shown(numbers)}): {why}")
    if read.withheld:
        notes.append(
            f"{len(read.withheld)} post(s) hidden, deleted or withdrawn left out (post {_shown(read.withheld)}): "
            "the export withholds their text; replies to them lose that reply link"
        )
    if read.malformed:
        notes.append(f"{read.malformed} item(s) of post_stream.posts are not posts (no post_number): left out")
    if read.empty:
        notes.append(
            f"{len(read.empty)} post(s) have no text once HTML is read (images or embeds only; post "
            f"{_shown(read.empty)})"
        )
    return notes


def _missing_notes(stream: Any, present: set[str], site: str | None, topic_id: str) -> list[str]:
    """The note for the posts ``post_stream.stream`` lists but the file does not hold, with how to fetch them."""
    if not isinstance(stream, list):
        return []
    missing = [i for i in (id_of(s) for s in stream) if i is not None and i not in present]
    if not missing:
        return []
    base = site or "https://SITE"
    ids = _shown([f"post_ids[]={i}" for i in missing], sep="&")
    return [
        f"{len(missing)} of the topic's {len(stream)} posts are not in this file (a topic's JSON holds "
        f"its first 20): fetch the whole topic with {base}/t/{topic_id}.json?print=true (up to 1000 "
        f"posts), or the rest with {base}/t/{topic_id}/posts.json?{ids}"
    ]


def _source(site: str | None, slug: Any, topic_id: str) -> str | None:
    """The topic's URL, when the file names its site."""
    if site is None:
        return None
    return f"{site}/t/{slug}/{topic_id}" if isinstance(slug, str) and slug else f"{site}/t/{topic_id}"


def _topic(doc: Doc) -> tuple[DraftThread, list[Note]]:
    value: dict[str, Any] = doc.value
    raw_posts: list[Any] = value["post_stream"]["posts"]
    first = next((p for p in raw_posts if isinstance(p, dict)), {})
    topic_id = id_of(value.get("id")) or id_of(first.get("topic_id")) or Path(doc.path).stem
    slug = value.get("slug") if isinstance(value.get("slug"), str) else first.get("topic_slug")
    title = value.get("title") if isinstance(value.get("title"), str) else None
    read = _read_posts(raw_posts)
    if not read.posts:
        raise InputError(
            doc.path,
            f"Discourse topic {topic_id!r} holds no readable post (of {len(raw_posts)} items): "
            "fetch the topic again with /t/ID.json?print=true",
            doc.line,
        )
    notes = _left_out_notes(read)
    site = _site(value, raw_posts)
    notes += _missing_notes(value["post_stream"].get("stream"), read.present, site, topic_id)
    source = _source(site, slug, topic_id)
    thread = DraftThread(id=f"discourse-{topic_id}", title=title, source=source, posts=read.posts, where=doc.where)
    return thread, [Note(doc.where, reason) for reason in notes]


def _read_topic(doc: Doc) -> Imported:
    thread, notes = _topic(doc)
    return Imported(threads=[thread], notes=notes)


def parse(docs: list[Doc]) -> Imported:
    return each_document(docs, _read_topic)


DISCOURSE = Format(
    name="discourse",
    title="Discourse topic JSON (/t/ID.json)",
    obtain=(
        "append .json to a topic's URL: https://SITE/t/SLUG/ID.json (first 20 posts) or "
        "https://SITE/t/ID.json?print=true (up to 1000); /t/ID/posts.json?post_ids[]=... for the rest"
    ),
    kept=(
        "posts (post_number as id), authors (username), reply links (reply_to_post_number; none → post 1), "
        "cooked HTML as text (quotes as > lines; link previews, quote headers, image metadata dropped); "
        "small actions, moderator notices, whispers and hidden/deleted posts left out with a note; "
        "posts not in the file counted"
    ),
    detect_json=detect,
    parse_json=parse,
)

FORMATS: tuple[Format, ...] = (DISCOURSE,)
