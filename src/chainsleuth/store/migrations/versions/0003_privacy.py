"""Privacy: blind-index columns, the encryption keyring and the hash-chained audit log.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 09:20:00

* ``customers`` gains one blind-index column per searchable personal field (``*_bidx``: a truncated keyed HMAC
  of the normalised value, hex) so that an e-mail, phone, name or document number can be found without
  decrypting; ``ledger_events`` gains ``ip_bidx``. The old index on ``ledger_events.ip`` indexed clear text; once
  the column holds randomised ciphertext that index is useless, so it is replaced by an index on ``ip_bidx``.
* ``privacy_keys`` records the field-encryption key versions (the keys themselves are derived from the master
  key file and never stored) and their state: ``active`` (encrypts), ``decrypt_only`` (an older key during a
  rotation) or ``retired`` (refused).
* ``audit_log`` is the append-only, hash-chained log; ``audit_chain_head`` is its single head row, locked by
  every writer so that sequence numbers and previous hashes are allocated without races, and which lets
  ``audit verify`` notice entries cut off the end of the chain. The head row starts at sequence 0 with the
  genesis hash.

Enumerations are frozen here as literals, as in 0001 and 0002. Only columns, indexes and new tables are added,
which SQLite supports without rebuilding tables.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import chainsleuth.store.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CUSTOMER_BLIND_INDEXES = ("full_name_bidx", "id_document_number_bidx", "email_bidx", "phone_bidx")
_KEY_STATES = ("active", "decrypt_only", "retired")
_BIDX_LENGTH = 64
#: The "previous hash" of the first audit entry (frozen here: chainsleuth.privacy.audit.GENESIS_HASH).
_GENESIS_HASH = "0" * 64


def _utc() -> chainsleuth.store.types.UTCDateTime:
    return chainsleuth.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    for column in _CUSTOMER_BLIND_INDEXES:
        op.add_column("customers", sa.Column(column, sa.String(length=_BIDX_LENGTH), nullable=True))
        op.create_index(op.f(f"ix_customers_{column}"), "customers", [column])
    op.add_column("ledger_events", sa.Column("ip_bidx", sa.String(length=_BIDX_LENGTH), nullable=True))
    op.drop_index(op.f("ix_ledger_events_ip"), table_name="ledger_events")
    op.create_index(op.f("ix_ledger_events_ip_bidx"), "ledger_events", ["ip_bidx"])

    op.create_table(
        "privacy_keys",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("check_value", sa.String(length=64), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("retired_at", _utc(), nullable=True),
        sa.CheckConstraint(
            "state IN (" + ", ".join(f"'{state}'" for state in _KEY_STATES) + ")",
            name=op.f("ck_privacy_keys_state_valid"),
        ),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_privacy_keys")),
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("occurred_at", _utc(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("actor_role", sa.String(length=32), nullable=False),
        sa.Column("agency_id", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("object_type", sa.String(length=64), nullable=False),
        sa.Column("object_id", sa.String(length=200), nullable=True),
        sa.Column("purpose", sa.Text(), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_mac", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_occurred_at"), "audit_log", ["occurred_at"])
    op.create_index(op.f("ix_audit_log_object_type_object_id"), "audit_log", ["object_type", "object_id"])
    op.create_index(op.f("ix_audit_log_actor"), "audit_log", ["actor"])
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.Column("head_mac", sa.String(length=64), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_chain_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    head = sa.table(
        "audit_chain_head",
        sa.column("id", sa.Integer()),
        sa.column("seq", sa.BigInteger()),
        sa.column("entry_hash", sa.String()),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "entry_hash": _GENESIS_HASH}])


def downgrade() -> None:
    op.drop_table("audit_chain_head")
    for index in ("actor", "object_type_object_id", "occurred_at"):
        op.drop_index(op.f(f"ix_audit_log_{index}"), table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("privacy_keys")
    op.drop_index(op.f("ix_ledger_events_ip_bidx"), table_name="ledger_events")
    op.create_index(op.f("ix_ledger_events_ip"), "ledger_events", ["ip"])
    with op.batch_alter_table("ledger_events") as batch:
        batch.drop_column("ip_bidx")
    for column in reversed(_CUSTOMER_BLIND_INDEXES):
        op.drop_index(op.f(f"ix_customers_{column}"), table_name="customers")
        with op.batch_alter_table("customers") as batch:
            batch.drop_column(column)
