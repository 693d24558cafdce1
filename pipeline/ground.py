"""Ground: proposed claims → claims whose quote is a verified substring of their post.

Input: the claims an extractor proposed for one chunk (already schema-valid) and the thread.
Output: ``GroundedClaim``s where ``post.text[span[0]:span[1]] == quote`` and the quote is non-empty,
plus a ``Rejection`` (with the reason) for every claim that cannot be grounded. The proposed quote is
aligned to the post by ``text.align`` in three steps: exact; normalized (quote marks, dashes, spaces and
whitespace runs folded, whitespace before punctuation and the quote's own end punctuation forgiven, also
when the quote joins pieces with an ellipsis); fuzzy (rapidfuzz partial alignment, score
≥ ``text.FUZZY_MIN_SCORE``, for quotes of at least ``text.FUZZY_MIN_CHARS``), snapped to word boundaries.
Words a post says twice are pinned to the occurrence ``_occurrence_rank`` prefers (its own words before
words it quotes, then one no earlier claim took, then the first). The stored quote is always the source
substring, never the model's text. A quote that lands in text its post quotes from another post
(``Post.quoted``) is credited to the earlier post it comes from, or rejected when that post is not in
the thread; that post is found with ``QuoteOrigins``, an index of the thread's word n-grams built once per
thread on first need, so ``align`` is asked of the few posts that hold the words, never of every earlier
post per claim (grounding stays linear in the thread's length). A claim whose text is empty ("the quote
says it") gets its quote as its text.
Failure modes: none raised; everything not grounded is returned as a rejection.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from itertools import accumulate, repeat
from typing import Any

from .models import GroundedClaim, Post, Rejection, Thread
from .text import ELLIPSIS, WRAPPING_QUOTES, OccurrenceRank, align


class QuoteOrigins:
    """Which earlier post said the words a post quotes: an index of one thread, built once, on first need.

    ``origin`` gives what a scan of every earlier post would (the quoting post's parent first, then the
    nearest earlier post whose text ``align`` finds the words in, not fuzzily and not in text that post
    quotes itself), but asks ``align`` only of posts that hold the words. The words are looked up by the
    n-grams of whole words (maximal runs of letters and digits) that any post ``align`` can place them in
    must hold: ``align`` forgives only whitespace, quote marks, dashes and end punctuation, never a letter
    or digit, so a word of the quote bounded on both sides by non-word characters is a whole word of the
    post, and words in a row stay in a row (words on either side of an ellipsis are not in a row). Trigrams
    when the quote has three such words in a row, else bigrams, else single words; each level is built on
    first need, so a thread whose claims never land in quoted text builds nothing. A quote with no such
    word (one or two words, or a word cut at both ends) is looked for as before, by ``align`` on every
    earlier post that holds its longest run of letters and digits as a substring."""

    def __init__(self, thread: Thread) -> None:
        self.posts = thread.posts
        self._position: dict[str, int] = {}  # post id → its place in the thread, filled on first need
        self._levels: dict[int, _GramIndex] = {}  # n → the index of the thread's word n-grams

    def origin(self, text: str, quoting: Post) -> tuple[Post, tuple[int, int]] | None:
        """The earlier post that says ``text`` in its own words, and where; None when no post does."""
        if not self._position:
            for index, post in enumerate(self.posts):
                self._position.setdefault(post.id, index)
        position = self._position[quoting.id]
        core = text.lstrip(">").removeprefix("&gt;").strip()
        parent = self._position.get(quoting.parent_id or "", position)
        for index in self._candidates(core, position, parent):
            post = self.posts[index]
            located = align(core, post.text)
            if located and located[2] != "fuzzy" and not post.in_quoted(located[:2]):
                return post, (located[0], located[1])
        return None

    def _candidates(self, core: str, position: int, parent: int) -> Iterator[int]:
        """Posts before ``position`` (not duplicates) that may hold ``core``: the parent first, then nearest.
        Ascending lists throughout (posts are indexed in thread order), so membership is a bisect."""
        level, grams = _required_grams(core)
        held: list[int] = []
        if not level:
            probe = max(_WORD.findall(core), key=len, default="")
            held = [i for i in range(position) if self.posts[i].duplicate_of is None and probe in self.posts[i].text]
        else:
            if level not in self._levels:
                self._levels[level] = _GramIndex(self.posts, level)
            postings = [self._levels[level].posts_with(gram) for gram in grams]
            rarest = min(postings, key=len)
            others = [p for p in postings if p is not rarest]
            for i in rarest[: bisect_left(rarest, position)]:
                if (not held or held[-1] != i) and all(_holds(other, i) for other in others):
                    held.append(i)
        if parent < position and _holds(held, parent):
            yield parent
        yield from (i for i in reversed(held) if i != parent)


class _GramIndex:
    """The posts (not duplicates) that hold each word n-gram, as one compact table: an n-gram's hash picks
    a bucket, and a bucket lists its posts in thread order. Two arrays of 32-bit integers instead of a dict
    of lists (a tenth of the memory: 3 million trigrams of a 50,000-post thread take ~30 MB, not ~340 MB);
    n-grams that share a bucket only add candidates, which ``align`` then turns down."""

    def __init__(self, posts: list[Post], n: int) -> None:
        hashes, owners = array("q"), array("i")
        for position, post in enumerate(posts):
            if post.duplicate_of is None:
                distinct = {hash(gram) for gram in _grams(_WORD.findall(post.text), n)}
                hashes.extend(distinct)
                owners.extend(repeat(position, len(distinct)))
        self.mask = (1 << max(10, len(hashes).bit_length())) - 1  # at least as many buckets as n-grams
        counts = array("i", bytes(4 * (self.mask + 2)))
        for value in hashes:
            counts[(value & self.mask) + 1] += 1
        self.starts = array("i", accumulate(counts))  # bucket b's posts: postings[starts[b]:starts[b + 1]]
        del counts  # before the next two tables: the build's peak is the lower
        self.postings = array("i", bytes(4 * len(hashes)))
        fill = array("i", self.starts)
        for value, owner in zip(hashes, owners, strict=True):
            bucket = value & self.mask
            self.postings[fill[bucket]] = owner
            fill[bucket] += 1

    def posts_with(self, gram: tuple[str, ...]) -> array[int]:
        bucket = hash(gram) & self.mask
        return self.postings[self.starts[bucket] : self.starts[bucket + 1]]


def _holds(ascending: Sequence[int], value: int) -> bool:
    k = bisect_left(ascending, value)
    return k < len(ascending) and ascending[k] == value


_WORD = re.compile(r"[^\W_]+")  # a run of letters and digits: exactly the characters str.isalnum() accepts


def _grams(words: list[str], n: int) -> Iterator[tuple[str, ...]]:
    """The n-grams of ``words``, in order (none when there are fewer than n words)."""
    return zip(*(words[k:] for k in range(n)), strict=False)  # the shorter tails end it, as they should


def _required_grams(core: str) -> tuple[int, list[tuple[str, ...]]]:
    """The word n-grams every post ``align`` places ``core`` in holds, and n (3, 2, 1; 0: none known).

    Only words with a non-word character on both sides inside the quote count, taken from the quote
    as ``align`` may read it at its most lenient: wrapping quote marks dropped, split at ellipses."""
    candidate = core.strip()
    if len(candidate) > 2 and candidate[0] in WRAPPING_QUOTES and candidate[-1] in WRAPPING_QUOTES:
        candidate = candidate[1:-1].strip()
    runs: list[list[str]] = []
    for piece in ELLIPSIS.split(candidate):
        piece = piece.strip()
        runs.append([m.group() for m in _WORD.finditer(piece) if m.start() > 0 and m.end() < len(piece)])
    longest = max((len(run) for run in runs), default=0)
    level = min(3, longest)
    grams = {gram for run in runs for gram in _grams(run, level)} if level else set()
    return level, sorted(grams)


def _occurrence_rank(post: Post, low: int, taken: dict[str, list[tuple[int, int]]]) -> OccurrenceRank:
    """How ground picks among occurrences of a quote that a post says more than once.

    The model names a post, not an offset, and a quote long enough to be unique cannot always be asked
    for (the same sentence twice in a post is unique by no span of it). So the occurrence is decided from
    what the answer already says: the post's own words before words it quotes (the prompt tells the model
    that quoted text is never the author's claim, so a quote credited to this post means its own
    occurrence), then an occurrence no earlier claim of this chunk overlaps (two claims quoting the same
    words of one post stand for its two occurrences), then the first. ``low``: where the text aligned
    starts in the post (a window)."""

    def rank(start: int, end: int) -> int:
        span = (start + low, end + low)
        used = any(s < span[1] and span[0] < e for s, e in taken.get(post.id, ()))
        return 2 * post.in_quoted(span) + used

    return rank


def ground_claims(
    chunk_id: str,
    claims: list[dict[str, Any]],
    thread: Thread,
    windows: dict[str, tuple[int, int]] | None = None,
    origins: QuoteOrigins | None = None,
) -> tuple[list[GroundedClaim], list[Rejection]]:
    """``windows``: for posts the extractor saw only in part, the span it saw; a quote must lie in it
    (which also keeps grounding linear in the text shown, however long the post). ``origins``: the
    thread's quote index, shared by its chunks so it is built once (one is made here when not given)."""
    windows = windows or {}
    origins = origins or QuoteOrigins(thread)
    grounded: list[GroundedClaim] = []
    rejected: list[Rejection] = []
    taken: dict[str, list[tuple[int, int]]] = {}  # by post: the spans already grounded in this chunk
    for claim in claims:
        post = thread.post(claim["post_id"])
        if post is None:
            rejected.append(Rejection("ground", chunk_id, claim, f"post {claim['post_id']!r} is not in the thread"))
            continue
        if not claim["quote"].strip():
            rejected.append(Rejection("ground", chunk_id, claim, "empty quote"))
            continue
        low, high = windows.get(post.id, (0, len(post.text)))
        located = align(
            claim["quote"],
            post.text[low:high] if (low, high) != (0, len(post.text)) else post.text,
            _occurrence_rank(post, low, taken),
        )
        if located is not None:
            located = (located[0] + low, located[1] + low, located[2])
        if located is None:
            rejected.append(Rejection("ground", chunk_id, claim, f"quote not found in post {post.id}"))
            continue
        start, end, how = located
        if post.in_quoted((start, end)):
            # Words a post quotes are not its author's claim: credit the post they come from, if shown.
            origin = origins.origin(post.text[start:end], post)
            if origin is None:
                rejected.append(
                    Rejection("ground", chunk_id, claim, f"quoted text in post {post.id}, not its author's own claim")
                )
                continue
            post, (start, end) = origin
        quote = post.text[start:end]
        if not quote:  # the grounding invariant wants a quote: checked here, not by an assert (python -O)
            rejected.append(Rejection("ground", chunk_id, claim, f"empty quote in post {post.id}"))
            continue
        taken.setdefault(post.id, []).append((start, end))
        grounded.append(
            GroundedClaim(
                chunk=chunk_id,
                local_id=claim["id"],
                post_id=post.id,
                kind=claim["kind"],
                text=claim["text"].strip() or quote,
                quote=quote,
                span=(start, end),
                match=how,
            )
        )
    return grounded, rejected
