"""Initial schema: the exchange's books (customers, accounts, deposit addresses, balances, ledger events),
platform users and ingest bookkeeping.

Revision ID: 0001
Revises:
Create Date: 2026-11-22 08:50:57

Enumerations are frozen here as literals (not imported from the models) so that this revision creates the same
schema forever, whatever later code does; later changes get their own revisions.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import chainsleuth.store.types

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ROLES = (
    "analyst",
    "senior_analyst",
    "compliance_officer",
    "le_response_officer",
    "auditor",
    "admin",
    "le_officer",
)
_SOURCES_OF_FUNDS = (
    "salary",
    "business",
    "investments",
    "savings",
    "inheritance",
    "crypto_trading",
    "mining",
    "pension",
    "other",
)
_EVENT_TYPES = (
    "deposit",
    "withdrawal",
    "internal_transfer",
    "trade",
    "fiat_deposit",
    "fiat_withdrawal",
    "login",
    "credential_change",
)


def _one_of(table: str, column: str, values: Sequence[str]) -> sa.CheckConstraint:
    quoted = ", ".join(f"'{value}'" for value in values)
    return sa.CheckConstraint(f"{column} IN ({quoted})", name=op.f(f"ck_{table}_{column}_valid"))


def _utc() -> chainsleuth.store.types.UTCDateTime:
    return chainsleuth.store.types.UTCDateTime(timezone=True)


def _amount() -> chainsleuth.store.types.Amount:
    return chainsleuth.store.types.Amount(precision=38, scale=18)


def _id(name: str, *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(length=32), nullable=nullable)


def _fk(table: str, column: str, referred: str, referred_column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{referred}.{referred_column}"], name=op.f(f"fk_{table}_{column}_{referred}")
    )


def upgrade() -> None:
    op.create_table(
        "customers",
        _id("customer_id"),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("full_name", sa.Text(), nullable=False),
        sa.Column("date_of_birth", sa.Text(), nullable=False),
        sa.Column("nationality", sa.Text(), nullable=False),
        sa.Column("id_document_type", sa.String(length=20), nullable=False),
        sa.Column("id_document_number", sa.Text(), nullable=False),
        sa.Column("id_document_country", sa.String(length=2), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("phone", sa.Text(), nullable=False),
        sa.Column("address_line", sa.Text(), nullable=False),
        sa.Column("city", sa.Text(), nullable=False),
        sa.Column("postal_code", sa.Text(), nullable=False),
        sa.Column("country_of_residence", sa.String(length=2), nullable=False),
        sa.Column("occupation", sa.Text(), nullable=False),
        sa.Column("declared_annual_income_usd", sa.BigInteger(), nullable=False),
        sa.Column("source_of_funds", sa.String(length=20), nullable=False),
        sa.Column("risk_rating", sa.String(length=10), nullable=False),
        sa.Column("kyc_level", sa.SmallInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        _one_of("customers", "id_document_type", ("passport", "national_id", "driving_licence")),
        _one_of("customers", "risk_rating", ("low", "medium", "high")),
        _one_of("customers", "source_of_funds", _SOURCES_OF_FUNDS),
        _one_of("customers", "status", ("active", "dormant", "closed")),
        sa.CheckConstraint("kyc_level BETWEEN 0 AND 3", name=op.f("ck_customers_kyc_level_valid")),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customers")),
    )
    op.create_table(
        "ingest_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("rows_total", sa.BigInteger(), nullable=False),
        sa.Column("rows_done", sa.BigInteger(), nullable=False),
        sa.Column("rows_inserted", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("started_at", _utc(), nullable=False),
        sa.Column("finished_at", _utc(), nullable=True),
        _one_of("ingest_runs", "status", ("running", "complete")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_runs")),
        sa.UniqueConstraint("table_name", "sha256", name=op.f("uq_ingest_runs_table_name_sha256")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("agency_id", sa.String(length=64), nullable=True),
        sa.Column("totp_secret", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        _one_of("users", "role", _ROLES),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "accounts",
        _id("account_id"),
        _id("customer_id"),
        sa.Column("account_type", sa.String(length=10), nullable=False),
        sa.Column("opened_at", _utc(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        _one_of("accounts", "account_type", ("spot", "sub")),
        _one_of("accounts", "status", ("active", "closed")),
        _fk("accounts", "customer_id", "customers", "customer_id"),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_accounts")),
    )
    op.create_index(op.f("ix_accounts_customer_id"), "accounts", ["customer_id"])
    op.create_table(
        "balances",
        _id("account_id"),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("balance", _amount(), nullable=False),
        _fk("balances", "account_id", "accounts", "account_id"),
        sa.PrimaryKeyConstraint("account_id", "asset", name=op.f("pk_balances")),
    )
    op.create_table(
        "deposit_addresses",
        sa.Column("chain", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=128), nullable=False),
        _id("account_id"),
        _id("customer_id"),
        sa.Column("created_at", _utc(), nullable=False),
        _fk("deposit_addresses", "account_id", "accounts", "account_id"),
        _fk("deposit_addresses", "customer_id", "customers", "customer_id"),
        sa.PrimaryKeyConstraint("chain", "address", name=op.f("pk_deposit_addresses")),
    )
    op.create_index(op.f("ix_deposit_addresses_account_id"), "deposit_addresses", ["account_id"])
    op.create_index(op.f("ix_deposit_addresses_customer_id_chain"), "deposit_addresses", ["customer_id", "chain"])
    op.create_table(
        "ledger_events",
        _id("event_id"),
        sa.Column("event_type", sa.String(length=20), nullable=False),
        sa.Column("timestamp", _utc(), nullable=False),
        _id("customer_id"),
        _id("account_id"),
        sa.Column("asset", sa.String(length=16), nullable=True),
        sa.Column("amount", _amount(), nullable=True),
        sa.Column("usd_value", sa.Float(), nullable=True),
        sa.Column("chain", sa.String(length=16), nullable=True),
        sa.Column("tx_hash", sa.String(length=80), nullable=True),
        sa.Column("address", sa.String(length=128), nullable=True),
        _id("counterparty_customer_id", nullable=True),
        _id("counterparty_account_id", nullable=True),
        sa.Column("side", sa.String(length=4), nullable=True),
        sa.Column("quote_asset", sa.String(length=16), nullable=True),
        sa.Column("quote_amount", _amount(), nullable=True),
        sa.Column("price", _amount(), nullable=True),
        sa.Column("bank_reference", sa.Text(), nullable=True),
        sa.Column("ip", sa.Text(), nullable=True),
        sa.Column("device_id", sa.String(length=128), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column("ip_country", sa.String(length=2), nullable=True),
        sa.Column("success", sa.Boolean(), nullable=True),
        sa.Column("change_type", sa.String(length=20), nullable=True),
        _one_of("ledger_events", "change_type", ("password", "email", "phone", "two_factor")),
        _one_of("ledger_events", "event_type", _EVENT_TYPES),
        _one_of("ledger_events", "side", ("buy", "sell")),
        _fk("ledger_events", "account_id", "accounts", "account_id"),
        _fk("ledger_events", "counterparty_account_id", "accounts", "account_id"),
        _fk("ledger_events", "counterparty_customer_id", "customers", "customer_id"),
        _fk("ledger_events", "customer_id", "customers", "customer_id"),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_ledger_events")),
    )
    for columns in (
        ["account_id", "timestamp"],
        ["address"],
        ["customer_id", "timestamp"],
        ["device_id"],
        ["ip"],
        ["tx_hash"],
    ):
        op.create_index(op.f("ix_ledger_events_" + "_".join(columns)), "ledger_events", columns)


def downgrade() -> None:
    for table in (
        "ledger_events",
        "deposit_addresses",
        "balances",
        "accounts",
        "users",
        "ingest_runs",
        "customers",
    ):
        op.drop_table(table)
