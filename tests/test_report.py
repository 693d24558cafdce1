"""`threadbrief report`: a static site whose links resolve and whose quotes sit in their posts; and, where
Debian's chromium is installed (.ci/run installs it), a real headless browser loads it from file://."""

from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import CMV_THREADS, SEEDS, need

from pipeline.cli import cli
from pipeline.report import thread_page


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.hrefs: list[str] = []
        self.marks: dict[str, str] = {}
        self._mark: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(str(values["id"]))
        if tag == "a" and values.get("href"):
            self.hrefs.append(str(values["href"]))
        if tag == "mark":
            self._mark = str(values["id"])
            self.marks[self._mark] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "mark":
            self._mark = None

    def handle_data(self, data: str) -> None:
        if self._mark:
            self.marks[self._mark] += data


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report-out")
    inputs = [str(SEEDS)] + ([str(CMV_THREADS / "cmv-negative-0.json")] if CMV_THREADS.is_dir() else [])
    runner = CliRunner()
    assert runner.invoke(cli, ["run", *inputs, "-o", str(out), "-q"], env={"OPENAI_API_KEY": ""}).exit_code == 0
    result = runner.invoke(cli, ["report", str(out)])
    assert result.exit_code == 0, result.stderr
    return out


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def test_every_link_resolves_and_every_quote_is_highlighted_in_its_post(site: Path) -> None:
    pages = sorted((site / "report").rglob("*.html"))
    assert len(pages) == 1 + len(list(site.glob("*/brief.json")))
    for path in pages:
        page = parse(path)
        for href in page.hrefs:
            target, _, fragment = href.partition("#")
            assert href.startswith("#") or (path.parent / target).is_file(), (path, href)
            if href.startswith("#"):
                assert fragment in page.ids, (path.name, href)
        assert "http" not in "".join(h for h in page.hrefs)  # nothing to fetch: works from file://
    for brief_path in site.glob("*/brief.json"):
        brief = json.loads(brief_path.read_text())
        page = parse(site / "report" / "threads" / f"{brief['thread']['id']}.html")
        assert {c["id"] for c in brief["claims"]} <= page.ids
        quotes = {c["id"]: c["quote"] for c in brief["claims"]}
        assert all(page.marks[f"q-{cid}"] == quotes[cid] for cid in quotes if f"q-{cid}" in page.marks)
        # Every quote that overlaps no other quote of its post is highlighted (an overlapping one may share a mark).
        alone = [
            c["id"]
            for c in brief["claims"]
            if not any(
                o["id"] != c["id"]
                and o["post_id"] == c["post_id"]
                and o["span"][0] < c["span"][1]
                and c["span"][0] < o["span"][1]
                for o in brief["claims"]
            )
        ]
        assert [cid for cid in alone if f"q-{cid}" not in page.marks] == [], brief["thread"]["id"]
        if brief["relations"]:
            assert "<svg" in (site / "report" / "threads" / f"{brief['thread']['id']}.html").read_text()


def test_the_report_loads_in_headless_chromium(site: Path, tmp_path: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    need(browser is not None, "chromium (Debian's package)")
    assert browser is not None
    for name, page in [
        ("index", site / "report" / "index.html"),
        ("thread", next((site / "report" / "threads").glob("003_*.html"))),
    ]:
        shot = tmp_path / f"{name}.png"
        command: list[Any] = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1200,1600",
            f"--screenshot={shot}",
            page.as_uri(),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=90)
        assert done.returncode == 0, done.stderr[-2000:]
        assert shot.is_file() and shot.stat().st_size > 10_000  # a page was drawn, not a blank error page
        console = [line for line in done.stderr.splitlines() if "CONSOLE" in line]
        assert console == [], console


def test_overlapping_quotes_still_link_somewhere_real() -> None:
    text = "Alpha beta gamma delta epsilon zeta eta theta."
    claims = [
        {
            "id": "C1",
            "post_id": "p1",
            "speaker": "ann",
            "kind": "claim",
            "text": "a",
            "quote": text[0:22],
            "span": [0, 22],
            "match": "exact",
            "chunks": ["c001"],
        },
        {
            "id": "C2",
            "post_id": "p1",
            "speaker": "ann",
            "kind": "claim",
            "text": "b",
            "quote": text[11:46],
            "span": [11, 46],
            "match": "exact",
            "chunks": ["c001"],
        },
    ]
    brief = {
        "status": "complete",
        "summary": "s",
        "failures": [],
        "claims": claims,
        "relations": [{"source": "C2", "target": "C1", "type": "qualifies"}],
        "thread": {"id": "t", "title": "T"},
        "posts": [{"id": "p1", "author": "ann", "parent_id": None, "text": text, "duplicate_of": None, "quoted": []}],
    }
    page = Page()
    page.feed(thread_page(brief))
    assert page.marks == {"q-C1": text[0:22]}  # C2 overlaps C1: no mark of its own ...
    assert all(h[1:] in page.ids for h in page.hrefs if h.startswith("#"))  # ... so it links to its post
    assert "#post-p1" in page.hrefs


def test_a_long_thread_fills_the_page_budget_in_bytes_and_no_link_dangles(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tree is measured in UTF-8 bytes as written: with non-ASCII names (2 bytes a letter) the page still
    stays under the budget, fills most of it (the rest of the thread is said to be elsewhere), and every link
    on it points at an element on it (relations to claims left off the page are plain text)."""
    from synthetic_debate import synthetic_brief

    from pipeline import report

    brief = synthetic_brief(2000)
    names = {p["author"]: f"Zoë Ærø-Ñuñez {p['author']}" for p in brief["posts"]}
    for post in brief["posts"]:
        post["author"] = names[post["author"]]
    for claim in brief["claims"]:
        claim["speaker"] = names[claim["speaker"]]
    budget = 300_000
    monkeypatch.setattr(report, "PAGE_BYTES", budget)
    html = thread_page(brief)  # type: ignore[arg-type]
    size = len(html.encode("utf-8"))
    assert 0.97 * budget < size <= budget, size
    assert "more posts (and their claims) are not on this page" in html
    page = Page()
    page.feed(html)
    shown_posts = {i for i in page.ids if i.startswith("post-")}
    assert 50 < len(shown_posts) < len(brief["posts"])
    internal = [h[1:] for h in page.hrefs if h.startswith("#")]
    assert internal and all(target in page.ids for target in internal), set(internal) - page.ids
