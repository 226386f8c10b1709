"""Evaluation metrics on a hand-computed example."""

from __future__ import annotations

import math

import numpy as np
import pytest

from chainsleuth.chain.clustering.quality import evaluate_clusters


def test_pairwise_and_bcubed_on_a_crafted_example() -> None:
    # clusters: A={0,1,2}, B={3,4}; owners: x={0,1}, y={2,3,4}; address 5 has no known owner
    cluster_of = np.array([0, 0, 0, 3, 3, 5])
    owner = np.array(["x", "x", "y", "y", "y", ""], dtype=object)
    q = evaluate_clusters(cluster_of, owner)
    # predicted pairs: 3 + 1 = 4; true pairs: 1 + 3 = 4; correct: (0,1) and (3,4) = 2
    assert (q.predicted_pairs, q.true_pairs, q.true_pairs_found) == (4, 4, 2)
    assert q.pairwise_precision == pytest.approx(0.5)
    assert q.pairwise_recall == pytest.approx(0.5)
    assert q.pairwise_f1 == pytest.approx(0.5)
    # B-cubed precision: (2/3 + 2/3 + 1/3 + 1 + 1) / 5 ; recall: (1 + 1 + 1/3 + 2/3 + 2/3) / 5
    assert q.bcubed_precision == pytest.approx((2 / 3 + 2 / 3 + 1 / 3 + 2) / 5)
    assert q.bcubed_recall == pytest.approx((2 + 1 / 3 + 4 / 3) / 5)
    assert (q.addresses, q.clusters, q.owners, q.singletons) == (5, 2, 2, 0)


def test_perfect_and_trivial_clusterings() -> None:
    owner = np.array([0, 0, 1, -1])
    perfect = evaluate_clusters(np.array([0, 0, 2, 3]), owner)
    assert perfect.pairwise_f1 == 1.0
    assert perfect.bcubed_f1 == 1.0
    singletons = evaluate_clusters(np.arange(4), owner)
    assert singletons.pairwise_precision == 1.0
    assert singletons.pairwise_recall == 0.0
    assert math.isclose(singletons.bcubed_recall, (0.5 + 0.5 + 1) / 3)
    with pytest.raises(ValueError, match="same length"):
        evaluate_clusters(np.arange(3), owner)
