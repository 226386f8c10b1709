"""DuckDB over the chain store: one view per chain and table, for ad-hoc SQL by investigators and the app.

Views are named ``<prefix>_<table>`` with the chain's short prefix (``btc_blocks``, ``btc_transactions``,
``btc_outputs``, ``btc_inputs``, ``btc_addresses``, ``eth_blocks``, ``eth_transactions``, ``eth_transfers``,
``eth_addresses``, ``eth_tokens``). Every known chain gets its views, empty ones for chains not ingested yet,
so
queries never fail on a missing name. The connection can read only the store's own directory and its
configuration is locked; :func:`read_only_query` additionally accepts SELECT statements only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from chainsleuth.errors import InvalidInputError
from chainsleuth.store.chainstore.schema import CHAINS, ChainSpec, table_schema

if TYPE_CHECKING:
    from chainsleuth.store.chainstore.store import ChainStore

_ALLOWED_STATEMENTS = {"SELECT", "EXPLAIN"}


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _typed_nulls(connection: Any, spec: ChainSpec, table: str) -> str:
    """``CAST(NULL AS <type>) AS "<column>", ...`` for every column of the table's current schema."""
    empty = connection.from_arrow(table_schema(spec, table).empty_table())
    return ", ".join(
        f'CAST(NULL AS {kind}) AS "{column}"' for column, kind in zip(empty.columns, empty.types, strict=True)
    )


def connect(store: ChainStore) -> Any:
    """A fresh in-memory DuckDB connection with the views over the committed parts of ``store``."""
    connection = duckdb.connect(":memory:")
    # DuckDB 1.5 pushes join filters into scans as bloom filters, which its PyArrow scan (the registered empty
    # schema tables below) rejects with "Pushdown Filter Type BLOOM_FILTER is not currently supported": every
    # join over a view (the bridge links of the flow graph) then fails. (fix by the chain-API work, issue 3)
    connection.execute("SET disabled_optimizers = 'join_filter_pushdown'")
    state = store.state()
    for spec in CHAINS.values():
        chain = state.chain(spec.name)
        for table in (*spec.tables, "addresses"):
            name = f"{spec.prefix}_{table}"
            files = [str(store.root / part.file) for part in chain.table_parts(table)]
            if files:
                # Parts written before a column was added lack it: union by name under an empty row set of the
                # current schema (typed NULLs in plain SQL, no Arrow scan), so such a column reads as null and
                # the view always has every column.
                listing = ", ".join(_quote(file) for file in files)
                connection.execute(
                    f"CREATE VIEW {name} AS SELECT {_typed_nulls(connection, spec, table)} WHERE false"
                    f" UNION ALL BY NAME SELECT * FROM read_parquet([{listing}], union_by_name=true)"
                )
            else:
                connection.register(name, table_schema(spec, table).empty_table())
        if spec.kind == "account":
            connection.register(f"{spec.prefix}_tokens", store.tokens_table(spec.name))
    root = str(store.root.resolve()).rstrip("/") + "/"
    connection.execute(f"SET allowed_directories=[{_quote(root)}]")
    connection.execute("SET enable_external_access=false")
    connection.execute("SET lock_configuration=true")
    return connection


def read_only_query(store: ChainStore, sql: str) -> pa.Table:
    """Run ``sql`` if every statement in it is a SELECT (or EXPLAIN); return the last result as Arrow."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as error:
        raise InvalidInputError(f"SQL does not parse: {error}") from error
    if not statements:
        raise InvalidInputError("empty SQL")
    for statement in statements:
        if statement.type.name not in _ALLOWED_STATEMENTS:
            raise InvalidInputError("only SELECT queries are allowed on the chain store", statement=statement.type.name)
    connection = connect(store)
    try:
        result: pa.Table | None = None
        for statement in statements:
            relation = connection.sql(statement.query)
            result = relation.arrow() if relation is not None else None
        if result is None:
            raise InvalidInputError("the query returned no result")
        return result if isinstance(result, pa.Table) else result.read_all()
    except duckdb.Error as error:
        raise InvalidInputError(f"query failed: {error}") from error
    finally:
        connection.close()
