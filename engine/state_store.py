"""An instance's engine state as a key → JSON store that writes only what changed.

The SpiffWorkflow adapter cuts a workflow's serialized state into parts (one
per task, plus a header) and hands them here. Each part is stored once with
the SHA-256 of its canonical JSON; saving compares hashes and writes only the
parts that differ, in at most three statements (one batched INSERT, one
batched UPDATE, one batched DELETE), so the cost of a step does not grow with the age
of the instance.

Keep the hashes between steps to make unchanged parts free::

    parts, hashes = load_parts_and_hashes(session, instance_id)
    ... run a step, producing new_parts ...
    hashes = save_parts(session, instance_id, new_parts, removed, known_hashes=hashes)

Without ``known_hashes`` :func:`save_parts` reads the stored hashes first (one
narrow SELECT). ``known_hashes`` must be what the database holds (as returned
by the load or the previous save in the same instance lock); a stale map makes
an INSERT collide with an existing part (an ``IntegrityError``, never silent
loss).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping
from typing import Any
from typing import cast as type_cast

from sqlalchemy import CursorResult, Text, bindparam, cast, delete, insert, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from engine.fastsql import dialect_name, execute
from engine.jsontext import canonical_bytes, plain_canonical_bytes
from engine.models import InstanceStatePart

# Built once, as Core statements on the table (every action saves parts: the hot path).
_T = InstanceStatePart.__table__


def _json_text(dialect: str) -> Any:
    """The ``json`` value bound as the canonical text already made for the hash (not encoded twice).

    SQLite keeps JSON as text; PostgreSQL parses the text into JSONB. Either way
    the column reads back as the same value as when SQLAlchemy encodes it.
    """
    text = bindparam("b_json", type_=Text())
    return cast(text, JSONB) if dialect == "postgresql" else text


_INSERTS = {dialect: insert(_T).values(instance_id=bindparam("b_instance"), part_key=bindparam("b_key"),
                                       json=_json_text(dialect), sha256=bindparam("b_sha256"))
            for dialect in ("sqlite", "postgresql")}
_UPDATES = {dialect: (update(_T).where(_T.c.instance_id == bindparam("b_instance"),
                                       _T.c.part_key == bindparam("b_key"))
                      .values(json=_json_text(dialect), sha256=bindparam("b_sha256")))
            for dialect in ("sqlite", "postgresql")}
# One key per parameter set (an executemany): an expanding IN list would be compiled per call.
_DELETE = delete(_T).where(_T.c.instance_id == bindparam("b_instance"), _T.c.part_key == bindparam("b_key"))
_HASHES = select(_T.c.part_key, _T.c.sha256).where(_T.c.instance_id == bindparam("b_instance"))
_PARTS = select(_T.c.part_key, _T.c.json, _T.c.sha256).where(_T.c.instance_id == bindparam("b_instance"))


def part_hash(value: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of ``value``."""
    return hashlib.sha256(canonical_bytes(value)).hexdigest()


def load_hashes(session: Session, instance_id: str) -> dict[str, str]:
    """The stored hash of every part of the instance (no JSON is read)."""
    rows = execute(session, _HASHES, {"b_instance": instance_id})
    return {key: digest for key, digest in rows}


def load_parts(session: Session, instance_id: str) -> dict[str, Any]:
    """Every part of the instance's state, by key."""
    return load_parts_and_hashes(session, instance_id)[0]


def load_parts_and_hashes(session: Session, instance_id: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Every part by key, and their hashes (to pass back to :func:`save_parts`)."""
    rows = execute(session, _PARTS, {"b_instance": instance_id})
    parts: dict[str, Any] = {}
    hashes: dict[str, str] = {}
    for key, value, digest in rows:
        parts[key] = value
        hashes[key] = digest
    return parts, hashes


def save_parts(session: Session, instance_id: str, parts: Mapping[str, Any], removed: Iterable[str] = (),
               *, known_hashes: Mapping[str, str] | None = None, plain: Collection[str] = ()) -> dict[str, str]:
    """Store the parts that changed, delete ``removed``; return the new hash of every part.

    ``parts`` may hold every part or only those the caller suspects changed;
    parts absent from it are left as they are. A key both in ``parts`` and in
    ``removed`` is an error. ``plain`` names parts the caller knows to be
    plain JSON (no NaN or infinity): their text is the same, made without the
    check (``engine.jsontext.plain_canonical_bytes``).
    """
    removed_keys = set(removed)
    clash = removed_keys & parts.keys()
    if clash:
        raise ValueError(f"parts both saved and removed: {sorted(clash)}")
    hashes = dict(load_hashes(session, instance_id) if known_hashes is None else known_hashes)

    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for key, value in parts.items():
        text = plain_canonical_bytes(value) if key in plain else canonical_bytes(value)
        digest = hashlib.sha256(text).hexdigest()
        old = hashes.get(key)
        if old == digest:
            continue
        row = {"b_instance": instance_id, "b_key": key, "b_json": text.decode("utf-8"), "b_sha256": digest}
        (inserts if old is None else updates).append(row)
        hashes[key] = digest

    # One executemany each, whatever the count.
    dialect = dialect_name(session)
    if inserts:
        execute(session, _INSERTS[dialect], inserts)
    if updates:
        execute(session, _UPDATES[dialect], updates)
    gone = sorted(removed_keys)
    if gone:
        execute(session, _DELETE, [{"b_instance": instance_id, "b_key": key} for key in gone])
        for key in gone:
            hashes.pop(key, None)
    return hashes


def delete_parts(session: Session, instance_id: str) -> int:
    """Remove the whole stored state of an instance; returns how many parts went."""
    result = type_cast(CursorResult[Any], session.execute(
        delete(InstanceStatePart).where(InstanceStatePart.instance_id == instance_id)
        .execution_options(synchronize_session=False)
    ))
    return result.rowcount
