"""Each feature on hand-built edge lists with hand-computed answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from chainsleuth.monitor.features.bulk import (
    FeatureConfig,
    account_features,
    edge_features,
    raw_account_features,
)
from chainsleuth.monitor.features.edges import EdgeList, FeatureError
from chainsleuth.monitor.features.names import describe

CFG = FeatureConfig(windows=(3,), pattern_window=10, fast_window=1)


def _edges(rows: list[tuple[str, str, float, int]]) -> EdgeList:
    s, d, a, t = zip(*rows, strict=True)
    return EdgeList.from_arrays(list(s), list(d), list(a), list(t))


# pos: 0 a->b t0 | 1 b->c t1 | 2 c->a t2 | 3 a->c t3 | 4 c->b t3 | 5 b->d t4 | 6 d->c t5 | 7 d->a t6
TOY = _edges(
    [
        ("a", "b", 1, 0),
        ("b", "c", 2, 1),
        ("c", "a", 3, 2),
        ("a", "c", 4, 3),
        ("c", "b", 5, 3),
        ("b", "d", 6, 4),
        ("d", "c", 7, 5),
        ("d", "a", 8, 6),
    ]
)


def test_edges_are_sorted_by_time_keeping_input_order_for_ties() -> None:
    e = EdgeList.from_arrays(["x", "y", "z"], ["y", "z", "x"], [1.0, 2.0, 3.0], [5, 1, 1])
    assert e.time.tolist() == [1, 1, 5]
    assert e.order.tolist() == [1, 2, 0]
    assert [e.labels[i] for i in e.src] == ["y", "z", "x"]


def test_bad_edge_lists_are_refused() -> None:
    with pytest.raises(FeatureError, match="same length"):
        EdgeList.from_arrays([1], [2, 3], [1.0], [0])
    with pytest.raises(FeatureError, match="integers"):
        EdgeList.from_arrays([1], [2], [1.0], [0.5])
    with pytest.raises(FeatureError, match="not in `nodes`"):
        EdgeList.from_arrays([1], [9], [1.0], [0], nodes=[1, 2])
    with pytest.raises(FeatureError, match="positive"):
        FeatureConfig(windows=(0,))


def test_degree_amount_and_fan_in_windows() -> None:
    f = edge_features(TOY, CFG)
    # edge 6 (d->c at t5, window [2, 5]): c received b->c? no (t1 < 2); a->c (t3, 4) and d->c itself (7)
    assert f.column("dst_in_count_3")[6] == 2
    assert f.column("dst_in_sum_3")[6] == 11
    assert f.column("dst_in_fan_3")[6] == 2
    assert f.column("dst_in_ratio_3")[6] == 1.0
    # edge 4 (c->b at t3, window [0, 3]): c sent c->a (t2) and c->b: two transfers to two receivers
    assert f.column("src_out_count_3")[4] == 2
    assert f.column("src_out_sum_3")[4] == 8
    assert f.column("src_out_fan_3")[4] == 2
    # edge 7 (d->a at t6, window [3, 6]): what the receiver a sent: a->c at t3
    assert f.column("dst_out_count_3")[7] == 1
    assert f.column("dst_out_sum_3")[7] == 4
    # edge 0: nothing before it
    assert f.column("src_in_count_3")[0] == 0
    assert math.isnan(f.column("src_in_ratio_3")[0])


def test_fan_counts_distinct_counterparties_not_transfers() -> None:
    e = _edges([("m", "x", 1, 0), ("m", "x", 1, 1), ("m", "y", 1, 2), ("m", "x", 1, 10)])
    f = edge_features(e, FeatureConfig(windows=(5,), pattern_window=5))
    assert f.column("src_out_count_5").tolist() == [1, 2, 3, 1]
    assert f.column("src_out_fan_5").tolist() == [1, 1, 2, 1]
    assert f.column("src_out_ratio_5")[2] == pytest.approx(2 / 3)


def test_temporal_cycles() -> None:
    f = edge_features(TOY, CFG)
    # c->a closes a->b->c (time order respected); a->c closes c->a (2-cycle); c->b closes b->c
    assert f.column("cycle3").tolist() == [0, 0, 1, 0, 0, 0, 1, 1]
    assert f.column("cycle2").tolist() == [0, 0, 0, 1, 1, 0, 0, 0]


def test_cycle_must_respect_time_order() -> None:
    # v->x happens after x->u: the path v->x->u is not time-respecting, so u->v closes no 3-cycle
    e = _edges([("x", "u", 1, 0), ("v", "x", 1, 1), ("u", "v", 1, 2)])
    assert edge_features(e, CFG).column("cycle3").tolist() == [0, 0, 0]
    e2 = _edges([("v", "x", 1, 0), ("x", "u", 1, 1), ("u", "v", 1, 2)])
    assert edge_features(e2, CFG).column("cycle3").tolist() == [0, 0, 1]


def test_cycles_outside_the_pattern_window_do_not_count() -> None:
    e = _edges([("v", "x", 1, 0), ("x", "u", 1, 1), ("u", "v", 1, 20)])
    assert edge_features(e, CFG).column("cycle3").tolist() == [0, 0, 0]


def test_scatter_gather() -> None:
    # s scatters to m1, m2, m3; each forwards to d: the k-th gather edge sees k-1 siblings fed by s
    rows = [("s", "m1", 1, 0), ("s", "m2", 1, 0), ("s", "m3", 1, 0)]
    rows += [("m1", "d", 1, 1), ("m2", "d", 1, 2), ("m3", "d", 1, 3), ("z", "d", 1, 4)]
    f = edge_features(_edges(rows), CFG)
    assert f.column("scatter_gather").tolist() == [0, 0, 0, 0, 1, 2, 0]
    acc = account_features(_edges(rows), 4, CFG)
    d = list(_edges(rows).labels).index("d")
    assert acc.column("sg_gather")[d] == 3


def test_gather_scatter() -> None:
    # a1, a2 pay h; h pays b1 then b2: the paths through the sender h are its senders x its receivers
    rows = [("a1", "h", 1, 0), ("a2", "h", 1, 1), ("h", "b1", 1, 2), ("h", "b2", 1, 3)]
    f = edge_features(_edges(rows), CFG)
    assert f.column("gather_scatter").tolist() == [0, 0, 2, 4]  # a1, a2 have no senders yet


def test_self_loops_count_as_transfers_but_not_patterns() -> None:
    e = _edges([("a", "a", 5, 0), ("a", "b", 1, 1), ("b", "a", 1, 2)])
    f = edge_features(e, CFG)
    assert f.column("src_out_count_3").tolist() == [1, 2, 1]
    assert f.column("cycle2").tolist() == [0, 0, 1]
    assert f.column("gather_scatter")[0] == 0


def test_velocity() -> None:
    # m receives 100 at t0 and sends 90 at t1; receives 50 at t5 and never sends it on
    rows = [("x", "m", 100, 0), ("m", "y", 90, 1), ("x", "m", 50, 5)]
    e = _edges(rows)
    f = edge_features(e, CFG)
    assert f.column("src_passthrough_delay")[1] == 1
    assert math.isnan(f.column("src_passthrough_delay")[0])
    acc = account_features(e, 5, FeatureConfig(windows=(10,), pattern_window=10, fast_window=1))
    m = list(e.labels).index("m")
    assert acc.column("passthrough_mean_delay")[m] == 1
    assert acc.column("fast_out_share")[m] == pytest.approx(100 / 150)


def test_account_statistics_and_exposure_hook() -> None:
    acc = account_features(TOY, 6, CFG, exposure={"mixer": np.array([0.0, 0.5, 0.0, 0.25])})
    c = list(TOY.labels).index("c")
    # c in window [3, 6]: received a->c 4, d->c 7; sent c->b 5
    assert acc.column("in_count_3")[c] == 2
    assert acc.column("in_sum_3")[c] == 11
    assert acc.column("in_max_3")[c] == 7
    assert acc.column("in_std_3")[c] == pytest.approx(1.5)
    assert acc.column("out_mean_3")[c] == 5
    assert acc.column("exposure_mixer")[1] == 0.5
    with pytest.raises(FeatureError, match="one value per node"):
        account_features(TOY, 6, CFG, exposure={"mixer": np.zeros(3)})


def test_raw_features_are_degree_and_amount_statistics_only() -> None:
    names = account_features(TOY, 6, CFG).names
    raw = raw_account_features(names)
    assert "in_count_3" in raw
    assert "out_std_3" in raw
    assert not any("fan" in n or "edges" in n or "cycle" in n for n in raw)


def test_human_readable_names() -> None:
    assert (
        describe("dst_in_fan_86400")
        == "distinct counterparties of transfers received by the receiver in the last 1 day"
    )
    assert "3-cycles" in describe("cycle3")
    assert describe("out_edges_max_cycle3").startswith("max over the account's outgoing transfers")


def test_windowed_amount_mean_and_spread_per_edge() -> None:
    # window 3 (times >= t - 3, positions <= i). Edge 3 (a->c, t3): a sent 1 (t0) and 4 (t3): mean 2.5, std 1.5;
    # c received 2 (t1) and 4 (t3). Edge 7 (d->a, t6): a received 3 (t2 is outside [3, 6]) and 8: only 8.
    f = edge_features(TOY, CFG)
    assert f.column("src_out_mean_3")[3] == pytest.approx(2.5)
    assert f.column("src_out_std_3")[3] == pytest.approx(1.5)
    assert f.column("dst_in_mean_3")[3] == pytest.approx(3.0)
    assert f.column("dst_in_std_3")[3] == pytest.approx(1.0)
    assert f.column("dst_in_std_3")[7] == pytest.approx(0.0)
    assert f.column("src_in_std_3")[0] != f.column("src_in_std_3")[0]  # a had received nothing: NaN
    assert "spread" in describe("src_out_std_3")
    assert "mean" in describe("dst_in_mean_3")
