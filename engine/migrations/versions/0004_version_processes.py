"""Version processes: which deployed version holds which process.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29

A call activity may call a process of another model. The engine resolves it,
when an instance starts, to the newest deployed version holding that process
and pins it for the instance's life; this table is what it looks in. The rows
of versions deployed before this migration come from their stored specs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        "version_processes",
        sa.Column("version_id", sa.String(36), nullable=False),
        sa.Column("process_id", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(["version_id"], ["process_versions.id"], ondelete="CASCADE",
                                name=op.f("fk_version_processes_version_id_process_versions")),
        sa.PrimaryKeyConstraint("version_id", "process_id", name=op.f("pk_version_processes")),
    )
    op.create_index("ix_version_processes_process_id", "version_processes", ["process_id"])
    versions = sa.table("process_versions", sa.column("id", sa.String), sa.column("spec", sa.Text))
    bind = op.get_bind()
    rows = []
    # Read as text on both databases (JSON on SQLite, JSONB on PostgreSQL): one parse, here.
    for version_id, spec in bind.execute(sa.select(versions.c.id, sa.cast(versions.c.spec, sa.Text))
                                         .where(versions.c.spec.is_not(None))):
        processes = (json.loads(spec) or {}).get("processes") or {}
        rows += [{"version_id": version_id, "process_id": pid} for pid in processes]
    if rows:
        op.bulk_insert(table, rows)


def downgrade() -> None:
    op.drop_index("ix_version_processes_process_id", table_name="version_processes")
    op.drop_table("version_processes")
