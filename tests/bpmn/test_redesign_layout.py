"""The redesign keeps the diagram: nothing drawn moves, new shapes go into free space."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from bpmn.model import Bounds
from bpmn.placement import Canvas, on_border
from bpmn.redesign import Choices
from tests.bpmn.redesign_support import ALL_MODELS, OWN_MODELS, outcome, role, run

IDS = [p.stem for p in ALL_MODELS]


def _shapes(model):
    return {k: v for d in model.diagrams for k, v in d.shapes.items()}


def _edges(model):
    return {k: v for d in model.diagrams for k, v in d.edges.items()}


def _containers(model):
    ids = {p.id for p in model.participants}
    ids |= {lane for p in model.processes for lane in p.lanes}
    ids |= {n.id for p in model.processes for n in p.nodes.values() if n.tag == "subProcess"}
    return ids


def _moved_allowed(o) -> set[str]:
    """Shapes the change log says had to move (only a sub-process that grows makes room)."""
    allowed = set()
    for c in o.result.changes:
        if c.action == "make_room":
            # the reason ends with the moved ids, after the last colon, in either language
            allowed |= {part.strip(" .") for part in c.reason.rsplit(":", 1)[-1].split(",")}
    return allowed


@pytest.mark.parametrize("path", ALL_MODELS, ids=IDS)
def test_existing_shapes_keep_their_place(path: Path):
    o = outcome(path)
    old, new = _shapes(o.model), _shapes(o.new_model)
    containers = _containers(o.model)
    allowed = _moved_allowed(o)
    for element_id, shape in old.items():
        if element_id not in new:
            assert element_id in {r for c in o.result.changes for r in c.removed}, element_id
            continue
        a, b = shape.bounds, new[element_id].bounds
        if element_id in containers:
            # lanes, pools and sub-processes may only grow to the right
            assert (b.x, b.y, b.height) == (a.x, a.y, a.height) and b.width >= a.width, element_id
        elif element_id in allowed:
            assert (b.y, b.width, b.height) == (a.y, a.width, a.height) and b.x > a.x, element_id
        else:
            assert b == a, element_id


@pytest.mark.parametrize("path", ALL_MODELS, ids=IDS)
def test_existing_edges_keep_their_waypoints_but_the_rewired_end(path: Path):
    o = outcome(path)
    old, new = _edges(o.model), _edges(o.new_model)
    flows_old = {f.id: f for p in o.model.processes for f in p.flows.values()}
    flows_new = {f.id: f for p in o.new_model.processes for f in p.flows.values()}
    shifted = bool(_moved_allowed(o))
    for element_id, edge in old.items():
        if element_id not in new or shifted:
            continue
        before, after = edge.waypoints, new[element_id].waypoints
        f0, f1 = flows_old.get(element_id), flows_new.get(element_id)
        if f0 is None or (f0.source, f0.target) == (f1.source, f1.target):
            assert after == before, element_id
        elif f0.source == f1.source:
            assert after[0] == before[0], element_id      # the start stays, the end follows the new target
        elif f0.target == f1.target:
            assert after[-1] == before[-1], element_id
        shapes = _shapes(o.new_model)
        if f1 is not None and f1.source in shapes and f1.target in shapes:
            assert on_border(shapes[f1.source].bounds, after[0], 3.0), element_id
            assert on_border(shapes[f1.target].bounds, after[-1], 3.0), element_id


@pytest.mark.parametrize("path", ALL_MODELS, ids=IDS)
def test_new_shapes_overlap_nothing_and_stay_in_their_lane(path: Path):
    o = outcome(path)
    old, new = _shapes(o.model), _shapes(o.new_model)
    nodes = {n.id: n for p in o.new_model.processes for n in p.nodes.values()}
    containers = _containers(o.new_model)
    added = [k for k in new if k not in old]
    assert added
    lanes = {lid: lane for p in o.new_model.processes for lid, lane in p.lanes.items()}
    for a in added:
        node = nodes[a]
        assert role(node.element) is not None
        ba = new[a].bounds
        for b, shape in new.items():
            if b == a or b in containers or node.attached_to == b or (nodes.get(b) and nodes[b].attached_to == a):
                continue
            assert not ba.overlaps(shape.bounds), (a, b)
        if node.lane_id and node.lane_id in new:
            lane = new[node.lane_id].bounds
            assert lane.x <= ba.x and ba.x + ba.width <= lane.x + lane.width, (a, node.lane_id)
            assert lane.y <= ba.y and ba.y + ba.height <= lane.y + lane.height, (a, node.lane_id)
            assert node.lane_id in lanes
        if node.parent_id:
            box = new[node.parent_id].bounds
            assert box.x < ba.x and ba.x + ba.width < box.x + box.width, (a, node.parent_id)
        if node.attached_to:
            host = new[node.attached_to].bounds
            cx, cy = ba.x + ba.width / 2, ba.y + ba.height / 2
            assert on_border(host, (cx, cy), 1.0), a


@pytest.mark.parametrize("path", ALL_MODELS, ids=IDS)
def test_new_edges_are_orthogonal_and_touch_their_shapes(path: Path):
    o = outcome(path)
    shapes = _shapes(o.new_model)
    flows = {f.id: f for p in o.new_model.processes for f in p.flows.values()}
    edges = _edges(o.new_model)
    new_flows = [f for f in flows.values() if role(f.element) is not None]
    assert new_flows
    for flow in new_flows:
        assert flow.id in edges, flow.id
        pts = edges[flow.id].waypoints
        assert len(pts) >= 2
        for (x0, y0), (x1, y1) in itertools.pairwise(pts):
            assert x0 == x1 or y0 == y1, flow.id
        assert on_border(shapes[flow.source].bounds, pts[0], 1.0), flow.id
        assert on_border(shapes[flow.target].bounds, pts[-1], 1.0), flow.id


def test_a_growing_subprocess_makes_room_and_says_what_moved():
    o = outcome(OWN_MODELS / "subprocess.bpmn")
    change = next(c for c in o.result.changes if c.action == "make_room")
    moved = _moved_allowed(o)
    assert moved == {"sub_end", "t_done", "end"}
    old, new = _shapes(o.model), _shapes(o.new_model)
    deltas = {new[m].bounds.x - old[m].bounds.x for m in moved}
    assert len(deltas) == 1 and deltas.pop() > 0
    assert new["Sub_1"].bounds.width > old["Sub_1"].bounds.width
    assert "Sub_1" in change.reason
    # everything new in the sub-process is drawn inside it
    inside = [n for n in o.new_model.processes[0].nodes.values() if role(n.element) and n.parent_id == "Sub_1"]
    assert len(inside) >= 6


def test_a_full_lane_is_used_without_moving_anything():
    o = outcome(OWN_MODELS / "crowded_lane.bpmn")
    assert not _moved_allowed(o)
    lane = _shapes(o.new_model)["Lane_A"].bounds
    for n in o.new_model.processes[0].nodes.values():
        if role(n.element) and not n.attached_to:
            b = _shapes(o.new_model)[n.id].bounds
            assert lane.y <= b.y and b.y + b.height <= lane.y + lane.height


def test_canvas_finds_the_nearest_free_room_or_none():
    canvas = Canvas([(Bounds(100, 100, 100, 80), "a"), (Bounds(260, 100, 100, 80), "b")])
    region = Bounds(0, 80, 600, 120)
    b = canvas.place(100, 80, region, (230, 140))
    assert b is not None and not any(b.overlaps(o) for o in (Bounds(100, 100, 100, 80), Bounds(260, 100, 100, 80)))
    assert b.y >= 90 and b.y + 80 <= 190
    assert canvas.place(100, 80, Bounds(95, 90, 270, 100), (230, 140)) is None
    freed = canvas.place(100, 80, Bounds(95, 90, 270, 100), (230, 140), exclude=frozenset({"a"}))
    assert freed is not None and freed.x + 100 <= 245


def test_routes_go_around_shapes_in_the_way():
    wall = Bounds(200, 0, 40, 200)
    canvas = Canvas([(wall, "wall")])
    pts = canvas.route(Bounds(0, 60, 100, 80), Bounds(400, 60, 100, 80))
    assert canvas.crossings(pts) == 0
    assert all(x0 == x1 or y0 == y1 for (x0, y0), (x1, y1) in itertools.pairwise(pts))
    straight = Canvas().route(Bounds(0, 60, 100, 80), Bounds(400, 60, 100, 80))
    assert straight == [(100, 100), (400, 100)]


@pytest.mark.parametrize("path", ALL_MODELS, ids=IDS)
def test_make_room_keeps_the_new_steps_between_their_neighbours(path: Path):
    o = run(path, Choices(make_room=True))
    old, new = _shapes(o.model), _shapes(o.new_model)
    moved = {k for k in old if k in new and old[k].bounds.x != new[k].bounds.x and k not in _containers(o.model)}
    changes = [c for c in o.result.changes if c.action == "make_room"]
    assert bool(moved) == bool(changes)
    assert moved <= _moved_allowed(o)
    for k in moved:   # shifted right only, never up or down, never resized
        a, b = old[k].bounds, new[k].bounds
        assert b.x > a.x and (a.y, a.width, a.height) == (b.y, b.width, b.height)
    nodes = {n.id: n for p in o.new_model.processes for n in p.nodes.values()}
    flows = {f.id: f for p in o.new_model.processes for f in p.flows.values()}
    # the main path reads left to right: each new step on it starts right of where its predecessor ends
    for f in flows.values():
        src, dst = nodes.get(f.source), nodes.get(f.target)
        if src is None or dst is None or role(src.element) in (None, "inquiry_error", "inquiry_timeout") \
                or role(src.element) in ("fallback_join", "inquiry_fallback"):
            continue
        if role(src.element) == "consent_gateway" and f.id == src.default_flow:
            continue
        if role(dst.element) in ("fallback_join", "inquiry_fallback"):
            continue
        assert new[dst.id].bounds.x >= new[src.id].bounds.x + new[src.id].bounds.width - 1, f.id
    for a in (k for k in new if k not in old):
        for b, shape in new.items():
            if a == b or b in _containers(o.new_model) or nodes[a].attached_to == b or \
                    (b in nodes and nodes[b].attached_to == a):
                continue
            assert not new[a].bounds.overlaps(shape.bounds), (a, b)
