"""CSV / TSV files of comments: one comment per row, under a header naming the columns.

Input: a file's bytes (UTF-8, or UTF-16/32 with a BOM), its path, and ``ImportOptions.columns`` (from
``--columns id=...,parent=...,author=...,text=...,thread=...,title=...``), which names the column of each
of our fields and overrides detection. Without it, columns are found by their usual names, case
insensitively: id (``id``, ``comment_id``, ``message_id``, ``post_id`` when no other id column exists),
parent (``parent_id``, ``parent``, ``in_reply_to``, ``reply_to``), author (``author``, ``user``,
``username``, ``by``, ``name``, ...), text (``body``, ``text``, ``comment``, ``content``, ``message``),
thread (``thread``, ``thread_id``, ``link_id``, ``submission_id``, ``story_id``, ``topic_id``, else
``post_id``), title (``title``, ``subject``, ``link_title``). Parsing is the stdlib ``csv`` module
(quoted fields may span lines); the delimiter is a tab for ``.tsv``, else what ``csv.Sniffer`` finds in
the header line.

Output: rows grouped into threads by the thread column (id ``<file stem>-<value>``, a Reddit ``t3_``
prefix removed from the value), or one thread per file (id = the file stem). Posts in reading order
(parents before their replies, the file's order otherwise); a parent id with a Reddit ``t1_``/``t3_``
prefix is stripped when the bare id names a row; a parent that is the thread itself (the submission)
replies to the row with that id when the file has one, else has no parent. Markdown bodies stay as
written; a body in HTML (a Hacker News export) goes through ``html_to_text``. ``[deleted]`` authors are
unknown (None).

Failure modes: no text column, or a ``--columns`` name missing from the header, is an ``InputError``
listing the header's columns; an empty file or a header with no row too. A row with the wrong number
of fields (noted with its line), or with no text, is left out with a note; the other rows are kept.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..models import Post
from .base import DraftThread, Format, Imported, ImportOptions, Note
from .html import html_to_text
from .native import decode

FIELDS = ("id", "parent", "author", "text", "thread", "title")
# Usual column names, best first. post_id is placed by _resolve: an id when no other id column exists,
# otherwise the thread (the post the comments belong to).
_NAMES: dict[str, tuple[str, ...]] = {
    "id": ("id", "comment_id", "message_id"),
    "parent": ("parent_id", "parent", "in_reply_to", "reply_to", "in_reply_to_id", "parent_comment_id"),
    "author": ("author", "author.name", "author_name", "user", "username", "user_name", "by", "name"),
    "text": ("body", "text", "comment", "content", "message", "comment_text", "comment_body"),
    "thread": ("thread", "thread_id", "link_id", "submission_id", "story_id", "topic_id"),
    "title": ("title", "subject", "link_title", "thread_title", "submission_title", "story_title"),
}
_SOURCE_NAMES = ("link_permalink", "thread_url", "submission_url", "story_url")
_SUFFIXES = (".csv", ".tsv")
_DELIMITERS = ",\t;|"
_FIELD_LIMIT = 2**31 - 1  # one comment may be long; csv's default limit is 128 KiB
_REDDIT_PREFIX = re.compile(r"^t[1-6]_")
_DELETED = frozenset({"[deleted]", "[removed]"})
# A body written in HTML (Hacker News, some forum exports) rather than Markdown or plain text.
_HTML_TAG = re.compile(r"</?(?:p|a|i|b|em|strong|br|pre|code|div|span|blockquote|ul|ol|li)(?:\s[^<>]*)?/?>", re.I)
_SHOWN = 80


def _head_text(head: bytes) -> str:
    for bom, encoding in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if head.startswith(bom):
            return head[len(bom) :].decode(encoding, errors="ignore")
    return head.decode("utf-8", errors="ignore").lstrip("\ufeff")


def _split_header(line: str, delimiter: str) -> list[str]:
    return [cell.strip().strip('"').strip().lower() for cell in next(csv.reader([line], delimiter=delimiter), [])]


def _sniff_delimiter(line: str) -> str | None:
    try:
        return csv.Sniffer().sniff(line, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return None


def detect_bytes(head: bytes, suffix: str) -> bool:
    """A .csv/.tsv file, or a first line that splits into a header naming a text column and an id or
    author column. Prose never has such a line, so a .txt of paragraphs stays plain text."""
    if suffix in _SUFFIXES:
        return True
    text = _head_text(head)
    if text.lstrip()[:1] in ("{", "["):
        return False
    first = text.split("\n", 1)[0].rstrip("\r")
    delimiter = _sniff_delimiter(first)
    if delimiter is None:
        return False
    header = set(_split_header(first, delimiter))
    if len(header) < 2 or any(len(cell) > 40 or " " in cell for cell in header):
        return False
    has_text = any(name in header for name in _NAMES["text"])
    has_other = any(name in header for name in (*_NAMES["id"], "post_id", *_NAMES["author"], *_NAMES["parent"]))
    return has_text and has_other


@dataclass(frozen=True)
class _Columns:
    index: dict[str, int]  # our field → column index
    source: int | None


def _resolve(header: list[str], path: str, columns: Mapping[str, str] | None) -> _Columns:
    lowered = [cell.strip().lower() for cell in header]
    shown = ", ".join(cell[:_SHOWN] for cell in header[:30]) + (" ..." if len(header) > 30 else "")
    index: dict[str, int] = {}
    for field, name in (columns or {}).items():
        if field not in FIELDS:
            raise InputError(path, f"--columns: unknown field {field!r}: use {', '.join(FIELDS)}", 1)
        if name.strip().lower() not in lowered:
            raise InputError(path, f"--columns {field}={name[:_SHOWN]}: no such column; the header has: {shown}", 1)
        index[field] = lowered.index(name.strip().lower())
    taken = set(index.values())

    def first(names: tuple[str, ...]) -> int | None:
        return next((lowered.index(n) for n in names if n in lowered and lowered.index(n) not in taken), None)

    for field in FIELDS:
        if field not in index:
            found = first(_NAMES[field])
            if found is not None:
                index[field] = found
                taken.add(found)
    if "post_id" in lowered and lowered.index("post_id") not in taken:
        if "id" not in index:
            index["id"] = lowered.index("post_id")
        elif "thread" not in index:
            index["thread"] = lowered.index("post_id")
    if "text" not in index:
        raise InputError(
            path,
            f"no text column (looked for {', '.join(_NAMES['text'])}); the header has: {shown}; "
            "name it with --columns text=NAME",
            1,
        )
    source = next((lowered.index(n) for n in _SOURCE_NAMES if n in lowered), None)
    return _Columns(index, source)


def _delimiter(text: str, suffix: str) -> str:
    if suffix == ".tsv":
        return "\t"
    first = text.split("\n", 1)[0].rstrip("\r")
    return _sniff_delimiter(first) or ","


@dataclass
class _Row:
    line: int
    id: str
    parent: str | None
    author: str | None
    text: str
    thread: str
    title: str | None
    source: str | None


def _cell(row: list[str], index: int | None) -> str:
    return row[index].strip() if index is not None else ""


def _thread_value(raw: str) -> str:
    return _REDDIT_PREFIX.sub("", raw, count=1) if raw.startswith("t3_") else raw


def _reading_order(rows: list[_Row], opening: str | None) -> list[_Row]:
    """Parents before their replies, siblings in file order; the opening post (the submission) first.
    Iterative, so a reply chain thousands deep is no problem."""
    by_id = {row.id: row for row in rows}
    children: dict[str, list[_Row]] = {}
    roots: list[_Row] = []
    for row in rows:
        if row.parent is not None and row.parent in by_id and row.parent != row.id:
            children.setdefault(row.parent, []).append(row)
        else:
            roots.append(row)
    roots.sort(key=lambda row: row.id != opening)  # stable: the opening post first, the rest in file order
    ordered: list[_Row] = []
    seen: set[int] = set()
    stack = list(reversed(roots))
    while stack:
        row = stack.pop()
        if id(row) in seen:
            continue
        seen.add(id(row))
        ordered.append(row)
        stack.extend(reversed(children.get(row.id, [])))
    # Rows on a reply cycle have no root; keep them, in file order (the loader cuts the cycle).
    ordered += [row for row in rows if id(row) not in seen]
    return ordered


def parse_bytes(data: bytes, path: str, options: ImportOptions) -> Imported:
    text = decode(data, path)
    if not text.strip():
        raise InputError(path, "no text: the file is empty; a CSV needs a header line and one row per comment")
    suffix = Path(path).suffix.lower()
    csv.field_size_limit(max(csv.field_size_limit(), _FIELD_LIMIT))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text, suffix))
    header = next(reader, None)
    if not header:
        raise InputError(path, "no header line: the first line must name the columns", 1)
    cols = _resolve(header, path, options.columns)
    at = cols.index.get

    found = Imported()
    rows: list[_Row] = []
    malformed: list[int] = []
    empty: list[int] = []
    html = 0
    previous_end = reader.line_num
    for number, row in enumerate(reader, 1):
        line, previous_end = previous_end + 1, reader.line_num
        if not row or not any(cell.strip() for cell in row):
            continue  # a blank line
        if len(row) != len(header):
            malformed.append(line)
            continue
        body = row[cols.index["text"]].replace("\r\n", "\n").replace("\r", "\n").strip()
        if not body:
            empty.append(line)
            continue
        if _HTML_TAG.search(body):
            body = html_to_text(body)
            html += 1
        author = _cell(row, at("author")) or None
        source = _cell(row, cols.source)
        rows.append(
            _Row(
                line=line,
                id=_cell(row, at("id")) or f"r{number}",
                parent=_cell(row, at("parent")) or None,
                author=None if author in _DELETED else author,
                text=body,
                thread=_thread_value(_cell(row, at("thread"))),
                title=_cell(row, at("title")) or None,
                source=source if source.startswith(("http://", "https://")) else None,
            )
        )

    if malformed:
        lines = ", ".join(str(n) for n in malformed[:5]) + (" ..." if len(malformed) > 5 else "")
        found.notes.append(
            Note(
                path,
                f"{len(malformed)} row(s) with the wrong number of fields (not {len(header)}) left out: line {lines}",
            )
        )
    if empty:
        found.notes.append(
            Note(path, f"{len(empty)} row(s) with an empty text column left out (first: line {empty[0]})")
        )
    if html:
        found.notes.append(Note(path, f"{html} row(s) with an HTML body: converted to text"))
    if not rows:
        if found.notes:
            found.errors.append(InputError(path, "no row with text: " + "; ".join(n.reason for n in found.notes)))
            found.notes = []
            return found
        raise InputError(path, "no rows: the file has a header line but no comment under it")

    found.threads = _threads(rows, "thread" in cols.index, path, found.notes)
    return found


def _threads(rows: list[_Row], by_thread: bool, path: str, notes: list[Note]) -> list[DraftThread]:
    """Rows → threads: grouped by the thread column (or one per file), parent ids resolved, reading order."""
    groups: dict[str, list[_Row]] = {}
    for item in rows:
        groups.setdefault(item.thread if by_thread else "", []).append(item)
    stem = Path(path).stem
    stripped = 0
    threads: list[DraftThread] = []
    for value, members in groups.items():
        ids = {item.id for item in members}
        for item in members:
            parent = item.parent
            if parent is None or parent in ids:
                continue
            bare = _REDDIT_PREFIX.sub("", parent, count=1)
            if bare != parent and bare in ids:
                item.parent = bare
                stripped += 1
            elif value and bare == value:
                item.parent = None  # a top-level comment: the submission it answers is not a row of the file
        ordered = _reading_order(members, value if value in ids else None)
        threads.append(
            DraftThread(
                id=f"{stem}-{value}" if value else stem,
                title=next((item.title for item in ordered if item.title), None),
                source=next((item.source for item in ordered if item.source), None),
                posts=[Post(id=item.id, author=item.author, parent_id=item.parent, text=item.text) for item in ordered],
                where=path,
                # Grouped by thread, the opening post is the row whose id is the thread's; else it is unknown.
                has_opening_post=not value or value in ids,
            )
        )
    if stripped:
        notes.append(Note(path, f"{stripped} parent ids had Reddit type prefixes (t1_/t3_): stripped"))
    return threads


FORMATS: tuple[Format, ...] = (
    Format(
        name="csv",
        title="CSV / TSV of comments (one row per comment, a header naming the columns)",
        obtain="any spreadsheet or scraper export with a header line; columns detected by name, or map them "
        "with --columns id=COL,parent=COL,author=COL,text=COL,thread=COL,title=COL",
        kept="a post per row with text, grouped into threads by the thread column (else one thread per file); "
        "parent ids linked (Reddit t1_/t3_ prefixes stripped); rows with no text or the wrong number of fields "
        "left out (noted)",
        detect_bytes=detect_bytes,
        parse_bytes=parse_bytes,
    ),
)
