"""The column type that encrypts personal fields, and the marker of blind-index columns.

Why a ``TypeDecorator`` rather than ORM events: personal columns are read and written through three paths,
the ORM (``session.get(Customer, …)``), SQLAlchemy Core (``connection.execute(select(LedgerEvent))``, which
monitoring and the exchange read-side use) and the bulk loader. ORM events (``before_flush``/``load``) only
see the first; a column type sits under all SQLAlchemy statements, so a value can only enter or leave a
personal column through :class:`EncryptedText`. Its one limit is that a type sees a value, not its row, so
the associated data binds a ciphertext to its table, column and key version but not to its primary key (see
docs/privacy.md). The bulk loader bypasses SQLAlchemy for speed (COPY / executemany) and therefore calls
:func:`chainsleuth.privacy.fields.protect_batch`, which produces exactly the ciphertext this type would.

This module imports nothing from the models (the models import it); the keys come from
:mod:`chainsleuth.privacy.keyring`, resolved per engine at run time.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Dialect, Engine, Table, Text, event, inspect
from sqlalchemy.orm import Mapper
from sqlalchemy.types import TypeDecorator

if TYPE_CHECKING:
    from chainsleuth.privacy.keyring import EngineCrypto


def _crypto(dialect: Dialect) -> EngineCrypto:
    from chainsleuth.privacy.keyring import crypto_for_dialect

    return crypto_for_dialect(dialect)


class EncryptedText(TypeDecorator[str]):
    """``TEXT`` holding AES-GCM ciphertext of a personal value; Python sees the clear string.

    ``table`` and ``column`` are part of the associated data: a ciphertext copied to another field does not
    decrypt.
    """

    impl = Text
    cache_ok = True

    def __init__(self, table: str, column: str) -> None:
        super().__init__()
        self.table = table
        self.column = column

    def process_bind_param(self, value: str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):
            raise TypeError(f"{self.table}.{self.column} takes text, got {type(value).__name__}")
        return _crypto(dialect).encrypt(value, table=self.table, column=self.column)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return _crypto(dialect).decrypt(str(value), table=self.table, column=self.column)


def blind_index(source: str, kind: str) -> dict[str, Any]:
    """The ``info`` of a column holding the blind index of personal column ``source`` for search ``kind``."""
    return {"blind_index_of": source, "search": kind}


def _remember_engine(connection: Connection) -> None:
    """Let the privacy layer find an engine from its dialect (a column type only ever sees the dialect)."""
    dialect = connection.dialect
    if ENGINE_ATTRIBUTE not in dialect.__dict__:
        dialect.__dict__[ENGINE_ATTRIBUTE] = weakref.ref(connection.engine)


#: Attribute of a dialect holding a weak reference to its engine (one dialect per engine).
ENGINE_ATTRIBUTE = "_chainsleuth_engine"
event.listen(Engine, "engine_connect", _remember_engine)


def blind_index_specs(table: Table) -> list[tuple[str, str, str]]:
    """``(blind-index column, source column, kind)`` for every blind-index column of ``table``."""
    return [
        (column.name, str(column.info["blind_index_of"]), str(column.info["search"]))
        for column in table.columns
        if "blind_index_of" in column.info
    ]


def encrypted_columns(table: Table) -> list[str]:
    """Names of the columns of ``table`` stored through :class:`EncryptedText`."""
    return [column.name for column in table.columns if isinstance(column.type, EncryptedText)]


def _fill_blind_indexes(mapper: Mapper[Any], connection: Connection, target: Any) -> None:
    """Keep the blind indexes of an ORM object in step with its personal fields (insert and update)."""
    table = mapper.local_table
    if not isinstance(table, Table):
        return
    specs = blind_index_specs(table)
    if not specs:
        return
    crypto = _crypto(connection.dialect)
    state = inspect(target)
    for index_column, source, kind in specs:
        attribute = mapper.get_property_by_column(table.columns[source]).key
        if state.has_identity and not state.attrs[attribute].history.has_changes():
            continue  # an update that leaves the source alone keeps its index
        target_key = mapper.get_property_by_column(table.columns[index_column]).key
        setattr(target, target_key, crypto.blind_index(kind, getattr(target, attribute)))


event.listen(Mapper, "before_insert", _fill_blind_indexes)
event.listen(Mapper, "before_update", _fill_blind_indexes)
