"""Ground: proposed claims → claims whose quote is a verified substring of their post.

Input: the claims an extractor proposed for one chunk (already schema-valid) and the thread.
Output: ``GroundedClaim``s where ``post.text[span[0]:span[1]] == quote`` and the quote is non-empty,
plus a ``Rejection`` (with the reason) for every claim that cannot be grounded. The proposed quote is
aligned to the post in three steps: exact; normalized (quote marks, dashes, spaces and whitespace runs
folded, also when the quote joins pieces with an ellipsis); fuzzy (rapidfuzz partial alignment, score
≥ ``FUZZY_MIN_SCORE``, for quotes of at least ``FUZZY_MIN_CHARS``), snapped to word boundaries. The
stored quote is always the source substring, never the model's text. A quote that lands in text its
post quotes from another post (``Post.quoted``) is credited to the earlier post it comes from, or
rejected when that post is not in the thread. Failure modes: none raised; everything not grounded is
returned as a rejection.
"""

from __future__ import annotations

import re
from typing import Any

from rapidfuzz import fuzz

from .models import GroundedClaim, Post, Rejection, Thread
from .normalize import PUNCTUATION_VARIANTS

FUZZY_MIN_SCORE = 90.0
FUZZY_MIN_CHARS = 24
MAX_ELLIPSIS_GAP = 400  # characters of source a "…" may stand for

_ELLIPSIS = re.compile(r"\s*(?:\.\.\.|…|\[\.\.\.\]|\[…\])\s*")
_WRAPPING_QUOTES = "\"'“”‘’«»"


def _normalized_with_map(text: str) -> tuple[str, list[int]]:
    """Fold quote marks and dashes, collapse whitespace runs to one space; map each output char to its source index."""
    out: list[str] = []
    where: list[int] = []
    previous_space = False
    for index, char in enumerate(text):
        if char.isspace():
            if previous_space:
                continue
            out.append(" ")
            previous_space = True
        else:
            out.append(PUNCTUATION_VARIANTS.get(char, char))
            previous_space = False
        where.append(index)
    return "".join(out), where


def _snap_to_words(text: str, start: int, end: int) -> tuple[int, int]:
    while start > 0 and text[start - 1].isalnum() and text[start].isalnum():
        start -= 1
    while end < len(text) and text[end - 1].isalnum() and text[end].isalnum():
        end += 1
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _find_normalized(piece: str, norm_text: str, where: list[int], begin: int = 0) -> tuple[int, int] | None:
    norm_piece, _ = _normalized_with_map(piece.strip())
    if not norm_piece:
        return None
    found = norm_text.find(norm_piece, begin)
    if found < 0:
        return None
    return found, found + len(norm_piece)


def align(quote: str, text: str) -> tuple[int, int, str] | None:
    """Locate ``quote`` in ``text``: (start, end, how) with how in exact|normalized|fuzzy, or None."""
    candidate = quote.strip()
    if len(candidate) > 2 and candidate[0] in _WRAPPING_QUOTES and candidate[-1] in _WRAPPING_QUOTES:
        if candidate not in text:
            candidate = candidate[1:-1].strip()
    if not candidate:
        return None
    found = text.find(candidate)
    if found >= 0:
        return found, found + len(candidate), "exact"

    norm_text, where = _normalized_with_map(text)
    hit = _find_normalized(candidate, norm_text, where)
    if hit:
        return where[hit[0]], where[hit[1] - 1] + 1, "normalized"

    pieces = [p for p in _ELLIPSIS.split(candidate) if p.strip()]
    if len(pieces) > 1:
        spans: list[tuple[int, int]] = []
        begin = 0
        for piece in pieces:
            hit = _find_normalized(piece, norm_text, where, begin)
            if hit is None or (spans and where[hit[0]] - spans[-1][1] > MAX_ELLIPSIS_GAP):
                spans = []
                break
            spans.append((where[hit[0]], where[hit[1] - 1] + 1))
            begin = hit[1]
        if spans:
            return spans[0][0], spans[-1][1], "normalized"

    norm_quote, _ = _normalized_with_map(candidate)
    if len(norm_quote) >= FUZZY_MIN_CHARS and len(norm_quote) <= len(norm_text) * 1.1:
        alignment = fuzz.partial_ratio_alignment(norm_quote, norm_text, score_cutoff=FUZZY_MIN_SCORE)
        if alignment is not None and alignment.dest_end > alignment.dest_start:
            start = where[alignment.dest_start]
            end = where[alignment.dest_end - 1] + 1
            start, end = _snap_to_words(text, start, end)
            length_ratio = (end - start) / max(1, len(candidate))
            if end > start and 0.8 <= length_ratio <= 1.25:
                return start, end, "fuzzy"
    return None


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


def ground_claims(
    chunk_id: str, claims: list[dict[str, Any]], thread: Thread, windows: dict[str, tuple[int, int]] | None = None
) -> tuple[list[GroundedClaim], list[Rejection]]:
    """``windows``: for posts the extractor saw only in part, the span it saw; a quote must lie in it
    (which also keeps grounding linear in the text shown, however long the post)."""
    windows = windows or {}
    grounded: list[GroundedClaim] = []
    rejected: list[Rejection] = []
    for claim in claims:
        post = thread.post(claim["post_id"])
        if post is None:
            rejected.append(Rejection("ground", chunk_id, claim, f"post {claim['post_id']!r} is not in the thread"))
            continue
        if not claim["quote"].strip():
            rejected.append(Rejection("ground", chunk_id, claim, "empty quote"))
            continue
        low, high = windows.get(post.id, (0, len(post.text)))
        located = align(claim["quote"], post.text[low:high] if (low, high) != (0, len(post.text)) else post.text)
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
