"""Receipts of an ethereum-etl export merged into its transactions.

ethereum-etl writes a transaction's outcome (``status``) and ``gas_used`` to ``receipts.csv|jsonl``
(``export_receipts_and_logs``), not to ``transactions``; only enriched exports carry ``receipt_status`` and
``receipt_gas_used`` on the transaction itself. Without the receipts a failed transaction would look successful
and its value would be traced as a transfer, so the ingest reads them when given and fills the two columns where
the transaction lacks them.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from chainsleuth.ingest.etl_read import ROW, BlockOrderedStream, fail_at_row


def merge_receipts(txs: pa.Table, receipts: pa.Table, stream: BlockOrderedStream) -> pa.Table:
    """``txs`` with ``receipt_status`` / ``receipt_gas_used`` filled from ``receipts`` (matched by hash).

    Values already on a transaction win. A receipt whose transaction is not in the batch is an error naming its
    file and line: receipts and transactions of one export cover the same blocks, so it means a mismatched file.
    """
    if receipts.num_rows == 0:
        return txs
    hashes = pc.utf8_lower(txs.column("hash").combine_chunks())
    receipt_hashes = pc.utf8_lower(receipts.column("transaction_hash").combine_chunks())
    parent = pc.index_in(receipt_hashes, value_set=hashes)
    if parent.null_count:
        position = int(np.flatnonzero(np.asarray(parent.is_null().to_numpy(zero_copy_only=False)))[0])
        row = int(receipts.column(ROW)[position].as_py())
        raise fail_at_row(
            stream.stream.path, stream.stream.fmt, row, "receipt refers to a transaction that is not in the export"
        )
    rows = np.asarray(parent.to_numpy(zero_copy_only=False), dtype=np.int64)
    for tx_column, receipt_column in (("receipt_status", "status"), ("receipt_gas_used", "gas_used")):
        values = np.full(txs.num_rows, None, dtype=object)
        values[rows] = np.asarray(receipts.column(receipt_column).to_pylist(), dtype=object)
        from_receipts = pa.array(values.tolist(), type=txs.schema.field(tx_column).type)
        merged = pc.coalesce(txs.column(tx_column).combine_chunks(), from_receipts)
        txs = txs.set_column(txs.schema.get_field_index(tx_column), tx_column, merged)
    return txs
