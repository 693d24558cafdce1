"""The thread as a thread on the report's page: posts nested by reply, claims highlighted where they stand.

Input: a brief and its ``debate.Relations``. Output: ``post_tree`` returns the HTML of the reply tree and the
claim ids it shows. Each post is a ``<details open class="post" id="post-<id>">`` inside its parent's element
(its author, a link up to its parent, the lines it quotes from others in a ``<blockquote class="quoted">``,
each claim's quote in a ``<mark id="q-<claim>">``) followed by its claims (``id="<claim>"``) with their
relations as links ("rebuts C3 by alice"). Indentation stops growing past ``INDENT_DEPTH`` (CSS); past
``NEST_DEPTH`` replies are placed in their deepest shown ancestor with a "reply to" link, because browsers cap
how deep HTML nests (Chromium flattens past 512 levels). Posts come in reply order until ``budget`` bytes
of UTF-8 are written (measured, not estimated); the rest are counted, not shown (the page says brief.json
holds them). Failure modes: none.
"""

from __future__ import annotations

import html

from .brief_types import Brief, BriefPost
from .debate import Relations
from .models import RelationType

PASSIVE: dict[RelationType, str] = {
    "rebuts": "rebutted by",
    "supports": "supported by",
    "agrees": "agreed with by",
    "qualifies": "qualified by",
}
NEST_DEPTH = 40
INDENT_DEPTH = 8


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _marked(text: str, marks: list[tuple[int, int, str]], offset: int, marked: set[str]) -> str:
    """``text`` (which starts at ``offset`` in its post) with each claim span inside it in a mark; where spans
    overlap the earlier wins, and a claim whose span crosses the text's ends gets none (it links to its post)."""
    out: list[str] = []
    cursor = 0
    for start, end, claim_id in sorted(marks):
        start, end = start - offset, end - offset
        if start < cursor or start < 0 or end > len(text):
            continue
        out += [_e(text[cursor:start]), f'<mark id="q-{_e(claim_id)}">{_e(text[start:end])}</mark>']
        marked.add(claim_id)
        cursor = end
    out.append(_e(text[cursor:]))
    return "".join(out)


def _body(post: BriefPost, marks: list[tuple[int, int, str]], marked: set[str]) -> str:
    """The post's text: the lines it quotes set apart, claims highlighted."""
    text, cursor, out = post["text"], 0, []
    for start, end in sorted((q[0], q[1]) for q in post["quoted"]):
        if start < cursor:
            continue
        if start > cursor:
            out.append(_marked(text[cursor:start], marks, cursor, marked))
        out.append(f'<blockquote class="quoted">{_marked(text[start:end], marks, start, marked)}</blockquote>')
        cursor = end
    out.append(_marked(text[cursor:], marks, cursor, marked))
    return f'<div class="text">{"".join(out)}</div>'


def _claim_lines(rels: Relations, post_id: str, shown: set[str], marked: set[str]) -> str:
    def ref(cid: str) -> str:
        label = f"{_e(cid)} by {_e(rels.speaker(cid))}"
        return f'<a href="#{_e(cid)}">{label}</a>' if cid in shown else label

    items = []
    for cid in rels.by_post.get(post_id, []):
        claim = rels.claims[cid]
        links = [f"{r['type']} {ref(r['target'])}" for r in rels.out_of.get(cid, [])]
        links += [f"{PASSIVE[r['type']]} {ref(r['source'])}" for r in rels.into.get(cid, [])]
        anchor = f"q-{cid}" if cid in marked else f"post-{post_id}"
        # The offline extractor's paraphrase is often the quote itself: say it once.
        paraphrase = "" if claim["text"] == claim["quote"] else f" {_e(claim['text'])}"
        items.append(
            f'<li class="claim" id="{_e(cid)}"><a href="#{_e(anchor)}"><b>{_e(cid)}</b></a> '
            f"<i>{_e(claim['kind'])}</i>{paraphrase}"
            + (f'<span class="rel"> · {" · ".join(links)}</span>' if links else "")
            + "</li>"
        )
    return f'<ul class="claims">{"".join(items)}</ul>' if items else ""


def _reply_order(brief: Brief) -> list[tuple[BriefPost, int, str | None]]:
    """Posts depth first in reply order, each with its nesting depth and, when placed away from its parent
    (past NEST_DEPTH), that parent's id."""
    ids = {p["id"] for p in brief["posts"]}
    children: dict[str | None, list[BriefPost]] = {}
    for post in brief["posts"]:
        parent = post["parent_id"] if post["parent_id"] in ids and post["parent_id"] != post["id"] else None
        children.setdefault(parent, []).append(post)
    order: list[tuple[BriefPost, int, str | None]] = []
    stack: list[tuple[BriefPost, int]] = [(p, 0) for p in reversed(children.get(None, []))]
    seen: set[str] = set()
    while stack:
        post, depth = stack.pop()
        if post["id"] in seen:
            continue
        seen.add(post["id"])
        away = post["parent_id"] if depth > NEST_DEPTH else None
        order.append((post, min(depth, NEST_DEPTH), away))
        stack += [(child, depth + 1) for child in reversed(children.get(post["id"], []))]
    # A reply cycle leaves posts no root reaches: shown at the top level rather than lost.
    order += [(p, 0, p["parent_id"]) for p in brief["posts"] if p["id"] not in seen]
    return order


class _View:
    """What every post's HTML needs: the relations and each post's claim spans."""

    def __init__(self, brief: Brief, rels: Relations) -> None:
        self.rels = rels
        self.marks: dict[str, list[tuple[int, int, str]]] = {}
        for claim in brief["claims"]:
            self.marks.setdefault(claim["post_id"], []).append((claim["span"][0], claim["span"][1], claim["id"]))


def _post_html(post: BriefPost, depth: int, away: str | None, view: _View, shown: set[str], marked: set[str]) -> str:
    """One post's opening tag, summary, text and claim lines (its ``</details>`` comes later, after its replies)."""
    who = _e(post["author"] or "unattributed")
    up = away or post["parent_id"]
    flat = " flat" if depth > INDENT_DEPTH else ""
    head = f"<summary><b>{who}</b> · {_e(post['id'])}" + (
        f' · <a href="#post-{_e(up)}">{"reply to " if away else "↑ "}{_e(up)}</a>' if up else ""
    )
    if post["duplicate_of"]:
        dup = post["duplicate_of"]
        return (
            f'<details open class="post dup{flat}" id="post-{_e(post["id"])}">{head} repeats '
            f'<a href="#post-{_e(dup)}">{_e(dup)}</a></summary>'
        )
    return (
        f'<details open class="post{flat}" id="post-{_e(post["id"])}">{head}</summary>'
        + _body(post, view.marks.get(post["id"], []), marked)
        + _claim_lines(view.rels, post["id"], shown, marked)
    )


def _render(
    order: list[tuple[BriefPost, int, str | None]], view: _View, shown: set[str], budget: int
) -> tuple[list[str], int]:
    """The tree's HTML pieces for the posts of ``order`` that fit in ``budget`` UTF-8 bytes (the closing tags
    included), and how many posts that is; at least one post is drawn."""
    out: list[str] = []
    marked: set[str] = set()
    open_depth, size, drawn = -1, 0, 0
    # Room for the </details> that close the tree at the end: at most NEST_DEPTH + 1 of them.
    closing = len("</details>") * (NEST_DEPTH + 1)
    for post, depth, away in order:
        piece = "</details>" * (open_depth - depth + 1) + _post_html(post, depth, away, view, shown, marked)
        size += len(piece.encode("utf-8"))
        if size + closing > budget and drawn:
            break
        out.append(piece)
        open_depth, drawn = depth, drawn + 1
    out.append("</details>" * (open_depth + 1))
    return out, drawn


def post_tree(brief: Brief, rels: Relations, budget: int) -> tuple[str, set[str], int]:
    """The tree's HTML (at most ``budget`` UTF-8 bytes, unless its first post alone is larger), the claims it
    shows, and how many posts the budget left out."""
    order = _reply_order(brief)
    view = _View(brief, rels)
    # First pass: which posts fit, measured as drawn with every claim linked (a link to a claim left off the
    # page becomes plain text, never longer), so the second pass, which links only to shown claims, fits too.
    _, fit = _render(order, view, set(rels.claims), budget)
    shown = {cid for post, _, _ in order[:fit] for cid in rels.by_post.get(post["id"], [])}
    out, _ = _render(order[:fit], view, shown, budget)
    return "".join(out), shown, len(order) - fit
