"""Text helpers shared by several stages: sentence offsets, typographic folding, quote alignment.

These are pure functions of strings with no stage logic, kept in one place so stages do not import
each other for them: ``sentence_spans`` (chunk splits long posts at sentences, the offline extractor
segments them, evaluate's baseline cuts them), ``PUNCTUATION_VARIANTS``/``PUNCTUATION_TABLE`` (typographic
variants folded one character for one, so offsets survive), ``fold`` (a comparison key: normalize's
duplicate detection, merge, the loader and the GitHub importer), and ``align``, the matcher that
locates a quote in a post: ground uses it to pin every claim to its source, and evaluate locates gold
units with the same rules so both sides agree on what "found" means.
Input: strings. Output: offsets, folded strings, an alignment or None. Failure modes: none.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator

from rapidfuzz import fuzz

from .models import GroundingMatch

# --- sentences --------------------------------------------------------------------------------------------

# Terminal punctuation with any closing quotes/brackets stays in the sentence; the gap after it does not.
# Latin-script ends need a gap after them ("3.5", "e.g.x" go on); the full-width ends of Chinese and
# Japanese (。！？) end a sentence with or without one, since those scripts put no space between sentences.
_ABBREVIATION = re.compile(
    r"(?:^|[\s(/\-–—])(?:vs|e\.g|i\.e|etc|cf|approx|Mr|Mrs|Ms|Dr|Prof|St|No|Fig)\.$",  # "proxies—e.g." too
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*(\s+)|[。！？]+[」』）〕】\"'”’)\]]*(\s*)|\n+")


def sentence_spans(text: str) -> Iterator[tuple[int, int]]:
    """Sentence [start, end) offsets; the separators between sentences are left out."""
    start = 0
    for match in _SENTENCE_END.finditer(text):
        gap = 1 if match.group(1) else 2 if match.group(2) is not None else 0
        end = match.start(gap) if gap else match.start()
        if gap == 1 and _ABBREVIATION.search(text, max(0, end - 8), end):
            continue  # "vs. model internals" goes on
        if end > start:
            yield start, end
        start = match.end()
    if start < len(text):
        yield start, len(text)


_ENDS_SENTENCE = re.compile(r"[.!?…。！？][\"'”’)\]」』）]*\s*$")


def as_sentence(text: str) -> str:
    """``text`` ending as a sentence: a full stop added unless it already ends with one ("…politics." stays)."""
    return text if _ENDS_SENTENCE.search(text) else text + "."


# --- folding ----------------------------------------------------------------------------------------------

# Typographic variants that say the same thing: curly quotes, primes, dashes. One character each, so a
# text folded with this table keeps its offsets (align relies on that).
PUNCTUATION_VARIANTS = {
    **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032`", "'"),
    **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033", '"'),
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
}
PUNCTUATION_TABLE = str.maketrans(PUNCTUATION_VARIANTS)
_FOLD = str.maketrans({**PUNCTUATION_VARIANTS, "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u200b": ""})


def fold(text: str) -> str:
    """A comparison key: case, quote marks, dashes and whitespace folded."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text).translate(_FOLD)
    return " ".join(text.casefold().split())


# --- aligning a quote to its source -----------------------------------------------------------------------

FUZZY_MIN_SCORE = 90.0
FUZZY_MIN_CHARS = 24
MAX_ELLIPSIS_GAP = 400  # characters of source a "…" may stand for

ELLIPSIS = re.compile(r"\s*(?:\.\.\.|…|\[\.\.\.\]|\[…\])\s*")
WRAPPING_QUOTES = "\"'“”‘’«»"
_CLOSING_PUNCTUATION = frozenset(".,;:!?…)]}")
MAX_OCCURRENCES = 64  # occurrences of a quote weighed by ``rank``; past that, the first are as good as any

# How an occurrence of a quote ranks (lower is better; ties go to the first), given its [start, end).
OccurrenceRank = Callable[[int, int], int]


def _normalized_with_map(text: str) -> tuple[str, list[int]]:
    """Fold quote marks and dashes, collapse whitespace runs to one space and drop it before closing
    punctuation ("a democratic one ." reads "a democratic one."); map each output char to its source index."""
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
            if previous_space and char in _CLOSING_PUNCTUATION and len(out) > 1:
                # Tokenized text spaces its punctuation; a quote of it may not (or the other way round).
                # Only whitespace is dropped, so no word is ever matched that the text does not have.
                out.pop()
                where.pop()
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


def _find_normalized(piece: str, norm_text: str, begin: int = 0) -> tuple[int, int] | None:
    """[start, end) of ``piece``, normalized, in ``norm_text`` (normalized offsets), from ``begin``."""
    norm_piece, _ = _normalized_with_map(piece.strip())
    if not norm_piece:
        return None
    found = norm_text.find(norm_piece, begin)
    if found < 0:
        return None
    return found, found + len(norm_piece)


def _occurrences(needle: str, haystack: str) -> Iterator[int]:
    """Start offsets of ``needle`` in ``haystack``, overlapping ones included, at most ``MAX_OCCURRENCES``."""
    found = haystack.find(needle)
    for _ in range(MAX_OCCURRENCES):
        if found < 0:
            return
        yield found
        found = haystack.find(needle, found + 1)


def _best(spans: Iterator[tuple[int, int]], rank: OccurrenceRank | None) -> tuple[int, int] | None:
    """The best-ranked span (the first of equals); without ``rank``, simply the first."""
    best: tuple[int, int] | None = None
    best_rank = 0
    for span in spans:
        if rank is None:
            return span
        score = rank(*span)
        if best is None or score < best_rank:
            best, best_rank = span, score
            if score <= 0:
                break
    return best


def _whole_words(text: str, start: int, end: int) -> bool:
    """Whether [start, end) neither starts nor ends inside a word of ``text``."""
    inside_start = start > 0 and text[start - 1].isalnum() and text[start].isalnum()
    inside_end = end < len(text) and text[end - 1].isalnum() and text[end].isalnum()
    return not (inside_start or inside_end)


def _strip_punctuation(text: str) -> str:
    """``text`` without the punctuation and whitespace at its ends (a quote's "." the post may not have)."""
    start, end = 0, len(text)
    while start < end and (text[start].isspace() or unicodedata.category(text[start]).startswith("P")):
        start += 1
    while end > start and (text[end - 1].isspace() or unicodedata.category(text[end - 1]).startswith("P")):
        end -= 1
    return text[start:end]


def align(quote: str, text: str, rank: OccurrenceRank | None = None) -> tuple[int, int, GroundingMatch] | None:
    """Locate ``quote`` in ``text``: (start, end, how), or None. Three steps: exact; normalized (quote
    marks, dashes, spaces and whitespace runs folded, whitespace before closing punctuation dropped, and
    then the quote's own end punctuation left out, also when the quote joins pieces with an ellipsis
    spanning at most ``MAX_ELLIPSIS_GAP`` characters); fuzzy (rapidfuzz partial alignment, score
    ≥ ``FUZZY_MIN_SCORE``, for quotes of at least ``FUZZY_MIN_CHARS``), snapped to word boundaries.
    When the words occur more than once, the exact and normalized steps take the occurrence ``rank``
    likes best (the first of equals; without ``rank``, the first). No step accepts a word the text lacks:
    only quote marks, dashes, whitespace and the quote's end punctuation are forgiven before the fuzzy
    step, whose bounds are its own."""
    candidate = quote.strip()
    if len(candidate) > 2 and candidate[0] in WRAPPING_QUOTES and candidate[-1] in WRAPPING_QUOTES:
        if candidate not in text:
            candidate = candidate[1:-1].strip()
    if not candidate:
        return None
    found = _best(((s, s + len(candidate)) for s in _occurrences(candidate, text)), rank)
    if found is not None:
        return found[0], found[1], "exact"

    norm_text, where = _normalized_with_map(text)
    bare = _strip_punctuation(candidate)
    for piece, whole_words in ((candidate, False), (bare, True)):
        norm_piece, _ = _normalized_with_map(piece)
        if not norm_piece or (whole_words and bare == candidate):
            continue
        located = ((where[s], where[s + len(norm_piece) - 1] + 1) for s in _occurrences(norm_piece, norm_text))
        # Without its end punctuation, a short quote ("no.") must not land inside a longer word ("not").
        best = _best((span for span in located if not whole_words or _whole_words(text, *span)), rank)
        if best is not None:
            return best[0], best[1], "normalized"

    pieces = [p for p in ELLIPSIS.split(candidate) if p.strip()]
    if len(pieces) > 1:
        spans: list[tuple[int, int]] = []
        begin = 0
        for piece in pieces:
            hit = _find_normalized(piece, norm_text, begin)
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
