"""Disclosure packages in the approval inbox over a loaded tiny world, on SQLite and PostgreSQL: a drafted package
is listed for the LE-response team with its request, agency, categories and drafter, linked to its package page;
the drafter's own draft is marked as not approvable by them; roles without ``le_request.respond`` do not see it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update

from chainsleuth.lawenforcement.demo_seed import seed_demo_officer
from chainsleuth.store.db import session_scope
from chainsleuth.store.models import LedgerEvent
from chainsleuth.store.models.lawenforcement import LeOfficer
from chainsleuth.store.models.users import User
from chainsleuth.web.sessions import COOKIE_NAME, credential_fingerprint
from tests.lawenforcement.conftest import ADMIN, make_pdf
from tests.web.helpers import csrf_from, loaded_world, web_client

#: The second LE-response officer of the demo users (the four-eyes colleague).
LRO2 = "leresponse2"


def enter(client: TestClient, engine: Engine, username: str) -> str:
    """A fully logged-in session (both factors proved, as in test_portal) and its CSRF token."""
    client.cookies.clear()
    with session_scope(engine) as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        fingerprint = credential_fingerprint(user.password_hash, user.totp_secret)
    manager = client.app.state.web_sessions  # type: ignore[attr-defined]
    client.cookies.set(COOKIE_NAME, manager.encode(manager.start(username, fingerprint, stage="full")))
    return csrf_from(client.get("/account").text)


def submit_request(client: TestClient, world: dict[str, Any], token: str) -> str:
    """The demo officer submits a production order for one customer; returns the request's reference."""
    with session_scope(world["engine"]) as session:
        session.execute(update(LeOfficer).where(LeOfficer.username == "officer").values(totp_last_step=None))
        secret = session.scalars(select(User.totp_secret).where(User.username == "officer")).one()
    assert secret is not None
    data = {"csrf_token": token, "request_type": "production", "legal_basis": "court_order", "jurisdiction": "DE",
            "case_number": "K-81/26", "offence": "account takeover", "data_categories": ["subscriber", "transactions"],
            "date_from": world["from"], "date_to": world["to"], "totp_code": pyotp.TOTP(secret).now()}  # fmt: skip
    files = {"instrument": ("order.pdf", make_pdf(), "application/pdf"),
             "targets": ("targets.csv", f"customer_id\n{world['customer']}\n", "text/csv")}  # fmt: skip
    answer = client.post("/portal/new", data=data, files=files, follow_redirects=False)
    assert answer.status_code == 303, answer.text[:2000]
    found = re.search(r"(LER-\d{4}-\d{6})", answer.headers["location"])
    assert found is not None
    return found.group(1)


@pytest.fixture(scope="module")
def world(
    module_database_url: str, tiny_world: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    data_dir = tmp_path_factory.mktemp("web-inbox-packages")
    with loaded_world(tiny_world, module_database_url, data_dir) as (settings, engine):
        with session_scope(engine) as session:
            seed_demo_officer(session, ADMIN)
            event = session.scalars(select(LedgerEvent).where(LedgerEvent.event_type == "deposit")
                                    .order_by(LedgerEvent.event_id).limit(1)).one()  # fmt: skip
            span = session.execute(select(func.min(LedgerEvent.timestamp), func.max(LedgerEvent.timestamp))).one()
        yield {"settings": settings, "engine": engine, "customer": event.customer_id,
               "from": span[0].date().isoformat(), "to": span[1].date().isoformat()}  # fmt: skip


@pytest.fixture(scope="module")
def client(world: dict[str, Any], tiny_world: Path) -> Iterator[TestClient]:
    with web_client(world["settings"], world["engine"], tiny_world) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def drafted(client: TestClient, world: dict[str, Any]) -> dict[str, Any]:
    """A request submitted by the demo officer, triaged and drafted into a package by ``leresponse``."""
    engine = world["engine"]
    token = enter(client, engine, "officer")
    reference = submit_request(client, world, token)
    token = enter(client, engine, "leresponse")
    client.post(f"/le/requests/{reference}/claim", data={"csrf_token": token})
    client.post(f"/le/requests/{reference}/triage", data={"csrf_token": token})
    answer = client.post(f"/le/requests/{reference}/package", data={"csrf_token": token}, follow_redirects=False)
    assert answer.status_code == 303, answer.text[:2000]
    found = re.search(r"/le/packages/(\d+)", answer.headers["location"])
    assert found is not None
    return {"reference": reference, "id": int(found.group(1))}


def _row(html: str, package_id: int) -> str:
    start = html.index(f'id="package-{package_id}"')
    return html[start : html.index("</tr>", start)]


def test_inbox_lists_the_drafters_own_package_as_not_approvable(
    client: TestClient, world: dict[str, Any], drafted: dict[str, Any]
) -> None:
    enter(client, world["engine"], "leresponse")
    page = client.get("/approvals")
    assert page.status_code == 200
    assert "Disclosure packages awaiting approval" in page.text
    row = _row(page.text, drafted["id"])
    assert drafted["reference"] in row
    assert f'href="/le/packages/{drafted["id"]}"' in row
    assert "leresponse" in row
    assert "subscriber" in row
    assert "your own draft" in row
    assert "Review and approve" not in row


def test_inbox_offers_a_colleagues_package_for_approval(
    client: TestClient, world: dict[str, Any], drafted: dict[str, Any]
) -> None:
    enter(client, world["engine"], LRO2)
    row = _row(client.get("/approvals").text, drafted["id"])
    assert "Review and approve" in row
    assert "your own draft" not in row
    assert client.get(f"/le/packages/{drafted['id']}").status_code == 200


def test_roles_without_le_request_respond_do_not_see_packages(
    client: TestClient, world: dict[str, Any], drafted: dict[str, Any]
) -> None:
    for username in ("analyst", "compliance"):
        enter(client, world["engine"], username)
        page = client.get("/approvals")
        assert page.status_code == 200, username
        assert "Disclosure packages awaiting approval" not in page.text, username
        assert drafted["reference"] not in page.text, username
