"""Academy: cohorts, enrolments, quiz results, exercise attempts, submissions and certificates.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 10:00:00

Only new tables (see ``chainsleuth.store.models.academy``); enumerations are frozen here as literals, as in the
earlier revisions.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import chainsleuth.store.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "academy_cohorts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("instructor", sa.String(length=64), nullable=False),
        sa.Column("world_size", sa.String(length=16), server_default=sa.text("'tiny'"), nullable=False),
        sa.Column("created_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_academy_cohorts")),
        sa.UniqueConstraint("name", name=op.f("uq_academy_cohorts_name")),
    )
    op.create_table(
        "academy_enrolments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("trainee", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("world_seed", sa.BigInteger(), nullable=False),
        sa.Column("world_status", sa.String(length=16), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("enrolled_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "world_status IN ('pending', 'ready', 'failed')", name=op.f("ck_academy_enrolments_world_status_valid")
        ),
        sa.ForeignKeyConstraint(
            ["cohort_id"], ["academy_cohorts.id"], name=op.f("fk_academy_enrolments_cohort_id_academy_cohorts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_academy_enrolments")),
        sa.UniqueConstraint("cohort_id", "trainee", name=op.f("uq_academy_enrolments_cohort_id_trainee")),
    )
    with op.batch_alter_table("academy_enrolments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_academy_enrolments_cohort_id"), ["cohort_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_academy_enrolments_trainee"), ["trainee"], unique=False)
    op.create_table(
        "academy_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("enrolment_id", sa.Integer(), nullable=False),
        sa.Column("exercise_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), server_default=sa.text("'started'"), nullable=False),
        sa.Column("started_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("hints_used", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("submitted_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("max_score", sa.Float(), nullable=True),
        sa.CheckConstraint(
            "status IN ('started', 'submitted', 'expired')", name=op.f("ck_academy_attempts_status_valid")
        ),
        sa.ForeignKeyConstraint(
            ["enrolment_id"],
            ["academy_enrolments.id"],
            name=op.f("fk_academy_attempts_enrolment_id_academy_enrolments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_academy_attempts")),
        sa.UniqueConstraint("enrolment_id", "exercise_id", name=op.f("uq_academy_attempts_enrolment_id_exercise_id")),
    )
    with op.batch_alter_table("academy_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_academy_attempts_enrolment_id"), ["enrolment_id"], unique=False)
    op.create_table(
        "academy_quiz_results",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("enrolment_id", sa.Integer(), nullable=False),
        sa.Column("module_id", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("max_score", sa.Float(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("submitted_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["enrolment_id"],
            ["academy_enrolments.id"],
            name=op.f("fk_academy_quiz_results_enrolment_id_academy_enrolments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_academy_quiz_results")),
    )
    with op.batch_alter_table("academy_quiz_results", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_academy_quiz_results_enrolment_id"), ["enrolment_id"], unique=False)
    op.create_table(
        "academy_certificates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("serial", sa.String(length=32), nullable=False),
        sa.Column("enrolment_id", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("course", sa.String(length=200), nullable=False),
        sa.Column("issued_on", sa.String(length=10), nullable=False),
        sa.Column("score_percent", sa.Float(), nullable=False),
        sa.Column("mac", sa.String(length=64), nullable=False),
        sa.Column("issued_by", sa.String(length=64), nullable=False),
        sa.Column("revoked", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("issued_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["enrolment_id"],
            ["academy_enrolments.id"],
            name=op.f("fk_academy_certificates_enrolment_id_academy_enrolments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_academy_certificates")),
        sa.UniqueConstraint("serial", name=op.f("uq_academy_certificates_serial")),
    )
    with op.batch_alter_table("academy_certificates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_academy_certificates_enrolment_id"), ["enrolment_id"], unique=False)
    op.create_table(
        "academy_submissions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("submitted_at", chainsleuth.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("feedback", sa.JSON(), nullable=False),
        sa.CheckConstraint("status IN ('graded', 'refused')", name=op.f("ck_academy_submissions_status_valid")),
        sa.ForeignKeyConstraint(
            ["attempt_id"], ["academy_attempts.id"], name=op.f("fk_academy_submissions_attempt_id_academy_attempts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_academy_submissions")),
    )
    with op.batch_alter_table("academy_submissions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_academy_submissions_attempt_id"), ["attempt_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("academy_submissions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_academy_submissions_attempt_id"))
    op.drop_table("academy_submissions")
    with op.batch_alter_table("academy_certificates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_academy_certificates_enrolment_id"))
    op.drop_table("academy_certificates")
    with op.batch_alter_table("academy_quiz_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_academy_quiz_results_enrolment_id"))
    op.drop_table("academy_quiz_results")
    with op.batch_alter_table("academy_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_academy_attempts_enrolment_id"))
    op.drop_table("academy_attempts")
    with op.batch_alter_table("academy_enrolments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_academy_enrolments_trainee"))
        batch_op.drop_index(batch_op.f("ix_academy_enrolments_cohort_id"))
    op.drop_table("academy_enrolments")
    op.drop_table("academy_cohorts")
