"""Streaming (edge by edge) features equal the bulk (vectorised) ones on the same edges."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainsleuth.monitor.features.bulk import FeatureConfig, account_features, edge_features
from chainsleuth.monitor.features.edges import EdgeList, FeatureError
from chainsleuth.monitor.features.incremental import StreamingFeatures


@st.composite
def edge_lists(draw: st.DrawFn) -> tuple[EdgeList, FeatureConfig]:
    n_nodes = draw(st.integers(1, 7))
    m = draw(st.integers(1, 50))
    node = st.integers(0, n_nodes - 1)
    src = draw(st.lists(node, min_size=m, max_size=m))
    dst = draw(st.lists(node, min_size=m, max_size=m))
    # No subnormals: an optional library compiled with -ffast-math (snapml) flushes them process-wide once imported,
    # and amounts below 1e-308 do not occur in any ledger.
    amount = draw(st.lists(st.floats(0, 1e6, allow_nan=False, allow_subnormal=False), min_size=m, max_size=m))
    gaps = draw(st.lists(st.integers(0, 4), min_size=m, max_size=m))
    time = np.cumsum(gaps).tolist()
    short, long_ = draw(st.integers(1, 8)), draw(st.integers(1, 40))
    cfg = FeatureConfig(
        windows=tuple(sorted({short, long_})),
        pattern_window=draw(st.integers(1, 20)),
        fast_window=draw(st.integers(1, 5)),
        max_rows=draw(st.integers(1, 64)),  # forces the chunked pattern joins too
    )
    return EdgeList.from_arrays(src, dst, amount, time, nodes=np.arange(n_nodes)), cfg


@settings(max_examples=60, deadline=None)
@given(edge_lists(), st.integers(0, 3), st.integers(0, 2**7 - 1))
def test_incremental_equals_bulk(case: tuple[EdgeList, FeatureConfig], later: int, known_bits: int) -> None:
    e, cfg = case
    bulk = edge_features(e, cfg)
    stream = StreamingFeatures(cfg, nodes=range(e.n_nodes))
    rows = []
    for i in range(e.n_edges):
        feats = stream.update(int(e.src[i]), int(e.dst[i]), float(e.amount[i]), int(e.time[i]))
        rows.append([feats[k] for k in bulk.names])
    _assert_same(bulk.names, np.array(rows), bulk.values, e)
    at = int(e.time[-1]) + later
    acc = account_features(e, at, cfg)
    _assert_same(acc.names, stream.account_features(at).values, acc.values, e)
    known = np.array([(known_bits >> k) & 1 == 1 for k in range(e.n_nodes)])
    acc_known = account_features(e, at, cfg, known_illicit=known)
    assert acc_known.names[-8:] == [
        f"known_{s}_{k}" for s in ("out", "in") for k in ("count", "share", "amount_share", "partners")
    ]
    _assert_same(acc_known.names, stream.account_features(at, known_illicit=known).values, acc_known.values, e)
    flagged = {k for k in range(e.n_nodes) if known[k]}
    one_by_one = np.array([stream.account_row(k, at, flagged) for k in range(e.n_nodes)])
    _assert_same(acc_known.names, one_by_one.reshape(acc_known.values.shape), acc_known.values, e)


def _assert_same(names: list[str], stream: np.ndarray, bulk: np.ndarray, e: EdgeList) -> None:
    """Exact up to rounding, except the per-edge amount spread: bulk takes it from prefix sums of squares, whose
    cancellation costs up to ~sqrt(eps) of the largest amount (streaming sums the window exactly)."""
    spread = np.array([re.search(r"(src|dst)_(out|in)_std_\d+$", n) is not None for n in names], dtype=bool)
    np.testing.assert_allclose(stream[:, ~spread], bulk[:, ~spread], rtol=1e-9, atol=1e-6)
    scale = max(1.0, float(np.max(np.abs(e.amount)))) if e.n_edges else 1.0
    np.testing.assert_allclose(stream[:, spread], bulk[:, spread], rtol=1e-6, atol=1e-6 * scale)


def test_stream_refuses_out_of_order_edges_and_past_snapshots() -> None:
    s = StreamingFeatures(FeatureConfig(windows=(5,), pattern_window=5))
    s.update("a", "b", 1.0, 10)
    with pytest.raises(FeatureError, match="time-ordered"):
        s.update("a", "b", 1.0, 9)
    with pytest.raises(FeatureError, match="latest edge"):
        s.account_features(5)
    with pytest.raises(FeatureError, match="finite"):
        s.update("a", "b", float("nan"), 11)


def test_stream_memory_is_bounded_by_the_window() -> None:
    s = StreamingFeatures(FeatureConfig(windows=(5,), pattern_window=5))
    for t in range(1000):
        s.update("a", "b", 1.0, t)
    assert len(s._out[0]) <= 7  # edges older than the longest window are evicted
