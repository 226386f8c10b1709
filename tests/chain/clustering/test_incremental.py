"""Incremental clustering of random transaction sets equals clustering from scratch (property test)."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from chainsleuth.chain.clustering.engine import ClusterOptions, utxo_edges
from chainsleuth.chain.clustering.kernel import apply_edges

from .builders import Tx, view_of

N_ADDRESSES = 30

tx_strategy = st.tuples(
    st.lists(st.tuples(st.integers(0, N_ADDRESSES - 1), st.integers(1, 5)), min_size=1, max_size=6),
    st.lists(st.tuples(st.integers(0, N_ADDRESSES - 1), st.sampled_from([1, 2, 3, 10, 7])), min_size=1, max_size=6),
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(tx_strategy, min_size=1, max_size=25),
    st.lists(st.integers(0, 25), max_size=3),
    st.lists(st.integers(0, 2), min_size=N_ADDRESSES, max_size=N_ADDRESSES),
    st.sampled_from([(), ("address_type",), ("optimal_change", "round_payment", "input_reuse")]),
)
def test_clustering_in_increments_equals_from_scratch(
    raw: list[tuple[list[tuple[int, int]], list[tuple[int, int]]]],
    cuts: list[int],
    kinds: list[int],
    change: tuple[str, ...],
) -> None:
    txs = [Tx(i, inputs, outputs) for i, (inputs, outputs) in enumerate(raw)]
    types = dict(enumerate(kinds))
    options = ClusterOptions(change=change)
    full = view_of(txs, types, N_ADDRESSES)
    edges = utxo_edges(full, options)
    scratch = apply_edges(None, N_ADDRESSES, edges.src, edges.dst)

    mapping = None
    bounds = sorted({0, len(txs), *[min(c, len(txs)) for c in cuts]})
    for low, high in itertools.pairwise(bounds):
        part = utxo_edges(view_of(txs[low:high], types, N_ADDRESSES), options)
        previous = mapping
        mapping = apply_edges(previous, N_ADDRESSES, part.src, part.dst)
        if previous is not None:
            # stable ids: an address keeps its cluster id or moves to an older (smaller) one
            assert np.all(mapping <= previous)
            assert np.array_equal(mapping[previous], mapping)
    assert mapping is not None
    assert mapping.tolist() == scratch.tolist()
