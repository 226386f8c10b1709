"""Conservation: every traced unit ends somewhere. Terminal shares plus the dropped share add up to 1.

An audit found poison traces whose shares summed to 0.89: a hacker's address that sent small gas top-ups
was treated as having passed everything on, so its retained balance (and a transaction's fee) vanished.
This property holds for every policy, direction, window and limit, on random account and UTXO graphs and
on the simulator's stories.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chainsleuth.chain.tracing import FlowGraph, Policy, Source, TraceResult, build_flow_graph, trace
from chainsleuth.chain.tracing.graph import NODE_TX

from .test_policies import edge_source
from .world_fixture import LoadedWorld

POLICIES: list[Policy] = ["poison", "haircut", "fifo"]


def random_account_graph(rng: np.random.Generator, n_nodes: int, n_edges: int) -> FlowGraph:
    src = rng.integers(0, n_nodes, n_edges)
    dst = (src + rng.integers(1, n_nodes, n_edges)) % n_nodes  # no self-transfers
    value = np.round(rng.exponential(10.0, n_edges), 3) + 0.001
    ts = np.sort(rng.integers(0, 50, n_edges))
    return build_flow_graph(n_nodes=n_nodes, src=src, dst=dst, value=value, ts=ts)


def random_utxo_graph(rng: np.random.Generator, n_tx: int) -> FlowGraph:
    """Transactions in time order; each spends some unspent outputs and creates 1-3 outputs, with a fee."""
    src: list[int] = []
    dst: list[int] = []
    value: list[float] = []
    ts: list[int] = []
    out_rank: list[int] = []
    in_rank: list[int] = []
    pos_in: list[float] = []
    in_total = np.zeros(n_tx)
    unspent: list[int] = []
    for tx in range(n_tx):
        picked: list[int] = []
        if tx >= 2 and unspent:
            k = int(rng.integers(0, min(3, len(unspent)) + 1))
            picked = [unspent.pop(int(rng.integers(0, len(unspent)))) for _ in range(k)]
        position = 0.0
        for i, edge in enumerate(picked):
            dst[edge], in_rank[edge], pos_in[edge] = tx, i, position
            position += value[edge]
        in_total[tx] = position
        budget = position if picked else float(rng.uniform(5, 50))  # a coinbase creates value
        spend = budget * float(rng.uniform(0.8, 1.0))
        parts = rng.dirichlet(np.ones(int(rng.integers(1, 4)))) * spend
        for j, amount in enumerate(parts):
            unspent.append(len(src))
            src.append(tx)
            dst.append(-1)
            value.append(float(amount))
            ts.append(tx)
            out_rank.append(j)
            in_rank.append(0)
            pos_in.append(0.0)
    n = len(src)
    return build_flow_graph(
        n_nodes=n_tx,
        src=src,
        dst=dst,
        value=value,
        ts=ts,
        addr_to=rng.integers(0, max(2, n // 2), n),
        addr_from=np.full(n, -1),
        node_kind=np.full(n_tx, NODE_TX),
        node_addr=np.full(n_tx, -1),
        out_rank=out_rank,
        in_rank=in_rank,
        pos_in=pos_in,
        node_in_total=in_total,
    )


def assert_conserved(result: TraceResult) -> None:
    if result.traced_value <= 0:
        return
    total = sum(t.share for t in result.terminals) + result.dropped_share
    assert total == pytest.approx(1.0, abs=1e-6), (result.shares, result.dropped_share)
    assert sum(result.shares.values()) + result.dropped_share == pytest.approx(1.0, abs=1e-6)
    assert all(t.amount >= 0 and t.share >= 0 for t in result.terminals)


@st.composite
def trace_settings(draw: st.DrawFn) -> dict[str, object]:
    since = draw(st.one_of(st.none(), st.integers(0, 25)))
    until = draw(st.one_of(st.none(), st.integers(25, 60)))
    return {
        "policy": draw(st.sampled_from(POLICIES)),
        "direction": draw(st.sampled_from(["forward", "backward"])),
        "hops": draw(st.integers(1, 8)),
        "since": since,
        "until": until,
        "min_value": draw(st.sampled_from([0.0, 0.0, 0.5, 3.0])),
    }


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), n_nodes=st.integers(2, 25), n_edges=st.integers(1, 80), opts=trace_settings())
def test_account_graphs_conserve(seed: int, n_nodes: int, n_edges: int, opts: dict[str, object]) -> None:
    rng = np.random.default_rng(seed)
    g = random_account_graph(rng, n_nodes, n_edges)
    picked = np.unique(rng.integers(0, n_edges, int(rng.integers(1, 4))))
    source = edge_source(*picked.tolist(), graph=g, hop=int(rng.integers(0, 2)))
    assert_conserved(trace(g, source, max_terminals=None, **opts))  # type: ignore[arg-type]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), n_tx=st.integers(2, 40), opts=trace_settings())
def test_utxo_graphs_conserve(seed: int, n_tx: int, opts: dict[str, object]) -> None:
    rng = np.random.default_rng(seed)
    g = random_utxo_graph(rng, n_tx)
    picked = np.unique(rng.integers(0, g.n_edges, int(rng.integers(1, 4))))
    source = edge_source(*picked.tolist(), graph=g, hop=0)
    assert_conserved(trace(g, source, max_terminals=None, **opts))  # type: ignore[arg-type]


def test_poison_keeps_the_balance_left_after_small_payments() -> None:
    """The audit's case: 10 tainted arrive at 1, which pays 0.1 of gas on to 2 and keeps the rest."""
    g = build_flow_graph(n_nodes=3, src=[0, 1], dst=[1, 2], value=[10.0, 0.1], ts=[1, 2])
    result = trace(g, edge_source(0, graph=g), policy="poison", max_terminals=None)
    got = {t.entity: (t.reason, round(t.amount, 9), round(t.share, 9)) for t in result.terminals}
    assert got == {"addr#1": ("retained", 9.9, 0.99), "addr#2": ("retained", 0.1, 0.01)}


@pytest.mark.parametrize("policy", POLICIES)
def test_world_stories_conserve(tiny_loaded_world: LoadedWorld, policy: Policy) -> None:
    """The tiny world's hack and phone theft, traced far, under each policy."""
    from chainsleuth.chain.tracing import resolve_source

    w = tiny_loaded_world
    theft = w.incident("phone_theft")["details"]
    sources: list[Source] = [resolve_source(w.graph, w.store, "bitcoin", theft["victim_address"], "forward")]
    loot = next(t for t in w.tagged.entities if t.concepts and "hacking" in t.concepts)
    for address in w.tagged.addresses[w.tagged.entity == w.tagged.entities.index(loot)].tolist():
        segment = w.graph.segment_of_address(int(address))
        local = int(address) - segment.address_offset
        name = w.store.addresses(segment.chain, [local])[0]
        assert name is not None
        sources.append(resolve_source(w.graph, w.store, segment.chain, name, "forward"))
    assert len(sources) >= 2
    for source in sources:
        for hops in (3, 10):
            result = trace(w.graph, source, policy=policy, hops=hops, stops=w.stops, max_terminals=None)
            assert result.traced_value > 0
            assert_conserved(result)
