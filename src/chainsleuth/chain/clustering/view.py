# mypy: disable-error-code="no-untyped-call"
"""The UTXO data the clustering heuristics need, as plain numpy arrays, and its loader from the chain store.

The heuristics take a :class:`UtxoView` rather than a ``ChainStore`` so that they run unchanged on hand-built
arrays (the tests), synthetic arrays (the benchmark) and the store; only :func:`load_utxo_view` knows the
store.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from chainsleuth.chain.clustering.kernel import Int64Array, as_int64, group_starts
from chainsleuth.store.chainstore import ChainStore

#: Output indices are below this bound, so ``tx * OUTPUT_KEY + index`` is a unique int64 key of an output.
OUTPUT_KEY = 1 << 20


def _sort_order(keys: Int64Array) -> Int64Array:
    """A stable sorting permutation (the identity when the keys are already sorted, as the store's are)."""
    if len(keys) < 2 or bool(np.all(keys[1:] >= keys[:-1])):
        return np.arange(len(keys), dtype=np.int64)
    return np.argsort(keys, kind="stable").astype(np.int64)


@dataclass(frozen=True)
class UtxoView:
    """Inputs and outputs of a set of UTXO transactions, each sorted by transaction id (then index).

    ``out_spent_by`` is the transaction that spends each output (``-1``: unspent, or spent outside the view);
    ``address_type`` holds a small integer per address id (``-1`` unknown) naming ``type_names``.
    """

    in_tx: Int64Array
    in_address: Int64Array
    in_value: Int64Array
    out_tx: Int64Array
    out_index: Int64Array
    out_address: Int64Array
    out_value: Int64Array
    out_spent_by: Int64Array
    address_type: Int64Array
    n_addresses: int
    type_names: tuple[str, ...] = field(default=())

    @classmethod
    def from_arrays(
        cls,
        *,
        in_tx: npt.ArrayLike,
        in_address: npt.ArrayLike,
        in_value: npt.ArrayLike,
        out_tx: npt.ArrayLike,
        out_address: npt.ArrayLike,
        out_value: npt.ArrayLike,
        out_index: npt.ArrayLike | None = None,
        in_spent_tx: npt.ArrayLike | None = None,
        in_spent_index: npt.ArrayLike | None = None,
        address_type: npt.ArrayLike | None = None,
        n_addresses: int | None = None,
        type_names: tuple[str, ...] = (),
    ) -> UtxoView:
        """A view of parallel arrays (sorted here by tx id; output indices default to 0, 1, ... per tx)."""
        itx, otx = as_int64(in_tx), as_int64(out_tx)
        iorder = _sort_order(itx)
        oorder = _sort_order(otx)
        itx, otx = itx[iorder], otx[oorder]
        iaddr, ival = as_int64(in_address)[iorder], as_int64(in_value)[iorder]
        oaddr, oval = as_int64(out_address)[oorder], as_int64(out_value)[oorder]
        if out_index is None:
            starts = group_starts(otx)
            lengths = np.diff(np.append(starts, len(otx)))
            oidx = np.arange(len(otx), dtype=np.int64) - np.repeat(starts, lengths)
        else:
            oidx = as_int64(out_index)[oorder]
        spent_by = np.full(len(otx), -1, dtype=np.int64)
        if in_spent_tx is not None and in_spent_index is not None and len(otx):
            skey = as_int64(in_spent_tx)[iorder] * OUTPUT_KEY + as_int64(in_spent_index)[iorder]
            okey = otx * OUTPUT_KEY + oidx
            korder = np.argsort(okey, kind="stable")
            pos = np.searchsorted(okey, skey, sorter=korder)
            pos = np.minimum(pos, len(okey) - 1)
            hit = okey[korder[pos]] == skey
            spent_by[korder[pos[hit]]] = itx[hit]
        count = n_addresses
        if count is None:
            highest = max(int(iaddr.max(initial=-1)), int(oaddr.max(initial=-1)))
            count = highest + 1
        types = np.full(count, -1, dtype=np.int64) if address_type is None else as_int64(address_type)
        return cls(itx, iaddr, ival, otx, oidx, oaddr, oval, spent_by, types, count, type_names)

    @property
    def tx_ids(self) -> Int64Array:
        """Every transaction id with at least one input or output in the view, sorted."""
        result: Int64Array = np.union1d(self.in_tx, self.out_tx).astype(np.int64)
        return result


def address_types(store: ChainStore, chain: str) -> tuple[Int64Array, tuple[str, ...]]:
    """The script type of every address id as a small integer code, and the code → name table."""
    column = store.table(chain, "addresses", ["type"]).column("type")
    if len(column) == 0:
        return np.empty(0, dtype=np.int64), ()
    encoded = pc.cast(column, pa.string()).combine_chunks().dictionary_encode()
    codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    names = tuple(str(name) for name in encoded.dictionary.to_pylist())
    return codes, names


def load_utxo_view(
    store: ChainStore, chain: str = "bitcoin", *, min_block: int | None = None, max_block: int | None = None
) -> UtxoView:
    """Load inputs and outputs of ``chain`` (of blocks ``min_block..max_block`` when given) with address types.

    Spends are resolved within the loaded blocks only, which is all the incremental path needs (its heuristics
    look at one transaction at a time); look-ahead heuristics are always run on a full view.
    """
    inputs = store.table(
        chain,
        "inputs",
        ["tx_id", "address_id", "value", "spent_tx_id", "spent_output_index"],
        min_block=min_block,
        max_block=max_block,
    )
    outputs = store.table(
        chain, "outputs", ["tx_id", "output_index", "address_id", "value"], min_block=min_block, max_block=max_block
    )
    types, names = address_types(store, chain)

    def col(table: pa.Table, name: str) -> Int64Array:
        return as_int64(table.column(name).to_numpy())

    return UtxoView.from_arrays(
        in_tx=col(inputs, "tx_id"),
        in_address=col(inputs, "address_id"),
        in_value=col(inputs, "value"),
        in_spent_tx=col(inputs, "spent_tx_id"),
        in_spent_index=col(inputs, "spent_output_index"),
        out_tx=col(outputs, "tx_id"),
        out_index=col(outputs, "output_index"),
        out_address=col(outputs, "address_id"),
        out_value=col(outputs, "value"),
        address_type=types,
        n_addresses=len(types),
        type_names=names,
    )
