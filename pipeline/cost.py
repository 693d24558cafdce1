"""Cost: the price table, the cost of tokens spent, and the estimate of a run before it starts.

Input: a model name, token counts; for an estimate, the loaded threads, the tokenizer and the chunk
budget. Output: USD (None when the model has no price), and an ``Estimate`` (threads, chunks, calls,
prompt tokens, output budget, cost) computed with no network: chunks as the run would make them, one
summary call per thread whose prompt is bounded by the thread's extraction output budget.
Prices come from ``pipeline/data/prices.json`` (USD per 1M tokens), overridden or extended by a user's
file (``--prices FILE`` or ``$THREADBRIEF_PRICES``) of the same shape.
Failure modes: ``ConfigError`` for an unreadable or malformed price file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from .chunk import ANY_LANGUAGE, chunk_thread
from .errors import ConfigError
from .models import Thread, Usage
from .normalize import normalize_thread
from .overview import MAX_DEPTH
from .resources import prompt_text
from .tokenizer import Tokenizer

Prices = dict[str, dict[str, float]]


def load_prices(override: Path | None = None) -> Prices:
    table: Prices = {}
    sources: list[tuple[str, str]] = [
        ("built-in price table", resources.files("pipeline").joinpath("data/prices.json").read_text("utf-8"))
    ]
    path = override or (Path(os.environ["THREADBRIEF_PRICES"]) if os.environ.get("THREADBRIEF_PRICES") else None)
    if path is not None:
        try:
            sources.append((str(path), path.read_text(encoding="utf-8")))
        except OSError as exc:
            raise ConfigError(f"cannot read the price file {path}: {exc.strerror or exc}") from exc
    for name, text in sources:
        try:
            data: Any = json.loads(text)
            for model, price in data.items():
                if model.startswith("_"):
                    continue
                table[model] = {"input": float(price["input"]), "output": float(price["output"])}
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            expected = '{"model": {"input": USD per 1M tokens, "output": USD per 1M tokens}}'
            raise ConfigError(f"{name}: not a price table ({exc}); expected {expected}") from exc
    return table


@dataclass(frozen=True)
class Pricing:
    """The cost of a usage for one backend and model: a plain value, so worker processes can be given it."""

    prices: Prices
    backend: str
    model: str | None

    def __call__(self, usage: Usage) -> float | None:
        return cost_usd(self.prices, self.backend, self.model, usage.tokens_in, usage.tokens_out)


def cost_usd(prices: Prices, backend: str, model: str | None, tokens_in: int, tokens_out: int) -> float | None:
    if backend == "offline":
        return 0.0
    price = prices.get(model or "")
    if price is None:
        return None
    return round(tokens_in / 1e6 * price["input"] + tokens_out / 1e6 * price["output"], 6)


@dataclass
class Estimate:
    threads: int
    chunks: int
    calls: int
    prompt_tokens: int
    output_budget: int
    cost_usd: float | None
    model: str | None
    backend: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def estimate_run(
    threads: Iterable[Thread],
    tokenizer: Tokenizer,
    *,
    max_chunk_tokens: int,
    output_budget: int,
    backend: str,
    model: str | None,
    prices: Prices,
    price_factor: float = 1.0,
) -> Estimate:
    summary_fixed = tokenizer.count(prompt_text("summarize_system")) + 16
    chunks = calls = prompt_tokens = count = 0
    for thread in threads:  # one at a time: an InputStream is never held whole
        count += 1
        # A run asks each thread's paraphrases in its language: the prompt carries that line for any language.
        thread_chunks = chunk_thread(normalize_thread(thread), tokenizer, max_chunk_tokens, ANY_LANGUAGE)
        chunks += len(thread_chunks)
        prompt_tokens += sum(c.prompt_tokens for c in thread_chunks)
        if thread_chunks:  # the overview, written from at most the chunks' outputs
            summary_calls, summary_tokens = _overview_calls(
                len(thread_chunks) * output_budget, summary_fixed, max_chunk_tokens
            )
            calls += summary_calls
            prompt_tokens += summary_tokens
    calls += chunks
    budget = calls * output_budget
    cost = cost_usd(prices, backend, model, prompt_tokens, budget)
    cost = None if cost is None else cost * price_factor
    return Estimate(count, chunks, calls, prompt_tokens, budget, cost, model, backend)


PART_OVERVIEW_TOKENS = 200  # a part overview: one paragraph of at most 120 words


def _overview_calls(claim_tokens: int, fixed: int, budget: int) -> tuple[int, int]:
    """Calls and prompt tokens of the overview's hierarchical reduce (pipeline/overview.py), when the
    claims take ``claim_tokens``: one call when they fit, else groups, then groups of part overviews."""
    room = max(1, budget - fixed)
    if claim_tokens <= room:
        return 1, fixed + claim_tokens
    calls, tokens, level = 0, 0, claim_tokens
    for _depth in range(MAX_DEPTH):  # the reduce's own bound: past it the run reports the overview failed
        if level <= room:
            break
        groups = -(-level // room)
        calls += groups
        tokens += groups * fixed + level
        level = groups * PART_OVERVIEW_TOKENS
    return calls + 1, tokens + fixed + level
