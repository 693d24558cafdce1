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
the thread. A claim whose text is empty ("the quote says it") gets its quote as its text.
Failure modes: none raised; everything not grounded is returned as a rejection.
"""

from __future__ import annotations

from typing import Any

from .models import GroundedClaim, Post, Rejection, Thread
from .text import OccurrenceRank, align


def _origin_of_quote(text: str, quoting: Post, thread: Thread) -> tuple[Post, tuple[int, int]] | None:
    """The earlier post that says ``text`` in its own words: the quoting post's parent first."""
    position = thread.posts.index(quoting)
    earlier = [p for p in reversed(thread.posts[:position]) if p.duplicate_of is None]
    earlier.sort(key=lambda p: p.id != quoting.parent_id)  # stable: parent first, then nearest
    core = text.lstrip(">").removeprefix("&gt;").strip()
    for post in earlier:
        located = align(core, post.text)
        if located and located[2] != "fuzzy" and not post.in_quoted(located[:2]):
            return post, (located[0], located[1])
    return None


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
    chunk_id: str, claims: list[dict[str, Any]], thread: Thread, windows: dict[str, tuple[int, int]] | None = None
) -> tuple[list[GroundedClaim], list[Rejection]]:
    """``windows``: for posts the extractor saw only in part, the span it saw; a quote must lie in it
    (which also keeps grounding linear in the text shown, however long the post)."""
    windows = windows or {}
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
            origin = _origin_of_quote(post.text[start:end], post, thread)
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
