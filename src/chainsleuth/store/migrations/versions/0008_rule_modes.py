"""Monitoring rule mode overrides (promote a shadow rule to active, demote to shadow).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 10:40:00

One new table (see ``chainsleuth.store.models.rule_modes``); the mode enumeration is frozen here as a literal.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import chainsleuth.store.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "monitor_rule_modes",
        sa.Column("rule_id", sa.String(length=80), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("changed_by", sa.String(length=64), nullable=False),
        sa.Column("changed_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("mode IN ('active', 'shadow')", name=op.f("ck_monitor_rule_modes_mode_valid")),
        sa.PrimaryKeyConstraint("rule_id", name=op.f("pk_monitor_rule_modes")),
    )


def downgrade() -> None:
    op.drop_table("monitor_rule_modes")
