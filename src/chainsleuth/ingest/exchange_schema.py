"""The exchange tables of the export contract (``docs/export-formats.md``) as data: columns, types and rules.

One declaration serves three purposes: the loader checks files against it (column set, types, value rules),
tests and the simulator write files with :func:`arrow_schema`, and the rules mirror the database constraints
so that bad input is reported with its file and row before the database rejects a whole batch with a less
helpful message. String widths come from the models, so the loader enforces on SQLite the same limits
PostgreSQL would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import pyarrow as pa
from sqlalchemy import String, Table

from chainsleuth.store.models.exchange import (
    ACCOUNT_STATUSES,
    ACCOUNT_TYPES,
    CUSTOMER_STATUSES,
    ID_DOCUMENT_TYPES,
    RISK_RATINGS,
    SOURCES_OF_FUNDS,
    Account,
    Balance,
    Customer,
    DepositAddress,
)
from chainsleuth.store.models.ledger import CHANGE_TYPES, EVENT_TYPES, TRADE_SIDES, LedgerEvent

#: Arrow type of each kind of column, exactly as the contract writes them.
ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
    "decimal": pa.decimal128(38, 18),
    "int64": pa.int64(),
    "int8": pa.int8(),
    "float": pa.float64(),
    "bool": pa.bool_(),
}

#: Event types that move money and therefore need an asset and a positive amount.
MONEY_EVENTS = ("deposit", "withdrawal", "internal_transfer", "trade", "fiat_deposit", "fiat_withdrawal")


@dataclass(frozen=True)
class ColumnSpec:
    """One column: its kind (a key of :data:`ARROW_TYPES`) and the rules every value must follow."""

    name: str
    kind: str
    nullable: bool = False
    choices: tuple[str, ...] | None = None
    minimum: Decimal | int | None = None
    exclusive_minimum: bool = False
    maximum: int | None = None
    max_length: int | None = None


@dataclass(frozen=True)
class RequiredWhen:
    """Columns that must be present for rows whose ``column`` is one of ``values`` (trades need a side)."""

    column: str
    values: tuple[str, ...]
    required: tuple[str, ...]


@dataclass(frozen=True)
class TableSpec:
    """One exchange table: file stem, columns in contract order, primary key, conditional rules."""

    name: str
    table: Table
    columns: tuple[ColumnSpec, ...]
    required_when: tuple[RequiredWhen, ...] = field(default=())

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    @property
    def key(self) -> list[str]:
        return [column.name for column in self.table.primary_key.columns]


def _table(model: type[object]) -> Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


def _with_widths(table: Table, columns: list[ColumnSpec]) -> tuple[ColumnSpec, ...]:
    widened = []
    for column in columns:
        sql_type = table.columns[column.name].type
        length = sql_type.length if isinstance(sql_type, String) else None
        if column.kind == "string" and length and column.max_length is None:
            column = ColumnSpec(**{**column.__dict__, "max_length": length})
        widened.append(column)
    return tuple(widened)


def _spec(name: str, model: type[object], columns: list[ColumnSpec], *rules: RequiredWhen) -> TableSpec:
    table = _table(model)
    return TableSpec(name=name, table=table, columns=_with_widths(table, columns), required_when=rules)


S, TS, D = "string", "timestamp", "decimal"
_POSITIVE = {"minimum": Decimal(0), "exclusive_minimum": True}

CUSTOMERS = _spec(
    "customers",
    Customer,
    [
        ColumnSpec("customer_id", S),
        ColumnSpec("created_at", TS),
        ColumnSpec("full_name", S),
        ColumnSpec("date_of_birth", "date"),
        ColumnSpec("nationality", S),
        ColumnSpec("id_document_type", S, choices=ID_DOCUMENT_TYPES),
        ColumnSpec("id_document_number", S),
        ColumnSpec("id_document_country", S),
        ColumnSpec("email", S),
        ColumnSpec("phone", S),
        ColumnSpec("address_line", S),
        ColumnSpec("city", S),
        ColumnSpec("postal_code", S),
        ColumnSpec("country_of_residence", S),
        ColumnSpec("occupation", S),
        ColumnSpec("declared_annual_income_usd", "int64", minimum=0),
        ColumnSpec("source_of_funds", S, choices=SOURCES_OF_FUNDS),
        ColumnSpec("risk_rating", S, choices=RISK_RATINGS),
        ColumnSpec("kyc_level", "int8", minimum=0, maximum=3),
        ColumnSpec("status", S, choices=CUSTOMER_STATUSES),
    ],
)
ACCOUNTS = _spec(
    "accounts",
    Account,
    [
        ColumnSpec("account_id", S),
        ColumnSpec("customer_id", S),
        ColumnSpec("account_type", S, choices=ACCOUNT_TYPES),
        ColumnSpec("opened_at", TS),
        ColumnSpec("status", S, choices=ACCOUNT_STATUSES),
    ],
)
DEPOSIT_ADDRESSES = _spec(
    "deposit_addresses",
    DepositAddress,
    [
        ColumnSpec("chain", S),
        ColumnSpec("address", S),
        ColumnSpec("account_id", S),
        ColumnSpec("customer_id", S),
        ColumnSpec("created_at", TS),
    ],
)
BALANCES = _spec(
    "balances",
    Balance,
    [ColumnSpec("account_id", S), ColumnSpec("asset", S), ColumnSpec("balance", D, minimum=Decimal(0))],
)
LEDGER_EVENTS = _spec(
    "ledger_events",
    LedgerEvent,
    [
        ColumnSpec("event_id", S),
        ColumnSpec("event_type", S, choices=EVENT_TYPES),
        ColumnSpec("timestamp", TS),
        ColumnSpec("customer_id", S),
        ColumnSpec("account_id", S),
        ColumnSpec("asset", S, nullable=True),
        ColumnSpec("amount", D, nullable=True, **_POSITIVE),  # type: ignore[arg-type]
        ColumnSpec("usd_value", "float", nullable=True, minimum=0),
        ColumnSpec("chain", S, nullable=True),
        ColumnSpec("tx_hash", S, nullable=True),
        ColumnSpec("address", S, nullable=True),
        ColumnSpec("counterparty_customer_id", S, nullable=True),
        ColumnSpec("counterparty_account_id", S, nullable=True),
        ColumnSpec("side", S, nullable=True, choices=TRADE_SIDES),
        ColumnSpec("quote_asset", S, nullable=True),
        ColumnSpec("quote_amount", D, nullable=True, **_POSITIVE),  # type: ignore[arg-type]
        ColumnSpec("price", D, nullable=True, **_POSITIVE),  # type: ignore[arg-type]
        ColumnSpec("bank_reference", S, nullable=True),
        ColumnSpec("ip", S, nullable=True),
        ColumnSpec("device_id", S, nullable=True),
        ColumnSpec("user_agent", S, nullable=True),
        ColumnSpec("ip_country", S, nullable=True),
        ColumnSpec("success", "bool", nullable=True),
        ColumnSpec("change_type", S, nullable=True, choices=CHANGE_TYPES),
    ],
    RequiredWhen("event_type", MONEY_EVENTS, ("asset", "amount")),
    RequiredWhen("event_type", ("internal_transfer",), ("counterparty_customer_id", "counterparty_account_id")),
    RequiredWhen("event_type", ("trade",), ("side", "quote_asset", "quote_amount", "price")),
    RequiredWhen("event_type", ("deposit", "withdrawal"), ("chain", "tx_hash", "address")),
    RequiredWhen("event_type", ("credential_change",), ("change_type",)),
)

#: Load order: every table after the tables its foreign keys point to.
EXCHANGE_TABLES: tuple[TableSpec, ...] = (CUSTOMERS, ACCOUNTS, DEPOSIT_ADDRESSES, BALANCES, LEDGER_EVENTS)
TABLES_BY_NAME: dict[str, TableSpec] = {spec.name: spec for spec in EXCHANGE_TABLES}


def arrow_schema(spec: TableSpec) -> pa.Schema:
    """The exact Arrow schema of the contract for ``spec``'s file."""
    return pa.schema(
        [pa.field(column.name, ARROW_TYPES[column.kind], nullable=column.nullable) for column in spec.columns]
    )


def type_matches(kind: str, actual: pa.DataType, *, nullable: bool) -> bool:
    """Whether a Parquet column of type ``actual`` can hold a ``kind`` column without loss or guessing.

    Lenient where writers legitimately differ (large strings, timestamp unit, integer width, decimal
    precision), strict where meaning would change (naive timestamps, floats for amounts, strings for numbers).
    """
    if pa.types.is_null(actual):
        return nullable
    if pa.types.is_dictionary(actual):
        actual = actual.value_type
    checks: dict[str, Callable[[pa.DataType], bool]] = {
        "string": lambda t: pa.types.is_string(t) or pa.types.is_large_string(t),
        "timestamp": lambda t: pa.types.is_timestamp(t) and t.tz in ("UTC", "+00:00", "Etc/UTC", "Z"),
        "date": lambda t: pa.types.is_date(t),
        "decimal": lambda t: pa.types.is_decimal(t) and t.scale <= 18,
        "int64": lambda t: pa.types.is_integer(t),
        "int8": lambda t: pa.types.is_integer(t),
        "float": lambda t: pa.types.is_floating(t),
        "bool": lambda t: pa.types.is_boolean(t),
    }
    return checks[kind](actual)
