"""engine.transaction: the Session-shaped transaction every scope yields, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.audit import AuditLog
from engine.db import after_commit
from engine.fastsql import execute
from engine.instances import Instances
from engine.models import AuditEvent, Instance
from engine.transaction import Transaction

from .conftest import add_instance


def _count(db, model) -> int:
    with db.session_scope(readonly=True) as session:
        return int(session.scalar(select(func.count()).select_from(model)))


def test_core_statements_run_without_an_orm_session_and_commit(db, clock, instance_id):
    done = []
    with db.session_scope() as session:
        assert isinstance(session, Transaction)
        row = Instances(session, clock).lock(instance_id)
        AuditLog(session, clock).record("checked", actor="clerk", instance_id=instance_id)
        after_commit(session, lambda: done.append("after"))
        assert done == []  # not before the commit
        assert session._orm is None  # nothing here needed the ORM
    assert row.id == instance_id and done == ["after"]
    assert _count(db, AuditEvent) == 1  # the pending event was written just before the commit


def test_orm_and_core_share_one_transaction_and_roll_back_together(db, clock):
    done = []
    with pytest.raises(RuntimeError), db.session_scope() as session:
        instance_id = add_instance(session, clock.now())  # the ORM: add and flush
        execute(session, Instance.__table__.update().where(Instance.id == instance_id).values(status="waiting"))
        AuditLog(session, clock).record("lost", actor="clerk", instance_id=instance_id)
        after_commit(session, lambda: done.append("after"))
        assert session.get(Instance, instance_id).status == "waiting"  # the ORM sees the Core update
        raise RuntimeError("the action failed")
    assert (_count(db, Instance), _count(db, AuditEvent), done) == (0, 0, [])

    with db.session_scope() as session:
        instance_id = add_instance(session, clock.now())
        execute(session, Instance.__table__.update().where(Instance.id == instance_id).values(status="waiting"))
    with db.session_scope(readonly=True) as session:
        assert session.get(Instance, instance_id).status == "waiting"


def test_the_orm_joins_a_transaction_core_statements_began(db, clock, instance_id):
    # On SQLite the transaction is begun on the DBAPI connection (no SQLAlchemy transaction object);
    # an ORM session used afterwards must join it, not begin a second one, and go or stay with it.
    with pytest.raises(RuntimeError), db.session_scope() as session:
        execute(session, Instance.__table__.update().where(Instance.id == instance_id).values(status="waiting"))
        other = add_instance(session, clock.now())  # the ORM, after the Core statement
        assert session.get(Instance, instance_id).status == "waiting"
        raise RuntimeError("the action failed")
    assert _count(db, Instance) == 1
    with db.session_scope(readonly=True) as session:
        assert session.get(Instance, instance_id).status == "running"

    with db.session_scope() as session:
        execute(session, Instance.__table__.update().where(Instance.id == instance_id).values(status="waiting"))
        other = add_instance(session, clock.now())
    with db.session_scope(readonly=True) as session:
        assert session.get(Instance, instance_id).status == "waiting"
        assert session.get(Instance, other) is not None


def test_every_scope_gives_its_connection_back(db, clock, instance_id):
    for _ in range(20):
        with db.session_scope() as session:
            Instances(session, clock).lock(instance_id)
        with pytest.raises(ValueError), db.session_scope() as session:
            Instances(session, clock).lock(instance_id)
            raise ValueError("boom")
        with db.session_scope(readonly=True) as session:
            Instances(session, clock).get(instance_id)
    # Back in the pool, or (SQLite) kept for the next transaction: one for both kinds here, one after the other.
    assert db.engine.pool.checkedout() == db.idle_connections() == (1 if db.dialect == "sqlite" else 0)
    db.dispose()
    assert db.engine.pool.checkedout() == db.idle_connections() == 0


def _dbapi_connection(session) -> object:
    return session.connection().connection.dbapi_connection


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sqlite_transactions_one_after_another_reuse_one_connection(db, clock, instance_id):
    seen = set()
    for _ in range(5):
        with db.session_scope() as session:
            Instances(session, clock).lock(instance_id)
            seen.add(id(_dbapi_connection(session)))
    assert len(seen) == 1 and db.idle_connections() == 1


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_kept_connection_never_carries_an_unfinished_transaction_into_the_next(db, clock, instance_id):
    session = db.session_scope().__enter__()  # a block that neither commits nor rolls back, then closes
    execute(session, Instance.__table__.update().where(Instance.id == instance_id).values(status="waiting"))
    session.close()
    assert db.idle_connections() == 1  # kept, after rolling back what the block left
    with db.session_scope() as session:
        assert Instances(session, clock).lock(instance_id).status == "running"
        # and the next transaction began afresh (BEGIN IMMEDIATE would fail inside an open one)
        assert session.connection().connection.dbapi_connection.in_transaction


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_read_after_a_write_reuses_the_writers_connection_and_takes_no_write_lock(db, clock, instance_id):
    with db.session_scope() as session:
        Instances(session, clock).lock(instance_id)
        writer = _dbapi_connection(session)
    with db.session_scope(readonly=True) as session:
        assert Instances(session, clock).get(instance_id).id == instance_id
        assert _dbapi_connection(session) is writer  # its page cache is still valid
        # A deferred BEGIN: another connection can still take the write lock meanwhile.
        with db.session_scope() as other:
            Instances(other, clock).lock(instance_id)
    with db.session_scope() as session:
        Instances(session, clock).lock(instance_id)  # and a write after the read begins IMMEDIATE again
        assert _dbapi_connection(session).in_transaction


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_kept_connections_are_bounded_and_the_rest_go_back_to_the_pool(db, clock, instance_id):
    from engine.db import IDLE_CONNECTIONS

    assert db.idle_connections() == 1  # the connection that made the instance
    scopes = [db.session_scope(readonly=True) for _ in range(IDLE_CONNECTIONS + 3)]  # deferred: no write lock
    for scope in scopes:
        Instances(scope.__enter__(), clock).get(instance_id)  # all open at once: each has its own connection
    assert db.idle_connections() == 0  # the first took the kept one
    assert db.engine.pool.checkedout() == IDLE_CONNECTIONS + 3
    for scope in reversed(scopes):
        scope.__exit__(None, None, None)
    assert db.idle_connections() == IDLE_CONNECTIONS
    assert db.engine.pool.checkedout() == IDLE_CONNECTIONS  # the others went back to the pool
