"""engine.state_store: parts round-trip, and a save writes only what changed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine, event

from engine.state_store import load_hashes, load_parts, load_parts_and_hashes, part_hash, save_parts


@contextmanager
def counted_statements(engine: Engine) -> Iterator[list[str]]:
    """Collect the verb of every statement sent to the database (executemany counts once)."""
    seen: list[str] = []

    def _before(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement.lstrip().split(None, 1)[0].upper())

    event.listen(engine, "before_cursor_execute", _before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", _before)


def _writes(verbs: list[str]) -> list[str]:
    return [v for v in verbs if v in {"INSERT", "UPDATE", "DELETE"}]


def _task(i: int, state: str = "READY") -> dict[str, object]:
    return {"id": f"t{i}", "state": state, "data": {"n": i, "name": "مدرک"}, "children": [f"t{i + 1}"]}


def test_round_trip_and_removal(db, instance_id):
    parts = {"workflow": {"spec": "P", "last": None}, "t1": _task(1), "t2": _task(2)}
    with db.session_scope() as session:
        hashes = save_parts(session, instance_id, parts)
    assert hashes == {k: part_hash(v) for k, v in parts.items()}
    with db.session_scope() as session:
        assert load_parts(session, instance_id) == parts
        hashes = save_parts(session, instance_id, {"t3": _task(3)}, removed=["t1"], known_hashes=hashes)
    with db.session_scope(readonly=True) as session:
        loaded, stored = load_parts_and_hashes(session, instance_id)
    assert set(loaded) == {"workflow", "t2", "t3"} and stored == hashes


def test_saving_the_same_parts_writes_nothing(db, instance_id):
    parts = {f"t{i}": _task(i) for i in range(50)}
    with db.session_scope() as session:
        save_parts(session, instance_id, parts)
    with counted_statements(db.engine) as verbs, db.session_scope() as session:
        save_parts(session, instance_id, {k: dict(v) for k, v in parts.items()})
    assert _writes(verbs) == []


@pytest.mark.parametrize("with_known_hashes", [True, False])
def test_one_changed_part_of_a_thousand_costs_one_statement(db, instance_id, with_known_hashes):
    parts = {f"t{i}": _task(i) for i in range(1000)}
    with db.session_scope() as session:
        hashes = save_parts(session, instance_id, parts)
    parts["t500"] = _task(500, "COMPLETED")
    with counted_statements(db.engine) as verbs, db.session_scope() as session:
        hashes = save_parts(session, instance_id, parts, known_hashes=hashes if with_known_hashes else None)
    assert _writes(verbs) == ["UPDATE"]
    # Reading the hashes back (when not kept) is one narrow SELECT, not a read of the JSON.
    selects = [v for v in verbs if v == "SELECT"]
    assert len(selects) == (0 if with_known_hashes else 1)
    with db.session_scope(readonly=True) as session:
        assert load_parts(session, instance_id)["t500"]["state"] == "COMPLETED"
        assert load_hashes(session, instance_id) == hashes


def test_many_changes_still_cost_a_constant_number_of_statements(db, instance_id):
    parts = {f"t{i}": _task(i) for i in range(300)}
    with db.session_scope() as session:
        hashes = save_parts(session, instance_id, parts)
    changed = {f"t{i}": _task(i, "WAITING") for i in range(0, 300, 3)}
    added = {f"n{i}": _task(i) for i in range(40)}
    with counted_statements(db.engine) as verbs, db.session_scope() as session:
        save_parts(session, instance_id, {**changed, **added}, removed=[f"t{i}" for i in range(1, 300, 3)],
                   known_hashes=hashes)
    assert sorted(_writes(verbs)) == ["DELETE", "INSERT", "UPDATE"]


def test_a_part_cannot_be_saved_and_removed_at_once(db, instance_id):
    with pytest.raises(ValueError, match="both saved and removed"), db.session_scope() as session:
        save_parts(session, instance_id, {"t1": 1}, removed=["t1"])


def test_hash_is_canonical():
    assert part_hash({"a": 1, "b": [1, 2]}) == part_hash({"b": [1, 2], "a": 1})
    assert part_hash({"a": 1}) != part_hash({"a": 2})
