"""What the quality benchmarks share: the annotated ChangeMyView threads they read (../shared/eval/cmv-dev by
default) and the logistic regression the fitting benchmarks use."""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipeline.evaluate import load_gold
from pipeline.extract_offline import OfflineExtractor
from pipeline.runner import run
from pipeline.settings import RunConfig

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "eval" / "cmv-dev"


def argument_parser(doc: str) -> argparse.ArgumentParser:
    """A benchmark's parser: its docstring's first line, and the annotated folder as an optional argument."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("cmv_dir", nargs="?", type=Path, default=DEFAULT_DIR)
    return parser


def data_paths(cmv_dir: Path) -> tuple[Path, Path] | None:
    """(threads folder, gold.jsonl), or None once stderr has said they are not there."""
    threads_dir, gold_path = cmv_dir / "threads", cmv_dir / "gold.jsonl"
    if not threads_dir.is_dir() or not gold_path.is_file():
        print(f"no annotated threads at {cmv_dir} (threads/ and gold.jsonl): pass its path", file=sys.stderr)
        return None
    return threads_dir, gold_path


def annotated(cmv_dir: Path) -> tuple[Path, dict[str, dict[str, Any]]] | None:
    """(threads folder, gold annotations by thread id), or None once stderr has said they are not there."""
    paths = data_paths(cmv_dir)
    return None if paths is None else (paths[0], load_gold(paths[1]))


@contextmanager
def offline_briefs(inputs: list[Path], prefix: str = "tb-bench-") -> Iterator[Path]:
    """An OUT holding the offline backend's briefs of ``inputs``, removed when the block ends."""
    with tempfile.TemporaryDirectory(prefix=prefix) as out:
        run(RunConfig(inputs=inputs, out=Path(out), use_cache=False), OfflineExtractor())
        yield Path(out)


def logistic_fit(
    rows: Iterable[tuple[Sequence[str], int]], names: list[str], l2: float, iterations: int
) -> dict[str, float]:
    """L2-regularised logistic regression by Newton's method over the 0/1 features ``names`` (a row's other
    features are ignored; identical rows are counted once with their number); the bias is not penalised."""
    index = {name: i for i, name in enumerate(names)}
    groups = Counter((tuple(index[f] for f in features if f in index), label) for features, label in rows)
    weights = [0.0] * len(names)
    for _ in range(iterations):
        gradient = [0.0] * len(names)
        hessian = [[0.0] * len(names) for _ in names]
        for (active, label), count in groups.items():
            p = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, sum(weights[i] for i in active)))))
            for i in active:
                gradient[i] += count * (p - label)
                for j in active:
                    hessian[i][j] += count * p * (1 - p)
        for name, i in index.items():
            if name != "bias":
                gradient[i] += l2 * weights[i]
                hessian[i][i] += l2
        step = _solve(hessian, gradient)
        weights = [w - d for w, d in zip(weights, step, strict=True)]
        if max(abs(d) for d in step) < 1e-6:
            break
    return dict(zip(names, weights, strict=True))


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (the system is small and positive definite)."""
    n = len(vector)
    a = [row[:] + [vector[i]] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        for r in range(col + 1, n):
            factor = a[r][col] / a[col][col]
            for c in range(col, n + 1):
                a[r][c] -= factor * a[col][c]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (a[r][n] - sum(a[r][c] * x[c] for c in range(r + 1, n))) / a[r][r]
    return x
