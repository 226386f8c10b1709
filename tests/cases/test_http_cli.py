"""The HTTP routes and the CLI commands over the same API: 409 on a stale version, 403 on self-approval,
the report XML downloadable, acting users authenticated."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from chainsleuth.api.app import create_app
from chainsleuth.api.routers import actions as actions_router
from chainsleuth.api.routers import cases as cases_router
from chainsleuth.cli import actions_cmd, cases_cmd
from chainsleuth.config import Settings, get_settings
from chainsleuth.privacy import audit
from chainsleuth.store.db import session_scope
from chainsleuth.store.models.audit import AuditEntry
from chainsleuth.store.users import create_user
from tests.cases.conftest import make_alert

USERS = {"ana": "analyst", "sam": "senior_analyst", "col": "compliance_officer", "cora": "compliance_officer"}
PASSWORD = "correct-horse-battery-1"


@pytest.fixture
def users(loaded: Engine, fast_password_hashing: None) -> Engine:
    with session_scope(loaded) as session:
        for name, role in USERS.items():
            create_user(session, username=name, password=PASSWORD, role=role, display_name=name.title())
    return loaded


@pytest.fixture
def client(users: Engine, tmp_path: Path, database_url: str) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, demo=True, max_upload_bytes=64)
    app = create_app(settings, engine=users)
    for router in (cases_router.router, cases_router.reports_router, actions_router.router):
        if router not in app.router.routes:
            app.include_router(router)
    with TestClient(app) as test_client:
        yield test_client


def _auth(client: TestClient, username: str) -> dict[str, str]:
    response = client.post("/api/auth/token", data={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _refusals(engine: Engine) -> list[AuditEntry]:
    with session_scope(engine) as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == "access.refused").order_by(AuditEntry.seq))
        entries = list(rows)
        session.expunge_all()
        return entries


def test_http_cases_actions_reports(client: TestClient, users: Engine) -> None:
    ana, sam, col, cora = (_auth(client, n) for n in ("ana", "sam", "col", "cora"))
    alert = make_alert(users, ["E0000000003", "E0000000007"])
    created = client.post("/api/cases", json={"alert_ids": [alert]}, headers=ana)
    assert created.status_code == 201, created.text
    case = created.json()
    note = client.post(f"/api/cases/{case['id']}/notes", json={"expected_version": 1, "body": "x"}, headers=ana)
    assert note.status_code == 201
    stale = client.post(f"/api/cases/{case['id']}/notes", json={"expected_version": 1, "body": "y"}, headers=sam)
    assert stale.status_code == 409
    assert client.post(f"/api/cases/{case['id']}/reopen", json={"expected_version": 2, "reason": "r"},
                       headers=ana).status_code == 403  # fmt: skip
    upload = client.post(f"/api/cases/{case['id']}/evidence/document?expected_version=2&filename=a.txt",
                         content=b"x" * 65, headers=ana)  # fmt: skip
    assert upload.status_code == 413
    proposal = client.post("/api/actions", headers=sam, json={
        "kind": "freeze", "account_id": "A0000003", "reason": "stolen", "legal_basis": "order 1",
        "expires_at": "2099-01-01T00:00:00Z", "case_id": case["id"]})  # fmt: skip
    assert proposal.status_code == 201, proposal.text
    action = proposal.json()
    assert client.post(f"/api/actions/{action['id']}/approve", json={"expected_version": 1},
                       headers=sam).status_code == 403  # fmt: skip
    again = client.post("/api/actions", headers=col, json={
        "kind": "freeze", "account_id": "A0000001", "reason": "r", "legal_basis": "order 2",
        "expires_at": "2099-01-01T00:00:00Z"})  # fmt: skip
    self_approval = client.post(f"/api/actions/{again.json()['id']}/approve", json={"expected_version": 1}, headers=col)
    assert self_approval.status_code == 403
    assert "four-eyes" in self_approval.text
    refused = _refusals(users)  # both refused approvals are evidence too, written after the rollback
    assert [(r.actor, r.object_id) for r in refused][-2:] == [
        ("sam", f"POST /api/actions/{action['id']}/approve"),
        ("col", f"POST /api/actions/{again.json()['id']}/approve"),
    ]
    last, before = json.loads(refused[-1].details), json.loads(refused[-2].details)
    assert last["error"] == "policy_violation"
    assert "four-eyes" in last["message"]
    assert before["error"] == "permission_denied"
    assert client.get("/api/cases", headers=ana).status_code == 200
    assert len(_refusals(users)) == len(refused)  # an allowed request writes no refusal
    approved = client.post(f"/api/actions/{action['id']}/approve", json={"expected_version": 1}, headers=col)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "active"
    draft = client.post(f"/api/cases/{case['id']}/reports", json={"reason": "r", "action": "frozen"}, headers=sam)
    assert draft.status_code == 201, draft.text
    report = draft.json()
    assert report["valid"], report["validation_errors"]
    # the XML identifies customers: an analyst is refused, a reveal needs a purpose, and is audited per customer
    assert client.get(f"/api/reports/{report['id']}/xml?purpose=str_filing&case_ref=C1", headers=ana).status_code == 403
    assert client.get(f"/api/reports/{report['id']}/xml", headers=cora).status_code == 422
    assert client.get(f"/api/reports/{report['id']}/xml?purpose=str_filing", headers=cora).status_code == 422
    xml = client.get(f"/api/reports/{report['id']}/xml?purpose=str_filing&case_ref=CASE-1", headers=cora)
    assert xml.status_code == 200, xml.text
    with session_scope(users) as session:
        entries = audit.tail(session, 5)
    assert entries[-1].action == "report.download"
    assert (
        {e.object_id for e in entries if e.action == "customer.reveal"}
        == set(json.loads(entries[-1].details)["customers"])
        != set()
    )
    assert xml.headers["content-type"].startswith("application/xml")
    assert etree.fromstring(xml.content).findtext("report_code") == "STR"
    assert client.post(f"/api/reports/{report['id']}/approve", json={"expected_version": 1},
                       headers=sam).status_code == 403  # fmt: skip
    ok = client.post(f"/api/reports/{report['id']}/approve", json={"expected_version": report["version"]}, headers=cora)
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "approved"


def test_cli_cases_actions_reports(
    users: Engine, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAINSLEUTH_DATABASE_URL", database_url)
    monkeypatch.setenv("CHAINSLEUTH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CHAINSLEUTH_PASSWORD", PASSWORD)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        alert = make_alert(users, ["E0000000002", "E0000000006"], customer_id="C0000001")
        out = runner.invoke(cases_cmd.app, ["create", "--as", "ana", "--from-alert", str(alert)])
        assert out.exit_code == 0, out.output
        assert '"status": "open"' in out.output
        result = runner.invoke(cases_cmd.app, ["note", "1", "looked at it", "--as", "ana", "-v", "1"])
        assert result.exit_code == 0, result.output
        doc = tmp_path / "statement.txt"
        doc.write_text("bank statement", encoding="utf-8")
        result = runner.invoke(cases_cmd.app, ["evidence", "add", "1", "--as", "ana", "-v", "2", "--file", str(doc)])
        assert result.exit_code == 0, result.output
        assert runner.invoke(cases_cmd.app, ["evidence", "verify", "1", "--as", "ana"]).exit_code == 0
        result = runner.invoke(cases_cmd.app, ["status", "1", "investigating", "--as", "ana", "-v", "3"])
        assert result.exit_code == 0, result.output
        xml = tmp_path / "draft.xml"
        result = runner.invoke(cases_cmd.app, ["report", "draft", "1", "--as", "sam", "--reason", "r", "--action", "a",
                                               "--out", str(xml)])  # fmt: skip
        assert result.exit_code == 0, result.output
        version = json.loads(result.output)["version"]
        assert runner.invoke(cases_cmd.app, ["report", "validate", str(xml)]).exit_code == 0
        result = runner.invoke(cases_cmd.app, ["report", "approve", "1", "--as", "col", "-v", str(version)])
        assert result.exit_code == 0, result.output
        sent = tmp_path / "sent.xml"
        version = json.loads(result.output)["version"]
        result = runner.invoke(cases_cmd.app, ["report", "submit", "1", "--as", "col", "-v", str(version), "--out",
                                               str(sent)])  # fmt: skip
        assert result.exit_code == 0, result.output
        assert sent.read_text(encoding="utf-8") == xml.read_text(encoding="utf-8")
        version = json.loads(result.output)["version"]
        result = runner.invoke(
            cases_cmd.app, ["report", "ack", "1", "--as", "col", "-v", str(version), "--fiu-ref", "F1"]
        )
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["status"] == "acknowledged"
        proposal = ["propose", "freeze", "--as", "sam", "--account", "A0000001", "--reason", "r"]
        result = runner.invoke(actions_cmd.app, [*proposal, "--legal-basis", "order", "--expires", "2099-01-01"])
        assert result.exit_code == 0, result.output
        refused = runner.invoke(actions_cmd.app, ["approve", "1", "--as", "sam", "-v", "1"])
        assert refused.exit_code != 0
        assert runner.invoke(actions_cmd.app, ["approve", "1", "--as", "col", "-v", "1"]).exit_code == 0
        listed = runner.invoke(actions_cmd.app, ["list", "--as", "ana", "--status", "active"])
        assert '"total": 1' in listed.output
        assert runner.invoke(actions_cmd.app, ["expire-due"]).exit_code == 0
    finally:
        get_settings.cache_clear()
