"""User administration: ``user.manage``, the operator's bootstrap, the last-admin guard, audit; the CLI and API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from chainsleuth.api.app import create_app
from chainsleuth.cli import users_cmd
from chainsleuth.config import Settings, get_settings
from chainsleuth.errors import AuthenticationError, ConflictError, PermissionDeniedError, PolicyViolationError
from chainsleuth.privacy import audit
from chainsleuth.privacy.policy import SystemActor, UserActor
from chainsleuth.store import users
from chainsleuth.store.db import session_scope
from chainsleuth.store.models import Role

pytestmark = pytest.mark.usefixtures("fast_password_hashing")
PASSWORD = "correct horse battery"
OPERATOR = SystemActor("operator:test")
ADMIN = UserActor("root", Role.ADMIN)


def _bootstrap(engine: Engine) -> None:
    with session_scope(engine) as session:
        users.add_user(session, OPERATOR, username="root", password=PASSWORD, role="admin", display_name="Root")


def test_the_operator_bootstraps_one_administrator_only(engine: Engine) -> None:
    with session_scope(engine) as session, pytest.raises(PermissionDeniedError):
        users.add_user(session, OPERATOR, username="ana", password=PASSWORD, role="analyst", display_name="Ana")
    _bootstrap(engine)
    with session_scope(engine) as session, pytest.raises(PermissionDeniedError):
        users.add_user(session, OPERATOR, username="root2", password=PASSWORD, role="admin", display_name="R")
    with session_scope(engine) as session:
        (entry,) = [e for e in audit.tail(session, 5) if e.action == "user.create"]
        assert (entry.actor, entry.object_id, json.loads(entry.details)["bootstrap"]) == (
            "system:operator:test", "root", True)  # fmt: skip


def test_administration_needs_user_manage_and_is_audited(engine: Engine) -> None:
    _bootstrap(engine)
    analyst = UserActor("ana", Role.ANALYST)
    with session_scope(engine) as session:
        users.add_user(session, ADMIN, username="ana", password=PASSWORD, role="analyst", display_name="Ana")
        for call in (
            lambda: users.list_users(session, analyst),
            lambda: users.set_role(session, analyst, "ana", "admin"),
            lambda: users.reset_password(session, analyst, "root", "new password 123"),
        ):
            with pytest.raises(PermissionDeniedError):
                call()
        assert users.set_role(session, ADMIN, "ana", "senior_analyst").role == "senior_analyst"
        users.reset_password(session, ADMIN, "ana", "another password 1")
        users.deactivate(session, ADMIN, "ana", reason="left the company")
    with session_scope(engine) as session:
        with pytest.raises(AuthenticationError):
            users.authenticate(session, "ana", "another password 1")  # deactivated
        actions = [e.action for e in audit.tail(session, 10)]
        assert actions[-4:] == ["user.create", "user.set_role", "user.reset_password", "user.deactivate"]
        assert "another password" not in " ".join(e.details for e in audit.tail(session, 10))
        views = [users.user_view(u) for u in users.list_users(session, ADMIN)]
        assert {v["username"]: v["active"] for v in views} == {"ana": False, "root": True}
        assert all("password_hash" not in v and "totp_secret" not in v for v in views)


def test_the_last_administrator_stays(engine: Engine) -> None:
    _bootstrap(engine)
    with session_scope(engine) as session:
        with pytest.raises(ConflictError):
            users.set_role(session, ADMIN, "root", "auditor")
        with pytest.raises(PolicyViolationError):
            users.deactivate(session, ADMIN, "root", reason="oops")
        users.add_user(session, ADMIN, username="root2", password=PASSWORD, role="admin", display_name="R2")
        assert users.deactivate(session, UserActor("root2", Role.ADMIN), "root", reason="rotation").active is False


def test_cli_users(engine: Engine, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAINSLEUTH_DATABASE_URL", database_url)
    monkeypatch.setenv("CHAINSLEUTH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CHAINSLEUTH_NEW_PASSWORD", PASSWORD)
    monkeypatch.setenv("CHAINSLEUTH_PASSWORD", PASSWORD)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        boot = runner.invoke(users_cmd.app, ["create", "root", "--role", "admin"])
        assert boot.exit_code == 0, boot.output
        assert runner.invoke(users_cmd.app, ["create", "eve", "--role", "admin"]).exit_code != 0  # bootstrap is over
        made = runner.invoke(users_cmd.app, ["create", "ana", "--as", "root", "--display-name", "Ana"])
        assert made.exit_code == 0, made.output
        assert json.loads(made.stdout)["role"] == "analyst"
        assert runner.invoke(users_cmd.app, ["list", "--as", "ana"]).exit_code != 0  # no user.manage
        moved = runner.invoke(users_cmd.app, ["set-role", "ana", "compliance_officer", "--as", "root"])
        assert json.loads(moved.stdout)["role"] == "compliance_officer"
        reset = runner.invoke(users_cmd.app, ["reset-password", "ana", "--as", "root"])
        assert reset.exit_code == 0, reset.output
        gone = runner.invoke(users_cmd.app, ["deactivate", "ana", "--as", "root", "--reason", "left"])
        assert json.loads(gone.stdout)["active"] is False
        listed = json.loads(runner.invoke(users_cmd.app, ["list", "--as", "root"]).stdout)
        assert [(u["username"], u["active"]) for u in listed] == [("ana", False), ("root", True)]
    finally:
        get_settings.cache_clear()


def test_cli_acting_needs_the_one_time_code_of_an_enrolled_user(
    engine: Engine, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = pyotp.random_base32()
    with session_scope(engine) as session:
        users.create_user(session, username="root", password=PASSWORD, role="admin", display_name="Root",
                          totp_secret=secret)  # fmt: skip
    monkeypatch.setenv("CHAINSLEUTH_DATABASE_URL", database_url)
    monkeypatch.setenv("CHAINSLEUTH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CHAINSLEUTH_PASSWORD", PASSWORD)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        assert runner.invoke(users_cmd.app, ["list", "--as", "root"], env={"CHAINSLEUTH_TOTP": "123456"}).exit_code
        ok = runner.invoke(users_cmd.app, ["list", "--as", "root"], env={"CHAINSLEUTH_TOTP": pyotp.TOTP(secret).now()})
        assert ok.exit_code == 0, ok.output
        with session_scope(engine) as session:
            failed = [e for e in audit.tail(session, 5) if e.action == "auth.cli_login_failed"]
        assert [e.object_id for e in failed] == ["root"]
    finally:
        get_settings.cache_clear()


@pytest.fixture
def client(engine: Engine, tmp_path: Path, database_url: str) -> Iterator[TestClient]:
    _bootstrap(engine)
    with session_scope(engine) as session:
        users.add_user(session, ADMIN, username="ana", password=PASSWORD, role="analyst", display_name="Ana")
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, demo=True)
    with TestClient(create_app(settings, engine=engine)) as test_client:
        yield test_client


def _auth(client: TestClient, username: str) -> dict[str, str]:
    token = client.post("/api/auth/token", data={"username": username, "password": PASSWORD}).json()
    return {"Authorization": f"Bearer {token['access_token']}"}


def test_http_users(client: TestClient) -> None:
    root, ana = _auth(client, "root"), _auth(client, "ana")
    assert client.get("/api/users", headers=ana).status_code == 403
    created = client.post(
        "/api/users",
        headers=root,
        json={"username": "cora", "password": PASSWORD, "role": "compliance_officer", "display_name": "Cora"},
    )
    assert created.status_code == 201, created.text
    assert "password" not in created.text
    assert client.post("/api/users/cora/role", headers=root, json={"role": "nobody"}).status_code == 422
    assert client.post("/api/users/cora/role", headers=root, json={"role": "auditor"}).json()["role"] == "auditor"
    assert client.post("/api/users/cora/password", headers=root,
                       json={"password": "brand new password 1"}).status_code == 200  # fmt: skip
    assert client.post("/api/users/ana/deactivate", headers=root, json={"reason": "left"}).json()["active"] is False
    assert client.get("/api/cases", headers=ana).status_code == 401  # the token stops working at once
    assert [u["username"] for u in client.get("/api/users", headers=root).json()] == ["ana", "cora", "root"]
    assert client.get("/api/users/nobody", headers=root).status_code == 404
