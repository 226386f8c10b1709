"""Reports from a trace-based case (the seed story) validate; ledger events as evidence; redrafting a report."""

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
from chainsleuth.store.models.cases import CaseEvidence, StrReport
from chainsleuth.store.models.ledger import LedgerEvent
from tests.web.helpers import csrf_from, loaded_world, login, web_client
from tests.web.test_alerts_cases import phone_theft


@pytest.fixture(scope="module")
def world(
    module_database_url: str, tiny_world: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, Engine]]:
    with loaded_world(tiny_world, module_database_url, tmp_path_factory.mktemp("web-case-ledger")) as loaded:
        yield loaded


@pytest.fixture(scope="module")
def client(world: tuple[Settings, Engine], tiny_world: Path) -> Iterator[TestClient]:
    with web_client(*world, tiny_world) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def story(tiny_world: Path) -> dict[str, Any]:
    return phone_theft(tiny_world)


def _version(client: TestClient, case_id: int) -> int:
    found = re.search(r'name="version" value="(\d+)"', client.get(f"/cases/{case_id}").text)
    assert found is not None
    return int(found.group(1))


def _case(client: TestClient, title: str, address: str) -> tuple[int, str]:
    token = csrf_from(client.get("/cases").text)
    answer = client.post("/cases", data={"title": title, "address": address, "chain": "bitcoin", "priority": "high",
                                         "csrf_token": token}, follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303, answer.text
    return int(answer.headers["location"].rsplit("/", 1)[1]), token


def _link_account(client: TestClient, case_id: int, token: str, account: str) -> None:
    form = {"link_type": "account", "target": account, "version": _version(client, case_id), "csrf_token": token}
    assert client.post(f"/cases/{case_id}/links", data=form, follow_redirects=False).status_code == 303


def _reports(engine: Engine, case_id: int) -> list[StrReport]:
    with session_scope(engine) as session:
        return list(session.scalars(select(StrReport).where(StrReport.case_id == case_id).order_by(StrReport.id)))


def test_a_report_from_the_traced_phone_theft_case_validates(
    client: TestClient, story: dict[str, Any], world: tuple[Settings, Engine]
) -> None:
    """Victim address → haircut trace saved as evidence → thief's account linked → draft: the thief's deposit of
    the stolen coins is the report's transaction, and the XML is valid against the goAML schema."""
    login(client, "compliance")
    case_id, token = _case(client, "Stolen phone, drained wallet", story["victim"])
    params = {"chain": "bitcoin", "target": story["victim"], "direction": "forward", "policy": "haircut", "hops": 6}
    saved = client.post(f"/cases/{case_id}/trace-evidence.json", json={**params, "version": _version(client, case_id)},
                        headers={"X-CSRF-Token": token})  # fmt: skip
    assert saved.status_code == 200, saved.text
    _link_account(client, case_id, token, story["account"])
    drafted = client.post(f"/cases/{case_id}/reports", data={
        "reason": "proceeds of a stolen phone traced to this account", "action": "account frozen",
        "csrf_token": token}, follow_redirects=False)  # fmt: skip
    assert drafted.status_code == 303
    (report,) = _reports(world[1], case_id)
    assert report.valid, report.validation_errors
    with session_scope(world[1]) as session:
        events = list(session.scalars(select(LedgerEvent).where(LedgerEvent.event_id.in_(report.event_ids))))
    assert events
    assert all(e.account_id == story["account"] for e in events)
    assert story["deposit"] in {e.address for e in events}
    assert "<transaction>" in report.xml
    assert 'id="report-valid"' in client.get(f"/cases/{case_id}").text


def test_ledger_events_as_evidence_then_redraft_makes_the_report_valid(
    client: TestClient, story: dict[str, Any], world: tuple[Settings, Engine]
) -> None:
    """A case with only a customer-less address: the first draft has no transaction (invalid); the analyst adds
    the account's deposits as a ledger extract from the case page, redrafts from the inbox, and it validates."""
    login(client, "compliance")
    case_id, token = _case(client, "Hand-made case", story["victim"])
    client.post(f"/cases/{case_id}/reports", data={"reason": "suspicious inflow", "action": "under review",
                                                   "csrf_token": token})  # fmt: skip
    (first,) = _reports(world[1], case_id)
    assert not first.valid
    page = client.get(f"/cases/{case_id}").text
    assert 'id="ledger-form"' in page
    assert f'id="redraft-{first.id}"' in page
    # an account that is not linked is refused, with the reason on the page
    refused = client.post(f"/cases/{case_id}/ledger-events", data={
        "account_id": story["account"], "version": _version(client, case_id), "csrf_token": token})  # fmt: skip
    assert refused.status_code == 422
    assert "Link the account to the case first" in refused.text
    unknown = client.post(f"/cases/{case_id}/ledger-events", data={
        "event_ids": "E-NOPE", "version": _version(client, case_id), "csrf_token": token})  # fmt: skip
    assert unknown.status_code == 404
    _link_account(client, case_id, token, story["account"])
    added = client.post(f"/cases/{case_id}/ledger-events", data={
        "account_id": story["account"], "version": _version(client, case_id), "csrf_token": token},
        follow_redirects=False)  # fmt: skip
    assert added.status_code == 303
    with session_scope(world[1]) as session:
        extract = session.scalars(
            select(CaseEvidence).where(CaseEvidence.case_id == case_id, CaseEvidence.kind == "ledger_extract")
        ).one()
        assert story["account"] in extract.title
    inbox = client.get("/approvals").text
    assert f'id="inbox-redraft-{first.id}"' in inbox
    redrafted = client.post(f"/reports/{first.id}/redraft", data={"version": first.version, "back": "approvals",
                                                                 "csrf_token": csrf_from(inbox)},
                            follow_redirects=False)  # fmt: skip
    assert redrafted.status_code == 303
    assert redrafted.headers["location"].startswith("/approvals")
    (again,) = _reports(world[1], case_id)
    assert again.revision == 2
    assert again.valid, again.validation_errors
    stale = client.post(f"/reports/{first.id}/redraft", data={"version": first.version, "csrf_token": token})
    assert stale.status_code == 409


def test_ledger_events_need_the_permissions(client: TestClient, story: dict[str, Any]) -> None:
    login(client, "compliance")
    case_id, _ = _case(client, "Permission check", story["victim"])
    login(client, "auditor")
    page = client.get("/dashboard").text
    answer = client.post(f"/cases/{case_id}/ledger-events", data={"event_ids": "E1", "version": 1,
                                                                  "csrf_token": csrf_from(page)})  # fmt: skip
    assert answer.status_code == 403


def test_a_legal_hold_shows_as_preserved_on_the_case_and_the_customer(
    client: TestClient, story: dict[str, Any]
) -> None:
    """An approved preservation puts the thief's records under a legal hold: both pages say "preserved"."""
    login(client, "senior")
    case_id, token = _case(client, "Preserve the thief's records", story["deposit"])
    _link_account(client, case_id, token, story["account"])
    proposed = client.post(f"/cases/{case_id}/actions", data={
        "kind": "preserve", "account_id": story["account"], "reason": "police request: keep the records",
        "expires_at": "2099-01-01T00:00", "csrf_token": token}, follow_redirects=False)  # fmt: skip
    assert proposed.status_code == 303
    linked = client.get(f"/cases/{case_id}").text.split('id="linked"')[1].split("</ul>")[0]
    assert "preserved" not in linked  # proposed is not yet in force
    login(client, "compliance")
    inbox = client.get("/approvals").text
    hold = int(inbox.split("police request: keep the records")[0].rsplit('id="action-', 1)[1].split('"')[0])
    approved = client.post(f"/actions/{hold}/approve", data={"version": 1, "csrf_token": csrf_from(inbox)},
                           follow_redirects=False)  # fmt: skip
    assert approved.status_code == 303
    linked = client.get(f"/cases/{case_id}").text.split('id="linked"')[1].split("</ul>")[0]
    account_item = linked.split(f"Account <strong>{story['account']}</strong>")[1].split("</li>")[0]
    assert 'badge-warn">preserved' in account_item
    assert 'badge-danger">frozen' not in account_item  # preserved, not frozen
    row = client.get(f"/customers/{story['customer']}").text.split(f"?account={story['account']}#ledger")[1]
    assert 'badge-warn">preserved' in row.split("</tr>")[0]
