"""Offline extractor quality and speed on the annotated cmv-dev threads (a benchmark, not a test).

Runs the offline backend over ../shared/eval/cmv-dev/threads, then prints:
- the `threadbrief eval` table (claims, attack edges, post pairs, grounding) beside the two baselines: in-sample,
  since the offline extractor's rules and weights were tuned on these threads (`make crossval`
  cross-validates every tuned part by thread);
- throughput: MB of post text per second over N runs in this one process (the pipeline is one thread: the
  offline backend runs on one core), with the tokenizer already loaded, for the offline extractor alone
  (chunks → payloads) and for the whole run (load → briefs written, which adds normalizing, token counting,
  grounding, merging, schema checks and file writes); per second of wall time (best, median and worst
  run) and per second of this process's CPU time (less sensitive to other load on the machine);
- determinism: whether two runs wrote byte-identical briefs once timestamps are removed;
- beside the CMV figures, the stance table on the hand-labelled non-debate threads (eval/nondebate: support,
  Q&A, announcements, code review, casual chat): how often replies that do not rebut their parent are marked
  as rebutting it (false-rebuttal rate), rebuttal precision and recall, the counts per kind of reply and per
  thread; then the same table on eval/nondebate-unseen, threads labelled blind and kept apart from the dev set
  (the stance rules were not tuned on them: see its README).
Usage: python bench/quality.py [CMV_DIR] [--runs N] [--nondebate DIR] [--unseen DIR]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from cmv import argument_parser, data_paths, offline_briefs

from pipeline.chunk import chunk_thread
from pipeline.evaluate import evaluate, evaluate_stance, load_gold, load_stance_labels, report_table, stance_table
from pipeline.extract_offline import OfflineExtractor, extract_payload
from pipeline.load import load_inputs
from pipeline.normalize import normalize_thread
from pipeline.runner import RunConfig, run
from pipeline.tokenizer import get_tokenizer

NONDEBATE_DIR = Path(__file__).resolve().parents[1] / "eval" / "nondebate"
UNSEEN_DIR = Path(__file__).resolve().parents[1] / "eval" / "nondebate-unseen"


def without_timestamps(path: Path) -> dict[str, object]:
    brief = json.loads(path.read_text(encoding="utf-8"))
    del brief["provenance"]["created_at"], brief["stats"]["seconds"]
    return brief


def main() -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--nondebate", type=Path, default=NONDEBATE_DIR, help="threads/ and labels.jsonl")
    parser.add_argument("--unseen", type=Path, default=UNSEEN_DIR, help="threads/ and labels.jsonl, held apart")
    args = parser.parse_args()
    paths = data_paths(args.cmv_dir)
    if paths is None:
        return 2
    threads_dir, gold_path = paths
    threads = load_inputs([threads_dir]).threads
    text_bytes = sum(len(p.text.encode("utf-8")) for t in threads for p in t.posts)
    tokenizer = get_tokenizer(None)  # loading the BPE ranks is a one-off start-up cost, not throughput

    outputs: list[Path] = []
    seconds: list[tuple[float, float]] = []  # (wall, CPU) per run
    for _ in range(max(2, args.runs)):
        out = Path(tempfile.mkdtemp(prefix="tb-quality-"))
        started, cpu = time.perf_counter(), time.process_time()
        exit_code, _manifest = run(RunConfig(inputs=[threads_dir], out=out), OfflineExtractor())
        seconds.append((time.perf_counter() - started, time.process_time() - cpu))
        outputs.append(out)
        if exit_code != 0:
            print(f"run failed with exit code {exit_code}: see {out / 'run.json'}", file=sys.stderr)
            return 1

    chunks = [c for t in threads for c in chunk_thread(normalize_thread(t), tokenizer, RunConfig.max_chunk_tokens)]
    extract_seconds: list[tuple[float, float]] = []
    for _ in range(max(2, args.runs)):
        started, cpu = time.perf_counter(), time.process_time()
        for chunk in chunks:
            extract_payload(chunk)
        extract_seconds.append((time.perf_counter() - started, time.process_time() - cpu))

    report = evaluate(load_gold(gold_path), outputs[0])
    print(report_table(report))
    print("(in-sample: the offline extractor was tuned on these threads; `make crossval` cross-validates it by thread)")
    megabytes = text_bytes / 1e6
    print(f"\nthroughput over {megabytes:.3f} MB of post text, {len(seconds)} runs each, in one process:")
    for label, times in (("offline extractor (chunks → payloads)", extract_seconds), ("whole run", seconds)):
        walls = sorted(wall for wall, _ in times)
        cpus = sorted(cpu for _, cpu in times)
        wall_rates = [megabytes / walls[0], megabytes / walls[len(walls) // 2], megabytes / walls[-1]]
        print(
            f"  {label:<38} wall: best {wall_rates[0]:.2f} MB/s, median {wall_rates[1]:.2f}, worst {wall_rates[2]:.2f};"
            f" per CPU-second: best {megabytes / cpus[0]:.2f} MB, median {megabytes / cpus[len(cpus) // 2]:.2f};"
            f" CPU/wall {sum(cpus) / sum(walls):.2f}"
        )
    first = sorted(outputs[0].glob("*/brief.json"))
    identical = all(without_timestamps(p) == without_timestamps(outputs[1] / p.parent.name / p.name) for p in first)
    print(f"deterministic: {'yes' if identical else 'NO'} ({len(first)} briefs compared across two runs)")

    for name, directory in (("non-debate dev set", args.nondebate), ("non-debate threads held apart", args.unseen)):
        labels_path, threads_dir = directory / "labels.jsonl", directory / "threads"
        if not labels_path.is_file() or not threads_dir.is_dir():
            print(f"no stance labels at {directory} (threads/ and labels.jsonl)", file=sys.stderr)
            return 2
        with offline_briefs([threads_dir], prefix="tb-nondebate-") as out:
            stance = evaluate_stance(load_stance_labels(labels_path), out)
        print(f"\n{name}: {directory}")
        print(stance_table(stance))
        print(f"(hand-labelled replies; sources, licences and the labelling rule: {directory / 'README.md'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
