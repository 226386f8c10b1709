"""Clustering a chain store: increments, stable ids, merge log, rollback, super-cluster warning, quality."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from chainsleuth.chain.clustering.engine import ClusterOptions, cluster_chain
from chainsleuth.chain.clustering.persist import ClusterStore
from chainsleuth.chain.clustering.quality import evaluate_clusters, tagpack_wallets, true_owners
from chainsleuth.errors import InvalidInputError, NotFoundError
from chainsleuth.store.chainstore import ChainStore

from .conftest import TinyWorld, ingest_rest


@pytest.mark.parametrize("change", [(), ("address_type", "optimal_change")])
def test_incremental_run_equals_full_run_and_keeps_ids_stable(
    tiny_world: TinyWorld, half_store: ChainStore, change: tuple[str, ...]
) -> None:
    options = ClusterOptions(change=change)
    first = cluster_chain(half_store, "bitcoin", options)
    assert first.mode == "full"
    assert first.reason == "first run"
    clusters = ClusterStore(half_store.root, "bitcoin")
    before = clusters.cluster_of()

    ingest_rest(tiny_world, half_store)
    second = cluster_chain(half_store, "bitcoin", options)
    assert second.mode == "incremental"
    assert second.height_before == tiny_world.cut_height
    after = clusters.cluster_of()
    assert len(after) > len(before)
    # an old address keeps its cluster id, or takes the id of the older cluster it merged into
    old = after[: len(before)]
    assert np.all(old <= before)
    assert np.array_equal(after[before], old)
    merges = clusters.merges()
    absorbed = set(merges.column("absorbed_cluster").to_pylist())
    assert absorbed == {int(c) for c in np.unique(before) if after[c] != c}
    assert second.merges == len(merges)

    full = cluster_chain(half_store, "bitcoin", options, full=True)
    assert full.mode == "full"
    assert np.array_equal(clusters.cluster_of(), after)
    assert cluster_chain(half_store, "bitcoin", options).mode == "unchanged"


def test_lookahead_heuristics_option_changes_and_rollbacks_recompute(
    tiny_world: TinyWorld, half_store: ChainStore
) -> None:
    cluster_chain(half_store, "bitcoin")
    ingest_rest(tiny_world, half_store)
    report = cluster_chain(half_store, "bitcoin", ClusterOptions(change=("one_time",)))
    assert report.mode == "full"
    assert report.reason == "options changed"
    ingest_height = half_store.height("bitcoin")
    half_store.truncate_above("bitcoin", ingest_height - 3)
    report = cluster_chain(half_store, "bitcoin", ClusterOptions(change=("one_time",)))
    assert report.mode == "full"
    assert "rolled back" in report.reason
    assert len(ClusterStore(half_store.root, "bitcoin").cluster_of()) == half_store.chain_state("bitcoin").address_count
    ingest_rest(tiny_world, half_store)
    report = cluster_chain(half_store, "bitcoin", ClusterOptions(change=("one_time",)))
    assert report.mode == "full"
    assert "looks ahead" in report.reason


def test_super_cluster_warning_is_logged_and_reported(half_store: ChainStore, caplog: pytest.LogCaptureFixture) -> None:
    options = ClusterOptions(super_cluster_size=20, super_cluster_min=2)
    with caplog.at_level(logging.WARNING, logger="chainsleuth.chain.clustering.engine"):
        report = cluster_chain(half_store, "bitcoin", options)
    assert report.super_cluster_limit == 20
    assert report.largest_cluster > 20
    assert any(w.startswith("super-cluster:") for w in report.warnings)
    assert any("super-cluster" in record.getMessage() for record in caplog.records)
    quiet = cluster_chain(half_store, "bitcoin", options, full=True)
    assert not [w for w in quiet.warnings if w.startswith("super-cluster")]  # nothing new crossed the limit


def test_quality_on_the_tiny_world(tiny_world: TinyWorld) -> None:
    """Thresholds sit a little below what was measured on this world (tiny, seed 11): bitcoin pairwise
    precision 1.000, recall 0.144, B-cubed recall 0.320; ethereum precision 1.000, recall 0.598."""
    store = tiny_world.store
    cluster_chain(store, "bitcoin", full=True)
    owner, _ = true_owners(store, "bitcoin", tiny_world.world)
    quality = evaluate_clusters(ClusterStore(store.root, "bitcoin").cluster_of(), owner)
    assert quality.addresses == store.chain_state("bitcoin").address_count
    assert quality.pairwise_precision >= 0.99
    assert quality.pairwise_recall >= 0.12
    assert quality.bcubed_recall >= 0.28

    hot = tagpack_wallets(store, "ethereum", tiny_world.world / "tagpacks")
    report = cluster_chain(store, "ethereum", ClusterOptions(hot_wallets=hot), full=True)
    assert report.counts["deposit_links"] > 0
    eth_owner, _ = true_owners(store, "ethereum", tiny_world.world)
    eth = evaluate_clusters(ClusterStore(store.root, "ethereum").cluster_of(), eth_owner)
    assert eth.pairwise_precision >= 0.99
    assert eth.pairwise_recall >= 0.5


def test_clear_errors(tiny_world: TinyWorld, tmp_path: object) -> None:
    with pytest.raises(InvalidInputError, match="hot_wallets"):
        cluster_chain(tiny_world.store, "ethereum")
    with pytest.raises(NotFoundError, match="not clustered"):
        ClusterStore(tiny_world.store.root, "nochain").state()


def test_cluster_store_lookups_and_generations(half_store: ChainStore) -> None:
    cluster_chain(half_store, "bitcoin")
    clusters = ClusterStore(half_store.root, "bitcoin")
    first = clusters.state()
    cluster_of = clusters.cluster_of()
    biggest = int(np.bincount(cluster_of).argmax())
    members = clusters.members(biggest)
    assert members[0] == biggest
    assert all(clusters.cluster_id(int(a)) == biggest for a in members[:5])
    assert clusters.cluster_id(10**9) == 10**9
    cluster_chain(half_store, "bitcoin", full=True)
    cluster_chain(half_store, "bitcoin", full=True)
    names = {p.name for p in clusters.parts.iterdir()}
    assert first.clusters_file not in names  # two generations back: removed
    assert clusters.state().clusters_file in names
    assert len([n for n in names if n.startswith("clusters-")]) == 2  # current and previous


def test_wallets_from_tag_records(tiny_world: TinyWorld) -> None:
    from types import SimpleNamespace

    from chainsleuth.chain.clustering.quality import wallets_from_tags

    store = tiny_world.store
    known = store.address("ethereum", 3)
    tags = [
        SimpleNamespace(address=known.upper().replace("0X", "0x"), label="Exchange A"),
        SimpleNamespace(address="0x" + "ab" * 20, label="never seen"),
        SimpleNamespace(address=None, label="transaction tag"),
    ]
    assert wallets_from_tags(store, "ethereum", tags) == {3: "Exchange A"}
