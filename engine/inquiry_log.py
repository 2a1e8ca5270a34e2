"""Storing the hash-chained inquiry log: append under a lock so the chain never forks.

What an inquiry record holds and how its hash is computed is decided by the
pure code in ``engine/inquiry_record.py``; this module only stores records,
one row per record with the same field names. :func:`append_record` takes
the previous row's ``seq`` and ``hash`` while holding a lock that every
appender must take, seals the new record after it
(:func:`engine.inquiry_record.seal`) and inserts the row, all inside the
caller's transaction:

* PostgreSQL: a transaction-scoped advisory lock (``pg_advisory_xact_lock``),
  released at commit or rollback, serialises appenders across processes and
  machines;
* SQLite: writing transactions are ``BEGIN IMMEDIATE`` (``engine.db``), so
  only one appender can be between "read the head" and "insert".

Belt and braces: ``seq``, ``prev_hash`` and ``hash`` are UNIQUE, so a second
record naming the same predecessor cannot be stored even if the lock were
bypassed; and the migration's triggers refuse UPDATE and DELETE.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from engine.clock import require_aware
from engine.fastsql import dialect_name, execute
from engine.inquiry_record import GENESIS_HASH, ChainProblem, InquiryRecord, seal
from engine.inquiry_record import verify_chain as verify_records
from engine.models import InquiryRecordRow, new_id

# An arbitrary constant naming "the inquiry chain" among PostgreSQL advisory locks.
CHAIN_LOCK_KEY = 0x50414E4A45524548  # "PANJEREH" in ASCII

RECORD_FIELDS = (
    "instance_id", "case_id", "element_id", "service_id", "requester_agency", "requester_user", "subject_hash",
    "legal_basis", "purpose", "requested_at", "responded_at", "status", "attempt", "idempotency_key",
    "request_hash", "response_hash",
)

STORED_FIELDS = ("id", "seq", "prev_hash", "hash", *RECORD_FIELDS)

# Built once (an inquiry is recorded per call: the hot path), as Core statements on the table.
_T = InquiryRecordRow.__table__
_HEAD = select(_T.c.seq, _T.c.hash).order_by(_T.c.seq.desc()).limit(1)
_INSERT = insert(_T)
_LOCK = text("SELECT pg_advisory_xact_lock(:key)")

# seal(fields) -> hex SHA-256; ``fields`` holds RECORD_FIELDS plus ``id``, ``seq`` and ``prev_hash``.
Seal = Callable[[Mapping[str, Any]], str]


def _lock_chain(session: Session) -> None:
    if dialect_name(session) == "postgresql":
        session.execute(_LOCK, {"key": CHAIN_LOCK_KEY})
    # SQLite: the BEGIN IMMEDIATE of the writing transaction already is the lock.


def chain_head(session: Session) -> tuple[int, str]:
    """The ``seq`` and ``hash`` of the newest record, or ``(0, GENESIS_HASH)`` for an empty log."""
    row = execute(session, _HEAD).one_or_none()
    return (0, GENESIS_HASH) if row is None else (int(row.seq), row.hash)


def append_fields(session: Session, fields: Mapping[str, Any], seal: Seal = seal) -> dict[str, Any]:
    """Append one record given as field values; return every stored field (id, seq and hashes added).

    ``fields`` holds values for :data:`RECORD_FIELDS` (``service_id``,
    ``requested_at`` and ``status`` are required) and optionally ``id``;
    other names are refused, so a typo cannot drop a field from the hash
    silently, and ``seq``/``prev_hash``/``hash`` are the log's to set.
    """
    unknown = set(fields) - {"id", *RECORD_FIELDS}
    if unknown:
        raise ValueError(f"unknown or log-assigned inquiry record fields: {sorted(unknown)}")
    record: dict[str, Any] = {name: fields.get(name) for name in RECORD_FIELDS}
    if record["attempt"] is None:
        record["attempt"] = 1
    for name in ("requested_at", "responded_at"):
        if record[name] is not None:
            record[name] = require_aware(record[name], name)  # stored and read back in UTC
    _lock_chain(session)
    seq, prev_hash = chain_head(session)
    record.update(id=fields.get("id") or new_id(), seq=seq + 1, prev_hash=prev_hash)
    record["hash"] = seal(dict(record))
    InquiryRecord(**record)  # validates status and times the way the verifier will read them back
    execute(session, _INSERT, record)
    return record


def append_record(session: Session, record: InquiryRecord) -> InquiryRecord:
    """Append ``record`` after the current head; return it with ``seq``, ``prev_hash`` and ``hash`` set."""
    fields = {name: getattr(record, name) for name in ("id", *RECORD_FIELDS)}
    stored = append_fields(session, fields)
    return dataclasses.replace(record, seq=stored["seq"], prev_hash=stored["prev_hash"], hash=stored["hash"])


def iter_records(session: Session, *, batch: int = 500) -> Iterator[InquiryRecord]:
    """Every stored record in chain order (read in batches, for verification and export)."""
    last = 0
    while True:
        rows = session.scalars(
            select(InquiryRecordRow).where(InquiryRecordRow.seq > last).order_by(InquiryRecordRow.seq).limit(batch)
        ).all()
        if not rows:
            return
        for row in rows:
            yield InquiryRecord(**{name: getattr(row, name) for name in STORED_FIELDS})
        last = rows[-1].seq


def verify_stored_chain(session: Session, *, expected_head: str | None = None) -> list[ChainProblem]:
    """Problems found walking the stored chain (empty when intact); see ``inquiry_record.verify_chain``."""
    return verify_records(iter_records(session), expected_head=expected_head)


def count_records(session: Session) -> int:
    """How many records the log holds."""
    return int(session.scalar(select(func.count()).select_from(InquiryRecordRow)) or 0)
