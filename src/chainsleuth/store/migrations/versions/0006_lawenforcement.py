"""Law-enforcement portal: agencies, officers, outbox, requests, targets, files, call-backs, packages, messages.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 09:50:00

Only new tables (see ``chainsleuth.store.models.lawenforcement``). Encrypted columns are plain ``TEXT`` here (the
privacy layer's column type encrypts in Python); enumerations are frozen as CHECK literals.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import chainsleuth.store.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "le_agencies",
        sa.Column("agency_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("jurisdictions", sa.JSON(), nullable=False),
        sa.Column("domains", sa.JSON(), nullable=False),
        sa.Column("contacts", sa.JSON(), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("(true)"), nullable=False),
        sa.Column("created_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.PrimaryKeyConstraint("agency_id", name=op.f("pk_le_agencies")),
    )
    op.create_table(
        "le_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("to_address", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_le_outbox")),
    )
    op.create_table(
        "le_officers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("agency_id", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("email_verified_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("email_nonce", sa.String(length=32), nullable=False),
        sa.Column("totp_confirmed_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("totp_last_step", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("failed_checks", sa.Integer(), nullable=False),
        sa.Column("approved_by", sa.String(length=128), nullable=True),
        sa.Column("approved_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("suspended_by", sa.String(length=128), nullable=True),
        sa.Column("suspended_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("suspension_reason", sa.Text(), nullable=True),
        sa.Column("created_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.CheckConstraint("status IN ('pending', 'approved', 'suspended')", name=op.f("ck_le_officers_status_valid")),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["le_agencies.agency_id"], name=op.f("fk_le_officers_agency_id_le_agencies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_le_officers")),
        sa.UniqueConstraint("username", name=op.f("uq_le_officers_username")),
    )
    with op.batch_alter_table("le_officers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_le_officers_agency_id"), ["agency_id"], unique=False)

    op.create_table(
        "le_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("reference", sa.String(length=32), nullable=False),
        sa.Column("agency_id", sa.String(length=64), nullable=False),
        sa.Column("officer_username", sa.String(length=64), nullable=False),
        sa.Column("request_type", sa.String(length=24), nullable=False),
        sa.Column("legal_basis", sa.String(length=32), nullable=False),
        sa.Column("legal_reference", sa.Text(), nullable=False),
        sa.Column("jurisdiction", sa.String(length=2), nullable=False),
        sa.Column("case_number", sa.String(length=100), nullable=False),
        sa.Column("offence", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("data_categories", sa.JSON(), nullable=False),
        sa.Column("date_from", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("date_to", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("requested_deadline", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("parent_request_id", sa.Integer(), nullable=True),
        sa.Column("seizure_destination", sa.JSON(), nullable=True),
        sa.Column("non_disclosure", sa.Boolean(), nullable=False),
        sa.Column("non_disclosure_until", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("instrument_file_id", sa.Integer(), nullable=True),
        sa.Column("instrument_sha256", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("queue", sa.String(length=20), nullable=False),
        sa.Column("submitted_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("escalated_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("claimed_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("risk_score", sa.Integer(), nullable=False),
        sa.Column("risk_reasons", sa.JSON(), nullable=False),
        sa.Column("triage", sa.JSON(), nullable=False),
        sa.Column("callback_confirmed_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("outcome_reason", sa.Text(), nullable=True),
        sa.Column("closed_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.CheckConstraint(
            "request_type IN ('preservation', 'production', 'emergency_disclosure', 'freeze', 'seizure', "
            "'informational', 'follow_up', 'unfreeze')",
            name=op.f("ck_le_requests_request_type_valid"),
        ),
        sa.CheckConstraint(
            "status IN ('submitted', 'in_triage', 'awaiting_callback', 'in_progress', 'responded', 'declined', "
            "'closed')",
            name=op.f("ck_le_requests_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["le_agencies.agency_id"], name=op.f("fk_le_requests_agency_id_le_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["parent_request_id"], ["le_requests.id"], name=op.f("fk_le_requests_parent_request_id_le_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_le_requests")),
        sa.UniqueConstraint("reference", name=op.f("uq_le_requests_reference")),
    )
    with op.batch_alter_table("le_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_le_requests_agency_id_submitted_at"), ["agency_id", "submitted_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_le_requests_status_queue_due_at"), ["status", "queue", "due_at"], unique=False
        )

    op.create_table(
        "le_callbacks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("performed_by", sa.String(length=128), nullable=False),
        sa.Column("contact_name", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("called_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('confirmed', 'not_confirmed', 'no_answer')", name=op.f("ck_le_callbacks_outcome_valid")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["le_requests.id"], name=op.f("fk_le_callbacks_request_id_le_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_le_callbacks")),
    )
    with op.batch_alter_table("le_callbacks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_le_callbacks_request_id"), ["request_id"], unique=False)

    op.create_table(
        "le_files",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data_key", sa.Text(), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('instrument', 'attachment', 'package_draft', 'package')", name=op.f("ck_le_files_kind_valid")
        ),
        sa.ForeignKeyConstraint(["request_id"], ["le_requests.id"], name=op.f("fk_le_files_request_id_le_requests")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_le_files")),
    )
    with op.batch_alter_table("le_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_le_files_request_id"), ["request_id"], unique=False)

    op.create_table(
        "le_notifications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("release_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('due', 'withheld', 'sent')", name=op.f("ck_le_notifications_status_valid")),
        sa.ForeignKeyConstraint(
            ["request_id"], ["le_requests.id"], name=op.f("fk_le_notifications_request_id_le_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_le_notifications")),
    )
    with op.batch_alter_table("le_notifications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_le_notifications_request_id"), ["request_id"], unique=False)

    op.create_table(
        "le_targets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.Column("chain", sa.String(length=16), nullable=True),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("value_key", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_column", sa.String(length=32), nullable=True),
        sa.Column("customer_id", sa.String(length=32), nullable=True),
        sa.Column("account_id", sa.String(length=32), nullable=True),
        sa.Column("match_via", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["request_id"], ["le_requests.id"], name=op.f("fk_le_targets_request_id_le_requests")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_le_targets")),
    )
    with op.batch_alter_table("le_targets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_le_targets_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_le_targets_request_id_row_number"), ["request_id", "row_number"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_le_targets_value_key"), ["value_key"], unique=False)

    op.create_table(
        "le_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("sender", sa.String(length=128), nullable=False),
        sa.Column("from_agency", sa.Boolean(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("attachment_file_id", sa.Integer(), nullable=True),
        sa.Column("created_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["attachment_file_id"], ["le_files.id"], name=op.f("fk_le_messages_attachment_file_id_le_files")
        ),
        sa.ForeignKeyConstraint(["request_id"], ["le_requests.id"], name=op.f("fk_le_messages_request_id_le_requests")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_le_messages")),
    )
    with op.batch_alter_table("le_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_le_messages_request_id"), ["request_id"], unique=False)

    op.create_table(
        "le_packages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=False),
        sa.Column("draft_file_id", sa.Integer(), nullable=False),
        sa.Column("sealed_file_id", sa.Integer(), nullable=True),
        sa.Column("encryption", sa.String(length=12), nullable=True),
        sa.Column("envelope", sa.JSON(), nullable=True),
        sa.Column("drafted_by", sa.String(length=128), nullable=False),
        sa.Column("drafted_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sa.String(length=128), nullable=True),
        sa.Column("approved_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("download_count", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.CheckConstraint(
            "status IN ('draft', 'approved', 'rejected', 'withdrawn')", name=op.f("ck_le_packages_status_valid")
        ),
        sa.ForeignKeyConstraint(["draft_file_id"], ["le_files.id"], name=op.f("fk_le_packages_draft_file_id_le_files")),
        sa.ForeignKeyConstraint(["request_id"], ["le_requests.id"], name=op.f("fk_le_packages_request_id_le_requests")),
        sa.ForeignKeyConstraint(
            ["sealed_file_id"], ["le_files.id"], name=op.f("fk_le_packages_sealed_file_id_le_files")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_le_packages")),
    )
    with op.batch_alter_table("le_packages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_le_packages_request_id"), ["request_id"], unique=False)

    op.create_table(
        "le_request_actions",
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["action_id"], ["account_actions.id"], name=op.f("fk_le_request_actions_action_id_account_actions")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["le_requests.id"], name=op.f("fk_le_request_actions_request_id_le_requests")
        ),
        sa.PrimaryKeyConstraint("request_id", "action_id", name=op.f("pk_le_request_actions")),
    )


def downgrade() -> None:
    op.drop_table("le_request_actions")
    with op.batch_alter_table("le_packages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_le_packages_request_id"))

    op.drop_table("le_packages")
    with op.batch_alter_table("le_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_le_messages_request_id"))

    op.drop_table("le_messages")
    with op.batch_alter_table("le_targets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_le_targets_value_key"))
        batch_op.drop_index(batch_op.f("ix_le_targets_request_id_row_number"))
        batch_op.drop_index(batch_op.f("ix_le_targets_customer_id"))

    op.drop_table("le_targets")
    with op.batch_alter_table("le_notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_le_notifications_request_id"))

    op.drop_table("le_notifications")
    with op.batch_alter_table("le_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_le_files_request_id"))

    op.drop_table("le_files")
    with op.batch_alter_table("le_callbacks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_le_callbacks_request_id"))

    op.drop_table("le_callbacks")
    with op.batch_alter_table("le_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_le_requests_status_queue_due_at"))
        batch_op.drop_index(batch_op.f("ix_le_requests_agency_id_submitted_at"))

    op.drop_table("le_requests")
    with op.batch_alter_table("le_officers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_le_officers_agency_id"))

    op.drop_table("le_officers")
    op.drop_table("le_outbox")
    op.drop_table("le_agencies")
