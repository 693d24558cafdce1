"""How a run's time and peak memory grow with the number of threads (a benchmark, not a test).

Builds corpora of N threads from ../shared/eval/cmv-dev (each a copy of a real thread with a new id, its
replies in shuffled order, and now and then a paragraph from another thread appended to a post, so no two
threads are alike), written as one JSON Lines file, one thread a line. Runs each size in a subprocess
(``threadbrief run --backend offline -q --jobs 1``: worker processes are the forkserver's children, whose CPU
and memory the run's rusage would leave out; ``--jobs N`` runs them anyway), then ``export`` and ``report``
over its output, and prints for each: wall seconds, CPU seconds, peak RSS (the child's ru_maxrss, from
os.wait4 in bench/launcher.py, a small process started first: a child of this process, which reads the run's
run.json, would report this process's peak instead) and the run's calls; and the growth exponent of time and
peak memory over threads (log-log least squares: 1 is linear, 0 is flat).
Targets (issue 16): ≤ 1.05 for time, ≤ 0.1 for peak memory.

Also, with --dump-comments N: a Reddit comment dump of N comments (JSON Lines, gzip) spread over many
submissions in interleaved order, read by the loader alone (``threadbrief import``): peak RSS against the
dump's size.
With --hn-items N: a Hacker News items dump of N Firebase items (JSON Lines, gzip, in id order as a crawl of
the API gives them: threads interleaved, reply chains deep), the same way (the hn-firebase pool spills the items
to a scratch SQLite file and resolves each item's thread there).
Usage: python bench/scale.py [--sizes 1000,3000,10000,30000] [--no-tools] [--dump-comments 2000000]
       [--hn-items 2000000] [--jobs 1]
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import random
import sys
import tempfile
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from launcher import Launcher

# ../shared from the repository (a worktree at /work/<name> finds /work/shared); --source overrides it.
CMV = Path(__file__).resolve().parents[2] / "shared" / "eval" / "cmv-dev" / "threads"


@dataclass
class Measured:
    wall: float
    cpu: float
    peak_mb: float
    code: int


LAUNCHER: Launcher | None = None  # started first thing in main(), while this process is small


def measure(command: list[str]) -> Measured:
    """Run a command through the launcher; its wall and CPU seconds and its own peak resident memory (a child
    started from this process would report this process's peak instead, if larger: see bench/launcher.py)."""
    if LAUNCHER is None:
        raise SystemExit("measure() before main() started the launcher")
    result = LAUNCHER.run(command)
    if result["code"] not in (0, 1):
        sys.stderr.write(result["stderr"])
        raise SystemExit(f"{' '.join(command)} exited {result['code']}")
    return Measured(result["wall"], result["cpu"], result["peak_kib"] / 1024, result["code"])


def source_threads(folder: Path) -> list[dict[str, Any]]:
    found = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]
    if not found:
        raise SystemExit(f"no thread under {folder}: pass --source DIR (cmv-dev's threads/)")
    return found


def paragraphs_of(threads: list[dict[str, Any]]) -> list[str]:
    return [para for t in threads for p in t["posts"] for para in p["text"].split("\n\n") if len(para) > 80]


def build_corpus(path: Path, size: int, sources: list[dict[str, Any]], seed: int = 16) -> None:
    """SIZE threads, one JSON object a line: copies of cmv-dev with new ids, shuffled replies, foreign paragraphs."""
    rng = random.Random(seed)
    paragraphs = paragraphs_of(sources)
    with path.open("w", encoding="utf-8") as handle:
        for n in range(size):
            source = sources[n % len(sources)]
            posts = [dict(p) for p in source["posts"]]
            replies = posts[1:]
            rng.shuffle(replies)  # parents still name posts of the thread: the loader takes any order
            for post in replies:
                if rng.random() < 0.3:
                    post["text"] = post["text"] + "\n\n" + rng.choice(paragraphs)
            thread = {"id": f"scale-{n:06d}", "title": source["title"], "source": None, "posts": posts[:1] + replies}
            handle.write(json.dumps(thread, ensure_ascii=False) + "\n")


def build_dump(path: Path, comments: int, submissions: int, sources: list[dict[str, Any]], seed: int = 16) -> None:
    """A Reddit dump (gzip JSON Lines): submissions first, then comments of every thread interleaved."""
    rng = random.Random(seed)
    paragraphs = paragraphs_of(sources)
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as handle:
        for s in range(submissions):
            record = {"id": f"s{s}", "title": f"Thread {s}", "selftext": rng.choice(paragraphs), "subreddit": "cmv"}
            handle.write(json.dumps(record) + "\n")
        for c in range(comments):
            thread = rng.randrange(submissions)
            record = {
                "id": f"c{c}",
                "link_id": f"t3_s{thread}",
                "parent_id": f"t3_s{thread}",
                "author": f"user{rng.randrange(5000)}",
                "body": rng.choice(paragraphs),
                "created_utc": 1_600_000_000 + c,
                "subreddit": "cmv",
            }
            handle.write(json.dumps(record) + "\n")


def build_hn_items(path: Path, items: int, sources: list[dict[str, Any]], seed: int = 16) -> None:
    """A Hacker News items dump (gzip JSON Lines, one Firebase item a line, in id order as a crawl of the API
    gives them): a story every 50 items or so, each comment replying to a recent item of one of the last 2,000
    stories, so threads interleave and reply chains run deep; ``kids`` lists each item's replies. Texts are
    cmv-dev paragraphs, one in 20 as HTML (html_to_text's parser costs 0.3 ms an item: the same before and
    after, and it would hide the load's own cost)."""
    rng = random.Random(seed)
    paragraphs = [p.replace("&", "and").replace("<", " ") for p in paragraphs_of(sources)]
    parent = array("l", [0]) * (items + 1)  # 0: a story
    first_kid, next_kid = array("l", [0]) * (items + 1), array("l", [0]) * (items + 1)
    open_threads: list[list[int]] = []
    for item in range(1, items + 1):
        if not open_threads or rng.random() < 0.02:
            open_threads.append([item])
            if len(open_threads) > 2000:
                open_threads.pop(0)
            continue
        thread = rng.choice(open_threads)
        parent[item] = rng.choice(thread[-8:])
        thread.append(item)
    for item in range(items, 0, -1):  # kids in id order: pushed from the last
        if parent[item]:
            next_kid[item], first_kid[parent[item]] = first_kid[parent[item]], item
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as handle:
        for item in range(1, items + 1):
            text = rng.choice(paragraphs)
            record: dict[str, Any] = {"by": f"user{rng.randrange(5000)}", "id": item}
            kids, kid = [], first_kid[item]
            while kid:
                kids.append(kid)
                kid = next_kid[kid]
            if kids:
                record["kids"] = kids
            if parent[item]:
                record["parent"] = parent[item]
                record["text"] = f"<p>{text}</p><p>{rng.choice(paragraphs)}" if rng.random() < 0.05 else text
                record["type"] = "comment"
            else:
                record.update(descendants=0, score=rng.randrange(500), title=text[:80], type="story")
                record["url"] = f"https://example.com/{item}"
            record["time"] = 1_600_000_000 + item
            handle.write(json.dumps(record) + "\n")


def exponent(xs: list[float], ys: list[float]) -> float:
    """The slope of log y over log x, least squares."""
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / sum((a - mx) ** 2 for a in lx)


def threadbrief(*args: str) -> list[str]:
    return [sys.executable, "-m", "pipeline", *args]


def run_sizes(sizes: list[int], tools: bool, work: Path, sources: list[dict[str, Any]], jobs: int = 1) -> None:
    rows: list[dict[str, Any]] = []
    for size in sizes:
        corpus, out = work / f"corpus-{size}.jsonl", work / f"out-{size}"
        build_corpus(corpus, size, sources)
        # --jobs 1 by default: worker processes are the forkserver's children, whose CPU and memory the run's
        # rusage does not include, so only a one-process run is measured whole.
        ran = measure(
            threadbrief("run", str(corpus), "-o", str(out), "--backend", "offline", "-q", "--jobs", str(jobs))
        )
        totals = json.loads((out / "run.json").read_text(encoding="utf-8"))["totals"]
        row: dict[str, Any] = {"threads": size, "run": ran, "calls": totals["calls"], "complete": totals["complete"]}
        if tools:
            row["export"] = measure(threadbrief("export", str(out), "--format", "jsonl"))
            row["report"] = measure(threadbrief("report", str(out), "-o", str(work / f"site-{size}")))
        rows.append(row)
        print(
            f"{size:>8} threads: run {ran.wall:7.1f} s wall {ran.cpu:7.1f} s CPU {ran.peak_mb:7.0f} MB peak, "
            f"{row['calls']} calls, {row['complete']} complete"
            + (
                f"; export {row['export'].wall:6.1f} s {row['export'].peak_mb:5.0f} MB; "
                f"report {row['report'].wall:6.1f} s {row['report'].peak_mb:5.0f} MB"
                if tools
                else ""
            ),
            flush=True,
        )
    if len(rows) < 2:
        return
    xs = [float(r["threads"]) for r in rows]
    print("\ngrowth exponent over threads (1 = linear, 0 = flat; targets: time <= 1.05, peak memory <= 0.1)")
    for step in ("run", "export", "report") if tools else ("run",):
        wall = exponent(xs, [r[step].wall for r in rows])
        cpu = exponent(xs, [r[step].cpu for r in rows])
        peak = exponent(xs, [r[step].peak_mb for r in rows])
        print(f"  {step:>6}: wall {wall:5.2f}  CPU {cpu:5.2f}  peak RSS {peak:5.2f}")


def run_import(name: str, unit: str, total: int, work: Path, build: Callable[[Path, int], None], out: str) -> None:
    """``threadbrief import`` of a generated dump of total/10 and total records (``build`` writes one), into a
    folder of thread files (``out`` "") or one JSON Lines file (``out`` ".jsonl"): its size, time and peak RSS."""
    rows = []
    for count in (total // 10, total):
        dump = work / f"{name}-{count}.jsonl.gz"
        build(dump, count)
        imported = work / f"{name}-imported-{count}{out}"
        ran = measure(threadbrief("import", str(dump), "-o", str(imported)))
        with gzip.open(dump, "rb") as handle:
            records = raw_bytes = 0
            for record in handle:
                records, raw_bytes = records + 1, raw_bytes + len(record)
        if imported.is_dir():
            threads = sum(1 for _ in imported.glob("*.json"))
        else:
            with imported.open("rb") as lines:
                threads = sum(1 for _ in lines)
        rows.append((count, ran))
        print(
            f"{name} dump of {records} {unit} ({dump.stat().st_size / 1e6:.0f} MB gzip, {raw_bytes / 1e6:.0f} MB "
            f"uncompressed), {threads} threads: import {ran.wall:.1f} s wall, {ran.cpu:.1f} s CPU, "
            f"{ran.peak_mb:.0f} MB peak",
            flush=True,
        )
    peak = exponent([float(c) for c, _ in rows], [r.peak_mb for _, r in rows])
    print(f"  {name} import: peak RSS exponent over {unit} {peak:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,3000,10000,30000", help="thread counts, comma-separated")
    parser.add_argument("--no-tools", action="store_true", help="measure the run only, not export and report")
    parser.add_argument("--dump-comments", type=int, default=0, help="also measure a Reddit dump of this many")
    parser.add_argument("--hn-items", type=int, default=0, help="also measure a Hacker News items dump of this many")
    parser.add_argument("--keep", type=Path, default=None, help="build and run in this folder and keep it")
    parser.add_argument("--source", type=Path, default=CMV, help="the threads to copy (cmv-dev's threads/)")
    parser.add_argument(
        "--jobs", type=int, default=1, help="run --jobs (default 1: workers' CPU and memory are not measured)"
    )
    args = parser.parse_args()
    global LAUNCHER
    LAUNCHER = Launcher()
    sources = source_threads(args.source)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    with tempfile.TemporaryDirectory(prefix="threadbrief-scale-") as scratch:
        work = args.keep or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        if sizes:
            run_sizes(sizes, not args.no_tools, work, sources, args.jobs)
        if args.dump_comments:

            def reddit(path: Path, count: int) -> None:
                build_dump(path, count, max(10, count // 50), sources)

            run_import("Reddit", "records", args.dump_comments, work, reddit, ".jsonl")
        if args.hn_items:
            run_import("HN-items", "items", args.hn_items, work, lambda path, n: build_hn_items(path, n, sources), "")
    LAUNCHER.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
