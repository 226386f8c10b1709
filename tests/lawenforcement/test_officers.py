"""Agencies and officers: registry loading, official-domain checks against look-alikes, e-mail verification,
TOTP, approval, suspension, re-verification on e-mail change, and the requester risk score."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import func, select

from chainsleuth.errors import (
    AuthenticationError,
    InvalidInputError,
    MalformedFileError,
    PermissionDeniedError,
    PolicyViolationError,
)
from chainsleuth.lawenforcement import agencies, officers
from chainsleuth.lawenforcement.domains import check_email
from chainsleuth.store.db import session_scope
from chainsleuth.store.models.audit import AuditEntry
from chainsleuth.store.models.lawenforcement import LeOfficer, LeOutbox, LeRequest
from tests.lawenforcement.conftest import ADMIN, LRO, NOW, PASSWORD, World, onboard, submit

REGISTRY = {"police.example": "DEMO-POLICE", "cyber.police.example": "DEMO-POLICE", "ncb.example": "NORDIC-NCB"}


@pytest.mark.parametrize("email", ["a@police.example", "a@unit7.cyber.police.example", "A@POLICE.EXAMPLE."])
def test_official_domains_and_subdomains_accepted(email: str) -> None:
    check = check_email(email, REGISTRY)
    assert check.accepted
    assert check.agency_id == "DEMO-POLICE"


@pytest.mark.parametrize(
    ("email", "reason"),
    [
        ("a@po1ice.example", "looks like the official domain police.example"),
        ("a@police.example.evil.com", "subdomain trick"),
        ("a@pоlice.example", "internationalised"),  # Cyrillic о
        ("a@xn--plice-4ye.example", "internationalised"),  # punycode
        ("a@police-example.com", "resembles the official domain police.example"),
        ("a@pollce.example", "police.example"),
        ("a@gmail.com", "not on the agency registry"),
        ("a@notpolice.example", "prefix look-alike"),
        ("a@evil-police.example", "ends like the official domain police.example"),
    ],
)
def test_lookalike_domains_refused_with_reason(email: str, reason: str) -> None:
    check = check_email(email, REGISTRY)
    assert not check.accepted
    assert check.agency_id is None
    assert any(reason in r for r in check.reasons), check.reasons


def test_registry_file_validation(tmp_path) -> None:  # type: ignore[no-untyped-def]
    entries = agencies.parse_registry(agencies.EXAMPLE_FILE.read_text(), path="x.yaml")
    assert {e["agency_id"] for e in entries} >= {"DEMO-POLICE", "NORDIC-NCB"}
    csv_text = (
        "agency_id,name,country,domains,jurisdictions,contact_name,contact_phone\n"
        "X,X Police,GB,x.example,GB,Desk,+44 20 0000 0000\n"
    )
    assert agencies.parse_registry(csv_text, path="a.csv")[0]["domains"] == ["x.example"]
    with pytest.raises(InvalidInputError, match="valid ASCII domain"):
        agencies.parse_registry("agencies: [{agency_id: A, name: A, country: DE, domains: ['pоlice.example']}]")
    with pytest.raises(MalformedFileError):
        agencies.parse_registry("agencies: {not: a list}")


def test_spoofed_domain_registration_refused_and_audited(world: World) -> None:
    for email in ("eve@po1ice.example", "eve@police.example.evil.com"):
        with session_scope(world.engine) as session, pytest.raises(PolicyViolationError) as caught:
            officers.register_officer(session, username="eve", password=PASSWORD, display_name="Eve", email=email)
        assert caught.value.details["reasons"]
    with session_scope(world.engine) as session:
        assert session.scalar(select(func.count()).select_from(LeOfficer).where(LeOfficer.username == "eve")) == 0
        refused = session.scalars(select(AuditEntry).where(AuditEntry.action == "le_officer.register_refused")).all()
        assert len(refused) == 2


def test_verification_totp_approval_flow(world: World) -> None:
    with session_scope(world.engine) as session:
        _officer, token = officers.register_officer(session, username="olaf", password=PASSWORD, display_name="Olaf",
                                                   email="olaf@cyber.police.example", now=NOW)  # fmt: skip
        mail = session.scalars(select(LeOutbox).where(LeOutbox.to_address == "olaf@cyber.police.example")).one()
        assert token in mail.body
    who = officers.Applicant("olaf", "DEMO-POLICE")
    olaf = world.alice.__class__(username="olaf", display_name="o", role=world.alice.role, agency_id="DEMO-POLICE")
    with session_scope(world.engine) as session, pytest.raises(PermissionDeniedError):
        officers.require_active_officer(session, olaf)
    with session_scope(world.engine) as session, pytest.raises(PolicyViolationError, match="verify"):
        officers.approve_officer(session, ADMIN, "olaf")
    with session_scope(world.engine) as session, pytest.raises(AuthenticationError):
        officers.verify_email(session, token + "x")
    with session_scope(world.engine) as session:
        officers.verify_email(session, token, now=NOW)
    with session_scope(world.engine) as session, pytest.raises(AuthenticationError):
        officers.verify_email(session, token, now=NOW)  # single use
    with session_scope(world.engine) as session:
        secret, _ = officers.enrol_totp(session, who)
    with session_scope(world.engine) as session, pytest.raises(AuthenticationError):
        officers.confirm_totp(session, who, "000000" if pyotp.TOTP(secret).at(NOW) != "000000" else "111111", now=NOW)
    with session_scope(world.engine) as session:
        officers.confirm_totp(session, who, pyotp.TOTP(secret).at(NOW), now=NOW)
    with session_scope(world.engine) as session, pytest.raises(AuthenticationError):  # replay of the same code
        officers.check_totp(session, who, pyotp.TOTP(secret).at(NOW), now=NOW)
    with session_scope(world.engine) as session:
        officers.approve_officer(session, ADMIN, "olaf", now=NOW)
        assert officers.get_officer(session, "olaf").failed_checks == 3  # bad token, reused token, bad code... counted
    with session_scope(world.engine) as session, pytest.raises(PermissionDeniedError):
        officers.approve_officer(session, world.alice, "olaf")  # officers cannot approve


def test_email_change_requires_reverification_and_same_agency(world: World) -> None:
    with session_scope(world.engine) as session, pytest.raises(PolicyViolationError):
        officers.change_email(session, world.alice, "alice@ncb.example")  # another agency's domain
    with session_scope(world.engine) as session:
        _, token = officers.change_email(session, world.alice, "alice@cyber.police.example")
    with session_scope(world.engine) as session, pytest.raises(PermissionDeniedError, match="not verified"):
        officers.require_active_officer(session, world.alice)
    with session_scope(world.engine) as session:
        officers.verify_email(session, token)
        officers.require_active_officer(session, world.alice)


def test_suspension_blocks_everything(world: World) -> None:
    request_id = submit(world)
    with session_scope(world.engine) as session:
        officers.suspend_officer(session, LRO, world.alice.username, "impersonation report")
    from chainsleuth.errors import NotFoundError
    from chainsleuth.lawenforcement.requests import get_request

    with session_scope(world.engine) as session, pytest.raises(NotFoundError):
        get_request(session, world.alice, request_id)
    with pytest.raises(PermissionDeniedError, match="suspended"):
        submit(world)
    with session_scope(world.engine) as session:
        officers.reinstate_officer(session, LRO, world.alice.username)
        assert get_request(session, world.alice, request_id).id == request_id


def test_risk_score_reasons(world: World, fast_password_hashing: None) -> None:
    newbie, _ = onboard(world.engine, "newbie", "newbie@police.example", NOW - timedelta(days=2))
    request_id = submit(world, newbie, jurisdiction="US")
    with session_scope(world.engine) as session:
        request = session.get(LeRequest, request_id)
        assert request is not None
        text = " ".join(request.risk_reasons)
        assert "new officer account" in text
        assert "out-of-jurisdiction" in text
        assert request.risk_score >= 35
    for _ in range(5):
        last = submit(world)
    with session_scope(world.engine) as session:
        spiky = session.get(LeRequest, last)
        assert spiky is not None
        assert any("volume spike" in r for r in spiky.risk_reasons)
    with session_scope(world.engine) as session:  # the agency drops the domain: the officer's requests are risky
        agency = agencies.get_agency(session, "DEMO-POLICE")
        agency.domains = ["cyber.police.example"]
    with session_scope(world.engine) as session:
        officer = officers.get_officer(session, world.alice.username)
        from chainsleuth.lawenforcement.risk import requester_risk

        score, reasons = requester_risk(session, officer, agencies.get_agency(session, "DEMO-POLICE"), "DE", NOW)
        assert score >= 40
        assert "no longer on the agency's registry" in reasons[0]
