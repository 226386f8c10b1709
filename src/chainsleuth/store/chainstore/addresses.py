"""Dense address ids: each distinct address of a chain gets the next integer, once and for ever.

The analytics engine indexes numpy arrays and sparse matrices by address, so ids must be ``0..n-1`` with no
gaps and must never change once assigned (clusters, tags and cases refer to them). Ids are handed out in
order of
first appearance (block order) and persisted as Parquet chunks ``[first_id, last_id]`` in the same commit as
the
batch that first used them. During an ingest run the mapping lives in a Python ``dict``; per batch only the
*distinct* addresses of the batch touch Python, everything else is vectorised with Arrow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from chainsleuth.store.chainstore.schema import ADDRESSES, NO_ID

Int64Array = npt.NDArray[np.int64]


@dataclass
class AddressColumn:
    """One column of addresses to encode, with the block of each row and the address type to record."""

    addresses: pa.Array | pa.ChunkedArray
    blocks: Int64Array
    types: pa.Array | pa.ChunkedArray | str


def _as_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    return values


class AddressDictionary:
    """The address ⇄ dense id mapping of one chain, with the batch of not-yet-committed additions."""

    def __init__(self, chain: str, addresses: list[str] | None = None) -> None:
        self.chain = chain
        self._ids: dict[str, int] = {}
        self._committed = 0
        self._pending: list[pa.RecordBatch] = []
        if addresses:
            self._ids = dict(zip(addresses, range(len(addresses)), strict=True))
            self._committed = len(self._ids)

    @classmethod
    def load(cls, chain: str, files: list[str]) -> AddressDictionary:
        """Rebuild the mapping from the committed Parquet chunks (in id order)."""
        dictionary = cls(chain)
        next_id = 0
        for file in files:
            column = pq.read_table(file, columns=["address"]).column("address")
            names = column.to_pylist()
            dictionary._ids.update(zip(names, range(next_id, next_id + len(names)), strict=True))
            next_id += len(names)
        if len(dictionary._ids) != next_id:
            from chainsleuth.errors import IntegrityError

            raise IntegrityError("address dictionary holds a duplicate address", chain=chain)
        dictionary._committed = next_id
        return dictionary

    def __len__(self) -> int:
        return len(self._ids)

    def get(self, address: str) -> int | None:
        return self._ids.get(address)

    def encode(self, columns: list[AddressColumn]) -> list[Int64Array]:
        """Ids for every row of every column (``NO_ID`` for nulls and empty strings), assigning new ids.

        New addresses are numbered in order of first appearance by block, then by column and row order, and
        recorded as pending rows until :meth:`commit_pending` or :meth:`rollback`.
        """
        arrays = [_as_array(column.addresses).cast(pa.string()) for column in columns]
        lengths = [len(array) for array in arrays]
        if sum(lengths) == 0:
            return [np.empty(0, dtype=np.int64) for _ in columns]
        everything = pa.concat_arrays(arrays)
        blocks = np.concatenate([column.blocks.astype(np.int64, copy=False) for column in columns])
        types = pa.concat_arrays(
            [
                pa.repeat(column.types, n) if isinstance(column.types, str) else _as_array(column.types)
                for column, n in zip(columns, lengths, strict=True)
            ]
        ).cast(pa.string())
        # One hash pass: each row's code into the batch's distinct addresses.
        encoded = pc.dictionary_encode(everything)
        codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
        names = encoded.dictionary.to_pylist()
        # First row (in block order) of each distinct address, hence the order in which new ids are handed out.
        order = np.argsort(blocks, kind="stable")
        sorted_codes = codes[order]
        present = np.flatnonzero(sorted_codes >= 0)
        seen_codes, first_index = np.unique(sorted_codes[present], return_index=True)
        first_row = np.full(len(names), len(order), dtype=np.int64)
        first_row[seen_codes] = present[first_index]
        ids_of_code = np.full(len(names), NO_ID, dtype=np.int64)
        new_codes: list[int] = []
        lookup = self._ids
        for code in np.argsort(first_row, kind="stable").tolist():
            address = names[code]
            if not address:
                continue
            known = lookup.get(address)
            if known is None:
                known = len(lookup)
                lookup[address] = known
                new_codes.append(code)
            ids_of_code[code] = known
        if new_codes:
            rows = order[first_row[np.asarray(new_codes, dtype=np.int64)]]
            self._record_new(encoded.dictionary.take(pa.array(new_codes)), types.take(pa.array(rows)), blocks[rows])
        ids = np.where(codes >= 0, ids_of_code[np.maximum(codes, 0)], NO_ID)
        result: list[Int64Array] = []
        start = 0
        for n in lengths:
            result.append(ids[start : start + n])
            start += n
        return result

    def _record_new(self, addresses: pa.Array, types: pa.Array, first_seen: Int64Array) -> None:
        count = len(addresses)
        first_id = len(self._ids) - count
        batch = pa.RecordBatch.from_arrays(
            [
                pa.array(np.arange(first_id, first_id + count, dtype=np.int64)),
                pa.DictionaryArray.from_arrays(pa.array(np.zeros(count, dtype=np.int8)), pa.array([self.chain])),
                addresses.cast(pa.string()),
                types.dictionary_encode(),
                pa.array(first_seen.astype(np.int64)),
            ],
            schema=ADDRESSES,
        )
        self._pending.append(batch)

    def pending_table(self) -> pa.Table:
        """The addresses first seen since the last commit, ready to be written as one chunk."""
        if not self._pending:
            return ADDRESSES.empty_table()
        return pa.Table.from_batches(self._pending, schema=ADDRESSES).combine_chunks()

    def commit_pending(self) -> None:
        self._pending.clear()
        self._committed = len(self._ids)

    def rollback(self) -> None:
        """Forget every id handed out since the last commit, so they are handed out again identically."""
        for batch in self._pending:
            for address in batch.column(2).to_pylist():
                del self._ids[address]
        self._pending.clear()
        if len(self._ids) != self._committed:
            from chainsleuth.errors import IntegrityError

            raise IntegrityError("address dictionary rollback left it inconsistent", chain=self.chain)
