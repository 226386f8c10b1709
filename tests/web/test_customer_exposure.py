"""The customer page's exposure panel over a loaded tiny world, on SQLite and PostgreSQL: the page loads it with
htmx after rendering, the fragment shows the incoming exposure of the customer's deposit addresses by category with
the evidence behind it (tag source, confidence, path), and roles without the customer permissions get 403."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from chainsleuth.config import Settings
from tests.web.helpers import loaded_world, login, web_client


def sanctioned_depositor(world: Path) -> str:
    """The customer of the world's sanctions incident (deposits from a sanctioned entity's addresses)."""
    for line in (world / "ground_truth" / "incidents.jsonl").read_text().splitlines():
        incident = json.loads(line)
        if incident["typology"] == "sanctions":
            customer: str = incident["customer_ids"][0]["customer_id"]
            return customer
    raise AssertionError("no sanctions incident in the tiny world")


@pytest.fixture(scope="module")
def world(
    module_database_url: str, tiny_world: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, Engine]]:
    with loaded_world(tiny_world, module_database_url, tmp_path_factory.mktemp("web-customer-exposure")) as loaded:
        yield loaded


@pytest.fixture(scope="module")
def client(world: tuple[Settings, Engine], tiny_world: Path) -> Iterator[TestClient]:
    with web_client(*world, tiny_world) as test_client:
        yield test_client


def test_customer_page_loads_the_exposure_with_htmx(client: TestClient, tiny_world: Path) -> None:
    customer = sanctioned_depositor(tiny_world)
    login(client, "analyst")
    page = client.get(f"/customers/{customer}")
    assert page.status_code == 200
    assert f'hx-get="/customers/{customer}/exposure"' in page.text
    assert 'hx-trigger="load"' in page.text
    assert "exposure-table" not in page.text, "the exposure is computed by the fragment, not the page"


def test_fragment_shows_categories_with_evidence(client: TestClient, tiny_world: Path) -> None:
    customer = sanctioned_depositor(tiny_world)
    login(client, "analyst")
    fragment = client.get(f"/customers/{customer}/exposure", headers={"HX-Request": "true"})
    assert fragment.status_code == 200, fragment.text[:2000]
    text = fragment.text
    assert "<html" not in text, "a fragment, not a page"
    assert "Incoming exposure on" in text
    categories = re.findall(r'class="exposure-row" data-category="([^"]+)"', text)
    assert "sanction" in categories, categories
    row = text[text.index('data-category="sanction"') :]
    row = row[: row.index("</tr>")]
    assert '<details class="evidence">' in row
    assert "Tag source" in row
    assert "Confidence" in row
    assert re.search(r"\d+\.\d{2} %", row), "share shown"
    assert "risk tier:" in text
    assert "<td>outgoing</td>" not in text, "only the incoming exposure of the deposits"
    ids = re.findall(r'\bid="([^"]+)"', text)
    assert len(ids) == len(set(ids)), "one panel per chain, ids unique"


def test_fragment_of_an_unknown_customer_is_404(client: TestClient) -> None:
    login(client, "analyst")
    assert client.get("/customers/C9999999/exposure").status_code == 404


def test_officer_gets_403(client: TestClient, tiny_world: Path) -> None:
    customer = sanctioned_depositor(tiny_world)
    login(client, "officer")
    assert client.get(f"/customers/{customer}/exposure").status_code == 403
    client.cookies.clear()
    anonymous = client.get(f"/customers/{customer}/exposure", follow_redirects=False)
    assert anonymous.status_code in (302, 303, 401)
