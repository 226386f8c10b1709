"""Every page over a loaded tiny world, on SQLite and PostgreSQL: data shown, roles refused, personal data hidden
until a purpose-logged reveal."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from chainsleuth.config import Settings
from chainsleuth.store.db import session_scope
from chainsleuth.store.models import Customer, DepositAddress, LedgerEvent
from chainsleuth.store.models.audit import AuditEntry
from chainsleuth.store.models.tags import Tag
from tests.web.helpers import csrf_from, loaded_world, login, web_client


@pytest.fixture(scope="module")
def world(
    module_database_url: str, tiny_world: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, Engine]]:
    with loaded_world(tiny_world, module_database_url, tmp_path_factory.mktemp("web-pages")) as loaded:
        yield loaded


@pytest.fixture(scope="module")
def client(world: tuple[Settings, Engine], tiny_world: Path) -> Iterator[TestClient]:
    with web_client(*world, tiny_world) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def facts(world: tuple[Settings, Engine]) -> dict[str, Any]:
    """A customer with an on-chain deposit (and its personal data, to check it never leaks), a tagged address."""
    _, engine = world
    with session_scope(engine) as session:
        deposit = session.scalars(
            select(LedgerEvent)
            .where(LedgerEvent.event_type == "deposit", LedgerEvent.chain == "bitcoin")
            .order_by(LedgerEvent.event_id)
            .limit(1)
        ).one()
        customer = session.get(Customer, deposit.customer_id)
        assert customer is not None
        tagged = session.scalars(select(Tag).where(Tag.abuse.is_not(None), Tag.network == "bitcoin").limit(1)).one()
        return {
            "customer_id": customer.customer_id,
            "email": customer.email,
            "name": customer.full_name,
            "phone": customer.phone,
            "address": deposit.address,
            "tx_hash": deposit.tx_hash,
            "tagged": tagged.address,
            "tag_label": tagged.label,
            "any_customer_ids": [c.customer_id for c in session.scalars(select(Customer).limit(30))],
            "deposit_addresses": session.scalars(select(DepositAddress.address).limit(5)).all(),
        }


def test_dashboard_shows_every_section_with_data(client: TestClient) -> None:
    login(client, "senior")
    html = client.get("/dashboard").text
    for section in ("section-customers", "section-ledger", "section-chain", "section-tags"):
        assert section in html
    assert "<svg" in html
    assert "Deposits and withdrawals per week" in html
    assert "bitcoin" in html
    assert "ethereum" in html


def test_customers_list_filters_and_pages_without_personal_data(client: TestClient, facts: dict[str, Any]) -> None:
    login(client, "analyst")
    html = client.get("/customers").text
    assert "CUST-" in html
    assert "Next →" in html
    high = client.get("/customers?risk=high").text
    assert "badge-danger" in high
    assert 'badge-ok">low' not in high
    assert client.get("/customers?offset=25").status_code == 200
    for offset in (0, 25, 50):
        page = client.get(f"/customers?offset={offset}").text
        assert facts["email"] not in page
        assert facts["name"] not in page


def test_customer_page_is_pseudonymised(client: TestClient, facts: dict[str, Any]) -> None:
    login(client, "analyst")
    page = client.get(f"/customers/{facts['customer_id']}")
    assert page.status_code == 200
    html = page.text
    for personal in (facts["email"], facts["name"], facts["phone"]):
        assert personal not in html
    assert "***" in html
    assert "CUST-" in html
    assert "may not reveal personal data" in html  # analysts see no reveal form
    assert facts["address"][:10] in html  # deposit address linked
    assert "Ledger of" in html
    assert "deposit" in html


def test_ledger_fragment_pages_and_filters(client: TestClient, facts: dict[str, Any]) -> None:
    login(client, "analyst")
    html = client.get(f"/customers/{facts['customer_id']}").text
    account = html.split("?account=")[1].split("#")[0].split('"')[0]
    fragment = client.get(f"/customers/{facts['customer_id']}/events?account={account}&event_type=deposit")
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert "deposit" in fragment.text
    wrong = client.get(f"/customers/{facts['customer_id']}/events?account=NOT-HIS")
    assert wrong.status_code == 422


def test_reveal_needs_a_purpose_and_is_audited(
    client: TestClient, facts: dict[str, Any], world: tuple[Settings, Engine]
) -> None:
    login(client, "senior")
    url = f"/customers/{facts['customer_id']}"
    token = csrf_from(client.get(url).text)
    headers = {"X-CSRF-Token": token, "HX-Request": "true"}
    missing = client.post(url + "/reveal", data={"fields": ["email"], "purpose": ""}, headers=headers)
    assert missing.status_code == 422
    assert "stated purpose" in missing.text
    assert facts["email"] not in missing.text
    short = client.post(
        url + "/reveal", data={"fields": ["email"], "purpose": "other", "purpose_text": "curious"}, headers=headers
    )
    assert short.status_code == 422
    done = client.post(
        url + "/reveal",
        data={"fields": ["email", "full_name"], "purpose": "case_investigation", "case_ref": "CASE-7"},
        headers=headers,
    )
    assert done.status_code == 200
    assert facts["email"] in done.text
    assert facts["name"] in done.text
    assert "audit entry #" in done.text
    _, engine = world
    with session_scope(engine) as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.object_id == facts["customer_id"]).order_by(AuditEntry.seq)
        ).all()
        actions = [(row.actor, row.action, row.purpose) for row in rows]
        details = " ".join(row.details for row in rows)
    assert ("senior", "customer.reveal", "case_investigation") in actions
    assert sum(1 for a in actions if a[1] == "customer.reveal_refused") >= 2
    assert facts["email"] not in details  # the log names fields, never values


def test_analyst_reveal_is_refused_and_audited(
    client: TestClient, facts: dict[str, Any], world: tuple[Settings, Engine]
) -> None:
    login(client, "analyst")
    url = f"/customers/{facts['customer_id']}"
    token = csrf_from(client.get(url).text)
    refused = client.post(url + "/reveal", data={"fields": ["email"], "purpose": "kyc_review", "csrf_token": token})
    assert refused.status_code == 403
    assert facts["email"] not in refused.text
    _, engine = world
    with session_scope(engine) as session:
        refusals = session.scalars(
            select(AuditEntry).where(AuditEntry.actor == "analyst", AuditEntry.action == "customer.reveal_refused")
        ).all()
    assert refusals


def test_address_page_shows_owner_tags_and_graph(client: TestClient, facts: dict[str, Any]) -> None:
    login(client, "analyst")
    html = client.get(f"/chain/bitcoin/address/{facts['address']}").text
    assert f"/customers/{facts['customer_id']}" in html
    assert 'id="graph"' in html
    assert "/static/vendor/cytoscape.min.js" in html
    tagged = client.get(f"/chain/bitcoin/address/{facts['tagged']}").text
    assert facts["tag_label"] in tagged
    assert "Confidence" in tagged
    graph = client.get(f"/chain/bitcoin/address/{facts['address']}/neighbours.json").json()
    assert graph["center"] == facts["address"]
    assert any(node["data"]["customer"] == facts["customer_id"] for node in graph["nodes"])
    assert graph["edges"]
    assert all(edge["data"]["amount"] > 0 for edge in graph["edges"])
    missing = client.get("/chain/bitcoin/address/bc1qnotthere/neighbours.json")
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    assert client.get("/chain/bitcoin/address/bc1qnotthere").status_code == 404


def test_transaction_page_and_search(client: TestClient, facts: dict[str, Any]) -> None:
    login(client, "analyst")
    tx = client.get(f"/chain/bitcoin/tx/{facts['tx_hash']}")
    assert tx.status_code == 200
    assert "Outputs" in tx.text
    assert facts["address"][:10] in tx.text
    for query, target in (
        (facts["tx_hash"], f"/chain/bitcoin/tx/{facts['tx_hash']}"),
        (facts["address"], f"/chain/bitcoin/address/{facts['address']}"),
        (facts["customer_id"], f"/customers/{facts['customer_id']}"),
    ):
        response = client.get("/search", params={"q": query}, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == target
    nothing = client.get("/search", params={"q": "nothing-like-this"})
    assert nothing.status_code == 404
    assert "Nothing matches" in nothing.text


def test_tags_page_filters_and_adds_a_validated_tag(client: TestClient, facts: dict[str, Any]) -> None:
    login(client, "analyst")
    html = client.get("/tags?network=bitcoin&origin=tagpack").text
    assert facts["tag_label"] in html or "tags" in html
    token = csrf_from(html)
    bad = client.post(
        "/tags",
        data={
            "csrf_token": token,
            "network": "bitcoin",
            "address": facts["address"],
            "label": "Test",
            "source": "unit test",
            "confidence": "gut_feeling",
        },
    )
    assert bad.status_code == 422
    assert "unknown confidence" in bad.text
    good = client.post(
        "/tags",
        data={
            "csrf_token": token,
            "network": "bitcoin",
            "address": facts["address"],
            "label": "Mule wallet",
            "source": "web test",
            "confidence": "forensic",
            "abuse": "scam",
        },
    )
    assert good.status_code == 200, good.text[-500:]
    assert "Mule wallet" in good.text
    page = client.get(f"/chain/bitcoin/address/{facts['address']}").text
    assert "Mule wallet" in page


def test_roles_are_refused_with_a_page(
    client: TestClient, facts: dict[str, Any], world: tuple[Settings, Engine]
) -> None:
    login(client, "officer")
    for url in (
        "/customers",
        f"/customers/{facts['customer_id']}",
        f"/chain/bitcoin/address/{facts['address']}",
        "/tags",
        "/audit",
    ):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "Your role may not open this page" in response.text
        assert "<nav" in response.text
    token = csrf_from(client.get("/dashboard").text)
    reveal = client.post(
        f"/customers/{facts['customer_id']}/reveal",
        data={"csrf_token": token, "fields": ["email"], "purpose": "le_request", "case_ref": "REQ-1"},
    )
    assert reveal.status_code == 403
    assert facts["email"] not in reveal.text
    _, engine = world
    with session_scope(engine) as session:
        refused = session.scalars(
            select(AuditEntry).where(AuditEntry.actor == "officer", AuditEntry.action == "customer.reveal_refused")
        ).all()
    assert refused  # even a role that may not see customers leaves a trace when it tries
    dashboard = client.get("/dashboard").text
    assert "section-customers" not in dashboard
    assert "nothing on the analyst console" in dashboard
    assert "/customers" not in dashboard.split('class="sidenav"')[1].split("</nav>")[0]
    login(client, "analyst")
    assert client.get("/audit").status_code == 403
    login(client, "auditor")
    token = csrf_from(client.get("/tags").text)
    assert client.post("/tags", data={"csrf_token": token, "network": "bitcoin"}).status_code == 403


def test_audit_page_and_chain_verification(client: TestClient) -> None:
    login(client, "auditor")
    html = client.get("/audit").text
    assert "auth.login" in html
    assert "customer.reveal" in html
    filtered = client.get("/audit?action=customer.reveal").text
    assert "auth.login</code>" not in filtered
    token = csrf_from(html)
    verdict = client.post("/audit/verify", headers={"X-CSRF-Token": token, "HX-Request": "true"})
    assert verdict.status_code == 200
    assert "The audit chain is intact" in verdict.text


def test_dashboard_renders_only_sections_whose_capability_exists(client: TestClient) -> None:
    from chainsleuth.web.dashboard import SECTIONS, DashboardSection, register_section

    def provider(*_: object) -> dict[str, Any]:
        return {"total": 1}

    register_section(
        DashboardSection(
            "future",
            "Future capability",
            "chain.read",
            "dashboard/alerts.html",
            provider,
            requires_module="chainsleuth.not_written_yet",
        )
    )
    register_section(DashboardSection("empty", "Nothing yet", "chain.read", "dashboard/alerts.html", lambda *_: None))
    try:
        login(client, "analyst")
        html = client.get("/dashboard").text
        assert "section-future" not in html
        assert "section-empty" not in html
        assert "section-chain" in html
    finally:
        SECTIONS.pop("future", None)
        SECTIONS.pop("empty", None)


_POST_FORM = re.compile(r"<form\b[^>]*method=\"post\"[^>]*>(.*?)</form>", re.IGNORECASE | re.DOTALL)
_HIDDEN_TOKEN = re.compile(r'name="csrf_token" value="([^"]*)"')


@pytest.mark.parametrize(
    ("username", "path"),
    [("admin", "/tags"), ("auditor", "/audit"), ("senior", "/account"), ("senior", "/customers/{customer_id}")],
)
def test_every_post_form_carries_its_own_csrf_token(
    client: TestClient, facts: dict[str, Any], username: str, path: str
) -> None:
    # Forms must work without JavaScript: the token has to be in the form itself, not only in the meta tag that
    # htmx requests read. (A Jinja macro imported without context once rendered an empty field here.)
    login(client, username)
    html = client.get(path.format(**facts)).text
    forms = _POST_FORM.findall(html)
    assert forms, f"no POST form on {path}"
    for form in forms:
        found = _HIDDEN_TOKEN.search(form)
        assert found is not None, f"a form on {path} has no CSRF field"
        assert found.group(1), f"a form on {path} has an empty CSRF token"
