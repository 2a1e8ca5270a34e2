"""The fast paths of the pipeline give what the plain ways gave.

The redesign and drawing of large models were sped up by taking shortcuts that
must not change a byte of output: the SVG is written as text instead of by
lxml, dominator lists are filtered early and memoised, element counts and
depth are asked of XPath before walking, the garbage collector is paused while
large structures are built. Each shortcut is checked here against the way it
replaces.
"""

from __future__ import annotations

import gc
import itertools
import random
from pathlib import Path

import pytest
from lxml import etree

from bpmn.errors import LoadError
from bpmn.gcpause import paused_gc
from bpmn.inquiryplan import FlowGraph
from bpmn.load import Limits, load_bytes, load_path
from bpmn.model import Bounds, FlowNode, Process, read_model
from bpmn.placement import Canvas
from bpmn.svg import (
    FONT_SIZE,
    SVG_NS,
    Node,
    add,
    circle,
    clean_multiline,
    group,
    num,
    path,
    polyline,
    polyline_d,
    rect,
    text_lines,
    to_string,
)
from bpmn.textlayout import clean, is_rtl
from tests.bpmn.redesign_support import ALL_MODELS

IDS = [p.stem for p in ALL_MODELS]

TRICKY = ["plain", "", " ", "a&b", "<tag>", 'say "hi"', "it's", "]]>", "line\nbreak", "tab\there", "cr\rhere",
          "«فارسی» ‌ نیم‌فاصله", "\u00a0nbsp", "emoji 😀", "&amp; already", "\x7f\x85"]


def test_svg_text_is_written_as_lxml_writes_it():
    rng = random.Random(7)
    ns = f"{{{SVG_NS}}}"
    root = Node("svg", {"viewBox": "0 0 10 10"})
    twin = etree.Element(f"{ns}svg", {"viewBox": "0 0 10 10"}, nsmap={None: SVG_NS})
    pairs = [(root, twin)]
    for i in range(300):
        parent, parent_twin = rng.choice(pairs)
        tag = rng.choice(["g", "text", "title", "rect"])
        attrs = {f"a{k}": rng.choice(TRICKY) for k in range(rng.randrange(4))}
        node, el = add(parent, tag, attrs), etree.SubElement(parent_twin, f"{ns}{tag}", attrs)
        if rng.random() < 0.6:
            node.text = el.text = rng.choice(TRICKY)
        if rng.random() < 0.3:
            value = rng.choice(TRICKY)   # replaces in place, or adds at the end
            node.set("a0", value)
            el.set("a0", value)
        pairs.append((node, el))
        if i % 50 == 0:
            value = rng.choice(TRICKY)
            root.set("late", value)
            twin.set("late", value)
    assert to_string(root) == etree.tostring(twin, encoding="unicode")


class _LxmlDrawing:
    """The svg helpers as they were first written, on an lxml tree."""

    def __init__(self) -> None:
        self.root = etree.Element(f"{{{SVG_NS}}}svg", nsmap={None: SVG_NS})

    @staticmethod
    def el(parent: etree._Element, tag: str, attrs: dict[str, str]) -> etree._Element:
        return etree.SubElement(parent, f"{{{SVG_NS}}}{tag}", attrs)

    def group(self, cls: str, element_id: str, title: str) -> etree._Element:
        attrs = {"class": cls}
        if element_id:
            attrs["data-element-id"] = clean(element_id)
        g = self.el(self.root, "g", attrs)
        if title:
            self.el(g, "title", {}).text = clean_multiline(title)
        return g

    def text_lines(self, parent: etree._Element, lines: list[str], cx: float, top: float, cls: str,
                   full_text: str | None) -> None:
        if not lines:
            return
        attrs = {"x": num(cx), "y": num(top + FONT_SIZE * 0.95), "class": cls}
        if is_rtl(full_text if full_text is not None else lines[0]):
            attrs["direction"] = "rtl"
            attrs["unicode-bidi"] = "embed"
        t = self.el(parent, "text", attrs)
        if len(lines) == 1:
            t.text = lines[0]
            return
        for i, line in enumerate(lines):
            span = self.el(t, "tspan", {"x": attrs["x"], "dy": num(FONT_SIZE * 1.25)} if i else {"x": attrs["x"]})
            span.text = line

    def shapes(self, parent: etree._Element, x: float, y: float, cls: str, rx: float, d: str) -> None:
        attrs = {"x": num(x), "y": num(y), "width": num(10), "height": num(0), "class": cls}
        if rx:
            attrs["rx"] = num(rx)
        self.el(parent, "rect", attrs)
        self.el(parent, "circle", {"cx": num(x), "cy": num(y), "r": num(3), "class": cls})
        self.el(parent, "path", {"d": d, "class": cls})
        self.el(parent, "path", {"d": polyline_d([(x, y), (y, x)]), "class": cls})


def test_groups_labels_and_shapes_are_written_as_lxml_wrote_them():
    rng = random.Random(3)
    mine, theirs = Node("svg"), _LxmlDrawing()
    for _ in range(300):
        cls, eid = rng.choice(TRICKY) + " x", rng.choice(TRICKY)
        title = rng.choice([*TRICKY, "a\nb", "\n\n c ", "x" * 2100])
        lines = [rng.choice(TRICKY) for _ in range(rng.randrange(4))]
        x, y, rx = rng.choice([0, 1.5, -2.25, 1e6, 0.05]), rng.choice([3, 7.75]), rng.choice([0, 4])
        full = rng.choice([None, "فارسی", "Latin", ""])
        d = rng.choice(TRICKY)
        g = group(mine, cls, eid, title)
        text_lines(g, lines, x, y, cls, full_text=full)
        rect(g, x, y, 10, -1, cls, rx=rx)
        circle(g, x, y, 3, cls)
        path(g, d, cls)
        polyline(g, [(x, y), (y, x)], cls)
        tg = theirs.group(cls, eid, title)
        theirs.text_lines(tg, lines, x, y, cls, full)
        theirs.shapes(tg, x, y, cls, rx, d)
    assert to_string(mine) == etree.tostring(theirs.root, encoding="unicode")


@pytest.mark.parametrize("bad", ["a\x00b", "\x01", "x\x1fy", "\ufffe", "\uffff"])
def test_svg_refuses_what_lxml_refuses(bad: str):
    with pytest.raises(ValueError, match="XML compatible"):
        Node("g", {"class": bad})
    node = add(Node("svg"), "title")
    node.text = bad
    with pytest.raises(ValueError, match="XML compatible"):
        to_string(node)


def _dominators_plainly(graph: FlowGraph, process: Process, node: FlowNode) -> list[FlowNode]:
    """FlowGraph.dominators as it was first written: set bits one by one, sorted by set size."""
    out = []
    current = node
    while current is not None:
        ids, dom = graph._level(process, current.parent_id)
        mask = dom.get(current.id, 0)
        mine = []
        while mask:
            low = mask & -mask
            nid = ids[low.bit_length() - 1]
            if nid != current.id:
                mine.append(nid)
            mask ^= low
        mine.sort(key=lambda nid: -dom[nid].bit_count())
        out.extend(process.nodes[nid] for nid in mine)
        current = process.nodes.get(current.parent_id) if current.parent_id else None
    return out


@pytest.mark.parametrize("path", ALL_MODELS, ids=IDS)
def test_dominators_with_form_are_the_dominators_that_have_one(path: Path):
    model = read_model(load_path(path)[0])
    graph, plain = FlowGraph(model), FlowGraph(model)
    for proc in model.processes:
        for node in proc.nodes.values():
            every = _dominators_plainly(plain, proc, node)
            assert graph.dominators(proc, node, with_form=True) == [d for d in every if d.form is not None]
            assert graph.dominators(proc, node) == every
            graph.dominators(proc, node).clear()   # callers get their own list
            assert graph.dominators(proc, node) == every


def _crossings_plainly(obstacles: list[tuple[Bounds, str]], points: list[tuple[float, float]],
                       exclude: frozenset[str]) -> int:
    """Canvas.crossings as it was first written: every obstacle, every leg, by the definition."""
    def inside(b: Bounds, p: tuple[float, float]) -> bool:
        return b.x + 1 < p[0] < b.x + b.width - 1 and b.y + 1 < p[1] < b.y + b.height - 1

    count = 0
    for a, b in itertools.pairwise(points):
        x0, x1 = sorted((a[0], b[0]))
        y0, y1 = sorted((a[1], b[1]))
        for o, key in obstacles:
            if key in exclude or o.x + o.width < x0 or o.x > x1:
                continue
            hits = x0 < o.x + o.width - 1 and x1 > o.x + 1 and y0 < o.y + o.height - 1 and y1 > o.y + 1
            if o.y < y1 and o.y + o.height > y0 and hits and not inside(o, a) and not inside(o, b):
                count += 1
    return count


def test_crossings_and_routes_are_what_the_plain_count_gives():
    rng = random.Random(11)
    for _ in range(200):
        obstacles = [(Bounds(rng.randrange(0, 600, 5), rng.randrange(0, 400, 5), rng.choice([36, 50, 100, 300]),
                             rng.choice([36, 50, 80, 200])), f"o{i}") for i in range(rng.randrange(1, 25))]
        canvas = Canvas(obstacles)
        exclude = frozenset(rng.sample([k for _b, k in obstacles], rng.randrange(2)))
        for _ in range(10):
            pts = [(rng.randrange(-50, 700, 5), rng.randrange(-50, 500, 5))]
            for _ in range(rng.randrange(1, 5)):   # orthogonal legs, as routes have
                x, y = pts[-1]
                pts.append((rng.randrange(-50, 700, 5), y) if rng.random() < 0.5 else (x, rng.randrange(-50, 500, 5)))
            assert canvas.crossings(pts, exclude) == _crossings_plainly(obstacles, pts, exclude)
        # best_route stops counting a candidate's crossings once it has lost: it still picks
        # the candidate with the lowest cost, the first of them on a tie.
        cands = []
        for _ in range(rng.randrange(1, 12)):
            pts = [(rng.randrange(0, 600, 5), rng.randrange(0, 400, 5))]
            for _ in range(rng.randrange(1, 5)):
                x, y = pts[-1]
                pts.append((rng.randrange(0, 600, 5), y) if rng.random() < 0.5 else (x, rng.randrange(0, 400, 5)))
            cands.append((pts, rng.choice([0.0, 80.0])))
        costs = [(penalty + 25 * (len(pts) - 2)
                  + sum(abs(a[0] - b[0]) + abs(a[1] - b[1]) for a, b in itertools.pairwise(pts))
                  + 10_000 * _crossings_plainly(obstacles, pts, exclude), i) for i, (pts, penalty) in enumerate(cands)]
        chosen = cands[min(costs)[1]][0]
        assert canvas.best_route(cands, exclude) == _simplify_plainly(chosen)


def _simplify_plainly(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """placement._simplify as it was first written."""
    out: list[tuple[float, float]] = []
    for p in points:
        p = (round(p[0], 1), round(p[1], 1))
        if out and abs(out[-1][0] - p[0]) < 0.05 and abs(out[-1][1] - p[1]) < 0.05:
            continue
        if len(out) >= 2:
            a, b = out[-2], out[-1]
            if (abs(a[0] - b[0]) < 0.05 and abs(b[0] - p[0]) < 0.05) or \
               (abs(a[1] - b[1]) < 0.05 and abs(b[1] - p[1]) < 0.05):
                out[-1] = p
                continue
        out.append(p)
    return out


def _model(depth: int, elements: int = 0) -> bytes:
    body = "<bpmn:documentation>" + "<a>" * depth + "</a>" * depth + "</bpmn:documentation>"
    body += "".join(f'<bpmn:task id="t{i}"/>' for i in range(elements))
    return ('<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">'
            f'<bpmn:process id="p">{body}</bpmn:process></bpmn:definitions>').encode()


@pytest.mark.parametrize(("depth", "limit", "refused"), [(7, 10, False), (8, 10, True), (197, 200, False),
                                                          (198, 200, True), (2, 1, True), (0, 0, True)])
def test_depth_limit_is_exact(depth: int, limit: int, refused: bool):
    # definitions, process and documentation hold the <a> elements: depth + 3 levels in all
    if refused:
        with pytest.raises(LoadError) as info:
            load_bytes(_model(depth), "m.bpmn", limits=Limits(max_depth=limit))
        assert info.value.code == "xml.depth"
    else:
        load_bytes(_model(depth), "m.bpmn", limits=Limits(max_depth=limit))


@pytest.mark.parametrize(("elements", "refused"), [(96, False), (97, True)])
def test_element_limit_is_exact(elements: int, refused: bool):
    data = _model(0, elements)   # definitions, process, documentation and the tasks
    if refused:
        with pytest.raises(LoadError) as info:
            load_bytes(data, "m.bpmn", limits=Limits(max_elements=99))
        assert info.value.code == "size.elements"
    else:
        load_bytes(data, "m.bpmn", limits=Limits(max_elements=99))


def test_paused_gc_leaves_the_collector_as_it_found_it():
    seen = []

    @paused_gc
    def probe(fail: bool = False) -> None:
        seen.append(gc.isenabled())
        if fail:
            raise RuntimeError("boom")

    assert gc.isenabled()
    probe()
    with pytest.raises(RuntimeError):
        probe(fail=True)
    assert gc.isenabled() and seen == [False, False]
    gc.disable()
    try:
        probe()
        assert not gc.isenabled()
    finally:
        gc.enable()
