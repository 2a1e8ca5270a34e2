"""Diagrams you can see: a BPMN model rendered to SVG on the server.

:func:`render_svg` draws the model's BPMNDI (one diagram; the main one by
default): pools and lanes, activities with their type markers, events,
gateways, data, artifacts, flows with arrowheads and labels. Processes without
DI are laid out automatically (:mod:`bpmn.autolayout`) instead of failing, and
an empty model gives a small SVG that says so. An :class:`~bpmn.overlay.Overlay`
adds CSS classes, badges and tooltips to elements, with a legend in the top
left corner.

The output is safe to inline in an HTML page: it is built with lxml (model
text can only become escaped text), and holds no script, no foreignObject, no
event attribute and no reference to anything outside itself. Class names on
every group (``el activity userTask paper``) and ``data-element-id`` let the
web UI restyle and find elements.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Mapping
from dataclasses import replace

from bpmn import autolayout
from bpmn.canvas import Canvas, Index
from bpmn.edges import draw_edge
from bpmn.gcpause import paused_gc
from bpmn.model import Bounds, Diagram, Edge, Model, Shape
from bpmn.overlay import Mark, Overlay, overlay_from_changes, overlay_from_findings
from bpmn.shapes import EXT_LABEL_WIDTH, SMALL_FONT, SUBPROCESS, category, draw_shape
from bpmn.svg import FONT_SIZE, Node, add, group, num, rect, root, text_lines, to_string
from bpmn.textlayout import is_rtl, text_width

__all__ = ["Mark", "Overlay", "overlay_from_changes", "overlay_from_findings", "render_svg"]

MARGIN = 20.0
INK = "#1b1b1b"

CSS = f"""
.bpmn-diagram{{background:#fff}}
.bpmn-diagram text{{font-family:Vazirmatn,Tahoma,"Noto Sans Arabic","DejaVu Sans",sans-serif;
font-size:{FONT_SIZE:g}px;fill:{INK};text-anchor:middle}}
.bpmn-diagram text.ext,.bpmn-diagram text.start,.legend text,.badge-text{{font-size:{SMALL_FONT:g}px}}
.bpmn-diagram text.start{{text-anchor:start}}
.bpmn-diagram .halo{{paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}}
.shape{{fill:#fff;stroke:{INK};stroke-width:2}}
.shape.thin{{stroke-width:1.5}}
.shape.thick{{stroke-width:4}}
.shape.call{{stroke-width:4.5}}
.shape.dashed{{stroke-dasharray:6 4}}
.shape.none{{fill:none}}
.container>.shape{{fill:#fff;fill-opacity:.7}}
.pool-box,.lane-box{{fill:none;stroke-width:1.5}}
.group-box{{stroke-dasharray:10 4 2 4;stroke:#555}}
.hit{{fill:none;stroke:none}}
.unknown-box{{stroke:#888}}
.icon{{fill:#fff;stroke:{INK};stroke-width:1.2}}
.icon-fill{{fill:{INK};stroke:{INK};stroke-width:1.2}}
.icon-line{{fill:none;stroke:{INK};stroke-width:1.2}}
.icon-inv{{fill:none;stroke:#fff;stroke-width:1.2}}
.icon-bar{{fill:none;stroke:{INK};stroke-width:2}}
.gw-mark{{fill:none;stroke:{INK};stroke-width:4;stroke-linecap:round}}
.gw-mark.thin-mark{{stroke-width:3}}
.gw-ring{{fill:none;stroke:{INK};stroke-width:3}}
.line{{fill:none;stroke:{INK};stroke-width:1.5;stroke-linejoin:round}}
.head{{fill:{INK};stroke:{INK};stroke-width:1.5;stroke-linejoin:round}}
.head.open{{fill:#fff}}
.message-flow>.line:first-of-type{{stroke-dasharray:8 5}}
.association>.line:first-of-type,.data-association>.line:first-of-type{{stroke-dasharray:1 4;
stroke-linecap:round;stroke-width:2}}
.badge-pill{{fill:#b03a2e;stroke:#fff;stroke-width:1.5}}
.badge-text{{fill:#fff!important;font-weight:bold}}
.paper>.shape{{fill:#fde2df;stroke:#b03a2e}}
.paper-replaceable>.shape{{fill:#fff0d4;stroke:#c25e00}}
.smell>.shape{{stroke:#6c3483;stroke-dasharray:3 2}}
.paper-replaceable .badge-pill,.badge.paper-replaceable .badge-pill{{fill:#c25e00}}
.added>.shape{{fill:#dff5e3;stroke:#1e8449}}
.added>.line,.added>.head{{stroke:#1e8449}}
.removed>.shape{{fill:#eee;stroke:#922;stroke-dasharray:4 3}}
.removed>.line{{stroke:#922}}
.removed{{opacity:.7}}
.changed>.shape{{fill:#e3efff;stroke:#1f5fa8}}
.badge.added .badge-pill{{fill:#1e8449}}
.badge.changed .badge-pill{{fill:#1f5fa8}}
.legend-box{{fill:#fff;stroke:#999;stroke-width:1}}
.empty-note{{fill:#666}}
""".replace("\n", "")


def _finite(v: float) -> float:
    return v if math.isfinite(v) else 0.0


def _finite_shape(s: Shape) -> Shape:
    """DI with NaN or infinite numbers (a broken exporter) is drawn at 0, not refused."""
    b = s.bounds
    if all(map(math.isfinite, (b.x, b.y, b.width, b.height))) and (
            s.label is None or all(map(math.isfinite, (s.label.x, s.label.y, s.label.width, s.label.height)))):
        return s
    fixed = Bounds(_finite(b.x), _finite(b.y), _finite(b.width), _finite(b.height))
    return replace(s, bounds=fixed, label=None)


def _finite_edge(e: Edge) -> Edge:
    if all(map(math.isfinite, itertools.chain.from_iterable(e.waypoints))):   # every x and y
        return e
    return replace(e, waypoints=tuple((x, y) for x, y in e.waypoints if math.isfinite(x) and math.isfinite(y)),
                   label=None)


def _pick_diagram(model: Model, diagram_id: str | None) -> Diagram | None:
    if diagram_id is not None:
        for d in model.diagrams:
            if d.id == diagram_id:
                return d
        known = ", ".join(d.id for d in model.diagrams) or "none"
        raise ValueError(f"no diagram {diagram_id!r} in the model (diagrams: {known})")
    # The main diagram shows the collaboration or a process; drill-down
    # diagrams of collapsed sub-processes come after it in bpmn-js files.
    for d in model.diagrams:
        tag = model.root_elements.get(d.plane_element or "", ("",))[0]
        if tag in ("collaboration", "process") and (d.shapes or d.edges):
            return d
    return next((d for d in model.diagrams if d.shapes or d.edges), None)


def _expanded(model: Model, tags: Mapping[str, str], shapes: Mapping[str, Shape]) -> frozenset[str]:
    """Sub-processes drawn open: isExpanded when the DI says, else if their content is drawn."""
    with_children = {n.parent_id for p in model.processes for n in p.nodes.values()
                     if n.parent_id and n.id in shapes}
    out = set()
    for eid, s in shapes.items():
        tag = tags.get(eid)
        if tag == "callActivity" and s.is_expanded:
            out.add(eid)
        if tag not in SUBPROCESS:
            continue
        if s.is_expanded or (s.is_expanded is None and (eid in with_children or
                                                        (s.bounds.width > 200 and s.bounds.height > 120))):
            out.add(eid)
    return frozenset(out)


def _depths(model: Model) -> dict[str, int]:
    """Nesting depth of lanes and sub-processes, so outer ones are drawn first."""
    parent: dict[str, str | None] = {}
    for p in model.processes:
        for lane in p.lanes.values():
            parent[lane.id] = lane.parent_id
        for n in p.nodes.values():
            if n.tag in SUBPROCESS:
                parent[n.id] = n.parent_id
    depth: dict[str, int] = {}
    for key in parent:
        d, cur, seen = 0, parent.get(key), {key}
        while cur and cur not in seen:
            seen.add(cur)
            d += 1
            cur = parent.get(cur)
        depth[key] = d
    return depth


def _shape_order(shapes: Mapping[str, Shape], tags: Mapping[str, str],
                 expanded: frozenset[str], depth: Mapping[str, int]) -> list[Shape]:
    rank = {"pool": 0, "lane": 1, "container": 2, "group": 3}

    def key(s: Shape) -> tuple[int, int]:
        tag = tags.get(s.element_id, "")
        if tag == "boundaryEvent":
            return (5, 0)
        return (rank.get(category(tag, s.element_id in expanded), 4), depth.get(s.element_id, 0))

    return sorted(shapes.values(), key=key)


_PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
_EXTERNAL = frozenset({"event", "gateway", "data-object", "data-store"})
_OBSTACLES = _EXTERNAL | {"activity", "annotation"}


def _label_widths(shapes: Mapping[str, Shape], tags: Mapping[str, str]) -> dict[str, float]:
    """Narrower labels below shapes placed side by side, so neighbours' labels do not collide."""
    rows: dict[int, list[tuple[float, str]]] = {}
    for s in shapes.values():
        if s.label is not None or category(tags.get(s.element_id, ""), False) not in _EXTERNAL:
            continue
        b = s.bounds
        rows.setdefault(int((b.y + b.height) // 30), []).append((b.x + b.width / 2, s.element_id))
    out: dict[str, float] = {}
    for key, items in rows.items():
        near = sorted(items + rows.get(key - 1, []) + rows.get(key + 1, []))
        xs = [x for x, _ in near]
        for cx, eid in items:
            i = bisect.bisect_left(xs, cx)
            gaps = [abs(xs[j] - cx) for j in (i - 1, i + 1, i + 2) if 0 <= j < len(xs) and near[j][1] != eid]
            gap = min(gaps, default=EXT_LABEL_WIDTH)
            if gap - 6 < EXT_LABEL_WIDTH:
                out[eid] = max(gap - 6, 40.0)
    return out


def _legend(svg_content: Node, overlay: Overlay, drawn: set[str], left: float,
            bottom: float) -> tuple[float, float, float, float] | None:
    """The legend box above the diagram; returns its rectangle."""
    rows: list[tuple[str, str]] = []
    for cls, label in overlay.legend:
        ids = [eid for eid, m in overlay.marks.items() if cls in m.classes]
        shown = sum(1 for eid in ids if eid in drawn)
        text = f"{label}: {shown}"
        if shown < len(ids):
            text += " (" + overlay.hidden_note.replace("{n}", str(len(ids) - shown)) + ")"
        if is_rtl(label):
            text = text.translate(_PERSIAN_DIGITS)
        rows.append((cls, text))
    if overlay.title:
        rows.insert(0, ("", overlay.title))
    if not rows:
        return None
    row_h = 20.0
    width = max(text_width(t, SMALL_FONT) for _, t in rows) + 46
    height = row_h * len(rows) + 12
    top = bottom - height
    g = group(svg_content, "legend")
    rect(g, left, top, width, height, "legend-box", rx=4)
    for i, (cls, text) in enumerate(rows):
        y = top + 6 + i * row_h
        item = add(g, "g", {"class": f"legend-item {cls}".strip()})
        if cls:
            rect(item, left + 8, y + 3, 22, 14, "shape thin", rx=3)
        x = left + 36
        if is_rtl(text):  # start-anchored RTL text grows leftwards from x
            x += text_width(text, SMALL_FONT)
        text_lines(item, [text], x, y + 3, "label start", SMALL_FONT, full_text=text)
    return left, top, width, height


@paused_gc
def render_svg(model: Model, *, overlay: Overlay | None = None, diagram_id: str | None = None) -> str:
    """The model as an SVG document (a string, no XML declaration).

    ``diagram_id`` picks one ``BPMNDiagram`` (``ValueError`` if there is no
    such diagram); by default the main one. Processes the diagram does not
    show are laid out automatically below it. Never raises on model content.
    """
    diagram = _pick_diagram(model, diagram_id)
    index = Index(model)
    shapes: dict[str, Shape] = {k: _finite_shape(s) for k, s in diagram.shapes.items()} if diagram else {}
    edges: dict[str, Edge] = {k: _finite_edge(e) for k, e in diagram.edges.items()} if diagram else {}
    auto = autolayout.layout_missing(model, index.element, shapes, edges)
    shapes.update(auto.shapes)
    edges.update(auto.edges)
    for key, el in auto.elements.items():
        index.add(key, el)
    tags = index.tag
    expanded = _expanded(model, tags, shapes)
    content = Node("g", {"class": "diagram"})
    cv = Canvas(content, model, index, expanded)
    cv.label_width.update(_label_widths(shapes, tags))
    for s in shapes.values():
        if category(tags.get(s.element_id, ""), s.element_id in expanded) in _OBSTACLES:
            b = s.bounds
            cv.add_obstacle(b.x, b.y, b.x + b.width, b.y + b.height, s.element_id)
    marks: Mapping[str, Mark] = overlay.marks if overlay else {}
    drawn: set[str] = set()
    for s in _shape_order(shapes, tags, expanded, _depths(model)):
        draw_shape(cv, s, marks.get(s.element_id))
        drawn.add(s.element_id)
    for e in edges.values():
        draw_edge(cv, e, marks.get(e.element_id))
        drawn.add(e.element_id)
    if cv.empty:
        svg = root((0, 0, 320, 60), CSS)
        text_lines(svg, ["empty model: nothing to draw"], 160, 22, "label empty-note")
        return to_string(svg)
    x0, y0 = cv.min_x - MARGIN, cv.min_y - MARGIN
    x1, y1 = cv.max_x + MARGIN, cv.max_y + MARGIN
    if overlay is not None:
        box = _legend(content, overlay, drawn, x0, y0 - 8)
        if box is not None:
            y0 = box[1] - MARGIN
            x1 = max(x1, box[0] + box[2] + MARGIN)
    svg = root((x0, y0, x1 - x0, y1 - y0), CSS)
    add(svg, "rect", {"x": num(x0), "y": num(y0), "width": num(x1 - x0), "height": num(y1 - y0),
                      "fill": "#fff", "class": "background"})
    svg.append(content)
    if auto.processes:
        content.set("data-auto-layout", " ".join(auto.processes))
    return to_string(svg)
