"""Time over posts of one thread against the fake server (a benchmark, not a test): is it linear?

Generates one thread per size (2,000 / 5,000 / 10,000 / 20,000 / 50,000 posts by default) whose text has
a Zipf-like vocabulary of 5,000 made-up words, replying mostly to recent posts and sometimes far back.
A share of the replies open with a ``>`` line quoting someone: the parent's words (30 %), the words of a
post far back (10 %), or words said nowhere in the thread (10 %, an outside source). The fake server
(``python -m pipeline.fakeserver``, a subprocess on 127.0.0.1, so its CPU is not counted) quotes each
post's first sentence, so those claims land in quoted text and grounding has to find where the words
come from, or that they come from nowhere in the thread: the case that used to scan every earlier post.
Each size runs in a fresh child process (``--timeout`` seconds at most; a size that does not finish is
printed as such, with no figure). Prints, per size: wall seconds, the child's CPU seconds, the calls it
made (run.json's totals), seconds per 1,000 posts, the brief's claims, the claims rejected because their
words are quoted from no post of the thread, and the child's peak RSS; then the growth exponent of wall
and of CPU seconds over posts, fitted by least squares on log-log over the sizes that finished.
Usage: python bench/scale_posts.py [--sizes 2000,5000,10000,20000,50000] [--timeout 600]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from scale import exponent

SIZES = (2_000, 5_000, 10_000, 20_000, 50_000)
QUOTE_PARENT, QUOTE_FAR, QUOTE_NOWHERE = 0.30, 0.10, 0.10


def _vocabulary(rng: random.Random, size: int = 5_000) -> tuple[list[str], list[float]]:
    letters = "abcdefghiklmnoprstuvwy"
    words = sorted({"".join(rng.choices(letters, k=rng.randint(2, 9))) for _ in range(size * 2)})[:size]
    rng.shuffle(words)
    return words, [1.0 / (rank + 1) for rank in range(len(words))]  # Zipf: a few words everywhere


def generate(path: Path, posts: int, seed: int = 7) -> None:
    """A JSON thread of ``posts`` posts (plus the title) at ``path``; the same for the same seed."""
    rng = random.Random(seed)
    words, weights = _vocabulary(rng)

    def sentence() -> str:
        return " ".join(rng.choices(words, weights, k=rng.randint(6, 18))).capitalize() + "."

    texts: list[list[str]] = []
    rows: list[dict[str, Any]] = []
    for n in range(posts):
        parent = None if n == 0 else rng.randrange(max(0, n - 30), n) if rng.random() < 0.85 else rng.randrange(n)
        own = [sentence() for _ in range(rng.randint(2, 6))]
        draw = rng.random()
        quoted: str | None = None
        if parent is not None and draw < QUOTE_PARENT:
            quoted = rng.choice(texts[parent])
        elif n > 0 and draw < QUOTE_PARENT + QUOTE_FAR:
            quoted = rng.choice(texts[rng.randrange(n)])
        elif draw < QUOTE_PARENT + QUOTE_FAR + QUOTE_NOWHERE:
            quoted = sentence()  # an outside source: said by no post
        texts.append(own)
        body = " ".join(own)
        rows.append(
            {
                "id": f"p{n}",
                "author": f"user{rng.randint(1, 200)}",
                "parent_id": None if parent is None else f"p{parent}",
                "text": f"> {quoted}\n\n{body}" if quoted else body,
            }
        )
    path.write_text(json.dumps({"id": "long", "title": "A very long debate", "posts": rows}), encoding="utf-8")


def measure_one(posts: int, max_chunk_tokens: int, concurrency: int) -> dict[str, Any]:
    """Run one size in this process against a fake server subprocess; what it measured."""
    from pipeline.extract_openai import OpenAIExtractor
    from pipeline.runner import RunConfig, run

    work = Path(tempfile.mkdtemp(prefix="tb-scale-posts-"))
    (work / "in").mkdir()
    generate(work / "in" / "long.json", posts)
    server = subprocess.Popen(
        [sys.executable, "-m", "pipeline.fakeserver", "--seconds", "3600"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().strip()
        extractor = OpenAIExtractor(
            model="gpt-4o-mini", api_key="sk-bench", base_url=base_url, max_connections=concurrency
        )
        config = RunConfig(
            inputs=[work / "in"],
            out=work / "out",
            use_cache=False,
            max_chunk_tokens=max_chunk_tokens,
            concurrency=concurrency,
        )
        wall, cpu = time.perf_counter(), time.process_time()
        exit_code, manifest = run(config, extractor)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        server.terminate()
        server.wait(10)
    brief = json.loads((work / "out" / "long" / "brief.json").read_text(encoding="utf-8"))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    moved = sum(1 for r in brief["rejected"] if "not its author's own claim" in r["reason"])
    return {
        "posts": posts,
        "wall": wall,
        "cpu": cpu,
        "calls": manifest["totals"]["calls"],
        "status": brief["status"],
        "exit": exit_code,
        "claims": len(brief["claims"]),
        "quoted_nowhere": moved,
        "peak_mb": peak_mb,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds one size may take")
    parser.add_argument("--max-chunk-tokens", type=int, default=6000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # the child: run one size, print JSON
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(args.one, args.max_chunk_tokens, args.concurrency)))
        return 0

    print(
        "posts    wall s    cpu s   calls   wall s/1k posts   cpu s/1k posts   claims   no origin   peak MB   status",
        flush=True,
    )
    finished: list[dict[str, Any]] = []
    for posts in (int(s) for s in args.sizes.split(",")):
        child = [sys.executable, __file__, "--one", str(posts), "--max-chunk-tokens", str(args.max_chunk_tokens)]
        child += ["--concurrency", str(args.concurrency)]
        # A session of its own, so a size that runs out of time is stopped with its fake server.
        process = subprocess.Popen(
            child, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
        try:
            stdout, stderr = process.communicate(timeout=args.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            print(f"{posts:>6}   did not finish in {args.timeout:g} s", flush=True)
            continue
        if process.returncode != 0:
            print(f"{posts:>6}   failed: {stderr.strip().splitlines()[-1:]}", flush=True)
            continue
        row = json.loads(stdout.strip().splitlines()[-1])
        finished.append(row)
        print(
            f"{posts:>6} {row['wall']:>9.1f} {row['cpu']:>8.1f} {row['calls']:>7} {row['wall'] / posts * 1000:>17.2f}"
            f" {row['cpu'] / posts * 1000:>16.2f} {row['claims']:>8} {row['quoted_nowhere']:>11}"
            f" {row['peak_mb']:>9.0f}   {row['status']} (exit {row['exit']})",
            flush=True,
        )
    if len(finished) >= 2:
        wall = exponent([r["posts"] for r in finished], [r["wall"] for r in finished])
        cpu = exponent([r["posts"] for r in finished], [r["cpu"] for r in finished])
        print(
            f"fitted growth exponent over {len(finished)} sizes (log-log least squares): wall {wall:.2f}, cpu {cpu:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
