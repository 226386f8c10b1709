"""Windowed per-node queries over time-sorted edges, fully vectorised.

Every windowed feature asks the same question: "among the edges of node g (as sender, or as receiver) at sorted
positions lo..hi, how many are there, what do they sum to, how many distinct counterparties?" A ``GroupIndex``
answers it for millions of (g, lo, hi) queries at once with ``searchsorted`` over composite int64 keys
``g * n_edges + position`` and prefix sums, so there is no Python loop over edges.

Distinct counterparties use a difference-array argument: an occurrence j of the pair (g, c) is the *latest*
occurrence up to position q exactly when ``j <= q < next_j`` and it lies in q's window exactly when
``time[q] <= time[j] + window``. So occurrence j is counted for the positions q in ``[j, end_j]`` with
``end_j = min(next_j - 1, last position with time <= time[j] + window)``, and the distinct count at q is
``#{j <= q} - #{end_j < q}``, two more ``searchsorted`` calls. This is exact when the query window is the
edge's own window (q's time minus ``window``), which is what per-edge features use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from chainsleuth.monitor.features.edges import FloatArray, IntArray


def ssorted(
    keys: IntArray, query: IntArray, side: Literal["left", "right"] = "left", order: IntArray | None = None
) -> IntArray:
    """``np.searchsorted`` with the queries sorted first: several times faster on large random queries (cache).

    ``order``, when given, is a permutation known to sort ``query`` (saves the argsort).
    """
    if query.size < 4096:
        return np.searchsorted(keys, query, side=side).astype(np.int64)
    if order is None:
        order = np.argsort(query)
    out = np.empty(query.shape, dtype=np.int64)
    out[order] = np.searchsorted(keys, query[order], side=side)
    return out


@dataclass(frozen=True)
class GroupIndex:
    """Edges grouped by one endpoint (``group``), each with a counterparty and an amount."""

    n_edges: int
    keys: IntArray  # sorted group * n_edges + position
    pos: IntArray  # positions in key order
    counterparty: IntArray  # counterparty in key order
    csum: FloatArray  # prefix sums of amounts in key order, leading 0
    _cache: dict[tuple[int, int], IntArray] = field(default_factory=dict, compare=False, repr=False)

    @staticmethod
    def build(group: IntArray, counterparty: IntArray, amount: FloatArray, mask: IntArray | None = None) -> GroupIndex:
        """Index edges by ``group``; ``mask`` (positions) restricts the index to a subset of edges."""
        n = int(group.shape[0])
        positions = np.arange(n, dtype=np.int64) if mask is None else mask.astype(np.int64)
        g = group[positions]
        order = np.argsort(g, kind="stable")  # positions are increasing, so this sorts by (group, position)
        pos = positions[order]
        keys = g[order] * max(n, 1) + pos
        csum = np.concatenate([[0.0], np.cumsum(amount[pos])])
        return GroupIndex(n, keys, pos, counterparty[pos], csum)

    def span(self, g: IntArray, lo: IntArray, hi: IntArray, order: IntArray | None = None) -> tuple[IntArray, IntArray]:
        """Index range ``[a, b)`` in key order of group g's edges at positions ``lo..hi`` (empty when hi < lo).

        ``order`` may give a permutation sorting both ``g * n + lo`` and ``g * n + hi`` (see ``ssorted``).
        """
        n = max(self.n_edges, 1)
        a = ssorted(self.keys, g * n + lo, "left", order)
        b = ssorted(self.keys, g * n + hi, "right", order)
        return a, np.maximum(a, b)

    def count_sum(
        self, g: IntArray, lo: IntArray, hi: IntArray, order: IntArray | None = None
    ) -> tuple[IntArray, FloatArray]:
        a, b = self.span(g, lo, hi, order)
        return b - a, self.csum[b] - self.csum[a]

    def last_before(self, g: IntArray, before: IntArray) -> IntArray:
        """Position of group g's last edge at a position ``< before``, or -1."""
        n = max(self.n_edges, 1)
        k = ssorted(self.keys, g * n + before, side="left").astype(np.int64) - 1
        ok = k >= 0
        kk = np.where(ok, k, 0)
        same = ok & (self.keys[kk] // n == g) if self.keys.size else np.zeros_like(ok)
        out = np.full(g.shape, -1, dtype=np.int64)
        if self.keys.size:
            out[same] = self.pos[kk[same]]
        return out

    def _end_keys(self, time: IntArray, window: int, n_nodes: int) -> IntArray:
        """Sorted ``group * n + end_j``: the last position at which occurrence j is its pair's latest in-window one."""
        cached = self._cache.get((window, n_nodes))
        if cached is not None:
            return cached
        n = max(self.n_edges, 1)
        gg = self.keys // n
        nxt = self._cache.get((-1, n_nodes))
        if nxt is None:
            pair = gg * max(n_nodes, 1) + self.counterparty
            porder = np.argsort(pair, kind="stable")  # keys are in position order within a group
            nxt = np.full(self.pos.shape, np.int64(self.n_edges), dtype=np.int64)
            same = pair[porder[1:]] == pair[porder[:-1]]
            nxt[porder[:-1][same]] = self.pos[porder[1:][same]]
            self._cache[(-1, n_nodes)] = nxt
        reach = ssorted(time, time[self.pos] + window, side="right") - 1
        out = np.sort(gg * n + np.minimum(nxt - 1, reach))
        self._cache[(window, n_nodes)] = out
        return out

    def distinct_at(
        self, g: IntArray, q: IntArray, time: IntArray, window: int, n_nodes: int, order: IntArray | None = None
    ) -> IntArray:
        """Distinct counterparties of group g in the window of position q (any q, not only g's own edges)."""
        n = max(self.n_edges, 1)
        if self.keys.size == 0:
            return np.zeros(g.shape, dtype=np.int64)
        end_keys = self._end_keys(time, window, n_nodes)
        started = ssorted(self.keys, g * n + q, "right", order) - ssorted(self.keys, g * n, "left", order)
        ended = ssorted(end_keys, g * n + q, "left", order) - ssorted(end_keys, g * n, "left", order)
        return (started - ended).astype(np.int64)
