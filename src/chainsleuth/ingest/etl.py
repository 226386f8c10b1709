"""Ingest bitcoin-etl and ethereum-etl exports into the columnar chain store.

Streaming and bounded in memory: the files are read in Arrow batches and cut into *batches of whole blocks* of
about ``batch_size`` transactions; each batch is converted and committed atomically
(:meth:`chainsleuth.store.chainstore.ChainWriter.commit`) before the next is read. Blocks at or below the
stored height are skipped, so re-running an ingest on the same (or a longer) export adds exactly the missing
blocks, and an ingest interrupted at any point resumes where its last commit ended. A malformed line stops the
ingest with a :class:`~chainsleuth.errors.MalformedFileError` naming file and line; the batch containing it is
not committed, earlier ones stay.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from chainsleuth.errors import MalformedFileError, NotFoundError
from chainsleuth.ingest.etl_bitcoin import bitcoin_batch
from chainsleuth.ingest.etl_common import (
    BTC_BLOCK_FIELDS,
    BTC_TX_FIELDS,
    ETH_BLOCK_FIELDS,
    ETH_RECEIPT_FIELDS,
    ETH_TOKEN_FIELDS,
    ETH_TOKEN_TRANSFER_FIELDS,
    ETH_TRACE_FIELDS,
    ETH_TX_FIELDS,
    ChainIngestReport,
    IngestProgress,
    ProgressCallback,
    check_blocks,
)
from chainsleuth.ingest.etl_ethereum import TokenCatalog, ethereum_batch
from chainsleuth.ingest.etl_read import (
    ROW,
    BlockOrderedStream,
    RecordStream,
    arrow_schema,
    check_required,
    fail_at_row,
    file_format,
)
from chainsleuth.ingest.etl_receipts import merge_receipts
from chainsleuth.store.chainstore import ChainStore, ChainWriter

Int64Array = npt.NDArray[np.int64]
UInt64Array = npt.NDArray[np.uint64]

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "ChainIngestReport",
    "IngestProgress",
    "IngestReport",
    "ingest_bitcoin_etl",
    "ingest_ethereum_etl",
    "ingest_world_chains",
    "read_token_catalog",
]

#: Transactions per committed batch: large enough to amortise Parquet and Python overheads, small enough that
#: a batch with its Arrow intermediates stays in the low hundreds of MB.
DEFAULT_BATCH_SIZE = 50_000


@dataclass
class IngestReport:
    """What ``ingest_world_chains`` did, per chain."""

    chains: dict[str, ChainIngestReport] = field(default_factory=dict)

    @property
    def warnings(self) -> list[str]:
        return [warning for report in self.chains.values() for warning in report.warnings]

    @property
    def transactions(self) -> int:
        return sum(report.transactions for report in self.chains.values())


def _last_block_in(path: Path) -> int | None:
    """The last block number of a blocks file, read from its tail (for a progress bar total); None if unknown."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - 65536))
            tail = handle.read().decode("utf-8", errors="replace").strip().splitlines()
        if not tail:
            return None
        if file_format(path) == "jsonl":
            return int(json.loads(tail[-1])["number"])
        with path.open("r", encoding="utf-8", newline="") as handle:
            header = next(csv.reader(handle))
        row = next(csv.reader(io.StringIO(tail[-1])))
        return int(row[header.index("number")])
    except (ValueError, KeyError, IndexError, OSError, StopIteration):
        return None


def _skip_committed(height: int, streams: list[BlockOrderedStream]) -> None:
    if height >= 0:
        for stream in streams:
            stream.skip_through(height)


def _leftover(stream: BlockOrderedStream) -> None:
    """Records after the last block of the blocks file: the blocks file is the truncated one."""
    if not stream.at_end():
        rest = stream.first_pending()
        row = int(rest.column(ROW)[0].as_py())
        block = int(rest.column("block_number")[0].as_py())
        raise fail_at_row(
            stream.stream.path,
            stream.stream.fmt,
            row,
            f"block {block} is not in the blocks file (blocks file truncated?)",
        )


BatchBuilder = Callable[
    [ChainWriter, pa.Table, int, ChainIngestReport],
    tuple[dict[str, pa.Table], tuple[UInt64Array, UInt64Array, Int64Array] | None],
]


def _run(
    store: ChainStore,
    chain: str,
    files: list[Path],
    blocks: BlockOrderedStream,
    children: list[BlockOrderedStream],
    build: BatchBuilder,
    batch_size: int,
    progress: ProgressCallback | None,
) -> ChainIngestReport:
    """The batch loop shared by both chains: cut whole blocks, build, commit, report, repeat."""
    started = time.perf_counter()
    target = _last_block_in(files[0])
    addresses_before = store.chain_state(chain).address_count
    with store.writer(chain) as writer:
        report = ChainIngestReport(chain, [str(p) for p in files], writer.height, height_after=writer.height)
        start = writer.height
        _skip_committed(writer.height, [blocks, *children])
        while True:
            batch_blocks = blocks.take_counted("transaction_count", batch_size)
            if batch_blocks.num_rows == 0:
                break
            check_blocks(batch_blocks, blocks)
            first = int(batch_blocks.column("number")[0].as_py())
            last = int(batch_blocks.column("number")[-1].as_py())
            # a failure from here to the commit leaves the ``with`` block, whose exit rolls the writer back
            tables, keys = build(writer, batch_blocks, last, report)
            if blocks.at_end():  # the last batch: rows beyond the blocks file fail it before it commits
                for child in children:
                    _leftover(child)
            writer.commit(tables, first, last, tx_hash_keys=keys)
            report.batches += 1
            report.blocks += batch_blocks.num_rows
            report.transactions += tables["transactions"].num_rows
            report.height_after = writer.height
            if progress is not None:
                moved = report.transfers if "transfers" in tables else report.outputs
                progress(IngestProgress(chain, writer.height, start, target, report.transactions, moved))
        for child in children:
            _leftover(child)
    report.addresses = store.chain_state(chain).address_count - addresses_before
    report.warnings = sorted(set(report.warnings))
    report.seconds = time.perf_counter() - started
    return report


def ingest_bitcoin_etl(
    blocks_path: Path,
    transactions_path: Path,
    store: ChainStore,
    *,
    chain: str = "bitcoin",
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ProgressCallback | None = None,
) -> ChainIngestReport:
    """Ingest a bitcoin-etl export (blocks + transactions with nested inputs/outputs, JSONL or CSV)."""
    blocks = BlockOrderedStream(RecordStream(Path(blocks_path), BTC_BLOCK_FIELDS), "number")
    txs = BlockOrderedStream(RecordStream(Path(transactions_path), BTC_TX_FIELDS, large_records=True), "block_number")

    def build(
        writer: ChainWriter, batch_blocks: pa.Table, last: int, report: ChainIngestReport
    ) -> tuple[dict[str, pa.Table], tuple[UInt64Array, UInt64Array, Int64Array] | None]:
        return bitcoin_batch(writer, batch_blocks, txs.take_through(last), blocks, txs, report)

    return _run(store, chain, [Path(blocks_path), Path(transactions_path)], blocks, [txs], build, batch_size, progress)


def read_token_catalog(path: Path | None) -> TokenCatalog:
    """Token metadata from an ethereum-etl tokens export (``address``, ``symbol``, ``decimals``), if given."""
    if path is None:
        return TokenCatalog()
    stream = RecordStream(Path(path), ETH_TOKEN_FIELDS)
    entries: dict[str, tuple[str, int]] = {}
    for table in stream.batches():
        check_required(table, stream)
        for address, symbol, decimals in zip(
            table.column("address").to_pylist(),
            table.column("symbol").to_pylist(),
            table.column("decimals").to_pylist(),
            strict=True,
        ):
            entries[address.lower()] = (symbol or "", 18 if decimals is None else int(decimals))
    return TokenCatalog(entries)


def ingest_ethereum_etl(
    blocks_path: Path,
    transactions_path: Path,
    token_transfers_path: Path | None,
    store: ChainStore,
    *,
    tokens_path: Path | None = None,
    traces_path: Path | None = None,
    receipts_path: Path | None = None,
    chain: str = "ethereum",
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ProgressCallback | None = None,
) -> ChainIngestReport:
    """Ingest an ethereum-etl export (blocks, transactions, optional token_transfers, tokens, traces and
    receipts; JSONL or CSV). Traces add the ``internal`` transfers (ETH moved by contracts, see
    :mod:`.etl_traces`); receipts give each transaction its status and gas used (:mod:`.etl_receipts`).
    """
    catalog = read_token_catalog(tokens_path)
    blocks = BlockOrderedStream(RecordStream(Path(blocks_path), ETH_BLOCK_FIELDS), "number")
    txs = BlockOrderedStream(RecordStream(Path(transactions_path), ETH_TX_FIELDS), "block_number")
    transfers = (
        BlockOrderedStream(RecordStream(Path(token_transfers_path), ETH_TOKEN_TRANSFER_FIELDS), "block_number")
        if token_transfers_path is not None
        else None
    )
    traces = (
        BlockOrderedStream(RecordStream(Path(traces_path), ETH_TRACE_FIELDS), "block_number")
        if traces_path is not None
        else None
    )
    receipts = (
        BlockOrderedStream(RecordStream(Path(receipts_path), ETH_RECEIPT_FIELDS), "block_number")
        if receipts_path is not None
        else None
    )
    no_transfers = arrow_schema(ETH_TOKEN_TRANSFER_FIELDS).append(pa.field(ROW, pa.int64())).empty_table()

    def build(
        writer: ChainWriter, batch_blocks: pa.Table, last: int, report: ChainIngestReport
    ) -> tuple[dict[str, pa.Table], tuple[UInt64Array, UInt64Array, Int64Array] | None]:
        batch_transfers = transfers.take_through(last) if transfers is not None else no_transfers
        streams = (blocks, txs, transfers if transfers is not None else txs)
        batch_txs = txs.take_through(last)
        if receipts is not None:
            batch_txs = merge_receipts(batch_txs, receipts.take_through(last), receipts)
        tables = ethereum_batch(
            writer,
            batch_blocks,
            batch_txs,
            batch_transfers,
            streams,
            catalog,
            report,
            traces=traces.take_through(last) if traces is not None else None,
            traces_stream=traces,
        )
        return tables, None

    paths = (blocks_path, transactions_path, token_transfers_path, traces_path, receipts_path)
    files = [Path(p) for p in paths if p is not None]
    children = [stream for stream in (txs, transfers, traces, receipts) if stream is not None]
    return _run(store, chain, files, blocks, children, build, batch_size, progress)


def _find(directory: Path, stem: str) -> Path | None:
    for suffix in (".jsonl", ".csv"):
        candidate = directory / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def _require(directory: Path, stem: str) -> Path:
    found = _find(directory, stem)
    if found is None:
        raise NotFoundError(f"no {stem}.jsonl or {stem}.csv in the world directory", path=str(directory))
    return found


def ingest_world_chains(
    world_dir: Path,
    store: ChainStore,
    progress: ProgressCallback | None = None,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> IngestReport:
    """Ingest the ``bitcoin/`` and ``ethereum/`` exports of a generated world directory (JSONL or CSV).

    An optional ``ethereum/tokens.jsonl|csv`` (ethereum-etl ``export_tokens``) gives token symbols and
    decimals; an optional ``ethereum/traces.jsonl|csv`` (``export_traces``) adds the internal transfers; an
    optional ``ethereum/receipts.jsonl|csv`` (``export_receipts_and_logs``) gives transaction status and gas.
    """
    world = Path(world_dir)
    if not world.is_dir():
        raise NotFoundError("world directory does not exist", path=str(world))
    report = IngestReport()
    bitcoin, ethereum = world / "bitcoin", world / "ethereum"
    if not bitcoin.is_dir() and not ethereum.is_dir():
        raise MalformedFileError("world directory has neither bitcoin/ nor ethereum/", path=str(world))
    if bitcoin.is_dir():
        report.chains["bitcoin"] = ingest_bitcoin_etl(
            _require(bitcoin, "blocks"),
            _require(bitcoin, "transactions"),
            store,
            batch_size=batch_size,
            progress=progress,
        )
    if ethereum.is_dir():
        report.chains["ethereum"] = ingest_ethereum_etl(
            _require(ethereum, "blocks"),
            _require(ethereum, "transactions"),
            _find(ethereum, "token_transfers"),
            store,
            tokens_path=_find(ethereum, "tokens"),
            traces_path=_find(ethereum, "traces"),
            receipts_path=_find(ethereum, "receipts"),
            batch_size=batch_size,
            progress=progress,
        )
    return report
