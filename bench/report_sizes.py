"""Sizes of brief.md and of the report's thread page for generated debates of 200, 2,000 and 20,000 posts.

Both are bounded whatever the thread's length (brief.md ~1 MB, a thread page ~5 MB): this prints the bytes
each one takes, the seconds to render it, and how many posts the page's reply tree shows.
Run: make report-sizes.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from synthetic_debate import synthetic_brief  # noqa: E402

from pipeline.render import brief_markdown  # noqa: E402
from pipeline.report import thread_page  # noqa: E402


def main() -> None:
    print(f"{'posts':>7} {'claims':>7} {'relations':>9} {'brief.md B':>11} {'page bytes':>11} {'posts shown':>11} sec")
    for posts in (200, 2_000, 20_000):
        brief = synthetic_brief(posts)
        started = time.perf_counter()
        markdown = brief_markdown(brief).encode()  # type: ignore[arg-type]
        page = thread_page(brief).encode()  # type: ignore[arg-type]
        seconds = time.perf_counter() - started
        shown = page.count(b'<details open class="post')
        print(
            f"{posts:>7} {len(brief['claims']):>7} {len(brief['relations']):>9} {len(markdown):>11,} "
            f"{len(page):>11,} {shown:>11,} {seconds:.1f}"
        )


if __name__ == "__main__":
    main()
