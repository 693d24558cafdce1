"""GitHub issues and pull requests → threads, from the REST API's JSON or the gh CLI's.

Input: every GitHub document of the run (the format is pooled), so an issue object in one file and its
comments in another become one thread. The loader hands each document to ``GitHubPool`` as it is read, which
spills each item (slimmed) to a temporary SQLite file under its issue (``spill.GroupSpill``) and then builds the
threads one issue at a time: a whole repository's issues and comments are read in the memory of its largest
thread. Each document is one of these, or an array of them:

- issue comments, ``GET /repos/O/R/issues/N/comments``: ``{id, user: {login, type}, body, created_at, html_url,
  issue_url}``;
- the issue or pull request itself, ``GET /repos/O/R/issues/N`` (or ``/pulls/N``): ``{number, title, body, user,
  html_url, url}``: the opening post;
- pull request review comments, ``GET /repos/O/R/pulls/N/comments``: ``{id, in_reply_to_id, path, body, user,
  pull_request_url}``;
- ``gh issue view N --json title,body,author,comments`` / ``gh pr view`` (an array from ``gh issue list --json``):
  ``{number, title, body, url, author: {login}, comments: [{author, body, createdAt, url}], reviews?}``.

Output: one thread per issue or pull request, in the order the documents first name them, id
``github-<owner>-<repo>-<number>`` (joined on the owner, repository and number named by ``issue_url`` /
``pull_request_url`` / ``html_url`` / ``url``), source its page. Posts: the opening post (id: the issue number),
then the comments in time order. Bodies are Markdown and stay as written, except HTML inside them (``<details>``,
``<img>``, tables, template ``<!-- -->`` comments), which becomes text through ``html_to_text``. Reply links: a
review comment replies to its ``in_reply_to_id``; issue comments are flat and reply to the opening post, except a
quote-reply: a comment whose ``> `` lines all appear (case, quote marks, whitespace and Markdown emphasis folded) in
an earlier post's own text replies to the latest such post. The ``>`` lines stay in its text. Authors are logins; a
deleted account (``ghost``, or no user) is None.

Left out, each with one note per thread: bot comments (login ending ``[bot]``, ``type: "Bot"``, gh's
``is_bot``), comments without text, a comment or opening post given twice. Comments given without their issue
still make a thread, with no opening post and a note saying how to add it. Failure modes: an item of a document
that is none of the shapes above is left out with a note naming the document; nothing raises, except
``OSError`` / ``sqlite3.Error`` from the spill when the temp directory (``TMPDIR``) cannot be written or fills up.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..models import Post
from ..spill import GroupSpill
from ..text import fold
from .base import Doc, DraftThread, Format, Imported, Note, id_of, text_of, through_pool
from .html import html_to_text

# The owner, repository and number of an issue or pull request in an API URL (github.com or Enterprise's
# /api/v3) or in a page URL (also Gitea/Forgejo's, whose API mirrors GitHub's).
_API_URL = re.compile(r"/repos/([^/\s]+)/([^/\s]+)/(?:issues|pulls)/(\d+)(?:[/?#]|$)")
_PAGE_URL = re.compile(r"^https?://[^/\s]+/([^/\s]+)/([^/\s]+)/(?:issues|pull|pulls)/(\d+)(?:[/?#]|$)")
_COMMENT_FRAGMENT = re.compile(r"#(?:issuecomment-|discussion_r)(\d+)$")
_DELETED_LOGINS = {"ghost"}

# HTML that GitHub renders inside Markdown. Only these tag names count, so prose such as "List<T>" or an
# autolink <https://...> is never taken for HTML.
_HTML_TAGS = (
    "a|abbr|b|big|blockquote|br|caption|center|cite|code|col|colgroup|dd|del|details|div|dl|dt|em|figcaption|"
    "figure|font|h[1-6]|hr|i|img|input|ins|kbd|li|mark|ol|p|picture|pre|q|s|samp|small|source|span|strike|strong|"
    "sub|summary|sup|table|tbody|td|tfoot|th|thead|tr|tt|u|ul|var|video"
)
_TAG = re.compile(rf"</?(?:{_HTML_TAGS})(?:\s[^<>]*)?/?>", re.IGNORECASE)
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_INLINE_CODE = re.compile(r"(`+)[^`\n].*?\1", re.DOTALL)
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_PARAGRAPH_BREAK = re.compile(r"(\n[ \t]*\n)")
_EMPHASIS = re.compile(r"[*_`~]")
_QUOTE_MARK = re.compile(r"^\s{0,3}>[ \t]?")
# A quote-reply is looked for among this many earlier posts: enough for any real discussion, and it keeps a
# pathological issue (tens of thousands of comments, each quoting) from going quadratic.
_QUOTE_LOOKBACK = 500

_Key = tuple[str, ...]


@dataclass
class _Item:
    """A post as read, before bots, repeats and reply links are settled."""

    id: str
    author: str | None
    bot: bool
    text: str
    created: str | None
    reply_to: str | None  # a review comment's in_reply_to_id
    threaded: bool  # review comments carry their own reply link; issue comments are flat


@dataclass
class _Acc:
    """One issue or pull request as its documents arrive."""

    owner: str | None = None
    repo: str | None = None
    number: str | None = None
    title: str | None = None
    source: str | None = None
    where: str | None = None
    opening: _Item | None = None
    comments: list[_Item] = field(default_factory=list)
    repeated_opening: int = 0


# --- shapes ---------------------------------------------------------------------------------------------


def _login(user: Any) -> str | None:
    login = user.get("login") if isinstance(user, dict) else None
    return login if isinstance(login, str) and login.strip() else None


def _author(user: Any) -> str | None:
    """A login; a deleted account (GitHub's "ghost", or no user at all) is unknown."""
    login = _login(user)
    return None if login is None or login.lower() in _DELETED_LOGINS else login


def _is_bot(user: Any) -> bool:
    if not isinstance(user, dict):
        return False
    login = _login(user) or ""
    return (
        user.get("type") == "Bot" or user.get("is_bot") is True or login.endswith("[bot]") or login.startswith("app/")
    )


def _shown(items: list[str]) -> str:
    """The first three items, then "..." when there are more."""
    return ", ".join(items[:3]) + (" ..." if len(items) > 3 else "")


def _place(url: Any) -> tuple[str, str, str] | None:
    """(owner, repo, number) named by an issue / pull request URL, API or page."""
    if not isinstance(url, str):
        return None
    match = _API_URL.search(url) if "/repos/" in url else _PAGE_URL.match(url)
    return (match.group(1), match.group(2), match.group(3)) if match else None


def _is_issue(item: dict[str, Any]) -> bool:
    """An issue or pull request object: a number, a title, an author and a URL of its own."""
    return (
        isinstance(item.get("number"), int)
        and isinstance(item.get("title"), str)
        and "user" in item
        and any(_place(item.get(k)) for k in ("html_url", "url", "comments_url"))
    )


def _is_gh(item: dict[str, Any]) -> bool:
    """gh's --json shape: comments inline, authors as {login} (``--json comments`` alone gives just the list)."""
    comments = item.get("comments")
    if not isinstance(comments, list):
        return False
    if _login(item.get("author")) is not None or _place(item.get("url")) is not None:
        return any(k in item for k in ("title", "body", "number"))
    if isinstance(item.get("number"), int) and isinstance(item.get("title"), str):
        return True  # gh issue list --json number,title,comments: an issue nobody commented on yet
    return any(isinstance(c, dict) and "body" in c and _login(c.get("author")) is not None for c in comments[:20])


def _kind(item: Any) -> str | None:
    if not isinstance(item, dict) or "posts" in item:
        return None
    if _is_gh(item):
        return "gh"
    if _is_issue(item):
        return "issue"
    if "body" not in item or "user" not in item:
        return None
    review_keys = ("in_reply_to_id", "path", "diff_hunk")
    if isinstance(item.get("pull_request_url"), str) and any(k in item for k in review_keys):
        return "review"
    if isinstance(item.get("issue_url"), str):
        return "comment"
    return None


def detect(value: Any) -> bool:
    if isinstance(value, list):
        # The first items decide (an issue list may open with an issue that gh describes with little).
        return any(_kind(item) is not None for item in value[:20])
    return _kind(value) is not None


# --- slimming: what parse needs of a document, so the spill does not hold whole API responses ------------

_KEPT_FIELDS = (
    "id",
    "number",
    "title",
    "body",
    "html_url",
    "url",
    "comments_url",
    "issue_url",
    "pull_request_url",
    "in_reply_to_id",
    "path",
    "created_at",
    "createdAt",
    "submittedAt",
)


def _slim_user(user: Any) -> Any:
    if not isinstance(user, dict):
        return user
    return {k: user[k] for k in ("login", "type", "is_bot") if k in user}


def _slim_item(item: Any) -> Any:
    if not isinstance(item, dict):
        return None
    slim: dict[str, Any] = {k: item[k] for k in _KEPT_FIELDS if k in item}
    for key in ("user", "author"):
        if key in item:
            slim[key] = _slim_user(item[key])
    for key in ("comments", "reviews"):
        if isinstance(item.get(key), list):
            slim[key] = [_slim_item(c) for c in item[key]]
    if "diff_hunk" in item:
        slim["diff_hunk"] = True  # only marks a review comment; the hunk itself is code, not discussion
    if "posts" in item:
        slim["posts"] = None
    return slim


def slim(value: Any) -> Any:
    return [_slim_item(v) for v in value] if isinstance(value, list) else _slim_item(value)


# --- text -----------------------------------------------------------------------------------------------


def _html_paragraph(paragraph: str) -> str:
    """A Markdown paragraph holding HTML → text; inline code spans pass through untouched."""
    spans: list[str] = []

    def hold(match: re.Match[str]) -> str:
        spans.append(match.group(0))
        return f"TBCODESPAN{len(spans) - 1}X"

    text = html_to_text(_INLINE_CODE.sub(hold, paragraph))
    for index, span in enumerate(spans):
        text = text.replace(f"TBCODESPAN{index}X", span)
    return text


def _markdown_text(body: str) -> tuple[str, bool]:
    """A Markdown body as written, except HTML outside code (tags, template comments), which becomes text.
    Returns the text and whether any HTML was turned into text."""
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    if "<" not in text:
        return text.strip(), False
    out: list[str] = []
    prose: list[str] = []
    changed = False

    def flush() -> None:
        nonlocal changed
        if not prose:
            return
        chunk = "\n".join(prose)
        prose.clear()
        cleaned = _HTML_COMMENT.sub("", chunk)
        changed = changed or cleaned != chunk
        pieces = _PARAGRAPH_BREAK.split(cleaned)
        for index, piece in enumerate(pieces):
            if index % 2 == 0 and _TAG.search(_INLINE_CODE.sub("", piece)):
                pieces[index] = _html_paragraph(piece)
                changed = True
        out.append("".join(pieces))

    fence: str | None = None
    for line in text.split("\n"):
        marker = _FENCE.match(line)
        if fence is None and marker:
            flush()
            fence = marker.group(1)
            out.append(line)
        elif fence is not None:
            out.append(line)
            if marker and marker.group(1) == fence:
                fence = None
        else:
            prose.append(line)
    flush()
    if not changed:
        return text.strip(), False
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip(), True


def _match_key(text: str) -> str:
    return fold(_EMPHASIS.sub("", text))


def _quote_parts(text: str) -> tuple[list[str], str]:
    """The lines a post quotes (one level of ``>``, outside code blocks) and its own words, as match keys."""
    quoted: list[str] = []
    own: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        marker = _FENCE.match(line)
        if fence is not None:
            own.append(line)
            if marker and marker.group(1) == fence:
                fence = None
            continue
        if marker:
            fence = marker.group(1)
            own.append(line)
            continue
        mark = _QUOTE_MARK.match(line)
        if mark is None:
            own.append(line)
            continue
        rest = line[mark.end() :]
        if _QUOTE_MARK.match(rest):
            continue  # a quote of a quote: the earlier post's own quote, not what this one answers
        key = _match_key(rest)
        if key:
            quoted.append(key)
    return quoted, _match_key("\n".join(own))


def _contains(haystack: str, needle: str) -> bool:
    """``needle`` in ``haystack`` at word boundaries ("yes" is not in "yesterday")."""
    start = haystack.find(needle)
    while start != -1:
        end = start + len(needle)
        before = haystack[start - 1] if start else " "
        after = haystack[end] if end < len(haystack) else " "
        if not (needle[0].isalnum() and before.isalnum()) and not (needle[-1].isalnum() and after.isalnum()):
            return True
        start = haystack.find(needle, start + 1)
    return False


# --- reading documents ----------------------------------------------------------------------------------


def _comment_id(item: dict[str, Any]) -> str:
    """The numeric id REST uses; gh gives a node id, but its url ends in the same number."""
    url = item.get("url") if isinstance(item.get("url"), str) else item.get("html_url")
    match = _COMMENT_FRAGMENT.search(url) if isinstance(url, str) else None
    if match and not isinstance(item.get("id"), int):
        return match.group(1)
    return id_of(item.get("id")) or (match.group(1) if match else "")


def _created(item: dict[str, Any]) -> str | None:
    for key in ("created_at", "createdAt", "submittedAt"):
        value = item.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _comment_item(comment: dict[str, Any], user_key: str, reply_to: str | None = None, threaded: bool = False) -> _Item:
    """A comment (REST: author under ``user``; gh: under ``author``) as read."""
    user = comment.get(user_key)
    return _Item(
        _comment_id(comment),
        _author(user),
        _is_bot(user),
        text_of(comment.get("body")),
        _created(comment),
        reply_to,
        threaded,
    )


def _first_place(item: dict[str, Any], keys: tuple[str, ...]) -> tuple[str, str, str] | None:
    """The place named by the first of ``keys`` whose URL names one."""
    return next((p for p in (_place(item.get(k)) for k in keys) if p), None)


def _page_url(url: Any) -> str | None:
    """An issue's page URL without its fragment; None for an API URL or anything else."""
    return url.split("#", 1)[0] if isinstance(url, str) and _PAGE_URL.match(url) else None


def _key(place: tuple[str, str, str] | None, where: str, index: int, number: Any = None) -> _Key:
    """What joins an item to its thread: the issue's owner, repository and number when a URL names them, else
    the number within its document, else the document (and item) itself."""
    if place is not None:
        return ("github", place[0].lower(), place[1].lower(), place[2])
    if isinstance(number, int):
        return ("number", where, str(number))
    return ("document", where) if index < 0 else ("document", where, str(index))


def _gh_comments(item: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in item["comments"] if isinstance(c, dict)]


def _locate(kind: str, item: dict[str, Any], where: str, index: int) -> tuple[_Key, tuple[str, str, str] | None]:
    """An item's thread key and the place (owner, repository, number) it names, if any."""
    if kind == "issue":
        place = _first_place(item, ("html_url", "url", "comments_url"))
        return _key(place, where, index), place
    if kind == "gh":
        place = _place(item.get("url")) or next(
            (p for p in (_place(c.get("url")) for c in _gh_comments(item)) if p), None
        )
        return _key(place, where, index, item.get("number")), place
    urls = ("pull_request_url", "html_url") if kind == "review" else ("issue_url", "html_url")
    place = _first_place(item, urls)
    return _key(place, where, -1), place


def _new_acc(place: tuple[str, str, str] | None, where: str) -> _Acc:
    acc = _Acc(where=where)
    if place is not None:
        acc.owner, acc.repo, acc.number = place
    return acc


def _opening(acc: _Acc, item: _Item, title: Any, source: Any, where: str) -> None:
    if acc.opening is not None:
        acc.repeated_opening += 1
        return
    acc.opening = item
    acc.title = title if isinstance(title, str) and title.strip() else None
    acc.where = where
    page = _page_url(source)
    if page is not None:
        acc.source = page


def _read_issue(acc: _Acc, item: dict[str, Any], where: str) -> None:
    user = item.get("user")
    number = str(item["number"])
    acc.number = acc.number or number
    post = _Item(number, _author(user), _is_bot(user), text_of(item.get("body")), _created(item), None, False)
    _opening(acc, post, item.get("title"), item.get("html_url"), where)


def _read_gh(acc: _Acc, item: dict[str, Any], where: str) -> None:
    number = item.get("number")
    if isinstance(number, int):
        acc.number = acc.number or str(number)
    author = item.get("author")
    opening_id = acc.number or "op"
    post = _Item(opening_id, _author(author), _is_bot(author), text_of(item.get("body")), None, None, False)
    _opening(acc, post, item.get("title"), item.get("url"), where)
    reviews = [r for r in item.get("reviews") or [] if isinstance(r, dict)]
    acc.comments += [_comment_item(comment, "author") for comment in _gh_comments(item) + reviews]


def _read_comment(acc: _Acc, item: dict[str, Any], review: bool) -> None:
    if acc.source is None:
        acc.source = _page_url(item.get("html_url"))
    reply_to = id_of(item.get("in_reply_to_id")) if review else None
    acc.comments.append(_comment_item(item, "user", reply_to, review))


def _read(acc: _Acc, kind: str, item: dict[str, Any], where: str) -> None:
    """One item into its thread's accumulator."""
    if kind == "issue":
        _read_issue(acc, item, where)
    elif kind == "gh":
        _read_gh(acc, item, where)
    else:
        _read_comment(acc, item, kind == "review")


# --- one thread -----------------------------------------------------------------------------------------


def _time_order(items: list[_Item]) -> list[_Item]:
    """Comments by time; in the order given when a time is missing or unreadable (the API's order is by time)."""
    stamps: list[datetime] = []
    for item in items:
        try:
            stamp = datetime.fromisoformat((item.created or "").replace("Z", "+00:00"))
        except ValueError:
            return items
        if stamp.tzinfo is None:
            return items
        stamps.append(stamp)
    order = sorted(range(len(items)), key=lambda i: stamps[i])
    return [items[i] for i in order]


def _thread_id(acc: _Acc, where: str) -> str:
    if acc.owner and acc.repo and acc.number:
        return f"github-{acc.owner}-{acc.repo}-{acc.number}"
    if acc.number:
        return f"github-{acc.number}"
    return f"github-{Path(where.split(':', 1)[0]).stem}"


def _source(acc: _Acc) -> str | None:
    if acc.source:
        return acc.source
    if acc.owner and acc.repo and acc.number:
        return f"https://github.com/{acc.owner}/{acc.repo}/issues/{acc.number}"
    return None


@dataclass
class _Tally:
    """What a thread's posts left out or repaired, per kind: one note each."""

    repeated: list[str] = field(default_factory=list)
    bots: list[_Item] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)
    html_posts: list[str] = field(default_factory=list)
    quote_links: int = 0


def _opening_post(acc: _Acc, tally: _Tally) -> tuple[Post | None, list[str]]:
    """The issue body as the opening post (its title when the body is empty), and the notes it needs."""
    if acc.opening is None:
        return None, [
            f"issue body not given ({len(acc.comments)} comment(s) read without it): pass the issue JSON alongside "
            "(GET /repos/OWNER/REPO/issues/N, or gh issue view N --json title,body,author,comments)"
        ]
    notes: list[str] = []
    text, changed = _markdown_text(acc.opening.text)
    if changed:
        tally.html_posts.append(acc.opening.id)
    if not text and acc.title:
        text = acc.title
        notes.append("the opening post has no body: its title stands as its text")
    if text:
        return Post(acc.opening.id, acc.opening.author, None, text), notes
    return None, [*notes, "the opening post has neither text nor title: left out"]


class _Comments:
    """A thread's posts as its comments arrive in time order: repeats, bots and empty comments left out,
    reply links settled (given, past left-out bots, or to the post a comment quotes)."""

    def __init__(self, opening: Post | None, tally: _Tally) -> None:
        self.tally = tally
        self.root = opening.id if opening is not None else None
        self.posts: list[Post] = [opening] if opening is not None else []
        # Candidates for a quote-reply: (post id, its own words as a match key), in reading order.
        self.earlier: list[tuple[str, str]] = []
        if opening is not None:
            self.earlier.append((opening.id, _quote_parts(opening.text)[1]))
        self.seen: set[str] = {opening.id} if opening is not None else set()
        self.dropped_parent: dict[str, str | None] = {}  # a left-out bot comment → where its replies go instead

    def add(self, item: _Item) -> None:
        """The next comment: a post, or counted under the kind it is left out as."""
        if item.id and item.id in self.seen:
            self.tally.repeated.append(item.id)
            return
        if item.id:
            self.seen.add(item.id)
        parent = self._given_parent(item)
        if item.bot:
            self.tally.bots.append(item)
            if item.id:
                self.dropped_parent[item.id] = parent
            return
        text, changed = _markdown_text(item.text)
        if not text:
            self.tally.empty.append(item.id)
            return
        if changed:
            self.tally.html_posts.append(item.id)
        quoted, own = _quote_parts(text)
        if quoted and not item.threaded:
            parent = self._quoted_parent(quoted, parent)
        self.posts.append(Post(item.id, item.author, parent, text))
        self.earlier.append((item.id, own))

    def _given_parent(self, item: _Item) -> str | None:
        """The reply link as given (issue comments: the opening post), past bot comments left out."""
        parent = (item.reply_to or self.root) if item.threaded else self.root
        hops = 0
        while parent is not None and parent in self.dropped_parent and hops < len(self.dropped_parent):
            parent, hops = self.dropped_parent[parent], hops + 1
        return parent

    def _quoted_parent(self, quoted: list[str], parent: str | None) -> str | None:
        """The latest earlier post whose own words hold every line quoted; ``parent`` when none does."""
        for candidate_id, candidate_own in reversed(self.earlier[-_QUOTE_LOOKBACK:]):
            if all(_contains(candidate_own, line) for line in quoted):
                if candidate_id != self.root:
                    self.tally.quote_links += 1
                return candidate_id
        return parent


def _left_out_notes(acc: _Acc, tally: _Tally) -> list[str]:
    """One note per kind of post left out or repaired."""
    notes: list[str] = []
    if acc.repeated_opening:
        notes.append(f"the issue itself was given {acc.repeated_opening + 1} times: the first kept")
    if tally.repeated:
        shown = _shown([repr(r) for r in tally.repeated])
        notes.append(f"{len(tally.repeated)} comment(s) given more than once ({shown}): kept once")
    if tally.bots:
        bots = tally.bots
        shown = _shown(sorted({b.author or "?" for b in bots}))
        notes.append(f"{len(bots)} bot comment(s) left out ({shown}; first: {bots[0].id!r}): not part of the debate")
    if tally.empty:
        notes.append(f"{len(tally.empty)} comment(s) without text left out (first: {tally.empty[0]!r})")
    if tally.html_posts:
        notes.append(f"HTML in {len(tally.html_posts)} post(s) turned into text (first: {tally.html_posts[0]!r})")
    if tally.quote_links:
        notes.append(f"{tally.quote_links} comment(s) quote an earlier comment: linked as replies to it")
    return notes


def _finish(acc: _Acc) -> tuple[DraftThread, list[Note]]:
    where = acc.where or "?"
    tally = _Tally()
    opening, notes = _opening_post(acc, tally)
    comments = _Comments(opening, tally)
    for item in _time_order(acc.comments):
        comments.add(item)
    notes += _left_out_notes(acc, tally)
    draft = DraftThread(
        id=_thread_id(acc, where),
        title=acc.title,
        source=_source(acc),
        posts=comments.posts,
        where=where,
        has_opening_post=acc.opening is not None,
    )
    return draft, [Note(where, reason, draft.id) for reason in notes]


def _built(acc: _Acc) -> Imported:
    """One issue's accumulator → its thread (none when no post has text) and its notes."""
    draft, notes = _finish(acc)
    if draft.posts:
        return Imported(threads=[draft], notes=notes)
    return Imported(
        notes=[*notes, Note(draft.where, "no post with text (all from bots, or empty): no thread", draft.id)]
    )


class GitHubPool:
    """A run's GitHub documents (as the loader hands them: slimmed by ``slim``), each item spilled to disk
    under its issue's key as it is read (``spill``), then built into threads one issue at a time: a
    repository's every issue and comment, in the memory of its largest thread. Held meanwhile: the notes on
    items of no GitHub shape."""

    def __init__(self) -> None:
        self.spill = GroupSpill()
        self.notes: list[Note] = []
        self.first_path = ""

    def add(self, doc: Doc) -> None:
        self.first_path = self.first_path or doc.path
        values = doc.value if isinstance(doc.value, list) else [doc.value]
        unknown: list[int] = []
        for index, item in enumerate(values):
            kind = _kind(item)
            if kind is None:
                unknown.append(index)
                continue
            key, _ = _locate(kind, item, doc.where, index)
            group = self.spill.group("\0".join(key), doc.path, doc.line)  # no NUL in a path or a login
            # No item id: a repeated comment or issue is kept in the spill, to be noted when its thread is built.
            self.spill.add(group, None, doc.path, doc.line, [kind, doc.where, index, item])
        if unknown:
            self.notes.append(
                Note(
                    doc.where,
                    f"{len(unknown)} item(s) are not GitHub issues or comments (first: item {unknown[0]}): left out",
                )
            )

    def threads(self) -> Iterator[Imported]:
        """The notes on unreadable items, then one thread per issue, in the order the items first name them.
        Each call builds them again from the spill, with the same notes (a run reads its inputs twice)."""
        yield Imported(notes=list(self.notes))
        for _group, records in self.spill.groups():
            acc: _Acc | None = None
            for record in records:
                kind, where, index, item = record.value
                if acc is None:
                    acc = _new_acc(_locate(kind, item, where, index)[1], where)
                _read(acc, kind, item, where)
            if acc is not None:
                yield _built(acc)

    def close(self) -> None:
        self.spill.close()


def parse(docs: list[Doc]) -> Imported:
    """Documents in memory → threads (what the loader does through ``GitHubPool``, for a list at hand)."""
    return through_pool(GitHubPool(), docs)


FORMATS: tuple[Format, ...] = (
    Format(
        name="github",
        title="GitHub issue / pull request: REST API JSON or gh CLI --json",
        obtain=(
            "GET /repos/OWNER/REPO/issues/N and .../issues/N/comments (and .../pulls/N/comments), e.g. "
            "`gh api repos/O/R/issues/N/comments --paginate`; or `gh issue view N --json title,body,author,comments` "
            "/ `gh pr view N --json title,body,author,comments,reviews`; pass the files together"
        ),
        kept=(
            "opening post (the issue body) and comments in time order; logins as authors (ghost → unknown); "
            "review comments reply to in_reply_to_id, quote-replies to the comment they quote, others to the "
            "opening post; Markdown as written, inline HTML as text; bot and empty comments left out"
        ),
        detect_json=detect,
        parse_json=parse,
        pooled=True,
        slim=slim,
        pool=GitHubPool,
    ),
)
