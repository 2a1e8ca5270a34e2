"""Adapting a model's XML to what the engine's parser runs, without changing what it means.

``engine.spiff`` parses a *copy* of the model's hardened tree made by
:func:`prepare_for_engine`; the stored BPMN bytes, the diagram and every
report keep the model exactly as uploaded. BPMN constructs SpiffWorkflow
3.2.0 does not run are rewritten into equivalent ones it does:

* **Implicit splits.** An activity or event with several outgoing sequence
  flows sends a token down every unconditional flow, down every conditional
  flow whose condition holds, and down its default flow when no condition
  holds (BPMN 2.0 §13.2.1). The library refuses such models ("Multiple
  outgoing flows are not supported"); here the flows leave through an
  inserted inclusive gateway (``<id>__split``) whose unconditional flows get
  the condition ``True`` and which inherits the default flow.
* **Link events.** A throwing link event continues at the catching link
  event of the same name in the same process (an "off-page connector"); a
  link without a name goes by its event's name, as bpmn-js shows it. The
  pair becomes two plain intermediate events joined by a sequence flow
  (``<throw id>__link``).
* **Signal end events.** The library parses an end event's signal
  definition as nothing at all: the process ends and the signal is never
  sent. The end event becomes an intermediate throw event with the same
  signal (``<id>__signal``) followed by a plain end event that keeps the id;
  the throw event is left out of the instance's history (:func:`is_added`).
* **Event definitions by reference.** BPMN lets an event name a definition
  declared once at the top of the file (``<eventDefinitionRef>``); the
  library ignores the reference, so an error end event becomes a plain end.
  The referenced definition is copied into the event (``<event id>__def``).
* **Camunda's multi-instance collections.** Camunda 7 names the collection
  an activity repeats over, and the variable each instance gets, as
  attributes (``camunda:collection="${documents}"``,
  ``camunda:elementVariable="document"``), Camunda 8 in an extension
  (``<zeebe:loopCharacteristics inputCollection="=documents"
  inputElement="document"/>``); the library reads only BPMN's own
  ``loopDataInputRef`` and ``inputDataItem`` and refused the activity. When
  the collection is a plain variable, those two are added (the collection
  replacing any ``loopCardinality``, as in Camunda); a collection computed by
  an expression is left as it is, and the check says why it cannot run.
* **Camunda external tasks.** A service or send task that Camunda 7 hands to
  an external worker (``camunda:type="external" camunda:topic="T"``), or
  Camunda 8 to a job worker (``<zeebe:taskDefinition type="T"/>``), calls the
  service operator ``T`` here, as a job (a handler, a connector for
  ``inquiry/...`` operators, or ``--mock`` in a dry run answers it). Its
  input parameters (``camunda:inputParameter``, ``zeebe:input``) become the
  operator's parameters when each is a literal or a simple JUEL or FEEL
  expression; a map the operator returns is merged into the case data, as an
  external worker's variables are (anything else goes to ``<task id>_result``).
  A task computed otherwise (a Java class, a delegate, an expression, a
  parameter the engine cannot evaluate) is left as it is and refused.
* **Other engines' expressions.** A condition, completion condition, loop
  cardinality or timer written as a simple JUEL (``${approved}``,
  ``${deadline}``), FEEL (``= status = "OK"``) or XPath
  (``bpmn:getDataObject('approved')``) expression is replaced by its Python
  (``engine.expressions``); one it does not translate is left, and the check
  refuses the model.
* **Bare ISO 8601 timers.** Most modelling tools write a timer as the ISO
  text itself (``P7D``, ``R3/PT10M``, ``2026-03-21T09:00:00``), which BPMN
  allows; the library evaluates a timer as Python, where that text is no
  value at all. Such a timer is put in quotes.
* **Implicit starts and ends.** A process or sub-process with neither start
  nor end events begins at every flow node that has no incoming sequence
  flow (BPMN 2.0 §10.5.2: activities, gateways and intermediate events; not
  boundary events, compensation handlers, link targets or event
  sub-processes). The library refuses such a level ("No start event
  found"). It gets a plain start event (``<level id>__implicit_start``) with a flow
  to that node, or, when there are several, to a parallel gateway
  (``<level id>__implicit_fork``) that starts them all at once; when the only
  such node is a receive task that instantiates the process, it becomes a
  message start event (same id): its message starts the process. BPMN requires a
  start event where there is an end event, so a level with end events and
  no start event stays as it is, as do a level that nothing would begin
  (empty, or a flow leads to every node) and an event sub-process (it needs
  its trigger); the check refuses them. A level that starts but has no end
  event ends when its paths have (§10.5.3); the library never completes
  such a process (the instance waits for nothing) and refuses such a
  sub-process, so each flow node there with no outgoing sequence flow gets
  an end event of its own (``<node id>__implicit_end``). None of these is in the
  instance's history.
* **Diverging complex gateways.** A complex gateway that only splits (one
  incoming flow, no activation condition) takes every outgoing flow whose
  condition holds, or its default flow when none does (BPMN 2.0 §10.6.5):
  what an inclusive gateway does. The library has no complex gateway; such a
  gateway becomes an inclusive one with the same id. A joining complex
  gateway (an activation condition over its incoming tokens) stays refused.
* **Global tasks.** A call activity may call a global task, a task declared
  once at the top of the file (``<globalScriptTask id="G">`` ...
  ``<callActivity calledElement="G">``); the library only calls processes.
  The call activity becomes the task itself (a script task with the global
  task's script, a user task...), keeping its id, flows and boundary events.
* **Data associations.** Data objects named directly, inputs and outputs
  named otherwise than their data object, and associations the library
  cannot run (to the process's own data input or output, a property): see
  ``engine.data_associations``.
* **Ids the library uses itself.** An element whose id is ``Start``, ``End``
  or ``Root`` collides with the library's internal task specs of those names
  and is silently dropped (a start event ``Start`` leaves the process with
  nothing to run). Such an element gets the id ``<id>__el`` and every
  reference to it follows; :func:`original_id` maps the id back for reports.

Nothing here needs SpiffWorkflow; the functions are pure (a new tree out).
"""

from __future__ import annotations

import copy
import re
from collections import Counter, defaultdict

from lxml import etree

from bpmn.event_rules import link_name
from bpmn.load import BPMN_NS, CAMUNDA_NS, SPIFF_NS, ZEEBE_NS
from bpmn.model import bpmn_local, extension_elements, starts_implicitly
from engine import expressions
from engine.data_associations import rewrite_data_associations

_Q = f"{{{BPMN_NS}}}"
_CONTAINERS = {"process", "subProcess", "transaction", "adHocSubProcess"}
_NO_SPLIT = {"exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway",
             "startEvent", "sequenceFlow"}
SPLIT_SUFFIX = "__split"
START_SUFFIX = "__implicit_start"
FORK_SUFFIX = "__implicit_fork"
END_SUFFIX = "__implicit_end"
LINK_SUFFIX = "__link"
SIGNAL_SUFFIX = "__signal"
RENAMED_SUFFIX = "__el"
_ADDED = re.compile(f"(?:{SIGNAL_SUFFIX}|{START_SUFFIX}|{FORK_SUFFIX}|{END_SUFFIX})\\d*$")  # _fresh may add a number
RESERVED_IDS = frozenset({"Start", "End", "Root"})
_REFERENCE_ATTRIBUTES = ("sourceRef", "targetRef", "attachedToRef", "default", "bpmnElement")
_REFERENCE_TEXTS = frozenset({"incoming", "outgoing", "flowNodeRef", "sourceRef", "targetRef"})


def original_id(element_id: str) -> str:
    """The id an element had in the model, before :func:`prepare_for_engine` renamed it."""
    if element_id.endswith(RENAMED_SUFFIX) and element_id[:-len(RENAMED_SUFFIX)] in RESERVED_IDS:
        return element_id[:-len(RENAMED_SUFFIX)]
    return element_id


def is_added(element_id: str) -> bool:
    """Whether :func:`prepare_for_engine` added this element (it is not in the model, nor in its history)."""
    return _ADDED.search(element_id) is not None


def prepare_for_engine(root: etree._Element) -> etree._Element:
    """A copy of ``root`` with the constructs above rewritten (see the module docstring)."""
    tree = copy.deepcopy(root)
    _rename_reserved(tree)
    ids = {el.get("id") for el in tree.iter() if isinstance(el.tag, str) and el.get("id")}
    _inline_definition_refs(tree, ids)
    _global_tasks(tree)
    _camunda_collections(tree)
    _foreign_expressions(tree)
    _external_tasks(tree)
    rewrite_data_associations(tree)
    for container in [el for el in tree.iter() if bpmn_local(el) in _CONTAINERS]:
        _diverging_complex(container)
        _links(container, ids)
        _signal_ends(container, ids)
        _implicit_splits(container, ids)
        _implicit_start_and_ends(container, ids)
    return tree


def _rename_reserved(tree: etree._Element) -> None:
    clashing = {el.get("id") for el in tree.iter() if isinstance(el.tag, str) and el.get("id") in RESERVED_IDS}
    if not clashing:
        return
    for el in tree.iter():
        if not isinstance(el.tag, str):
            continue
        if el.get("id") in clashing:
            el.set("id", el.get("id") + RENAMED_SUFFIX)
        for attr in _REFERENCE_ATTRIBUTES:
            if el.get(attr) in clashing:
                el.set(attr, el.get(attr) + RENAMED_SUFFIX)
        if etree.QName(el).localname in _REFERENCE_TEXTS and (el.text or "").strip() in clashing:
            el.text = el.text.strip() + RENAMED_SUFFIX


# A plain variable: Camunda 7 writes `documents` or `${documents}`, Camunda 8 `=documents`.
_PLAIN_COLLECTION = re.compile(r"^\s*(?:\$\{\s*([A-Za-z_]\w*)\s*\}|=\s*([A-Za-z_]\w*)|([A-Za-z_]\w*))\s*$")


def _camunda_collection(loop: etree._Element) -> tuple[str | None, str | None]:
    """(collection, element variable) a multi-instance's Camunda 7 or 8 extension names, as written."""
    collection, element = loop.get(f"{{{CAMUNDA_NS}}}collection"), loop.get(f"{{{CAMUNDA_NS}}}elementVariable")
    zeebe = loop.find(f"{_Q}extensionElements/{{{ZEEBE_NS}}}loopCharacteristics")
    if collection is None and zeebe is not None:
        collection, element = zeebe.get("inputCollection"), zeebe.get("inputElement")
    return collection, element


def _plain_collection(text: str) -> str | None:
    """The variable a Camunda collection names, or None when it is an expression."""
    found = _PLAIN_COLLECTION.match(text)
    return next((g for g in found.groups() if g), None) if found else None


def _camunda_collections(tree: etree._Element) -> None:
    for loop in tree.iter(f"{_Q}multiInstanceLoopCharacteristics"):
        if loop.find(f"{_Q}loopDataInputRef") is not None:
            continue
        collection, element = _camunda_collection(loop)
        name = _plain_collection(collection) if collection else None
        if name is None:
            continue
        for cardinality in loop.findall(f"{_Q}loopCardinality"):
            loop.remove(cardinality)
        ref = etree.Element(f"{_Q}loopDataInputRef")
        ref.text = name
        at = 1 if len(loop) and loop[0].tag == f"{_Q}extensionElements" else 0
        loop.insert(at, ref)
        variable = (element or "").strip()
        if variable and loop.find(f"{_Q}inputDataItem") is None:
            item = etree.Element(f"{_Q}inputDataItem")
            item.set("id", variable)  # the library's variable is the item's id
            item.set("name", variable)
            ref.addnext(item)


# The result variable of an external task's operator: a map result is merged into the task's data.
MERGE_RESULT = "panjereh__merge_result"
_EXTERNAL_TAGS = (f"{_Q}serviceTask", f"{_Q}sendTask")


def _external_topic(task: etree._Element) -> str | None:
    if task.get(f"{{{CAMUNDA_NS}}}type") == "external":
        topic = task.get(f"{{{CAMUNDA_NS}}}topic")
    else:
        definition = task.find(f"{_Q}extensionElements/{{{ZEEBE_NS}}}taskDefinition")
        topic = definition.get("type") if definition is not None else None
    topic = (topic or "").strip()
    return topic if topic and not topic.startswith(("=", "${", "#{")) else None


def _external_parameters(task: etree._Element) -> dict[str, str] | None:
    """name -> Python expression of each input parameter; None if one cannot be evaluated here."""
    out: dict[str, str] = {}
    ext = f"{_Q}extensionElements/"
    for param in task.findall(f"{ext}{{{CAMUNDA_NS}}}inputOutput/{{{CAMUNDA_NS}}}inputParameter"):
        name, text = (param.get("name") or "").strip(), param.text or ""
        if not name.isidentifier() or len(param):  # a list, a map or a script
            return None
        expression = expressions.juel_to_python(text) if expressions.is_juel(text) else repr(text)
        if expression is None:
            return None
        out[name] = expression
    for mapping in task.findall(f"{ext}{{{ZEEBE_NS}}}ioMapping/{{{ZEEBE_NS}}}input"):
        target, source = (mapping.get("target") or "").strip(), (mapping.get("source") or "").strip()
        if not target.isidentifier():
            return None
        expression = expressions.feel_to_python(source) if source.startswith("=") else repr(source)
        if expression is None:
            return None
        out[target] = expression
    return out


def _external_tasks(tree: etree._Element) -> None:
    for tag in _EXTERNAL_TAGS:
        for task in tree.iter(tag):
            if task.find(f"{_Q}extensionElements/{{{SPIFF_NS}}}serviceTaskOperator") is not None:
                continue
            topic = _external_topic(task)
            parameters = _external_parameters(task) if topic else None
            if topic is None or parameters is None:
                continue
            operator = etree.SubElement(extension_elements(task), f"{{{SPIFF_NS}}}serviceTaskOperator")
            operator.set("id", topic)
            operator.set("resultVariable", MERGE_RESULT)
            if parameters:
                holder = etree.SubElement(operator, f"{{{SPIFF_NS}}}parameters")
                for name, expression in parameters.items():
                    param = etree.SubElement(holder, f"{{{SPIFF_NS}}}parameter")
                    param.set("id", name)
                    param.set("type", "any")
                    param.set("value", expression)


# Where BPMN holds an expression the engine evaluates, and a model may have written JUEL, FEEL or XPath.
TRANSLATED = frozenset({"conditionExpression", "condition", "completionCondition", "loopCardinality",
                        "loopCondition", "timeDate", "timeDuration", "timeCycle"})
TIMERS = frozenset({"timeDate", "timeDuration", "timeCycle"})
# A bare ISO 8601 date, duration or cycle (as tools write timers), which Python would read as names or
# a syntax error.
ISO_BARE = re.compile(r"^(R\d*/)?(P[0-9YMWDTHS.,]+|\d{4}-\d{2}-\d{2}[0-9T:.+\-Z]*)(/\S*)?$", re.IGNORECASE)


def quoted_timer(text: str) -> str | None:
    """The Python string literal of a bare ISO 8601 timer text, or None if ``text`` is not one."""
    bare = text.strip()
    return repr(bare) if ISO_BARE.match(bare) else None


def _foreign_expressions(tree: etree._Element) -> None:
    for el in tree.iter():
        if not (bpmn_local(el) in TRANSLATED and el.text):
            continue
        language = expressions.language_of(el.text, el.get("language"))
        if language is not None:
            translated = expressions.translate(language, el.text)
            if translated is not None:
                el.text = translated
                el.attrib.pop("language", None)
        elif bpmn_local(el) in TIMERS:
            quoted = quoted_timer(el.text)
            if quoted is not None:
                el.text = quoted


def _fresh(base: str, ids: set[str]) -> str:
    candidate, n = base, 1
    while candidate in ids:
        n += 1
        candidate = f"{base}{n}"
    ids.add(candidate)
    return candidate


def _children(container: etree._Element) -> list[etree._Element]:
    """The elements directly in ``container`` (not its comments or processing instructions)."""
    return [el for el in container if isinstance(el.tag, str)]


def _flow_ends(children: list[etree._Element], end: str) -> list[str]:
    """The ``sourceRef`` or ``targetRef`` (``end``) of every sequence flow among ``children``."""
    return [el.get(end) or "" for el in children if bpmn_local(el) == "sequenceFlow"]


def _flow(container: etree._Element, flow_id: str, source: str, target: str) -> etree._Element:
    flow = etree.SubElement(container, f"{_Q}sequenceFlow")
    flow.set("id", flow_id)
    flow.set("sourceRef", source)
    flow.set("targetRef", target)
    return flow


def _implicit_splits(container: etree._Element, ids: set[str]) -> None:
    children = _children(container)
    outgoing: dict[str, list[etree._Element]] = defaultdict(list)
    for el in children:
        if bpmn_local(el) == "sequenceFlow" and el.get("sourceRef"):
            outgoing[el.get("sourceRef")].append(el)
    for node in children:
        node_id = node.get("id")
        flows = outgoing.get(node_id or "", [])
        if len(flows) < 2 or bpmn_local(node) in _NO_SPLIT or not bpmn_local(node):
            continue
        gateway_id = _fresh(f"{node_id}{SPLIT_SUFFIX}", ids)
        gateway = etree.Element(f"{_Q}inclusiveGateway")
        gateway.set("id", gateway_id)
        default = node.attrib.pop("default", None)
        conditions = [(c.text or "").strip() for f in flows if (c := f.find(f"{_Q}conditionExpression")) is not None]
        unconditional = [f for f in flows if f.find(f"{_Q}conditionExpression") is None and f.get("id") != default]
        if default and unconditional:
            # An inclusive gateway would skip its default whenever an unconditional flow is taken; the
            # activity's default is taken when no *condition* holds, whatever the unconditional flows do.
            for flow in flows:
                if flow.get("id") == default:
                    _condition(flow, f"not ({' or '.join(f'({c})' for c in conditions)})" if conditions else "True")
        elif default:
            gateway.set("default", default)
        node.addnext(gateway)
        for flow in flows:
            flow.set("sourceRef", gateway_id)
            if flow in unconditional:
                _condition(flow, "True")
        for out in node.findall(f"{_Q}outgoing"):
            node.remove(out)
        _flow(container, _fresh(f"{node_id}{SPLIT_SUFFIX}_in", ids), node_id or "", gateway_id)


def _condition(flow: etree._Element, text: str) -> None:
    condition = etree.SubElement(flow, f"{_Q}conditionExpression")
    condition.text = text


def _inline_definition_refs(tree: etree._Element, ids: set[str]) -> None:
    shared = {el.get("id"): el for el in tree
              if bpmn_local(el).endswith("EventDefinition") and el.get("id")}
    if not shared:
        return
    for ref in [el for el in tree.iter(f"{_Q}eventDefinitionRef")]:
        definition = shared.get((ref.text or "").strip())
        event = ref.getparent()
        if definition is None or event is None:
            continue  # an unknown reference stays; the event then catches or throws nothing
        copied = copy.deepcopy(definition)
        copied.set("id", _fresh(f"{event.get('id')}__def", ids))
        ref.addprevious(copied)
        event.remove(ref)


def _signal_ends(container: etree._Element, ids: set[str]) -> None:
    for end in [el for el in _children(container) if bpmn_local(el) == "endEvent"]:
        signal = end.find(f"{_Q}signalEventDefinition")
        end_id = end.get("id")
        if signal is None or not end_id:
            continue
        throw_id = _fresh(f"{end_id}{SIGNAL_SUFFIX}", ids)
        throw = etree.Element(f"{_Q}intermediateThrowEvent")
        throw.set("id", throw_id)
        if end.get("name"):
            throw.set("name", end.get("name") or "")
        end.remove(signal)
        throw.append(signal)
        end.addprevious(throw)
        # The end event's incoming flows now reach the throw event, which flows on to the end event.
        for flow in _children(container):
            if bpmn_local(flow) == "sequenceFlow" and flow.get("targetRef") == end_id:
                flow.set("targetRef", throw_id)
        for incoming in end.findall(f"{_Q}incoming"):
            end.remove(incoming)
        _flow(container, _fresh(f"{throw_id}_out", ids), throw_id, end_id)


def _links(container: etree._Element, ids: set[str]) -> None:
    throws: dict[str, list[etree._Element]] = defaultdict(list)
    catches: dict[str, etree._Element] = {}
    for el in _children(container):
        link = el.find(f"{_Q}linkEventDefinition")
        name = link_name(el, link) if link is not None else ""
        if not name:
            continue
        if bpmn_local(el) == "intermediateThrowEvent":
            throws[name].append(el)
        elif bpmn_local(el) == "intermediateCatchEvent":
            catches[name] = el
    for name, sources in throws.items():
        target = catches.get(name)
        if target is None or not target.get("id"):
            continue  # a link nobody catches stays as it is; the parser reports it
        for source in sources:
            source.remove(source.find(f"{_Q}linkEventDefinition"))
            _flow(container, _fresh(f"{source.get('id')}{LINK_SUFFIX}", ids), source.get("id") or "",
                  target.get("id") or "")
        target.remove(target.find(f"{_Q}linkEventDefinition"))


def implicit_starts(container: etree._Element) -> list[etree._Element] | None:
    """The nodes an implicit start begins in ``container``; None when it does not start implicitly.

    Only a level with neither start nor end events starts implicitly (an end
    event requires a start event); an event sub-process needs its trigger and
    an ad-hoc sub-process has no start by definition. An empty list means that
    nothing would begin the level (it is empty, or a flow leads to every node).
    """
    kind = bpmn_local(container)
    if kind == "adHocSubProcess" or container.get("triggeredByEvent") == "true":
        return None
    children = _children(container)
    if any(bpmn_local(el) in ("startEvent", "endEvent") for el in children):
        return None
    targets = set(_flow_ends(children, "targetRef"))
    return [el for el in children if _startable(el) and el.get("id") not in targets]


def _startable(el: etree._Element) -> bool:
    return bool(el.get("id")) and starts_implicitly(bpmn_local(el), el.attrib,
                                                    el.find(f"{_Q}linkEventDefinition") is not None)


def _implicit_start_and_ends(container: etree._Element, ids: set[str]) -> None:
    nodes = implicit_starts(container)
    if nodes and not _instantiating_receive(container, nodes):
        base = container.get("id") or "process"
        start = etree.Element(f"{_Q}startEvent")
        start.set("id", _fresh(f"{base}{START_SUFFIX}", ids))
        nodes[0].addprevious(start)
        first = start.get("id") or ""
        if len(nodes) > 1:
            fork = etree.Element(f"{_Q}parallelGateway")
            fork.set("id", _fresh(f"{base}{FORK_SUFFIX}", ids))
            start.addnext(fork)
            _flow(container, _fresh(f"{first}_out", ids), first, fork.get("id") or "")
            first = fork.get("id") or ""
        for node in nodes:
            _flow(container, _fresh(f"{first}_{node.get('id')}", ids), first, node.get("id") or "")
    _implicit_ends(container, ids)


def _instantiating_receive(container: etree._Element, nodes: list[etree._Element]) -> bool:
    """Make a receive task that instantiates its process (``instantiate="true"``) its start; True if done.

    When it is the only thing that begins the level, the message it waits for
    starts the process (BPMN 2.0 §10.3.3): the task becomes a message start
    event with its id, name and outgoing flows. Not when events are attached
    to it or it repeats (a start event can have neither).
    """
    if len(nodes) != 1:
        return False
    task = nodes[0]
    message, task_id = task.get("messageRef"), task.get("id")
    if bpmn_local(task) != "receiveTask" or task.get("instantiate") != "true" or not message:
        return False
    if any(el.get("attachedToRef") == task_id for el in _children(container)):
        return False
    if task.find(f"{_Q}standardLoopCharacteristics") is not None \
            or task.find(f"{_Q}multiInstanceLoopCharacteristics") is not None:
        return False
    start = etree.Element(f"{_Q}startEvent")
    for attribute in ("id", "name"):
        if task.get(attribute) is not None:
            start.set(attribute, task.get(attribute) or "")
    for child in list(task):  # a copy: appending moves each child out of the task
        if isinstance(child.tag, str) and bpmn_local(child) in ("documentation", "extensionElements", "outgoing"):
            start.append(child)
    definition = etree.SubElement(start, f"{_Q}messageEventDefinition")
    definition.set("messageRef", message)
    task.addprevious(start)
    container.remove(task)
    return True


def _implicit_ends(container: etree._Element, ids: set[str]) -> None:
    """An end event after each dead end of a level that starts but has no end event.

    Without one the library never completes a process (it waits for nothing)
    and refuses a sub-process.
    """
    if bpmn_local(container) == "adHocSubProcess":
        return
    children = _children(container)
    kinds = {bpmn_local(el) for el in children}
    if "endEvent" in kinds or "startEvent" not in kinds:
        return
    sources = set(_flow_ends(children, "sourceRef"))
    for node in children:
        node_id = node.get("id") or ""
        if _startable(node) and node_id not in sources:
            end = etree.Element(f"{_Q}endEvent")
            end.set("id", _fresh(f"{node_id}{END_SUFFIX}", ids))
            node.addnext(end)
            _flow(container, _fresh(f"{node_id}{END_SUFFIX}_in", ids), node_id, end.get("id") or "")


# A global task's kind -> the task a call activity of it becomes.
_GLOBAL_TASKS = {"globalTask": "task", "globalScriptTask": "scriptTask", "globalUserTask": "userTask",
                 "globalManualTask": "manualTask", "globalBusinessRuleTask": "businessRuleTask"}


def _global_tasks(tree: etree._Element) -> None:
    found = {el.get("id"): el for el in _children(tree) if bpmn_local(el) in _GLOBAL_TASKS}
    if not found:
        return
    processes = {el.get("id") for el in tree.iter(f"{_Q}process")}
    for call in list(tree.iter(f"{_Q}callActivity")):
        target = found.get(call.get("calledElement"))
        if target is None or call.get("calledElement") in processes:
            continue
        call.tag = f"{_Q}{_GLOBAL_TASKS[bpmn_local(target)]}"
        call.attrib.pop("calledElement", None)
        if not call.get("name") and target.get("name"):
            call.set("name", target.get("name") or "")
        for attribute in ("scriptFormat", "implementation"):
            if target.get(attribute) is not None and call.get(attribute) is None:
                call.set(attribute, target.get(attribute) or "")
        if call.find(f"{_Q}extensionElements") is None and target.find(f"{_Q}extensionElements") is not None:
            at = 1 if len(call) and call[0].tag == f"{_Q}documentation" else 0  # BPMN's order
            call.insert(at, copy.deepcopy(target.find(f"{_Q}extensionElements")))
        script = target.find(f"{_Q}script")
        if script is not None:
            call.append(copy.deepcopy(script))  # last in a script task


def _diverging_complex(container: etree._Element) -> None:
    children = _children(container)
    gateways = [el for el in children if bpmn_local(el) == "complexGateway"]
    if not gateways:
        return
    incoming = Counter(_flow_ends(children, "targetRef"))
    for gateway in gateways:
        if incoming[gateway.get("id") or ""] <= 1 and gateway.find(f"{_Q}activationCondition") is None:
            gateway.tag = f"{_Q}inclusiveGateway"
