"""Peak memory of importing a whole GitHub repository's issues and comments (a benchmark, not a test).

Writes, for each size N, a folder as ``gh api repos/O/R/issues --paginate`` and ``gh api
repos/O/R/issues/comments --paginate`` would leave it: N issue objects in pages of 100, and their comments
(``--comments`` each) in pages of 100 in time order, so one issue's comments are spread over many pages. The
objects carry the fields the REST API gives (user objects with their URLs, reactions, labels), which the
importer drops as it reads. Then runs ``threadbrief import`` on the folder (one thread file out each) through
bench/launcher.py (a small process started first, so the child's peak RSS is its own) and prints N, files,
megabytes, threads, wall and CPU seconds and peak RSS, and the growth exponent of peak RSS over N (log-log: 1
is linear, 0 is flat).
Usage: python bench/github_scale.py [--sizes 2000,20000] [--comments 5] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

from launcher import Launcher
from scale import exponent

REPO = "https://api.github.com/repos/octo/big"
PAGE = 100
WORDS = (
    "the a this that it is was not but and or if when then we you they build test run fails works crash error "
    "version release config option default patch merge branch commit review change docs example issue bug fix "
    "memory thread file import export parser reader value field index cache timeout retry log output input"
).split()


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def body(rng: random.Random) -> str:
    return "\n\n".join(" ".join(sentence(rng, rng.randint(6, 18)) for _ in range(3)) for _ in range(rng.randint(1, 3)))


def user(login: str) -> dict[str, Any]:
    base = f"https://api.github.com/users/{login}"
    return {
        "login": login,
        "id": abs(hash(login)) % 10**8,
        "node_id": "MDQ6VXNlcjE=",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{login}?v=4",
        "url": base,
        "html_url": f"https://github.com/{login}",
        "followers_url": f"{base}/followers",
        "repos_url": f"{base}/repos",
        "type": "User",
        "site_admin": False,
    }


def reactions(url: str) -> dict[str, Any]:
    return {"url": f"{url}/reactions", "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "heart": 0, "rocket": 0}


def issue(rng: random.Random, number: int) -> dict[str, Any]:
    url = f"{REPO}/issues/{number}"
    return {
        "url": url,
        "repository_url": REPO,
        "comments_url": f"{url}/comments",
        "html_url": f"https://github.com/octo/big/issues/{number}",
        "id": 10**9 + number,
        "number": number,
        "title": sentence(rng, 6),
        "user": user(f"user{rng.randrange(3000)}"),
        "labels": [{"name": "bug", "color": "d73a4a", "default": True}],
        "state": "open",
        "comments": 0,
        "created_at": f"2020-01-01T00:00:{number % 60:02d}Z",
        "author_association": "NONE",
        "body": body(rng),
        "reactions": reactions(url),
    }


def comment(rng: random.Random, number: int, cid: int, second: int) -> dict[str, Any]:
    url = f"{REPO}/issues/comments/{cid}"
    return {
        "url": url,
        "html_url": f"https://github.com/octo/big/issues/{number}#issuecomment-{cid}",
        "issue_url": f"{REPO}/issues/{number}",
        "id": cid,
        "node_id": "IC_kwDOA",
        "user": user(f"user{rng.randrange(3000)}"),
        "created_at": f"2021-{1 + second // 2_419_200 % 12:02d}-01T00:00:00Z",
        "updated_at": "2021-01-01T00:00:00Z",
        "author_association": "CONTRIBUTOR",
        "body": body(rng),
        "reactions": reactions(url),
    }


def build(folder: Path, issues: int, comments: int, seed: int = 16) -> tuple[int, int]:
    """The folder's pages; returns (files, bytes)."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    pages: list[list[dict[str, Any]]] = []
    numbers = list(range(1, issues + 1))
    for start in range(0, issues, PAGE):
        pages.append([issue(rng, n) for n in numbers[start : start + PAGE]])
    # Repository-wide comments in time order: each page holds comments of many issues.
    order = [n for n in numbers for _ in range(comments)]
    rng.shuffle(order)
    page: list[dict[str, Any]] = []
    for cid, number in enumerate(order, start=1):
        page.append(comment(rng, number, cid, cid))
        if len(page) == PAGE:
            pages.append(page)
            page = []
    if page:
        pages.append(page)
    size = 0
    for index, content in enumerate(pages):
        path = folder / f"page-{index:05d}.json"
        path.write_text(json.dumps(content), encoding="utf-8")
        size += path.stat().st_size
    return len(pages), size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="2000,20000", help="issue counts, comma-separated")
    parser.add_argument("--comments", type=int, default=5, help="comments per issue")
    parser.add_argument("--keep", type=Path, default=None, help="build in this folder and keep it")
    args = parser.parse_args()
    launcher = Launcher()  # first, while this process is small
    sizes = [int(s) for s in args.sizes.split(",") if s]
    peaks: list[float] = []
    with tempfile.TemporaryDirectory(prefix="threadbrief-github-scale-") as scratch:
        work = args.keep or Path(scratch)
        for size in sizes:
            folder = work / f"issues-{size}"
            files, size_bytes = build(folder, size, args.comments)
            out = work / f"imported-{size}"
            ran = launcher.run([sys.executable, "-m", "pipeline", "import", str(folder), "-o", str(out)])
            if ran["code"] not in (0, 1):
                sys.stderr.write(ran["stderr"])
                raise SystemExit(f"import of {folder} exited {ran['code']}")
            threads = sum(1 for _ in out.glob("*.json"))
            peak_mb = ran["peak_kib"] / 1024
            peaks.append(peak_mb)
            print(
                f"N={size} issues, {size * args.comments} comments: {files} files, {size_bytes / 1e6:.0f} MB; "
                f"{threads} threads; import {ran['wall']:.1f} s wall, {ran['cpu']:.1f} s CPU, {peak_mb:.0f} MB peak",
                flush=True,
            )
    launcher.close()
    if len(sizes) > 1:
        print(f"peak RSS exponent over issues: {exponent([float(s) for s in sizes], peaks):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
