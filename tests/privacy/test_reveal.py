"""Pseudonymised views and purpose-logged reveals, in Python and over HTTP; refusals are audited too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from chainsleuth.api.app import create_app
from chainsleuth.api.routers import privacy as privacy_router
from chainsleuth.config import Settings
from chainsleuth.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from chainsleuth.privacy import audit
from chainsleuth.privacy.reveal import (
    check_purpose,
    mask_document,
    mask_email,
    mask_name,
    mask_phone,
    pseudonymised_customer,
    reveal,
)
from chainsleuth.store.db import session_scope
from chainsleuth.store.models.audit import AuditEntry
from chainsleuth.store.models.users import Role
from chainsleuth.store.users import create_user

from .conftest import principal

SENIOR = principal(Role.SENIOR_ANALYST, "sam")
ANALYST = principal(Role.ANALYST, "ann")


def last_entries(engine: Engine, count: int = 1) -> list[AuditEntry]:
    with session_scope(engine) as session:
        return audit.tail(session, count)


def test_masks() -> None:
    assert mask_name("John  Doe") == "J*** D***"
    assert mask_email(" john.doe@example.org") == "j***@example.org"
    assert mask_phone("+442079460018") == "+44********18"
    assert mask_document("X12345678") == "*******78"
    assert mask_email("not-an-email") == mask_name("") == "***"


def test_pseudonymised_view(loaded: Engine) -> None:
    with session_scope(loaded) as session:
        alice = pseudonymised_customer(session, ANALYST, "C0000001")
        bob = pseudonymised_customer(session, ANALYST, "C0000002")
        again = pseudonymised_customer(session, principal(Role.AUDITOR), "C0000001")
        with pytest.raises(PermissionDeniedError):
            pseudonymised_customer(session, principal(Role.LE_OFFICER, agency_id="POL-1"), "C0000001")
        with pytest.raises(NotFoundError):
            pseudonymised_customer(session, ANALYST, "C404")
    assert alice.pseudonym == again.pseudonym != bob.pseudonym
    assert (alice.name, alice.email, alice.birth_year, alice.address) == (
        "A*** E***",
        "a***@example.org",
        "1981",
        "***",
    )
    assert "Alice" not in alice.model_dump_json()
    assert "Example Street" not in alice.model_dump_json()


def test_reveal_is_purpose_logged(loaded: Engine) -> None:
    with session_scope(loaded) as session:
        result = reveal(session, SENIOR, "C0000001", ["full_name", "email"], "case_investigation", case_ref="CASE-7")
    assert result.fields == {"full_name": "Alice Example", "email": "alice@example.org"}
    (entry,) = last_entries(loaded)
    assert (entry.seq, entry.actor, entry.actor_role, entry.action) == (
        result.audit_seq,
        "sam",
        "senior_analyst",
        "customer.reveal",
    )
    assert (entry.object_type, entry.object_id, entry.purpose) == ("customer", "C0000001", "case_investigation")
    assert entry.details == '{"case_ref":"CASE-7","fields":["full_name","email"]}'
    assert "alice@example.org" not in entry.details  # the log names fields, never their values


@pytest.mark.parametrize(
    ("actor", "purpose", "case_ref", "fields", "error", "reason"),
    [
        (ANALYST, "case_investigation", "CASE-1", ["email"], PermissionDeniedError, "permission_denied"),
        (principal(Role.ADMIN), "case_investigation", "CASE-1", ["email"], PermissionDeniedError, "permission_denied"),
        (SENIOR, None, None, ["email"], InvalidInputError, "invalid_input"),
        (SENIOR, "   ", "CASE-1", ["email"], InvalidInputError, "invalid_input"),
        (SENIOR, "curious", "CASE-1", ["email"], InvalidInputError, "invalid_input"),
        (SENIOR, "le_request", None, ["email"], InvalidInputError, "invalid_input"),
        (SENIOR, "kyc_review", None, ["password"], InvalidInputError, "invalid_input"),
        (SENIOR, "kyc_review", None, [], InvalidInputError, "invalid_input"),
    ],
)
def test_refused_reveals_are_audited(
    loaded: Engine,
    actor: object,
    purpose: str | None,
    case_ref: str | None,
    fields: list[str],
    error: type[Exception],
    reason: str,
) -> None:
    with pytest.raises(error), session_scope(loaded) as session:
        reveal(session, actor, "C0000001", fields, purpose, case_ref)  # type: ignore[arg-type]
    (entry,) = last_entries(loaded)  # survived the rollback of the caller's transaction
    assert (entry.action, entry.object_id) == ("customer.reveal_refused", "C0000001")
    assert f'"reason":"{reason}"' in entry.details


def test_purpose_rules() -> None:
    assert check_purpose(" kyc_review ", None) == "kyc_review"
    assert (
        check_purpose("Fraud report from victim, ticket attached", "TICKET-88")
        == "Fraud report from victim, ticket attached"
    )
    with pytest.raises(InvalidInputError, match="reference"):
        check_purpose("Fraud report from victim, ticket attached", None)


# -- HTTP ---------------------------------------------------------------------------------------------------


@pytest.fixture
def client(loaded: Engine, tmp_path: Path, fast_password_hashing: None) -> Iterator[TestClient]:
    with session_scope(loaded) as session:
        for name, role in (("ann", "analyst"), ("sam", "senior_analyst"), ("aud", "auditor"), ("adm", "admin")):
            create_user(session, username=name, password=f"{name}-password-1", role=role, display_name=name)
    app = create_app(Settings(data_dir=tmp_path, demo=True), engine=loaded)
    app.include_router(privacy_router.router)
    with TestClient(app) as test_client:
        yield test_client


def login(client: TestClient, username: str) -> dict[str, str]:
    response = client.post("/api/auth/token", data={"username": username, "password": f"{username}-password-1"})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_http_pseudonymised_reveal_search_and_audit(client: TestClient) -> None:
    ann, sam, aud = login(client, "ann"), login(client, "sam"), login(client, "aud")
    view = client.get("/api/exchange/customers/C0000002/pseudonymised", headers=ann)
    assert view.status_code == 200
    assert view.json()["name"] == "B*** S***"
    assert client.get("/api/exchange/customers/C0000002/pseudonymised").status_code == 401

    body = {"fields": ["email", "phone"], "purpose": "le_request", "case_ref": "LER-2024-001"}
    refused = client.post("/api/exchange/customers/C0000002/reveal", json=body, headers=ann)
    assert refused.status_code == 403
    no_purpose = client.post("/api/exchange/customers/C0000002/reveal", json={**body, "purpose": ""}, headers=sam)
    assert no_purpose.status_code == 422
    revealed = client.post("/api/exchange/customers/C0000002/reveal", json=body, headers=sam)
    assert revealed.status_code == 200, revealed.text
    assert revealed.json()["fields"] == {"email": "bob@example.org", "phone": "+491510000002"}
    assert revealed.headers["Cache-Control"] == "no-store"

    found = client.post("/api/exchange/customers/search", json={"email": "BOB@example.org"}, headers=sam)
    assert [c["customer_id"] for c in found.json()] == ["C0000002"]
    assert "bob@" not in found.text
    assert client.post("/api/exchange/customers/search", json={"email": "x@y.z"}, headers=ann).status_code == 403

    assert client.get("/api/audit/verify", headers=ann).status_code == 403
    verified = client.get("/api/audit/verify", headers=aud).json()
    assert verified["ok"]
    # the load, 3 log-ins, the pseudonymised read, 2 refused reveals (written once each), the reveal, the search,
    # and 2 refused requests by the analyst (the search, the audit check), audited after their transactions rolled
    # back
    assert verified["entries"] == 11
    every = client.get("/api/audit/entries", headers=aud).json()
    refused_requests = sorted(e["object_id"] for e in every if e["action"] == "access.refused")
    assert refused_requests == ["GET /api/audit/verify", "POST /api/exchange/customers/search"]
    entries = client.get("/api/audit/entries", headers=aud, params={"object_id": "C0000002"}).json()
    assert [(e["action"], e["actor"]) for e in entries] == [
        ("customer.read_pseudonymised", "ann"),
        ("customer.reveal_refused", "ann"),
        ("customer.reveal_refused", "sam"),
        ("customer.reveal", "sam"),
    ]
    assert "birth_year" in entries[0]["details"]["derived"]
    entries = entries[1:]
    assert [entries[0]["details"]["reason"], entries[1]["details"]["reason"]] == ["permission_denied", "invalid_input"]
    assert entries[2]["purpose"] == "le_request"
    assert entries[2]["details"]["case_ref"] == "LER-2024-001"
