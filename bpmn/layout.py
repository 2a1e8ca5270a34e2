"""Diagram layout of a redesign fragment: shapes in free space, orthogonal edges, nothing moved.

:class:`Layout` keeps one :class:`~bpmn.placement.Canvas` per diagram plane
for the whole redesign, so each fragment avoids the shapes of the model and of
the fragments placed before it. For a fragment it computes an ideal position
for every new node from a small template, then lets the canvas find the
nearest free spot inside the node's lane (or pool, or sub-process):

* the main row (inquiries, gateways, consent) runs left to right on the paper
  step's row; when the step is removed the row is centred in the gap it left;
* parallel inquiries stack below the first one;
* each inquiry's fallback (failure gateway and fallback task) sits under it in
  the fallback lane, so the boundary events drop straight down to it;
* boundary events sit on the inquiry's border facing the fallback.

Only when a lane has no room at all are the pool and its lanes widened to the
right (nothing else moves); the change log says so. Existing edges whose end
changed keep their waypoints and get a new last (or first) leg.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from lxml import etree

from bpmn.fragment import Fragment, Lanes, NewNode
from bpmn.model import DC_NS, DI_NS, OMGDI_NS, Bounds, local
from bpmn.placement import INSET, MARGIN, Canvas, center, on_border
from bpmn.rewrite import Editor, num, q

LABEL_BAND = 30.0        # the name band at the left of a horizontal pool or lane
GAP = 35.0               # horizontal space between consecutive new shapes
ROW = 130.0              # vertical distance between stacked rows
_CONTAINERS = frozenset({"lane", "participant"})
_GROWABLE = frozenset({"subProcess", "transaction", "adHocSubProcess"})
_UNBOUNDED = 4000.0
_BOUNDS = q("Bounds", DC_NS)


@dataclass
class LayoutResult:
    """What the layout did beyond placing: lanes and pools it widened, shapes it had to move."""

    widened: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)
    room: list[tuple[float, float, tuple[str, ...]]] = field(default_factory=list)   # (cut x, delta, moved ids)


class Layout:
    """Places the fragments of one redesign, sharing obstacles between them."""

    def __init__(self, editor: Editor, make_room: bool = False) -> None:
        self.ed = editor
        self.allow_room = make_room
        self.canvases: dict[int, Canvas] = {}
        self.planes: dict[int, etree._Element] = {}
        self.result = LayoutResult()

    def _tag(self, element_id: str | None) -> str:
        el = self.ed.element(element_id) if element_id else None
        return local(el) if el is not None else ""

    def canvas(self, plane: etree._Element) -> Canvas:
        """The obstacles of a plane: every shape and label except lanes and pools."""
        key = id(plane)
        if key not in self.canvases:
            items = []
            for shape in plane.iterchildren(q("BPMNShape", DI_NS)):
                ref = shape.get("bpmnElement")
                if self._tag(ref) in _CONTAINERS:
                    continue
                b = _bounds(next(shape.iterchildren(_BOUNDS), None))
                if b is not None:
                    items.append((b, ref))
            for label in plane.iter(q("BPMNLabel", DI_NS)):
                b = _bounds(label.find(q("Bounds", DC_NS)))
                if b is not None and b.width > 0 and b.height > 0:
                    items.append((b, f"{label.getparent().get('bpmnElement')}#label"))
            self.canvases[key] = Canvas(items)
            self.planes[key] = plane
        return self.canvases[key]

    # -- regions -----------------------------------------------------------------

    def _region(self, lane: etree._Element | None, element_id: str, anchor: Bounds) -> tuple[Bounds, float, str | None]:
        """(region, left inset, container id) a new node (already in the tree) must stay in."""
        el = self.ed.element(element_id)
        parent = el.getparent() if el is not None else None
        if parent is not None and local(parent) in ("subProcess", "transaction", "adHocSubProcess"):
            b = self.ed.bounds(parent.get("id"))
            if b is not None and b.width > anchor.width:
                return b, INSET, parent.get("id")
        if lane is not None:
            b = self.ed.bounds(lane.get("id"))
            if b is not None:
                return b, LABEL_BAND + INSET, lane.get("id")
        pool = self._pool_of(parent)
        if pool is not None:
            b = self.ed.bounds(pool)
            if b is not None:
                return b, LABEL_BAND + INSET, pool
        return (Bounds(anchor.x - _UNBOUNDED, anchor.y - _UNBOUNDED, 2 * _UNBOUNDED, 2 * _UNBOUNDED),
                INSET, None)

    def _pool_of(self, process: etree._Element | None) -> str | None:
        while process is not None and local(process) != "process":
            process = process.getparent()
        if process is None:
            return None
        for part in self.ed.root.iter(q("participant")):
            if part.get("processRef") == process.get("id") and part.get("id") in self.ed.di:
                return part.get("id")
        return None

    def _grow(self, container: str | None, width: float) -> Bounds | None:
        """Widen a pool (and its lanes) or a sub-process to the right; the new strip as a region."""
        if container is None:
            return None
        tag = self._tag(container)
        if tag == "lane":
            lane_b = self.ed.bounds(container)
            pool = self._pool_of(self.ed.element(container))
            targets = [pool] if pool else []
            process = self.ed.element(container)
            while process is not None and local(process) != "process":
                process = process.getparent()
            lanes = [ln.get("id") for ln in process.iter(q("lane"))] if process is not None else []
            right = max((self.ed.bounds(t).x + self.ed.bounds(t).width for t in [*targets, *lanes]
                         if self.ed.bounds(t) is not None), default=lane_b.x + lane_b.width)
            delta = width + 2 * MARGIN + 2 * INSET
            for t in [*targets, *lanes]:
                b = self.ed.bounds(t)
                if b is not None and abs(b.x + b.width - right) < 1.5:
                    self.ed.set_bounds(t, Bounds(b.x, b.y, b.width + delta, b.height))
                    if t not in self.result.widened:
                        self.result.widened.append(t)
            return Bounds(right - INSET, lane_b.y, delta + INSET, lane_b.height)
        b = self.ed.bounds(container)
        if b is None:
            return None
        delta = width + 2 * MARGIN + 2 * INSET
        self.ed.set_bounds(container, Bounds(b.x, b.y, b.width + delta, b.height))
        if container not in self.result.widened:
            self.result.widened.append(container)
        return Bounds(b.x + b.width - INSET, b.y, delta + INSET, b.height)

    def make_room(self, plane: etree._Element, cut: float, delta: float) -> None:
        """The space tool: everything right of ``cut`` moves ``delta`` to the right.

        Pools, lanes and expanded sub-processes the cut runs through are
        widened instead; edge waypoints right of the cut move with the shapes,
        so orthogonal edges stay orthogonal. Used only when a fragment fits
        nowhere near its step (the change log says what moved).
        """
        moved: list[str] = []
        for shape in plane.iterchildren(q("BPMNShape", DI_NS)):
            ref = shape.get("bpmnElement") or ""
            b = shape.find(q("Bounds", DC_NS))
            bb = _bounds(b)
            if bb is None:
                continue
            spans = bb.x < cut < bb.x + bb.width
            if spans and (self._tag(ref) in _CONTAINERS or shape.get("isExpanded") == "true"):
                b.set("width", num(bb.width + delta))
                if ref not in self.result.widened:
                    self.result.widened.append(ref)
            elif bb.x >= cut:
                b.set("x", num(bb.x + delta))
                moved.append(ref)
                if ref not in self.result.moved:
                    self.result.moved.append(ref)
        for label in plane.iter(q("BPMNLabel", DI_NS)):
            b = label.find(q("Bounds", DC_NS))
            bb = _bounds(b)
            if bb is not None and bb.x >= cut:
                b.set("x", num(bb.x + delta))
        for w in plane.iter(q("waypoint", OMGDI_NS)):
            try:
                x = float(w.get("x", 0))
            except ValueError:
                continue
            if x >= cut:
                w.set("x", num(x + delta))
        self.result.room.append((cut, delta, tuple(moved)))
        self.canvases.pop(id(plane), None)
        self.ed.forget_bounds()

    # -- choosing where a fragment goes --------------------------------------------

    def _row_y(self, lane: etree._Element | None, anchor: Bounds) -> float:
        """The middle of the row new shapes in ``lane`` line up on: the anchor's row in its own lane."""
        cy = anchor.y + anchor.height / 2
        lane_b = self.ed.bounds(lane.get("id")) if lane is not None else None
        if lane_b is None or lane_b.y <= cy <= lane_b.y + lane_b.height:
            return cy
        return lane_b.y + lane_b.height / 2

    def free_run(self, lane: etree._Element, anchor: Bounds, plane: etree._Element, removed: bool,
                 exclude: frozenset[str]) -> float:
        """How wide a row of new shapes can be in ``lane`` next to the anchor step.

        In the anchor's own lane: the gap it leaves (removed) or the gap before
        it (kept). In another lane: the free stretch of that lane's middle row
        under (or over) the anchor.
        """
        lane_b = self.ed.bounds(lane.get("id"))
        if lane_b is None:
            return 0.0
        cy = self._row_y(lane, anchor)
        own = abs(cy - (anchor.y + anchor.height / 2)) < 0.5
        x0 = anchor.x - 1 if own and not removed else anchor.x + anchor.width / 2
        left, right = self._hole(self.canvas(plane), x0, cy, exclude, anchor if own else None)
        left, right = max(left, lane_b.x + LABEL_BAND + INSET), min(right, lane_b.x + lane_b.width - INSET)
        if own and not removed:
            right = min(right, anchor.x - MARGIN)
        return max(0.0, right - left)

    def choose_lanes(self, lanes: Lanes, anchor: Bounds, plane: etree._Element, width: float, removed: bool,
                     exclude: Sequence[str]) -> Lanes:
        """Move the inquiries to the agency lane when the paper step's lane has no room for them.

        The paper step's lane is preferred (the inquiry takes the step's place);
        a service task is the agency's work, so its lane is the other right place.
        """
        if lanes.main is None or lanes.agency is None or lanes.agency is lanes.main:
            return lanes
        skip = frozenset(exclude)
        here = self.free_run(lanes.main, anchor, plane, removed, skip)
        if here >= width:
            return lanes
        there = self.free_run(lanes.agency, anchor, plane, removed, skip)
        if there > here:
            return Lanes(lanes.agency, lanes.applicant, lanes.agency)
        return lanes

    # -- placing a fragment ------------------------------------------------------

    def place_fragment(self, frag: Fragment, anchor: Bounds | None, plane: etree._Element | None,
                       removed: Sequence[str]) -> None:
        """Give every new node a shape and every new flow an edge; bend the rewired flows."""
        if anchor is None or plane is None:
            return
        exclude = frozenset(removed)
        placed: dict[str, Bounds] = {}
        cx, cy = center(anchor)
        main_lane = next((n.lane for n in frag.nodes if n.row == "main" and n.tag == "serviceTask"), None)

        def row_y(node: NewNode, offset: float = 0.0) -> float:
            return self._row_y(node.lane, anchor) + offset

        def put(node: NewNode, ideal: tuple[float, float], min_x: float | None = None) -> Bounds:
            region, inset, container = self._region(node.lane, node.id, anchor)
            w, h = node.size
            ex = exclude | ({container} if container else frozenset())
            # An inquiry keeps extra room: its boundary events stick out 18 px.
            margin = MARGIN + 20 if node.tag == "serviceTask" else MARGIN
            canvas = self.canvas(plane)
            b = canvas.place(w, h, region, ideal, min_x=min_x, left_inset=inset, margin=margin, exclude=ex)
            if b is None:
                strip = self._grow(container, w)
                if strip is not None:
                    b = canvas.place(w, h, strip, (strip.x + strip.width / 2, ideal[1]), left_inset=INSET,
                                     margin=margin, exclude=ex)
            if b is None:   # nowhere at all: next to the anchor, overlapping (never seen in practice)
                b = Bounds(round(ideal[0] - w / 2), round(ideal[1] - h / 2), w, h)
            canvas.add(b, node.id)
            placed[node.id] = b
            return b

        # A fallback in the inquiry's own lane goes under it when the lane (or sub-process)
        # is tall enough for two rows, else inline: inquiry, failure gateway, fallback, merge.
        # Parallel inquiries stack in rows the same way, or else follow each other in the row.
        canvas = self.canvas(plane)
        units = sorted({n.unit for n in frag.nodes if n.unit >= 0})
        inquiry0 = next((n for n in frag.nodes if n.tag == "serviceTask"), None)
        region0 = self._region(main_lane, inquiry0.id, anchor)[0] if inquiry0 is not None else None
        tall = region0 is None or region0.height >= 2 * ROW + 2 * INSET
        inline: set[int] = set()
        for unit in units:
            inquiry = next(n for n in frag.nodes if n.unit == unit and n.tag == "serviceTask")
            failed = next(n for n in frag.nodes if n.unit == unit and n.row == "fallback")
            if failed.lane is inquiry.lane and not tall:
                inline.add(unit)

        def unit_row(unit: int) -> list[NewNode]:
            row = [n for n in frag.nodes if n.unit == unit and n.row == "main"]
            if unit in inline:
                at = next(i for i, n in enumerate(row) if n.tag == "serviceTask") + 1
                row[at:at] = [n for n in frag.nodes if n.unit == unit and n.row == "fallback"]
            return row

        # 1. the main row, left to right: step-level nodes, the first unit (or every unit, in sequence)
        gateways = [n for n in frag.nodes if n.tag == "parallelGateway"]
        stacked = units[1:] if gateways and tall else []
        steps = [n for n in frag.nodes if n.unit == -1 and n.row == "main" and n.tag != "parallelGateway"]
        in_row = [u for u in units if u not in stacked]
        if gateways:
            # With stacked rows the join waits until they are placed: it goes after the longest.
            order = steps + gateways[:1] + [n for u in in_row for n in unit_row(u)] + ([] if stacked else gateways[1:])
        else:
            order = steps + [n for u in in_row for n in unit_row(u)]
        def width(nodes: Sequence[NewNode]) -> float:
            return sum(n.size[0] for n in nodes) + GAP * max(len(nodes) - 1, 0)

        total = width(order)
        if stacked:   # the longest stacked row, and the join after it, need room too
            total += max(0.0, max(width(unit_row(u)) for u in units) - width(unit_row(units[0])))
            total += GAP + gateways[1].size[0]
        main_y = self._row_y(main_lane, anchor)
        own_row = abs(main_y - cy) < 0.5
        kept_here = own_row and not frag.removed
        # kept step: the row must end before it, and making room moves the step itself
        cut_at_anchor = kept_here
        if kept_here:
            hole_l, hole_r = self._hole(canvas, anchor.x - 1, main_y, exclude)
        else:
            hole_l, hole_r = self._hole(canvas, cx, main_y, exclude, anchor)
            if not frag.removed and hole_r > anchor.x - MARGIN:
                hole_r, cut_at_anchor = anchor.x - MARGIN, True
        if region0 is not None:
            hole_l = max(hole_l, region0.x + LABEL_BAND + INSET)
        # The new row belongs between the step's neighbours on the path, whatever their lanes.
        for fid in frag.rewired_in:
            src = self.ed.bounds(self._end(fid, "sourceRef"))
            if src is not None and src.x + src.width <= anchor.x:
                hole_l = max(hole_l, src.x + src.width + MARGIN)
        for fid in frag.rewired_out:
            dst = self.ed.bounds(self._end(fid, "targetRef"))
            if dst is not None and dst.x >= anchor.x + anchor.width and dst.x - MARGIN < hole_r:
                hole_r, cut_at_anchor = dst.x - MARGIN, False
        in_subprocess = inquiry0 is not None and self._region(main_lane, inquiry0.id, anchor)[2] is not None and \
            self._tag(self._region(main_lane, inquiry0.id, anchor)[2]) in _GROWABLE
        if total > hole_r - hole_l and (in_subprocess or self.allow_room):
            # A sub-process too small for the row has to grow, and what lies to its right has to
            # make way; elsewhere only when asked to (Choices.make_room): by default the row is
            # spread over free space instead and nothing that was drawn moves.
            delta = float(-(-(total - (hole_r - hole_l) + GAP) // 10) * 10)
            cut = (anchor.x if cut_at_anchor else hole_r + MARGIN) - 1
            self.make_room(plane, cut, delta)
            canvas = self.canvas(plane)
            if anchor.x >= cut:
                anchor = Bounds(anchor.x + delta, anchor.y, anchor.width, anchor.height)
                cx = anchor.x + anchor.width / 2
            hole_r += delta
        start = (hole_r - total) if cut_at_anchor else min(max(hole_l, cx - total / 2), max(hole_l, hole_r - total))
        x = start
        prev_right: float | None = None
        for node in order:
            ideal = (x + node.size[0] / 2, row_y(node))
            b = put(node, ideal, min_x=None if prev_right is None else prev_right + 10)
            prev_right = b.x + b.width
            x = prev_right + GAP
        # 2. further parallel units stack below the first, under its nodes
        first_unit = unit_row(units[0]) if units else []
        for k, unit in enumerate(stacked, start=1):
            prev_right = placed[gateways[0].id].x + gateways[0].size[0]
            for i, node in enumerate(unit_row(unit)):
                twin = placed.get(first_unit[i].id) if i < len(first_unit) else None
                ideal = (center(twin)[0] if twin else prev_right + GAP + node.size[0] / 2, row_y(node, k * ROW))
                b = put(node, ideal, min_x=prev_right + 10)
                prev_right = b.x + b.width
        if stacked:
            rows = [placed[n.id] for u in units for n in unit_row(u)]
            after = max(b.x + b.width for b in rows)
            join = gateways[1]
            put(join, (after + GAP + join.size[0] / 2, row_y(join)), min_x=after + 10)
        # 3. fallbacks under their inquiry, boundary events on the side facing them
        for unit in units:
            inquiry = next(n for n in frag.nodes if n.unit == unit and n.tag == "serviceTask")
            merge = next(n for n in frag.nodes if n.unit == unit and n.role == "inquiry_merge")
            ib, mb = placed[inquiry.id], placed[merge.id]
            failed, fallback = [n for n in frag.nodes if n.unit == unit and n.row == "fallback"]
            if unit not in inline:
                same_lane = failed.lane is inquiry.lane
                offset = (stacked.index(unit) + 1) * ROW if same_lane and unit in stacked else 0.0
                fy = center(ib)[1] + ROW + offset if same_lane else row_y(failed)
                gb = put(failed, (center(ib)[0], fy))
                put(fallback, (max(center(mb)[0], gb.x + gb.width + GAP + fallback.size[0] / 2), center(gb)[1]))
            gb = placed[failed.id]
            below = unit in inline or center(gb)[1] >= center(ib)[1]
            edge_y = ib.y + ib.height if below else ib.y
            for i, ev in enumerate(n for n in frag.nodes if n.unit == unit and n.row == "boundary"):
                eb = Bounds(ib.x + 7 + 50 * i, edge_y - 18, 36, 36)
                self.canvas(plane).add(eb, ev.id)
                placed[ev.id] = eb
        self._draw(frag, placed, plane, self.canvas(plane), exclude)

    def _end(self, flow_id: str, end: str) -> str:
        flow = self.ed.element(flow_id)
        return (flow.get(end) or "").strip() if flow is not None else ""

    def _hole(self, canvas: Canvas, x0: float, cy: float, exclude: frozenset[str],
              anchor: Bounds | None = None) -> tuple[float, float]:
        """The free stretch of the row at ``cy`` around ``x0`` (the anchor itself does not count)."""
        left, right = x0 - 3000, x0 + 3000
        top, bottom = cy - 40 - MARGIN, cy + 40 + MARGIN
        # (The anchor is recognised as Bounds compare: by their four numbers.)
        same = (anchor.x, anchor.y, anchor.width, anchor.height) if anchor is not None else None
        for ox, oy, ox1, oy1, _key, o in canvas.boxes_near(left, right, exclude):
            if oy < bottom and oy1 > top:
                if same is not None and (o.x, o.y, o.width, o.height) == same:
                    continue
                if ox1 <= x0:
                    left = max(left, ox1 + MARGIN)
                elif ox >= x0:
                    right = min(right, ox - MARGIN)
                else:
                    return x0, x0
        return left, right

    def _draw(self, frag: Fragment, placed: dict[str, Bounds], plane: etree._Element, canvas: Canvas,
              exclude: frozenset[str]) -> None:
        """Shapes, then edges (new flows routed, rewired flows bent)."""
        hosts = {n.id: n.host for n in frag.nodes if n.host}
        after = None
        for node in frag.nodes:
            b = placed.get(node.id)
            if b is None:
                continue
            attrs = {"isMarkerVisible": "true"} if node.tag == "exclusiveGateway" else {}
            after = self.ed.add_shape(plane, node.id, b, after=after, **attrs)
        for fid, src, dst in frag.flows:
            sb, db = placed.get(src) or self.ed.bounds(src), placed.get(dst) or self.ed.bounds(dst)
            if sb is None or db is None:
                continue
            side = None
            if src in hosts:
                host = placed[hosts[src]]
                side = "bottom" if sb.y > host.y else "top"
            self.ed.add_edge(plane, fid, canvas.route(sb, db, from_side=side, exclude=exclude))
        entry, exit_ = placed.get(frag.entry), placed.get(frag.exit)
        for fid in frag.rewired_in:
            self._bend(fid, "sourceRef", entry, canvas, exclude)
        for fid in frag.rewired_out:
            self._bend(fid, "targetRef", exit_, canvas, exclude)

    def _bend(self, flow_id: str, far_end: str, new_end: Bounds | None, canvas: Canvas,
              exclude: frozenset[str]) -> None:
        """Give a rewired flow's edge its new end, keeping its waypoints when they make sense.

        When the edge does not even start (end) at the shape of its other end,
        the drawing was inconsistent to begin with: it is routed afresh.
        """
        pts = self.ed.edge_points(flow_id)
        flow = self.ed.element(flow_id)
        if not pts or new_end is None or flow is None:
            return
        other = self.ed.bounds((flow.get(far_end) or "").strip())
        outgoing = far_end == "sourceRef"       # the flow leaves the other shape and enters the new one
        keep_at = pts[0] if outgoing else pts[-1]
        if other is not None and not on_border(other, keep_at, 3.0):
            route = canvas.route(other, new_end, exclude=exclude) if outgoing else \
                canvas.route(new_end, other, exclude=exclude)
            self.ed.set_edge_points(flow_id, route)
        elif outgoing:
            self.ed.set_edge_points(flow_id, canvas.reconnect_end(pts, new_end, exclude))
        else:
            self.ed.set_edge_points(flow_id, canvas.reconnect_start(pts, new_end, exclude))


def _bounds(el: etree._Element | None) -> Bounds | None:
    if el is None:
        return None
    try:
        return Bounds(float(el.get("x", 0)), float(el.get("y", 0)), float(el.get("width", 0)),
                      float(el.get("height", 0)))
    except ValueError:
        return None
