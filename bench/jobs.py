"""Every core: the offline run with --jobs 1 and --jobs N on copies of cmv-dev, and where one job's time goes
(a benchmark, not a test).

Builds a corpus of COPIES × the cmv-dev threads (each copy with new thread ids, so no brief is shared), runs
`threadbrief run --backend offline -q --jobs J` for each J as its own process, and prints wall seconds,
threads per second, the speedup over one job and whether every output file is identical to the one-job run
(created_at, seconds, started_at and finished_at aside). Then the floor: reading the same inputs and
tokenizing every post, per thread; and where one job's time goes, stage by stage (each stage function of
pipeline/thread.py wrapped with a timer, over the source threads, in this process: no profiler overhead).
It also prints what a process loads at start (the CLI's imports, the tokenizer's ranks, the language model
with and without its unpacked copy). With --profile, also one job under cProfile and the functions with the
most time of their own.
The machine's load average is printed first: on a shared machine other processes take cores too, and the
speedup then falls short of what the cores give (--repeat N runs each setting N times, interleaved); on a
virtual machine the host may also take them ("stolen": the share of the machine's CPU time the host gave to
others during each run, from /proc/stat).
Usage: python bench/jobs.py [--copies 50] [--jobs 1,2] [--repeat 1] [--profile] [--source DIR]
(DIR default: ../shared/eval/cmv-dev/threads)
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pipeline.thread as thread_stages
from pipeline import jobs as jobs_module
from pipeline.extract_offline import OfflineExtractor
from pipeline.load import load_inputs
from pipeline.runner import RunConfig, Runner
from pipeline.tokenizer import get_tokenizer

SOURCE = Path(__file__).resolve().parent.parent.parent / "shared" / "eval" / "cmv-dev" / "threads"
RUN_SPECIFIC = ("created_at", "seconds", "started_at", "finished_at")


def build_corpus(source: Path, folder: Path, copies: int) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    made = 0
    for copy in range(copies):
        for path in sorted(source.glob("*.json")):
            thread = json.loads(path.read_text("utf-8"))
            thread["id"] = f"{thread['id']}-copy{copy}"
            (folder / f"{thread['id']}.json").write_text(json.dumps(thread), "utf-8")
            made += 1
    return made


def cpu_ticks() -> tuple[int, int]:
    """The machine's (total, stolen) CPU ticks so far (Linux /proc/stat; (0, 0) elsewhere): on a virtual machine,
    "steal" is time the host gave this machine's cores to others, which no run here can use."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
    except OSError:
        return 0, 0
    return sum(fields[:8]), fields[7] if len(fields) > 7 else 0


def run(corpus: Path, out: Path, jobs: int) -> tuple[float, float]:
    """Wall seconds of one run, and the share of the machine's CPU time the host stole meanwhile."""
    ticks, stolen = cpu_ticks()
    started = time.perf_counter()
    command = ["threadbrief", "run", str(corpus), "-o", str(out), "--backend", "offline", "-q", "--jobs", str(jobs)]
    subprocess.run(command, check=True, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    ticks_after, stolen_after = cpu_ticks()
    return wall, (stolen_after - stolen) / max(1, ticks_after - ticks)


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: None if k in RUN_SPECIFIC else _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def differing(one: Path, other: Path) -> list[str]:
    """Files that differ between two OUT folders, run-specific fields aside."""
    names = sorted(str(p.relative_to(one)) for p in one.rglob("*") if p.is_file())
    theirs = sorted(str(p.relative_to(other)) for p in other.rglob("*") if p.is_file())
    if names != theirs:
        return sorted(set(names) ^ set(theirs))
    found = []
    for name in names:
        mine, yours = (one / name).read_bytes(), (other / name).read_bytes()
        if mine != yours and not (name.endswith(".json") and _scrub(json.loads(mine)) == _scrub(json.loads(yours))):
            found.append(name)
    return found


def floor(corpus: Path) -> tuple[float, int]:
    """Seconds to read the inputs and tokenize every post: what no run can go below."""
    started = time.perf_counter()
    loaded = load_inputs([corpus])
    tokenizer = get_tokenizer(None)
    for thread in loaded.threads:
        for post in thread.posts:
            tokenizer.count(post.text)
    return time.perf_counter() - started, len(loaded.threads)


STAGES = ("normalize_thread", "detect", "chunk_thread", "check_extraction", "ground_claims", "merge_claims")
STAGES += ("build_brief", "brief_problems")


def stage_times(source: Path, out: Path) -> tuple[float, dict[str, float], int]:
    """Seconds per thread of the whole chain with its brief written, and of each stage, over ``source``."""
    spent: dict[str, float] = defaultdict(float)

    def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - started

        return wrapper

    for name in STAGES:
        setattr(thread_stages, name, timed(name, getattr(thread_stages, name)))
    extractor = OfflineExtractor()
    extract = extractor.extract

    async def timed_extract(chunk: Any) -> Any:
        started = time.perf_counter()
        try:
            return await extract(chunk)
        finally:
            spent["extract (offline rules)"] += time.perf_counter() - started

    extractor.extract = timed_extract  # type: ignore[method-assign]
    write_brief = jobs_module.outputs.write_brief
    jobs_module.outputs.write_brief = timed("write_brief (json, markdown, files)", write_brief)  # type: ignore[attr-defined]
    threads = load_inputs([source]).threads
    runner = Runner(RunConfig(inputs=[source], out=out, backend="offline", jobs=1), extractor)
    thread_stages.detect(threads[0])  # load the language model before the clock starts
    spent.clear()

    async def chain() -> None:
        for one in threads:
            await jobs_module.brief_and_write(
                one, runner.answers, runner.tokenizer, runner.thread_settings, runner.progress, out
            )

    started = time.perf_counter()
    asyncio.run(chain())
    total = time.perf_counter() - started
    jobs_module.outputs.write_brief = write_brief  # type: ignore[attr-defined]
    return total, dict(spent), len(threads)


def profile(corpus: Path, out: Path, top: int = 25) -> str:
    from pipeline.runner import run as run_threads

    config = RunConfig(inputs=[corpus], out=out, backend="offline", jobs=1)
    profiler = cProfile.Profile()
    profiler.runcall(run_threads, config, OfflineExtractor())
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("tottime").print_stats(top)
    return re.sub(r"/\S*/(site-packages|pipeline|lib/python3\.\d+)/", r"\1/", text.getvalue())


def startup() -> tuple[float, bool]:
    """The best of three fresh processes' time to import the CLI (every pipeline module), and whether that
    imported the OpenAI SDK (it should not: pipeline/lazy.py)."""
    probe = "import sys, pipeline.cli; print('openai' in sys.modules)"
    best, sdk = float("inf"), True
    for _ in range(3):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
        best, sdk = min(best, time.perf_counter() - started), done.stdout.strip() == "True"
    return best, sdk


_MODELS_PROBE = """
import json, sys, time
started = time.perf_counter()
from pipeline.tokenizer import get_tokenizer
get_tokenizer(None)
tokenizer = time.perf_counter() - started
from pipeline.langid_model import load_identifier
started = time.perf_counter()
load_identifier()
print(json.dumps([tokenizer, time.perf_counter() - started]))
"""


def model_loads() -> tuple[float, float, float]:
    """The best of three fresh processes' seconds to load the tokenizer's ranks, py3langid's model from its
    unpacked copy in the user's cache (loaded once first, so the copy exists) and from the wheel's xz file
    (THREADBRIEF_MODEL_CACHE=0): what a worker's server loads before the first worker can start."""
    subprocess.run([sys.executable, "-c", _MODELS_PROBE], capture_output=True, check=True)
    best = [float("inf")] * 3
    for _ in range(3):
        for cached, env in ((True, os.environ), (False, {**os.environ, "THREADBRIEF_MODEL_CACHE": "0"})):
            done = subprocess.run([sys.executable, "-c", _MODELS_PROBE], capture_output=True, check=True, env=env)
            tokenizer, model = json.loads(done.stdout)
            best[0] = min(best[0], tokenizer)
            best[1 if cached else 2] = min(best[1 if cached else 2], model)
    return best[0], best[1], best[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=50)
    parser.add_argument("--jobs", default="1,2")
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each --jobs, interleaved; the best counts")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="threadbrief-jobs-") as tmp:
        corpus = Path(tmp) / "corpus"
        threads = build_corpus(args.source, corpus, args.copies)
        print(f"corpus: {threads} threads ({args.copies} copies of {args.source}); load average {os.getloadavg()}")
        floor_seconds, _ = floor(corpus)
        per_thread = 1000 * floor_seconds / threads
        print(f"floor (read + tokenize every post): {floor_seconds:.2f} s, {per_thread:.2f} ms/thread")
        seconds, sdk = startup()
        print(f"start: a process imports the CLI in {seconds:.2f} s (OpenAI SDK imported: {'yes' if sdk else 'no'})")
        tokenizer, cached, packed = model_loads()
        print(
            f"start: the tokenizer's ranks load in {tokenizer:.2f} s, the language model in {cached:.2f} s from its "
            f"unpacked copy ({packed:.2f} s from the wheel's xz file)"
        )
        counts = [int(j) for j in args.jobs.split(",")]
        walls: dict[int, list[float]] = {jobs: [] for jobs in counts}
        steals: dict[int, list[float]] = {jobs: [] for jobs in counts}
        for _round in range(args.repeat):  # interleaved, so a burst of load elsewhere hits every setting alike
            for jobs in counts:
                wall, steal = run(corpus, Path(tmp) / f"out-{jobs}", jobs)
                walls[jobs].append(wall)
                steals[jobs].append(steal)
        header = f"{'jobs':>4} {'best s':>8} {'all runs s':>24} {'ms/thread':>10} {'threads/s':>10} {'speedup':>8}"
        print(f"{header}  {'stolen':>14}  outputs")
        first = counts[0]
        for jobs in counts:
            best = min(walls[jobs])
            same = differing(Path(tmp) / f"out-{first}", Path(tmp) / f"out-{jobs}")
            verdict = f"identical to --jobs {first}" if not same else f"{len(same)} differ, e.g. {same[:3]}"
            runs = ", ".join(f"{w:.1f}" for w in walls[jobs])
            stolen = ", ".join(f"{100 * s:.0f}%" for s in steals[jobs])
            print(
                f"{jobs:>4} {best:>8.2f} {runs:>24} {1000 * best / threads:>10.2f} {threads / best:>10.1f} "
                f"{min(walls[first]) / best:>7.2f}x  {stolen:>14}  {verdict}"
            )
        print(f"load average after: {os.getloadavg()}")
        total, spent, count = stage_times(args.source, Path(tmp) / "out-stages")
        print(f"\none job, stage by stage, over the {count} source threads: {1000 * total / count:.2f} ms/thread")
        for name, seconds in sorted(spent.items(), key=lambda item: -item[1]):
            print(f"  {name:38} {1000 * seconds / count:6.2f} ms/thread {100 * seconds / total:5.1f}%")
        rest = 1000 * (total - sum(spent.values())) / count
        print(f"  {'(the rest: overview, rows, progress)':38} {rest:6.2f} ms/thread")
        if args.profile:
            print("\none job under cProfile (its overhead inflates Python-heavy functions), by own time:")
            print(profile(corpus, Path(tmp) / "out-profile"))
    sys.exit(0)


if __name__ == "__main__":
    main()
