"""Version tags: the versionTag each deployed version gives each process it holds.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29

A Camunda call activity may ask for the called process by its version tag
(``camunda:calledElementBinding="versionTag"``); the tag is an attribute of
the called ``process`` element (``camunda:versionTag``). The rows of versions
deployed before this migration get theirs from the stored BPMN, read with
the same precautions as an upload (no entities, no network).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from lxml import etree

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BPMN_PROCESS = "{http://www.omg.org/spec/BPMN/20100524/MODEL}process"


def _tags(bpmn: bytes) -> dict[str, str]:
    """process id -> versionTag (whatever namespace prefixes it) in one stored model; {} if unreadable."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(bpmn, parser)
    except etree.XMLSyntaxError:
        return {}
    tags = {}
    for process in root.iter(_BPMN_PROCESS):
        tag = next((v for k, v in process.attrib.items() if k.rpartition("}")[2] == "versionTag"), "").strip()
        if process.get("id") and tag:
            tags[process.get("id")] = tag[:200]
    return tags


def upgrade() -> None:
    with op.batch_alter_table("version_processes") as batch:
        batch.add_column(sa.Column("version_tag", sa.String(200), nullable=True))
    held = sa.table("version_processes", sa.column("version_id", sa.String), sa.column("process_id", sa.String),
                    sa.column("version_tag", sa.String))
    versions = sa.table("process_versions", sa.column("id", sa.String), sa.column("bpmn", sa.LargeBinary))
    bind = op.get_bind()
    for version_id, bpmn in bind.execute(sa.select(versions.c.id, versions.c.bpmn)).all():
        for process_id, tag in _tags(bytes(bpmn or b"")).items():
            bind.execute(sa.update(held).where(held.c.version_id == version_id, held.c.process_id == process_id)
                         .values(version_tag=tag))


def downgrade() -> None:
    with op.batch_alter_table("version_processes") as batch:
        batch.drop_column("version_tag")
