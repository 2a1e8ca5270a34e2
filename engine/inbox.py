"""The clerks' inbox: one queryable row per user or manual task waiting for a person.

The engine creates a row when a human task becomes ready and cancels it when
the process moves on without it (an interrupting boundary event). Clerks
claim, release and complete rows here, in the same transaction that runs the
instance on.

Every state change is a compare-and-set ``UPDATE … WHERE status IN (…) [AND
version = :seen]`` that also bumps ``version``. When two clerks complete the
same task at once, the database lets exactly one ``UPDATE`` match (PostgreSQL
re-checks the condition after the winner's row lock is released; SQLite runs
writing transactions one at a time); the other gets
:class:`~engine.errors.AlreadyCompleted` naming the task and who completed it.
``expected_version`` carries the version a clerk's form was rendered from,
so a change made meanwhile is refused rather than overwritten.

Checking that a user may act on a task (role, agency) is the caller's job:
this module records who acted, it does not know the organisation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn, cast

from sqlalchemy import CursorResult, Row, bindparam, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine.audit import AuditLog
from engine.clock import Clock, require_aware
from engine.errors import AlreadyClaimed, AlreadyCompleted, ConcurrencyError, InvalidState, NotFound
from engine.fastsql import dialect_name, execute
from engine.models import HumanTask, fit_column, new_id

ACTIVE = ("open", "claimed")


@dataclass(frozen=True)
class TaskView:
    """An inbox row as the web UI sees it."""

    id: str
    instance_id: str
    task_key: str
    element_id: str
    name: str
    lane: str | None
    candidate_group: str | None
    assignee: str | None
    status: str
    form_ref: str | None
    due_at: datetime | None
    created_at: datetime
    completed_at: datetime | None
    completed_by: str | None
    version: int


# The statements of creating and completing a task, built once as Core statements on the table
# (no ORM unit of work; the compiled cache is hit at once): they run on every user task.
_T = HumanTask.__table__
_BY_ID = select(*_T.c).where(_T.c.id == bindparam("b_id"))
_BY_KEY = select(*_T.c).where(_T.c.instance_id == bindparam("b_instance"), _T.c.task_key == bindparam("b_key"))
# ON CONFLICT DO NOTHING on (instance, task key): the same task twice yields one row, even when racing.
# RETURNING only the id: it says whether the row went in, and the row is then the values given.
_INSERTS = {name: make(_T).on_conflict_do_nothing(index_elements=["instance_id", "task_key"]).returning(_T.c.id)
            for name, make in (("sqlite", sqlite_insert), ("postgresql", pg_insert))}


def _complete_statement(check_version: bool, whole_row: bool) -> Any:
    # Equalities, not IN: a literal IN list is rendered per call, which keeps the statement off
    # engine.fastsql's compiled-once path.
    conditions = [_T.c.id == bindparam("b_id"), or_(*(_T.c.status == s for s in ACTIVE)),
                  or_(_T.c.assignee.is_(None), _T.c.assignee == bindparam("b_user"))]  # unclaimed, or this user's
    if check_version:
        conditions.append(_T.c.version == bindparam("b_version"))
    return (update(_T).where(*conditions)
            .values(version=_T.c.version + 1, status="completed", assignee=bindparam("b_user"),
                    completed_at=bindparam("b_now", type_=_T.c.completed_at.type), completed_by=bindparam("b_user"))
            .returning(*(_T.c if whole_row else (_T.c.id, _T.c.instance_id, _T.c.element_id))))


# By (version checked, whole row returned): reading back and decoding every column (three timestamps)
# costs more than the UPDATE's own work when nobody reads the result (the engine's completions).
_COMPLETES = {(check, whole): _complete_statement(check, whole) for check in (False, True) for whole in (False, True)}


def _view(row: HumanTask | Row[Any]) -> TaskView:
    return TaskView(id=row.id, instance_id=row.instance_id, task_key=row.task_key, element_id=row.element_id,
                    name=row.name, lane=row.lane, candidate_group=row.candidate_group, assignee=row.assignee,
                    status=row.status, form_ref=row.form_ref, due_at=row.due_at, created_at=row.created_at,
                    completed_at=row.completed_at, completed_by=row.completed_by, version=row.version)


class HumanTasks:
    """Create, list, claim, release, complete and cancel inbox rows in the caller's transaction."""

    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock
        self._audit = AuditLog(session, clock)

    def create(self, *, instance_id: str, task_key: str, element_id: str, name: str = "", lane: str | None = None,
               candidate_group: str | None = None, assignee: str | None = None, form_ref: str | None = None,
               due_at: datetime | None = None) -> TaskView:
        """Add the row for a ready human task; the same (instance, task key) twice yields one row.

        A task with an ``assignee`` from the model starts claimed by that user.
        """
        # Display text from the model, cut to its column (PostgreSQL refuses longer text; the model keeps it).
        values = {"id": new_id(), "instance_id": instance_id, "task_key": task_key, "element_id": element_id,
                  "name": fit_column(name, HumanTask.name), "lane": fit_column(lane, HumanTask.lane),
                  "candidate_group": fit_column(candidate_group, HumanTask.candidate_group), "assignee": assignee,
                  "form_ref": fit_column(form_ref, HumanTask.form_ref),
                  "due_at": require_aware(due_at, "due_at") if due_at else None,
                  "status": "claimed" if assignee else "open", "created_at": self._clock.now(), "version": 1}
        dialect = dialect_name(self._session)
        if execute(self._session, _INSERTS[dialect], values).one_or_none() is None:  # it was there already
            return _view(execute(self._session, _BY_KEY, {"b_instance": instance_id, "b_key": task_key}).one())
        due_at = values["due_at"]
        return TaskView(**{**values, "due_at": due_at.astimezone(UTC) if due_at else None,  # as it reads back
                           "created_at": values["created_at"].astimezone(UTC)}, completed_at=None, completed_by=None)

    def get(self, task_id: str) -> TaskView:
        """One row; :class:`NotFound` if there is none."""
        return _view(self._row(task_id))

    def inbox(self, *, user: str, groups: Iterable[str], limit: int = 100) -> list[TaskView]:
        """What ``user`` can work on: open tasks of their groups and tasks claimed by them.

        Ordered by due date (undated last), then age.
        """
        group_list = list(groups)
        visible = or_(
            (HumanTask.status == "open") & HumanTask.candidate_group.in_(group_list),
            (HumanTask.status.in_(ACTIVE)) & (HumanTask.assignee == user),
        )
        query = (select(HumanTask).where(visible)
                 .order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.created_at, HumanTask.id)
                 .limit(limit).execution_options(populate_existing=True))
        return [_view(row) for row in self._session.scalars(query)]

    def for_instance(self, instance_id: str, *, active_only: bool = True) -> list[TaskView]:
        """The rows of one instance, oldest first."""
        query = select(HumanTask).where(HumanTask.instance_id == instance_id)
        if active_only:
            query = query.where(HumanTask.status.in_(ACTIVE))
        query = query.order_by(HumanTask.created_at, HumanTask.id).execution_options(populate_existing=True)
        return [_view(row) for row in self._session.scalars(query)]

    def claim(self, task_id: str, *, user: str, expected_version: int | None = None) -> TaskView:
        """Take an open task for ``user`` (claiming one's own task again is a no-op)."""
        current = self._row(task_id)
        if current.status == "claimed" and current.assignee == user:
            return _view(current)
        self._change(task_id, user, expected_version, {"status": "open"},
                     status="claimed", assignee=user)
        return self._done(task_id, user, "task.claimed")

    def release(self, task_id: str, *, user: str, expected_version: int | None = None) -> TaskView:
        """Give a claimed task back to its group."""
        self._change(task_id, user, expected_version, {"status": "claimed", "assignee": user},
                     status="open", assignee=None)
        return self._done(task_id, user, "task.released")

    def complete(self, task_id: str, *, user: str, expected_version: int | None = None) -> TaskView:
        """Mark the task completed by ``user``; exactly one of two racing clerks gets here.

        The loser gets :class:`AlreadyCompleted` (or :class:`AlreadyClaimed`
        when someone else holds the task).
        """
        return _view(self._complete(task_id, user, expected_version, whole_row=True))

    def mark_completed(self, task_id: str, *, user: str, expected_version: int | None = None) -> None:
        """:meth:`complete`, without reading the row back (the engine completes every user task this way)."""
        self._complete(task_id, user, expected_version, whole_row=False)

    def _complete(self, task_id: str, user: str, expected_version: int | None, *, whole_row: bool) -> Any:
        params = {"b_id": task_id, "b_user": user, "b_now": self._clock.now(), "b_version": expected_version}
        row = execute(self._session, _COMPLETES[(expected_version is not None, whole_row)], params).one_or_none()
        if row is None:
            self._explain(task_id, user, expected_version)
        self._audit.record("task.completed", actor=user, instance_id=row.instance_id,
                           details={"task_id": row.id, "element_id": row.element_id})
        return row

    def cancel(self, task_id: str, *, actor: str = "engine") -> bool:
        """Cancel an active task (its process no longer waits for it); False if it was not active."""
        done = self._update([HumanTask.id == task_id, HumanTask.status.in_(ACTIVE)], status="cancelled") == 1
        if done:
            self._done(task_id, actor, "task.cancelled")
        return done

    def cancel_for_instance(self, instance_id: str) -> int:
        """Cancel every active task of an instance (it was cancelled or ended); returns how many."""
        return self._update([HumanTask.instance_id == instance_id, HumanTask.status.in_(ACTIVE)],
                            status="cancelled")

    # -- the compare-and-set core ------------------------------------------------------------

    def _change(self, task_id: str, user: str, expected_version: int | None, expect: dict[str, Any],
                **values: Any) -> None:
        conditions: list[Any] = [HumanTask.id == task_id]
        status = expect["status"]
        conditions.append(HumanTask.status.in_(status) if isinstance(status, tuple) else HumanTask.status == status)
        if "assignee" in expect:
            allowed = expect["assignee"]
            if isinstance(allowed, tuple):  # (None, user): unclaimed, or claimed by this user
                conditions.append(or_(HumanTask.assignee.is_(None), HumanTask.assignee == user))
            else:
                conditions.append(HumanTask.assignee == allowed)
        if expected_version is not None:
            conditions.append(HumanTask.version == expected_version)
        if self._update(conditions, **values) != 1:
            self._explain(task_id, user, expected_version)

    def _update(self, conditions: list[Any], **values: Any) -> int:
        result = cast(CursorResult[Any], self._session.execute(
            update(HumanTask).where(*conditions).values(version=HumanTask.version + 1, **values)
            .execution_options(synchronize_session=False)
        ))
        return result.rowcount

    def _explain(self, task_id: str, user: str, expected_version: int | None) -> NoReturn:
        """Raise the error that says why the compare-and-set matched nothing."""
        row = self._row(task_id)  # a fresh read: the winner has committed by now
        if row.status == "completed":
            raise AlreadyCompleted(row.id, row.name, row.completed_by, row.completed_at)
        if row.status == "cancelled":
            raise InvalidState(f"task '{row.name}' ({row.id}) was cancelled: the process no longer waits for it")
        if row.status == "claimed" and row.assignee != user:
            raise AlreadyClaimed(row.id, row.name, row.assignee or "?")
        if expected_version is not None and row.version != expected_version:
            raise ConcurrencyError(f"task '{row.name}' ({row.id}) changed since you opened it "
                                   f"(version {expected_version}, now {row.version}); reload it")
        raise InvalidState(f"task '{row.name}' ({row.id}) is {row.status}; {user} cannot do that now")

    def _done(self, task_id: str, actor: str, action: str) -> TaskView:
        view = self.get(task_id)
        self._audit.record(action, actor=actor, instance_id=view.instance_id,
                           details={"task_id": view.id, "element_id": view.element_id})
        return view

    def _row(self, task_id: str) -> Row[Any]:
        row = execute(self._session, _BY_ID, {"b_id": task_id}).one_or_none()
        if row is None:
            raise NotFound("human task", task_id)
        return row
