"""``/api/auth/token``: the second factor for enrolled users, the shared log-in throttle, and the audit trail."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from chainsleuth.api.app import create_app
from chainsleuth.config import Settings
from chainsleuth.privacy import audit
from chainsleuth.store.db import session_scope
from chainsleuth.store.users import create_user

PASSWORD = "correct-horse-battery-1"
SECRET = pyotp.random_base32()


@pytest.fixture
def client(engine: Engine, tmp_path: Path, database_url: str, fast_password_hashing: None) -> Iterator[TestClient]:
    with session_scope(engine) as session:
        create_user(session, username="tess", password=PASSWORD, role="compliance_officer", display_name="Tess",
                    totp_secret=SECRET)  # fmt: skip
        create_user(session, username="plain", password=PASSWORD, role="analyst", display_name="Plain")
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, demo=True)
    with TestClient(create_app(settings, engine=engine)) as test_client:
        yield test_client


def _token(client: TestClient, username: str, password: str = PASSWORD, **extra: str) -> int:
    return client.post("/api/auth/token", data={"username": username, "password": password, **extra}).status_code


def _actions(engine: Engine) -> list[tuple[str, str, dict[str, object]]]:
    with session_scope(engine) as session:
        return [(e.action, e.object_id or "", json.loads(e.details)) for e in audit.tail(session, 50)]


def test_an_enrolled_user_needs_a_current_code(client: TestClient, engine: Engine) -> None:
    assert _token(client, "tess") == 401  # the password alone is not enough
    assert _token(client, "tess", totp_code="000000") in (401,)
    code = pyotp.TOTP(SECRET).now()
    assert _token(client, "tess", totp_code=code) == 200
    assert _token(client, "tess", totp_code=code) == 401  # a code is accepted once
    logged = _actions(engine)
    failures = [d for a, who, d in logged if a == "auth.api_login_failed" and who == "tess"]
    assert len(failures) == 3
    assert any("one-time code" in str(d["reason"]) for d in failures)
    assert [d["second_factor"] for a, who, d in logged if a == "auth.api_login" and who == "tess"] == [True]


def test_the_code_may_come_as_a_header(client: TestClient) -> None:
    response = client.post("/api/auth/token", data={"username": "tess", "password": PASSWORD},
                           headers={"X-TOTP-Code": pyotp.TOTP(SECRET).now()})  # fmt: skip
    assert response.status_code == 200, response.text


def test_a_user_without_2fa_logs_in_with_the_password_and_is_audited(client: TestClient, engine: Engine) -> None:
    assert _token(client, "plain") == 200
    assert ("auth.api_login", "plain", {"client": "testclient", "second_factor": False}) in _actions(engine)


def test_failed_log_ins_lock_the_username_out(client: TestClient, engine: Engine) -> None:
    for _ in range(5):
        assert _token(client, "plain", password="wrong-password-123") == 401
    assert _token(client, "plain") == 401  # locked out even with the right password
    locked = [d for a, who, d in _actions(engine) if a == "auth.api_login_failed" and who == "plain"]
    # five audited failures, the fifth causing the lock-out; refused attempts while locked cost nothing, log nothing
    assert [d["locked_out"] for d in locked] == [False] * 4 + [True]
