# mypy: disable-error-code="attr-defined,no-untyped-call"
# (pyarrow ships partial type stubs.)
"""Hand node data to the etl ingest's batch converters, so that RPC and file ingest share one path.

The node sources turn JSON-RPC answers into *etl records*: Python dicts with bitcoin-etl / ethereum-etl field
names (``docs/export-formats.md``). This module builds the Arrow tables the etl readers would have produced
from files (same schemas, plus the ``_row`` column) and calls
:func:`chainsleuth.ingest.etl_bitcoin.bitcoin_batch` / :func:`chainsleuth.ingest.etl_ethereum.ethereum_batch`,
which return the store's tables for :meth:`chainsleuth.store.chainstore.ChainWriter.commit`.

Those converters take file streams only to name a file and line in errors. The node sources validate every
record before it gets here (their errors name the block and the RPC method), so the converters' checks should
never fire; if one does, the stand-in stream below makes it fail cleanly and :func:`convert_errors` re-raises
it as an :class:`~chainsleuth.errors.InvalidInputError` naming the node and the blocks.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from chainsleuth.errors import InvalidInputError, MalformedFileError
from chainsleuth.ingest.etl_bitcoin import bitcoin_batch
from chainsleuth.ingest.etl_common import (
    BTC_BLOCK_FIELDS,
    BTC_TX_FIELDS,
    ETH_BLOCK_FIELDS,
    ETH_TOKEN_TRANSFER_FIELDS,
    ETH_TX_FIELDS,
    ChainIngestReport,
)
from chainsleuth.ingest.etl_ethereum import TokenCatalog, ethereum_batch
from chainsleuth.ingest.etl_read import ROW, BlockOrderedStream, Field, RecordStream, arrow_schema
from chainsleuth.store.chainstore import ChainWriter

Record = dict[str, Any]
Int64Array = npt.NDArray[np.int64]
UInt64Array = npt.NDArray[np.uint64]
HashKeys = tuple[UInt64Array, UInt64Array, Int64Array]


def records_table(records: list[Record], fields: tuple[Field, ...]) -> pa.Table:
    """An Arrow table of etl records with the etl reader's schema and ``_row`` column (record position)."""
    schema = arrow_schema(fields)
    columns: dict[str, list[Any]] = {name: [] for name in schema.names}
    for record in records:
        for f in fields:
            value = record.get(f.name)
            if f.kind == "dec" and value is not None:
                value = Decimal(value)
            columns[f.name].append(value)
    table = pa.Table.from_pydict(columns, schema=schema)
    return table.append_column(ROW, pa.array(np.arange(len(records), dtype=np.int64)))


def node_stream(fields: tuple[Field, ...], block_column: str) -> BlockOrderedStream:
    """A stand-in for an exhausted etl file stream (the converters use streams only to report errors).

    Built without opening anything: its path is the null device, so an error the converter raises reads no
    file and names no line; :func:`convert_errors` replaces it with one naming the node.
    """
    blocks = BlockOrderedStream(RecordStream(Path(os.devnull), fields, fmt="jsonl"), block_column)
    blocks.exhausted = True  # never pulls: its (lazy) batch generator is never started
    return blocks


@contextlib.contextmanager
def convert_errors(chain: str, url: str, first: int, last: int) -> Iterator[None]:
    """Turn a converter's file-oriented error into one naming the node and the block range."""
    try:
        yield
    except MalformedFileError as error:
        raise InvalidInputError(
            f"node data rejected by the converter: {error.message}",
            chain=chain,
            node=url,
            blocks=f"{first}-{last}",
        ) from error


def bitcoin_tables(
    writer: ChainWriter,
    blocks: list[Record],
    transactions: list[Record],
    report: ChainIngestReport,
    url: str,
) -> tuple[dict[str, pa.Table], HashKeys]:
    """Store tables for bitcoin-etl block and transaction records of whole, consecutive blocks."""
    first, last = int(blocks[0]["number"]), int(blocks[-1]["number"])
    with convert_errors(writer.spec.name, url, first, last):
        return bitcoin_batch(
            writer,
            records_table(blocks, BTC_BLOCK_FIELDS),
            records_table(transactions, BTC_TX_FIELDS),
            node_stream(BTC_BLOCK_FIELDS, "number"),
            node_stream(BTC_TX_FIELDS, "block_number"),
            report,
        )


def ethereum_tables(
    writer: ChainWriter,
    blocks: list[Record],
    transactions: list[Record],
    token_transfers: list[Record],
    catalog: TokenCatalog,
    report: ChainIngestReport,
    url: str,
) -> dict[str, pa.Table]:
    """Store tables for ethereum-etl block, transaction and token-transfer records of whole blocks."""
    first, last = int(blocks[0]["number"]), int(blocks[-1]["number"])
    with convert_errors(writer.spec.name, url, first, last):
        return ethereum_batch(
            writer,
            records_table(blocks, ETH_BLOCK_FIELDS),
            records_table(transactions, ETH_TX_FIELDS),
            records_table(token_transfers, ETH_TOKEN_TRANSFER_FIELDS),
            (
                node_stream(ETH_BLOCK_FIELDS, "number"),
                node_stream(ETH_TX_FIELDS, "block_number"),
                node_stream(ETH_TOKEN_TRANSFER_FIELDS, "block_number"),
            ),
            catalog,
            report,
        )
