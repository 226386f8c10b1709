"""Path search: shortest paths, depth limit, hubs skipped and reported, bridge crossing."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from chainsleuth.chain.paths import find_paths
from chainsleuth.chain.tracing import BridgeLinks, build_flow_graph


def hub_graph() -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """0 → H(9) → 3 is short, 0 → 1 → 2 → 3 is long; H also pays 20 other addresses (a hub)."""
    src = [0, 9, 0, 1, 2] + [9] * 20
    dst = [9, 3, 1, 2, 3, *list(range(10, 30))]
    return np.asarray(src), np.asarray(dst)


def test_shortest_path_and_hub_skipping() -> None:
    src, dst = hub_graph()
    g = build_flow_graph(n_nodes=30, src=src, dst=dst, value=np.ones(len(src)), ts=np.arange(len(src)))
    through_hub = find_paths(g, [0], [3])
    assert through_hub.found
    assert [(h.from_address, h.to_address) for h in through_hub.paths[0].hops] == [
        ("addr#0", "addr#9"),
        ("addr#9", "addr#3"),
    ]
    pruned = find_paths(g, [0], [3], max_degree=5)
    assert pruned.found
    assert pruned.skipped_hubs == ["addr#9"]
    assert [h.to_address for h in pruned.paths[0].hops] == ["addr#1", "addr#2", "addr#3"]
    too_short = find_paths(g, [0], [3], max_degree=5, max_depth=2)
    assert not too_short.found
    assert "hubs skipped" in too_short.notes[0]


def test_no_path_and_cluster_targets() -> None:
    src, dst = hub_graph()
    g = build_flow_graph(n_nodes=30, src=src, dst=dst, value=np.ones(len(src)), ts=np.arange(len(src)))
    assert not find_paths(g, [3], [0]).found  # flows are directed
    found = find_paths(g, [1], [3, 12])  # a "cluster" of two target addresses
    assert found.found
    assert found.paths[0].hops[-1].to_address == "addr#3"


def test_path_crosses_the_bridge() -> None:
    g = build_flow_graph(
        n_nodes=5,
        src=[0, 2, 3],
        dst=[1, 3, 4],
        value=[1, 20, 20],
        ts=[1, 2, 3],
        asset=[0, 1, 1],
        bridges=BridgeLinks(np.array([0]), np.array([1]), np.array([20.0]), ("=:ETH:0x03",)),
    )
    result = find_paths(g, [0], [4])
    assert result.found
    hops = result.paths[0].hops
    assert [h.to_address for h in hops] == ["addr#1", "addr#3", "addr#4"]
    assert hops[1].bridge_memo == "=:ETH:0x03"


def test_utxo_path_counts_transactions_not_the_funding_output() -> None:
    """addr 10 → (B) → addr 20 → (D) → addr 30: two transactions; the output funding addr 10 is hop 0."""
    from tests.chain.tracing.test_window import two_hop_utxo_graph

    g = two_hop_utxo_graph()
    result = find_paths(g, [10], [30], max_depth=2)
    assert result.found
    (path,) = result.paths
    assert path.hop_count == 2
    assert [(h.hop, h.to_address) for h in path.hops] == [(0, "addr#10"), (1, "addr#20"), (2, "addr#30")]
    limited = find_paths(g, [10], [30], max_depth=1)
    assert not limited.found
    assert "2 transactions" in limited.notes[0]


def test_account_path_hop_count_is_its_transfers() -> None:
    src, dst = hub_graph()
    g = build_flow_graph(n_nodes=30, src=src, dst=dst, value=np.ones(len(src)), ts=np.arange(len(src)))
    pruned = find_paths(g, [0], [3], max_degree=5, max_depth=3)
    assert pruned.paths[0].hop_count == 3
    assert [h.hop for h in pruned.paths[0].hops] == [1, 2, 3]
