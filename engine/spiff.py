"""The SpiffWorkflow adapter: the only module of Panjereh that imports SpiffWorkflow.

Nothing SpiffWorkflow defines leaves this module; callers get our own values.
For now it answers one question, :func:`check_executable`: can the engine
build an executable spec for each process of a model? The answer is an
:class:`Executability` with one :class:`~bpmn.diagnostics.Diagnostic` per
reason it cannot.

How the parser is assembled (STYLE.md):

* a fresh parser for every process checked, so nothing a failed parse left
  half-built is ever reused;
* the already-parsed, hardened lxml tree is handed over with ``add_bpmn_xml``;
  SpiffWorkflow never reads a file or bytes, and it runs without its own XSD
  validator (``bpmn.validate`` reports schema problems);
* registries are extended by copying the library's dicts, never by mutating
  them. Data stores: the stock parser refuses any ``bpmn:dataStore`` whose
  name has no registered implementation, which rejects about 170 models of
  the corpus for a drawing of an archive or a registry. Each named store of
  the model is registered as an :class:`UnconnectedDataStore`, so such models
  build; reading one yields nothing and writing one keeps nothing.

The stock parser fails with ``ValidationException`` on models it cannot use,
but on malformed input it also raises ``TypeError``, ``KeyError``,
``AttributeError``, ``RecursionError``... (for instance a ``TypeError``
whenever an event names an undefined error, message, signal or escalation).
Every one of them becomes a diagnostic naming the element, its line and the
reason in words a process analyst understands.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.data_spec import BpmnDataStoreSpecification
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser, SpiffProcessParser

from bpmn.diagnostics import Diagnostic, Severity, sort_key
from bpmn.load import BPMN_NS
from bpmn.model import Model, Process, SequenceFlow
from bpmn.references import EVENT_REFS, ElementIndex, exec_severity, kind_name, named

NOT_BUILDABLE = "exec.not_buildable"
LIBRARY_WARNING = "exec.library_warning"


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


class _ProcessParser(SpiffProcessParser):
    """Treats every process as executable when the model marks none so."""

    def __init__(self, p: _Parser, node: etree._Element, *args: object, **kwargs: object) -> None:
        super().__init__(p, node, *args, **kwargs)
        if p.force_executable:
            self.process_executable = True


class _Parser(SpiffBpmnParser):
    PROCESS_PARSER_CLASS = _ProcessParser

    def __init__(self, data_store_names: list[str], force_executable: bool) -> None:
        super().__init__()  # no validator: bpmn.validate reports schema problems
        self.force_executable = force_executable
        # A copy on the instance: the library's class-level dict stays untouched.
        self.DATA_STORE_CLASSES = {
            **SpiffBpmnParser.DATA_STORE_CLASSES,
            **{name: UnconnectedDataStore for name in data_store_names},
        }


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
    stores = sorted({el.get("name") for el in root.iter(f"{{{BPMN_NS}}}dataStore") if el.get("name") is not None})
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
        problem = _attempt(partial(parser.add_bpmn_xml, root, filename=model.name), diagnostics)
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
    # An element without an id is reported by line, never by an empty id.
    diagnostics = [d if d.element_id else replace(d, element_id=None) for d in diagnostics]
    return Executability(results, sorted(diagnostics, key=sort_key))


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
        except Exception as exc:
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
     "{who} does not name the service or inquiry it calls (spiffworkflow:serviceTaskOperator); "
     "Camunda classes, expressions and external topics cannot be run"),
    (r"^Data Store name is missing", "a data store has no name"),
    (r"^Data Store identifier is missing", "a data store has no id"),
    (r"^Cannot resolve dataInputAssociation",
     "{who} reads data that is neither a data object nor a data store of this process"),
    (r"^Cannot resolve dataOutputAssociation",
     "{who} writes data that is neither a data object nor a data store of this process"),
    (r"^A multiinstance task must specify a cardinality or a loop input",
     "{who} repeats for several instances but says neither how many (loopCardinality) nor over "
     "which collection (loopDataInputRef)"),
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
