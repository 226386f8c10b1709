"""Each taint policy on small hand-built graphs whose answers are worked out by hand in the comments."""

from __future__ import annotations

import numpy as np
import pytest

from chainsleuth.chain.tracing import (
    BridgeLinks,
    FlowGraph,
    Policy,
    Source,
    StopEntity,
    StopSet,
    TraceResult,
    build_flow_graph,
    trace,
)
from chainsleuth.chain.tracing.graph import NODE_TX


def amounts(result: TraceResult) -> dict[tuple[str, str], float]:
    return {(t.entity, t.reason): round(t.amount, 9) for t in result.terminals}


def account_graph() -> FlowGraph:
    """0 → 1 (10 at t=1), 5 → 1 (30 at t=2), 1 → 2 (20 at t=3), 1 → 3 (20 at t=4)."""
    return build_flow_graph(n_nodes=6, src=[0, 5, 1, 1], dst=[1, 1, 2, 3], value=[10, 30, 20, 20], ts=[1, 2, 3, 4])


def edge_source(*edges: int, graph: FlowGraph, hop: int = 1) -> Source:
    e = np.asarray(edges, dtype=np.int64)
    return Source(e, graph.value[e].copy(), hop, "test")


def test_account_forward_policies() -> None:
    g = account_graph()
    src = edge_source(0, graph=g)  # the 10 that 0 sent to 1
    # poison: 1 is tainted, both of its later transfers are fully tainted.
    assert amounts(trace(g, src, policy="poison")) == {("addr#2", "retained"): 20.0, ("addr#3", "retained"): 20.0}
    # haircut: 1 received 40 in total, 10 tainted = 25%: 25% of each 20 = 5 each.
    assert amounts(trace(g, src, policy="haircut")) == {("addr#2", "retained"): 5.0, ("addr#3", "retained"): 5.0}
    # FIFO: 1's queue is [0,10) from 0 then [10,40) from 5; the first 20 out (to 2) takes [0,20): all 10 tainted.
    assert amounts(trace(g, src, policy="fifo")) == {("addr#2", "retained"): 10.0}


def test_account_backward_policies() -> None:
    g = account_graph()
    src = edge_source(3, graph=g, hop=0)  # where did the 20 that 1 sent to 3 come from?
    # haircut: 20 of 1's 40 funded by 0 (10) and 5 (30) pro rata: 5 and 15.
    assert amounts(trace(g, src, direction="backward", policy="haircut")) == {
        ("addr#0", "origin"): 5.0,
        ("addr#5", "origin"): 15.0,
    }
    # FIFO: the transfer to 3 takes queue positions [20,40), all from 5.
    assert amounts(trace(g, src, direction="backward", policy="fifo")) == {("addr#5", "origin"): 20.0}
    # poison: every earlier source of 1 counts fully.
    assert amounts(trace(g, src, direction="backward", policy="poison")) == {
        ("addr#0", "origin"): 10.0,
        ("addr#5", "origin"): 30.0,
    }


def utxo_graph() -> FlowGraph:
    """Transactions A (node 0) and C (node 2) create outputs; B (node 1) spends C:0 (10) then A:0 (6).

    edges: 0 = A:0 → addr 10, 6 BTC, spent by B as input 1 (queue position 10)
           1 = A:1 → addr 11, 4 BTC, unspent
           2 = C:0 → addr 12, 10 BTC, spent by B as input 0 (position 0)
           3 = B:0 → addr 20, 8 BTC; 4 = B:1 → addr 21, 7.5 BTC (fee 0.5)
    """
    return build_flow_graph(
        n_nodes=3,
        src=[0, 0, 2, 1, 1],
        dst=[1, -1, 1, -1, -1],
        value=[6, 4, 10, 8, 7.5],
        ts=[1, 1, 1, 2, 2],
        addr_to=[10, 11, 12, 20, 21],
        addr_from=[-1] * 5,
        node_kind=[NODE_TX] * 3,
        node_addr=[-1] * 3,
        out_rank=[0, 1, 0, 0, 1],
        in_rank=[1, 0, 0, 0, 0],
        pos_in=[10, 0, 0, 0, 0],
        node_in_total=[0, 16, 0],
    )


def test_utxo_forward_policies() -> None:
    g = utxo_graph()
    src = edge_source(0, graph=g, hop=0)  # the output A:0
    # poison: B is tainted, both outputs fully, and so is its 0.5 fee.
    poison = trace(g, src, policy="poison")
    assert amounts(poison) == {("addr#20", "unspent"): 8.0, ("addr#21", "unspent"): 7.5, ("fee", "fee"): 0.5}
    # amounts are whole values, shares split the 6 traced by amount: 8/16, 7.5/16 and 0.5/16
    assert {t.entity: t.share for t in poison.terminals} == pytest.approx(
        {"addr#20": 0.5, "addr#21": 0.46875, "fee": 0.03125}
    )
    # haircut: 6 of B's 16 input = 37.5%: 3 to addr 20, 2.8125 to addr 21, 0.1875 of the fee.
    assert amounts(trace(g, src, policy="haircut")) == {
        ("addr#20", "unspent"): 3.0,
        ("addr#21", "unspent"): 2.8125,
        ("fee", "fee"): 0.1875,
    }
    # FIFO: taint sits at [10,16) of B's inputs; outputs cover [0,8) and [8,15.5): 5.5 to addr 21, 0.5 fee.
    assert amounts(trace(g, src, policy="fifo")) == {("addr#21", "unspent"): 5.5, ("fee", "fee"): 0.5}


def test_utxo_backward_haircut_and_fifo() -> None:
    g = utxo_graph()
    src = edge_source(4, graph=g, hop=0)  # B:1, 7.5 BTC: where from?
    # haircut: 7.5 of B's 16 input, pro rata: 10 × 7.5/16 = 4.6875 from addr 12, 6 × 7.5/16 = 2.8125 from 10.
    got = amounts(trace(g, src, direction="backward", policy="haircut", hops=1))
    assert got == {("addr#12", "hop_limit"): 4.6875, ("addr#10", "hop_limit"): 2.8125}
    # FIFO: B:1 is queue [8,15.5): [8,10) from C:0 (addr 12) and [10,15.5) from A:0 (addr 10).
    got = amounts(trace(g, src, direction="backward", policy="fifo", hops=1))
    assert got == {("addr#12", "hop_limit"): 2.0, ("addr#10", "hop_limit"): 5.5}


def chain_graph() -> FlowGraph:
    """0 → 1 → 2 → 3 → 4, 10 each at t = 10, 20, 30, 40, plus a 0.5 side payment 1 → 5 at t=25."""
    return build_flow_graph(
        n_nodes=6, src=[0, 1, 2, 3, 1], dst=[1, 2, 3, 4, 5], value=[10, 9.5, 9.5, 9.5, 0.5], ts=[10, 20, 30, 40, 25]
    )


def test_hop_limit() -> None:
    g = chain_graph()
    result = trace(g, edge_source(0, graph=g), policy="poison", hops=2)
    # hop 1 is 0 → 1, hop 2 is 1 → 2 (and 1 → 5); the trace ends on the edges of hop 2.
    assert amounts(result) == {("addr#2", "hop_limit"): 9.5, ("addr#5", "hop_limit"): 0.5}


@pytest.mark.parametrize("policy", ["poison", "haircut", "fifo"])
def test_time_window(policy: Policy) -> None:
    g = chain_graph()
    result = trace(g, edge_source(0, graph=g), policy=policy, hops=10, until=30)
    # 3 → 4 happens at t=40, outside the window: the value stays at 3.
    assert amounts(result) == {("addr#3", "retained"): 9.5, ("addr#5", "retained"): 0.5}
    late = trace(g, edge_source(0, graph=g), policy="poison", hops=10, since=15)
    assert late.traced_value == 0.0  # the source transfer itself is before the window


def test_min_value_drops_small_branches() -> None:
    g = chain_graph()
    result = trace(g, edge_source(0, graph=g), policy="haircut", hops=10, min_value=1.0)
    # 1 received 10 and sends 9.5 + 0.5: the 0.5 branch is below the minimum and dropped.
    assert ("addr#5", "retained") not in amounts(result)
    assert result.dropped_share == pytest.approx(0.05)
    assert amounts(result)[("addr#4", "retained")] == pytest.approx(9.5)


def test_taint_respects_time() -> None:
    # 1 sends to 2 at t=1, before it receives the tainted 10 at t=5; only the later send to 3 is tainted.
    g = build_flow_graph(n_nodes=4, src=[1, 0, 1], dst=[2, 1, 3], value=[10, 10, 10], ts=[1, 5, 6])
    assert amounts(trace(g, edge_source(1, graph=g), policy="poison")) == {("addr#3", "retained"): 10.0}
    assert amounts(trace(g, edge_source(1, graph=g), policy="fifo")) == {("addr#3", "retained"): 10.0}


def test_stops_at_services() -> None:
    g = chain_graph()
    exchange = StopEntity("X1", "Some Exchange", "exchange", source="pack.yaml", confidence="service_data")
    stops = StopSet.build([(2, exchange)])
    result = trace(g, edge_source(0, graph=g), policy="haircut", hops=10, stops=stops)
    (term,) = [t for t in result.terminals if t.reason == "service"]
    assert (term.entity, term.label, term.category, term.amount) == ("X1", "Some Exchange", "exchange", 9.5)
    assert term.source == "pack.yaml"
    assert term.confidence == "service_data"
    assert term.share == pytest.approx(0.95)
    assert not any(t.entity == "addr#4" for t in result.terminals)  # not followed beyond the exchange
    # the path as evidence: 0 → 1 → 2, with the taint at each hop
    path = term.paths[0]
    assert [(h.from_address, h.to_address, h.taint) for h in path.hops] == [
        ("addr#0", "addr#1", 10.0),
        ("addr#1", "addr#2", 9.5),
    ]


def bridge_graph() -> FlowGraph:
    """BTC (asset 0): 0 pays bridge custody 1 (1 BTC, t=1). ETH (asset 1): bridge contract 2 pays 3
    (20 ETH, t=2), 3 pays 4 (20 ETH, t=3). The memo links edge 0 to edge 1 (20 ETH per BTC)."""
    return build_flow_graph(
        n_nodes=5,
        src=[0, 2, 3],
        dst=[1, 3, 4],
        value=[1, 20, 20],
        ts=[1, 2, 3],
        asset=[0, 1, 1],
        bridges=BridgeLinks(np.array([0]), np.array([1]), np.array([20.0]), ("=:ETH:0x03",)),
    )


def test_bridge_is_crossed_unless_asked() -> None:
    g = bridge_graph()
    bridge = StopEntity("B", "CrossLink Bridge", "defi_bridge", is_bridge=True)
    stops = StopSet.build([(1, bridge), (2, bridge)])
    crossed = trace(g, edge_source(0, graph=g), stops=stops)
    (term,) = crossed.terminals
    assert (term.entity, term.amount, term.share) == ("addr#4", 20.0, 1.0)
    assert [h.bridge_memo for h in term.paths[0].hops] == [None, "=:ETH:0x03", None]
    stopped = trace(g, edge_source(0, graph=g), stops=stops, cross_bridge=False)
    assert [(t.entity, t.reason, t.amount) for t in stopped.terminals] == [("B", "service", 1.0)]
    assert [(t.entity, t.amount) for t in trace(g, edge_source(0, graph=g)).terminals] == [("addr#4", 20.0)]
    back = trace(g, edge_source(2, graph=g, hop=0), direction="backward", stops=stops)
    assert [(t.entity, t.amount, t.share) for t in back.terminals] == [("addr#0", 1.0, 1.0)]
