"""Kernels: star edges, components with smallest-id labels, incremental union = from scratch."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from chainsleuth.chain.clustering.kernel import (
    apply_edges,
    compare_clusterings,
    components,
    group_edges,
    python_union_find,
)


def test_group_edges_chain_the_inputs_of_each_group_and_drop_self_loops() -> None:
    tx = np.array([1, 1, 1, 2, 3, 3, 4, 4, 5, 5, 5])
    addr = np.array([5, 6, 6, 7, 8, -1, 9, 9, 10, -1, 11])
    src, dst = group_edges(tx, addr)
    assert sorted(zip(src.tolist(), dst.tolist(), strict=True)) == [(6, 5), (11, 10)]
    # a missing address in the middle of a group does not cut it in two
    labels = components(12, src, dst)
    assert labels[11] == labels[10] == 10


def test_components_label_every_node_with_the_smallest_id_of_its_component() -> None:
    labels = components(6, np.array([5, 3, 4]), np.array([3, 1, 0]))
    assert labels.tolist() == [0, 1, 2, 1, 0, 1]
    assert components(3, np.empty(0, np.int64), np.empty(0, np.int64)).tolist() == [0, 1, 2]


def test_merge_keeps_the_id_of_the_older_cluster_and_is_recorded() -> None:
    first = apply_edges(None, 4, np.array([1, 3]), np.array([0, 2]))  # {0,1} {2,3}
    assert first.tolist() == [0, 0, 2, 2]
    second = apply_edges(first, 6, np.array([3, 5]), np.array([1, 4]))  # joins the two, new {4,5}
    assert second.tolist() == [0, 0, 0, 0, 4, 4]
    comparison = compare_clusterings(first, second)
    assert comparison.merges.into.tolist() == [0]
    assert comparison.merges.absorbed.tolist() == [2]
    assert comparison.merges.absorbed_size_before.tolist() == [2]
    assert comparison.largest_before[0] == 2
    assert comparison.splits == 0


def test_compare_counts_splits() -> None:
    assert compare_clusterings(np.array([0, 0, 0]), np.array([0, 1, 1])).splits == 1


edges_strategy = st.integers(2, 40).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=60),
        st.integers(0, 60),
    )
)


@settings(max_examples=100, deadline=None)
@given(edges_strategy)
def test_incremental_union_equals_from_scratch(case: tuple[int, list[tuple[int, int]], int]) -> None:
    n, pairs, cut = case
    src = np.array([p[0] for p in pairs], dtype=np.int64)
    dst = np.array([p[1] for p in pairs], dtype=np.int64)
    cut = min(cut, len(pairs))
    # addresses appear over time: the first part knows only the ids it uses
    n_first = int(max(src[:cut].max(initial=-1), dst[:cut].max(initial=-1))) + 1
    first = apply_edges(None, n_first, src[:cut], dst[:cut])
    incremental = apply_edges(first, n, src[cut:], dst[cut:])
    scratch = apply_edges(None, n, src, dst)
    assert incremental.tolist() == scratch.tolist()
    assert scratch.tolist() == python_union_find(n, src, dst)


def test_smallest_member_falls_back_when_labels_are_not_in_first_seen_order() -> None:
    from chainsleuth.chain.clustering.kernel import _smallest_member

    in_order = np.array([0, 1, 0, 2, 1], dtype=np.int32)
    assert _smallest_member(in_order, 3).tolist() == [0, 1, 3]
    shuffled = np.array([2, 0, 2, 1, 0], dtype=np.int32)
    assert _smallest_member(shuffled, 3).tolist() == [1, 3, 0]


def test_group_edges_skip_excluded_groups() -> None:
    tx = np.array([1, 1, 2, 2, 2, 3, 3])
    addr = np.array([1, 2, 3, 4, 5, 6, 7])
    src, dst = group_edges(tx, addr, exclude=np.array([2, 9]))
    assert sorted(zip(src.tolist(), dst.tolist(), strict=True)) == [(2, 1), (7, 6)]
