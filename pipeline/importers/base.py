"""What every importer shares: the shapes it returns and the description of a format.

An importer is a pure function from parsed input to threads: it never opens a file (the loader reads
files, archives and compressed streams, and hands it parsed JSON documents, raw bytes or a mapping of an
export's member names to their bytes). It returns ``Imported``: the threads it could build, a ``Note`` for
everything it had to repair or leave out (a reply to a post that is not in the export, a bot message, a
repeated id), and an ``InputError`` for each part it could not read at all. What can be kept is kept.

Post text is what the platform stores: Markdown stays as written, HTML goes through ``html_to_text``.
Reply links use the platform's own ids with any type prefix removed (Reddit's ``t1_``); the loader
checks them (unique ids, parents that exist, no cycles) and adds the title post, so importers do not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import InputError
from ..models import Post

# A JSON \u escape of a UTF-16 surrogate (\ud800-\udfff): json.loads joins a high and a low one into their
# character, and leaves a lone one (half a character: an emoji cut by a length limit, common in Reddit dumps)
# in the string, where it cannot be written as UTF-8.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def loads_repaired(text: str) -> tuple[Any, int]:
    """``json.loads(text)``, with each lone surrogate left by a ``\\u`` escape replaced by U+FFFD, and how many
    were replaced (0 at the cost of one regex search when the text escapes no surrogate). Raises what
    ``json.loads`` raises."""
    value = json.loads(text)
    if not _SURROGATE_ESCAPE.search(text):
        return value, 0
    replaced = 0

    def clean(string: str) -> str:
        nonlocal replaced
        string, n = _LONE_SURROGATE.subn(REPLACEMENT, string)
        replaced += n
        return string

    if isinstance(value, str):
        return clean(value), replaced
    stack: list[Any] = [value]
    while stack:  # an explicit stack: a document nested thousands deep is read without recursion
        node = stack.pop()
        if isinstance(node, dict):
            for key in list(node):
                item = node[key]
                if _LONE_SURROGATE.search(key):
                    del node[key]
                    key = clean(key)
                if isinstance(item, str):
                    item = clean(item)
                elif isinstance(item, (dict, list)):
                    stack.append(item)
                node[key] = item
        elif isinstance(node, list):
            for index, item in enumerate(node):
                if isinstance(item, str):
                    node[index] = clean(item)
                elif isinstance(item, (dict, list)):
                    stack.append(item)
    return value, replaced


def surrogate_note(where: str, replaced: int, first: str) -> Note:
    """The note for ``replaced`` lone surrogates in ``where`` (first in ``first``)."""
    return Note(
        where,
        f"{replaced} lone UTF-16 surrogate(s) (half of a character, such as an emoji cut off; first in {first}) "
        "replaced with U+FFFD",
    )


@dataclass(frozen=True)
class Doc:
    """One parsed JSON document: a whole file, one line of a JSON Lines file, or one archive member."""

    path: str  # the file, or "archive.zip!member"
    value: Any
    line: int | None = None  # its line in a JSON Lines file
    digest: str | None = None  # sha256 of the bytes it was parsed from (the loader's business)

    @property
    def where(self) -> str:
        """What a message names: "path" or "path:line"."""
        return self.path if self.line is None else f"{self.path}:{self.line}"


@dataclass
class DraftThread:
    """A thread as an importer read it, before the loader's checks (ids, reply links, title post)."""

    id: str
    title: str | None
    source: str | None  # URL of the thread when the export says it, else None
    posts: list[Post]
    where: str  # the file (and item) it came from
    digest: str | None = None  # set by the loader: sha256 of the file or line that held this thread alone
    # Whether posts[0] is the thread's opening post, whose author wrote the title (False: a dump without its
    # submission, comments without their issue): the title post then has no author rather than a wrong one.
    has_opening_post: bool = True
    # A title that names a place (a chat channel: "#general"), not the opening post's thesis: no title post.
    title_is_label: bool = False


@dataclass(frozen=True)
class Note:
    """Something an importer or the loader repaired or left out; the thread still runs."""

    where: str
    reason: str
    thread: str | None = None


@dataclass
class Imported:
    threads: list[DraftThread] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)

    def add(self, other: Imported) -> None:
        self.threads += other.threads
        self.notes += other.notes
        self.errors += other.errors


@dataclass(frozen=True)
class ImportOptions:
    """What the user said about the input: ``--format`` and ``--columns``."""

    format: str | None = None
    columns: Mapping[str, str] | None = None  # CSV: our field name (id, parent, author, text, thread, title) → column


class Members(Mapping[str, bytes]):
    """An export that is a tree of files (a Slack export, a maildir), zipped or not: member name → bytes.

    Names use ``/`` and are relative to the export's root. The loader provides it and reads a member only
    when it is asked for, within its size limits (``InputError`` past them)."""

    def __init__(self, names: list[str], read: Callable[[str], bytes]) -> None:
        self._names = names
        self._read = read

    def __getitem__(self, name: str) -> bytes:
        if name not in self._names:
            raise KeyError(name)
        return self._read(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._names


@dataclass(frozen=True)
class Format:
    """One input format. Exactly one of the three pairs is set:

    - ``detect_json`` / ``parse_json``: a JSON document (a file, a JSON Lines line, an archive member).
      ``pooled`` formats get every document of theirs in the run at once (dumps that spread one thread over
      many lines or files); the others get one document per call. ``slim`` keeps only what ``parse_json``
      needs of a document. A pooled format with a ``pool`` has its documents handed to that as they are
      read (one that spills them to disk and builds one thread at a time: a dump of any size), else they
      are gathered in a list for one ``parse_json`` call.
    - ``detect_bytes`` / ``parse_bytes``: a file's bytes (mbox, CSV, plain text); detect sees the first
      bytes and the lowercase suffix.
    - ``detect_members`` / ``parse_members``: a tree of files (a .zip or a directory).
    """

    name: str  # what --format takes
    title: str  # one line for `threadbrief formats`
    obtain: str  # how to get the export
    kept: str  # what becomes of it: posts, authors, reply links, what is left out
    detect_json: Callable[[Any], bool] | None = None
    parse_json: Callable[[list[Doc]], Imported] | None = None
    pooled: bool = False
    slim: Callable[[Any], Any] | None = None
    pool: Callable[[], DocPool] | None = None
    detect_bytes: Callable[[bytes, str], bool] | None = None
    parse_bytes: Callable[[bytes, str, ImportOptions], Imported] | None = None
    detect_members: Callable[[Members], bool] | None = None
    parse_members: Callable[[Members, str], Imported] | None = None


class DocPool(Protocol):
    """A pooled format's documents of one run: added as they are read, then read back as threads. ``threads``
    may be called again (a run's second pass reuses the pool) and must yield the same threads and notes."""

    first_path: str  # the file of the first document: what a failure of the whole pool names

    def add(self, doc: Doc) -> None: ...

    def threads(self) -> Iterator[Imported]: ...

    def close(self) -> None: ...


def through_pool(pool: DocPool, docs: list[Doc]) -> Imported:
    """``docs`` in memory through ``pool`` (what the loader does as it reads them), for a list at hand."""
    found = Imported()
    try:
        for doc in docs:
            pool.add(doc)
        for piece in pool.threads():
            found.add(piece)
    finally:
        pool.close()
    return found


class ListPool:
    """The documents in a list, for the format's one ``parse_json`` call (formats whose exports are small)."""

    def __init__(self, parse: Callable[[list[Doc]], Imported] | None) -> None:
        self.parse = parse
        self.docs: list[Doc] = []
        self.first_path = ""

    def add(self, doc: Doc) -> None:
        self.first_path = self.first_path or doc.path
        self.docs.append(doc)

    def threads(self) -> Iterator[Imported]:
        if self.parse is not None and self.docs:
            yield self.parse(self.docs)

    def close(self) -> None:
        self.docs = []


def each_document(docs: list[Doc], read: Callable[[Doc], Imported]) -> Imported:
    """Documents read one at a time: one that cannot be read is its input error, the others are kept."""
    found = Imported()
    for doc in docs:
        try:
            found.add(read(doc))
        except InputError as exc:
            found.errors.append(exc)
    return found


def text_of(value: Any) -> str:
    """A platform field that should hold text: None, numbers and other shapes become "" or their str."""
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def id_of(value: Any) -> str | None:
    """A platform id as our string id (ints included); None for a missing or empty one."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    return text or None
