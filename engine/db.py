"""Connecting to the database: engines, sessions, the transaction scope, migrations.

SQLite (a file under the instance folder) is the embedded default;
``DATABASE_URL`` selects PostgreSQL through psycopg 3. :meth:`Database.session_scope`
is one transaction and the ONLY place in Panjereh where ``commit()`` is
called: services take the session it yields in their constructor and never
commit themselves (warehouse's rule), so one action on an instance is one
transaction. What it yields is an ``engine.transaction.Transaction``: the
Session interface on one connection, with an ORM session joining the
transaction only when the block uses the ORM.

SQLite details, and why:

* ``journal_mode=WAL`` lets readers (the inbox) go on while a worker writes;
  ``busy_timeout`` makes a writer wait for the lock instead of failing at once;
  ``foreign_keys=ON`` because SQLite ignores foreign keys otherwise.
* ``wal_autocheckpoint`` at 10,000 pages (40 MB of WAL) instead of 1,000: an
  action dirties ~20 pages (a row and each of its indexes), and every
  checkpoint copies each distinct page of the WAL back into the database
  once; checkpointing less often copies a hot page (the tail of an index,
  an instance's row) once for many commits instead of once for a few. On a
  table with 15 to 20 indexes on random keys this took a third to nearly half
  off the cost of a commit in our measurements (raw SQLite, one row per commit).
  ``journal_size_limit`` trims a WAL that a long reader let grow past that.
  Most of the checkpointing is done meanwhile by a thread of its own
  (``engine.checkpoint``), so that no action pays for flushing the WAL.
* The sqlite3 module's own transaction handling is turned off and we emit
  ``BEGIN IMMEDIATE`` ourselves for writing scopes. A deferred transaction
  that reads first and writes later can fail with "database is locked"
  without waiting (another writer committed in between); taking the write
  lock up front makes writers queue instead. Read-only scopes use a plain
  deferred ``BEGIN`` and do not block writers.

Lost races surface as :class:`engine.errors.ConcurrencyError` (retryable),
whatever the database said: a stale optimistic version, SQLite busy for
longer than the timeout, a PostgreSQL serialization failure or deadlock.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from engine.checkpoint import WalCheckpointer
from engine.errors import ConcurrencyError, SchemaOutdated
from engine.jsontext import column_json
from engine.transaction import IdleConnections, Transaction, begin_on

DEFAULT_INSTANCE_DIR = "instance"
SQLITE_FILE_NAME = "panjereh.sqlite3"
SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_WAL_AUTOCHECKPOINT = 10_000  # pages; see the module docstring
SQLITE_WAL_SIZE_LIMIT = 64 * 1024 * 1024  # bytes
IDLE_CONNECTIONS = 4  # SQLite connections kept between transactions; see engine.transaction
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# PostgreSQL SQLSTATEs meaning "you lost a race, do it again".
_PG_RETRYABLE_SQLSTATES = {"40001", "40P01", "55P03"}  # serialization failure, deadlock, lock not available
_READONLY = "panjereh_readonly"


def database_url(instance_dir: str | os.PathLike[str] | None = None,
                 environ: Mapping[str, str] | None = None) -> str:
    """The database URL: ``DATABASE_URL`` if set, else the SQLite file in ``instance_dir``.

    ``postgres://`` and ``postgresql://`` URLs are given the psycopg 3 driver.
    The instance folder is created when the SQLite default is used.
    """
    env = os.environ if environ is None else environ
    url = env.get("DATABASE_URL", "").strip()
    if url:
        return normalize_url(url)
    folder = Path(instance_dir or DEFAULT_INSTANCE_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(folder / SQLITE_FILE_NAME).resolve()}"


def normalize_url(url: str) -> str:
    """``url`` with the psycopg 3 driver for PostgreSQL (the only driver we pin)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def create_engine_for(url: str, *, echo: bool = False, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS) -> Engine:
    """An engine for ``url`` set up as described in the module docstring."""
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, echo=echo, pool_pre_ping=True, json_serializer=column_json)
    if parsed.database in (None, "", ":memory:"):
        # Each pooled connection would see its own empty database: refuse rather than lose data.
        raise ValueError("an in-memory SQLite database cannot be shared between sessions; use a file")
    engine = create_engine(url, echo=echo, connect_args={"timeout": busy_timeout_ms / 1000},
                           json_serializer=column_json)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see module docstring)
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")  # durable enough with WAL, much faster
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_AUTOCHECKPOINT}")
            cursor.execute(f"PRAGMA journal_size_limit={SQLITE_WAL_SIZE_LIMIT}")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        if raw.in_transaction:  # begun on the DBAPI connection (engine.transaction): SQLAlchemy joins it
            return
        # Straight on the sqlite3 connection: a statement through SQLAlchemy costs several times what
        # SQLite needs. Errors become SQLAlchemy's ("database is locked" -> OperationalError -> a
        # retryable ConcurrencyError).
        begin_on(raw, _begin_statement(conn.get_execution_options()), conn.dialect)

    return engine


def _begin_statement(options: Mapping[str, Any]) -> str:
    """How a SQLite transaction begins: ``BEGIN IMMEDIATE`` (the write lock at once) unless read-only."""
    return "BEGIN" if options.get(_READONLY, False) else "BEGIN IMMEDIATE"


_AFTER_COMMIT = "panjereh.after_commit"


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the session's transaction has committed; never if it rolls back."""
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


def _run_after_commit(session: Session) -> None:
    for callback in session.info.pop(_AFTER_COMMIT, ()):
        callback()


def _drop_after_commit(session: Session) -> None:
    session.info.pop(_AFTER_COMMIT, None)


# Listening on the Session class once: a listener registered per transaction costs more than the
# work it schedules (every action hands its live workflow to the cache this way).
event.listen(Session, "after_commit", _run_after_commit)
event.listen(Session, "after_rollback", _drop_after_commit)


def _is_retryable(exc: DBAPIError) -> bool:
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate in _PG_RETRYABLE_SQLSTATES:
        return True
    return isinstance(exc, OperationalError) and "database is locked" in str(exc.orig)


@contextmanager
def session_scope(sessions: Callable[[], Session]) -> Iterator[Session]:
    """One transaction: commit when the block ends, roll back if it raises.

    Lost races become :class:`ConcurrencyError` so callers can reload and repeat.
    """
    session = sessions()
    try:
        yield session
        session.commit()
    except StaleDataError as exc:
        session.rollback()
        raise ConcurrencyError(f"another action changed the same record first; reload and try again ({exc})") from exc
    except DBAPIError as exc:
        session.rollback()
        if _is_retryable(exc):
            raise ConcurrencyError(f"the database refused a concurrent change; try again ({exc.orig})") from exc
        raise
    finally:
        session.close()  # also rolls back whatever the block left uncommitted


class Database:
    """An engine plus its session factories, for one database URL."""

    def __init__(self, url: str | None = None, *, instance_dir: str | os.PathLike[str] | None = None,
                 echo: bool = False) -> None:
        self.url = normalize_url(url) if url else database_url(instance_dir)
        self.engine = create_engine_for(self.url, echo=echo)
        self.dialect = self.engine.dialect.name
        # expire_on_commit=False: views built inside a scope stay readable after it.
        self.sessions = sessionmaker(bind=self.engine, expire_on_commit=False)
        self._readonly_engine = self.engine.execution_options(**{_READONLY: True})
        # SQLite only (see IdleConnections): a few ended connections kept for the next transaction, of
        # either kind: a transaction begins on the DBAPI connection as its kind needs (engine.transaction),
        # and a read after a write on the same connection finds its page cache still valid, where another
        # connection would find the database changed and read every page again (a SELECT of one
        # instance: ~28 µs against ~15).
        self._idle: IdleConnections | None = IdleConnections(IDLE_CONNECTIONS) if self.dialect == "sqlite" else None
        # SQLite only: WAL checkpoints in a thread of their own (see engine.checkpoint).
        database = self.engine.url.database
        self.checkpointer = WalCheckpointer(database) if self.dialect == "sqlite" and database else None

    @contextmanager
    def session_scope(self, *, readonly: bool = False) -> Iterator[Session]:
        """One transaction (see :func:`session_scope`); ``readonly`` does not take SQLite's write lock.

        What it yields is a :class:`engine.transaction.Transaction`: the
        Session interface, with a real ORM session behind it only when the
        block uses the ORM.
        """
        bind = self._readonly_engine if readonly else self.engine
        idle = self._idle
        # SQLite: begun on the DBAPI connection, as the engine's "begin" listener would (see engine.transaction).
        begin = _begin_statement({_READONLY: readonly}) if self.dialect == "sqlite" else None

        def make() -> Session:
            return cast(Session, Transaction(bind, _run_after_commit, _drop_after_commit, idle, begin=begin))

        with session_scope(make) as session:
            yield session
        if not readonly and self.checkpointer is not None:
            self.checkpointer.committed()

    def upgrade(self, revision: str = "head") -> None:
        """Migrate the schema to ``revision`` (default: the newest)."""
        upgrade(self.engine, revision)

    def check_schema(self) -> None:
        """Raise :class:`SchemaOutdated` unless the schema is at the newest migration."""
        current, head = schema_revisions(self.engine)
        if current != head:
            raise SchemaOutdated(f"the database schema is at revision {current or 'none (empty database)'}, "
                                 f"this Panjereh needs {head}; run the migrations first")

    def idle_connections(self) -> int:
        """How many ended connections are kept for the next transactions (SQLite; see ``IdleConnections``)."""
        return len(self._idle) if self._idle is not None else 0

    def dispose(self) -> None:
        """Close every pooled connection (call before a process exits or forks)."""
        if self.checkpointer is not None:
            self.checkpointer.stop()
        if self._idle is not None:
            self._idle.close()
        self.engine.dispose()


@contextmanager
def temporary_database(server_url: str, *, prefix: str = "panjereh_tmp") -> Iterator[str]:
    """A new, empty PostgreSQL database on ``server_url``'s server, dropped afterwards (tests, benchmarks).

    ``server_url`` names any database there that may create databases. Yields
    the new database's URL. Connection errors are SQLAlchemy's.
    """
    admin = create_engine(normalize_url(server_url), isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(normalize_url(server_url)).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def alembic_config(url: str | None = None) -> Any:
    """An Alembic ``Config`` for our migrations (no ini file needed).

    From a shell: ``python -c "from engine.db import alembic_config;
    from alembic import command; command.revision(alembic_config(URL), 'msg', autogenerate=True)"``.
    """
    from alembic.config import Config  # imported here: only migrations need Alembic

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        # ConfigParser interpolates '%': escape it (passwords may contain it).
        cfg.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the Alembic migrations on ``engine`` up to ``revision``, in one transaction."""
    from alembic import command

    cfg = alembic_config()
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Run the Alembic migrations on ``engine`` down to ``revision`` (``base`` empties it)."""
    from alembic import command

    cfg = alembic_config()
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, revision)


def schema_revisions(engine: Engine) -> tuple[str | None, str | None]:
    """The database's current migration revision and the newest one we ship."""
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return current, ScriptDirectory.from_config(alembic_config()).get_current_head()


def create_schema(engine: Engine) -> None:
    """Create (or bring up to date) the whole schema: the migrations, never ``create_all``."""
    upgrade(engine, "head")
