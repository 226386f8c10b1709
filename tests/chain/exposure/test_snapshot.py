"""Bulk exposure of every cluster, persisted (CLI ``chain cluster exposure``, HTTP ``/api/chain/exposure``) and
recomputed when the tag set changes: importing a TagPack that sanctions one cluster moves its counterparties'
tier, as seen by the command line and by HTTP (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from chainsleuth.chain.clustering import cluster_chain
from chainsleuth.chain.clustering.persist import ClusterStore
from chainsleuth.chain.clustering.view import load_utxo_view
from chainsleuth.chain.exposure.snapshot import ExposureStore, tags_fingerprint
from chainsleuth.cli.main import app
from chainsleuth.config import Settings, get_settings
from chainsleuth.store.chainstore import ChainStore
from chainsleuth.store.db import session_scope
from tests.web.helpers import loaded_world, password_of, web_client

runner = CliRunner()


@pytest.fixture(scope="module")
def loaded(
    module_database_url: str, tiny_world: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, Engine]]:
    with loaded_world(tiny_world, module_database_url, tmp_path_factory.mktemp("exposure")) as world:
        cluster_chain(ChainStore(world[0].chain_dir), "bitcoin")
        yield world


@pytest.fixture(scope="module")
def client(loaded: tuple[Settings, Engine], tiny_world: Path) -> Iterator[TestClient]:
    with web_client(*loaded, tiny_world) as test_client:
        yield test_client


@pytest.fixture
def cli_env(loaded: tuple[Settings, Engine], monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The CLI on the loaded world's database; returns the ``--store`` option of its chain store."""
    settings = loaded[0]
    monkeypatch.setenv("CHAINSLEUTH_DATABASE_URL", settings.resolved_database_url)
    get_settings.cache_clear()
    yield ["--store", str(settings.chain_dir)]
    get_settings.cache_clear()


def _login(client: TestClient, username: str) -> dict[str, str]:
    response = client.post("/api/auth/token", data={"username": username, "password": password_of(username)})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _cli(*args: str) -> Any:
    result = runner.invoke(app, ["chain", "cluster", "exposure", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _payer_and_payee(store: ChainStore) -> tuple[str, int, str, int]:
    """An input address and an output address of one transaction, in different clusters that have no exposure
    to sanctions yet (their clusters: the payer's gets tagged, the payee's must become exposed)."""
    view = load_utxo_view(store, "bitcoin")
    cluster_of = ClusterStore(store.root, "bitcoin").cluster_of()
    snapshot = pq.read_table(Path(store.root) / "exposure" / ExposureStore(Path(store.root) / "exposure").state().file)  # type: ignore[union-attr]
    rows = snapshot.to_pylist()
    sanctioned = {r["cluster_id"] for r in rows if "sanction" in r["categories"] or r["tagged"]}
    first_input = {}
    for tx, address in zip(view.in_tx.tolist(), view.in_address.tolist(), strict=True):
        first_input.setdefault(tx, address)
    for tx, address, value in zip(
        view.out_tx.tolist(), view.out_address.tolist(), view.out_value.tolist(), strict=True
    ):
        payer = first_input.get(tx)
        if payer is None or address < 0 or value < 10_000_000:
            continue
        a, b = int(cluster_of[payer]), int(cluster_of[address])
        if a != b and a not in sanctioned and b not in sanctioned:
            return store.address("bitcoin", payer), a, store.address("bitcoin", address), b
    raise AssertionError("no suitable transaction in the tiny world")


def test_all_persists_parquet_with_the_tag_fingerprint(loaded: tuple[Settings, Engine], cli_env: list[str]) -> None:
    summary = _cli("--all", *cli_env)
    assert summary["recomputed"] is True
    assert summary["rows"] > 0
    directory = Path(summary["directory"])
    assert directory == loaded[0].chain_dir / "exposure"
    table = pq.read_table(directory / summary["file"])
    assert table.num_rows == summary["rows"]
    assert {"chain", "cluster_id", "size", "tier", "sanction_in_direct", "sanction_out_indirect"} <= set(
        table.column_names
    )
    state = json.loads((directory / "state.json").read_text())
    with session_scope(loaded[1]) as session:
        assert state["key"]["tags"] == tags_fingerprint(session)
    # Every bitcoin cluster id is a cluster root, listed once.
    cluster_of = ClusterStore(loaded[0].chain_dir, "bitcoin").cluster_of()
    ids = np.asarray([c for c, ch in zip(table["cluster_id"].to_pylist(), table["chain"].to_pylist(), strict=True)
                      if ch == "bitcoin"])  # fmt: skip
    assert len(ids) == len(set(ids.tolist()))
    assert (cluster_of[ids] == ids).all()
    # The world's sanctioned entities give some cluster a severe tier.
    assert any(key.endswith(":severe") for key in summary["tiers"])
    # Unchanged tags and store: a listing reads the snapshot without recomputing.
    assert _cli(*cli_env)["recomputed"] is False


def test_out_writes_elsewhere(tmp_path: Path, cli_env: list[str]) -> None:
    summary = _cli("--all", "--out", str(tmp_path / "snap"), *cli_env)
    assert Path(summary["directory"]) == tmp_path / "snap"
    assert (tmp_path / "snap" / summary["file"]).is_file()


def test_importing_a_tag_changes_the_tier_via_cli_and_http(
    loaded: tuple[Settings, Engine], cli_env: list[str], client: TestClient, tmp_path: Path
) -> None:
    store = ChainStore(loaded[0].chain_dir)
    _cli("--all", *cli_env)
    payer, _, payee, payee_cluster = _payer_and_payee(store)
    before = _cli(payee, *cli_env)
    assert before["tier"] != "severe"
    assert not [s for s in before["shares"] if s["category"] == "sanction"]
    analyst = _login(client, "analyst")
    listed = client.get("/api/chain/exposure", params={"chain": "bitcoin", "tier": "severe", "limit": 1000},
                        headers=analyst).json()  # fmt: skip
    assert payee_cluster not in [c["cluster_id"] for c in listed["clusters"]]

    pack = tmp_path / "sanction.yaml"
    pack.write_text(
        "title: Test sanctions\ncreator: Test Team\ncurrency: BTC\nconfidence: authority_data\n"
        f"source: https://example.org/sdn\nlastmod: 2024-01-15\ntags:\n- address: {payer}\n"
        "  label: Sanctioned test entity\n  category: sanction\n",
        encoding="utf-8",
    )
    imported = runner.invoke(app, ["tags", "import", str(pack)])
    assert imported.exit_code == 0, imported.output

    after = _cli(payee, *cli_env)  # stale by fingerprint: recomputed on this read
    sanction = [s for s in after["shares"] if s["category"] == "sanction" and s["direction"] == "incoming"]
    assert sanction
    assert sanction[0]["direct_share"] > 0
    assert after["tier"] == "severe"

    body = client.get("/api/chain/exposure", params={"chain": "bitcoin", "tier": "severe", "category": "sanction",
                                                      "limit": 1000}, headers=analyst).json()  # fmt: skip
    assert payee_cluster in [c["cluster_id"] for c in body["clusters"]]
    assert all(c["tier"] == "severe" for c in body["clusters"])
    detail = client.get(f"/api/chain/exposure/bitcoin/{payee_cluster}", headers=analyst).json()
    assert detail["bulk"]["tier"] == "severe"
    categories = {c["category"]: c for c in detail["evidence"]["categories"]}
    assert "sanction" in categories
    evidence = categories["sanction"]["evidence"][0]
    assert evidence["tag_source"] == "https://example.org/sdn"
    assert evidence["confidence"] == "authority_data"
    with session_scope(loaded[1]) as session:
        assert detail["tag_fingerprint"] == tags_fingerprint(session)
    # The command line reuses the server's snapshot (same tags, store and price file): no recompute.
    assert _cli("--limit", "1", *cli_env)["recomputed"] is False


def test_http_paging_filters_and_errors(client: TestClient) -> None:
    analyst = _login(client, "analyst")
    first = client.get("/api/chain/exposure", params={"limit": 2}, headers=analyst)
    assert first.status_code == 200, first.text
    body = first.json()
    assert len(body["clusters"]) <= 2
    ranks = [body["tiers"].index(c["tier"]) if c["tier"] else len(body["tiers"]) for c in body["clusters"]]
    assert ranks == sorted(ranks)
    second = client.get("/api/chain/exposure", params={"limit": 2, "offset": 2}, headers=analyst).json()
    assert second["total"] == body["total"]
    assert not {(c["chain"], c["cluster_id"]) for c in second["clusters"]} & {
        (c["chain"], c["cluster_id"]) for c in body["clusters"]
    }
    bad_tier = client.get("/api/chain/exposure", params={"tier": "catastrophic"}, headers=analyst)
    assert bad_tier.status_code == 422
    assert "tier" in bad_tier.text
    assert client.get("/api/chain/exposure", params={"category": "nope"}, headers=analyst).status_code == 422
    assert client.get("/api/chain/exposure", params={"chain": "dogecoin"}, headers=analyst).status_code == 404
    assert client.get("/api/chain/exposure/bitcoin/999999999", headers=analyst).status_code == 404
    assert client.get("/api/chain/exposure").status_code == 401
