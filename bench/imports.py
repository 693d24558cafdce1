"""What the importers keep of real exports: per input, the format detected, threads, posts, distinct
authors, reply links, notes (what was repaired or left out) and input errors, as `threadbrief run` reads it.

Usage: python bench/imports.py [PATH ...]   (default: every folder of tests/fixtures/)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.importers import FORMATS  # noqa: E402
from pipeline.importers.base import ImportOptions  # noqa: E402
from pipeline.load import TITLE_POST_ID, load_inputs  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    args = parser.parse_args()
    paths = args.paths or sorted(p for p in (ROOT / "tests" / "fixtures").iterdir() if p.is_dir())
    print(f"{'input':<34} {'threads':>7} {'posts':>6} {'authors':>7} {'links':>6} {'notes':>5} {'errors':>6} {'ms':>6}")
    for path in paths:
        started = time.perf_counter()
        loaded = load_inputs([path], ImportOptions())
        ms = (time.perf_counter() - started) * 1000
        posts = [p for t in loaded.threads for p in t.posts if p.id != TITLE_POST_ID]
        authors = {p.author for p in posts if p.author}
        links = sum(1 for p in posts if p.parent_id is not None and p.parent_id != TITLE_POST_ID)
        print(
            f"{path.name:<34} {len(loaded.threads):>7} {len(posts):>6} {len(authors):>7} {links:>6} "
            f"{len(loaded.notes):>5} {len(loaded.errors):>6} {ms:>6.0f}"
        )
        for note in loaded.notes:
            print(f"    note   {Path(note.where).name}: {note.reason[:150]}")
        for error in loaded.errors:
            print(f"    error  {error}"[:170])
    print(f"\n{len(FORMATS)} formats: {', '.join(f.name for f in FORMATS)}")


if __name__ == "__main__":
    main()
