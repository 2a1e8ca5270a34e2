"""Painters for BPMNDI edges: sequence flows, message flows, associations.

Sequence flows are solid with a filled arrowhead; a default flow gets a slash
near its source and a conditional flow leaving an activity a small diamond.
Message flows are dashed, start with a small circle and end with an open
arrowhead. Associations are dotted (with an open arrow when directed); data
associations are dotted with an open arrow at the data's destination.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from bpmn.canvas import Canvas
from bpmn.model import Edge
from bpmn.overlay import Mark
from bpmn.shapes import SMALL_FONT, badge
from bpmn.svg import Point, arrowhead, block_height, circle, group, path, polygon_d, polyline, polyline_d, text_lines
from bpmn.textlayout import text_width, wrap

_CATEGORY = {
    "sequenceFlow": "flow",
    "messageFlow": "message-flow",
    "association": "association",
    "dataInputAssociation": "data-association",
    "dataOutputAssociation": "data-association",
    "conversationLink": "message-flow",
}


def _ends(points: Sequence[Point]) -> tuple[Point, Point, Point, Point] | None:
    """(start, next distinct point, previous distinct point, end), or None if degenerate."""
    first = points[0]
    nxt = next((p for p in points[1:] if p != first), None)
    last = points[-1]
    prev = next((p for p in reversed(points[:-1]) if p != last), None)
    if nxt is None or prev is None:
        return None
    return first, nxt, prev, last


def _along(a: Point, b: Point, dist: float) -> tuple[Point, float, float]:
    dx, dy = b[0] - a[0], b[1] - a[1]
    d = math.hypot(dx, dy) or 1.0
    ux, uy = dx / d, dy / d
    return (a[0] + ux * dist, a[1] + uy * dist), ux, uy


def _open_arrow(g, tail: Point, tip: Point, length: float = 11, half: float = 5) -> None:
    (bx, by), ux, uy = _along(tip, tail, length)
    path(g, polyline_d([(bx - uy * half, by + ux * half), tip, (bx + uy * half, by - ux * half)]), "line head-line")


def _midpoint(points: Sequence[Point], first: bool = False) -> tuple[Point, bool]:
    """Where a label reads best: the middle of the longest segment (or, with
    ``first``, of the first one that is not tiny), and whether it is vertical-ish."""
    best: tuple[float, Point, bool] = (-1.0, points[0], False)
    for a, b in itertools.pairwise(points):
        length = math.hypot(b[0] - a[0], b[1] - a[1])
        if length > best[0]:
            best = (length, ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2), abs(b[0] - a[0]) < abs(b[1] - a[1]))
            if first and length >= 20:
                break
    return best[1], best[2]


def draw_edge(cv: Canvas, edge: Edge, mark: Mark | None) -> None:
    """Draw one DI edge (an unknown id gets a plain thin line)."""
    eid = edge.element_id
    el = cv.elements.get(eid)
    tag = cv.tags.get(eid) or "unknown"
    cat = _CATEGORY.get(tag, "connection")
    name = cv.name_of(eid)
    cls = f"el {cat} {tag}" + (f" {' '.join(mark.classes)}" if mark and mark.classes else "")
    title = (name or f"{tag} {eid}") + (f"\n{mark.tooltip}" if mark and mark.tooltip else "")
    g = group(cv.layers["edges"], cls, eid if not eid.startswith("~") else None, title)
    pts = edge.waypoints
    if pts:
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        cv.grow(min(xs), min(ys), max(xs), max(ys))
    ends = _ends(pts) if len(pts) >= 2 else None
    if ends is None:
        return
    start, nxt, prev, end = ends
    polyline(g, pts, "line")
    if cat == "flow":
        flow = cv.flows.get(eid)
        arrowhead(g, prev, end, "head")
        src = cv.nodes.get(flow.source or "") if flow else None
        if src is not None and src.default_flow == eid:
            (mx, my), ux, uy = _along(start, nxt, 10)
            # a slash across the line, leaning 45 degrees against the flow
            vx, vy = (ux - uy) * 5, (uy + ux) * 5
            path(g, polyline_d([(mx - vx, my - vy), (mx + vx, my + vy)]), "line default-mark")
        elif flow is not None and flow.condition and src is not None and src.kind == "activity":
            (tip, ux, uy), half = _along(start, nxt, 16), 5.0
            mid = (start[0] + ux * 8, start[1] + uy * 8)
            path(g, polygon_d([start, (mid[0] - uy * half, mid[1] + ux * half), tip,
                               (mid[0] + uy * half, mid[1] - ux * half)]), "head open condition-mark")
    elif cat == "message-flow":
        circle(g, start[0], start[1], 4.5, "head open")
        arrowhead(g, prev, end, "head open")
    elif cat == "data-association":
        _open_arrow(g, prev, end)
    elif cat == "association" and el is not None:
        direction = (el.get("associationDirection") or "").strip()
        if direction in ("One", "Both"):
            _open_arrow(g, prev, end)
        if direction == "Both":
            _open_arrow(g, nxt, start)
    if mark and mark.badge:
        (bx, by), _vertical = _midpoint(pts)
        badge(cv, bx, by, mark, eid)
    if name:
        src = cv.flows.get(eid)
        node = cv.nodes.get(src.source or "") if src is not None else None
        _edge_label(cv, g, name, edge, near_source=node is not None and node.kind == "gateway")


def _edge_label(cv: Canvas, g, name: str, edge: Edge, near_source: bool = False) -> None:
    """At the DI label bounds; else by the longest segment, or by the source
    when it is a gateway (a branch's "yes"/"no" belongs next to its question)."""
    lab = edge.label
    if lab is not None and lab.width > 0:
        lines = wrap(name, max(lab.width + 14, 60.0), SMALL_FONT, 4)
        cx = lab.x + lab.width / 2
        top = lab.y + max((lab.height - block_height(len(lines), SMALL_FONT)) / 2, 0)
    else:
        lines = wrap(name, 110, SMALL_FONT, 3)
        (mx, my), vertical = _midpoint(edge.waypoints, first=near_source)
        h = block_height(len(lines), SMALL_FONT)
        if vertical:
            w = max(text_width(line, SMALL_FONT) for line in lines) if lines else 0
            cx, top = mx + w / 2 + 5, my - h / 2
        else:
            cx, top = mx, my - h - 3
    text_lines(g, lines, cx, top, "label ext halo", SMALL_FONT, full_text=name)
    cv.grow_text(lines, cx, top, SMALL_FONT)
