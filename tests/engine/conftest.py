"""Database fixtures: every storage test runs on SQLite (a temp file) and on PostgreSQL.

PostgreSQL comes from ``PANJEREH_TEST_POSTGRES`` (default: the local server's
``test`` database). Each test session creates its own database there and
drops it at the end; tests on it start from emptied tables. If PostgreSQL
cannot be reached, its cases FAIL with a message: CI runs both databases and
a silently skipped half would hide regressions.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from engine.clock import VirtualClock
from engine.db import Database, normalize_url, temporary_database
from engine.models import Instance, ProcessVersion

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TABLES = ("audit_events", "inquiry_records", "incidents", "jobs", "human_tasks", "instance_state_parts",
          "event_subscriptions", "subscription_backfill", "instances", "version_processes", "process_versions")


def pg_admin_url() -> str:
    """The PostgreSQL server used by the tests (a database we may create databases from)."""
    return normalize_url(os.environ.get("PANJEREH_TEST_POSTGRES", PG_DEFAULT))


@contextmanager
def fresh_pg_database() -> Iterator[str]:
    """A new, empty PostgreSQL database for the duration of the block."""
    admin_url = pg_admin_url()
    stack = ExitStack()
    try:  # only creating the database: the block's own errors are not "unreachable"
        url = stack.enter_context(temporary_database(admin_url, prefix="panjereh_test"))
    except OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {make_url(admin_url).render_as_string(hide_password=True)} "
                    f"({exc.orig}); start it or point PANJEREH_TEST_POSTGRES at a server. "
                    "PostgreSQL cases fail rather than skip on purpose.", pytrace=False)
    with stack:
        yield url


@pytest.fixture(scope="session")
def pg_session_url() -> Iterator[str]:
    """One migrated PostgreSQL database for the whole test session."""
    with fresh_pg_database() as url:
        db = Database(url)
        db.upgrade()
        db.dispose()
        yield url


def _empty_pg_tables(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """URL of a migrated, empty database, once per database kind."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'panjereh.sqlite3'}"
        db = Database(url)
        db.upgrade()
        db.dispose()
        return url
    url = request.getfixturevalue("pg_session_url")
    _empty_pg_tables(url)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """URL of a database with no tables at all (for migration tests)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    with fresh_pg_database() as url:
        yield url


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A :class:`Database` on the migrated test database."""
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> VirtualClock:
    """A virtual clock at a fixed start."""
    return VirtualClock()


def add_instance(session: Session, now: datetime, *, business_key: str | None = None) -> str:
    """Insert a version (if needed) and one running instance; return the instance id."""
    version = session.scalars(select(ProcessVersion).filter_by(key="test", number=1)).one_or_none()
    if version is None:
        version = ProcessVersion(key="test", number=1, name="Test", bpmn=b"<definitions/>", sha256="0" * 64,
                                 deployed_at=now)
        session.add(version)
        session.flush()
    instance = Instance(version_id=version.id, process_id="Process_1", business_key=business_key, data={},
                        created_at=now, updated_at=now)
    session.add(instance)
    session.flush()
    return instance.id


@pytest.fixture
def instance_id(db: Database, clock: VirtualClock) -> str:
    """One committed instance to hang tasks and jobs on."""
    with db.session_scope() as session:
        return add_instance(session, clock.now())

