"""The debate map of the HTML report: the core's claims laid out by a Sugiyama layered layout, drawn as static SVG.

Input: a brief's ``Relations`` and the ``Core`` to show (``debate.debate_core``). Output: ``map_svg`` returns
one ``<svg>`` (every node an ``<a class="node">`` with a ``<rect>``, every relation a ``<g class="edge">``
with a ``<path>``, ``data-`` attributes for the page's filters) and its pixel size. Failure modes: none;
an empty core gives an empty string.

Why grandalf: it is a pure-Python Sugiyama implementation (layering, crossing reduction, coordinate
assignment), installed by pip with threadbrief, so the layout is computed once at report time and the page
fetches nothing and runs no layout code from file://. Graphviz would need a system package on every machine
that writes reports; a JavaScript engine (ELK, dagre) would put a vendored layout script in every page.

Why edges never cross a box they do not connect: each component is layered with the rebutted claim above its
rebuttals; an edge spanning several layers gets a narrow dummy vertex in each layer between (grandalf's
``ctrls``), which the coordinate assignment keeps apart from the boxes like any vertex. An edge is drawn
from its upper box's bottom through each dummy's slot (straight down) to its lower box's top, so its
segments between layers run in the empty band between them and its segments inside a layer run in a slot of
their own. Components are packed in rows, largest first, side by side while the row stays within
``ROW_WIDTH``.
"""

from __future__ import annotations

import html

from grandalf.graphs import Edge, Graph, Vertex
from grandalf.layouts import SugiyamaLayout

from .debate import Core, Relations
from .models import RelationType

EDGE_COLOURS: dict[RelationType, str] = {
    "rebuts": "#c0392b",
    "supports": "#2e86c1",
    "agrees": "#27ae60",
    "qualifies": "#b9770e",
}
NODE_WIDTH, NODE_HEIGHT = 176, 40
X_SPACE, Y_SPACE, DUMMY_WIDTH = 24, 44, 8
ROW_WIDTH, MARGIN, COMPONENT_GAP = 1040, 12, 36
LABEL_CHARS = 26


class _Box:
    """grandalf's vertex view: a size in, a centre (xy) out."""

    def __init__(self, width: float, height: float) -> None:
        self.w, self.h = width, height
        self.xy: tuple[float, float] = (0.0, 0.0)


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


Point = tuple[float, float]


def _layout(rels: Relations, members: list[str]) -> tuple[dict[str, Point], list[tuple[str, str, list[Point]]]]:
    """Node centres and one routed path per linked pair (upper claim first), origin at the top-left box corner."""
    vertices = {cid: Vertex(cid) for cid in members}
    for vertex in vertices.values():
        vertex.view = _Box(NODE_WIDTH, NODE_HEIGHT)
    pairs: dict[tuple[str, str], Edge] = {}
    for cid in members:
        for rel in rels.out_of.get(cid, []):
            target = rel["target"]
            if target in vertices and (target, cid) not in pairs and (cid, target) not in pairs and target != cid:
                pairs[(target, cid)] = Edge(vertices[target], vertices[cid])  # the answered claim above
    graph = Graph(list(vertices.values()), list(pairs.values()))
    centres: dict[str, Point] = {}
    paths: list[tuple[str, str, list[Point]]] = []
    for core in graph.C:  # one per connected part (a cut component is connected; the loop is for safety)
        layout = SugiyamaLayout(core)
        layout.xspace, layout.yspace = X_SPACE, Y_SPACE
        layout.dw, layout.dh = DUMMY_WIDTH, NODE_HEIGHT  # dummies: narrow slots, full layer height
        roots = [v for v in core.sV if len(v.e_in()) == 0] or [min(core.sV, key=lambda v: v.data)]
        layout.init_all(roots=roots)
        layout.draw(3)
        offset = max(centres_x + NODE_WIDTH / 2 for centres_x, _ in centres.values()) if centres else 0.0
        left = min(v.view.xy[0] - v.view.w / 2 for v in layout.g.sV)
        shift = offset + (X_SPACE if centres else 0) - left
        for vertex in core.sV:
            centres[vertex.data] = (vertex.view.xy[0] + shift, vertex.view.xy[1])
        for edge in core.sE:
            ends = sorted(edge.v, key=lambda v: layout.grx[v].rank)
            ctrl = layout.ctrls.get(edge, {})
            points: list[Point] = [(centres[ends[0].data][0], centres[ends[0].data][1] + NODE_HEIGHT / 2)]
            for rank in sorted(r for r, v in ctrl.items() if v not in edge.v):
                x, y = ctrl[rank].view.xy
                points += [(x + shift, y - NODE_HEIGHT / 2), (x + shift, y + NODE_HEIGHT / 2)]
            points.append((centres[ends[1].data][0], centres[ends[1].data][1] - NODE_HEIGHT / 2))
            paths.append((ends[0].data, ends[1].data, points))
    top = min(y for _, y in centres.values()) - NODE_HEIGHT / 2
    left = min(x for x, _ in centres.values()) - NODE_WIDTH / 2
    # grandalf keeps edges in sets, whose order changes from one process to the next: sorted, so the same
    # brief always gives the same SVG.
    centres = {cid: (centres[cid][0] - left, centres[cid][1] - top) for cid in members}
    paths = sorted((a, b, [(x - left, y - top) for x, y in points]) for a, b, points in paths)
    return centres, paths


def _pack(sizes: list[Point]) -> list[Point]:
    """Top-left corners for components of these sizes: rows left to right, a new row past ROW_WIDTH."""
    corners: list[Point] = []
    x = y = row_height = 0.0
    for width, height in sizes:
        if x > 0 and x + width > ROW_WIDTH:
            x, y, row_height = 0.0, y + row_height + COMPONENT_GAP, 0.0
        corners.append((x + MARGIN, y + MARGIN))
        x += width + COMPONENT_GAP
        row_height = max(row_height, height)
    return corners


def _label(rels: Relations, cid: str) -> str:
    text = " ".join(rels.claims[cid]["text"].split())
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1].rstrip() + "…"


def _node(rels: Relations, cid: str, x: float, y: float, linked: bool) -> str:
    claim = rels.claims[cid]
    speaker = rels.speaker(cid)
    who = speaker if len(speaker) <= 16 else speaker[:15] + "…"
    box = (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{NODE_WIDTH}" height="{NODE_HEIGHT}" rx="5"/>'
        f'<text x="{x + 6:.1f}" y="{y + 16:.1f}"><tspan font-weight="bold">{_e(cid)}</tspan> · {_e(who)}</text>'
        f'<text x="{x + 6:.1f}" y="{y + 32:.1f}">{_e(_label(rels, cid))}</text>'
        f"<title>{_e(cid)} ({_e(speaker)}): {_e(claim['quote'])}</title>"
    )
    attrs = f'class="node" id="map-{_e(cid)}" data-id="{_e(cid)}" data-speaker="{_e(speaker)}"'
    return f'<a {attrs} href="#{_e(cid)}">{box}</a>' if linked else f"<g {attrs}>{box}</g>"


def _edges(rels: Relations, pair: tuple[str, str], points: list[Point], dx: float, dy: float) -> list[str]:
    """Every relation between the pair, drawn on the pair's path from its source to its target."""
    upper, lower = pair
    drawn: list[str] = []
    for rel in rels.out_of.get(lower, []) + rels.out_of.get(upper, []):
        if {rel["source"], rel["target"]} != {upper, lower}:
            continue
        ordered = points if rel["source"] == upper else points[::-1]
        d = "M" + " L".join(f"{x + dx:.1f},{y + dy:.1f}" for x, y in ordered)
        kind = rel["type"]
        drawn.append(
            f'<g class="edge" data-type="{kind}" data-source="{_e(rel["source"])}" data-target="{_e(rel["target"])}">'
            f'<path d="{d}" fill="none" stroke="{EDGE_COLOURS[kind]}" stroke-width="1.5" '
            f'marker-end="url(#arrow-{kind})"/><title>{_e(rel["source"])} {kind} {_e(rel["target"])}</title></g>'
        )
    return drawn


def map_svg(rels: Relations, core: Core, on_page: set[str]) -> tuple[str, float, float]:
    """The SVG of the core's components, packed in rows; nodes link to ``#<claim id>`` when on the page."""
    if not core.components:
        return "", 0.0, 0.0
    layouts = [_layout(rels, members) for members in core.components]
    sizes = [
        (max(x for x, _ in c.values()) + NODE_WIDTH / 2, max(y for _, y in c.values()) + NODE_HEIGHT / 2)
        for c, _ in layouts
    ]
    corners = _pack(sizes)
    width = max(x + w for (x, _), (w, _) in zip(corners, sizes, strict=True)) + MARGIN
    height = max(y + h for (_, y), (_, h) in zip(corners, sizes, strict=True)) + MARGIN
    markers = "".join(
        f'<marker id="arrow-{kind}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        f'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
        for kind, colour in EDGE_COLOURS.items()
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="debate-map" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="debate map"><defs>{markers}</defs>'
    ]
    for (centres, paths), (dx, dy) in zip(layouts, corners, strict=True):
        for upper, lower, points in paths:
            parts += _edges(rels, (upper, lower), points, dx, dy)
        for cid, (x, y) in centres.items():
            parts.append(_node(rels, cid, x + dx - NODE_WIDTH / 2, y + dy - NODE_HEIGHT / 2, cid in on_page))
    parts.append("</svg>")
    return "".join(parts), width, height
