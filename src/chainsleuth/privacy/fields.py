"""Personal fields in bulk: encrypting loader batches, blind-index search, and recomputing blind indexes.

The bulk loader writes Arrow batches straight to the database (COPY / executemany) without SQLAlchemy's type
processing, so :func:`protect_batch` does for a whole batch what
:class:`~chainsleuth.privacy.columns.EncryptedText` does for one value (same key, same associated data), and
adds the blind-index columns the ORM would have filled.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as _compute
from sqlalchemy import Engine, Table, column, select, table, tuple_, update
from sqlalchemy.orm import Session

from chainsleuth.errors import InvalidInputError
from chainsleuth.ingest.exchange_schema import ColumnSpec, TableSpec
from chainsleuth.privacy.columns import blind_index_specs, encrypted_columns
from chainsleuth.privacy.crypto import normalise
from chainsleuth.privacy.keyring import EngineCrypto, crypto_for, engine_of, ensure_keyring
from chainsleuth.store.models.base import Base
from chainsleuth.store.models.exchange import Customer

pc: Any = _compute
#: ``progress(table, rows_done)`` for long maintenance jobs.
MaintenanceProgress = Callable[[str, int], None]


def _protected_spec(spec: TableSpec) -> TableSpec:
    encrypted = set(encrypted_columns(spec.table))
    columns = [ColumnSpec(c.name, "string", nullable=c.nullable) if c.name in encrypted else c for c in spec.columns]
    columns += [ColumnSpec(name, "string", nullable=True) for name, _, _ in blind_index_specs(spec.table)]
    return dataclasses.replace(spec, columns=tuple(columns))


def protect_batch(crypto: EngineCrypto, spec: TableSpec, batch: pa.RecordBatch) -> tuple[TableSpec, pa.RecordBatch]:
    """``batch`` (in contract column order) with personal columns encrypted and blind indexes appended, and
    the table spec describing it. Tables without personal columns come back unchanged.
    """
    encrypted = set(encrypted_columns(spec.table))
    indexes = blind_index_specs(spec.table)
    if not encrypted and not indexes:
        return spec, batch
    version = crypto.active_version()
    keys = crypto.keys
    name = spec.table.name
    arrays: list[pa.Array] = []
    clear: dict[str, list[str | None]] = {}
    for position, column_spec in enumerate(spec.columns):
        array = batch.column(position)
        if column_spec.name not in encrypted:
            arrays.append(array)
            continue
        if not pa.types.is_string(array.type):
            array = pc.cast(array, pa.string())  # dates of birth: ISO text (see store.models.exchange)
        values: list[str | None] = array.to_pylist()
        clear[column_spec.name] = values
        arrays.append(
            pa.array(
                [
                    None if v is None else keys.encrypt(v, table=name, column=column_spec.name, version=version)
                    for v in values
                ],
                pa.string(),
            )
        )
    for _, source, kind in indexes:
        cache: dict[str, str | None] = {}  # IPs repeat: hash each distinct value once per batch
        hashed: list[str | None] = []
        for value in clear[source]:
            if value is None:
                hashed.append(None)
                continue
            if value not in cache:
                cache[value] = keys.blind_index(kind, value)
            hashed.append(cache[value])
        arrays.append(pa.array(hashed, pa.string()))
    protected = _protected_spec(spec)
    return protected, pa.RecordBatch.from_arrays(arrays, names=protected.column_names)


# -- search ---------------------------------------------------------------------------------------------------

_CUSTOMER_SEARCH = {
    "email": ("email", "email_bidx", "email"),
    "phone": ("phone", "phone_bidx", "phone"),
    "name": ("full_name", "full_name_bidx", "name"),
    "document": ("id_document_number", "id_document_number_bidx", "document"),
}


def find_customers(
    session: Session,
    *,
    email: str | None = None,
    phone: str | None = None,
    name: str | None = None,
    document: str | None = None,
    limit: int = 100,
) -> list[Customer]:
    """Customers matching every given value exactly after normalisation (see docs/privacy.md), by blind index.

    Nothing is decrypted to search; candidates are decrypted only to drop the (astronomically rare) truncated
    HMAC collisions. InvalidInputError when no criterion is given or one normalises to nothing.
    """
    criteria = {"email": email, "phone": phone, "name": name, "document": document}
    given = {key: value for key, value in criteria.items() if value is not None}
    if not given:
        raise InvalidInputError("give at least one of email, phone, name or document to search by")
    crypto = crypto_for(engine_of(session))
    query = select(Customer)
    wanted: dict[str, str] = {}
    for key, value in given.items():
        source, index_column, kind = _CUSTOMER_SEARCH[key]
        digest = crypto.blind_index(kind, value)
        if digest is None:
            raise InvalidInputError(f"the {key} to search for is empty after normalisation", field=key)
        query = query.where(getattr(Customer, index_column) == digest)
        wanted[source] = normalise(kind, value)
    found = session.scalars(query.order_by(Customer.customer_id).limit(limit)).all()
    return [
        customer
        for customer in found
        if all(
            normalise(_CUSTOMER_SEARCH[key][2], getattr(customer, source) or "") == wanted[source]
            for key, (source, _, _) in _CUSTOMER_SEARCH.items()
            if source in wanted
        )
    ]


def ip_index(session: Session, ip: str) -> str | None:
    """The blind index of an IP address, to query ``LedgerEvent.ip_bidx`` (shared-IP look-ups)."""
    return crypto_for(engine_of(session)).blind_index("ip", ip)


# -- maintenance ------------------------------------------------------------------------------------------------


def tables_with_personal_fields() -> list[Table]:
    """Every table with encrypted columns, in a fixed order."""
    import chainsleuth.store.models  # noqa: F401  (registers every model)

    return [t for _, t in sorted(Base.metadata.tables.items()) if encrypted_columns(t)]


def raw_table(model_table: Table, names: Sequence[str]) -> Any:
    """A lightweight table construct whose columns are plain text: reads and writes stored values as they are,
    bypassing :class:`EncryptedText` (what rotation and re-indexing need).
    """
    return table(model_table.name, *(column(name) for name in names))


def reindex(engine: Engine, *, batch_size: int = 2_000, progress: MaintenanceProgress | None = None) -> dict[str, int]:
    """Recompute every blind index from the decrypted values (after a change of normalisation rules, or for
    rows written around the ORM); returns rows updated per table. Each batch commits on its own.
    """
    crypto = ensure_keyring(engine)
    updated: dict[str, int] = {}
    for model_table in tables_with_personal_fields():
        specs = blind_index_specs(model_table)
        if not specs:
            continue
        keys = [c.name for c in model_table.primary_key.columns]
        sources = sorted({source for _, source, _ in specs})
        raw = raw_table(model_table, [*keys, *sources, *(name for name, _, _ in specs)])
        count, after = 0, None
        while True:
            query = select(raw).order_by(*(raw.c[k] for k in keys)).limit(batch_size)
            if after is not None:
                query = query.where(after_key(raw, keys, after))
            with engine.begin() as connection:
                rows = connection.execute(query).all()
                for row in rows:
                    changes: dict[str, str | None] = {}
                    for index_column, source, kind in specs:
                        stored = getattr(row, source)
                        plain = (
                            None if stored is None else crypto.decrypt(stored, table=model_table.name, column=source)
                        )
                        digest = crypto.blind_index(kind, plain)
                        if digest != getattr(row, index_column):
                            changes[index_column] = digest
                    if changes:
                        connection.execute(
                            update(raw).where(*(raw.c[k] == getattr(row, k) for k in keys)).values(changes)
                        )
                        count += 1
            if not rows:
                break
            after = tuple(getattr(rows[-1], k) for k in keys)
            if progress is not None:
                progress(model_table.name, count)
        updated[model_table.name] = count
    return updated


def after_key(raw: Any, keys: Sequence[str], after: tuple[Any, ...]) -> Any:
    """Keyset pagination: rows whose primary key sorts after ``after``."""
    if len(keys) == 1:
        return raw.c[keys[0]] > after[0]
    return tuple_(*(raw.c[k] for k in keys)) > tuple_(*after)
