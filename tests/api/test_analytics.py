"""The chain engine over HTTP on a loaded, clustered tiny world (SQLite and PostgreSQL): trace, exposure, paths,
clusters, change verdicts, tags, role refusals, bad input, and the per-process flow-graph cache."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from chainsleuth.chain.clustering import HEURISTICS, cluster_chain
from chainsleuth.chain.tracing.cache import GRAPHS
from chainsleuth.config import Settings
from chainsleuth.ingest.etl import ingest_world_chains
from chainsleuth.store.chainstore import ChainStore
from tests.web.helpers import loaded_world, password_of, web_client


@pytest.fixture(scope="module")
def loaded(
    module_database_url: str, tiny_world: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, Engine]]:
    with loaded_world(tiny_world, module_database_url, tmp_path_factory.mktemp("analytics")) as world:
        cluster_chain(ChainStore(world[0].chain_dir), "bitcoin")
        yield world


@pytest.fixture(scope="module")
def client(loaded: tuple[Settings, Engine], tiny_world: Path) -> Iterator[TestClient]:
    with web_client(*loaded, tiny_world) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def analyst(client: TestClient) -> dict[str, str]:
    return _login(client, "analyst")


def _login(client: TestClient, username: str) -> dict[str, str]:
    response = client.post("/api/auth/token", data={"username": username, "password": password_of(username)})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _incident(world: Path, typology: str) -> dict[str, Any]:
    lines = (world / "ground_truth" / "incidents.jsonl").read_text().splitlines()
    return next(i for i in map(json.loads, lines) if i["typology"] == typology)


def _deposit_address(world: Path, account_id: str, chain: str = "bitcoin") -> list[str]:
    rows = pq.read_table(world / "exchange" / "deposit_addresses.parquet").to_pylist()
    return [r["address"] for r in rows if r["account_id"] == account_id and r["chain"] == chain]


def test_phone_theft_traced_to_the_thiefs_account(
    client: TestClient, analyst: dict[str, str], tiny_world: Path
) -> None:
    incident = _incident(tiny_world, "phone_theft")
    details = incident["details"]
    (expected,) = incident["terminal_accounts"]
    response = client.get(
        "/api/chain/bitcoin/trace",
        params={"target": details["victim_address"], "policy": "haircut", "hops": 8},
        headers=analyst,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    stolen = details["stolen_sat"] / 1e8
    at_thief = [t for t in body["terminals"] if t["entity"] == expected["account_id"]]
    assert at_thief
    assert sum(t["amount"] for t in at_thief) >= 0.95 * stolen
    terminal = at_thief[0]
    assert terminal["amount_usd"] is not None
    assert terminal["amount_usd"] > 0.9 * expected["amount_usd"]
    assert terminal["paths"][0]["hops"][-1]["to_address"] == details["thief_deposit_address"]
    assert body["graph_build"] >= 1


def test_exposure_of_a_sanctioned_entity_deposit(client: TestClient, analyst: dict[str, str], tiny_world: Path) -> None:
    incident = _incident(tiny_world, "sanctions")
    found = []
    for account in incident["terminal_accounts"]:
        for address in _deposit_address(tiny_world, account["account_id"]):
            body = client.get(f"/api/chain/bitcoin/addresses/{address}/exposure", headers=analyst).json()
            found += [c for c in body.get("categories", []) if c["category"] == "sanction"]
            if found:
                assert body["tier"] in ("severe", "high")
                break
        if found:
            break
    assert found, "no sanctioned-entity deposit address shows sanction exposure"
    evidence = found[0]["evidence"][0]
    assert evidence["tag_source"]
    assert evidence["confidence"]
    assert evidence["path"]["hops"], "the evidence carries a path"
    assert found[0]["direct_share"] + found[0]["indirect_share"] > 0


def test_path_search_finds_a_known_path_and_respects_depth(
    client: TestClient, analyst: dict[str, str], tiny_world: Path
) -> None:
    details = _incident(tiny_world, "phone_theft")["details"]
    params = {"source": details["victim_address"], "target": details["thief_deposit_address"], "chain": "bitcoin"}
    body = client.get("/api/chain/paths", params=params, headers=analyst).json()
    assert body["found"]
    assert body["paths"]
    assert body["paths"][0]["hops"][-1]["to_address"] == details["thief_deposit_address"]
    assert len(body["paths"][0]["hops"]) >= 2
    assert body["depth"] >= 2
    shallow = client.get("/api/chain/paths", params={**params, "max_depth": body["depth"] - 1}, headers=analyst)
    assert shallow.status_code == 200
    assert not shallow.json()["found"]
    assert not shallow.json()["paths"]
    assert "no path within" in shallow.json()["notes"][0]


def test_cluster_of_an_address_has_members_attribution_and_links(
    client: TestClient, analyst: dict[str, str], tiny_world: Path
) -> None:
    tags = client.get("/api/chain/tags", params={"network": "bitcoin", "category": "exchange"}, headers=analyst)
    address = tags.json()["tags"][0]["address"]
    body = client.get(f"/api/chain/bitcoin/addresses/{address}/cluster", params={"limit": 5}, headers=analyst).json()
    assert body["size"] >= 1
    assert 1 <= len(body["members"]) <= 5
    assert body["attribution"]["label"]
    assert body["attribution"]["tags"]
    assert "multi_input" in body["heuristics"]
    again = client.get(f"/api/chain/bitcoin/clusters/{body['cluster_id']}", headers=analyst).json()
    assert again["size"] == body["size"]
    assert again["root_address"] == body["root_address"]
    exposure = client.get(f"/api/chain/bitcoin/clusters/{body['cluster_id']}/exposure", headers=analyst)
    assert exposure.status_code == 200
    assert exposure.json()["members"] == body["size"]


def test_change_verdicts_for_one_transaction(client: TestClient, analyst: dict[str, str], tiny_world: Path) -> None:
    tx_hash = _incident(tiny_world, "phone_theft")["tx_hashes"]["bitcoin"][0]
    body = client.get(f"/api/chain/bitcoin/transactions/{tx_hash}/change", headers=analyst).json()
    assert {v["heuristic"] for v in body["verdicts"]} == set(HEURISTICS)
    assert all("reason" in v for v in body["verdicts"])
    assert "coinjoin" in body["coinjoin"]


def test_tags_add_and_show_with_conflicts(client: TestClient, analyst: dict[str, str], tiny_world: Path) -> None:
    address = _incident(tiny_world, "phone_theft")["details"]["thief_deposit_address"]
    new = {"label": "Phone thief", "source": "case 17", "confidence": "forensic", "abuse": "scam"}
    added = client.post(f"/api/chain/bitcoin/addresses/{address}/tags", json=new, headers=analyst)
    assert added.status_code == 201, added.text
    assert added.json()["creator"] == "analyst"
    other = {**new, "label": "Someone else", "abuse": "ransomware"}
    assert client.post(f"/api/chain/bitcoin/addresses/{address}/tags", json=other, headers=analyst).status_code == 201
    shown = client.get(f"/api/chain/bitcoin/addresses/{address}/tags", headers=analyst).json()
    assert {t["label"] for t in shown["tags"]} >= {"Phone thief", "Someone else"}
    assert shown["attribution"]["conflict"]
    assert shown["attribution"]["conflicts"]


def test_roles_are_refused(client: TestClient, tiny_world: Path) -> None:
    officer = _login(client, "officer")  # a law-enforcement officer
    address = _incident(tiny_world, "phone_theft")["details"]["victim_address"]
    for url in (f"/api/chain/bitcoin/trace?target={address}", f"/api/chain/bitcoin/addresses/{address}/exposure",
                "/api/chain/tags"):  # fmt: skip
        assert client.get(url, headers=officer).status_code == 403
    assert client.get(f"/api/chain/bitcoin/addresses/{address}/cluster").status_code == 401
    auditor = _login(client, "auditor")
    tag = {"label": "x", "source": "y", "confidence": "forensic"}
    assert client.post(f"/api/chain/bitcoin/addresses/{address}/tags", json=tag, headers=auditor).status_code == 403


def test_bad_input_answers_422_with_a_message(client: TestClient, analyst: dict[str, str], tiny_world: Path) -> None:
    address = _incident(tiny_world, "phone_theft")["details"]["victim_address"]
    cases = [
        ("/api/chain/bitcoin/trace", {"target": address, "policy": "taint-all"}, "policy"),
        ("/api/chain/bitcoin/trace", {"target": address, "hops": 0}, "hops"),
        ("/api/chain/bitcoin/trace", {"target": address, "since": "yesterday"}, "since"),
        ("/api/chain/bitcoin/trace", {"target": "ab" * 32 + ":x"}, "output"),
        ("/api/chain/paths", {"source": address, "target": address, "max_depth": 99}, "max_depth"),
        ("/api/chain/paths", {"source": "cluster:abc", "target": address}, "cluster"),
    ]
    for url, params, word in cases:
        response = client.get(url, params=params, headers=analyst)
        assert response.status_code == 422, (url, params, response.text)
        assert word in response.text, response.text
    bad_tag = client.post(
        f"/api/chain/bitcoin/addresses/{address}/tags",
        json={"label": "x", "source": "y", "confidence": "very-sure"},
        headers=analyst,
    )
    assert bad_tag.status_code == 422
    assert "confidence" in bad_tag.text
    assert client.get("/api/chain/bitcoin/addresses/1NotAnAddress/exposure", headers=analyst).status_code == 404
    assert client.get("/api/chain/dogecoin/trace", params={"target": address}, headers=analyst).status_code == 404


def test_graph_cache_is_reused_and_rebuilt_after_an_ingest(
    client: TestClient, analyst: dict[str, str], loaded: tuple[Settings, Engine], tiny_world: Path
) -> None:
    address = _incident(tiny_world, "phone_theft")["details"]["victim_address"]
    first = client.get("/api/chain/graph-cache", headers=analyst).json()
    builds = GRAPHS.builds
    for _ in range(3):
        response = client.get("/api/chain/bitcoin/trace", params={"target": address}, headers=analyst)
        assert response.json()["graph_build"] == first["build"]
    assert GRAPHS.builds == builds, "a request rebuilt an unchanged graph"
    settings, _ = loaded
    store = ChainStore(settings.chain_dir)
    height = store.height("bitcoin")
    store.truncate_above("bitcoin", height - 1)  # a reorg rollback...
    rolled_back = client.get("/api/chain/bitcoin/trace", params={"target": address}, headers=analyst).json()
    assert rolled_back["graph_build"] > first["build"]
    ingest_world_chains(tiny_world, store)  # ...then the ingest that brings the block back
    assert store.height("bitcoin") == height
    rebuilt = client.get("/api/chain/bitcoin/trace", params={"target": address}, headers=analyst).json()
    assert rebuilt["graph_build"] > rolled_back["graph_build"]
    assert client.get("/api/chain/graph-cache", headers=analyst).json()["build"] == rebuilt["graph_build"]
    again = client.get("/api/chain/bitcoin/trace", params={"target": address}, headers=analyst).json()
    assert again["graph_build"] == rebuilt["graph_build"]


def test_trace_from_a_transaction_and_an_output_backward(
    client: TestClient, analyst: dict[str, str], tiny_world: Path
) -> None:
    incident = _incident(tiny_world, "phone_theft")
    last = incident["tx_hashes"]["bitcoin"][-1]
    for target in (last, f"{last}:0"):
        response = client.get(
            "/api/chain/bitcoin/trace",
            params={"target": target, "direction": "backward", "policy": "fifo", "hops": 8},
            headers=analyst,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["direction"] == "backward"
        assert body["terminals"]
