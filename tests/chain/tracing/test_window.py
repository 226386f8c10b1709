"""Time windows on a UTXO graph: an output spent after the window closes is still held at its address.

The spending transaction is a node of the graph, so the naive rule "a node keeps what it does not pass on"
would book value still sitting in an output as that transaction's fee. These tests pin the right answer for
every policy, forward and backward, worked out by hand on :func:`utxo_graph` (see test_policies.py).
"""

from __future__ import annotations

import pytest

from chainsleuth.chain.tracing import FlowGraph, Policy, build_flow_graph, trace
from chainsleuth.chain.tracing.graph import NODE_TX

from .test_policies import amounts, edge_source, utxo_graph

POLICIES: list[Policy] = ["poison", "haircut", "fifo"]


@pytest.mark.parametrize("policy", POLICIES)
def test_output_spent_after_the_window_is_retained(policy: Policy) -> None:
    g = utxo_graph()
    # A:0 (6 BTC at addr 10) is spent by B at t=2; the window ends at t=1: the 6 BTC are still at addr 10.
    result = trace(g, edge_source(0, graph=g, hop=0), policy=policy, until=1)
    assert amounts(result) == {("addr#10", "retained"): 6.0}
    assert "fee" not in result.shares
    assert result.terminals[0].share == pytest.approx(1.0)
    # the evidence is the output itself
    assert [h.to_address for h in result.terminals[0].paths[0].hops] == ["addr#10"]


def two_hop_utxo_graph() -> FlowGraph:
    """:func:`utxo_graph` plus D (node 3, t=3) spending B:0 (8 BTC at addr 20) into addr 30 (7.9, fee 0.1).

    edges 0-4 as in utxo_graph but B:0 (edge 3) is now spent by D; edge 5 = D:0 → addr 30, 7.9 BTC.
    """
    return build_flow_graph(
        n_nodes=4,
        src=[0, 0, 2, 1, 1, 3],
        dst=[1, -1, 1, 3, -1, -1],
        value=[6, 4, 10, 8, 7.5, 7.9],
        ts=[1, 1, 1, 2, 2, 3],
        addr_to=[10, 11, 12, 20, 21, 30],
        addr_from=[-1] * 6,
        node_kind=[NODE_TX] * 4,
        node_addr=[-1] * 4,
        out_rank=[0, 1, 0, 0, 1, 0],
        in_rank=[1, 0, 0, 0, 0, 0],
        pos_in=[10, 0, 0, 0, 0, 0],
        node_in_total=[0, 16, 0, 8],
    )


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        # B is inside the window (t=2), D is not (t=3): B:0 stays at addr 20, B:1 is unspent, B's fee is a fee.
        ("poison", {("addr#20", "retained"): 8.0, ("addr#21", "unspent"): 7.5, ("fee", "fee"): 0.5}),
        ("haircut", {("addr#20", "retained"): 3.0, ("addr#21", "unspent"): 2.8125, ("fee", "fee"): 0.1875}),
        ("fifo", {("addr#21", "unspent"): 5.5, ("fee", "fee"): 0.5}),
    ],
)
def test_window_after_one_spend(policy: Policy, expected: dict[tuple[str, str], float]) -> None:
    g = two_hop_utxo_graph()
    result = trace(g, edge_source(0, graph=g, hop=0), policy=policy, hops=10, until=2)
    assert amounts(result) == expected
    assert sum(t.share for t in result.terminals) == pytest.approx(1.0)
    # without the window D spends B:0 and its fee is a real fee
    unbounded = amounts(trace(g, edge_source(0, graph=g, hop=0), policy=policy, hops=10))
    assert ("addr#20", "retained") not in unbounded


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        # B:1 (7.5 BTC, t=2) came from inputs created at t=1, before the window: origins at their addresses.
        ("haircut", {("addr#12", "origin"): 4.6875, ("addr#10", "origin"): 2.8125}),
        ("fifo", {("addr#12", "origin"): 2.0, ("addr#10", "origin"): 5.5}),
        ("poison", {("addr#12", "origin"): 10.0, ("addr#10", "origin"): 6.0}),
    ],
)
def test_backward_inputs_before_the_window_are_origins_at_their_address(
    policy: Policy, expected: dict[tuple[str, str], float]
) -> None:
    g = utxo_graph()
    result = trace(g, edge_source(4, graph=g, hop=0), direction="backward", policy=policy, hops=5, since=2)
    assert amounts(result) == expected
    assert sum(t.share for t in result.terminals) == pytest.approx(1.0)
    assert all(t.address is not None for t in result.terminals)  # never an anonymous "origin"


def test_hop_count_excludes_the_funding_output() -> None:
    """``hops=1`` from a UTXO output: the path shows the output (hop 0) and one transaction (hop 1)."""
    g = two_hop_utxo_graph()
    result = trace(g, edge_source(0, graph=g, hop=0), policy="haircut", hops=1)
    outputs = [t for t in result.terminals if t.reason != "fee"]  # a fee's path ends at the input it paid from
    assert {t.entity for t in outputs} == {"addr#20", "addr#21"}
    for terminal in outputs:
        path = terminal.paths[0]
        assert path.hop_count == 1
        assert [h.hop for h in path.hops] == [0, 1]
    deeper = trace(g, edge_source(0, graph=g, hop=0), policy="haircut", hops=2)
    far = next(t for t in deeper.terminals if t.entity == "addr#30")
    assert far.paths[0].hop_count == 2
    assert [h.to_address for h in far.paths[0].hops] == ["addr#10", "addr#20", "addr#30"]
