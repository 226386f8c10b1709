"""The Spark engine gives the local engine's results: CoinJoin flags, components, and a whole chain's mapping.

These tests start a real local Spark (PySpark with the machine's Java), so they take a few seconds each; one
session is shared by the module.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chainsleuth.chain.clustering.coinjoin import CoinJoinParams, detect_coinjoins
from chainsleuth.chain.clustering.engine import cluster_chain
from chainsleuth.chain.clustering.kernel import components
from chainsleuth.chain.clustering.persist import ClusterStore
from chainsleuth.chain.clustering.spark import (
    detect_coinjoins_spark,
    multi_input_edges,
    spark_session,
    star_components,
)
from chainsleuth.errors import InvalidInputError
from chainsleuth.store.chainstore import ChainStore

from .builders import Tx, view_of
from .conftest import TinyWorld, ingest_rest

D = 1_000_000


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with spark_session("local[2]", scratch=tmp_path_factory.mktemp("spark")) as session:
        session.conf.set("spark.sql.shuffle.partitions", "4")
        yield session


def _random_transactions(rng: np.random.Generator, count: int) -> list[Tx]:
    """Payments, CoinJoin-like rounds and batch payouts over a small address space, so that shapes collide."""
    txs = []
    for tx_id in range(count):
        shape = rng.integers(0, 3)
        n_in = int(rng.integers(1, 7))
        inputs = [(int(rng.integers(0, 60)), int(rng.integers(1, 5)) * D) for _ in range(n_in)]
        if shape == 0:  # a CoinJoin-like round, sometimes with a repeated payee or extra change outputs
            equal = int(rng.integers(2, 7))
            outputs = [(int(rng.integers(60, 100)), D) for _ in range(equal)]
            extra = int(rng.integers(0, 5))
            outputs += [(int(rng.integers(0, 100)), int(rng.integers(1, 9)) * D // 3) for _ in range(extra)]
        elif shape == 1:  # a batch payout with a few equal amounts and a big change
            outputs = [(int(rng.integers(60, 100)), 2 * D) for _ in range(int(rng.integers(1, 5)))]
            outputs.append((inputs[0][0], int(rng.integers(1, 40)) * D))
        else:  # a plain payment, sometimes with an address-less (OP_RETURN) output
            outputs = [(int(rng.integers(0, 100)), int(rng.integers(1, 9)) * D) for _ in range(int(rng.integers(1, 4)))]
            if rng.random() < 0.3:
                outputs.append((-1, 0))
        txs.append(Tx(tx_id, inputs, outputs))
    return txs


def _frames(spark: Any, txs: list[Tx]) -> tuple[Any, Any]:
    view = view_of(txs)
    inputs = spark.createDataFrame(
        [(int(t), int(a)) for t, a in zip(view.in_tx, view.in_address, strict=True)], "tx_id long, address_id long"
    )
    outputs = spark.createDataFrame(
        [(int(t), int(a), int(v)) for t, a, v in zip(view.out_tx, view.out_address, view.out_value, strict=True)],
        "tx_id long, address_id long, value long",
    )
    return inputs, outputs


def test_coinjoin_flags_and_scores_equal_the_local_detector(spark: Any) -> None:
    txs = _random_transactions(np.random.default_rng(5), 400)
    txs.append(Tx(1000, [(10 + i, D + 500) for i in range(5)], [(20 + i, D) for i in range(5)]))  # Whirlpool
    view = view_of(txs)
    for params in (CoinJoinParams(), CoinJoinParams(min_equal_outputs=2, min_score=0.6)):
        local = detect_coinjoins(view.in_tx, view.in_address, view.out_tx, view.out_address, view.out_value, params)
        inputs, outputs = _frames(spark, txs)
        rows = detect_coinjoins_spark(inputs, outputs, params).collect()
        by_tx = {row.tx_id: (row.score, row.flagged) for row in rows}
        assert sorted(by_tx) == local.tx_ids.tolist()
        assert {tx for tx, (_, flag) in by_tx.items() if flag} == set(local.flagged_tx_ids.tolist())
        assert np.allclose([by_tx[tx][0] for tx in local.tx_ids.tolist()], local.score)
        assert local.flagged.any()  # the sample holds both kinds
        assert not local.flagged.all()
    assert 1000 in {row.tx_id for row in rows if row.flagged}


def test_star_components_equal_scipy_on_paths_and_random_graphs(spark: Any) -> None:
    rng = np.random.default_rng(3)
    n = 400
    # a long path (the worst case for label propagation) in shuffled ids, plus a sparse random graph
    path = rng.permutation(np.arange(200, 264))
    src = np.concatenate((path[:-1], rng.integers(0, 200, 150), [300, 301]))
    dst = np.concatenate((path[1:], rng.integers(0, 200, 150), [300, 300]))
    edges = spark.createDataFrame([(int(a), int(b)) for a, b in zip(src, dst, strict=True)], "src long, dst long")
    members, rounds = star_components(edges)
    result = np.arange(n)
    for row in members.collect():
        result[row.address_id] = row.cluster_id
    assert np.array_equal(result, components(n, src, dst))
    assert result[path].tolist() == [int(path.min())] * len(path)
    assert 1 < rounds < 20


def test_coinjoin_inputs_give_no_edges(spark: Any) -> None:
    coinjoin = Tx(1, [(10 + i, D + 500) for i in range(5)], [(20 + i, D) for i in range(5)])
    payment = Tx(2, [(30, D), (31, D), (-1, D), (30, D)], [(40, 2 * D - 100)])
    inputs, _ = _frames(spark, [coinjoin, payment])
    excluded = spark.createDataFrame([(1,)], "tx_id long")
    assert sorted(tuple(row) for row in multi_input_edges(inputs, excluded).collect()) == [(31, 30)]


def test_spark_engine_writes_the_same_clustering_as_the_local_engine(
    tiny_world: TinyWorld, half_store: ChainStore, spark: Any
) -> None:
    ingest_rest(tiny_world, half_store)
    clusters = ClusterStore(half_store.root, "bitcoin")
    local = cluster_chain(half_store, "bitcoin")
    local_mapping = clusters.cluster_of()
    local_links = clusters.links()
    spark_report = cluster_chain(half_store, "bitcoin", full=True, engine="spark", spark_master="local[2]")
    assert np.array_equal(clusters.cluster_of(), local_mapping)
    assert spark_report.clusters == local.clusters
    assert spark_report.largest_cluster == local.largest_cluster
    assert spark_report.counts["coinjoins"] == local.counts["coinjoins"] > 0
    assert spark_report.merges == 0
    assert spark_report.splits == 0
    links = clusters.links()
    assert local_links is not None
    assert links is not None
    assert links.column("tx_id").to_pylist() == local_links.column("tx_id").to_pylist()
    assert local.clusters < local.addresses  # the world has multi-input spends, so this compared real merges


def test_spark_engine_refuses_what_it_does_not_run(tiny_world: TinyWorld, tmp_path: Path) -> None:
    from chainsleuth.chain.clustering.engine import ClusterOptions

    with pytest.raises(InvalidInputError, match="local engine"):
        cluster_chain(tiny_world.store, "bitcoin", ClusterOptions(change=("one_time_change",)), engine="spark")
    with pytest.raises(InvalidInputError, match="unknown clustering engine"):
        cluster_chain(tiny_world.store, "bitcoin", engine="gpu")
