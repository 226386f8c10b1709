"""The trace, exposure and path commands on a tiny world, as an investigator would run them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chainsleuth.cli.trace_cmd import app
from chainsleuth.errors import InvalidInputError, NotFoundError
from chainsleuth.ingest.etl import ingest_world_chains
from chainsleuth.store.chainstore import ChainStore

runner = CliRunner()


@pytest.fixture(scope="module")
def store(tiny_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("trace-cli") / "store"
    ingest_world_chains(tiny_world, ChainStore(root))
    return root


def incident(world: Path, typology: str) -> dict[str, object]:
    lines = (world / "ground_truth" / "incidents.jsonl").read_text().splitlines()
    return next(i for i in map(json.loads, lines) if i["typology"] == typology)


def test_trace_json_reaches_the_thief(store: Path, tiny_world: Path) -> None:
    details = incident(tiny_world, "phone_theft")["details"]
    assert isinstance(details, dict)
    args = ["trace", details["victim_address"], "--store", str(store), "--tagpacks", str(tiny_world / "tagpacks")]
    args += ["--deposits", str(tiny_world / "exchange" / "deposit_addresses.parquet"), "--hops", "6", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    top = data["terminals"][0]
    assert top["reason"] == "service"
    assert top["share"] > 0.95
    assert top["paths"][0]["hops"][-1]["to_address"] == details["thief_deposit_address"]


def test_trace_table_exposure_and_path(store: Path, tiny_world: Path) -> None:
    details = incident(tiny_world, "phone_theft")["details"]
    assert isinstance(details, dict)
    tags = ["--tagpacks", str(tiny_world / "tagpacks")]
    shown = runner.invoke(
        app, ["trace", details["victim_address"], "--store", str(store), *tags, "--policy", "fifo"], terminal_width=200
    )
    assert shown.exit_code == 0, shown.output
    assert "evidence" in shown.output
    rated = runner.invoke(app, ["exposure", details["thief_deposit_address"], "--store", str(store), *tags, "--json"])
    assert rated.exit_code == 0, rated.output
    assert {c["category"] for c in json.loads(rated.output)["categories"]} == {"exchange"}
    found = runner.invoke(
        app, ["path", details["victim_address"], details["thief_deposit_address"], "--store", str(store), "--json"]
    )
    assert found.exit_code == 0, found.output
    assert json.loads(found.output)["found"] is True
    bad = runner.invoke(app, ["trace", details["victim_address"], "--store", str(store), "--policy", "lifo"])
    assert bad.exit_code != 0


def test_hop_limit_counts_transactions_after_the_source(store: Path, tiny_world: Path) -> None:
    """``--hops 2`` from a bitcoin address: paths show the funding output as 'src' plus at most 2 hops."""
    details = incident(tiny_world, "phone_theft")["details"]
    assert isinstance(details, dict)
    args = ["trace", details["victim_address"], "--store", str(store), "--tagpacks", str(tiny_world / "tagpacks")]
    result = runner.invoke(app, [*args, "--hops", "2", "--json", "--limit", "0"])
    assert result.exit_code == 0, result.output
    terminals = json.loads(result.output)["terminals"]
    counts = [t["paths"][0]["hop_count"] for t in terminals if t["paths"] and t["reason"] != "fee"]
    assert counts
    assert max(counts) == 2
    for t in terminals:
        for path in t["paths"]:
            assert path["hops"][0]["hop"] == 0  # the output that funded the victim's address
            assert path["hop_count"] == max(h["hop"] for h in path["hops"]) <= 2
    table = runner.invoke(app, [*args, "--hops", "2"], terminal_width=250)
    assert table.exit_code == 0, table.output
    assert "  src " in table.output


@pytest.fixture(scope="module")
def clustered_store(tiny_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from chainsleuth.chain.clustering import cluster_chain

    root = tmp_path_factory.mktemp("trace-cli-clustered") / "store"
    ingest_world_chains(tiny_world, ChainStore(root))
    cluster_chain(ChainStore(root), "bitcoin")
    return root


def test_path_between_clusters(clustered_store: Path, tiny_world: Path) -> None:
    from chainsleuth.chain.clustering import ClusterStore

    details = incident(tiny_world, "phone_theft")["details"]
    assert isinstance(details, dict)
    store = ChainStore(clustered_store)
    local = store.address_id("bitcoin", details["victim_address"])
    assert local is not None
    cluster_id = int(ClusterStore(store.root, "bitcoin").cluster_of()[local])
    base = ["--store", str(clustered_store), "--json"]
    found = runner.invoke(app, ["path", f"cluster:{cluster_id}", details["thief_deposit_address"], *base])
    assert found.exit_code == 0, found.output
    data = json.loads(found.output)
    assert data["found"] is True
    assert data["paths"][0]["hops"][-1]["to_address"] == details["thief_deposit_address"]
    assert data["paths"][0]["hop_count"] <= 6
    bad = runner.invoke(app, ["path", "cluster:abc", details["thief_deposit_address"], *base])
    assert bad.exit_code != 0
    assert isinstance(bad.exception, InvalidInputError)  # the main app prints it as a clear error
    assert "cluster:<id>" in str(bad.exception)
    member = next(i for i, c in enumerate(ClusterStore(store.root, "bitcoin").cluster_of().tolist()) if c != i)
    not_root = runner.invoke(app, ["path", f"cluster:{member}", details["thief_deposit_address"], *base])
    assert not_root.exit_code != 0
    assert isinstance(not_root.exception, NotFoundError)
    assert "no such cluster" in str(not_root.exception)
    unclustered = runner.invoke(
        app, ["path", "cluster:0", details["thief_deposit_address"], "--chain", "ethereum", *base]
    )
    assert unclustered.exit_code != 0
    assert isinstance(unclustered.exception, NotFoundError)
    assert "no clustering" in str(unclustered.exception)
