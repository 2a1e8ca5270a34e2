"""Every reference in a model must name an element of the right kind.

BPMN ties a file together with ids: a boundary event names the activity it
sits on, an event definition names its error, message or signal, a pool names
its process, a lane lists its steps, a data association names a data object,
and each diagram shape names the element it draws. Modelling tools leave these
dangling when elements are deleted or copied between files; the stock
SpiffWorkflow parser then fails with a ``TypeError``. :func:`check_references`
reports each one as a :class:`Diagnostic` with the element and line it sits on.

:class:`ElementIndex` (every id in the file, with duplicates) and
:func:`describe` (how a message names an element to a process analyst) are
shared with :mod:`bpmn.validate` and the engine's executability check.
"""

from __future__ import annotations

import re

from lxml import etree

from bpmn.diagnostics import Diagnostic, Severity
from bpmn.load import BPMN_NS
from bpmn.model import ACTIVITY_TAGS, DC_NS, DI_NS, EVENT_TAGS, GATEWAY_TAGS, OMGDI_NS, FlowNode, Model, local

_OMG_NAMESPACES = frozenset({BPMN_NS, DI_NS, DC_NS, OMGDI_NS})
_WITH_ID = "//*[@id and string-length(@id) > 0][not(ancestor::bpmn:extensionElements)]"
# From the document element "descendant-or-self" selects what "//" does, many times faster;
# the namespace test is the one the loop below makes, done in C as well.
_OMG_WITH_ID_BELOW = etree.XPath(
    "descendant-or-self::" + _WITH_ID[2:] + "["
    + " or ".join(f"namespace-uri() = '{ns}'" for ns in sorted(_OMG_NAMESPACES)) + "]",
    namespaces={"bpmn": BPMN_NS})
FLOW_NODE_TAGS = ACTIVITY_TAGS | EVENT_TAGS | GATEWAY_TAGS
ITEM_AWARE_TAGS = frozenset({
    "dataObject", "dataObjectReference", "dataStore", "dataStoreReference",
    "dataInput", "dataOutput", "property",
})
# Which attribute of which element names which kind of root element.
EVENT_REFS = {
    "errorEventDefinition": ("errorRef", "error"),
    "messageEventDefinition": ("messageRef", "message"),
    "signalEventDefinition": ("signalRef", "signal"),
    "escalationEventDefinition": ("escalationRef", "escalation"),
    "sendTask": ("messageRef", "message"),
    "receiveTask": ("messageRef", "message"),
}
_SPECIAL_KINDS = {
    "subProcess": "sub-process", "adHocSubProcess": "ad-hoc sub-process",
    "BPMNShape": "diagram shape", "BPMNEdge": "diagram edge", "BPMNPlane": "diagram plane",
}
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_MAX_NAME = 80


def exec_severity(is_executable: bool | None) -> Severity:
    """Problems that stop the engine are errors in executable processes, warnings elsewhere."""
    return "error" if is_executable else "warning"


def kind_name(tag: str) -> str:
    """'userTask' -> 'user task': an element kind as a person would say it."""
    return _SPECIAL_KINDS.get(tag) or _CAMEL.sub(" ", tag).lower()


def named(name: str | None, element_id: str | None) -> str:
    """``«Check the deed» (Task_3)``, or the bare id when there is no name."""
    ident = element_id or "without an id"
    clean = " ".join((name or "").split())
    if len(clean) > _MAX_NAME:
        clean = clean[: _MAX_NAME - 1] + "…"
    return f"«{clean}» ({ident})" if clean else ident


def describe(tag: str, name: str | None, element_id: str | None) -> str:
    """An element as a message names it: ``user task «Check the deed» (Task_3)``."""
    return f"{kind_name(tag) if tag else 'element'} {named(name, element_id)}"


def describe_node(node: FlowNode) -> str:
    """A flow node as a message names it."""
    return describe(node.tag, node.name, node.id)


class ElementIndex:
    """Every element of the file that carries an id, in the OMG namespaces.

    Vendor extensions (a Camunda form field's ``id``) are left out: they are
    not BPMN ids and may repeat legitimately.
    """

    def __init__(self, root: etree._Element) -> None:
        self.by_id: dict[str, list[etree._Element]] = {}
        # Tools put their own data inside extensionElements, sometimes in the
        # BPMN namespace itself; ids in there are not BPMN ids.
        if root.getparent() is None:
            for el in _OMG_WITH_ID_BELOW(root):
                self.by_id.setdefault(el.get("id"), []).append(el)
            return
        for el in root.xpath(_WITH_ID, namespaces={"bpmn": BPMN_NS}):
            tag = el.tag
            if tag[1:tag.find("}")] in _OMG_NAMESPACES:
                self.by_id.setdefault(el.get("id"), []).append(el)

    def get(self, ref: str | None) -> etree._Element | None:
        """The element ``ref`` names; a QName prefix (``tns:Task_1``) is tolerated."""
        if not ref:
            return None
        ref = ref.strip()
        hits = self.by_id.get(ref)
        if hits is None and ":" in ref:
            hits = self.by_id.get(ref.rpartition(":")[2])
        return hits[0] if hits else None

    def kind(self, ref: str | None) -> str | None:
        """The local tag name of the element ``ref`` names, or None."""
        el = self.get(ref)
        return local(el) if el is not None else None

    def describe(self, ref: str) -> str:
        """``ref`` as a message names it, or quoted when it names nothing."""
        el = self.get(ref)
        if el is None:
            return repr(ref)
        return describe(local(el), el.get("name"), el.get("id"))


def check_references(model: Model, index: ElementIndex) -> list[Diagnostic]:
    """Diagnostics for duplicate or missing ids and every reference that names nothing."""
    found: list[Diagnostic] = []
    found += _ids(model, index)
    found += _event_refs(model.source.root, index)
    found += _boundaries(model, index)
    found += _calls(model, index)
    found += _message_flows(model, index)
    found += _lanes_and_pools(model, index)
    found += _data(model, index)
    found += _diagram(model.source.root, index)
    return found


def _ids(model: Model, index: ElementIndex) -> list[Diagnostic]:
    found = []
    for eid, els in index.by_id.items():
        if len(els) < 2:
            continue
        first = els[0]
        for dup in els[1:]:
            found.append(Diagnostic(
                "error", "id.duplicate",
                f"the id {eid!r} is used twice: by the {kind_name(local(first))} on line "
                f"{first.sourceline} and by the {kind_name(local(dup))} on line {dup.sourceline}; "
                "ids must be unique in a file, rename one of them",
                eid, dup.sourceline))
    for process in model.processes:
        if not process.id:
            found.append(Diagnostic("error", "id.missing",
                                    f"a process ({process.name or 'unnamed'}) has no id", None, process.line))
        severity = exec_severity(process.is_executable)
        for node in process.nodes.values():
            if not node.id:
                what = kind_name(node.tag) + (f" «{' '.join(node.name.split())}»" if node.name else "")
                found.append(Diagnostic(
                    severity, "id.missing", f"the {what} has no id, so no flow can reach it", None, node.line))
        anonymous = sorted((f for f in process.flows.values() if not f.id), key=lambda f: f.line or 0)
        if anonymous:
            lines = ", ".join(str(f.line) for f in anonymous[:10]) + (", …" if len(anonymous) > 10 else "")
            found.append(Diagnostic(
                severity, "id.missing",
                f"{len(anonymous)} sequence flow(s) of the process {named(process.display_name, process.id)} "
                f"have no id (lines {lines}); the engine ignores flows without ids, so give each one an id",
                None, anonymous[0].line))
    return found


def _owner(el: etree._Element) -> etree._Element:
    """The event (or task) an event definition belongs to, for the element id."""
    parent = el.getparent()
    if local(el).endswith("EventDefinition") and parent is not None and local(parent) in FLOW_NODE_TAGS:
        return parent
    return el


def _event_refs(root: etree._Element, index: ElementIndex) -> list[Diagnostic]:
    found = []
    tags = [f"{{{BPMN_NS}}}{t}" for t in EVENT_REFS]
    for el in root.iter(*tags):
        attr, wanted = EVENT_REFS[local(el)]
        ref = el.get(attr)
        if ref is None:
            continue  # no reference: catches any error/message/signal, which is allowed
        owner = _owner(el)
        who = describe(local(owner), owner.get("name"), owner.get("id"))
        target = index.kind(ref)
        if not ref.strip():
            why = f"its {attr} is empty"
        elif target is None:
            why = f"it refers to the {wanted} {ref!r} ({attr}), which is not defined in this file"
        elif target != wanted:
            why = f"its {attr} names {index.describe(ref)}, which is not a {wanted}"
        else:
            continue
        found.append(Diagnostic(
            "error", "event.unknown_ref",
            f"the {who} cannot work: {why}; add a <bpmn:{wanted}> with that id or fix the reference",
            owner.get("id") or el.get("id"), el.sourceline))
    for el in root.iter(f"{{{BPMN_NS}}}eventDefinitionRef"):
        ref = (el.text or "").strip()
        if not (index.kind(ref) or "").endswith("EventDefinition"):
            owner = el.getparent()
            found.append(Diagnostic(
                "error", "event.unknown_ref",
                f"the {describe(local(owner), owner.get('name'), owner.get('id'))} refers to the event "
                f"definition {ref!r}, which is not defined in this file",
                owner.get("id"), el.sourceline))
    return found


def _boundaries(model: Model, index: ElementIndex) -> list[Diagnostic]:
    found = []
    for process in model.processes:
        for node in process.nodes.values():
            if node.tag != "boundaryEvent":
                continue
            ref = (node.attached_to or "").strip()
            host = process.nodes.get(ref) or model.node(ref)
            if host is None and index.get(ref) is not None:
                host = model.node(index.get(ref).get("id") or "")
            if not ref:
                why = "it is not attached to any activity (attachedToRef is missing)"
            elif host is None and index.get(ref) is None:
                why = f"it is attached to {ref!r}, which is not in this file"
            elif host is None or host.kind != "activity":
                why = f"it is attached to {index.describe(ref)}, which is not an activity"
            elif host.process_id != node.process_id or host.parent_id != node.parent_id:
                why = f"it is attached to the {describe_node(host)}, which is in another process or sub-process"
            else:
                continue
            found.append(Diagnostic("error", "event.boundary_unattached",
                                    f"the {describe_node(node)} cannot work: {why}", node.id, node.line))
    return found


def is_dynamic_call(called: str) -> bool:
    """Whether a ``calledElement`` is an expression (``${...}``, ``#{...}``) that picks the process at run time."""
    return "${" in called or "#{" in called


def _calls(model: Model, index: ElementIndex) -> list[Diagnostic]:
    found = []
    for process in model.processes:
        for node in process.nodes.values():
            if node.tag != "callActivity":
                continue
            called = (node.called_element or "").strip()
            who = describe_node(node)
            if not called:
                found.append(Diagnostic(
                    exec_severity(process.is_executable), "call.no_called_element",
                    f"the {who} does not say which process it calls (no calledElement); "
                    "set it to the id of the process to run", node.id, node.line))
            elif is_dynamic_call(called):
                found.append(Diagnostic(
                    "warning", "call.dynamic_target",
                    f"the {who} chooses the process to call at run time ({called}); "
                    "the engine needs the id of a process deployed with this one", node.id, node.line))
            elif index.kind(called) != "process":
                where = ("which is not a process" if index.get(called) is not None
                         else "which is not in this file")
                found.append(Diagnostic(
                    "warning", "call.unknown_process",
                    f"the {who} calls {index.describe(called)}, {where}: it must be deployed "
                    "alongside this model or the call fails at run time", node.id, node.line))
    return found


def _message_flows(model: Model, index: ElementIndex) -> list[Diagnostic]:
    found = []
    pool_of_process = {p.process_ref: p.id for p in model.participants if p.process_ref}
    participants = {p.id for p in model.participants}

    def pool(ref: str) -> str | None:
        if ref in participants:
            return ref
        node = model.node(ref)
        return pool_of_process.get(node.process_id) if node is not None else None

    for mf in model.message_flows:
        problems = []
        for end, ref in (("source", mf.source), ("target", mf.target)):
            kind = index.kind(ref)
            if not (ref or "").strip():
                problems.append(f"it has no {end}Ref")
            elif kind is None:
                problems.append(f"its {end} {ref!r} is not in this file")
            elif kind not in FLOW_NODE_TAGS and kind != "participant":
                problems.append(f"its {end} is {index.describe(ref)}, which cannot send or receive messages")
        if mf.message_ref and index.kind(mf.message_ref) != "message":
            problems.append(f"its message {mf.message_ref!r} is not defined in this file")
        label = describe("messageFlow", mf.name, mf.id)
        if problems:
            found.append(Diagnostic("error", "messageflow.dangling",
                                    f"the {label} is broken: " + "; ".join(problems), mf.id, mf.line))
            continue
        src, dst = pool(mf.source or ""), pool(mf.target or "")
        if src is not None and src == dst:
            found.append(Diagnostic(
                "error", "messageflow.same_pool",
                f"the {label} connects two elements of the same pool; inside a pool use a sequence flow",
                mf.id, mf.line))
    return found


def _lanes_and_pools(model: Model, index: ElementIndex) -> list[Diagnostic]:
    found = []
    process_ids = {p.id for p in model.processes}
    for part in model.participants:
        if part.process_ref and part.process_ref.strip() not in process_ids \
                and index.kind(part.process_ref) != "process":
            found.append(Diagnostic(
                "error", "participant.dangling",
                f"the pool {named(part.name, part.id)} shows the process "
                f"{part.process_ref!r}, which is not in this file", part.id, part.line))
    for process in model.processes:
        for lane in process.lanes.values():
            bad = [r for r in lane.flow_node_refs if r and r not in process.nodes]
            if not bad:
                continue
            what = ", ".join(
                index.describe(r) + ("" if index.get(r) is not None else " (not in this file)")
                for r in bad[:5])
            more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
            found.append(Diagnostic(
                "warning", "lane.dangling",
                f"the lane {named(lane.name, lane.id)} lists {what}{more}, "
                "which is not a step of its process", lane.id, lane.line))
    return found


def _data(model: Model, index: ElementIndex) -> list[Diagnostic]:
    found = []
    for process in model.processes:
        for node in process.nodes.values():
            for verb, refs in (("reads", node.data_inputs), ("writes", node.data_outputs)):
                for ref in refs:
                    kind = index.kind(ref)
                    if kind in ITEM_AWARE_TAGS:
                        continue
                    where = "which is not in this file" if kind is None else "which is not a data element"
                    found.append(Diagnostic(
                        "error", "data.dangling",
                        f"the {describe_node(node)} {verb} {index.describe(ref)}, {where}",
                        node.id, node.line))
        for data in process.data.values():
            wanted = {"dataObjectReference": "dataObject", "dataStoreReference": "dataStore"}.get(data.tag)
            if wanted is None or (data.target is None and wanted == "dataStore"):
                continue
            if index.kind(data.target) == wanted:
                continue
            what = (f"names {index.describe(data.target)}, which is not a {kind_name(wanted)} in this file"
                    if data.target else "does not name its data object (no dataObjectRef)")
            found.append(Diagnostic("error", "data.dangling",
                                    f"the {describe(data.tag, data.name, data.id)} {what}",
                                    data.id, data.line))
    return found


def _diagram(root: etree._Element, index: ElementIndex) -> list[Diagnostic]:
    found = []
    tags = (f"{{{DI_NS}}}BPMNShape", f"{{{DI_NS}}}BPMNEdge", f"{{{DI_NS}}}BPMNPlane")
    for el in root.iter(*tags):
        ref = el.get("bpmnElement")
        if ref and index.get(ref) is None:
            found.append(Diagnostic(
                "warning", "di.dangling",
                f"the {kind_name(local(el))} {el.get('id') or 'without an id'} draws {ref!r}, which is not "
                "in this file (left over from a deleted element?); the diagram shows something that does not exist",
                el.get("id"), el.sourceline))
    return found
