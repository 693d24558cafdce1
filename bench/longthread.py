"""One thread far longer than a context window, end to end against the fake server (a benchmark, not a test).

Generates a thread of N posts (2,000 by default) of 20–120 words each, replying mostly to recent posts
and sometimes to posts far back (as a long forum thread does), and runs the OpenAI backend against the
project's fake server on 127.0.0.1 (its answers quote each post's first sentence and rebut the parent's
claim, for parents shown in the chunk or as context). Prints what it measured: chunks, extraction and
overview calls (with the reduce's levels), prompt and completion tokens, wall seconds; and a check of
the cross-chunk plumbing: replies whose parent sits in an earlier chunk, how many of them were shown the
parent as context, and how many of those got a rebuttal in the brief whose target is a claim of the parent
post that merge joined to the claim extracted in the parent's own chunk. The fake server rebuts every parent
it is shown, so that last count checks that context reaches the model and that grounding and merge join
across chunks; it measures nothing about a model's judgement.
Usage: python bench/longthread.py [--posts 2000] [--max-chunk-tokens 6000] [--latency 0.2] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pipeline.chunk import chunk_thread
from pipeline.extract_openai import OpenAIExtractor
from pipeline.fakeserver import FakeOpenAIServer, FakeServerConfig
from pipeline.language import detect, write_in
from pipeline.load import TITLE_POST_ID, load_inputs
from pipeline.normalize import normalize_thread
from pipeline.runner import RunConfig, run
from pipeline.tokenizer import get_tokenizer

WORDS = (
    "policy evidence cost risk people city data model claim reason study market energy safety price "
    "growth harm benefit trust law rule effect cause change system value power local public private"
).split()


def generate(path: Path, posts: int, seed: int = 11) -> None:
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for n in range(posts):
        if n == 0:
            parent = None
        elif rng.random() < 0.85:
            parent = f"p{rng.randrange(max(0, n - 30), n)}"  # the recent discussion
        else:
            parent = f"p{rng.randrange(0, n)}"  # a reply to something far back
        sentences = [
            " ".join(rng.choices(WORDS, k=rng.randint(6, 18))).capitalize() + "." for _ in range(rng.randint(2, 7))
        ]
        rows.append(
            {"id": f"p{n}", "author": f"user{rng.randint(1, 60)}", "parent_id": parent, "text": " ".join(sentences)}
        )
    path.write_text(json.dumps({"id": "long", "title": "A very long debate", "posts": rows}), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--max-chunk-tokens", type=int, default=6000)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="tb-long-"))
    (work / "in").mkdir()
    generate(work / "in" / "long.json", args.posts)
    threads = load_inputs([work / "in"]).threads
    thread = normalize_thread(threads[0])
    # The chunks the run makes: the prompt names the language paraphrases are written in, which counts.
    chunks = chunk_thread(thread, get_tokenizer(None), args.max_chunk_tokens, write_in(None, detect(thread)))
    chunk_of = {cp.post.id: c.id for c in chunks for cp in c.posts}
    shown_as_context = {(c.id, cp.post.id) for c in chunks for cp in c.context}
    crossing_replies = [p for p in thread.posts if p.parent_id and chunk_of[p.parent_id] != chunk_of[p.id]]
    shown_parent = [p for p in crossing_replies if (chunk_of[p.id], p.parent_id) in shown_as_context]

    config = RunConfig(
        inputs=[work / "in"],
        out=work / "out",
        use_cache=False,
        max_chunk_tokens=args.max_chunk_tokens,
        concurrency=args.concurrency,
    )
    with FakeOpenAIServer(FakeServerConfig(latency=args.latency)) as server:
        extractor = OpenAIExtractor(
            model="gpt-4o-mini", api_key="sk-bench", base_url=server.base_url, max_connections=args.concurrency
        )
        started = time.perf_counter()
        exit_code, manifest = run(config, extractor)
        seconds = time.perf_counter() - started
        answered = dict(server.stats.answered)
        prompt_tokens, completion_tokens = server.stats.prompt_tokens, server.stats.completion_tokens
    brief = json.loads((work / "out" / "long" / "brief.json").read_text())
    claims = {c["id"]: c for c in brief["claims"]}
    rebutted = {
        (claims[r["source"]]["post_id"], claims[r["target"]]["post_id"], tuple(claims[r["target"]]["chunks"]))
        for r in brief["relations"]
        if r["type"] == "rebuts"
    }
    joined = sum(
        1
        for p in shown_parent
        if any(s == p.id and t == p.parent_id and len(c) > 1 and chunk_of[p.parent_id] in c for s, t, c in rebutted)
    )
    summary_calls = answered.get("summary", 0) + answered.get("summary_parts", 0)
    posts = [p for p in thread.posts if p.id != TITLE_POST_ID]
    replies = sum(1 for p in posts if p.parent_id)
    megabytes = sum(len(p.text.encode()) for p in posts) / 1e6
    print(f"thread: {len(posts)} posts (+ the title), {megabytes:.2f} MB; brief {brief['status']} (exit {exit_code})")
    print(
        f"chunks: {len(chunks)} of at most {args.max_chunk_tokens} prompt tokens; extraction calls: "
        f"{answered.get('extraction', 0)}; overview calls: {summary_calls} "
        f"({answered.get('summary', 0)} over claim groups, {answered.get('summary_parts', 0)} over part overviews)"
    )
    print(
        f"tokens: {prompt_tokens} prompt + {completion_tokens} completion (as counted by the server); "
        f"run.json: {manifest['totals']['tokens_in']} + {manifest['totals']['tokens_out']}"
    )
    print(f"wall: {seconds:.1f} s at {args.latency:g} s latency per request, concurrency {args.concurrency}")
    print(
        f"replies whose parent is in an earlier chunk: {len(crossing_replies)} of {replies}; parent shown to them "
        f"as context: {len(shown_parent)}"
    )
    print(
        f"cross-chunk plumbing check (the fake server rebuts every parent it is shown: not a quality figure): "
        f"{joined} of those {len(shown_parent)} replies have a rebuttal to a claim of their parent post merged "
        f"with the claim extracted in the parent's own chunk"
    )
    print(
        f"brief: {len(brief['claims'])} claims, {len(brief['relations'])} relations, {len(brief['rejected'])} rejected"
    )
    shutil.rmtree(work, ignore_errors=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
