"""Ground truth: tracing the simulator's stories recovers the stolen value at the right accounts."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from chainsleuth.chain.attribution import TagRecord, resolve_to_clusters
from chainsleuth.chain.exposure import entity_exposure
from chainsleuth.chain.tracing import Policy, PriceTable, StoreResolver, resolve_source, stops_from_attributions, trace
from chainsleuth.world import WorldConfig, generate_world

from .world_fixture import LoadedWorld, load_world


@pytest.fixture(scope="module", params=[7, 3])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> LoadedWorld:
    """A `small` world (≈50k transfers, ten times the tiny one: the stories are hidden among more traffic) for
    two seeds; generating and loading one takes about 12 s. The large-world numbers come from
    benchmarks/report_tracing_recovery.py (docs/benchmarks.md)."""
    seed = int(request.param)
    base = tmp_path_factory.mktemp(f"trace-world-{seed}")
    path = base / "world"
    generate_world(WorldConfig.from_size("small", seed=seed), path)
    return load_world(path, base / "store")


@pytest.mark.parametrize("policy", ["haircut", "fifo", "poison"])
def test_phone_theft_recovered_at_the_thiefs_account(world: LoadedWorld, policy: Policy) -> None:
    incident = world.incident("phone_theft")
    details = incident["details"]
    stolen = details["stolen_sat"] / 1e8
    (expected,) = incident["terminal_accounts"]
    source = resolve_source(world.graph, world.store, "bitcoin", details["victim_address"], "forward")
    result = trace(
        world.graph,
        source,
        policy=policy,
        hops=8,
        stops=world.stops,
        resolver=StoreResolver(world.store),
    )
    at_account = sum(t.amount for t in result.terminals if t.entity == expected["account_id"])
    assert at_account >= 0.95 * stolen
    # nothing of the stolen value reaches any other account of ours
    ours = {e.key for e in world.ours.entities}
    others = sum(t.amount for t in result.terminals if t.entity in ours and t.entity != expected["account_id"])
    assert others < 0.01 * stolen
    # the evidence ends at the thief's deposit address and every hop names a real transaction
    term = next(t for t in result.terminals if t.entity == expected["account_id"])
    hops = term.paths[0].hops
    assert hops[-1].to_address == details["thief_deposit_address"]
    assert all(len(h.tx_hash) == 64 for h in hops)
    assert set(incident["tx_hashes"]["bitcoin"]) >= {h.tx_hash for h in hops[1:]}


def test_hack_crosses_the_bridge_to_a_mule_account(world: LoadedWorld) -> None:
    """The hack's loot goes through the mixer (a service: the trace stops there, as it must) and across the
    bridge into USDT; the bridged part must be found at a mule's account, with the memo as evidence."""
    incident = world.incident("hack_laundering")
    loot = next(t for t in world.tagged.entities if t.concepts and "hacking" in t.concepts)
    address = world.tagged.addresses[world.tagged.entity == world.tagged.entities.index(loot)][0]
    chain_addr = world.store.addresses("bitcoin", [int(address)])[0]
    assert chain_addr is not None
    source = resolve_source(world.graph, world.store, "bitcoin", chain_addr, "forward")
    result = trace(
        world.graph, source, policy="haircut", hops=10, stops=world.stops, resolver=StoreResolver(world.store)
    )
    mules = {a["account_id"] for a in incident["terminal_accounts"]}
    bridged = [t for t in result.terminals if t.entity in mules and t.asset == "USDT"]
    assert bridged, "no USDT reached a mule account across the bridge"
    assert any(h.bridge_memo and h.bridge_memo.startswith("=:ETH:") for h in bridged[0].paths[0].hops)
    mixer = sum(t.share for t in result.terminals if t.category == "mixing_service")
    assert mixer > 0.3  # the rest stops, correctly, at the mixer
    assert sum(t.share for t in result.terminals) == pytest.approx(1.0, abs=1e-6)


def test_stops_cover_whole_tagged_clusters(world: LoadedWorld) -> None:
    """With the clustering's arrays, every address of a tagged cluster stops a trace, not only the tagged one."""
    tagged_address = world.store.addresses("bitcoin", [3])[0]
    assert tagged_address is not None
    tag = TagRecord(
        network="bitcoin",
        label="Some Exchange",
        source="analyst note",
        confidence="forensic",
        confidence_level=50,
        creator="test",
        origin="analyst",
        address=tagged_address,
        category="exchange",
    )
    n = world.store.chain_state("bitcoin").address_count
    clusters = np.arange(n, dtype=np.int64)
    clusters[[7, 9]] = clusters[3]  # addresses 7 and 9 were clustered with the tagged one
    attributions = resolve_to_clusters([tag], {tagged_address: "bitcoin:3"})
    stops = stops_from_attributions(world.graph, world.store, attributions, clusters={"bitcoin": clusters})
    assert stops.addresses.tolist() == [3, 7, 9]  # bitcoin addresses come first in the graph's id space
    assert {e.key for e in stops.entities} == {"bitcoin:3"}
    assert stops_from_attributions(world.graph, world.store, attributions).addresses.tolist() == [3]


def test_sources_tx_output_and_backward(world: LoadedWorld) -> None:
    incident = world.incident("phone_theft")
    details = incident["details"]
    (expected,) = incident["terminal_accounts"]
    theft_tx = incident["tx_hashes"]["bitcoin"][0]
    resolver = StoreResolver(world.store)
    by_tx = trace(
        world.graph, resolve_source(world.graph, world.store, "bitcoin", theft_tx, "forward"), hops=6, stops=world.stops
    )
    assert sum(t.share for t in by_tx.terminals if t.entity == expected["account_id"]) > 0.95
    output = resolve_source(world.graph, world.store, "bitcoin", f"{theft_tx}:0", "forward")
    assert output.first_hop == 0
    assert len(output.edges) == 1
    assert trace(world.graph, output, hops=6, stops=world.stops).terminals[0].entity == expected["account_id"]
    # Backward from the thief's deposit address: the money came from the victim, who bought it at an exchange.
    back = trace(
        world.graph,
        resolve_source(world.graph, world.store, "bitcoin", details["thief_deposit_address"], "backward"),
        direction="backward",
        hops=8,
        stops=world.services,
        resolver=resolver,
    )
    assert back.shares == pytest.approx({"service": 1.0})
    (origin,) = back.terminals
    assert origin.category == "exchange"
    assert any(h.to_address == details["victim_address"] for h in origin.paths[0].hops)


def test_exposure_of_a_mule_crosses_the_bridge_to_the_hack(world: LoadedWorld) -> None:
    """The first mule's USDT came, over the bridge, from the hack's tagged loot address: the single-entity
    exposure finds it as indirect stolen-funds exposure, with the tag and the bridged path as evidence."""
    incident = world.incident("hack_laundering")
    mule = incident["customer_ids"][0]["customer_id"]
    deposits = pq.read_table(world.world / "exchange" / "deposit_addresses.parquet").to_pylist()
    address = next(r["address"] for r in deposits if r["customer_id"] == mule and r["chain"] == "ethereum")
    local = world.store.address_id("ethereum", address)
    assert local is not None
    prices = PriceTable.read(world.world / "prices.csv")
    result = entity_exposure(
        world.graph, "ethereum", [local], world.tagged, hops=10, prices=prices, resolver=StoreResolver(world.store)
    )
    stolen = next(c for c in result.categories if (c.category, c.direction) == ("stolen_funds", "incoming"))
    assert stolen.direct_share == 0.0
    assert stolen.indirect_share > 0.5
    assert result.unit == "USD"
    evidence = stolen.evidence[0]
    assert evidence.label is not None
    assert "hack" in evidence.label
    assert evidence.path is not None
    assert any(h.bridge_memo and h.bridge_memo.startswith("=:ETH:") for h in evidence.path.hops)
    assert result.tier in ("severe", "high")
