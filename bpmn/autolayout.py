"""A readable automatic layout for processes that have no BPMNDI.

Many models (hand-written, generated, exported by engines) carry no diagram.
Rather than refuse them, each such process is laid out on a grid:

* columns are layers: longest path over the sequence flows, left to right,
  with cycles broken at the back edges of a depth-first search;
* rows live inside bands, one band per (leaf) lane; a node goes to the row of
  its predecessor when that cell is free, so the main path stays straight;
* sub-processes are drawn collapsed, boundary events sit on their host's lower
  edge, data objects and text annotations go to a row at the bottom of their
  node's band, under its column;
* with several processes (or a collaboration) each process gets a pool, and
  pools are stacked; message flows run between them.

Cells never share area, so shapes cannot overlap. The result is a set of
synthetic :class:`~bpmn.model.Shape` and :class:`~bpmn.model.Edge` values that
the renderer draws exactly like DI from a file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from lxml import etree

from bpmn.autoroute import Grid, route_flow
from bpmn.canvas import local
from bpmn.load import BPMN_NS
from bpmn.model import Bounds, Edge, Model, Process, Shape

COL_W = 170.0
ROW_H = 140.0
DATA_ROW_H = 90.0
BAND = 30.0
POOL_GAP = 70.0
MARGIN = 20.0
SIZES = {"activity": (100.0, 80.0), "event": (36.0, 36.0), "gateway": (50.0, 50.0)}
DATA_SIZES = {"dataStoreReference": (50.0, 50.0), "textAnnotation": (110.0, 45.0)}
_Q = f"{{{BPMN_NS}}}"


@dataclass(frozen=True)
class AutoLayout:
    """Shapes and edges made up for processes without DI."""

    shapes: Mapping[str, Shape] = field(default_factory=dict)
    edges: Mapping[str, Edge] = field(default_factory=dict)
    elements: Mapping[str, etree._Element] = field(default_factory=dict)  # synthetic edge keys
    processes: tuple[str, ...] = ()


def _needs_layout(p: Process, shapes: Mapping[str, Shape]) -> bool:
    if not p.nodes:
        return p.participant is not None and p.participant.id not in shapes
    drawn = [n for n in p.nodes if n in shapes] + [ln for ln in p.lanes if ln in shapes]
    return not drawn and (p.participant is None or p.participant.id not in shapes)


def _origin(shapes: Mapping[str, Shape], edges: Mapping[str, Edge]) -> tuple[float, float]:
    """Below whatever the file's DI already draws."""
    xs = [s.bounds.x for s in shapes.values()]
    ys = [s.bounds.y + s.bounds.height for s in shapes.values()]
    ys += [y for e in edges.values() for _, y in e.waypoints]
    if not ys:
        return 0.0, 0.0
    return (min(xs) if xs else 0.0), max(ys) + 100.0


def _layers(nodes: list[str], succ: Mapping[str, list[str]], starts: list[str]) -> dict[str, int]:
    """Longest-path layers after dropping DFS back edges (iterative: chains can be long)."""
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    order: list[str] = []
    back: set[tuple[str, str]] = set()
    for root in starts + nodes:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(succ.get(root, ())))]
        while stack:
            v, it = stack[-1]
            w = next(it, None)
            if w is None:
                state[v] = 2
                order.append(v)
                stack.pop()
            elif state.get(w) == 1:
                back.add((v, w))
            elif w not in state:
                state[w] = 1
                stack.append((w, iter(succ.get(w, ()))))
    layer = dict.fromkeys(nodes, 0)
    for v in reversed(order):  # reverse post-order is a topological order of the DAG
        for w in succ.get(v, ()):
            if (v, w) not in back and layer[w] < layer[v] + 1:
                layer[w] = layer[v] + 1
    return layer


def _leaf_lanes(p: Process) -> tuple[list[str], dict[str, list[str]]]:
    children: dict[str | None, list[str]] = {}
    for lane in p.lanes.values():
        parent = lane.parent_id if lane.parent_id in p.lanes else None
        children.setdefault(parent, []).append(lane.id)
    leaves: list[str] = []
    under: dict[str, list[str]] = {}

    def walk(lid: str) -> list[str]:
        kids = children.get(lid, [])
        got = [leaf for k in kids for leaf in walk(k)] if kids else [lid]
        under[lid] = got
        return got

    for top in children.get(None, []):
        leaves.extend(walk(top))
    return leaves, under


class _Plan:
    """The grid of one process before it is given coordinates."""

    def __init__(self, p: Process, elements: Mapping[str, etree._Element]) -> None:
        self.p = p
        # Keys, not ids: the model keys a node without an id by its source line.
        keyed = [(k, n) for k, n in p.nodes.items() if n.parent_id is None and n.tag != "boundaryEvent"]
        top = [n for _, n in keyed]
        ids = [k for k, _ in keyed]
        self.key_of = {id(n): k for k, n in keyed}
        idset = set(ids)
        self.boundary = {n.id: n.attached_to for n in p.nodes.values()
                         if n.tag == "boundaryEvent" and n.attached_to in idset}
        succ: dict[str, list[str]] = {}
        self.flows = []
        for f in p.flows.values():
            src = self.boundary.get(f.source or "", f.source)
            if src in idset and f.target in idset:
                succ.setdefault(src, []).append(f.target)
                self.flows.append(f)
        has_in = {t for ts in succ.values() for t in ts}
        starts = [k for k, n in keyed if n.tag == "startEvent"] + [i for i in ids if i not in has_in]
        self.layer = _layers(ids, succ, starts)
        leaves, self.under = _leaf_lanes(p)
        band_of: dict[str, str | None] = {}
        for k, n in keyed:
            lane = n.lane_id if n.lane_id in self.under else None
            band_of[k] = self.under[lane][0] if lane else None
        self.bands: list[str | None] = list(leaves)
        if None in band_of.values() or not self.bands:
            self.bands.append(None)
        self.band_of = band_of
        pred: dict[str, list[str]] = {}
        for s, ts in succ.items():
            for t in ts:
                pred.setdefault(t, []).append(s)
        self.row: dict[str, int] = {}
        taken: set[tuple[str | None, int, int]] = set()
        for nid in sorted(ids, key=lambda i: self.layer[i]):
            band, col = band_of[nid], self.layer[nid]
            wanted = [self.row[q] for q in pred.get(nid, ()) if q in self.row and band_of[q] == band]
            r = min(wanted) if wanted else 0
            while (band, r, col) in taken:
                r += 1
            taken.add((band, r, col))
            self.row[nid] = r
        self.rows = {b: 1 + max((self.row[i] for i in ids if band_of[i] == b), default=0) for b in self.bands}
        self.cols = 1 + max(self.layer.values(), default=0)
        self._place_items(elements, top)

    def _place_items(self, elements: Mapping[str, etree._Element], top: list) -> None:
        """Data objects/stores and annotations: (band, column, slot) next to their node."""
        near: dict[str, str] = {}
        for n in top:
            for ref in (*n.data_inputs, *n.data_outputs):
                near.setdefault(ref, self.key_of[id(n)])
        proc_el = self.p.element
        if proc_el is not None:
            for a in proc_el.iterchildren(f"{_Q}association"):
                s, t = a.get("sourceRef") or "", a.get("targetRef") or ""
                for ann, node in ((s, t), (t, s)):
                    if local(elements.get(ann)) == "textAnnotation" and node in self.layer:
                        near.setdefault(ann, node)
        self.items: list[tuple[str, str, str | None, int, int]] = []  # (id, tag, band, row, column)
        for did, node in near.items():
            el = elements.get(did)
            tag = local(el)
            parent = local(el.getparent()) if el is not None else ""
            if (tag and parent in ("process", "ioSpecification") and tag != "dataObject") or tag == "textAnnotation":
                self.items.append((did, tag, self.band_of[node], self.row[node], self.layer[node]))
        for did, d in self.p.data.items():
            if did not in near and d.tag in ("dataObjectReference", "dataStoreReference"):
                el = elements.get(did)
                if el is not None and local(el.getparent()) == "process":
                    self.items.append((did, d.tag, self.bands[0], 0, self.cols))
        # Items sit in a strip under their node's row, in its column, side by side.
        self.strips: dict[tuple[str | None, int], int] = {}
        self.slots: dict[str, tuple[int, float]] = {}
        cursor: dict[tuple[str | None, int, int, int], float] = {}
        for did, tag, band, row, col in self.items:
            w = DATA_SIZES.get(tag, (36.0, 50.0))[0]
            line = 0
            while cursor.get((band, row, col, line), 0.0) > 0 and cursor[(band, row, col, line)] + w > COL_W - 10:
                line += 1
            x = cursor.get((band, row, col, line), 0.0)
            cursor[(band, row, col, line)] = x + w + 10
            self.slots[did] = (line, x)
            self.strips[(band, row)] = max(self.strips.get((band, row), 0), line + 1)
        if self.items:
            self.cols = max(self.cols, 1 + max(item[4] for item in self.items))

    def row_height(self, band: str | None, row: int) -> float:
        return ROW_H + self.strips.get((band, row), 0) * DATA_ROW_H

    def band_height(self, band: str | None) -> float:
        return sum(self.row_height(band, r) for r in range(self.rows[band]))

    @property
    def height(self) -> float:
        return sum(self.band_height(b) for b in self.bands)

    def lane_depth(self) -> int:
        depth = 0
        for lane in self.p.lanes.values():
            d, cur = 1, lane.parent_id
            while cur in self.p.lanes and d < 50:
                d, cur = d + 1, self.p.lanes[cur].parent_id
            depth = max(depth, d)
        return depth


def _kind(tag: str) -> str:
    if tag.endswith("Gateway"):
        return "gateway"
    if tag.endswith("Event"):
        return "event"
    return "activity"


def layout_missing(model: Model, elements: Mapping[str, etree._Element],
                   shapes: Mapping[str, Shape], edges: Mapping[str, Edge]) -> AutoLayout:
    """Shapes and edges for every process (and black-box pool) the DI does not draw."""
    todo = [p for p in model.processes if _needs_layout(p, shapes)]
    refs = {p.id for p in model.processes}
    black = [pt for pt in model.participants
             if pt.id not in shapes and (not pt.process_ref or pt.process_ref not in refs)]
    if not todo and not black:
        return AutoLayout()
    x0, y = _origin(shapes, edges)
    pooled = bool(model.participants) or len(todo) > 1
    plans = [_Plan(p, elements) for p in todo]
    out_s: dict[str, Shape] = {}
    out_e: dict[str, Edge] = {}
    extra: dict[str, etree._Element] = {}
    lane_w = max((pl.lane_depth() for pl in plans), default=0) * BAND
    width = (BAND if pooled else 0) + lane_w + max((pl.cols for pl in plans), default=4) * COL_W + 2 * MARGIN
    for pl in plans:
        y += _place(pl, model, elements, x0, y, width, pooled, lane_w, out_s, out_e, extra) + POOL_GAP
    for pt in black:
        out_s[pt.id] = Shape("~auto", pt.id, Bounds(x0, y, width, 100.0), None, True)
        y += 100.0 + POOL_GAP
    pools = [sh.bounds for sh in (*out_s.values(), *shapes.values())
             if sh.element_id in {pt.id for pt in model.participants}]
    for mf in model.message_flows:
        if mf.id in edges or not mf.source or not mf.target or mf.id not in elements:
            continue
        s = out_s.get(mf.source) or shapes.get(mf.source)
        t = out_s.get(mf.target) or shapes.get(mf.target)
        if s is None or t is None:
            continue
        pa, pb = _pool_box(model, mf.source, out_s, shapes), _pool_box(model, mf.target, out_s, shapes)
        out_e[mf.id] = Edge("~auto", mf.id, _message_route(s.bounds, t.bounds, pa, pb, pools))
    return AutoLayout(out_s, out_e, extra, tuple(p.id for p in todo))


def _pool_box(model: Model, element_id: str, *layers: Mapping[str, Shape]) -> Bounds | None:
    pool = model.pool_of_element(element_id)
    for layer in layers:
        if pool is not None and pool.id in layer:
            return layer[pool.id].bounds
    return None


def _message_route(a: Bounds, b: Bounds, pa: Bounds | None, pb: Bounds | None,
                   pools: list[Bounds]) -> tuple[tuple[float, float], ...]:
    """A message flow from pool to pool; past pools in between it runs in a column gap."""
    a_is_pool, b_is_pool = a == pa, b == pb
    ax, bx = a.x + a.width / 2, b.x + b.width / 2
    if a_is_pool:
        ax = bx
    if b_is_pool:
        bx = ax
    down = a.y + a.height <= b.y
    ay = a.y + a.height if down else a.y
    by = b.y if down else b.y + b.height
    lo, hi = (ay, by) if down else (by, ay)
    between = [p for p in pools if p not in (pa, pb) and lo < p.y + p.height / 2 < hi]
    if not between or pa is None or pb is None:
        mid = (ay + by) / 2
        return ((ax, ay), (bx, by)) if ax == bx else ((ax, ay), (ax, mid), (bx, mid), (bx, by))
    step = POOL_GAP / 2
    ya = (pa.y + pa.height + step) if down else (pa.y - step)
    yb = (pb.y - step) if down else (pb.y + pb.height + step)
    gx = bx - COL_W / 2 + 8   # the gap left of the target's column
    return ((ax, ay), (ax, ya), (gx, ya), (gx, yb), (bx, yb), (bx, by))


def _place(pl: _Plan, model: Model, elements: Mapping[str, etree._Element], x0: float, y0: float,
           width: float, pooled: bool, lane_w: float, out_s: dict[str, Shape], out_e: dict[str, Edge],
           extra: dict[str, etree._Element]) -> float:
    """Give one planned process coordinates; returns its height."""
    p = pl.p
    height = max(pl.height, ROW_H)
    if pooled:
        key = p.participant.id if p.participant else p.id
        if key:
            out_s[key] = Shape("~auto", key, Bounds(x0, y0, width, height), None, True)
    inner_x = x0 + (BAND if pooled else 0)
    band_y: dict[str | None, float] = {}
    cy = y0
    for b in pl.bands:
        band_y[b] = cy
        cy += pl.band_height(b)
    for lid in p.lanes:
        leaves = pl.under.get(lid, [])
        if not leaves:
            continue
        d, cur = 0, p.lanes[lid].parent_id
        while cur in p.lanes and d < 50:
            d, cur = d + 1, p.lanes[cur].parent_id
        top = band_y[leaves[0]]
        bottom = band_y[leaves[-1]] + pl.band_height(leaves[-1])
        lx = inner_x + d * BAND
        out_s[lid] = Shape("~auto", lid, Bounds(lx, top, x0 + width - lx, bottom - top), None, True)
    content_x = inner_x + lane_w + MARGIN
    row_tops: dict[tuple[str | None, int], float] = {}
    for b in pl.bands:
        top = band_y[b]
        for r in range(pl.rows[b]):
            row_tops[(b, r)] = top
            top += pl.row_height(b, r)
    grid = Grid(content_x, COL_W, ROW_H, row_tops)
    for nid, col in pl.layer.items():
        node = p.nodes[nid]
        if node.id != nid and node.element is not None:
            extra[nid] = node.element   # so the renderer knows what an id-less node is
        w, h = SIZES[_kind(node.tag)]
        cx, cy_ = grid.centre(pl.band_of[nid], pl.row[nid], col)
        out_s[nid] = Shape("~auto", nid, Bounds(cx - w / 2, cy_ - h / 2, w, h), False)
        grid.occupy(pl.band_of[nid], pl.row[nid], col, nid)
    hosts: dict[str, int] = {}
    for bid, host in pl.boundary.items():
        hb = out_s[host].bounds
        k = hosts.get(host, 0)
        hosts[host] = k + 1
        bx, by = hb.x + hb.width - 20 - k * 40, hb.y + hb.height
        # The label goes to the right: the event's outgoing flow leaves downwards.
        out_s[bid] = Shape("~auto", bid, Bounds(bx - 18, by - 18, 36, 36),
                           label=Bounds(bx + 20, by + 4, 56, 14))
    for did, tag, band, row, col in pl.items:
        w, h = DATA_SIZES.get(tag, (36.0, 50.0))
        line, dx = pl.slots[did]
        top = row_tops[(band, row)] + ROW_H + line * DATA_ROW_H + 10
        out_s[did] = Shape("~auto", did, Bounds(content_x + col * COL_W + 10 + dx, top, w, h))
    for f in pl.flows:
        pts = route_flow(grid, out_s, pl, f.source or "", f.target or "")
        if pts:
            out_e[f.id] = Edge("~auto", f.id, pts)
    _data_edges(pl, elements, out_s, out_e, extra)
    return height


def _data_edges(pl: _Plan, elements: Mapping[str, etree._Element], out_s: dict[str, Shape],
                out_e: dict[str, Edge], extra: dict[str, etree._Element]) -> None:
    """Data associations and annotation associations as straight lines."""

    def link(key: str, el: etree._Element, a: str, b: str) -> None:
        sa, sb = out_s.get(a), out_s.get(b)
        if sa is None or sb is None:
            return
        ab, bb = sa.bounds, sb.bounds
        a_below = ab.y > bb.y + bb.height
        pa = (ab.x + ab.width / 2, ab.y if a_below else ab.y + ab.height)
        pb = (bb.x + bb.width / 2, bb.y + bb.height if a_below else bb.y)
        if not el.get("id"):
            extra[key] = el
        out_e[key] = Edge("~auto", key, (pa, pb))

    for nid in pl.layer:
        el = pl.p.nodes[nid].element
        if el is None:
            continue
        for i, assoc in enumerate(el.iterchildren(f"{_Q}dataInputAssociation", f"{_Q}dataOutputAssociation")):
            key = assoc.get("id") or f"~data:{nid}:{i}"
            inbound = local(assoc) == "dataInputAssociation"
            end = f"{_Q}sourceRef" if inbound else f"{_Q}targetRef"
            ref = next(((r.text or "").strip() for r in assoc.iterchildren(end)), "")
            if inbound:
                link(key, assoc, ref, nid)
            else:
                link(key, assoc, nid, ref)
    if pl.p.element is not None:
        for a in pl.p.element.iterchildren(f"{_Q}association"):
            if a.get("id"):
                link(a.get("id"), a, a.get("sourceRef") or "", a.get("targetRef") or "")
