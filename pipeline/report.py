"""Report: briefs in OUT → a static, self-contained HTML site (opens from file://, fetches nothing).

Input: the briefs of an output directory, one at a time, and its run.json. Output: ``index.html`` (every
thread with its status, posts, speakers, claims and rebuttals, sortable, searchable across claims, and the
input files that failed with their errors) and ``threads/<id>.html`` per thread: "at a glance" (what is
debated, the main positions and who holds them, the key exchanges by name, capped), the debate map (the core's
rebuttal chains laid out by ``debate_map``, with filters by relation type and speaker and a focus on one
claim, a few lines of inline script), and the thread as a reply tree (``report_tree``) with each claim
highlighted in its post. Memory does not grow with the run: briefs are read one at a time, each thread's page
is written before the next is read, and the index's rows (one line of HTML each, from a small ``ThreadRow``)
go to a temporary file that index.html is then streamed from; run.json's input errors are read from it as a
stream. A page stays under ``PAGE_BYTES`` (5 MB) whatever the thread's length: the reply tree is measured as
it is written and stops where the page would pass it, and the page says where the rest is (brief.json,
claims.jsonl).
Failure modes: ``InputError`` for an unreadable brief; a missing or unreadable run.json lists no failed input.
"""

from __future__ import annotations

import html
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypedDict

import ijson

from .brief_types import Brief
from .debate import Core, Relations, debate_core, key_exchanges, positions, speaker_count
from .debate_map import EDGE_COLOURS, map_svg
from .report_tree import post_tree
from .text import as_sentence

# The map lays out at most this many claims (the largest rebuttal chains); each is a readable 176 px box.
SVG_MAP_MAX_CLAIMS = 80
POSITIONS, EXCHANGES, REBUTTALS_EACH, REPLIES_EACH = 3, 5, 2, 1
SUMMARY_WORDS = 24
PAGE_BYTES = 5_000_000  # a thread page's UTF-8 bytes at most: the reply tree gets what the rest leaves
INDEX_SEARCH_CHARS = 20_000  # claim text per thread the index searches
STYLE = """
body{font:15px/1.5 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
a{color:#1a5fb4}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3em .5em;
text-align:left}th[data-sort]{cursor:pointer}.status-complete{color:#1e8449}.status-partial{color:#b9770e}
.status-failed{color:#c0392b}.glance li{margin:.2em 0}.map{overflow-x:auto;border:1px solid #eee}
.debate-map rect{fill:#fff;stroke:#888}.debate-map .node:target rect{fill:#fff6d5}
.debate-map text{font:12px system-ui,sans-serif;fill:#222}.off{display:none}
.post{margin:.4em 0 .4em 1.1em;padding:.2em .5em;border-left:2px solid #ddd}.post.flat{margin-left:0}
details.post>summary{cursor:pointer;color:#444}.text{white-space:pre-wrap;overflow-wrap:anywhere}
blockquote.quoted{margin:.2em 0;padding-left:.6em;border-left:3px solid #ccc;color:#666}
.claims{margin:.2em 0;padding-left:1.2em;font-size:.92em}.claim:target{background:#fff6d5}.rel{color:#555}
mark{background:#fff3b0}mark:target{background:#ffd54f}.dup{color:#888}.note{color:#555;font-style:italic}
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


# The map's filters: relation types, a speaker, one claim's neighbourhood. Read from the form and, on load,
# from the page's query (?hide=supports,agrees&speaker=alice&focus=C3), so a filtered view can be linked.
MAP_SCRIPT = """(function(){var f=document.getElementById('map-filters');if(!f)return;
var q=new URLSearchParams(location.search);
var sel=f.elements.namedItem('speaker'),foc=f.elements.namedItem('around');
(q.get('hide')||'').split(',').forEach(function(t){var c=f.querySelector('input[value="'+t+'"]');
if(c)c.checked=false;});if(q.get('speaker'))sel.value=q.get('speaker');if(q.get('focus'))foc.value=q.get('focus');
function apply(){var types={},keep={},who={},shown=0,sp=sel.value,fo=foc.value;
f.querySelectorAll('input[name=type]').forEach(function(c){types[c.value]=c.checked;});
var nodes=document.querySelectorAll('.debate-map .node');
nodes.forEach(function(n){who[n.dataset.id]=n.dataset.speaker;});
document.querySelectorAll('.debate-map .edge').forEach(function(e){var s=e.dataset.source,t=e.dataset.target,
on=types[e.dataset.type]&&(!sp||who[s]===sp||who[t]===sp)&&(!fo||s===fo||t===fo);
e.classList.toggle('off',!on);if(on){keep[s]=1;keep[t]=1;}});
nodes.forEach(function(n){var on=!!keep[n.dataset.id]||n.dataset.id===fo;n.classList.toggle('off',!on);if(on)shown++;});
document.getElementById('map-count').textContent=shown+' of '+nodes.length+' claims shown';}
f.addEventListener('change',apply);apply();})();"""
# The index: sort by a column (click its header), filter rows by words in their title or claims.
INDEX_SCRIPT = """(function(){var t=document.getElementById('threads'),s=document.getElementById('search');
s.addEventListener('input',function(){var words=s.value.toLowerCase().split(/\\s+/).filter(Boolean);
t.querySelectorAll('tbody tr').forEach(function(r){var h=r.dataset.search;
r.classList.toggle('off',!words.every(function(w){return h.indexOf(w)>=0;}));});});
t.querySelectorAll('th[data-sort]').forEach(function(th,i){th.addEventListener('click',function(){
var body=t.tBodies[0],rows=Array.from(body.rows),num=th.dataset.sort==='num',dir=th.dataset.dir==='asc'?-1:1;
th.dataset.dir=dir===1?'asc':'desc';rows.sort(function(a,b){var x=a.cells[i].dataset.v,y=b.cells[i].dataset.v;
return dir*(num?(+x)-(+y):x.localeCompare(y));});rows.forEach(function(r){body.appendChild(r);});});});})();"""


def _short(text: str, words: int = SUMMARY_WORDS) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + (" …" if len(parts) > words else "")


def _ref(rels: Relations, cid: str, shown: set[str]) -> str:
    label = f"{_e(cid)} ({_e(rels.speaker(cid))})"
    return f'<a href="#{_e(cid)}">{label}</a>' if cid in shown else label


def _glance(brief: Brief, rels: Relations, core: Core, shown: set[str]) -> list[str]:
    """What is debated, the main positions and who holds them, the key exchanges: capped, one line each."""
    title = brief["thread"]["title"] or brief["thread"]["id"]
    body = [
        '<section class="glance"><h2>At a glance</h2>',
        f"<p><b>Debated:</b> {_e(as_sentence(title))} "
        f"{_e(brief['summary'] or 'No overview (the summary stage failed).')}</p>",
    ]
    found = positions(rels, core.components, POSITIONS)
    if found:
        body.append("<h3>Main positions</h3><ul>")
        for pos in found:
            body.append(
                f"<li>{_ref(rels, pos.root, shown)}: “{_e(_short(rels.claims[pos.root]['text']))}” — held by "
                f"{_e(', '.join(pos.holders[:5]))}; opposed by {_e(', '.join(pos.opponents[:5]) or 'no one')} "
                f"({pos.rebuttals} rebuttals)</li>"
            )
        body.append("</ul>")
    exchanges = key_exchanges(rels, EXCHANGES, REBUTTALS_EACH, REPLIES_EACH)
    if exchanges:
        body.append("<h3>Key exchanges</h3><ul>")
        for ex in exchanges:
            lines = [
                f"<li>{_ref(rels, ex.claim, shown)}: “{_e(_short(rels.claims[ex.claim]['text']))}” "
                f"(rebutted {ex.total_rebuttals}×)<ul>"
            ]
            for rebuttal, replies in ex.rebuttals:
                lines.append(f"<li>{_ref(rels, rebuttal, shown)} rebuts: “{_e(_short(rels.claims[rebuttal]['text']))}”")
                lines += [
                    f"<ul><li>{_ref(rels, r, shown)} replies: “{_e(_short(rels.claims[r]['text']))}”</li></ul>"
                    for r in replies
                ]
                lines.append("</li>")
            body.append("".join(lines) + "</ul></li>")
        body.append("</ul>")
    elif brief["claims"]:
        body.append("<p>No claim is rebutted in this thread.</p>")
    return body + ["</section>"]


def _map_section(rels: Relations, core: Core, shown: set[str]) -> list[str]:
    svg, _, _ = map_svg(rels, core, shown)
    if not svg:
        return []
    kinds = sorted({r["type"] for cid in core.claim_ids for r in rels.out_of.get(cid, [])})
    speakers = sorted({rels.speaker(cid) for cid in core.claim_ids})
    checks = "".join(
        f'<label style="color:{EDGE_COLOURS[k]}"><input type="checkbox" name="type" value="{k}" checked> {k}</label> '
        for k in kinds
    )
    return [
        "<h2>Debate map</h2>",
        f'<p class="note">Arrows point from a claim to the claim it answers. Shown: '
        f"{_e(core.left_out_note(len(rels.claims)))}. Every claim is in the thread below.</p>",
        f'<form id="map-filters">{checks}<label>speaker <select name="speaker"><option value="">all</option>'
        + "".join(f'<option value="{_e(s)}">{_e(s)}</option>' for s in speakers)
        + '</select></label> <label>focus <select name="around"><option value="">none</option>'
        + "".join(f'<option value="{_e(c)}">{_e(c)}</option>' for c in core.claim_ids)
        + '</select></label> <span id="map-count"></span></form>',
        f'<div class="map">{svg}</div>',
        f"<script>{MAP_SCRIPT}</script>",
    ]


def thread_page(brief: Brief) -> str:
    thread = brief["thread"]
    title = thread["title"] or thread["id"]
    rels = Relations(brief)
    core = debate_core(rels, SVG_MAP_MAX_CLAIMS)

    def around(tree: str, shown: set[str], left_out: int) -> str:
        body = [
            '<p><a href="../index.html">All threads</a></p>',
            f"<h1>{_e(title)}</h1>",
            f'<p class="status-{_e(brief["status"])}">Status: {_e(brief["status"])} · {len(brief["posts"])} posts, '
            f"{speaker_count(brief)} speakers, {len(rels.claims)} claims, "
            f"{len(brief['relations'])} relations</p>",
            *_glance(brief, rels, core, shown),
            *_map_section(rels, core, shown),
        ]
        if brief["failures"]:
            body += [
                "<h2>Failures</h2>",
                "<ul>",
                *(f"<li>{_e(f['stage'])}: {_e(f['reason'])}</li>" for f in brief["failures"]),
                "</ul>",
            ]
        body += ["<h2>Thread</h2>", tree]
        if left_out:
            body.append(
                f'<p class="note">{left_out} more posts (and their claims) are not on this page, to keep it small: '
                "the full thread is in this thread's brief.json, and every claim in OUT/claims.jsonl.</p>"
            )
        return _page(title, body)

    # The page around the tree, at its largest (every claim linked, the note with the largest count), is what
    # the tree cannot use; links to claims left off the page become plain text, never longer.
    rest = len(around("", set(rels.claims), len(brief["posts"])).encode("utf-8"))
    tree, shown, left_out = post_tree(brief, rels, PAGE_BYTES - rest)
    return around(tree, shown, left_out)


class ThreadRow(TypedDict):
    """What the index shows of one thread: small, so the index never holds the briefs themselves."""

    id: str
    title: str
    status: str
    posts: int
    speakers: int
    claims: int
    rebuttals: int
    failures: int
    search: str  # the title and claim texts, lower-cased, capped at INDEX_SEARCH_CHARS


def thread_row(brief: Brief) -> ThreadRow:
    thread = brief["thread"]
    title = thread["title"] or thread["id"]
    search = " ".join([title, *(c["text"] for c in brief["claims"])]).lower()
    return {
        "id": thread["id"],
        "title": title,
        "status": brief["status"],
        "posts": len(brief["posts"]),
        "speakers": speaker_count(brief),
        "claims": len(brief["claims"]),
        "rebuttals": sum(1 for r in brief["relations"] if r["type"] == "rebuts"),
        "failures": len(brief["failures"]),
        "search": " ".join(search.split())[:INDEX_SEARCH_CHARS],
    }


_INDEX_NUMBERS = ("posts", "speakers", "claims", "rebuttals", "failures")


def index_row(row: ThreadRow) -> str:
    """A thread's line in the index: one line of HTML (its texts are escaped, so it holds no newline)."""
    cells = "".join(f'<td data-v="{row[n]}">{row[n]}</td>' for n in _INDEX_NUMBERS)  # type: ignore[literal-required]
    return (
        f'<tr data-search="{_e(row["search"])}"><td data-v="{_e(row["title"].lower())}">'
        f'<a href="threads/{_e(row["id"])}.html">{_e(row["title"])}</a></td>'
        f'<td data-v="{_e(row["status"])}" class="status-{_e(row["status"])}">{_e(row["status"])}</td>{cells}</tr>'
    )


_ROWS = "\0rows\0"  # where the index's rows go in its page


def _index_parts(
    count: int, input_errors: list[dict[str, Any]], stopped: dict[str, Any] | None = None
) -> tuple[str, str]:
    """The index page around its rows; ``stopped``: run.json's account of a run stopped part-way."""
    head = '<th data-sort="text">thread</th><th data-sort="text">status</th>' + "".join(
        f'<th data-sort="num">{n}</th>' for n in _INDEX_NUMBERS
    )
    body = ["<h1>threadbrief report</h1>"]
    if stopped:
        body.append(
            f'<p class="status-failed"><strong>This run stopped part-way</strong>: {_e(stopped.get("reason"))}. '
            f"{_e(stopped.get('threads_not_run'))} thread(s) of its input did not run and are not here; "
            "run it again to brief them.</p>"
        )
    body += [
        f"<p>{count} thread(s). Click a column to sort; search matches the titles and the claims' text.</p>",
        '<p><input id="search" type="search" placeholder="search claims" size="40"></p>',
        f'<table id="threads"><thead><tr>{head}</tr></thead><tbody>',
        _ROWS,
        "</tbody></table>",
    ]
    if input_errors:
        body += ["<h2>Input files that failed</h2>", "<ul>"]
        body += [
            f"<li><code>{_e(e.get('input'))}</code>{' line ' + _e(e['line']) if e.get('line') else ''}: "
            f"{_e(e.get('reason'))}</li>"
            for e in input_errors
        ]
        body.append("</ul>")
    body.append(f"<script>{INDEX_SCRIPT}</script>")
    before, after = _page("threadbrief report", body).split(_ROWS + "\n")
    return before, after


def index_page(rows: list[ThreadRow], input_errors: list[dict[str, Any]], stopped: dict[str, Any] | None = None) -> str:
    """The whole index page of ``rows`` (for a small site; ``write_report`` streams it)."""
    before, after = _index_parts(len(rows), input_errors, stopped)
    return before + "".join(index_row(row) + "\n" for row in rows) + after


def _input_errors(out: Path) -> list[dict[str, Any]]:
    """run.json's input errors, read as a stream (the file can hold 100,000 thread entries)."""
    try:
        with (out / "run.json").open("rb") as handle:
            return [e for e in ijson.items(handle, "input_errors.item") if isinstance(e, dict)]
    except (OSError, ijson.JSONError, ValueError):
        return []


def write_report(out: Path, site: Path, briefs: Iterable[Brief], stopped: dict[str, Any] | None) -> int:
    """Write the site of ``briefs`` (OUT's, as ``export.RunBriefs`` gives them; ``stopped``: its run.json's, for
    the index's banner), one brief at a time; returns the number of thread pages written."""
    (site / "threads").mkdir(parents=True, exist_ok=True)
    count = 0
    with tempfile.TemporaryFile("w+", encoding="utf-8", dir=site) as rows:
        for brief in briefs:
            page = site / "threads" / f"{brief['thread']['id']}.html"
            page.write_text(thread_page(brief), encoding="utf-8")
            rows.write(index_row(thread_row(brief)) + "\n")
            count += 1
        rows.seek(0)
        before, after = _index_parts(count, _input_errors(out), stopped)
        with (site / "index.html").open("w", encoding="utf-8") as index:
            index.write(before)
            shutil.copyfileobj(rows, index)
            index.write(after)
    return count
