"""XML surgery for a redesign: a copy of the model tree and careful, minimal edits to it.

:class:`Editor` copies the loaded tree once and offers the few operations a
redesign needs: new flow nodes and sequence flows inserted next to the step
they replace, flows pointed at new ends, elements removed together with their
lane references and diagram entries, lane membership, and BPMNDI shapes and
edges. Everything else in the file (comments, vendor extensions, the order and
indentation of untouched elements) is left exactly as it was.

New elements carry ``panjereh:role`` (and ``panjereh:replaces``) attributes in
Panjereh's namespace, declared once on the root, so tools and the detector can
tell what the redesign added. :meth:`Editor.serialize` writes UTF-8 with the
XML declaration, keeping comments and processing instructions around the root.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Sequence

from lxml import etree

from bpmn.load import BPMN_NS, CAMUNDA_NS, SPIFF_NS, parse_xml
from bpmn.model import DC_NS, DI_NS, OMGDI_NS, PANJEREH_NS, Bounds, local

XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
PREFERRED_PREFIX = {PANJEREH_NS: "panjereh", SPIFF_NS: "spiffworkflow", CAMUNDA_NS: "camunda", XSI_NS: "xsi"}
_NCNAME_BAD = re.compile(r"[^\w.\-]", re.UNICODE)
# Where <incoming>/<outgoing> go among a flow node's children (BPMN 2.0 XSD order).
_BEFORE_REFS = ("documentation", "extensionElements", "auditing", "monitoring", "categoryValueRef")


def q(tag: str, ns: str = BPMN_NS) -> str:
    """A Clark-notation tag name (BPMN namespace by default)."""
    return f"{{{ns}}}{tag}"


_SHAPE = q("BPMNShape", DI_NS)
_BOUNDS = q("Bounds", DC_NS)
_ALL_IDS = etree.XPath("descendant-or-self::*/@id", smart_strings=False)
# BPMN elements with an id, except inside extensionElements (vendor data may reuse BPMN names).
# "descendant-or-self", not "//": libxml2 evaluates the latter many times slower.
_BPMN_WITH_ID = etree.XPath(
    "descendant-or-self::b:*[@id and string-length(@id) > 0][not(ancestor::*[local-name() = 'extensionElements'])]",
    namespaces={"b": BPMN_NS})


def all_ids(root: etree._Element) -> list[str]:
    """The ``id`` of every element of ``root``'s tree, in document order (repeats included)."""
    return _ALL_IDS(root)


class Editor:
    """A private copy of one model's tree and the edits a redesign makes to it."""

    def __init__(self, root: etree._Element, namespaces: Sequence[str] = ()) -> None:
        self._before = [copy.copy(s) for s in reversed(list(root.itersiblings(preceding=True)))]
        self._after = [copy.copy(s) for s in root.itersiblings()]
        self.root = _copy_declaring(root, namespaces)
        # XPath selects in C: no Python proxy for the thousands of id-less elements of a large model.
        self.ids: set[str] = set(_ALL_IDS(self.root))
        self.ids.discard("")
        self.by_id: dict[str, etree._Element] = {}
        for el in _BPMN_WITH_ID(self.root):
            self.by_id.setdefault(el.get("id"), el)
        self.di: dict[str, etree._Element] = {}
        self._all_di: dict[str, list[etree._Element]] = {}
        for el in self.root.iter(q("BPMNShape", DI_NS), q("BPMNEdge", DI_NS)):
            ref = el.get("bpmnElement")
            if ref:
                self.di.setdefault(ref, el)
                self._all_di.setdefault(ref, []).append(el)
        self._bounds: dict[str, Bounds | None] = {}
        # Indexes kept up to date by the editing methods: large models are edited many times.
        self._lane_refs: dict[str, list[etree._Element]] = {}
        for ref in self.root.iter(q("flowNodeRef")):
            self._lane_refs.setdefault((ref.text or "").strip(), []).append(ref)
        self._last_ref: dict[etree._Element, etree._Element] = {}
        self._last_shape: dict[etree._Element, etree._Element] = {}
        self._flows: dict[tuple[str, str], list[etree._Element]] = {}
        for flow in self.root.iter(q("sequenceFlow")):
            for end in ("sourceRef", "targetRef"):
                self._flows.setdefault((end, (flow.get(end) or "").strip()), []).append(flow)
        self.indent_unit = self._indent_unit()

    # -- namespaces and ids ------------------------------------------------

    def prefix(self, uri: str) -> str | None:
        """The prefix bound to ``uri`` on the root (None: the default namespace or not declared)."""
        return next((p for p, u in self.root.nsmap.items() if u == uri), None)

    def new_id(self, base: str) -> str:
        """A fresh id starting with ``base`` (made a valid NCName), unique in the file."""
        base = _NCNAME_BAD.sub("_", base)
        if not base or not (base[0].isalpha() or base[0] == "_"):
            base = f"id_{base}"
        candidate, n = base, 1
        while candidate in self.ids:
            n += 1
            candidate = f"{base}_{n}"
        self.ids.add(candidate)
        return candidate

    # -- indentation ---------------------------------------------------------

    def _indent_unit(self) -> str | None:
        text = self.root.text or ""
        if "\n" not in text:
            return None
        unit = text.rsplit("\n", 1)[1]
        return unit if unit and not unit.strip() else None

    def _depth(self, el: etree._Element) -> int:
        return sum(1 for _ in el.iterancestors())

    def tidy(self, el: etree._Element) -> None:
        """Indent a new subtree like its pretty-printed neighbours (a one-line file stays one line)."""
        if self.indent_unit is None or next(el.iterchildren(), None) is None:
            return
        tail = el.tail
        etree.indent(el, space=self.indent_unit, level=self._depth(el))
        el.tail = tail

    def insert_after(self, anchor: etree._Element, el: etree._Element) -> etree._Element:
        """Put ``el`` right after ``anchor``, indented like it (the closing indentation moves to ``el``)."""
        if anchor.getnext() is None and anchor.getparent() is not None:
            prev = anchor.getprevious()
            between = prev.tail if prev is not None else anchor.getparent().text
            el.tail = anchor.tail
            if between is not None and not between.strip():
                anchor.tail = between
        else:
            el.tail = anchor.tail
        anchor.addnext(el)
        self.tidy(el)
        return el

    def append_child(self, parent: etree._Element, el: etree._Element) -> etree._Element:
        """Append ``el`` as the last child of ``parent``, indented like its siblings."""
        # parent[-1], not len(parent): lxml counts children one by one.
        try:
            last = parent[-1]
        except IndexError:
            last = None
        while last is not None and not isinstance(last.tag, str):
            last = last.getprevious()
        if last is not None:
            return self.insert_after(last, el)
        if self.indent_unit is not None:
            depth = self._depth(parent)
            parent.text = "\n" + self.indent_unit * (depth + 1)
            el.tail = "\n" + self.indent_unit * depth
        parent.append(el)
        self.tidy(el)
        return el

    # -- semantic elements ------------------------------------------------

    def element(self, element_id: str) -> etree._Element | None:
        """The BPMN element with this id in the copy."""
        return self.by_id.get(element_id)

    def make(self, tag: str, element_id: str | None = None, name: str | None = None,
             ns: str = BPMN_NS, **attrs: str) -> etree._Element:
        """A new element (not yet in the tree)."""
        el = self.root.makeelement(q(tag, ns), {})
        if element_id:
            el.set("id", element_id)
            self.by_id[element_id] = el
        if name:
            el.set("name", name)
        for key, value in attrs.items():
            el.set(key, value)
        return el

    def mark(self, el: etree._Element, role: str, replaces: str | None = None, **extra: str) -> None:
        """Tag an element the redesign added with its role (and the step it stands in for)."""
        el.set(q("role", PANJEREH_NS), role)
        if replaces:
            el.set(q("replaces", PANJEREH_NS), replaces)
        for key, value in extra.items():
            el.set(q(key, PANJEREH_NS), value)

    def remove(self, el: etree._Element) -> None:
        """Take an element out of the tree, keeping the layout of what follows."""
        parent = el.getparent()
        if parent is None:
            return
        prev = el.getprevious()
        if prev is not None:
            prev.tail = el.tail if el.getnext() is None else prev.tail
        elif el.getnext() is None:
            parent.text = el.tail if el.tail and el.tail.strip() == "" else parent.text
        parent.remove(el)
        if el.get("id") and self.by_id.get(el.get("id")) is el:
            del self.by_id[el.get("id")]

    def set_refs(self, node: etree._Element, kind: str, flow_ids: Sequence[str]) -> None:
        """Make a flow node list exactly ``flow_ids`` as its ``incoming`` (or ``outgoing``) flows.

        Existing entries keep their place; new ones go where the XSD wants them.
        """
        existing = list(node.iterchildren(q(kind)))
        for el, fid in zip(existing, flow_ids, strict=False):
            el.text = fid
        for el in existing[len(flow_ids):]:
            self.remove(el)
        if len(flow_ids) <= len(existing):
            return
        anchor = existing[-1] if existing else None
        if anchor is None and kind == "outgoing":
            incoming = list(node.iterchildren(q("incoming")))
            anchor = incoming[-1] if incoming else None
        for fid in flow_ids[len(existing):]:
            el = self.make(kind)
            el.text = fid
            if anchor is not None:
                self.insert_after(anchor, el)
            else:
                index = 0
                for i, child in enumerate(node):
                    if isinstance(child.tag, str) and local(child) in _BEFORE_REFS:
                        index = i + 1
                node.insert(index, el)
                if self.indent_unit is not None and len(node) > 1:
                    el.tail = node[index - 1].tail if index else node.text
            anchor = el

    def flows_of(self, node_id: str, end: str) -> list[etree._Element]:
        """Sequence flows whose ``end`` (``sourceRef``/``targetRef``) is the node.

        Wherever they are written: some tools put a sub-process's flows at the process level.
        """
        return [f for f in self._flows.get((end, node_id), ()) if f.getparent() is not None]

    def set_flow_end(self, flow: etree._Element, end: str, node_id: str) -> None:
        """Point a sequence flow's ``sourceRef`` or ``targetRef`` at another node."""
        old = (flow.get(end) or "").strip()
        bucket = self._flows.get((end, old), [])
        if flow in bucket:
            bucket.remove(flow)
        flow.set(end, node_id)
        self._flows.setdefault((end, node_id), []).append(flow)

    def register_flow(self, flow: etree._Element) -> None:
        """Index a new sequence flow."""
        for end in ("sourceRef", "targetRef"):
            self._flows.setdefault((end, flow.get(end) or ""), []).append(flow)

    # -- lanes -------------------------------------------------------------

    def lane_of(self, node_id: str) -> etree._Element | None:
        """The innermost lane listing the node."""
        refs = [r for r in self._lane_refs.get(node_id, ()) if r.getparent() is not None]
        return refs[-1].getparent() if refs else None

    def add_to_lane(self, lane: etree._Element | None, node_id: str) -> None:
        """List a new node in a lane (after its other flowNodeRefs)."""
        if lane is None:
            return
        ref = self.make("flowNodeRef")
        ref.text = node_id
        last = self._last_ref.get(lane)
        if last is None or last.getparent() is not lane:
            refs = list(lane.iterchildren(q("flowNodeRef")))
            last = refs[-1] if refs else None
        if last is not None:
            self.insert_after(last, ref)
        else:
            index = 1 if len(lane) and local(lane[0]) == "partitionElementRef" else 0
            lane.insert(index, ref)
        self._lane_refs.setdefault(node_id, []).append(ref)
        self._last_ref[lane] = ref

    def drop_from_lanes(self, node_id: str) -> None:
        """Remove a node's flowNodeRefs from every lane."""
        for ref in self._lane_refs.pop(node_id, []):
            self.remove(ref)

    # -- diagram -------------------------------------------------------------

    def bounds(self, element_id: str) -> Bounds | None:
        """The diagram bounds of an element's shape."""
        # Remembered: the layout asks for the same lanes and neighbours again and again.
        # Every change of a shape goes through this class, or is followed by forget_bounds().
        try:
            return self._bounds[element_id]
        except KeyError:
            pass
        found = None
        shape = self.di.get(element_id)
        if shape is not None and local(shape) == "BPMNShape":
            b = next(shape.iterchildren(_BOUNDS), None)
            if b is not None:
                try:
                    found = Bounds(float(b.get("x", 0)), float(b.get("y", 0)), float(b.get("width", 0)),
                                   float(b.get("height", 0)))
                except ValueError:
                    found = None
        self._bounds[element_id] = found
        return found

    def forget_bounds(self) -> None:
        """Shapes were moved behind the editor's back (the layout making room): read them again."""
        self._bounds.clear()

    def set_bounds(self, element_id: str, bounds: Bounds) -> None:
        """Move or resize an existing shape (used only to widen lanes and pools)."""
        b = self.di[element_id].find(q("Bounds", DC_NS))
        for key in ("x", "y", "width", "height"):
            b.set(key, num(getattr(bounds, key)))
        self._bounds.pop(element_id, None)

    def plane_of(self, element_id: str) -> etree._Element | None:
        """The BPMNPlane drawing an element."""
        shape = self.di.get(element_id)
        return shape.getparent() if shape is not None else None

    def add_shape(self, plane: etree._Element, element_id: str, bounds: Bounds,
                  after: etree._Element | None = None, **attrs: str) -> etree._Element:
        """A BPMNShape for a new element."""
        shape = self.make("BPMNShape", self.new_id(f"{element_id}_di"), ns=DI_NS, bpmnElement=element_id, **attrs)
        b = etree.SubElement(shape, q("Bounds", DC_NS))
        for key in ("x", "y", "width", "height"):
            b.set(key, num(getattr(bounds, key)))
        # The plane's last shape is remembered: looking for it walks every shape and edge.
        last = self._last_shape.get(plane)
        if last is not None and last.getparent() is not plane:
            last = None
        if after is None or after.getparent() is not plane:
            if last is None:
                last = next(plane.iterchildren(_SHAPE, reversed=True), None)
            after = last
        if after is not None:
            self.insert_after(after, shape)
        else:
            self.append_child(plane, shape)
        if after is last:   # the new shape follows the last one (or is the plane's first)
            self._last_shape[plane] = shape
        self.di[element_id] = shape
        self._all_di.setdefault(element_id, []).append(shape)
        self._bounds.pop(element_id, None)
        return shape

    def add_edge(self, plane: etree._Element, element_id: str, points: Iterable[tuple[float, float]]) -> None:
        """A BPMNEdge for a new flow."""
        edge = self.make("BPMNEdge", self.new_id(f"{element_id}_di"), ns=DI_NS, bpmnElement=element_id)
        for x, y in points:
            w = etree.SubElement(edge, q("waypoint", OMGDI_NS))
            w.set("x", num(x))
            w.set("y", num(y))
        self.append_child(plane, edge)
        self.di[element_id] = edge
        self._all_di.setdefault(element_id, []).append(edge)
        self._bounds.pop(element_id, None)

    def edge_points(self, element_id: str) -> list[tuple[float, float]] | None:
        """The waypoints of an existing edge."""
        edge = self.di.get(element_id)
        if edge is None or local(edge) != "BPMNEdge":
            return None
        pts = []
        for w in edge.iterchildren(q("waypoint", OMGDI_NS)):
            try:
                pts.append((float(w.get("x", 0)), float(w.get("y", 0))))
            except ValueError:
                return None
        return pts

    def set_edge_points(self, element_id: str, points: Sequence[tuple[float, float]]) -> None:
        """Replace an existing edge's waypoints (its label, if any, stays)."""
        edge = self.di[element_id]
        old = list(edge.iterchildren(q("waypoint", OMGDI_NS)))
        anchor_index = edge.index(old[0]) if old else 0
        tail = old[0].tail if old else None
        last_tail = old[-1].tail if old else None
        for w in old:
            edge.remove(w)
        for i, (x, y) in enumerate(points):
            w = edge.makeelement(q("waypoint", OMGDI_NS), {"x": num(x), "y": num(y)})
            w.tail = last_tail if i == len(points) - 1 else tail
            edge.insert(anchor_index + i, w)

    def remove_di(self, element_id: str) -> None:
        """Remove the diagram entries of a removed element (in every diagram)."""
        for el in self._all_di.pop(element_id, []):
            self.remove(el)
        self.di.pop(element_id, None)
        self._bounds.pop(element_id, None)

    # -- output ----------------------------------------------------------------

    def serialize(self) -> bytes:
        """The edited model: UTF-8, XML declaration, top-level comments and PIs kept."""
        parts = [b'<?xml version="1.0" encoding="UTF-8"?>']
        parts += [etree.tostring(s, encoding="UTF-8") for s in self._before]
        parts.append(etree.tostring(self.root, encoding="UTF-8"))
        parts += [etree.tostring(s, encoding="UTF-8") for s in self._after]
        return b"\n".join(p.strip(b"\n") for p in parts) + b"\n"


def _copy_declaring(root: etree._Element, namespaces: Sequence[str]) -> etree._Element:
    """A copy of the tree whose root also declares ``namespaces`` (with their usual prefixes).

    The declarations are written into the root's start tag and the text parsed
    again, rather than by moving the children under a new root element: lxml
    re-homing elements that carry their own odd declarations (``xmlns=""``
    next to a prefixed BPMN name, as some exporters write) can lose their namespace.
    """
    data = etree.tostring(root, encoding="UTF-8", xml_declaration=False)
    known = set(root.nsmap.values())
    used = set(root.nsmap)
    extra = []
    for uri in namespaces:
        if uri in known:
            continue
        prefix = base = PREFERRED_PREFIX.get(uri, "ns")
        n = 1
        while prefix in used:
            n += 1
            prefix = f"{base}{n}"
        used.add(prefix)
        known.add(uri)
        extra.append(f' xmlns:{prefix}="{uri}"'.encode())
    if not extra:
        return parse_xml(data, "redesign")
    end = re.search(rb"[\s/>]", data).start()
    return parse_xml(data[:end] + b"".join(extra) + data[end:], "redesign")


_NUMS: dict[float, str] = {}


def num(v: float) -> str:
    """Coordinates as modelling tools write them: no trailing ``.0``."""
    # Remembered: a diagram repeats the same coordinates (equal numbers give equal text).
    text = _NUMS.get(v)
    if text is None:
        text = str(int(v)) if float(v).is_integer() else f"{v:.1f}".rstrip("0").rstrip(".")
        if len(_NUMS) > 100_000:
            _NUMS.clear()
        _NUMS[v] = text
    return text
