"""The columnar chain store: Parquet parts per chain and table, one JSON state file, dense integer ids.

On disk (see ``docs/chain-store.md``)::

    ROOT/state.json                                   committed parts, heights, id counters, token registry
    ROOT/<chain>/<table>/<first>-<last>-<seq>.parquet one part per committed batch (block range, commit number)
    ROOT/<chain>/addresses/<first_id>-<last_id>-<seq>.parquet

Readers re-read ``state.json`` on every call and open only the parts it names, so they are safe to use while an
ingest runs in another process: they see whole batches or nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from chainsleuth.errors import InvalidInputError, NotFoundError
from chainsleuth.store.chainstore.schema import (
    CHAINS,
    TOKENS,
    ChainSpec,
    chain_spec,
    table_schema,
)
from chainsleuth.store.chainstore.state import (
    ChainState,
    Part,
    StoreState,
    TokenInfo,
    read_state,
    remove_unreferenced,
    write_state,
    writer_lock,
)
from chainsleuth.store.chainstore.writer import ChainWriter, block_part, part_name, write_parquet_atomically

Int64Array = npt.NDArray[np.int64]
Int32Array = npt.NDArray[np.int32]
Float64Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class TransferEdges:
    """Account-chain transfers as parallel numpy arrays (one entry per transfer, in tx then log order)."""

    src_ids: Int64Array
    dst_ids: Int64Array
    values: Float64Array
    timestamps: Int64Array
    tx_ids: Int64Array
    asset_ids: Int32Array

    def __len__(self) -> int:
        return len(self.src_ids)


@dataclass(frozen=True)
class UtxoArrays:
    """UTXO outputs or inputs as parallel numpy arrays, in (tx_id, index) order.

    For outputs ``index`` is the output index and ``spent_tx_id``/``spent_index`` are empty; for inputs ``index``
    is the input index and ``spent_*`` point at the output being spent (``-1`` when unresolved).
    """

    tx_ids: Int64Array
    index: Int32Array
    address_ids: Int64Array
    values: Int64Array
    values_coin: Float64Array
    block_numbers: Int64Array
    spent_tx_ids: Int64Array
    spent_index: Int32Array

    def __len__(self) -> int:
        return len(self.tx_ids)


def _numpy(table: pa.Table, column: str, dtype: type[np.generic]) -> Any:
    return table.column(column).to_numpy().astype(dtype, copy=False)


class ChainStore:
    """Blockchain data for the analytics engine, the CLI and the HTTP app."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # -- state and files ---------------------------------------------------------------------------------

    def state(self) -> StoreState:
        return read_state(self.root)

    def chain_state(self, chain: str) -> ChainState:
        chain_spec(chain)
        return self.state().chain(chain)

    def chains(self) -> list[str]:
        """Chains that hold at least one committed block."""
        return sorted(name for name, chain in self.state().chains.items() if chain.height >= 0)

    def height(self, chain: str) -> int:
        """Highest committed block of ``chain``, -1 when empty."""
        return self.chain_state(chain).height

    def files(self, chain: str, table: str) -> list[str]:
        """Absolute paths of the committed parts of ``chain``'s ``table``, in block (or id) order."""
        table_schema(chain_spec(chain), table)
        return [str(self.root / part.file) for part in self.chain_state(chain).table_parts(table)]

    @contextlib.contextmanager
    def writer(self, chain: str) -> Iterator[ChainWriter]:
        """A writer for ``chain``, holding the store's writer lock; a failing ``with`` block rolls back."""
        spec = chain_spec(chain)
        with writer_lock(self.root), ChainWriter(self.root, spec) as writer:
            yield writer

    # -- readers -----------------------------------------------------------------------------------------

    def table(
        self,
        chain: str,
        table: str,
        columns: Sequence[str] | None = None,
        *,
        min_block: int | None = None,
        max_block: int | None = None,
    ) -> pa.Table:
        """A whole table (or its parts overlapping a block range, then filtered exactly) as Arrow."""
        spec = chain_spec(chain)
        schema = table_schema(spec, table)
        parts = self.chain_state(chain).table_parts(table)
        if table != "addresses" and (min_block is not None or max_block is not None):
            low = min_block if min_block is not None else -1
            high = max_block if max_block is not None else 2**62
            parts = [p for p in parts if p.last_block >= low and p.first_block <= high]
        selected = list(columns) if columns is not None else schema.names
        if not parts:
            return schema.empty_table().select(selected)
        dataset = ds.dataset([str(self.root / p.file) for p in parts], schema=schema, format="parquet")
        condition = None
        block_column = "number" if table == "blocks" else "block_number"
        if table != "addresses" and min_block is not None:
            condition = ds.field(block_column) >= min_block
        if table != "addresses" and max_block is not None:
            upper = ds.field(block_column) <= max_block
            condition = upper if condition is None else condition & upper
        return dataset.to_table(columns=selected, filter=condition)

    def edges(self, chain: str = "ethereum", asset_id: int | None = None) -> TransferEdges:
        """Transfers of an account chain as numpy arrays (``values`` in coins); optionally one asset only."""
        if chain_spec(chain).kind != "account":
            raise InvalidInputError("edges() reads account-chain transfers; use utxo_outputs/inputs", chain=chain)
        table = self.table(chain, "transfers", ["from_id", "to_id", "value_coin", "timestamp", "tx_id", "asset_id"])
        if asset_id is not None:
            table = table.filter(pc.equal(table.column("asset_id"), asset_id))
        return TransferEdges(
            src_ids=_numpy(table, "from_id", np.int64),
            dst_ids=_numpy(table, "to_id", np.int64),
            values=_numpy(table, "value_coin", np.float64),
            timestamps=_numpy(table, "timestamp", np.int64),
            tx_ids=_numpy(table, "tx_id", np.int64),
            asset_ids=_numpy(table, "asset_id", np.int32),
        )

    def utxo_outputs(self, chain: str = "bitcoin") -> UtxoArrays:
        """Every output of a UTXO chain as numpy arrays."""
        table = self._utxo_table(
            chain, "outputs", ["tx_id", "output_index", "address_id", "value", "value_coin", "block_number"]
        )
        empty = np.empty(0, dtype=np.int64)
        return UtxoArrays(
            tx_ids=_numpy(table, "tx_id", np.int64),
            index=_numpy(table, "output_index", np.int32),
            address_ids=_numpy(table, "address_id", np.int64),
            values=_numpy(table, "value", np.int64),
            values_coin=_numpy(table, "value_coin", np.float64),
            block_numbers=_numpy(table, "block_number", np.int64),
            spent_tx_ids=empty,
            spent_index=empty.astype(np.int32),
        )

    def utxo_inputs(self, chain: str = "bitcoin") -> UtxoArrays:
        """Every input of a UTXO chain as numpy arrays, with the output each one spends."""
        table = self._utxo_table(
            chain,
            "inputs",
            [
                "tx_id",
                "input_index",
                "address_id",
                "value",
                "value_coin",
                "block_number",
                "spent_tx_id",
                "spent_output_index",
            ],
        )
        return UtxoArrays(
            tx_ids=_numpy(table, "tx_id", np.int64),
            index=_numpy(table, "input_index", np.int32),
            address_ids=_numpy(table, "address_id", np.int64),
            values=_numpy(table, "value", np.int64),
            values_coin=_numpy(table, "value_coin", np.float64),
            block_numbers=_numpy(table, "block_number", np.int64),
            spent_tx_ids=_numpy(table, "spent_tx_id", np.int64),
            spent_index=_numpy(table, "spent_output_index", np.int32),
        )

    def _utxo_table(self, chain: str, table: str, columns: list[str]) -> pa.Table:
        if chain_spec(chain).kind != "utxo":
            raise InvalidInputError(f"{table} exist only on UTXO chains", chain=chain)
        return self.table(chain, table, columns)

    def tokens(self, chain: str = "ethereum") -> list[TokenInfo]:
        """The token registry of ``chain`` (asset id, contract, symbol, decimals, where the decimals came from)."""
        return list(self.chain_state(chain).tokens)

    def tokens_table(self, chain: str) -> pa.Table:
        rows = [{"chain": chain, **token.__dict__} for token in self.tokens(chain)]
        return pa.Table.from_pylist(rows, schema=TOKENS) if rows else TOKENS.empty_table()

    # -- lookups -----------------------------------------------------------------------------------------

    def address_id(self, chain: str, address: str) -> int | None:
        """The dense id of ``address`` on ``chain``, or None if the store has never seen it."""
        if chain_spec(chain).kind == "account":
            address = address.lower()
        parts = self.chain_state(chain).table_parts("addresses")
        if not parts:
            return None
        dataset = ds.dataset([str(self.root / p.file) for p in parts], format="parquet")
        found = dataset.to_table(columns=["address_id"], filter=ds.field("address") == address)
        return int(found.column("address_id")[0].as_py()) if found.num_rows else None

    def addresses(self, chain: str, ids: Sequence[int] | Int64Array) -> list[str | None]:
        """The addresses of many dense ids at once (None for ``-1``); reads only the chunks that hold them."""
        wanted = np.asarray(ids, dtype=np.int64)
        result: list[str | None] = [None] * len(wanted)
        for part in self.chain_state(chain).table_parts("addresses"):
            rows = np.flatnonzero((wanted >= part.first_id) & (wanted <= part.last_id))
            if len(rows) == 0:
                continue
            names = pq.read_table(self.root / part.file, columns=["address"]).column("address")
            taken = names.take(pa.array(wanted[rows] - part.first_id)).to_pylist()
            for row, name in zip(rows.tolist(), taken, strict=True):
                result[row] = name
        return result

    def address(self, chain: str, address_id: int) -> str:
        """The address with dense id ``address_id``; NotFoundError if no such id."""
        found = self.addresses(chain, [address_id])[0]
        if found is None:
            raise NotFoundError("no address with this id", chain=chain, address_id=address_id)
        return found

    def address_info(self, chain: str, address: str) -> dict[str, Any]:
        """What the store knows about one address: id, type, first block, and its activity totals."""
        address_id = self.address_id(chain, address)
        if address_id is None:
            raise NotFoundError("address not in the chain store", chain=chain, address=address)
        part = next(
            p for p in self.chain_state(chain).table_parts("addresses") if p.first_id <= address_id <= p.last_id
        )
        row = pq.read_table(self.root / part.file).slice(address_id - part.first_id, 1).to_pylist()[0]
        info: dict[str, Any] = {"chain": chain, **row}
        if chain_spec(chain).kind == "utxo":
            for table, label in (("outputs", "received"), ("inputs", "spent")):
                rows = self._filtered(chain, table, ds.field("address_id") == address_id, ["value"])
                info[f"{label}_count"] = rows.num_rows
                info[f"{label}_value"] = int(pc.sum(rows.column("value")).as_py() or 0)
            info["balance"] = info["received_value"] - info["spent_value"]
        else:
            condition = (ds.field("from_id") == address_id) | (ds.field("to_id") == address_id)
            rows = self._filtered(chain, "transfers", condition, ["from_id", "asset_id", "value_coin"])
            outgoing = pc.equal(rows.column("from_id"), address_id)
            info["transfers_out"] = int(pc.sum(outgoing).as_py() or 0)
            info["transfers_in"] = rows.num_rows - info["transfers_out"]
            symbols = {0: chain_spec(chain).currency} | {t.asset_id: t.symbol for t in self.tokens(chain)}
            totals: dict[str, dict[str, float]] = {}
            for asset, out, value in zip(
                rows.column("asset_id").to_pylist(),
                outgoing.to_pylist(),
                rows.column("value_coin").to_pylist(),
                strict=True,
            ):
                entry = totals.setdefault(symbols.get(asset, str(asset)), {"sent": 0.0, "received": 0.0})
                entry["sent" if out else "received"] += value
            info["totals"] = totals
        return info

    def _filtered(self, chain: str, table: str, condition: Any, columns: list[str]) -> pa.Table:
        files = self.files(chain, table)
        if not files:
            return table_schema(chain_spec(chain), table).empty_table().select(columns)
        dataset = ds.dataset(files, schema=table_schema(chain_spec(chain), table), format="parquet")
        return dataset.to_table(columns=columns, filter=condition)

    def transaction(self, chain: str, tx_hash: str) -> dict[str, Any] | None:
        """One transaction by hash with its inputs/outputs (UTXO) or transfers (account), addresses resolved."""
        spec = chain_spec(chain)
        if spec.kind == "account":
            tx_hash = tx_hash.lower()
        found = self._filtered(
            chain, "transactions", ds.field("hash") == tx_hash, table_schema(spec, "transactions").names
        )
        if found.num_rows == 0:
            return None
        record: dict[str, Any] = found.slice(0, 1).to_pylist()[0]
        tx_id, block = record["tx_id"], record["block_number"]
        where = ds.field("tx_id") == tx_id
        children = ("inputs", "outputs") if spec.kind == "utxo" else ("transfers",)
        for name in children:
            rows = self.table(chain, name, min_block=block, max_block=block).filter(where).to_pylist()
            if spec.kind == "utxo":
                for row, address in zip(rows, self.addresses(chain, [r["address_id"] for r in rows]), strict=True):
                    row["address"] = address
            else:  # both ends of every transfer in one look-up
                ends = self.addresses(chain, [r[end] for r in rows for end in ("from_id", "to_id")])
                for row, sender, receiver in zip(rows, ends[0::2], ends[1::2], strict=True):
                    row["from_address"], row["to_address"] = sender, receiver
            record[name] = rows
        if spec.kind == "account":
            record["from_address"], record["to_address"] = self.addresses(chain, [record["from_id"], record["to_id"]])
        return record

    # -- summaries, SQL, rollback -------------------------------------------------------------------------

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per chain: kind, currency, block range, row counts per table, addresses, tokens, bytes on disk."""
        result: dict[str, dict[str, Any]] = {}
        for name, chain in sorted(self.state().chains.items()):
            spec = CHAINS[name]
            all_parts = [part for parts in chain.parts.values() for part in parts]
            result[name] = {
                "kind": spec.kind,
                "currency": spec.currency,
                "first_block": chain.first_block,
                "height": chain.height,
                "rows": {table: sum(p.rows for p in chain.table_parts(table)) for table in spec.tables},
                "addresses": chain.address_count,
                "tokens": len(chain.tokens),
                "files": len(all_parts),
                "bytes": sum((self.root / p.file).stat().st_size for p in all_parts if (self.root / p.file).exists()),
            }
        return result

    def duckdb_connection(self) -> Any:
        """A DuckDB connection with one view per chain and table (``btc_outputs``, ``eth_transfers``...)."""
        from chainsleuth.store.chainstore.sql import connect

        return connect(self)

    def query(self, sql: str) -> pa.Table:
        """Run read-only SQL (SELECT statements only) over the views and return the result as Arrow."""
        from chainsleuth.store.chainstore.sql import read_only_query

        return read_only_query(self, sql)

    def truncate_above(self, chain: str, height: int) -> int:
        """Remove every block above ``height`` (a reorg or a bad ingest); returns how many blocks went.

        Dense ids stay dense: addresses and transactions first seen above ``height`` are removed too, and the
        next ingest hands their ids out again. Atomic like a batch: new parts first, ``state.json`` last.
        """
        spec = chain_spec(chain)
        with writer_lock(self.root):
            state = read_state(self.root)
            old = state.chain(chain)
            if height >= old.height:
                return 0
            state.commit_seq += 1
            new = ChainState(first_block=old.first_block, tokens=list(old.tokens))
            for table in spec.tables:
                kept: list[Part] = []
                for part in old.table_parts(table):
                    if part.last_block <= height:
                        kept.append(part)
                    elif part.first_block <= height:
                        kept.append(self._rewrite_part(spec, table, part, height, state.commit_seq))
                new.parts[table] = [p for p in kept if p.rows > 0]
            removed_blocks = sum(p.rows for p in old.table_parts("blocks")) - sum(p.rows for p in new.parts["blocks"])
            new.next_tx_id = max((p.last_id + 1 for p in new.parts.get("transactions", []) if p.rows), default=0)
            new.parts["addresses"] = self._truncate_addresses(chain, old, height, state.commit_seq)
            new.address_count = sum(p.rows for p in new.parts["addresses"])
            new.tokens = [t for t in old.tokens if t.address_id < new.address_count]
            if new.parts["blocks"]:
                new.height = height
            else:
                new.height, new.first_block = -1, -1
            state.chains[chain] = new
            write_state(self.root, state)
            remove_unreferenced(self.root, state)
        return removed_blocks

    def _rewrite_part(self, spec: ChainSpec, table: str, part: Part, height: int, seq: int) -> Part:
        column = "number" if table == "blocks" else "block_number"
        data = pq.read_table(self.root / part.file, schema=table_schema(spec, table))
        data = data.filter(pc.less_equal(data.column(column), height))
        relative = part_name(spec.name, table, part.first_block, height, seq)
        write_parquet_atomically(data, self.root / relative)
        return block_part(relative, data, part.first_block, height)

    def _truncate_addresses(self, chain: str, old: ChainState, height: int, seq: int) -> list[Part]:
        kept: list[Part] = []
        for part in old.table_parts("addresses"):
            if part.last_block <= height:  # written by a batch at or below height: every address stays
                kept.append(part)
                continue
            data = pq.read_table(self.root / part.file)
            first_seen = data.column("first_seen_block").to_numpy()
            keep = int(np.count_nonzero(first_seen <= height))
            if keep == part.rows:
                kept.append(part)
                continue
            if keep:
                last_id = part.first_id + keep - 1
                relative = part_name(chain, "addresses", part.first_id, last_id, seq)
                write_parquet_atomically(data.slice(0, keep), self.root / relative)
                kept.append(
                    Part(relative, keep, part.first_block, min(part.last_block, height), part.first_id, last_id)
                )
            break
        return kept
