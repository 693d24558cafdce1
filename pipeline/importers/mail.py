"""Mailing lists: mbox files and maildir folders → one thread per conversation.

Input: an mbox file's bytes (any suffix: ``.mbox``, none, a Mailman ``2024-January.txt``; messages split at
``From `` lines, ``>From `` unescaped as mboxrd writes it), a single RFC 822 message (``.eml``), or a
maildir's ``cur/`` and ``new/`` members. Each message is parsed with the stdlib (``email`` with its compat32
policy, headers read raw); nothing is fetched and nothing touches the filesystem.

Output: threads grouped by ``Message-ID`` / ``In-Reply-To`` / ``References``. A message's parent is its
``In-Reply-To`` when that message is in the input, else the last ``References`` id that is; a message whose
parent is missing keeps that id as its parent (the loader drops the link and says so) and joins the other
messages of the same first ``References`` id. A reply with no threading header at all joins the one thread
with the same subject (reply link unknown). Thread id ``mail-<root Message-ID>`` (folder-safe), title the root's subject
without ``Re:`` / ``[list]`` prefixes, posts ordered by date then arrival (the root first). Post id: the
Message-ID (``m<n>``, the n-th message, when it has none); author: the ``From`` display name, else the
address's local part (addresses are personal data: never the whole address). Text: the text/plain part
(else the HTML one through ``html_to_text``) decoded with its charset, format=flowed joined, then cleaned by
small pure functions, in order: signature and list footer cut (``cut_signature``), inline patches replaced
by one ``[patch not shown: N lines]`` line (``replace_patches``), reply attributions ("On ..., X wrote:")
dropped (``drop_attributions``; quoted ``>`` lines stay), hard-wrapped lines re-flowed (``reflow``).

Failure modes: a message with no mail header at all is an ``InputError`` for that message (the others are
kept); everything repaired or left out (no Message-ID, no text part, unknown charset, cleaned text, tmp/
files of a maildir) is one ``Note`` per file and kind.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timezone
from email import policy
from email.errors import HeaderParseError, MessageError
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser
from email.utils import collapse_rfc2231_value, parseaddr, parsedate_to_datetime

from ..errors import InputError
from ..models import Post
from .base import DraftThread, Format, Imported, ImportOptions, Members, Note
from .html import html_to_text

PATCH_MARKER = "[patch not shown: {} lines]"
_MAILDIR_FOLDERS = ("cur/", "new/")
_MAILDIR_FILES = ("maildirfolder", "dovecot", "courier", "subscriptions")  # index files a server keeps beside them

# --- detection ------------------------------------------------------------------------------------------

_HEADER = re.compile(rb"^[!-9;-~]+:")  # an RFC 5322 field name (printable, no colon, no space) and a colon
_KNOWN_HEADERS = frozenset(
    b"from to cc date subject message-id received return-path mime-version delivered-to in-reply-to references "
    b"reply-to sender content-type list-id x-mailer user-agent".split()
)
_TRANSPORT_HEADERS = frozenset(b"from received return-path delivered-to message-id".split())
# The classic mbox separator: "From sender Tue Jan  2 10:00:00 2024" (pipermail: "From a at b.org  Tue ...").
# Needed where a separator does not follow a blank line (sloppy concatenations); after a blank line any
# "From " line followed by a header splits.
_CLASSIC_FROM = re.compile(rb"^From [^\n]*?\s(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) \w{3} [ \d]?\d \d\d?:\d\d")
_FROM_LINE = re.compile(rb"^From [^\n]*\n", re.MULTILINE)
_MBOXRD_ESCAPE = re.compile(rb"^>(>*From )", re.MULTILINE)


def _header_names(lines: list[bytes]) -> set[bytes] | None:
    """The field names of a header block, or None if a line of it is not a header (nor a folded one)."""
    names: set[bytes] = set()
    for line in lines:
        line = line.rstrip(b"\r")
        if not line:
            break
        if line[:1] in (b" ", b"\t") and names:
            continue
        if not _HEADER.match(line):
            return None
        names.add(line.split(b":", 1)[0].lower())
    return names


def detect_mail(head: bytes, _suffix: str) -> bool:
    """An mbox (a ``From `` line, then mail headers) or one message (a header block with Received, From and
    the like), whatever the suffix: ``2024-January.txt`` is an mbox. Plain prose starting with "From ..." is
    not one: its next line is no header."""
    # ``_suffix`` is unused on purpose: detect_bytes formats are called with (head, suffix).
    lines = head.lstrip(b"\xef\xbb\xbf\r\n").split(b"\n")
    if len(lines) < 2:
        return False
    if lines[0].startswith(b"From "):
        names = _header_names(lines[1:])
        if names is None:
            return False
        known = len(names & _KNOWN_HEADERS)
        return (known >= 3 and bool(names & _TRANSPORT_HEADERS)) or (known >= 2 and bool(_CLASSIC_FROM.match(lines[0])))
    # A message's header block can outgrow the sniffed bytes (long Received chains): From may come later.
    names = _header_names(lines[:-1] if len(head) >= 8192 else lines)
    return names is not None and len(names & _KNOWN_HEADERS) >= 3 and bool(names & _TRANSPORT_HEADERS)


def detect_maildir(members: Members) -> bool:
    """A maildir: ``cur/`` and/or ``new/`` (and ``tmp/``) and nothing else but a mail server's index files."""
    names = list(members)
    if not any(name in _MAILDIR_FOLDERS for name in names):
        return False
    return all(name in (*_MAILDIR_FOLDERS, "tmp/") or name.startswith(_MAILDIR_FILES) for name in names)


# --- splitting an mbox ----------------------------------------------------------------------------------


def _after_blank_line(data: bytes, start: int) -> bool:
    if start == 0:
        return True
    end = start - 1  # the newline ending the previous line
    begin = data.rfind(b"\n", 0, end) + 1
    return not data[begin:end].strip()


def split_mbox(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(line number of its ``From `` line, message bytes) for each message of an mbox, ``>From`` unescaped.

    A separator is a ``From `` line followed by a header line, after a blank line (or the classic
    ``From sender date`` shape anywhere); a body line "From ..." is therefore not one. Data that does not
    start with a separator is one message (an .eml)."""
    starts: list[tuple[int, int]] = []  # (separator start, message start)
    for match in _FROM_LINE.finditer(data):
        start, body = match.start(), match.end()
        if not _HEADER.match(data[body : body + 80]):
            continue
        if _after_blank_line(data, start) or _CLASSIC_FROM.match(data, start):
            starts.append((start, body))
    if not starts or data[: starts[0][0]].strip():
        starts.insert(0, (0, 0))
    line = 1
    position = 0
    for index, (start, body) in enumerate(starts):
        line += data.count(b"\n", position, start)
        position = start
        end = starts[index + 1][0] if index + 1 < len(starts) else len(data)
        yield line, _MBOXRD_ESCAPE.sub(rb"\1", data[body:end])


# --- headers --------------------------------------------------------------------------------------------

_ANGLE_ID = re.compile(r"<([^<>]+)>")
_FOLD = re.compile(r"\r?\n[ \t]+")
_SPACES = re.compile(r"\s+")


_WANTED = frozenset({"from", "date", "subject", "message-id", "in-reply-to", "references", "list-id", "archived-at"})


def raw_headers(msg: Message) -> dict[str, str]:
    """The headers we read, unparsed (the stdlib's structured parsers mangle pipermail's "a at b (Name)"),
    unfolded; the first of a repeated one. 8-bit bytes in a header (kept as surrogates) are read as UTF-8,
    else cp1252."""
    found: dict[str, str] = {}
    for key, value in msg.raw_items():
        name = key.lower()
        if name not in _WANTED or name in found:
            continue
        value = str(value)
        if not value.isascii() and any("\udc80" <= ch <= "\udcff" for ch in value):
            raw = value.encode("utf-8", "surrogateescape")
            try:
                value = raw.decode("utf-8")
            except UnicodeDecodeError:
                value = raw.decode("cp1252", errors="replace")
        found[name] = _FOLD.sub(" ", value).strip()
    return found


def _decoded(value: str) -> str:
    """RFC 2047 encoded words decoded; the value as it is when they are broken."""
    try:
        return str(make_header(decode_header(value)))
    except (HeaderParseError, LookupError, UnicodeError, ValueError):
        return value


def _ids(value: str | None) -> list[str]:
    """Message ids in a header value, without angle brackets; a bare id (no brackets) when that is all."""
    if not value:
        return []
    found = [_SPACES.sub("", m) for m in _ANGLE_ID.findall(value)]
    if found:
        return [f for f in found if f]
    bare = value.split()
    return [bare[0]] if len(bare) == 1 and "@" in bare[0] else []


def author_of(value: str | None) -> str | None:
    """The From display name; else the address's local part. Never the whole address (personal data)."""
    if not value:
        return None
    name, address = parseaddr(value)
    name = _SPACES.sub(" ", _decoded(name)).strip().strip("'\"")
    if name:
        return name.split("@", 1)[0] if "@" in name else name
    local = address.split("@", 1)[0].strip()
    return local or None


_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|aw|sv|vs|antw|odp|fwd?|tr)(?:\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_LEADING_TAG = re.compile(r"^\s*\[([^\]]*)\]\s*")


def clean_subject(subject: str, list_names: frozenset[str] = frozenset()) -> str:
    """A subject without its reply prefixes (Re:, Fwd:, ...) and mailing-list tags ([qemu-devel]).

    A list tag is one naming a list of the input (List-Id) or a single hyphenated word ("[Qemu-block]");
    tags that say what the message is ("[PATCH v4 0/2]", "[RFC]", "[ANNOUNCE]") stay."""
    text = _SPACES.sub(" ", subject).strip()
    while True:
        before = text
        text = _REPLY_PREFIX.sub("", text)
        tag = _LEADING_TAG.match(text)
        if tag:
            word = tag.group(1).strip()
            folded = word.casefold()
            is_list = folded in list_names or (
                re.fullmatch(r"[\w.]+-[\w.-]+", word) is not None and not re.search(r"patch|rfc|pull", folded)
            )
            if is_list:
                text = text[tag.end() :]
        if text == before:
            return text.strip()


def _list_names(value: str | None) -> set[str]:
    """The list names a List-Id header gives ("<qemu-devel.nongnu.org>" → "qemu-devel")."""
    return {ident.split(".", 1)[0].casefold() for ident in _ids(value)}


def _timestamp(value: str | None) -> float | None:
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        return moment.timestamp()
    except (OverflowError, OSError, ValueError):
        return None


# --- body -----------------------------------------------------------------------------------------------


def _decode_payload(payload: bytes, charset: str | None) -> tuple[str, str | None]:
    """(text, the charset name when it is unknown). An ASCII or missing label often hides UTF-8 or cp1252."""
    label = (charset or "").strip().strip("\"'").lower()
    if label in ("", "us-ascii", "ascii", "unknown-8bit", "x-unknown"):
        try:
            return payload.decode("utf-8"), None
        except UnicodeDecodeError:
            return payload.decode("cp1252", errors="replace"), None
    try:
        codecs.lookup(label)
    except LookupError:
        return payload.decode("utf-8", errors="replace"), label[:40]
    return payload.decode(label, errors="replace"), None


def _param(part: Message, name: str) -> str:
    value = part.get_param(name, "")
    if isinstance(value, tuple):
        value = collapse_rfc2231_value(value)
    return str(value).strip().lower()


def text_part(msg: Message) -> Message | None:
    """The message's body part, as ``EmailMessage.get_body`` finds it: the first text/plain part that is no
    attachment, else the first such text/html one. A forwarded message (message/rfc822) is not this one's
    body. Iterative: MIME trees can nest deeply."""
    html: Message | None = None
    stack = [msg]
    while stack:
        part = stack.pop()
        if part.get_content_maintype() == "message":
            continue
        if part.is_multipart():
            children = part.get_payload()
            stack.extend(
                reversed([c for c in children if isinstance(c, Message)] if isinstance(children, list) else [])
            )
            continue
        if part.get_content_disposition() == "attachment":
            continue
        kind = part.get_content_type()
        if kind == "text/plain":
            return part
        if kind == "text/html" and html is None:
            html = part
    return html


def unflow(text: str, delsp: bool = False) -> str:
    """A format=flowed body (RFC 3676) as its logical lines: a line ending in a space goes on with the next
    line of the same quote depth; space-stuffing is removed; ``DelSp=yes`` drops the soft break's space."""
    out: list[str] = []
    current: str | None = None
    current_depth = 0
    for raw in text.split("\n"):
        depth = len(raw) - len(raw.lstrip(">"))
        content = raw[depth:]
        if content.startswith(" "):
            content = content[1:]
        # Improperly flowed (the depth changes), or the signature line, which always starts a line: the
        # paragraph ends.
        if current is not None and (depth != current_depth or content == "-- "):
            out.append(quote_prefixed(current_depth, current))
            current = None
        soft = content.endswith(" ") and content != "-- "
        if soft and delsp:
            content = content[:-1]
        current = content if current is None else current + content
        current_depth = depth
        if not soft:
            out.append(quote_prefixed(depth, current))
            current = None
    if current is not None:
        out.append(quote_prefixed(current_depth, current))
    return "\n".join(out)


@dataclass
class _Body:
    text: str
    final_lines: bool  # format=flowed or HTML: each line is as the author meant it, nothing to re-flow
    unknown_charset: str | None = None
    found: bool = True


def body_of(msg: Message) -> _Body:
    """The message's text (its text/plain part, else its HTML one as text), decoded with its charset."""
    part = text_part(msg)
    payload = part.get_payload(decode=True) if part is not None else None
    if part is None or not isinstance(payload, bytes):
        return _Body("", True, found=False)
    text, unknown = _decode_payload(payload, part.get_content_charset())
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if part.get_content_subtype() == "html":
        return _Body(html_to_text(text), True, unknown)
    if _param(part, "format") == "flowed":
        return _Body(unflow(text, delsp=_param(part, "delsp") == "yes"), True, unknown)
    return _Body(text, False, unknown)


# --- cleaning: small pure functions, applied in this order ----------------------------------------------

_QUOTE = re.compile(r"^[ \t]?((?:>[ \t]?)+)")
_SIGNATURE = frozenset({"-- ", "--"})
_RULE = re.compile(r"^(?:_{10,}|-{10,}|={10,})\s*$")
_FOOTER_WORDS = re.compile(
    r"mailing list|listinfo|unsubscribe|mailman|you received this message|list archive|list-help", re.IGNORECASE
)
_NEXT_PART = re.compile(r"^-{5,} ?next part ?-{5,}\s*$", re.IGNORECASE)  # Mailman: a scrubbed attachment follows


def quote_depth(line: str) -> tuple[int, str]:
    """(number of ``>`` marks, the text after them)."""
    match = _QUOTE.match(line)
    if not match:
        return 0, line
    return match.group(1).count(">"), line[match.end() :]


def quote_prefixed(depth: int, content: str) -> str:
    if not depth:
        return content
    prefix = " ".join(">" * depth)
    return f"{prefix} {content}" if content else prefix


def _ends_here(lines: list[str], index: int, content: str) -> str | None:
    """Whether a signature ("signature") or a list footer ("footer") starts at this line of ``lines``."""
    if content in _SIGNATURE:
        return "signature"
    if _NEXT_PART.match(content) or (
        _RULE.match(content) and any(_FOOTER_WORDS.search(nxt) for nxt in lines[index + 1 : index + 5])
    ):
        return "footer"
    return None


def cut_signature(text: str) -> tuple[str, list[str]]:
    """Text without its signature (from a ``-- `` or ``--`` line to the end) or list footer (a rule line
    followed by list information, or Mailman's "next part" notice of a scrubbed attachment), and without the
    quoted parents' signatures and footers (to the end of their quote). Returns (text, what was cut: a list
    of "signature", "footer", "quoted signature")."""
    lines = text.split("\n")
    kept: list[str] = []
    cut: list[str] = []
    skip_depth: int | None = None  # inside a quoted signature of this depth
    for index, line in enumerate(lines):
        depth, content = quote_depth(line)
        if skip_depth is not None and depth >= skip_depth:
            continue
        skip_depth = None
        kind = _ends_here(lines, index, content)
        if kind is not None and not depth:
            cut.append(kind)
            break
        if kind is not None:
            cut.append("quoted signature")
            skip_depth = depth
            continue
        kept.append(line)
    return ("\n".join(kept).rstrip() if cut else text), cut


def trim_quote_edges(text: str) -> str:
    """Empty quote lines (a bare ``>``) at the start or end of a quote dropped: they only frame it. Inside a
    quote, a run of them is one line, as blank lines are outside quotes."""
    lines = text.split("\n")
    depths = [quote_depth(line) for line in lines]
    kept = []
    index = 0
    while index < len(lines):
        depth, content = depths[index]
        if not depth or content.strip():
            kept.append(lines[index])
            index += 1
            continue
        end = index  # the run of empty quote lines of this depth
        while end < len(lines) and depths[end][0] == depth and not depths[end][1].strip():
            end += 1
        before = depths[index - 1][0] if index else 0
        after = depths[end][0] if end < len(lines) else 0
        if before >= depth and after >= depth:
            kept.append(lines[index])
        index = end
    return "\n".join(kept)


_DIFF_START = re.compile(r"^(?:diff (?:--git|-[a-zA-Z]+) \S|Index: \S)")
_DIFF_LINE = re.compile(
    r"^(?:diff |index |Index: |={20,}|--- |\+\+\+ |@@ |[ +\-\\]|new file mode|deleted file mode|old mode|new mode|"
    r"(?:dis)?similarity index|rename (?:from|to) |copy (?:from|to) |Binary files |GIT binary patch|"
    r"(?:literal|delta) \d)"
)
_BASE85_LINE = re.compile(r"^[A-Za-z][0-9A-Za-z!#$%&()*+;<=>?@^_`{|}~-]+$")  # a GIT binary patch's data
_DIFFSTAT_LINE = re.compile(r"^ ?\S.*\|\s+(?:\d+ ?[+-]*|Bin(?: \d+ -> \d+ bytes)?)\s*$")
_DIFFSTAT_SUMMARY = re.compile(r"^ ?\d+ files? changed")
_SCISSORS_LOOKAHEAD = 60  # lines between a "---" and its diffstat's summary (patch notes may come between)


def _diff_end(lines: list[str], index: int) -> int:
    """The end of the diff text starting at ``index``: diff lines, and blank lines that more diff follows."""
    binary = False
    while index < len(lines):
        line = lines[index]
        if not line.strip():
            ahead = index + 1
            while ahead < len(lines) and not lines[ahead].strip():
                ahead += 1
            if ahead < len(lines) and (_DIFF_LINE.match(lines[ahead]) or _DIFFSTAT_SUMMARY.match(lines[ahead])):
                index = ahead
                continue
            return index
        if line.startswith("GIT binary patch"):
            binary = True
        if _DIFF_LINE.match(line) or _DIFFSTAT_SUMMARY.match(line) or (binary and _BASE85_LINE.match(line)):
            index += 1
            continue
        return index
    return index


def _patch_at(lines: list[str], index: int) -> int | None:
    """Where a patch starting at ``index`` ends, or None when none starts there: a ``---`` line before a
    diffstat, a diffstat, ``diff --git`` / ``Index:`` or a ``--- a/`` line followed by ``+++ b/``."""
    line = lines[index]
    nxt = lines[index + 1] if index + 1 < len(lines) else ""
    if line.rstrip() == "---":
        for ahead in range(index + 1, min(len(lines), index + 1 + _SCISSORS_LOOKAHEAD)):
            if _DIFFSTAT_SUMMARY.match(lines[ahead]):
                return _diff_end(lines, ahead + 1)
        return None
    if _DIFFSTAT_LINE.match(line):
        ahead = index
        while ahead < len(lines) and _DIFFSTAT_LINE.match(lines[ahead]):
            ahead += 1
        if ahead < len(lines) and _DIFFSTAT_SUMMARY.match(lines[ahead]):
            return _diff_end(lines, ahead + 1)
        return None
    if _DIFF_START.match(line) or (line.startswith("--- ") and nxt.startswith("+++ ")):
        return _diff_end(lines, index + 1)
    return None


def _depth_runs(lines: list[str]) -> Iterator[tuple[int, int, int]]:
    """(depth, start, end) of each run of consecutive lines at the same quote depth."""
    start = 0
    for index in range(1, len(lines) + 1):
        if index == len(lines) or quote_depth(lines[index])[0] != quote_depth(lines[start])[0]:
            yield quote_depth(lines[start])[0], start, index
            start = index


def replace_patches(text: str) -> tuple[str, int, int]:
    """Inline patches (quoted ones too, at their quote depth) replaced by one ``[patch not shown: N lines]``
    line: they are neither prose nor claims. Returns (text, patches replaced, lines replaced)."""
    lines = text.split("\n")
    out: list[str] = []
    patches = replaced = 0
    for depth, start, end in _depth_runs(lines):
        run = lines[start:end]
        contents = [quote_depth(line)[1] if depth else line for line in run]
        index = 0
        while index < len(run):
            patch_end = _patch_at(contents, index)
            if patch_end is None or patch_end <= index:
                out.append(run[index])
                index += 1
                continue
            count = patch_end - index
            patches += 1
            replaced += count
            if not depth and out and out[-1].strip():
                out.append("")  # the marker is a paragraph of its own
            out.append(quote_prefixed(depth, PATCH_MARKER.format(count)))
            if not depth and patch_end < len(run) and run[patch_end].strip():
                out.append("")
            index = patch_end
    return "\n".join(out), patches, replaced


_ATTRIBUTION = re.compile(
    r"\b(?:wrote|writes|said|a écrit|schrieb|escribió|ha scritto|schreef|escreveu|skrev|napisał|написал)\s?:$"
    # German, Dutch and Scandinavian clients name the author after the verb: "Am 18.12.2016 um 15:01 schrieb X:".
    r"|\b(?:schrieb|schreef|skrev)\s[^:]{1,80}:$",
    re.IGNORECASE,
)
_ATTRIBUTION_MAX_LINES = 3
_ATTRIBUTION_MAX_CHARS = 300


def drop_attributions(text: str) -> tuple[str, int]:
    """Reply attributions dropped: the 1-3 lines of their own just before a quote (a blank line may come
    between) that end in "wrote:" / "writes:" (or a few other languages' word), as mail clients write them
    ("On Mon, 1 Jan 2024, Alice <a@b> wrote:"). They name the quoted author, often with the address; the
    quote itself stays. Returns (text, attributions dropped)."""
    lines = text.split("\n")
    depths = [quote_depth(line) for line in lines]

    def prose(index: int, depth: int) -> bool:
        return index >= 0 and depths[index][0] == depth and bool(depths[index][1].strip())

    drop: set[int] = set()
    dropped = 0
    for index, (depth, _content) in enumerate(depths):
        if not depth or prose(index - 1, depth) or (index - 1 in drop):
            continue  # not the first line of a quote
        above = index - 1
        gap = [above] if above >= 0 and depths[above][0] == depth - 1 and not depths[above][1].strip() else []
        above -= len(gap)
        block: list[int] = []
        while len(block) < _ATTRIBUTION_MAX_LINES and prose(above, depth - 1):
            block.insert(0, above)
            above -= 1
        if not block or prose(above, depth - 1):
            continue  # no attribution, or the end of a longer paragraph
        joined = " ".join(depths[i][1].strip() for i in block)
        if len(joined) <= _ATTRIBUTION_MAX_CHARS and _ATTRIBUTION.search(joined):
            drop.update(block + gap)
            dropped += 1
    if not drop:
        return text, 0
    return "\n".join(line for i, line in enumerate(lines) if i not in drop), dropped


_LIST_ITEM = re.compile(r"^(?:[-*+•]|\d{1,3}[.)]|[a-z][.)]|\[\d{1,3}\])(?:\s+(?=\S)|$)")
_TRAILER = re.compile(
    r"^(?:Signed-off-by|Reviewed-by|Acked-by|Nacked-by|Tested-by|Reported-by|Suggested-by|Requested-by|"
    r"Co-developed-by|Cc|Fixes|Link|Closes|Message-Id|Change-Id|From|To|Sent|Date|Subject|Author|Commit|Merge)\s?:\s",
    re.IGNORECASE,
)
_MARKER = re.compile(r"^\[patch not shown: \d+ lines\]$")
# Never prose: lines of a patch quoted without its header, rules ("----"), git log headers, comments and
# headings ("#..."), and single tokens of code or configuration ("ldap.url=ldap://localhost:389").
_CODE_LIKE = re.compile(r"^(?:[+-](?:[^\s\d]|\s{2,}|\t)|@@ |commit [0-9a-f]{7,40}\b|[^\w\s]+$|#|\S*[=;{}<>]\S*$)")
_SENTENCE_END = re.compile(r"[.!?:][\"')\]”’]*$")
# "Field: value" (or a bare "Field:"): one to three words, the first capitalised. Two or more such lines in a
# row are a block of fields (a commit mail's "Repository: ... / Updated Branches:", "Tree: ... / Diff: ..."),
# each a line of its own; a single one may be prose that happens to start so.
_FIELD = re.compile(r"^[A-Z][\w-]*(?: [\w-]+){0,2}:(?:\s|$)")
_MIN_WIDTH, _MAX_WIDTH = 40, 80


def _fixed(line: str) -> bool:
    """A line that stays a line of its own: indented or diff-like (code), a rule, a trailer ("Signed-off-by:
    ...", "Author: ...") or a patch marker."""
    return bool(line[:1].isspace() or _TRAILER.match(line) or _MARKER.match(line) or _CODE_LIKE.match(line))


def _reflow_run(lines: list[str]) -> list[str]:
    """Lines at one quote depth (prefix removed) re-flowed: within a paragraph a line goes on the previous one,
    except list items (they start a line; their wrapped lines, indented to the item's text or not, join it),
    indented lines (code), trailers and blocks of header fields. A break is kept only where it cannot cut a
    sentence: the previous line ends one and the next line's first word would have fitted on it (the writer's
    break, not the wrapper's)."""
    candidates = [
        len(line)
        for line, nxt in zip(lines, lines[1:], strict=False)
        if line.strip() and nxt.strip() and not _fixed(line)
    ]
    width = min(_MAX_WIDTH, max(_MIN_WIDTH, max(candidates, default=0)))
    fields = [bool(_FIELD.match(line)) for line in lines]
    in_block = [
        field and ((index > 0 and fields[index - 1]) or (index + 1 < len(lines) and fields[index + 1]))
        for index, field in enumerate(fields)
    ]
    out: list[str] = []
    previous = ""  # the previous physical line
    open_line = False  # whether a line may be joined onto out[-1]
    item_column: int | None = None  # where the text of the list item being continued starts
    for index, line in enumerate(lines):
        body = line.strip()
        if not body:
            out.append(line)
            open_line, item_column = False, None
            continue
        indent = len(line) - len(line.lstrip())
        item = _LIST_ITEM.match(line.lstrip())
        if item:
            out.append(line)
            open_line, item_column, previous = True, indent + item.end(), line
            continue
        continuation = item_column is not None and 0 < indent <= item_column + 1
        fits = len(previous.rstrip()) + 1 + len(body.split(None, 1)[0]) <= width
        deliberate = bool(_SENTENCE_END.search(previous.rstrip())) and fits
        fixed = _fixed(line) or in_block[index]
        if open_line and (continuation or not fixed) and not deliberate:
            out[-1] = f"{out[-1].rstrip()} {body}"
        else:
            out.append(line)
            if not continuation:
                item_column = None
        open_line, previous = continuation or not fixed, line
    return out


def reflow(text: str) -> str:
    """Hard-wrapped text re-flowed so no sentence is cut at a line end (``_reflow_run``), quoted lines among
    themselves at their depth with one ``> `` prefix per joined line. Blank lines separate paragraphs."""
    lines = text.split("\n")
    out: list[str] = []
    for depth, start, end in _depth_runs(lines):
        if not depth:
            out += _reflow_run(lines[start:end])
            continue
        contents = [quote_depth(line)[1] for line in lines[start:end]]
        out += [quote_prefixed(depth, line) for line in _reflow_run(contents)]
    return "\n".join(out)


@dataclass
class _Cleaning:
    """What the cleaning did in one file, for its note."""

    signatures: int = 0
    footers: int = 0
    patches: int = 0
    patch_lines: int = 0
    attributions: int = 0
    quoted_signatures: int = 0

    def note(self, where: str) -> Note | None:
        parts = []
        if self.signatures:
            parts.append(f"{self.signatures} signature(s) cut")
        if self.footers:
            parts.append(f"{self.footers} list footer(s) or scrubbed-attachment notice(s) cut")
        if self.quoted_signatures:
            parts.append(f"{self.quoted_signatures} quoted signature(s) or footer(s) cut")
        if self.patches:
            parts.append(
                f"{self.patches} inline patch(es) ({self.patch_lines} lines) replaced by '{PATCH_MARKER.format('N')}'"
            )
        if self.attributions:
            parts.append(f"{self.attributions} reply attribution line(s) ('On ..., X wrote:') dropped")
        return Note(where, "mail text cleaned: " + "; ".join(parts)) if parts else None


def clean_body(text: str, final_lines: bool, cleaning: _Cleaning | None = None) -> str:
    """A decoded body as post text: signatures and footers cut, patches replaced, attributions and a quote's
    framing empty lines dropped, re-flowed (unless its lines are final: format=flowed or HTML)."""
    cleaning = cleaning if cleaning is not None else _Cleaning()
    text, cut = cut_signature(text)
    cleaning.signatures += cut.count("signature")
    cleaning.footers += cut.count("footer")
    cleaning.quoted_signatures += cut.count("quoted signature")
    text, patches, patch_lines = replace_patches(text)
    cleaning.patches += patches
    cleaning.patch_lines += patch_lines
    text, attributions = drop_attributions(text)
    cleaning.attributions += attributions
    text = trim_quote_edges(text)
    if not final_lines:
        text = reflow(text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# --- messages → threads ---------------------------------------------------------------------------------


@dataclass
class _Mail:
    n: int  # arrival order, from 1
    msgid: str | None
    in_reply_to: str | None
    references: list[str]
    subject: str
    date: float | None
    author: str | None
    text: str
    archived_at: str | None

    @property
    def post_id(self) -> str:
        return self.msgid or f"m{self.n}"


@dataclass
class _Reading:
    """One file's (or maildir's) messages as they are read, and what was repaired on the way."""

    where: str
    mails: list[_Mail] = field(default_factory=list)
    list_names: set[str] = field(default_factory=set)
    errors: list[InputError] = field(default_factory=list)
    cleaning: _Cleaning = field(default_factory=_Cleaning)
    no_id: list[str] = field(default_factory=list)
    no_text: list[str] = field(default_factory=list)
    charsets: dict[str, int] = field(default_factory=dict)
    seen: int = 0

    def read(self, raw: bytes, where: str, line: int | None) -> None:
        self.seen += 1
        n = self.seen  # its place in the input, read or not: the id of a message without a Message-ID
        if not raw.strip():
            self.errors.append(InputError(where, "an empty message: nothing to read, left out", line))
            return
        # compat32: headers stay the strings they are (we read them raw anyway); seven times faster than
        # policy.default, whose header objects are parsed again at every access.
        msg = BytesParser(policy=policy.compat32).parsebytes(raw)
        headers = raw_headers(msg)
        if not any(headers.get(name) for name in ("from", "date", "subject", "message-id")):
            shown = raw[:60].decode("utf-8", errors="replace").split("\n", 1)[0]
            self.errors.append(
                InputError(where, f"not a mail message (no From, Date, Subject or Message-ID header): {shown!r}", line)
            )
            return
        try:
            body = body_of(msg)
        except (MessageError, LookupError, ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
            self.errors.append(InputError(where, f"message {n}: its body cannot be read ({type(exc).__name__})", line))
            body = _Body("", True, found=False)
        if body.unknown_charset:
            self.charsets[body.unknown_charset] = self.charsets.get(body.unknown_charset, 0) + 1
        msgid = next(iter(_ids(headers.get("message-id"))), None)
        mail = _Mail(
            n=n,
            msgid=msgid,
            in_reply_to=next(iter(_ids(headers.get("in-reply-to"))), None),
            references=_ids(headers.get("references")),
            subject=_SPACES.sub(" ", _decoded(headers.get("subject", ""))).strip(),
            date=_timestamp(headers.get("date")),
            author=author_of(headers.get("from")),
            text=clean_body(body.text, body.final_lines, self.cleaning),
            archived_at=next(iter(_ids(headers.get("archived-at"))), None),
        )
        if msgid is None:
            self.no_id.append(mail.post_id)
        if not body.found:
            self.no_text.append(mail.post_id)
        self.list_names |= _list_names(headers.get("list-id"))
        self.mails.append(mail)

    def notes(self) -> list[Note]:
        notes: list[Note] = []
        if self.no_id:
            notes.append(
                Note(
                    self.where,
                    f"{len(self.no_id)} message(s) have no Message-ID: given ids m<n> by their place in the input "
                    f"(first: {self.no_id[0]}); nothing can reply to them",
                )
            )
        if self.no_text:
            notes.append(
                Note(
                    self.where,
                    f"{len(self.no_text)} message(s) have no text part (attachments only?): kept with no text "
                    f"(first: {self.no_text[0][:80]})",
                )
            )
        if self.charsets:
            names = ", ".join(sorted(self.charsets)[:3])
            notes.append(
                Note(
                    self.where,
                    f"{sum(self.charsets.values())} message(s) declare an unknown charset ({names}): read as UTF-8, "
                    "undecodable bytes replaced",
                )
            )
        cleaned = self.cleaning.note(self.where)
        if cleaned is not None:
            notes.append(cleaned)
        return notes


# Message-IDs hold "@", "+", "=" ...: the thread id keeps the loader's folder-safe characters only, so it
# is not renamed (with a note per thread) on the way out.
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9._-]+")


def _sort_key(mail: _Mail) -> tuple[bool, float, int]:
    return (mail.date is None, mail.date or 0.0, mail.n)


def _parents(mails: list[_Mail]) -> dict[int, _Mail | None]:
    """Each message's parent in the input: its In-Reply-To if there, else the last References id that is."""
    by_id: dict[str, _Mail] = {}
    for mail in mails:
        if mail.msgid is not None:
            by_id.setdefault(mail.msgid, mail)
    parent: dict[int, _Mail | None] = {}
    for mail in mails:
        candidates = ([mail.in_reply_to] if mail.in_reply_to else []) + mail.references[::-1]
        parent[mail.n] = next((by_id[c] for c in candidates if c in by_id and by_id[c] is not mail), None)
    return parent


def _tops(mails: list[_Mail], parent: dict[int, _Mail | None]) -> dict[int, _Mail]:
    """Each message's top (its oldest ancestor in the input), iteratively and cycle-safe."""
    top: dict[int, _Mail] = {}
    for mail in mails:
        path: list[_Mail] = []
        on_path: dict[int, int] = {}
        node = mail
        while True:
            if node.n in top:
                root = top[node.n]
                break
            if node.n in on_path:  # a reply cycle (the loader cuts it): its first message stands for it
                root = min(path[on_path[node.n] :], key=lambda m: m.n)
                break
            on_path[node.n] = len(path)
            path.append(node)
            up = parent[node.n]
            if up is None:
                root = node
                break
            node = up
        for member in path:
            top[member.n] = root
    return top


def _is_orphan(members: list[_Mail]) -> bool:
    """A reply with no threading header at all (a composer that drops them)."""
    mail = members[0]
    return len(members) == 1 and not (mail.in_reply_to or mail.references) and bool(_REPLY_PREFIX.match(mail.subject))


def _join_orphans(groups: dict[str, list[_Mail]], list_names: frozenset[str], where: str) -> list[Note]:
    """An orphan reply joins the one thread of its subject (none when two threads share it)."""
    titles: dict[str, list[str]] = {}
    for key, members in groups.items():
        if not _is_orphan(members):
            opening = min(members, key=_sort_key)
            titles.setdefault(clean_subject(opening.subject, list_names).casefold(), []).append(key)
    joined: list[str] = []
    for key, members in list(groups.items()):
        if _is_orphan(members):
            candidates = titles.get(clean_subject(members[0].subject, list_names).casefold(), [])
            if len(candidates) == 1:
                groups[candidates[0]].append(members[0])
                del groups[key]
                joined.append(members[0].post_id)
    if not joined:
        return []
    return [
        Note(
            where,
            f"{len(joined)} reply(ies) with no In-Reply-To or References joined the thread of the same subject; "
            f"their reply link is unknown (first: {joined[0][:80]})",
        )
    ]


def _draft(
    key: str, members: list[_Mail], parent: dict[int, _Mail | None], list_names: frozenset[str], where: str
) -> DraftThread:
    roots = [m for m in members if parent[m.n] is None]
    opening = min(roots or members, key=_sort_key)
    ordered = [opening] + sorted((m for m in members if m is not opening), key=_sort_key)
    posts = []
    for mail in ordered:
        up = parent[mail.n]
        # A parent missing from the input is kept, so the loader drops the link and says which.
        parent_id = up.post_id if up is not None else mail.in_reply_to or next(iter(mail.references[::-1]), None)
        posts.append(Post(id=mail.post_id, author=mail.author, parent_id=parent_id, text=mail.text))
    return DraftThread(
        id="mail-" + (_UNSAFE_ID.sub("_", key).strip("._-") or "thread"),
        title=clean_subject(opening.subject, list_names) or None,
        source=opening.archived_at if opening.archived_at and "://" in opening.archived_at else None,
        posts=posts,
        where=where,
        # A first message that answers one not in the input did not write the subject's thesis.
        has_opening_post=not (opening.in_reply_to or opening.references),
    )


def thread_mails(mails: list[_Mail], list_names: frozenset[str], where: str) -> tuple[list[DraftThread], list[Note]]:
    """Messages → threads by Message-ID / In-Reply-To / References (see the module docstring)."""
    parent = _parents(mails)
    top = _tops(mails, parent)

    def key_of(root: _Mail) -> str:
        # A root whose own parent is missing: the conversation's first message is the first References id.
        return next(iter(root.references), None) or root.in_reply_to or root.post_id

    groups: dict[str, list[_Mail]] = {}
    for mail in mails:
        groups.setdefault(key_of(top[mail.n]), []).append(mail)
    notes = _join_orphans(groups, list_names, where)
    return [_draft(key, members, parent, list_names, where) for key, members in groups.items()], notes


def _finish(reading: _Reading) -> Imported:
    found = Imported(errors=reading.errors)
    if not reading.mails:
        if not reading.errors:
            found.errors.append(InputError(reading.where, "no mail messages found: is this an mbox or a maildir?"))
        return found
    threads, notes = thread_mails(reading.mails, frozenset(reading.list_names), reading.where)
    found.threads = threads
    found.notes = reading.notes() + notes
    return found


def parse_mbox(data: bytes, path: str, _options: ImportOptions) -> Imported:
    reading = _Reading(path)
    for line, raw in split_mbox(data.removeprefix(codecs.BOM_UTF8)):
        if raw.strip():
            reading.read(raw, path, line)
    return _finish(reading)


def parse_maildir(members: Members, path: str) -> Imported:
    reading = _Reading(path)
    names = sorted(
        (name for name in members if name.startswith(_MAILDIR_FOLDERS) and name.count("/") == 1),
        key=lambda name: (name.split("/", 1)[1], name),  # delivery time first: maildir names start with it
    )
    separator = "!" if path.lower().endswith(".zip") else "/"  # the loader names zip members "archive.zip!member"
    for name in names:
        reading.read(members[name], f"{path}{separator}{name}", None)
    found = _finish(reading)
    in_tmp = [name for name in members if name.startswith("tmp/")]
    if in_tmp:
        found.notes.append(Note(path, f"{len(in_tmp)} file(s) in tmp/ left out: deliveries not finished"))
    return found


FORMATS: tuple[Format, ...] = (
    Format(
        name="mbox",
        title="Mailing list archive: mbox (Mailman/pipermail .txt, HyperKitty, lore, Pony Mail) or one .eml",
        obtain=(
            "pipermail: https://HOST/pipermail/LIST/2024-January.txt(.gz, gunzip it); HyperKitty: the thread or "
            "list page's 'Download' (.mbox.gz, gunzip it); lore/public-inbox: `b4 mbox MESSAGE-ID`; "
            "a mail client's 'Save as' .mbox / .eml"
        ),
        kept=(
            "a thread per conversation (Message-ID / In-Reply-To / References); posts: the text part, "
            "quoted '>' lines kept, signatures, list footers, attributions cut, inline patches replaced by "
            "'[patch not shown: N lines]', hard-wrapped lines re-flowed; authors: display name (else the "
            "address's local part); reply links to messages not in the file dropped with a note"
        ),
        detect_bytes=detect_mail,
        parse_bytes=parse_mbox,
    ),
    Format(
        name="maildir",
        title="Maildir folder (cur/, new/, tmp/), or a .zip of one",
        obtain="a mail client's or server's Maildir (e.g. ~/Maildir, `mbsync`, `offlineimap`), folder or zipped",
        kept="as mbox, from the messages in cur/ and new/; tmp/ (unfinished deliveries) left out with a note",
        detect_members=detect_maildir,
        parse_members=parse_maildir,
    ),
)
