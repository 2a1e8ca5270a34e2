"""Subscription backfill: instances that were waiting before ``event_subscriptions`` existed.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28

Migration 0002 made the table that signal broadcasts read, but it could not
fill it: what an instance waits for lives in its engine state, which only
the engine can read. An instance that waited for nothing but a signal would
never act again, so it would never get its rows and never get the signal.
This lists every instance waiting now; the engine works through the list
(one transaction per instance) before it next looks up who waits for a
signal, and each row goes when its instance has its subscriptions.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "subscription_backfill",
        sa.Column("instance_id", sa.String(36), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["instances.id"], ondelete="CASCADE",
                                name=op.f("fk_subscription_backfill_instance_id_instances")),
        sa.PrimaryKeyConstraint("instance_id", name=op.f("pk_subscription_backfill")),
    )
    op.execute("INSERT INTO subscription_backfill (instance_id) SELECT id FROM instances WHERE status = 'waiting'")


def downgrade() -> None:
    op.drop_table("subscription_backfill")
