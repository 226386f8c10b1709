"""The HTTP API over a loaded tiny world, on SQLite and PostgreSQL: login, roles, views without personal data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from chainsleuth.api.app import create_app
from chainsleuth.config import Settings
from chainsleuth.ingest.etl import ingest_world_chains
from chainsleuth.ingest.ledger import load_exchange
from chainsleuth.privacy import passwords
from chainsleuth.store.chainstore import ChainStore
from chainsleuth.store.db import create_engine_for, session_scope
from chainsleuth.store.models import Customer, DepositAddress, LedgerEvent
from chainsleuth.store.users import DEMO_USERS, create_user, seed_demo_users


@pytest.fixture(scope="module")
def loaded(
    module_database_url: str, tiny_world: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, Engine]]:
    previous = passwords.get_hasher()
    passwords.configure(time_cost=1, memory_cost=1024, parallelism=1)
    data_dir = tmp_path_factory.mktemp("api-data")
    settings = Settings(data_dir=data_dir, database_url=module_database_url, demo=True)
    engine = create_engine_for(module_database_url)
    try:
        load_exchange(tiny_world, engine)
        ingest_world_chains(tiny_world, ChainStore(settings.chain_dir))
        with session_scope(engine) as session:
            seed_demo_users(session)
            create_user(
                session,
                username="retired",
                password="retired-password-1",
                role="analyst",
                display_name="Retired",
                active=False,
            )
        yield settings, engine
    finally:
        engine.dispose()
        passwords.set_hasher(previous)


@pytest.fixture(scope="module")
def client(loaded: tuple[Settings, Engine], tiny_world: Path) -> Iterator[TestClient]:
    settings, engine = loaded
    with TestClient(create_app(settings, engine=engine, world_dir=tiny_world)) as test_client:
        yield test_client


def _password(username: str) -> str:
    return next(password for name, _, password, _, _ in DEMO_USERS if name == username)


def _login(client: TestClient, username: str) -> dict[str, str]:
    response = client.post("/api/auth/token", data={"username": username, "password": _password(username)})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_health_needs_no_login_and_reports_schema(client: TestClient) -> None:
    body = client.get("/api/health").json()
    assert body["status"] == "ok"
    assert body["database_revision"] == body["expected_revision"]


def test_openapi_page_is_served_without_a_cdn(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "/static/vendor/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower()
    assert client.get("/openapi.json").json()["info"]["title"] == "chainsleuth"


def test_security_headers_on_every_response(client: TestClient) -> None:
    response = client.get("/api/health")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]


def test_login_failures_are_uniform(client: TestClient) -> None:
    wrong = client.post("/api/auth/token", data={"username": "analyst", "password": "nope-nope-nope"})
    unknown = client.post("/api/auth/token", data={"username": "nobody", "password": "nope-nope-nope"})
    disabled = client.post("/api/auth/token", data={"username": "retired", "password": "retired-password-1"})
    assert wrong.status_code == unknown.status_code == disabled.status_code == 401
    assert wrong.json()["message"] == unknown.json()["message"] == disabled.json()["message"]


def test_endpoints_require_a_valid_token(client: TestClient) -> None:
    assert client.get("/api/exchange/customers").status_code == 401
    forged = {"Authorization": "Bearer not-a-token"}
    assert client.get("/api/exchange/customers", headers=forged).status_code == 401


def test_me_reports_role(client: TestClient) -> None:
    assert client.get("/api/auth/me", headers=_login(client, "senior")).json()["role"] == "senior_analyst"


def test_outside_officer_may_not_read_the_exchange_books(client: TestClient) -> None:
    response = client.get("/api/exchange/customers", headers=_login(client, "officer"))
    assert response.status_code == 403
    assert response.json()["error"] == "permission_denied"


def test_customer_views_carry_no_personal_data(client: TestClient, loaded: tuple[Settings, Engine]) -> None:
    headers = _login(client, "analyst")
    page = client.get("/api/exchange/customers", params={"limit": 500}, headers=headers).json()
    assert page["total"] == len(page["items"]) > 0
    _, engine = loaded
    with session_scope(engine) as session:
        first = session.scalars(select(Customer).order_by(Customer.customer_id).limit(1)).one()
        email, name = first.email, first.full_name
    overview = client.get(f"/api/exchange/customers/{first.customer_id}", headers=headers)
    assert overview.status_code == 200
    text = page.__repr__() + overview.text
    assert email not in text
    assert name not in text
    assert "full_name" not in overview.json()
    assert overview.json()["accounts"], "every customer has at least one account"


def test_account_ledger_pages_and_filters(client: TestClient, loaded: tuple[Settings, Engine]) -> None:
    _, engine = loaded
    with session_scope(engine) as session:
        event = session.scalars(select(LedgerEvent).where(LedgerEvent.event_type == "deposit").limit(1)).one()
        account_id = event.account_id
    headers = _login(client, "analyst")
    body = client.get(
        f"/api/exchange/accounts/{account_id}/events", params={"event_type": "deposit", "limit": 5}, headers=headers
    ).json()
    assert body["total"] >= 1
    assert all(item["event_type"] == "deposit" for item in body["items"])
    assert "ip" not in body["items"][0]
    stamps = [item["timestamp"] for item in body["items"]]
    assert stamps == sorted(stamps, reverse=True)
    assert client.get("/api/exchange/accounts/A9999999/events", headers=headers).status_code == 404
    bad = client.get(f"/api/exchange/accounts/{account_id}/events", params={"limit": 0}, headers=headers)
    assert bad.status_code == 422


def test_chain_lookups_link_deposit_addresses_to_customers(client: TestClient, loaded: tuple[Settings, Engine]) -> None:
    _, engine = loaded
    with session_scope(engine) as session:
        deposit = session.scalars(
            select(LedgerEvent).where(LedgerEvent.event_type == "deposit", LedgerEvent.chain == "bitcoin").limit(1)
        ).one()
        owner = session.get(DepositAddress, ("bitcoin", deposit.address))
        assert owner is not None
    headers = _login(client, "analyst")
    stats = client.get("/api/chain/stats", headers=headers).json()
    assert set(stats) == {"bitcoin", "ethereum"}
    address = client.get(f"/api/chain/bitcoin/addresses/{deposit.address}", headers=headers).json()
    assert address["our_deposit_address"]["customer_id"] == owner.customer_id
    tx = client.get(f"/api/chain/bitcoin/transactions/{deposit.tx_hash}", headers=headers).json()
    assert any(output["address"] == deposit.address for output in tx["outputs"])
    assert client.get("/api/chain/dogecoin/transactions/00", headers=headers).status_code == 404
    assert client.get(f"/api/chain/bitcoin/transactions/{'0' * 64}", headers=headers).status_code == 404


def test_world_manifest_is_served_to_staff(client: TestClient) -> None:
    body = client.get("/api/world", headers=_login(client, "auditor")).json()
    assert body["seed"] == 7
    assert "files" not in body


@pytest.mark.parametrize(
    ("path", "permission"),
    [
        ("/api/exchange/customers", "ledger.read"),
        ("/api/monitor/alerts", "alert.read"),
        ("/api/monitor/queues", "alert.read"),
        ("/api/chain/stats", "chain.read"),
    ],
)
def test_routers_check_permissions_not_roles(client: TestClient, path: str, permission: str) -> None:
    """The administrator runs the platform but reads no customer, alert or chain data; an analyst does."""
    refused = client.get(path, headers=_login(client, "admin"))
    assert refused.status_code == 403
    assert refused.json()["details"]["permission"] == permission
    assert client.get(path, headers=_login(client, "analyst")).status_code == 200


def test_the_world_manifest_needs_system_read(client: TestClient) -> None:
    assert client.get("/api/world", headers=_login(client, "admin")).status_code == 200
    assert client.get("/api/world", headers=_login(client, "officer")).status_code == 403
