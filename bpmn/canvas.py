"""What one rendering draws into: layers, the model's elements by id, extents.

A :class:`Canvas` is built once per :func:`bpmn.render.render_svg` call and
handed to the shape and edge painters. Its :class:`Index` holds every BPMN
element of the file by id (text annotations, groups and associations
included, which the typed model does not expose); the canvas keeps the running
bounding box of what was drawn, labels included, from which the ``viewBox`` is
computed, and the shapes that labels should avoid.
"""

from __future__ import annotations

from lxml import etree

from bpmn.load import BPMN_NS
from bpmn.model import FlowNode, Model, SequenceFlow
from bpmn.svg import Node, add, block_height
from bpmn.textlayout import text_width

LAYERS = ("pools", "lanes", "containers", "edges", "nodes", "badges")

_BPMN_PREFIX = f"{{{BPMN_NS}}}"
# The root and everything under it, as "//" would select from the document; libxml2 runs
# "//" many times slower on large files.
_BPMN_WITH_ID = etree.XPath("descendant-or-self::b:*[@id]", namespaces={"b": BPMN_NS})
_IN_DOCUMENT = etree.XPath("//b:*[@id]", namespaces={"b": BPMN_NS})   # a root inside a larger document


class Index:
    """Every BPMN-namespace element of the file that has an id: the element and its local tag."""

    def __init__(self, model: Model) -> None:
        self.element: dict[str, etree._Element] = {}
        self.tag: dict[str, str] = {}
        # XPath selects in C: no Python proxy for the thousands of id-less
        # children (incoming, outgoing...) of a large model.
        root = model.source.root
        found = _BPMN_WITH_ID(root) if root.getparent() is None else _IN_DOCUMENT(root)
        element, tag = self.element, self.tag
        for el in found:
            eid = el.get("id")
            if eid not in element:
                element[eid] = el
                tag[eid] = el.tag.rpartition("}")[2]

    def add(self, key: str, el: etree._Element) -> None:
        """Register an element under a made-up key (an id-less association)."""
        self.element[key] = el
        self.tag[key] = local(el)


def local(el: etree._Element | None) -> str:
    """Local tag name ('' for None, comments and PIs)."""
    if el is None or not isinstance(el.tag, str):
        return ""
    return el.tag.rpartition("}")[2]


class Canvas:
    """Layers of one SVG plus lookups the painters need."""

    def __init__(self, parent: Node, model: Model, index: Index, expanded: frozenset[str]) -> None:
        self.layers = {name: add(parent, "g", {"class": f"layer-{name}"}) for name in LAYERS}
        self.model = model
        self.elements = index.element
        self.tags = index.tag
        self.expanded = expanded
        self.nodes: dict[str, FlowNode] = {}
        self.flows: dict[str, SequenceFlow] = {}
        for p in model.processes:
            self.nodes.update(p.nodes)
            self.flows.update(p.flows)
        # Widths for labels below shapes that sit close together (render fills it).
        self.label_width: dict[str, float] = {}
        self._cells: dict[tuple[int, int], list[tuple[float, float, float, float, str]]] = {}
        self.min_x = self.min_y = float("inf")
        self.max_x = self.max_y = float("-inf")

    def grow(self, x0: float, y0: float, x1: float, y1: float) -> None:
        """Extend the drawn extent by a rectangle."""
        self.min_x = min(self.min_x, x0, x1)
        self.min_y = min(self.min_y, y0, y1)
        self.max_x = max(self.max_x, x0, x1)
        self.max_y = max(self.max_y, y0, y1)

    def grow_text(self, lines: list[str], cx: float, top: float, font_size: float) -> None:
        """Extend the extent by a centred text block."""
        if not lines:
            return
        half = max(text_width(line, font_size) for line in lines) / 2
        self.grow(cx - half, top, cx + half, top + block_height(len(lines), font_size))

    def add_obstacle(self, x0: float, y0: float, x1: float, y1: float, element_id: str) -> None:
        """Register a shape that labels should not cover."""
        box = (x0, y0, x1, y1, element_id)
        for key in self._keys(x0, y0, x1, y1):
            self._cells.setdefault(key, []).append(box)

    def hits(self, x0: float, y0: float, x1: float, y1: float, exclude: str) -> bool:
        """True when the rectangle overlaps a registered shape other than ``exclude``."""
        for key in self._keys(x0, y0, x1, y1):
            for a0, b0, a1, b1, eid in self._cells.get(key, ()):
                if eid != exclude and a0 < x1 and x0 < a1 and b0 < y1 and y0 < b1:
                    return True
        return False

    @staticmethod
    def _keys(x0: float, y0: float, x1: float, y1: float) -> list[tuple[int, int]]:
        cell = 150.0
        return [(i, j) for i in range(int(x0 // cell), int(x1 // cell) + 1)
                for j in range(int(y0 // cell), int(y1 // cell) + 1)]

    @property
    def empty(self) -> bool:
        return self.min_x == float("inf")

    def name_of(self, element_id: str) -> str:
        """The display text of an element: its name, an annotation's text, a group's category."""
        el = self.elements.get(element_id)
        if el is None:
            return ""
        tag = self.tags.get(element_id, "")
        if tag == "textAnnotation":
            t = el.find(f"{_BPMN_PREFIX}text")
            return "".join(t.itertext()) if t is not None else ""
        if tag == "group":
            ref = el.get("categoryValueRef")
            cv = self.elements.get(ref.rpartition(":")[2]) if ref else None
            return (cv.get("value") or "") if cv is not None else (el.get("name") or "")
        name = el.get("name") or ""
        if not name and tag == "dataObjectReference":
            target = self.elements.get(el.get("dataObjectRef") or "")
            name = (target.get("name") or "") if target is not None else ""
        if tag in ("dataObjectReference", "dataStoreReference", "dataObject", "dataInput", "dataOutput"):
            state = el.find(f"{_BPMN_PREFIX}dataState")
            if state is not None and state.get("name"):
                name = f"{name} [{state.get('name')}]"
        return name
