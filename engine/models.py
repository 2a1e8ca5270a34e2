"""The tables of the engine, as SQLAlchemy 2 declarative models.

One schema for SQLite (the embedded default) and PostgreSQL: ids are UUID
strings, JSON columns become JSONB on PostgreSQL, and every datetime is stored
in UTC and read back timezone-aware (:class:`UTCDateTime`). Constraint names
come from one naming convention so that Alembic can alter tables on SQLite
(batch mode recreates tables and needs names) as well as on PostgreSQL.

Services read and write these rows; nothing outside ``engine`` should. The
migration in ``migrations/versions`` must produce exactly this schema
(``tests/engine/test_migrations.py`` checks for drift).

Status values are checked by the database, not by an ENUM type: adding a
status then needs no type migration on PostgreSQL.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

INSTANCE_STATUSES = ("running", "waiting", "completed", "failed", "cancelled")
TASK_STATUSES = ("open", "claimed", "completed", "cancelled")
# 'failed' = the last attempt failed and a retry is scheduled at due_at;
# 'dead' = retries are spent (an incident or a BPMN error took over).
JOB_STATUSES = ("ready", "running", "done", "failed", "dead", "cancelled")
INCIDENT_STATUSES = ("open", "resolved")

# SQLite only makes INTEGER PRIMARY KEY an auto-increment rowid; PostgreSQL gets a bigint.
AutoId = BigInteger().with_variant(Integer(), "sqlite")
# None in a nullable JSON column means SQL NULL ("not known"); a state part may hold JSON null itself.
JsonType = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
JsonValue = JSON().with_variant(JSONB(), "postgresql")


_ID_LOCK = threading.Lock()
_last_id_stamp = 0  # (milliseconds << 12) | counter of the newest id made in this process


def new_id() -> str:
    """A fresh id: a time-ordered UUID (version 7, RFC 9562) as a string, portable across databases.

    The first 48 bits are the Unix time in milliseconds, the next 12 a counter
    within the millisecond (RFC 9562's "method 1"), the last 62 random. Ids
    made in one process therefore always increase, even within a millisecond
    or when the system clock steps back, so the id can break ties between rows
    stamped with the same time (two versions deployed under a frozen clock).

    Rows made one after another also get neighbouring keys: an insert lands on
    the same index pages as the one before it instead of on a random page of
    every index of its table, so on SQLite a commit writes fewer distinct pages
    and a checkpoint copies fewer. The id is not a secret (it shows when the
    row was made); use :func:`new_token` for values that must not be guessed.
    """
    global _last_id_stamp
    with _ID_LOCK:
        stamp = max((time.time_ns() // 1_000_000) << 12, _last_id_stamp + 1)
        _last_id_stamp = stamp
    millis, counter = stamp >> 12 & 0xFFFF_FFFF_FFFF, stamp & 0xFFF
    rand = int.from_bytes(os.urandom(8), "big") & 0x3FFF_FFFF_FFFF_FFFF
    return str(uuid.UUID(int=millis << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand))


_LENGTHS: dict[tuple[Any, str], int] = {}


def column_length(column: Any) -> int:
    """How many characters a ``String(n)`` column keeps (``Model.attribute`` or a table's column): n."""
    # Cached by (model or table, name): ``Model.attribute.type`` goes through the ORM's attribute
    # machinery (~4 µs), and the inbox row and each action's texts ask for several lengths.
    key = (getattr(column, "class_", None) or column.table, column.key)
    length = _LENGTHS.get(key)
    if length is None:
        length = _LENGTHS[key] = int(column.type.length)
    return length


def fit_column(text: str | None, column: Any) -> str | None:
    """``text`` cut to what ``column`` keeps, its last character an ellipsis when cut (display text only)."""
    size = column_length(column)
    return text if text is None or len(text) <= size else text[:size - 1] + "…"


def new_token() -> str:
    """A fresh random value that must not be guessable (UUID4: 122 random bits), e.g. a lease token."""
    return str(uuid.uuid4())


def _status_check(values: tuple[str, ...]) -> CheckConstraint:
    return CheckConstraint("status IN (" + ", ".join(f"'{v}'" for v in values) + ")", name="status")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware.

    SQLite has no time zones and would hand back naive values; refusing naive
    input means a local time can never be stored by mistake.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} cannot be stored; use an aware one")
        value = value.astimezone(UTC)
        # SQLite compares timestamps as text: store them without offset, all in UTC.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Any:
        """On SQLite, :meth:`process_bind_param` and the text format of SQLAlchemy's SQLite DATETIME in one step.

        Every action binds several timestamps, and the two-stage chain of a
        TypeDecorator (ours, then the dialect's ``%``-formatting of a dict)
        costs more than the statement that carries them. The text is the
        dialect's default storage format; a test compares both for many values.
        """
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"naive datetime {value.isoformat()} cannot be stored; use an aware one")
            if value.tzinfo is not UTC:
                value = value.astimezone(UTC)
            return "%04d-%02d-%02d %02d:%02d:%02d.%06d" % (  # noqa: UP031 - fastest for fixed widths
                value.year, value.month, value.day, value.hour, value.minute, value.second, value.microsecond)

        return process

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base carrying the constraint naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JsonType}


class ProcessVersion(Base):
    """One deployed version of a process model; its parsed spec is stored once here."""

    __tablename__ = "process_versions"
    __table_args__ = (UniqueConstraint("key", "number"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    key: Mapped[str] = mapped_column(String(200))
    number: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(500), default="")
    bpmn: Mapped[bytes] = mapped_column(LargeBinary)
    form_files: Mapped[dict[str, Any]] = mapped_column(default=dict)
    sha256: Mapped[str] = mapped_column(String(64))
    analysis: Mapped[dict[str, Any] | None] = mapped_column()
    spec: Mapped[dict[str, Any] | None] = mapped_column()
    deployed_at: Mapped[datetime] = mapped_column()
    deployed_by: Mapped[str | None] = mapped_column(String(200))


class VersionProcess(Base):
    """A process a deployed version holds: how a call activity finds the newest version of what it calls."""

    __tablename__ = "version_processes"
    __table_args__ = (Index("ix_version_processes_process_id", "process_id"),)

    version_id: Mapped[str] = mapped_column(ForeignKey("process_versions.id", ondelete="CASCADE"),
                                            primary_key=True)
    process_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    # The process element's camunda:versionTag in this version, for calls bound by version tag.
    version_tag: Mapped[str | None] = mapped_column(String(200))


class Instance(Base):
    """A running (or finished) case; ``lock_version`` guards against lost updates."""

    __tablename__ = "instances"
    __table_args__ = (_status_check(INSTANCE_STATUSES),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    version_id: Mapped[str] = mapped_column(ForeignKey("process_versions.id"), index=True)
    process_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="running", index=True)
    business_key: Mapped[str | None] = mapped_column(String(200), index=True)
    # A hashed national code or an opaque id, never the plain national code (DESIGN §8).
    subject: Mapped[str | None] = mapped_column(String(128), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    lock_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()

    __mapper_args__ = {"version_id_col": lock_version}  # noqa: RUF012 - SQLAlchemy declares it mutable


class InstanceStatePart(Base):
    """One piece of an instance's engine state (one task, the workflow header ...)."""

    __tablename__ = "instance_state_parts"

    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True)
    part_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    json: Mapped[Any] = mapped_column(JsonValue)
    sha256: Mapped[str] = mapped_column(String(64))


class EventSubscription(Base):
    """A message or signal an instance waits for now (kept by every action, removed when it moves on).

    Signals are broadcast: every instance waiting for one gets it, so
    delivery looks here instead of loading every waiting instance.
    """

    __tablename__ = "event_subscriptions"
    __table_args__ = (Index("ix_event_subscriptions_kind_name", "kind", "name"),)

    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(500), primary_key=True)


class SubscriptionBackfill(Base):
    """An instance that was waiting before ``event_subscriptions`` existed and has no rows there yet.

    Filled once by migration 0003; the engine empties it before it next
    looks up who waits for a signal (``engine.subscriptions``).
    """

    __tablename__ = "subscription_backfill"

    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True)


class HumanTask(Base):
    """A row of the clerks' inbox: one user or manual task waiting for a person."""

    __tablename__ = "human_tasks"
    __table_args__ = (
        UniqueConstraint("instance_id", "task_key"),
        Index("ix_human_tasks_status_candidate_group", "status", "candidate_group"),
        _status_check(TASK_STATUSES),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    # No index of its own: the unique (instance_id, task_key) index serves lookups by instance.
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id"))
    task_key: Mapped[str] = mapped_column(String(64))
    element_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(500), default="")
    lane: Mapped[str | None] = mapped_column(String(200))
    candidate_group: Mapped[str | None] = mapped_column(String(200))
    assignee: Mapped[str | None] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    form_ref: Mapped[str | None] = mapped_column(String(500))
    due_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column()
    completed_by: Mapped[str | None] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy declares it mutable


class Job(Base):
    """Work for a worker: a service call, a due timer, a message to deliver ..."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_status_due_at", "status", "due_at"),
        _status_check(JOB_STATUSES),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(50))
    instance_id: Mapped[str | None] = mapped_column(ForeignKey("instances.id"), index=True)
    element_id: Mapped[str | None] = mapped_column(String(200))
    task_key: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="ready")
    due_at: Mapped[datetime] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_token: Mapped[str | None] = mapped_column(String(36))
    lease_expires_at: Mapped[datetime | None] = mapped_column()
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()


class Incident(Base):
    """A job whose retries are spent and which no BPMN error boundary caught."""

    __tablename__ = "incidents"
    __table_args__ = (_status_check(INCIDENT_STATUSES),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    instance_id: Mapped[str | None] = mapped_column(ForeignKey("instances.id"), index=True)
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id"), index=True)
    element_id: Mapped[str | None] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    created_at: Mapped[datetime] = mapped_column()
    resolved_at: Mapped[datetime | None] = mapped_column()
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    resolution_note: Mapped[str | None] = mapped_column(Text)


class InquiryRecordRow(Base):
    """One inquiry call, chained to the previous one by hash (append-only).

    ``instance_id`` has no foreign key on purpose: the log outlives instances
    (a citizen's "who looked up my data" view must survive case clean-up).
    """

    __tablename__ = "inquiry_records"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    # Unique: two records naming the same predecessor would be a fork of the chain.
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    instance_id: Mapped[str | None] = mapped_column(String(36), index=True)
    case_id: Mapped[str | None] = mapped_column(String(200))
    element_id: Mapped[str | None] = mapped_column(String(200))
    service_id: Mapped[str] = mapped_column(String(200))
    requester_agency: Mapped[str | None] = mapped_column(String(200))
    requester_user: Mapped[str | None] = mapped_column(String(200))
    subject_hash: Mapped[str | None] = mapped_column(String(128), index=True)
    legal_basis: Mapped[str | None] = mapped_column(Text)
    purpose: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column()
    responded_at: Mapped[datetime | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(32))
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    response_hash: Mapped[str | None] = mapped_column(String(64))


class AuditEvent(Base):
    """Who did what, when (append-only: the audit API has no update or delete)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    instance_id: Mapped[str | None] = mapped_column(String(36), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
