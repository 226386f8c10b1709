"""The routes and commands the audit found missing, and the permission fixes over HTTP and the CLI: replacing an
authenticator, correcting targets, reinstating, releasing, call-backs, request actions, the audited instrument,
notifications, re-sent verification codes, narrowing shown to the agency; and their ``chainsleuth le`` twins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from chainsleuth.cli import le_cmd
from chainsleuth.config import get_settings
from chainsleuth.lawenforcement.sealing import open_sealed
from chainsleuth.store.db import session_scope
from chainsleuth.store.models.audit import AuditEntry
from chainsleuth.store.models.lawenforcement import LeOutbox, LeTarget
from chainsleuth.store.users import create_user
from tests.lawenforcement.conftest import PASSWORD, STAFF, TARGETS, World, auth, fresh_step, make_pdf, submit, totp_code

FREEZE = {"request_type": "freeze", "basis": "freezing_order", "categories": ("balances",),
          "targets": "email\nbob@example.org\n"}  # fmt: skip


def test_replacing_the_authenticator_over_http_needs_the_current_code(client: TestClient, world: World) -> None:
    alice = auth(client, world.alice.username)
    refused = client.post("/api/le/me/totp", headers=alice)
    assert refused.status_code == 401
    assert "current code" in refused.json()["message"]
    assert client.post("/api/le/me/totp", headers={**alice, "X-TOTP-Code": "123456"}).status_code == 401
    fresh_step(world.engine, world.alice.username)
    replaced = client.post("/api/le/me/totp", headers={**alice, "X-TOTP-Code": totp_code(world.alice_secret)})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["secret"] != world.alice_secret
    assert client.get("/api/le/requests", headers=alice).status_code == 403  # until the new key is confirmed


def _bad_target(world: World, request_id: int) -> int:
    with session_scope(world.engine) as session:
        query = select(LeTarget.id).where(LeTarget.request_id == request_id, LeTarget.error.is_not(None))
        return int(session.scalars(query).one())


def test_target_correction_reinstatement_release_and_narrowing(client: TestClient, world: World) -> None:
    lro1, aud, root = auth(client, "lro1"), auth(client, "aud"), auth(client, "root")
    alice = auth(client, world.alice.username)
    request_id = submit(world, targets="email,phone\nnope,\n,+4915100000\n")
    target_id = _bad_target(world, request_id)
    fix = {"column": "email", "value": "bob@example.org"}
    url = f"/api/le/requests/{request_id}/targets/{target_id}"
    assert client.post(url, headers=aud, json=fix).status_code == 403  # reading is not editing
    assert client.post(url, headers=alice, json={"column": "shoe_size", "value": "9"}).status_code == 422
    still_bad = client.post(url, headers=alice, json={"column": "email", "value": "nope"})
    assert still_bad.status_code == 422
    assert "still invalid" in still_bad.json()["message"]
    fixed = client.post(url, headers=alice, json=fix)
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["error"] is None
    assert "customer_id" not in fixed.json()  # officers never see matches

    assert client.post(f"/api/le/requests/{request_id}/claim", headers=lro1).json()["claimed_by"] == "lro1"
    released = client.post(f"/api/le/requests/{request_id}/release", headers=lro1)
    assert released.json()["claimed_by"] is None
    assert client.post(f"/api/le/requests/{request_id}/release", headers=aud).status_code == 403

    client.post(f"/api/le/requests/{request_id}/triage", headers=lro1)
    narrowed = client.post(f"/api/le/requests/{request_id}/narrow", headers=lro1,
                           json={"categories": ["subscriber"], "note": "Transactions need an MLAT."})  # fmt: skip
    assert narrowed.status_code == 200, narrowed.text
    client.post(f"/api/le/requests/{request_id}/triage", headers=lro1)  # re-triage keeps the narrowing
    seen = client.get(f"/api/le/requests/{request_id}", headers=alice).json()
    assert seen["narrowed_categories"] == ["transactions"]
    assert seen["narrowing_reason"].endswith("Transactions need an MLAT.")
    assert "triage" not in seen

    assert client.post(f"/api/le/officers/{world.nils.username}/suspend", headers=root,
                       json={"reason": "review"}).json()["status"] == "suspended"  # fmt: skip
    assert client.post(f"/api/le/officers/{world.nils.username}/reinstate", headers=aud).status_code == 403
    back = client.post(f"/api/le/officers/{world.nils.username}/reinstate", headers=root)
    assert back.json()["status"] == "approved"


def test_callbacks_actions_instrument_and_notifications(client: TestClient, world: World) -> None:
    lro1, aud, comp = auth(client, "lro1"), auth(client, "aud"), auth(client, "comp")
    alice = auth(client, world.alice.username)
    request_id = submit(world, **FREEZE)  # type: ignore[arg-type]
    client.post(f"/api/le/requests/{request_id}/triage", headers=lro1)
    called = client.post(f"/api/le/requests/{request_id}/callbacks", headers=lro1,
                         json={"phone": "+49 30 0000 1000", "outcome": "confirmed",
                               "called_at": "2026-01-01T10:00:00Z"})  # fmt: skip
    assert called.status_code == 201, called.text
    listed = client.get(f"/api/le/requests/{request_id}/callbacks", headers=lro1).json()
    assert [(c["contact"], c["outcome"]) for c in listed] == [("Duty Desk", "confirmed")]
    assert client.get(f"/api/le/requests/{request_id}/callbacks", headers=aud).status_code == 403
    proposed = client.post(f"/api/le/requests/{request_id}/actions", headers=lro1,
                           json={"expires_at": "2099-01-01T00:00:00Z"}).json()["action_ids"]  # fmt: skip
    assert client.get(f"/api/le/requests/{request_id}/actions", headers=aud).json()["action_ids"] == proposed
    assert client.get(f"/api/le/requests/{request_id}/actions", headers=alice).status_code == 403
    view = client.get(f"/api/le/requests/{request_id}", headers=alice).json()
    assert (view["status"], view["outcome"]) == ("closed", "actioned")
    assert view["closed_at"]

    pdf = client.get(f"/api/le/requests/{request_id}/instrument", headers=aud)
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF-")
    assert client.get(f"/api/le/requests/{request_id}/instrument", headers=alice).status_code == 403
    with session_scope(world.engine) as session:
        reads = session.scalars(select(AuditEntry.actor).where(AuditEntry.action == "le_request.instrument_read"))
        assert list(reads) == ["aud"]

    for reader in (aud, comp, alice):
        assert client.get("/api/le/notifications", headers=reader).status_code == 403
    due = client.get("/api/le/notifications", headers=lro1).json()
    assert [n["request_id"] for n in due] == [request_id]
    assert client.post(f"/api/le/notifications/{due[0]['id']}/sent", headers=aud).status_code == 403
    sent = client.post(f"/api/le/notifications/{due[0]['id']}/sent", headers=lro1)
    assert sent.json()["status"] == "sent"
    assert client.post(f"/api/le/notifications/{due[0]['id']}/sent", headers=lro1).status_code == 409
    assert client.get("/api/le/notifications", headers=lro1).json() == []


def test_new_verification_code_over_http(client: TestClient, world: World) -> None:
    form = {"username": "olga", "password": PASSWORD, "display_name": "Olga", "email": "olga@POLICE.example"}
    created = client.post("/api/le/register", json=form)
    assert created.json()["email"] == "olga@police.example"
    olga = auth(client, "olga")
    resent = client.post("/api/le/me/verification", headers=olga)
    assert resent.status_code == 200, resent.text
    with session_scope(world.engine) as session:
        mails = list(session.scalars(select(LeOutbox.body).where(LeOutbox.to_address == "olga@police.example")
                                     .order_by(LeOutbox.id)))  # fmt: skip
    assert len(mails) == 2
    old, new = (body.split("\n\n")[1].strip() for body in mails)
    assert client.post("/api/le/verify-email", json={"token": old}).status_code == 401
    assert client.post("/api/le/verify-email", json={"token": new}).status_code == 200
    assert client.post("/api/le/me/verification", headers=olga).status_code == 409


@pytest.fixture
def cli(world: World, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    with session_scope(world.engine) as session:
        for name, role in STAFF.items():
            create_user(session, username=name, password=PASSWORD, role=role, display_name=name)
    monkeypatch.setenv("CHAINSLEUTH_DATABASE_URL", database_url)
    monkeypatch.setenv("CHAINSLEUTH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CHAINSLEUTH_PASSWORD", PASSWORD)
    get_settings.cache_clear()
    yield CliRunner()  # type: ignore[misc]
    get_settings.cache_clear()


def _run(runner: CliRunner, *args: str, ok: bool = True) -> object:
    result = runner.invoke(le_cmd.app, list(args))
    if ok:
        assert result.exit_code == 0, (args, result.output)
        return json.loads(result.stdout) if result.stdout.strip() else None
    assert result.exit_code != 0, (args, result.output)
    return result


def test_cli_commands_added_by_the_audit(cli: CliRunner, world: World, tmp_path: Path) -> None:
    pdf, targets, bad = tmp_path / "order.pdf", tmp_path / "t.csv", tmp_path / "bad.csv"
    pdf.write_bytes(make_pdf())
    targets.write_text(TARGETS)
    bad.write_text("email\nnope\n")
    alice = world.alice.username
    common = ["--basis", "seizure_warrant", "--jurisdiction", "DE", "--case-number", "K-2", "--offence", "theft",
              "--categories", "balances", "--instrument", str(pdf), "--targets", str(targets)]  # fmt: skip
    fresh_step(world.engine, alice)
    no_wallet = _run(cli, "requests", "submit", "--as", alice, "--type", "seizure", *common, "--totp",
                     totp_code(world.alice_secret), ok=False)  # fmt: skip
    assert "agency wallet" in str(no_wallet.exception)  # type: ignore[attr-defined]
    fresh_step(world.engine, alice)
    seizure = _run(cli, "requests", "submit", "--as", alice, "--type", "seizure", *common, "--seizure-chain",
                   "ethereum", "--seizure-address", "0x" + "cd" * 20, "--legal-reference", "AG Berlin 1/26",
                   "--deadline", "2026-12-01", "--non-disclosure", "--totp", totp_code(world.alice_secret))  # fmt: skip
    assert isinstance(seizure, dict)
    assert (seizure["legal_reference"], seizure["non_disclosure"]) == ("AG Berlin 1/26", True)
    assert seizure["requested_deadline"].startswith("2026-12-01")
    fresh_step(world.engine, alice)
    follow = _run(cli, "requests", "submit", "--as", alice, "--type", "follow_up", "--basis", "court_order",
                  "--jurisdiction", "DE", "--case-number", "K-2", "--offence", "theft", "--categories", "subscriber",
                  "--instrument", str(pdf), "--targets", str(bad), "--parent", seizure["reference"],
                  "--non-disclosure-until", "2027-01-01", "--totp", totp_code(world.alice_secret))  # fmt: skip
    assert isinstance(follow, dict)
    assert follow["non_disclosure_until"].startswith("2027-01-01")
    reference, target_id = follow["reference"], follow["rejected_targets"][0]["id"]

    _run(cli, "agencies", "list", "--as", "aud", ok=False)
    _run(cli, "requests", "match", reference, "--as", "aud", ok=False)  # matches are the response team's
    _run(cli, "requests", "match", reference, "--as", "comp", ok=False)
    _run(cli, "requests", "correct", reference, str(target_id), "--as", "aud", "--column", "email", "--value",
         "bob@example.org", ok=False)  # fmt: skip
    corrected = _run(cli, "requests", "correct", reference, str(target_id), "--as", alice, "--column", "email",
                     "--value", "bob@example.org")  # fmt: skip
    assert isinstance(corrected, dict)
    assert corrected["error"] is None
    assert _run(cli, "requests", "match", reference, "--as", "lro1")["matched"] == 1  # type: ignore[index]
    assert _run(cli, "requests", "claim", reference, "--as", "lro1")["claimed_by"] == "lro1"  # type: ignore[index]
    assert _run(cli, "requests", "release", reference, "--as", "lro1")["claimed_by"] is None  # type: ignore[index]
    own = tmp_path / "matrix.yaml"
    own.write_text("rules:\n  - {type: follow_up, disclose: [subscriber]}\n")
    triaged = _run(cli, "requests", "triage", reference, "--as", "lro1", "--matrix", str(own))
    assert triaged["triage"]["rule"] == 0  # type: ignore[index]
    broken = tmp_path / "broken.yaml"
    broken.write_text("rules:\n  - {type: follow_up, disclosure: [subscriber]}\n")
    assert "unknown key" in str(_run(cli, "requests", "triage", reference, "--as", "lro1", "--matrix", str(broken),
                                     ok=False).exception)  # type: ignore[attr-defined]  # fmt: skip
    _run(cli, "requests", "send", reference, "--as", alice, "--body", "Any news?")
    _run(cli, "requests", "send", reference, "--as", "lro1", "--body", "Soon.")
    thread = _run(cli, "requests", "messages", reference, "--as", alice)
    assert [m["from_agency"] for m in thread] == [True, False]  # type: ignore[union-attr,index]

    first = _run(cli, "requests", "package", reference, "--as", "lro1")
    rejected = _run(cli, "requests", "reject-package", str(first["id"]), "--as", "lro2", "--reason", "redo")  # type: ignore[index]
    assert rejected["status"] == "rejected"  # type: ignore[index]
    second = _run(cli, "requests", "package", reference, "--as", "lro1")
    password = _run(cli, "requests", "approve-package", str(second["id"]), "--as", "lro2")["password"]  # type: ignore[index]
    out = tmp_path / "package.enc"
    fresh_step(world.engine, alice)
    _run(cli, "requests", "download", str(second["id"]), "--as", alice, "--output", str(out), "--totp", "000000",
         ok=False)  # type: ignore[index]  # fmt: skip
    fresh_step(world.engine, alice)
    _run(cli, "requests", "download", str(second["id"]), "--as", alice, "--output", str(out), "--totp",
         totp_code(world.alice_secret))  # type: ignore[index]  # fmt: skip
    envelope = json.loads((tmp_path / "package.enc.envelope.json").read_text())
    assert open_sealed(out.read_bytes(), envelope, password=password)[:2] == b"PK"

    assert _run(cli, "notifications", "due", "--as", "lro1") == []  # the follow-up's order still holds
    _run(cli, "notifications", "due", "--as", "aud", ok=False)
    changed = _run(cli, "officers", "change-email", "--as", alice, "alice.new@police.example")
    assert changed["email_verified_at"] is None  # type: ignore[index]
    _run(cli, "officers", "resend-verification", "--as", alice)
    _run(cli, "officers", "suspend", world.nils.username, "--as", "root", "--reason", "review")
    _run(cli, "officers", "change-email", "--as", world.nils.username, "nils2@ncb.example", ok=False)
    assert _run(cli, "officers", "reinstate", world.nils.username, "--as", "root")["status"] == "approved"  # type: ignore[index]
    with session_scope(world.engine) as session:
        count = select(func.count()).select_from(LeOutbox).where(LeOutbox.to_address == "alice.new@police.example")
        assert session.scalar(count) == 2
