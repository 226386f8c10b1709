"""The law-enforcement pages over a loaded tiny world, on SQLite and PostgreSQL: the officers' portal
(registration, verification, TOTP, requests, messages, packages) and the response team's desk (queue, triage,
call-back, four-eyes packages, declines, statistics), with the agency scoping, role refusals, CSRF and upload
errors the issue asks for."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update

from chainsleuth.lawenforcement.demo_seed import seed_demo_officer
from chainsleuth.lawenforcement.packages import FIELDS
from chainsleuth.lawenforcement.sealing import open_sealed
from chainsleuth.store.db import session_scope
from chainsleuth.store.models import LedgerEvent
from chainsleuth.store.models.audit import AuditEntry
from chainsleuth.store.models.lawenforcement import LeOfficer, LePackage
from chainsleuth.store.models.users import User
from chainsleuth.web.le_common import open_container
from chainsleuth.web.sessions import COOKIE_NAME, credential_fingerprint
from tests.lawenforcement.conftest import ADMIN, make_pdf, onboard
from tests.web.helpers import csrf_from, loaded_world, login, web_client

LIMIT = 200_000
LRO2 = ("leresponse2", "Second Responder", "demo-leresponse2-pass")


@pytest.fixture(scope="module")
def world(
    module_database_url: str, tiny_world: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    data_dir = tmp_path_factory.mktemp("web-portal")
    with loaded_world(tiny_world, module_database_url, data_dir, max_upload_bytes=LIMIT) as (settings, engine):
        with session_scope(engine) as session:
            secret = seed_demo_officer(session, ADMIN)
            event = session.scalars(select(LedgerEvent).where(LedgerEvent.event_type == "deposit")
                                    .order_by(LedgerEvent.event_id).limit(1)).one()  # fmt: skip
            span = session.execute(select(func.min(LedgerEvent.timestamp), func.max(LedgerEvent.timestamp))).one()
        onboard(engine, "nils.ncb", "nils@ncb.example", datetime.now(UTC) - timedelta(days=100))
        yield {"settings": settings, "engine": engine, "secret": secret, "customer": event.customer_id,
               "from": span[0].date().isoformat(), "to": span[1].date().isoformat()}  # fmt: skip


@pytest.fixture(scope="module")
def client(world: dict[str, Any], tiny_world: Path) -> Iterator[TestClient]:
    with web_client(world["settings"], world["engine"], tiny_world) as test_client:
        yield test_client


def enter(client: TestClient, engine: Engine, username: str) -> str:
    """Start a fully logged-in session (both factors already proved) and return its CSRF token.

    The log-in form itself is tested in test_auth; here a TOTP code could be used only once per time step."""
    client.cookies.clear()
    with session_scope(engine) as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        fingerprint = credential_fingerprint(user.password_hash, user.totp_secret)
    manager = client.app.state.web_sessions  # type: ignore[attr-defined]
    client.cookies.set(COOKIE_NAME, manager.encode(manager.start(username, fingerprint, stage="full")))
    return csrf_from(client.get("/account").text)


def code(engine: Engine, username: str) -> str:
    """A current code the officer's next action will accept (the per-step replay guard is reset for the test)."""
    with session_scope(engine) as session:
        session.execute(update(LeOfficer).where(LeOfficer.username == username).values(totp_last_step=None))
        secret = session.scalars(select(User.totp_secret).where(User.username == username)).one()
    assert secret is not None, f"{username} has no second factor enrolled"
    return pyotp.TOTP(secret).now()


def submit(client: TestClient, world: dict[str, Any], token: str, *, csv_text: str | None = None,
           pdf: bytes | None = None, username: str = "officer", **fields: str) -> Any:  # fmt: skip
    data = {"csrf_token": token, "request_type": "production", "legal_basis": "court_order", "jurisdiction": "DE",
            "case_number": "K-77/26", "offence": "phone theft and account takeover",
            "data_categories": ["subscriber", "transactions"], "date_from": world["from"], "date_to": world["to"],
            "totp_code": code(world["engine"], username), **fields}  # fmt: skip
    files = {"instrument": ("order.pdf", pdf if pdf is not None else make_pdf(), "application/pdf"),
             "targets": ("targets.csv", csv_text or f"customer_id\n{world['customer']}\n", "text/csv")}  # fmt: skip
    return client.post("/portal/new", data=data, files=files, follow_redirects=False)


def reference_of(response: Any) -> str:
    assert response.status_code == 303, response.text[:2000]
    found = re.search(r"(LER-\d{4}-\d{6})", response.headers["location"])
    assert found is not None
    return found.group(1)


def test_registration_verification_totp_and_approval(client: TestClient, world: dict[str, Any]) -> None:
    client.cookies.clear()
    page = client.get("/portal/register")
    assert page.status_code == 200
    assert "official agency e-mail address" in page.text
    token = csrf_from(page.text)
    form = {"csrf_token": token, "username": "kim.cyber", "display_name": "Kim Cyber", "password": "a-long-password-1",
            "password2": "a-long-password-1"}  # fmt: skip
    spoofed = client.post("/portal/register", data={**form, "email": "kim@po1ice.example"})
    assert spoofed.status_code == 403
    assert "not on an official agency domain" in spoofed.text
    assert 'value="kim.cyber"' in spoofed.text
    done = client.post("/portal/register", data={**form, "email": "kim@cyber.police.example"})
    assert done.status_code == 200
    assert "DEMO-POLICE" in done.text
    link = re.search(r'href="(/portal/verify\?token=[^"]+)"', done.text)
    assert link is not None, "demo mode shows the outbox link"
    verify_page = client.get(link.group(1).replace("&amp;", "&"))
    verified = client.post("/portal/verify", data={"csrf_token": csrf_from(verify_page.text),
                                                   "token": link.group(1).split("token=")[1]})  # fmt: skip
    assert verified.status_code == 200
    assert "is verified" in verified.text
    again = client.post("/portal/verify", data={"csrf_token": csrf_from(verify_page.text),
                                                "token": link.group(1).split("token=")[1]})  # fmt: skip
    assert again.status_code == 401
    assert "no longer valid" in again.text
    assert login(client, "kim.cyber", "a-long-password-1", "/portal").status_code == 303  # type: ignore[attr-defined]
    assert client.get("/portal", follow_redirects=False).headers["location"] == "/portal/setup"
    setup = client.get("/portal/setup").text
    assert "not set up yet" in setup
    client.post("/portal/setup/totp", data={"csrf_token": csrf_from(setup)})
    pending = client.get("/portal/setup").text  # the session survived the changed credentials
    secret = re.search(r'data-secret="([A-Z2-7]+)"', pending)
    assert secret is not None
    wrong = client.post("/portal/setup/totp/confirm", data={"csrf_token": csrf_from(pending), "code": "000000"})
    assert wrong.status_code == 401
    assert "wrong authenticator code" in wrong.text
    client.post("/portal/setup/totp/confirm", data={"csrf_token": csrf_from(pending),
                                                    "code": pyotp.TOTP(secret.group(1)).now()})  # fmt: skip
    assert "awaits approval" in client.get("/portal/setup").text
    token = enter(client, world["engine"], "leresponse")
    assert "kim.cyber" in client.get("/le/officers").text
    client.post("/le/officers/kim.cyber/approve", data={"csrf_token": token})
    enter(client, world["engine"], "kim.cyber")
    assert client.get("/portal").status_code == 200


def test_submit_with_malformed_rows_listed_and_corrected(client: TestClient, world: dict[str, Any]) -> None:
    token = enter(client, world["engine"], "officer")
    assert "New request" in client.get("/portal/new").text
    rows = (f"customer_id,email,phone,wallet_address,chain,tx_hash\n{world['customer']},,,,,\n,not-an-email,,,,\n"
            ",,,0xabc,ethereum,\n")  # fmt: skip
    reference = reference_of(submit(client, world, token, csv_text=rows))
    html = client.get(f"/portal/requests/{reference}?done=submitted").text
    assert "Your request was received" in html
    assert "2 to correct" in html
    assert "not an e-mail address" in html
    assert "0x and 40 hexadecimal digits" in html
    assert "risk" not in html.lower().replace("minimum", "")  # no staff internals
    target_ids = re.findall(rf"/portal/requests/{reference}/targets/(\d+)", html)
    assert len(target_ids) == 2
    still = client.post(f"/portal/requests/{reference}/targets/{target_ids[0]}",
                        data={"csrf_token": token, "column": "email", "value": "still-wrong"})  # fmt: skip
    assert still.status_code == 422
    assert "still invalid" in still.text
    fixed = client.post(f"/portal/requests/{reference}/targets/{target_ids[0]}", follow_redirects=False,
                        data={"csrf_token": token, "column": "email", "value": "Thief@Example.org"})  # fmt: skip
    assert fixed.status_code == 303
    assert "1 to correct" in client.get(f"/portal/requests/{reference}").text
    assert reference in client.get("/portal").text


def test_upload_errors_are_shown_and_the_form_kept(client: TestClient, world: dict[str, Any]) -> None:
    token = enter(client, world["engine"], "officer")
    not_pdf = submit(client, world, token, pdf=b"GIF89a not a pdf")
    assert not_pdf.status_code == 422
    assert "must be a PDF" in not_pdf.text
    assert 'value="K-77/26"' in not_pdf.text
    too_big = submit(client, world, token, pdf=b"%PDF-1.4\n" + b"0" * (LIMIT + 10))
    assert too_big.status_code == 413
    assert "larger than the upload limit" in too_big.text
    bad_csv = submit(client, world, token, csv_text="name,iban\nx,y\n")
    assert bad_csv.status_code == 422
    assert "unknown or missing target columns" in bad_csv.text
    bad_code = submit(client, world, token, totp_code="000000")
    assert bad_code.status_code == 401
    assert "authenticator code" in bad_code.text
    missing = submit(client, world, token, case_number="")
    assert missing.status_code == 422
    assert "case_number" in missing.text


def test_officer_sees_only_their_agency(client: TestClient, world: dict[str, Any]) -> None:
    token = enter(client, world["engine"], "officer")
    reference = reference_of(submit(client, world, token))
    enter(client, world["engine"], "nils.ncb")
    other = client.get(f"/portal/requests/{reference}")
    missing = client.get("/portal/requests/LER-2000-999999")
    assert other.status_code == missing.status_code == 404
    assert re.sub(r"LER-\d{4}-\d{6}", "", other.text) == re.sub(r"LER-\d{4}-\d{6}", "", missing.text)
    assert reference not in client.get("/portal").text
    assert client.get(f"/portal/requests/{reference}/messages/1/attachment").status_code == 404


def test_roles_and_csrf(client: TestClient, world: dict[str, Any]) -> None:
    token = enter(client, world["engine"], "officer")
    for path in ("/le/queue", "/le/stats", "/le/officers"):
        assert client.get(path).status_code == 403, path
    assert 'href="/le/stats"' not in client.get("/portal").text  # they share le_request.read, not the page
    assert client.post("/portal/new", data={"case_number": "x"}).status_code == 403  # no CSRF token
    reference = reference_of(submit(client, world, token))
    enter(client, world["engine"], "leresponse")
    assert client.get("/portal").status_code == 403
    assert client.get("/portal/new").status_code == 403
    assert client.post(f"/le/requests/{reference}/triage").status_code == 403  # no CSRF token
    enter(client, world["engine"], "compliance")
    assert client.get("/le/queue").status_code == 403
    # staff who read requests without triaging them (compliance, auditors) find the statistics in the menu
    assert 'href="/le/stats"' in client.get("/dashboard").text
    assert client.get("/le/stats").status_code == 200
    client.cookies.clear()
    assert client.get("/le/queue", follow_redirects=False).headers["location"].startswith("/login")


def test_triage_callback_four_eyes_package_and_download(client: TestClient, world: dict[str, Any]) -> None:
    engine = world["engine"]
    token = enter(client, engine, "officer")
    reference = reference_of(submit(client, world, token))
    client.post(f"/portal/requests/{reference}/messages", data={"csrf_token": token, "body": "Urgent: victim waiting."},
                files={"attachment": ("note.txt", b"statement", "text/plain")})  # fmt: skip
    token = enter(client, engine, "leresponse")
    queue = client.get("/le/queue").text
    assert reference in queue
    assert "Take the next request" in queue
    client.post(f"/le/requests/{reference}/claim", data={"csrf_token": token})
    client.post(f"/le/requests/{reference}/triage", data={"csrf_token": token})
    page = client.get(f"/le/requests/{reference}").text
    assert 'badge-ok">complete' in page
    assert "May disclose" in page
    assert "Triage again" in page
    assert world["customer"] in page
    assert "Requester risk" in page
    assert "Urgent: victim waiting." in page
    assert "Seen before" in page  # the earlier tests' requests name the same customer
    wrong_phone = client.post(f"/le/requests/{reference}/callback", data={"csrf_token": token, "phone": "+1 555 0000",
                                                                         "outcome": "confirmed"})  # fmt: skip
    assert wrong_phone.status_code == 403
    assert "registry" in wrong_phone.text
    drafted = client.post(f"/le/requests/{reference}/package", data={"csrf_token": token}, follow_redirects=False)
    package_url = drafted.headers["location"].split("?")[0]
    own = client.get(package_url).text
    assert "a colleague must approve it" in own
    assert "Subscriber" in own
    refused = client.post(package_url + "/approve", data={"csrf_token": token, "days": "30"})
    assert refused.status_code == 403
    assert "four-eyes" in refused.text
    with session_scope(engine) as s:  # the refused approval is in the audit log, written after the rollback
        refusal = s.scalars(select(AuditEntry).where(AuditEntry.action == "access.refused")
                            .order_by(AuditEntry.seq.desc())).first()  # fmt: skip
        assert refusal is not None
        assert refusal.object_id == f"POST {package_url}/approve"
        assert "four-eyes" in refusal.details
    token = enter(client, engine, LRO2[0])
    approved = client.post(package_url + "/approve", data={"csrf_token": token, "days": "30"})
    password = re.search(r'id="password-value">([^<]+)<', approved.text)
    assert approved.status_code == 200
    assert password is not None
    assert password.group(1) not in client.get(package_url).text  # shown once
    token = enter(client, engine, "officer")
    page = client.get(f"/portal/requests/{reference}").text
    assert "Download the sealed package" in page
    assert "Urgent: victim waiting." in page
    package_id = package_url.rsplit("/", 1)[1]
    refused_code = client.post(f"/portal/packages/{package_id}/download", data={"csrf_token": token, "code": "1"})
    assert refused_code.status_code == 401
    download = client.post(f"/portal/packages/{package_id}/download",
                           data={"csrf_token": token, "code": code(engine, "officer")})  # fmt: skip
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/zip"
    ciphertext, envelope = open_container(download.content)
    with zipfile.ZipFile(io.BytesIO(open_sealed(ciphertext, envelope, password=password.group(1)))) as bundle:
        header = bundle.read("subscriber.csv").decode().splitlines()[0].split(",")
        assert set(header) <= set(FIELDS["subscriber"])
        assert "risk_rating" not in header
        assert world["customer"] in bundle.read("subscriber.csv").decode()
    message_id = re.search(rf"/portal/requests/{reference}/messages/(\d+)/attachment", page)
    assert message_id is not None
    assert client.get(f"/portal/requests/{reference}/messages/{message_id.group(1)}/attachment").content == b"statement"
    other_token = enter(client, engine, "nils.ncb")  # another agency's officer, with a valid code of their own
    stolen = client.post(f"/portal/packages/{package_id}/download",
                         data={"csrf_token": other_token, "code": code(engine, "nils.ncb")})  # fmt: skip
    assert stolen.status_code == 404
    assert "sealed" not in stolen.headers.get("content-disposition", "")
    token = enter(client, engine, "officer")
    with session_scope(engine) as session:
        session.execute(update(LePackage).where(LePackage.id == int(package_id))
                        .values(expires_at=datetime.now(UTC) - timedelta(minutes=1)))  # fmt: skip
    expired = client.post(f"/portal/packages/{package_id}/download",
                          data={"csrf_token": token, "code": code(engine, "officer")})  # fmt: skip
    assert expired.status_code == 410
    assert "expired" in expired.text


def test_next_narrow_and_staff_message(client: TestClient, world: dict[str, Any]) -> None:
    token = enter(client, world["engine"], "officer")
    reference = reference_of(submit(client, world, token))
    token = enter(client, world["engine"], LRO2[0])
    taken = client.post("/le/queue/next", data={"csrf_token": token}, follow_redirects=False)
    assert taken.status_code == 303
    assert taken.headers["location"].endswith("?done=claimed")
    client.post(f"/le/requests/{reference}/triage", data={"csrf_token": token})
    narrowed = client.post(
        f"/le/requests/{reference}/narrow",
        follow_redirects=True,
        data={"csrf_token": token, "categories": ["subscriber"], "template": "overbroad"},
    )
    assert "The response is narrowed" in narrowed.text
    assert 'badge-muted">transactions' in narrowed.text
    bad = client.post(f"/le/requests/{reference}/narrow", data={"csrf_token": token, "categories": ["balances"]})
    assert bad.status_code == 422
    client.post(f"/le/requests/{reference}/messages", data={"csrf_token": token, "body": "Please confirm the IBAN."})
    assert reference in client.get("/dashboard").text.split('id="section-le_requests"')[1]
    enter(client, world["engine"], "officer")
    officer_page = client.get(f"/portal/requests/{reference}").text
    assert "Please confirm the IBAN." in officer_page
    narrowing = re.search(r'id="narrowing">(.*?)</dd>', officer_page, re.S)
    assert narrowing is not None, "the agency sees what was cut and why"
    assert "transactions" in narrowing.group(1)
    assert "broader than the legal basis permits" in narrowing.group(1)
    assert reference in client.get("/dashboard").text.split('id="section-le_portal"')[1]


def test_decline_and_statistics(client: TestClient, world: dict[str, Any]) -> None:
    token = enter(client, world["engine"], "officer")
    reference = reference_of(submit(client, world, token, legal_basis="subpoena", jurisdiction="AT"))
    token = enter(client, world["engine"], "leresponse")
    client.post(f"/le/requests/{reference}/triage", data={"csrf_token": token})
    declined = client.post(
        f"/le/requests/{reference}/decline",
        follow_redirects=True,
        data={"csrf_token": token, "template": "insufficient_legal_basis", "note": "Ref 12."},
    )
    assert "declined" in declined.text
    assert "does not authorise" in declined.text
    stats = client.get("/le/stats").text
    assert "Disclosure rate" in stats
    assert "DEMO-POLICE" in stats
    assert "production" in stats
    report = client.get("/le/stats/transparency.csv")
    assert report.status_code == 200
    assert "DE" in report.text
    token = enter(client, world["engine"], "officer")
    assert "does not authorise" in client.get(f"/portal/requests/{reference}").text


def test_replacing_the_authenticator_and_changing_the_address(client: TestClient, world: dict[str, Any]) -> None:
    engine = world["engine"]
    onboard(engine, "pia.web", "pia@police.example", datetime.now(UTC) - timedelta(days=100))
    token = enter(client, engine, "pia.web")
    page = client.get("/portal/setup").text
    assert 'id="totp-replace-form"' in page
    assert 'id="email-form"' in page
    with session_scope(engine) as session:
        before = session.scalars(select(User.totp_secret).where(User.username == "pia.web")).one()
    bare = client.post("/portal/setup/totp", data={"csrf_token": token})  # a hijacked session, no code
    assert bare.status_code == 401
    assert "current code" in bare.text
    wrong = client.post("/portal/setup/totp", data={"csrf_token": token, "code": "000000"})
    assert wrong.status_code == 401
    with session_scope(engine) as session:
        assert session.scalars(select(User.totp_secret).where(User.username == "pia.web")).one() == before
    replaced = client.post("/portal/setup/totp", data={"csrf_token": token, "code": code(engine, "pia.web")},
                           follow_redirects=False)  # fmt: skip
    assert replaced.status_code == 303
    pending = client.get("/portal/setup").text  # the session continues under the new credentials
    secret = re.search(r'data-secret="([A-Z2-7]+)"', pending)
    assert secret is not None
    assert secret.group(1) != before
    client.post("/portal/setup/totp/confirm", data={"csrf_token": csrf_from(pending),
                                                    "code": pyotp.TOTP(secret.group(1)).now()})  # fmt: skip
    token = csrf_from(client.get("/portal/setup").text)
    spoofed = client.post("/portal/setup/email", data={"csrf_token": token, "email": "pia@evil-police.example"})
    assert spoofed.status_code == 403
    assert "not on an official domain of your agency" in spoofed.text
    foreign = client.post("/portal/setup/email", data={"csrf_token": token, "email": "pia@ncb.example"})
    assert foreign.status_code == 403
    moved = client.post("/portal/setup/email", data={"csrf_token": token, "email": "Pia@CYBER.police.example"})
    assert moved.status_code == 200
    assert "A verification code was sent" in moved.text
    assert "pia@cyber.police.example" in moved.text.lower()
    assert "the e-mail address is not verified" in moved.text
    resent = client.post("/portal/setup/verification", data={"csrf_token": csrf_from(moved.text)})
    link = re.search(r'href="(/portal/verify\?token=[^"]+)"', resent.text)
    assert link is not None, "demo mode shows the new code's link"
    with session_scope(engine) as session:
        officer = session.scalars(select(LeOfficer).where(LeOfficer.username == "pia.web")).one()
        assert officer.email == "Pia@cyber.police.example"
        assert officer.email_verified_at is None
        officer.status = "suspended"
    suspended = client.post("/portal/setup/email", data={"csrf_token": csrf_from(resent.text),
                                                          "email": "pia@police.example"})  # fmt: skip
    assert suspended.status_code == 403
    assert "suspended" in suspended.text
