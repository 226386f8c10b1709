"""Fixtures of the law-enforcement tests: the exchange fixture, the example agencies, approved officers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
import pytest
from fastapi.testclient import TestClient
from fpdf import FPDF
from sqlalchemy import Engine, select, update

from chainsleuth.api.app import create_app
from chainsleuth.api.deps import Principal
from chainsleuth.config import Settings
from chainsleuth.ingest.ledger import load_exchange
from chainsleuth.lawenforcement import agencies, officers
from chainsleuth.lawenforcement.requests import Submission, submit_request
from chainsleuth.lawenforcement.targets import parse_targets_csv
from chainsleuth.store.db import session_scope
from chainsleuth.store.models.lawenforcement import LeOfficer
from chainsleuth.store.models.users import Role, User
from chainsleuth.store.types import utcnow
from chainsleuth.store.users import create_user
from tests.cases.conftest import FIXTURE

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
PASSWORD = "correct-horse-battery-1"
LIMIT = 200_000


def staff(role: Role, name: str) -> Principal:
    return Principal(username=name, display_name=name.title(), role=role, agency_id=None)


ADMIN = staff(Role.ADMIN, "admin")
LRO = staff(Role.LE_RESPONSE_OFFICER, "lro-one")
LRO2 = staff(Role.LE_RESPONSE_OFFICER, "lro-two")
CO = staff(Role.COMPLIANCE_OFFICER, "co-one")


def make_pdf(text: str = "Production order 42/2026") -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(0, 10, text)
    return bytes(pdf.output())


def officer_principal(username: str, agency_id: str) -> Principal:
    return Principal(username=username, display_name=username, role=Role.LE_OFFICER, agency_id=agency_id)


def onboard(engine: Engine, username: str, email: str, now: datetime = NOW) -> tuple[Principal, str]:
    """Register, verify, enrol and approve an officer; returns the principal and the TOTP secret."""
    with session_scope(engine) as session:
        officer, token = officers.register_officer(session, username=username, password=PASSWORD,
                                                   display_name=username, email=email, now=now)  # fmt: skip
        agency_id = officer.agency_id
    who = officer_principal(username, agency_id)
    with session_scope(engine) as session:
        officers.verify_email(session, token, now=now)
        secret, uri = officers.enrol_totp(session, who)
        assert uri.startswith("otpauth://")
    with session_scope(engine) as session:
        officers.confirm_totp(session, who, pyotp.TOTP(secret).at(now), now=now)
        officers.approve_officer(session, ADMIN, username, now=now)
    return who, secret


@dataclass
class World:
    engine: Engine
    alice: Principal  # DEMO-POLICE
    nils: Principal  # NORDIC-NCB
    alice_secret: str
    nils_secret: str


@pytest.fixture
def world(engine: Engine, fast_password_hashing: None) -> World:
    load_exchange(FIXTURE, engine)
    with session_scope(engine) as session:
        agencies.load_registry(session, ADMIN, agencies.EXAMPLE_FILE, now=NOW - timedelta(days=400))
    alice, secret = onboard(engine, "alice.cop", "alice@police.example", NOW - timedelta(days=200))
    nils, nils_secret = onboard(engine, "nils.ncb", "nils@ncb.example", NOW - timedelta(days=200))
    return World(engine, alice, nils, secret, nils_secret)


TARGETS = (
    "customer_id,email,phone,wallet_address,chain,tx_hash\n"
    ",bob@example.org,,,,\n"
    ",,+49 151 0000001,,,\n"
    ",,,0xB2B2B2B2B2B2B2B2B2B2B2B2B2B2B2B2B2B2B2B2,ethereum,\n"
    ",,,,,0x0303030303030303030303030303030303030303030303030303030303030303\n"
)


def submit(
    world: World, who: Principal | None = None, *, request_type: str = "production", basis: str = "court_order",
    categories: tuple[str, ...] = ("subscriber", "transactions"), targets: str = TARGETS, jurisdiction: str = "DE",
    now: datetime = NOW, **extra: object,
) -> int:  # fmt: skip
    form = Submission(request_type=request_type, legal_basis=basis, jurisdiction=jurisdiction, case_number="K-1/26",
                      offence="fraud", data_categories=categories, date_from=NOW - timedelta(days=1000),
                      date_to=NOW, **extra)  # type: ignore[arg-type]  # fmt: skip
    with session_scope(world.engine) as session:
        request = submit_request(session, who or world.alice, form, targets=parse_targets_csv(targets),
                                 instrument=make_pdf(), max_upload_bytes=LIMIT, now=now)  # fmt: skip
        return request.id


def user(engine: Engine, username: str) -> User:
    with session_scope(engine) as session:
        found = session.scalar(select(User).where(User.username == username))
        assert found is not None
        return found


STAFF = {"lro1": "le_response_officer", "lro2": "le_response_officer", "root": "admin", "aud": "auditor",
         "comp": "compliance_officer"}  # fmt: skip


@pytest.fixture
def client(world: World, tmp_path: Path, database_url: str) -> Iterator[TestClient]:
    """The HTTP API over the world, with staff users of each role (password :data:`PASSWORD`)."""
    with session_scope(world.engine) as session:
        for name, role in STAFF.items():
            create_user(session, username=name, password=PASSWORD, role=role, display_name=name)
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, demo=True, max_upload_bytes=20_000)
    with TestClient(create_app(settings, engine=world.engine)) as test_client:
        yield test_client


def auth(client: TestClient, username: str) -> dict[str, str]:
    """Bearer headers of a password log-in."""
    response = client.post("/api/auth/token", data={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def totp_code(secret: str, offset: int = 0) -> str:
    """The code of ``secret`` ``offset`` time steps from now."""
    return pyotp.TOTP(secret).at(utcnow() + timedelta(seconds=30 * offset))


def fresh_step(engine: Engine, username: str) -> None:
    """Forget which time step the officer last used, as if the next 30-second step had come."""
    with session_scope(engine) as session:
        session.execute(update(LeOfficer).where(LeOfficer.username == username).values(totp_last_step=None))
