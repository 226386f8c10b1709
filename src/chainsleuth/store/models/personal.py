"""Which columns hold personal data, declared on the models themselves.

Personal columns carry ``info={"personal": True, "search": ...}`` on their ``mapped_column``. They are
``Text`` so that the privacy layer can later replace the clear value with base64 AES-GCM ciphertext (nonce +
ciphertext + tag, about 4/3 of the plain length plus 40 characters) in place, without a table rebuild.
``search`` names the kind of normalised blind index the privacy layer should keep so that an investigator can
still look people up by exact value after encryption: ``email``, ``phone``, ``name``, ``document`` or ``None``
(no lookup by that field).
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import Table

from chainsleuth.store.models.base import Base

SearchKind = Literal["email", "phone", "name", "document"]
SEARCH_KINDS: frozenset[str] = frozenset({"email", "phone", "name", "document"})


def personal(search: SearchKind | None = None) -> dict[str, Any]:
    """The ``info`` dictionary that marks a column as personal data."""
    if search is not None and search not in SEARCH_KINDS:
        raise ValueError(f"unknown search kind {search!r}")
    return {"personal": True, "search": search}


def _table_of(model: type[Base] | Table) -> Table:
    if isinstance(model, Table):
        return model
    table = model.__table__
    if not isinstance(table, Table):  # pragma: no cover - every chainsleuth model maps a plain Table
        raise TypeError(f"{model!r} is not mapped to a table")
    return table


def personal_columns(model: type[Base] | Table) -> list[str]:
    """Names of the personal columns of ``model`` (a mapped class or a Table), in table order."""
    return [column.name for column in _table_of(model).columns if column.info.get("personal") is True]


def search_kind(model: type[Base] | Table, column: str) -> str | None:
    """The blind-index kind declared for a personal column (``None`` when it is not searchable)."""
    value = _table_of(model).columns[column].info.get("search")
    return str(value) if value is not None else None


def personal_fields_registry() -> dict[str, list[str]]:
    """Every table with personal columns, mapped to those columns: what the privacy layer must encrypt."""
    import chainsleuth.store.models  # noqa: F401  (registers every model on Base.metadata)

    registry: dict[str, list[str]] = {}
    for name, table in sorted(Base.metadata.tables.items()):
        columns = personal_columns(table)
        if columns:
            registry[name] = columns
    return registry
