"""engine.db: URLs, SQLite set-up, the transaction scope, aware datetimes, the commit rule."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select, text

from engine.db import Database, database_url, normalize_url
from engine.errors import ConcurrencyError, SchemaOutdated
from engine.models import AuditEvent, Instance

from .conftest import add_instance

REPO = Path(__file__).resolve().parents[2]


def test_default_url_is_a_sqlite_file_in_the_instance_folder(tmp_path):
    url = database_url(tmp_path / "inst", environ={})
    assert url == f"sqlite:///{(tmp_path / 'inst' / 'panjereh.sqlite3').resolve()}"
    assert (tmp_path / "inst").is_dir()


def test_database_url_env_wins_and_gets_the_psycopg_driver(tmp_path):
    url = database_url(tmp_path, environ={"DATABASE_URL": "postgres://u@db:5432/p"})
    assert url == "postgresql+psycopg://u@db:5432/p"
    assert normalize_url("postgresql://h/d") == "postgresql+psycopg://h/d"
    assert normalize_url("postgresql+psycopg://h/d") == "postgresql+psycopg://h/d"


def test_in_memory_sqlite_is_refused():
    with pytest.raises(ValueError, match="in-memory"):
        Database("sqlite://")


def test_sqlite_pragmas(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'p.sqlite3'}")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 10_000
        assert conn.exec_driver_sql("PRAGMA journal_size_limit").scalar() == 64 * 1024 * 1024
    db.dispose()


def test_scope_commits_on_success_and_rolls_back_on_error(db, clock):
    with db.session_scope() as session:
        session.add(AuditEvent(at=clock.now(), actor="a", action="kept", details={}))
    with pytest.raises(RuntimeError), db.session_scope() as session:
        session.add(AuditEvent(at=clock.now(), actor="a", action="dropped", details={}))
        session.flush()
        raise RuntimeError("boom")
    with db.session_scope(readonly=True) as session:
        assert list(session.scalars(select(AuditEvent.action))) == ["kept"]


def test_stale_instance_version_is_a_concurrency_error(db, clock):
    with db.session_scope() as session:
        iid = add_instance(session, clock.now())
    with db.session_scope() as session:  # request 1 reads the instance (lock_version 1)
        stale = session.get(Instance, iid)
    with db.session_scope() as session:  # request 2 changes it meanwhile
        fresh = session.get(Instance, iid)
        assert fresh is not None
        fresh.data = {"step": "two"}
    assert stale is not None
    stale.data = {"step": "one"}
    with pytest.raises(ConcurrencyError, match="reload and try again") as caught, db.session_scope() as session:
        session.add(stale)  # request 1 writes back what it saw: refused
    assert caught.value.retryable
    with db.session_scope(readonly=True) as session:
        inst = session.get(Instance, iid)
        assert inst is not None and inst.data == {"step": "two"} and inst.lock_version == 2


def test_row_changed_behind_the_session_is_a_concurrency_error(db, clock):
    with db.session_scope() as session:
        iid = add_instance(session, clock.now())
    with pytest.raises(ConcurrencyError), db.session_scope() as session:
        inst = session.get(Instance, iid)
        assert inst is not None
        session.execute(text("UPDATE instances SET lock_version = lock_version + 1 WHERE id = :i"), {"i": iid})
        inst.status = "waiting"
        session.flush()


def test_datetimes_come_back_aware_in_utc(db):
    tehran = timezone(timedelta(hours=3, minutes=30))
    moment = datetime(2025, 3, 21, 11, 30, tzinfo=tehran)
    with db.session_scope() as session:
        session.add(AuditEvent(at=moment, actor="a", action="x", details={}))
    with db.session_scope(readonly=True) as session:
        stored = session.scalars(select(AuditEvent.at)).one()
    assert stored == moment and stored.tzinfo == UTC and stored.hour == 8


def test_naive_datetimes_are_refused(db):
    with pytest.raises(Exception, match="naive"), db.session_scope() as session:
        session.add(AuditEvent(at=datetime(2025, 1, 1), actor="a", action="x", details={}))


def test_no_commit_outside_session_scope():
    """Warehouse's rule, checked: commit() is called by the transaction scope (engine/db.py, on the
    transaction of engine/transaction.py, which commits its connection) and nowhere else."""
    offenders = []
    machinery = (REPO / "engine" / "db.py", REPO / "engine" / "transaction.py")
    for pkg in ("engine", "webui", "forms", "bpmn"):
        for path in (REPO / pkg).rglob("*.py"):
            if path in machinery:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if re.search(r"\.commit\(\)", line):
                    offenders.append(f"{path.relative_to(REPO)}:{number}")
    assert offenders == []
    assert [path.read_text(encoding="utf-8").count(".commit()") for path in machinery] == [1, 1]


def test_sqlite_readers_do_not_wait_for_a_writer(tmp_path, clock):
    db = Database(f"sqlite:///{tmp_path / 'rw.sqlite3'}")
    db.upgrade()
    try:
        with db.session_scope() as writer:  # holds SQLite's write lock (BEGIN IMMEDIATE) ...
            writer.add(AuditEvent(at=clock.now(), actor="a", action="pending", details={}))
            writer.flush()
            with db.session_scope(readonly=True) as reader:  # ... yet a reader goes on, seeing the last commit
                assert list(reader.scalars(select(AuditEvent.action))) == []
    finally:
        db.dispose()


def test_schema_check(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 's.sqlite3'}")
    try:
        with pytest.raises(SchemaOutdated, match=r"none \(empty database\)"):
            db.check_schema()
        db.upgrade()
        db.check_schema()
    finally:
        db.dispose()


def test_the_sqlite_timestamp_text_is_sqlalchemys_own():
    """UTCDateTime binds on SQLite in one step; the text must be what SQLAlchemy's chain would write."""
    from sqlalchemy.dialects import sqlite
    from sqlalchemy.types import TypeDecorator

    from engine.models import UTCDateTime

    dialect = sqlite.dialect()
    ours = UTCDateTime().bind_processor(dialect)
    chain = TypeDecorator.bind_processor(UTCDateTime().dialect_impl(dialect), dialect)  # ours, then the dialect's
    tehran = timezone(timedelta(hours=3, minutes=30))
    values = [datetime(2026, 11, 29, 6, 5, 4, 0, tzinfo=UTC), datetime(2026, 3, 20, 23, 59, 59, 999_999, tzinfo=tehran),
              datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=-5))),
              None]
    assert [ours(v) for v in values] == [chain(v) for v in values]
    assert ours(values[1]) == "2026-03-20 20:29:59.999999"
    with pytest.raises(ValueError, match="naive"):
        ours(datetime(2026, 1, 1))
