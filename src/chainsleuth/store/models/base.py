"""The declarative base every relational model derives from.

A fixed constraint naming convention matters for migrations: Alembic can only drop or alter a constraint it
can name, and SQLite's batch mode recreates tables by name. With the convention below, every index, unique,
check and foreign-key constraint has the same, predictable name on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import CheckConstraint, MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base class of all chainsleuth tables; its ``metadata`` is what Alembic compares against."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def one_of(column: str, values: Iterable[str], *, name: str | None = None) -> CheckConstraint:
    """A CHECK constraint that ``column`` (when not NULL) holds one of ``values``.

    Enumerations are stored as short strings rather than database ENUM types: adding a value is then a
    one-line migration on both databases instead of an ``ALTER TYPE`` on PostgreSQL and a table rebuild on
    SQLite.
    """
    quoted = ", ".join("'" + value.replace("'", "''") + "'" for value in values)
    if not quoted:
        raise ValueError(f"no allowed values given for {column}")
    return CheckConstraint(f"{column} IN ({quoted})", name=name or f"{column}_valid")
