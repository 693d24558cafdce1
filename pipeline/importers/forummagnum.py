"""ForumMagnum (LessWrong, Alignment Forum, EA Forum): GraphQL responses as the sites' ``/graphql`` endpoint
returns them.

Input: one parsed JSON document: ``{"data": {"comments": {"results": [comment, ...]}}}``, optionally with the
post in the same response (``data.post.result``), under any query alias (every ``data`` entry holding
``{"results": [comments]}`` or ``{"result": post}`` is read), or a plain list of comment objects. A comment is
``{_id, postId, parentCommentId, user {displayName, username}, contents {markdown, html}, htmlBody,
postedAt, deleted}``; a post ``{_id, title, pageUrl, user, contents, htmlBody, commentCount}``.

Output: one thread per ``postId``: ``lw-<postId>`` (``eaf-`` when the post's or a comment's ``pageUrl`` is on
the EA Forum, ``af-`` on the Alignment Forum), titled with the post's title. The post, when present, is the
opening post and comments with no ``parentCommentId`` answer it; without the post they have no parent and a
note says the post is missing. Text: ``contents.markdown`` as written when present, else ``htmlBody`` /
``contents.html`` through ``html_to_text``. Author: ``user.displayName`` (else ``user.username``, else the
legacy ``author`` string); None for a deleted or missing user (a response whose query selected no user field,
as per-user scrapes do, gets one note). Comments in ``postedAt`` order.

Left out, counted in one note per file and kind: deleted comments, malformed items (no ``_id``), comments with
no ``postId`` when the file holds no single post to attach them to. Comments the post counts but the file does
not hold are noted. Failure modes: a response with no comment and no post (a GraphQL error, a null result) is
an ``InputError`` naming the file and the GraphQL message (at most 80 characters); nothing raises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import InputError
from ..models import Post
from .base import Doc, DraftThread, Format, Imported, Note, each_document, id_of
from .html import html_to_text

# ForumMagnum chrome inside htmlBody: footnote back-links render as a bare "^".
CHROME = ("span.footnote-back-link",)
_MAX_SHOWN = 3
_QUOTE_CAP = 80


def _is_comment(item: Any) -> bool:
    return isinstance(item, dict) and "_id" in item and ("postId" in item or "parentCommentId" in item)


def _is_post(item: Any) -> bool:
    return (
        isinstance(item, dict)
        and "_id" in item
        and any(k in item for k in ("title", "htmlBody", "contents", "pageUrl"))
    )


def _root(value: dict[str, Any]) -> dict[str, Any]:
    data = value.get("data")
    return data if isinstance(data, dict) else value


def _comment_list(key: str, entry: Any) -> list[Any] | None:
    """``entry``'s comments when it is a ``{"results": [...]}`` of comments (empty only under a comment key)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("results"), list):
        return None
    results: list[Any] = entry["results"]
    if results:
        return results if _is_comment(results[0]) else None
    return results if "comment" in key.lower() else None


def detect(value: Any) -> bool:
    if isinstance(value, list):
        return bool(value) and all(_is_comment(item) for item in value[:3])
    if not isinstance(value, dict):
        return False
    root = _root(value)
    for key, entry in root.items():
        if _comment_list(key, entry) is not None:
            return True
        if isinstance(entry, dict) and "result" in entry:
            # A post, or a null result (deleted post, wrong id): ours to explain rather than "unknown shape".
            if _is_post(entry["result"]) or (entry["result"] is None and key == "post"):
                return True
        if entry is None and key in ("post", "comments") and isinstance(value.get("errors"), list):
            return True
    return False


def _author(item: dict[str, Any]) -> str | None:
    user = item.get("user")
    if isinstance(user, dict):
        if user.get("deleted") is True:
            return None
        for key in ("displayName", "username"):
            name = user.get(key)
            if isinstance(name, str) and name.strip():
                return name.strip()
        return None
    legacy = item.get("author")  # a comment's denormalised display name, when the query asked for it
    return legacy.strip() if isinstance(legacy, str) and legacy.strip() else None


def _text(item: dict[str, Any]) -> str:
    contents = item.get("contents")
    contents = contents if isinstance(contents, dict) else {}
    markdown = contents.get("markdown")
    if isinstance(markdown, str) and markdown.strip():
        return markdown.strip()  # Markdown stays as written
    for html in (item.get("htmlBody"), contents.get("html")):
        if isinstance(html, str) and html.strip():
            return html_to_text(html, drop=CHROME)
    return ""


def _prefix(url: Any) -> str | None:
    if not isinstance(url, str):
        return None
    host = urlsplit(url).netloc.lower()
    if host.endswith("effectivealtruism.org"):
        return "eaf"
    if host.endswith("alignmentforum.org"):
        return "af"
    if host.endswith("lesswrong.com"):
        return "lw"
    return None


def _post_url(post: dict[str, Any] | None, comments: list[dict[str, Any]], post_id: str) -> str | None:
    """The post's pageUrl, or a comment's permalink without its ``?commentId=``."""
    if post is not None and isinstance(post.get("pageUrl"), str) and post["pageUrl"].startswith("http"):
        return str(post["pageUrl"])
    for comment in comments:
        url = comment.get("pageUrl")
        if isinstance(url, str) and url.startswith("http") and f"/posts/{post_id}" in url:
            parts = urlsplit(url)
            return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    return None


def _shown(items: list[str]) -> str:
    return ", ".join(items[:_MAX_SHOWN]) + (", ..." if len(items) > _MAX_SHOWN else "")


def _graphql_error(value: Any) -> str:
    errors = value.get("errors") if isinstance(value, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        message = str(errors[0].get("message", ""))
        return message if len(message) <= _QUOTE_CAP else message[: _QUOTE_CAP - 1] + "…"
    return ""


@dataclass
class _Response:
    """What one response holds: its comments, the posts it selected, and the comment total it states."""

    comments: list[Any] = field(default_factory=list)
    posts: list[dict[str, Any]] = field(default_factory=list)
    total: int | None = None  # the sum of the comment lists' totalCount, when any states one


@dataclass
class _Tally:
    """What the file's threads leave out or lack, over the whole file: one note per kind."""

    deleted: list[str] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)
    postless: list[str] = field(default_factory=list)
    # Comments whose query selected no author field at all (not a deleted user).
    nameless: list[str] = field(default_factory=list)
    malformed: int = 0
    orphans: int = 0


def _read_response(value: Any) -> _Response:
    """The comments and posts of a response, under whatever query alias, or of a plain list of comments."""
    found = _Response()
    if isinstance(value, list):
        found.comments = value
        return found
    for key, entry in _root(value).items():
        comments = _comment_list(key, entry)
        if comments is not None:
            found.comments += comments
            if isinstance(entry.get("totalCount"), int):
                found.total = (found.total or 0) + entry["totalCount"]
        elif isinstance(entry, dict) and _is_post(entry.get("result")):
            found.posts.append(entry["result"])
    return found


def _nothing_read(doc: Doc) -> InputError:
    """The error for a response with no comment and no post, naming the GraphQL error when there is one."""
    error = _graphql_error(doc.value)
    reason = f"GraphQL error: {error!r}" if error else "the post is null (deleted, a draft, or a wrong id)"
    return InputError(doc.path, f"ForumMagnum response with no comment and no post ({reason}); query again", doc.line)


def _group_by_post(
    comments: list[Any], by_post: dict[str, dict[str, Any]], tally: _Tally
) -> dict[str, list[dict[str, Any]]]:
    """Comments by their postId (every post of the response gets a group, even with no comment)."""
    groups: dict[str, list[dict[str, Any]]] = {pid: [] for pid in by_post}
    for item in comments:
        if not isinstance(item, dict) or id_of(item.get("_id")) is None:
            tally.malformed += 1
            continue
        pid = id_of(item.get("postId"))
        if pid is None and len(by_post) == 1:
            pid = next(iter(by_post))  # the one post the response is about
        if pid is None:
            tally.orphans += 1
            continue
        groups.setdefault(pid, []).append(item)
    return groups


def _reading_order(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Comments by ``postedAt`` when every one has it, else in the order given."""
    if all(isinstance(c.get("postedAt"), str) for c in items):
        # ISO 8601 timestamps in one format sort as strings; views such as "top" return score order.
        return sorted(items, key=lambda c: str(c["postedAt"]))
    return items


def _opening_post(pid: str, post: dict[str, Any], tally: _Tally) -> Post:
    """The post itself, opening its thread."""
    text = _text(post)
    if not text:
        tally.empty.append(pid)
    return Post(id=pid, author=_author(post), parent_id=None, text=text)


def _comment(item: dict[str, Any], pid: str, has_post: bool, tally: _Tally) -> Post | None:
    """A comment as a post (top-level ones answer the post when the file holds it); None when deleted."""
    cid = str(id_of(item["_id"]))
    if item.get("deleted") is True:
        tally.deleted.append(cid)
        return None
    text = _text(item)
    if not text:
        tally.empty.append(cid)
    if "user" not in item and "author" not in item:
        tally.nameless.append(cid)
    parent = id_of(item.get("parentCommentId")) or (pid if has_post else None)
    return Post(id=cid, author=_author(item), parent_id=parent, text=text)


def _thread(
    pid: str, post: dict[str, Any] | None, items: list[dict[str, Any]], where: str, tally: _Tally
) -> DraftThread | None:
    """One post's thread: the post (when present), then its comments in the order given; None when empty."""
    drafted: list[Post] = []
    if post is not None:
        drafted.append(_opening_post(pid, post, tally))
    else:
        tally.postless.append(pid)
    for item in items:
        comment = _comment(item, pid, post is not None, tally)
        if comment is not None:
            drafted.append(comment)
    if not drafted:
        return None
    url = _post_url(post, items, pid)
    title = post.get("title") if post is not None and isinstance(post.get("title"), str) else None
    return DraftThread(
        id=f"{_prefix(url) or 'lw'}-{pid}",
        title=title,
        source=url,
        posts=drafted,
        where=where,
        has_opening_post=post is not None,
    )


def _uncounted(pid: str, post: dict[str, Any] | None, held: int) -> list[str]:
    """The note for comments the post counts but the file does not hold, with the query that gets them."""
    counted = post.get("commentCount") if post is not None else None
    if not isinstance(counted, int) or counted <= held:
        return []
    return [
        f"post {pid} counts {counted} comments, the file holds {held}: ask for them with "
        f'comments(input: {{terms: {{view: "postCommentsOld", postId: "{pid}", limit: {counted}}}}})'
    ]


def _file_notes(tally: _Tally, found: _Response) -> list[str]:
    """One note per kind of what the file's threads left out or lack."""
    notes: list[str] = []
    if tally.postless:
        notes.append(
            f"{len(tally.postless)} thread(s) without their post in the file (post {_shown(tally.postless)}): "
            'top-level comments have no parent; add post(input: {selector: {_id: "ID"}}) { result { title htmlBody '
            "user { displayName } } } to the query to get it"
        )
    if found.total is not None and found.total > len(found.comments):
        notes.append(
            f"the response counts {found.total} comments (totalCount) and holds {len(found.comments)}: raise limit"
        )
    if tally.deleted:
        notes.append(
            f"{len(tally.deleted)} deleted comment(s) left out ({_shown(tally.deleted)}); replies to them lose that "
            "reply link"
        )
    if tally.nameless:
        # Scrapers that save a user's own comments (one file per user) select no user field: the author is
        # the file's subject, which the response itself never says, so it is not guessed.
        notes.append(
            f"{len(tally.nameless)} comment(s) name no author (the query selected no user field; first: "
            f"{tally.nameless[0]}): authors unknown; add user {{ displayName }} to the query"
        )
    if tally.malformed:
        notes.append(f"{tally.malformed} item(s) of the comment results are not comments (no _id): left out")
    if tally.orphans:
        notes.append(f"{tally.orphans} comment(s) without postId left out: add postId to the query's fields")
    if tally.empty:
        notes.append(
            f"{len(tally.empty)} post(s)/comment(s) have no text (no markdown, htmlBody or html): {_shown(tally.empty)}"
        )
    return notes


def _response(doc: Doc) -> tuple[list[DraftThread], list[Note]]:
    found = _read_response(doc.value)
    if not found.comments and not found.posts:
        raise _nothing_read(doc)
    by_post = {pid: post for post in found.posts if (pid := id_of(post.get("_id"))) is not None}
    tally = _Tally()
    threads: list[DraftThread] = []
    notes: list[str] = []
    for pid, items in _group_by_post(found.comments, by_post, tally).items():
        post = by_post.get(pid)
        thread = _thread(pid, post, _reading_order(items), doc.where, tally)
        if thread is not None:
            threads.append(thread)
            notes += _uncounted(pid, post, len(items))
    notes += _file_notes(tally, found)
    if not threads:
        raise InputError(
            doc.path, f"ForumMagnum response: every comment left out ({len(tally.deleted)} deleted)", doc.line
        )
    return threads, [Note(doc.where, reason) for reason in notes]


def _response_threads(doc: Doc) -> Imported:
    threads, notes = _response(doc)
    return Imported(threads=threads, notes=notes)


def parse(docs: list[Doc]) -> Imported:
    return each_document(docs, _response_threads)


FORUMMAGNUM = Format(
    name="forummagnum",
    title="LessWrong / Alignment Forum / EA Forum GraphQL (ForumMagnum)",
    obtain=(
        'POST { comments(input: {terms: {view: "postCommentsOld", postId: "ID", limit: 1000}}) { results { _id postId '
        'parentCommentId user { displayName } contents { markdown } } } post(input: {selector: {_id: "ID"}}) '
        "{ result { _id title pageUrl htmlBody user { displayName } } } } to https://www.lesswrong.com/graphql "
        "(or forum.effectivealtruism.org/graphql, www.alignmentforum.org/graphql); save the JSON answer"
    ),
    kept=(
        "the post as opening post, comments nested by parentCommentId (top-level → the post), authors "
        "(displayName; None for deleted users), contents.markdown as written else htmlBody as text; one thread per "
        "postId; deleted comments left out with a note; a missing post or uncounted comments noted"
    ),
    detect_json=detect,
    parse_json=parse,
)

FORMATS: tuple[Format, ...] = (FORUMMAGNUM,)
