"""Load: input paths → threads, notes and input errors. The only module that reads input files.

Input: files and directories, and ``ImportOptions`` (``--format``, ``--columns``). Directories are searched
recursively (hidden files skipped); a directory that is itself an export (a Slack export folder, a maildir)
is read as one. Each file's format is detected from its content (``importers.FORMATS``, in order; the
suffix only breaks ties such as CSV vs plain text); ``--format`` overrides detection. Archives (.zip) are
read in place, never extracted; compressed dumps (.zst, .gz, .bz2, .xz) and JSON Lines are streamed line by
line, never held whole.

Output (``Loaded``): ``Thread`` objects whose ids are restricted to ``[A-Za-z0-9._-]`` and unique across the
run, every post id unique in its thread, every ``parent_id`` naming a post of the thread, no reply cycle;
a ``Note`` for every repair (a reply to a post that is not in the export, a repeated id) and every item
left out; an ``InputError`` per file (or line, or archive member) that cannot be read at all.
Failure modes: none raised. Binary, undecodable, empty, invalid, too deeply nested or unknown input, an
archive member with an absolute or ``..`` path, a member expanding past the size or ratio limit: each is an
``InputError`` naming the file and the fix; the other threads still load.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import hashlib
import io
import json
import lzma
import os
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any, Protocol

import zstandard

from .errors import InputError
from .importers import FORMATS, format_named, native
from .importers.base import (
    Doc,
    DocPool,
    DraftThread,
    Format,
    Imported,
    ImportOptions,
    ListPool,
    Members,
    Note,
    loads_repaired,
    surrogate_note,
)
from .importers.native import decode
from .models import TITLE_POST_ID, Post, Thread
from .text import fold

__all__ = ["TITLE_POST_ID", "Loaded", "decode", "load_inputs", "safe_thread_id", "thread_from_object", "thread_json"]

_UNSAFE_ID = re.compile(r"[^A-Za-z0-9._-]+")
_JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")
# Archive limits: a member may not expand past this many bytes, nor past this ratio to its compressed size
# (once it is bigger than _RATIO_FLOOR: small files compress very well and are harmless).
MAX_MEMBER_BYTES = 1 << 30
MAX_MEMBER_RATIO = 200
_RATIO_FLOOR = 1 << 20
MAX_LINE_BYTES = 64 << 20  # one JSON Lines record; a longer line is an error for that line, not for the file
_SNIFF_BYTES = 8192
_MAX_BAD_LINES = 20  # a stream whose first records all fail is not JSON Lines: one error, not one per line
_EMPTY = "no text: the file is empty or whitespace only; add posts or leave it out"
_READ_CHUNK = 1 << 20
# Compressed streams: magic bytes → how to open them. zstd dumps (Pushshift, Arctic Shift) use long windows.
_COMPRESSED: tuple[tuple[bytes, str], ...] = (
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
)


@dataclass
class Loaded:
    threads: list[Thread] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)


def safe_thread_id(raw: str) -> str:
    """Restrict an id to [A-Za-z0-9._-] and make sure it can never name a path outside OUT."""
    cleaned = _UNSAFE_ID.sub("_", raw).strip("._-")
    return cleaned or "thread"


# --- finding the inputs -------------------------------------------------------------------------------


def shown_path(path: Path) -> str:
    """A path as messages, notes and outputs name it: as ``str`` gives it, except that bytes of a file name
    that are not UTF-8 (which ``str`` keeps as lone surrogates, unwritable as UTF-8) are shown as ``\\xe9``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _directory_members(root: Path) -> Members:
    names = sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    return Members(names, lambda name: (root / name).read_bytes())


def _top_level(names: Iterable[str]) -> Members:
    """The first level of a tree (directories as ``name/``): what a tree format is detected from."""
    top: set[str] = set()
    for name in names:
        head, sep, _rest = name.partition("/")
        top.add(head + sep)
    return Members(sorted(top), lambda _name: b"")


def _tree_format(names: Iterable[str], options: ImportOptions) -> Format | None:
    top = _top_level(names)
    for fmt in _candidates(options):
        if fmt.detect_members is not None and fmt.detect_members(top):
            return fmt
    return None


def discover(paths: Iterable[Path], options: ImportOptions | None = None) -> Iterator[Path]:
    """Input files (and export directories) in a stable order: as given, directories expanded and sorted."""
    options = options or ImportOptions()
    for path in paths:
        if not path.is_dir():
            yield path
            continue
        for folder, dirs, files in os.walk(path, followlinks=False):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            here = Path(folder)
            entries = [f for f in files if not f.startswith(".")] + [d + "/" for d in dirs]
            if _tree_format(entries, options) is not None:
                dirs[:] = []
                yield here
                continue
            for name in sorted(f for f in files if not f.startswith(".")):
                candidate = here / name
                # A dangling symlink is yielded too, so it is reported as unreadable rather than skipped.
                if candidate.is_file() or candidate.is_symlink():
                    yield candidate


# --- reading ------------------------------------------------------------------------------------------


def _candidates(options: ImportOptions) -> list[Format]:
    return [format_named(options.format)] if options.format else list(FORMATS)


def _compression(head: bytes) -> str | None:
    return next((kind for magic, kind in _COMPRESSED if head.startswith(magic)), None)


# What reading a file or a compressed stream can raise: the file's input error, never a crash.
_STREAM_ERRORS = (OSError, EOFError, zstandard.ZstdError, lzma.LZMAError, zlib.error)


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


class _LineReader(Protocol):
    def readline(self, size: int = -1, /) -> bytes: ...

    def read(self, size: int = -1, /) -> bytes: ...

    def peek(self, size: int, /) -> bytes: ...


def _open_decompressed(handle: IO[bytes], kind: str) -> _LineReader:
    if kind == "zstd":
        reader = zstandard.ZstdDecompressor(max_window_size=2**31).stream_reader(handle, read_across_frames=True)
        return io.BufferedReader(reader, buffer_size=_READ_CHUNK)
    if kind == "gzip":
        return gzip.GzipFile(fileobj=handle)
    if kind == "bzip2":
        return bz2.BZ2File(handle)
    return lzma.LZMAFile(handle)


def _lines(stream: _LineReader) -> Iterator[tuple[int, bytes | None]]:
    """(line number, bytes) of a stream, one line at a time; None for a line longer than MAX_LINE_BYTES."""
    number = 0
    while True:
        line = stream.readline(MAX_LINE_BYTES)
        if not line:
            return
        number += 1
        if len(line) >= MAX_LINE_BYTES and not line.endswith(b"\n"):
            while (rest := stream.readline(_READ_CHUNK)) and not rest.endswith(b"\n"):
                pass
            yield number, None
            continue
        yield number, line


def _first_line_is_json(text: str) -> bool:
    first, newline, rest = text.strip().partition("\n")
    if not newline or not rest.strip():
        return False
    try:
        json.loads(first)
    except (ValueError, RecursionError):
        return False
    return True


def _parse_json(text: str, path: str, line: int | None = None) -> tuple[Any, int]:
    """The document, and how many lone surrogates in it were replaced (``loads_repaired``)."""
    try:
        return loads_repaired(text)
    except json.JSONDecodeError as exc:
        where = f"at column {exc.colno}" if line is not None else f"at line {exc.lineno} column {exc.colno}"
        raise InputError(path, f"invalid JSON ({exc.msg}) {where}", line) from exc
    except RecursionError as exc:
        raise InputError(
            path, "JSON nested too deeply to read (thousands of levels): is this a real export?", line
        ) from exc


@dataclass
class _Repairs:
    """Lone surrogates replaced in a JSON Lines file: how many, and the first line that had one."""

    count: int = 0
    first: int | None = None

    def add(self, line: int, replaced: int) -> None:
        if replaced and self.first is None:
            self.first = line
        self.count += replaced


class _Reader:
    """Reads every source of one run, one file (one JSON Lines record) at a time; hands pooled formats'
    documents to their pools, read at the end."""

    def __init__(self, options: ImportOptions) -> None:
        self.options = options
        self.formats = _candidates(options)
        self.pools: dict[str, DocPool] = {}
        self.pooled = 0  # documents handed to a pool so far

    def close(self) -> None:
        for pool in self.pools.values():
            pool.close()

    # documents -------------------------------------------------------------------------------------------

    def json_format(self, value: Any) -> Format | None:
        for fmt in self.formats:
            if fmt.detect_json is not None and fmt.detect_json(value):
                return fmt
        return None

    def unknown_shape(self, path: str, line: int | None = None) -> InputError:
        tried = ", ".join(f.name for f in self.formats if f.detect_json is not None)
        if self.options.format:
            return InputError(path, f"not a {self.options.format} export: drop --format to detect the format", line)
        return InputError(
            path,
            f"unknown JSON shape (tried: {tried}): see `threadbrief formats`, or convert it to the shape "
            "`threadbrief schema thread` prints",
            line,
        )

    def document(self, doc: Doc) -> Imported:
        """One JSON document: parsed now, or pooled for its format's one call at the end."""
        if doc.value == [] or doc.value == {}:  # an unanswered issue's comments: nothing to read, nothing wrong
            return Imported(notes=[Note(doc.where, "an empty JSON document: nothing to read")])
        fmt = self.json_format(doc.value)
        if fmt is None or fmt.parse_json is None:
            return Imported(errors=[self.unknown_shape(doc.path, doc.line)])
        if fmt.pooled:
            pool = self.pools.get(fmt.name)
            if pool is None:
                pool = self.pools[fmt.name] = fmt.pool() if fmt.pool else ListPool(fmt.parse_json)
            pool.add(Doc(doc.path, fmt.slim(doc.value), doc.line) if fmt.slim else doc)
            self.pooled += 1
            return Imported()
        return _alone(_safely(fmt, lambda: fmt.parse_json([doc]), doc.path), doc.digest)

    def json_lines(self, stream: _LineReader, path: str) -> Iterator[Imported]:
        """Each record's threads and notes as it is read (a dump is never held whole); the file's errors,
        in line order, and its repairs, after its last record."""
        errors: list[InputError] = []
        repaired = _Repairs()
        try:
            yield from self._json_lines(stream, path, errors, repaired)
        except _STREAM_ERRORS as exc:  # a truncated or corrupt stream: what was read before it is kept
            errors.append(InputError(path, f"the stream breaks off ({_reason(exc)}): the records before it kept"))
        notes = [surrogate_note(path, repaired.count, f"line {repaired.first}")] if repaired.count else []
        yield Imported(errors=errors, notes=notes)

    def _json_lines(
        self, stream: _LineReader, path: str, errors: list[InputError], repaired: _Repairs
    ) -> Iterator[Imported]:
        seen = read = 0
        for number, raw in _lines(stream):
            if len(errors) >= _MAX_BAD_LINES and not read:
                errors[:] = [InputError(path, f"not JSON Lines: none of the first {len(errors)} records reads")]
                break
            if raw is None:
                errors.append(InputError(path, f"line longer than {MAX_LINE_BYTES >> 20} MiB: skipped", number))
                continue
            try:
                text = raw.decode("utf-8").lstrip("\ufeff")
                if not text.strip():
                    continue
                seen += 1
                value, replaced = _parse_json(text, path, number)
                repaired.add(number, replaced)
            except UnicodeDecodeError as exc:
                seen += 1
                errors.append(InputError(path, f"not UTF-8 (bad byte at offset {exc.start}): skipped", number))
                continue
            except InputError as exc:
                errors.append(exc)
                continue
            read += 1
            piece = self.document(Doc(path, value, number, hashlib.sha256(raw.rstrip(b"\r\n")).hexdigest()))
            errors += piece.errors
            if piece.threads or piece.notes:
                yield Imported(threads=piece.threads, notes=piece.notes)
        if not seen:
            errors.append(InputError(path, "no records: every line is blank; put one JSON record per line"))

    # files -------------------------------------------------------------------------------------------------

    def tree(self, members: Members, path: str) -> Imported:
        fmt = _tree_format(members, self.options)
        if fmt is None or fmt.parse_members is None:
            names = ", ".join(f.name for f in self.formats if f.detect_members is not None)
            return Imported(errors=[InputError(path, f"an archive or folder that is no export we read ({names})")])
        return _safely(fmt, lambda: fmt.parse_members(members, path), path)

    def file(self, path: Path) -> Iterator[Imported]:
        """What one input file holds, in pieces: a JSON Lines file or a compressed dump record by record."""
        name = shown_path(path)
        if path.is_dir():
            yield self.tree(_directory_members(path), name)
            return
        try:
            with path.open("rb") as handle:
                head = handle.read(_SNIFF_BYTES)
                if zipfile.is_zipfile(handle):
                    yield self.zip_file(path)
                    return
                kind = _compression(head)
                if kind is not None:
                    handle.seek(0)
                    yield from self.compressed(_open_decompressed(handle, kind), path)
                    return
                wide = head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))  # UTF-16/32: decoded whole
                if path.suffix.lower() in _JSON_LINES_SUFFIXES and not self.options.format and not wide:
                    handle.seek(0)
                    yield from self.json_lines(handle, name)
                    return
                handle.seek(0)
                data = handle.read()
        except InputError as exc:
            yield Imported(errors=[exc])
            return
        except _STREAM_ERRORS as exc:
            yield Imported(
                errors=[InputError(name, f"cannot read: {_reason(exc)}; check the path and its permissions")]
            )
            return
        yield from self.whole_file(data, shown_path(path), path.suffix.lower())

    def compressed(self, stream: _LineReader, path: Path) -> Iterator[Imported]:
        """A dump is JSON Lines, streamed; anything else (a .mbox.gz, a pipermail .txt.gz) is read whole,
        within MAX_MEMBER_BYTES, as the file it decompresses to (named by the suffix under .gz)."""
        head = stream.peek(_SNIFF_BYTES)[:_SNIFF_BYTES]
        if head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"["):
            yield from self.json_lines(stream, shown_path(path))
            return
        data = stream.read(MAX_MEMBER_BYTES + 1)
        if len(data) > MAX_MEMBER_BYTES:
            too_big = f"expands past {MAX_MEMBER_BYTES >> 20} MiB and is not JSON Lines: refused"
            raise InputError(shown_path(path), too_big)
        yield from self.whole_file(data, shown_path(path), Path(path.stem).suffix.lower())

    def whole_file(self, data: bytes, name: str, suffix: str) -> Iterator[Imported]:
        for fmt in self.formats:
            if (
                fmt.detect_bytes is not None
                and fmt.parse_bytes is not None
                and fmt.detect_bytes(data[:_SNIFF_BYTES], suffix)
            ):
                found = _safely(fmt, lambda f=fmt: f.parse_bytes(data, name, self.options), name)
                yield _alone(found, hashlib.sha256(data).hexdigest())
                return
        try:
            text = decode(data, name)
        except InputError as exc:
            yield Imported(errors=[exc])
            return
        if not text.strip():
            yield Imported(
                errors=[InputError(name, "no text: the file is empty or whitespace only; add posts or leave it out")]
            )
            return
        if text.lstrip()[:1] not in ("{", "["):
            yield Imported(
                errors=[
                    InputError(
                        name,
                        f"unsupported file type {suffix or '(none)'}: not an export threadbrief reads "
                        "(see `threadbrief formats`); pass .txt or .md for plain text",
                    )
                ]
            )
            return
        try:
            value, replaced = _parse_json(text, name)
        except InputError as exc:
            if _first_line_is_json(text):  # JSON Lines under another name (dumps are often called .json)
                yield from self.json_lines(io.BufferedReader(io.BytesIO(text.encode("utf-8"))), name)
            else:
                yield Imported(errors=[exc])
            return
        piece = self.document(Doc(name, value, None, hashlib.sha256(data).hexdigest()))
        if replaced:
            piece.notes.append(surrogate_note(name, replaced, "this file"))
        yield piece

    def zip_file(self, path: Path) -> Imported:
        name = shown_path(path)
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            return Imported(errors=[InputError(name, f"not a readable zip archive ({exc})")])
        refused: list[InputError] = []
        infos: dict[str, zipfile.ZipInfo] = {}
        for info in archive.infolist():
            member = info.filename
            parts = PurePosixPath(member.replace("\\", "/")).parts
            if member.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", member) or ".." in parts:
                refused.append(InputError(f"{name}!{member}", "archive member with an absolute or '..' path: refused"))
                continue
            if not info.is_dir() and not any(p.startswith(".") or p == "__MACOSX" for p in parts):
                infos[member] = info

        # An export zipped with its folder ("Workspace export/users.json") reads like the folder's content.
        wrapper = os.path.commonprefix([m.split("/", 1)[0] + "/" for m in infos]) if infos else ""
        if not wrapper.endswith("/") or any("/" not in m for m in infos):
            wrapper = ""
        members = {m[len(wrapper) :]: info for m, info in infos.items()}

        def read(member: str) -> bytes:
            return _read_member(archive, members[member], f"{name}!{wrapper}{member}")

        with archive:
            found = self.tree(Members(sorted(members), read), name)
        found.errors[:0] = refused
        return found


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> bytes:
    """A member's bytes, refusing one that expands past MAX_MEMBER_BYTES or MAX_MEMBER_RATIO (a zip bomb),
    counted as it is read: the sizes in the archive's directory may lie."""
    limit = MAX_MEMBER_BYTES
    if info.compress_size:
        limit = min(limit, max(_RATIO_FLOOR, info.compress_size * MAX_MEMBER_RATIO))
    chunks: list[bytes] = []
    total = 0
    with archive.open(info) as member:
        while chunk := member.read(_READ_CHUNK):
            total += len(chunk)
            if total > limit:
                raise InputError(
                    where,
                    f"expands past {limit >> 20} MiB ({MAX_MEMBER_RATIO}× its compressed size at most): "
                    "refused as a likely zip bomb",
                )
            chunks.append(chunk)
    return b"".join(chunks)


def _alone(found: Imported, digest: str | None) -> Imported:
    """A file (or line) that holds one thread alone: the thread's input digest is that file's (line's)."""
    if len(found.threads) == 1 and digest is not None and found.threads[0].digest is None:
        found.threads[0].digest = digest
    return found


def _safely(fmt: Format, parse: Any, path: str) -> Imported:
    """An importer's result; a bug or a pathological input in it is that file's input error, not a crash."""
    try:
        found: Imported = parse()
        return found
    except (InputError, RecursionError, KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        return _failure(fmt, exc, path)


def _failure(fmt: Format, exc: Exception, path: str) -> Imported:
    if isinstance(exc, InputError):
        return Imported(errors=[exc])
    if isinstance(exc, RecursionError):
        return Imported(errors=[InputError(path, f"{fmt.name}: nested too deeply to read")])
    return Imported(
        errors=[InputError(path, f"cannot read as {fmt.name} ({type(exc).__name__}: {exc}); try another --format")]
    )


# --- checks every thread passes, whatever its format ----------------------------------------------------


def _canonical_digest(draft: DraftThread) -> str:
    body = {
        "id": draft.id,
        "title": draft.title,
        "posts": [{"id": p.id, "author": p.author, "parent_id": p.parent_id, "text": p.text} for p in draft.posts],
    }
    return hashlib.sha256(json.dumps(body, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


# A repair the checks made in one thread: (kind, how many, the first instance).
Repair = tuple[str, int, str]


def _unique_post_ids(posts: list[Post]) -> list[Repair]:
    seen: set[str] = set()
    repeated: list[str] = []
    for index, post in enumerate(posts, 1):
        if not post.id:
            post.id = f"p{index}"
        if post.id in seen:
            repeated.append(post.id)
            n = 2
            while f"{post.id}~{n}" in seen:
                n += 1
            post.id = f"{post.id}~{n}"
        seen.add(post.id)
    return [("repeated", len(repeated), repr(repeated[0]))] if repeated else []


def _check_reply_links(posts: list[Post]) -> list[Repair]:
    repairs: list[Repair] = []
    ids = {p.id for p in posts}
    dangling: list[tuple[str, str]] = []
    for post in posts:
        if post.parent_id is not None and (post.parent_id not in ids or post.parent_id == post.id):
            dangling.append((post.id, post.parent_id))
            post.parent_id = None
    if dangling:
        repairs.append(("dangling", len(dangling), f"post {dangling[0][0]!r} → {dangling[0][1]!r}"))
        prefixed = [parent for _, parent in dangling if re.match(r"^t\d_", parent) and parent[3:] in ids]
        if prefixed:
            repairs.append(("prefixed", len(prefixed), repr(prefixed[0])))
    # A reply cycle (a → b → a) has no opening post: cut it at the post that closes it.
    parent = {p.id: p.parent_id for p in posts}
    by_id = {p.id: p for p in posts}
    done: set[str] = set()
    cut: list[str] = []
    for post in posts:
        path: list[str] = []
        on_path: set[str] = set()
        node: str | None = post.id
        while node is not None and node not in done:
            if node in on_path:
                by_id[path[-1]].parent_id = None
                cut.append(path[-1])
                break
            on_path.add(node)
            path.append(node)
            node = parent[node]
        done.update(path)
    if cut:
        repairs.append(("cycle", len(cut), repr(cut[0])))
    return repairs


_REPAIR_NOTES = {
    "repeated": "{n} post id(s) appear more than once (first: {first}): each repeat kept as <id>~2, ...; replies "
    "to a repeated id go to its first post",
    "dangling": "{n} post(s) reply to a post that is not in the thread (first: {first}): their reply links were "
    "dropped",
    "prefixed": "{n} of those parent ids name a post once the Reddit type prefix 't1_'/'t3_' is removed (first: "
    "{first}): strip it in the converter",
    "cycle": "{n} reply cycle(s) cut (first at post {first}): a cycle has no opening post",
}


def _repair_notes(repairs: list[tuple[str, str, Repair]]) -> list[Note]:
    """(input, thread id, repair) → one note per input file and kind, however many threads it holds."""
    grouped: dict[tuple[str, str], list[tuple[str, str, Repair]]] = {}
    for where, thread, repair in repairs:
        grouped.setdefault((re.sub(r":\d+$", "", where), repair[0]), []).append((where, thread, repair))
    notes: list[Note] = []
    for (file, kind), group in grouped.items():
        first_where, first_thread, (_kind, _n, first) = group[0]
        reason = _REPAIR_NOTES[kind].format(n=sum(r[1] for _w, _t, r in group), first=first)
        if len(group) == 1:
            notes.append(Note(first_where, reason, first_thread))
        else:
            notes.append(Note(file, f"{reason} (in {len(group)} threads, first: {first_thread})"))
    return notes


def finish_thread(draft: DraftThread, digest: str) -> tuple[Thread, list[Repair]]:
    """A draft → a Thread the stages can trust: ids unique, reply links to posts of the thread, no cycle, the
    title as the first post (the opening post's thesis, quotable, by its author; by nobody known when the
    opening post is not in the input) unless the opening post already says it word for word (a link story's
    only text is its title) or the title is only a label (a chat channel's name); and the repairs made.
    Raises ``InputError`` for a thread with no text at all."""
    posts = [Post(p.id, p.author, p.parent_id, p.text) for p in draft.posts]
    if not any(p.text.strip() for p in posts):
        raise InputError(draft.where, "the thread has no post with text; give at least one post a text")
    repairs = _unique_post_ids(posts) + _check_reply_links(posts)
    title = draft.title
    if title and title.strip() and not draft.title_is_label and all(p.id != TITLE_POST_ID for p in posts):
        opening = next((p for p in posts if p.text.strip()), posts[0])
        # Folding cannot make a text much longer or shorter: only a text of about the title's length can match.
        if len(opening.text) > 2 * len(title) + 40 or fold(opening.text) != fold(title):
            author = posts[0].author if draft.has_opening_post else None
            posts.insert(0, Post(id=TITLE_POST_ID, author=author, parent_id=None, text=title))
    thread = Thread(id=draft.id, title=title, source=draft.source, input_path=draft.where, sha256=digest, posts=posts)
    return thread, repairs


def thread_from_object(obj: Any, *, path: str, default_id: str, digest: str) -> Thread:
    """A thread JSON object → Thread, checked as a loaded file is (for threads built in memory)."""
    return finish_thread(native.thread_from_object(obj, path=path, default_id=default_id), digest)[0]


def thread_json(thread: Thread) -> dict[str, Any]:
    """A loaded thread as thread JSON (``schemas/thread.schema.json``), what ``threadbrief import`` writes:
    loading it again gives the same posts (the title post the loader inserted is left out; it is inserted
    again on load)."""
    posts = thread.posts
    if len(posts) > 1 and posts[0].id == TITLE_POST_ID and posts[0].text == thread.title:
        posts = posts[1:]
    return {
        "id": thread.id,
        "title": thread.title,
        "source": thread.source,
        "posts": [{"id": p.id, "author": p.author, "parent_id": p.parent_id, "text": p.text} for p in posts],
    }


class InputStream:
    """The threads of the inputs, loaded one at a time: iterate it (as often as needed: each pass reads the
    inputs again, and yields the same threads, ids and all). Held meanwhile: the ids given so far (each id
    unique across the run), the errors and the notes; never the threads. ``errors`` and ``notes`` are those
    of the last pass, complete once it has ended.
    With ``keep_pools`` (a caller that makes several passes, and then calls ``close``), what the first pass
    spilled is kept for the next: a file whose every document went to a pool (a dump, regrouped on disk) is
    not read again, its notes and errors are repeated, and the pools build their threads again from the spill.
    Where a file fed a pool and also gave threads of its own, every pass reads everything again."""

    def __init__(
        self, paths: Iterable[Path], options: ImportOptions | None = None, *, keep_pools: bool = False
    ) -> None:
        self.paths = list(paths)
        self.options = options or ImportOptions()
        self.errors: list[InputError] = []
        self.notes: list[Note] = []
        self.keep_pools = keep_pools
        self._kept: _Reader | None = None  # the first pass's reader, its pools filled
        self._pooled_files: dict[Path, Imported] = {}  # file → its notes and errors, for a kept reader

    def close(self) -> None:
        """Remove what ``keep_pools`` kept (the pools' spill files)."""
        if self._kept is not None:
            self._kept.close()
            self._kept = None

    def __iter__(self) -> Iterator[Thread]:
        if self._kept is not None:
            yield from self._pass(self._kept)
            return
        reader = _Reader(self.options)
        try:
            yield from self._pass(reader)
        except BaseException:
            reader.close()
            raise
        if self.keep_pools and reader.pools:
            self._kept = reader
        else:
            reader.close()

    def _pass(self, reader: _Reader) -> Iterator[Thread]:
        read_errors: list[InputError] = []
        thread_errors: list[InputError] = []
        notes: list[Note] = []
        renamed: dict[str, str] = {}  # an importer's id → the id its first thread is written under, where they differ
        taken: dict[str, bool] = {}  # the ids given → whether their thread had that id already
        repairs: list[tuple[str, str, Repair]] = []
        for piece in self._pieces(reader):
            notes += piece.notes
            read_errors += piece.errors
            for draft in piece.threads:
                try:
                    thread, made = finish_thread(draft, draft.digest or _canonical_digest(draft))
                except InputError as exc:
                    thread_errors.append(exc)
                    continue
                _give_unique_id(thread, taken, renamed)
                repairs += [(draft.where, thread.id, repair) for repair in made]
                yield thread
        self.errors = read_errors + thread_errors
        # Importers name threads by the ids they gave; say the ids the threads are written under.
        self.notes = [Note(n.where, n.reason, renamed.get(n.thread, n.thread)) if n.thread else n for n in notes]
        self.notes += _repair_notes(repairs)

    def _pieces(self, reader: _Reader) -> Iterator[Imported]:
        """Every file's pieces in turn, then what the pooled formats built from their documents. With a kept
        reader the pools are full from a first pass, and the files that only fed them are not read again."""
        reread = reader is not self._kept
        if reread and self.keep_pools:
            self._pooled_files = {}  # what an abandoned pass left
        for path in discover(self.paths, reader.options):
            if not reread and path in self._pooled_files:
                yield self._pooled_files[path]
                continue
            if not (reread and self.keep_pools):
                yield from reader.file(path)
                continue
            pooled, gave_threads, said = reader.pooled, False, Imported()
            for piece in reader.file(path):
                gave_threads = gave_threads or bool(piece.threads)
                said.notes += piece.notes
                said.errors += piece.errors
                yield piece
            if reader.pooled > pooled:
                if gave_threads:  # it fed a pool and gave threads: a next pass would feed the pool twice
                    self.keep_pools = False
                else:
                    self._pooled_files[path] = said
        for name, pool in reader.pools.items():
            yield from _safely_each(format_named(name), pool.threads(), pool.first_path)


def _give_unique_id(thread: Thread, taken: dict[str, bool], renamed: dict[str, str]) -> None:
    """A safe id, unique in the run: a repeated one gets -2, -3, ... ``renamed`` maps an importer's id to
    the id of the first thread that had it, as notes name threads by it (only where the two differ: a
    thread whose id was kept needs no entry)."""
    original = thread.id
    base = safe_thread_id(original)
    unique, n = base, 1
    while unique in taken:
        n += 1
        unique = f"{base}-{n}"
    if unique != original:
        thread.renamed_from = original
        if not taken.get(original, False):  # else an earlier thread of this id kept it: notes name that one
            renamed.setdefault(original, unique)
    taken[unique] = unique == original
    thread.id = unique


def _safely_each(fmt: Format, pieces: Iterator[Imported], path: str) -> Iterator[Imported]:
    """``_safely`` for an importer that yields its threads one at a time: what it yielded before a bug or a
    pathological input is kept, and the failure is that input's error."""
    try:
        yield from pieces
    except (InputError, RecursionError, KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        yield _failure(fmt, exc, path)


def load_inputs(paths: Iterable[Path], options: ImportOptions | None = None) -> Loaded:
    """All input paths → threads with safe, unique ids (a repeated id gets -2, -3, ...), notes and errors,
    held in memory together (``InputStream`` yields them one at a time)."""
    stream = InputStream(paths, options)
    threads = list(stream)
    return Loaded(threads=threads, errors=stream.errors, notes=stream.notes)
