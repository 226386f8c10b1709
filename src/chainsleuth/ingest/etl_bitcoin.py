"""bitcoin-etl batch → chain store tables (``blocks``, ``transactions``, ``outputs``, ``inputs``).

Nested ``inputs``/``outputs`` lists are flattened with Arrow (no per-row Python); an input's ``spent_tx_id`` is
found first among the batch's own transactions, then in the writer's hash index of everything committed before.
Inputs whose spent transaction precedes the export stay ``-1`` and are counted in the report.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from chainsleuth.ingest.etl_common import ChainIngestReport, blocks_table, check_fixed_hex, check_membership
from chainsleuth.ingest.etl_read import ROW, BlockOrderedStream, fail_at_row
from chainsleuth.store.chainstore.addresses import AddressColumn
from chainsleuth.store.chainstore.hexarrays import decode_hex_prefixed, hash_keys, printable_text
from chainsleuth.store.chainstore.schema import NO_ID, UTXO_INPUTS, UTXO_OUTPUTS, UTXO_TRANSACTIONS
from chainsleuth.store.chainstore.writer import ChainWriter

Int64Array = npt.NDArray[np.int64]
SATOSHI_PER_BTC = 1e8


def _flatten(txs: pa.Table, column: str) -> tuple[pa.StructArray, Int64Array, Int64Array]:
    """Flattened nested records, the batch row of each, and each row's list length."""
    lists = txs.column(column).combine_chunks()
    flat = pc.list_flatten(lists)
    parents = pc.list_parent_indices(lists).to_numpy().astype(np.int64)
    lengths = pc.list_value_length(lists).to_numpy(zero_copy_only=False).astype(np.int64)
    return flat, parents, lengths


def _joined_addresses(flat: pa.StructArray) -> tuple[pa.Array, pa.Array]:
    """One address string per output/input (bare multisig: addresses joined by ``,``) and its address type."""
    addresses = flat.field("addresses")
    joined = pc.binary_join(addresses, ",")
    multi = pc.greater(pc.fill_null(pc.list_value_length(addresses), 0), 1)
    script_type = pc.fill_null(flat.field("type"), "nonstandard")
    types = pc.if_else(multi, "multisig", script_type)
    return joined, types


def _sum_by_parent(values: Int64Array, parents: Int64Array, n: int) -> Int64Array:
    totals = np.zeros(n, dtype=np.int64)
    np.add.at(totals, parents, values)
    return totals


def _op_return(flat: pa.StructArray) -> tuple[pa.Array, pa.Array, npt.NDArray[np.bool_]]:
    """OP_RETURN payload (bytes after ``OP_RETURN``), its printable text (bridge memos), and the nulldata mask."""
    script_type = flat.field("type")
    nulldata = np.asarray(pc.fill_null(pc.equal(script_type, "nulldata"), False).to_numpy(zero_copy_only=False))
    asm = pc.if_else(pa.array(nulldata), flat.field("script_asm"), pa.scalar(None, pa.string()))
    hex_text = pc.replace_substring_regex(asm, r"^OP_RETURN\s*", "0x", max_replacements=1)
    hex_text = pc.if_else(pc.starts_with(hex_text, "0x"), hex_text, pa.scalar(None, pa.string()))
    data, _ = decode_hex_prefixed(hex_text)
    return data, printable_text(data), nulldata


def bitcoin_batch(
    writer: ChainWriter,
    blocks: pa.Table,
    txs: pa.Table,
    blocks_stream: BlockOrderedStream,
    txs_stream: BlockOrderedStream,
    report: ChainIngestReport,
) -> tuple[dict[str, pa.Table], tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64], Int64Array]]:
    """Tables for one batch of whole blocks, and the hash keys of its transactions (for the writer's index)."""
    check_membership(blocks, txs, txs_stream, blocks_stream, counted=True)
    n = txs.num_rows
    hashes = txs.column("hash").combine_chunks()
    k1, k2, bad = hash_keys(hashes)
    check_fixed_hex(hashes, bad, txs, txs_stream, "transaction hash")
    tx_ids = writer.allocate_tx_ids(n)
    tx_blocks = txs.column("block_number").to_numpy()

    outs, out_parent, out_lengths = _flatten(txs, "outputs")
    ins, in_parent, in_lengths = _flatten(txs, "inputs")
    out_address, out_type = _joined_addresses(outs)
    in_address, in_type = _joined_addresses(ins)
    out_ids, in_ids = writer.encode_addresses(
        [
            AddressColumn(out_address, tx_blocks[out_parent], out_type),
            AddressColumn(in_address, tx_blocks[in_parent], in_type),
        ]
    )

    # Resolve spent outputs: this batch first, then everything committed.
    spent_hash = ins.field("spent_transaction_hash")
    within = pc.fill_null(pc.index_in(spent_hash, value_set=hashes), -1).to_numpy(zero_copy_only=False)
    spent_tx = np.where(within >= 0, tx_ids[np.maximum(within, 0)], NO_ID).astype(np.int64)
    outside = np.flatnonzero(within < 0)
    if len(outside):
        s1, s2, bad_spent = hash_keys(spent_hash.take(pa.array(outside)))
        if bad_spent.any():
            parent = int(in_parent[outside[int(np.flatnonzero(bad_spent)[0])]])
            row = int(txs.column(ROW)[parent].as_py())
            raise fail_at_row(txs_stream.stream.path, txs_stream.stream.fmt, row, "malformed spent_transaction_hash")
        spent_tx[outside] = writer.resolve_tx_hashes(s1, s2)
        report.unresolved_inputs += int(np.count_nonzero(spent_tx[outside] < 0))

    out_values = outs.field("value").to_numpy().astype(np.int64)
    in_values = ins.field("value").to_numpy().astype(np.int64)
    op_data, memo, nulldata = _op_return(outs)
    outputs = pa.Table.from_arrays(
        [
            pa.array(tx_ids[out_parent]),
            outs.field("index").cast(pa.int32()),
            pa.array(tx_blocks[out_parent]),
            pa.array(out_ids),
            pa.array(out_values),
            pa.array(out_values / SATOSHI_PER_BTC),
            pc.fill_null(outs.field("type"), "nonstandard").dictionary_encode(),
            op_data,
            memo,
        ],
        schema=UTXO_OUTPUTS,
    )
    inputs = pa.Table.from_arrays(
        [
            pa.array(tx_ids[in_parent]),
            ins.field("index").cast(pa.int32()),
            pa.array(tx_blocks[in_parent]),
            pa.array(spent_tx),
            ins.field("spent_output_index").cast(pa.int32()),
            pa.array(in_ids),
            pa.array(in_values),
            pa.array(in_values / SATOSHI_PER_BTC),
        ],
        schema=UTXO_INPUTS,
    )
    input_value = pc.fill_null(txs.column("input_value"), pa.array(_sum_by_parent(in_values, in_parent, n)))
    output_value = pc.fill_null(txs.column("output_value"), pa.array(_sum_by_parent(out_values, out_parent, n)))
    is_coinbase = txs.column("is_coinbase")
    computed_fee = pc.if_else(is_coinbase, 0, pc.subtract(input_value, output_value))
    transactions = pa.Table.from_arrays(
        [
            pa.array(tx_ids),
            hashes,
            txs.column("block_number"),
            txs.column("block_timestamp"),
            txs.column("index").cast(pa.int32()),
            is_coinbase,
            pa.array(in_lengths.astype(np.int32)),
            pa.array(out_lengths.astype(np.int32)),
            input_value,
            output_value,
            pc.fill_null(txs.column("fee"), computed_fee),
            pa.array(np.bincount(out_parent[nulldata], minlength=n) > 0),
        ],
        schema=UTXO_TRANSACTIONS,
    )
    report.outputs += outputs.num_rows
    report.inputs += inputs.num_rows
    tables = {
        "blocks": blocks_table(blocks),
        "transactions": transactions,
        "outputs": outputs,
        "inputs": inputs,
    }
    return tables, (k1, k2, tx_ids)
