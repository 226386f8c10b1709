"""Exposure shares, tiers and evidence on a hand-built graph; recompute after a tag change."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chainsleuth.chain.exposure import ExposureModel, ExposurePolicy, category_matrix, entity_exposure
from chainsleuth.chain.tracing import FlowGraph, StopEntity, StopSet, build_flow_graph
from chainsleuth.errors import InvalidInputError

S, C, A, B, X = 0, 1, 2, 3, 4  # sanctioned, clean, A, B, exchange
SANCTIONED = StopEntity(
    "S", "Sanctioned Co", "sanction", source="OFAC SDN list", confidence="authority_data", concepts=("sanction",)
)
EXCHANGE = StopEntity(
    "X", "Big Exchange", "exchange", source="exchanges.yaml", confidence="service_data", concepts=("exchange",)
)


def graph() -> FlowGraph:
    """S → A 10 (t=1), C → A 30 (t=2), A → B 40 (t=3), B → X 40 (t=4)."""
    return build_flow_graph(n_nodes=5, src=[S, C, A, B], dst=[A, A, B, X], value=[10, 30, 40, 40], ts=[1, 2, 3, 4])


def tagged() -> StopSet:
    return StopSet.build([(S, SANCTIONED), (X, EXCHANGE)])


def test_bulk_shares_by_hand() -> None:
    policy = ExposurePolicy.default()
    model = ExposureModel.from_graph(graph())
    result = model.compute(category_matrix(policy, tagged(), model.n_entities), policy, hops=3)
    sanction, exchange = policy.names.index("sanction"), policy.names.index("exchange")
    # A received 10 of its 40 from S directly: 25 %.
    assert result.in_direct[A, sanction] == pytest.approx(0.25)
    # B received everything from A, which is 25 % sanctioned: 25 % indirect, nothing direct.
    assert result.in_direct[B, sanction] == 0.0
    assert result.in_total[B, sanction] == pytest.approx(0.25)
    # A's money all goes to B and then to the exchange: indirect outgoing exposure 100 %.
    assert result.out_direct[A, exchange] == 0.0
    assert result.out_total[A, exchange] == pytest.approx(1.0)
    # C → A → B → X is three hops: within k = 3, not within k = 2.
    assert result.out_total[C, exchange] == pytest.approx(1.0)
    assert model.compute(category_matrix(policy, tagged(), 5), policy, hops=2).out_total[C, exchange] == 0.0
    # shares plus the unattributed rest sum to one, for every entity with volume
    for matrix, volume in ((result.in_total, result.in_volume), (result.out_total, result.out_volume)):
        rest = 1.0 - matrix.sum(axis=1)
        assert np.all(rest[volume > 0] >= -1e-12)
        assert np.all(rest[volume > 0] <= 1.0)
    assert result.in_total[A].sum() + (1 - 0.25) == pytest.approx(1.0)


def test_tiers_follow_the_policy(tmp_path: Path) -> None:
    policy = ExposurePolicy.default()
    model = ExposureModel.from_graph(graph())
    result = model.compute(category_matrix(policy, tagged(), 5), policy)
    tiers = result.tiers(policy)
    named = [policy.tiers[t] if t < len(policy.tiers) else None for t in tiers]
    # A: direct sanction exposure (any share) is severe; B: 25 % indirect ≥ 10 % is severe too.
    assert named[A] == "severe"
    assert named[B] == "severe"
    # C sent only to A (clean) and, indirectly, to the exchange: the default policy does not rate exchanges.
    assert named[C] is None
    tier, reasons = policy.tier(result.shares(B))
    assert tier == "severe"
    assert (reasons[0].category, reasons[0].mode, reasons[0].direction) == ("sanction", "indirect", "incoming")
    custom = tmp_path / "policy.yaml"
    custom.write_text(
        "hops: 3\nmin_value: 0\ntiers: [severe, high, medium, low]\ncategories:\n"
        "  sanction: {concepts: [sanction], direct: {high: 0.5, low: 0.0}, indirect: {medium: 0.2}}\n"
        "  exchange: {concepts: [exchange], direct: {}, indirect: {low: 0.5}}\n"
    )
    mine = ExposurePolicy.load(custom)
    result = model.compute(category_matrix(mine, tagged(), 5), mine)
    named = [mine.tiers[t] if t < len(mine.tiers) else None for t in result.tiers(mine)]
    assert named[A] == "low"  # 25 % direct: below the 50 % "high" bar, above the "low" one
    assert named[B] == "medium"  # 25 % indirect ≥ 20 %
    assert named[C] == "low"  # all of it ends at an exchange within three hops


def test_bad_policy_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("categories:\n  x: {concepts: [no_such_concept]}\n")
    with pytest.raises(InvalidInputError):
        ExposurePolicy.load(bad)


def test_single_entity_query_with_evidence() -> None:
    g = graph()
    got = entity_exposure(g, "graph", [A], tagged())
    by_key = {(c.category, c.direction): c for c in got.categories}
    sanction = by_key[("sanction", "incoming")]
    assert sanction.direct_share == pytest.approx(0.25)
    assert sanction.indirect_share == 0.0
    (evidence,) = sanction.evidence
    assert (evidence.label, evidence.tag_source, evidence.confidence) == (
        "Sanctioned Co",
        "OFAC SDN list",
        "authority_data",
    )
    assert evidence.path is not None
    assert evidence.path.hops[0].from_address == "addr#0"
    exchange = by_key[("exchange", "outgoing")]
    assert exchange.direct_share == 0.0
    assert exchange.indirect_share == pytest.approx(1.0)
    assert got.tier == "severe"


def test_recompute_after_a_tag_change() -> None:
    policy = ExposurePolicy.default()
    model = ExposureModel.from_graph(graph())
    before = model.compute(category_matrix(policy, tagged(), 5), policy)
    scam = StopEntity("C", "Reported scam", "scam", concepts=("scam",))
    changed = tagged().merged(StopSet.build([(C, scam)]))
    after, moved = model.update(before, category_matrix(policy, changed, 5), policy)
    assert set(model.affected([C], hops=policy.hops).tolist()) >= set(moved.tolist())
    assert {A, B}.issubset(set(moved.tolist()))
    assert after.in_direct[A, policy.names.index("scam")] == pytest.approx(0.75)
