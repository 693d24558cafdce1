"""How much faster the compiled schema check (fastjsonschema) is than jsonschema on the hot path.

Every model answer is checked against schemas/extraction.schema.json and every brief against
schemas/brief.schema.json before it is written. ``pipeline.resources.schema_errors`` takes the verdict from
the schema compiled to Python by fastjsonschema, and asks jsonschema's Draft202012Validator for messages
only when an instance is invalid. This script builds real instances (the offline extractor's answers for
the seeds/ threads, and their briefs from an offline run), all valid, and times, best of --repeat, checking
them all with:
- fastjsonschema, the schema compiled once (what schema_errors does for a valid instance);
- Draft202012Validator.is_valid (the cheapest jsonschema verdict);
- Draft202012Validator.iter_errors, listed (what schema_errors would do without the compiled check).
Prints microseconds per instance for each, and the speed-up of the compiled check over each.
Usage: python bench/schema_speed.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastjsonschema
from cmv import offline_briefs
from jsonschema import Draft202012Validator

from pipeline.chunk import chunk_thread
from pipeline.extract_offline import extract_payload
from pipeline.load import load_inputs
from pipeline.normalize import normalize_thread
from pipeline.resources import load_schema
from pipeline.runner import RunConfig
from pipeline.tokenizer import get_tokenizer

SEEDS = Path(__file__).resolve().parents[1] / "seeds"


def instances() -> dict[str, list[Any]]:
    tokenizer = get_tokenizer(None)
    threads = load_inputs([SEEDS]).threads
    chunks = [c for t in threads for c in chunk_thread(normalize_thread(t), tokenizer, RunConfig.max_chunk_tokens)]
    with offline_briefs([SEEDS], "tb-schema-") as out:
        briefs = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(out.glob("*/brief.json"))]
    return {"extraction": [extract_payload(c) for c in chunks], "brief": briefs}


def best_seconds(check: Callable[[Any], Any], items: list[Any], repeat: int) -> float:
    """Best of ``repeat`` timings of checking every item, each timing long enough to be measured."""
    rounds = 1
    while True:  # grow the rounds until one timing takes at least 0.2 s
        started = time.perf_counter()
        for _ in range(rounds):
            for item in items:
                check(item)
        if time.perf_counter() - started >= 0.2:
            break
        rounds *= 2
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(rounds):
            for item in items:
                check(item)
        times.append((time.perf_counter() - started) / (rounds * len(items)))
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    for name, items in instances().items():
        schema = load_schema(name)
        compiled = fastjsonschema.compile(schema)
        validator = Draft202012Validator(schema)
        if not all(validator.is_valid(item) for item in items):
            print(f"{name}: an instance is invalid; the timings would not be of the hot path", file=sys.stderr)
            return 1
        fast = best_seconds(compiled, items, args.repeat)
        is_valid = best_seconds(validator.is_valid, items, args.repeat)
        listed = best_seconds(lambda item, v=validator: list(v.iter_errors(item)), items, args.repeat)
        size = sum(len(json.dumps(item)) for item in items) / len(items) / 1000
        print(
            f"{name:<10} {len(items):>3} valid instances (mean {size:.1f} kB of JSON): fastjsonschema "
            f"{fast * 1e6:,.0f} µs, is_valid {is_valid * 1e6:,.0f} µs, iter_errors {listed * 1e6:,.0f} µs per "
            f"instance; compiled check {is_valid / fast:.0f}x faster than is_valid, {listed / fast:.0f}x than "
            f"iter_errors (best of {args.repeat})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
