"""The portal over HTTP and the CLI: registration with a spoofed domain, multipart intake with TOTP, no
existence leak across agencies, four-eyes packages sealed by password, 410 after expiry, no freeze before a
call-back; and the ``chainsleuth le`` commands."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from typer.testing import CliRunner

from chainsleuth.cli import le_cmd
from chainsleuth.config import get_settings
from chainsleuth.lawenforcement.sealing import open_sealed
from chainsleuth.store.db import session_scope
from chainsleuth.store.models.lawenforcement import LeOfficer, LeOutbox, LePackage
from chainsleuth.store.types import utcnow
from chainsleuth.store.users import create_user
from tests.lawenforcement.conftest import PASSWORD, STAFF, TARGETS, World, make_pdf
from tests.lawenforcement.conftest import auth as _auth
from tests.lawenforcement.conftest import totp_code as _code

FIELDS = {"request_type": "production", "legal_basis": "court_order", "jurisdiction": "DE", "case_number": "K-9",
          "offence": "theft", "data_categories": "subscriber,wallet_addresses"}  # fmt: skip


def test_http_portal_end_to_end(client: TestClient, world: World) -> None:
    spoofed = client.post("/api/le/register", json={"username": "eve", "password": PASSWORD, "display_name": "Eve",
                                                    "email": "eve@police.example.evil.com"})  # fmt: skip
    assert spoofed.status_code == 403
    assert "subdomain trick" in spoofed.text
    fresh = client.post("/api/le/register", json={"username": "olga", "password": PASSWORD, "display_name": "Olga",
                                                  "email": "olga@police.example"})  # fmt: skip
    assert fresh.status_code == 201
    assert "token" not in fresh.text
    with session_scope(world.engine) as session:
        body = session.scalars(select(LeOutbox.body).where(LeOutbox.to_address == "olga@police.example")).one()
    token = body.split("\n\n")[1].strip()
    assert client.post("/api/le/verify-email", json={"token": token}).status_code == 200
    olga = _auth(client, "olga")
    assert client.get("/api/le/requests", headers=olga).status_code == 403  # not approved, no TOTP yet
    secret = client.post("/api/le/me/totp", headers=olga).json()["secret"]
    assert client.post("/api/le/me/totp/confirm", headers=olga, json={"code": _code(secret)}).status_code == 200
    lro1, lro2, root = _auth(client, "lro1"), _auth(client, "lro2"), _auth(client, "root")
    assert client.post("/api/le/officers/olga/approve", headers=root).json()["status"] == "approved"

    alice, nils = _auth(client, world.alice.username), _auth(client, world.nils.username)
    files = {"instrument": ("order.pdf", make_pdf(), "application/pdf"), "targets": ("t.csv", TARGETS.encode())}
    no_code = client.post("/api/le/requests", headers=alice, data=FIELDS, files=files)
    assert no_code.status_code == 401, no_code.text
    fake = {"instrument": ("order.pdf", b"MZ not a pdf", "application/pdf")}
    assert client.post("/api/le/requests", headers={**alice, "X-TOTP-Code": _code(world.alice_secret)}, data=FIELDS,
                       files=fake).status_code == 422  # fmt: skip
    big = {"instrument": ("order.pdf", b"%PDF-" + b"0" * 30_000, "application/pdf")}
    assert client.post("/api/le/requests", headers={**alice, "X-TOTP-Code": _code(world.alice_secret)}, data=FIELDS,
                       files=big).status_code == 413  # fmt: skip
    bad_rows = {**files, "targets": ("t.csv", b"email,phone\nnope,\n,+4915100000\n")}
    submitted = client.post("/api/le/requests", headers={**alice, "X-TOTP-Code": _code(world.alice_secret)},
                            data=FIELDS, files=bad_rows)  # fmt: skip
    assert submitted.status_code == 201, submitted.text
    rejected = submitted.json()["rejected_targets"]
    assert [(r["row"], r["column"]) for r in rejected] == [(2, "email")]
    good = client.post("/api/le/requests", headers={**alice, "X-TOTP-Code": _code(world.alice_secret, 1)},
                       data=FIELDS, files=files).json()  # fmt: skip
    request_id = good["id"]

    leak = client.get(f"/api/le/requests/{request_id}", headers=nils)
    missing = client.get("/api/le/requests/424242", headers=nils)
    assert leak.status_code == missing.status_code == 404
    assert leak.json()["message"] == missing.json()["message"]
    assert client.get("/api/le/requests", headers=nils).json()["total"] == 0
    assert client.get(f"/api/le/requests/{request_id}", headers=alice).json()["reference"] == good["reference"]

    triaged = client.post(f"/api/le/requests/{request_id}/triage", headers=lro1).json()
    assert triaged["status"] == "in_progress"
    assert triaged["risk_score"] >= 0
    package = client.post(f"/api/le/requests/{request_id}/packages", headers=lro1).json()
    assert client.post(f"/api/le/packages/{package['id']}/approve", headers=lro1, json={}).status_code == 403
    approved = client.post(f"/api/le/packages/{package['id']}/approve", headers=lro2, json={}).json()
    password = approved["password"]
    assert password
    assert approved["encryption"] == "password"
    replay = client.get(f"/api/le/packages/{package['id']}/download",
                        headers={**alice, "X-TOTP-Code": _code(world.alice_secret, 1)})  # fmt: skip
    assert replay.status_code == 401  # a code is accepted once
    with session_scope(world.engine) as session:  # as if the next 30-second step had come
        session.execute(update(LeOfficer).where(LeOfficer.username == world.alice.username).values(totp_last_step=0))
    download = client.get(f"/api/le/packages/{package['id']}/download",
                          headers={**alice, "X-TOTP-Code": _code(world.alice_secret, -1)})  # fmt: skip
    assert download.status_code == 200, download.text
    envelope = json.loads(base64.b64decode(download.headers["X-Package-Envelope"]))
    archive = zipfile.ZipFile(io.BytesIO(open_sealed(download.content, envelope, password=password)))
    assert set(archive.namelist()) == {"manifest.json", "data.json", "report.pdf", "subscriber.csv",
                                       "wallet_addresses.csv"}  # fmt: skip
    assert client.get(f"/api/le/packages/{package['id']}/download",
                      headers={**nils, "X-TOTP-Code": _code(world.nils_secret)}).status_code == 404  # fmt: skip
    with session_scope(world.engine) as session:
        session.execute(update(LePackage).values(expires_at=utcnow() - timedelta(minutes=1)))
    gone = client.get(f"/api/le/packages/{package['id']}/download", headers=lro1)
    assert gone.status_code == 410
    with session_scope(world.engine) as session:
        session.execute(update(LeOfficer).where(LeOfficer.username == world.alice.username).values(totp_last_step=0))
    # The officer's TOTP check writes; the expiry refusal (audited on its own) must come first, or SQLite's single
    # writer turns the 410 into a lock timeout.
    gone_for_officer = client.get(f"/api/le/packages/{package['id']}/download",
                                  headers={**alice, "X-TOTP-Code": _code(world.alice_secret)})  # fmt: skip
    assert gone_for_officer.status_code == 410

    freeze = client.post("/api/le/requests", headers={**olga, "X-TOTP-Code": _code(secret, 1)}, files=files,
                         data={**FIELDS, "request_type": "freeze", "legal_basis": "freezing_order",
                               "data_categories": "balances"}).json()  # fmt: skip
    assert client.post(f"/api/le/requests/{freeze['id']}/triage", headers=lro1).json()["status"] == "awaiting_callback"
    refused = client.post(f"/api/le/requests/{freeze['id']}/actions", headers=lro1,
                          json={"expires_at": "2099-01-01T00:00:00Z"})  # fmt: skip
    assert refused.status_code == 403
    assert "call-back" in refused.json()["message"]
    message = client.post(f"/api/le/requests/{freeze['id']}/messages", headers=olga, data={"body": "urgent"},
                          files={"attachment": ("a.txt", b"hello")})  # fmt: skip
    assert message.status_code == 201
    assert client.get(f"/api/le/requests/{freeze['id']}/messages", headers=alice).json()[0]["body"] == "urgent"
    assert client.get(f"/api/le/requests/{freeze['id']}/messages", headers=nils).status_code == 404
    report = client.get("/api/le/transparency?format=markdown", headers=lro1)
    assert report.status_code == 200
    assert "| DE |" in report.text
    assert client.get("/api/le/stats", headers=alice).status_code == 403


def test_cli_commands(world: World, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with session_scope(world.engine) as session:
        for name, role in STAFF.items():
            create_user(session, username=name, password=PASSWORD, role=role, display_name=name)
    monkeypatch.setenv("CHAINSLEUTH_DATABASE_URL", database_url)
    monkeypatch.setenv("CHAINSLEUTH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CHAINSLEUTH_PASSWORD", PASSWORD)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        assert runner.invoke(le_cmd.app, ["agencies", "load", "--as", "root"]).exit_code == 0
        assert runner.invoke(le_cmd.app, ["agencies", "list"]).exit_code != 0  # staff only: call-back numbers
        assert runner.invoke(le_cmd.app, ["agencies", "list", "--as", world.alice.username]).exit_code != 0
        listed = runner.invoke(le_cmd.app, ["agencies", "list", "--as", "root"])
        assert "DEMO-POLICE" in listed.stdout
        spoof = runner.invoke(le_cmd.app, ["officers", "register", "mallory", "m@po1ice.example",
                                           "--display-name", "M"])  # fmt: skip
        assert spoof.exit_code != 0
        registered = runner.invoke(le_cmd.app, ["officers", "register", "mona", "mona@police.example",
                                                "--display-name", "Mona"])  # fmt: skip
        assert registered.exit_code == 0, registered.output
        mail = json.loads(runner.invoke(le_cmd.app, ["officers", "outbox", "--as", "root", "--to",
                                                     "mona@police.example"]).stdout)[0]  # fmt: skip
        verified = runner.invoke(le_cmd.app, ["officers", "verify", mail["body"].split("\n\n")[1].strip()])
        assert json.loads(verified.stdout)["email_verified_at"]
        pdf, targets = tmp_path / "order.pdf", tmp_path / "t.csv"
        pdf.write_bytes(make_pdf())
        targets.write_text(TARGETS)
        out = runner.invoke(le_cmd.app, ["requests", "submit", "--as", world.alice.username, "--type", "production",
                                         "--basis", "court_order", "--jurisdiction", "DE", "--case-number", "K-1",
                                         "--offence", "fraud", "--categories", "subscriber", "--instrument", str(pdf),
                                         "--targets", str(targets), "--totp", _code(world.alice_secret)])  # fmt: skip
        assert out.exit_code == 0, out.output
        reference = json.loads(out.stdout)["reference"]
        denied = runner.invoke(le_cmd.app, ["requests", "show", reference, "--as", world.nils.username])
        assert denied.exit_code != 0
        for command in (["next"], ["triage", reference], ["match", reference], ["package", reference]):
            result = runner.invoke(le_cmd.app, ["requests", *command, "--as", "lro1"])
            assert result.exit_code == 0, (command, result.output)
        package_id = json.loads(result.stdout)["id"]
        assert runner.invoke(le_cmd.app, ["requests", "approve-package", str(package_id), "--as", "lro1"]).exit_code
        approved = runner.invoke(le_cmd.app, ["requests", "approve-package", str(package_id), "--as", "lro2"])
        assert approved.exit_code == 0
        assert json.loads(approved.stdout)["password"]
        report = runner.invoke(le_cmd.app, ["requests", "transparency", "--as", "lro1", "--format", "csv"])
        assert "by_type,production,1" in report.stdout
        assert (
            runner.invoke(le_cmd.app, ["officers", "suspend", "nils.ncb", "--as", "root", "--reason", "r"]).exit_code
            == 0
        )
    finally:
        get_settings.cache_clear()
