"""The trace, exposure and path commands on a tiny world, as an investigator would run them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chainsleuth.cli.trace_cmd import app
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
