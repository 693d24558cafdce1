"""The annotated ChangeMyView threads the quality benchmarks read (../shared/eval/cmv-dev by default)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

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
