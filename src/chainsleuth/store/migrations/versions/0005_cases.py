"""Cases, evidence and timelines, four-eyes account actions, legal holds and goAML reports.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 09:40:00

Only new tables (see ``chainsleuth.store.models.cases``); enumerations are frozen here as literals, as in the
earlier revisions. ``cases``, ``account_actions`` and ``str_reports`` carry an optimistic-locking ``version``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import chainsleuth.store.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.String(length=10), nullable=False),
        sa.Column("queue", sa.String(length=40), nullable=False),
        sa.Column("assignee", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decision", sa.String(length=40), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("closed_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=128), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.CheckConstraint(
            "decision IN ('sar_filed', 'no_further_action', 'account_actions_taken', 'referred_to_law_enforcement')",
            name=op.f("ck_cases_decision_valid"),
        ),
        sa.CheckConstraint("priority IN ('low', 'medium', 'high', 'critical')", name=op.f("ck_cases_priority_valid")),
        sa.CheckConstraint(
            "status IN ('open', 'investigating', 'escalated', 'closed')", name=op.f("ck_cases_status_valid")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cases_assignee"), ["assignee"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_status_queue"), ["status", "queue"], unique=False)

    op.create_table(
        "case_alerts",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("added_by", sa.String(length=128), nullable=False),
        sa.Column("added_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["monitor_alerts.id"], name=op.f("fk_case_alerts_alert_id_monitor_alerts")
        ),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_alerts_case_id_cases")),
        sa.PrimaryKeyConstraint("case_id", "alert_id", name=op.f("pk_case_alerts")),
        sa.UniqueConstraint("alert_id", name=op.f("uq_case_alerts_alert_id")),
    )
    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("occurred_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_events_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_events")),
    )
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_events_case_id_id"), ["case_id", "id"], unique=False)

    op.create_table(
        "case_evidence",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("storage_path", sa.Text(), nullable=True),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("added_by", sa.String(length=128), nullable=False),
        sa.Column("added_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('trace', 'exposure', 'document', 'ledger_extract')", name=op.f("ck_case_evidence_kind_valid")
        ),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_evidence_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_evidence")),
    )
    with op.batch_alter_table("case_evidence", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_evidence_case_id"), ["case_id"], unique=False)

    op.create_table(
        "case_links",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("link_type", sa.String(length=16), nullable=False),
        sa.Column("chain", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=128), nullable=False),
        sa.Column("added_by", sa.String(length=128), nullable=False),
        sa.Column("added_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "link_type IN ('customer', 'account', 'address')", name=op.f("ck_case_links_link_type_valid")
        ),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_links_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_links")),
        sa.UniqueConstraint(
            "case_id", "link_type", "chain", "target", name=op.f("uq_case_links_case_id_link_type_chain_target")
        ),
    )
    with op.batch_alter_table("case_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_links_link_type_target"), ["link_type", "target"], unique=False)

    op.create_table(
        "case_notes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=128), nullable=False),
        sa.Column("created_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_notes_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_notes")),
    )
    with op.batch_alter_table("case_notes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_notes_case_id"), ["case_id"], unique=False)

    op.create_table(
        "str_reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("report_code", sa.String(length=10), nullable=False),
        sa.Column("entity_reference", sa.String(length=255), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("xml", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("validation_errors", sa.JSON(), nullable=False),
        sa.Column("event_ids", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("action_taken", sa.Text(), nullable=False),
        sa.Column("indicators", sa.JSON(), nullable=False),
        sa.Column("drafted_by", sa.String(length=128), nullable=False),
        sa.Column("drafted_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sa.String(length=128), nullable=True),
        sa.Column("approved_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("submitted_by", sa.String(length=128), nullable=True),
        sa.Column("submitted_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("submission_count", sa.Integer(), nullable=False),
        sa.Column("fiu_ref_number", sa.String(length=255), nullable=True),
        sa.Column("fiu_reason", sa.Text(), nullable=True),
        sa.Column("acknowledged_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("rejected_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.CheckConstraint(
            "status IN ('drafted', 'approved', 'submitted', 'acknowledged', 'rejected')",
            name=op.f("ck_str_reports_status_valid"),
        ),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_str_reports_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_str_reports")),
        sa.UniqueConstraint("entity_reference", name=op.f("uq_str_reports_entity_reference")),
    )
    with op.batch_alter_table("str_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_str_reports_case_id"), ["case_id"], unique=False)

    op.create_table(
        "account_actions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("legal_basis", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=True),
        sa.Column("destination_chain", sa.String(length=16), nullable=True),
        sa.Column("destination_address", sa.String(length=128), nullable=True),
        sa.Column("destination_account_id", sa.String(length=32), nullable=True),
        sa.Column("target_action_id", sa.Integer(), nullable=True),
        sa.Column("review_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("proposed_by", sa.String(length=128), nullable=False),
        sa.Column("proposed_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sa.String(length=128), nullable=True),
        sa.Column("approved_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("rejected_by", sa.String(length=128), nullable=True),
        sa.Column("rejected_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("rejection_reason", sa.Text(), nullable=True),
        sa.Column("activated_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.Text(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.CheckConstraint(
            "kind IN ('freeze', 'unfreeze', 'seize', 'preserve')", name=op.f("ck_account_actions_kind_valid")
        ),
        sa.CheckConstraint(
            "status IN ('proposed', 'approved', 'active', 'expired', 'released', 'completed', 'rejected')",
            name=op.f("ck_account_actions_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.account_id"], name=op.f("fk_account_actions_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_account_actions_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.customer_id"], name=op.f("fk_account_actions_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["destination_account_id"],
            ["accounts.account_id"],
            name=op.f("fk_account_actions_destination_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["target_action_id"],
            ["account_actions.id"],
            name=op.f("fk_account_actions_target_action_id_account_actions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_actions")),
    )
    with op.batch_alter_table("account_actions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_account_actions_account_id_status"), ["account_id", "status"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_account_actions_customer_id_status"), ["customer_id", "status"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_account_actions_fingerprint"), ["fingerprint"], unique=False)

    op.create_table(
        "legal_holds",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("legal_basis", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("placed_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("until", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("released_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["action_id"], ["account_actions.id"], name=op.f("fk_legal_holds_action_id_account_actions")
        ),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_legal_holds_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.customer_id"], name=op.f("fk_legal_holds_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_holds")),
        sa.UniqueConstraint("action_id", name=op.f("uq_legal_holds_action_id")),
    )
    with op.batch_alter_table("legal_holds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_legal_holds_customer_id_active"), ["customer_id", "active"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("legal_holds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_legal_holds_customer_id_active"))

    op.drop_table("legal_holds")
    with op.batch_alter_table("account_actions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_actions_fingerprint"))
        batch_op.drop_index(batch_op.f("ix_account_actions_customer_id_status"))
        batch_op.drop_index(batch_op.f("ix_account_actions_account_id_status"))

    op.drop_table("account_actions")
    with op.batch_alter_table("str_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_str_reports_case_id"))

    op.drop_table("str_reports")
    with op.batch_alter_table("case_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_notes_case_id"))

    op.drop_table("case_notes")
    with op.batch_alter_table("case_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_links_link_type_target"))

    op.drop_table("case_links")
    with op.batch_alter_table("case_evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_evidence_case_id"))

    op.drop_table("case_evidence")
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_events_case_id_id"))

    op.drop_table("case_events")
    op.drop_table("case_alerts")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cases_status_queue"))
        batch_op.drop_index(batch_op.f("ix_cases_assignee"))

    op.drop_table("cases")
