"""The job queue: durable work with leases, retries with backoff, and incidents.

Service tasks, timers and messages become rows in ``jobs``. A worker takes
jobs with a *lease* (an owner, a token and an expiry), runs them outside any
transaction, then completes or fails them with that lease. A worker that dies
loses nothing: once its lease expires the job is taken again, and the token
check stops the late worker from completing a job another one now holds
(:class:`~engine.errors.LeaseLost`). Every job has a unique idempotency key:
enqueuing twice yields one job, and handlers pass the key on to remote calls
so a retried call is recognised there.

How :meth:`JobQueue.acquire` takes jobs without handing one to two workers:

* PostgreSQL: ``SELECT id … FOR UPDATE SKIP LOCKED LIMIT n`` locks the chosen
  rows (rows another worker is taking are skipped, not waited for), then one
  ``UPDATE … WHERE id IN (…) RETURNING`` writes the lease. Several worker
  processes and machines can poll the same table.
* SQLite: the session's transaction is ``BEGIN IMMEDIATE`` (see ``engine.db``),
  so writers are serialised, and a single ``UPDATE … WHERE id IN (SELECT …
  LIMIT n) RETURNING`` picks and leases in one atomic statement.

Failures are retried with exponential backoff and jitter (:class:`RetryPolicy`;
deterministic with a seeded ``random.Random`` and a virtual clock). When the
attempts are spent or the error is not retryable, the job is ``dead``: the
caller's ``escalate`` hook may turn it into a BPMN error for a boundary event;
otherwise an incident is opened (``engine.incidents``).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, and_, bindparam, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine.clock import Clock, require_aware
from engine.errors import InvalidState, LeaseLost, NotFound
from engine.fastsql import dialect_name, execute
from engine.incidents import Incidents
from engine.jsontext import column_json
from engine.models import Job, new_id, new_token

DEFAULT_LEASE = timedelta(minutes=5)
DEFAULT_MAX_ATTEMPTS = 5
MAX_ERROR_CHARS = 2000
RUNNABLE = ("ready", "failed")


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: ``initial * multiplier**(attempt-1)``, capped, minus random jitter."""

    initial: timedelta = timedelta(seconds=10)
    multiplier: float = 2.0
    maximum: timedelta = timedelta(hours=1)
    jitter: float = 0.2  # up to this fraction is taken off at random, so retries of many jobs spread out

    def delay(self, attempt: int, rng: random.Random) -> timedelta:
        """How long to wait after failed attempt number ``attempt`` (1-based)."""
        base = min(self.initial.total_seconds() * self.multiplier ** max(attempt - 1, 0),
                   self.maximum.total_seconds())
        return timedelta(seconds=base * (1.0 - self.jitter * rng.random()))


@dataclass(frozen=True)
class Lease:
    """A worker's hold on one job, valid until ``expires_at`` unless extended."""

    job_id: str
    kind: str
    token: str
    worker_id: str
    expires_at: datetime
    attempt: int
    max_attempts: int
    idempotency_key: str
    instance_id: str | None
    element_id: str | None
    task_key: str | None
    payload: Mapping[str, Any] = field(default_factory=dict)

    @property
    def exhausted(self) -> bool:
        """True when earlier holders all died: the job must not be run again."""
        return self.attempt > self.max_attempts


@dataclass(frozen=True)
class JobView:
    """A job as an administrator sees it."""

    id: str
    kind: str
    status: str
    attempts: int
    max_attempts: int
    due_at: datetime
    idempotency_key: str
    instance_id: str | None
    element_id: str | None
    task_key: str | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    last_error: str | None
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FailOutcome:
    """What :meth:`JobQueue.fail` decided."""

    job_id: str
    dead: bool
    retry_at: datetime | None = None
    incident_id: str | None = None
    escalated: bool = False  # a BPMN error went to a boundary event instead of an incident


# Called in the failing transaction when a job dies; True = routed to a BPMN error boundary.
Escalation = Callable[[Session, Lease, str], bool]

# The jitter of retries when the caller gives no generator: one for the process (a Random seeds itself
# from the OS when made, and a queue is made for every action).
_RNG = random.Random()

_LEASE_COLUMNS = tuple(Job.__table__.c[name] for name in (
    "id", "kind", "attempts", "max_attempts", "idempotency_key", "instance_id", "element_id", "task_key", "payload"))


# Statements of the hot path (enqueue, lease, complete), built once as Core statements on the
# table: no ORM unit of work, and SQLAlchemy's compiled cache is hit at once.
_T = Job.__table__
_INSERTS = {name: make(_T).on_conflict_do_nothing(index_elements=["idempotency_key"]).returning(_T.c.id)
            for name, make in (("sqlite", sqlite_insert), ("postgresql", pg_insert))}
_BY_KEY = select(_T.c.id).where(_T.c.idempotency_key == bindparam("b_key"))
_HELD = (_T.c.id == bindparam("b_id"), _T.c.lease_token == bindparam("b_token"), _T.c.status == "running")
_ACQUIRE_CACHE: dict[tuple[str, tuple[str, ...] | None, int], Any] = {}
_HELD_CACHE: dict[tuple[str, ...], Any] = {}


def _acquire_statement(dialect: str, kinds: tuple[str, ...] | None, limit: int) -> Any:
    """The lease statement for one (dialect, kinds, limit): built on first use, then reused."""
    key = (dialect, kinds, limit)
    found = _ACQUIRE_CACHE.get(key)
    if found is not None:
        return found
    now = bindparam("b_now", type_=_T.c.due_at.type)
    due = or_(
        # Equalities, not IN: a literal IN list is rendered per call (see engine.fastsql).
        and_(or_(*(_T.c.status == s for s in RUNNABLE)), _T.c.due_at <= now),
        and_(_T.c.status == "running", _T.c.lease_expires_at <= now),  # its worker died or hung
    )
    pick = select(_T.c.id).where(due).order_by(_T.c.due_at, _T.c.id).limit(limit)
    if kinds is not None:
        pick = pick.where(or_(*(_T.c.kind == k for k in kinds)))
    if dialect == "postgresql":
        statement: Any = pick.with_for_update(skip_locked=True)
    else:
        statement = (
            update(_T).where(_T.c.id.in_(pick.scalar_subquery()))
            .values(status="running", lease_owner=bindparam("b_owner"), lease_token=bindparam("b_token"),
                    lease_expires_at=bindparam("b_expires", type_=_T.c.lease_expires_at.type),
                    attempts=_T.c.attempts + 1, updated_at=bindparam("b_now2", type_=_T.c.updated_at.type))
            .returning(*_LEASE_COLUMNS))
    _ACQUIRE_CACHE[key] = statement
    return statement


_LEASE_BY_IDS = (
    update(_T).where(_T.c.id.in_(bindparam("b_ids", expanding=True)))
    .values(status="running", lease_owner=bindparam("b_owner"), lease_token=bindparam("b_token"),
            lease_expires_at=bindparam("b_expires", type_=_T.c.lease_expires_at.type),
            attempts=_T.c.attempts + 1, updated_at=bindparam("b_now2", type_=_T.c.updated_at.type))
    .returning(*_LEASE_COLUMNS)
)


def _held_statement(names: tuple[str, ...]) -> Any:
    """UPDATE of the columns ``names`` (bound as ``v_<name>``) of a job still held by a lease."""
    found = _HELD_CACHE.get(names)
    if found is None:
        found = update(_T).where(*_HELD).values(
            {name: bindparam(f"v_{name}", type_=_T.c[name].type) for name in names})
        _HELD_CACHE[names] = found
    return found


# Giving a job back untried: the attempt the lease counted is taken back.
_RELEASE = update(_T).where(*_HELD).values(
    status="ready", attempts=_T.c.attempts - 1, lease_owner=None, lease_token=None, lease_expires_at=None,
    updated_at=bindparam("b_now", type_=_T.c.updated_at.type))


def _view(job: Job) -> JobView:
    return JobView(id=job.id, kind=job.kind, status=job.status, attempts=job.attempts,
                   max_attempts=job.max_attempts, due_at=job.due_at, idempotency_key=job.idempotency_key,
                   instance_id=job.instance_id, element_id=job.element_id, task_key=job.task_key,
                   lease_owner=job.lease_owner, lease_expires_at=job.lease_expires_at,
                   last_error=job.last_error, payload=dict(job.payload or {}))


class JobQueue:
    """Enqueue, lease, complete and fail jobs inside the caller's transaction."""

    def __init__(self, session: Session, clock: Clock, *, policy: RetryPolicy | None = None,
                 rng: random.Random | None = None) -> None:
        self._session = session
        self._clock = clock
        self._policy = policy or RetryPolicy()
        self._rng = rng or _RNG
        self._dialect = dialect_name(session)
        if self._dialect not in ("postgresql", "sqlite"):
            raise ValueError(f"the job queue supports PostgreSQL and SQLite, not {self._dialect}")

    # -- producing ---------------------------------------------------------------------------

    def enqueue(self, kind: str, *, idempotency_key: str, payload: Mapping[str, Any] | None = None,
                instance_id: str | None = None, element_id: str | None = None, task_key: str | None = None,
                due_at: datetime | None = None, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> str:
        """Add a job unless one with ``idempotency_key`` exists; return the job's id either way.

        A second enqueue with the same key is a no-op even if its payload
        differs: the key names the piece of work, the first request wins.
        """
        return self._enqueue(kind, idempotency_key, payload, instance_id, element_id, task_key, due_at,
                             max_attempts, None, DEFAULT_LEASE)[0]

    def enqueue_leased(self, kind: str, *, worker_id: str, lease: timedelta = DEFAULT_LEASE, idempotency_key: str,
                       payload: Mapping[str, Any] | None = None, instance_id: str | None = None,
                       element_id: str | None = None, task_key: str | None = None,
                       max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> tuple[str, Lease | None]:
        """Add a job due now, already leased to ``worker_id`` (its first attempt); see ``engine.handoff``.

        Returns the job's id and the lease; the lease is None when a job
        with ``idempotency_key`` existed already (that job is left as it is).
        """
        return self._enqueue(kind, idempotency_key, payload, instance_id, element_id, task_key, None,
                             max_attempts, worker_id, lease)

    def _enqueue(self, kind: str, idempotency_key: str, payload: Mapping[str, Any] | None, instance_id: str | None,
                 element_id: str | None, task_key: str | None, due_at: datetime | None, max_attempts: int,
                 worker_id: str | None, lease: timedelta) -> tuple[str, Lease | None]:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        now = self._clock.now()
        values = {
            "id": new_id(), "kind": kind, "instance_id": instance_id, "element_id": element_id,
            "task_key": task_key, "payload": dict(payload or {}), "status": "ready",
            "due_at": require_aware(due_at, "due_at") if due_at else now, "attempts": 0,
            "max_attempts": max_attempts, "idempotency_key": idempotency_key, "created_at": now, "updated_at": now,
        }
        if worker_id is not None:  # as acquire() would lease it: running, one attempt counted
            values.update(status="running", attempts=1, lease_owner=worker_id, lease_token=new_token(),
                          lease_expires_at=now + lease)
        # ON CONFLICT DO NOTHING: two concurrent enqueues with one key never both insert.
        inserted = execute(self._session, _INSERTS[self._dialect], values).scalar_one_or_none()
        if inserted is None:
            existing = self._existing_id(idempotency_key)
            if existing is None:  # cannot happen: the conflict was on this key
                raise InvalidState(f"job with idempotency key {idempotency_key!r} vanished while enqueuing")
            return existing, None
        if worker_id is None:
            return str(inserted), None
        return str(inserted), Lease(
            job_id=str(inserted), kind=kind, token=values["lease_token"], worker_id=worker_id,
            expires_at=values["lease_expires_at"], attempt=1, max_attempts=max_attempts,
            idempotency_key=idempotency_key, instance_id=instance_id, element_id=element_id, task_key=task_key,
            # As a worker reading the row would see it (tuples become lists...): the column's own text.
            payload=json.loads(column_json(values["payload"])))

    def _existing_id(self, idempotency_key: str) -> str | None:
        return execute(self._session, _BY_KEY, {"b_key": idempotency_key}).scalar()

    # -- consuming ---------------------------------------------------------------------------

    def acquire(self, worker_id: str, *, lease: timedelta = DEFAULT_LEASE, kinds: Sequence[str] | None = None,
                limit: int = 1) -> list[Lease]:
        """Lease up to ``limit`` due jobs (ready, retry due, or lease expired) for ``worker_id``."""
        if kinds is not None and not kinds:
            return []
        now = self._clock.now()
        token = new_token()
        expires = now + lease
        params = {"b_now": now, "b_owner": worker_id, "b_token": token, "b_expires": expires, "b_now2": now}
        statement = _acquire_statement(self._dialect, tuple(sorted(kinds)) if kinds is not None else None, limit)
        if self._dialect == "postgresql":
            ids = execute(self._session, statement, {"b_now": now}).scalars()
            if not ids:
                return []
            rows = self._session.execute(_LEASE_BY_IDS, {**params, "b_ids": ids}).all()
        else:
            rows = execute(self._session, statement, params).all()
        leases = [
            Lease(job_id=r.id, kind=r.kind, token=token, worker_id=worker_id, expires_at=expires,
                  attempt=r.attempts, max_attempts=r.max_attempts, idempotency_key=r.idempotency_key,
                  instance_id=r.instance_id, element_id=r.element_id, task_key=r.task_key,
                  payload=dict(r.payload or {}))
            for r in rows
        ]
        leases.sort(key=lambda item: item.job_id)  # RETURNING order is not defined; make it stable
        return leases

    def heartbeat(self, lease: Lease, extend: timedelta = DEFAULT_LEASE) -> Lease:
        """Push the lease's expiry to now + ``extend``; :class:`LeaseLost` if it is no longer ours."""
        expires = self._clock.now() + extend
        self._update_held(lease, lease_expires_at=expires)
        return replace(lease, expires_at=expires)

    def complete(self, lease: Lease) -> None:
        """Mark the job done; :class:`LeaseLost` if another worker holds it now or it was cancelled."""
        self._update_held(lease, status="done", lease_owner=None, lease_token=None, lease_expires_at=None)

    def release(self, lease: Lease) -> None:
        """Give a job back untried (a worker stopping before it ran it); the attempt is not counted."""
        result = execute(self._session, _RELEASE, {"b_id": lease.job_id, "b_token": lease.token,
                                                  "b_now": self._clock.now()})
        self._check_held(lease, result)

    def fail(self, lease: Lease, error: str, *, retryable: bool = True, details: Mapping[str, Any] | None = None,
             escalate: Escalation | None = None) -> FailOutcome:
        """Record a failed attempt: schedule a retry with backoff, or let the job die.

        The job dies when ``retryable`` is false or the attempts are spent.
        Then ``escalate`` (if given) may route a BPMN error to a boundary
        event; if it does not, an incident is opened.
        """
        error = error[:MAX_ERROR_CHARS]
        now = self._clock.now()
        if retryable and lease.attempt < lease.max_attempts:
            retry_at = now + self._policy.delay(lease.attempt, self._rng)
            self._update_held(lease, status="failed", due_at=retry_at, last_error=error, lease_owner=None,
                              lease_token=None, lease_expires_at=None)
            return FailOutcome(job_id=lease.job_id, dead=False, retry_at=retry_at)
        self._update_held(lease, status="dead", last_error=error, lease_owner=None, lease_token=None,
                          lease_expires_at=None)
        if escalate is not None and escalate(self._session, lease, error):
            return FailOutcome(job_id=lease.job_id, dead=True, escalated=True)
        reason = "not retryable" if not retryable else f"{min(lease.attempt, lease.max_attempts)} attempts spent"
        incident = Incidents(self._session, self._clock).open(
            message=f"{lease.kind} job failed ({reason}): {error}", instance_id=lease.instance_id,
            job_id=lease.job_id, element_id=lease.element_id, actor=lease.worker_id,
            details={"attempts": lease.attempt, "max_attempts": lease.max_attempts, "retryable": retryable,
                     "idempotency_key": lease.idempotency_key, **dict(details or {})})
        return FailOutcome(job_id=lease.job_id, dead=True, incident_id=incident.id)

    def _update_held(self, lease: Lease, **values: Any) -> None:
        """Apply ``values`` to the job only if ``lease`` still holds it."""
        values = {"updated_at": self._clock.now(), **values}
        names = tuple(sorted(values))
        params = {"b_id": lease.job_id, "b_token": lease.token, **{f"v_{n}": values[n] for n in names}}
        self._check_held(lease, execute(self._session, _held_statement(names), params))

    def _check_held(self, lease: Lease, result: Any) -> None:
        if cast(CursorResult[Any], result).rowcount != 1:
            raise LeaseLost(lease.job_id, lease.worker_id, self._why_lost(lease))

    def _why_lost(self, lease: Lease) -> str:
        row = self._session.execute(
            select(Job.status, Job.lease_owner, Job.lease_token).where(Job.id == lease.job_id)
        ).one_or_none()
        if row is None:
            return "the job no longer exists"
        if row.status == "running" and row.lease_token != lease.token:
            return f"the lease expired at {lease.expires_at.isoformat()} and {row.lease_owner} took the job"
        return f"the job is now {row.status}"

    # -- administration ----------------------------------------------------------------------

    def cancel(self, job_id: str) -> bool:
        """Cancel a job that has not finished; a worker running it will get :class:`LeaseLost`."""
        return self._cancel_where(Job.id == job_id) == 1

    def cancel_for_task(self, instance_id: str, task_key: str) -> int:
        """Cancel the unfinished jobs of one engine task (its boundary event interrupted it)."""
        return self._cancel_where(Job.instance_id == instance_id, Job.task_key == task_key)

    def _cancel_where(self, *conditions: Any) -> int:
        result = cast(CursorResult[Any], self._session.execute(
            update(Job).where(*conditions, Job.status.in_((*RUNNABLE, "running")))
            .values(status="cancelled", lease_owner=None, lease_token=None, lease_expires_at=None,
                    updated_at=self._clock.now())
            .execution_options(synchronize_session=False)
        ))
        return result.rowcount

    def get(self, job_id: str) -> JobView:
        """One job; :class:`NotFound` if there is none."""
        job = self._session.scalars(
            select(Job).where(Job.id == job_id).execution_options(populate_existing=True)).one_or_none()
        if job is None:
            raise NotFound("job", job_id)
        return _view(job)

    def find(self, *, status: str | None = None, instance_id: str | None = None, limit: int = 100) -> list[JobView]:
        """Jobs by due time, filtered by status and instance."""
        query = select(Job).order_by(Job.due_at, Job.id).limit(limit).execution_options(populate_existing=True)
        if status is not None:
            query = query.where(Job.status == status)
        if instance_id is not None:
            query = query.where(Job.instance_id == instance_id)
        return [_view(job) for job in self._session.scalars(query)]
