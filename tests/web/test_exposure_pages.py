"""The exposure panel of the address page and the cluster page, over a loaded and clustered tiny world (SQLite and
PostgreSQL): categories with their evidence, members, conflicting attribution, role refusals."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from chainsleuth.chain.attribution.store import add_tag
from chainsleuth.chain.clustering import ClusterStore, cluster_chain
from chainsleuth.config import Settings
from chainsleuth.store.chainstore import ChainStore
from chainsleuth.store.db import session_scope
from chainsleuth.store.models.exchange import DepositAddress
from chainsleuth.store.models.tags import Tag
from tests.web.helpers import loaded_world, login, web_client


@pytest.fixture(scope="module")
def world(
    module_database_url: str, tiny_world: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, Engine]]:
    with loaded_world(tiny_world, module_database_url, tmp_path_factory.mktemp("exposure-pages")) as loaded:
        cluster_chain(ChainStore(loaded[0].chain_dir), "bitcoin")
        yield loaded


@pytest.fixture(scope="module")
def client(world: tuple[Settings, Engine], tiny_world: Path) -> Iterator[TestClient]:
    with web_client(*world, tiny_world) as test_client:
        yield test_client


def _sanctioned_deposits(world: Path) -> list[str]:
    lines = (world / "ground_truth" / "incidents.jsonl").read_text().splitlines()
    incident = next(i for i in map(json.loads, lines) if i["typology"] == "sanctions")
    accounts = {a["account_id"] for a in incident["terminal_accounts"]}
    rows = pq.read_table(world / "exchange" / "deposit_addresses.parquet").to_pylist()
    return [r["address"] for r in rows if r["account_id"] in accounts and r["chain"] == "bitcoin"]


def test_address_page_shows_exposure_with_evidence(client: TestClient, tiny_world: Path) -> None:
    login(client, "analyst")
    pages = [client.get(f"/chain/bitcoin/address/{a}") for a in _sanctioned_deposits(tiny_world)]
    pages = [p for p in pages if p.status_code == 200]  # some deposit addresses never received anything
    exposed = [p.text for p in pages if 'data-category="sanction"' in p.text]
    assert exposed, "no sanctioned-entity deposit page shows sanction exposure"
    html = exposed[0]
    assert 'id="exposure-tier"' in html
    assert re.search(r"risk tier: (severe|high)", html)
    row = html[html.index('data-category="sanction"') :]
    row = row[: row.index("</tr>")]
    assert "<details" in row
    assert "<meter" in row
    assert "sim.chainsleuth.invalid/sanctions" in row, "the evidence names the tag's source"
    assert "authority data" in row, "the evidence names the tag's confidence"
    assert 'href="/chain/bitcoin/tx/' in row, "the evidence path links its transactions"
    assert 'id="cluster-link"' in html
    assert "/chain/bitcoin/clusters/" in html


def test_cluster_page_renders_members_and_conflicts(
    client: TestClient, world: tuple[Settings, Engine], tiny_world: Path
) -> None:
    settings, engine = world
    clusters = ClusterStore(ChainStore(settings.chain_dir).root, "bitcoin")
    cluster_of = clusters.cluster_of()
    ids, sizes = np.unique(cluster_of, return_counts=True)
    cluster_id = int(ids[np.flatnonzero(sizes >= 3)[0]])
    store = ChainStore(settings.chain_dir)
    first, second = (a for a in store.addresses("bitcoin", clusters.members(cluster_id)[:2]) if a)
    with session_scope(engine) as session:
        add_tag(session, creator="analyst", network="bitcoin", address=first, label="Alpha Exchange",
                source="case 1", confidence="forensic", category="exchange")  # fmt: skip
        add_tag(session, creator="analyst", network="bitcoin", address=second, label="Beta Ransom Crew",
                source="case 2", confidence="forensic", abuse="ransomware")  # fmt: skip
    login(client, "analyst")
    page = client.get(f"/chain/bitcoin/clusters/{cluster_id}")
    assert page.status_code == 200, page.text
    html = page.text
    assert f"Cluster {cluster_id}" in html
    members = html[html.index('id="cluster-members"') :]
    assert first in members
    assert second in members
    conflicts = html[html.index('id="cluster-conflicts"') :]
    assert "Alpha Exchange" in conflicts
    assert "Beta Ransom Crew" in conflicts
    assert 'id="exposure"' in html
    assert 'id="cluster-evidence"' in html
    assert "Multi-input" in html
    # the address page links to this cluster
    address_page = client.get(f"/chain/bitcoin/address/{first}").text
    assert f'href="/chain/bitcoin/clusters/{cluster_id}"' in address_page


def test_cluster_page_refuses_and_reports(client: TestClient) -> None:
    login(client, "officer")
    assert client.get("/chain/bitcoin/clusters/0").status_code == 403
    login(client, "analyst")
    missing = client.get("/chain/bitcoin/clusters/999999999")
    assert missing.status_code == 404
    assert "no such cluster" in missing.text.lower()
    assert client.get("/chain/bitcoin/clusters/abc").status_code == 422


def test_a_tagged_or_deposit_address_never_seen_on_chain_has_a_page(
    client: TestClient, world: tuple[Settings, Engine]
) -> None:
    """Links the console shows (a pack's miner, a deposit address that never received anything) open a page
    saying "not seen on chain" with what is known; an address nobody knows is still a 404."""
    settings, engine = world
    store = ChainStore(settings.chain_dir)
    miner = "0x" + "ab" * 20
    assert store.address_id("ethereum", miner) is None
    with session_scope(engine) as session:
        add_tag(session, creator="analyst", network="ethereum", address=miner, label="Some Mining Pool",
                source="https://pool.example", confidence="web_crawl", category="miner")  # fmt: skip
        deposits = session.execute(select(DepositAddress.chain, DepositAddress.address, DepositAddress.customer_id))
        unseen = next((row for row in deposits if store.address_id(row[0], row[1]) is None), None)
    login(client, "analyst")
    page = client.get(f"/chain/ethereum/address/{miner.upper().replace('0X', '0x')}")
    assert page.status_code == 200, page.text
    assert 'id="not-on-chain"' in page.text
    assert "Some Mining Pool" in page.text
    assert 'id="graph"' not in page.text  # no counterparties to draw
    if unseen is not None:  # the tiny world has deposit addresses that never received anything
        chain, address, customer = unseen
        html = client.get(f"/chain/{chain}/address/{address}").text
        assert 'id="not-on-chain"' in html
        assert f"customer {customer}" in html
    assert client.get("/chain/ethereum/address/0x" + "cd" * 20).status_code == 404


def test_a_tagged_address_counts_its_own_tag_and_names_the_pack_file(
    client: TestClient, world: tuple[Settings, Engine]
) -> None:
    """A sanctioned address is severe by its own attribution, whatever its counterparties; the tag's origin
    shows the pack's file name, not the server path it was imported from."""
    settings, engine = world
    store = ChainStore(settings.chain_dir)
    with session_scope(engine) as session:
        tagged = [
            t.address for t in session.scalars(select(Tag).where(Tag.abuse == "sanction", Tag.network == "bitcoin"))
        ]
    address = next(a for a in tagged if a and store.address_id("bitcoin", a) is not None)
    login(client, "analyst")
    html = client.get(f"/chain/bitcoin/address/{address}").text
    assert "risk tier: severe" in html
    assert "own attribution" in html
    assert "sanctions.yaml" in html
    assert str(settings.data_dir) not in html
    assert "/world/tagpacks/" not in html
