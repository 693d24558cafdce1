"""API: the per-thread pipeline as plain functions, for a distributed engine (Dask, see docs/dask.md) or any
other caller that brings its own threads and scheduling.

Input: threads as thread JSON objects (``schemas/thread.schema.json``: id, title, source, posts with id,
author, parent_id, text) or as one line of a JSONL file holding such an object; the backend and its
options (``RunConfig``'s fields: model, base_url, rpm, tpm, concurrency, cache_dir, max_chunk_tokens, ...);
the API key comes from ``OPENAI_API_KEY`` as for the command line. Output: each thread's brief as a dict, the
same brief ``threadbrief run`` writes for that thread (``created_at``, ``seconds`` and ``thread.input_path``
aside: a worker knows the line, not the file it came from; ``thread_of(item, where)`` names it), and
``write_brief`` to write one as OUT/<id>/brief.{json,md}. No global state: every call builds its own
extractor, rate limiter and cache handle and closes them; a process reuses only read-only models.
Differences from a run: a thread's id is made safe as a folder name but not unique across the input (the
run renames a repeated id id-2; here the caller keeps ids unique), and there is no run.json.
Failure modes: ``InputError`` for an object that is not a thread; ``ConfigError`` for an unknown backend
or missing key; a thread whose chain raised outside its chunks (a bug) raises, as it would with ``--debug``
(an engine then reports the task); a chunk or overview the model could not answer is recorded in the
brief (status partial or failed), as in a run.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from . import outputs
from .brief_types import Brief
from .errors import ConfigError
from .load import safe_thread_id, thread_from_object
from .models import Thread
from .runner import Runner
from .settings import RunConfig, make_extractor
from .thread import brief_thread

__all__ = ["brief_one", "brief_partition", "thread_of", "write_brief"]

ThreadInput = Mapping[str, Any] | str


def thread_of(item: ThreadInput, where: str | None = None) -> Thread:
    """A thread JSON object, or a JSONL line holding one, → a loaded ``Thread`` as a run loads it (the same
    digest as a run gives a JSONL line: the line's own sha256)."""
    if isinstance(item, str):
        line = item.rstrip("\r\n")
        obj = json.loads(line)
        digest = hashlib.sha256(line.encode("utf-8")).hexdigest()
    else:
        obj = dict(item)
        digest = hashlib.sha256(json.dumps(obj, ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()
    default_id = f"thread-{digest[:12]}"
    thread = thread_from_object(
        obj, path=where or str(obj.get("id") or default_id), default_id=default_id, digest=digest
    )
    thread.id = safe_thread_id(thread.id)
    return thread


def brief_partition(threads: Iterable[ThreadInput], backend: str = "offline", **options: Any) -> list[Brief]:
    """Briefs of ``threads`` in their order, with one extractor, rate limiter and cache for all of them (a
    Dask partition: ``bag.map_partitions(brief_partition, backend=...)``). ``options``: ``RunConfig``
    fields. With the openai backend, ``rpm``/``tpm`` bound this call alone: give each of W workers 1/W of
    the account's limits."""
    loaded = [thread_of(item) for item in threads]
    if not loaded:
        return []
    config = RunConfig(inputs=[], out=Path(os.devnull), backend=backend, **options)
    extractor, _notice = make_extractor(config, dict(os.environ))
    runner = Runner(config, extractor)

    async def all_briefs() -> list[Brief]:
        try:
            done = await asyncio.gather(
                *(brief_thread(t, runner.answers, runner.tokenizer, runner.thread_settings) for t in loaded)
            )
        finally:
            if runner.cache is not None:
                runner.cache.close()
            await extractor.aclose()
        briefs = []
        for thread, (_result, brief) in zip(loaded, done, strict=True):
            if brief is None:  # only a batch queue leaves a thread pending, and this path never uses one
                raise ConfigError(f"{thread.id}: no brief (pending); use `threadbrief run --batch` for the Batch API")
            briefs.append(brief)
        return briefs

    return asyncio.run(all_briefs())


def brief_one(thread: ThreadInput, backend: str = "offline", **options: Any) -> Brief:
    """One thread's brief (``bag.map(brief_one)``). For an LLM backend prefer ``brief_partition``: it shares
    one connection pool, rate limiter and cache across a partition instead of opening them per thread."""
    return brief_partition([thread], backend, **options)[0]


def write_brief(brief: Brief, out: str | Path) -> str:
    """Write OUT/<id>/brief.json and brief.md (atomic renames: a killed worker leaves no half file; two
    workers writing one thread's brief leave one whole brief). Returns the thread's id."""
    outputs.write_brief(Path(out), brief)
    return brief["thread"]["id"]
