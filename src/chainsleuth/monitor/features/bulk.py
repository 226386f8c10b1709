"""Bulk feature extraction for training and backtests: per-edge and per-account features over a whole edge list.

Everything here is causal by construction: the features of the edge at sorted position i read only positions
``<= i`` (pattern features only positions ``< i``), and account features "as of time T" read only edges with
``time <= T``. That is what makes a time-based split leak-free, and it is what ``StreamingFeatures`` computes
edge by edge (tests check the two agree). Pattern features follow IBM's Graph Feature Preprocessor in spirit:
each edge counts the patterns it *closes* inside ``pattern_window``:

- ``cycle2``: earlier edges v->u (the new edge u->v closes a 2-cycle), counted with multiplicity;
- ``cycle3``: distinct x with a time-respecting path v->x->u (v->x before x->u), i.e. closed 3-cycles;
- ``scatter_gather``: for u->v, distinct other senders y->v that share a sender s with u (s->u and s->y):
  v gathers what some s scattered;
- ``gather_scatter``: distinct senders into u times distinct receivers from u: the a->u->b paths through u.

Self-loops count in degree and amount statistics but take part in no pattern.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from chainsleuth.monitor.features.edges import EdgeList, FeatureError, FloatArray, IntArray, window_starts
from chainsleuth.monitor.features.index import GroupIndex, ssorted
from chainsleuth.monitor.features.profile import profile_feature_names, profile_features


@dataclass(frozen=True)
class FeatureConfig:
    """Windows in the edge list's time unit (seconds for the ledger, steps for AMLSim)."""

    windows: tuple[int, ...] = (86_400, 7 * 86_400)
    pattern_window: int = 7 * 86_400
    fast_window: int = 86_400
    max_rows: int = 4_000_000  # rows materialised at once when expanding pattern joins (memory bound)

    def __post_init__(self) -> None:
        if not self.windows or min(self.windows) <= 0 or self.pattern_window <= 0 or self.fast_window <= 0:
            raise FeatureError("feature windows must be positive")


@dataclass(frozen=True)
class FeatureMatrix:
    """Named feature columns; rows are edges (sorted order) or accounts (node id order)."""

    names: list[str]
    values: FloatArray

    def column(self, name: str) -> FloatArray:
        return self.values[:, self.names.index(name)]

    def select(self, names: list[str]) -> FeatureMatrix:
        idx = [self.names.index(n) for n in names]
        return FeatureMatrix(list(names), self.values[:, idx])


PATTERN_EDGE_FEATURES = ("cycle2", "cycle3", "scatter_gather", "gather_scatter")


def edge_feature_names(config: FeatureConfig) -> list[str]:
    names: list[str] = []
    for w in config.windows:
        for side in ("src_out", "src_in", "dst_in", "dst_out"):
            names += [f"{side}_count_{w}", f"{side}_sum_{w}", f"{side}_fan_{w}", f"{side}_ratio_{w}"]
            names += [f"{side}_mean_{w}", f"{side}_std_{w}"]
    return [*names, "amount", *PATTERN_EDGE_FEATURES, "src_passthrough_delay"]


def account_feature_names(
    config: FeatureConfig, exposure: Mapping[str, FloatArray] | None = None, *, known: bool = False
) -> list[str]:
    names: list[str] = []
    for w in config.windows:
        for side in ("out", "in"):
            names += [f"{side}_{k}_{w}" for k in ("count", "sum", "mean", "min", "max", "std", "fan", "ratio")]
    names += ["cycle_edges", "sg_gather", "sg_member", "gs_max", "passthrough_mean_delay", "fast_out_share"]
    for side in ("out", "in"):
        names += [f"{side}_edges_{agg}_{f}" for f in edge_feature_names(config) for agg in ("mean", "max")]
    names += profile_feature_names(known)
    return names + [f"exposure_{k}" for k in sorted(exposure or {})]


def raw_account_features(names: list[str]) -> list[str]:
    """The degree and amount statistics only: the 'raw features' baseline (no fan, patterns or velocity)."""
    return [n for n in names if re.fullmatch(r"(out|in)_(count|sum|mean|min|max|std)_\d+", n)]


def profile_account_features(names: list[str]) -> list[str]:
    """Raw statistics plus the drift-robust families of ``profile``: lifetime habits, neighbours, known exposure.

    The windowed pattern and per-edge aggregates are left out: on data whose activity level moves (AMLSim's last
    weeks) they shift with it, and validation periods cannot show it (see docs/detection.md).
    """
    raw = raw_account_features(names)
    return raw + [n for n in names if n.startswith(("life_", "nbr_", "known_"))]


@dataclass(frozen=True)
class _Indexes:
    out_all: GroupIndex
    in_all: GroupIndex
    out_np: GroupIndex  # no self-loops
    in_np: GroupIndex
    pair: GroupIndex
    pair_keys: IntArray
    out_sq: _Squares
    in_sq: _Squares


def _indexes(e: EdgeList) -> _Indexes:
    loops = e.src == e.dst
    keep = np.flatnonzero(~loops)
    n = max(e.n_nodes, 1)
    pk = e.src * n + e.dst
    pair_keys, inv = np.unique(pk[keep], return_inverse=True)
    pair_id = np.full(e.n_edges, -1, dtype=np.int64)
    pair_id[keep] = inv
    return _Indexes(
        GroupIndex.build(e.src, e.dst, e.amount),
        GroupIndex.build(e.dst, e.src, e.amount),
        GroupIndex.build(e.src, e.dst, e.amount, keep),
        GroupIndex.build(e.dst, e.src, e.amount, keep),
        GroupIndex.build(pair_id, np.zeros(e.n_edges, dtype=np.int64), e.amount, keep),
        pair_keys.astype(np.int64),
        _Squares.build(e.src, e.dst, e.amount),
        _Squares.build(e.dst, e.src, e.amount),
    )


@dataclass(frozen=True)
class _Squares:
    """Squared deviations of each node's amounts from its first amount, prefix-summed *within* the node's edges.

    Per-node centring limits cancellation; per-node prefix sums make a window's sum depend on that node's earlier
    edges only, so it is bit-identical whether or not later edges exist (the causality test checks this).
    """

    index: GroupIndex
    base: FloatArray  # base[k]: what to subtract for a window starting at key k (0 at a node's first edge)
    centre: FloatArray  # centre[k]: first amount of key k's node
    dsum: FloatArray  # the same per-node prefix sums for the deviations themselves
    dbase: FloatArray

    @staticmethod
    def build(group: IntArray, other: IntArray, amount: FloatArray) -> _Squares:
        ix = GroupIndex.build(group, other, amount)
        g, amt = group[ix.pos], amount[ix.pos]
        starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]]) if g.size else np.zeros(0, dtype=np.int64)
        ends = np.r_[starts[1:], g.size].astype(np.int64)
        csum, base, centre, dsum, dbase = (np.zeros(g.size + 1) for _ in range(5))
        for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True):
            dev = amt[lo:hi] - amt[lo]
            run, drun = np.cumsum(dev**2), np.cumsum(dev)
            csum[lo + 1 : hi + 1], dsum[lo + 1 : hi + 1] = run, drun
            base[lo + 1 : hi], dbase[lo + 1 : hi] = run[:-1], drun[:-1]
            centre[lo:hi] = amt[lo]
        index = GroupIndex(ix.n_edges, ix.keys, ix.pos, ix.counterparty, csum)
        return _Squares(index, base, centre, dsum, dbase)


def _pair_lookup(ix: _Indexes, a: IntArray, b: IntArray, n_nodes: int) -> IntArray:
    key = a * max(n_nodes, 1) + b
    k = np.clip(ssorted(ix.pair_keys, key), 0, max(ix.pair_keys.size - 1, 0))
    if ix.pair_keys.size == 0:
        return np.full(a.shape, -1, dtype=np.int64)
    return np.where(ix.pair_keys[k] == key, k, -1).astype(np.int64)


def _pair_count(ix: _Indexes, pid: IntArray, lo: IntArray, hi: IntArray) -> IntArray:
    cnt, _ = ix.pair.count_sum(np.where(pid >= 0, pid, 0), lo, hi)
    return np.where(pid >= 0, cnt, 0)


def _expand(a: IntArray, b: IntArray) -> tuple[IntArray, IntArray]:
    """Rows (owner, k) for every owner r and every k in ``[a[r], b[r])``."""
    rep = b - a
    owner = np.repeat(np.arange(a.size, dtype=np.int64), rep)
    first = np.repeat(np.cumsum(rep) - rep, rep)
    return owner, np.repeat(a, rep) + (np.arange(owner.size, dtype=np.int64) - first)


def _chunks(weights: IntArray, budget: int) -> list[tuple[int, int]]:
    """Split ``range(len(weights))`` into consecutive chunks whose weights sum to about ``budget``."""
    out: list[tuple[int, int]] = []
    cum = np.cumsum(weights)
    start = 0
    while start < weights.size:
        base = cum[start - 1] if start else 0
        stop = int(np.searchsorted(cum, base + budget, side="right"))
        stop = max(stop, start + 1)
        out.append((start, stop))
        start = stop
    return out


def _distinct_hits(owner: IntArray, other: IntArray, hit: np.ndarray, n_owner: int, n_nodes: int) -> IntArray:
    key = np.unique(owner[hit] * max(n_nodes, 1) + other[hit])
    return np.bincount(key // max(n_nodes, 1), minlength=n_owner).astype(np.int64)


def _cycle3(e: EdgeList, ix: _Indexes, rows: IntArray, lo: IntArray, budget: int) -> IntArray:
    u, v = e.src[rows], e.dst[rows]
    a, b = ix.out_np.span(v, lo, rows - 1)
    out = np.zeros(rows.size, dtype=np.int64)
    for s, t in _chunks(b - a, budget):
        owner, k = _expand(a[s:t], b[s:t])
        j1, x = ix.out_np.pos[k], ix.out_np.counterparty[k]
        uu, ii = u[s:t][owner], rows[s:t][owner]
        ok = x != uu
        cnt = _pair_count(ix, _pair_lookup(ix, x, uu, e.n_nodes), j1 + 1, ii - 1)
        out[s:t] = _distinct_hits(owner, x, ok & (cnt > 0), t - s, e.n_nodes)
    return out


def _scatter_gather(e: EdgeList, ix: _Indexes, rows: IntArray, lo: IntArray, budget: int) -> IntArray:
    x, v = e.src[rows], e.dst[rows]
    a, b = ix.in_np.span(v, lo, rows - 1)
    out = np.zeros(rows.size, dtype=np.int64)
    n = max(e.n_nodes, 1)
    for s, t in _chunks(b - a, budget):
        owner, k = _expand(a[s:t], b[s:t])
        y = ix.in_np.counterparty[k]
        keep = y != x[s:t][owner]
        pairs = np.unique(owner[keep] * n + y[keep])  # distinct (edge, other sender y)
        po, py = pairs // n, pairs % n
        i_abs, lo_abs = rows[s:t][po], lo[s:t][po]
        a2, b2 = ix.in_np.span(py, lo_abs, i_abs - 1)
        hits = np.zeros(pairs.size, dtype=bool)
        for s2, t2 in _chunks(b2 - a2, budget):
            own2, k2 = _expand(a2[s2:t2], b2[s2:t2])
            snd = ix.in_np.counterparty[k2]
            glob = own2 + s2
            xs = x[s:t][po[glob]]
            cnt = _pair_count(ix, _pair_lookup(ix, snd, xs, e.n_nodes), lo_abs[glob], i_abs[glob] - 1)
            np.logical_or.at(hits, glob, cnt > 0)
        out[s:t] = np.bincount(po[hits], minlength=t - s)
    return out


def edge_features(e: EdgeList, config: FeatureConfig) -> FeatureMatrix:
    """Per-edge features in sorted edge order (``e.order`` maps back to input rows)."""
    ix = _indexes(e)
    pos = np.arange(e.n_edges, dtype=np.int64)
    cols: list[FloatArray] = []
    by_src, by_dst = np.argsort(e.src, kind="stable"), np.argsort(e.dst, kind="stable")  # sorts every query below
    sides = [(e.src, ix.out_all, ix.out_sq, by_src), (e.src, ix.in_all, ix.in_sq, by_src)]
    sides += [(e.dst, ix.in_all, ix.in_sq, by_dst), (e.dst, ix.out_all, ix.out_sq, by_dst)]
    for w in config.windows:
        lo = window_starts(e.time, w)
        for node, index, sq_index, order in sides:
            cnt, tot = index.count_sum(node, lo, pos, order)
            fan = index.distinct_at(node, pos, e.time, w, e.n_nodes, order)
            ratio = np.divide(fan, cnt, out=np.full(cnt.shape, np.nan), where=cnt > 0)  # 1 = all new partners
            cols += [cnt.astype(np.float64), tot, fan.astype(np.float64), ratio, *_moments(cnt, tot, sq_index,
                     node, lo, pos, order)]  # fmt: skip
    cols.append(e.amount.astype(np.float64))
    cols += [c.astype(np.float64) for c in _pattern_columns(e, ix, config)]
    last_in = ix.in_all.last_before(e.src, pos)
    delay = np.where(last_in >= 0, e.time - e.time[np.maximum(last_in, 0)], np.nan)
    cols.append(delay.astype(np.float64))
    values = np.empty((e.n_edges, len(cols)), dtype=np.float64)
    for j, col in enumerate(cols):
        values[:, j] = col
    return FeatureMatrix(edge_feature_names(config), values)


def _moments(
    cnt: IntArray, tot: FloatArray, sq: _Squares, node: IntArray, lo: IntArray, pos: IntArray, order: IntArray
) -> list[FloatArray]:
    """Mean and (population) std of the window's amounts (the per-edge vertex amount statistics of IBM's GFP).

    The spread of a vertex's recent amounts *at the time of each transfer*: laundering accounts repeat
    near-identical small amounts. Computed from per-node prefix sums of squared deviations (``_Squares``); the
    streaming path sums the window exactly, and the two agree to ~1e-6 of the largest amount.
    """
    a, b = sq.index.span(node, lo, pos, order)
    k = np.minimum(a, sq.base.size - 1)
    sumsq = np.where(b > a, sq.index.csum[b] - sq.base[k], 0.0)
    c = np.maximum(cnt, 1).astype(np.float64)
    shifted = np.where(b > a, (sq.dsum[b] - sq.dbase[k]) / c, 0.0)  # mean deviation from the centre
    var = np.maximum(sumsq / c - shifted**2, 0.0)
    return [np.where(cnt > 0, tot / c, np.nan), np.where(cnt > 0, np.sqrt(var), np.nan)]


def _pattern_columns(e: EdgeList, ix: _Indexes, config: FeatureConfig) -> list[IntArray]:
    lo = window_starts(e.time, config.pattern_window)
    rows = np.flatnonzero(e.src != e.dst).astype(np.int64)
    c2 = np.zeros(e.n_edges, dtype=np.int64)
    c3, sg, gs = c2.copy(), c2.copy(), c2.copy()
    u, v, lr = e.src[rows], e.dst[rows], lo[rows]
    c2[rows] = _pair_count(ix, _pair_lookup(ix, v, u, e.n_nodes), lr, rows - 1)
    c3[rows] = _cycle3(e, ix, rows, lr, config.max_rows)
    sg[rows] = _scatter_gather(e, ix, rows, lr, config.max_rows)
    fan_in = ix.in_np.distinct_at(u, rows, e.time, config.pattern_window, e.n_nodes)
    fan_out = ix.out_np.distinct_at(u, rows, e.time, config.pattern_window, e.n_nodes)
    gs[rows] = fan_in * fan_out
    return [c2, c3, sg, gs]


def _group_stats(group: IntArray, amount: FloatArray, n: int) -> list[FloatArray]:
    cnt = np.bincount(group, minlength=n).astype(np.float64)
    tot = np.bincount(group, weights=amount, minlength=n)
    mean = np.divide(tot, cnt, out=np.zeros(n), where=cnt > 0)
    mx = np.zeros(n)
    np.maximum.at(mx, group, amount)
    mn = np.full(n, np.inf)
    np.minimum.at(mn, group, amount)
    mn[cnt == 0] = 0.0
    var = np.bincount(group, weights=(amount - mean[group]) ** 2, minlength=n)
    std = np.sqrt(np.divide(var, cnt, out=np.zeros(n), where=cnt > 0))
    return [cnt, tot, mean, mn, mx, std]


def _fan(group: IntArray, other: IntArray, n: int) -> FloatArray:
    pairs = np.unique(group * max(n, 1) + other)
    return np.bincount(pairs // max(n, 1), minlength=n).astype(np.float64)


def account_features(
    e: EdgeList,
    at: int,
    config: FeatureConfig,
    *,
    edge_feats: FeatureMatrix | None = None,
    exposure: Mapping[str, FloatArray] | None = None,
    known_illicit: NDArray[np.bool_] | None = None,
) -> FeatureMatrix:
    """Features of every node as of time ``at``, from edges with ``time <= at`` only.

    ``edge_feats`` (from ``edge_features`` on the same or a longer edge list) avoids recomputing patterns; it is
    safe to pass features computed on *later* data too, because per-edge features are causal. ``exposure`` maps a
    category to a per-node share (e.g. from the chain engine's exposure scores) and is appended as columns.
    ``known_illicit`` flags the nodes already known to be illicit at ``at`` and adds the ``known_*`` columns.
    """
    n = e.n_nodes
    q = int(np.searchsorted(e.time, at, side="right"))  # edges [0, q) are known at `at`
    ef = edge_feats if edge_feats is not None else edge_features(e.until(at), config)
    cols: list[FloatArray] = []
    for w in config.windows:
        lo = int(np.searchsorted(e.time, at - w, side="left"))
        s, d, a = e.src[lo:q], e.dst[lo:q], e.amount[lo:q]
        for grp, other in ((s, d), (d, s)):
            stats, fan = _group_stats(grp, a, n), _fan(grp, other, n)
            ratio = np.divide(fan, stats[0], out=np.full(n, np.nan), where=stats[0] > 0)  # < 1: repeat partners
            cols += [*stats, fan, ratio]
    lp = int(np.searchsorted(e.time, at - config.pattern_window, side="left"))
    s, d = e.src[lp:q], e.dst[lp:q]
    cyc = (ef.column("cycle2")[lp:q] + ef.column("cycle3")[lp:q] > 0).astype(np.float64)
    cols.append((np.bincount(s, weights=cyc, minlength=n) + np.bincount(d, weights=cyc, minlength=n)).astype(float))
    sgv = ef.column("scatter_gather")[lp:q]
    cols += [
        np.bincount(d, weights=sgv, minlength=n).astype(float),
        np.bincount(s, weights=sgv, minlength=n).astype(float),
    ]
    gsmax = np.zeros(n)
    np.maximum.at(gsmax, s, ef.column("gather_scatter")[lp:q])
    cols.append(gsmax)
    cols += _velocity(e, ef, at, q, max(config.windows), config.fast_window)
    cols += _edge_aggregates(e, ef, at, q, max(config.windows))
    prof = profile_features(e, at, known_illicit)
    cols += [prof[:, j] for j in range(prof.shape[1])]
    for k in sorted(exposure or {}):
        arr = np.asarray((exposure or {})[k], dtype=np.float64)
        if arr.shape != (n,):
            raise FeatureError(f"exposure '{k}' must have one value per node ({n}), got shape {arr.shape}")
        cols.append(arr)
    names = account_feature_names(config, exposure, known=known_illicit is not None)
    return FeatureMatrix(names, np.column_stack(cols))


def _velocity(e: EdgeList, ef: FeatureMatrix, at: int, q: int, window: int, fast: int) -> list[FloatArray]:
    """Pass-through: mean delay from last inflow to each outflow, share of inflow that leaves within ``fast``."""
    n = e.n_nodes
    lo = int(np.searchsorted(e.time, at - window, side="left"))
    s = e.src[lo:q]
    delay = ef.column("src_passthrough_delay")[lo:q]
    ok = ~np.isnan(delay)
    dcnt = np.bincount(s[ok], minlength=n).astype(np.float64)
    dsum = np.bincount(s[ok], weights=delay[ok], minlength=n)
    mean_delay = np.where(dcnt > 0, dsum / np.maximum(dcnt, 1), np.nan)
    out_idx = GroupIndex.build(e.src[:q], e.dst[:q], e.amount[:q])
    d = e.dst[lo:q]
    j = np.arange(lo, q, dtype=np.int64)
    nn = max(q, 1)
    k = ssorted(out_idx.keys, d * nn + j, side="right")
    kk = np.minimum(k, max(out_idx.keys.size - 1, 0))
    has = (k < out_idx.keys.size) & (out_idx.keys[kk] // nn == d) if out_idx.keys.size else np.zeros(j.size, bool)
    nxt_t = e.time[out_idx.pos[kk]] if out_idx.keys.size else np.zeros(j.size, np.int64)
    quick = has & (nxt_t - e.time[lo:q] <= fast)
    a = e.amount[lo:q]
    inflow = np.bincount(d, weights=a, minlength=n)
    fast_in = np.bincount(d, weights=np.where(quick, a, 0.0), minlength=n)
    share = np.where(inflow > 0, fast_in / np.where(inflow > 0, inflow, 1.0), np.nan)
    return [mean_delay, share]


def _edge_aggregates(e: EdgeList, ef: FeatureMatrix, at: int, q: int, window: int) -> list[FloatArray]:
    """Mean and max of every per-edge feature over the account's outgoing, then incoming, edges in the window.

    This is how an account inherits what its transfers looked like *when they happened* (e.g. the receiver's
    fan-in at the time of each payment), the account-level analogue of IBM GFP's per-edge pattern counts.
    NaN values (no pass-through delay yet) are skipped; an account with no such edge gets NaN.
    """
    n = e.n_nodes
    lo = int(np.searchsorted(e.time, at - window, side="left"))
    out: list[FloatArray] = []
    for nodes in (e.src[lo:q], e.dst[lo:q]):
        for j in range(ef.values.shape[1]):
            v = ef.values[lo:q, j]
            ok = ~np.isnan(v)
            cnt = np.bincount(nodes[ok], minlength=n).astype(np.float64)
            tot = np.bincount(nodes[ok], weights=v[ok], minlength=n)
            mx = np.full(n, -np.inf)
            np.maximum.at(mx, nodes[ok], v[ok])
            out += [np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan), np.where(cnt > 0, mx, np.nan)]
    return out
