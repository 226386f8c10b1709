"""The packed-key sort of the CoinJoin detector orders rows exactly like ``np.lexsort`` (and falls back to it)."""

from __future__ import annotations

import numpy as np
import pytest

from chainsleuth.chain.clustering.coinjoin import _order


@pytest.mark.parametrize("huge", [False, True])
def test_order_matches_lexsort(huge: bool) -> None:
    rng = np.random.default_rng(3)
    rank = np.sort(rng.integers(0, 500, size=5_000)).astype(np.int64)
    minor = rng.integers(0, 2**40 if huge else 1_000, size=len(rank)).astype(np.int64)
    middle = rng.integers(0, 2**50 if huge else 20, size=len(rank)).astype(np.int64)
    cases = (
        (_order(rank, minor, middle), np.lexsort((minor, middle, rank)), (rank, middle, minor)),
        (_order(rank, minor), np.lexsort((minor, rank)), (rank, minor)),
    )
    for got, expected, keys in cases:
        assert sorted(got.tolist()) == list(range(len(rank)))  # a permutation
        for key in keys:  # equal rows may come in any order: compare the sorted columns, not the permutations
            assert np.array_equal(key[got], key[expected])
    assert len(_order(np.empty(0, np.int64), np.empty(0, np.int64))) == 0
