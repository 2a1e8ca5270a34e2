"""One transaction on one pooled connection, shaped like the ORM ``Session`` the engine's code expects.

Every action of the engine is one short transaction of a few Core statements
run by ``engine.fastsql`` on the transaction's DBAPI connection. A full ORM
``Session`` per action spends more on itself (its transaction object, the
connection it asks the pool for through its bind, the identity map it
clears at close, the events it fires) than SQLite spends on the statements'
commit. :class:`Transaction` is what the action needs and no more:

* ``info``, ``bind``, ``get_bind()`` and ``connection()`` (which checks out
  a connection and begins on it the first time: ``BEGIN IMMEDIATE`` on
  SQLite for a writing transaction, as ``engine.db`` sets up). On SQLite
  the transaction is begun, committed and rolled back on the DBAPI
  connection itself (``begin``): SQLAlchemy's transaction object, with its
  events, cost ~14 µs a transaction, as much as SQLite's BEGIN and half its
  statement. If SQLAlchemy is used in the transaction after all (the ORM, a
  statement ``engine.fastsql`` hands on), it joins the transaction already
  open (``engine.db``'s ``begin`` listener emits nothing then) and the
  commit goes through it;
* ``commit()``: the hooks registered with :func:`before_commit` (the audit
  trail writes its pending events there), a flush of the ORM session if one
  was used, the commit, then the ``after_commit`` callbacks (``engine.db``);
* anything else (``add``, ``get``, ``scalars``, ``execute``, ``flush``...) goes
  to a real ORM ``Session`` made on first use and bound to the same connection,
  inside the same transaction, so code that needs the ORM (deploying,
  incidents) works unchanged and pays for it only when it uses it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

Hook = Callable[[Any], None]
_BEFORE_COMMIT: list[Hook] = []


def before_commit(hook: Hook) -> None:
    """Call ``hook(session)`` just before every transaction commits (a :class:`Transaction` or a ``Session``)."""
    _BEFORE_COMMIT.append(hook)
    event.listen(Session, "before_commit", hook)  # for a plain ORM session (``Database.sessions``)


def begin_on(raw: Any, statement: str, dialect: Dialect) -> None:
    """Run ``statement`` (``BEGIN IMMEDIATE``...) on the DBAPI connection ``raw``; errors as SQLAlchemy's.

    "database is locked" becomes an ``OperationalError``, which the
    transaction scope turns into a retryable ``ConcurrencyError``.
    """
    try:
        raw.execute(statement)
    except dialect.loaded_dbapi.Error as error:
        raise DBAPIError.instance(statement, None, error, dialect.loaded_dbapi.Error, dialect=dialect) from error


class Transaction:
    """A Session-like transaction: see the module docstring.

    ``begin``: the statement that begins the transaction on the DBAPI
    connection (SQLite's ``BEGIN IMMEDIATE`` or ``BEGIN``); None lets
    SQLAlchemy begin it (PostgreSQL).
    """

    def __init__(self, bind: Engine, after_commit: Hook, after_rollback: Hook,
                 idle: IdleConnections | None = None, *, begin: str | None = None) -> None:
        self.bind = bind
        self._idle = idle
        self._begin = begin
        self.info: dict[str, Any] = {}
        self._after_commit = after_commit
        self._after_rollback = after_rollback
        self._conn: Connection | None = None
        self._handles: tuple[Connection, Any, bool] | None = None
        self._orm: Session | None = None

    def get_bind(self, *args: Any, **kwargs: Any) -> Engine:
        """The engine (``Session.get_bind``'s answer for a session bound to one engine)."""
        return self.bind

    def connection(self, *args: Any, **kwargs: Any) -> Connection:
        """The transaction's connection, checked out and begun on first use."""
        if self._conn is None:
            conn = (self._idle.take() if self._idle is not None else None) or self.bind.connect()
            try:
                if self._begin is None:
                    conn.begin()
                else:
                    begin_on(conn.connection.dbapi_connection, self._begin, conn.dialect)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def fast_handles(self) -> tuple[Connection, Any, bool]:
        """For ``engine.fastsql``: the connection, its DBAPI connection, whether statement listeners are set.

        Kept for the transaction: the connection never changes here, and
        asking SQLAlchemy about listeners costs ~1.5 µs a statement (a
        listener registered during a transaction sees the statements of the
        next one).
        """
        handles = self._handles
        if handles is None:
            conn = self.connection()
            dispatch = conn.dispatch
            watched = bool(dispatch.before_cursor_execute or dispatch.after_cursor_execute)
            handles = self._handles = (conn, conn.connection.dbapi_connection, watched)
        return handles

    @property
    def orm(self) -> Session:
        """A real ORM session in this transaction (made on first use)."""
        if self._orm is None:
            self._orm = Session(bind=self.connection(), expire_on_commit=False)
        return self._orm

    def __getattr__(self, name: str) -> Any:
        # Only reached for what this class does not define: the rest of Session's interface.
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.orm, name)

    def commit(self) -> None:
        """Write what is pending, commit, then run the after-commit callbacks."""
        for hook in _BEFORE_COMMIT:
            hook(self)
        if self._orm is not None:
            self._orm.flush()
        conn = self._conn
        if conn is not None:
            if conn.in_transaction():  # SQLAlchemy began it, or joined the one begun on the DBAPI connection
                conn.commit()
            else:
                _raw_end(conn, "commit")
        self._after_commit(self)

    def rollback(self) -> None:
        """Roll back (nothing is written; after-commit callbacks are dropped)."""
        try:
            conn = self._conn
            if conn is not None and conn.in_transaction():
                conn.rollback()
            elif conn is not None and not conn.closed and not conn.invalidated:
                _raw_end(conn, "rollback")
        finally:
            self._after_rollback(self)

    def close(self) -> None:
        """Give the connection back to the pool (rolling back what was not committed)."""
        orm, conn = self._orm, self._conn
        self._orm = self._conn = self._handles = None
        try:
            if orm is not None:
                orm.close()
        finally:
            if conn is not None and (self._idle is None or not self._idle.give_back(conn)):
                conn.close()


class IdleConnections:
    """Connections kept checked out between transactions, for the next transaction of any thread.

    Taking a connection from SQLAlchemy's pool and giving it back (with the
    pool's events and its reset) costs about 35 µs, as much as SQLite's own
    BEGIN and COMMIT of a small action. A few ended connections wait here
    instead; a transaction takes one before asking the pool, so keeping them
    never starves the pool. Only for a database without a server (SQLite):
    the pool's pre-ping, which notices a connection the server dropped, is
    not run on a connection taken from here.
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._conns: list[Connection] = []

    def __len__(self) -> int:
        return len(self._conns)

    def take(self) -> Connection | None:
        """An ended, usable connection, or None."""
        try:
            return self._conns.pop()  # atomic: no lock needed
        except IndexError:
            return None

    def give_back(self, conn: Connection) -> bool:
        """Keep ``conn`` for a later transaction; False when it cannot be kept (the caller closes it)."""
        if conn.closed or conn.invalidated or len(self._conns) >= self._capacity:
            return False
        try:
            if conn.in_transaction():  # the block ended without commit or rollback (an error in between)
                conn.rollback()
            elif conn.connection.dbapi_connection.in_transaction:  # ditto, begun on the DBAPI connection
                _raw_end(conn, "rollback")
        except Exception:  # noqa: BLE001 - a connection that cannot roll back is closed, not kept
            return False
        self._conns.append(conn)
        return True

    def close(self) -> None:
        """Close every kept connection (they go back to the pool)."""
        while (conn := self.take()) is not None:
            conn.close()


def _raw_end(conn: Connection, how: str) -> None:
    """Commit or roll back the transaction begun on ``conn``'s DBAPI connection; errors as SQLAlchemy's."""
    raw = conn.connection.dbapi_connection
    dialect = conn.dialect
    try:
        getattr(raw, how)()
    except dialect.loaded_dbapi.Error as error:
        if dialect.is_disconnect(error, raw, None):
            conn.invalidate(error)
        raise DBAPIError.instance(how.upper(), None, error, dialect.loaded_dbapi.Error, dialect=dialect) from error
