"""Inbox index: drop ``ix_human_tasks_instance_id``, which the unique (instance_id, task_key) index covers.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29

Both databases use the leftmost column of the unique index for lookups by
instance alone, so the single-column index only cost a write (and, on SQLite,
a WAL page) on every inbox row created.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_human_tasks_instance_id", table_name="human_tasks")


def downgrade() -> None:
    op.create_index("ix_human_tasks_instance_id", "human_tasks", ["instance_id"])
