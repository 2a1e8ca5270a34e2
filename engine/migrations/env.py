"""Alembic environment for Panjereh's schema (run through ``engine.db.upgrade``).

The caller normally hands over an open connection in
``config.attributes["connection"]`` so the migration runs inside its
transaction; otherwise the URL comes from ``sqlalchemy.url`` or
``DATABASE_URL``. SQLite cannot ``ALTER`` most things, so migrations there
run in batch mode (copy the table, swap), which needs the named constraints
of ``engine.models.NAMING_CONVENTION``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text

from engine.db import create_engine_for, database_url
from engine.models import Base

config = context.config
target_metadata = Base.metadata


# Several workers started with --migrate must not migrate at once: PostgreSQL serialises them
# on this advisory lock (held until the migration's transaction ends); SQLite's BEGIN IMMEDIATE does it there.
MIGRATION_LOCK_KEY = 0x50414E4A4D494752  # "PANJMIGR"


def _configure(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_migrations_offline() -> None:
    """Print the SQL instead of running it (``alembic upgrade --sql``)."""
    url = config.get_main_option("sqlalchemy.url") or database_url()
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=url.startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the given connection, or on a new one."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine_for(config.get_main_option("sqlalchemy.url") or database_url())
    try:
        with engine.begin() as conn:
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
