"""Instance rows: create, read, find by business key, and save a step with an optimistic lock.

One action on an instance is one transaction (``Database.session_scope``)
that starts with :meth:`Instances.lock` and ends with :meth:`Instances.save`::

    with db.session_scope() as session:
        instances = Instances(session, clock)
        seen = instances.lock(instance_id, expected_version=form_version)  # or no version: just wait
        parts, hashes = load_parts_and_hashes(session, instance_id)
        ... run the engine step ...
        save_parts(session, instance_id, new_parts, removed, known_hashes=hashes)
        instances.save(instance_id, expected_version=seen.lock_version, status="waiting")

``lock`` makes concurrent actions on one instance take turns: on PostgreSQL
it is ``SELECT … FOR UPDATE`` (a second action waits for the first to commit,
then reads what it wrote); on SQLite the writing transaction's ``BEGIN
IMMEDIATE`` already serialises them. With ``expected_version`` (the version a
clerk's page was built from) an action that would act on stale state fails
with :class:`~engine.errors.ConcurrencyError` instead of waiting and going on.
``save`` bumps ``lock_version`` with a compare-and-set, which also catches an
action that skipped the lock; it must end every action, even one that changed
only state parts.

An engine that kept the head its last action saved (its live cache) starts
the next action with :meth:`Instances.claim` instead: one compare-and-set
UPDATE that bumps the version and takes the row lock at once, so the action
needs neither the read nor ``save``'s UPDATE, and ends with
:meth:`Instances.finish`, which writes only a changed status or data. If the
instance moved on meanwhile (another process acted on it), the claim changes
nothing and the action locks and reads it as above.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, insert, select, update
from sqlalchemy.orm import Session

from engine.clock import Clock
from engine.errors import ConcurrencyError, NotFound
from engine.fastsql import execute
from engine.models import INSTANCE_STATUSES, Instance, new_id


@dataclass(frozen=True)
class InstanceHead:
    """What an action needs of the instance it locks (no data, no timestamps: nothing to decode)."""

    id: str
    version_id: str
    process_id: str
    status: str
    business_key: str | None
    subject: str | None
    lock_version: int


@dataclass(frozen=True)
class ClaimedHead(InstanceHead):
    """A head taken by :meth:`Instances.claim`: the row already holds ``lock_version + 1`` in this transaction."""


@dataclass(frozen=True)
class InstanceView(InstanceHead):
    """An instance row as the rest of the engine sees it."""

    created_at: datetime
    updated_at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)


# The statements every action runs, built once as Core statements on the table: no ORM
# identity map or unit of work on the hot path, and SQLAlchemy's compiled cache is hit at once.
_T = Instance.__table__
_BY_ID = select(*_T.c).where(_T.c.id == bindparam("id"))
_LOCK = _BY_ID.with_for_update()  # FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises
# Every engine action locks its instance: only the columns InstanceHead holds (decoding the data and
# the timestamps cost more than the read itself).
_HEAD = select(_T.c.id, _T.c.version_id, _T.c.process_id, _T.c.status, _T.c.business_key, _T.c.subject,
               _T.c.lock_version).where(_T.c.id == bindparam("id"))
_LOCK_HEAD = _HEAD.with_for_update()
_INSERT = insert(_T)


def _save_statement(status: bool, data: bool) -> Any:
    # Bound names differ from column names: SQLAlchemy reserves those for the SET clause.
    values: dict[str, Any] = {"lock_version": _T.c.lock_version + 1,
                              "updated_at": bindparam("b_updated_at", type_=_T.c.updated_at.type)}
    if status:
        values["status"] = bindparam("b_status", type_=_T.c.status.type)
    if data:
        values["data"] = bindparam("b_data", type_=_T.c.data.type)
    return (update(_T).where(_T.c.id == bindparam("b_id"), _T.c.lock_version == bindparam("b_expected"))
            .values(**values))


_SAVES = {(status, data): _save_statement(status, data) for status in (False, True) for data in (False, True)}
_CLAIM = (update(_T).where(_T.c.id == bindparam("b_id"), _T.c.lock_version == bindparam("b_expected"))
          .values(lock_version=_T.c.lock_version + 1,
                  updated_at=bindparam("b_updated_at", type_=_T.c.updated_at.type)))


def _finish_statement(status: bool, data: bool) -> Any:
    values: dict[str, Any] = {}
    if status:
        values["status"] = bindparam("b_status", type_=_T.c.status.type)
    if data:
        values["data"] = bindparam("b_data", type_=_T.c.data.type)
    return update(_T).where(_T.c.id == bindparam("b_id")).values(**values)


_FINISHES = {(status, data): _finish_statement(status, data)
             for status, data in ((True, False), (False, True), (True, True))}


def _view(row: Instance | Row[Any]) -> InstanceView:
    return InstanceView(id=row.id, version_id=row.version_id, process_id=row.process_id, status=row.status,
                        business_key=row.business_key, subject=row.subject, lock_version=row.lock_version,
                        created_at=row.created_at, updated_at=row.updated_at, data=dict(row.data or {}))


def _head(row: Row[Any] | InstanceHead, kind: type[InstanceHead] = InstanceHead) -> Any:
    """The head fields of ``row`` (a row read, or another head) as a ``kind``."""
    return kind(id=row.id, version_id=row.version_id, process_id=row.process_id, status=row.status,
                business_key=row.business_key, subject=row.subject, lock_version=row.lock_version)


def _check_status(status: str) -> None:
    if status not in INSTANCE_STATUSES:
        raise ValueError(f"instance status must be one of {INSTANCE_STATUSES}, got {status!r}")


class Instances:
    """Instance rows inside the caller's transaction."""

    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    def create(self, *, version_id: str, process_id: str, business_key: str | None = None,
               subject: str | None = None, data: Mapping[str, Any] | None = None,
               status: str = "running") -> InstanceView:
        """Insert a new instance (``subject`` must already be hashed or opaque, never a national code)."""
        _check_status(status)
        now = self._clock.now()
        view = InstanceView(id=new_id(), version_id=version_id, process_id=process_id, status=status,
                            business_key=business_key, subject=subject, lock_version=1, created_at=now,
                            updated_at=now, data=dict(data or {}))
        execute(self._session, _INSERT, {
            "id": view.id, "version_id": version_id, "process_id": process_id, "status": status,
            "business_key": business_key, "subject": subject, "data": dict(view.data), "lock_version": 1,
            "created_at": now, "updated_at": now})
        return view

    def get(self, instance_id: str) -> InstanceView:
        """One instance; :class:`NotFound` if there is none."""
        row = execute(self._session, _BY_ID, {"id": instance_id}).one_or_none()
        if row is None:
            raise NotFound("instance", instance_id)
        return _view(row)

    def head(self, instance_id: str) -> InstanceHead:
        """:meth:`get` without the data and the timestamps (a running instance's state is in its parts)."""
        return _head(self._locked(_HEAD, instance_id, None))

    def claim(self, head: InstanceHead) -> ClaimedHead | None:
        """Lock the instance for an action if it is still at ``head.lock_version``, bumping the version now.

        ``head`` is what the caller kept from the action that saved that
        version (the engine's live cache); a claim is then one UPDATE instead
        of :meth:`lock_head`'s read plus :meth:`save`'s UPDATE (the row lock on
        PostgreSQL is taken all the same). The action ends with
        :meth:`finish`, not :meth:`save`. None when the instance has moved on
        or is gone: lock it with :meth:`lock_head` then.
        """
        result = execute(self._session, _CLAIM, {"b_id": head.id, "b_expected": head.lock_version,
                                                 "b_updated_at": self._clock.now()})
        return _head(head, ClaimedHead) if result.rowcount == 1 else None

    def finish(self, head: ClaimedHead, *, status: str | None = None,
               data: Mapping[str, Any] | None = None) -> int:
        """End an action on a claimed instance: write the given columns (if any); return the new version."""
        if status is not None or data is not None:
            params: dict[str, Any] = {"b_id": head.id}
            if status is not None:
                _check_status(status)
                params["b_status"] = status
            if data is not None:
                params["b_data"] = dict(data)
            execute(self._session, _FINISHES[(status is not None, data is not None)], params)
        return head.lock_version + 1

    def lock(self, instance_id: str, *, expected_version: int | None = None) -> InstanceView:
        """Read the instance and hold its row lock until the transaction ends (see the module docstring).

        :class:`ConcurrencyError` if ``expected_version`` is given and the
        instance has moved on since.
        """
        return _view(self._locked(_LOCK, instance_id, expected_version))

    def lock_head(self, instance_id: str, *, expected_version: int | None = None) -> InstanceHead:
        """:meth:`lock`, reading only what an engine action needs (its data lives in the state parts)."""
        return _head(self._locked(_LOCK_HEAD, instance_id, expected_version))

    def _locked(self, statement: Any, instance_id: str, expected_version: int | None) -> Any:
        row = execute(self._session, statement, {"id": instance_id}).one_or_none()
        if row is None:
            raise NotFound("instance", instance_id)
        if expected_version is not None and row.lock_version != expected_version:
            raise ConcurrencyError(f"instance {instance_id} was changed by another action (version "
                                   f"{expected_version} expected, {row.lock_version} found); reload and retry")
        return row

    def find(self, *, business_key: str | None = None, status: str | None = None, subject: str | None = None,
             limit: int = 100) -> list[InstanceView]:
        """Instances matching every given filter, newest first (message correlation, case search)."""
        query = select(Instance).order_by(Instance.created_at.desc(), Instance.id).limit(limit)
        if business_key is not None:
            query = query.where(Instance.business_key == business_key)
        if status is not None:
            query = query.where(Instance.status == status)
        if subject is not None:
            query = query.where(Instance.subject == subject)
        return [_view(row) for row in self._session.scalars(query.execution_options(populate_existing=True))]

    def save(self, instance_id: str, *, expected_version: int, status: str | None = None,
             data: Mapping[str, Any] | None = None) -> int:
        """End an action: bump ``lock_version`` if it is still ``expected_version``; return the new one.

        Only the given columns are written. :class:`ConcurrencyError`
        (retryable) when another action saved the instance first.
        """
        params: dict[str, Any] = {"b_id": instance_id, "b_expected": expected_version,
                                  "b_updated_at": self._clock.now()}
        if status is not None:
            _check_status(status)
            params["b_status"] = status
        if data is not None:
            params["b_data"] = dict(data)
        statement = _SAVES[(status is not None, data is not None)]
        result = execute(self._session, statement, params)
        if result.rowcount != 1:
            current = self.get(instance_id)  # NotFound if it is gone
            raise ConcurrencyError(f"instance {instance_id} was changed by another action (version "
                                   f"{expected_version} expected, {current.lock_version} found); reload and retry")
        return expected_version + 1
