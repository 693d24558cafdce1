"""Throughput against the rate-limit bound, with the project's fake server (a benchmark, not a test).

Generates threads of realistic size (500 chunks by default), starts `python -m pipeline.fakeserver` in
its own process on 127.0.0.1 with latency, jitter and server-side RPM/TPM limits, and runs the OpenAI
backend against it with the same limits configured client-side. Prints, for a run without and a run with
injected 429s: wall time, the bound max(N·L/C, N/RPM, tokens/TPM), their ratio, calls and 429s; then the
calls of a cache-warm re-run; CPU per chunk two ways: the pipeline alone (an in-process extractor that
answers instantly, no HTTP client, no cache) and the whole client process during the cold HTTP run (pipeline,
openai SDK, httpx, limiter, cache writes; the fake server runs in its own process and is not counted); and
prompt tokens per chunk against the chunk's own tokens.
Usage: python bench/throughput.py [--chunks 500] [--concurrency 32] [--latency 0.25] [--rpm 6000] ...
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pipeline.chunk import chunk_thread, post_element
from pipeline.extract import Extractor
from pipeline.extract_openai import OpenAIExtractor
from pipeline.fakeserver import answer_for
from pipeline.limiter import BURST_SECONDS, RateLimiter
from pipeline.load import load_inputs, thread_from_object
from pipeline.models import Chunk, ChunkExtraction, Claim, Relation, Usage
from pipeline.normalize import normalize_thread
from pipeline.resources import prompt_text
from pipeline.runner import RunConfig, run
from pipeline.tokenizer import get_tokenizer

SYLLABLES = "ka lo mi ne ru ta vi so pe da gu fi ro be ni ma te lu zo ha".split()
# A Zipf-distributed vocabulary of 3,000 made-up words: text with the repetition statistics of prose.
VOCABULARY = sorted({"".join(random.Random(n).choices(SYLLABLES, k=1 + n % 3)) for n in range(6000)})[:3000]
ZIPF_WEIGHTS = [1 / (rank + 1) for rank in range(len(VOCABULARY))]
CHUNKS_PER_THREAD = 5


def sentence(rng: random.Random) -> str:
    words = rng.choices(VOCABULARY, weights=ZIPF_WEIGHTS, k=rng.randint(8, 22))
    return " ".join(words).capitalize() + "."


def generate(folder: Path, chunks: int, max_chunk_tokens: int, seed: int = 7) -> None:
    """Threads of posts of ~150 words (a reply chain with some new branches), CHUNKS_PER_THREAD chunks
    each as the chunker cuts them, until ``chunks`` chunks in all."""
    rng = random.Random(seed)
    tokenizer = get_tokenizer(None)
    folder.mkdir(parents=True, exist_ok=True)
    made, number = 0, 0
    while made < chunks:
        want = min(CHUNKS_PER_THREAD, chunks - made)
        posts: list[dict[str, Any]] = []
        thread: dict[str, Any] = {"id": f"bench-{number:04d}", "title": f"Benchmark debate {number}", "posts": posts}
        count = 0
        while count < want:
            parent = posts[-1]["id"] if posts and rng.random() < 0.8 else None
            text = " ".join(sentence(rng) for _ in range(10))
            posts.append(
                {"id": f"p{len(posts) + 1}", "author": f"user{rng.randint(1, 6)}", "parent_id": parent, "text": text}
            )
            loaded = thread_from_object(thread, path="bench", default_id=thread["id"], digest="0" * 64)
            count = len(chunk_thread(normalize_thread(loaded), tokenizer, max_chunk_tokens))
        if count > want:
            posts.pop()  # the last post opened one chunk too many
            count = want
        (folder / f"bench-{number:04d}.json").write_text(json.dumps(thread))
        made += count
        number += 1


def start_server(args: argparse.Namespace, rate_429: float) -> tuple[subprocess.Popen[str], str]:
    command = [
        sys.executable,
        "-m",
        "pipeline.fakeserver",
        "--latency",
        str(args.latency),
        "--jitter",
        str(args.jitter),
        "--rate-429",
        str(rate_429),
        "--retry-after",
        str(args.retry_after),
        "--rpm",
        str(args.rpm),
        "--tpm",
        str(args.tpm),
        "--seconds",
        "900",
    ]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    return server, server.stdout.readline().strip()


def http_run(args: argparse.Namespace, inputs: Path, cache: Path, rate_429: float) -> dict[str, Any]:
    server, url = start_server(args, rate_429)
    try:
        limiter = RateLimiter(args.rpm, args.tpm)
        extractor = OpenAIExtractor(
            model="gpt-4o-mini", api_key="sk-bench", base_url=url, limiter=limiter, output_budget=args.output_budget
        )
        out = Path(tempfile.mkdtemp(prefix="tb-bench-out-"))
        config = RunConfig(
            inputs=[inputs],
            out=out,
            cache_dir=cache,
            concurrency=args.concurrency,
            max_chunk_tokens=args.max_chunk_tokens,
            output_budget=args.output_budget,
        )
        started, cpu = time.perf_counter(), time.process_time()
        exit_code, manifest = run(config, extractor)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        server.terminate()
        server.wait(timeout=10)
    totals = manifest["totals"]
    calls = totals["calls"]
    successes = calls - totals["rate_limited"]
    latency = args.latency + args.jitter / 2
    tokens = totals["tokens_in"] + successes * args.output_budget  # as counted against TPM
    bounds = {
        "N·L/C": successes * latency / args.concurrency,
        "N/RPM": successes / (args.rpm / 60),
        "tokens/TPM": tokens / (args.tpm / 60),
    }
    # The limiter (like the server) lets BURST_SECONDS of capacity go at once: the bound net of that burst.
    net = {key: value if key == "N·L/C" else max(0.0, value - BURST_SECONDS) for key, value in bounds.items()}
    return {
        "burst_bound": max(net.values()),
        "exit": exit_code,
        "wall": wall,
        "cpu": cpu,
        "bounds": bounds,
        "bound": max(bounds.values()),
        "calls": calls,
        "rate_limited": totals["rate_limited"],
        "cached": totals["cached_calls"],
        "complete": totals["complete"],
        "threads": totals["threads"],
    }


class InstantExtractor(Extractor):
    """Answers as the fake server would, in-process and at once (answers computed beforehand, so the
    stand-in model's own work is not counted): what is left is the pipeline's own CPU."""

    name = "instant"
    model = None
    fingerprint = "instant"

    def __init__(self, chunks: list[Chunk]) -> None:
        self.answers = {
            (c.thread_id, c.id): answer_for({"messages": [{"role": "user", "content": c.user_prompt}]}) for c in chunks
        }

    async def extract(self, chunk: Chunk) -> ChunkExtraction:
        return ChunkExtraction(chunk.id, self.answers[(chunk.thread_id, chunk.id)], Usage(calls=1))

    async def summarize(self, title: str, claims: list[Claim], relations: list[Relation]) -> tuple[str, Usage]:
        return "overview", Usage(calls=1)


def report(label: str, result: dict[str, Any]) -> None:
    bounds = ", ".join(f"{k} {v:.2f} s" for k, v in result["bounds"].items())
    print(
        f"{label}: wall {result['wall']:.2f} s, bound {result['bound']:.2f} s ({bounds}), "
        f"ratio {result['wall'] / result['bound']:.3f}; net of the {BURST_SECONDS:g} s burst the limits allow: "
        f"bound {result['burst_bound']:.2f} s, ratio {result['wall'] / result['burst_bound']:.3f}; "
        f"{result['calls']} calls, {result['rate_limited']} 429s, "
        f"{result['complete']}/{result['threads']} threads complete, exit {result['exit']}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.25)
    parser.add_argument("--jitter", type=float, default=0.1)
    parser.add_argument("--rpm", type=float, default=6000)
    parser.add_argument("--tpm", type=float, default=15_000_000)
    parser.add_argument("--retry-after", type=float, default=0.2)
    parser.add_argument("--output-budget", type=int, default=300)
    parser.add_argument("--max-chunk-tokens", type=int, default=2000)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="tb-bench-"))
    inputs = work / "threads"
    generate(inputs, args.chunks, args.max_chunk_tokens)
    threads = load_inputs([inputs]).threads
    tokenizer = get_tokenizer(None)
    chunks = [c for t in threads for c in chunk_thread(normalize_thread(t), tokenizer, args.max_chunk_tokens)]
    system = tokenizer.count(prompt_text("extract_system"))
    # The chunk's own tokens: its posts as sent (text and tags), the base the chunker bounds context by.
    overheads = sorted(
        (c.prompt_tokens - system) / sum(tokenizer.count(post_element(cp)) for cp in c.posts) for c in chunks
    )
    text_overheads = sorted(
        (c.prompt_tokens - system) / sum(tokenizer.count(cp.text) for cp in c.posts) for c in chunks
    )
    print(
        f"{len(threads)} threads, {len(chunks)} chunks of up to {args.max_chunk_tokens} prompt tokens; "
        f"limits: {args.rpm:g} RPM, {args.tpm:g} TPM, concurrency {args.concurrency}, "
        f"latency {args.latency:g}+U(0,{args.jitter:g}) s"
    )

    cold = http_run(args, inputs, work / "cache-a", rate_429=0.0)
    report("no 429 injection ", cold)
    warm = http_run(args, inputs, work / "cache-a", rate_429=0.0)
    print(f"cache-warm re-run: {warm['calls']} calls ({warm['cached']} answered from the cache)")
    storm = http_run(args, inputs, work / "cache-b", rate_429=0.10)
    report("10% 429s injected", storm)

    instant = InstantExtractor(chunks)
    started = time.process_time()
    out = Path(tempfile.mkdtemp(prefix="tb-bench-cpu-"))
    run(
        RunConfig(
            inputs=[inputs],
            out=out,
            use_cache=False,
            max_chunk_tokens=args.max_chunk_tokens,
            concurrency=args.concurrency,
        ),
        instant,
    )
    cpu = time.process_time() - started
    print(
        f"CPU per chunk, pipeline alone (in-process instant extractor: no HTTP client, no cache): "
        f"{cpu / len(chunks) * 1000:.2f} ms ({cpu:.2f} s for {len(chunks)} chunks: load, chunk, ground, merge, "
        f"render, write)"
    )
    print(
        f"CPU per chunk, whole client process in the cold HTTP run (pipeline + openai SDK + httpx + limiter + "
        f"cache writes; the fake server's process not counted): {cold['cpu'] / len(chunks) * 1000:.2f} ms "
        f"({cold['cpu']:.2f} s)"
    )
    print(
        f"prompt tokens per chunk: at most {overheads[-1]:.3f}x (median {overheads[len(overheads) // 2]:.3f}x) "
        f"the chunk's own posts as sent (text and tags), plus the {system}-token system prompt (sent first, so "
        f"provider prompt caching can hit); against the posts' text alone: at most {text_overheads[-1]:.3f}x "
        f"(median {text_overheads[len(text_overheads) // 2]:.3f}x)"
    )
    return 0


if __name__ == "__main__":
    asyncio.set_event_loop_policy(None)
    sys.exit(main())
