"""Alert, case and approval pages over a loaded tiny world with its monitoring alerts, on SQLite and PostgreSQL:
real data on every page, the workflow's legal moves only, notes, evidence, tracing, four-eyes, stale edits,
wrong roles and CSRF."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from chainsleuth.cases.service import links as case_links
from chainsleuth.config import Settings
from chainsleuth.errors import PolicyViolationError
from chainsleuth.store.db import session_scope
from chainsleuth.store.models.alerts import MonitorAlert
from chainsleuth.store.models.ledger import LedgerEvent
from tests.web.helpers import csrf_from, loaded_world, login, web_client

UPLOAD_LIMIT = 64 * 1024


def run_monitoring(engine: Engine) -> None:
    """Alerts as ``chainsleuth monitor run`` stores them (the shipped rule library over the ledger)."""
    from chainsleuth.cli.monitor_cmd import _rules, _store_context
    from chainsleuth.monitor.alerts.book import build_alerts
    from chainsleuth.monitor.alerts.store import store_alerts
    from chainsleuth.monitor.engine.batch import run_batch

    rules = _rules(None)
    with session_scope(engine) as session:
        context = _store_context(session)
        hits = run_batch(engine, rules, context).hits  # type: ignore[arg-type]
        store_alerts(session, build_alerts(hits, rules), rules)


def phone_theft(world: Path) -> dict[str, Any]:
    """The seed story's incident: victim address, the thief's deposit address, customer and account."""
    for line in (world / "ground_truth" / "incidents.jsonl").read_text().splitlines():
        incident = json.loads(line)
        if incident["typology"] == "phone_theft":
            terminal = incident["terminal_accounts"][0]
            return {"victim": incident["details"]["victim_address"],
                    "deposit": incident["details"]["thief_deposit_address"],
                    "customer": terminal["customer_id"], "account": terminal["account_id"]}  # fmt: skip
    raise AssertionError("no phone-theft incident in the tiny world")


@pytest.fixture(scope="module")
def world(
    module_database_url: str, tiny_world: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, Engine]]:
    data_dir = tmp_path_factory.mktemp("web-cases")
    with loaded_world(tiny_world, module_database_url, data_dir, max_upload_bytes=UPLOAD_LIMIT) as loaded:
        run_monitoring(loaded[1])
        yield loaded


@pytest.fixture(scope="module")
def client(world: tuple[Settings, Engine], tiny_world: Path) -> Iterator[TestClient]:
    with web_client(*world, tiny_world) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def story(tiny_world: Path) -> dict[str, Any]:
    return phone_theft(tiny_world)


def _version(html: str) -> int:
    found = re.search(r'name="version" value="(\d+)"', html)
    assert found is not None, "no version field on the page"
    return int(found.group(1))


def _new_case(client: TestClient, title: str, address: str = "") -> tuple[int, str]:
    token = csrf_from(client.get("/cases").text)
    answer = client.post("/cases", data={"title": title, "address": address, "chain": "bitcoin", "priority": "high",
                                         "csrf_token": token}, follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    return int(location.rsplit("/", 1)[1]), token


def test_alert_queue_filters_and_alert_page_explains(client: TestClient, world: tuple[Settings, Engine]) -> None:
    login(client, "analyst")
    html = client.get("/alerts").text
    assert "alerts-table" in html
    assert "queue-counts" in html
    with session_scope(world[1]) as session:
        alert = session.scalars(select(MonitorAlert).where(MonitorAlert.queue == "sanctions").limit(1)).one()
        alert_id, rule_id, customer = alert.id, alert.rule_id, alert.customer_id
    filtered = client.get("/alerts", params={"queue": "sanctions", "severity": alert.severity}).text
    assert f'href="/alerts/{alert_id}"' in filtered
    assert "aml-standard</td>" not in filtered
    assert f"/alerts/{alert_id}" in client.get("/alerts", params={"rule": rule_id}).text
    page = client.get(f"/alerts/{alert_id}").text
    assert rule_id in page
    assert 'id="expression"' in page
    assert "exposure(" in page
    assert 'id="values"' in page
    assert "chain-evidence" in page
    assert f"/customers/{customer}" in page
    assert 'id="open-case-form"' in page
    # one click: a case from the alert, the customer linked, the alert shown on the case
    answer = client.post(f"/alerts/{alert_id}/case", data={"csrf_token": csrf_from(page)}, follow_redirects=False)
    assert answer.status_code == 303
    workspace = client.get(answer.headers["location"]).text
    assert f'href="/alerts/{alert_id}"' in workspace
    assert f"/customers/{customer}" in workspace
    assert 'id="alert-case-link"' in client.get(f"/alerts/{alert_id}").text
    # the account and the address the alert's events name are linked too: the graph starts there
    case_id = int(answer.headers["location"].rsplit("/", 1)[1])
    with session_scope(world[1]) as session:
        event = session.get(LedgerEvent, alert.event_ids[0])
        assert event is not None
        assert event.address is not None
        links = {(link.link_type, link.chain, link.target) for link in case_links(session, case_id)}
    assert ("account", "", event.account_id) in links
    assert ("address", event.chain, event.address) in links
    graph = client.get(f"/cases/{case_id}/graph.json").json()
    assert event.address in graph["roots"]
    linked = client.get(f"/cases/{case_id}").text.split('id="linked"')[1].split("</ul>")[0]
    assert f"Account <strong>{event.account_id}</strong>" in linked  # a freeze can be proposed on it


def test_model_alert_page_shows_reason_codes(client: TestClient, world: tuple[Settings, Engine]) -> None:
    """A model alert stores its reason codes as one list value; the page shows them as a table, not raw text."""
    reasons = [
        {"feature": "life_out_std", "description": "spread (std) of the amounts of all outgoing transfers",
         "value": 48.2, "contribution": 1.234, "direction": "raises"},
        {"feature": "in_count_30", "description": "number of incoming transfers in the last 30 days",
         "value": None, "contribution": -0.2, "direction": "lowers"},
    ]  # fmt: skip
    with session_scope(world[1]) as session:
        template = session.scalars(select(MonitorAlert).limit(1)).one()
        alert = MonitorAlert(
            alert_key="model-ledger:customer:test:1", rule_id="model-ledger", rule_version=1,
            rule_revision=template.rule_revision, rule_hash="abc", severity="high", queue="aml-high", status="open",
            subject_type="customer", subject_id=template.customer_id, customer_id=template.customer_id, score=80.0,
            combined_score=80.0, first_event_at=template.first_event_at, last_event_at=template.last_event_at,
            hit_count=1, event_ids=[], explanation="model risk 0.93 >= threshold 0.41",
            details={"expression": "model_risk >= 0.41", "thresholds": {"model_risk": 0.41},
                     "values": {"model_risk": 0.93, "life_out_std": 48.2, "reasons": reasons}},
        )  # fmt: skip
        session.add(alert)
        session.flush()
        alert_id = alert.id
    login(client, "analyst")
    page = client.get(f"/alerts/{alert_id}").text
    assert 'id="reasons"' in page
    assert "spread (std) of the amounts of all outgoing transfers" in page
    assert "1.234" in page
    assert "missing" in page  # a value the model saw as missing
    assert "{&#39;feature&#39;" not in page  # not the raw list


def test_attach_alert_to_existing_case(client: TestClient, world: tuple[Settings, Engine]) -> None:
    login(client, "analyst")
    case_id, _ = _new_case(client, "Collected fraud alerts")
    with session_scope(world[1]) as session:
        alert_id = session.scalars(select(MonitorAlert.id).where(MonitorAlert.status == "open").limit(1)).one()
    page = client.get(f"/alerts/{alert_id}").text
    assert 'id="attach-form"' in page
    answer = client.post(f"/alerts/{alert_id}/attach", data={"case_id": case_id, "csrf_token": csrf_from(page)},
                         follow_redirects=False)  # fmt: skip
    assert answer.headers["location"] == f"/cases/{case_id}"
    assert f'href="/alerts/{alert_id}"' in client.get(f"/cases/{case_id}").text


def test_workflow_legal_moves_and_close_with_decision(client: TestClient) -> None:
    login(client, "analyst")
    case_id, token = _new_case(client, "Workflow")
    page = client.get(f"/cases/{case_id}").text
    assert page.count(f'name="csrf_token" value="{token}"') >= 4  # every form carries the session's token
    assert 'id="to-investigating"' in page
    assert 'id="close-form"' not in page
    moved = client.post(f"/cases/{case_id}/status", data={"status": "investigating", "version": _version(page),
                                                          "csrf_token": token}, follow_redirects=False)  # fmt: skip
    assert moved.status_code == 303
    page = client.get(f"/cases/{case_id}").text
    assert 'id="to-escalated"' in page
    assert 'id="to-investigating"' not in page
    refused = client.post(f"/cases/{case_id}/status", data={"status": "closed", "decision": "no_further_action",
                                                            "reason": "x", "version": _version(page),
                                                            "csrf_token": token})  # fmt: skip
    assert refused.status_code == 403
    assert "case.close" in refused.text
    login(client, "senior")
    page = client.get(f"/cases/{case_id}").text
    token = csrf_from(page)
    assigned = client.post(f"/cases/{case_id}/assign", data={"assignee": "analyst", "due_at": "2024-01-02T09:00",
                                                             "priority": "critical", "version": _version(page),
                                                             "csrf_token": token}, follow_redirects=False)  # fmt: skip
    assert assigned.status_code == 303
    page = client.get(f"/cases/{case_id}").text
    assert '<dd id="assignee">analyst</dd>' in page
    assert 'id="overdue"' in page
    missing = client.post(f"/cases/{case_id}/status", data={"status": "closed", "version": _version(page),
                                                            "csrf_token": token})  # fmt: skip
    assert missing.status_code in (400, 403, 422)
    assert "decision" in missing.text.lower()
    closed = client.post(f"/cases/{case_id}/status", data={"status": "closed", "decision": "no_further_action",
                                                           "reason": "explained by the customer's salary",
                                                           "version": _version(page), "csrf_token": token},
                         follow_redirects=False)  # fmt: skip
    assert closed.status_code == 303
    page = client.get(f"/cases/{case_id}").text
    assert "explained by the customer" in page
    assert 'id="reopen-form"' in page
    assert "closed" in page


def test_notes_with_htmx_and_a_stale_edit_never_overwrites(client: TestClient) -> None:
    login(client, "analyst")
    case_id, token = _new_case(client, "Notes")
    read = _version(client.get(f"/cases/{case_id}").text)
    fragment = client.post(f"/cases/{case_id}/notes", data={"body": "Victim called at 09:10.", "version": read},
                           headers={"HX-Request": "true", "X-CSRF-Token": token})  # fmt: skip
    assert fragment.status_code == 200
    assert "Victim called at 09:10." in fragment.text
    assert "<html" not in fragment.text
    stale = client.post(f"/cases/{case_id}/notes", data={"body": "Written on an old page", "version": read,
                                                         "csrf_token": token})  # fmt: skip
    assert stale.status_code == 409
    assert "someone else changed this case" in stale.text.lower()
    assert "reload" in stale.text
    assert "Written on an old page" not in client.get(f"/cases/{case_id}").text


def test_evidence_upload_verify_and_size_limit(client: TestClient) -> None:
    login(client, "analyst")
    case_id, token = _new_case(client, "Evidence")
    version = _version(client.get(f"/cases/{case_id}").text)
    uploaded = client.post(f"/cases/{case_id}/evidence", data={"version": version, "title": "Police report",
                                                               "csrf_token": token},
                           files={"document": ("report.txt", b"crime reference 4711", "text/plain")},
                           follow_redirects=False)  # fmt: skip
    assert uploaded.status_code == 303, uploaded.text
    page = client.get(f"/cases/{case_id}").text
    assert "Police report" in page
    assert "report.txt" in page
    import hashlib

    assert hashlib.sha256(b"crime reference 4711").hexdigest()[:12] in page
    verified = client.post(f"/cases/{case_id}/evidence/verify", headers={"HX-Request": "true", "X-CSRF-Token": token})
    assert 'id="evidence-ok"' in verified.text
    big = {"document": ("big.bin", b"x" * (UPLOAD_LIMIT + 1), "application/octet-stream")}
    too_big = client.post(f"/cases/{case_id}/evidence", data={"version": _version(page), "csrf_token": token},
                          files=big)  # fmt: skip
    assert too_big.status_code == 413
    assert "upload limit" in too_big.text
    assert "nothing was stored" in too_big.text


def test_trace_from_the_victim_reaches_the_thief_and_is_saved(client: TestClient, story: dict[str, Any]) -> None:
    login(client, "senior")
    case_id, token = _new_case(client, "Stolen phone", story["victim"])
    seed = client.get(f"/cases/{case_id}/graph.json").json()
    assert not seed["saved"]
    assert story["victim"] in seed["roots"]
    assert seed["nodes"]
    params = {"chain": "bitcoin", "target": story["victim"], "direction": "forward", "policy": "haircut", "hops": 6}
    traced = client.post(f"/cases/{case_id}/trace.json", json=params, headers={"X-CSRF-Token": token}).json()
    top = traced["terminals"][0]
    assert top["entity"] == story["account"]
    assert top["address"] == story["deposit"]
    assert top["share"] > 0.99
    assert any(n["data"].get("terminal") for n in traced["nodes"])
    assert traced["edges"]
    exposed = client.get(f"/cases/{case_id}/exposure.json", params={"chain": "bitcoin", "address": story["deposit"]})
    assert exposed.status_code == 200
    assert {"category", "direction", "share", "evidence"} <= set(exposed.json()["categories"][0])
    bad = client.post(
        f"/cases/{case_id}/trace.json", json={**params, "policy": "lifo"}, headers={"X-CSRF-Token": token}
    )
    assert bad.status_code == 422
    assert "policy" in bad.json()["message"]
    version = _version(client.get(f"/cases/{case_id}").text)
    saved = client.post(f"/cases/{case_id}/trace-evidence.json", json={**params, "version": version},
                        headers={"X-CSRF-Token": token}).json()  # fmt: skip
    graph = client.post(f"/cases/{case_id}/graph-evidence.json",
                        json={"version": saved["version"], "elements": traced["nodes"] + traced["edges"],
                              "annotations": {story["deposit"]: "thief"}},
                        headers={"X-CSRF-Token": token}).json()  # fmt: skip
    stale = client.post(f"/cases/{case_id}/graph-evidence.json", json={"version": version, "elements": []},
                        headers={"X-CSRF-Token": token})  # fmt: skip
    assert stale.status_code == 409
    assert "someone else changed this case" in stale.json()["message"]
    again = client.get(f"/cases/{case_id}/graph.json").json()
    assert again["saved"]
    assert again["annotations"] == {story["deposit"]: "thief"}
    assert again["evidence_id"] == graph["evidence_id"]
    page = client.get(f"/cases/{case_id}").text
    assert saved["sha256"][:12] in page
    assert "case-graph.json" in page


def test_four_eyes_freeze_self_approval_refused_and_ledger_blocked(
    client: TestClient, story: dict[str, Any], world: tuple[Settings, Engine]
) -> None:
    from chainsleuth.cases.ledger_guard import post_withdrawal

    login(client, "senior")
    case_id, token = _new_case(client, "Freeze the thief", story["deposit"])
    page = client.get(f"/cases/{case_id}").text
    client.post(f"/cases/{case_id}/links", data={"link_type": "account", "target": story["account"],
                                                 "version": _version(page), "csrf_token": token})  # fmt: skip
    page = client.get(f"/cases/{case_id}").text
    assert f'<option value="{story["account"]}">' in page
    proposed = client.post(f"/cases/{case_id}/actions", data={
        "kind": "freeze", "account_id": story["account"], "reason": "proceeds of the phone theft",
        "legal_basis": "AMLA art. 8", "expires_at": "2099-01-01T00:00", "csrf_token": token},
        follow_redirects=False)  # fmt: skip
    assert proposed.status_code == 303
    inbox = client.get("/approvals").text
    assert "proceeds of the phone theft" in inbox
    assert "approve-" not in inbox
    action_id = int(re.search(r'id="action-(\d+)"', inbox).group(1))  # type: ignore[union-attr]
    refused = client.post(f"/actions/{action_id}/approve", data={"version": 1, "csrf_token": token})
    assert refused.status_code == 403
    assert "action.approve" in refused.text
    # the compliance officer's own proposal: the inbox says so, and the service refuses it anyway
    login(client, "compliance")
    token = csrf_from(client.get(f"/cases/{case_id}").text)
    client.post(f"/cases/{case_id}/actions", data={"kind": "preserve", "account_id": story["account"],
                                                   "reason": "keep the records", "expires_at": "2099-01-01T00:00",
                                                   "csrf_token": token})  # fmt: skip
    inbox = client.get("/approvals").text
    assert "your own proposal" in inbox
    own = int(re.findall(r'id="action-(\d+)"', inbox)[0])
    self_approval = client.post(f"/actions/{own}/approve", data={"version": 1, "csrf_token": token})
    assert self_approval.status_code == 403
    assert "someone other than its proposer" in self_approval.text
    approved = client.post(f"/actions/{action_id}/approve", data={"version": 1, "csrf_token": token},
                           follow_redirects=False)  # fmt: skip
    assert approved.status_code == 303
    linked = client.get(f"/cases/{case_id}").text.split('id="linked"')[1].split("</ul>")[0]
    account_item = linked.split(f"Account <strong>{story['account']}</strong>")[1].split("</li>")[0]
    assert 'badge-danger">frozen' in account_item  # the freeze in force, not the ledger's stored "active"
    assert "preserved" not in account_item
    customer_page = client.get(f"/customers/{story['customer']}").text
    row = customer_page.split(f"?account={story['account']}#ledger")[1].split("</tr>")[0]
    assert 'badge-danger">frozen' in row
    with session_scope(world[1]) as session, pytest.raises(PolicyViolationError):
        post_withdrawal(session, story["account"], "BTC", Decimal("0.01"), chain="bitcoin", address=story["victim"])


def test_report_drafting_validation_and_download(client: TestClient, world: tuple[Settings, Engine]) -> None:
    login(client, "compliance")
    with session_scope(world[1]) as session:
        alert_id = session.scalars(select(MonitorAlert.id).where(MonitorAlert.status == "open").limit(1)).one()
    page = client.get(f"/alerts/{alert_id}").text
    location = client.post(f"/alerts/{alert_id}/case", data={"csrf_token": csrf_from(page)},
                           follow_redirects=False).headers["location"]  # fmt: skip
    token = csrf_from(client.get(location).text)
    drafted = client.post(f"{location}/reports", data={"reason": "funds from a sanctioned address",
                                                       "action": "account frozen", "csrf_token": token},
                          follow_redirects=False)  # fmt: skip
    assert drafted.status_code == 303
    page = client.get(location).text
    assert 'id="reports-table"' in page
    assert "report-valid" in page or "invalid" in page
    report_id = re.search(r'href="/reports/(\d+)/xml"', page).group(1)  # type: ignore[union-attr]
    xml = client.get(f"/reports/{report_id}/xml")
    assert xml.status_code == 200
    assert xml.text.lstrip().startswith("<")
    assert "report" in xml.text
    inbox = client.get("/approvals").text
    assert "your own draft" in inbox


def test_wrong_roles_are_refused(client: TestClient, world: tuple[Settings, Engine]) -> None:
    with session_scope(world[1]) as session:
        last = session.scalars(select(MonitorAlert.id).order_by(MonitorAlert.id.desc()).limit(1)).one()
    login(client, "officer")
    for url in ("/alerts", "/cases", "/approvals", "/alerts/1"):
        answer = client.get(url)
        assert answer.status_code == 403, url
        assert "Your role may not open this page" in answer.text, url
    login(client, "auditor")
    assert client.get("/alerts").status_code == 200
    page = client.get(f"/alerts/{last}").text
    assert 'id="open-case-form"' not in page
    assert "triage is for analysts" in page
    login(client, "analyst")
    dashboard = client.get("/dashboard").text
    assert 'href="/alerts"' in dashboard
    assert 'href="/alerts?queue=sanctions"' in dashboard
    assert "section-cases" in client.get("/dashboard").text


def test_csrf_is_enforced_on_every_post(client: TestClient) -> None:
    login(client, "compliance")
    case_id, _ = _new_case(client, "CSRF")
    posts = [
        "/cases", f"/cases/{case_id}/status", f"/cases/{case_id}/assign", f"/cases/{case_id}/notes",
        f"/cases/{case_id}/links", f"/cases/{case_id}/evidence", f"/cases/{case_id}/evidence/verify",
        f"/cases/{case_id}/actions", f"/cases/{case_id}/reports", "/alerts/1/case", "/alerts/1/attach",
        "/actions/1/approve", "/actions/1/reject", "/reports/1/approve",
    ]  # fmt: skip
    for url in posts:
        answer = client.post(url, data={"version": 1, "title": "x", "csrf_token": "forged"})
        assert answer.status_code == 403, url
        assert "form has expired" in answer.text, url
    for url in (f"/cases/{case_id}/trace.json", f"/cases/{case_id}/trace-evidence.json",
                f"/cases/{case_id}/graph-evidence.json"):  # fmt: skip
        answer = client.post(url, json={"version": 1}, headers={"X-CSRF-Token": "forged"})
        assert answer.status_code == 403, url
