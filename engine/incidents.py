"""Incidents: jobs that failed for good and now need a person.

A job whose retries are spent (or whose error cannot be retried) and that no
BPMN error boundary caught becomes an *incident*. An administrator lists the
open ones, then either retries the job (it is queued again with fresh
attempts and the incident is closed as retried) or resolves the incident with
a note (the job stays dead, e.g. after the case was settled by hand). Every
change is written to the audit trail in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from engine.audit import AuditLog
from engine.clock import Clock
from engine.errors import InvalidState, NotFound
from engine.models import Incident, Job


@dataclass(frozen=True)
class IncidentView:
    """An incident as an administrator sees it."""

    id: str
    status: str
    message: str
    instance_id: str | None
    job_id: str | None
    element_id: str | None
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    resolution_note: str | None
    details: Mapping[str, Any] = field(default_factory=dict)


def _view(row: Incident) -> IncidentView:
    return IncidentView(id=row.id, status=row.status, message=row.message, instance_id=row.instance_id,
                        job_id=row.job_id, element_id=row.element_id, created_at=row.created_at,
                        resolved_at=row.resolved_at, resolved_by=row.resolved_by,
                        resolution_note=row.resolution_note, details=dict(row.details or {}))


class Incidents:
    """Open, list, retry and resolve incidents inside the caller's transaction."""

    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock
        self._audit = AuditLog(session, clock)

    def open(self, *, message: str, instance_id: str | None = None, job_id: str | None = None,
             element_id: str | None = None, details: Mapping[str, Any] | None = None,
             actor: str = "system") -> IncidentView:
        """Record a new open incident (``message`` must not carry personal data)."""
        row = Incident(message=message, instance_id=instance_id, job_id=job_id, element_id=element_id,
                       details=dict(details or {}), status="open", created_at=self._clock.now())
        self._session.add(row)
        self._session.flush()
        self._audit.record("incident.opened", actor=actor, instance_id=instance_id,
                           details={"incident_id": row.id, "job_id": job_id, "element_id": element_id})
        return _view(row)

    def get(self, incident_id: str) -> IncidentView:
        """One incident; :class:`NotFound` if there is none."""
        return _view(self._row(incident_id))

    def list_open(self, *, instance_id: str | None = None, limit: int = 100) -> list[IncidentView]:
        """Open incidents, oldest first."""
        query = (select(Incident).where(Incident.status == "open")
                 .order_by(Incident.created_at, Incident.id).limit(limit))
        if instance_id is not None:
            query = query.where(Incident.instance_id == instance_id)
        return [_view(row) for row in self._session.scalars(query)]

    def retry(self, incident_id: str, *, actor: str, note: str | None = None) -> IncidentView:
        """Queue the incident's job again with fresh attempts, due now, and close the incident."""
        row = self._open_row(incident_id)
        if row.job_id is None:
            raise InvalidState(f"incident {incident_id} has no job to retry; resolve it instead")
        now = self._clock.now()
        requeued = cast(CursorResult[Any], self._session.execute(
            update(Job).where(Job.id == row.job_id, Job.status == "dead")
            .values(status="ready", attempts=0, due_at=now, lease_owner=None, lease_token=None,
                    lease_expires_at=None, updated_at=now)
            .execution_options(synchronize_session=False)
        ))
        if requeued.rowcount != 1:
            raise InvalidState(f"the job of incident {incident_id} is not dead; nothing to retry")
        return self._close(row, actor, "retried" + (f": {note}" if note else ""), "incident.retried")

    def resolve(self, incident_id: str, *, actor: str, note: str) -> IncidentView:
        """Close the incident without running the job again; ``note`` says what was done."""
        if not note.strip():
            raise ValueError("resolving an incident needs a note saying what was done")
        return self._close(self._open_row(incident_id), actor, note, "incident.resolved")

    def _close(self, row: Incident, actor: str, note: str, action: str) -> IncidentView:
        row.status = "resolved"
        row.resolved_at = self._clock.now()
        row.resolved_by = actor
        row.resolution_note = note
        self._session.flush()
        self._audit.record(action, actor=actor, instance_id=row.instance_id,
                           details={"incident_id": row.id, "job_id": row.job_id, "note": note})
        return _view(row)

    def _row(self, incident_id: str) -> Incident:
        row = self._session.get(Incident, incident_id, populate_existing=True)
        if row is None:
            raise NotFound("incident", incident_id)
        return row

    def _open_row(self, incident_id: str) -> Incident:
        # Lock the row where the database can, so a retry and a resolve at once cannot both win.
        row = self._session.get(Incident, incident_id, populate_existing=True, with_for_update=True)
        if row is None:
            raise NotFound("incident", incident_id)
        if row.status != "open":
            raise InvalidState(f"incident {incident_id} is already {row.status} "
                               f"(by {row.resolved_by}: {row.resolution_note})")
        return row
