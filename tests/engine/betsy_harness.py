"""A harness that drives Panjereh's engine through the betsy BPMN conformance suite (../shared/corpus/betsy).

How the suite works is in the corpus README. For each of the 136 test
processes the harness translates the file into something our engine runs
(placeholders become sandbox scripts, the neutral condition syntax becomes
Python, bare ISO 8601 timers are quoted), deploys it (our validation,
executability and script checks decide; a rejection is ``ERROR_deployment``),
then for each test case starts the process with the case's inputs and drives
it with a virtual clock, jumping to each due timer within the case's
``delay_ms``. Every step is persisted: the engine's live cache is off, so each
action restores the instance from its stored parts. Traces are compared as
multisets; a run that fails adds ``ERROR_runtime`` (``ERROR_thrownErrorEvent``
when a BPMN error escaped), and an expected ``ERROR`` accepts any error.

The 301 constraint files each break one BPMN rule and must be rejected at
deployment.
"""

from __future__ import annotations

import json
import re
import tempfile
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from lxml import etree
from sqlalchemy import update

from bpmn.errors import PanjerehError
from bpmn.load import BPMN_NS, Source, load_bytes, parse_xml
from engine.clock import VirtualClock
from engine.db import Database
from engine.deploy import Deployment
from engine.models import Job
from engine.runtime import Engine, InstanceState
from engine.sandbox import Sandbox
from engine.services import ServiceDispatch
from engine.spiff import script_functions
from engine.worker import Worker

_EXPR_TAGS = ("conditionExpression", "condition", "loopCondition", "completionCondition", "loopCardinality")
_TIMER_TAGS = ("timeDuration", "timeCycle", "timeDate")
_VALUE = "BETSY"


@dataclass
class CaseResult:
    """One test case: what was expected and what the engine logged."""

    number: int
    expected: list[str]
    actual: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        if self.expected == ["ERROR"]:
            return any(m.startswith("ERROR") for m in self.actual)
        return Counter(self.expected) == Counter(self.actual)


@dataclass
class ProcessResult:
    """One of the 136 test processes."""

    name: str
    deployed: bool
    cases: list[CaseResult] = field(default_factory=list)
    diagnostics: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.cases)


@dataclass(frozen=True)
class Figures:
    """The three numbers the brief asks for."""

    passed: int
    processes: int
    constraints_rejected: int
    constraints: int
    valid_rejected: int
    rejected: int  # test processes rejected at deployment, including those whose cases all expect an error

    def __str__(self) -> str:
        return (f"betsy: {self.passed} of {self.processes} tests passed; {self.constraints_rejected} of "
                f"{self.constraints} constraint files rejected; {self.valid_rejected} valid processes rejected "
                f"({self.rejected} test processes rejected in all)")


# --- translation --------------------------------------------------------------------------------

def _condition(text: str) -> str:
    t = text.strip()
    t = re.sub(r"^\$\{(.*)\}$", r"\1", t, flags=re.S)
    t = re.sub(r'([A-Za-z_]\w*)\.contains\(("[^"]*"|\'[^\']*\')\)', r"(\2 in \1)", t)
    t = t.replace("&&", " and ").replace("||", " or ")
    t = re.sub(r"!(?!=)", " not ", t)
    t = re.sub(r"\btrue\b", "True", t)
    t = re.sub(r"\bfalse\b", "False", t)
    return t.strip()


def _script(task: etree._Element, marker: str) -> str:
    m = marker.strip()
    if m.startswith("SCRIPT_task"):
        return f'log("{m}")'
    if m == "CREATE_LOG_FILE" or m.startswith("CREATE_TIMESTAMP_LOG"):
        return "pass"
    if m == "CREATE_MARKER_FILE":
        return "marker()"
    if m == "INCREMENT_INTEGER_VARIABLE":
        return "integerVariable = integerVariable + 1"
    if m == "INCREMENT_INTEGER_VARIABLE_AND_LOG":
        return 'integerVariable = integerVariable + 1\nlog("INCREMENT_correct")'
    if m == "WAIT_TEN_SECONDS":
        return "wait(10)"
    if m == "THROW_ERROR":
        return 'throw_bpmn_error("ERR_CODE")'
    outputs = [el.get("id") for el in task.iter(f"{{{BPMN_NS}}}dataOutput") if el.get("id")]
    inputs = [el.get("id") for el in task.iter(f"{{{BPMN_NS}}}dataInput") if el.get("id")]
    written = _data_objects(task, "dataOutputAssociation", "targetRef")
    read = _data_objects(task, "dataInputAssociation", "sourceRef")
    if m == "SET_STRING_DATA":
        return "\n".join(f'{name} = "{_VALUE}"' for name in dict.fromkeys([*outputs, *written, "data"]))
    if m == "LOG_DATA":
        name = (read or inputs or ["data"])[0]
        return f'if {name} == "{_VALUE}":\n    log("DATA_correct")'
    return m


def _data_objects(task: etree._Element, association: str, end: str) -> list[str]:
    """The data objects (their ids: the variable names) a task's associations write or read."""
    root = task.getroottree().getroot()
    refs = {el.get("id"): el.get("dataObjectRef") for el in root.iter(f"{{{BPMN_NS}}}dataObjectReference")}
    out = []
    for assoc in task.iter(f"{{{BPMN_NS}}}{association}"):
        ref = assoc.find(f"{{{BPMN_NS}}}{end}")
        target = refs.get((ref.text or "").strip()) if ref is not None else None
        if target:
            out.append(target)
    return out


def translate(data: bytes, name: str) -> bytes:
    """The betsy file with its placeholders replaced by scripts our sandbox runs."""
    root = parse_xml(data, name)
    for el in root.iter():
        if not isinstance(el.tag, str) or etree.QName(el).namespace != BPMN_NS:
            continue
        local = etree.QName(el).localname
        if local == "script" and el.text:
            owner = el.getparent()
            el.text = _script(owner if owner is not None else el, el.text)
        elif local in _EXPR_TAGS and el.text and el.text.strip():
            el.text = _condition(el.text)
        elif local in _TIMER_TAGS and el.text and el.text.strip():
            value = el.text.strip()
            if not value.startswith(("'", '"')):
                el.text = f"'{value}'"
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


# --- running --------------------------------------------------------------------------------------

class _Trace:
    """What the scripts of one test case logged (the betsy log file)."""

    def __init__(self, clock: VirtualClock) -> None:
        self.lines: list[str] = []
        self.marker = False
        self.clock = clock
        self.lock = threading.Lock()

    def functions(self) -> dict[str, Callable[..., Any]]:
        def log(text: str) -> None:
            with self.lock:
                self.lines.append(str(text))

        def marker() -> None:
            self.marker = True

        def wait(seconds: float) -> None:
            self.clock.advance(timedelta(seconds=float(seconds)))

        return {"log": log, "marker": marker, "wait": wait, **script_functions()}

    def result(self, errors: list[str]) -> list[str]:
        return self.lines + (["MARKER_exists"] if self.marker else []) + errors


class Harness:
    """Deploys and runs betsy files against one database."""

    def __init__(self, root: Path, db: Database) -> None:
        self.root = root
        self.expected = json.loads((root / "expected.json").read_text(encoding="utf-8"))
        self.db = db
        self.clock = VirtualClock()

    def _engine(self, clock: VirtualClock, trace: _Trace | None = None) -> Engine:
        sandbox = Sandbox(functions=trace.functions() if trace else None, now=clock.now)
        return Engine(self.db, clock, services=ServiceDispatch(self.db, clock), sandbox=sandbox, cache_size=0)

    def deploy(self, path: Path) -> tuple[Deployment | None, list[str]]:
        try:
            source: Source = load_bytes(translate(path.read_bytes(), path.name), path.name)
        except PanjerehError as exc:
            return None, [str(exc)]
        # Deployed with the harness's functions known to the script check (as a server would configure them).
        deployment = self._engine(self.clock, _Trace(self.clock)).deploy(source, key=path.stem)
        return deployment, [f"{d.code} {d.element_id}: {d.message}" for d in deployment.errors]

    def run_process(self, entry: dict[str, Any]) -> ProcessResult:
        path = self.root / entry["file"]
        deployment, problems = self.deploy(path)
        result = ProcessResult(entry["name"], deployment is not None and not deployment.rejected,
                               diagnostics=problems)
        for case in entry["testcases"]:
            notes: list[str] = []
            if not result.deployed or deployment is None or deployment.version is None:
                actual = ["ERROR_deployment"]
            else:
                actual = self.run_case(deployment, entry, case, notes)
            result.cases.append(CaseResult(case["number"], list(case["trace"]), actual, notes))
        return result

    def run_case(self, deployment: Deployment, entry: dict[str, Any], case: dict[str, Any],
                 notes: list[str]) -> list[str]:
        assert deployment.version is not None
        clock = VirtualClock()
        trace = _Trace(clock)
        engine = self._engine(clock, trace)
        key = f"{entry['name']}#{case['number']}"
        version = deployment.version.id
        processes = list(deployment.processes)
        main = entry["name"] if entry["name"] in processes else processes[0]
        states: list[InstanceState] = []
        errors: list[str] = []
        try:
            if case.get("parallel_process") and "ParallelProcess" in processes:
                states.append(engine.start(version, process_id="ParallelProcess", business_key=key))
            states.append(engine.start(version, process_id=main, data=dict(case["inputs"]), business_key=key))
            self._drive(engine, clock, timedelta(milliseconds=int(case.get("delay_ms") or 0)))
        except PanjerehError as exc:
            errors.append("ERROR_runtime")
            notes.append(str(exc))
        for state in states:
            final = engine.state(state.id)
            if final.status == "failed":
                escaped = "no event caught it" in (final.failure or "")
                errors.append("ERROR_thrownErrorEvent" if escaped else "ERROR_runtime")
                notes.append(final.failure or "")
        self._stop_leftovers(clock)
        return trace.result(errors)

    def _stop_leftovers(self, clock: VirtualClock) -> None:
        """Cancel the jobs a case left (a cycle timer, a wait past its window), as betsy resets its engine.

        Every case's virtual clock starts at the same time, so a later case's
        clock would make them due: its worker would run them, and its drive would
        jump its clock to their due times instead of its own.
        """
        with self.db.session_scope() as session:
            session.execute(update(Job).where(Job.status.in_(("ready", "failed", "running")))
                            .values(status="cancelled", lease_owner=None, lease_token=None, lease_expires_at=None,
                                    updated_at=clock.now()))

    def _drive(self, engine: Engine, clock: VirtualClock, window: timedelta) -> None:
        worker = Worker(engine.db, clock, engine.job_handlers(), policy=engine.policy)
        limit = clock.now() + window
        for _ in range(1000):
            worker.drain(threading.Event())
            _, next_due = engine.job_outlook()
            if next_due is None or next_due > limit:
                return
            clock.set(next_due)

    def run_all(self) -> tuple[list[ProcessResult], list[tuple[str, bool]]]:
        processes = [self.run_process(entry) for entry in self.expected["processes"]]
        constraints = []
        for entry in self.expected["constraint_tests"]:
            deployment, _ = self.deploy(self.root / entry["file"])
            constraints.append((entry["name"], deployment is None or deployment.rejected))
        return processes, constraints


def figures(processes: list[ProcessResult], constraints: list[tuple[str, bool]]) -> Figures:
    """Passed tests, rejected constraint files and rejected valid processes.

    A process is *valid* unless every one of its test cases expects an error
    (the "errors" group's ``ERROR`` cases: rejecting those is the right answer).
    """
    valid_rejected = sum(not p.deployed and not all(c.expected in (["ERROR"], ["ERROR_deployment"])
                                                    for c in p.cases) for p in processes)
    return Figures(sum(p.passed for p in processes), len(processes), sum(r for _, r in constraints),
                   len(constraints), valid_rejected, sum(not p.deployed for p in processes))


def run_betsy(root: Path, url: str | None = None) -> tuple[Figures, list[ProcessResult], list[tuple[str, bool]]]:
    """Run the whole suite (on a temporary SQLite database unless ``url``)."""
    with tempfile.TemporaryDirectory(prefix="betsy-") as tmp:
        db = Database(url or f"sqlite:///{tmp}/betsy.sqlite3")
        db.upgrade()
        try:
            processes, constraints = Harness(root, db).run_all()
        finally:
            db.dispose()
    return figures(processes, constraints), processes, constraints
