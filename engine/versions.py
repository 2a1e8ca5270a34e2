"""Deployed process versions: the BPMN bytes, form files, analysis and parsed spec, stored once.

A version is immutable once deployed, except that its parsed spec may be
filled in later, once (the SpiffWorkflow adapter parses a version the first
time it runs it and caches the result here, so instances never carry a copy
of the spec). Deploying the same bytes and forms again as the newest version
of a key returns that version instead of making a new one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, func, insert, select, text, update
from sqlalchemy.orm import Session

from engine.call_bindings import LATEST_BINDING, VERSION, VERSION_TAG, Binding, tags_of
from engine.clock import Clock
from engine.errors import NotFound
from engine.fastsql import dialect_name
from engine.jsontext import canonical_json
from engine.models import ProcessVersion, VersionProcess
from engine.spiff import spec_process_ids


@dataclass(frozen=True)
class VersionView:
    """A deployed version, without its (possibly large) BPMN bytes and spec."""

    id: str
    key: str
    number: int
    name: str
    sha256: str
    deployed_at: datetime
    deployed_by: str | None


def content_hash(bpmn: bytes, form_files: Mapping[str, Any]) -> str:
    """SHA-256 over the BPMN bytes and the form files (so a changed form is a new version)."""
    digest = hashlib.sha256(bpmn)
    digest.update(b"\0")
    digest.update(canonical_json(dict(form_files)).encode("utf-8"))
    return digest.hexdigest()


def _view(row: ProcessVersion) -> VersionView:
    return VersionView(id=row.id, key=row.key, number=row.number, name=row.name, sha256=row.sha256,
                       deployed_at=row.deployed_at, deployed_by=row.deployed_by)


# "Newest" among deployments: the latest deployed_at; under one timestamp (a frozen clock, or two
# deployments within the clock's resolution) the higher number, then the later id (ids made in
# one process increase: ``models.new_id``), so the choice never depends on the database's whim.
_NEWEST_FIRST = (ProcessVersion.deployed_at.desc(), ProcessVersion.number.desc(), ProcessVersion.id.desc())
_OLDEST_FIRST = (ProcessVersion.deployed_at, ProcessVersion.number, ProcessVersion.id)


class Versions:
    """Deploy and read process versions inside the caller's transaction."""

    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    def deploy(self, *, key: str, bpmn: bytes, name: str = "", form_files: Mapping[str, Any] | None = None,
               analysis: Mapping[str, Any] | None = None, spec: Mapping[str, Any] | None = None,
               deployed_by: str | None = None) -> VersionView:
        """Store a new version numbered after the newest of ``key`` (or return the newest if identical)."""
        forms = dict(form_files or {})
        digest = content_hash(bpmn, forms)
        if dialect_name(self._session) == "postgresql":
            # Two deployments of one key at once would pick the same number; serialise them per key.
            self._session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"version:{key}"})
        newest = self._session.scalars(
            select(ProcessVersion).where(ProcessVersion.key == key).order_by(ProcessVersion.number.desc()).limit(1)
        ).one_or_none()
        if newest is not None and newest.sha256 == digest:
            return _view(newest)
        row = ProcessVersion(key=key, number=(newest.number + 1) if newest else 1, name=name, bpmn=bpmn,
                             form_files=forms, sha256=digest, analysis=dict(analysis) if analysis else None,
                             spec=dict(spec) if spec else None, deployed_at=self._clock.now(),
                             deployed_by=deployed_by)
        self._session.add(row)
        self._session.flush()
        if spec:
            self._index(row.id, spec)
        return _view(row)

    def get(self, version_id: str) -> VersionView:
        """One version; :class:`NotFound` if there is none."""
        return _view(self._row(version_id))

    def latest(self, key: str) -> VersionView | None:
        """The newest version of ``key``, if any."""
        row = self._session.scalars(
            select(ProcessVersion).where(ProcessVersion.key == key).order_by(ProcessVersion.number.desc()).limit(1)
        ).one_or_none()
        return _view(row) if row else None

    def find(self, key: str | None = None, *, limit: int = 100) -> list[VersionView]:
        """Versions (of one key, or all), newest deployment first."""
        query = select(ProcessVersion).order_by(*_NEWEST_FIRST)
        if key is not None:
            query = query.where(ProcessVersion.key == key)
        return [_view(row) for row in self._session.scalars(query.limit(limit))]

    def newest_of_each_key(self) -> list[VersionView]:
        """The newest version (highest number) of every key, newest deployment first."""
        newest = (select(ProcessVersion.key, func.max(ProcessVersion.number).label("number"))
                  .group_by(ProcessVersion.key).subquery())
        query = (select(ProcessVersion)
                 .join(newest, (ProcessVersion.key == newest.c.key) & (ProcessVersion.number == newest.c.number))
                 .order_by(*_NEWEST_FIRST))
        return [_view(row) for row in self._session.scalars(query)]

    def count(self, key: str) -> int:
        """How many versions ``key`` has."""
        return int(self._session.scalar(
            select(func.count()).select_from(ProcessVersion).where(ProcessVersion.key == key)) or 0)

    def bpmn(self, version_id: str) -> bytes:
        """The deployed BPMN bytes, exactly as uploaded."""
        return self._row(version_id).bpmn

    def form_files(self, version_id: str) -> dict[str, Any]:
        """The version's form files by name."""
        return dict(self._row(version_id).form_files or {})

    def analysis(self, version_id: str) -> dict[str, Any] | None:
        """The analysis report made when the version was deployed."""
        report = self._row(version_id).analysis
        return dict(report) if report is not None else None

    def spec(self, version_id: str) -> dict[str, Any] | None:
        """The cached parsed spec, or None if it was never stored."""
        spec = self._session.scalar(select(ProcessVersion.spec).where(ProcessVersion.id == version_id))
        return dict(spec) if spec is not None else None

    def store_spec(self, version_id: str, spec: Mapping[str, Any]) -> bool:
        """Cache the parsed spec once; False if one was already stored (the first one stays)."""
        result = cast(CursorResult[Any], self._session.execute(
            update(ProcessVersion).where(ProcessVersion.id == version_id, ProcessVersion.spec.is_(None))
            .values(spec=dict(spec)).execution_options(synchronize_session=False)
        ))
        if result.rowcount == 0:
            self._row(version_id)  # NotFound if it does not exist at all
            return False
        self._index(version_id, spec)
        return True

    def holding(self, process_id: str, binding: Binding = LATEST_BINDING) -> str | None:
        """The id of the deployed version holding ``process_id`` that ``binding`` picks, if any.

        Latest: the most recently deployed. Version N: the N-th deployed,
        oldest first. Version tag T: the most recently deployed whose process
        element carries T (see ``engine.call_bindings``).
        """
        query = (select(VersionProcess.version_id)
                 .join(ProcessVersion, ProcessVersion.id == VersionProcess.version_id)
                 .where(VersionProcess.process_id == process_id))
        if binding.kind == VERSION:
            if binding.version is None or binding.version < 1:
                return None
            query = query.order_by(*_OLDEST_FIRST).offset(binding.version - 1)
        else:
            if binding.kind == VERSION_TAG:
                query = query.where(VersionProcess.version_tag == binding.tag)
            query = query.order_by(*_NEWEST_FIRST)
        return self._session.scalar(query.limit(1))

    def _index(self, version_id: str, spec: Mapping[str, Any]) -> None:
        """Note which processes the version holds (``holding`` looks there)."""
        tags = tags_of(spec)
        rows = [{"version_id": version_id, "process_id": pid, "version_tag": tags.get(pid)}
                for pid in spec_process_ids(spec)]
        if rows:
            self._session.execute(insert(VersionProcess), rows)

    def _row(self, version_id: str) -> ProcessVersion:
        row = self._session.get(ProcessVersion, version_id, populate_existing=True)
        if row is None:
            raise NotFound("process version", version_id)
        return row
