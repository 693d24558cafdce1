"""Screenshots of a real thread's report page for the README: docs/report-glance.png and docs/report-tree.png.

Input: a real Reddit thread of tests/fixtures (222 posts) (imported, run offline, reported in a temporary folder).
Output: two PNGs of Debian's chromium, headless, at a 1,400 × 1,600 window: the top of the page (at a glance,
the debate map) and the reply tree (the same page with the glance and the map hidden). Prints each file's
path, pixels and bytes. Failure modes: exits 1 when chromium is not installed or a PNG is not written.
Run: make screenshots.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from click.testing import CliRunner  # noqa: E402

from pipeline.cli import cli  # noqa: E402

THREAD = ROOT / "tests" / "fixtures" / "reddit" / "thread_n49rw_first215.json"
WINDOW = (1400, 1600)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    f"--window-size={WINDOW[0]},{WINDOW[1]}",
]


def report_page(tmp: Path) -> Path:
    """The thread page of THREAD, reported from an offline run."""
    runner = CliRunner()
    for args in (
        ["import", str(THREAD), "-o", str(tmp / "in")],
        ["run", str(tmp / "in"), "-o", str(tmp / "out"), "-q", "--backend", "offline"],
        ["report", str(tmp / "out")],
    ):
        result = runner.invoke(cli, args, env={"OPENAI_API_KEY": ""})
        if result.exit_code not in (0, 1):
            sys.exit(f"threadbrief {args[0]} failed: {result.stderr}")
    return next((tmp / "out" / "report" / "threads").glob("*.html"))


def shoot(browser: str, url: str, png: Path, tmp: Path) -> None:
    command = [
        browser,
        *FLAGS,
        f"--user-data-dir={tmp / 'profile'}",
        "--virtual-time-budget=3000",
        f"--screenshot={png}",
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if done.returncode != 0 or not png.is_file():
        sys.exit(f"chromium wrote no {png}: {done.stderr[-1000:]}")
    width, height = struct.unpack(">II", png.read_bytes()[16:24])  # the PNG's IHDR chunk
    print(f"{png.relative_to(ROOT)}: {width} x {height} px, {png.stat().st_size:,} bytes")


def main() -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        sys.exit("chromium is not installed (Debian's package: apt-get install chromium)")
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        page = report_page(tmp)
        shoot(browser, page.as_uri(), ROOT / "docs" / "report-glance.png", tmp)
        # Neither a URL fragment nor a scroll on load moves a headless screenshot: a copy of the page hides
        # what comes before the tree (the glance, the map) so the tree starts at the top.
        scrolled = page.with_name("tree-first.html")
        hide = "<style>.glance,.map,#map-filters,body>h2:not(:last-of-type),body>p.note{display:none}</style></head>"
        scrolled.write_text(page.read_text(encoding="utf-8").replace("</head>", hide, 1), encoding="utf-8")
        shoot(browser, scrolled.as_uri(), ROOT / "docs" / "report-tree.png", tmp)


if __name__ == "__main__":
    main()
