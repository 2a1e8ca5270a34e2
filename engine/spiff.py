"""The SpiffWorkflow adapter: the only module of Panjereh that imports SpiffWorkflow.

Nothing SpiffWorkflow defines leaves this module; callers get our own values
(frozen dataclasses) and :class:`LiveInstance`, whose library objects are
private. The engine is assembled the way SpiffWorkflow's example CLI does it,
from three injected parts: a parser (fresh for every model), a serializer
(:data:`_REGISTRY`, built once from a *copy* of the library's configuration)
and a script environment (:class:`_SandboxEnvironment`, our safe evaluator).

Sections, in order:

1. Values that cross the boundary.
2. Parsing: :func:`check_executable` (can a spec be built, and why not) and
   :func:`build_specs` (the JSON spec stored once per deployed version).
3. Runtime classes: the library's task specs restored as our subclasses.
4. The script environment (sandbox) and the serializer registry.
5. :class:`LiveInstance`: one running workflow, its steps, its pruning, and
   its state cut into parts for ``engine.state_store``.
6. Diagnostics: library failures explained in an analyst's words.

How the parser is assembled (STYLE.md): a fresh parser per model; the
already-parsed, hardened lxml tree is handed over with ``add_bpmn_xml`` (no
file or bytes, no library XSD validation: ``bpmn.validate`` reports schema
problems) — a copy of it in which ``engine.prepare`` rewrote implicit splits
and link events into constructs the library runs; registries extended by
copying the library's dicts. Data stores a model draws but nobody
implements become :class:`UnconnectedDataStore`.

SpiffWorkflow 3.2.0 defects we work around, each covered by a test in
``tests/engine/test_runtime_spiff.py``:

* **Parser recursion on long chains.** ``TaskParser.parse_node`` parses each
  target of a flow recursively, so a chain of ~300 activities exceeds
  Python's recursion limit. :class:`_IterativeParsing` builds a node without
  following its flows and connects the held flows from a work list, so the
  depth stays constant (2,000-step chains parse). Predicting a long chain of
  future tasks at run time recursed the same way; :class:`_IterativePredict`
  does it with a stack.
* **Silent wrong completion past 1000-deep trees.** The library keeps every
  completed task as the parent of the next, and its ``TaskIterator`` stops
  descending at depth 1000: a workflow that looped ~500 times finds no READY
  task and reports itself complete. :meth:`LiveInstance.prune` drops
  completed history above the lowest common ancestor of all unfinished work,
  so the live tree stays small (and a step costs the same at iteration 2,000
  as at iteration 10); a depth guard refuses to go on if a tree still grows
  past the limit.
* **Shared nested data between parallel branches.** ``DeepMerge`` copies task
  data one level deep, so two branches share nested lists and dicts and a
  script in one branch changes the other. Every task's data is deep-copied
  before the task runs (:meth:`LiveInstance._isolate`), and scripts run on a
  deep copy.
* **``call_service`` NameError.** ``PythonScriptEngine.call_service`` refers
  to an undefined ``script`` when a service fails. We never call it: a
  service task stops in STARTED (:class:`_ServiceTask`) and becomes a job;
  the result (or a BPMN error) is fed back by :meth:`LiveInstance.complete_service`
  and :meth:`LiveInstance.throw_error`.
* **Event sub-processes and the scope of thrown events** (tests in
  ``tests/engine/test_event_scopes.py``). Error and escalation start events
  were read as *none* starts, so their handler ran as soon as its scope
  began (:class:`_StartEventParser`); an event sub-process inside a
  sub-process was never started; interrupting ones ran beside the work they
  should stop; errors went to any waiting catcher anywhere. Errors and
  escalations are now thrown to their own scope (:class:`_ScopedThrow`) and
  :class:`_ScopedEvents` walks the scopes outwards the way BPMN does,
  starting nested handlers and cancelling what an interrupting one stops.
* Smaller ones: timers read ``datetime.now()`` (ours read the injected
  clock and fire at, not only after, their due time); the Spiff message
  definition drops a payload when the model names no message variable
  (:class:`_MessageEventDefinition` merges it into the task data); the Spiff
  parser's ad-hoc sub-processes create data objects its own serializer
  cannot store (:class:`_AdHocParser`); the library's ids ``Start``/``End``
  swallow model elements of the same id (``engine.prepare``).

Beyond the library: a script may call ``throw_bpmn_error(code)``
(:func:`script_functions`) to end its task with a BPMN error that the
task's error boundary (or, without one, its scope's error handler) catches.

Pruning is only safe if everything the library later reads is kept; the
rules are in :meth:`LiveInstance.prune`. Ad-hoc sub-processes and processes
with event sub-processes keep the start of their tree (their children hang
off the root), so a loop inside them grows like in the library alone; the
depth guard then stops such an instance with a clear failure instead of
letting it complete silently.
"""

from __future__ import annotations

import copy
import json
import math
import re
import threading
import warnings
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from types import ModuleType
from typing import Any, ClassVar
from uuid import UUID

import orjson
from lxml import etree
from SpiffWorkflow.bpmn.exceptions import WorkflowDataException, WorkflowTaskException
from SpiffWorkflow.bpmn.parser.event_parsers import (
    CONDITIONAL_EVENT_XPATH,
    ERROR_EVENT_XPATH,
    ESCALATION_EVENT_XPATH,
    MESSAGE_EVENT_XPATH,
    SIGNAL_EVENT_XPATH,
    TIMER_EVENT_XPATH,
)
from SpiffWorkflow.bpmn.parser.ProcessParser import AdHocParser
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.script_engine.python_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.bpmn.serializer.default.workflow import TaskConverter
from SpiffWorkflow.bpmn.serializer.workflow import VERSION as SERIALIZER_VERSION
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import AdHocSubprocessSpec
from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.data_spec import BpmnDataStoreSpecification
from SpiffWorkflow.bpmn.specs.event_definitions.conditional import ConditionalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import (
    CodeEventDefinition,
    ErrorEventDefinition,
    EscalationEventDefinition,
    SignalEventDefinition,
)
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.simple import NoneEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.bpmn_spec_mixin import BpmnSpecMixin
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent, EventBasedGateway
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.specs.mixins.exclusive_gateway import ExclusiveGateway
from SpiffWorkflow.bpmn.specs.mixins.inclusive_gateway import InclusiveGateway
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask, MultiInstanceTask
from SpiffWorkflow.bpmn.specs.mixins.parallel_gateway import ParallelGateway
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import CallActivity, SubWorkflowTask
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.bpmn.util.event import EventManager
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.specs.base import TaskSpec
from SpiffWorkflow.specs.Join import Join
from SpiffWorkflow.spiff.parser.event_parsers import SpiffStartEventParser
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser, SpiffProcessParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.specs.defaults import ServiceTask as SpiffServiceTask
from SpiffWorkflow.spiff.specs.event_definitions import ErrorEventDefinition as SpiffErrorEventDefinition
from SpiffWorkflow.spiff.specs.event_definitions import EscalationEventDefinition as SpiffEscalationEventDefinition
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition as SpiffMessageEventDefinition
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from bpmn.diagnostics import Diagnostic, Severity, sort_key
from bpmn.load import BPMN_NS
from bpmn.model import Model, Process, SequenceFlow
from bpmn.references import EVENT_REFS, ElementIndex, exec_severity, kind_name, named
from engine.clock import Clock
from engine.errors import InvalidState, NotFound
from engine.jsontext import canonical_bytes, json_copy
from engine.prepare import MERGE_RESULT, is_added, original_id, prepare_for_engine
from engine.sandbox import Sandbox, ScriptError
from engine.scriptcheck import MAX_TIMER_MONTHS

NOT_BUILDABLE = "exec.not_buildable"
LIBRARY_WARNING = "exec.library_warning"
RECURSIVE_CALL = "exec.recursive_call"
# Set in a start event's extensions by the parser: the library keeps no isInterrupting of its own.
NON_INTERRUPTING = "panjereh:nonInterrupting"
# Set on the start events of event sub-processes: their condition is watched by the engine (_ScopedEvents.watch).
HANDLER_START = "panjereh:handlerStart"
# On a (sub)workflow and in its state header: the last value of each watched condition of its event sub-processes.
CONDITIONS_SEEN = "panjereh_conditions"
# Given to an event sub-process's task by the watch: the data its handler begins with.
HANDLER_DATA = "panjereh_handler_data"
SPEC_FORMAT = "panjereh.spec/1"
STATE_FORMAT = "panjereh.state/1"
TASK_PART_PREFIX = "t:"
# TaskIterator stops descending at depth 1000; we refuse to run anywhere near it.
MAX_TREE_DEPTH = 900
# Prune during a long run of engine steps after this many completed tasks.
PRUNE_EVERY = 50
# An action that completes this many tasks without waiting is an endless loop.
MAX_STEPS_PER_ACTION = 200_000
# Sub-processes nested deeper than this come from a call activity calling its own process: each new
# level costs the library a walk over all the levels above, so the step budget alone would take hours.
MAX_SUBPROCESS_DEPTH = 50
# Instances of one multi-instance activity. The library makes a parallel one's instances all at once,
# each costing a walk over the others (a cardinality of 100,000 from the case's data held an action
# for many minutes); a procedure's lists (family members, documents, properties) are far shorter.
MAX_MULTI_INSTANCES = 1_000
_ACTIVE = TaskState.WAITING | TaskState.READY | TaskState.STARTED


# =============================================================================================
# 1. Values that cross the boundary
# =============================================================================================

@dataclass(frozen=True)
class Executability:
    """Which processes the engine can build, and why the others cannot.

    ``processes`` maps the id of every process checked (the executable ones,
    or all of them when none is marked executable) to whether a spec was built.
    """

    processes: Mapping[str, bool] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def buildable(self) -> list[str]:
        """The ids of the processes the engine can run."""
        return [pid for pid, ok in self.processes.items() if ok]


@dataclass(frozen=True)
class BuiltSpecs:
    """The parsed specs of a model as JSON (stored once per deployed version).

    ``specs`` is ``{"format", "serializer", "processes": {id: {"spec",
    "subprocess_specs"}}}``; ``None`` when nothing could be built.
    """

    specs: Mapping[str, Any] | None
    processes: tuple[str, ...]
    diagnostics: list[Diagnostic] = field(default_factory=list)


@dataclass(frozen=True)
class HumanWork:
    """A user or manual task waiting for a person."""

    key: str
    element_id: str
    name: str
    kind: str            # userTask | manualTask
    lane: str | None
    form_ref: str | None


@dataclass(frozen=True)
class ServiceCall:
    """A service task waiting for its call to be made (a job).

    ``parameters`` are evaluated by the sandbox; ``problem`` says why they
    could not be (the call cannot be made then).
    """

    key: str
    element_id: str
    name: str
    operator: str
    parameters: Mapping[str, Any]
    result_variable: str
    problem: str | None = None


@dataclass(frozen=True)
class TimerWait:
    """A timer waiting for its due time."""

    key: str
    element_id: str
    due_at: datetime


@dataclass(frozen=True)
class EventWait:
    """A catching event waiting for a message or signal (``kind``) named ``name``.

    ``handler`` marks the start event of an event sub-process of a running
    scope: the instance listens for it (subscriptions) without standing there.
    """

    key: str
    element_id: str
    kind: str
    name: str
    handler: bool = False


@dataclass(frozen=True)
class Thrown:
    """An event an instance threw that nothing inside it caught."""

    kind: str                       # message | signal | error | escalation
    name: str | None
    code: str | None = None
    payload: Any = None
    correlations: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Failure:
    """Why a step could not go on: which element, what kind of problem, in words."""

    element_id: str | None
    message: str
    kind: str = "runtime"           # runtime | script | error_event | depth | runaway


@dataclass(frozen=True)
class StepReport:
    """What one action did: elements completed (in order), events thrown out, a failure."""

    completed: tuple[str, ...] = ()
    thrown: tuple[Thrown, ...] = ()
    failure: Failure | None = None


@dataclass(frozen=True)
class Snapshot:
    """Where an instance stands after an action (what it waits for, or that it ended)."""

    finished: bool
    humans: tuple[HumanWork, ...] = ()
    services: tuple[ServiceCall, ...] = ()
    timers: tuple[TimerWait, ...] = ()
    events: tuple[EventWait, ...] = ()
    stuck: tuple[str, ...] = ()     # elements in ERROR state
    depth: int = 0
    size: int = 0                   # tasks in the live tree


@dataclass(frozen=True)
class PartsDelta:
    """State parts that changed since the last save, and the keys that went away."""

    parts: Mapping[str, Any]
    removed: tuple[str, ...]
    plain: frozenset[str] = frozenset()  # keys of parts that are plain JSON (see _checked_copy)


@dataclass(frozen=True)
class StartTrigger:
    """A start event that waits for a message or signal (the process can be started by it)."""

    process_id: str
    element_id: str
    kind: str
    name: str


@dataclass(frozen=True)
class CalledVersion:
    """A process that a call activity calls from another deployed version, pinned for one instance."""

    process_id: str
    version_id: str
    specs: Mapping[str, Any]


# =============================================================================================
# 2. Parsing
# =============================================================================================

class UnconnectedDataStore(BpmnDataStoreSpecification):
    """A data store drawn in the model but backed by nothing.

    Agencies draw archives and registries as data stores to document where
    paper goes; the engine keeps process data itself. Reading gives nothing
    and writing is ignored, so the model runs exactly as if the store were
    an annotation.
    """

    def get(self, my_task: object, **kwargs: object) -> None:
        """Nothing to read."""

    def set(self, my_task: object, **kwargs: object) -> None:
        """Nothing is kept."""


class _IterativeParsing:
    """Parse a process without recursing along its sequence flows.

    The library's ``TaskParser.parse_node`` parses every target of a node's
    outgoing flows before connecting them, recursively: one Python frame (and
    more) per step of a chain. Here a node is built with its outgoing flows
    *held* (``get_outgoing_sequence_flows`` answers nothing for it); the held
    nodes are queued and connected from a work list, the same way the library
    connects them (same checks, order, default flows and conditions).
    """

    def _setup_iterative(self) -> None:
        self._held: set[str] = set()
        self._queue: deque[Any] = deque()
        self._draining = False

    def get_outgoing_sequence_flows(self, source_ref: str) -> list[etree._Element]:
        if source_ref in self._held:
            return []
        return super().get_outgoing_sequence_flows(source_ref)  # type: ignore[misc]

    def parse_node(self, node: etree._Element) -> Any:
        spec = self.spec  # type: ignore[attr-defined]
        node_id = node.get("id")
        if node_id in spec.task_specs:
            return spec.task_specs[node_id]
        node_parser, spec_class = self.parser._get_parser_class(node.tag)  # type: ignore[attr-defined]
        if not node_parser or not spec_class:
            raise ValidationException("There is no support implemented for this task type.",
                                      node=node, file_name=self.filename)  # type: ignore[attr-defined]
        parser = node_parser(self, spec_class, node, self.nsmap, lane=self.lane)  # type: ignore[attr-defined]
        outer = not self._draining
        self._draining = True
        try:
            self._held.add(node_id)
            try:
                built = parser.parse_node()
            finally:
                self._held.discard(node_id)
            self._queue.append(parser)
            while outer and self._queue:
                self._connect(self._queue.popleft())
        finally:
            if outer:
                self._draining = False
                self._queue.clear()
        return built

    def _connect(self, parser: Any) -> None:
        """The second half of the library's ``TaskParser.parse_node``, for a held node."""
        try:
            outgoing = self.get_outgoing_sequence_flows(parser.bpmn_id)
            if len(outgoing) > 1 and not parser.handles_multiple_outgoing():
                parser.raise_validation_exception("Multiple outgoing flows are not supported for tasks of type")
            children = []
            for flow in outgoing:
                target_ref = flow.get("targetRef")
                target = self.get_node_by_id(target_ref)  # type: ignore[attr-defined]
                if target is None:
                    parser.raise_validation_exception("When looking for a task spec, we found two items, "
                                                      f"perhaps a form has the same ID? ({target_ref})")
                split = self.spec.task_specs.get(f"{target_ref}.BoundaryEventSplit")  # type: ignore[attr-defined]
                child = self.parse_node(target) if split is None else split
                children.append((parser.get_position(target), child, flow))
            if not children:
                return
            children.sort(key=lambda item: float(item[0]["y"]))
            default = parser.node.get("default")
            if len(children) == 1 and isinstance(parser.task, ExclusiveGateway | InclusiveGateway):
                _, _, flow = children[0]
                if parser.parse_condition(flow) is None:
                    default = flow.get("id")
            for _, child, flow in children:
                parser.connect_outgoing(child, flow, flow.get("id") == default)
        except ValidationException:
            raise
        # The adapter boundary, as in the library: anything else becomes a ValidationException on the node.
        except Exception as exc:
            raise ValidationException(f"{exc!r}", node=parser.node, file_name=parser.filename) from exc


class _ProcessParser(_IterativeParsing, SpiffProcessParser):
    """Iterative, and treats every process as executable when the model marks none so."""

    def __init__(self, p: _Parser, node: etree._Element, *args: object, **kwargs: object) -> None:
        super().__init__(p, node, *args, **kwargs)
        self._setup_iterative()
        if p.force_executable:
            self.process_executable = True


class _AdHocSpec(AdHocSubprocessSpec):
    """An ad-hoc sub-process whose activities may end while others still run.

    When one of its activities ends, the library merges the sub-process's data
    into each activity still running and then removes a ``data_objects`` key
    from it, which it assumed that data holds: with two activities that run by
    themselves, the first to end failed the instance with
    "KeyError: 'data_objects'".
    """

    def path_complete(self, workflow: Any, task: Task) -> None:
        workflow.data.setdefault("data_objects", {})
        try:
            super().path_complete(workflow, task)
        finally:
            workflow.data.pop("data_objects", None)


class _AdHocParser(_IterativeParsing, AdHocParser):
    """Ad-hoc sub-processes, parsed iteratively too, with the Spiff flavour of data objects.

    (The library's Spiff parser keeps the base ad-hoc parser, whose data
    objects its own Spiff serializer cannot store.) One without a completion
    condition ends when its activities have (BPMN); the library evaluated the
    missing condition as code when the first of them ended, and the instance
    failed with "the code is not text".
    """

    parse_data_object = SpiffProcessParser.parse_data_object

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._setup_iterative()

    def create_spec(self) -> Any:
        spec = super().create_spec()
        spec.__class__ = _AdHocSpec  # a subclass with no state of its own: only path_complete differs
        if spec.completion_condition is None or not str(spec.completion_condition).strip():
            spec.completion_condition = "False"  # never early: it ends when its last activity does
        return spec


class _StartEventParser(SpiffStartEventParser):
    """Start events, with the error and escalation triggers of event sub-processes.

    The library reads only message, signal, timer and conditional
    definitions on a start event; an event sub-process that starts on an
    error or an escalation became a *none* start event, so its handler ran as
    soon as its scope began, whatever happened. (Where it may start: only in
    an event sub-process, which is what BPMN allows.)
    """

    def create_task(self) -> Any:
        if not _in_event_subprocess(self.node):
            return super().create_task()
        definition = self.get_event_definition([MESSAGE_EVENT_XPATH, SIGNAL_EVENT_XPATH, TIMER_EVENT_XPATH,
                                                CONDITIONAL_EVENT_XPATH, ERROR_EVENT_XPATH, ESCALATION_EVENT_XPATH])
        task = self._create_task(definition)
        self.spec.start.connect(task)
        return task

    def parse_extensions(self, node: Any = None) -> dict[str, Any]:
        extensions = dict(super().parse_extensions(node))
        if node is None and self.node.get("isInterrupting") == "false":
            # Kept with the spec's extensions (the library has no field for it): see _ScopedEvents.
            extensions[NON_INTERRUPTING] = True
        if node is None and _in_event_subprocess(self.node):
            extensions[HANDLER_START] = True
        return extensions


def _in_event_subprocess(node: etree._Element) -> bool:
    parent = node.getparent()
    return parent is not None and parent.get("triggeredByEvent") == "true"


class _Parser(SpiffBpmnParser):
    PROCESS_PARSER_CLASS = _ProcessParser
    AD_HOC_PARSER_CLASS = _AdHocParser
    OVERRIDE_PARSER_CLASSES: ClassVar[dict[str, Any]] = {**SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
                               full_tag("startEvent"): (_StartEventParser,
                                                        SpiffBpmnParser.OVERRIDE_PARSER_CLASSES[
                                                            full_tag("startEvent")][1])}

    def __init__(self, data_store_names: list[str], force_executable: bool) -> None:
        super().__init__()  # no validator: bpmn.validate reports schema problems
        self.force_executable = force_executable
        # A copy on the instance: the library's class-level dict stays untouched.
        self.DATA_STORE_CLASSES = {
            **SpiffBpmnParser.DATA_STORE_CLASSES,
            **{name: UnconnectedDataStore for name in data_store_names},
        }


def _call_problems(root: etree._Element, process_ids: set[str]) -> list[Diagnostic]:
    """Call activities that call their own process, directly or through others.

    One that calls a process of another model is said by ``bpmn.references`` (``call.unknown_process``)
    and, with what is deployed, by ``engine.deploy``.
    """
    calls: dict[str, list[etree._Element]] = {proc.get("id", ""): list(proc.iter(f"{{{BPMN_NS}}}callActivity"))
                                              for proc in root.iter(f"{{{BPMN_NS}}}process")}

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            pid = todo.pop()
            if pid == goal:
                return True
            if pid in seen:
                continue
            seen.add(pid)
            todo += [c.get("calledElement", "") for c in calls.get(pid, ())]
        return False

    out: list[Diagnostic] = []
    for pid in sorted(process_ids & calls.keys()):
        for call in calls[pid]:
            called = call.get("calledElement", "")
            if called in calls and reaches(called, pid):
                out.append(Diagnostic(
                    "warning", RECURSIVE_CALL,
                    f"the call activity {named(call.get('name'), call.get('id'))} calls the process {called}, "
                    f"which {'is its own process' if called == pid else 'calls back into ' + pid}: unless a "
                    f"condition ends it, an instance stops with an error once {MAX_SUBPROCESS_DEPTH} levels "
                    "are open", call.get("id"), call.sourceline))
    return out


def _data_store_names(model: Model) -> list[str]:
    root = model.source.root
    return sorted({el.get("name") for el in root.iter(f"{{{BPMN_NS}}}dataStore") if el.get("name") is not None})


def check_executable(model: Model) -> Executability:
    """Try to build a SpiffWorkflow spec for each executable process of ``model``.

    The processes checked are those marked ``isExecutable="true"``, or all of
    them when none is marked (then failures are warnings, not errors). Never
    raises: every failure of the library becomes a diagnostic.
    """
    marked = [p for p in model.processes if p.is_executable]
    targets = marked or list(model.processes)
    if not targets:
        return Executability({}, [])
    force = not marked
    root = model.source.root
    prepared = prepare_for_engine(root)
    stores = _data_store_names(model)
    diagnostics: list[Diagnostic] = []
    failures: list[tuple[Exception, Process | None, Severity]] = []
    results: dict[str, bool] = {}
    for process in targets:
        severity = exec_severity(process.is_executable)
        if not process.id:
            results[process.id] = False
            diagnostics.append(Diagnostic(severity, NOT_BUILDABLE,
                                          "the engine cannot build a process without an id; give it one",
                                          None, process.line))
            continue
        parser = _Parser(stores, force)  # fresh: a failed parse leaves half-built specs behind
        problem = _attempt(partial(parser.add_bpmn_xml, prepared, filename=model.name), diagnostics)
        if problem is not None:
            # Reading the file failed (a duplicate process id, a data store
            # without a name): that concerns every process, so it is said once.
            failures.append((problem, None, "error" if marked else "warning"))
            results = {p.id: False for p in targets}
            break
        problem = _attempt(partial(parser.get_subprocess_specs, process.id, require_call_activity_specs=False),
                           diagnostics, process)
        if problem is not None:
            failures.append((problem, process, severity))
        dropped = _flows_without_ids(process)
        results[process.id] = problem is None and not dropped
        if dropped:
            diagnostics.append(Diagnostic(
                severity, NOT_BUILDABLE,
                f"the engine would run the process {named(process.display_name, process.id)} without "
                f"{len(dropped)} of its sequence flows, because they have no id (the first is on line "
                f"{dropped[0].line}); give every sequence flow an id", process.id, dropped[0].line))
    if failures:
        index = ElementIndex(root)
        diagnostics += [_diagnose(exc, model, index, proc, sev) for exc, proc, sev in failures]
    diagnostics += _call_problems(root, {p.id for p in targets})
    # An element without an id is reported by line, never by an empty id.
    diagnostics = [d if d.element_id else replace(d, element_id=None) for d in diagnostics]
    return Executability(results, sorted(diagnostics, key=sort_key))




def build_specs(model: Model) -> BuiltSpecs:
    """Parse ``model`` once and return the JSON specs of its runnable processes.

    The processes are those marked executable (or all when none is marked), as
    in :func:`check_executable`; a process that cannot be built is left out
    and explained in ``diagnostics``. The JSON uses the library's own
    serialization of specs, so it stays readable by SpiffWorkflow tools.
    """
    marked = [p for p in model.processes if p.is_executable]
    targets = [p for p in (marked or list(model.processes)) if p.id]
    diagnostics: list[Diagnostic] = []
    processes: dict[str, Any] = {}
    parser = _Parser(_data_store_names(model), not marked)  # fresh for every model
    problem = _attempt(partial(parser.add_bpmn_xml, prepare_for_engine(model.source.root), filename=model.name),
                       diagnostics)
    if problem is not None:
        diagnostics.append(_diagnose(problem, model, ElementIndex(model.source.root), None, "error"))
        return BuiltSpecs(None, (), diagnostics)
    for process in targets:
        built: dict[str, Any] = {}

        def build(pid: str = process.id, out: dict[str, Any] = built) -> None:
            spec = parser.get_spec(pid)
            subs = parser.get_subprocess_specs(pid, require_call_activity_specs=False)
            out["spec"] = _REGISTRY.convert(spec)
            out["subprocess_specs"] = {name: _REGISTRY.convert(sp) for name, sp in subs.items() if sp is not None}
            json.dumps(out)  # stored as JSON: anything the serializer does not know fails here, not at deploy

        problem = _attempt(build, diagnostics, process)
        if problem is not None:
            diagnostics.append(_diagnose(problem, model, ElementIndex(model.source.root), process, "error"))
            continue
        processes[process.id] = built
    if not processes:
        return BuiltSpecs(None, (), diagnostics)
    specs = {"format": SPEC_FORMAT, "serializer": SERIALIZER_VERSION, "processes": processes}
    return BuiltSpecs(specs, tuple(processes), diagnostics)


def spec_process_ids(specs: Mapping[str, Any]) -> list[str]:
    """The process ids a stored spec holds, in model order."""
    return list((specs or {}).get("processes", {}))


def start_triggers(version_id: str, specs: Mapping[str, Any]) -> list[StartTrigger]:
    """The start events of every process that wait for a message or a signal."""
    out: list[StartTrigger] = []
    for pid in spec_process_ids(specs):
        spec, _ = _restored(version_id, specs, pid)
        for ts in spec.task_specs.values():
            if not isinstance(ts, StartEvent):
                continue
            for kind, name in _event_names(ts.event_definition):
                out.append(StartTrigger(pid, original_id(ts.bpmn_id), kind, name))
    return out


def _event_names(definition: Any) -> list[tuple[str, str]]:
    """(kind, name) of the message and signal definitions in ``definition``."""
    if isinstance(definition, MultipleEventDefinition):
        return [pair for d in definition.event_definitions for pair in _event_names(d)]
    if isinstance(definition, MessageEventDefinition) and definition.name:
        return [("message", definition.name)]
    if isinstance(definition, SignalEventDefinition) and definition.name:
        return [("signal", definition.name)]
    return []


# =============================================================================================
# 3. Runtime classes: the library's specs, restored as our subclasses
# =============================================================================================

def _clock_now(my_task: Task) -> datetime:
    """The injected clock of the workflow the task belongs to."""
    engine = my_task.workflow.top_workflow.script_engine
    return engine.clock.now() if isinstance(engine, _ScriptEngine) else datetime.now(UTC)


class _IterativePredict(TaskSpec):
    """``TaskSpec._predict`` with an explicit stack instead of one frame per future task.

    Same visiting order and rules as the library's recursive version (which
    fails with RecursionError on a few hundred definite tasks in a row), but
    a path stops at a spec it has already passed (the library meant to, and
    did not: see below).
    """

    def _predict(self, my_task: Task, seen: list[Any] | None = None, looked_ahead: int = 0,
                 mask: int = TaskState.PREDICTED_MASK) -> None:
        stack: list[tuple[Task, list[Any], int]] = [(my_task, seen if seen is not None else [], looked_ahead)]
        while stack:
            task, seen_here, ahead = stack.pop()
            spec = task.task_spec
            if task.has_state(mask):
                spec._predict_hook(task)
            seen_here.append(spec)  # the library adds only predicted specs: a loop of definite ones never ended
            look = task.has_state(TaskState.DEFINITE_MASK) or ahead + 1 < spec.lookahead
            if not look:
                continue
            # Reversed so that the first child is predicted first, as in the recursion.
            for child in reversed(task.children):
                # The library compares the child *task* with the specs seen (never equal), so a loop of
                # definite tasks was predicted until RecursionError (the bpmn.io pizza example); without
                # recursion that never ends. A spec already on this path is a loop: prediction stops there.
                if child.has_state(mask) and child.task_spec not in seen_here:
                    stack.append((child, seen_here[:], ahead + 1))

    def _update(self, my_task: Task) -> None:
        if my_task.state == TaskState.FUTURE and not my_task._children and self.outputs:
            # Prediction stopped here (a loop, above): predict the rest now that the task is reached.
            self._predict(my_task, mask=TaskState.NOT_FINISHED_MASK)
        super()._update(my_task)


class _SubWorkflowStart(SubWorkflowTask):
    """Sub-processes and call activities as they start: a nesting limit, and a handler's starting data.

    The library starts a sub-process from inside the step that makes its
    task ready, and the sub-process's first steps run at once: a call
    activity calling its own process recurses inside one ``run()``, never
    back in the engine loop where the step budget is counted, so a level
    past :data:`MAX_SUBPROCESS_DEPTH` is refused here. An event sub-process
    started by :meth:`_ScopedEvents.watch` begins with the data given to
    :func:`_trigger_with` instead of the data its parent task inherited.
    """

    def start_workflow(self, my_task: Task) -> None:
        if _nesting(my_task) >= MAX_SUBPROCESS_DEPTH:
            raise _Nested(_element(my_task))
        data = my_task.internal_data.pop(HANDLER_DATA, None)
        if data is not None:
            my_task.data = data
        super().start_workflow(my_task)

    def get_missing_subworkflow_error(self, my_task: Task) -> str:
        who = named(getattr(self, "bpmn_name", None), _element(my_task))
        return (f"the call activity {who} calls the process '{self.spec}', which neither its model "
                "nor any version deployed when the instance started holds")


class _ServiceTask(SpiffServiceTask):
    """A service task that waits (STARTED) for its job instead of calling ``call_service``.

    The library's ``call_service`` path has a NameError on failure and would
    call out inside the engine step; ours becomes a job run by a worker, and
    the result or a BPMN error comes back through :class:`LiveInstance`.
    """

    def _execute(self, task: Task) -> None:
        return None


# ISO 8601 durations (PnYnMnWnDTnHnMnS, a decimal fraction allowed): the library's parser skips what it
# does not understand before a "T" ("-PT5M" and "XT5M" both waited five minutes).
_NUMBER = r"\d+(?:[.,]\d+)?"
_DURATION = re.compile(rf"P(?=\d|T\d)(?:{_NUMBER}Y)?(?:{_NUMBER}M)?(?:{_NUMBER}W)?(?:{_NUMBER}D)?"
                       rf"(?:T(?=\d)(?:{_NUMBER}H)?(?:{_NUMBER}M)?(?:{_NUMBER}S)?)?", re.IGNORECASE)


def _duration(value: Any) -> dict[str, Any]:
    """A timer's ISO 8601 duration parsed as the library does, refused with a clear error when it is not one
    or is longer than MAX_TIMER_MONTHS.

    The library adds up a duration's calendar months one by one (each month's length), so a duration of
    a hundred million years, which form data can set, held an action (and its instance's lock) for hours.
    The check at deployment refuses such constants (``scriptcheck``); this refuses the rest.
    """
    if not isinstance(value, str) or not _DURATION.fullmatch(value.strip()):
        raise ValueError(f"the timer's duration {value!r} is not an ISO 8601 duration such as 'PT30M' or 'P3D'")
    parsed: dict[str, Any] = TimerEventDefinition.parse_iso_duration(value.strip())
    if parsed.get("years", 0) * 12 + parsed.get("months", 0) > MAX_TIMER_MONTHS:
        raise ValueError(f"the timer's duration {value!r} is longer than {MAX_TIMER_MONTHS // 12} years")
    return parsed


def _time_or_duration(value: str) -> Any:
    """``TimerEventDefinition.parse_time_or_duration``, with durations checked by :func:`_duration`."""
    return _duration(value) if value.strip().upper().startswith("P") else \
        TimerEventDefinition.parse_time_or_duration(value)


def _parse_cycle(expression: str, now: datetime) -> tuple[int, datetime, Any]:
    """``TimerEventDefinition.parse_iso_recurring_interval`` with our clock for "now"."""
    components = expression.upper().replace("--", "/").strip("R").split("/")
    cycles = int(components[0]) if components[0] else -1
    first = _time_or_duration(components[1])
    second = _time_or_duration(components[2]) if len(components) == 3 else None
    if isinstance(first, datetime):
        return cycles, first, TimerEventDefinition.get_timedelta_from_start(second, first)
    if isinstance(second, datetime):
        duration = TimerEventDefinition.get_timedelta_from_end(first, second)
        return cycles, second - duration, duration
    if second is None:
        duration = TimerEventDefinition.get_timedelta_from_start(first, now)
        return cycles, now + duration, duration
    raise ValueError("Invalid recurring interval")


class _ConditionalEventDefinition(ConditionalEventDefinition):
    """A condition; on the start event of an event sub-process, fired by the engine's watch.

    The library evaluates a condition only when its event is reached, on that
    task's data. The start event of an event sub-process is never reached
    that way: :meth:`_ScopedEvents.watch` evaluates it on the scope's data
    after every step and fires this very definition (equality is identity,
    so one condition never starts another handler).
    """

    def has_fired(self, my_task: Task) -> bool:
        fired = bool(my_task._get_internal_data("event_fired", False))
        if fired or my_task.task_spec.extensions.get(HANDLER_START):
            return fired
        return bool(super().has_fired(my_task))

    def holds(self, task: Task) -> bool:
        """Whether the condition is true on ``task``'s data (a condition that cannot be evaluated yet is not)."""
        try:
            return bool(task.workflow.script_engine.evaluate(task, self.expression,
                                                             external_context=task.workflow.data_objects))
        except Exception:  # noqa: BLE001 - a variable not set yet, a type not comparable yet: not true
            return False

    def __eq__(self, other: object) -> bool:
        return self is other

    __hash__ = object.__hash__


class _ClockedTimeDate(TimeDateEventDefinition):
    """A timer at a date; reads the injected clock and fires at its due time."""

    def has_fired(self, my_task: Task) -> bool:
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            event_value = my_task.workflow.script_engine.evaluate(my_task, self.expression)
            try:
                due = None if not isinstance(event_value, str) or event_value.strip().upper().startswith("P") \
                    else TimerEventDefinition.parse_time_or_duration(event_value)
            except (ValueError, AttributeError):  # AttributeError: the library's week-date parse of any "W"
                due = None
            if not isinstance(due, datetime):
                raise WorkflowTaskException(f"the timer's date {event_value!r} is not an ISO 8601 date and time "
                                            "such as '2026-03-21T09:00:00+03:30'", task=my_task)
            my_task._set_internal_data(event_value=event_value)
        if TimerEventDefinition.parse_time_or_duration(event_value) <= _clock_now(my_task):
            my_task._set_internal_data(event_fired=True)
        return my_task._get_internal_data("event_fired", False)


class _ClockedDuration(DurationTimerEventDefinition):
    """A timer after a duration; reads the injected clock and fires at its due time."""

    def has_fired(self, my_task: Task) -> bool:
        now = _clock_now(my_task)
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            expression = my_task.workflow.script_engine.evaluate(my_task, self.expression)
            try:
                parsed = _duration(expression)
            except ValueError as exc:
                raise WorkflowTaskException(str(exc), task=my_task) from None
            event_value = (now + TimerEventDefinition.get_timedelta_from_start(parsed, now)).isoformat()
            my_task._set_internal_data(event_value=event_value)
        if TimerEventDefinition.get_datetime(event_value) <= now:
            my_task._set_internal_data(event_fired=True)
        return my_task._get_internal_data("event_fired", False)


class _ClockedCycle(CycleTimerEventDefinition):
    """A repeating timer; reads the injected clock and fires at each due time."""

    def cycle_complete(self, my_task: Task) -> bool:
        now = _clock_now(my_task)
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            expression = my_task.workflow.script_engine.evaluate(my_task, self.expression)
            try:
                cycles, start, duration = _parse_cycle(expression, now)
            except ValueError as exc:
                raise WorkflowTaskException(str(exc), task=my_task) from None
            event_value = {"cycles": cycles, "next": start.isoformat(), "duration": duration.total_seconds()}
        ready = False
        if event_value["cycles"] != 0:
            next_event = datetime.fromisoformat(event_value["next"])
            if next_event <= now:
                event_value["next"] = (next_event + _seconds(event_value["duration"])).isoformat()
                event_value["cycles"] -= 1
                ready = True
        else:
            my_task.internal_data.pop("event_value", None)
            my_task.internal_data["event_fired"] = True
        my_task._set_internal_data(event_value=event_value)
        return ready


class _MessageEventDefinition(SpiffMessageEventDefinition):
    """A message whose payload, when the model names no message variable, becomes task data.

    The library's Spiff flavour drops the payload in that case (only the
    BPMN base class merges it); an API caller correlating a message with a
    payload expects to see it in the instance.
    """

    def update_task_data(self, my_task: Task) -> None:
        if self.message_var is None:
            payload = my_task.internal_data.pop(self.name, None)
            if isinstance(payload, Mapping):
                my_task.set_data(**copy_data(dict(payload)))
            return
        super().update_task_data(my_task)


class _ScopedThrow:
    """Errors and escalations thrown from where they happen, to be caught from the inside out.

    The library's Spiff flavour throws them with no target, so any waiting
    catcher anywhere in the instance could take them (a boundary event on an
    unrelated sub-process) and an event sub-process of the thrower's own
    scope was never asked. With the thrower's workflow as the target,
    :class:`_ScopedEvents` looks in that scope first and then in each
    enclosing one.
    """

    def throw(self, my_task: Task) -> None:
        expression = getattr(self, "expression", None)
        payload = my_task.workflow.script_engine.evaluate(my_task, expression) if expression is not None else None
        my_task.workflow.top_workflow.catch(BpmnEvent(self, payload=payload, target=my_task.workflow))


class _ErrorEventDefinition(_ScopedThrow, SpiffErrorEventDefinition):
    """An error thrown to its own scope first (see :class:`_ScopedThrow`)."""


class _EscalationEventDefinition(_ScopedThrow, SpiffEscalationEventDefinition):
    """An escalation thrown to its own scope first (see :class:`_ScopedThrow`)."""


def _seconds(value: float) -> Any:
    from datetime import timedelta  # local: only cycles need it

    return timedelta(seconds=value)


class _MultiInstanceFixes(MultiInstanceTask):
    """Two fixes to the library's multi-instance activities.

    * An input collection that is missing or not a collection fails saying
      so: the library iterated whatever the variable held, so a variable the
      case's data lacks (or a number) ended the instance with "TypeError:
      'NoneType' object is not iterable" and no element named.
    * The input item (the variable holding one instance's item) stays the
      instance's own, as Camunda's element variable: the library merged it
      into the activity's data when an instance without an output item
      ended, so a sequential one failed when it made its second instance
      ("Multiinstance input item ... already exists").
    * More than MAX_MULTI_INSTANCES instances (a collection that long, or a
      cardinality that high) fail the activity, saying so, before any is made.
    """

    def _refuse_too_many(self, my_task: Task, count: Any) -> None:
        if isinstance(count, int) and count > MAX_MULTI_INSTANCES:
            child = my_task.workflow.spec.task_specs.get(self.task_spec)
            who = named(self.bpmn_name or getattr(child, "bpmn_name", None), _element(my_task))
            raise WorkflowTaskException(f"the multi-instance activity {who} would run {count:,} times; the engine "
                                        f"runs at most {MAX_MULTI_INSTANCES:,} instances of one activity", task=my_task)

    def _checked_input(self, my_task: Task) -> None:
        value = self.data_input.get(my_task)
        if isinstance(value, Iterable):
            return
        child = my_task.workflow.spec.task_specs.get(self.task_spec)  # the name is drawn on the repeated task
        who = named(self.bpmn_name or getattr(child, "bpmn_name", None), _element(my_task))
        held = "which the case's data does not hold" if value is None else \
            f"which holds a {type(value).__name__}, not a list or a map"
        raise WorkflowTaskException(f"the multi-instance activity {who} runs once per item of "
                                    f"'{self.data_input.bpmn_id}', {held}", task=my_task)

    def create_children(self, my_task: Task) -> None:  # parallel: the first use of the input
        if self.data_input is not None:
            self._checked_input(my_task)
            value = self.data_input.get(my_task)
            self._refuse_too_many(my_task, len(value) if isinstance(value, Sized) else None)
        else:
            self._refuse_too_many(my_task, my_task.workflow.script_engine.evaluate(my_task, self.cardinality))
        super().create_children(my_task)  # type: ignore[misc]

    def init_remaining_items(self, my_task: Task) -> Any:  # sequential: the first use of the input
        self._checked_input(my_task)
        remaining = super().init_remaining_items(my_task)  # type: ignore[misc]
        self._refuse_too_many(my_task, len(remaining))
        return remaining

    def add_next_child(self, my_task: Task) -> None:  # sequential: each instance, the first after the cardinality
        if my_task.internal_data.get("current", 0) == 0:
            self._refuse_too_many(my_task, my_task.internal_data.get("cardinality"))
        super().add_next_child(my_task)  # type: ignore[misc]

    def merge_child(self, workflow: Any, child: Task) -> None:
        super().merge_child(workflow, child)  # a sequential activity makes its next instance in there
        self._drop_merged_item(child.parent)

    def create_child(self, my_task: Task, item: Any, key_or_index: Any = None) -> None:
        self._drop_merged_item(my_task)
        super().create_child(my_task, item, key_or_index)  # type: ignore[misc]

    def _drop_merged_item(self, my_task: Task) -> None:
        # Only a merge can have put it there: had it been there before the first instance, making that
        # instance would have failed.
        if self.input_item is not None and my_task.internal_data.get("merged"):
            my_task.data.pop(self.input_item.bpmn_id, None)


def _runtime_class(cls: type) -> type:
    """Our subclass of a library task spec class (same behaviour, plus our fixes)."""
    base = _ServiceTask if cls is SpiffServiceTask else cls
    mixins: tuple[type, ...] = (_IterativePredict, _SubWorkflowStart) if issubclass(cls, SubWorkflowTask) \
        else (_IterativePredict,)
    if issubclass(cls, MultiInstanceTask):
        mixins = (_MultiInstanceFixes, *mixins)
    return type(f"Panjereh{cls.__name__}", (*mixins, base), {"__module__": __name__})


# =============================================================================================
# 4. The script environment and the serializer
# =============================================================================================

class _SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """Conditions, scripts, timers, multi-instance and service parameters, through the sandbox.

    Never ``eval``/``exec``. A script runs on a deep copy of the task data
    (written back when it ends), so nested values shared with other tasks or
    branches are never changed in place.
    """

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__({})
        self.sandbox = sandbox

    def evaluate(self, expression: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> Any:
        names = {**external_context, **context} if external_context else context
        return self.sandbox.evaluate(expression, names)

    def execute(self, script: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> bool:
        if not isinstance(script, str) or not script.strip():
            return True  # a script task drawn without a script does nothing (the check warns: script.empty)
        extra = external_context or {}
        work = copy_data(context)
        names = {**extra, **work}
        self.sandbox.execute(script, names)
        context.clear()
        context.update({k: v for k, v in names.items() if k not in extra or k in work})
        return True

    def call_service(self, context: dict[str, Any], **kwargs: Any) -> Any:
        raise NotImplementedError("service tasks are run as jobs, never from inside a step")


class _ScriptEngine(PythonScriptEngine):
    """The library's script engine with our environment and the injected clock."""

    def __init__(self, sandbox: Sandbox, clock: Clock) -> None:
        super().__init__(environment=_SandboxEnvironment(sandbox))
        self.sandbox = sandbox
        self.clock = clock

    def validate(self, expression: str) -> None:
        problems = self.sandbox.check(expression, "eval")
        if problems:
            raise ScriptError.from_problem(problems[0])

    def call_service(self, task: Task, **kwargs: Any) -> Any:
        raise NotImplementedError("service tasks are run as jobs, never from inside a step")


class _TaskConverter(TaskConverter):
    """Tasks with their full data, not a delta against the parent.

    A task's part then depends on nothing but the task (a parent's data may
    change or be pruned away), restoring does not depend on the order of the
    parts, and a predicted task with no data stays byte-identical between steps.
    """

    def to_dict(self, task: Task) -> dict[str, Any]:
        return _task_dict(task)[0]

    def from_dict(self, dct: dict[str, Any], workflow: Any) -> Task:
        task_spec = workflow.spec.task_specs.get(dct["task_spec"])
        task = self.target_class(workflow, task_spec, state=dct["state"], id=UUID(dct["id"]))
        task._parent = UUID(dct["parent"]) if dct["parent"] is not None else None
        task._children = [UUID(child) for child in dct["children"]]
        task.last_state_change = dct["last_state_change"]
        task.triggered = dct["triggered"]
        task.internal_data = self.registry.restore(dct["internal_data"])
        task.data = self.registry.restore(dct["data"])
        if isinstance(task_spec, CatchingEvent) and task.has_state(TaskState.WAITING):
            workflow.top_workflow.event_manager.add_task(task)
        return task


def _task_dict(task: Task) -> tuple[dict[str, Any], bool]:
    """A task as :class:`_TaskConverter` stores it, and whether it is plain JSON (see :func:`_checked_copy`)."""
    internal, plain_internal = _checked_copy(task.internal_data)
    data, plain_data = _checked_copy(task.data)
    parent = task.parent  # None also when the parent was pruned: the task is the new root
    return {
        "id": _tid(task),
        "parent": _tid(parent) if parent is not None else None,
        "children": [_uuid_text(child) for child in task._children],
        "last_state_change": task.last_state_change,  # time.time(): finite
        "state": task.state,
        "task_spec": task.task_spec.name,
        "triggered": task.triggered,
        "internal_data": internal,
        "data": data,
    }, plain_internal and plain_data


def _build_registry() -> Any:
    """The serializer registry: a copy of the library's configuration plus our runtime classes.

    Our classes are registered under the library's type names, so the stored
    JSON is the library's format and restoring it builds our subclasses.
    """
    config = dict(SPIFF_CONFIG)  # a copy: the library's dict stays untouched
    registry = BpmnWorkflowSerializer.configure(config)
    replaced = {TimeDateEventDefinition: _ClockedTimeDate, DurationTimerEventDefinition: _ClockedDuration,
                CycleTimerEventDefinition: _ClockedCycle, SpiffMessageEventDefinition: _MessageEventDefinition,
                SpiffErrorEventDefinition: _ErrorEventDefinition,
                SpiffEscalationEventDefinition: _EscalationEventDefinition,
                ConditionalEventDefinition: _ConditionalEventDefinition, AdHocSubprocessSpec: _AdHocSpec}
    for cls, converter in config.items():
        if cls in replaced:
            converter(replaced[cls], registry, typename=cls.__name__)
        elif isinstance(cls, type) and issubclass(cls, TaskSpec):
            converter(_runtime_class(cls), registry, typename=cls.__name__)
    _TaskConverter(Task, registry)
    # Data stores drawn but not implemented are restored as such (nothing is kept in them).
    registry.register(UnconnectedDataStore,
                      lambda ds: {"bpmn_id": ds.bpmn_id, "bpmn_name": ds.bpmn_name, "capacity": ds.capacity,
                                  "is_unlimited": ds.is_unlimited},
                      lambda d: UnconnectedDataStore(d["bpmn_id"], d["bpmn_name"], d["capacity"], d["is_unlimited"]))
    return registry


_REGISTRY = _build_registry()
_TASK_TYPENAME = _REGISTRY.typenames[Task]
_PLAIN_TYPES = frozenset({str, int, float, bool, type(None)})


def _to_dict(value: Any, *, copy_unknown: bool = False) -> Any:
    """``_REGISTRY.convert(value)``, fast for JSON-like data (the bulk of every saved part).

    The library's converter dispatches each value through its type table
    and cleans every dict on the way down; on task data that is almost all
    strings, numbers, dicts and lists, each of which converts to itself (a
    new dict or list). Those are handled here, with the library's cleaning
    rule (callables and modules dropped from dicts); anything else (UUIDs,
    dates, registered classes, tuples, sets, dict subclasses) goes to the
    library's converter, so the result is the same. The converter hands
    back objects it does not know as they are; ``copy_unknown`` deep-copies
    those, so the result shares nothing with ``value``.
    """
    kind = type(value)
    if kind in _PLAIN_TYPES:
        return value
    if kind is dict:
        return {k: v if type(v) in _PLAIN_TYPES else _to_dict(v, copy_unknown=copy_unknown)
                for k, v in value.items()
                if type(v) in _PLAIN_TYPES or not (callable(v) or isinstance(v, ModuleType))}
    if kind is list:
        return [v if type(v) in _PLAIN_TYPES else _to_dict(v, copy_unknown=copy_unknown) for v in value]
    converted = _REGISTRY.convert(value)
    return copy_data(converted) if copy_unknown else converted


def _checked_copy(value: Any, *, copy_unknown: bool = False) -> tuple[Any, bool]:
    """:func:`_to_dict` of task data, by ``json_copy`` when it is JSON-like (it nearly always is); and whether it was.

    The result is the same either way: for JSON-like data ``_to_dict`` is a
    deep copy. Plain JSON (what ``json_copy`` copied, which reads back equal to
    the value: no NaN, infinity, tuple, UUID or date in it) is written without
    the read-back check ``canonical_bytes`` makes for NaN
    (``engine.jsontext.plain_canonical_bytes``); anything else is converted
    by the registry and checked when written.
    """
    if type(value) is dict:
        try:
            return json_copy(value), True
        except ValueError:
            pass
    return _to_dict(value, copy_unknown=copy_unknown), False


def data_problem(value: Any) -> tuple[str, str] | None:
    """Where and why ``value`` cannot be kept as task data (field, problem), or None when it can.

    Task data is stored as JSON, through the serializer's registry (which
    keeps dates and the like): NaN and the infinities, sets or arbitrary
    objects would make the save of the action that brought them fail. Asked
    of data from outside (start data, form answers, message payloads) before
    the action runs, so the caller learns which field is wrong.
    """
    try:
        converted = _data_dict(value)
        canonical_bytes(converted)  # NaN, the infinities, types JSON has no word for
    except (TypeError, ValueError, RecursionError) as exc:
        return _walked(value) or ("(the data)", f"it cannot be stored as JSON ({exc})")
    try:
        # Keys that are not text: the standard encoder (canonical_bytes' fallback) quietly writes 1 as
        # "1", and a key of another type beside text ones then breaks the sorting of the next save.
        # orjson refuses them, and integers past 64 bits, which are fine: the walk tells which.
        orjson.dumps(converted)
    except (TypeError, RecursionError):
        return _walked(value)
    return None


def _walked(value: Any) -> tuple[str, str] | None:
    try:
        return _find_problem(value, "")
    except RecursionError:
        return "(the data)", "it is nested too deeply to be stored"


def _find_problem(value: Any, path: str) -> tuple[str, str] | None:
    if isinstance(value, float) and not math.isfinite(value):
        return path or "(the data)", f"{value!r} is not a number JSON can hold"
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                return path or "(the data)", f"the key {key!r} is not text (JSON keys are)"
            found = _find_problem(item, f"{path}.{key}" if path else str(key))
            if found:
                return found
        return None
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = _find_problem(item, f"{path}[{index}]")
            if found:
                return found
        return None
    try:
        canonical_bytes(_data_dict(value))
    except (TypeError, ValueError, RecursionError):
        return path or "(the data)", f"a value of type {type(value).__name__} cannot be stored as task data"
    return None


def _data_dict(value: Any, *, copy_unknown: bool = False) -> Any:
    """The copy :func:`_checked_copy` makes, alone."""
    return _checked_copy(value, copy_unknown=copy_unknown)[0]


# Restored specs per (version id, process id, linked versions), shared by every instance in this process.
_SPEC_CACHE: OrderedDict[tuple[Any, ...], tuple[Any, dict[str, Any]]] = OrderedDict()
_SPEC_CACHE_SIZE = 128
_CALLS_CACHE: OrderedDict[tuple[str, str], tuple[str, ...]] = OrderedDict()
_SPEC_LOCK = threading.Lock()


def _restored(version_id: str, specs: Mapping[str, Any], process_id: str,
              links: Iterable[CalledVersion] = ()) -> tuple[Any, dict[str, Any]]:
    """The spec (and sub-process specs) of ``process_id``, restored once per process and cached.

    Specs are read-only while instances run, so one restored copy serves
    every instance of the version in this process. ``links`` add the
    processes its call activities call from other deployed versions (and
    what those run): see :func:`_linked`.
    """
    links = tuple(sorted(links, key=lambda link: link.process_id))
    key = (version_id, process_id, tuple((link.process_id, link.version_id) for link in links))
    with _SPEC_LOCK:
        hit = _SPEC_CACHE.get(key)
        if hit is not None:
            _SPEC_CACHE.move_to_end(key)
            return hit
    if links:
        spec, own = _restored(version_id, specs, process_id)
        restored = (spec, _linked(own, links))
    else:
        restored = _restore_entry(version_id, specs, process_id)
    with _SPEC_LOCK:
        _SPEC_CACHE[key] = restored
        while len(_SPEC_CACHE) > _SPEC_CACHE_SIZE:
            _SPEC_CACHE.popitem(last=False)
    return restored


def _restore_entry(version_id: str, specs: Mapping[str, Any], process_id: str) -> tuple[Any, dict[str, Any]]:
    """Fresh spec objects of ``process_id`` from the stored JSON (never shared until cached)."""
    entry = (specs or {}).get("processes", {}).get(process_id)
    if entry is None:
        raise NotFound(f"process in the deployed version {version_id}", process_id)
    return (_REGISTRY.restore(copy.deepcopy(entry["spec"])),
            {name: _REGISTRY.restore(copy.deepcopy(sp)) for name, sp in entry["subprocess_specs"].items()})


def _linked(own: Mapping[str, Any], links: Iterable[CalledVersion]) -> dict[str, Any]:
    """``own`` sub-process specs plus each linked process and the sub-processes it runs.

    The library finds a sub-process's spec by name in one flat map, and the
    names of embedded sub-processes are element ids that two models may
    both use (``SubProcess_1``): a linked model's clashing names are renamed
    ``name@version`` in fresh copies of its specs, references included, so
    each call runs its own model's sub-processes.
    """
    merged = dict(own)
    for link in links:
        spec, subs = _restored(link.version_id, link.specs, link.process_id)
        group = {link.process_id: spec, **subs}
        clashes = {name for name, sp in group.items() if name in merged and merged[name] is not sp}
        if link.process_id in clashes:
            raise InvalidState(f"the process {link.process_id} of version {link.version_id} has the name of "
                               "another process or sub-process this instance runs")
        if clashes:
            spec, subs = _restore_entry(link.version_id, link.specs, link.process_id)
            group = _renamed({link.process_id: spec, **subs}, {n: f"{n}@{link.version_id}" for n in clashes})
        merged.update(group)
    return merged


def _renamed(group: dict[str, Any], renames: Mapping[str, str]) -> dict[str, Any]:
    """``group`` (fresh spec objects) with the names in ``renames`` changed everywhere they are used."""
    for process_spec in group.values():
        for task_spec in process_spec.task_specs.values():
            if isinstance(task_spec, SubWorkflowTask) and task_spec.spec in renames:
                task_spec.spec = renames[task_spec.spec]
    out = {}
    for name, process_spec in group.items():
        if name in renames:
            process_spec.name = renames[name]  # the state header names a sub-process by its spec's name
        out[renames.get(name, name)] = process_spec
    return out


def calls_elsewhere(version_id: str, specs: Mapping[str, Any], process_id: str) -> list[str]:
    """The processes that call activities of ``process_id`` (or of what it runs) call outside its version."""
    key = (version_id, process_id)
    with _SPEC_LOCK:
        found = _CALLS_CACHE.get(key)  # asked at every start: a version's specs never change
    if found is None:
        spec, subs = _restored(version_id, specs, process_id)
        called = {ts.spec for sp in (spec, *subs.values()) for ts in sp.task_specs.values()
                  if isinstance(ts, SubWorkflowTask)}
        found = tuple(sorted(name for name in called if name not in subs))
        with _SPEC_LOCK:
            _CALLS_CACHE[key] = found
            while len(_CALLS_CACHE) > _SPEC_CACHE_SIZE:
                _CALLS_CACHE.popitem(last=False)
    return list(found)


class ScriptBpmnError(Exception):
    """Raised by :func:`throw_bpmn_error` inside a script: the script's task throws a BPMN error."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(f"BPMN error {code}" + (f": {message}" if message else ""))
        self.code = code


def throw_bpmn_error(code: str, message: str = "") -> None:
    """A script function: end this script task by throwing the BPMN error ``code``.

    An error boundary event on the task (or an enclosing sub-process) that
    catches ``code`` takes over; if none does, the instance fails.
    """
    raise ScriptBpmnError(str(code), str(message))


def script_functions() -> dict[str, Callable[..., Any]]:
    """The functions the engine offers to model scripts (added to the sandbox)."""
    return {"throw_bpmn_error": throw_bpmn_error}


# =============================================================================================
# 5. Live instances
# =============================================================================================

class _ScopedEvents(EventManager):
    """The library's event manager, plus event sub-processes nested inside sub-processes.

    SpiffWorkflow 3.2.0 starts an event sub-process only when it sits at the
    top of the process (``update_collaboration`` looks at the top spec's
    triggers). One drawn inside a sub-process was never started: an error
    thrown there escaped as uncaught, a signal or message went by. Here:

    * an error or escalation thrown in a scope starts the scope's own event
      sub-process that waits for it, else goes to a boundary event of the
      activity holding that scope, else further out (BPMN's order; the
      library let any waiting catcher anywhere take it);
    * a signal or message from outside starts those of every running
      sub-process, as the library does for the top level;
    * an *interrupting* event sub-process (the default) cancels the rest of
      its scope when it starts, at any level (the library ran it alongside).
    """

    def __init__(self, workflow: Any) -> None:
        super().__init__(workflow)
        self.running: Task | None = None  # the task the engine is running now (it may be the thrower)
        self._cut: set[Any] = set()  # running tasks of an interrupted scope: what follows them is cancelled

    def ran(self, task: Task) -> None:
        """``task`` finished running: if its scope was interrupted meanwhile, drop what it led to."""
        self.running = None
        if task.id in self._cut:
            self._cut.discard(task.id)
            for child in list(task.children):
                # The scope's end join stays: it ends the scope once the handler is done.
                if not child.has_state(TaskState.FINISHED_MASK) and not _ends_scope(child):
                    child.cancel()

    def _interrupt(self, scope: Any, handler: Task | None) -> None:
        """Cancel everything unfinished in ``scope`` but ``handler`` (an interrupting event sub-process).

        The task running now (often the thrower) finishes its run; what it
        leads to is cancelled when it has (:meth:`ran`).
        """
        running = self.running
        if handler is not None:
            # The scope's pending end join moves under the handler, out of the work cancelled below:
            # it ends the scope once the handler is done (the library predicts no path for a handler).
            end = next((t for t in scope.tasks.values()
                        if _ends_scope(t) and not t.has_state(TaskState.FINISHED_MASK)), None)
            if end is not None and end.parent is not None and end.parent is not running:
                end.parent._children.remove(end.id)
                end._parent = handler.id
                handler._children.append(end.id)
        stack = [scope.task_tree]
        while stack:
            for child in list(stack.pop().children):
                if child is handler or _ends_scope(child):
                    continue
                if child is running and not child.has_state(TaskState.FINISHED_MASK):
                    self._cut.add(child.id)
                elif child.has_state(TaskState.FINISHED_MASK) or child is running:
                    stack.append(child)
                else:
                    child.cancel()

    def catch(self, event: BpmnEvent, internal: bool = True) -> int:
        if event.target is not None and isinstance(event.event_definition, CodeEventDefinition):
            return self._propagate(event, internal)
        if isinstance(event.event_definition, SignalEventDefinition | MessageEventDefinition):
            for sub in list(self.workflow.subprocesses.values()):
                if not sub.completed:
                    self._start_handlers(sub, event)
        self._stop_interrupted([t for t in self.tasks.values() if t.task_spec.catches(t, event)])
        return int(super().catch(event, internal))

    def _propagate(self, event: BpmnEvent, internal: bool) -> int:
        """An error or escalation, from the thrower's scope outwards (BPMN's order).

        In each scope: the scope's own event sub-process that starts on it;
        else a boundary event on the activity that holds the scope (not on
        any other activity, as the library allowed); else the next scope
        out. Thrown past the top, it escapes (``get_events``).
        """
        top = self.workflow
        scope = event.target
        while True:
            if scope.parent_workflow is None:
                self.update_collaboration(event)  # the library starts the top level's event sub-processes
                here = [t for t in self.tasks.values()
                        if isinstance(t.task_spec, StartEvent) and t.workflow is not top
                        and t.workflow.parent_task_id is not None
                        and top.get_task_from_id(t.workflow.parent_task_id).workflow is top
                        and t.task_spec.event_definition.catches(t, event)]
            else:
                here = self._start_handlers(scope, event)
            if here or scope.parent_workflow is None:
                break
            holder = top.get_task_from_id(scope.parent_task_id)
            here = [t for t in self.tasks.values()
                    if isinstance(t.task_spec, BoundaryEvent) and t.parent is not None and t.parent is holder.parent
                    and t.task_spec.event_definition.catches(t, event)]
            if here:
                break
            scope = scope.parent_workflow
        if not here:
            if internal:
                top.bpmn_events.append(event)
            return 0
        self.fire(here, event)
        return len(here)

    def fire(self, catchers: list[Task], event: BpmnEvent) -> None:
        """``catchers`` catch ``event`` (an interrupting boundary stops its sub-process first)."""
        self._stop_interrupted(catchers)
        for task in catchers:
            task.task_spec.catch(task, event)
            task.task_spec._update(task)

    def watch(self, task: Task) -> None:
        """After ``task`` ran: fire the conditional events its data has just made true.

        BPMN fires a conditional event when its condition *becomes* true: the
        last value of each event sub-process's condition is kept with its
        scope (in the state's header), so a non-interrupting handler starts
        once per change, not after every step while the condition holds. An
        embedded sub-process works on its process's data (BPMN), so the
        conditions of the scopes around it (a conditional boundary on the
        sub-process, an event sub-process of the process) see its steps too;
        a called process has data of its own, and its caller's do not.
        """
        if task.workflow.completed or isinstance(task.task_spec, EndEvent):  # an ending scope starts nothing new
            return
        self._watch_scope(task.workflow, task)
        for holder in self._holders(task.workflow):
            if (isinstance(holder.task_spec, CallActivity) or holder.state != TaskState.STARTED
                    or holder.workflow.completed):
                return  # a called process, or a sub-process an event just stopped
            self._watch_scope(holder.workflow, task)

    def _watch_scope(self, scope: Any, task: Task) -> None:
        """The conditional events of ``scope`` (waiting ones and its event sub-processes') on ``task``'s data."""
        # Conditional events waiting in the scope (another branch's step may have made them true).
        for waiting in [t for t in self.tasks.values() if t.workflow is scope and t is not task
                        and t.state == TaskState.WAITING
                        and isinstance(t.task_spec.event_definition, _ConditionalEventDefinition)
                        and not t.task_spec.extensions.get(HANDLER_START)]:
            definition = waiting.task_spec.event_definition
            if definition.holds(task):
                self.fire([waiting], BpmnEvent(definition))
        watched = _watched_conditions(scope.spec, self.workflow.subprocess_specs)
        if not watched:
            return
        seen = getattr(scope, CONDITIONS_SEEN, None)
        if seen is None:
            seen = {}
            setattr(scope, CONDITIONS_SEEN, seen)
        for name, definition in watched:
            holds = definition.holds(task)
            became_true = holds and not seen.get(name, False)
            seen[name] = holds
            if became_true:
                event = BpmnEvent(definition)
                self.fire(self._start_handlers(scope, event, task.data), event)

    def interrupted_by_boundary(self, task: Task) -> bool:
        """Whether an interrupting boundary event of an activity holding ``task`` has fired (and stop it).

        The library runs a sub-process's ready steps before the boundary
        events ready in the workflow above it: a boundary that fired as the
        sub-process began (a condition already true) let its first steps run.
        """
        for holder in self._holders(task.workflow):
            fired = [t for t in (holder.parent.children if holder.parent is not None else ())
                     if isinstance(t.task_spec, BoundaryEvent) and t.task_spec.cancel_activity
                     and t.state == TaskState.READY]
            if fired:
                self._stop_interrupted(fired)
                return task.state != TaskState.READY  # still ready: not a scope this can stop; let it run
        return False

    def _holders(self, scope: Any) -> Iterator[Task]:
        """The task holding ``scope`` (a sub-process), then the one holding that task's scope, up to the top."""
        top = self.workflow
        while scope is not top and getattr(scope, "parent_task_id", None) is not None:
            holder = top.get_task_from_id(scope.parent_task_id)
            if holder is None:
                return
            yield holder
            scope = holder.workflow

    def _stop_interrupted(self, catchers: list[Task]) -> None:
        """Stop the sub-processes an interrupting boundary event among ``catchers`` is about to cancel.

        The library cancels the sub-process only when the boundary's join
        runs, after the sub-process's own ready steps: a signal thrown inside
        it let the steps after the throw run first.
        """
        for catcher in catchers:
            if not (isinstance(catcher.task_spec, BoundaryEvent) and catcher.task_spec.cancel_activity):
                continue
            for sibling in catcher.parent.children if catcher.parent is not None else ():
                sub = self.workflow.subprocesses.get(sibling.id)
                if sub is not None and not sub.completed and not isinstance(sibling.task_spec, BoundaryEvent):
                    self._interrupt(sub, None)

    def update_collaboration(self, event: BpmnEvent) -> None:
        before = set(self.workflow.subprocesses)
        super().update_collaboration(event)
        for task_id in set(self.workflow.subprocesses) - before:
            handler = self.workflow.get_task_from_id(task_id)
            if handler.workflow is self.workflow and _interrupts(self.workflow.subprocesses[task_id].spec, event):
                self._interrupt(self.workflow, handler)

    def _start_handlers(self, scope: Any, event: BpmnEvent, data: dict[str, Any] | None = None) -> list[Task]:
        """Start ``scope``'s event sub-processes whose start event waits for ``event``; their waiting starts.

        A handler begins with ``data`` when given (the data that made its
        condition true), else with the data its scope began with (the
        library's rule for messages and signals).
        """
        start = scope.spec.start
        started: list[Any] = []
        for name in getattr(start, "trigger_specs", ()):
            sub_spec = self.workflow.subprocess_specs.get(name)
            if sub_spec is not None and any(ts.event_definition == event.event_definition
                                            for ts in sub_spec.bpmn_start_events):
                task_id = (start.trigger_wf(scope.task_tree, name) if data is None
                           else _trigger_with(scope, name, data))
                started.append(self.workflow.subprocesses[task_id])
                if _interrupts(sub_spec, event):
                    self._interrupt(scope, scope.get_task_from_id(task_id))
        return [t for t in self.tasks.values()
                if any(t.workflow is sub for sub in started) and t.task_spec.event_definition.catches(t, event)]


def _trigger_with(scope: Any, name: str, data: dict[str, Any]) -> Any:
    """``BpmnStartTask.trigger_wf`` with the handler task given ``data`` before its sub-process starts."""
    start = scope.spec.start
    spec = start._wf_spec.task_specs.get(name)
    if start not in spec.inputs:
        start.connect(spec)
        spec.connect(start._wf_spec.end)
    child = scope.task_tree._add_child(spec, TaskState.FUTURE)
    child.triggered = True
    # Its update inherits the parent's data first; the start of the sub-process takes this instead.
    child.internal_data[HANDLER_DATA] = copy_data(data)
    child.task_spec._update(child)
    return child.id


def _error_boundary_of(task: Task, code: str | None) -> Task | None:
    """The waiting error boundary event on ``task`` itself that catches ``code``, if any."""
    parent = task.parent
    if parent is None or not isinstance(parent.task_spec, BoundaryEventSplit):
        return None
    for sibling in parent.children:
        spec = sibling.task_spec
        if (sibling is not task and isinstance(spec, BoundaryEvent) and sibling.state == TaskState.WAITING
                and isinstance(spec.event_definition, ErrorEventDefinition)
                and spec.event_definition.code in (None, code)):
            return sibling
    return None


def _ends_scope(task: Task) -> bool:
    """True for a workflow's end join (by name: a restored spec's ``end`` is another object)."""
    return bool(task.task_spec.name == task.workflow.spec.end.name)


def _interrupts(sub_spec: Any, event: BpmnEvent) -> bool:
    """True if an event sub-process of ``sub_spec`` starting on ``event`` is interrupting (BPMN's default)."""
    return any(ts.event_definition == event.event_definition
               and not (getattr(ts, "extensions", None) or {}).get(NON_INTERRUPTING)
               for ts in sub_spec.bpmn_start_events)


class _Workflow(BpmnWorkflow):
    """A BpmnWorkflow whose events go through :class:`_ScopedEvents`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        manager = _ScopedEvents(self)
        manager.tasks = self.event_manager.tasks  # what the start already registered
        self.event_manager = manager


class LiveInstance:
    """One running workflow, its actions, and its state as parts.

    Build one with :meth:`start` or :meth:`restore`; every action (advance,
    complete a human or service task, throw an error, fire timers, deliver an
    event) returns a :class:`StepReport`; :meth:`snapshot` says what the
    instance waits for; :meth:`parts` gives the state parts changed since the
    last call. Not thread-safe: one action at a time (the engine holds the
    instance's row lock, and its cache hands an instance to one action only).

    State parts: ``wf`` (header: root, last task, flags, correlations, events
    and the headers of sub-processes), ``wf.data`` (the workflow's data) and
    one ``t:<task id>`` per task of the live (pruned) tree.
    """

    def __init__(self, workflow: BpmnWorkflow, version_id: str, process_id: str) -> None:
        self._wf = workflow
        self.version_id = version_id
        self.process_id = process_id
        self._signatures: dict[str, tuple[Any, ...]] = {}
        self._emitted: dict[str, Any] = {}  # part key -> the value the last parts() gave (active parts)
        self._known: set[str] = set()
        self._since_prune = 0
        self._steps = 0

    # --- making one ------------------------------------------------------------------------

    @classmethod
    def start(cls, version_id: str, specs: Mapping[str, Any], process_id: str, *, data: Mapping[str, Any],
              sandbox: Sandbox, clock: Clock, links: Iterable[CalledVersion] = ()) -> LiveInstance:
        """A new instance of ``process_id`` with ``data`` as its start data (not yet advanced).

        ``links``: the processes its call activities call from other deployed
        versions (:func:`calls_elsewhere`), as the engine pinned them.
        """
        spec, subprocess_specs = _restored(version_id, specs, process_id, links)
        try:
            workflow = _Workflow(spec, subprocess_specs, script_engine=_ScriptEngine(sandbox, clock))
        # The adapter boundary again: creating a workflow predicts its first tasks, and the library
        # raises whatever it meets there (WorkflowException for a start event leading nowhere ...).
        except Exception as exc:
            raise InvalidState(f"the process {process_id} cannot start: {_short(exc)}") from exc
        workflow.task_tree.data.update(copy_data(dict(data)))
        return cls(workflow, version_id, process_id)

    @classmethod
    def restore(cls, version_id: str, specs: Mapping[str, Any], process_id: str, parts: Mapping[str, Any], *,
                sandbox: Sandbox, clock: Clock, links: Iterable[CalledVersion] = ()) -> LiveInstance:
        """The instance whose state parts are ``parts`` (as saved by :meth:`parts`), with its start's ``links``."""
        header = parts.get("wf")
        if not isinstance(header, Mapping) or header.get("format") != STATE_FORMAT:
            raise InvalidState(f"the stored state is not {STATE_FORMAT}")
        spec, subprocess_specs = _restored(version_id, specs, process_id, links)
        workflow = _Workflow(spec, subprocess_specs, script_engine=_ScriptEngine(sandbox, clock),
                             deserializing=True)
        by_owner: dict[str | None, list[dict[str, Any]]] = {}
        for key, value in parts.items():
            if key.startswith(TASK_PART_PREFIX):
                by_owner.setdefault(value.get("wf"), []).append(value)
        _fill(workflow, header, by_owner.get(None, []))
        workflow.data = _REGISTRY.restore(parts.get("wf.data") or {})
        pending = dict(header.get("subprocesses", {}))

        def attach(owner: Any) -> None:
            for task in list(owner.tasks.values()):
                sp_header = pending.pop(str(task.id), None)
                if sp_header is None:
                    continue
                sub = workflow.subprocess_specs.get(sp_header["spec"])
                sp = BpmnSubWorkflow(sub, task.id, workflow, deserializing=True)
                _fill(sp, sp_header, by_owner.get(str(task.id), []))
                workflow.subprocesses[task.id] = sp
                sp.completed_event.connect(task.task_spec._on_subworkflow_completed, task)
                attach(sp)

        attach(workflow)
        live = cls(workflow, version_id, process_id)
        live._known = set(parts)
        for wf_id, task in live._all_tasks():
            live._signatures[TASK_PART_PREFIX + _tid(task)] = _signature(task, wf_id)
        return live

    # --- actions ---------------------------------------------------------------------------

    def advance(self) -> StepReport:
        """Run every engine step that can run now (scripts, gateways, events, due timers)."""
        completed: list[str] = []
        failure = self._guard(lambda: self._run_engine(completed))
        return self._report(completed, failure)

    def complete_human(self, key: str, data: Mapping[str, Any]) -> StepReport:
        """Complete the READY user or manual task ``key`` with form ``data``, then advance."""
        task = self._task(key)
        if not (task.state == TaskState.READY and task.task_spec.manual):
            raise InvalidState(f"task {key} ({_element(task)}) is not waiting for a person")
        completed: list[str] = []

        def act() -> None:
            self._isolate(task)
            task.data.update(copy_data(dict(data)))
            task.run()
            self._record(task, completed)
            self._watch(task)
            self._run_engine(completed)

        return self._report(completed, self._guard(act))

    def complete_service(self, key: str, result: Any) -> StepReport:
        """Give the waiting service task ``key`` its result (into its result variable), then advance."""
        task = self._service_task(key)
        completed: list[str] = []

        def act() -> None:
            self._isolate(task)
            variable = task.task_spec.result_variable
            if variable == MERGE_RESULT:  # an external task: its worker's variables join the case data
                if isinstance(result, dict):
                    task.data.update(copy_data(result))
                else:
                    task.data[f"{_element(task)}_result"] = copy_data(result)
            else:
                task.data[variable] = copy_data(result)
            task.complete()
            self._record(task, completed)
            self._watch(task)
            self._run_engine(completed)

        return self._report(completed, self._guard(act))

    def throw_error(self, key: str, code: str | None, message: str) -> StepReport | None:
        """Throw a BPMN error from the waiting service task ``key``; None if nothing catches it.

        BPMN's order: an error boundary event on the task itself; else the
        event sub-process of its scope that starts on the error, else an error
        boundary on the sub-process holding that scope, and so on outwards.
        Whichever catches it, the model's fallback path runs.
        """
        task = self._service_task(key)
        completed: list[str] = []
        caught: list[bool] = []

        def act() -> None:
            caught.append(self._throw_error_at(task, code, {"code": code, "message": message}))
            if caught[0]:
                self._run_engine(completed)

        failure = self._guard(act)
        if failure is None and not caught[0]:
            return None
        return self._report(completed, failure)

    def fire_timers(self) -> StepReport:
        """Let every timer that is due by the clock fire, then advance."""
        completed: list[str] = []

        def act() -> None:
            self._wf.refresh_timers()
            self._run_engine(completed)

        return self._report(completed, self._guard(act))

    def deliver(self, kind: str, name: str, payload: Any = None,
                correlations: Mapping[str, Any] | None = None) -> StepReport | None:
        """Deliver a message or signal named ``name``; None if nothing here waits for it."""
        definition = self._waiting_definition(kind, name)
        if definition is None:
            return None
        completed: list[str] = []

        def act() -> None:
            event_definition = type(definition)(name)
            self._wf.catch(BpmnEvent(event_definition, payload=copy_data(payload),
                                     correlations=dict(correlations or {})))
            self._run_engine(completed)

        return self._report(completed, self._guard(act))

    # --- what it waits for --------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """What the instance waits for now (or that it finished)."""
        humans: list[HumanWork] = []
        services: list[ServiceCall] = []
        timers: list[TimerWait] = []
        events: list[EventWait] = []
        stuck: list[str] = []
        depth = size = 0
        for _, task in self._all_tasks():
            size += 1
            state = task.state
            if not state & (_ACTIVE | TaskState.ERROR):
                continue
            spec = task.task_spec
            key = _tid(task)
            depth = max(depth, _depth(task))
            if state == TaskState.ERROR:
                stuck.append(_element(task))
            elif state == TaskState.READY and spec.manual:
                humans.append(_human(task))
            elif state == TaskState.STARTED and isinstance(spec, _ServiceTask):
                services.append(self._service_call(task))
            elif state == TaskState.WAITING and isinstance(spec, CatchingEvent):
                for element, definition in _waits(task):
                    due = _due(task, definition)
                    if due is not None:
                        timers.append(TimerWait(key, element, due))
                    events.extend(EventWait(key, element, kind, name) for kind, name in _event_names(definition))
        events.extend(EventWait(key, original_id(start.bpmn_id), kind, name, handler=True)
                      for key, start in self._handler_starts()
                      for kind, name in _event_names(start.event_definition))
        return Snapshot(self.finished, tuple(humans), tuple(services), tuple(timers), tuple(events),
                        tuple(stuck), depth, size)

    @property
    def finished(self) -> bool:
        """True once the process ended (normally or by a terminate/escaped error)."""
        return bool(self._wf.completed)

    @property
    def data(self) -> dict[str, Any]:
        """The instance's data: the workflow's when it finished, else the latest completed task's."""
        if self._wf.completed:
            return _plain(self._wf.data)
        last = self._wf.last_task
        source = last.data if last is not None else self._wf.task_tree.data
        return _plain(source)

    def task_data(self, key: str) -> dict[str, Any]:
        """The data a waiting task sees (to prefill a form)."""
        return _plain(self._task(key).data)

    # --- state parts ---------------------------------------------------------------------------

    def parts(self) -> PartsDelta:
        """The parts to save: every part that may have changed since the last call, and removed keys.

        Finished and predicted tasks whose signature (state, links, identity
        of their data) is unchanged are skipped: they cannot have changed.
        Active tasks, the header and the workflow data are converted on every
        call and given only when they differ from what the last call gave
        (an equality test on plain data: far cheaper than hashing or writing
        them). What the last call gave was saved: a live instance whose save
        failed is dropped, never reused (``engine.runtime``).
        """
        self.prune()
        out: dict[str, Any] = {}
        plain: set[str] = set()
        present: set[str] = set()
        emitted = self._emitted
        for wf_id, task in self._all_tasks():
            key = TASK_PART_PREFIX + _tid(task)
            present.add(key)
            signature = _signature(task, wf_id)
            active = bool(task.state & _ACTIVE)
            if active or self._signatures.get(key) != signature:
                # What _REGISTRY.convert(task) gives, without its dispatch, and whether it is plain JSON.
                value, is_plain = _task_dict(task)
                value["typename"] = _TASK_TYPENAME
                value["wf"] = wf_id
                if is_plain:
                    plain.add(key)
                self._signatures[key] = signature
                if active:
                    if emitted.get(key) == value:
                        continue
                    emitted[key] = value
                else:
                    emitted.pop(key, None)
                out[key] = value
            elif key in emitted:
                del emitted[key]
        data, plain_data = _checked_copy(self._wf.data)
        if plain_data:
            plain.add("wf.data")
        for key, value in (("wf", self._header()), ("wf.data", data)):
            present.add(key)
            if emitted.get(key) != value:
                out[key] = emitted[key] = value
        removed = tuple(sorted(self._known - present))
        for key in removed:
            self._signatures.pop(key, None)
            emitted.pop(key, None)
        self._known = present
        return PartsDelta(out, removed, frozenset(plain & out.keys()))

    def _header(self) -> dict[str, Any]:
        wf = self._wf
        subprocesses = {}
        for task_id, sp in wf.subprocesses.items():
            subprocesses[str(task_id)] = {
                "spec": sp.spec.name, "root": _uuid_text(sp.task_tree.id),
                "last_task": _uuid_text(sp.last_task.id) if sp.last_task is not None else None,
                "success": sp.success, "completed": sp.completed, "correlations": sp.correlations,
                "data": _data_dict(sp.data), **_conditions_seen(sp),
            }
        return {
            "format": STATE_FORMAT, "root": _uuid_text(wf.task_tree.id),
            "last_task": _uuid_text(wf.last_task.id) if wf.last_task is not None else None,
            "success": wf.success, "completed": wf.completed, "correlations": wf.correlations,
            "bpmn_events": _REGISTRY.convert(wf.bpmn_events), "subprocesses": subprocesses, **_conditions_seen(wf),
        }

    # --- pruning ---------------------------------------------------------------------------------

    def prune(self) -> int:
        """Drop completed history above the unfinished work; return how many tasks went.

        For each (sub)workflow: the new root is the parent of the lowest
        common ancestor of every active task, of the split of every join
        about to fire, and of every other instance of a pending parallel or
        inclusive join (so the join still sees its completed inputs and
        merges their data). Anything outside the new root's subtree is
        finished by construction; if not, nothing is pruned. Dropped tasks'
        sub-processes go with them. The audit trail keeps the history.
        """
        self._since_prune = 0
        removed = self._prune_one(self._wf)
        for sp in list(self._wf.subprocesses.values()):
            if not sp.completed:
                removed += self._prune_one(sp)
        return removed

    def _prune_one(self, wf: Any) -> int:
        if getattr(wf.spec, "completion_condition", None) is not None:
            return 0  # ad-hoc sub-processes walk their paths from the root
        active = [t for t in wf.tasks.values() if t.state & _ACTIVE]
        if not active:
            return 0
        anchors = list(active)
        for task in active:
            anchors.extend(_join_anchors(wf, task))
        lca = _common_ancestor(anchors)
        keep = lca.parent if lca.parent is not None else lca
        if keep is wf.task_tree:
            return 0
        dropped: list[Task] = []
        stack = [wf.task_tree]
        while stack:
            node = stack.pop()
            if node is keep:
                continue
            if not node.has_state(TaskState.FINISHED_MASK):
                return 0  # unfinished work outside the kept subtree: not a safe point
            dropped.append(node)
            stack.extend(node.children)
        top = wf.top_workflow
        for node in dropped:
            wf.tasks.pop(node.id, None)
            top.event_manager.remove_task(node)
            if node.id in top.subprocesses:
                self._drop_subprocess(node.id)
        keep._parent = None
        wf.task_tree = keep
        if wf.last_task is not None and wf.last_task.id not in wf.tasks:
            wf.last_task = None
        return len(dropped)

    def _drop_subprocess(self, task_id: UUID) -> None:
        top = self._wf
        stack = [task_id]
        while stack:
            sp = top.subprocesses.pop(stack.pop(), None)
            if sp is None:
                continue
            for task in sp.tasks.values():
                top.event_manager.remove_task(task)
                if task.id in top.subprocesses:
                    stack.append(task.id)

    # --- internals ------------------------------------------------------------------------------

    def _all_tasks(self) -> Iterator[tuple[str | None, Task]]:
        for task in self._wf.tasks.values():
            yield None, task
        for task_id, sp in self._wf.subprocesses.items():
            wf_id = str(task_id)
            for task in sp.tasks.values():
                yield wf_id, task

    def _task(self, key: str) -> Task:
        try:
            task_id = UUID(key)
        except ValueError:
            raise NotFound("engine task", key) from None
        task = self._wf.tasks.get(task_id)
        if task is None:
            for sp in self._wf.subprocesses.values():
                task = sp.tasks.get(task_id)
                if task is not None:
                    break
        if task is None:
            raise NotFound("engine task", key)
        return task

    def _service_task(self, key: str) -> Task:
        task = self._task(key)
        if not (task.state == TaskState.STARTED and isinstance(task.task_spec, _ServiceTask)):
            raise InvalidState(f"task {key} ({_element(task)}) is not a service task waiting for its call")
        return task

    def _service_call(self, task: Task) -> ServiceCall:
        spec = task.task_spec
        params: dict[str, Any] = {}
        problem = None
        for name, param in (spec.operation_params or {}).items():
            try:
                params[name] = self._wf.script_engine.evaluate(task, param["value"])
            except SpiffWorkflowException as exc:
                problem = f"parameter '{name}' cannot be evaluated: {_short(exc)}"
                break
        return ServiceCall(_tid(task), _element(task), spec.bpmn_name or "", spec.operation_name or "",
                           _plain(params), spec.result_variable, problem)

    def _throw_error_at(self, task: Task, code: str | None, payload: dict[str, Any]) -> bool:
        """Give an error ``code`` thrown at ``task`` to what catches it; False (nothing changed) if nothing does.

        An error boundary event on the task itself first; else
        :class:`_ScopedEvents` walks the scopes outwards (the scope's event
        sub-process, the holder's boundary, the next scope), which changes
        nothing when it finds no catcher.
        """
        own = _error_boundary_of(task, code)
        if own is not None:
            definition = type(own.task_spec.event_definition)(name=code or "error", code=code)
            self._wf.event_manager.fire([own], BpmnEvent(definition, payload=payload))
            return True
        event = BpmnEvent(_ErrorEventDefinition(name=code or "error", code=code), payload=payload,
                          target=task.workflow)
        return bool(self._wf.event_manager._propagate(event, internal=False))

    def _handler_starts(self) -> Iterator[tuple[str, Any]]:
        """(scope key, start event spec) of the event sub-processes the running scopes may start on an event."""
        wf = self._wf
        scopes = [] if wf.completed else [wf]
        scopes += [sp for sp in wf.subprocesses.values() if not sp.completed]
        for scope in scopes:
            for name, start in _handler_start_specs(scope.spec, wf.subprocess_specs):
                yield f"{scope.task_tree.id}/{name}", start

    def _waiting_definition(self, kind: str, name: str) -> Any:
        wanted = MessageEventDefinition if kind == "message" else SignalEventDefinition
        definitions = [task.task_spec.event_definition for task in list(self._wf.event_manager.tasks.values())]
        definitions += [start.event_definition for _, start in self._handler_starts()]
        for definition in definitions:
            candidates = (definition.event_definitions if isinstance(definition, MultipleEventDefinition)
                          else [definition])
            for d in candidates:
                if isinstance(d, wanted) and d.name == name:
                    return d
        return None

    def _run_engine(self, completed: list[str]) -> None:
        """``do_engine_steps`` in our own loop: isolated data, completions recorded, pruned as it goes."""
        wf = self._wf
        self._steps = 0

        events = wf.event_manager if isinstance(wf.event_manager, _ScopedEvents) else None

        def will(task: Task) -> None:
            if task.state != TaskState.READY or (
                    events is not None and task.workflow is not wf and events.interrupted_by_boundary(task)):
                raise _Interrupted  # cancelled during this pass (an interrupting event): not to run
            self._isolate(task)
            if events is not None:
                events.running = task

        def did(task: Task) -> None:
            if events is not None:
                events.ran(task)
                events.watch(task)
            self._record(task, completed)
            self._since_prune += 1
            self._steps += 1
            if self._steps > MAX_STEPS_PER_ACTION:
                raise _Runaway(_element(task))

        while True:
            active_subprocesses = len(wf.get_active_subprocesses())
            try:
                count = wf._do_engine_steps(will, did)
            except _Interrupted:
                continue  # the pass stopped before a cancelled task; the next one sees the tree as it is
            except SpiffWorkflowException as exc:
                if not self._caught_script_error(exc):
                    raise
                continue
            if self._since_prune >= PRUNE_EVERY:
                self.prune()
                self._check_depth()
            if count or len(wf.get_active_subprocesses()) > active_subprocesses:
                continue
            wf.refresh_timers()
            if wf.get_next_task(state=TaskState.READY, manual=False) is None:
                break
        self._check_depth()

    def _caught_script_error(self, exc: SpiffWorkflowException) -> bool:
        """Route a script's :func:`throw_bpmn_error` to what catches it (as :meth:`throw_error`), if anything."""
        cause: BaseException | None = exc
        while cause is not None and not isinstance(cause, ScriptBpmnError):
            cause = cause.__cause__ or cause.__context__
        task = getattr(exc, "task", None)
        if not isinstance(cause, ScriptBpmnError) or task is None:
            return False
        if not self._throw_error_at(task, cause.code, {"code": cause.code}):
            return False
        if task.state == TaskState.ERROR:
            task._set_state(TaskState.CANCELLED)  # handled: the catcher's path replaces the task
        return True

    def _check_depth(self) -> None:
        for _, task in self._all_tasks():
            if task.state & _ACTIVE and _depth(task) > MAX_TREE_DEPTH:
                raise _TooDeep(_element(task))

    def _isolate(self, task: Task) -> None:
        # DeepMerge copies data one level deep: without this, branches share nested values.
        task.data = copy_data(task.data)

    def _watch(self, task: Task) -> None:
        if isinstance(self._wf.event_manager, _ScopedEvents):
            self._wf.event_manager.watch(task)

    def _record(self, task: Task, completed: list[str]) -> None:
        if task.state != TaskState.COMPLETED:
            return
        spec = task.task_spec
        if (isinstance(spec, BpmnSpecMixin) and spec.bpmn_id and not is_added(spec.bpmn_id)
                and not isinstance(spec, ExclusiveGateway | InclusiveGateway | ParallelGateway | EventBasedGateway
                                   | LoopTask)):
            completed.append(original_id(spec.bpmn_id))

    def _guard(self, action: Callable[[], None]) -> Failure | None:
        try:
            action()
        except _Runaway as exc:
            return Failure(exc.element_id, f"the process ran more than {MAX_STEPS_PER_ACTION:,} steps without "
                                           "waiting for anyone (an endless loop?)", "runaway")
        except _Nested as exc:
            return Failure(exc.element_id, f"sub-processes nested more than {MAX_SUBPROCESS_DEPTH} levels deep "
                                           "(a call activity that calls its own process?)", "depth")
        except _TooDeep as exc:
            return Failure(exc.element_id, f"the task tree grew deeper than {MAX_TREE_DEPTH} levels "
                                           "without a safe point to prune it", "depth")
        except (InvalidState, NotFound):
            raise
        # The one SpiffWorkflow boundary: the library raises WorkflowException and its subclasses
        # for model problems, but also TypeError, KeyError... from malformed specs or data. Each
        # becomes a Failure naming the element; the instance stops there instead of crashing the worker.
        except Exception as exc:  # noqa: BLE001 - the adapter boundary described above
            return _failure_of(exc)
        return None

    def _report(self, completed: list[str], failure: Failure | None) -> StepReport:
        thrown = tuple(_thrown(event) for event in self._wf.get_events())
        if failure is None:
            escaped = next((t for t in thrown if t.kind == "error"), None)
            if escaped is not None:
                failure = Failure(None, f"the BPMN error {escaped.code or escaped.name or ''} was thrown and "
                                        "no event caught it", "error_event")
        return StepReport(tuple(completed), thrown, failure)


class _Interrupted(Exception):
    """A pass of engine steps reached a task an interrupting event cancelled during that pass."""


class _TooDeep(Exception):
    def __init__(self, element_id: str) -> None:
        super().__init__(element_id)
        self.element_id = element_id


class _Runaway(_TooDeep):
    pass


class _Nested(_TooDeep):
    pass


def _nesting(task: Task) -> int:
    """How many sub-processes hold ``task`` (0 in the top workflow)."""
    return int(getattr(task.workflow, "depth", 0))


def _conditions_seen(workflow: Any) -> dict[str, Any]:
    """The header entry of a scope's watched conditions (none when it has none: headers stay as they were)."""
    seen = getattr(workflow, CONDITIONS_SEEN, None)
    return {CONDITIONS_SEEN: dict(seen)} if seen else {}


def _watched_conditions(scope_spec: Any, subprocess_specs: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(handler name, condition) of the event sub-processes of ``scope_spec`` that start on a condition."""
    cached = _WATCHED.get(scope_spec)
    if cached is None:
        cached = [(name, start.event_definition) for name, start in _handler_start_specs(scope_spec, subprocess_specs)
                  if isinstance(start.event_definition, _ConditionalEventDefinition)]
        _WATCHED[scope_spec] = cached
    return cached


def _handler_start_specs(scope_spec: Any, subprocess_specs: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(handler name, start event spec) of the event sub-processes drawn in the scope ``scope_spec``."""
    for name in getattr(scope_spec.start, "trigger_specs", ()):
        for start in getattr(subprocess_specs.get(name), "bpmn_start_events", ()):
            yield name, start


# Per restored spec (specs are shared and read-only while instances run).
_WATCHED: weakref.WeakKeyDictionary[Any, list[tuple[str, Any]]] = weakref.WeakKeyDictionary()


def _fill(workflow: Any, header: Mapping[str, Any], task_dicts: Iterable[dict[str, Any]]) -> None:
    """Restore a (sub)workflow's tasks and attributes from its header and task parts."""
    workflow.tasks = {}
    for value in task_dicts:
        dct = {k: v for k, v in value.items() if k != "wf"}
        _REGISTRY.restore(dct, workflow=workflow)
    workflow.task_tree = workflow.tasks[UUID(header["root"])]
    last = header.get("last_task")
    workflow.last_task = workflow.tasks.get(UUID(last)) if last else None
    workflow.success = header.get("success", True)
    workflow.completed = header.get("completed", False)
    workflow.correlations = dict(header.get("correlations") or {})
    if CONDITIONS_SEEN in header:
        setattr(workflow, CONDITIONS_SEEN, dict(header[CONDITIONS_SEEN]))
    if "data" in header:
        workflow.data = _REGISTRY.restore(header["data"])
    if "bpmn_events" in header:
        workflow.bpmn_events = _REGISTRY.restore(header["bpmn_events"])


def restore_data_part(parts: Mapping[str, Any]) -> dict[str, Any]:
    """The workflow data stored in ``parts`` (the ``wf.data`` part)."""
    return dict(_REGISTRY.restore(parts.get("wf.data") or {}))


def _tid(task: Task) -> str:
    """``str(task.id)``, made once per task and kept on it (every action spells every task's id: parts, snapshot).

    A task's id is set when the library makes it and never changes.
    """
    try:
        return task._pj_id  # type: ignore[no-any-return]
    except AttributeError:
        text = task._pj_id = str(task.id)  # type: ignore[attr-defined]
        return text


_UUID_TEXTS: dict[int, str] = {}
MAX_UUID_TEXTS = 16_384


def _uuid_text(value: UUID) -> str:
    """``str(value)``, remembered: every action spells the ids of its tasks' parents and children.

    ``UUID.__str__`` formats in Python (~1 µs); the ids of one instance's live
    tasks repeat from action to action. A bounded map by the id's number,
    emptied when full (an entry costs ~150 bytes).
    """
    number = value.int
    text = _UUID_TEXTS.get(number)
    if text is None:
        if len(_UUID_TEXTS) >= MAX_UUID_TEXTS:
            _UUID_TEXTS.clear()
        text = _UUID_TEXTS[number] = str(value)
    return text


def _signature(task: Task, wf_id: str | None) -> tuple[Any, ...]:
    return (task.state, task.last_state_change, task._parent, tuple(task._children), task.triggered,
            id(task.data), len(task.data), id(task.internal_data), len(task.internal_data), wf_id)


def _depth(task: Task) -> int:
    depth, node = 0, task.parent
    while node is not None:
        depth += 1
        node = node.parent
    return depth


def _path(task: Task) -> list[Task]:
    path = []
    node: Task | None = task
    while node is not None:
        path.append(node)
        node = node.parent
    path.reverse()
    return path


def _common_ancestor(tasks: list[Task]) -> Task:
    common = _path(tasks[0])
    for task in tasks[1:]:
        other = _path(task)
        n = 0
        while n < len(common) and n < len(other) and common[n] is other[n]:
            n += 1
        common = common[:n]
    return common[-1]


def _join_anchors(wf: Any, task: Task) -> list[Task]:
    """Tasks a join reachable from ``task`` will look at, which pruning must keep."""
    anchors: list[Task] = []
    joins = [task] if isinstance(task.task_spec, Join) else []
    joins += [c for c in task.children if isinstance(c.task_spec, Join)]
    for join in joins:
        spec = join.task_spec
        if spec.split_task:
            split = join.find_ancestor(spec.split_task)
            if split is not None:
                anchors.append(split)
        elif join.state & (TaskState.WAITING | TaskState.READY):
            # An unstructured (parallel/inclusive) join checks and merges its other instances.
            for other in wf.tasks.values():
                if other.task_spec is spec and other is not join and not join.is_descendant_of(other):
                    anchors.append(other.parent if other.parent is not None else other)
    return anchors


def _waits(task: Task) -> list[tuple[str, Any]]:
    """(element id, event definition) of what a waiting catch event waits for.

    An event-based gateway holds its events' definitions (in the order of its
    outgoing flows): each is reported under the event's own id.
    """
    spec = task.task_spec
    definition = spec.event_definition
    if isinstance(spec, EventBasedGateway) and isinstance(definition, MultipleEventDefinition):
        return [(original_id(getattr(out, "bpmn_id", None) or out.name), d)
                for out, d in zip(spec.outputs, definition.event_definitions, strict=False)]
    if isinstance(definition, MultipleEventDefinition):
        return [(_element(task), d) for d in definition.event_definitions]
    return [(_element(task), definition)]


def _due(task: Task, definition: Any) -> datetime | None:
    timers = (definition.event_definitions if isinstance(definition, MultipleEventDefinition) else [definition])
    if not any(isinstance(d, TimerEventDefinition) for d in timers):
        return None
    value = task.internal_data.get("event_value")
    if isinstance(value, dict):
        value = value.get("next") if value.get("cycles", 0) != 0 else None
    if not isinstance(value, str):
        return None
    try:
        due = TimerEventDefinition.parse_time_or_duration(value)
    except (ValueError, TypeError):
        return None
    return due if isinstance(due, datetime) else None


def _human(task: Task) -> HumanWork:
    spec = task.task_spec
    props = (getattr(spec, "extensions", None) or {}).get("properties") or {}
    form = props.get("formJsonSchemaFilename") if isinstance(props, Mapping) else None
    kind = "manualTask" if type(spec).__name__.endswith("ManualTask") else "userTask"
    return HumanWork(_tid(task), _element(task), spec.bpmn_name or "", kind, spec.lane, form)


def _element(task: Task) -> str:
    spec = task.task_spec
    return original_id(getattr(spec, "bpmn_id", None) or spec.name)


def _thrown(event: Any) -> Thrown:
    definition = event.event_definition
    kind = ("message" if isinstance(definition, MessageEventDefinition)
            else "signal" if isinstance(definition, SignalEventDefinition)
            else "error" if isinstance(definition, ErrorEventDefinition)
            else "escalation" if isinstance(definition, EscalationEventDefinition)
            else "none" if isinstance(definition, NoneEventDefinition) else "other")
    return Thrown(kind, getattr(definition, "name", None), getattr(definition, "code", None),
                  _plain(event.payload), _plain(event.correlations))


def _failure_of(exc: Exception) -> Failure:
    task = getattr(exc, "task", None)
    spec = getattr(task, "task_spec", None) or getattr(exc, "task_spec", None)
    element = getattr(spec, "bpmn_id", None) or getattr(spec, "name", None)
    element = original_id(element) if element else None
    cause = getattr(exc, "error_type", "") if isinstance(exc, SpiffWorkflowException) else type(exc).__name__
    kind = "script" if cause == "ScriptError" else "runtime"
    return Failure(element, _short(exc), kind)


def _data_problem(exc: WorkflowDataException) -> str | None:
    """What a task's data input or output lacked, in words (the library says only "Missing data input")."""
    spec = exc.data_input or exc.data_output
    name = getattr(spec, "bpmn_id", None)
    if not name:
        return None
    label = getattr(spec, "bpmn_name", None)
    said = f"{name!r}" + (f" («{label}»)" if label and label != name else "")
    if exc.data_input is not None:
        return (f"the task's data input {said}, which its ioSpecification requires, is not in the case's data "
                "(a data input association or an earlier step must provide it)")
    return (f"the task's data output {said}, which its ioSpecification promises, was not set by the task "
            "(its script or form must set a variable of that name)")


def _short(exc: BaseException) -> str:
    if isinstance(exc, WorkflowDataException) and str(exc).startswith("Missing data"):
        explained = _data_problem(exc)
        if explained is not None:
            return explained
    text = str(exc) if isinstance(exc, SpiffWorkflowException | ScriptError) else f"{type(exc).__name__}: {exc}"
    # The library wraps a failed condition as "Error evaluating expression '...'" and keeps the reason
    # only as the exception being handled: say it (a variable not set, a type that does not compare).
    reason = exc.__cause__ or exc.__context__
    said = re.sub(r"^line \d+: ", "", str(reason)) if reason is not None else ""
    if isinstance(exc, SpiffWorkflowException) and said and said not in text:
        text = f"{text.strip().rstrip('.')}: {reason}"
    text = re.sub(r"\s+", " ", text).strip().rstrip(".")
    return text if len(text) <= 500 else text[:499] + "…"


def _plain(value: Any) -> Any:
    """A JSON-friendly deep copy of task data (our own objects never leak library ones)."""
    return _data_dict(value, copy_unknown=True)


_ATOMS = (str, int, float, bool, type(None))
_COPY_DEPTH = 64


def copy_data(value: Any, _depth: int = 0) -> Any:
    """A deep copy of task data: dicts, lists and atoms copied directly, anything else by ``copy.deepcopy``.

    Task data is copied on every action (isolation of parallel branches, form
    answers, results); ``copy.deepcopy`` spends most of its time on its memo,
    which tree-shaped JSON-like data does not need. A structure nested deeper
    than ``_COPY_DEPTH`` (or a cycle a script built) goes to ``copy.deepcopy``,
    which handles both. A dict of plain JSON (nearly all task data) is copied
    by ``json_copy`` at once, in C: the same copy in about half the time.
    """
    if isinstance(value, _ATOMS):
        return value
    if _depth == 0 and type(value) is dict:
        try:
            return json_copy(value)
        except ValueError:  # not plain JSON (a tuple, a date, a NaN, a cycle...): copied below
            pass
    if _depth > _COPY_DEPTH:
        return copy.deepcopy(value)
    if type(value) is dict:
        return {k: v if isinstance(v, _ATOMS) else copy_data(v, _depth + 1) for k, v in value.items()}
    if type(value) is list:
        return [v if isinstance(v, _ATOMS) else copy_data(v, _depth + 1) for v in value]
    return copy.deepcopy(value)


# =============================================================================================
# 6. Diagnostics
# =============================================================================================

def _attempt(action: Callable[[], object], diagnostics: list[Diagnostic],
             process: Process | None = None) -> Exception | None:
    """Run one call into the library; return what it raised instead of raising it.

    Warnings the library emits become ``exec.library_warning`` diagnostics.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            action()
            problem = None
        # The adapter boundary: the stock parser raises arbitrary exceptions on
        # malformed models (TypeError, KeyError, AttributeError, IndexError,
        # RecursionError, lxml errors...). Each is returned and turned into a
        # diagnostic by the caller; none is swallowed.
        except Exception as exc:  # noqa: BLE001 - the adapter boundary described above
            problem = exc
    for w in caught:
        diagnostics.append(Diagnostic(
            "info", LIBRARY_WARNING, f"SpiffWorkflow warns: {w.message}",
            process.id if process else None, process.line if process else None))
    return problem


def _flows_without_ids(process: Process) -> list[SequenceFlow]:
    # SpiffWorkflow indexes flows by id and silently drops those without one.
    return sorted((f for f in process.flows.values() if not f.id), key=lambda f: f.line or 0)


# Library messages, as a pattern and what to say instead ({who} is the element).
_EXPLAINED: list[tuple[re.Pattern[str], str]] = [(re.compile(p, re.S), t) for p, t in (
    (r"^No start event found", "it has no start event"),
    (r"^Non-default exclusive outgoing sequence flow without condition",
     "{who} leaves a gateway without a condition and is not its default flow, so the engine "
     "cannot decide when to take it"),
    (r"^Multiple outgoing flows are not supported",
     "{who} has several outgoing flows; the engine follows one flow out of a task or event, "
     "so split the path with a gateway"),
    (r"Time Specification|Unknown Time Specification",
     "the timer of {who} has no date, duration or cycle"),
    (r'^No "calledElement" attribute', "{who} does not say which process it calls (no calledElement)"),
    (r"^Exactly one start event is required in a SubWorkflow Task; found (\d+)",
     "{who} must have exactly one start event, it has {0}"),
    (r"^A SubWorkflow Must contain an End event", "{who} has no end event"),
    (r"raise_validation_exception\(\) got an unexpected keyword argument|^Expected an? \w+ node",
     "{who} refers to {ref}"),
    (r"^NotImplementedError\('Unsupported Catch Event",
     "{who} catches nothing the engine supports (it must catch an error, message, signal, timer, "
     "escalation, cancel or condition; compensation and link boundary events are not supported)"),
    (r"^A Service Task must have an operator",
     "{who} does not name the service or inquiry it calls (spiffworkflow:serviceTaskOperator, or a Camunda "
     "external topic whose input parameters are literals, variables or simple expressions); Camunda Java "
     "classes, delegates and expressions cannot be run"),
    (r"^Data Store name is missing", "a data store has no name"),
    (r"^Data Store identifier is missing", "a data store has no id"),
    (r"^Cannot resolve dataInputAssociation",
     "{who} reads data that is neither a data object nor a data store of this process"),
    (r"^Cannot resolve dataOutputAssociation",
     "{who} writes data that is neither a data object nor a data store of this process"),
    (r"^A multiinstance task must specify a cardinality or a loop input",
     "{who} repeats for several instances but says neither how many (loopCardinality) nor over "
     "which collection (loopDataInputRef, or a Camunda collection that names a variable: an expression "
     "there is not evaluated)"),
    (r"^A multiinstance task must specify exactly one",
     "{who} gives both a number of instances and a collection; give only one"),
    (r"^A loopMaximum or loopCondition must be specified",
     "{who} loops but has neither a loop condition nor a maximum"),
    (r"^The loop (input|output) data reference is missing",
     "the loop {0} of {who} is not in its input/output specification"),
    (r'^No DMN Diagram available with id "([^"]*)"',
     "{who} evaluates the decision table '{0}', which is not part of this model"),
    (r"^There is no support implemented for this task type", "the engine does not support {who}"),
    (r"^Conditional event definition with missing condition", "{who} waits for a condition but has none"),
    (r"^When looking for a task spec, we found two items.*\((.*)\)",
     "a sequence flow from {who} leads to '{0}', which the engine cannot find (a missing or repeated id)"),
    (r"^Duplicate process ID: (.*)", "two processes or sub-processes share the id '{0}'"),
    (r"^The process '([^']*)' was not found", "the process '{0}' is not in this file"),
    (r"^Cancel Events may only be used with transactions", "{who} is a cancel event outside a transaction"),
    (r"^Ad hoc subprocesses may not contain start or end events", "{who} contains start or end events"),
    (r"^Sequential ordering for ad hoc subprocesses not supported",
     "{who} is a sequential ad-hoc sub-process, which the engine does not support"),
    (r"RecursionError",
     "a path through it is too long for the engine's parser (several hundred steps in a row, "
     "near {who}); split it into sub-processes"),
)]


def _diagnose(exc: Exception, model: Model, index: ElementIndex,
              process: Process | None, severity: Severity) -> Diagnostic:
    """A library failure as a diagnostic: which element, which line, and why."""
    raw = str(exc.args[0]) if exc.args else type(exc).__name__
    if not isinstance(exc, ValidationException):
        raw = f"{type(exc).__name__}({raw!r})"
    element_id = (str(getattr(exc, "id", "") or "")).strip() or None
    element = index.get(element_id) if element_id else None
    if element is None and raw.startswith("Data Store"):
        # The library names no element here: point at the first store lacking a name or id.
        element = next((ds for ds in model.source.root.iter(f"{{{BPMN_NS}}}dataStore")
                        if not (ds.get("name") and ds.get("id"))), None)
    who = (f"{kind_name(etree.QName(element).localname)} {named(element.get('name'), element.get('id'))}"
           if element is not None else "an element")
    reason = None
    for pattern, text in _EXPLAINED:
        m = pattern.search(raw)
        if m:
            reason = text.format(*m.groups(), who=who, ref=_dangling_ref(element, index))
            break
    short = raw if len(raw) <= 200 else raw[:199] + "…"
    if reason is None:
        reason = f"{who}: {short}" if element is not None else short
    else:
        reason = f"{reason} (SpiffWorkflow: {short})"
    where = (f"the process {named(process.display_name, process.id)}" if process is not None
             else "this model")
    reported = getattr(exc, "line_number", None)  # usually empty: lxml calls it sourceline
    line = (element.sourceline if element is not None
            else reported if isinstance(reported, int) and reported > 0
            else process.line if process else None)
    if element is not None:
        element_id = element.get("id") or element_id
    return Diagnostic(severity, NOT_BUILDABLE, f"the engine cannot build {where}: {reason}",
                      element_id or (process.id if process else None), line)


def _dangling_ref(element: etree._Element | None, index: ElementIndex) -> str:
    """What an event refers to that the engine cannot find, in words."""
    for el in element.iter(*(f"{{{BPMN_NS}}}{t}" for t in EVENT_REFS)) if element is not None else ():
        attr, wanted = EVENT_REFS[etree.QName(el).localname]
        ref = (el.get(attr) or "").strip()
        if not ref or (ref in index.by_id and index.kind(ref) == wanted):
            continue
        if index.kind(ref) == wanted:
            bare = ref.rpartition(":")[2]
            return (f"the {wanted} '{ref}' with a namespace prefix, which the engine does not resolve; "
                    f"write the bare id '{bare}'")
        return f"the {wanted} '{ref}', which is not defined in this file"
    return "an error, message, signal or escalation that is not defined in this file"
