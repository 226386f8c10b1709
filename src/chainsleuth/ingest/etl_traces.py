"""ethereum-etl ``traces`` → the internal value transfers of the ``transfers`` table.

A trace is one call frame of a transaction (``trace_address`` is its path in the call tree: ``[]`` the top-level
call, ``[0, 1]`` the second call made by the first call). Value moves between addresses in a trace when it

- is a ``call`` (``call_type`` ``call``), ``create`` (``to_address`` is the new contract) or ``suicide``
  (``from_address`` self-destructs and sends its balance to ``to_address``);
- is not the top-level call: that one is the transaction's own ``value``, already a ``native`` transfer;
- carries ``value > 0`` and succeeded: ``status`` not 0, no ``error``, its transaction did not fail and no
  ancestor frame failed (a reverted frame reverts everything below it, whatever the child's own status says).

``delegatecall`` and ``callcode`` run another contract's code in the caller's own account (a delegatecall
trace repeats the caller's ``msg.value`` without moving it) and ``staticcall`` cannot carry value: none of
them moves value between addresses. Block / uncle rewards (``reward``, ``daily_reward``) and ``genesis``
allocations mint coins: they have no sender and no transaction, so they are counted in the report
(``reward_traces``) but not stored; the miner of each block is in the ``blocks`` export.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from chainsleuth.ingest.etl_common import ETH_TRACE_FIELDS, ChainIngestReport
from chainsleuth.ingest.etl_read import ROW, BlockOrderedStream, arrow_schema, fail_at_row

Int64Array = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

VALUE_TRACE_TYPES = ("call", "create", "suicide")
REWARD_TRACE_TYPES = ("reward", "daily_reward", "genesis")
CALL_TYPES = ("call", "callcode", "delegatecall", "staticcall")


@dataclass(frozen=True)
class InternalTraces:
    """The trace records that become ``internal`` transfers, with their transaction and call-tree path."""

    rows: pa.Table
    parents: Int64Array
    trace_address: pa.Array

    def __len__(self) -> int:
        return int(self.rows.num_rows)


def empty_traces() -> pa.Table:
    """A batch without traces (no traces file given)."""
    return arrow_schema(ETH_TRACE_FIELDS).append(pa.field(ROW, pa.int64())).empty_table()


def trace_address_text(values: pa.Array) -> pa.Array:
    """``[0, 1]`` → ``"0,1"`` (ethereum-etl's CSV form); the top-level call (``[]`` or null) → ``""``."""
    texts = pc.binary_join(values.cast(pa.list_(pa.string())), ",")
    return pc.fill_null(texts, "")


def _mask(values: pa.Array | pa.ChunkedArray) -> BoolArray:
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def _raise_first(bad: BoolArray, traces: pa.Table, stream: BlockOrderedStream, message: str) -> None:
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        row = int(traces.column(ROW)[position].as_py())
        raise fail_at_row(stream.stream.path, stream.stream.fmt, row, message.format(**_row_values(traces, position)))


def _row_values(traces: pa.Table, position: int) -> dict[str, object]:
    return {name: traces.column(name)[position].as_py() for name in ("trace_type", "call_type", "trace_address")}


def _failed_below(candidates: Int64Array, parents: Int64Array, text: list[str], failed: BoolArray) -> BoolArray:
    """Which candidate frames sit below a failed frame of the same transaction (prefix of its path)."""
    failed_rows = np.flatnonzero(failed)
    below = np.zeros(len(candidates), dtype=bool)
    if not len(failed_rows):
        return below
    failed_paths = {(int(parents[row]), text[row]) for row in failed_rows.tolist()}
    for position, row in enumerate(candidates.tolist()):
        parent, steps = int(parents[row]), text[row].split(",")
        below[position] = any((parent, ",".join(steps[:depth])) in failed_paths for depth in range(len(steps)))
    return below


def select_internal(
    traces: pa.Table,
    stream: BlockOrderedStream,
    hashes: pa.Array,
    tx_blocks: Int64Array,
    tx_succeeded: BoolArray,
    report: ChainIngestReport,
) -> InternalTraces:
    """Check one batch of trace records and keep the value transfers between addresses (module docstring).

    ``hashes``, ``tx_blocks`` and ``tx_succeeded`` describe the batch's transactions, in row order.
    """
    if traces.num_rows == 0:
        return InternalTraces(traces, np.empty(0, np.int64), pa.array([], pa.string()))
    trace_type = pc.utf8_lower(traces.column("trace_type").combine_chunks())
    call_type = pc.utf8_lower(traces.column("call_type").combine_chunks())
    _raise_first(
        ~_mask(pc.is_in(trace_type, value_set=pa.array(VALUE_TRACE_TYPES + REWARD_TRACE_TYPES))),
        traces,
        stream,
        "unknown trace_type {trace_type!r}",
    )
    _raise_first(
        np.asarray(call_type.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        & ~_mask(pc.is_in(call_type, value_set=pa.array(CALL_TYPES))),
        traces,
        stream,
        "unknown call_type {call_type!r}",
    )
    paths = traces.column("trace_address").combine_chunks()
    flat = pc.list_flatten(paths)
    if len(flat):
        negative = np.zeros(traces.num_rows, dtype=bool)
        parents_of_steps = pc.list_parent_indices(paths).to_numpy()
        negative[parents_of_steps[np.asarray(flat.to_numpy(zero_copy_only=False)) < 0]] = True
        _raise_first(negative, traces, stream, "trace_address {trace_address!r} has a negative step")
    rewards = _mask(pc.is_in(trace_type, value_set=pa.array(REWARD_TRACE_TYPES)))
    report.reward_traces += int(rewards.sum())
    bound = ~rewards
    tx_hash = pc.utf8_lower(traces.column("transaction_hash").combine_chunks())
    missing = bound & ~np.asarray(tx_hash.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    _raise_first(missing, traces, stream, "{trace_type} trace without a transaction_hash")
    index = pc.index_in(tx_hash, value_set=hashes)
    parents = np.asarray(pc.fill_null(index, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
    _raise_first(
        bound & (parents < 0), traces, stream, "trace refers to a transaction that is not in the transactions file"
    )
    blocks = traces.column("block_number").to_numpy()
    _raise_first(
        bound & (parents >= 0) & (tx_blocks[np.maximum(parents, 0)] != blocks),
        traces,
        stream,
        "trace's block_number differs from its transaction's",
    )
    error = traces.column("error").combine_chunks()
    has_error = _mask(pc.greater(pc.utf8_length(error), 0))
    status_failed = _mask(pc.equal(traces.column("status").combine_chunks(), 0))
    failed = bound & (has_error | status_failed | ~tx_succeeded[np.maximum(parents, 0)])
    value = pc.fill_null(traces.column("value").combine_chunks(), pa.scalar(0, pa.decimal128(38, 0)))
    depth = np.asarray(pc.fill_null(pc.list_value_length(paths), 0).to_numpy(zero_copy_only=False))
    moves = (
        bound
        & _mask(pc.is_in(trace_type, value_set=pa.array(VALUE_TRACE_TYPES)))
        & _mask(pc.fill_null(pc.equal(call_type, "call"), True))
        & _mask(pc.greater(value, 0))
        & (depth > 0)
        & ~failed
    )
    candidates = np.flatnonzero(moves)
    text_array = trace_address_text(paths)
    if len(candidates) and failed.any():
        text = text_array.to_pylist()
        candidates = candidates[~_failed_below(candidates, parents, text, failed)]
    selected = traces.take(pa.array(candidates, pa.int64()))
    for column in ("from_address", "to_address"):
        if selected.column(column).null_count:
            position = int(np.flatnonzero(selected.column(column).is_null().to_numpy(zero_copy_only=False))[0])
            row = int(selected.column(ROW)[position].as_py())
            raise fail_at_row(stream.stream.path, stream.stream.fmt, row, f"value-carrying trace without {column}")
    report.internal_transfers += len(candidates)
    return InternalTraces(selected, parents[candidates], text_array.take(pa.array(candidates, pa.int64())))
