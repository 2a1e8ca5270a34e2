"""The inquiry record: one line of the hash-chained inquiry log, and how its hash is made.

Every attempt to call an inquiry service leaves one :class:`InquiryRecord`:
who asked (agency/subsystem and user), for which case and process element,
about whom (a keyed hash of the subject's identifier, never the identifier),
under which legal basis and purpose, when it was asked and answered, what
came back (status), and SHA-256 hashes of the exact request and response
bytes. Records are chained: each one's :attr:`~InquiryRecord.hash` covers its
content *and* the previous record's hash, so changing, deleting or
reordering any record breaks every hash after it (:func:`verify_chain`).

This module is pure (no database, no I/O). Storage (``engine.inquiry_log``)
keeps one row per record with the same field names and uses :func:`seal` as
its hash function, so a chain written by the database can be verified here
and the other way round.

The hash is SHA-256 over a canonical JSON form of the fields
(:func:`canonical_json`): keys sorted, no whitespace, UTF-8, datetimes in
UTC as ISO-8601 with microseconds, plus a ``schema`` tag so that a future
change of the field set cannot be confused with tampering. The first record's
``prev_hash`` is :data:`GENESIS_HASH`.

A chain proves order and integrity of what is there; it cannot show that the
newest records were cut off. Keep the head hash somewhere else too (an
anchor: a daily signed export, an audit event) and pass it to
:func:`verify_chain` as ``expected_head``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from engine.jsontext import plain_canonical_bytes

if TYPE_CHECKING:  # only for type hints: this module must not import the connectors at run time
    from engine.connectors import InquiryRequest, InquiryResponse

SCHEMA = "panjereh.inquiry_record/1"
GENESIS_HASH = "0" * 64
STATUSES = ("OK", "NOT_FOUND", "SUBJECT_MISMATCH", "DENIED", "ERROR", "TIMEOUT")

# The fields a record's hash covers (everything except the hash itself), in storage's names.
HASHED_FIELDS = (
    "id", "seq", "prev_hash", "instance_id", "case_id", "element_id", "service_id", "requester_agency",
    "requester_user", "subject_hash", "legal_basis", "purpose", "requested_at", "responded_at", "status",
    "attempt", "idempotency_key", "request_hash", "response_hash",
)


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of ``data`` (request and response hashes)."""
    return hashlib.sha256(data).hexdigest()


def subject_hash(id_type: str, value: str, key: bytes) -> str:
    """A keyed hash (HMAC-SHA-256) naming a subject without revealing it.

    Unkeyed hashes of national codes are worthless: there are only about a
    billion valid codes, so a plain SHA-256 is reversed by trying them all. The
    key is a deployment secret; with it, the citizen's "who looked up my data"
    view can find its records by computing the same hash.
    """
    return hmac.new(key, f"{id_type}:{value}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class InquiryRecord:
    """One inquiry attempt, as stored in the append-only log.

    ``seq``, ``prev_hash`` and ``hash`` are ``None`` until the record is
    linked into a chain (:func:`link`); everything else is known when the
    attempt ends. Times are timezone-aware.
    """

    service_id: str
    requested_at: datetime
    status: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    instance_id: str | None = None
    case_id: str | None = None
    element_id: str | None = None
    requester_agency: str | None = None
    requester_user: str | None = None
    subject_hash: str | None = None
    legal_basis: str | None = None
    purpose: str | None = None
    responded_at: datetime | None = None
    attempt: int = 1
    idempotency_key: str | None = None
    request_hash: str | None = None
    response_hash: str | None = None
    seq: int | None = None
    prev_hash: str | None = None
    hash: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"inquiry record status must be one of {STATUSES}, got {self.status!r}")
        for name in ("requested_at", "responded_at"):
            value = getattr(self, name)
            if value is not None and (value.tzinfo is None or value.utcoffset() is None):
                raise ValueError(f"{name} must be timezone-aware")

    def fields(self) -> dict[str, Any]:
        """The hashed fields as a dict (storage's column names)."""
        return {name: getattr(self, name) for name in HASHED_FIELDS}


def _canonical_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    return value


def canonical_json(fields: Mapping[str, Any]) -> bytes:
    """The exact bytes a record's hash is computed over (see the module docstring)."""
    body = {name: _canonical_value(fields.get(name)) for name in HASHED_FIELDS}
    body["schema"] = SCHEMA
    # json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False), byte for byte (a test compares
    # them), written by orjson: a record is sealed per inquiry call. Its values are strings, integers and
    # None (datetimes made strings above): no NaN to check for.
    return plain_canonical_bytes(body)


def seal(fields: Mapping[str, Any]) -> str:
    """The hash of a record given as a mapping of field names (``hash`` itself is ignored).

    The storage layer calls this with a row's values; ``prev_hash`` must
    already be in ``fields``.
    """
    return sha256_hex(canonical_json(fields))


def chain(prev_hash: str | None, record: InquiryRecord) -> str:
    """The hash of ``record`` when it follows a record whose hash is ``prev_hash``.

    ``None`` means "first record" (:data:`GENESIS_HASH`). The record's own
    ``prev_hash`` and ``hash`` fields are ignored; its ``seq`` is covered.
    """
    return seal({**record.fields(), "prev_hash": prev_hash or GENESIS_HASH})


def link(prev: InquiryRecord | None, record: InquiryRecord) -> InquiryRecord:
    """``record`` placed after ``prev`` in a chain: ``seq``, ``prev_hash`` and ``hash`` filled in."""
    if prev is None:
        seq, prev_hash = 1, GENESIS_HASH
    elif prev.hash is None or prev.seq is None:
        raise ValueError("the previous record is not linked into a chain")
    else:
        seq, prev_hash = prev.seq + 1, prev.hash
    placed = dataclasses.replace(record, seq=seq, prev_hash=prev_hash, hash=None)
    return dataclasses.replace(placed, hash=chain(prev_hash, placed))


@dataclass(frozen=True)
class ChainProblem:
    """Something wrong in a chain: which record (position and id), a stable code, and a message."""

    position: int
    record_id: str | None
    code: str  # hash.mismatch | link.broken | seq.gap | head.mismatch
    message: str


def verify_chain(records: Iterable[InquiryRecord], *, start_hash: str = GENESIS_HASH,
                 start_seq: int = 1, expected_head: str | None = None) -> list[ChainProblem]:
    """Walk ``records`` in chain order and report every problem (empty list: intact).

    Detects a changed field (``hash.mismatch``), a deleted or reordered record
    (``link.broken`` and ``seq.gap``) and, when ``expected_head`` (an anchor
    kept elsewhere) is given, records cut off the end (``head.mismatch``).
    ``start_hash``/``start_seq`` let a verifier check a later segment.
    """
    problems: list[ChainProblem] = []
    prev_hash, want_seq = start_hash, start_seq
    last_hash: str | None = None
    for pos, rec in enumerate(records):
        if rec.seq != want_seq:
            problems.append(ChainProblem(pos, rec.id, "seq.gap", f"record {pos}: seq {rec.seq}, expected {want_seq}"))
        if rec.prev_hash != prev_hash:
            problems.append(ChainProblem(pos, rec.id, "link.broken",
                                         f"record {pos}: prev_hash does not name the previous record's hash"))
        if rec.hash != seal(rec.fields()):
            problems.append(ChainProblem(pos, rec.id, "hash.mismatch",
                                         f"record {pos}: hash does not match the record's content"))
        prev_hash = rec.hash or ""
        want_seq = (rec.seq or want_seq) + 1
        last_hash = rec.hash
    if expected_head is not None and last_hash != expected_head:
        problems.append(ChainProblem(-1, None, "head.mismatch",
                                     "the last record is not the expected head (records missing at the end?)"))
    return problems


def record_for(request: InquiryRequest, response: InquiryResponse, *, subject_key: bytes,
               instance_id: str | None = None, element_id: str | None = None,
               attempt: int = 1) -> InquiryRecord:
    """The record of one attempt, from what the connector sent and got back.

    ``response`` is the connector's answer or, for a failed attempt, the
    ``response`` carried by the :class:`~engine.connectors.InquiryError`
    (status ``ERROR``/``TIMEOUT``/``DENIED``), so that failures are logged
    too. The subject is hashed with ``subject_key``.
    """
    subject = request.subject()
    ctx = request.context
    return InquiryRecord(
        service_id=request.service_id, requested_at=response.started_at, status=str(response.status),
        id=request.request_id, instance_id=instance_id, case_id=ctx.case_id, element_id=element_id,
        requester_agency=ctx.client, requester_user=ctx.user_id,
        subject_hash=subject_hash(subject[0], subject[1], subject_key) if subject else None,
        legal_basis=ctx.legal_basis, purpose=ctx.purpose,
        responded_at=response.finished_at if response.response_body or response.http_status else None,
        attempt=attempt, idempotency_key=request.idempotency_key,
        request_hash=response.request_hash, response_hash=response.response_hash)
