"""Attribution: the tag store (tags with their evidence, the packs they came from, actors).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 09:10:00

Only new tables are created, so no batch mode is needed on SQLite. Enumerations are frozen here as literals,
as in 0001, so that this revision creates the same schema whatever later code does.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import chainsleuth.store.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TAG_ORIGINS = ("tagpack", "ofac", "analyst")
_PACK_KINDS = ("tagpack", "actorpack", "ofac")


def _one_of(table: str, column: str, values: Sequence[str]) -> sa.CheckConstraint:
    quoted = ", ".join(f"'{value}'" for value in values)
    return sa.CheckConstraint(f"{column} IN ({quoted})", name=op.f(f"ck_{table}_{column}_valid"))


def _utc() -> chainsleuth.store.types.UTCDateTime:
    return chainsleuth.store.types.UTCDateTime(timezone=True)


def _fk(table: str, column: str, referred: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{referred}.id"], name=op.f(f"fk_{table}_{column}_{referred}"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "tagpacks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uri", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("creator", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("is_public", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("lastmod", sa.Date(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("header", sa.JSON(), nullable=False),
        sa.Column("tag_count", sa.Integer(), nullable=False),
        sa.Column("imported_at", _utc(), nullable=False),
        _one_of("tagpacks", "kind", _PACK_KINDS),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tagpacks")),
        sa.UniqueConstraint("uri", name=op.f("uq_tagpacks_uri")),
    )
    op.create_table(
        "tags",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("network", sa.String(length=32), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("tx_hash", sa.Text(), nullable=True),
        sa.Column("currency", sa.String(length=32), nullable=True),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("abuse", sa.String(length=64), nullable=True),
        sa.Column("concepts", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("confidence", sa.String(length=32), nullable=False),
        sa.Column("confidence_level", sa.SmallInteger(), nullable=False),
        sa.Column("is_public", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("is_cluster_definer", sa.Boolean(), nullable=True),
        sa.Column("tag_type", sa.String(length=32), nullable=True),
        sa.Column("context", sa.Text(), nullable=True),
        sa.Column("creator", sa.Text(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("lastmod", sa.Date(), nullable=True),
        sa.Column("origin", sa.String(length=10), nullable=False),
        sa.Column("tagpack_id", sa.Integer(), nullable=True),
        sa.Column("source_line", sa.Integer(), nullable=True),
        _one_of("tags", "origin", _TAG_ORIGINS),
        sa.CheckConstraint(
            "(address IS NOT NULL AND tx_hash IS NULL) OR (address IS NULL AND tx_hash IS NOT NULL)",
            name=op.f("ck_tags_address_xor_tx_hash"),
        ),
        _fk("tags", "tagpack_id", "tagpacks", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tags")),
    )
    for columns in (["network", "address"], ["network", "tx_hash"], ["tagpack_id"], ["category"]):
        op.create_index(op.f("ix_tags_" + "_".join(columns)), "tags", columns)
    op.create_table(
        "actors",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("uri", sa.Text(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("jurisdictions", sa.JSON(), nullable=False),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column("context", sa.Text(), nullable=True),
        sa.Column("lastmod", sa.Date(), nullable=True),
        sa.Column("tagpack_id", sa.Integer(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        _fk("actors", "tagpack_id", "tagpacks", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_actors")),
    )
    op.create_index(op.f("ix_actors_tagpack_id"), "actors", ["tagpack_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_actors_tagpack_id"), table_name="actors")
    op.drop_table("actors")
    for columns in (["network", "address"], ["network", "tx_hash"], ["tagpack_id"], ["category"]):
        op.drop_index(op.f("ix_tags_" + "_".join(columns)), table_name="tags")
    op.drop_table("tags")
    op.drop_table("tagpacks")
