"""Report: briefs in OUT → a static, self-contained HTML site (no script, no network; opens from file://).

Input: the briefs of an output directory. Output: ``index.html`` (every thread with its status, claim and
rebuttal counts) and ``threads/<id>.html`` per thread: the overview, the argument map as an SVG drawn
here (claims in columns by speaker, typed arrows, each node a link), claims by speaker with the claims
they answer and the ones answering them (the rebuttal chain, navigable), and every post's full text with
each quote highlighted where it stands. Memory does not grow with the run: briefs are read one at a time,
each thread's page written before the next is read, and the index's rows (one line each) go to a temporary
file that index.html is then streamed from. Failure modes: ``InputError`` for an unreadable brief.
"""

from __future__ import annotations

import html
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from .brief_types import Brief, BriefClaim, BriefRelation
from .export import briefs_in
from .models import RelationType

EDGE_COLOURS: dict[RelationType, str] = {
    "rebuts": "#c0392b",
    "supports": "#2e86c1",
    "agrees": "#27ae60",
    "qualifies": "#b9770e",
}
# The SVG map is drawn here at full size (fixed node width, the page scrolls), so it holds more claims than
# brief.md's Mermaid map (render.MERMAID_MAP_MAX_CLAIMS), which is scaled down to fit the page; this cap only
# keeps a huge thread's page to a few screens.
SVG_MAP_MAX_CLAIMS = 60
NODE_WIDTH, NODE_HEIGHT, COLUMN_GAP, ROW_GAP = 220, 34, 60, 14
STYLE = """
body{font:15px/1.5 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
a{color:#1a5fb4}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3em .5em;
text-align:left}.status-complete{color:#1e8449}.status-partial{color:#b9770e}.status-failed{color:#c0392b}
.claim{margin:.6em 0;padding:.4em .6em;border-left:3px solid #aaa;background:#fafafa}.claim:target{background:#fff6d5}
blockquote{margin:.3em 0;color:#444}.post{margin:1em 0;padding:.6em;border:1px solid #eee;white-space:pre-wrap}
mark{background:#fff3b0}mark:target{background:#ffd54f}.dup{color:#888}.rel{font-size:.9em;color:#555}
svg text{font:12px system-ui,sans-serif}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _page(title: str, body: list[str]) -> str:
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f"<title>{_e(title)}</title>",
            f"<style>{STYLE}</style>",
            "</head>",
            "<body>",
            *body,
            "</body>",
            "</html>",
            "",
        ]
    )


def _speaker(claim: BriefClaim) -> str:
    return claim["speaker"] or "Unattributed"


def argument_svg(brief: Brief) -> str:
    """Claims that take part in a relation, one column per speaker, arrows coloured by relation type."""
    degree: dict[str, int] = {}
    for rel in brief["relations"]:
        for end in (rel["source"], rel["target"]):
            degree[end] = degree.get(end, 0) + 1
    kept = set(sorted(degree, key=lambda cid: (-degree[cid], int(cid[1:])))[:SVG_MAP_MAX_CLAIMS])
    claims = [c for c in brief["claims"] if c["id"] in kept]
    if not claims:
        return ""
    columns: dict[str, int] = {}
    rows: dict[str, int] = {}
    place: dict[str, tuple[int, int]] = {}
    for claim in claims:
        column = columns.setdefault(_speaker(claim), len(columns))
        row = rows.get(_speaker(claim), 0)
        rows[_speaker(claim)] = row + 1
        place[claim["id"]] = (column * (NODE_WIDTH + COLUMN_GAP) + 10, row * (NODE_HEIGHT + ROW_GAP) + 40)
    width = len(columns) * (NODE_WIDTH + COLUMN_GAP) + 20
    height = max(rows.values()) * (NODE_HEIGHT + ROW_GAP) + 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="argument map">',
        "<defs>",
    ]
    for kind, colour in EDGE_COLOURS.items():
        parts.append(
            f'<marker id="arrow-{kind}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
            f'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
        )
    parts.append("</defs>")
    for speaker, column in columns.items():
        parts.append(
            f'<text x="{column * (NODE_WIDTH + COLUMN_GAP) + 10}" y="22" font-weight="bold">{_e(speaker)}</text>'
        )
    for rel in brief["relations"]:
        if rel["source"] in place and rel["target"] in place:
            (x1, y1), (x2, y2) = place[rel["source"]], place[rel["target"]]
            sx, tx = (x1, x2 + NODE_WIDTH) if x1 > x2 else (x1 + NODE_WIDTH, x2) if x1 < x2 else (x1, x2)
            parts.append(
                f'<line x1="{sx}" y1="{y1 + NODE_HEIGHT // 2}" x2="{tx}" y2="{y2 + NODE_HEIGHT // 2}" '
                f'stroke="{EDGE_COLOURS[rel["type"]]}" stroke-width="1.5" '
                f'marker-end="url(#arrow-{rel["type"]})"><title>{_e(rel["source"])} {_e(rel["type"])} '
                f"{_e(rel['target'])}</title></line>"
            )
    for claim in claims:
        x, y = place[claim["id"]]
        label = claim["text"] if len(claim["text"]) <= 26 else claim["text"][:25] + "…"
        parts.append(
            f'<a href="#{_e(claim["id"])}"><rect x="{x}" y="{y}" width="{NODE_WIDTH}" height="{NODE_HEIGHT}" '
            f'rx="5" fill="#fff" stroke="#888"/><text x="{x + 6}" y="{y + 21}">{_e(claim["id"])}: '
            f"{_e(label)}</text><title>{_e(claim['quote'])}</title></a>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _highlighted(text: str, marks: list[tuple[int, int, str]], marked: set[str]) -> str:
    """The post text with each claim's span in a <mark id="q-C…">; where spans overlap the earlier wins,
    and only the claims added to ``marked`` got a mark of their own."""
    out: list[str] = []
    cursor = 0
    for start, end, claim_id in sorted(marks):
        if start < cursor:
            continue
        out += [_e(text[cursor:start]), f'<mark id="q-{_e(claim_id)}">{_e(text[start:end])}</mark>']
        marked.add(claim_id)
        cursor = end
    out.append(_e(text[cursor:]))
    return "".join(out)


def thread_page(brief: Brief) -> str:
    thread = brief["thread"]
    title = thread["title"] or thread["id"]
    claims = {c["id"]: c for c in brief["claims"]}
    answers: dict[str, list[BriefRelation]] = {}
    answered_by: dict[str, list[BriefRelation]] = {}
    for rel in brief["relations"]:
        answers.setdefault(rel["source"], []).append(rel)
        answered_by.setdefault(rel["target"], []).append(rel)
    body = [
        '<p><a href="../index.html">All threads</a></p>',
        f"<h1>{_e(title)}</h1>",
        f'<p class="status-{_e(brief["status"])}">Status: {_e(brief["status"])} · {len(brief["posts"])} posts, '
        f"{len(claims)} claims, {len(brief['relations'])} relations</p>",
        "<h2>Overview</h2>",
        f"<p>{_e(brief['summary'] or 'No overview (the summary stage failed).')}</p>",
    ]
    svg = argument_svg(brief)
    if svg:
        body += ["<h2>Argument map</h2>", svg]
    # The posts are drawn first so a claim links to its own mark, or to its post when a longer overlapping
    # quote took the place.
    marks: dict[str, list[tuple[int, int, str]]] = {}
    for claim in brief["claims"]:
        marks.setdefault(claim["post_id"], []).append((claim["span"][0], claim["span"][1], claim["id"]))
    marked: set[str] = set()
    posts_html: list[str] = []
    for post in brief["posts"]:
        who = _e(post["author"] or "unattributed")
        if post["duplicate_of"]:
            posts_html.append(
                f'<p class="dup" id="post-{_e(post["id"])}">{_e(post["id"])} ({who}) repeats '
                f'<a href="#post-{_e(post["duplicate_of"])}">{_e(post["duplicate_of"])}</a></p>'
            )
            continue
        posts_html.append(
            f'<div class="post" id="post-{_e(post["id"])}"><b>{_e(post["id"])}</b> · {who}\n'
            f"{_highlighted(post['text'], marks.get(post['id'], []), marked)}</div>"
        )
    body.append("<h2>Claims by speaker</h2>")
    speakers: dict[str, list[BriefClaim]] = {}
    for claim in brief["claims"]:
        speakers.setdefault(_speaker(claim), []).append(claim)
    for speaker, items in speakers.items():
        body.append(f"<h3>{_e(speaker)}</h3>")
        for claim in items:
            links = [
                f'{_e(r["type"])} <a href="#{_e(r["target"])}">{_e(r["target"])}</a>'
                for r in answers.get(claim["id"], [])
            ]
            links += [
                f'<a href="#{_e(r["source"])}">{_e(r["source"])}</a> {_e(r["type"])} it'
                for r in answered_by.get(claim["id"], [])
            ]
            body.append(
                f'<div class="claim" id="{_e(claim["id"])}"><b>{_e(claim["id"])}</b> ({_e(claim["kind"])}, '
                f'<a href="#{"q-" + _e(claim["id"]) if claim["id"] in marked else "post-" + _e(claim["post_id"])}">'
                f"post {_e(claim['post_id'])}</a>)"
                # The offline extractor's paraphrase is the quote itself: say it once.
                + ("" if claim["text"] == claim["quote"] else f" {_e(claim['text'])}")
                + f"<blockquote>“{_e(claim['quote'])}”</blockquote>"
                + (f'<div class="rel">{" · ".join(links)}</div>' if links else "")
                + "</div>"
            )
    if brief["failures"]:
        body += [
            "<h2>Failures</h2>",
            "<ul>",
            *(f"<li>{_e(f['stage'])}: {_e(f['reason'])}</li>" for f in brief["failures"]),
            "</ul>",
        ]
    body += ["<h2>Posts</h2>", *posts_html]
    return _page(title, body)


def index_row(brief: Brief) -> str:
    """A thread's line in the index: one line of HTML (its texts are escaped, so it holds no newline)."""
    thread = brief["thread"]
    rebuttals = sum(1 for r in brief["relations"] if r["type"] == "rebuts")
    return (
        f'<tr><td><a href="threads/{_e(thread["id"])}.html">{_e(thread["title"] or thread["id"])}</a></td>'
        f'<td class="status-{_e(brief["status"])}">{_e(brief["status"])}</td><td>{len(brief["claims"])}</td>'
        f"<td>{rebuttals}</td><td>{len(brief['failures'])}</td></tr>"
    )


_ROWS = "\0rows\0"  # where the index's rows go in its page


def _index_parts(count: int) -> tuple[str, str]:
    """The index page around its rows."""
    page = _page(
        "threadbrief report",
        [
            "<h1>threadbrief report</h1>",
            f"<p>{count} thread(s)</p>",
            "<table><tr><th>thread</th><th>status</th><th>claims</th><th>rebuttals</th><th>failures</th></tr>",
            _ROWS,
            "</table>",
        ],
    )
    before, after = page.split(_ROWS + "\n")
    return before, after


def index_page(briefs: Iterable[Brief]) -> str:
    rows = [index_row(brief) + "\n" for brief in briefs]
    before, after = _index_parts(len(rows))
    return before + "".join(rows) + after


def write_report(out: Path, site: Path) -> int:
    """Write the site; returns the number of thread pages written."""
    (site / "threads").mkdir(parents=True, exist_ok=True)
    count = 0
    with tempfile.TemporaryFile("w+", encoding="utf-8", dir=site) as rows:
        for brief in briefs_in(out):
            page = site / "threads" / f"{brief['thread']['id']}.html"
            page.write_text(thread_page(brief), encoding="utf-8")
            rows.write(index_row(brief) + "\n")
            count += 1
        rows.seek(0)
        before, after = _index_parts(count)
        with (site / "index.html").open("w", encoding="utf-8") as index:
            index.write(before)
            shutil.copyfileobj(rows, index)
            index.write(after)
    return count
