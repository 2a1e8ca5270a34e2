"""Event subscriptions: which instance waits for which message or signal.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28

Signals are broadcast to every waiting instance, whatever its business key;
this table lets delivery find them without loading each waiting instance.
Each action keeps its instance's rows. An instance that was already waiting
when this migration ran gets its rows at its next action (the waits live in
the engine state, which a migration cannot read).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_subscriptions",
        sa.Column("instance_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["instances.id"], ondelete="CASCADE",
                                name=op.f("fk_event_subscriptions_instance_id_instances")),
        sa.PrimaryKeyConstraint("instance_id", "kind", "name", name=op.f("pk_event_subscriptions")),
    )
    op.create_index("ix_event_subscriptions_kind_name", "event_subscriptions", ["kind", "name"])


def downgrade() -> None:
    op.drop_index("ix_event_subscriptions_kind_name", table_name="event_subscriptions")
    op.drop_table("event_subscriptions")
