"""Log-in, TOTP, CSRF, session expiry, log-out and lock-out of the web pages, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from chainsleuth.api.app import create_app
from chainsleuth.config import Settings
from chainsleuth.privacy import passwords
from chainsleuth.store.db import create_engine_for, session_scope
from chainsleuth.store.models.audit import AuditEntry
from chainsleuth.store.users import create_user, seed_demo_users
from chainsleuth.web.sessions import COOKIE_NAME, LoginThrottle, SessionManager
from tests.web.helpers import csrf_from, login

TOTP_SECRET = pyotp.random_base32()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def auth_setup(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Engine]]:
    previous = passwords.get_hasher()
    passwords.configure(time_cost=1, memory_cost=1024, parallelism=1)
    settings = Settings(data_dir=tmp_path_factory.mktemp("web-auth"), database_url=module_database_url, demo=True)
    engine = create_engine_for(module_database_url)
    try:
        with session_scope(engine) as session:
            seed_demo_users(session)
            create_user(
                session,
                username="twofactor",
                password="two-factor-pass-1",
                role="senior_analyst",
                display_name="Tess Two-Factor",
                totp_secret=TOTP_SECRET,
            )
            create_user(
                session, username="victim", password="victim-password-1", role="analyst", display_name="Vic Victim"
            )
        yield settings, engine
    finally:
        engine.dispose()
        passwords.set_hasher(previous)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(auth_setup: tuple[Settings, Engine], clock: FakeClock) -> Iterator[TestClient]:
    settings, engine = auth_setup
    app = create_app(settings, engine=engine)
    manager: SessionManager = app.state.web_sessions
    manager.clock = clock
    manager.throttle = LoginThrottle(manager.config, clock)
    with TestClient(app) as test_client:
        yield test_client


def test_anonymous_visitor_is_sent_to_log_in_and_back(client: TestClient) -> None:
    response = client.get("/customers?risk=high", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/customers%3Frisk%3Dhigh"
    assert client.get("/", follow_redirects=False).headers["location"] == "/dashboard"
    logged_in = login(client, "analyst", next_url="/customers?risk=high")
    assert logged_in.headers["location"] == "/customers?risk=high"  # type: ignore[attr-defined]


def test_wrong_password_is_refused_with_the_uniform_message(client: TestClient) -> None:
    response = login(client, "analyst", "not-the-password")
    assert response.status_code == 401  # type: ignore[attr-defined]
    assert "invalid username or password" in response.text  # type: ignore[attr-defined]
    assert client.get("/dashboard", follow_redirects=False).status_code == 303


def test_cookie_flags_and_open_redirect_guard(client: TestClient) -> None:
    response = login(client, "analyst", next_url="//evil.example/phish")
    assert response.headers["location"] == "/dashboard"  # type: ignore[attr-defined]
    cookie = response.headers["set-cookie"]  # type: ignore[attr-defined]
    assert COOKIE_NAME in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http in tests; https sets it


def test_totp_is_required_and_checked(client: TestClient, clock: FakeClock) -> None:
    response = login(client, "twofactor", "two-factor-pass-1")
    assert response.headers["location"].startswith("/login/totp")  # type: ignore[attr-defined]
    # password alone opens nothing
    assert client.get("/dashboard", follow_redirects=False).headers["location"].startswith("/login")
    page = client.get("/login/totp")
    token = csrf_from(page.text)
    wrong = client.post("/login/totp", data={"code": "000000", "csrf_token": token, "next": "/dashboard"})
    assert wrong.status_code == 401
    assert "not valid" in wrong.text
    code = pyotp.TOTP(TOTP_SECRET).at(int(clock.now))
    right = client.post(
        "/login/totp", data={"code": code, "csrf_token": token, "next": "/dashboard"}, follow_redirects=False
    )
    assert right.status_code == 303
    assert right.headers["location"] == "/dashboard"
    assert client.get("/dashboard").status_code == 200
    # the same code cannot be replayed for a second log-in
    login(client, "twofactor", "two-factor-pass-1")
    token = csrf_from(client.get("/login/totp").text)
    replay = client.post("/login/totp", data={"code": code, "csrf_token": token, "next": "/dashboard"})
    assert replay.status_code == 401


def test_post_without_csrf_token_is_refused(client: TestClient) -> None:
    client.get("/login")
    no_token = client.post("/login", data={"username": "analyst", "password": "demo-analyst-pass"})
    assert no_token.status_code == 403
    assert "did not come from this site" in no_token.text
    login(client, "senior")
    refused = client.post("/customers/C0000001/reveal", data={"fields": "email", "purpose": "kyc_review"})
    assert refused.status_code == 403
    forged = client.post("/logout", data={"csrf_token": "forged"}, follow_redirects=False)
    assert forged.status_code == 403
    assert client.get("/dashboard", follow_redirects=False).status_code == 200  # still logged in


def test_session_expires_when_idle_and_after_its_lifetime(client: TestClient, clock: FakeClock) -> None:
    login(client, "analyst")
    assert client.get("/dashboard", follow_redirects=False).status_code == 200
    clock.now += 29 * 60
    assert client.get("/dashboard", follow_redirects=False).status_code == 200  # activity slides the idle timeout
    clock.now += 29 * 60
    assert client.get("/dashboard", follow_redirects=False).status_code == 200
    clock.now += 31 * 60
    assert client.get("/dashboard", follow_redirects=False).status_code == 303  # idle for 31 minutes
    login(client, "analyst")
    for _ in range(17):  # active all day: the absolute lifetime of 8 hours still ends the session
        clock.now += 29 * 60
        client.get("/dashboard", follow_redirects=False)
    assert client.get("/dashboard", follow_redirects=False).status_code == 303


def test_log_out_revokes_the_session_cookie(client: TestClient, auth_setup: tuple[Settings, Engine]) -> None:
    login(client, "analyst")
    cookie = client.cookies.get(COOKIE_NAME)
    token = csrf_from(client.get("/dashboard").text)
    response = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.headers["location"] == "/login?bye=1"
    client.cookies.set(COOKIE_NAME, cookie or "")  # a stolen copy of the cookie no longer works
    assert client.get("/dashboard", follow_redirects=False).status_code == 303
    _, engine = auth_setup
    with session_scope(engine) as session:
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.actor == "analyst")).all()
    assert "auth.login" in actions
    assert "auth.logout" in actions


def test_repeated_failures_lock_the_username_out(client: TestClient, clock: FakeClock) -> None:
    for _ in range(5):
        assert login(client, "victim", "wrong-password-x").status_code == 401  # type: ignore[attr-defined]
    locked = login(client, "victim", "victim-password-1")
    assert locked.status_code == 429  # type: ignore[attr-defined]
    assert "Too many failed attempts" in locked.text  # type: ignore[attr-defined]
    clock.now += 16 * 60
    assert login(client, "victim", "victim-password-1").status_code == 303  # type: ignore[attr-defined]


def test_totp_enrolment_turns_the_second_factor_on(client: TestClient, clock: FakeClock) -> None:
    login(client, "compliance")
    token = csrf_from(client.get("/account").text)
    client.post("/account/totp/start", data={"csrf_token": token})
    page = client.get("/account").text
    assert "otpauth://totp/chainsleuth:compliance" in page
    key = page.split('id="totp-key">')[1].split("<")[0]
    assert all(len(group) == 4 for group in key.split())
    secret = key.replace(" ", "")
    code = pyotp.TOTP(secret).at(int(clock.now))
    done = client.post("/account/totp/confirm", data={"csrf_token": token, "code": code})
    assert "Two-factor authentication is now on" in done.text
    assert client.get("/dashboard", follow_redirects=False).status_code == 200  # this session continues
    again = login(client, "compliance")
    assert again.headers["location"].startswith("/login/totp")  # type: ignore[attr-defined]


def test_unknown_page_and_api_errors_keep_their_format(client: TestClient) -> None:
    login(client, "analyst")
    page = client.get("/no-such-page")
    assert page.status_code == 404
    assert "<html" in page.text
    api = client.get("/api/exchange/customers")  # the API wants a bearer token, not the page session
    assert api.status_code == 401
    assert "error" in api.json()


def test_static_assets_are_served(client: TestClient) -> None:
    for path in ("/static/css/app.css", "/static/js/app.js", "/static/js/graph.js", "/static/vendor/htmx.min.js"):
        assert client.get(path).status_code == 200, path


def test_dashboard_has_no_inline_script(client: TestClient) -> None:
    login(client, "analyst")
    html = client.get("/dashboard").text
    assert "<script>" not in html
    assert " on" + "click=" not in html
