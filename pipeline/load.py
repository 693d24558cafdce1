"""Load: input paths → raw threads.

Input: files and directories (directories are searched recursively for .txt, .md, .json, .jsonl;
hidden files are skipped). Output: ``Thread`` objects whose ids are restricted to ``[A-Za-z0-9._-]``
and unique across the run, plus one ``InputError`` per file (or .jsonl line) that cannot be read.
Failure modes: binary, undecodable, empty or invalid files become ``InputError``s naming the file
(and line) and the fix; they never stop the other threads.

Formats:
- ``.txt`` / ``.md``: plain text, one post per paragraph (blank-line separated), or one post per line
  when the file has no blank line (scraped pages, as in seeds/). Posts get ids p1, p2, ...; author
  and parent are unknown (null): they are never invented.
- ``.json``: one thread as in ``schemas/thread.schema.json``. A non-empty title becomes the first post,
  id ``title``, by the opening post's author (the title is the opening post's thesis, and claims
  must quote a post).
- ``.jsonl``: one such thread per line.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .errors import InputError
from .models import Post, Thread
from .resources import schema_errors

SUFFIXES = (".txt", ".md", ".json", ".jsonl")
TITLE_POST_ID = "title"
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9._-]+")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")


def safe_thread_id(raw: str) -> str:
    """Restrict an id to [A-Za-z0-9._-] and make sure it can never name a path outside OUT."""
    cleaned = _UNSAFE_ID.sub("_", raw).strip("._-")
    return cleaned or "thread"


def discover(paths: Iterable[Path]) -> Iterator[Path]:
    """Input files in a stable order: as given, directories expanded recursively and sorted."""
    for path in paths:
        if path.is_dir():
            found = (
                p
                for p in path.rglob("*")
                if p.suffix.lower() in SUFFIXES and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            # A dangling symlink is yielded too, so it is reported as unreadable rather than skipped.
            yield from sorted(p for p in found if p.is_file() or p.is_symlink() and not p.is_dir())
        else:
            yield path


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
        raise InputError(path, "binary file, not text: pass .txt, .md, .json or .jsonl threads")
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


def _plain_thread(text: str, path: Path, digest: str) -> Thread:
    posts = [
        Post(id=f"p{i}", author=None, parent_id=None, text=body) for i, body in enumerate(split_plain_posts(text), 1)
    ]
    if not posts:
        raise InputError(str(path), "no text: the file is empty or whitespace only; add posts or leave it out")
    return Thread(id=path.stem, title=None, source=None, input_path=str(path), sha256=digest, posts=posts)


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def thread_from_object(obj: Any, *, path: str, default_id: str, digest: str, line: int | None = None) -> Thread:
    """A parsed JSON value → Thread, validated against thread.schema.json."""
    errors = schema_errors("thread", obj, limit=3)
    if errors:
        raise InputError(path, "not a thread (schemas/thread.schema.json): " + "; ".join(errors), line)
    posts: list[Post] = []
    seen: set[str] = set()
    for index, raw in enumerate(obj["posts"], 1):
        post_id = _optional_str(raw.get("id")) or f"p{index}"
        if post_id in seen:
            raise InputError(path, f"post id {post_id!r} appears twice: post ids must be unique in a thread", line)
        seen.add(post_id)
        posts.append(
            Post(
                id=post_id,
                author=_optional_str(raw.get("author")),
                parent_id=_optional_str(raw.get("parent_id")),
                text=raw["text"],
            )
        )
    if not any(p.text.strip() for p in posts):
        raise InputError(path, 'the thread has no post with text; give at least one post a "text"', line)
    title = obj.get("title")
    if isinstance(title, str) and title.strip() and TITLE_POST_ID not in seen:
        # On forums the title is the opening post's thesis: make it quotable, by the opening post's author.
        posts.insert(0, Post(id=TITLE_POST_ID, author=posts[0].author, parent_id=None, text=title))
    return Thread(
        id=_optional_str(obj.get("id")) or default_id,
        title=obj.get("title"),
        source=obj.get("source"),
        input_path=path if line is None else f"{path}:{line}",
        sha256=digest,
        posts=posts,
    )


def load_file(path: Path) -> tuple[list[Thread], list[InputError]]:
    """One file → its threads and the errors of the parts that could not be read."""
    name = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        return [], [InputError(name, f"cannot read: {exc.strerror or exc}; check the path and its permissions")]
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        return [], [InputError(name, f"unsupported file type {suffix or '(none)'}: use .txt, .md, .json or .jsonl")]
    try:
        text = decode(data, name)
        if not text.strip():
            raise InputError(name, "no text: the file is empty or whitespace only; add posts or leave it out")
        if suffix in (".txt", ".md"):
            return [_plain_thread(text, path, hashlib.sha256(data).hexdigest())], []
        if suffix == ".json":
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InputError(name, f"invalid JSON ({exc.msg}) at line {exc.lineno} column {exc.colno}") from exc
            return [
                thread_from_object(obj, path=name, default_id=path.stem, digest=hashlib.sha256(data).hexdigest())
            ], []
    except InputError as exc:
        return [], [exc]
    threads: list[Thread] = []
    errors: list[InputError] = []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        digest = hashlib.sha256(line.encode("utf-8")).hexdigest()
        try:
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(name, f"invalid JSON ({exc.msg}) at column {exc.colno}", number) from exc
            threads.append(
                thread_from_object(obj, path=name, default_id=f"{path.stem}-{number}", digest=digest, line=number)
            )
        except InputError as exc:
            errors.append(exc)
    if not threads and not errors:
        errors.append(InputError(name, "no threads: every line is blank; put one thread per line"))
    return threads, errors


def load_inputs(paths: Iterable[Path]) -> tuple[list[Thread], list[InputError]]:
    """All input paths → threads with safe, unique ids (a repeated id gets -2, -3, ...) and errors."""
    threads: list[Thread] = []
    errors: list[InputError] = []
    taken: set[str] = set()
    for path in discover(paths):
        found, failed = load_file(path)
        errors.extend(failed)
        for thread in found:
            base = safe_thread_id(thread.id)
            unique, n = base, 1
            while unique in taken:
                n += 1
                unique = f"{base}-{n}"
            taken.add(unique)
            if unique != thread.id:
                thread.renamed_from = thread.id
            thread.id = unique
            threads.append(thread)
    return threads, errors
