"""Column types that behave the same on SQLite and PostgreSQL.

Two things differ between the databases in ways that would silently corrupt an exchange's books:

* SQLite has no exact decimal type: SQLAlchemy's ``Numeric`` stores a ``REAL`` there, so an amount of
  ``0.000000000000000001`` ETH (one wei) or a balance with more than 15 significant digits would be rounded.
  :class:`Amount` stores ``NUMERIC(38, 18)`` on PostgreSQL and the exact decimal string on SQLite.
* SQLite drops time zones. :class:`UTCDateTime` accepts only time-zone-aware values, stores UTC and always
  returns an aware UTC ``datetime``, so code never mixes naive and aware timestamps.

Migrations import these types too, so the migrated schema and the models agree by construction.
"""

from __future__ import annotations

import decimal
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Dialect, Numeric, String
from sqlalchemy.types import TypeDecorator, TypeEngine

#: Digits before and after the decimal point of every amount: decimal128(38, 18) in the export contract.
AMOUNT_PRECISION = 38
AMOUNT_SCALE = 18
_QUANTUM = Decimal(1).scaleb(-AMOUNT_SCALE)
_MAX_ABS = Decimal(10) ** (AMOUNT_PRECISION - AMOUNT_SCALE)
_CONTEXT = decimal.Context(prec=AMOUNT_PRECISION + 2)


def normalize_amount(value: Decimal | int | str) -> Decimal:
    """``value`` as a Decimal with exactly 18 decimal places; ValueError unless it fits decimal(38, 18)."""
    try:
        number = Decimal(value)
    except decimal.InvalidOperation as error:
        raise ValueError(f"not a decimal number: {value!r}") from error
    if not number.is_finite():
        raise ValueError(f"not a finite amount: {value!r}")
    if number.copy_abs() >= _MAX_ABS:  # copy_abs is exact; abs() would round to 28 digits
        raise ValueError(f"amount {value} does not fit decimal({AMOUNT_PRECISION},{AMOUNT_SCALE})")
    quantized = number.quantize(_QUANTUM, context=_CONTEXT)
    if quantized != number:
        raise ValueError(f"amount {value} has more than {AMOUNT_SCALE} decimal places")
    return quantized


class Amount(TypeDecorator[Decimal]):
    """An exact decimal(38, 18): ``NUMERIC`` on PostgreSQL, the canonical decimal string on SQLite."""

    impl = Numeric(AMOUNT_PRECISION, AMOUNT_SCALE, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(AMOUNT_PRECISION + 2))
        return dialect.type_descriptor(Numeric(AMOUNT_PRECISION, AMOUNT_SCALE, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        normalized = normalize_amount(value)
        if dialect.name == "sqlite":
            return format(normalized, "f")
        return normalized

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return normalize_amount(value if isinstance(value, Decimal) else str(value))


class UTCDateTime(TypeDecorator[datetime]):
    """A time-zone-aware timestamp stored in UTC (``timestamptz`` on PostgreSQL, ISO text on SQLite)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given where an aware UTC timestamp is required")
        as_utc = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return as_utc.replace(tzinfo=None)
        return as_utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        stamp = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        if stamp.tzinfo is None:
            return stamp.replace(tzinfo=UTC)
        return stamp.astimezone(UTC)


def utcnow() -> datetime:
    """The current time, aware, in UTC (the default of every ``created_at``)."""
    return datetime.now(UTC)
