"""The thread page in headless Chromium on a real thread (Reddit r/announcements n49rw, "We're back", its first
six comment trees: 222 posts, tests/fixtures/reddit/thread_n49rw_first215.json) and on a generated 2,000-post debate: no
horizontal scroll at 1,400 px, map boxes that never overlap and edges that cross no box they do not connect
(measured on the SVG as Chromium laid it out), every claim inside its post inside its parent's post, and
filters that change what the map shows. Screenshots go to SCREENSHOTS (default: a folder of the test's
temporary directory, printed with -s)."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import ROOT, need
from synthetic_debate import synthetic_brief

from pipeline.cli import cli
from pipeline.debate import Relations, debate_core
from pipeline.debate_map import map_svg
from pipeline.report import thread_page

REAL_THREAD = ROOT / "tests" / "fixtures" / "reddit" / "thread_n49rw_first215.json"
SCREENSHOTS = "report-screenshots"
# Appended to a copy of the page: the geometry as laid out, written into the DOM that --dump-dom prints.
PROBE = """<script>addEventListener('load',function(){setTimeout(function(){
var vis=function(e){return e.getClientRects().length>0;};
var nodes=[].map.call(document.querySelectorAll('.debate-map .node'),function(n){
var b=n.querySelector('rect').getBBox();
return {id:n.dataset.id,x:b.x,y:b.y,w:b.width,h:b.height,shown:vis(n)};});
var edges=[].map.call(document.querySelectorAll('.debate-map .edge'),function(e){var p=e.querySelector('path'),
L=p.getTotalLength(),pts=[];for(var s=0;s<=L;s+=3){var q=p.getPointAtLength(s);pts.push([q.x,q.y]);}
return {source:e.dataset.source,target:e.dataset.target,type:e.dataset.type,shown:vis(e),points:pts};});
var out=document.createElement('pre');out.id='probe';out.textContent=JSON.stringify({scroll:
document.documentElement.scrollWidth,inner:innerWidth,nodes:nodes,edges:edges});document.body.appendChild(out);},50);});
</script>"""


def chromium(args: list[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    need(browser is not None, "chromium (Debian's package)")
    assert browser is not None
    command: list[Any] = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp / 'profile'}",
        "--window-size=1400,1000",
        *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def probe(page: Path, tmp: Path, query: str = "", script: str = PROBE) -> dict[str, Any]:
    probed = page.with_name(page.stem + "-probe.html")
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", script + "</body>"), encoding="utf-8")
    dom = chromium(["--virtual-time-budget=5000", "--dump-dom", probed.as_uri() + query], tmp).stdout
    text = dom.split('<pre id="probe">', 1)[1].split("</pre>", 1)[0]
    return dict(json.loads(text.replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")))


class Tree(HTMLParser):
    """Each post element's enclosing post, and each claim element's enclosing post."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, str | None]] = []
        self.post_parent: dict[str, str | None] = {}
        self.claim_post: dict[str, str | None] = {}

    def _innermost_post(self) -> str | None:
        return next((ident for tag, ident in reversed(self.stack) if tag == "details" and ident), None)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        ident = values.get("id") or ""
        if tag == "details":
            self.post_parent[ident.removeprefix("post-")] = self._innermost_post()
            self.stack.append((tag, ident.removeprefix("post-")))
        elif tag == "li" and "claim" in (values.get("class") or ""):
            self.claim_post[ident] = self._innermost_post()
        if tag in ("details", "li", "ul") and tag != "details":
            self.stack.append((tag, None))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("details", "li", "ul"):
            while self.stack:
                if self.stack.pop()[0] == tag:
                    break


def ancestors(brief: dict[str, Any], post_id: str) -> list[str]:
    parents = {p["id"]: p["parent_id"] for p in brief["posts"]}
    chain, current = [], parents.get(post_id)
    while current is not None and current not in chain:
        chain.append(current)
        current = parents.get(current)
    return chain


def inside(point: list[float], node: dict[str, Any]) -> bool:
    return bool(
        node["x"] + 1 < point[0] < node["x"] + node["w"] - 1 and node["y"] + 1 < point[1] < node["y"] + node["h"] - 1
    )


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict[str, Any], Path]]:
    tmp = tmp_path_factory.mktemp("report-browser")
    runner = CliRunner()
    assert runner.invoke(cli, ["import", str(REAL_THREAD), "-o", str(tmp / "in")]).exit_code == 0
    run = runner.invoke(cli, ["run", str(tmp / "in"), "-o", str(tmp / "out"), "-q"], env={"OPENAI_API_KEY": ""})
    assert run.exit_code in (0, 1), run.stderr
    assert runner.invoke(cli, ["report", str(tmp / "out")]).exit_code == 0
    real_brief = json.loads(next((tmp / "out").glob("*/brief.json")).read_text())
    generated = synthetic_brief(2000)
    generated_page = tmp / "synthetic-2000.html"
    generated_page.write_text(thread_page(generated), encoding="utf-8")  # type: ignore[arg-type]
    return {
        "reddit-222": (real_brief, next((tmp / "out" / "report" / "threads").glob("*.html"))),
        "generated-2000": (generated, generated_page),
    }


@pytest.mark.parametrize("name", ["reddit-222", "generated-2000"])
def test_the_page_reads_as_a_thread_and_a_map(name: str, pages: dict[str, Any], tmp_path: Path) -> None:
    brief, page = pages[name]
    assert len(brief["posts"]) >= 130 and brief["relations"]
    tree = Tree()
    tree.feed(page.read_text(encoding="utf-8"))
    # Every post sits inside its parent's element (or, past the nesting cap, inside one of its ancestors').
    assert set(tree.post_parent) == {p["id"] for p in brief["posts"]}
    for post in brief["posts"]:
        holder = tree.post_parent[post["id"]]
        assert holder == post["parent_id"] or holder in ancestors(brief, post["id"]), post["id"]
    # Every claim is reachable from the tree: its element is inside its own post's element.
    assert tree.claim_post == {c["id"]: c["post_id"] for c in brief["claims"]}

    geometry = probe(page, tmp_path)
    assert geometry["scroll"] <= geometry["inner"] == 1400  # no horizontal scroll at 1,400 px
    nodes = geometry["nodes"]
    assert len(nodes) >= 5 and all(n["shown"] for n in nodes)
    for i, a in enumerate(nodes):
        for b in nodes[i + 1 :]:
            apart = a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"] or a["y"] + a["h"] <= b["y"]
            assert apart or b["y"] + b["h"] <= a["y"], (a["id"], b["id"])
    for edge in geometry["edges"]:
        for node in nodes:
            if node["id"] not in (edge["source"], edge["target"]):
                assert not any(inside(p, node) for p in edge["points"]), (edge["source"], edge["target"], node["id"])
    shots = Path(os.environ.get("THREADBRIEF_SCREENSHOTS", tmp_path / SCREENSHOTS))
    shots.mkdir(parents=True, exist_ok=True)
    chromium([f"--screenshot={shots / (name + '.png')}", page.as_uri()], tmp_path)
    assert (shots / f"{name}.png").stat().st_size > 10_000


@pytest.mark.parametrize("name", ["reddit-222", "generated-2000"])
def test_the_map_filters_change_what_is_shown(name: str, pages: dict[str, Any], tmp_path: Path) -> None:
    _, page = pages[name]
    everything = probe(page, tmp_path)
    shown = {n["id"] for n in everything["nodes"] if n["shown"]}
    edges = everything["edges"]
    focus = max(shown, key=lambda c: sum(c in (e["source"], e["target"]) for e in edges))
    near = (
        {focus}
        | {e["source"] for e in edges if e["target"] == focus}
        | {e["target"] for e in edges if e["source"] == focus}
    )
    focused = probe(page, tmp_path, f"?focus={focus}")
    assert {n["id"] for n in focused["nodes"] if n["shown"]} == near < shown
    no_rebuttals = probe(page, tmp_path, "?hide=rebuts")
    assert not any(e["shown"] for e in no_rebuttals["edges"] if e["type"] == "rebuts")
    hidden = [e for e, before in zip(no_rebuttals["edges"], edges, strict=True) if before["shown"] and not e["shown"]]
    assert hidden and {n["id"] for n in no_rebuttals["nodes"] if n["shown"]} < shown


def test_long_edges_go_around_boxes_they_do_not_connect() -> None:
    """Rebuttals across several layers (a late reply rebutting the opening claim), where a straight line would
    cut through the boxes between: checked on the SVG's own coordinates, without a browser."""
    rng = random.Random(5)
    claims = [
        {"id": f"C{n}", "post_id": f"p{n}", "speaker": f"u{n % 7}", "text": "t", "quote": "q"} for n in range(1, 41)
    ]
    relations = [
        {"source": f"C{n}", "target": f"C{rng.randint(max(1, n - 4), n - 1)}", "type": "rebuts"} for n in range(2, 41)
    ]
    relations += [
        {"source": f"C{n}", "target": f"C{rng.randint(1, n // 3)}", "type": "rebuts"} for n in range(12, 41, 3)
    ]
    rels = Relations({"claims": claims, "relations": relations})  # type: ignore[typeddict-item]
    svg, _, _ = map_svg(rels, debate_core(rels, 80), set())
    boxes = {
        m[0]: tuple(float(v) for v in m[1:])
        for m in re.findall(r'data-id="(C\d+)"[^>]*><rect x="([\d.]+)" y="([\d.]+)" width="(\d+)" height="(\d+)"', svg)
    }
    assert len(boxes) == 40
    for source, target, d in re.findall(r'data-source="(C\d+)" data-target="(C\d+)"><path d="([^"]+)"', svg):
        points = [tuple(float(v) for v in p.split(",")) for p in d[1:].split(" L")]
        for (x1, y1), (x2, y2) in zip(points, points[1:], strict=False):
            for step in range(21):
                point = [x1 + (x2 - x1) * step / 20, y1 + (y2 - y1) * step / 20]
                for cid, (x, y, w, h) in boxes.items():
                    if cid not in (source, target):
                        assert not inside(point, {"x": x, "y": y, "w": w, "h": h}), (source, target, cid)


# Appended to a copy of the index: the rows (title, posts, shown) as loaded, after one and two clicks on the
# posts header, after a click on the thread header, and after typing WORD in the search box; the page's text.
INDEX_PROBE = """<script>addEventListener('load',function(){setTimeout(function(){
var rows=function(){return [].map.call(document.querySelectorAll('#threads tbody tr'),function(r){
return {title:r.cells[0].textContent,posts:+r.cells[2].textContent,shown:r.getClientRects().length>0};});};
var th=function(n){return [].filter.call(document.querySelectorAll('#threads th'),function(h){
return h.textContent===n;})[0];};var out={loaded:rows()};
th('posts').click();out.posts_up=rows();th('posts').click();out.posts_down=rows();
th('thread').click();out.titles=rows();
var s=document.getElementById('search');s.value='WORD';s.dispatchEvent(new Event('input'));out.searched=rows();
out.text=document.body.innerText;
var pre=document.createElement('pre');pre.id='probe';pre.textContent=JSON.stringify(out);
document.body.appendChild(pre);},50);});</script>"""


def test_the_index_sorts_searches_claims_and_lists_failed_inputs(tmp_path: Path) -> None:
    """Five seed threads and one input file that is not JSON, run and reported; the index as Chromium runs it."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    for seed in sorted((ROOT / "seeds").glob("*.txt")):
        shutil.copy(seed, inputs / seed.name)
    (inputs / "broken.json").write_text('{"title": "cut off', encoding="utf-8")
    runner = CliRunner()
    run = runner.invoke(cli, ["run", str(inputs), "-o", str(tmp_path / "out"), "-q"], env={"OPENAI_API_KEY": ""})
    assert run.exit_code == 1, run.stderr  # the broken file is an input error
    assert runner.invoke(cli, ["report", str(tmp_path / "out")]).exit_code == 0
    failed = json.loads((tmp_path / "out" / "run.json").read_text())["input_errors"]
    assert [Path(e["input"]).name for e in failed] == ["broken.json"]
    briefs = [json.loads(p.read_text()) for p in sorted((tmp_path / "out").glob("*/brief.json"))]
    assert len(briefs) == 5

    # A word in the claims of exactly one thread, and in no title: searching it leaves that thread alone.
    def words(text: str) -> set[str]:
        return set(re.findall(r"[a-z]{6,}", text.lower()))

    claim_words = [set().union(*(words(c["text"]) for c in b["claims"])) for b in briefs]
    titles = set().union(*(words(b["thread"]["title"] or b["thread"]["id"]) for b in briefs))
    only = sorted(
        (w, n) for n, ws in enumerate(claim_words) for w in ws - titles if sum(w in other for other in claim_words) == 1
    )
    assert only
    word, owner = only[0]
    index = tmp_path / "out" / "report" / "index.html"
    found = probe(index, tmp_path, script=INDEX_PROBE.replace("WORD", word))

    posts_by_title = {b["thread"]["title"] or b["thread"]["id"]: len(b["posts"]) for b in briefs}
    assert {r["title"]: r["posts"] for r in found["loaded"]} == posts_by_title
    up, down = [r["posts"] for r in found["posts_up"]], [r["posts"] for r in found["posts_down"]]
    assert up == sorted(posts_by_title.values()) and down == sorted(up, reverse=True) and up != down
    assert [r["title"] for r in found["posts_up"]] != [r["title"] for r in found["posts_down"]]
    assert [r["title"].lower() for r in found["titles"]] == sorted(t.lower() for t in posts_by_title)
    assert all(r["shown"] for r in found["titles"])
    owner_title = briefs[owner]["thread"]["title"] or briefs[owner]["thread"]["id"]
    assert [r["title"] for r in found["searched"] if r["shown"]] == [owner_title], word
    # The failed input is listed with the reason run.json gives.
    assert "Input files that failed" in found["text"]
    assert f"{failed[0]['input']}: {failed[0]['reason']}" in found["text"]
