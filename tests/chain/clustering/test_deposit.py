"""The deposit-address heuristic on crafted Ethereum transfers."""

from __future__ import annotations

import numpy as np

from chainsleuth.chain.clustering.deposit import DepositParams, detect_deposit_addresses
from chainsleuth.chain.clustering.engine import ClusterOptions, account_edges
from chainsleuth.chain.clustering.kernel import apply_edges

HOT, HOT2, OTHER_EXCHANGE = 1, 2, 3
WALLETS = {HOT: "Exchange A", HOT2: "Exchange A", OTHER_EXCHANGE: "Exchange B"}
H = 3_600
ETH, USDT = 0, 1


def detect(rows: list[tuple[int, int, float, int, int]], params: DepositParams | None = None):  # type: ignore[no-untyped-def]
    src, dst, value, ts, asset = (np.array(col) for col in zip(*rows, strict=True))
    return detect_deposit_addresses(src, dst, value, ts, WALLETS, asset_ids=asset, params=params)


def test_deposit_address_forwarding_everything_quickly_is_tied_to_the_exchange() -> None:
    rows = [
        (20, 10, 1.0, 0, ETH),
        (21, 10, 2.0, 5 * H, ETH),
        (22, 10, 0.5, 9 * H, ETH),  # three customers pay 10
        (10, HOT, 0.999, 600, ETH),
        (10, HOT, 1.999, 5 * H + 600, ETH),
        (10, HOT2, 0.4995, 9 * H + 600, ETH),
        (HOT, 10, 0.01, 4 * H, USDT),  # the exchange itself sending something is not a customer receipt
    ]
    result = detect(rows)
    assert result.address_id.tolist() == [10]
    row = result.rows()[0]
    assert row["hot_wallet_id"] == HOT
    assert row["exchange"] == "Exchange A"
    assert row["senders"] == 3
    assert row["forwards"] == 3
    assert row["median_delay_s"] == 600
    assert row["confidence"] == 0.95
    src, dst = result.links()
    labels = apply_edges(None, 30, src, dst)
    assert labels[10] == labels[HOT]


def test_token_deposit_with_gas_top_up_is_found() -> None:
    rows = [
        (20, 10, 500.0, 0, USDT),
        (HOT, 10, 0.002, 60, ETH),  # gas top-up, burnt as fees
        (10, HOT, 500.0, 120, USDT),
    ]
    result = detect(rows)
    assert result.address_id.tolist() == [10]
    assert result.rows()[0]["confidence"] == 0.8  # one sender, one forward: fast and complete only


def test_personal_wallet_that_keeps_funds_or_pays_others_is_not_a_deposit_address() -> None:
    keeps = [(20, 10, 5.0, 0, ETH), (10, HOT, 1.0, 600, ETH)]  # forwards only 20 %
    assert len(detect(keeps)) == 0
    pays_others = [(20, 10, 5.0, 0, ETH), (10, HOT, 4.7, 600, ETH), (10, 30, 0.3, 700, ETH)]
    assert len(detect(pays_others)) == 0


def test_slow_forwarding_two_exchanges_and_too_few_senders_are_rejected() -> None:
    slow = [(20, 10, 1.0, 0, ETH), (10, HOT, 0.999, 10 * 86_400, ETH)]
    assert len(detect(slow)) == 0
    two_exchanges = [
        (20, 10, 1.0, 0, ETH),
        (10, HOT, 0.5, 600, ETH),
        (10, OTHER_EXCHANGE, 0.499, 700, ETH),
    ]
    assert len(detect(two_exchanges)) == 0
    single_sender = [(20, 10, 1.0, 0, ETH), (10, HOT, 0.999, 600, ETH)]
    assert len(detect(single_sender)) == 1
    assert len(detect(single_sender, DepositParams(min_senders=2))) == 0


def test_account_edges_join_deposits_and_the_wallets_of_one_exchange() -> None:
    rows = [(20, 10, 1.0, 0, ETH), (10, HOT2, 0.999, 600, ETH)]
    src, dst, value, ts, asset = (np.array(col) for col in zip(*rows, strict=True))
    edges = account_edges(src, dst, value, ts, asset, ClusterOptions(hot_wallets=WALLETS))
    labels = apply_edges(None, 30, edges.src, edges.dst)
    assert labels[10] == labels[HOT] == labels[HOT2] == HOT
    assert labels[OTHER_EXCHANGE] == OTHER_EXCHANGE
    assert labels[20] == 20
    assert edges.counts["deposit_links"] == 1
    assert edges.counts["hot_wallet_links"] == 1
