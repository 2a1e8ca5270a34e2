"""Validation: what is wrong with a model, as diagnostics a process analyst can act on.

:func:`validate` runs three kinds of checks over a :class:`~bpmn.model.Model`
and returns their :class:`~bpmn.diagnostics.Diagnostic` values, errors first:

* schema validity against the OMG BPMN 2.0 XSDs (:mod:`bpmn.xsd`);
* references that name nothing, duplicate and missing ids
  (:mod:`bpmn.references`), data associations (:mod:`bpmn.data_rules`) and
  the triggers events may have where they stand (:mod:`bpmn.event_rules`);
* the structure of each process and sub-process (this module): start and end
  events, sequence flows that dangle or cross a boundary, gateways whose
  flows the engine could not choose between, implicit splits and joins,
  unreachable steps, timers without a time, scripts in languages the engine
  does not run, forms that cannot be read, and diagrams missing altogether.

Problems that would stop the engine are errors in executable processes
(``isExecutable="true"``) and warnings in descriptive ones. Whether
SpiffWorkflow can actually build the process is checked separately by
``engine.spiff`` (this package never imports SpiffWorkflow). Nothing here
raises on a well-formed tree, however odd.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from bpmn.data_rules import check_data_rules
from bpmn.diagnostics import Diagnostic, sort_key
from bpmn.event_rules import check_event_rules
from bpmn.load import BPMN_NS
from bpmn.model import SUBPROCESS_TAGS, FlowNode, Model, Process, SequenceFlow, local, starts_implicitly
from bpmn.references import ElementIndex, check_references, describe, describe_node, exec_severity, named
from bpmn.xsd import check_schema

PYTHON_SCRIPT_FORMATS = frozenset({
    "", "python", "python3", "py", "text/python", "text/x-python", "application/x-python",
})
_CONDITIONAL_GATEWAYS = frozenset({"exclusiveGateway", "inclusiveGateway"})
_TIME_TAGS = ("timeDate", "timeDuration", "timeCycle")


def validate(model: Model) -> list[Diagnostic]:
    """Every problem found in ``model``, sorted with :func:`bpmn.diagnostics.sort_key`."""
    root = model.source.root
    found = check_schema(root)
    index = ElementIndex(root)
    found += check_references(model, index)
    found += check_data_rules(root, index)
    found += check_event_rules(model, index)
    if not model.processes:
        found.append(Diagnostic(
            "error", "model.no_process",
            "the file defines no process: there is nothing to analyse or run "
            "(a collaboration without processes, or only a diagram)", model.id, root.sourceline))
    drawn = {eid for d in model.diagrams for eid in (*d.shapes, *d.edges)}
    for process in model.processes:
        found += _check_process(model, process)
        if process.is_executable and process.nodes and not drawn.intersection(process.nodes):
            found.append(Diagnostic(
                "info", "di.missing",
                f"the process {named(process.display_name, process.id)} has no diagram (BPMNDI): "
                "it can run, but it cannot be shown to people", process.id, process.line))
    # An element without an id is reported by line, never by an empty id.
    return sorted((d if d.element_id else replace(d, element_id=None) for d in found), key=sort_key)


def _check_process(model: Model, process: Process) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    incoming, outgoing = process.incoming, process.outgoing
    for flow in process.flows.values():
        found += _check_flow(model, process, flow)
    containers: dict[str | None, list[FlowNode]] = {None: []}
    for node in process.nodes.values():
        containers.setdefault(node.parent_id, []).append(node)
        if node.tag in SUBPROCESS_TAGS:
            containers.setdefault(node.id, [])
    for container_id, members in containers.items():
        owner = process.nodes.get(container_id) if container_id else None
        found += _check_container(process, owner, members, incoming)
    for node in process.nodes.values():
        ins, outs = incoming.get(node.id, []), outgoing.get(node.id, [])
        found += _check_flow_lists(node, ins, outs)
        found += _check_branching(process, node, ins, outs)
        found += _check_event_ends(node, ins, outs)
        if node.kind == "gateway" and not ins and not outs:
            found.append(Diagnostic(
                exec_severity(process.is_executable), "gateway.unconnected",
                f"no sequence flow enters or leaves the {describe_node(node)}, so it neither splits nor joins "
                "anything; connect it or remove it", node.id, node.line))
        if not ins and _needs_incoming(process, node, containers.get(node.parent_id, [])):
            found.append(Diagnostic(
                "warning", "node.unreachable",
                f"no sequence flow leads to the {describe_node(node)}, so it never runs; "
                "connect it or remove it", node.id, node.line))
        if "timerEventDefinition" in node.event_definitions:
            found += _check_timer(process, node)
        if node.tag == "scriptTask":
            found += _check_script(node)
        if node.form is not None and node.form.problem:
            found.append(Diagnostic("warning", "form.unreadable",
                                    f"the form of the {describe_node(node)} cannot be read: {node.form.problem}",
                                    node.id, node.line))
    return found


def _implicit_starters(members: list[FlowNode], incoming: Mapping[str, list[SequenceFlow]]) -> list[FlowNode]:
    """What starts a level with neither start nor end events: its activities, gateways and
    intermediate events that no sequence flow leads to (BPMN 2.0 §10.5.2), as the engine runs it."""
    return [n for n in members if not incoming.get(n.id)
            and starts_implicitly(n.tag, n.attrs, "linkEventDefinition" in n.event_definitions)]


def _check_container(process: Process, owner: FlowNode | None, members: list[FlowNode],
                     incoming: Mapping[str, list[SequenceFlow]]) -> list[Diagnostic]:
    """Start and end events of a process or of one sub-process inside it."""
    if owner is not None and owner.tag == "adHocSubProcess":
        # Ad-hoc sub-processes have no start or end events by definition, but something to do (BPMN: at
        # least one activity).
        if any(n.kind == "activity" for n in members):
            return []
        return [Diagnostic(exec_severity(process.is_executable), "subprocess.empty",
                           f"the ad-hoc sub-process {named(owner.name, owner.id)} holds no activity, so there is "
                           "nothing to choose from in it", owner.id, owner.line)]
    if not members and not process.is_executable:
        return []  # an empty descriptive process (a black-box pool) or a placeholder sub-process
    where = (f"the sub-process {named(owner.name, owner.id)}" if owner is not None
             else f"the process {named(process.display_name, process.id)}")
    element_id, line = (owner.id, owner.line) if owner is not None else (process.id, process.line)
    starts = [n for n in members if n.tag == "startEvent"]
    found = []
    if not starts:
        triggered = owner is not None and owner.attrs.get("triggeredByEvent") == "true"
        ends = any(n.tag == "endEvent" for n in members)
        starters = [] if triggered or ends else _implicit_starters(members, incoming)
        if starters:
            # BPMN's implicit start, which the engine runs; a start event says it more clearly.
            names = ", ".join(named(n.name, n.id) for n in starters[:3]) + (" ..." if len(starters) > 3 else "")
            severity, message = "warning", (
                f"{where} has no start event, so it begins at every element no sequence flow leads to "
                f"({names}); add a start event to make that clear")
        elif not members:
            severity, message = exec_severity(process.is_executable), \
                f"{where} is empty, so the engine has nothing to run in it"
        elif triggered:
            severity, message = exec_severity(process.is_executable), \
                f"{where} has no start event, so nothing triggers it; add one"
        elif ends:
            severity, message = exec_severity(process.is_executable), (
                f"{where} has an end event but no start event, so it is not clear where it begins "
                "(BPMN requires a start event wherever there is an end event); add one")
        else:
            severity, message = exec_severity(process.is_executable), (
                f"{where} has no start event, and a sequence flow leads to every element in it, "
                "so nothing begins it; add a start event")
        found.append(Diagnostic(severity, "process.no_start_event", message, element_id, line))
    elif owner is not None and len(starts) > 1 and owner.attrs.get("triggeredByEvent") != "true":
        found.append(Diagnostic(
            exec_severity(process.is_executable), "process.start_events",
            f"{where} has {len(starts)} start events; a sub-process must have exactly one",
            element_id, line))
    if members and not any(n.tag == "endEvent" for n in members):
        found.append(Diagnostic(
            "warning", "process.no_end_event",
            f"{where} has no end event, so it ends when all its paths have; add one to make that clear",
            element_id, line))
    return found


def _container_of(flow: SequenceFlow) -> str | None:
    """The sub-process a flow is drawn in (None: the process level)."""
    parent = flow.element.getparent() if flow.element is not None else None
    if parent is None or local(parent) not in SUBPROCESS_TAGS:
        return None
    return parent.get("id")


def _check_flow(model: Model, process: Process, flow: SequenceFlow) -> list[Diagnostic]:
    found = []
    level = _container_of(flow)
    for end, raw in (("source", flow.source), ("target", flow.target)):
        ref = (raw or "").strip()
        node = (process.nodes.get(ref) or model.node(ref)) if ref else None
        if not ref:
            code, why = "flow.dangling", f"it has no {end}Ref"
        elif node is None:
            bare = ref.rpartition(":")[2]
            hint = (f"; write the bare id {bare!r} without a prefix" if bare != ref and model.node(bare)
                    else "")
            code, why = "flow.dangling", f"its {end} {ref!r} is not a step of this file{hint}"
        elif node.process_id != process.id:
            code, why = "flow.crosses_boundary", (
                f"its {end} is the {describe_node(node)} in another pool; between pools use a message flow")
        elif node.parent_id != level:
            inside = process.nodes.get(node.parent_id or level or "")
            what = f"the sub-process {named(inside.name, inside.id)}" if inside else "a sub-process"
            code, why = "flow.crosses_boundary", (
                f"its {end} is the {describe_node(node)}, across the border of {what}; "
                "a sequence flow must stay on one level")
        else:
            continue
        label = describe("sequenceFlow", flow.name, flow.id)
        found.append(Diagnostic("error", code, f"the {label} is broken: {why}", flow.id, flow.line))
    return found


def _check_flow_lists(node: FlowNode, ins: list[SequenceFlow], outs: list[SequenceFlow]) -> list[Diagnostic]:
    """``<incoming>``/``<outgoing>`` may be omitted, but when given they must match the flows."""
    found = []
    for direction, listed, actual in (("incoming", node.incoming, ins), ("outgoing", node.outgoing, outs)):
        if not any(listed):
            continue
        listed_set, actual_set = {i for i in listed if i}, {f.id for f in actual if f.id}
        extra, missing = sorted(listed_set - actual_set), sorted(actual_set - listed_set)
        if not extra and not missing:
            continue
        parts = []
        if extra:
            parts.append(f"lists {', '.join(extra)} as {direction} although no such flow "
                         f"{'ends' if direction == 'incoming' else 'starts'} there")
        if missing:
            parts.append(f"does not list {', '.join(missing)} among its {direction} flows")
        found.append(Diagnostic("warning", "flow.list_mismatch",
                                f"the {describe_node(node)} " + " and ".join(parts) +
                                "; modelling tools may draw it differently from how it runs",
                                node.id, node.line))
    return found


def _check_branching(process: Process, node: FlowNode, ins: list[SequenceFlow],
                     outs: list[SequenceFlow]) -> list[Diagnostic]:
    """Gateways, default flows, implicit splits and joins."""
    found = []
    out_ids = {f.id for f in outs}
    if node.default_flow and node.default_flow not in out_ids:
        found.append(Diagnostic(
            "error", "flow.default_not_outgoing",
            f"the {describe_node(node)} names {node.default_flow!r} as its default flow, but no such flow leaves it",
            node.id, node.line))
    for flow in outs:
        if flow.id == node.default_flow and flow.condition:
            found.append(Diagnostic(
                "warning", "flow.default_has_condition",
                f"the default flow {named(flow.name, flow.id)} of the {describe_node(node)} has a condition, which is "
                "ignored: a default flow is taken when no other condition holds", flow.id, flow.line))
    bare = [f for f in outs if not f.condition and f.id != node.default_flow]
    if node.tag in _CONDITIONAL_GATEWAYS and len(outs) > 1 and bare:
        flows = ", ".join(named(f.name, f.id) for f in bare[:5])
        found.append(Diagnostic(
            exec_severity(process.is_executable), "gateway.unconditioned_flow",
            f"the {describe_node(node)} splits into {len(outs)} flows, but {flows} "
            f"{'has' if len(bare) == 1 else 'have'} no condition and "
            f"{'is' if len(bare) == 1 else 'are'} not the default flow, so the engine cannot decide "
            f"when to take {'it' if len(bare) == 1 else 'them'}; add conditions, or make one the default flow",
            node.id, node.line))
    elif node.tag in ("parallelGateway", "eventBasedGateway"):
        conditioned = [f for f in outs if f.condition]
        if conditioned:
            found.append(Diagnostic(
                "warning", "gateway.condition_ignored",
                f"the {describe_node(node)} ignores the conditions on "
                f"{', '.join(named(f.name, f.id) for f in conditioned[:5])}: "
                "use an exclusive or inclusive gateway to choose a path", node.id, node.line))
    if node.kind != "gateway" and len(bare) > 1:
        found.append(Diagnostic(
            "warning", "node.implicit_split",
            f"the {describe_node(node)} has {len(bare)} outgoing flows without conditions: all of them are taken at "
            "once (an implicit parallel split); draw a parallel gateway to say so, or an exclusive "
            "gateway with conditions to choose one", node.id, node.line))
    if node.kind == "activity" and len(ins) > 1:
        found.append(Diagnostic(
            "info", "node.implicit_join",
            f"the {describe_node(node)} has {len(ins)} incoming flows without a gateway: it runs again for each "
            "arriving flow; draw a gateway to merge them if that is not intended", node.id, node.line))
    return found


def _check_event_ends(node: FlowNode, ins: list[SequenceFlow], outs: list[SequenceFlow]) -> list[Diagnostic]:
    """Flows leaving an end event or entering a start or boundary event (BPMN forbids both).

    An engine would run such a path anyway: an end event that flows back to
    a task ends the process again and again, and each time leaves a pending
    end behind, so every round costs more than the last.
    """
    found = []
    if node.tag == "endEvent" and outs:
        found.append(Diagnostic(
            "error", "flow.from_end_event",
            f"the {describe_node(node)} has {len(outs)} outgoing flow{'s' if len(outs) > 1 else ''} "
            f"({', '.join(named(f.name, f.id) for f in outs[:5])}); an end event ends its path: "
            "use an intermediate event or a task to go on", node.id, node.line))
    if node.tag in ("startEvent", "boundaryEvent") and ins:
        found.append(Diagnostic(
            "error", "flow.into_start_event",
            f"the {describe_node(node)} has {len(ins)} incoming flow{'s' if len(ins) > 1 else ''} "
            f"({', '.join(named(f.name, f.id) for f in ins[:5])}); a {node.tag[:-5]} event begins a path and "
            "cannot be reached by one: point the flow at the task after it", node.id, node.line))
    return found


def _needs_incoming(process: Process, node: FlowNode, siblings: Iterable[FlowNode]) -> bool:
    """Whether a node without incoming flows is a modelling mistake."""
    if node.tag in ("startEvent", "boundaryEvent"):
        return False
    if node.attrs.get("triggeredByEvent") == "true" or node.attrs.get("isForCompensation") == "true":
        return False
    if "linkEventDefinition" in node.event_definitions:
        return False  # a link catch event continues a path that jumped to it
    parent = process.nodes.get(node.parent_id or "")
    if parent is not None and parent.tag == "adHocSubProcess":
        return False
    # Without a start event every node lacking incoming flows starts the level
    # (BPMN 2.0 §10.5.2); the missing start event is reported already.
    return any(s.tag == "startEvent" for s in siblings)


def _check_timer(process: Process, node: FlowNode) -> list[Diagnostic]:
    found = []
    el = node.element
    if el is None:
        return found
    for definition in el.iterchildren(f"{{{BPMN_NS}}}timerEventDefinition"):
        times = [c for c in definition if local(c) in _TIME_TAGS]
        if not times:
            why = "has no time: give it a date (timeDate), a duration (timeDuration) or a cycle (timeCycle)"
        elif not any("".join(c.itertext()).strip() for c in times):
            why = f"has an empty {local(times[0])}: fill in when it fires"
        else:
            continue
        found.append(Diagnostic(exec_severity(process.is_executable), "event.timer_without_time",
                                f"the timer of the {describe_node(node)} {why}", node.id, definition.sourceline))
    return found


def _check_script(node: FlowNode) -> list[Diagnostic]:
    found = []
    fmt = (node.attrs.get("scriptFormat") or "").strip()
    if fmt.lower() not in PYTHON_SCRIPT_FORMATS:
        found.append(Diagnostic(
            "warning", "script.format",
            f"the script of the {describe_node(node)} is written in {fmt!r}; the engine runs "
            "scripts in a safe subset of Python only, so it must be rewritten", node.id, node.line))
    el = node.element
    script = el.find(f"{{{BPMN_NS}}}script") if el is not None else None
    if script is None or not "".join(script.itertext()).strip():
        found.append(Diagnostic("warning", "script.empty",
                                f"the {describe_node(node)} has no script to run", node.id, node.line))
    return found
