"""``chainsleuth monitor`` and ``/api/monitor`` over a loaded tiny world (SQLite; storage on both databases is
covered by test_alerts)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from chainsleuth.api.app import create_app
from chainsleuth.chain.attribution.store import import_tagpack
from chainsleuth.cli.monitor_cmd import app
from chainsleuth.config import Settings, get_settings
from chainsleuth.ingest.ledger import load_exchange
from chainsleuth.privacy import passwords
from chainsleuth.store.db import create_engine_for, session_scope
from chainsleuth.store.users import DEMO_USERS, seed_demo_users

runner = CliRunner()


@pytest.fixture(scope="module")
def store_url(tiny_world: Path, sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path = tmp_path_factory.mktemp("monitor-db") / "chainsleuth.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = create_engine_for(url)
    previous = passwords.get_hasher()
    passwords.configure(time_cost=1, memory_cost=1024, parallelism=1)
    try:
        load_exchange(tiny_world, engine)
        with session_scope(engine) as session:
            for pack in sorted((tiny_world / "tagpacks").glob("*.yaml")):
                import_tagpack(session, pack)
            seed_demo_users(session)
    finally:
        engine.dispose()
    yield url
    passwords.set_hasher(previous)


@pytest.fixture
def configured(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("CHAINSLEUTH_DATABASE_URL", store_url)
    get_settings.cache_clear()
    yield store_url
    get_settings.cache_clear()


def test_cli_rules_run_alerts_backtest(configured: str, tiny_world: Path, tmp_path: Path) -> None:
    listed = runner.invoke(app, ["rules", "list"])
    assert listed.exit_code == 0
    assert "structuring" in listed.output
    shown = runner.invoke(app, ["rules", "show", "rapid-pass-through", "--sql"])
    assert shown.exit_code == 0
    assert "EXCLUDE TIES" in shown.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - id: x\n    version: 1\n    title: t\n    severity: low\n    scope: [login]\n"
                   "    condition: ip_country ==\n")  # fmt: skip
    invalid = runner.invoke(app, ["rules", "validate", str(bad)])
    assert invalid.exit_code != 0
    assert "bad.yaml:7" in str(invalid.exception)

    ran = runner.invoke(app, ["run", "--batch"])
    assert ran.exit_code == 0, ran.output
    assert "alerts created" in ran.output
    streamed = runner.invoke(app, ["run", "--stream", "--dry-run"])  # the streaming engine over the store
    assert streamed.exit_code == 0, streamed.output
    assert streamed.output.split(" hits")[0] == ran.output.split(" hits")[0]  # same number of hits
    again = runner.invoke(app, ["run", "--batch"])  # the same history again: alerts updated, none duplicated
    assert "0 alerts created" in again.output, again.output

    alerts = runner.invoke(app, ["alerts", "list", "--queue", "sanctions"])
    assert alerts.exit_code == 0
    assert "exposure-sanc" in alerts.output
    shown_alert = runner.invoke(app, ["alerts", "show", "1"])
    assert shown_alert.exit_code == 0
    assert '"rule_hash"' in shown_alert.output

    out = tmp_path / "report.json"
    backtested = runner.invoke(app, ["backtest", str(tiny_world), "--json", str(out), "--store"])
    assert backtested.exit_code == 0, backtested.output
    assert json.loads(out.read_text())["overall"]["recall"] >= 0.75


def test_api(configured: str) -> None:
    settings = Settings(database_url=configured, demo=True, data_dir=Path(configured[len("sqlite:///") :]).parent)
    engine = create_engine_for(configured)
    try:
        with TestClient(create_app(settings, engine=engine)) as client:
            assert client.get("/api/monitor/alerts").status_code == 401
            name, password = next((n, p) for n, _, p, role, _ in DEMO_USERS if role == "analyst")
            token = client.post("/api/auth/token", data={"username": name, "password": password}).json()
            headers = {"Authorization": f"Bearer {token['access_token']}"}
            page = client.get("/api/monitor/alerts", params={"queue": "sanctions"}, headers=headers).json()
            assert page["total"] >= 1
            assert all(item["queue"] == "sanctions" for item in page["items"])
            first = page["items"][0]
            detail = client.get(f"/api/monitor/alerts/{first['id']}", headers=headers).json()
            assert detail["details"]["evidence"], "a sanctions alert carries its chain evidence"
            assert client.get("/api/monitor/alerts/999999", headers=headers).status_code == 404
            queues = client.get("/api/monitor/queues", headers=headers).json()
            assert set(queues) >= {"sanctions", "fraud", "aml-high", "aml-standard"}
            rules = client.get("/api/monitor/rules", headers=headers).json()
            assert any(rule["id"] == "fan-in-funnel" and rule["revisions"] for rule in rules)
            assert client.get("/api/monitor/shadow-hits", headers=headers).status_code == 200
            assert isinstance(client.get("/api/monitor/backtests", headers=headers).json(), list)
    finally:
        engine.dispose()
