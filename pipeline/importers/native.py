"""The project's own formats: thread JSON (``schemas/thread.schema.json``; a file holds one thread, or an
array of them, a JSON Lines file one per line) and plain text (.txt / .md: one post per paragraph, or one
post per line when the file has no blank line, as scraped pages are; authors and reply links unknown).

Input: parsed JSON documents, or a file's bytes. Output: ``Imported`` threads. Failure modes: a document
that does not match the thread schema, a file that is not UTF-8 (or UTF-16/32 with a BOM), or an empty
one: an ``InputError`` naming it and the fix.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..models import Post
from ..resources import schema_errors
from .base import Doc, DraftThread, Format, Imported, ImportOptions, id_of

TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".text")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_BOMS = b"\xef\xbb\xbf\xff\xfe\x00"


def decode(data: bytes, path: str) -> str:
    """Bytes → text: UTF-8 (BOM allowed) or UTF-16/32 with a BOM; anything else is an InputError."""
    for bom, encoding in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise InputError(
                    path, f"invalid {encoding} text at byte {exc.start}: re-save the file as UTF-8"
                ) from exc
    if b"\x00" in data[:8192]:
        raise InputError(path, "binary file, not text: pass a thread export, .txt or .md (see `threadbrief formats`)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            path, f"not UTF-8 (bad byte at offset {exc.start}): convert it, e.g. iconv -f latin1 -t utf-8"
        ) from exc


def split_plain_posts(text: str) -> list[str]:
    """A post per paragraph; a post per line when the text has no blank line."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    pieces = _BLANK_LINE.split(text) if _BLANK_LINE.search(text) else text.split("\n")
    return [piece.strip() for piece in pieces if piece.strip()]


def _is_thread(value: Any) -> bool:
    return isinstance(value, dict) and "posts" in value


def detect_thread_json(value: Any) -> bool:
    return _is_thread(value) or (isinstance(value, list) and bool(value) and all(_is_thread(v) for v in value))


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def thread_from_object(obj: Any, *, path: str, default_id: str, line: int | None = None) -> DraftThread:
    """A parsed thread object → DraftThread, validated against thread.schema.json."""
    errors = schema_errors("thread", obj, limit=3)
    if errors:
        raise InputError(path, "not a thread (schemas/thread.schema.json): " + "; ".join(errors), line)
    posts = [
        Post(
            id=id_of(raw.get("id")) or f"p{index}",
            author=_optional_str(raw.get("author")),
            parent_id=id_of(raw.get("parent_id")),
            text=raw["text"],
        )
        for index, raw in enumerate(obj["posts"], 1)
    ]
    return DraftThread(
        id=id_of(obj.get("id")) or default_id,
        title=obj.get("title"),
        source=obj.get("source"),
        posts=posts,
        where=path if line is None else f"{path}:{line}",
    )


def parse_thread_json(docs: list[Doc]) -> Imported:
    found = Imported()
    for doc in docs:
        stem = Path(doc.path).stem
        values = doc.value if isinstance(doc.value, list) else [doc.value]
        for index, value in enumerate(values, 1):
            default_id = stem if doc.line is None else f"{stem}-{doc.line}"
            if len(values) > 1:
                default_id = f"{default_id}-{index}"
            try:
                found.threads.append(thread_from_object(value, path=doc.path, default_id=default_id, line=doc.line))
            except InputError as exc:
                found.errors.append(exc)
    return found


def detect_plain(head: bytes, suffix: str) -> bool:
    # A .txt holding a JSON object is read as JSON: the content decides, not the name.
    return suffix in TEXT_SUFFIXES and not head.lstrip(_BOMS + b" \t\r\n").startswith(b"{")


def parse_plain(data: bytes, path: str, _options: ImportOptions) -> Imported:
    text = decode(data, path)
    posts = [
        Post(id=f"p{i}", author=None, parent_id=None, text=body) for i, body in enumerate(split_plain_posts(text), 1)
    ]
    if not posts:
        raise InputError(path, "no text: the file is empty or whitespace only; add posts or leave it out")
    return Imported(threads=[DraftThread(id=Path(path).stem, title=None, source=None, posts=posts, where=path)])


THREAD_JSON = Format(
    name="thread",
    title="threadbrief thread JSON / JSON Lines",
    obtain="`threadbrief import` writes it; `threadbrief schema thread` prints its schema",
    kept="everything: id, title, source, posts (id, author, parent_id, text)",
    detect_json=detect_thread_json,
    parse_json=parse_thread_json,
)

PLAIN_TEXT = Format(
    name="text",
    title="Plain text (.txt, .md)",
    obtain="any saved page or notes",
    kept="a post per paragraph (per line when there is no blank line); no authors, no reply links",
    detect_bytes=detect_plain,
    parse_bytes=parse_plain,
)
