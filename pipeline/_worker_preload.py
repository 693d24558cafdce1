"""Imported only by the forkserver of ``jobs.ThreadPool`` (multiprocessing's preload), never by the pipeline.

Importing it loads what every worker needs before its first thread: the pipeline's modules, the offline
tokenizer's BPE ranks and the language model (together about a second of CPU). The forkserver does this once,
and each worker is forked from it with them already in memory, instead of every worker loading its own.
It imports the command line's modules too (not the openai SDK, which ``lazy`` imports on first use, and an
offline worker never uses): a worker imports the main module again before its first task (the ``threadbrief``
script, or a user's script importing the pipeline), and finds them loaded. (Preloading ``"__main__"`` itself
does nothing on Python 3.11: its path is not passed.)
Failure modes: none of its own; a broken model raises here as it would in the first thread.
"""

from __future__ import annotations

from . import cli  # noqa: F401  (imported for its side effect: every pipeline module loaded)
from .jobs import load_models

load_models()
