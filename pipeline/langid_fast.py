"""py3langid's probabilities, the same numbers from a vectorized walk over the model's byte automaton.

Input: py3langid's ``LanguageIdentifier`` (loaded with ``norm_probs=True``) and a list of texts (str).
Output: ``Scanner.probabilities(texts)``: a row per text, a column per label (``Scanner.labels``, one per
distinct language as ``rank`` gives them), each equal to what ``identifier.rank(text)`` gives that label,
bit for bit. It is the library's own model and arithmetic: its ``_encode`` (lowercasing all-uppercase text,
NFC), its ``_sparse_score`` formula over the same feature counts in the same order (``Counter``'s, first
occurrence first, so the float32 matmul sums alike), its normalization and alias folding. What differs:
py3langid walks its Aho-Corasick automaton one byte at a time in Python; here the state after every byte
is computed at once. In an Aho-Corasick automaton that state is the trie node for the longest suffix of the
text so far that is a node, and no node is deeper than the trie's depth D (6 for the shipped model), so it
is the state reached from the root over bytes i-D+1..i alone: D vectorized steps. A thread's texts are
walked together, joined by byte 0xFF, which UTF-8 never contains and which leads every state to the root.
And the model's float16 table is widened to float32 by shifting bits, exactly as numpy's cast does.
Failure modes: ``Scanner.build`` returns None, once at load, when the identifier is not what this module
was written against (another py3langid release: a missing attribute, another layout, an automaton that is
not Aho-Corasick over a trie, a byte 0xFF that does not lead to the root, a few sample texts not scored
exactly as ``rank`` scores them); the caller then uses ``rank``. The automaton check takes about a quarter
of a second, and is skipped for the automaton it has already passed (py3langid 0.4.0's, known by its sha256).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

_RESET = 0xFF  # never in UTF-8 (nor in CESU-style surrogates), so a free separator between texts
_CHUNK = 4096  # automaton rows read at once when checking it: 4 MB
_MAX_DEPTH = 16  # a deeper trie would make the vectorized walk slower than it is worth
# A few texts the fast path must score as rank does before it is used: scripts, a featureless text, case.
_SAMPLES = (
    "The committee will meet on Tuesday to discuss the budget.",
    "Der Ausschuss trifft sich am Dienstag, um den Haushalt zu besprechen.",
    "委員会は火曜日に予算について話し合います。",
    "Комитет соберётся во вторник, чтобы обсудить бюджет.",
    "ΚΑΛΗΜΕΡΑ ΣΑΣ",
    "",
    "12345 !!!",
)


@dataclass(frozen=True)
class Scanner:
    identifier: Any
    labels: list[str]  # distinct labels, in the identifier's column order (as ``rank`` merges them)
    label_columns: npt.NDArray[np.intp]  # the first column of each label: the one alias folding leaves
    depth: int
    rowbase: npt.NDArray[np.intp]  # state -> offset of its row in ``nextmove``
    nextmove: npt.NDArray[np.uint32]  # flat (row, byte) -> next state
    start2: npt.NDArray[np.intp]  # (byte, byte) -> the state two bytes from the root: two steps in one
    output: npt.NDArray[np.int64]  # state -> feature index, -1 for none
    # The model's float16 table as bits, when every entry is a negative normal float16 (the shipped model's
    # are all in [-15, -2.7]): its float32 is then a shift and an add, four times faster than numpy's
    # float16 cast, which py3langid's matmul makes on the fly. None: the table is used as py3langid does.
    table_bits: npt.NDArray[np.uint16] | None

    @classmethod
    def build(cls, identifier: Any) -> Scanner | None:
        """A scanner for ``identifier``, or None when its internals are not as expected."""
        try:
            nextmove = np.frombuffer(identifier.tk_nextmove, dtype=np.uint32)
            row = np.frombuffer(identifier.tk_row, dtype=np.uint16).astype(np.intp)
            output = np.asarray(identifier.tk_output, dtype=np.int64)
            classes = list(identifier.nb_classes)
            table = identifier.nb_ptc
            expected = (
                identifier._norm_probs is True
                and identifier.tk_nextmove.itemsize == 4
                and identifier.tk_row.itemsize == 2
                and list(identifier._rowbase[:3]) == [int(r) << 8 for r in row[:3]]
                and nextmove.size == (int(row.max()) + 1) * 256
                and len(row) == len(output)
                and int(nextmove.max()) < len(row)
                and int(output.max()) < table.shape[0]
                and output[0] == -1
                and table.dtype == np.float16
                and table.ndim == 2
                and table.flags.c_contiguous
                and table.shape[1] == len(classes) == identifier.nb_pc.shape[0]
                and identifier.nb_pc.dtype == np.float32
                and identifier._encode("AB") == b"ab"
                and all(0 <= i < j < len(classes) for i, j in identifier._alias_pairs)
            )
        except (AttributeError, TypeError, ValueError):
            return None
        if not expected:
            return None
        depth = _checked_depth(nextmove, row, output)
        if depth is None or not 2 <= depth <= _MAX_DEPTH:
            return None
        rowbase = row << 8
        first = rowbase[nextmove[rowbase[0] + np.arange(256)]]
        start2 = nextmove[(first[:, None] + np.arange(256)[None, :]).ravel()].astype(np.intp)
        labels = list(dict.fromkeys(classes))
        columns = np.array([classes.index(label) for label in labels], dtype=np.intp)
        bits = table.view(np.uint16)
        # Negative normal float16s are the bit patterns 0x8400 (sign, exponent 1) to 0xFBFF (exponent 30).
        table_bits = bits if int(bits.min()) >= 0x8400 and int(bits.max()) <= 0xFBFF else None
        scanner = cls(identifier, labels, columns, depth, rowbase, nextmove, start2, output, table_bits)
        # The last guard, against a numpy or py3langid whose arithmetic differs from what this mirrors.
        expected_rows = [[dict(identifier.rank(text))[label] for label in labels] for text in _SAMPLES]
        if not np.array_equal(scanner.probabilities(list(_SAMPLES)), np.array(expected_rows, dtype=np.float32)):
            return None
        return scanner

    def visits(self, encoded: list[bytes]) -> list[tuple[npt.NDArray[np.intp], npt.NDArray[np.int64]]]:
        """Each text's features and how often each occurs, in order of first occurrence: py3langid's
        ``Counter`` of the features its byte walk appends, as its keys and values."""
        joined = np.frombuffer(bytes([_RESET]) * (self.depth - 1) + bytes([_RESET]).join(encoded), np.uint8)
        n = joined.size - self.depth + 1
        codes = joined.astype(np.intp)
        state = self.start2[(codes[:n] << 8) + codes[1 : n + 1]]
        for k in range(2, self.depth):
            state = self.nextmove[self.rowbase[state] + codes[k : k + n]]
        found = self.output[state]
        at = np.flatnonzero(found >= 0)
        # All texts counted at once: a feature's key carries its text, whose bytes all come before the next's.
        lengths = np.fromiter(map(len, encoded), dtype=np.intp, count=len(encoded))
        text_of = np.repeat(np.arange(len(encoded)), lengths + 1)[at]
        features = len(self.identifier.nb_ptc)
        keys, first, counts = np.unique(text_of * features + found[at], return_index=True, return_counts=True)
        order = np.argsort(first)
        keys, counts = keys[order], counts[order]
        bounds = np.searchsorted(keys // features, np.arange(len(encoded) + 1))
        feature = keys % features
        return [(feature[a:b], counts[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    def probabilities(self, texts: list[str]) -> npt.NDArray[np.float32]:
        """A row per text: each label's probability, as ``identifier.rank(text)`` gives it."""
        identifier = self.identifier
        encoded = [identifier._encode(text) for text in texts]
        rows = np.empty((len(texts), len(self.labels)), dtype=np.float32)
        for i, (data, (idx, counted)) in enumerate(zip(encoded, self.visits(encoded), strict=True)):
            # From here on py3langid's _sparse_score and _decide, step for step, so every float rounds alike.
            if idx.size:
                counts = counted.astype(np.float32)
                scores = np.log1p(counts) @ self._table_rows(idx) + identifier.nb_pc
            else:
                scores = np.full(len(identifier.nb_classes), 0.0, dtype=np.float32)
            scores *= 1.0 / math.sqrt(len(data) or 1)
            np.exp(scores - scores.max(), out=scores)
            scores /= scores.sum()
            for first, dupe in identifier._alias_pairs:
                scores[first] += scores[dupe]
                scores[dupe] = 0.0
            rows[i] = scores[self.label_columns]
        return rows

    def _table_rows(self, idx: npt.NDArray[np.intp]) -> npt.NDArray[Any]:
        if self.table_bits is None:
            return self.identifier.nb_ptc[idx]  # type: ignore[no-any-return]
        # float16 sign|exponent|mantissa to float32: mantissa and exponent shifted into place (bit 28 then
        # holds the sign), the exponent's bias moved from 15 to 127, the sign moved from bit 28 to 31.
        widened = np.left_shift(self.table_bits[idx], 13, dtype=np.uint32)
        widened += _NEGATIVE_HALF_TO_SINGLE
        return widened.view(np.float32)


_NEGATIVE_HALF_TO_SINGLE = np.uint32(((127 - 15) << 23) - (1 << 28) + (1 << 31))

# The automaton of py3langid 0.4.0's shipped model (sha256 of its moves, rows and outputs) and its trie depth,
# as ``_aho_corasick_depth`` found them (tests/test_langid_fast.py checks it again): that model is not checked
# again at every start, which would cost a quarter of a second; any other automaton is.
_CHECKED_AUTOMATON = "2e5413ca69d6fd46d48d685d91df48fb85511a7431b88cdff0c55995f0c82f77"
_CHECKED_DEPTH = 6


def automaton_fingerprint(
    nextmove: npt.NDArray[np.uint32], row: npt.NDArray[np.intp], output: npt.NDArray[np.int64]
) -> str:
    digest = hashlib.sha256(nextmove.tobytes())
    digest.update(row.astype(np.uint16).tobytes())
    digest.update(output.tobytes())
    return digest.hexdigest()


def _checked_depth(
    nextmove: npt.NDArray[np.uint32], row: npt.NDArray[np.intp], output: npt.NDArray[np.int64]
) -> int | None:
    if automaton_fingerprint(nextmove, row, output) == _CHECKED_AUTOMATON:
        return _CHECKED_DEPTH
    return _aho_corasick_depth(nextmove.reshape(-1, 256), row)


def _aho_corasick_depth(nextmove: npt.NDArray[np.uint32], row: npt.NDArray[np.intp]) -> int | None:
    """The trie's depth if ``nextmove`` (rows of 256 next states; state s uses row ``row[s]``) is the
    Aho-Corasick automaton of a trie rooted at state 0 whose byte 0xFF leads every state to the root;
    None otherwise.

    The breadth-first tree from the root is the trie (a state's label is its path; every state is reached
    once, by one edge, from the level above). Then the automaton is Aho-Corasick exactly when every move
    that is not a trie edge goes where the state's failure link (its longest proper suffix that is a
    node) goes on that byte, and the root's go to the root: by induction over the text, the state is
    then always the longest suffix of the text read that is a node.
    """
    states = len(row)
    depth = np.full(states, -1, dtype=np.int64)
    seen = np.zeros(states, dtype=bool)  # a bool gather over the table is several times faster than an int64 one
    parent = np.full(states, -1, dtype=np.int64)
    via = np.zeros(states, dtype=np.int64)
    failure = np.zeros(states, dtype=np.int64)
    depth[0] = 0
    seen[0] = True
    frontier = np.zeros(1, dtype=np.int64)
    level = 0
    while frontier.size:
        # A row's moves are the same for every state using it: read each row once per level.
        rows, first, users = np.unique(row[frontier], return_index=True, return_counts=True)
        found, sources, bytes_ = [], [], []
        for at in range(0, rows.size, _CHUNK):  # in chunks: a level's rows at once would take ~100 MB
            targets = nextmove[rows[at : at + _CHUNK]]
            which, byte = np.nonzero(~seen[targets])
            which += at
            if which.size and (users[which] > 1).any():
                return None  # two states of a level share a new child: not a trie
            found.append(targets[which - at, byte].astype(np.int64))
            sources.append(which)
            bytes_.append(byte)
        new, which, byte = np.concatenate(found), np.concatenate(sources), np.concatenate(bytes_)
        if np.unique(new).size != new.size:
            return None
        level += 1
        depth[new] = level
        seen[new] = True
        parent[new] = frontier[first[which]]
        via[new] = byte
        if level > 1:
            failure[new] = nextmove[row[failure[parent[new]]], byte]
        frontier = new
    if (depth < 0).any() or (nextmove[:, _RESET] != 0).any():
        return None
    root = nextmove[row[0]].astype(np.int64)
    moved = np.flatnonzero(root)
    if ((parent[root[moved]] != 0) | (via[root[moved]] != moved)).any():
        return None
    checked = np.arange(1, states)
    checked = checked[row[checked] != row[failure[checked]]]  # a state sharing its failure's row moves alike
    for at in range(0, checked.size, _CHUNK):
        part = checked[at : at + _CHUNK]
        own = nextmove[row[part]]
        which, byte = np.nonzero(own != nextmove[row[failure[part]]])
        target = own[which, byte].astype(np.int64)
        if ((parent[target] != part[which]) | (via[target] != byte)).any():
            return None
    return int(depth.max())
