"""The fast path of bulk loading: Arrow batches straight to database-ready tuples, then COPY or executemany.

Going through ORM-style dictionaries costs several microseconds per value (Python objects for every timestamp
and decimal, type processors, parameter dictionaries), which turns a 10-million-event ledger into a coffee
break. Here each column is converted once, vectorised where Arrow can, into exactly the value the column type
(:mod:`chainsleuth.store.types`) would have stored, and handed to the driver as plain tuples: PostgreSQL gets
a ``COPY ... FROM STDIN`` through psycopg, SQLite one prepared ``INSERT`` run with ``executemany``. Values are
identical to the typed path's, so rows written here read back through the models unchanged (the tests load
through this path and read through the models).
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.compute as _compute
import pyarrow.csv as _csv
from sqlalchemy import Connection, select, tuple_
from sqlalchemy.exc import DBAPIError

from chainsleuth.ingest.exchange_schema import TableSpec

# pyarrow's bundled stubs do not cover the generated compute functions nor the CSV writer
pc: Any = _compute
pa_csv: Any = _csv

#: Keys per existence query (SQLite allows 32766 bound parameters per statement).
KEY_CHUNK = 4_000
#: SQLAlchemy's storage format of DATETIME on SQLite (always with microseconds), as an Arrow strftime format
#: (for microsecond timestamps Arrow's ``%S`` includes the fraction).
_SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S"
_POSTGRES_TIMESTAMPTZ = "%Y-%m-%d %H:%M:%S+00"


def _column_values(array: pa.Array, kind: str, dialect: str) -> list[Any]:
    if kind == "timestamp":
        fmt = _SQLITE_DATETIME if dialect == "sqlite" else _POSTGRES_TIMESTAMPTZ
        values: list[Any] = pc.strftime(array, format=fmt).to_pylist()
        return values
    if kind == "date":  # dates of birth are stored as ISO text (see store.models.exchange)
        dates: list[Any] = pc.cast(array, pa.string()).to_pylist()
        return dates
    if kind == "decimal":
        decimals: list[Decimal | None] = array.to_pylist()  # exact, with the column's scale of 18
        if dialect == "sqlite":  # Amount stores the plain decimal string there
            return [None if value is None else format(value, "f") for value in decimals]
        return list(decimals)
    plain: list[Any] = array.to_pylist()
    return plain


def db_rows(batch: pa.RecordBatch, spec: TableSpec, dialect: str) -> list[tuple[Any, ...]]:
    """The rows of ``batch`` as tuples in ``spec.column_names`` order, in the form the database stores."""
    columns = [_column_values(batch.column(index), column.kind, dialect) for index, column in enumerate(spec.columns)]
    return list(zip(*columns, strict=True))


def table_is_empty(connection: Connection, spec: TableSpec) -> bool:
    """Whether ``spec``'s table has no rows (then a fresh load need not look for existing keys)."""
    return connection.execute(select(spec.table.primary_key.columns[0]).limit(1)).first() is None


def missing_keys(connection: Connection, spec: TableSpec, batch: pa.RecordBatch) -> list[int]:
    """Indexes of the rows of ``batch`` whose primary key is not in the table yet."""
    key_lists = [batch.column(spec.column_names.index(name)).to_pylist() for name in spec.key]
    keys = list(zip(*key_lists, strict=True))
    existing: set[tuple[Any, ...]] = set()
    quote = connection.dialect.identifier_preparer.quote
    names = ", ".join(quote(name) for name in spec.key)
    table = quote(spec.table.name)
    for start in range(0, len(keys), KEY_CHUNK):
        chunk = keys[start : start + KEY_CHUNK]
        if connection.dialect.name == "postgresql":  # one array parameter per key column, not one per value
            arrays = [list(values) for values in zip(*chunk, strict=True)]
            unnest = ", ".join("%s::text[]" for _ in arrays)
            found = connection.exec_driver_sql(
                f"SELECT {names} FROM {table} WHERE ({names}) IN (SELECT * FROM unnest({unnest}))",
                tuple(arrays),
            )
        else:
            columns = [spec.table.columns[name] for name in spec.key]
            condition = columns[0].in_([key[0] for key in chunk]) if len(columns) == 1 else None
            query = select(*columns).where(condition if condition is not None else tuple_(*columns).in_(chunk))
            found = connection.execute(query)
        existing.update(tuple(row) for row in found)
    return [index for index, key in enumerate(keys) if key not in existing]


def insert_batch(connection: Connection, spec: TableSpec, batch: pa.RecordBatch) -> None:
    """Insert every row of ``batch`` (in contract types) in the connection's current transaction."""
    if batch.num_rows == 0:
        return
    quote = connection.dialect.identifier_preparer.quote
    table = quote(spec.table.name)
    columns = ", ".join(quote(name) for name in spec.column_names)
    if connection.dialect.name == "postgresql":
        # Arrow writes the batch as CSV in C (quoted strings, unquoted empty fields for NULL, ISO timestamps
        # with "Z", exact decimals); COPY parses it server-side. No Python object per value at all.
        buffer = io.BytesIO()
        pa_csv.write_csv(batch, buffer, pa_csv.WriteOptions(include_header=False))
        driver_connection: Any = connection.connection.driver_connection
        statement = f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)"
        try:
            with driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
                copy.write(buffer.getbuffer())
        except psycopg.Error as error:  # raised by the driver directly: wrap it as SQLAlchemy would
            raise DBAPIError.instance(statement, None, error, psycopg.Error) from error
        return
    placeholders = ", ".join("?" for _ in spec.column_names)
    rows = db_rows(batch, spec, connection.dialect.name)
    connection.exec_driver_sql(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", rows)
