"""Normalize + dedup: raw thread → thread with clean post text and duplicates marked.

Input: a ``Thread`` from load. Output: the same thread where each post's text is NFC with ``\\n``
newlines and no trailing spaces (this is the text spans index), and every post that repeats an
earlier one by the same (or an unknown) author carries ``duplicate_of``. A post is a duplicate when,
after folding case, quote marks, dashes and whitespace, it equals an earlier post, is contained in
one (a reflowed list item of a repeated block, at least ``MIN_CONTAINED_CHARS`` long), or is nearly
equal to one (rapidfuzz ratio ≥ ``NEAR_DUPLICATE_RATIO``). Duplicates stay in ``posts`` so nothing
is hidden; they are not sent to the extractor. Each post also gets ``quoted``: the spans of lines it
quotes from another post (a ``>`` or ``&gt;`` prefix, or a line of at least ``MIN_QUOTED_WORDS`` words
repeated verbatim from its parent or one of the ``QUOTE_LOOKBACK`` posts before it).
Failure modes: none (pure text processing).
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict

from rapidfuzz import fuzz

from .models import Post, Thread

NEAR_DUPLICATE_RATIO = 92.0
MIN_CONTAINED_CHARS = 40
MIN_QUOTED_WORDS = 5
QUOTE_LOOKBACK = 10
_QUOTE_PREFIX = re.compile(r"^\s*(?:>|&gt;)")
_SHINGLE = 3
_MAX_INDEXED_SHINGLES = 5000  # bounds memory on a huge single post
_MAX_PROBE_SHINGLES = 64
_COMMON_SHINGLE_POSTS = 64  # a shingle shared by this many posts says nothing about duplication

# Typographic variants that say the same thing: curly quotes, primes, dashes. One character each, so a
# text folded with this table keeps its offsets (ground relies on that).
PUNCTUATION_VARIANTS = {
    **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032`", "'"),
    **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033", '"'),
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
}
PUNCTUATION_TABLE = str.maketrans(PUNCTUATION_VARIANTS)
_FOLD = str.maketrans({**PUNCTUATION_VARIANTS, "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u200b": ""})
_SPACES = re.compile(r"\s+")
_TRAILING = re.compile(r"[ \t]+\n")


def clean_text(text: str) -> str:
    """The stored form of a post: NFC, \\n newlines, no trailing spaces, no outer blank lines."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    return _TRAILING.sub("\n", text).strip()


def fold(text: str) -> str:
    """A comparison key: case, quote marks, dashes and whitespace folded."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text).translate(_FOLD).casefold()).strip()


def _shingles(words: list[str]) -> list[tuple[str, ...]]:
    if len(words) < _SHINGLE:
        return [tuple(words)] if words else []
    return [tuple(words[i : i + _SHINGLE]) for i in range(len(words) - _SHINGLE + 1)]


def _same_speaker(a: Post, b: Post) -> bool:
    return a.author is None or b.author is None or a.author == b.author


def normalize_thread(thread: Thread) -> Thread:
    posts = [Post(p.id, p.author, p.parent_id, clean_text(p.text)) for p in thread.posts]
    folded = [fold(p.text) for p in posts]
    exact: dict[str, int] = {}
    index: defaultdict[tuple[str, ...], set[int]] = defaultdict(set)
    for i, post in enumerate(posts):
        key = folded[i]
        if not key:
            continue
        original = exact.get(key)
        if original is not None and _same_speaker(posts[original], post):
            post.duplicate_of = posts[original].id
            continue
        shingles = _shingles(key.split(" "))
        probe = shingles if len(shingles) <= _MAX_PROBE_SHINGLES else shingles[:: len(shingles) // _MAX_PROBE_SHINGLES]
        probe_set = set(probe)
        shared: dict[int, int] = {}
        for shingle in probe_set:
            holders = index.get(shingle)
            if holders and len(holders) < _COMMON_SHINGLE_POSTS:
                for j in holders:
                    shared[j] = shared.get(j, 0) + 1
        for j, count in sorted(shared.items(), key=lambda item: (-item[1], item[0]))[:8]:
            if count * 2 < len(probe_set) or not _same_speaker(posts[j], post):
                continue
            contained = len(key) >= MIN_CONTAINED_CHARS and key in folded[j]
            if contained or fuzz.ratio(key, folded[j]) >= NEAR_DUPLICATE_RATIO:
                post.duplicate_of = posts[j].id
                break
        if post.duplicate_of is None:
            exact.setdefault(key, i)
            for shingle in shingles[:_MAX_INDEXED_SHINGLES]:
                index[shingle].add(i)
    mark_quotes(posts, folded)
    return Thread(thread.id, thread.title, thread.source, thread.input_path, thread.sha256, posts)


def mark_quotes(posts: list[Post], folded: list[str]) -> None:
    index_of = {post.id: i for i, post in enumerate(posts)}
    for i, post in enumerate(posts):
        if post.duplicate_of:
            continue
        sources = [index_of[post.parent_id]] if post.parent_id in index_of else []
        sources += [j for j in range(max(0, i - QUOTE_LOOKBACK), i) if j not in sources]
        offset = 0
        for line in post.text.split("\n"):
            stripped = line.strip()
            if stripped and (
                _QUOTE_PREFIX.match(line)
                or (
                    len(stripped.split()) >= MIN_QUOTED_WORDS
                    and any(
                        fold(stripped) in folded[j]
                        for j in sources
                        if not (post.author and posts[j].author == post.author)
                    )
                )
            ):
                start = offset + line.index(stripped[0])
                post.quoted.append((start, start + len(stripped)))
            offset += len(line) + 1
