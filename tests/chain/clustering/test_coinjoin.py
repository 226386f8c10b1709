"""CoinJoin detection on crafted transactions, and their exclusion from multi-input clustering."""

from __future__ import annotations

import numpy as np

from chainsleuth.chain.clustering.coinjoin import CoinJoinParams, detect_coinjoins
from chainsleuth.chain.clustering.engine import utxo_edges
from chainsleuth.chain.clustering.kernel import apply_edges

from .builders import Tx, view_of

D = 1_000_000


def _detect(txs: list[Tx], params: CoinJoinParams | None = None):  # type: ignore[no-untyped-def]
    v = view_of(txs)
    return detect_coinjoins(v.in_tx, v.in_address, v.out_tx, v.out_address, v.out_value, params)


def test_whirlpool_shape_scores_one() -> None:
    tx = Tx(1, [(10 + i, D + 500) for i in range(5)], [(20 + i, D) for i in range(5)])
    result = _detect([tx])
    assert result.is_coinjoin(1)
    explained = result.explain(1)
    assert explained["score"] == 1.0
    assert explained["equal_outputs"] == 5


def test_wasabi_like_round_with_change_is_flagged() -> None:
    inputs = [(10, 3 * D), (11, 2 * D), (12, 5 * D), (13, 1 * D + 9_000)]
    outputs = [(20, D), (21, D), (22, D), (23, D), (30, 2 * D - 2_000), (31, D - 2_000), (32, 4 * D - 2_000)]
    result = _detect([Tx(1, inputs, outputs)])
    assert result.is_coinjoin(1)
    assert "value_share" in result.explain(1)["failed"]  # 4 M of 11 M: mixed amounts dominate, still flagged


def test_exchange_batch_payout_with_equal_amounts_is_not_flagged() -> None:
    # one hot-wallet input pays three equal withdrawals plus change: not enough participants
    tx = Tx(1, [(10, 50 * D), (10, 20 * D)], [(20, D), (21, D), (22, D), (10, 66 * D)])
    result = _detect([tx])
    assert not result.is_coinjoin(1)
    assert "participants" in result.explain(1)["failed"]


def test_equal_outputs_to_one_payee_and_plain_payments_are_not_coinjoins() -> None:
    same_payee = Tx(1, [(10, 2 * D), (11, 2 * D), (12, 2 * D)], [(20, D), (20, D), (20, D)])
    payment = Tx(2, [(13, 5 * D), (14, 5 * D)], [(21, 7 * D), (22, 3 * D - 1000)])
    result = _detect([same_payee, payment])
    assert not result.is_coinjoin(1)
    assert not result.is_coinjoin(2)
    assert result.explain(2)["reason"].startswith("not a candidate")


def test_two_party_join_needs_a_lower_threshold() -> None:
    tx = Tx(1, [(10, D + 10), (11, D + 10)], [(20, D), (21, D), (22, 5)])
    assert not _detect([tx]).is_coinjoin(1)
    assert _detect([tx], CoinJoinParams(min_equal_outputs=2)).is_coinjoin(1)


def test_coinjoin_inputs_are_not_clustered() -> None:
    coinjoin = Tx(1, [(10 + i, D + 500) for i in range(5)], [(20 + i, D) for i in range(5)])
    payment = Tx(2, [(30, D), (31, D)], [(40, 2 * D - 100)])
    edges = utxo_edges(view_of([coinjoin, payment]))
    assert edges.counts["coinjoins"] == 1
    labels = apply_edges(None, 100, edges.src, edges.dst)
    assert len(set(labels[10:15].tolist())) == 5  # CoinJoin participants stay apart
    assert labels[30] == labels[31] == 30
    assert edges.links.column("kind").to_pylist() == ["coinjoin_excluded"]
    assert np.array_equal(edges.links.column("tx_id").to_numpy(), [1])
