"""Normalize + dedup: raw thread → thread with clean post text and duplicates marked.

Input: a ``Thread`` from load. Output: the same thread where each post's text is NFC with ``\\n``
newlines and no trailing spaces (this is the text spans index), and every post that repeats an
earlier one by the same (or an unknown) author carries ``duplicate_of``. A post is a duplicate when,
after folding case, quote marks, dashes and whitespace, it equals an earlier post, is contained in
one or is nearly equal to one (rapidfuzz ratio ≥ ``NEAR_DUPLICATE_RATIO``), for posts of at least
``MIN_CONTAINED_CHARS`` (a reflowed list item of a repeated block; short posts only repeat exactly).
Duplicates stay in ``posts`` so nothing is hidden; they are not sent to the extractor. Each post also
gets ``quoted``: the spans of lines it quotes from another post (a ``>`` or ``&gt;`` prefix, or a line
of at least ``MIN_QUOTED_WORDS`` words repeated verbatim from its parent or one of the
``QUOTE_LOOKBACK`` posts before it, written by someone else).
Failure modes: none (pure text processing).
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict

from rapidfuzz import fuzz

from .models import Post, Thread
from .text import fold

NEAR_DUPLICATE_RATIO = 92.0
MIN_CONTAINED_CHARS = 40
MIN_QUOTED_WORDS = 5
QUOTE_LOOKBACK = 10
_QUOTE_PREFIX = re.compile(r"^\s*(?:>|&gt;)")
_SHINGLE = 3
# A post is indexed by its first shingles and probed with its first ones: duplicates agree from the start,
# and a contained passage (a reflowed list item) sits in a short post; this bounds the work on long posts.
_MAX_INDEXED_SHINGLES = 160
_INDEX_STRIDE = 3  # index every third shingle: a third of the work, and any repeated passage still shares some
_MAX_PROBE_SHINGLES = 64
_COMMON_SHINGLE_POSTS = 64  # a shingle shared by this many posts says nothing about duplication

_SPACES = re.compile(r"\s+")
_TRAILING = re.compile(r"[ \t]+\n")


def clean_text(text: str) -> str:
    """The stored form of a post: NFC, \\n newlines, no trailing spaces, no outer blank lines."""
    if not text.isascii():  # ASCII is already NFC; the check is far cheaper than the normalization
        text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return (_TRAILING.sub("\n", text) if "\n" in text else text).strip()


def _shingles(words: list[str]) -> list[tuple[str, ...]]:
    if len(words) < _SHINGLE:
        return [tuple(words)] if words else []
    return list(zip(words, words[1:], words[2:], strict=False))  # _SHINGLE == 3; zip runs in C


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
        shingles = _shingles(key.split(" ", _MAX_INDEXED_SHINGLES + _SHINGLE)[: _MAX_INDEXED_SHINGLES + _SHINGLE - 1])
        probe = shingles[:_MAX_PROBE_SHINGLES]
        probe_set = set(probe)
        shared: dict[int, int] = {}
        for shingle in probe_set:
            holders = index.get(shingle)
            if holders and len(holders) < _COMMON_SHINGLE_POSTS:
                for j in holders:
                    shared[j] = shared.get(j, 0) + 1
        for j, count in sorted(shared.items(), key=lambda item: (-item[1], item[0]))[:8]:
            # Every _INDEX_STRIDE-th shingle of an earlier post is indexed, so a duplicate shares about
            # 1/_INDEX_STRIDE of its probe; the candidate is then checked exactly.
            if count * 2 * _INDEX_STRIDE < len(probe_set) or not _same_speaker(posts[j], post):
                continue
            if len(key) < MIN_CONTAINED_CHARS:
                continue  # a short post ("I agree with A.") is only ever an exact duplicate
            if key in folded[j] or fuzz.ratio(key, folded[j]) >= NEAR_DUPLICATE_RATIO:
                post.duplicate_of = posts[j].id
                break
        if post.duplicate_of is None:
            exact.setdefault(key, i)
            for shingle in shingles[::_INDEX_STRIDE]:
                index[shingle].add(i)
    mark_quotes(posts, folded)
    return Thread(thread.id, thread.title, thread.source, thread.input_path, thread.sha256, posts, thread.renamed_from)


def mark_quotes(posts: list[Post], folded: list[str]) -> None:
    index_of = {post.id: i for i, post in enumerate(posts)}
    for i, post in enumerate(posts):
        if post.duplicate_of:
            continue
        sources = [index_of[post.parent_id]] if post.parent_id in index_of else []
        sources += [j for j in range(max(0, i - QUOTE_LOOKBACK), i) if j not in sources]
        # Someone else's earlier words; a line that is the whole post would be a duplicate, not a quote.
        others = [folded[j] for j in sources if not (post.author and posts[j].author == post.author)]
        lines = post.text.split("\n")
        offset = 0
        for line in lines:
            stripped = line.strip()
            if stripped and (
                _QUOTE_PREFIX.match(line)
                or (
                    len(lines) > 1
                    and others
                    and len(stripped.split()) >= MIN_QUOTED_WORDS
                    and _contained(fold(stripped), others)
                )
            ):
                start = offset + line.index(stripped[0])
                post.quoted.append((start, start + len(stripped)))
            offset += len(line) + 1


def _contained(needle: str, haystacks: list[str]) -> bool:
    return any(needle in haystack for haystack in haystacks)
