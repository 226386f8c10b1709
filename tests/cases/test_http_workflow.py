"""The rest of the cases and actions API over HTTP (assign, deadline, links, alerts, timeline, evidence content,
reject, expire-due, FIU acknowledgement and rejection, redraft), and the CLI commands that mirror them."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from chainsleuth.cli import actions_cmd, cases_cmd
from chainsleuth.config import get_settings
from chainsleuth.privacy import audit
from chainsleuth.store.db import session_scope
from tests.cases.conftest import make_alert
from tests.cases.test_http_cli import PASSWORD, _auth, client, users  # noqa: F401  (fixtures)


def test_http_case_workflow(client: TestClient, users: Engine) -> None:  # noqa: F811
    ana, sam, col = (_auth(client, n) for n in ("ana", "sam", "col"))
    first, second = make_alert(users, ["E0000000003"], key="w1"), make_alert(users, ["E0000000007"], key="w2")
    case = client.post("/api/cases", json={"title": "manual", "due_at": "2099-01-01T00:00:00Z"}, headers=sam).json()
    cid, version = case["id"], case["version"]
    assert case["due_at"].startswith("2099-01-01")
    assert client.post(f"/api/cases/{cid}/assign", json={"expected_version": version, "assignee": "ana"},
                       headers=ana).status_code == 403  # fmt: skip
    body = {"expected_version": version, "assignee": "ana", "queue": "exposure"}
    assigned = client.post(f"/api/cases/{cid}/assign", headers=sam, json=body).json()
    assert (assigned["assignee"], assigned["queue"]) == ("ana", "exposure")
    late = client.post(f"/api/cases/{cid}/deadline", headers=ana,
                       json={"expected_version": assigned["version"], "due_at": "2020-01-01T00:00:00Z",
                             "priority": "high"}).json()  # fmt: skip
    assert (late["overdue"], late["priority"]) == (True, "high")
    linked = client.post(
        f"/api/cases/{cid}/links",
        headers=ana,
        json={"expected_version": late["version"], "link_type": "address", "target": "bc1qx"},
    )
    assert linked.status_code == 422  # an address needs its chain
    linked = client.post(f"/api/cases/{cid}/links", headers=ana, json={
        "expected_version": late["version"], "link_type": "customer", "target": "C0000002"}).json()  # fmt: skip
    assert [(link["link_type"], link["target"]) for link in linked["links"]] == [("customer", "C0000002")]
    with_alerts = client.post(
        f"/api/cases/{cid}/alerts",
        headers=ana,
        json={"expected_version": linked["version"], "alert_ids": [first, second]},
    ).json()
    assert sorted(with_alerts["alert_ids"]) == sorted([first, second])
    document = client.post(f"/api/cases/{cid}/evidence/document?expected_version={with_alerts['version']}"
                           "&filename=note.txt", content=b"witness", headers=ana).json()  # fmt: skip
    content = client.get(f"/api/cases/evidence/{document['id']}/content", headers=ana)
    assert (content.status_code, content.content) == (200, b"witness")
    assert content.headers["x-evidence-sha256"] == document["sha256"]
    assert client.get(f"/api/cases/evidence/{document['id']}/content", headers=_auth(client, "col")).status_code == 200
    events = [e["event_type"] for e in client.get(f"/api/cases/{cid}/timeline", headers=ana).json()]
    for expected in ("created", "assigned", "deadline_set", "linked", "alerts_attached", "evidence_added"):
        assert expected in events, (expected, events)
    with session_scope(users) as session:
        reads = [e for e in audit.tail(session, 20) if e.action == "evidence.read"]
    assert [e.actor for e in reads] == ["ana", "col"]

    proposal = client.post("/api/actions", headers=sam, json={"kind": "freeze", "account_id": "A0000003",
                           "reason": "r", "legal_basis": "b", "expires_at": "2099-01-01T00:00:00Z"}).json()  # fmt: skip
    rejected = client.post(
        f"/api/actions/{proposal['id']}/reject",
        headers=col,
        json={"expected_version": proposal["version"], "reason": "no grounds"},
    ).json()
    assert (rejected["status"], rejected["rejection_reason"]) == ("rejected", "no grounds")
    short = client.post("/api/actions", headers=sam, json={"kind": "freeze", "account_id": "A0000004",
                        "reason": "r", "legal_basis": "b", "expires_at": "2099-01-01T00:00:00Z"}).json()  # fmt: skip
    assert client.post("/api/actions/expire-due", headers=sam).status_code == 403
    assert client.post("/api/actions/expire-due", headers=col).json() == []  # nothing past its expiry yet
    shown = client.get(f"/api/actions/{short['id']}", headers=ana).json()
    assert shown["legal_holds"] == []
    assert shown["effective_status"] == "proposed"
    assert client.get("/api/actions?review_due=true", headers=ana).json()["total"] == 0

    draft = client.post(f"/api/cases/{cid}/reports", json={"reason": "r", "action": "a"}, headers=sam).json()
    again = client.post(f"/api/reports/{draft['id']}/redraft", json={"expected_version": draft["version"]},
                        headers=sam).json()  # fmt: skip
    assert again["revision"] == 2
    approved = client.post(f"/api/reports/{draft['id']}/approve", json={"expected_version": again["version"]},
                           headers=col).json()  # fmt: skip
    submitted = client.post(f"/api/reports/{draft['id']}/submit", json={"expected_version": approved["version"]},
                            headers=col).json()  # fmt: skip
    assert submitted["status"] == "submitted"
    refused = client.post(
        f"/api/reports/{draft['id']}/reject",
        headers=col,
        json={"expected_version": submitted["version"], "fiu_reason": "missing indicator"},
    ).json()
    assert (refused["status"], refused["fiu_reason"]) == ("rejected", "missing indicator")
    fixed = client.post(f"/api/reports/{draft['id']}/redraft", json={"expected_version": refused["version"]},
                        headers=sam).json()  # fmt: skip
    approved = client.post(f"/api/reports/{draft['id']}/approve", json={"expected_version": fixed["version"]},
                           headers=col).json()  # fmt: skip
    submitted = client.post(f"/api/reports/{draft['id']}/submit", json={"expected_version": approved["version"]},
                            headers=col).json()  # fmt: skip
    acked = client.post(
        f"/api/reports/{draft['id']}/acknowledge",
        headers=col,
        json={"expected_version": submitted["version"], "fiu_ref_number": "FIU-77"},
    ).json()
    assert (acked["status"], acked["fiu_ref_number"]) == ("acknowledged", "FIU-77")


def test_cli_case_commands(
    users: Engine,  # noqa: F811  (the fixture imported above)
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHAINSLEUTH_DATABASE_URL", database_url)
    monkeypatch.setenv("CHAINSLEUTH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CHAINSLEUTH_PASSWORD", PASSWORD)
    get_settings.cache_clear()
    runner = CliRunner()

    def run(app: object, *args: str) -> dict[str, object]:
        result = runner.invoke(app, list(args))  # type: ignore[arg-type]
        assert result.exit_code == 0, (args, result.output)
        loaded: dict[str, object] = json.loads(result.stdout)
        return loaded

    try:
        alert = make_alert(users, ["E0000000002"], customer_id="C0000001", key="cli")
        case = run(cases_cmd.app, "create", "--as", "sam", "--title", "t", "--description", "why",
                   "--assignee", "ana", "--due", "2099-01-01")  # fmt: skip
        assert (case["description"], case["assignee"], str(case["due_at"])[:10]) == ("why", "ana", "2099-01-01")
        case = run(cases_cmd.app, "assign", "1", "--as", "sam", "-v", "1", "--assignee", "col", "--queue", "q2")
        assert (case["assignee"], case["queue"]) == ("col", "q2")
        case = run(cases_cmd.app, "deadline", "1", "--as", "ana", "-v", "2", "--due", "2020-01-01")
        assert case["overdue"] is True
        case = run(cases_cmd.app, "link", "1", "address", "bc1qabc", "--chain", "bitcoin", "--as", "ana", "-v", "3")
        assert case["links"] == [{**case["links"][0], "link_type": "address", "target": "bc1qabc"}]  # type: ignore[index]
        case = run(cases_cmd.app, "attach-alerts", "1", "--as", "ana", "-v", "4", "--alert", str(alert))
        assert case["alert_ids"] == [alert]
        doc = tmp_path / "id.txt"
        doc.write_bytes(b"passport scan")
        added = run(cases_cmd.app, "evidence", "add", "1", "--as", "ana", "-v", "5", "--file", str(doc))
        out = tmp_path / "copy.txt"
        got = run(cases_cmd.app, "evidence", "get", str(added["id"]), "--as", "ana", "--out", str(out))
        assert (out.read_bytes(), got["hash_ok"]) == (b"passport scan", True)
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        action = run(actions_cmd.app, "propose", "preserve", "--as", "sam", "--customer", "C0000001", "--reason",
                     "r", "--case", "1", "--expires", "2099-01-01")  # fmt: skip
        run(actions_cmd.app, "approve", str(action["id"]), "--as", "col", "-v", "1")
        shown = run(actions_cmd.app, "show", str(action["id"]), "--as", "ana")
        assert [h["action_id"] for h in shown["legal_holds"]] == [action["id"]]  # type: ignore[union-attr]
        assert run(actions_cmd.app, "list", "--as", "ana", "--review-due")["total"] == 0
        draft = run(cases_cmd.app, "report", "draft", "1", "--as", "sam", "--reason", "r", "--action", "a",
                    "--out", str(tmp_path / "draft.xml"))  # fmt: skip
        assert draft["valid"]
        assert stat.S_IMODE((tmp_path / "draft.xml").stat().st_mode) == 0o600
    finally:
        get_settings.cache_clear()
