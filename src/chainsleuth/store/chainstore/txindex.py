"""Transaction hash → dense tx id, for resolving UTXO inputs to the transaction whose output they spend.

A Python ``dict`` of 64-character hashes costs ~200 bytes per transaction (2 GB at 10M); this index keeps the
first 128 bits of each hash as two ``uint64`` words plus the id (24 bytes per transaction) in sorted numpy
runs,
merged geometrically as batches arrive (log-structured, so appends stay amortised O(n log n)). Lookups are
vectorised ``searchsorted``; the second word disambiguates the rare equal first words, so the result is exact
unless two transactions share 128 bits of hash, which does not happen.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

UInt64Array = npt.NDArray[np.uint64]
Int64Array = npt.NDArray[np.int64]


class _Run:
    __slots__ = ("ids", "k1", "k2")

    def __init__(self, k1: UInt64Array, k2: UInt64Array, ids: Int64Array) -> None:
        order = np.lexsort((k2, k1))
        self.k1 = k1[order]
        self.k2 = k2[order]
        self.ids = ids[order]

    def __len__(self) -> int:
        return len(self.k1)

    def lookup(self, q1: UInt64Array, q2: UInt64Array, out: Int64Array) -> None:
        """Fill ``out`` (where still -1) with the ids of matching keys."""
        if len(self.k1) == 0:
            return
        left = np.searchsorted(self.k1, q1, side="left")
        right = np.searchsorted(self.k1, q1, side="right")
        single = (right - left) == 1
        pos = np.minimum(left, len(self.k1) - 1)
        hit = single & (self.k2[pos] == q2) & (out < 0)
        out[hit] = self.ids[pos[hit]]
        for row in np.flatnonzero(((right - left) > 1) & (out < 0)):
            lo, hi = int(left[row]), int(right[row])
            found = lo + int(np.searchsorted(self.k2[lo:hi], q2[row]))
            if found < hi and self.k2[found] == q2[row]:
                out[row] = self.ids[found]


class TxHashIndex:
    """Sorted runs of (hash words, tx id); append a batch, look up many hashes at once."""

    def __init__(self) -> None:
        self._runs: list[_Run] = []

    def __len__(self) -> int:
        return sum(len(run) for run in self._runs)

    def add(self, k1: UInt64Array, k2: UInt64Array, ids: Int64Array) -> None:
        if len(k1) == 0:
            return
        self._runs.append(_Run(k1, k2, ids))
        while len(self._runs) > 1 and len(self._runs[-2]) <= 2 * len(self._runs[-1]):
            newer, older = self._runs.pop(), self._runs.pop()
            self._runs.append(
                _Run(
                    np.concatenate([older.k1, newer.k1]),
                    np.concatenate([older.k2, newer.k2]),
                    np.concatenate([older.ids, newer.ids]),
                )
            )

    def lookup(self, q1: UInt64Array, q2: UInt64Array) -> Int64Array:
        """The tx id of each queried hash, -1 where unknown."""
        out = np.full(len(q1), -1, dtype=np.int64)
        for run in reversed(self._runs):
            run.lookup(q1, q2, out)
        return out

    def drop_from(self, first_id: int) -> None:
        """Forget every id ``>= first_id`` (rollback of the chain above a height)."""
        kept: list[_Run] = []
        for run in self._runs:
            mask = run.ids < first_id
            if mask.all():
                kept.append(run)
            elif mask.any():
                kept.append(_Run(run.k1[mask], run.k2[mask], run.ids[mask]))
        self._runs = kept
