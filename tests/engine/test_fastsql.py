"""engine.fastsql: the compiled-once path gives what ``session.execute`` gives, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import bindparam, event, insert, literal, select, update
from sqlalchemy.exc import IntegrityError, StatementError

import engine.fastsql as fastsql
from engine.fastsql import execute, runs_fast
from engine.models import AuditEvent, Job

J = Job.__table__
A = AuditEvent.__table__
T0 = datetime(2026, 3, 20, 8, 30, 15, 123456, tzinfo=UTC)

_INSERT_JOB = insert(J)
_INSERT_JOB_RETURNING = insert(J).returning(J.c.id, J.c.due_at, J.c.payload)
_BY_STATUS = select(J.c.id, J.c.status, J.c.due_at, J.c.payload, J.c.attempts).where(
    J.c.status == bindparam("b_status")).order_by(J.c.id)
# A fixed value ("running") and an expression on the column, as the lease statements have.
_LEASE = (update(J).where(J.c.id == bindparam("b_id"))
          .values(status="running", attempts=J.c.attempts + 1,
                  lease_expires_at=bindparam("b_expires", type_=J.c.lease_expires_at.type))
          .returning(J.c.id, J.c.status, J.c.attempts, J.c.lease_expires_at))
_EXPANDING = select(J.c.id).where(J.c.id.in_(bindparam("b_ids", expanding=True))).order_by(J.c.id)
_INSERT_EVENTS = insert(A)


def _job(i: int, **extra: object) -> dict[str, object]:
    values: dict[str, object] = {
        "id": f"job-{i:03d}", "kind": "service", "instance_id": None, "element_id": f"e{i}", "task_key": None,
        "payload": {"n": i, "name": "استعلام هویت", "nested": {"list": [1, 2.5, None, True]}},
        "status": "ready", "due_at": T0 + timedelta(minutes=i), "attempts": 0, "max_attempts": 5,
        "idempotency_key": f"key-{i}", "created_at": T0, "updated_at": T0}
    values.update(extra)
    return values


def _rows(result) -> list[tuple]:
    return [tuple(row) for row in result]


def test_hot_statements_take_the_fast_path(db):
    with db.session_scope() as session:
        assert runs_fast(session, _INSERT_JOB, _job(1))
        assert runs_fast(session, _BY_STATUS, {"b_status": "ready"})
        assert runs_fast(session, _LEASE, {"b_id": "x", "b_expires": T0})
        # Rendered per call: handed to session.execute.
        assert not runs_fast(session, _EXPANDING, {"b_ids": ["x"]})


def test_results_and_stored_values_match_session_execute(db):
    with db.session_scope() as session:
        execute(session, _INSERT_JOB, _job(1))
        session.execute(_INSERT_JOB, _job(2))
        fast = execute(session, _INSERT_JOB_RETURNING, _job(3)).one()
        slow = session.execute(_INSERT_JOB_RETURNING, _job(4)).one()
    assert fast.due_at == T0 + timedelta(minutes=3) and fast.due_at.tzinfo is not None
    assert fast.payload == _job(3)["payload"] and slow.payload == _job(4)["payload"]

    with db.session_scope(readonly=True) as session:
        via_fast = _rows(execute(session, _BY_STATUS, {"b_status": "ready"}))
        via_sqlalchemy = _rows(session.execute(_BY_STATUS, {"b_status": "ready"}))
    assert via_fast == via_sqlalchemy
    assert [row[0] for row in via_fast] == ["job-001", "job-002", "job-003", "job-004"]
    assert via_fast[0][2] == T0 + timedelta(minutes=1)  # timezone-aware, microseconds kept
    assert via_fast[0][3] == _job(1)["payload"]  # JSON round trip, Persian text included


def test_fixed_values_expressions_and_returning(db):
    with db.session_scope() as session:
        execute(session, _INSERT_JOB, _job(1))
    expires = T0 + timedelta(hours=1)
    with db.session_scope() as session:
        first = execute(session, _LEASE, {"b_id": "job-001", "b_expires": expires})
        assert first.rowcount == 1
        row = first.one()
        second = execute(session, _LEASE, {"b_id": "job-001", "b_expires": expires}).one()
        missing = execute(session, _LEASE, {"b_id": "nope", "b_expires": expires})
    assert (row.id, row.status, row.attempts, row.lease_expires_at) == ("job-001", "running", 1, expires)
    assert second.attempts == 2
    assert missing.rowcount == 0 and missing.one_or_none() is None and missing.all() == []


def test_executemany_and_mixed_parameter_sets(db):
    events = [{"at": T0, "actor": "clerk", "action": f"a{i}", "instance_id": None, "details": {"i": i}}
              for i in range(5)]
    with db.session_scope() as session:
        assert execute(session, _INSERT_EVENTS, events).rowcount == 5
        assert execute(session, _INSERT_EVENTS, []).rowcount == 0
    with db.session_scope(readonly=True) as session:
        stored = session.execute(select(A.c.action, A.c.details).order_by(A.c.id)).all()
    assert [tuple(r) for r in stored] == [(f"a{i}", {"i": i}) for i in range(5)]
    # Parameter sets with different names are handed on: SQLAlchemy's own answer, not a KeyError.
    mixed = [{"at": T0, "actor": "clerk", "action": "m1", "instance_id": None, "details": {}},
             {"at": T0, "actor": "clerk", "action": "m2", "details": {"x": 1}}]
    with pytest.raises(StatementError, match="instance_id"), db.session_scope() as session:
        execute(session, _INSERT_EVENTS, mixed)


def test_statements_it_cannot_plan_are_handed_on(db):
    with db.session_scope() as session:
        execute(session, _INSERT_JOB, [_job(1), _job(2), _job(3)])
        found = execute(session, _EXPANDING, {"b_ids": ["job-003", "job-001"]}).scalars()
    assert list(found) == ["job-001", "job-003"]
    with db.session_scope() as session:  # result columns that cannot be names of a row
        unnamed = execute(session, select(literal(7), literal("x").label("class")), {}).all()
    assert [tuple(row) for row in unnamed] == [(7, "x")]


def test_a_missing_parameter_is_sqlalchemys_error_not_a_key_error(db):
    with pytest.raises(StatementError), db.session_scope() as session:
        execute(session, _LEASE, {"b_id": "job-001"})  # b_expires missing


def test_database_errors_are_sqlalchemys_and_roll_back(db):
    with db.session_scope() as session:
        execute(session, _INSERT_JOB, _job(1))
    with pytest.raises(IntegrityError), db.session_scope() as session:
        execute(session, _INSERT_JOB, _job(2))
        execute(session, _INSERT_JOB, _job(3, idempotency_key="key-1"))  # unique key taken
    with db.session_scope(readonly=True) as session:
        assert execute(session, select(J.c.id).order_by(J.c.id)).scalars() == ["job-001"]  # job 2 rolled back


def test_statement_listeners_see_the_fast_path(db):
    seen: list[tuple[str, bool]] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement.split(None, 1)[0].upper(), executemany))

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        with db.session_scope() as session:
            execute(session, _INSERT_JOB, _job(1))
            execute(session, _INSERT_EVENTS, [{"at": T0, "actor": "a", "action": "x", "instance_id": None,
                                               "details": {}}] * 2)
    finally:
        event.remove(db.engine, "before_cursor_execute", before)
    assert ("INSERT", False) in seen and ("INSERT", True) in seen


def test_a_session_used_for_several_transactions(db):
    session = db.sessions()
    try:
        execute(session, _INSERT_JOB, _job(1))
        session.commit()
        execute(session, _INSERT_JOB, _job(2))  # a new transaction on a fresh connection
        session.rollback()
        execute(session, _INSERT_JOB, _job(3))
        session.commit()
    finally:
        session.close()
    with db.session_scope(readonly=True) as check:
        assert execute(check, select(J.c.id).order_by(J.c.id)).scalars() == ["job-001", "job-003"]


def test_plans_are_bounded(db, monkeypatch):
    monkeypatch.setattr(fastsql, "MAX_PLANS", len(fastsql._PLANS) + 3)
    with db.session_scope(readonly=True) as session:
        for i in range(10):  # statements built per call: each a new object
            rows = execute(session, select(J.c.id).where(J.c.attempts == bindparam("b", value=i)), {"b": i})
            assert rows.all() == []
    assert len(fastsql._PLANS) <= fastsql.MAX_PLANS
