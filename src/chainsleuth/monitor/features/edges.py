"""Edge lists: the one input every feature, model and evaluation works on.

Any transfer graph (AMLSim, AMLworld, the exchange ledger, on-chain transfers) is reduced to four parallel arrays
(source node, destination node, amount, integer time) sorted by time, with ties kept in input order. Times are
integers (seconds, steps) on purpose: windows are compared exactly, so the bulk and the streaming computations agree
to the bit on which edges fall inside a window.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from chainsleuth.errors import InvalidInputError

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


class FeatureError(InvalidInputError):
    """Bad input to feature extraction, a model or an evaluation (mismatched arrays, unsorted times, ...)."""


@dataclass(frozen=True)
class EdgeList:
    """Time-sorted transfers between dense node ids ``0..n_nodes-1``.

    ``labels`` maps a node id back to the caller's identifier (account id, address); ``order`` maps a sorted
    position back to the row of the caller's input, so per-edge features can be returned in input order.
    """

    src: IntArray
    dst: IntArray
    amount: FloatArray
    time: IntArray
    n_nodes: int
    labels: NDArray[np.object_] = field(default_factory=lambda: np.empty(0, dtype=object))
    order: IntArray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    @property
    def n_edges(self) -> int:
        return int(self.src.shape[0])

    def digest(self) -> str:
        """SHA-256 of the edge arrays: recorded in a saved model's metadata to identify its training data."""
        h = hashlib.sha256()
        for arr in (self.src, self.dst, self.amount, self.time):
            h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()

    def until(self, t: int) -> EdgeList:
        """The prefix of edges with ``time <= t`` (what was known at time ``t``)."""
        k = int(np.searchsorted(self.time, t, side="right"))
        return EdgeList(
            self.src[:k], self.dst[:k], self.amount[:k], self.time[:k], self.n_nodes, self.labels, self.order[:k]
        )

    @staticmethod
    def from_arrays(
        src: Sequence[object] | NDArray[np.generic],
        dst: Sequence[object] | NDArray[np.generic],
        amount: Sequence[float] | NDArray[np.generic],
        time: Sequence[int] | NDArray[np.generic],
        *,
        nodes: Sequence[object] | NDArray[np.generic] | None = None,
    ) -> EdgeList:
        """Build from any node identifiers; ``nodes`` fixes the id space (e.g. all accounts, even inactive ones)."""
        s = np.asarray(src)
        d = np.asarray(dst)
        a = np.asarray(amount, dtype=np.float64)
        t_raw = np.asarray(time)
        if not (s.shape == d.shape == a.shape == t_raw.shape) or s.ndim != 1:
            raise FeatureError("src, dst, amount and time must be one-dimensional arrays of the same length")
        integral = np.issubdtype(t_raw.dtype, np.integer)
        if t_raw.size and not integral and not np.all(np.mod(t_raw.astype(np.float64), 1.0) == 0):
            raise FeatureError("times must be integers (seconds or simulation steps)")
        t = t_raw.astype(np.int64)
        if a.size and not np.all(np.isfinite(a)):
            raise FeatureError("amounts must be finite")
        if nodes is None:
            labels, inv = np.unique(np.concatenate([s, d]), return_inverse=True)
            si, di = inv[: s.size], inv[s.size :]
        else:
            labels = np.asarray(nodes)
            sorter = np.argsort(labels, kind="stable")
            sl = labels[sorter]
            both = np.concatenate([s, d])
            pos = np.searchsorted(sl, both)
            pos = np.clip(pos, 0, max(sl.size - 1, 0))
            if both.size and (sl.size == 0 or not np.array_equal(sl[pos], both)):
                raise FeatureError("an edge refers to a node that is not in `nodes`")
            ids = sorter[pos]
            si, di = ids[: s.size], ids[s.size :]
        order = np.argsort(t, kind="stable").astype(np.int64)
        return EdgeList(
            src=si[order].astype(np.int64),
            dst=di[order].astype(np.int64),
            amount=a[order],
            time=t[order],
            n_nodes=int(labels.size),
            labels=labels.astype(object),
            order=order,
        )


def window_starts(time: IntArray, window: int) -> IntArray:
    """For each sorted position i, the first position whose time is ``>= time[i] - window``."""
    return np.searchsorted(time, time - window, side="left").astype(np.int64)
