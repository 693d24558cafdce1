"""Language: which language a thread is written in, and whether a backend reads it.

Input: a normalized ``Thread``. Its unique posts are read with their quoted text and links left out (a
German reply quoting an English post is still German); the thread's title is read too when the loader did
not make it a post. At most ``MAX_CHARS`` characters are read, in reading order: a thread's language shows
in its first posts, and long threads cost no more.
Output: a ``Detected``: an ISO 639-1 code ("en", "ja", "de"; the classifier's ISO 639-3 code for the few
languages it knows that have no two-letter code) and its probability, or ``UNDETERMINED`` (code "und",
no probability) when the thread is too short, too mixed or has no words to tell, so a thread is never
given a wild guess. ``reads(languages, detected)`` says whether a backend that reads ``languages``
(``Extractor.languages``: the offline extractor's cues are English words; None, an LLM, reads them all)
reads the thread, None when the language is undetermined.
Method: py3langid (a maintained fork of Lui & Baldwin's langid.py: naive Bayes over byte n-grams, about
100 languages, deterministic, model shipped in the wheel) with normalized probabilities. Each post is
classified on its own and the thread's distribution is the mixture of its posts' distributions weighted
by their letters: a long post counts more than "ok", and a thread half English and half German gets about
0.5 for each, below ``MIN_CONFIDENCE``, so it is "und" rather than either. A thread with fewer than
``MIN_LETTERS`` letters is "und" without being classified. The probabilities are py3langid's own, bit for
bit, computed by ``langid_fast`` (the library's model and arithmetic, its byte-by-byte Python walk
vectorized, a thread's posts at once); when the installed py3langid is not the one that module was written
against, by py3langid's ``rank``.
Failure modes: none raised. The model is loaded on first use (``langid_model``: about a quarter of a second
once unpacked into the user's cache, half a second more the first time) and checked for the fast path
(``langid_fast``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .models import TITLE_POST_ID, Thread

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from .langid_fast import Scanner

UNDETERMINED_CODE = "und"  # ISO 639-2's code for "undetermined", as BCP 47 uses it
# The thread's top language needs this probability, and the thread this many letters, to be named. Set on
# all-English cmv-dev and the seeds (no thread below 0.97 there; see the closing report) with room for
# threads that quote another language or mix in short replies, and above the ~0.5 of a half-and-half thread.
MIN_CONFIDENCE = 0.8
MIN_LETTERS = 20
MAX_CHARS = 20_000
# Links and e-mail addresses say nothing about the language they sit in (and "https" reads as English).
_NOT_WORDS = re.compile(r"https?://\S+|www\.\S+|\S+@\S+\.\S+")
_NO_LANGUAGE = "zxx"  # the classifier's label for text with no linguistic content


@dataclass(frozen=True)
class Detected:
    code: str  # ISO 639-1 (639-3 where there is none), or "und"
    confidence: float | None  # the code's probability in [0, 1], rounded to 3 places; None for "und"

    @property
    def determined(self) -> bool:
        return self.code != UNDETERMINED_CODE


UNDETERMINED = Detected(UNDETERMINED_CODE, None)


@lru_cache(maxsize=1)
def _identifier() -> Any:
    # Imported here: commands that never detect should not pay for the model.
    from .langid_model import load_identifier

    return load_identifier()


@lru_cache(maxsize=1)
def _scanner() -> Scanner | None:
    from .langid_fast import Scanner  # imports numpy, as the model does: only when detecting

    return Scanner.build(_identifier())


def _probabilities(texts: list[str]) -> tuple[list[str], npt.NDArray[np.float64]]:
    """The labels, and a row per text of each label's probability as ``rank`` gives it."""
    import numpy as np

    scanner = _scanner()
    if scanner is not None:
        return scanner.labels, scanner.probabilities(texts).astype(np.float64)
    identifier = _identifier()  # another py3langid than langid_fast knows: its own, slower, rank
    labels = identifier.labels
    rows = np.zeros((len(texts), len(labels)), dtype=np.float64)
    for i, text in enumerate(texts):
        ranked = dict(identifier.rank(text))
        rows[i] = [ranked[label] for label in labels]
    return labels, rows


# str.isalpha is [A-Za-z] on ASCII, so an ASCII text's letters are counted by deleting every other byte in C.
_NOT_ASCII_LETTERS = bytes(b for b in range(128) if not chr(b).isalpha())


def _letters(text: str) -> int:
    if text.isascii():
        return len(text.encode("ascii").translate(None, _NOT_ASCII_LETTERS))
    return sum(map(str.isalpha, text))  # the same count as a generator's, at half the time


def thread_texts(thread: Thread) -> list[str]:
    """The text read for the language: unique posts without their quoted spans and links, up to MAX_CHARS."""
    texts: list[str] = []
    if thread.title and thread.post(TITLE_POST_ID) is None:
        texts.append(thread.title)
    for post in thread.unique_posts:
        pieces, at = [], 0
        for start, end in sorted(post.quoted):
            pieces.append(post.text[at:start])
            at = max(at, end)
        pieces.append(post.text[at:])
        texts.append(_NOT_WORDS.sub(" ", "".join(pieces)))
    kept: list[str] = []
    budget = MAX_CHARS
    for text in texts:
        if budget <= 0:
            break
        kept.append(text[:budget])
        budget -= len(kept[-1])
    return kept


def detect_texts(texts: list[str]) -> Detected:
    """The language of ``texts`` taken together (see the module's docstring)."""
    read = [(text, letters) for text in texts if (letters := _letters(text))]
    total = sum(letters for _, letters in read)
    if total < MIN_LETTERS:
        return UNDETERMINED
    import numpy as np  # loaded with the model

    labels, rows = _probabilities([text for text, _ in read])
    # Summed text by text in reading order, as float64: the same additions a dict of running sums makes.
    weights = np.zeros(len(labels), dtype=np.float64)
    given = np.zeros(len(labels), dtype=bool)
    for (_, letters), row in zip(read, rows, strict=True):
        weights += np.where(row > 0, letters * row, 0.0)
        given |= row > 0
    if not given.any():
        return UNDETERMINED
    best = float(weights[given].max())
    # ties (never seen) broken by code: deterministic
    code = max(
        label for label, weight, was in zip(labels, weights.tolist(), given, strict=True) if was and weight == best
    )
    confidence = best / total
    if code == _NO_LANGUAGE or confidence < MIN_CONFIDENCE:
        return UNDETERMINED
    return Detected(code, round(confidence, 3))


def detect(thread: Thread) -> Detected:
    """The language of a normalized thread's posts."""
    return detect_texts(thread_texts(thread))


def reads(languages: frozenset[str] | None, language: Detected) -> bool | None:
    """Whether a backend that reads ``languages`` (None: every language) reads ``language``; None when the
    language is undetermined."""
    if not language.determined:
        return None
    return languages is None or language.code in languages


def write_in(requested: str | None, detected: Detected) -> str | None:
    """The language an LLM is to write paraphrases and the overview in: --language, else the thread's own;
    None when neither is known (the model then follows the posts)."""
    return requested or (detected.code if detected.determined else None)


def unread_reason(backend: str, languages: frozenset[str], language: Detected) -> str:
    """What a brief and run.json say when ``backend`` does not read the thread's language."""
    # The key facts first: the runner's line on stderr shows the first 160 characters.
    return (
        f"this thread is in {language.code} (probability {language.confidence}); the {backend} extractor does not "
        f"read it (it reads {', '.join(sorted(languages))}): --backend openai reads {language.code}; the claims and "
        "relations here rest on cues of another language, so they miss or misread what the thread argues"
    )


_TWO_LETTERS = re.compile(r"[a-z]{2}")


def is_language_code(code: str) -> bool:
    """An ISO 639-1 code as --language takes it: two lowercase letters."""
    return bool(_TWO_LETTERS.fullmatch(code))
