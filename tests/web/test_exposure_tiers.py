"""The clusters-by-exposure-tier page over a loaded, clustered tiny world (SQLite and PostgreSQL): the world's
sanctioned entities list as severe, filters narrow the list, paging walks it, bad filters and roles are refused."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from chainsleuth.chain.attribution.store import add_tag
from chainsleuth.chain.clustering import cluster_chain
from chainsleuth.chain.exposure.snapshot import ensure_exposure, select_rows
from chainsleuth.config import Settings
from chainsleuth.store.chainstore import ChainStore
from chainsleuth.store.db import session_scope
from chainsleuth.web.exposure_tiers import PAGE_SIZE
from tests.web.helpers import loaded_world, login, web_client

_ROW = re.compile(r'<tr data-tier="([a-z]+)" data-chain="([a-z0-9_]+)" data-cluster="(\d+)">')


@pytest.fixture(scope="module")
def world(
    module_database_url: str, tiny_world: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, Engine]]:
    with loaded_world(tiny_world, module_database_url, tmp_path_factory.mktemp("exposure-tiers")) as loaded:
        cluster_chain(ChainStore(loaded[0].chain_dir), "bitcoin")
        yield loaded


@pytest.fixture(scope="module")
def client(world: tuple[Settings, Engine], tiny_world: Path) -> Iterator[TestClient]:
    with web_client(*world, tiny_world) as test_client:
        login(test_client, "analyst")
        yield test_client


def _rows(html: str) -> list[tuple[str, str, int]]:
    """(tier, chain, cluster id) of each listed row, in page order."""
    return [(tier, chain, int(cluster)) for tier, chain, cluster in _ROW.findall(html)]


def _total(html: str) -> int:
    """The number of matching clusters the pager states ("1–50 of 1,234" or "12 in total")."""
    found = re.search(r"of ([\d,]+)</span>|([\d,]+) in total", html)
    assert found is not None, "the page states no total"
    return int((found.group(1) or found.group(2)).replace(",", ""))


def test_lists_severe_clusters_first_with_links_and_snapshot_note(client: TestClient) -> None:
    page = client.get("/chain/exposure")
    assert page.status_code == 200, page.text
    html = page.text
    rows = _rows(html)
    assert rows, "no cluster listed"
    assert rows[0][0] == "severe", "the world's sanctioned entities should head the list"
    order = ["severe", "high", "medium", "low", "none"]
    ranks = [order.index(tier) for tier, _, _ in rows]
    assert ranks == sorted(ranks), "rows are ordered by tier"
    cluster = next(r[2] for r in rows if r[1] == "bitcoin")
    assert f'href="/chain/bitcoin/clusters/{cluster}"' in html, "a bitcoin row links to its cluster page"
    assert 'id="exposure-snapshot"' in html
    assert "tag-set fingerprint" in html
    assert 'href="/chain/exposure"' in html, "the navigation lists the page"
    assert "Clusters by exposure" in html


def test_a_tier_filter_shows_only_that_tier_and_chain_category_narrow(client: TestClient) -> None:
    everything = client.get("/chain/exposure").text
    total = _total(everything)
    for tier in ("severe", "low"):
        rows = _rows(client.get(f"/chain/exposure?tier={tier}").text)
        assert all(t == tier for t, _, _ in rows), f"tier={tier} lists another tier"
    severe = _rows(client.get("/chain/exposure?tier=severe").text)
    assert severe, "no severe cluster on the tiny world"
    bitcoin = _rows(client.get("/chain/exposure?chain=bitcoin").text)
    assert bitcoin
    assert all(c == "bitcoin" for _, c, _ in bitcoin)
    sanctioned = client.get("/chain/exposure?category=sanction&tier=severe")
    assert sanctioned.status_code == 200
    assert _rows(sanctioned.text), "a severe cluster is exposed to sanctions"
    assert 'data-category="sanction"' in sanctioned.text
    assert _total(client.get("/chain/exposure?category=sanction").text) < total


def test_paging_walks_the_list(client: TestClient) -> None:
    first = client.get("/chain/exposure")
    assert "Next →" in first.text, "the tiny world has more clusters than one page"
    first_rows = _rows(first.text)
    assert len(first_rows) == PAGE_SIZE
    second = client.get(f"/chain/exposure?offset={PAGE_SIZE}")
    second_rows = _rows(second.text)
    assert second_rows
    assert not set(first_rows) & set(second_rows)
    assert "← Previous" in second.text
    assert f"{PAGE_SIZE + 1}–" in second.text
    far = client.get("/chain/exposure?offset=99999999")
    assert far.status_code == 200
    assert "No cluster at this offset" in far.text


def test_empty_state_and_bad_filters(client: TestClient, world: tuple[Settings, Engine], tiny_world: Path) -> None:
    settings, engine = world
    client.get("/chain/exposure")  # the page's snapshot exists (whatever ran before)
    prices = tiny_world / "prices.csv"  # as the page prices it, so this reads the page's snapshot
    with session_scope(engine) as session:
        snapshot = ensure_exposure(session, ChainStore(settings.chain_dir), price_file=prices)
    assert not snapshot.recomputed
    empty = next(
        (chain, tier, category)
        for chain in ("bitcoin", "ethereum")
        for tier in (*snapshot.state.tiers, "none")
        for category in snapshot.state.categories
        if select_rows(snapshot, chain=chain, tier=tier, category=category, limit=0)[0] == 0
    )
    page = client.get("/chain/exposure?chain={}&tier={}&category={}".format(*empty))
    assert page.status_code == 200
    assert not _rows(page.text)
    assert "No cluster matches these filters." in page.text
    for query, words in (("tier=catastrophic", "unknown tier 'catastrophic'"), ("category=nope", "unknown category"),
                         ("chain=dogecoin", "unknown chain"), ("offset=-1", "offset must be")):  # fmt: skip
        page = client.get(f"/chain/exposure?{query}")
        assert page.status_code == 422, query
        assert words in unescape(page.text).lower(), query
        assert 'id="exposure-filter-error"' in page.text
        assert 'id="exposure-filters"' in page.text, "the form stays to correct the filter"
        assert "<nav" in page.text, "shown in the normal layout"
    assert "severe" in client.get("/chain/exposure?tier=catastrophic").text, "the message names the valid tiers"


def test_a_new_tag_recomputes_and_says_so(client: TestClient, world: tuple[Settings, Engine]) -> None:
    client.get("/chain/exposure")
    settled = client.get("/chain/exposure").text
    assert "Read from the stored snapshot" in settled
    settings, engine = world
    address = ChainStore(settings.chain_dir).address("bitcoin", 0)
    with session_scope(engine) as session:
        add_tag(session, creator="analyst", network="bitcoin", address=address, label="Tier Test Crew",
                source="case 9", confidence="forensic", abuse="ransomware")  # fmt: skip
    html = client.get("/chain/exposure").text
    assert "Recomputed for this page because the tag set changed" in html


def test_a_role_without_chain_read_is_refused(client: TestClient) -> None:
    try:
        login(client, "admin")
        refused = client.get("/chain/exposure")
        assert refused.status_code == 403
        assert "chain.read" in refused.text
        assert 'href="/chain/exposure"' not in refused.text, "the navigation hides the page"
    finally:
        login(client, "analyst")
