"""Optional baseline: IBM's Graph Feature Preprocessor (snapml) features, aggregated per account.

snapml has a proprietary licence, so it is never a dependency: it is imported lazily and everything here returns
``None`` when it is absent. This is IBM's published recipe (GFP edge features + gradient boosting) adapted to
account classification: GFP computes pattern histograms and vertex statistics per edge, and each account gets
the mean and the max of those columns over its outgoing and its incoming edges, next to the raw degree and
amount statistics, so the only difference from our "graph" model is where the graph features come from.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np

from chainsleuth.monitor.features.bulk import FeatureConfig, FeatureMatrix, account_features, raw_account_features
from chainsleuth.monitor.features.edges import EdgeList, FloatArray


def snapml_available() -> bool:
    return importlib.util.find_spec("snapml") is not None


def gfp_params(window: int, threads: int = 1) -> dict[str, Any]:
    bins = [2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 20]
    params: dict[str, Any] = {
        "num_threads": threads,
        "time_window": window,
        "vertex_stats": True,
        "vertex_stats_cols": [4],
        "vertex_stats_feats": [0, 1, 2, 3, 4, 8, 9, 10],
        "vertex_stats_tw": window,
    }
    for name in ("fan", "degree", "scatter-gather", "temp-cycle"):
        params.update({name: True, f"{name}_tw": window, f"{name}_bins": bins})
    params.update({"lc-cycle": True, "lc-cycle_tw": window, "lc-cycle_len": 6, "lc-cycle_bins": [2, 3, 4, 5, 6]})
    return params


def gfp_edge_features(e: EdgeList, window: int, threads: int = 1) -> FloatArray | None:
    """GFP's per-edge features (input columns stripped), in sorted edge order; None without snapml."""
    if not snapml_available():
        return None
    from snapml import GraphFeaturePreprocessor

    gp = GraphFeaturePreprocessor()
    gp.set_params(gfp_params(window, threads))
    x = np.column_stack([np.arange(e.n_edges, dtype=np.float64), e.src, e.dst, e.time, e.amount]).astype(np.float64)
    if e.n_edges == 0:
        return np.zeros((0, 0))
    out = np.asarray(gp.fit_transform(x), dtype=np.float64)
    return out[:, x.shape[1] :]


def gfp_account_features(e: EdgeList, at: int, config: FeatureConfig) -> FeatureMatrix | None:
    """Raw account statistics plus per-account mean/max of GFP edge features (edges with time <= at only)."""
    known = e.until(at)
    g = gfp_edge_features(known, config.pattern_window)
    if g is None:
        return None
    n = e.n_nodes
    lo = int(np.searchsorted(known.time, at - max(config.windows), side="left"))
    cols: list[FloatArray] = []
    names: list[str] = []
    for side, nodes in (("out", known.src[lo:]), ("in", known.dst[lo:])):
        cnt = np.maximum(np.bincount(nodes, minlength=n), 1).astype(np.float64)
        for j in range(g.shape[1]):
            v = g[lo:, j]
            mx = np.zeros(n)
            np.maximum.at(mx, nodes, v)
            cols += [np.bincount(nodes, weights=v, minlength=n) / cnt, mx]
            names += [f"gfp_{side}_{j}_mean", f"gfp_{side}_{j}_max"]
    raw = account_features(known, at, config)
    raw_names = raw_account_features(raw.names)
    base = raw.select(raw_names)
    return FeatureMatrix(raw_names + names, np.column_stack([base.values, *cols]))
