"""A typed, read-only view of a BPMN 2.0 model.

:func:`read_model` walks a parsed tree once and returns frozen dataclasses:
definitions, processes (also those behind collaboration pools), lanes, every
flow node (activities, events, gateways, nested in sub-processes too),
sequence and message flows, data objects and stores with their associations,
documentation, forms (Camunda ``formData``, Camunda form files and
SpiffWorkflow JSON-Schema files resolved next to the model) and BPMNDI shapes
and edges.

The view is tolerant: it describes what is there, even when it is wrong (a
flow pointing nowhere, a missing id). Judging is the job of
:mod:`bpmn.validate`. Every element keeps its source line, and its lxml
element for code that rewrites the model (``redesign``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any, TypeVar

from lxml import etree

from bpmn.formfields import Form, read_form
from bpmn.gcpause import paused_gc
from bpmn.load import BPMN_NS, Source

DI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
OMGDI_NS = "http://www.omg.org/spec/DD/20100524/DI"
# Our own extension namespace: elements the redesign adds carry panjereh:role.
PANJEREH_NS = "https://panjereh.ir/schema/bpmn/1"

ACTIVITY_TAGS = frozenset({
    "task", "userTask", "manualTask", "serviceTask", "scriptTask", "sendTask",
    "receiveTask", "businessRuleTask", "callActivity", "subProcess",
    "transaction", "adHocSubProcess",
})
EVENT_TAGS = frozenset({
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent",
    "boundaryEvent", "implicitThrowEvent",
})
GATEWAY_TAGS = frozenset({
    "exclusiveGateway", "inclusiveGateway", "parallelGateway", "complexGateway",
    "eventBasedGateway",
})
SUBPROCESS_TAGS = frozenset({"subProcess", "transaction", "adHocSubProcess"})


def starts_implicitly(tag: str, attrs: Mapping[str, str], links: bool) -> bool:
    """Whether a flow node no sequence flow leads to begins a level with neither start nor end events.

    BPMN 2.0 §10.5.2: activities, gateways and intermediate events do; not
    compensation handlers, event sub-processes (they wait for their trigger)
    or a link catch event (``links``: it continues a path that jumped to it).
    The check (``bpmn.validate``) and the engine (``engine.prepare``) both ask here.
    """
    if tag == "intermediateCatchEvent" and links:
        return False
    return ((tag in ACTIVITY_TAGS or tag in GATEWAY_TAGS or tag in ("intermediateCatchEvent", "intermediateThrowEvent"))
            and attrs.get("isForCompensation") != "true" and attrs.get("triggeredByEvent") != "true")
DATA_TAGS = frozenset({
    "dataObject", "dataObjectReference", "dataStoreReference", "dataInput", "dataOutput",
})


def _q(tag: str) -> str:
    return f"{{{BPMN_NS}}}{tag}"


_BPMN_PREFIX = _q("")


def local(el: etree._Element) -> str:
    """The local name of an element's tag ('' for comments and PIs)."""
    tag = el.tag
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]


def bpmn_local(el: etree._Element) -> str:
    """The local name of a BPMN element's tag ('' for other namespaces' elements, comments and PIs)."""
    tag = el.tag
    if not isinstance(tag, str) or not tag.startswith(_BPMN_PREFIX):
        return ""
    return tag[len(_BPMN_PREFIX):]


def extension_elements(el: etree._Element) -> etree._Element:
    """``el``'s ``extensionElements``, added where BPMN orders it (after the documentation) when it has none."""
    ext = el.find(_q("extensionElements"))
    if ext is None:
        ext = etree.Element(_q("extensionElements"))
        docs = [child for child in el if bpmn_local(child) == "documentation"]
        if docs:
            docs[-1].addnext(ext)
        else:
            el.insert(0, ext)
    return ext


def _text(el: etree._Element | None) -> str:
    if el is None:
        return ""
    if not len(el):   # no children (the usual flowNodeRef, condition, documentation): just its text
        return (el.text or "").strip()
    return "".join(el.itertext()).strip()


@dataclass(frozen=True)
class Bounds:
    """A BPMNDI shape's rectangle in diagram coordinates."""

    x: float
    y: float
    width: float
    height: float

    def overlaps(self, other: Bounds) -> bool:
        """True when the two rectangles share area (touching edges do not count)."""
        return (self.x < other.x + other.width and other.x < self.x + self.width
                and self.y < other.y + other.height and other.y < self.y + self.height)


@dataclass(frozen=True)
class Shape:
    id: str
    element_id: str
    bounds: Bounds
    is_expanded: bool | None = None
    is_horizontal: bool | None = None
    label: Bounds | None = None
    line: int | None = None


@dataclass(frozen=True)
class Edge:
    id: str
    element_id: str
    waypoints: tuple[tuple[float, float], ...]
    label: Bounds | None = None
    line: int | None = None


@dataclass(frozen=True)
class Diagram:
    """One ``BPMNDiagram``: shapes and edges keyed by the element they draw."""

    id: str
    plane_element: str | None
    shapes: Mapping[str, Shape]
    edges: Mapping[str, Edge]


@dataclass(frozen=True)
class FlowNode:
    """An activity, event or gateway."""

    id: str
    tag: str                      # local name: userTask, boundaryEvent, ...
    kind: str                     # "activity" | "event" | "gateway"
    name: str | None
    process_id: str
    line: int | None
    documentation: str = ""
    parent_id: str | None = None  # enclosing sub-process, if any
    lane_id: str | None = None    # innermost lane holding this node
    incoming: tuple[str, ...] = ()
    outgoing: tuple[str, ...] = ()
    event_definitions: tuple[str, ...] = ()   # e.g. ("timerEventDefinition",)
    attached_to: str | None = None            # boundary events
    cancel_activity: bool = True
    default_flow: str | None = None
    called_element: str | None = None
    data_inputs: tuple[str, ...] = ()   # data reference ids feeding this node
    data_outputs: tuple[str, ...] = ()  # data reference ids it writes
    form: Form | None = None
    attrs: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    element: etree._Element | None = field(default=None, repr=False, compare=False)

    @property
    def is_activity(self) -> bool:
        return self.kind == "activity"

    @property
    def role(self) -> str | None:
        """What Panjereh added this element as (``inquiry``, ``inquiry_fallback``...), if it did."""
        return self.attrs.get(f"{{{PANJEREH_NS}}}role")


@dataclass(frozen=True)
class SequenceFlow:
    id: str
    name: str | None
    source: str | None
    target: str | None
    condition: str | None
    process_id: str
    line: int | None
    element: etree._Element | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class DataRef:
    """A data object (reference), data store reference, or data input/output."""

    id: str
    tag: str
    name: str | None
    process_id: str
    line: int | None
    target: str | None = None   # dataObjectRef / dataStoreRef
    documentation: str = ""


@dataclass(frozen=True)
class Lane:
    id: str
    name: str | None
    process_id: str
    flow_node_refs: tuple[str, ...]
    parent_id: str | None
    line: int | None


@dataclass(frozen=True)
class Participant:
    """A pool of a collaboration."""

    id: str
    name: str | None
    process_ref: str | None
    line: int | None


@dataclass(frozen=True)
class MessageFlow:
    id: str
    name: str | None
    source: str | None
    target: str | None
    message_ref: str | None
    line: int | None


def _flows_by_end(flows: Mapping[str, SequenceFlow], end: str) -> dict[str, list[SequenceFlow]]:
    """``flows`` grouped by the node at their ``end`` (``source`` or ``target``); flows without one left out."""
    found: dict[str, list[SequenceFlow]] = {}
    for flow in flows.values():
        node = getattr(flow, end)
        if node:
            found.setdefault(node, []).append(flow)
    return found


@dataclass(frozen=True)
class Process:
    id: str
    name: str | None
    is_executable: bool | None
    line: int | None
    participant: Participant | None
    nodes: Mapping[str, FlowNode]
    flows: Mapping[str, SequenceFlow]
    lanes: Mapping[str, Lane]
    data: Mapping[str, DataRef]
    documentation: str = ""
    element: etree._Element | None = field(default=None, repr=False, compare=False)

    @property
    def activities(self) -> list[FlowNode]:
        """Activities in document order, sub-processes and their contents included."""
        return [n for n in self.nodes.values() if n.kind == "activity"]

    @cached_property
    def outgoing(self) -> Mapping[str, list[SequenceFlow]]:
        """The sequence flows leaving each node, by node id (worked out once, on first use)."""
        return _flows_by_end(self.flows, "source")

    @cached_property
    def incoming(self) -> Mapping[str, list[SequenceFlow]]:
        """The sequence flows reaching each node, by node id (worked out once, on first use)."""
        return _flows_by_end(self.flows, "target")

    @property
    def display_name(self) -> str | None:
        if self.name:
            return self.name
        return self.participant.name if self.participant else None


@dataclass(frozen=True)
class Model:
    """The whole of one BPMN file."""

    name: str
    id: str | None
    target_namespace: str | None
    exporter: str | None
    processes: tuple[Process, ...]
    participants: tuple[Participant, ...]
    message_flows: tuple[MessageFlow, ...]
    diagrams: tuple[Diagram, ...]
    root_elements: Mapping[str, tuple[str, str | None, int | None]]  # id -> (tag, name, line)
    source: Source = field(repr=False, compare=False)

    def process(self, pid: str) -> Process | None:
        return next((p for p in self.processes if p.id == pid), None)

    def node(self, node_id: str) -> FlowNode | None:
        for p in self.processes:
            n = p.nodes.get(node_id)
            if n is not None:
                return n
        return None

    def shape(self, element_id: str) -> Shape | None:
        for d in self.diagrams:
            s = d.shapes.get(element_id)
            if s is not None:
                return s
        return None

    @property
    def participant_of(self) -> Mapping[str, Participant]:
        """Pools by the id of the process they show."""
        return {p.process_ref: p for p in self.participants if p.process_ref}

    def pool_of_element(self, element_id: str) -> Participant | None:
        """The pool that holds an element (flow node or data ref), or the pool itself."""
        for p in self.participants:
            if p.id == element_id:
                return p
        for proc in self.processes:
            if element_id in proc.nodes or element_id in proc.data:
                return proc.participant
        return None


# --- reading -----------------------------------------------------------------

_T = TypeVar("_T")


def _new(cls: type[_T], **fields: Any) -> _T:
    """``cls(**fields)`` for one of the frozen dataclasses above, given every one of its fields.

    A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``:
    for the thousands of nodes, flows, shapes and edges of a large model that was a
    good part of reading it. The instance made here is the same one (its ``__dict__``
    holds the fields, in order; none of these classes has a ``__post_init__``).
    """
    if fields.keys() != cls.__dataclass_fields__.keys():  # type: ignore[attr-defined]
        raise TypeError(f"{cls.__name__} needs exactly its fields, got {sorted(fields)}")
    obj = object.__new__(cls)
    obj.__dict__.update(fields)
    return obj


@paused_gc
def read_model(source: Source) -> Model:
    """Build the typed view of one loaded model. Never raises on odd content."""
    root = source.root
    participants: list[Participant] = []
    message_flows: list[MessageFlow] = []
    root_elements: dict[str, tuple[str, str | None, int | None]] = {}
    for child in root:
        tag = local(child)
        if not tag:
            continue
        cid = child.get("id")
        if cid:
            root_elements[cid] = (tag, child.get("name"), child.sourceline)
        if tag == "collaboration":
            for sub in child:
                st = local(sub)
                if st == "participant":
                    participants.append(Participant(
                        sub.get("id", ""), sub.get("name"), sub.get("processRef"), sub.sourceline))
                elif st == "messageFlow":
                    message_flows.append(MessageFlow(
                        sub.get("id", ""), sub.get("name"), sub.get("sourceRef"),
                        sub.get("targetRef"), sub.get("messageRef"), sub.sourceline))
    pool_by_process = {p.process_ref: p for p in participants if p.process_ref}
    processes = tuple(
        _read_process(el, source, pool_by_process.get(el.get("id", "")))
        for el in root.iterchildren(_q("process"))
    )
    return Model(
        name=source.name,
        id=root.get("id"),
        target_namespace=root.get("targetNamespace"),
        exporter=root.get("exporter"),
        processes=processes,
        participants=tuple(participants),
        message_flows=tuple(message_flows),
        diagrams=tuple(_read_diagram(d) for d in root.iterchildren(f"{{{DI_NS}}}BPMNDiagram")),
        root_elements=MappingProxyType(root_elements),
        source=source,
    )


def _documentation(el: etree._Element) -> str:
    parts = [_text(d) for d in el.iterchildren(_q("documentation"))]
    return "\n".join(p for p in parts if p)


def _put(table: dict, key: str, value: object, line: int | None) -> None:
    """Add ``value`` under its id without losing elements whose id is missing or repeated.

    Such elements keep their (empty or repeated) ``id`` but are filed under a
    key no XML id can take, so validation still sees and reports them; a
    lookup by a repeated id finds the first element in document order.
    """
    if key and key not in table:
        table[key] = value
        return
    n = 1
    while f"{key}#(line {line}, {n})" in table:
        n += 1
    table[f"{key}#(line {line}, {n})"] = value


def _read_process(el: etree._Element, source: Source, pool: Participant | None) -> Process:
    pid = el.get("id", "")
    nodes: dict[str, FlowNode] = {}
    flows: dict[str, SequenceFlow] = {}
    data: dict[str, DataRef] = {}
    lanes: dict[str, Lane] = {}
    lane_of: dict[str, str] = {}

    def walk_lanes(lane_set: etree._Element, parent: str | None) -> None:
        for lane in lane_set.iterchildren(_q("lane")):
            lid = lane.get("id", "")
            refs = tuple(_text(r) for r in lane.iterchildren(_q("flowNodeRef")))
            _put(lanes, lid, Lane(lid, lane.get("name"), pid, refs, parent, lane.sourceline), lane.sourceline)
            for r in refs:
                lane_of[r] = lid  # children are visited later, so the innermost lane wins
            for child_set in lane.iterchildren(_q("childLaneSet")):
                walk_lanes(child_set, lid)

    for ls in el.iterchildren(_q("laneSet")):
        walk_lanes(ls, None)

    pending: list[tuple[etree._Element, str | None]] = []

    def walk(container: etree._Element, parent: str | None) -> None:
        for child in container:
            tag = child.tag
            tag = tag.rpartition("}")[2] if isinstance(tag, str) else ""   # local(child), inlined
            if tag in ACTIVITY_TAGS or tag in EVENT_TAGS or tag in GATEWAY_TAGS:
                pending.append((child, parent))
                if tag in SUBPROCESS_TAGS:
                    for ls in child.iterchildren(_q("laneSet")):
                        walk_lanes(ls, None)
                    walk(child, child.get("id"))
            elif tag == "sequenceFlow":
                fid = child.get("id", "")
                cond = next(child.iterchildren(_CONDITION), None)
                line = child.sourceline
                _put(flows, fid, _new(
                    SequenceFlow, id=fid, name=child.get("name"), source=child.get("sourceRef"),
                    target=child.get("targetRef"), condition=_text(cond) if cond is not None else None,
                    process_id=pid, line=line, element=child), line)
            elif tag in DATA_TAGS:
                did = child.get("id", "")
                _put(data, did, DataRef(
                    did, tag, child.get("name"), pid, child.sourceline,
                    child.get("dataObjectRef") or child.get("dataStoreRef"), _documentation(child)),
                    child.sourceline)
            elif tag == "ioSpecification":
                walk(child, parent)

    walk(el, None)
    for child, parent in pending:
        node = _read_node(child, pid, parent, lane_of, source)
        _put(nodes, node.id, node, node.line)
    return Process(
        id=pid,
        name=el.get("name"),
        is_executable=_bool(el.get("isExecutable")),
        line=el.sourceline,
        participant=pool,
        nodes=MappingProxyType(nodes),
        flows=MappingProxyType(flows),
        lanes=MappingProxyType(lanes),
        data=MappingProxyType(data),
        documentation=_documentation(el),
        element=el,
    )


def _bool(v: str | None) -> bool | None:
    if v is None:
        return None
    return v.strip().lower() == "true"


_INCOMING, _OUTGOING = _q("incoming"), _q("outgoing")
_DATA_IN, _DATA_OUT = _q("dataInputAssociation"), _q("dataOutputAssociation")
_SOURCE_REF, _TARGET_REF, _DOC = _q("sourceRef"), _q("targetRef"), _q("documentation")
_CONDITION = _q("conditionExpression")
# Diagram tags. (A child is looked up with next(iterchildren(tag)), which gives what
# find(tag) gives, for less: a diagram has thousands of shapes.)
_PLANE, _SHAPE, _EDGE, _LABEL = (f"{{{DI_NS}}}{t}" for t in ("BPMNPlane", "BPMNShape", "BPMNEdge", "BPMNLabel"))
_BOUNDS, _WAYPOINT = f"{{{DC_NS}}}Bounds", f"{{{OMGDI_NS}}}waypoint"


def _read_node(el: etree._Element, pid: str, parent: str | None,
               lane_of: Mapping[str, str], source: Source) -> FlowNode:
    tag = el.tag.rpartition("}")[2]   # local(el): flow nodes are elements
    kind = "activity" if tag in ACTIVITY_TAGS else "event" if tag in EVENT_TAGS else "gateway"
    nid = el.get("id", "")
    incoming: list[str] = []
    outgoing: list[str] = []
    inputs: list[str] = []
    outputs: list[str] = []
    docs: list[str] = []
    event_defs: list[str] = []
    # One pass over the children: this runs for every node of large models.
    for child in el:
        ctag = child.tag
        if ctag == _INCOMING:
            incoming.append((child.text or "").strip())
        elif ctag == _OUTGOING:
            outgoing.append((child.text or "").strip())
        elif ctag == _DOC:
            text = _text(child)
            if text:
                docs.append(text)
        elif ctag == _DATA_IN:
            inputs.extend(_text(r) for r in child.iterchildren(_SOURCE_REF))
        elif ctag == _DATA_OUT:
            outputs.extend(_text(r) for r in child.iterchildren(_TARGET_REF))
        elif isinstance(ctag, str):
            name = ctag.rpartition("}")[2]
            if name.endswith("EventDefinition") or name == "eventDefinitionRef":
                event_defs.append(name)
    return _new(
        FlowNode,
        id=nid,
        tag=tag,
        kind=kind,
        name=el.get("name"),
        process_id=pid,
        line=el.sourceline,
        documentation="\n".join(docs),
        parent_id=parent,
        lane_id=lane_of.get(nid),
        incoming=tuple(incoming),
        outgoing=tuple(outgoing),
        event_definitions=tuple(event_defs),
        attached_to=el.get("attachedToRef"),
        cancel_activity=el.get("cancelActivity", "true").strip().lower() != "false",
        default_flow=el.get("default"),
        called_element=el.get("calledElement"),
        data_inputs=tuple(i for i in inputs if i) if inputs else (),
        data_outputs=tuple(o for o in outputs if o) if outputs else (),
        form=read_form(el, source) if kind == "activity" or tag == "startEvent" else None,
        attrs=dict(el.attrib),
        element=el,
    )


def _bounds(el: etree._Element | None) -> Bounds | None:
    if el is None:
        return None
    try:
        x, y, width, height = (float(el.get("x", 0)), float(el.get("y", 0)),
                               float(el.get("width", 0)), float(el.get("height", 0)))
    except ValueError:
        return None
    return _new(Bounds, x=x, y=y, width=width, height=height)


def _read_diagram(d: etree._Element) -> Diagram:
    shapes: dict[str, Shape] = {}
    edges: dict[str, Edge] = {}
    plane = next(d.iterchildren(_PLANE), None)
    if plane is not None:
        for s in plane.iterchildren(_SHAPE):
            b = _bounds(next(s.iterchildren(_BOUNDS), None))
            ref = s.get("bpmnElement")
            if b is None or not ref:
                continue
            lab = next(s.iterchildren(_LABEL), None)
            shapes[ref] = _new(
                Shape, id=s.get("id", ""), element_id=ref, bounds=b, is_expanded=_bool(s.get("isExpanded")),
                is_horizontal=_bool(s.get("isHorizontal")),
                label=_bounds(next(lab.iterchildren(_BOUNDS), None)) if lab is not None else None,
                line=s.sourceline)
        for e in plane.iterchildren(_EDGE):
            ref = e.get("bpmnElement")
            if not ref:
                continue
            pts: list[tuple[float, float]] = []
            for w in e.iterchildren(_WAYPOINT):
                try:
                    pts.append((float(w.get("x", 0)), float(w.get("y", 0))))
                except ValueError:
                    continue
            lab = next(e.iterchildren(_LABEL), None)
            edges[ref] = _new(
                Edge, id=e.get("id", ""), element_id=ref, waypoints=tuple(pts),
                label=_bounds(next(lab.iterchildren(_BOUNDS), None)) if lab is not None else None,
                line=e.sourceline)
    return Diagram(
        d.get("id", ""), plane.get("bpmnElement") if plane is not None else None,
        MappingProxyType(shapes), MappingProxyType(edges))
