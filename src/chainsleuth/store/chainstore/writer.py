"""Appending batches of blocks to the chain store, atomically.

A :class:`ChainWriter` is the only way data enters the store. The ingest hands it one *batch* (a contiguous
range of whole blocks with everything in them) at a time: it first asks the writer for dense ids (transactions,
addresses, tokens), builds the tables, then calls :meth:`ChainWriter.commit`. Until the commit, every id handed
out is provisional; :meth:`ChainWriter.rollback` (called automatically when the ``with`` block fails) takes
them back, so a failed batch leaves no trace in memory or on disk and a retry assigns exactly the same ids.
"""

from __future__ import annotations

import copy
import os
import uuid
from pathlib import Path
from types import TracebackType

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from chainsleuth.errors import InvalidInputError, StorageError
from chainsleuth.store.chainstore.addresses import AddressColumn, AddressDictionary
from chainsleuth.store.chainstore.schema import DICTIONARY_COLUMNS, ChainSpec, table_schema
from chainsleuth.store.chainstore.state import (
    ChainState,
    Part,
    StoreState,
    TokenInfo,
    fsync_dir,
    read_state,
    remove_unreferenced,
    write_state,
)
from chainsleuth.store.chainstore.txindex import TxHashIndex

Int64Array = npt.NDArray[np.int64]
UInt64Array = npt.NDArray[np.uint64]

#: Rows per Parquet row group: big enough for fast scans, small enough for block-range pruning.
ROW_GROUP_SIZE = 256 * 1024


def write_parquet_atomically(table: pa.Table, path: Path) -> None:
    """Write ``table`` to ``path`` via a temp file, fsync and rename: the file is complete or absent."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".tmp-{uuid.uuid4().hex}"
    try:
        pq.write_table(
            table,
            tmp,
            compression="zstd",
            compression_level=1,
            use_dictionary=[name for name in table.column_names if name in DICTIONARY_COLUMNS],
            row_group_size=ROW_GROUP_SIZE,
            write_statistics=True,
        )
        with tmp.open("rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def part_name(chain: str, table: str, first: int, last: int, seq: int) -> str:
    """Relative path of a part: its range (blocks, or ids for addresses) and the commit that wrote it."""
    return f"{chain}/{table}/{first:012d}-{last:012d}-{seq:06d}.parquet"


def block_part(relative: str, table: pa.Table, first_block: int, last_block: int) -> Part:
    """The state entry of a block-ranged part just written; ``first_id``/``last_id`` from its ``tx_id``s."""
    part = Part(relative, table.num_rows, first_block, last_block)
    if "tx_id" in table.column_names and table.num_rows:
        ids = table.column("tx_id")
        part.first_id, part.last_id = int(ids[0].as_py()), int(ids[-1].as_py())
    return part


class ChainWriter:
    """Writes batches of one chain; obtain it with ``ChainStore.writer(chain)`` (holds the store's writer lock)."""

    def __init__(self, root: Path, spec: ChainSpec) -> None:
        self.root = root
        self.spec = spec
        self._state: StoreState = read_state(root)
        remove_unreferenced(root, self._state)
        self._chain: ChainState = self._state.chain(spec.name)
        self._addresses: AddressDictionary | None = None
        self._tx_index: TxHashIndex | None = None
        self._pending_tx = 0
        self._pending_tokens: list[TokenInfo] = []

    def __enter__(self) -> ChainWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self.rollback()

    # -- committed facts -------------------------------------------------------------------------------------

    @property
    def height(self) -> int:
        """Highest committed block (-1 for an empty chain)."""
        return self._chain.height

    @property
    def next_tx_id(self) -> int:
        return self._chain.next_tx_id + self._pending_tx

    @property
    def addresses(self) -> AddressDictionary:
        """The chain's address dictionary, loaded on first use (only writers that encode addresses pay)."""
        if self._addresses is None:
            files = [str(self.root / part.file) for part in self._chain.table_parts("addresses")]
            self._addresses = AddressDictionary.load(self.spec.name, files)
            if len(self._addresses) != self._chain.address_count:
                raise StorageError("address chunks disagree with the store state", chain=self.spec.name)
        return self._addresses

    @property
    def tokens(self) -> dict[str, TokenInfo]:
        """Registered tokens by contract address, including ones registered in the pending batch."""
        return {token.token_address: token for token in [*self._chain.tokens, *self._pending_tokens]}

    # -- provisional ids for the batch being built -----------------------------------------------------------

    def allocate_tx_ids(self, count: int) -> Int64Array:
        """Dense ids for the next ``count`` transactions of the batch."""
        start = self.next_tx_id
        self._pending_tx += count
        return np.arange(start, start + count, dtype=np.int64)

    def encode_addresses(self, columns: list[AddressColumn]) -> list[Int64Array]:
        """Dense address ids for each column (new addresses get the next ids), see :class:`AddressDictionary`."""
        return self.addresses.encode(columns)

    def register_token(self, token_address: str, address_id: int, symbol: str, decimals: int, source: str) -> TokenInfo:
        """Add a token to the registry (asset ids 1, 2, ... in order of registration)."""
        known = self.tokens.get(token_address)
        if known is not None:
            return known
        token = TokenInfo(
            asset_id=max((t.asset_id for t in [*self._chain.tokens, *self._pending_tokens]), default=0) + 1,
            token_address=token_address,
            address_id=address_id,
            symbol=symbol,
            decimals=decimals,
            source=source,
        )
        self._pending_tokens.append(token)
        return token

    def resolve_tx_hashes(self, k1: UInt64Array, k2: UInt64Array) -> Int64Array:
        """Ids of committed transactions by hash words (see ``hexarrays.hash_keys``); -1 where unknown."""
        return self._index().lookup(k1, k2)

    def _index(self) -> TxHashIndex:
        if self._tx_index is None:
            from chainsleuth.store.chainstore.hexarrays import hash_keys

            index = TxHashIndex()
            for part in self._chain.table_parts("transactions"):
                table = pq.read_table(self.root / part.file, columns=["hash", "tx_id"])
                k1, k2, _ = hash_keys(table.column("hash").combine_chunks(), prefix=self._hash_prefix())
                index.add(k1, k2, table.column("tx_id").to_numpy())
            self._tx_index = index
        return self._tx_index

    def _hash_prefix(self) -> int:
        return 0 if self.spec.kind == "utxo" else 2

    # -- commit / rollback -----------------------------------------------------------------------------------

    def commit(
        self,
        tables: dict[str, pa.Table],
        first_block: int,
        last_block: int,
        tx_hash_keys: tuple[UInt64Array, UInt64Array, Int64Array] | None = None,
    ) -> None:
        """Make the batch ``first_block..last_block`` visible in one atomic step.

        ``tables`` holds one table per block-ranged table of the chain. Parquet parts are written first, the new
        ``state.json`` last; the batch exists only once the state names it.
        """
        if first_block <= self.height or last_block < first_block:
            raise InvalidInputError(
                "batch does not extend the chain",
                chain=self.spec.name,
                height=self.height,
                first_block=first_block,
                last_block=last_block,
            )
        missing = set(self.spec.tables) - set(tables)
        if missing:
            raise InvalidInputError("batch lacks tables", tables=", ".join(sorted(missing)))
        state = copy.deepcopy(self._state)
        state.commit_seq += 1
        chain = copy.deepcopy(self._chain)
        written: list[Path] = []
        try:
            for name in self.spec.tables:
                table = tables[name].cast(table_schema(self.spec, name))
                relative = part_name(self.spec.name, name, first_block, last_block, state.commit_seq)
                write_parquet_atomically(table, self.root / relative)
                written.append(self.root / relative)
                chain.parts.setdefault(name, []).append(block_part(relative, table, first_block, last_block))
            new_addresses = self._addresses.pending_table() if self._addresses is not None else None
            if new_addresses is not None and new_addresses.num_rows:
                first_id = int(new_addresses.column("address_id")[0].as_py())
                last_id = first_id + new_addresses.num_rows - 1
                relative = part_name(self.spec.name, "addresses", first_id, last_id, state.commit_seq)
                write_parquet_atomically(new_addresses, self.root / relative)
                written.append(self.root / relative)
                chain.parts.setdefault("addresses", []).append(
                    Part(relative, new_addresses.num_rows, first_block, last_block, first_id, last_id)
                )
            chain.address_count = len(self._addresses) if self._addresses is not None else chain.address_count
            chain.next_tx_id = self.next_tx_id
            chain.tokens = [*chain.tokens, *self._pending_tokens]
            chain.first_block = first_block if chain.first_block < 0 else chain.first_block
            chain.height = last_block
            state.chains[self.spec.name] = chain
            write_state(self.root, state)
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)
            raise
        self._state, self._chain = state, chain
        if self._addresses is not None:
            self._addresses.commit_pending()
        if self._tx_index is not None and tx_hash_keys is not None:
            self._tx_index.add(*tx_hash_keys)
        self._pending_tx = 0
        self._pending_tokens = []

    def rollback(self) -> None:
        """Take back every provisional id of the batch being built."""
        if self._addresses is not None:
            self._addresses.rollback()
        self._pending_tx = 0
        self._pending_tokens = []
