"""BPMN's rules for events: which trigger each kind of event may have, where, and what it must interrupt.

A modelling tool lets anyone put a cancel trigger on a start event or a timer
on an end event; SpiffWorkflow then builds the event as if it had no trigger
at all, so the process would run, but not as drawn. BPMN 2.0 (§10.5, the
tables of triggers for start, intermediate and end events) says what each
may have:

* a top-level start event: message, timer, conditional, signal, or none;
* the start event of an event sub-process: message, timer, conditional,
  signal, error, escalation or compensation, never none;
* the start event of any other sub-process: none only (the flow reaching
  the sub-process starts it);
* an intermediate catch event: message, timer, conditional, link or
  signal, never none;
* an intermediate throw event: message, escalation, compensation, link,
  signal, or none;
* an end event: message, error, escalation, cancel, compensation, signal,
  terminate, or none;
* a boundary event: message, timer, escalation, error, cancel,
  compensation, conditional or signal, never none.

Several triggers on one event make a "multiple" event; each must be allowed.

And besides:

* an error or compensation start event of an event sub-process interrupts;
  an error, cancel or compensation boundary event cancels its activity;
* a cancel end event stands in a transaction, and a cancel boundary event
  is attached to one;
* an event sub-process is started by its event, never by a sequence flow,
  and hands on nothing: no flow comes into it or leaves it;
* an event-based gateway has two or more branches, and what follows it
  is one catching event (message, timer, signal or conditional) or a
  receive task per branch;
* an ``eventDefinitionRef`` names a definition declared at the top of the
  file, not one inside another event;
* a throwing escalation event names the escalation it raises, and that
  escalation has a code: a catching event is chosen by it (an error may go
  without: engines then throw one any error catcher takes);
* a link is a jump within one level of the process: its throw event has no
  outgoing flow and names a catch event of the same level (by the link's
  name, as engines pair them; a link without a name goes by its event's
  name, as bpmn-js shows it), whose name no other catch event there shares;
  the catch event has no incoming flow;
* a message flow leaves something that sends (never a start, catch or
  boundary event, nor a gateway) and reaches something that receives (never
  an end or throw event, nor a gateway). Only a warning, in any process: the
  engine does not run message flows, so such a drawing misleads its readers
  without changing what runs.

:func:`check_event_rules` reports each breach with the element and its line:
an error in an executable process, a warning in a descriptive one.
"""

from __future__ import annotations

from collections.abc import Iterable

from lxml import etree

from bpmn.diagnostics import Diagnostic
from bpmn.load import BPMN_NS
from bpmn.model import SUBPROCESS_TAGS, FlowNode, Model, Process, bpmn_local, local
from bpmn.references import ElementIndex, describe_node, exec_severity

Problem = tuple[str, str, int | None]  # code, message, line

_SUFFIX = "EventDefinition"
_STARTS = frozenset({"message", "timer", "conditional", "signal"})
_ALLOWED: dict[str, frozenset[str]] = {
    "top-level start event": _STARTS,
    "start event of an event sub-process": _STARTS | {"error", "escalation", "compensate"},
    "start event of a sub-process": frozenset(),
    "intermediate catch event": frozenset({"message", "timer", "conditional", "link", "signal"}),
    "intermediate throw event": frozenset({"message", "escalation", "compensate", "link", "signal"}),
    "end event": frozenset({"message", "error", "escalation", "cancel", "compensate", "signal", "terminate"}),
    "boundary event": frozenset({"message", "timer", "escalation", "error", "cancel", "compensate",
                                 "conditional", "signal"}),
}
# Positions where an event without a trigger would never happen.
_NEEDS_TRIGGER = frozenset({"start event of an event sub-process", "intermediate catch event", "boundary event"})
_TRIGGER_NAMES = {"compensate": "compensation"}
_EVENT_GATEWAY_TRIGGERS = frozenset({"message", "timer", "signal", "conditional"})


def check_event_rules(model: Model, index: ElementIndex) -> list[Diagnostic]:
    """Every event, event sub-process and event-based gateway that breaks the rules above."""
    found: list[Diagnostic] = []
    for process in model.processes:
        severity = exec_severity(process.is_executable)
        for node in process.nodes.values():
            if node.kind == "event":
                found += [Diagnostic(severity, code, message, node.id, line)
                          for code, message, line in _event(process, node, index)]
            elif node.attrs.get("triggeredByEvent") == "true" and (
                    node.id in process.outgoing or node.id in process.incoming):
                found.append(Diagnostic(
                    severity, "event.subprocess_flow",
                    f"the {describe_node(node)} is an event sub-process with sequence flows coming in or going "
                    "out: its start event starts it, and it hands on nothing", node.id, node.line))
            elif node.tag == "eventBasedGateway":
                found += [Diagnostic(severity, "gateway.event_target", message, node.id, node.line)
                          for message in _event_gateway(process, node)]
        found += [Diagnostic(severity, code, message, node.id, node.line)
                  for code, message, node in _links(process)]
    found += _message_flow_ends(model)
    return found


def _position(node: FlowNode) -> str | None:
    if node.tag == "startEvent":
        # From the tree, not parent_id: a sub-process without an id holds events too.
        owner = node.element.getparent() if node.element is not None else None
        if owner is None or bpmn_local(owner) not in SUBPROCESS_TAGS:
            return "top-level start event"
        if owner.get("triggeredByEvent") == "true":
            return "start event of an event sub-process"
        return "start event of a sub-process"
    return {"intermediateCatchEvent": "intermediate catch event", "intermediateThrowEvent": "intermediate throw event",
            "endEvent": "end event", "boundaryEvent": "boundary event"}.get(node.tag)


def _triggers(node: FlowNode, index: ElementIndex) -> tuple[list[str], list[tuple[str, int | None]]]:
    """The node's triggers (``message``, ``timer``...), its own and those its ``eventDefinitionRef`` names.

    Also the problems of those references: one that names a definition
    inside another event (what it names is that event's, not shared).
    """
    names: list[str] = []
    problems: list[tuple[str, int | None]] = []
    if node.element is None:
        return [n.removesuffix(_SUFFIX) for n in node.event_definitions if n.endswith(_SUFFIX)], problems
    for child in node.element.iterchildren():
        tag = bpmn_local(child)
        if tag and tag.endswith(_SUFFIX):
            names.append(tag.removesuffix(_SUFFIX))
        elif tag == "eventDefinitionRef":
            target = index.get(child.text)
            kind = local(target) if target is not None else ""
            if not kind.endswith(_SUFFIX):
                continue  # names nothing, or no event definition: references.py reports that
            names.append(kind.removesuffix(_SUFFIX))
            holder = target.getparent()
            if holder is not None and local(holder) != "definitions":
                problems.append((f"its eventDefinitionRef names {index.describe(child.text or '')}, which belongs to "
                                 f"{index.describe(holder.get('id') or '')}; a shared event definition is declared "
                                 "at the top of the file", child.sourceline))
    return names, problems


def _a(words: str) -> str:
    return f"{'an' if words[:1] in 'aeiou' else 'a'} {words}"


def _said(names: Iterable[str]) -> str:
    return ", ".join(_TRIGGER_NAMES.get(n, n) for n in names)


def _event(process: Process, node: FlowNode, index: ElementIndex) -> list[Problem]:
    position = _position(node)
    if position is None:
        return []
    names, ref_problems = _triggers(node, index)
    who = describe_node(node)
    found = [("event.definition_ref", f"the {who}: {problem}", line) for problem, line in ref_problems]
    allowed = _ALLOWED[position]
    wrong = sorted({n for n in names if n not in allowed})
    if wrong:
        may = _said(sorted(allowed)) if allowed else "no trigger: it starts when the flow reaches its sub-process"
        if allowed and position not in _NEEDS_TRIGGER:
            may += " or none"
        found.append(("event.trigger_not_allowed",
                      f"the {who} has a trigger that {_a(position)} cannot have: {_said(wrong)} (it may have "
                      f"{may}); the engine would not run it as drawn", node.line))
    elif not names and position in _NEEDS_TRIGGER:
        found.append(("event.trigger_missing",
                      f"the {who} has no trigger (no event definition): {_a(position)} without one never happens; "
                      f"give it one of {_said(sorted(allowed))}", node.line))
    found += _interrupting(process, node, position, set(names))
    if "escalation" in names and position in ("end event", "intermediate throw event"):
        found += _escalation_code(node, index)
    return found


def _escalation_code(node: FlowNode, index: ElementIndex) -> list[Problem]:
    definition = node.element.find(f"{{{BPMN_NS}}}escalationEventDefinition") if node.element is not None else None
    if definition is None:
        return []  # named by eventDefinitionRef: the shared definition is checked where it is declared
    ref = (definition.get("escalationRef") or "").strip()
    escalation = index.get(ref) if ref else None
    if ref and escalation is None:
        return []  # names nothing: references.py reports it
    if escalation is not None and (escalation.get("escalationCode") or "").strip():
        return []
    why = (f"{index.describe(ref)} has no escalationCode" if escalation is not None
           else "it names no escalation (escalationRef)")
    return [("event.escalation_code", f"the {describe_node(node)} throws an escalation, but {why}: nothing can "
             "tell which escalation catcher it reaches", definition.sourceline)]


def _interrupting(process: Process, node: FlowNode, position: str, names: set[str]) -> list[Problem]:
    who = describe_node(node)
    found: list[Problem] = []
    if position == "start event of an event sub-process" and node.attrs.get("isInterrupting") == "false":
        stopping = sorted(names & {"error", "compensate"})
        if stopping:
            found.append(("event.must_interrupt",
                          f"the {who} is a non-interrupting {_said(stopping)} start event: an event sub-process "
                          "started by an error or by compensation always interrupts what it is in", node.line))
    elif position == "boundary event":
        stopping = sorted(names & {"error", "cancel", "compensate"})
        if stopping and not node.cancel_activity:
            found.append(("event.must_interrupt",
                          f"the {who} is a non-interrupting {_said(stopping)} boundary event "
                          "(cancelActivity=\"false\"): an error, cancel or compensation boundary event always "
                          "ends the activity it is attached to", node.line))
        target = process.nodes.get(node.attached_to or "")
        if "cancel" in names and target is not None and target.tag != "transaction":
            found.append(("event.cancel_outside_transaction",
                          f"the {who} is a cancel boundary event on {describe_node(target)}, which is not a "
                          "transaction: only a transaction can be cancelled", node.line))
    elif position == "end event" and "cancel" in names and not _in_transaction(node):
        found.append(("event.cancel_outside_transaction",
                      f"the {who} is a cancel end event outside a transaction: only a transaction can be "
                      "cancelled", node.line))
    return found


def _in_transaction(node: FlowNode) -> bool:
    owner = node.element.getparent() if node.element is not None else None
    return owner is not None and bpmn_local(owner) == "transaction"


def _event_gateway(process: Process, gateway: FlowNode) -> list[str]:
    """What is wrong with the branches of an event-based gateway (each must wait for one event)."""
    problems = []
    leaving = process.outgoing.get(gateway.id, [])
    if len(leaving) < 2:
        problems.append(f"the {describe_node(gateway)} has {len(leaving) or 'no'} outgoing sequence flow"
                        f"{'' if len(leaving) == 1 else 's'}: an event-based gateway chooses between two or more "
                        "events, whichever happens first")
    for flow in leaving:
        if not flow.target:
            continue
        target = process.nodes.get(flow.target)
        if target is None:
            continue  # a dangling flow: validate.py reports it
        if target.tag == "receiveTask":
            continue
        if target.tag != "intermediateCatchEvent":
            problems.append(f"the {describe_node(gateway)} leads to {describe_node(target)}; "
                            "each of its branches must wait for an event: an intermediate catch event "
                            "(message, timer, signal or conditional) or a receive task")
            continue
        kinds = [n.removesuffix(_SUFFIX) for n in target.event_definitions if n.endswith(_SUFFIX)]
        odd = sorted(set(kinds) - _EVENT_GATEWAY_TRIGGERS)
        if odd:
            problems.append(f"the {describe_node(gateway)} leads to {describe_node(target)}, "
                            f"{_a(_said(odd))} catch event; a branch of an event-based gateway waits for a message, "
                            "a timer, a signal or a condition")
    return problems


def _link_name(node: FlowNode) -> str | None:
    """The name a link event pairs by (see :func:`link_name`), or None for another kind of event."""
    link = node.element.find(f"{{{BPMN_NS}}}linkEventDefinition") if node.element is not None else None
    return link_name(node.element, link) if link is not None and node.element is not None else None


def link_name(event: etree._Element, link: etree._Element) -> str:
    """The name a link event pairs by: its link definition's, else (bpmn-js leaves that empty) the event's own."""
    return " ".join((link.get("name") or "").split()) or " ".join((event.get("name") or "").split())


def _links(process: Process) -> list[tuple[str, str, FlowNode]]:
    """Link events that do not pair up within their level, or that have flows a jump cannot have."""
    found: list[tuple[str, str, FlowNode]] = []
    # Levels by their element, not parent_id: a sub-process without an id is a level too.
    throws: dict[etree._Element | None, list[tuple[str, FlowNode]]] = {}
    catches: dict[tuple[etree._Element | None, str], list[FlowNode]] = {}
    for node in process.nodes.values():
        if node.tag not in ("intermediateThrowEvent", "intermediateCatchEvent"):
            continue
        name = _link_name(node)
        if name is None:
            continue
        throwing = node.tag == "intermediateThrowEvent"
        flows = (process.outgoing if throwing else process.incoming).get(node.id, [])
        if flows:
            found.append(("event.link_flow",
                          f"the {describe_node(node)} is a link {'throw' if throwing else 'catch'} event with "
                          f"{'an outgoing' if throwing else 'an incoming'} sequence flow ({flows[0].id}): a link "
                          f"{'jumps to its catch event instead' if throwing else 'is reached by its throw event'}",
                          node))
        level = node.element.getparent() if node.element is not None else None
        if throwing:
            throws.setdefault(level, []).append((name, node))
        elif name:
            catches.setdefault((level, name), []).append(node)
    for level, named_throws in throws.items():
        for name, node in named_throws:
            if not name:
                found.append(("event.link_unmatched", f"the {describe_node(node)} is a link throw event without "
                              "a link name: nothing says which catch event it jumps to", node))
            elif (level, name) not in catches:
                found.append(("event.link_unmatched",
                              f"the {describe_node(node)} jumps to the link «{name}», which no link catch event of "
                              "the same level (process or sub-process) catches: the path would stop there", node))
    for (_level, name), nodes in catches.items():
        for node in nodes[1:]:
            found.append(("event.link_unmatched",
                          f"the {describe_node(node)} catches the link «{name}», as {describe_node(nodes[0])} "
                          "does at the same level: a throw to it could go to either", node))
    return found


_CANNOT_SEND = frozenset({"startEvent", "intermediateCatchEvent", "boundaryEvent"})
_CANNOT_RECEIVE = frozenset({"endEvent", "intermediateThrowEvent"})


def _message_flow_ends(model: Model) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for flow in model.message_flows:
        for node, wrong, role in ((model.node(flow.source or ""), _CANNOT_SEND, "send"),
                                  (model.node(flow.target or ""), _CANNOT_RECEIVE, "receive")):
            if node is None or not (node.tag in wrong or node.kind == "gateway"):
                continue
            found.append(Diagnostic(
                "warning", "messageflow.direction",
                f"the message flow {flow.id} {'leaves' if role == 'send' else 'reaches'} {describe_node(node)}, "
                f"which cannot {role} a message", flow.id, flow.line))
    return found
