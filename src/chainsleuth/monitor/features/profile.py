"""Lifetime account profiles, their neighbourhood, and exposure to accounts already known to be illicit.

Why a lifetime profile next to the windowed statistics: windowed counts and sums describe how *busy* an account
was lately, and they move with the activity of the whole system (a quiet week shrinks every window). The
account's *habit* moves slowly: how many different amounts it uses, how widely they spread, how many partners it
has. A payroll account sends the same amount every time; a mule mixes its usual payments with odd ones. IBM's
Graph Feature Preprocessor owes most of its accuracy on AMLSim to such a statistic (per our reconstruction its
most used column is the variance of an account's amounts over everything in the batch, not over a short window).
On AMLSim, where activity falls by two thirds in the last weeks, the windowed features drift from the training
snapshots by a median Kolmogorov-Smirnov distance of 0.14 at validation but 0.35 at test: validation cannot
show a model how they will move. Lifetime features drift steadily (0.32 at validation, 0.34 at test; the amount
spread 0.09 at both), so what validation teaches about them still holds when the model is used.

All columns use only edges with ``time <= at``. Three families:

- ``life_{out,in}_*``: over every transfer the account sent (received): count, amount spread (population std),
  coefficient of variation, distinct amounts, distinct amounts per transfer, smallest/largest amount, distinct
  counterparties. Spreads are taken from deviations from the account's first amount, so an account that always
  uses one amount has a spread of exactly 0 (sums of squares of raw amounts would leave rounding noise).
- ``nbr_{out,in}_{mean,max}_*``: the same habits of the account's counterparties (receivers, then senders), mean
  and max over distinct partners: launderers trade with each other.
- ``known_{out,in}_*`` (only when a ``known_illicit`` mask is given): transfers to (from) accounts already
  flagged before ``at``, as a count, a share of transfers and of amount, and distinct flagged partners. This is
  the direct exposure an exchange has to its own earlier findings; the mask must hold only what was known at
  ``at`` (the evaluation passes accounts whose onset precedes the labelled period).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet

import numpy as np
from numpy.typing import NDArray

from chainsleuth.monitor.features.edges import EdgeList, FeatureError, FloatArray, IntArray

LIFE_STATS = ("count", "std", "cv", "distinct_amounts", "distinct_share", "min_max_ratio", "fan")
NEIGHBOUR_OF = ("life_out_std", "life_out_cv", "life_out_distinct_share", "life_in_std")
KNOWN_STATS = ("count", "share", "amount_share", "partners")


def profile_feature_names(known: bool = False) -> list[str]:
    names = [f"life_{side}_{k}" for side in ("out", "in") for k in LIFE_STATS]
    names += [f"nbr_{side}_{agg}_{f}" for side in ("out", "in") for f in NEIGHBOUR_OF for agg in ("mean", "max")]
    if known:
        names += [f"known_{side}_{k}" for side in ("out", "in") for k in KNOWN_STATS]
    return names


def _life_side(own: IntArray, other: IntArray, amount: FloatArray, n: int) -> list[FloatArray]:
    cnt = np.bincount(own, minlength=n).astype(np.float64)
    seen = cnt > 0
    first = np.zeros(n)
    # the first amount of each node (positions are time-sorted): assign in reverse so the earliest write wins
    first[own[::-1]] = amount[::-1]
    dev = amount - first[own]
    s1 = np.bincount(own, weights=dev, minlength=n)
    s2 = np.bincount(own, weights=dev * dev, minlength=n)
    safe = np.maximum(cnt, 1.0)
    var = np.maximum(s2 / safe - (s1 / safe) ** 2, 0.0)
    std = np.where(seen, np.sqrt(var), np.nan)
    mean = np.where(seen, first + s1 / safe, np.nan)
    cv = np.divide(std, mean, out=np.full(n, np.nan), where=seen & (mean > 0))
    distinct = _distinct_count(own, amount, n)
    mn = np.full(n, np.inf)
    np.minimum.at(mn, own, amount)
    mx = np.full(n, -np.inf)
    np.maximum.at(mx, own, amount)
    ratio = np.divide(mn, mx, out=np.full(n, np.nan), where=seen & (mx > 0))
    fan = _distinct_count(own, other.astype(np.float64), n)
    share = np.divide(distinct, cnt, out=np.full(n, np.nan), where=seen)
    return [cnt, std, cv, distinct, share, ratio, fan]


def _distinct_count(own: IntArray, value: FloatArray, n: int) -> FloatArray:
    if own.size == 0:
        return np.zeros(n)
    pairs = np.unique(np.column_stack([own.astype(np.float64), value]), axis=0)
    return np.bincount(pairs[:, 0].astype(np.int64), minlength=n).astype(np.float64)


def _partners(own: IntArray, other: IntArray, n: int) -> tuple[IntArray, IntArray]:
    key = np.unique(own.astype(np.int64) * max(n, 1) + other)
    return key // max(n, 1), key % max(n, 1)


def _neighbour_columns(
    life: dict[str, FloatArray], pairs: Sequence[tuple[IntArray, IntArray]], n: int
) -> list[FloatArray]:
    cols: list[FloatArray] = []
    for own, other in pairs:
        cnt = np.bincount(own, minlength=n).astype(np.float64)
        for f in NEIGHBOUR_OF:
            v = np.nan_to_num(life[f], nan=0.0)[other]  # a partner with no such transfers counts as 0
            mean = np.divide(np.bincount(own, weights=v, minlength=n), cnt, out=np.full(n, np.nan), where=cnt > 0)
            mx = np.full(n, -np.inf)
            np.maximum.at(mx, own, v)
            cols += [mean, np.where(cnt > 0, mx, np.nan)]
    return cols


def _known_columns(
    sides: Sequence[tuple[IntArray, IntArray]], amount: FloatArray, known: NDArray[np.bool_], n: int
) -> list[FloatArray]:
    cols: list[FloatArray] = []
    for own, other in sides:
        flag = known[other].astype(np.float64)
        cnt = np.bincount(own, minlength=n).astype(np.float64)
        hits = np.bincount(own, weights=flag, minlength=n).astype(np.float64)
        total = np.bincount(own, weights=amount, minlength=n)
        flagged = np.bincount(own, weights=flag * amount, minlength=n)
        p_own, _ = _partners(own[flag > 0], other[flag > 0], n)
        cols += [
            hits,
            np.divide(hits, cnt, out=np.full(n, np.nan), where=cnt > 0),
            np.divide(flagged, total, out=np.full(n, np.nan), where=total > 0),
            np.bincount(p_own, minlength=n).astype(np.float64),
        ]
    return cols


def profile_features(e: EdgeList, at: int, known_illicit: NDArray[np.bool_] | None = None) -> FloatArray:
    """The profile columns (``profile_feature_names``) of every node as of ``at``."""
    n = e.n_nodes
    if known_illicit is not None and np.asarray(known_illicit).shape != (n,):
        raise FeatureError(f"known_illicit must have one flag per node ({n})")
    q = int(np.searchsorted(e.time, at, side="right"))
    s, d, a = e.src[:q], e.dst[:q], e.amount[:q]
    cols = _life_side(s, d, a, n) + _life_side(d, s, a, n)
    names = profile_feature_names()
    life = dict(zip(names, cols, strict=False))
    cols += _neighbour_columns(life, [_partners(s, d, n), _partners(d, s, n)], n)
    if known_illicit is not None:
        cols += _known_columns([(s, d), (d, s)], a, np.asarray(known_illicit, dtype=bool), n)
    return np.column_stack(cols) if cols else np.zeros((n, 0))


class ProfileState:
    """The same columns, kept up to date one transfer at a time (for ``StreamingFeatures``).

    Per account and direction: count, first amount, running sums of deviations from it, min, max, the set of
    amounts used, and per counterparty the number and total of transfers (lifetime state: memory grows with
    distinct amounts and partners, not with transfers).
    """

    def __init__(self) -> None:
        self._sides: tuple[list[_Side], list[_Side]] = ([], [])

    def _grow(self, n: int) -> None:
        for side in self._sides:
            while len(side) < n:
                side.append(_Side())

    def update(self, u: int, v: int, amount: float) -> None:
        self._grow(max(u, v) + 1)
        self._sides[0][u].add(v, amount)
        self._sides[1][v].add(u, amount)

    def rows(self, n: int, known_illicit: NDArray[np.bool_] | None = None) -> FloatArray:
        """Every node's profile columns: ``row`` for each of the ``n`` nodes."""
        self._grow(n)
        flagged = None
        if known_illicit is not None:
            flags = np.asarray(known_illicit, dtype=bool)
            if flags.shape != (n,):
                raise FeatureError(f"known_illicit must have one flag per node ({n})")
            flagged = {int(k) for k in np.flatnonzero(flags)}
        width = len(profile_feature_names(known_illicit is not None))
        return np.array([self.row(a, flagged) for a in range(n)], dtype=np.float64).reshape(n, width)

    def row(self, a: int, flagged: AbstractSet[int] | None = None) -> list[float]:
        """One node's profile columns (the row ``rows`` gives it), computed from its own and its partners' state
        only: what a streaming detector needs to score the account a transfer just touched."""
        self._grow(a + 1)
        out = [*self._sides[0][a].stats(), *self._sides[1][a].stats()]
        column = {name: j for j, name in enumerate(profile_feature_names()[: 2 * len(LIFE_STATS)])}
        for k in range(2):
            partners = sorted(self._sides[k][a].partners)
            habits = {p: [*self._sides[0][p].stats(), *self._sides[1][p].stats()] for p in partners}
            for f in NEIGHBOUR_OF:
                j = column[f]
                pv = [0.0 if math.isnan(habits[p][j]) else habits[p][j] for p in partners]
                out += [sum(pv) / len(pv), max(pv)] if pv else [math.nan, math.nan]
        if flagged is not None:
            for k in range(2):
                out += self._sides[k][a].known(lambda p: p in flagged)
        return out


class _Side:
    __slots__ = ("amounts", "count", "first", "high", "low", "partners", "s1", "s2")

    def __init__(self) -> None:
        self.count = 0
        self.first = 0.0
        self.s1 = 0.0
        self.s2 = 0.0
        self.low = math.inf
        self.high = -math.inf
        self.amounts: set[float] = set()
        self.partners: dict[int, list[float]] = {}  # partner -> [transfers, total amount]

    def add(self, partner: int, amount: float) -> None:
        if self.count == 0:
            self.first = amount
        dev = amount - self.first
        self.count += 1
        self.s1 += dev
        self.s2 += dev * dev
        self.low = min(self.low, amount)
        self.high = max(self.high, amount)
        self.amounts.add(amount)
        rec = self.partners.setdefault(partner, [0.0, 0.0])
        rec[0] += 1
        rec[1] += amount

    def stats(self) -> list[float]:
        c = self.count
        if c == 0:
            return [0.0, math.nan, math.nan, 0.0, math.nan, math.nan, 0.0]
        var = max(self.s2 / c - (self.s1 / c) ** 2, 0.0)
        std = math.sqrt(var)
        mean = self.first + self.s1 / c
        cv = std / mean if mean > 0 else math.nan
        ratio = self.low / self.high if self.high > 0 else math.nan
        distinct = float(len(self.amounts))
        return [float(c), std, cv, distinct, distinct / c, ratio, float(len(self.partners))]

    def known(self, is_flagged: Callable[[int], bool]) -> list[float]:
        hits = sum(rec[0] for p, rec in self.partners.items() if is_flagged(p))
        flagged = sum(rec[1] for p, rec in self.partners.items() if is_flagged(p))
        total = sum(rec[1] for rec in self.partners.values())
        partners = sum(1 for p in self.partners if is_flagged(p))
        c = self.count
        return [
            float(hits),
            hits / c if c else math.nan,
            flagged / total if total > 0 else math.nan,
            float(partners),
        ]
