"""The Alembic migrations build exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from engine.db import Database, alembic_config, downgrade
from engine.models import Base


def _drift(db: Database) -> list[object]:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        return list(compare_metadata(context, Base.metadata))


def test_one_linear_history():
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1
    assert [rev.revision for rev in script.walk_revisions()][-1] == "0001"


def test_migrated_schema_matches_the_models(empty_db_url):
    db = Database(empty_db_url)
    try:
        db.upgrade()
        assert _drift(db) == []
        inspector = inspect(db.engine)
        assert set(inspector.get_table_names()) >= {t.name for t in Base.metadata.sorted_tables}
        # Check constraints and named uniques are not compared by autogenerate: check them here.
        for table in Base.metadata.sorted_tables:
            expected_checks = {c.name for c in table.constraints if c.__class__.__name__ == "CheckConstraint"}
            found_checks = {c["name"] for c in inspector.get_check_constraints(table.name)}
            assert expected_checks <= found_checks, table.name
            expected_uniques = {c.name for c in table.constraints if c.__class__.__name__ == "UniqueConstraint"}
            found_uniques = {c["name"] for c in inspector.get_unique_constraints(table.name)}
            assert expected_uniques == found_uniques, table.name
    finally:
        db.dispose()


def test_upgrade_is_repeatable_and_downgrade_empties(empty_db_url):
    db = Database(empty_db_url)
    try:
        db.upgrade()
        db.upgrade()  # already at head: nothing to do
        downgrade(db.engine, "base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        db.upgrade()
        assert _drift(db) == []
    finally:
        db.dispose()


@pytest.mark.parametrize("table", ["audit_events", "inquiry_records"])
def test_logs_are_append_only_in_the_database(db, clock, table):
    with db.session_scope() as session:
        if table == "audit_events":
            session.execute(text("INSERT INTO audit_events (at, actor, action, details) "
                                 "VALUES (:at, 'a', 'x', '{}')"), {"at": clock.now()})
        else:
            session.execute(text("INSERT INTO inquiry_records (id, seq, prev_hash, hash, service_id, requested_at, "
                                 "status, attempt) VALUES ('r1', 1, :p, :h, 's', :at, 'ok', 1)"),
                            {"p": "0" * 64, "h": "1" * 64, "at": clock.now()})
    for statement in (f"UPDATE {table} SET status = 'x'" if table == "inquiry_records"
                      else f"UPDATE {table} SET actor = 'x'", f"DELETE FROM {table}"):
        with pytest.raises(DBAPIError, match="append-only"), db.session_scope() as session:
            session.execute(text(statement))
    with db.session_scope(readonly=True) as session:
        assert session.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 1
