"""ethereum-etl batch → chain store tables (``blocks``, ``transactions``, ``transfers``).

``transfers`` is the table the analytics engine lives on: one row per movement of value, native ETH (a
successful transaction with a non-zero ``value``, ``log_index`` -1), ETH moved by a contract inside a
transaction (an ``internal`` transfer from a ``traces`` export, ``log_index`` -1, its ``trace_address`` kept;
see :mod:`.etl_traces`) or an ERC-20 ``Transfer`` log (``token_transfers``), with dense from/to ids, the asset
id from the token registry, the exact value and the value in coins. Within a transaction the rows are in the
order native, internal (in trace order), token (in log order).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from chainsleuth.ingest.etl_common import ChainIngestReport, blocks_table, check_fixed_hex, check_membership
from chainsleuth.ingest.etl_read import ROW, BlockOrderedStream, fail_at_row
from chainsleuth.ingest.etl_traces import empty_traces, select_internal
from chainsleuth.store.chainstore.addresses import AddressColumn
from chainsleuth.store.chainstore.hexarrays import decode_hex_prefixed, printable_text
from chainsleuth.store.chainstore.schema import (
    ACCOUNT_TRANSACTIONS,
    ACCOUNT_TRANSFERS,
    EXACT_VALUE,
    NATIVE_ASSET_ID,
)
from chainsleuth.store.chainstore.writer import ChainWriter

Int64Array = npt.NDArray[np.int64]
ETH_DECIMALS = 18
DEFAULT_TOKEN_DECIMALS = 18
_HASH = r"^0x[0-9a-f]{64}$"
_KIND = pa.dictionary(pa.int8(), pa.string())


class TokenCatalog:
    """Known token metadata (address → symbol, decimals), e.g. from an ethereum-etl ``tokens`` export."""

    def __init__(self, entries: dict[str, tuple[str, int]] | None = None) -> None:
        self.entries = {address.lower(): meta for address, meta in (entries or {}).items()}


_LOWER_HEX = np.zeros(256, dtype=bool)
_LOWER_HEX[np.frombuffer(b"0123456789abcdef", dtype=np.uint8)] = True


def _valid_addresses(values: pa.Array) -> npt.NDArray[np.bool_]:
    """Rows that are null or ``0x`` + 40 lowercase hex digits, checked on the raw buffer (no regex)."""
    n = len(values)
    nulls = np.asarray(values.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    values = pa.concat_arrays([values.cast(pa.large_string())])
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int64)[: n + 1]
    lengths = np.diff(offsets)
    ok = nulls.copy()
    present = ~nulls
    if (lengths[present] == 42).all():  # the usual case: the data buffer is a (rows, 42) block of characters
        data = np.frombuffer(values.buffers()[2], dtype=np.uint8) if present.any() else np.empty(0, np.uint8)
        chars = data[offsets[0] : offsets[-1]].reshape(-1, 42)
        ok[present] = (chars[:, 0] == ord("0")) & (chars[:, 1] == ord("x")) & _LOWER_HEX[chars[:, 2:]].all(axis=1)
        return ok
    full = np.flatnonzero(present & (lengths == 42))
    if len(full):
        data = np.frombuffer(values.buffers()[2], dtype=np.uint8)
        chars = data[offsets[full][:, None] + np.arange(42)[None, :]]
        ok[full] = (chars[:, 0] == ord("0")) & (chars[:, 1] == ord("x")) & _LOWER_HEX[chars[:, 2:]].all(axis=1)
    return ok


def _lower_checked(table: pa.Table, column: str, stream: BlockOrderedStream) -> pa.Array:
    """The column's addresses in lowercase, after checking they look like Ethereum addresses."""
    values = table.column(column).combine_chunks()
    ok = _valid_addresses(values)
    if not ok.all():  # checksummed (mixed-case) addresses are fine once lowercased
        values = pc.utf8_lower(values)
        ok = _valid_addresses(values)
    bad = np.flatnonzero(~ok)
    if len(bad):
        position = int(bad[0])
        row = int(table.column(ROW)[position].as_py())
        raise fail_at_row(
            stream.stream.path, stream.stream.fmt, row, f"{column} is not an Ethereum address: {values[position]}"
        )
    return values


def _coins(values: pa.Array, decimals: npt.NDArray[np.int64] | int) -> npt.NDArray[np.float64]:
    as_float = values.cast(pa.float64()).to_numpy(zero_copy_only=False)
    return np.asarray(as_float / np.power(10.0, decimals), dtype=np.float64)


def _fees(gas_used: pa.Array, gas_price: pa.Array) -> pa.Array:
    """``receipt_gas_used * gas_price`` where both are known (enriched exports); null otherwise."""
    both = np.flatnonzero(np.asarray(pc.and_(gas_used.is_valid(), gas_price.is_valid()).to_numpy(zero_copy_only=False)))
    fees: list[int | None] = [None] * len(gas_used)
    if len(both):
        used = gas_used.take(pa.array(both)).to_pylist()
        price = gas_price.take(pa.array(both)).to_pylist()
        for position, u, p in zip(both.tolist(), used, price, strict=True):
            fees[position] = int(u) * int(p)
    return pa.array(fees, type=EXACT_VALUE)


def ethereum_batch(
    writer: ChainWriter,
    blocks: pa.Table,
    txs: pa.Table,
    transfers: pa.Table,
    streams: tuple[BlockOrderedStream, BlockOrderedStream, BlockOrderedStream],
    catalog: TokenCatalog,
    report: ChainIngestReport,
    *,
    traces: pa.Table | None = None,
    traces_stream: BlockOrderedStream | None = None,
) -> dict[str, pa.Table]:
    """Tables for one batch of whole blocks (``traces``: the batch's records of an optional traces export)."""
    blocks_stream, txs_stream, transfers_stream = streams
    traces_stream = traces_stream if traces_stream is not None else txs_stream
    traces = traces if traces is not None else empty_traces()
    check_membership(blocks, txs, txs_stream, blocks_stream, counted=True)
    check_membership(blocks, transfers, transfers_stream, blocks_stream, counted=False)
    check_membership(blocks, traces, traces_stream, blocks_stream, counted=False)
    hashes = pc.utf8_lower(txs.column("hash").combine_chunks())
    bad = ~np.asarray(pc.fill_null(pc.match_substring_regex(hashes, _HASH), False).to_numpy(zero_copy_only=False))
    check_fixed_hex(hashes, bad, txs, txs_stream, "transaction hash")
    n = txs.num_rows
    tx_ids = writer.allocate_tx_ids(n)

    tx_from = _lower_checked(txs, "from_address", txs_stream)
    tx_to = _lower_checked(txs, "to_address", txs_stream)
    token = _lower_checked(transfers, "token_address", transfers_stream)
    tt_from = _lower_checked(transfers, "from_address", transfers_stream)
    tt_to = _lower_checked(transfers, "to_address", transfers_stream)
    parent = pc.index_in(pc.utf8_lower(transfers.column("transaction_hash").combine_chunks()), value_set=hashes)
    if parent.null_count:
        position = int(np.flatnonzero(np.asarray(parent.is_null().to_numpy(zero_copy_only=False)))[0])
        row = int(transfers.column(ROW)[position].as_py())
        raise fail_at_row(
            transfers_stream.stream.path,
            transfers_stream.stream.fmt,
            row,
            "token transfer refers to a transaction that is not in the transactions file",
        )
    parent_rows = parent.to_numpy(zero_copy_only=False).astype(np.int64)

    tx_blocks = txs.column("block_number").to_numpy()
    tt_blocks = transfers.column("block_number").to_numpy()
    status = txs.column("receipt_status").combine_chunks()
    succeeded = pc.fill_null(pc.not_equal(status, 0), True)
    succeeded_np = np.asarray(succeeded.to_numpy(zero_copy_only=False), dtype=bool)
    internal = select_internal(traces, traces_stream, hashes, tx_blocks, succeeded_np, report)
    in_from = _lower_checked(internal.rows, "from_address", traces_stream)
    in_to = _lower_checked(internal.rows, "to_address", traces_stream)
    in_blocks = tx_blocks[internal.parents]
    created = pc.equal(pc.utf8_lower(internal.rows.column("trace_type").combine_chunks()), "create")
    in_to_type = pc.if_else(created, "contract", "account")
    token_set = pc.unique(token)
    to_type = pc.if_else(pc.fill_null(pc.is_in(tx_to, value_set=token_set), False), "contract", "account")
    # Trace columns last: within a block, addresses first seen in a trace get the ids after the others.
    from_ids, to_ids, token_ids, tt_from_ids, tt_to_ids, in_from_ids, in_to_ids = writer.encode_addresses(
        [
            AddressColumn(tx_from, tx_blocks, "account"),
            AddressColumn(tx_to, tx_blocks, to_type),
            AddressColumn(token, tt_blocks, "contract"),
            AddressColumn(tt_from, tt_blocks, "account"),
            AddressColumn(tt_to, tt_blocks, "account"),
            AddressColumn(in_from, in_blocks, "contract"),  # only code sends value inside a transaction
            AddressColumn(in_to, in_blocks, in_to_type),
        ]
    )

    # Token registry: asset id and decimals of every token seen in this batch.
    registry = writer.tokens
    unique_tokens = token_set.to_pylist()
    token_positions = pc.index_in(token, value_set=token_set).to_numpy(zero_copy_only=False).astype(np.int64)
    first_row = np.unique(token_positions, return_index=True)[1] if len(token_positions) else np.empty(0, np.int64)
    asset_of_unique = np.empty(len(unique_tokens), dtype=np.int32)
    decimals_of_unique = np.empty(len(unique_tokens), dtype=np.int64)
    for position, address in enumerate(unique_tokens):
        info = registry.get(address)
        if info is None:
            symbol, decimals, source = "", DEFAULT_TOKEN_DECIMALS, "default"
            if address in catalog.entries:
                symbol, decimals = catalog.entries[address]
                source = "tokens_file"
            else:
                report.warnings.append(
                    f"token {address} is not in a tokens file: assuming {DEFAULT_TOKEN_DECIMALS} decimals"
                )
            info = writer.register_token(address, int(token_ids[first_row[position]]), symbol, decimals, source)
        asset_of_unique[position] = info.asset_id
        decimals_of_unique[position] = info.decimals

    # Native transfers: successful transactions that move value; internal ones come from the traces.
    value = txs.column("value").combine_chunks()
    native = np.asarray(pc.and_(pc.greater(value, 0), succeeded).to_numpy(zero_copy_only=False))
    native_rows = np.flatnonzero(native)
    native_value = value.take(pa.array(native_rows))
    internal_value = internal.rows.column("value").combine_chunks().cast(EXACT_VALUE)
    token_value = transfers.column("value").combine_chunks()
    token_decimals = decimals_of_unique[token_positions] if len(token_positions) else np.empty(0, np.int64)
    count_native, count_internal, count_token = len(native_rows), len(internal), transfers.num_rows
    sizes = (count_native, count_internal, count_token)
    kinds = pa.DictionaryArray.from_arrays(
        pa.array(np.repeat(np.arange(3, dtype=np.int8), sizes)), pa.array(["native", "internal", "token"])
    )
    timestamps = txs.column("block_timestamp").to_numpy()
    rows = (native_rows, internal.parents, parent_rows)
    no_log = np.full(count_native + count_internal, -1, np.int32)
    edges = pa.Table.from_arrays(
        [
            pa.array(np.concatenate([tx_ids[r] for r in rows])),
            pa.array(np.concatenate([tx_blocks[native_rows], in_blocks, tt_blocks])),
            pa.array(np.concatenate([timestamps[r] for r in rows])),
            pa.array(np.concatenate([from_ids[native_rows], in_from_ids, tt_from_ids])),
            pa.array(np.concatenate([to_ids[native_rows], in_to_ids, tt_to_ids])),
            pa.array(
                np.concatenate(
                    [
                        np.full(count_native + count_internal, NATIVE_ASSET_ID, np.int32),
                        asset_of_unique[token_positions].astype(np.int32),
                    ]
                )
            ),
            kinds.cast(_KIND),
            pa.concat_arrays([native_value, internal_value, token_value]),
            pa.array(
                np.concatenate(
                    [
                        _coins(native_value, ETH_DECIMALS),
                        _coins(internal_value, ETH_DECIMALS),
                        _coins(token_value, token_decimals),
                    ]
                )
            ),
            pa.array(np.concatenate([no_log, transfers.column("log_index").to_numpy().astype(np.int32)])),
            pa.concat_arrays(
                [pa.nulls(count_native, pa.string()), internal.trace_address, pa.nulls(count_token, pa.string())]
            ),
        ],
        schema=ACCOUNT_TRANSFERS,
    )
    # Within a transaction: native, then internal in trace order, then tokens in log order.
    order = pa.array(np.arange(edges.num_rows, dtype=np.int64))
    edges = (
        edges.append_column("_order", order)
        .sort_by([("tx_id", "ascending"), ("log_index", "ascending"), ("_order", "ascending")])
        .drop_columns(["_order"])
    )

    raw_input = txs.column("input").combine_chunks()
    input_data, bad_input = decode_hex_prefixed(raw_input, skip_bytes=4)
    if bad_input.any():
        row = int(txs.column(ROW)[int(np.flatnonzero(bad_input)[0])].as_py())
        raise fail_at_row(txs_stream.stream.path, txs_stream.stream.fmt, row, "input is not 0x-prefixed hex")
    long_enough = pc.fill_null(pc.greater_equal(pc.utf8_length(raw_input), 10), False)
    method_id = pc.if_else(
        long_enough, pc.utf8_lower(pc.utf8_slice_codeunits(raw_input, 0, 10)), pa.scalar(None, pa.string())
    )
    transactions = pa.Table.from_arrays(
        [
            pa.array(tx_ids),
            hashes,
            txs.column("block_number"),
            txs.column("block_timestamp"),
            txs.column("transaction_index").cast(pa.int32()),
            pa.array(from_ids),
            pa.array(to_ids),
            value,
            pa.array(_coins(value, ETH_DECIMALS)),
            _fees(txs.column("receipt_gas_used").combine_chunks(), txs.column("gas_price").combine_chunks()),
            txs.column("gas"),
            txs.column("gas_price"),
            txs.column("nonce"),
            status.cast(pa.int8()),
            method_id,
            input_data,
            printable_text(input_data),
        ],
        schema=ACCOUNT_TRANSACTIONS,
    )
    report.transfers += edges.num_rows
    return {"blocks": blocks_table(blocks), "transactions": transactions, "transfers": edges}
