"""The engine's hot-path statements, compiled once and run straight on the transaction's DBAPI cursor.

Every action runs seven or eight small statements (lock the instance, write
the inbox row, the changed state parts, the job, the audit events...), and a
case runs about seventy-five. SQLAlchemy Core spends 60-180 µs of
bookkeeping on each of them (execution context, parameter processing,
result metadata), several times what SQLite itself needs. :func:`execute`
keeps SQLAlchemy for what it is good at here (the statement, the dialect's
SQL, the column types and the transaction) and skips the per-call
bookkeeping:

* each (statement, dialect, parameter names) is compiled once into a *plan*:
  the SQL string, the bind names in order, each bind's type processor and,
  for SELECT or RETURNING, each result column's processor;
* a call converts the parameters with those processors, runs the SQL on a
  cursor of the session's own connection (same transaction: SQLite's
  ``BEGIN IMMEDIATE``, PostgreSQL's row locks) and converts the rows back.

Statements the plan cannot honour exactly (Python-side column defaults,
expanding ``IN`` lists, post-compile parameters, RETURNING on executemany)
are handed to ``session.execute`` unchanged, so a caller never has to know.
DBAPI errors are raised as SQLAlchemy's own exceptions (``IntegrityError``,
``OperationalError``...), as ``session.execute`` would. ``before_cursor_execute``
and ``after_cursor_execute`` listeners still see every statement (tests
count writes with them); SQLAlchemy's ``echo`` log does not.
"""

from __future__ import annotations

import threading
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select
from sqlalchemy.sql.dml import UpdateBase

Processor = Callable[[Any], Any] | None


class _Plan:
    """One statement compiled for one dialect and one set of parameter names."""

    __slots__ = ("names", "positional", "row", "row_processors", "sources", "sql")

    def __init__(self, compiled: Any, dialect: Dialect, keys: Sequence[str], columns: list[Any]) -> None:
        self.sql: str = compiled.string
        self.positional = bool(compiled.positional)
        # bind_names: each bind parameter's name as rendered (anonymous ones numbered).
        by_name = {name: bind for bind, name in compiled.bind_names.items()}
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ()) if self.positional else tuple(by_name)
        given = set(keys)
        # Per rendered name: (the caller's key, or None for a value fixed in the statement; that
        # value; the type's bind processor), which is what construct_params would work out per call.
        sources = []
        for name in self.names:
            bind = by_name[name]
            key = bind.key if bind.key in given else name if name in given else None
            if key is None and (bind.required or bind.callable is not None):
                raise _Unplannable(f"parameter {bind.key!r} is neither given nor fixed")
            sources.append((key, bind.value, bind.type.dialect_impl(dialect).bind_processor(dialect)))
        self.sources: tuple[tuple[str | None, Any, Processor], ...] = tuple(sources)
        self.row: Any = None
        self.row_processors: tuple[Processor, ...] = ()
        if columns:
            try:
                self.row = namedtuple("Row", [c.key for c in columns])  # type: ignore[misc]
            except ValueError as exc:  # an unlabelled expression, a keyword, a leading underscore
                raise _Unplannable(f"result columns that are not names: {exc}") from exc
            self.row_processors = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None)
                                        for c in columns)

    def parameters(self, params: Mapping[str, Any]) -> Any:
        converted = []
        for key, fixed, proc in self.sources:
            value = fixed if key is None else params[key]
            converted.append(value if proc is None else proc(value))
        return converted if self.positional else dict(zip(self.names, converted, strict=True))

    def rows(self, raw: list[Any]) -> list[Any]:
        make, procs = self.row._make, self.row_processors
        return [make([v if p is None else p(v) for v, p in zip(r, procs, strict=True)]) for r in raw]


class _Unplannable(Exception):
    """The statement needs SQLAlchemy's per-call work; ``session.execute`` runs it."""


def _result_columns(statement: Any) -> list[Any]:
    if isinstance(statement, Select):
        return list(statement.selected_columns)
    if isinstance(statement, UpdateBase) and statement._returning:
        return list(statement.exported_columns)
    return []


def _make_plan(statement: Any, dialect: Dialect, keys: Sequence[str], many: bool) -> _Plan | None:
    """The plan, or None when only ``session.execute`` can run the statement faithfully."""
    compiled = statement.compile(dialect=dialect, column_keys=list(keys), for_executemany=many)
    columns = _result_columns(statement)
    if (compiled.insert_prefetch or compiled.update_prefetch  # Python-side defaults to compute
            or compiled.literal_execute_params or compiled.post_compile_params  # rendered per call
            or compiled.escaped_bind_names
            or (many and columns)
            or len({c.key for c in columns}) != len(columns)):
        return None
    try:
        return _Plan(compiled, dialect, keys, columns)
    except _Unplannable:
        return None


# Plans are found by id(statement); each entry holds its statement, so the id cannot be reused
# while the entry exists. The hot path's statements are module-level (or cached per shape), so
# the map stays small; MAX_PLANS guards against a caller building statements per call.
MAX_PLANS = 1024
_PLANS: dict[tuple[int, str, tuple[str, ...], bool], tuple[Any, _Plan | None]] = {}
_PLANS_LOCK = threading.Lock()


def _plan(statement: Any, dialect: Dialect, keys: tuple[str, ...], many: bool) -> _Plan | None:
    key = (id(statement), dialect.name, keys, many)
    found = _PLANS.get(key)
    if found is not None and found[0] is statement:
        return found[1]
    plan = _make_plan(statement, dialect, keys, many)
    with _PLANS_LOCK:
        if len(_PLANS) < MAX_PLANS:
            _PLANS[key] = (statement, plan)
    return plan


class FastResult:
    """What :func:`execute` returns: the rows (if any) and the row count, like a buffered Result."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rowcount: int, rows: list[Any]) -> None:
        self.rowcount = rowcount
        self._rows = rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def all(self) -> list[Any]:
        return list(self._rows)

    def one(self) -> Any:
        if len(self._rows) != 1:
            raise sa_exc.NoResultFound("no row was found") if not self._rows else \
                sa_exc.MultipleResultsFound("several rows were found")
        return self._rows[0]

    def one_or_none(self) -> Any:
        if len(self._rows) > 1:
            raise sa_exc.MultipleResultsFound("several rows were found")
        return self._rows[0] if self._rows else None

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def scalar_one_or_none(self) -> Any:
        row = self.one_or_none()
        return None if row is None else row[0]

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalars(self) -> list[Any]:
        return [row[0] for row in self._rows]


def execute(session: Session, statement: Any, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None
            ) -> Any:
    """Run ``statement`` in ``session``'s transaction; a list of parameter sets is an executemany.

    Returns a :class:`FastResult` (or, for a statement handed on, SQLAlchemy's
    own result, which offers the same methods).
    """
    many = type(params) is list
    if many and not params:
        return FastResult(0, [])
    first: Mapping[str, Any] = params[0] if many else (params or {})  # type: ignore[index,assignment]
    conn, raw, watched = _connection(session)
    dialect = conn.dialect
    keys = tuple(first)
    plan = _plan(statement, dialect, keys, many)
    if plan is None:
        return session.execute(statement, params)
    if many:
        if any(tuple(p) != keys for p in params):  # type: ignore[union-attr]
            return session.execute(statement, params)
        bound: Any = [plan.parameters(p) for p in params]  # type: ignore[union-attr]
    else:
        bound = plan.parameters(first)
    return _run(conn, raw, dialect, plan, bound, many, watched)


def dialect_name(session: Session) -> str:
    """The name of the session's database dialect (``session.get_bind()`` costs ~15 µs a call)."""
    bind = session.bind
    return (bind if bind is not None else session.get_bind()).dialect.name


def runs_fast(session: Session, statement: Any, params: Mapping[str, Any] | None = None) -> bool:
    """Whether :func:`execute` runs ``statement`` with these parameter names itself (not handed on)."""
    dialect = _connection(session)[0].dialect
    return _plan(statement, dialect, tuple(params or {}), False) is not None


_CONNECTION = "panjereh.fastsql.connection"


def _connection(session: Session) -> tuple[Connection, Any, bool]:
    """The session's connection in its current transaction, its DBAPI connection, and whether it has listeners.

    An ``engine.transaction.Transaction`` keeps these for its whole life
    (its connection is never swapped). For a plain ORM session,
    ``session.connection()`` costs ~20 µs a call; the pair is kept in the
    session until its transaction ends.
    """
    fast = getattr(session, "fast_handles", None)
    if fast is not None:
        return fast()  # type: ignore[no-any-return]
    found = session.info.get(_CONNECTION)
    if found is None or found[0].closed or found[0].invalidated or not found[0].in_transaction():
        conn = session.connection()
        raw = conn.connection.dbapi_connection
        assert raw is not None
        found = session.info[_CONNECTION] = (conn, raw)
    conn, raw = found
    dispatch = conn.dispatch
    return conn, raw, bool(dispatch.before_cursor_execute or dispatch.after_cursor_execute)


def _run(conn: Connection, raw: Any, dialect: Dialect, plan: _Plan, bound: Any, many: bool,
         watched: bool) -> FastResult:
    cursor = raw.cursor()
    sql = plan.sql
    try:
        if watched:
            conn.dispatch.before_cursor_execute(conn, cursor, sql, bound, None, many)
        if many:
            cursor.executemany(sql, bound)
        else:
            cursor.execute(sql, bound)
        if watched:
            conn.dispatch.after_cursor_execute(conn, cursor, sql, bound, None, many)
        rows = plan.rows(cursor.fetchall()) if plan.row is not None else []
        return FastResult(cursor.rowcount, rows)  # after the fetch: SQLite counts RETURNING rows as they come
    except dialect.loaded_dbapi.Error as error:
        if dialect.is_disconnect(error, raw, cursor):
            conn.invalidate(error)
        raise sa_exc.DBAPIError.instance(sql, bound, error, dialect.loaded_dbapi.Error,
                                         dialect=dialect) from error
    finally:
        cursor.close()
