"""A headless run of one model, as an analyst tests it (``panjereh run``, DESIGN.md §7).

:func:`run_model` deploys the model into the given database (a rejected
model ends there, with its diagnostics), starts one instance and drives it
until it ends or nothing more can happen:

* user and manual tasks are completed with the answers given for their
  element id (a list gives one mapping per visit, the last one repeating;
  no answer is an empty form);
* worker threads in this process run the jobs: inquiries (to whatever
  connector the service dispatch has: the simulator by default), other
  service operators (mocks), timers and messages;
* with a :class:`~engine.clock.VirtualClock`, when nothing is running and
  nothing is due, the clock jumps to the next due job (a timer, a retry), so
  timers fire without waiting; with the system clock the run waits for it
  (up to ``timeout`` seconds).

The result is the ``panjereh.run/1`` document (``contracts/run.schema.json``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bpmn.diagnostics import Diagnostic
from bpmn.load import Source
from engine.clock import VirtualClock
from engine.runtime import Engine, InstanceState

SCHEMA_ID = "panjereh.run/1"
RUN_USER = "panjereh-run"


@dataclass(frozen=True)
class RunOptions:
    """What to run and how (see the module docstring)."""

    process_id: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    answers: Mapping[str, Any] = field(default_factory=dict)
    business_key: str | None = None
    threads: int = 2
    timeout: float = 120.0          # real seconds for the whole run
    max_actions: int = 10_000       # human tasks completed, a guard against answers that loop forever
    poll: float = 0.01


class Answers:
    """The answer for each visit of a human task: a mapping, or a list (one per visit, the last repeating)."""

    def __init__(self, answers: Mapping[str, Any]) -> None:
        problem = self.problem(answers)
        if problem is not None:
            raise ValueError(problem)
        self._answers = dict(answers)
        self._visits: dict[str, int] = {}

    @staticmethod
    def problem(answers: Mapping[str, Any]) -> str | None:
        """What is wrong with the shape of ``answers`` (task id -> object, or list of objects), if anything."""
        for element_id, given in answers.items():
            visits = given if isinstance(given, list) else [given]
            if not all(isinstance(visit, Mapping) for visit in visits):
                return (f"the answer for {element_id!r} must be an object of form fields, or a list of them "
                        "(one per visit)")
        return None

    def next(self, element_id: str) -> dict[str, Any]:
        """The form data for the next visit of ``element_id``."""
        given = self._answers.get(element_id)
        visit = self._visits.get(element_id, 0)
        self._visits[element_id] = visit + 1
        if isinstance(given, list):
            if not given:
                return {}
            chosen = given[min(visit, len(given) - 1)]
        else:
            chosen = given
        return dict(chosen) if isinstance(chosen, Mapping) else {}


def run_model(engine: Engine, source: Source, options: RunOptions, *, called: Sequence[Source] = ()
              ) -> dict[str, Any]:
    """Deploy, start and drive one instance of ``source``; the ``panjereh.run/1`` document.

    ``called``: models deployed first, whose processes the call activities of
    ``source`` may call (a rejected one rejects the run, its file named).
    """
    for other in called:
        deployment = engine.deploy(other)
        if deployment.rejected:
            return _rejected(options, [replace(d, message=f"in {other.name}: {d.message}") for d in deployment.errors])
    deployment = engine.deploy(source)
    if deployment.rejected:
        return _rejected(options, deployment.errors)
    assert deployment.version is not None
    process_id = options.process_id or deployment.processes[0]
    state = engine.start(deployment.version.id, process_id=process_id, data=options.data,
                         business_key=options.business_key, actor=RUN_USER)
    state = drive(engine, state, Answers(options.answers), options)
    # The warnings too: what the engine runs differently from what the model may seem to say.
    return report(engine, state, [d.to_json() for d in deployment.diagnostics if d.severity != "error"])


def _rejected(options: RunOptions, errors: Sequence[Diagnostic]) -> dict[str, Any]:
    return {"schema": SCHEMA_ID, "status": "rejected", "instance_id": None, "process_id": options.process_id,
            "data": {}, "completed": [], "waiting": [], "inquiries": [], "incidents": [],
            "diagnostics": [d.to_json() for d in errors]}


def drive(engine: Engine, state: InstanceState, answers: Answers, options: RunOptions) -> InstanceState:
    """Move ``state``'s instance on until it ends or waits for something no one here will do."""
    deadline = time.monotonic() + options.timeout
    clock = engine.clock
    actions = 0
    pool = engine.worker_pool(threads=options.threads, poll_interval=options.poll)
    pool.start()
    try:
        while time.monotonic() < deadline:
            state = engine.state(state.id)
            if state.ended:
                break
            if state.human_tasks and actions < options.max_actions:
                # One task, then the state again: completing it may cancel the others (an interrupting
                # event, a race of branches), and a cancelled task cannot be completed.
                ref = state.human_tasks[0]
                engine.complete_task(ref.id, user=RUN_USER, data=answers.next(ref.element_id))
                actions += 1
                continue
            busy, next_due = engine.job_outlook()
            if busy:
                time.sleep(options.poll)
                continue
            if next_due is None:
                # Re-read once: a worker may have settled between the two reads.
                if engine.state(state.id).lock_version == state.lock_version:
                    break
                continue
            if isinstance(clock, VirtualClock):
                clock.set(max(next_due, clock.now()))
            else:
                wait = (next_due - clock.now()).total_seconds()
                if time.monotonic() + wait > deadline:
                    break
                time.sleep(max(wait, options.poll))
    finally:
        pool.stop()
    return engine.state(state.id)


def report(engine: Engine, state: InstanceState, diagnostics: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The ``panjereh.run/1`` document for an instance."""
    status = state.status if state.status in ("completed", "failed") else "waiting"
    incidents = [{"element_id": i.element_id, "message": i.message} for i in engine.incidents(state.id)]
    out: dict[str, Any] = {
        "schema": SCHEMA_ID, "status": status, "instance_id": state.id, "process_id": state.process_id,
        "data": dict(state.data), "completed": engine.history(state.id),
        "waiting": list(state.waiting) if status == "waiting" else [],
        "inquiries": [{"element_id": q.element_id, "service": q.service, "status": q.status, "attempts": q.attempts}
                      for q in engine.inquiries(state.id)],
        "incidents": incidents,
    }
    if diagnostics:
        out["diagnostics"] = diagnostics
    return out
