"""The audit trail: who did what, when, to which instance. Append-only.

:class:`AuditLog` can add and read events and nothing else: there is no
update and no delete here, and the migration adds database triggers that
refuse both, so an event, once committed, stays as written. Details must not
carry personal data in clear (DESIGN §8): pass hashed subject ids, not
national codes.

Events recorded in a transaction are written together, in the order they
were recorded, by one batched INSERT just before it commits (or before the
transaction reads the trail): an action records two or three events, and one
statement for them all keeps the action short. A transaction that rolls
back writes none of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from engine.clock import Clock
from engine.fastsql import execute
from engine.models import AuditEvent
from engine.transaction import before_commit


@dataclass(frozen=True)
class AuditEntry:
    """One audit event as read back."""

    id: int
    at: datetime
    actor: str
    action: str
    instance_id: str | None
    details: Mapping[str, Any] = field(default_factory=dict)


# Built once: a Core INSERT on the table skips the ORM unit of work (events are written on
# every action, so this is on the engine's hot path).
_INSERT = insert(AuditEvent.__table__)
_PENDING = "panjereh.audit.pending"


def _write_pending(session: Session) -> None:
    """Insert the events recorded in ``session`` and not yet written (one executemany)."""
    pending = session.info.pop(_PENDING, None)
    if pending:
        execute(session, _INSERT, pending)


# Registered once, not on each session that records (registering a listener per transaction cost
# more than the INSERT it triggers); a transaction with nothing pending pays a dict lookup.
before_commit(_write_pending)


def _entry(row: AuditEvent) -> AuditEntry:
    return AuditEntry(id=row.id, at=row.at, actor=row.actor, action=row.action,
                      instance_id=row.instance_id, details=dict(row.details or {}))


class AuditLog:
    """Adds and lists audit events inside the caller's transaction."""

    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    def record(self, action: str, *, actor: str, instance_id: str | None = None,
               details: Mapping[str, Any] | None = None) -> None:
        """Append one event (it is committed with the action it describes, or not at all)."""
        if not action or not actor:
            raise ValueError("an audit event needs an action and an actor")
        pending = self._session.info.get(_PENDING)
        if pending is None:
            pending = self._session.info[_PENDING] = []
        pending.append({"at": self._clock.now(), "actor": actor, "action": action, "instance_id": instance_id,
                        "details": dict(details or {})})

    def entries(self, *, instance_id: str | None = None, actor: str | None = None, action: str | None = None,
             since: datetime | None = None, limit: int = 100) -> list[AuditEntry]:
        """Events matching every given filter, oldest first, at most ``limit``."""
        _write_pending(self._session)  # this transaction's own events too
        query = select(AuditEvent).order_by(AuditEvent.at, AuditEvent.id).limit(limit)
        if instance_id is not None:
            query = query.where(AuditEvent.instance_id == instance_id)
        if actor is not None:
            query = query.where(AuditEvent.actor == actor)
        if action is not None:
            query = query.where(AuditEvent.action == action)
        if since is not None:
            query = query.where(AuditEvent.at >= since)
        return [_entry(row) for row in self._session.scalars(query)]
