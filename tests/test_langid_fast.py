"""The vectorized py3langid path (pipeline/langid_fast.py) gives exactly what py3langid's own ``rank`` gives:
the same features in the same order, the same float32 probability for every label, the same detected
language and confidence, on generated texts in many scripts, featureless, uppercase, with lone surrogates,
long, and several at once (the texts of a thread are walked together). An automaton that is not
Aho-Corasick is refused, and detection then falls back to ``rank``.

The words below were written for these tests; the generated texts are random draws from them and from
Unicode ranges, with a fixed seed.
"""

from __future__ import annotations

import dataclasses
import random
from array import array
from typing import Any

import numpy as np
import pytest
from conftest import CMV_THREADS, need
from py3langid.langid import LanguageIdentifier, visit_counts

from pipeline import langid_fast, language
from pipeline.langid_fast import Scanner
from pipeline.language import MIN_CONFIDENCE, MIN_LETTERS, UNDETERMINED, Detected, detect_texts, thread_texts

WORDS = {
    "en": "the people will argue that this policy makes work better for everyone who commutes".split(),
    "de": "die Leute werden sagen dass diese Regel die Arbeit für alle besser macht".split(),
    "fr": "les gens diront que cette règle rend le travail meilleur pour tous".split(),
    "es": "la gente dirá que esta norma hace el trabajo mejor para todos".split(),
    "pl": "ludzie powiedzą że ta zasada czyni pracę lepszą dla wszystkich".split(),
    "ru": "люди скажут что это правило делает работу лучше для всех".split(),
    "el": "οι άνθρωποι θα πουν ότι αυτός ο κανόνας κάνει τη δουλειά καλύτερη".split(),
    "ja": "人々は この規則が 仕事を 皆にとって 良くすると 言うでしょう".split(),
    "zh": "人们 会说 这条 规则 让 工作 对 每个人 更好".split(),
    "ko": "사람들은 이 규칙이 모두의 일을 더 좋게 만든다고 말할 것이다".split(),
    "ar": "سيقول الناس إن هذه القاعدة تجعل العمل أفضل للجميع".split(),
    "he": "אנשים יגידו שהכלל הזה הופך את העבודה לטובה יותר לכולם".split(),
    "hi": "लोग कहेंगे कि यह नियम सबके लिए काम को बेहतर बनाता है".split(),
    "th": "ผู้คน จะ บอก ว่า กฎ นี้ ทำให้ งาน ดี ขึ้น สำหรับ ทุกคน".split(),
}
# Ranges of code points the generator also draws from one at a time: ASCII, Latin-1, Cyrillic, CJK, emoji.
RANGES = [(0x20, 0x7E), (0xA0, 0xFF), (0x400, 0x4FF), (0x4E00, 0x4EFF), (0x1F600, 0x1F64F)]


def _ident() -> Any:
    return language._identifier()


def _scanner() -> Scanner:
    scanner = language._scanner()
    assert scanner is not None, "the installed py3langid is not the one langid_fast was written against"
    return scanner


def _text(rng: random.Random) -> str:
    kind = rng.randrange(9)
    if kind == 0:
        return "".join(chr(rng.randint(*rng.choice(RANGES))) for _ in range(rng.randrange(12)))
    if kind == 1:
        return rng.choice(["", " ", "\n\n", "...", "1", "42 !", "😀😀", "a", "ab", "x y", "- - -"])
    words = [rng.choice(WORDS[rng.choice(list(WORDS))]) for _ in range(rng.randrange(1, 8))]
    if kind == 2:  # one language, long enough to be told
        words = rng.choices(WORDS[rng.choice(list(WORDS))], k=rng.randrange(5, 60))
    text = " ".join(words)
    if kind == 3:
        return text.upper()  # py3langid lowercases a text that is all uppercase
    if kind == 4:
        at = rng.randrange(len(text) + 1)
        return text[:at] + rng.choice(["\ud800", "\udfff", "\ud83d"]) + text[at:]  # a lone surrogate
    if kind == 5:
        return text + " " + "".join(chr(rng.randint(0x300, 0x36F)) for _ in range(3))  # combining marks (NFC)
    return text


def _batches(seed: int, count: int) -> list[list[str]]:
    rng = random.Random(seed)
    return [[_text(rng) for _ in range(rng.randrange(1, 9))] for _ in range(count)]


def _rank_rows(texts: list[str], labels: list[str]) -> np.ndarray:
    rows = [dict(_ident().rank(text)) for text in texts]
    return np.array([[row[label] for label in labels] for row in rows], dtype=np.float32)


def _reference_detect(texts: list[str]) -> Detected:
    """detect_texts as it was before the fast path: py3langid's rank, text by text, summed in a dict."""
    weights: dict[str, float] = {}
    total = 0
    for text in texts:
        letters = sum(map(str.isalpha, text))
        if not letters:
            continue
        total += letters
        for code, probability in _ident().rank(text):
            if probability > 0:
                weights[code] = weights.get(code, 0.0) + letters * probability
    if total < MIN_LETTERS or not weights:
        return UNDETERMINED
    code = max(weights, key=lambda c: (weights[c], c))
    confidence = weights[code] / total
    if code == "zxx" or confidence < MIN_CONFIDENCE:
        return UNDETERMINED
    return Detected(code, round(confidence, 3))


def test_the_walk_finds_py3langids_features_in_its_order() -> None:
    scanner, ident = _scanner(), _ident()
    batches = _batches(1, 150) + [["ab", "c", "", "d", "efg"], ["x"] * 9, [""], ["the"] * 3]
    featureless = 0
    for texts in batches:
        encoded = [ident._encode(text) for text in texts]
        for data, (idx, counts) in zip(encoded, scanner.visits(encoded), strict=True):
            expected = visit_counts(ident.tk_nextmove, ident._rowbase, ident.tk_output, data) or {}
            assert idx.tolist() == list(expected) and counts.tolist() == list(expected.values()), data
            featureless += not expected
    assert featureless > 10  # the featureless branch is exercised, not only texts with features


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_probabilities_equal_rank_bit_for_bit(seed: int) -> None:
    scanner = _scanner()
    for texts in _batches(seed, 60):
        got = scanner.probabilities(texts)
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, _rank_rows(texts, scanner.labels), err_msg=repr(texts))


def test_long_texts_and_every_script_equal_rank() -> None:
    scanner = _scanner()
    rng = random.Random(5)
    texts = [" ".join(rng.choices(words, k=4000)) for words in WORDS.values()]  # 20,000+ characters each
    texts.append("".join(chr(rng.randint(*rng.choice(RANGES))) for _ in range(20_000)))
    texts.append(" ".join(rng.choices(WORDS["en"], k=3000)).upper())
    np.testing.assert_array_equal(scanner.probabilities(texts), _rank_rows(texts, scanner.labels))
    for text in texts[:3]:  # and each alone, not only joined with the others
        np.testing.assert_array_equal(scanner.probabilities([text]), _rank_rows([text], scanner.labels))


def test_detect_texts_is_the_detection_rank_gave(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(6)
    threads = _batches(7, 80)
    for _ in range(60):  # threads mixing two languages, some near the confidence threshold
        first, second = rng.sample(list(WORDS), 2)
        threads.append(
            [
                " ".join(rng.choices(WORDS[rng.choice([first, second])], k=rng.randrange(3, 30)))
                for _ in range(rng.randrange(1, 6))
            ]
        )
    expected = [_reference_detect(texts) for texts in threads]
    assert sum(found.determined for found in expected) > 30 and len(set(expected)) > 20
    assert [detect_texts(texts) for texts in threads] == expected
    monkeypatch.setattr(language, "_scanner", lambda: None)  # another py3langid: rank itself is used
    assert [detect_texts(texts) for texts in threads] == expected


def test_cmv_dev_threads_are_detected_as_rank_detected_them() -> None:
    need(CMV_THREADS.exists(), "../shared/eval/cmv-dev")
    from pipeline.load import load_inputs

    threads = load_inputs([CMV_THREADS]).threads
    assert threads
    for thread in threads:
        texts = thread_texts(thread)
        assert detect_texts(texts) == _reference_detect(texts), thread.id


def test_an_automaton_that_is_not_aho_corasick_is_refused() -> None:
    ident, scanner = _ident(), _scanner()
    nextmove = np.frombuffer(ident.tk_nextmove, dtype=np.uint32).reshape(-1, 256)
    row = np.frombuffer(ident.tk_row, dtype=np.uint16)

    def state(text: str) -> int:
        at = 0
        for byte in text.encode():
            at = int(nextmove[row[at], byte])
        return at

    # "th!" is no node, so after "th" the byte "!" goes where it goes after "h": to the node for the
    # longest suffix of "h!". Sent to the root instead, the state after "...th!" would not be the one after
    # its last D bytes alone (" th!" is not "th!" truncated), and the windowed walk would count other
    # features than py3langid's byte walk; only the check of every non-trie move sees it.
    assert state("th!") == state("h!") != 0
    broken = nextmove.copy()
    broken[row[state("th")], ord("!")] = 0
    tampered = LanguageIdentifier(
        ident.nb_ptc,
        ident.nb_pc,
        ident.nb_classes,
        array("I", broken.ravel().tobytes()),
        ident.tk_output,
        norm_probs=True,
        tk_row=ident.tk_row,
    )
    assert Scanner.build(tampered) is None
    assert Scanner.build(ident) is not None and scanner.depth == Scanner.build(ident).depth  # type: ignore[union-attr]
    raw = LanguageIdentifier.from_model_file("data/model.npz.xz", norm_probs=False)
    assert Scanner.build(raw) is None  # raw scores are not what the fast path computes


def test_the_float16_table_read_as_py3langid_reads_it_gives_the_same() -> None:
    # The bit-shift widening is for tables of negative normal float16s only; any other table is indexed as
    # py3langid indexes it, and both give rank's numbers.
    scanner = _scanner()
    assert scanner.table_bits is not None
    plain = dataclasses.replace(scanner, table_bits=None)
    for texts in _batches(8, 20):
        expected = _rank_rows(texts, scanner.labels)
        np.testing.assert_array_equal(plain.probabilities(texts), expected)
        np.testing.assert_array_equal(scanner.probabilities(texts), expected)


def test_the_shipped_automaton_passes_the_check_its_fingerprint_skips() -> None:
    ident = _ident()
    nextmove = np.frombuffer(ident.tk_nextmove, dtype=np.uint32)
    row = np.frombuffer(ident.tk_row, dtype=np.uint16).astype(np.intp)
    output = np.asarray(ident.tk_output, dtype=np.int64)
    depth = langid_fast._aho_corasick_depth(nextmove.reshape(-1, 256), row)
    assert depth is not None
    if langid_fast.automaton_fingerprint(nextmove, row, output) == langid_fast._CHECKED_AUTOMATON:
        assert depth == langid_fast._CHECKED_DEPTH == _scanner().depth
    # one changed move and the fingerprint no longer matches, so the full check runs (and refuses it)
    changed = nextmove.copy()
    changed[int(row[0]) * 256 + ord("t")] = 0
    assert langid_fast.automaton_fingerprint(changed, row, output) != langid_fast._CHECKED_AUTOMATON
