"""The engine's service API: deploy, start, act on instances, and the job handlers behind them.

:class:`Engine` is assembled from injected parts (STYLE.md): the database,
the clock, the service dispatch (``engine.services``) and the sandbox; it
returns our dataclasses (:class:`InstanceState`, ``TaskView``…), never a
SpiffWorkflow object (those stay inside ``engine.spiff``).

One action on an instance = one transaction (``Database.session_scope``):

1. lock the instance row (``Instances.lock``: ``SELECT … FOR UPDATE`` on
   PostgreSQL, the writing transaction itself on SQLite), or, when this
   process's cache holds the version the last action saved, claim it
   (``Instances.claim``: one compare-and-set UPDATE, no read);
2. get the live workflow: from this process's cache when the cached copy has
   the row's ``lock_version`` (nobody changed it since), else restored from
   its state parts;
3. act (complete a task, give a service result, fire timers, deliver an
   event) and run the engine steps that follow;
4. settle: inbox rows for new human tasks, jobs for new service calls and
   timers, cancel what the process no longer waits for, store the state
   parts that changed (``engine.state_store``), an audit event listing the
   elements completed, and ``Instances.save`` (the optimistic compare-and-set
   on ``lock_version`` that ends every action; ``Instances.finish`` after a
   claim, which already made it);
5. after the commit (never before), the live workflow goes back into the cache.

A failed transaction never reaches the cache, so a half-applied action is
never reused. Lost races raise :class:`~engine.errors.ConcurrencyError`;
public methods repeat the whole action a few times before giving up.

Jobs (``kind``): ``service`` (a service task's call: ``engine.services``),
``timer`` (due at the timer's time; fires the instance's due timers),
``message`` (a message or signal an instance threw: delivered to the
instances of the same business key waiting for it, or it starts instances
whose start event waits for it). Workers run them (``engine.worker``); when
a service job's retries are spent, the task's error boundary event takes
over if the model has one (the fallback path), else an incident is opened.

What the engine keeps per instance besides the workflow parts: a ``pj`` part
mapping waiting task keys to their inbox row or job, so settling needs no
query, and the versions pinned at its start for the processes its call
activities call in other models (``calls``). The ``completed`` history lives in the audit trail (one
``instance.step`` event per action), since pruning drops it from the tree.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bpmn.load import Source
from engine.audit import AuditLog
from engine.call_bindings import LATEST_BINDING, bindings_of
from engine.clock import Clock
from engine.db import Database, after_commit
from engine.deploy import Deployment, deploy_model
from engine.errors import ConcurrencyError, InvalidData, InvalidState, JobFailed, NotFound
from engine.handoff import Handoff
from engine.inbox import HumanTasks, TaskView
from engine.incidents import Incidents, IncidentView
from engine.instances import ClaimedHead, InstanceHead, Instances
from engine.jobs import DEFAULT_MAX_ATTEMPTS, JobQueue, Lease, RetryPolicy
from engine.models import (
    AuditEvent,
    HumanTask,
    Incident,
    InquiryRecordRow,
    Instance,
    Job,
    ProcessVersion,
    column_length,
)
from engine.sandbox import Sandbox, ScriptError
from engine.sandbox_limits import measure
from engine.services import (
    INQUIRY_PREFIX,
    ServiceDispatch,
    ServiceOutcome,
    ServiceRequest,
    idempotency_key,
    store_record,
)
from engine.spiff import (
    CalledVersion,
    LiveInstance,
    Snapshot,
    StepReport,
    calls_elsewhere,
    data_problem,
    script_functions,
    spec_process_ids,
    start_triggers,
)
from engine.state_store import load_parts_and_hashes, save_parts
from engine.subscriptions import EventSubscriptions
from engine.versions import Versions
from engine.worker import JobHandler, WorkerPool

log = logging.getLogger(__name__)

SERVICE_JOB = "service"
TIMER_JOB = "timer"
MESSAGE_JOB = "message"
JOB_KINDS = (SERVICE_JOB, TIMER_JOB, MESSAGE_JOB)
META_PART = "pj"
STEP_EVENT = "instance.step"
ACTION_TRIES = 4
TASK_INDEX_SIZE = 20_000  # inbox rows whose instance is known without a read (~250 bytes each)
MAX_LINKED_PROCESSES = 100  # processes of other versions one instance may call, transitively


# --- values -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class HumanTaskRef:
    """A human task an instance waits for: its inbox row id and element."""

    id: str
    element_id: str
    name: str


@dataclass(frozen=True)
class InstanceState:
    """An instance after an action: status, what it waits for, its data."""

    id: str
    version_id: str
    process_id: str
    status: str                     # running | waiting | completed | failed | cancelled
    business_key: str | None
    lock_version: int
    data: Mapping[str, Any] = field(default_factory=dict)
    waiting: tuple[str, ...] = ()
    human_tasks: tuple[HumanTaskRef, ...] = ()
    failure: str | None = None

    @property
    def ended(self) -> bool:
        """True once the instance will not move any more."""
        return self.status in ("completed", "failed", "cancelled")


@dataclass(frozen=True)
class InquiryView:
    """The inquiries one element of an instance made: attempts and the last status."""

    element_id: str | None
    service: str
    status: str
    attempts: int


@dataclass
class _Cached:
    lock_version: int
    live: LiveInstance
    hashes: dict[str, str]
    meta: dict[str, Any]
    state: InstanceState | None = None  # what the action that made this version returned
    head: InstanceHead | None = None  # the instance row as the action that made this version left it


def _head_at(row: InstanceHead, status: str, lock_version: int) -> InstanceHead:
    """``row`` as an action leaves it: with ``status`` at ``lock_version`` (what the next action may claim)."""
    return InstanceHead(row.id, row.version_id, row.process_id, status, row.business_key, row.subject, lock_version)


def _put_last(items: OrderedDict[str, Any], key: str, value: Any, size: int) -> None:
    """Put ``key`` last in ``items``, dropping the oldest entries beyond ``size`` (the caller holds the lock)."""
    items[key] = value
    items.move_to_end(key)
    while len(items) > size:
        items.popitem(last=False)


class _LiveCache:
    """Live workflows by instance id, valid for one ``lock_version``; taken by one action at a time.

    Only instances that can still move are kept live. An ended instance's
    workflow (its task tree, data copies, script engine) would be dead
    weight: nothing runs it again, yet a full cache held 256 of them, and each
    surviving object counts towards the garbage collector's full collections
    (~110 ms each on the bench's process, one every ~350 cases, against one
    every ~1,500 without them). What a reader of an ended instance needs is
    its last :class:`InstanceState`, kept in a map of its own.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[str, _Cached] = OrderedDict()
        self._ended: OrderedDict[str, InstanceState] = OrderedDict()
        self._lock = threading.Lock()

    def ended_state(self, instance_id: str, lock_version: int) -> InstanceState | None:
        """The last state of an ended instance at ``lock_version``, if noted."""
        with self._lock:
            state = self._ended.get(instance_id)
        return state if state is not None and state.lock_version == lock_version else None

    def note_ended_after_commit(self, session: Session, state: InstanceState) -> None:
        """Once the session commits, remember ``state`` (of an ended instance) and drop its live workflow."""
        def note() -> None:
            with self._lock:
                self._items.pop(state.id, None)
                _put_last(self._ended, state.id, state, self._size)

        after_commit(session, note)

    def head(self, instance_id: str) -> InstanceHead | None:
        """The row's head as the cached version's action saved it (to claim the instance with), if any."""
        entry = self._items.get(instance_id)  # one dict read: atomic, no lock needed
        return entry.head if entry is not None else None

    def take(self, instance_id: str, lock_version: int) -> _Cached | None:
        with self._lock:
            entry = self._items.pop(instance_id, None)
        return entry if entry is not None and entry.lock_version == lock_version else None

    def put_after_commit(self, session: Session, instance_id: str, entry: _Cached) -> None:
        def put() -> None:
            with self._lock:
                _put_last(self._items, instance_id, entry, self._size)

        after_commit(session, put)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._ended.clear()


class _TaskIndex:
    """Which instance (and which of its tasks) each inbox row belongs to: facts that never change.

    Completing a task needs its instance first (to lock it before the task's
    row); knowing it saves reading the row. Only what was committed is noted
    (a row of a rolled-back action never existed); a stale or evicted entry
    costs nothing but that read, since the completing UPDATE checks the row
    itself.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, task_id: str) -> tuple[str, str] | None:
        return self._items.get(task_id)

    def note(self, task_id: str, instance_id: str, task_key: str) -> None:
        with self._lock:
            _put_last(self._items, task_id, (instance_id, task_key), self._size)

    def note_after_commit(self, session: Session, task_id: str, instance_id: str, task_key: str) -> None:
        after_commit(session, lambda: self.note(task_id, instance_id, task_key))


def _empty_meta() -> dict[str, Any]:
    return {"humans": {}, "jobs": {}}


# --- the engine ------------------------------------------------------------------------------

def _check_text(what: str, value: str | None, column: Any) -> None:
    """Refuse a user, actor, business key... longer than ``column`` keeps (PostgreSQL failed the action's rows)."""
    limit = column_length(column)
    if value is not None and len(value) > limit:
        raise InvalidData(what, value[:40] + "…", f"it is {len(value):,} characters long; at most {limit}")


class Engine:
    """Deploy models, start and move instances, and run their jobs (see the module docstring)."""

    def __init__(self, db: Database, clock: Clock, *, services: ServiceDispatch | None = None,
                 sandbox: Sandbox | None = None, policy: RetryPolicy | None = None,
                 max_attempts: int = DEFAULT_MAX_ATTEMPTS, cache_size: int = 256) -> None:
        self.db = db
        self.clock = clock
        self.services = services or ServiceDispatch(db, clock)
        self.sandbox = sandbox or Sandbox(functions=script_functions(), now=clock.now)
        self.policy = policy or RetryPolicy()
        self.max_attempts = max_attempts
        self._cache = _LiveCache(cache_size)
        self._task_index = _TaskIndex(TASK_INDEX_SIZE)
        self._specs: OrderedDict[str, Mapping[str, Any]] = OrderedDict()
        self._specs_lock = threading.Lock()
        self._error_codes: dict[str, str | None] = {}
        self._handoff: Handoff | None = None

    # --- deploying ------------------------------------------------------------------------------

    def deploy(self, source: Source, *, key: str | None = None, name: str | None = None,
               form_files: Mapping[str, Any] | None = None, deployed_by: str | None = None) -> Deployment:
        """Check and deploy a model (see ``engine.deploy``); rejected models store nothing."""
        _check_text("the key", key, ProcessVersion.key)
        _check_text("the name", name, ProcessVersion.name)
        _check_text("the deployer", deployed_by, ProcessVersion.deployed_by)
        with self.db.session_scope() as session:
            return deploy_model(session, self.clock, source, key=key, name=name, form_files=form_files,
                                deployed_by=deployed_by, sandbox=self.sandbox)

    # --- starting -------------------------------------------------------------------------------

    def start(self, version_id: str, *, process_id: str | None = None, data: Mapping[str, Any] | None = None,
              business_key: str | None = None, subject: str | None = None, actor: str = "system") -> InstanceState:
        """Start an instance of a deployed version and run it until it waits."""
        self._check_input("the start data", data, fields=True)
        _check_text("the business key", business_key, Instance.business_key)
        _check_text("the actor", actor, AuditEvent.actor)
        return self._repeat(lambda: self._start(version_id, process_id, data or {}, business_key, subject, actor))

    def _start(self, version_id: str, process_id: str | None, data: Mapping[str, Any], business_key: str | None,
               subject: str | None, actor: str, then: Callable[[LiveInstance], StepReport | None] | None = None,
               session: Session | None = None) -> InstanceState:
        def work(s: Session) -> InstanceState:
            specs = self._spec_json(s, version_id)
            pid = process_id or spec_process_ids(specs)[0]
            row = Instances(s, self.clock).create(version_id=version_id, process_id=pid, business_key=business_key,
                                                  subject=subject, data={}, status="running")
            links = self._resolve_calls(s, version_id, specs, pid)
            live = LiveInstance.start(version_id, specs, pid, data=data, sandbox=self.sandbox, clock=self.clock,
                                      links=links)
            reports = [live.advance()]
            if then is not None and reports[0].failure is None:
                extra = then(live)
                if extra is not None:
                    reports.append(extra)
            AuditLog(s, self.clock).record("instance.started", actor=actor, instance_id=row.id,
                                           details={"version_id": version_id, "process_id": pid})
            meta = _empty_meta()
            if links:
                meta["calls"] = {link.process_id: link.version_id for link in links}
            state = self._settle(s, row, _Cached(row.lock_version, live, {}, meta), _merge(reports),
                                 actor=actor, action="start")
            assert state is not None  # built unless returns_state=False
            return state

        if session is not None:
            return work(session)
        with self.db.session_scope() as s:
            return work(s)

    # --- reading --------------------------------------------------------------------------------

    def state(self, instance_id: str) -> InstanceState:
        """Where an instance stands now."""
        with self.db.session_scope(readonly=True) as session:
            row = Instances(session, self.clock).head(instance_id)
            # The state the last action returned is still the state while nothing moved since
            # (its data is a read-only mapping, so handing it out again is safe).
            ended = self._cache.ended_state(instance_id, row.lock_version)
            if ended is not None:
                return ended
            cached = self._cache.take(instance_id, row.lock_version) or self._restore(session, row)
            if cached.head is None:  # restored here: the row just read is what the next action may claim
                cached.head = row
            if cached.state is None or cached.state.lock_version != row.lock_version:
                cached.state = self._state(row, row.lock_version, row.status, cached, cached.live.snapshot(), None)
            if cached.state.ended:
                self._cache.note_ended_after_commit(session, cached.state)
            else:
                self._cache.put_after_commit(session, instance_id, cached)
            return cached.state

    def tasks(self, instance_id: str, *, active_only: bool = True) -> list[TaskView]:
        """The inbox rows of an instance."""
        with self.db.session_scope(readonly=True) as session:
            return HumanTasks(session, self.clock).for_instance(instance_id, active_only=active_only)

    def inbox(self, *, user: str, groups: Sequence[str], limit: int = 100) -> list[TaskView]:
        """What ``user`` can work on."""
        with self.db.session_scope(readonly=True) as session:
            return HumanTasks(session, self.clock).inbox(user=user, groups=groups, limit=limit)

    def history(self, instance_id: str) -> list[str]:
        """The ids of the activities and events the instance completed, in order, one per execution."""
        with self.db.session_scope(readonly=True) as session:
            entries = AuditLog(session, self.clock).entries(instance_id=instance_id, action=STEP_EVENT,
                                                            limit=1_000_000)
        return [eid for e in entries for eid in e.details.get("completed", [])]

    def inquiries(self, instance_id: str) -> list[InquiryView]:
        """Per element and service: how many inquiry attempts were made and how the last one ended."""
        with self.db.session_scope(readonly=True) as session:
            rows = session.execute(
                select(InquiryRecordRow.element_id, InquiryRecordRow.service_id, InquiryRecordRow.status)
                .where(InquiryRecordRow.instance_id == instance_id).order_by(InquiryRecordRow.seq)).all()
        found: dict[tuple[str | None, str], InquiryView] = {}
        for element_id, service, status in rows:
            previous = found.get((element_id, service))
            found[(element_id, service)] = InquiryView(element_id, service, status,
                                                      (previous.attempts if previous else 0) + 1)
        return list(found.values())

    def incidents(self, instance_id: str | None = None, *, include_resolved: bool = False) -> list[IncidentView]:
        """Open incidents (of one instance, or all)."""
        with self.db.session_scope(readonly=True) as session:
            incidents = Incidents(session, self.clock)
            if not include_resolved:
                return incidents.list_open(instance_id=instance_id, limit=10_000)
            query = select(Incident.id).order_by(Incident.created_at, Incident.id)
            if instance_id is not None:
                query = query.where(Incident.instance_id == instance_id)
            return [incidents.get(i) for i in session.scalars(query)]

    # --- acting ---------------------------------------------------------------------------------

    def complete_task(self, task_id: str, *, user: str, data: Mapping[str, Any] | None = None,
                      expected_version: int | None = None) -> InstanceState:
        """Complete an inbox task with form ``data``; of two clerks completing it, exactly one wins.

        The other gets :class:`~engine.errors.AlreadyCompleted` naming who
        completed it and when. Answers that task data cannot hold (NaN, a set...)
        are refused with :class:`~engine.errors.InvalidData` before anything changes.
        """
        self._check_input("the answers", data, fields=True)
        _check_text("the user", user, HumanTask.completed_by)

        def work() -> InstanceState:
            with self.db.session_scope() as session:
                inbox = HumanTasks(session, self.clock)
                known = self._task_index.get(task_id)
                if known is None:
                    task = inbox.get(task_id)
                    known = (task.instance_id, task.task_key)
                    self._task_index.note_after_commit(session, task_id, *known)
                instance_id, task_key = known
                # Lock order: the instance row first, then its task rows (as workers do): no deadlock.
                row = self._lock(session, instance_id)
                inbox.mark_completed(task_id, user=user, expected_version=expected_version)
                state = self._act(session, row, lambda live: live.complete_human(task_key, data or {}),
                                  actor=user, action="task.completed", done_row=task_id)
                assert state is not None  # built unless returns_state=False
                return state
        return self._repeat(work)

    def correlate_message(self, name: str, *, business_key: str | None = None, instance_id: str | None = None,
                          payload: Any = None, start: bool = True) -> list[str]:
        """Deliver a message to the instances waiting for it (by name and business key, or one instance).

        When nobody waits and ``start`` is true, the message starts an
        instance of every newest deployed version whose start event waits
        for it. Returns the ids of the instances that got it. One transaction
        per instance.
        """
        self._check_input("the message's payload", payload)
        _check_text("the business key", business_key, Instance.business_key)
        return self._deliver_all("message", name, payload, business_key, instance_id, start)

    def broadcast_signal(self, name: str, *, business_key: str | None = None, payload: Any = None,
                         start: bool = True) -> list[str]:
        """Deliver a signal to every instance waiting for it and start the processes whose start event does.

        A ``business_key`` narrows the broadcast to that case's instances (and
        is given to the instances it starts).
        """
        self._check_input("the signal's payload", payload)
        _check_text("the business key", business_key, Instance.business_key)
        return self._deliver_all("signal", name, payload, business_key, None, start)

    def retry_incident(self, incident_id: str, *, actor: str, note: str | None = None) -> IncidentView:
        """Queue the incident's job again (fresh attempts) and close the incident."""
        _check_text("the actor", actor, AuditEvent.actor)
        with self.db.session_scope() as session:
            return Incidents(session, self.clock).retry(incident_id, actor=actor, note=note)

    def resolve_incident(self, incident_id: str, *, actor: str, note: str) -> IncidentView:
        """Close an incident without running its job again."""
        _check_text("the actor", actor, AuditEvent.actor)
        with self.db.session_scope() as session:
            return Incidents(session, self.clock).resolve(incident_id, actor=actor, note=note)

    # --- jobs -------------------------------------------------------------------------------------

    def job_handlers(self) -> dict[str, JobHandler]:
        """The handlers workers need for the engine's job kinds."""
        return {SERVICE_JOB: _ServiceJob(self), TIMER_JOB: _TimerJob(self), MESSAGE_JOB: _MessageJob(self)}

    def worker_pool(self, *, threads: int = 2, **options: Any) -> WorkerPool:
        """Worker threads in this process (the embedded default); the jobs actions create are handed to them."""
        options.setdefault("policy", self.policy)
        pool = WorkerPool(self.db, self.clock, self.job_handlers(), threads=threads, **options)
        self.hand_jobs_to(pool.handoff)
        return pool

    def hand_jobs_to(self, handoff: Handoff | None) -> None:
        """Lease the service jobs actions create to these in-process workers at once (see ``engine.handoff``).

        None stops handing jobs over: they wait in the queue for a poll.
        """
        self._handoff = handoff

    def job_outlook(self, instance_ids: Sequence[str] | None = None) -> tuple[int, datetime | None]:
        """How many jobs are due or running now, and when the next later one is due."""
        now = self.clock.now()
        with self.db.session_scope(readonly=True) as session:
            base = select(func.count()).select_from(Job)
            later = select(func.min(Job.due_at))
            if instance_ids is not None:
                base = base.where(Job.instance_id.in_(list(instance_ids)))
                later = later.where(Job.instance_id.in_(list(instance_ids)))
            busy = session.scalar(base.where(
                ((Job.status.in_(("ready", "failed"))) & (Job.due_at <= now)) | (Job.status == "running"))) or 0
            next_due = session.scalar(later.where(Job.status.in_(("ready", "failed")), Job.due_at > now))
        return int(busy), next_due

    # --- the action core --------------------------------------------------------------------------

    def _lock(self, session: Session, instance_id: str) -> InstanceHead:
        """Lock the instance for an action: claim the version this process's cache holds, else lock and read it.

        The claim (``Instances.claim``) is one UPDATE where locking and saving
        are a read and an UPDATE; it fails, changing nothing, when another
        process has acted on the instance since, and the row is then read.
        """
        instances = Instances(session, self.clock)
        head = self._cache.head(instance_id)
        if head is not None:
            claimed = instances.claim(head)
            if claimed is not None:
                return claimed
        return instances.lock_head(instance_id)

    def _act(self, session: Session, row: InstanceHead, step: Callable[[LiveInstance], StepReport | None], *,
             actor: str, action: str, done_row: str | None = None, done_job: str | None = None,
             returns_state: bool = True) -> InstanceState | None:
        """Run ``step`` on the locked instance ``row`` and settle it (see the module docstring).

        A step returning None changed nothing: nothing is written. Without
        ``returns_state`` (a job resuming the instance: nobody reads the
        result) the returned state, with its copy of the data, is not built
        and None is returned; :meth:`state` builds it from the cache when asked.
        """
        if row.status in ("completed", "failed", "cancelled"):
            raise InvalidState(f"instance {row.id} is {row.status}; it does not move any more")
        cached = self._cache.take(row.id, row.lock_version) or self._restore(session, row)
        report = step(cached.live)
        if report is None:
            version = row.lock_version
            if isinstance(row, ClaimedHead):  # the claim moved the version on: so does the cached copy
                version = Instances(session, self.clock).finish(row)
                cached.lock_version, cached.head, cached.state = version, _head_at(row, row.status, version), None
            self._cache.put_after_commit(session, row.id, cached)
            if not returns_state:
                return None
            return self._state(row, version, row.status, cached, cached.live.snapshot(), None)
        return self._settle(session, row, cached, report, actor=actor, action=action, done_row=done_row,
                            done_job=done_job, returns_state=returns_state)

    def _settle(self, session: Session, row: InstanceHead, cached: _Cached, report: StepReport, *,
                actor: str, action: str, done_row: str | None = None, done_job: str | None = None,
                returns_state: bool = True) -> InstanceState | None:
        live, meta = cached.live, cached.meta
        snap = live.snapshot()
        failure = report.failure
        if failure is None and snap.stuck:
            failure_text = f"the process stopped at {', '.join(snap.stuck)}"
        else:
            failure_text = None if failure is None else failure.message
        if failure_text is not None:
            status = "failed"
        elif live.finished:
            status = "completed"
        else:
            status = "waiting"
        ended = status != "waiting"
        self._settle_humans(session, row.id, snap, meta, ended, actor, done_row)
        self._settle_jobs(session, row, snap, meta, ended, done_job)
        self._settle_events(session, row.id, snap, meta, ended)
        for index, thrown in enumerate(report.thrown):
            if thrown.kind in ("message", "signal"):
                JobQueue(session, self.clock).enqueue(
                    MESSAGE_JOB, idempotency_key=idempotency_key("message", row.id, str(row.lock_version), str(index)),
                    payload={"kind": thrown.kind, "name": thrown.name, "payload": thrown.payload,
                             "business_key": row.business_key, "version_id": row.version_id, "source": row.id},
                    instance_id=row.id, element_id=None, max_attempts=3)
        if failure_text is not None:
            element = failure.element_id if failure is not None else (snap.stuck[0] if snap.stuck else None)
            Incidents(session, self.clock).open(
                message=f"the instance failed: {failure_text}", instance_id=row.id, element_id=element,
                details={"kind": failure.kind if failure is not None else "runtime"}, actor=actor)
        if failure_text is not None:
            meta["failure"] = failure_text
        delta = live.parts()
        parts = dict(delta.parts)
        parts[META_PART] = {"humans": dict(meta["humans"]), "jobs": {k: dict(v) for k, v in meta["jobs"].items()},
                            **({"events": list(meta["events"])} if meta.get("events") else {}),
                            **({"calls": dict(meta["calls"])} if meta.get("calls") else {}),
                            **({"failure": meta["failure"]} if meta.get("failure") else {})}
        hashes = save_parts(session, row.id, parts, delta.removed, known_hashes=cached.hashes, plain=delta.plain)
        if report.completed or failure_text is not None:
            AuditLog(session, self.clock).record(STEP_EVENT, actor=actor, instance_id=row.id, details={
                "action": action, "completed": list(report.completed),
                **({"failure": failure_text} if failure_text is not None else {})})
        if ended:
            AuditLog(session, self.clock).record(f"instance.{status}", actor=actor, instance_id=row.id)
        # The status only when it changed: on SQLite, naming an indexed column rewrites its index entry.
        instances = Instances(session, self.clock)
        new_status, final_data = (status if status != row.status else None), (live.data if ended else None)
        if isinstance(row, ClaimedHead):
            new_version = instances.finish(row, status=new_status, data=final_data)
        else:
            new_version = instances.save(row.id, expected_version=row.lock_version, status=new_status,
                                         data=final_data)
        entry = _Cached(new_version, live, hashes, meta, head=_head_at(row, status, new_version))
        if ended:  # it will not move again: keep its state, not its workflow (see _LiveCache)
            entry.state = self._state(row, new_version, status, entry, snap, failure_text)
            self._cache.note_ended_after_commit(session, entry.state)
            return entry.state if returns_state else None
        self._cache.put_after_commit(session, row.id, entry)
        if returns_state:
            entry.state = self._state(row, new_version, status, entry, snap, failure_text)
        return entry.state

    def _settle_humans(self, session: Session, instance_id: str, snap: Snapshot, meta: dict[str, Any], ended: bool,
                       actor: str, done_row: str | None) -> None:
        inbox = HumanTasks(session, self.clock)
        present = {h.key: h for h in ([] if ended else snap.humans)}
        for key, row_id in list(meta["humans"].items()):
            if key not in present:
                if row_id != done_row:  # the row this action completed is not cancelled
                    inbox.cancel(row_id, actor=actor)
                del meta["humans"][key]
        for work in present.values():
            if work.key not in meta["humans"]:
                view = inbox.create(instance_id=instance_id, task_key=work.key, element_id=work.element_id,
                                    name=work.name, lane=work.lane, candidate_group=work.lane, form_ref=work.form_ref)
                meta["humans"][work.key] = view.id
                self._task_index.note_after_commit(session, view.id, instance_id, work.key)

    def _settle_jobs(self, session: Session, row: InstanceHead, snap: Snapshot, meta: dict[str, Any],
                     ended: bool, done_job: str | None) -> None:
        queue = JobQueue(session, self.clock, policy=self.policy)
        wanted: dict[str, dict[str, Any]] = {}
        if not ended:
            for call in snap.services:
                wanted[call.key] = {
                    "kind": SERVICE_JOB, "key": idempotency_key(SERVICE_JOB, row.id, call.key), "due": None,
                    "element": call.element_id, "attempts": self.max_attempts,
                    "payload": {"operator": call.operator, "parameters": call.parameters,
                                "result_variable": call.result_variable, "problem": call.problem,
                                "business_key": row.business_key, "process_id": row.process_id}}
            for timer in snap.timers:
                wanted[timer.key] = {
                    "kind": TIMER_JOB, "key": idempotency_key(TIMER_JOB, row.id, timer.key, timer.due_at.isoformat()),
                    "due": timer.due_at, "element": timer.element_id, "attempts": 3, "payload": {}}
        for key, job in list(meta["jobs"].items()):
            if key not in wanted or wanted[key]["key"] != job["key"]:
                if job["id"] != done_job:  # the job this action completed is done, not cancelled
                    queue.cancel(job["id"])
                del meta["jobs"][key]
        handoff = self._handoff
        for key, want in wanted.items():
            if key in meta["jobs"]:
                continue
            job = {"idempotency_key": want["key"], "payload": want["payload"], "instance_id": row.id,
                   "element_id": want["element"], "task_key": key, "max_attempts": want["attempts"]}
            if want["due"] is None and handoff is not None and handoff.accepts():
                job_id, lease = queue.enqueue_leased(want["kind"], worker_id=handoff.worker_id, lease=handoff.lease,
                                                     **job)
                if lease is not None:
                    handoff.offer_after_commit(session, lease)
            else:
                job_id = queue.enqueue(want["kind"], due_at=want["due"], **job)
            meta["jobs"][key] = {"id": job_id, "kind": want["kind"], "key": want["key"]}

    def _settle_events(self, session: Session, instance_id: str, snap: Snapshot, meta: dict[str, Any],
                       ended: bool) -> None:
        """Bring the instance's event subscriptions in line with what it waits for now."""
        before = [(kind, name) for kind, name in meta.get("events", ())]
        after = [] if ended else sorted({(e.kind, e.name) for e in snap.events})
        if set(before) != set(after):
            EventSubscriptions(session).update(instance_id, before, after)
        if after:
            meta["events"] = [[kind, name] for kind, name in after]
        else:
            meta.pop("events", None)

    def _restore(self, session: Session, row: InstanceHead) -> _Cached:
        parts, hashes = load_parts_and_hashes(session, row.id)
        meta = parts.pop(META_PART, None) or _empty_meta()
        links = [CalledVersion(pid, vid, self._spec_json(session, vid)) for pid, vid in meta.get("calls", {}).items()]
        live = LiveInstance.restore(row.version_id, self._spec_json(session, row.version_id), row.process_id, parts,
                                    sandbox=self.sandbox, clock=self.clock, links=links)
        return _Cached(row.lock_version, live, hashes, {**meta, "humans": dict(meta["humans"]),
                                                        "jobs": dict(meta["jobs"])})

    def _state(self, row: InstanceHead, lock_version: int, status: str, cached: _Cached, snap: Snapshot,
               failure: str | None) -> InstanceState:
        waiting: list[str] = []
        if status == "waiting":
            for eid in ([h.element_id for h in snap.humans] + [s.element_id for s in snap.services]
                        + [t.element_id for t in snap.timers]
                        + [e.element_id for e in snap.events if not e.handler]):
                if eid not in waiting:
                    waiting.append(eid)
        refs = tuple(HumanTaskRef(cached.meta["humans"][h.key], h.element_id, h.name)
                     for h in snap.humans if h.key in cached.meta["humans"])
        if failure is None and status == "failed":
            failure = cached.meta.get("failure")
        return InstanceState(row.id, row.version_id, row.process_id, status, row.business_key, lock_version,
                             MappingProxyType(cached.live.data), tuple(waiting), refs if status == "waiting" else (),
                             failure)

    def _resolve_calls(self, session: Session, version_id: str, specs: Mapping[str, Any],
                       process_id: str) -> list[CalledVersion]:
        """Pin what the call activities of a new instance call outside its version (transitively).

        Each such process resolves, now, to the deployed version holding it
        that the calling model's binding picks (by default the most recent;
        see ``engine.call_bindings``); the instance keeps that version for its
        whole life (the ``calls`` of its META part), whatever is deployed
        later. One that no version provides is left out: the instance fails
        if it reaches the call, with a message naming the process. A case runs
        one version of each process: the first call resolved (the instance's
        own model first) decides for the calls nested deeper.
        """
        found: dict[str, CalledVersion] = {}
        todo = [(version_id, specs, process_id)]
        versions = Versions(session, self.clock)
        while todo and len(found) < MAX_LINKED_PROCESSES:
            vid, vspecs, pid = todo.pop(0)
            bindings = bindings_of(vspecs)
            for called in calls_elsewhere(vid, vspecs, pid):
                if called in found:
                    continue
                target = versions.holding(called, bindings.get(called, LATEST_BINDING))
                if target is None:
                    continue
                link = found[called] = CalledVersion(called, target, self._spec_json(session, target))
                todo.append((target, link.specs, called))
        return list(found.values())

    def _spec_json(self, session: Session, version_id: str) -> Mapping[str, Any]:
        with self._specs_lock:
            hit = self._specs.get(version_id)
        if hit is not None:
            return hit
        specs = Versions(session, self.clock).spec(version_id)
        if specs is None:
            raise NotFound("deployed spec of version", version_id)
        with self._specs_lock:
            self._specs[version_id] = specs
            while len(self._specs) > 64:
                self._specs.popitem(last=False)
        return specs

    def _check_input(self, what: str, data: Any, *, fields: bool = False) -> None:
        """Refuse data from outside that task data cannot hold, naming the field (:class:`InvalidData`).

        With ``fields`` the data must be named fields (a mapping), as start data
        and answers become variables of the case: a list would fail the step.

        Besides what JSON cannot write (NaN, sets, keys that are not text...),
        data nested deeper or larger than the sandbox lets task data be: every
        script after it would fail on it (``Limits.max_data_depth``/``max_data_size``).
        """
        if data is None:
            return
        if fields and not isinstance(data, Mapping):
            raise InvalidData(what, "(the data)", f"it must be named fields (an object), not {type(data).__name__}")
        problem = data_problem(data)
        if problem is None and isinstance(data, Mapping | list | tuple):
            limits = self.sandbox.limits
            try:
                size = measure(data, limits)
            except ScriptError as exc:
                problem = ("(the data)", exc.message)
            else:
                if size > limits.max_data_size:
                    problem = ("(the data)", f"it is larger than {limits.max_data_size:,} characters")
        if problem is not None:
            raise InvalidData(what, *problem)

    def _repeat(self, work: Callable[[], Any]) -> Any:
        """Run a whole action again after a lost race (``ConcurrencyError.retryable``)."""
        for attempt in range(ACTION_TRIES):
            try:
                return work()
            except ConcurrencyError as exc:
                if not exc.retryable or attempt == ACTION_TRIES - 1:
                    raise
                log.info("action lost a race, repeating: %s", exc)
        raise AssertionError("unreachable")

    # --- events between instances --------------------------------------------------------------

    def _deliver_all(self, kind: str, name: str, payload: Any, business_key: str | None, instance_id: str | None,
                     start: bool) -> list[str]:
        if kind == "signal" and instance_id is None:
            self.backfill_subscriptions()
        with self.db.session_scope(readonly=True) as session:
            if instance_id is not None:
                candidates = [instance_id]
            elif kind == "signal":  # broadcast: every instance waiting for it (of the key, if one is given)
                candidates = EventSubscriptions(session).waiting(kind, name, business_key=business_key)
            else:
                candidates = [i.id for i in Instances(session, self.clock).find(
                    business_key=business_key, status="waiting", limit=10_000)] if business_key is not None else []
        delivered: list[str] = []
        for candidate in candidates:
            def one(target: str = candidate) -> bool:
                with self.db.session_scope() as session:
                    return self._deliver_one(session, target, kind, name, payload)
            if self._repeat(one):
                delivered.append(candidate)
        # A message goes to the waiting instances, else starts one; a signal also starts every process
        # whose start event waits for it (a broadcast reaches catchers of both kinds).
        if start and instance_id is None and (kind == "signal" or not delivered):
            delivered += self._repeat(lambda: self._start_by_event(kind, name, payload, business_key, None))
        return delivered

    def backfill_subscriptions(self) -> int:
        """Give their subscription rows to the instances migration 0003 listed; return how many were done.

        One transaction per instance: its workflow is settled again, which
        writes the rows for what it waits for (and changes nothing else on a
        consistent instance). An instance that cannot be loaded any more gets
        an incident naming the error instead of blocking every broadcast.
        Cheap when the list is empty (one indexed read), which it is after
        the first broadcast following the upgrade.
        """
        with self.db.session_scope(readonly=True) as session:
            backlog = EventSubscriptions(session).backlog()
        done = 0
        for instance_id in backlog:
            def one(target: str = instance_id) -> None:
                with self.db.session_scope() as session:
                    row = Instances(session, self.clock).lock_head(target)
                    if row.status == "waiting":
                        self._act(session, row, lambda live: StepReport(), actor="engine",
                                  action="subscriptions.backfilled")
                    EventSubscriptions(session).backfilled(target)
            try:
                self._repeat(one)
            except ConcurrencyError as exc:  # busy: the action that won settled its rows; the next pass retries
                log.warning("instance %s: subscriptions not restored this time: %s", instance_id, exc)
                continue
            except Exception as exc:  # noqa: BLE001 - one broken instance must not block every broadcast
                log.error("instance %s: its signal subscriptions could not be restored: %s", instance_id, exc)
                with self.db.session_scope() as session:
                    Incidents(session, self.clock).open(
                        message=f"its signal subscriptions could not be restored after an upgrade: {exc}",
                        instance_id=instance_id, element_id=None, details={"kind": "subscriptions"},
                        actor="engine")
                    EventSubscriptions(session).backfilled(instance_id)
            done += 1
        return done

    def _deliver_one(self, session: Session, instance_id: str, kind: str, name: str, payload: Any) -> bool:
        row = self._lock(session, instance_id)
        if row.status != "waiting":
            return False
        got: list[bool] = []

        def step(live: LiveInstance) -> StepReport | None:
            report = live.deliver(kind, name, payload)
            got.append(report is not None)
            return report

        self._act(session, row, step, actor="engine", action=f"{kind}.delivered")
        return bool(got and got[0])

    def _start_by_event(self, kind: str, name: str, payload: Any, business_key: str | None,
                        version_id: str | None, session: Session | None = None) -> list[str]:
        """Start an instance of each newest version (or of ``version_id``) whose start event waits for it."""
        def work(s: Session) -> list[str]:
            candidates = ([version_id] if version_id is not None
                          else [view.id for view in Versions(s, self.clock).newest_of_each_key()])
            started: list[str] = []
            for vid in candidates:
                specs = self._spec_json(s, vid)
                for trigger in start_triggers(vid, specs):
                    if trigger.kind == kind and trigger.name == name:
                        state = self._start(vid, trigger.process_id, {}, business_key, None, "engine",
                                            then=lambda live: live.deliver(kind, name, payload), session=s)
                        started.append(state.id)
            return started

        if session is not None:
            return work(session)
        with self.db.session_scope() as s:
            return work(s)


def _merge(reports: Sequence[StepReport]) -> StepReport:
    failure = next((r.failure for r in reports if r.failure is not None), None)
    return StepReport(tuple(e for r in reports for e in r.completed), tuple(t for r in reports for t in r.thrown),
                      failure)


# --- job handlers --------------------------------------------------------------------------------

class _ServiceJob:
    """``service`` jobs: make the call (outside any transaction), then resume the instance."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def run(self, lease: Lease) -> Any:
        payload = lease.payload
        if payload.get("problem"):
            self.engine._error_codes[lease.job_id] = "parameters"
            raise JobFailed(str(payload["problem"]), retryable=False, details={"code": "parameters"})
        request = ServiceRequest(
            operator=str(payload.get("operator", "")), parameters=dict(payload.get("parameters") or {}),
            idempotency_key=lease.idempotency_key, attempt=lease.attempt, instance_id=lease.instance_id,
            element_id=lease.element_id, case_id=payload.get("business_key") or lease.instance_id,
            purpose=f"{payload.get('process_id', '')}/{lease.element_id or ''}")
        try:
            outcome = self.engine.services.call(request)
        except JobFailed as exc:
            self.engine._error_codes[lease.job_id] = str(exc.details.get("code") or "") or None
            raise
        # A registry's answer was read as strict JSON; a mock's or a server handler's may hold anything.
        op = request.operator
        from_registry = op.startswith(INQUIRY_PREFIX) and op not in self.engine.services.mocks
        problem = None if from_registry else data_problem(outcome.value)
        if problem is not None:
            self.engine._error_codes[lease.job_id] = "service.result"
            raise JobFailed(f"the answer of {op} cannot be kept as task data: {problem[0]}: "
                            f"{problem[1]}", retryable=False, details={"code": "service.result"})
        return outcome

    def resume(self, session: Session, lease: Lease, result: Any) -> None:
        self.engine._error_codes.pop(lease.job_id, None)
        outcome = result if isinstance(result, ServiceOutcome) else ServiceOutcome(result)
        store_record(session, outcome)
        row = self.engine._lock(session, str(lease.instance_id))
        if row.status != "waiting":
            return

        def step(live: LiveInstance) -> StepReport | None:
            try:
                return live.complete_service(str(lease.task_key), outcome.value)
            except (InvalidState, NotFound):
                return None  # a boundary event took the task away meanwhile: the result is not needed

        self.engine._act(session, row, step, actor=lease.worker_id, action="service.completed",
                         done_job=lease.job_id, returns_state=False)

    def on_exhausted(self, session: Session, lease: Lease, error: str) -> bool:
        code = self.engine._error_codes.pop(lease.job_id, None)
        row = self.engine._lock(session, str(lease.instance_id))
        if row.status != "waiting":
            return False
        caught: list[bool] = []

        def step(live: LiveInstance) -> StepReport | None:
            try:
                report = live.throw_error(str(lease.task_key), code, error)
            except (InvalidState, NotFound):
                return None
            caught.append(report is not None)
            return report

        self.engine._act(session, row, step, actor=lease.worker_id, action="service.error", done_job=lease.job_id,
                         returns_state=False)
        return bool(caught and caught[0])


class _TimerJob:
    """``timer`` jobs: due at the timer's time; fire the instance's due timers."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def run(self, lease: Lease) -> Any:
        return None

    def resume(self, session: Session, lease: Lease, result: Any) -> None:
        row = self.engine._lock(session, str(lease.instance_id))
        if row.status == "waiting":
            self.engine._act(session, row, lambda live: live.fire_timers(), actor=lease.worker_id,
                             action="timer.fired", done_job=lease.job_id, returns_state=False)

    def on_exhausted(self, session: Session, lease: Lease, error: str) -> bool:
        return False


class _MessageJob:
    """``message`` jobs: deliver what an instance threw to the instances waiting for it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def run(self, lease: Lease) -> Any:
        if lease.payload.get("kind") == "signal" and not lease.payload.get("target"):
            self.engine.backfill_subscriptions()  # before the broadcast reads the subscriptions
        return None

    def resume(self, session: Session, lease: Lease, result: Any) -> None:
        p = lease.payload
        kind, name, payload, business_key = p["kind"], p["name"], p.get("payload"), p.get("business_key")
        if p.get("target"):  # one delivery of a broadcast
            self.engine._deliver_one(session, str(p["target"]), kind, name, payload)
            return
        if kind == "signal":
            # Broadcast to every waiting instance, whatever its business key: one job per receiver, so
            # each delivery is its own transaction (and retry), however many instances wait.
            queue = JobQueue(session, self.engine.clock)
            for target in EventSubscriptions(session).waiting(kind, name):
                if target != p.get("source"):
                    queue.enqueue(MESSAGE_JOB, idempotency_key=idempotency_key("deliver", lease.job_id, target),
                                  payload={**p, "target": target}, instance_id=target, max_attempts=3)
            self.engine._start_by_event(kind, name, payload, business_key, p.get("version_id"), session=session)
            return
        targets = [i.id for i in Instances(session, self.engine.clock).find(
            business_key=business_key, status="waiting", limit=10_000)
            if i.id != p.get("source")] if business_key is not None else []
        delivered = [t for t in targets if self.engine._deliver_one(session, t, kind, name, payload)]
        if not delivered:  # a message nobody waits for starts a process whose start event waits for it
            self.engine._start_by_event(kind, name, payload, business_key, p.get("version_id"), session=session)

    def on_exhausted(self, session: Session, lease: Lease, error: str) -> bool:
        return False


def job_handlers(db: Database, clock: Clock) -> dict[str, JobHandler]:
    """Handler factory for ``panjereh worker`` (``engine.runtime:job_handlers``), configured from the environment."""
    engine = Engine(db, clock, services=ServiceDispatch.from_env(db, clock))
    return engine.job_handlers()
