"""Per-edge lifetime habits: hand-computed answers, causality, and the same numbers from the streaming state."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings

from chainsleuth.monitor.features.edge_profile import edge_profile_features, edge_profile_names
from chainsleuth.monitor.features.edges import EdgeList
from chainsleuth.monitor.features.profile import ProfileState
from tests.monitor.features.test_incremental import edge_lists

NAMES = edge_profile_names()


def _col(values: np.ndarray, name: str) -> np.ndarray:
    return values[:, NAMES.index(name)]


def test_hand_computed_habits_as_of_each_transfer() -> None:
    # node 0 pays node 1 three times the same amount, then node 1 pays node 0 twice with different amounts
    e = EdgeList.from_arrays([0, 0, 0, 1, 1], [1, 1, 1, 0, 0], [50.0, 50.0, 50.0, 10.0, 30.0], [0, 1, 2, 3, 4])
    f = edge_profile_features(e)
    assert _col(f, "src_out_life_count").tolist() == [1, 2, 3, 1, 2]
    assert _col(f, "src_out_life_std")[:3].tolist() == [0.0, 0.0, 0.0]  # one habitual amount: exactly 0
    assert _col(f, "src_out_life_std")[4] == np.std([10.0, 30.0])
    assert _col(f, "src_out_life_cv")[4] == np.std([10.0, 30.0]) / 20.0
    assert _col(f, "src_out_life_distinct_share")[2] == 1 / 3
    assert _col(f, "src_out_life_min_max_ratio")[4] == 10.0 / 30.0
    assert _col(f, "dst_in_life_count").tolist() == [1, 2, 3, 1, 2]
    assert _col(f, "src_in_life_count").tolist() == [0, 0, 0, 3, 3]  # node 1 had received 3 before paying
    assert math.isnan(_col(f, "src_in_life_std")[0])
    assert _col(f, "src_in_life_std")[3] == 0.0
    assert _col(f, "dst_out_life_count").tolist() == [0, 0, 0, 3, 3]  # node 0 had sent 3 when it was paid


@settings(max_examples=60, deadline=None)
@given(edge_lists())
def test_rows_read_only_the_past_and_equal_the_streaming_state(case: tuple[EdgeList, object]) -> None:
    e, _ = case
    bulk = edge_profile_features(e)
    state = ProfileState()
    rows = []
    pick = [0, 1, 2, 4, 5]  # count, std, cv, distinct share, min/max ratio of ProfileState's side statistics
    for i in range(e.n_edges):
        u, v, amount = int(e.src[i]), int(e.dst[i]), float(e.amount[i])
        state._grow(max(u, v) + 1)
        before_in, before_out = state._sides[1][u].stats(), state._sides[0][v].stats()
        state.update(u, v, amount)
        after_out, after_in = state._sides[0][u].stats(), state._sides[1][v].stats()
        rows.append([x for side in (after_out, after_in, before_in, before_out) for x in (side[k] for k in pick)])
    stream = np.array(rows).reshape(bulk.shape)
    np.testing.assert_allclose(stream, bulk, rtol=1e-9, atol=1e-9)
    if e.n_edges > 1:  # a prefix's rows are the full list's first rows
        head = e.until(int(e.time[e.n_edges // 2]))
        np.testing.assert_array_equal(edge_profile_features(head), bulk[: head.n_edges])
