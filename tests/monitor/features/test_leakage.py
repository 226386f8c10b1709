"""Features as of T never depend on what happens after T: the time split cannot leak."""

from __future__ import annotations

import numpy as np

from chainsleuth.monitor.evaluation.accounts import snapshot_labels
from chainsleuth.monitor.features.bulk import FeatureConfig, account_features, edge_features
from chainsleuth.monitor.features.edges import EdgeList

CFG = FeatureConfig(windows=(5, 20), pattern_window=8, fast_window=2)


def _random_edges(rng: np.random.Generator, n: int, m: int, t0: int, t1: int) -> tuple[list[int], ...]:
    return (
        rng.integers(0, n, m).tolist(),
        rng.integers(0, n, m).tolist(),
        rng.uniform(1, 100, m).round(2).tolist(),
        np.sort(rng.integers(t0, t1, m)).tolist(),
    )


def test_future_edges_and_labels_do_not_change_features_as_of_t() -> None:
    rng = np.random.default_rng(3)
    past = _random_edges(rng, 30, 400, 0, 100)
    cut = 99
    feats = []
    for seed in range(3):
        r = np.random.default_rng(seed)
        future = _random_edges(r, 30, 300, 100, 200)  # a different future every time
        e = EdgeList.from_arrays(*(a + b for a, b in zip(past, future, strict=True)), nodes=np.arange(30))
        full = account_features(e, cut, CFG, edge_feats=edge_features(e, CFG))  # computed with the future present
        feats.append(full.values)
        only_past = EdgeList.from_arrays(*past, nodes=np.arange(30))
        # equal up to floating rounding of prefix sums (a leak would change values, not the 12th digit)
        np.testing.assert_allclose(full.values, account_features(only_past, cut, CFG).values, rtol=1e-9)
    np.testing.assert_allclose(feats[0], feats[1], rtol=1e-9)
    np.testing.assert_allclose(feats[0], feats[2], rtol=1e-9)


def test_shuffled_future_labels_change_no_earlier_snapshot() -> None:
    rng = np.random.default_rng(0)
    onset = np.where(rng.random(200) < 0.2, rng.integers(0, 100, 200), np.nan).astype(np.float64)
    eligible = np.ones(200, dtype=bool)
    rows, y = snapshot_labels(onset, 20, 40, eligible)
    shuffled = onset.copy()
    future = np.flatnonzero(onset > 40)
    shuffled[future] = rng.permutation(onset[future]) + rng.integers(1, 50, future.size)
    shuffled[np.flatnonzero(np.isnan(onset))[:5]] = 90.0  # accounts turning illicit later
    rows2, y2 = snapshot_labels(shuffled, 20, 40, eligible)
    np.testing.assert_array_equal(rows, rows2)
    np.testing.assert_array_equal(y, y2)
    assert y.sum() == np.sum((onset > 20) & (onset <= 40))
    assert not set(np.flatnonzero(onset <= 20)) & set(rows.tolist())  # already-known accounts dropped
