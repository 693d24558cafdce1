"""The language model's unpacked copy (pipeline/langid_model.py): what it loads is exactly what py3langid's own
loader gives (every array, its type and typecode), the first load writes the copy and later loads read it,
and a copy that is truncated, not writable or switched off never changes the identifier, only its speed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from py3langid.langid import MODEL_DIR, MODEL_FILE
from py3langid.modelio import load_model

from pipeline import langid_model

TEXTS = ["The committee will meet on Tuesday.", "Der Ausschuss trifft sich am Dienstag.", "委員会は火曜日に会います。"]


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("THREADBRIEF_MODEL_CACHE", raising=False)
    return tmp_path / "threadbrief" / "models"


@pytest.fixture(scope="module")
def reference() -> tuple[Any, ...]:
    return tuple(load_model(MODEL_DIR / MODEL_FILE))


def assert_same_model(identifier: Any, reference: tuple[Any, ...]) -> None:
    ptc, pc, classes, nextmove, row, output = reference
    assert identifier.nb_ptc.dtype == ptc.dtype and np.array_equal(identifier.nb_ptc, ptc)
    assert identifier.nb_pc.dtype == pc.dtype and np.array_equal(identifier.nb_pc, pc)
    assert identifier.nb_classes == classes
    for mine, theirs in ((identifier.tk_nextmove, nextmove), (identifier.tk_row, row)):
        assert type(mine) is type(theirs) and mine.typecode == theirs.typecode and mine == theirs
    assert identifier.tk_output == output
    assert identifier._norm_probs is True


def ranks(identifier: Any) -> list[list[tuple[str, float]]]:
    return [sorted(identifier.rank(text)) for text in TEXTS]


def test_first_load_writes_the_copy_and_the_next_reads_it(cache_home: Path, reference: tuple[Any, ...]) -> None:
    first = langid_model.load_identifier()
    [copy] = cache_home.iterdir()
    assert copy.name.startswith("py3langid-0.4.") and copy.suffix == ".npz"
    assert not [p for p in cache_home.iterdir() if p.name.endswith(".tmp")]
    written = copy.stat().st_mtime_ns
    second = langid_model.load_identifier()
    assert copy.stat().st_mtime_ns == written  # read, not written again
    assert_same_model(first, reference)
    assert_same_model(second, reference)
    assert ranks(second) == ranks(first)


def test_a_truncated_copy_is_replaced(cache_home: Path, reference: tuple[Any, ...]) -> None:
    langid_model.load_identifier()
    [copy] = cache_home.iterdir()
    size = copy.stat().st_size
    with copy.open("r+b") as handle:
        handle.truncate(size // 2)
    assert langid_model._read(copy) is None
    assert_same_model(langid_model.load_identifier(), reference)
    assert copy.stat().st_size == size


def test_a_copy_with_a_flipped_byte_is_refused(cache_home: Path) -> None:
    langid_model.load_identifier()
    [copy] = cache_home.iterdir()
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the largest array: its CRC-32 no longer matches
    copy.write_bytes(bytes(data))
    assert langid_model._read(copy) is None


def test_a_cache_path_that_is_a_file_falls_back_to_py3langid(cache_home: Path, reference: tuple[Any, ...]) -> None:
    cache_home.parent.mkdir(parents=True)
    cache_home.write_text("not a folder")  # mkdir fails, as on a read-only home (whose mode root ignores)
    assert_same_model(langid_model.load_identifier(), reference)
    assert cache_home.read_text() == "not a folder"


def test_switched_off_the_copy_is_neither_read_nor_written(
    cache_home: Path, reference: tuple[Any, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THREADBRIEF_MODEL_CACHE", "0")
    assert_same_model(langid_model.load_identifier(), reference)
    assert not cache_home.exists()


def test_no_home_directory_falls_back_to_py3langid(reference: tuple[Any, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("THREADBRIEF_MODEL_CACHE", raising=False)

    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    assert_same_model(langid_model.load_identifier(), reference)
