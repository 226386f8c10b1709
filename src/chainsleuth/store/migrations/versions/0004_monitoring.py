"""Monitoring: rule versions, alerts, shadow-mode hits and backtest reports.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 10:10:00

Only new tables (see ``chainsleuth.store.models.alerts``); enumerations are frozen here as literals, as in
the earlier revisions.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import chainsleuth.store.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "monitor_alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alert_key", sa.String(length=300), nullable=False),
        sa.Column("rule_id", sa.String(length=80), nullable=False),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.Column("rule_revision", sa.Integer(), nullable=False),
        sa.Column("rule_hash", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("queue", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("subject_type", sa.String(length=20), nullable=False),
        sa.Column("subject_id", sa.String(length=128), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("combined_score", sa.Float(), nullable=False),
        sa.Column("first_event_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_event_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("hit_count", sa.Integer(), nullable=False),
        sa.Column("event_ids", sa.JSON(), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "severity IN ('low', 'medium', 'high', 'critical')", name=op.f("ck_monitor_alerts_severity_valid")
        ),
        sa.CheckConstraint(
            "status IN ('open', 'in_review', 'escalated', 'closed')", name=op.f("ck_monitor_alerts_status_valid")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_alerts")),
        sa.UniqueConstraint("alert_key", name=op.f("uq_monitor_alerts_alert_key")),
    )
    with op.batch_alter_table("monitor_alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_monitor_alerts_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_monitor_alerts_queue_status"), ["queue", "status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_monitor_alerts_rule_id_subject_type_subject_id_last_event_at"),
            ["rule_id", "subject_type", "subject_id", "last_event_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_monitor_alerts_subject_type_subject_id"), ["subject_type", "subject_id"], unique=False
        )

    op.create_table(
        "monitor_backtests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("engine", sa.String(length=10), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("created_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_backtests")),
    )
    op.create_table(
        "monitor_rules",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rule_id", sa.String(length=80), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("created_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("mode IN ('active', 'shadow')", name=op.f("ck_monitor_rules_mode_valid")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_rules")),
        sa.UniqueConstraint("rule_id", "content_hash", name=op.f("uq_monitor_rules_rule_id_content_hash")),
        sa.UniqueConstraint("rule_id", "revision", name=op.f("uq_monitor_rules_rule_id_revision")),
    )
    op.create_table(
        "monitor_shadow_hits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rule_id", sa.String(length=80), nullable=False),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.Column("rule_hash", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=32), nullable=False),
        sa.Column("occurred_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("subject_type", sa.String(length=20), nullable=False),
        sa.Column("subject_id", sa.String(length=128), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=True),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("recorded_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_shadow_hits")),
        sa.UniqueConstraint("rule_hash", "event_id", name=op.f("uq_monitor_shadow_hits_rule_hash_event_id")),
    )
    with op.batch_alter_table("monitor_shadow_hits", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monitor_shadow_hits_rule_id_occurred_at"), ["rule_id", "occurred_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("monitor_shadow_hits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monitor_shadow_hits_rule_id_occurred_at"))

    op.drop_table("monitor_shadow_hits")
    op.drop_table("monitor_rules")
    op.drop_table("monitor_backtests")
    with op.batch_alter_table("monitor_alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monitor_alerts_subject_type_subject_id"))
        batch_op.drop_index(batch_op.f("ix_monitor_alerts_rule_id_subject_type_subject_id_last_event_at"))
        batch_op.drop_index(batch_op.f("ix_monitor_alerts_queue_status"))
        batch_op.drop_index(batch_op.f("ix_monitor_alerts_customer_id"))

    op.drop_table("monitor_alerts")
