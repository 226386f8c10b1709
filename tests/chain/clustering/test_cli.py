"""The ``chain cluster`` commands on the tiny world."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from chainsleuth.chain.clustering.quality import tagpack_wallets
from chainsleuth.cli.cluster_cmd import app

from .conftest import TinyWorld

runner = CliRunner()


def test_run_show_change_and_quality(tiny_world: TinyWorld) -> None:
    store = str(tiny_world.store.root)
    result = runner.invoke(app, ["run", "--store", store, "--full", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["mode"] == "full"
    assert report["clusters"] > 0

    result = runner.invoke(
        app,
        ["run", "--store", store, "--chain", "ethereum", "--tagpacks", str(tiny_world.world / "tagpacks")],
    )
    assert result.exit_code == 0, result.output
    assert "deposit links" in result.stdout

    address = tiny_world.store.address("bitcoin", 5)
    result = runner.invoke(app, ["show", address, "--store", store])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["address_id"] == 5
    assert shown["size"] >= 1
    assert address in json.dumps(shown)

    view = tiny_world.store.query(
        "SELECT hash FROM btc_transactions WHERE output_count = 2 AND input_count >= 1 LIMIT 1"
    )
    tx_hash = view.column("hash")[0].as_py()
    result = runner.invoke(app, ["change", tx_hash, "--store", store])
    assert result.exit_code == 0, result.output
    assert "address_type" in result.stdout
    assert "CoinJoin" in result.stdout

    result = runner.invoke(app, ["quality", str(tiny_world.world), "--store", store, "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert set(figures) == {"bitcoin", "ethereum"}
    assert figures["bitcoin"]["clustering"]["pairwise_precision"] >= 0.99
    assert "address_type" in figures["bitcoin"]["change_link_precision"]


def test_hot_wallets_file(tiny_world: TinyWorld, tmp_path: Path) -> None:
    store = tiny_world.store
    wallets = tagpack_wallets(store, "ethereum", tiny_world.world / "tagpacks")
    names = store.addresses("ethereum", sorted(wallets))
    lines = ["# address,exchange"] + [f"{a},{wallets[i]}" for i, a in zip(sorted(wallets), names, strict=True)]
    path = tmp_path / "hot.csv"
    path.write_text("\n".join(lines) + "\n")
    result = runner.invoke(
        app, ["run", "--store", str(store.root), "--chain", "ethereum", "--hot-wallets", str(path), "--json", "--full"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["counts"]["hot_wallets"] == len(wallets)
    assert report["counts"]["deposit_links"] > 0


def test_errors_are_clear(tiny_world: TinyWorld) -> None:
    store = str(tiny_world.store.root)
    result = runner.invoke(app, ["run", "--store", store, "--change", "locktime"])
    assert result.exit_code != 0
    assert "unknown change heuristic" in str(result.exception)
    result = runner.invoke(app, ["run", "--store", store, "--chain", "ethereum"])
    assert result.exit_code != 0
    assert "hot" in str(result.exception)
