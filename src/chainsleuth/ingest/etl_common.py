"""Pieces shared by the bitcoin-etl and ethereum-etl converters: input field lists, block checks, reports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from chainsleuth.errors import MalformedFileError
from chainsleuth.ingest.etl_read import ROW, BlockOrderedStream, Field, fail_at_row, last_line
from chainsleuth.store.chainstore.schema import BLOCKS

# The subset of bitcoin-etl / ethereum-etl fields the store needs (see docs/export-formats.md); others are
# ignored.
BTC_BLOCK_FIELDS = (
    Field("number", "int"),
    Field("hash", "str"),
    Field("timestamp", "int"),
    Field("transaction_count", "int"),
)
BTC_INPUT_FIELDS = (
    Field("index", "int"),
    Field("spent_transaction_hash", "str"),
    Field("spent_output_index", "int"),
    Field("type", "str", required=False),
    Field("addresses", "strlist", required=False),
    Field("value", "int"),
)
BTC_OUTPUT_FIELDS = (
    Field("index", "int"),
    Field("script_asm", "str", required=False),
    Field("type", "str", required=False),
    Field("addresses", "strlist", required=False),
    Field("value", "int"),
)
BTC_TX_FIELDS = (
    Field("hash", "str"),
    Field("block_number", "int"),
    Field("block_timestamp", "int"),
    Field("index", "int"),
    Field("is_coinbase", "bool"),
    Field("input_count", "int", required=False),
    Field("output_count", "int", required=False),
    Field("input_value", "int", required=False),
    Field("output_value", "int", required=False),
    Field("fee", "int", required=False),
    Field("inputs", "records", children=BTC_INPUT_FIELDS),
    Field("outputs", "records", children=BTC_OUTPUT_FIELDS),
)
ETH_BLOCK_FIELDS = (
    Field("number", "int"),
    Field("hash", "str"),
    Field("timestamp", "int"),
    Field("transaction_count", "int"),
    Field("miner", "str", required=False),
)
ETH_TX_FIELDS = (
    Field("hash", "str"),
    Field("nonce", "int", required=False),
    Field("transaction_index", "int"),
    Field("from_address", "str"),
    Field("to_address", "str", required=False),
    Field("value", "dec"),
    Field("gas", "int", required=False),
    Field("gas_price", "dec", required=False),
    Field("input", "str", required=False),
    Field("block_number", "int"),
    Field("block_timestamp", "int"),
    Field("receipt_status", "int", required=False),
    Field("receipt_gas_used", "int", required=False),
)
ETH_TOKEN_TRANSFER_FIELDS = (
    Field("token_address", "str"),
    Field("from_address", "str"),
    Field("to_address", "str"),
    Field("value", "dec"),
    Field("transaction_hash", "str"),
    Field("log_index", "int"),
    Field("block_number", "int"),
)
#: ethereum-etl ``export_traces`` (``trace_address``: a JSON list of ints, in CSV comma-joined). Rewards and
#: genesis allocations have no ``transaction_hash``; ``call_type`` is set for ``call`` traces only.
ETH_TRACE_FIELDS = (
    Field("transaction_hash", "str", required=False),
    Field("from_address", "str", required=False),
    Field("to_address", "str", required=False),
    Field("value", "dec", required=False),
    Field("trace_type", "str"),
    Field("call_type", "str", required=False),
    Field("trace_address", "intlist", required=False),
    Field("error", "str", required=False),
    Field("status", "int", required=False),
    Field("block_number", "int"),
)
#: ethereum-etl ``export_receipts``: plain ethereum-etl keeps a transaction's outcome here, not in
#: ``transactions.csv`` (only enriched exports carry ``receipt_status`` there).
ETH_RECEIPT_FIELDS = (
    Field("transaction_hash", "str"),
    Field("block_number", "int"),
    Field("status", "int", required=False),
    Field("gas_used", "int", required=False),
)
ETH_TOKEN_FIELDS = (
    Field("address", "str"),
    Field("symbol", "str", required=False),
    Field("decimals", "int", required=False),
)


@dataclass
class IngestProgress:
    """Where an ingest is: the chain, the committed height and the last block of the input (if known)."""

    chain: str
    height: int
    start_block: int
    target_block: int | None
    transactions: int
    transfers: int


ProgressCallback = Callable[[IngestProgress], None]


@dataclass
class ChainIngestReport:
    """What one chain's ingest did (counts are of rows added by this run)."""

    chain: str
    files: list[str]
    height_before: int
    height_after: int = -1
    batches: int = 0
    blocks: int = 0
    transactions: int = 0
    outputs: int = 0
    inputs: int = 0
    transfers: int = 0
    addresses: int = 0
    unresolved_inputs: int = 0
    #: ethereum traces: value transfers between contracts stored as ``internal`` transfers, and the block /
    #: uncle reward and genesis traces that were read but not stored (minted coins have no sender).
    internal_transfers: int = 0
    reward_traces: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)


def blocks_table(blocks: pa.Table) -> pa.Table:
    """The store's ``blocks`` rows from an etl blocks batch."""
    return pa.Table.from_arrays(
        [
            blocks.column("number"),
            blocks.column("hash"),
            blocks.column("timestamp"),
            blocks.column("transaction_count").cast(pa.int32()),
        ],
        schema=BLOCKS,
    )


def check_blocks(blocks: pa.Table, stream: BlockOrderedStream) -> None:
    """Block numbers must strictly increase (a repeated block is a duplicated or concatenated export)."""
    numbers = blocks.column("number").to_numpy()
    repeated = np.flatnonzero(np.diff(numbers) <= 0)
    if len(repeated):
        row = int(blocks.column(ROW)[int(repeated[0]) + 1].as_py())
        raise fail_at_row(stream.stream.path, stream.stream.fmt, row, "block number repeats or goes back")


def check_membership(
    blocks: pa.Table,
    rows: pa.Table,
    stream: BlockOrderedStream,
    blocks_stream: BlockOrderedStream,
    *,
    counted: bool,
) -> None:
    """Every row belongs to a block of the batch and, if ``counted``, each block has exactly its transactions.

    This is what detects a transactions file that was cut short at a line boundary (no parse error there):
    its last blocks come up short of the blocks file's ``transaction_count``.
    """
    numbers = blocks.column("number").to_numpy()
    row_blocks = rows.column("block_number").to_numpy()
    position = np.searchsorted(numbers, row_blocks)
    inside = position < len(numbers)
    known = inside.copy()
    known[inside] = numbers[position[inside]] == row_blocks[inside]
    if not known.all():
        bad = int(np.flatnonzero(~known)[0])
        row = int(rows.column(ROW)[bad].as_py())
        raise fail_at_row(
            stream.stream.path,
            stream.stream.fmt,
            row,
            f"block {int(row_blocks[bad])} is not in the blocks file",
        )
    if not counted:
        return
    found = np.bincount(position, minlength=len(numbers))
    expected = blocks.column("transaction_count").to_numpy()
    wrong = np.flatnonzero(found != expected)
    if len(wrong):
        index = int(wrong[0])
        block = int(numbers[index])
        path, fmt = stream.stream.path, stream.stream.fmt
        if found[index] < expected[index] and stream.at_end():
            raise MalformedFileError(
                f"file ends before block {block} is complete"
                f" ({found[index]} of {expected[index]} transactions):"
                " truncated?",
                path=str(path),
                line=last_line(path, fmt) + 1,
            )
        row = int(blocks.column(ROW)[index].as_py())
        raise fail_at_row(
            blocks_stream.stream.path,
            blocks_stream.stream.fmt,
            row,
            f"block {block} declares {expected[index]} transactions but the transactions file has {found[index]}",
        )


def check_fixed_hex(values: pa.Array, bad: np.ndarray, rows: pa.Table, stream: BlockOrderedStream, what: str) -> None:
    """Raise for the first row whose hash was flagged malformed by ``hash_keys``."""
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        row = int(rows.column(ROW)[position].as_py())
        raise fail_at_row(stream.stream.path, stream.stream.fmt, row, f"malformed {what}: {values[position].as_py()!r}")
