"""The language model, loaded fast: py3langid's shipped model unpacked once into the user's cache.

Input: nothing (py3langid's installed model file). Output: the ``LanguageIdentifier`` py3langid's own
``from_model_file`` builds from that file, with the same arrays.
Why: the wheel ships the model as an xz-compressed npz (4.6 MB); decompressing it (68 MB) costs half a second
of CPU in every process that detects a language: each single-process run, and the server every ``--jobs``
worker is forked from, before the first worker can start. The first load writes the decompressed npz to
``$XDG_CACHE_HOME/threadbrief/models/`` (named by py3langid's version and the sha256 of the compressed
file, so an upgraded model is unpacked again); later loads read it in about a quarter of a second
(``bench/jobs.py`` prints both loads).
Failure modes: none raised of its own. A cache that cannot be written (read-only home) or read (truncated,
corrupt: the npz's CRC-32s fail) is passed over for py3langid's own load, which raises as it always did; a
bad file is replaced on the next load that can write. With ``THREADBRIEF_MODEL_CACHE=0`` the cache is
neither read nor written.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import tempfile
import zipfile
from array import array
from pathlib import Path
from typing import Any

# The model layout this module reads: py3langid 0.4's modelio (save_model / load_model). Another version is
# loaded by py3langid itself, without the cache.
_LAYOUT_VERSION = "0.4."
_ARRAYS = ("ptc", "pc", "classes", "nextmove", "nextmove_row", "out_feat")
_TYPECODES = {2: "H", 4: "I", 8: "L"}


def load_identifier() -> Any:
    """py3langid's ``LanguageIdentifier`` over its shipped model, normalized probabilities."""
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    packed = MODEL_DIR / MODEL_FILE
    unpacked = _cached_copy(packed)
    if unpacked is not None:
        model = _read(unpacked) or _unpack(packed, unpacked)
        if model is not None:
            ptc, pc, classes, nextmove, row, output = model
            # As py3langid 0.4's from_model_file builds it from load_model's tuple.
            return LanguageIdentifier(ptc, pc, classes, nextmove, output, norm_probs=True, tk_row=row)
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def _cached_copy(packed: Path) -> Path | None:
    """Where the unpacked model is kept, or None when it is not to be kept (switched off, another layout)."""
    if os.environ.get("THREADBRIEF_MODEL_CACHE", "1") == "0":
        return None
    version = importlib.metadata.version("py3langid")
    if not version.startswith(_LAYOUT_VERSION):
        return None
    from .cache import default_cache_dir

    try:
        folder = default_cache_dir() / "models"
    except (RuntimeError, KeyError):  # no $XDG_CACHE_HOME and no home directory (a user with no passwd entry)
        return None
    digest = hashlib.sha256(packed.read_bytes()).hexdigest()[:16]
    return folder / f"py3langid-{version}-{digest}.npz"


def _model(arrays: dict[str, Any]) -> tuple[Any, ...]:
    """load_model's tuple: (nb_ptc, nb_pc, nb_classes, tk_nextmove, tk_row, tk_output), its types too."""
    import numpy as np

    def as_array(values: Any) -> array[int]:
        out = array(_TYPECODES[values.dtype.itemsize])
        out.frombytes(np.ascontiguousarray(values).tobytes())
        return out

    return (
        np.asarray(arrays["ptc"]),
        np.asarray(arrays["pc"]),
        arrays["classes"].tolist(),
        as_array(arrays["nextmove"]),
        as_array(arrays["nextmove_row"]),
        arrays["out_feat"].tolist(),
    )


def _read(unpacked: Path) -> tuple[Any, ...] | None:
    import numpy as np

    try:
        # Opened here, not by np.load: a file np.load refuses (not a zip) would be left open by it.
        with unpacked.open("rb") as handle, np.load(handle, allow_pickle=False) as data:
            if sorted(data.files) != sorted(_ARRAYS):
                return None
            return _model({name: data[name] for name in _ARRAYS})
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):  # absent, truncated, a CRC-32 that fails
        return None


def _unpack(packed: Path, unpacked: Path) -> tuple[Any, ...] | None:
    """Decompress ``packed`` into ``unpacked`` (atomically: a reader never sees half a file), and read it."""
    import lzma

    try:
        unpacked.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".unpacking-", suffix=".tmp", dir=unpacked.parent)
        try:
            with os.fdopen(handle, "wb") as out, lzma.open(packed) as source:
                while block := source.read(1 << 20):
                    out.write(block)
            os.replace(temporary, unpacked)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError:  # not writable, disk full: py3langid's own load, from the compressed file
        return None
    return _read(unpacked)
