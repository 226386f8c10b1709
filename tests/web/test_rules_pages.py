"""Rule management pages over a loaded tiny world with its monitoring alerts, on SQLite and PostgreSQL: the rule
list, a rule, shadow hits and backtests with real data; a backtest run from the page; promote/demote needing the
permission, CSRF and a reason, audited, and honoured by the next batch run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from chainsleuth.cli.monitor_cmd import app as monitor_cli
from chainsleuth.config import Settings, get_settings
from chainsleuth.store.db import session_scope
from chainsleuth.store.models import AuditEntry
from chainsleuth.store.models.alerts import MonitorAlert, MonitorBacktest, MonitorShadowHit
from chainsleuth.store.models.rule_modes import MonitorRuleMode
from tests.web.helpers import csrf_from, loaded_world, login, web_client
from tests.web.test_alerts_cases import run_monitoring

DEMOTED = "exposure-sanctions"
SHADOW = "high-risk-nationality-large-deposit"


@pytest.fixture(scope="module")
def world(
    module_database_url: str, tiny_world: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, Engine]]:
    with loaded_world(tiny_world, module_database_url, tmp_path_factory.mktemp("web-rules")) as loaded:
        run_monitoring(loaded[1])
        yield loaded


@pytest.fixture(scope="module")
def client(world: tuple[Settings, Engine], tiny_world: Path) -> Iterator[TestClient]:
    with web_client(*world, tiny_world) as test_client:
        yield test_client


def _alerts_of(engine: Engine, rule_id: str) -> int:
    with session_scope(engine) as session:
        return int(session.scalar(select(func.count()).where(MonitorAlert.rule_id == rule_id)) or 0)


def store_model_rule(engine: Engine) -> None:
    """Store the rule of a trained detector (``model-ledger``) as ``monitor model score`` does."""
    from chainsleuth.monitor.alerts.store import register_rules
    from chainsleuth.monitor.models.model_alerts import rule_from_definition

    definition = {
        "id": "model-ledger", "version": 1, "title": "LightGBM detector 'ledger' (74 features)",
        "description": "Customers whose model risk reaches the threshold.", "severity": "high",
        "tags": ["model", "lightgbm"], "mode": "active", "scope": ["model_score"], "subject": "customer",
        "condition": "model_risk >= 0.25", "params": {"model_risk": 0.25}, "explain": "model risk",
        "queue": "aml-high", "dedup_seconds": 604800, "source": "", "content_hash": "f" * 64,
    }  # fmt: skip
    with session_scope(engine) as session:
        register_rules(session, [rule_from_definition(definition)])


def test_rule_list_and_rule_page_show_real_data(client: TestClient, world: tuple[Settings, Engine]) -> None:
    login(client, "analyst")
    html = client.get("/rules").text
    assert 'id="rules-table"' in html
    assert f'href="/rules/{DEMOTED}"' in html
    assert "r1 v1" in html  # the run recorded revision 1 of each rule
    row = html.split(f'id="rule-{DEMOTED}"')[1].split("</tr>")[0]
    assert f'href="/alerts?rule={DEMOTED}&amp;status="' in row  # alerts in the last 30 days, linked
    assert "5 source of funds" in row  # its FATF red flag section
    assert f'id="rule-{SHADOW}"' in html
    assert 'badge-warn">shadow' in html.split(f'id="rule-{SHADOW}"')[1].split("</tr>")[0]

    page = client.get(f"/rules/{DEMOTED}").text
    assert "exposure(" in page.split('id="rule-condition"')[1]
    assert 'id="rule-revisions"' in page
    assert "current" in page
    with session_scope(world[1]) as session:
        alert_id = session.scalar(select(MonitorAlert.id).where(MonitorAlert.rule_id == DEMOTED).limit(1))
    assert f'href="/alerts/{alert_id}"' in page
    assert 'id="mode-form"' not in page  # an analyst reads rules, does not manage them

    structuring = client.get("/rules/structuring-below-threshold").text
    assert "window=7d" in structuring  # aggregates in the rule language's durations
    assert "report_threshold_usd" in structuring.split('id="rule-params"')[1]
    assert "KP" in client.get(f"/rules/{SHADOW}").text  # the named list it uses
    assert client.get("/rules/no-such-rule").status_code == 404
    assert 'id="shadow-hits-table"' in client.get("/rules/shadow-hits").text


def test_backtest_from_the_page_is_stored_and_shown(client: TestClient, world: tuple[Settings, Engine]) -> None:
    login(client, "analyst")
    page = client.get("/rules/backtests").text
    assert 'id="backtests-table"' in page
    assert 'id="backtest-form"' not in page
    token = csrf_from(page)
    assert client.post("/rules/backtests", data={"csrf_token": token}, follow_redirects=False).status_code == 403

    login(client, "compliance")
    page = client.get("/rules/backtests").text
    assert 'id="backtest-form"' in page
    assert client.post("/rules/backtests", data={"engine": "batch"}, follow_redirects=False).status_code == 403
    answer = client.post("/rules/backtests", data={"engine": "batch", "csrf_token": csrf_from(page)},
                         follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303, answer.text
    number = int(answer.headers["location"].rsplit("=", 1)[1])
    shown = client.get(answer.headers["location"]).text
    for part in ("backtest-overall", "backtest-typologies", "backtest-rules", "phone_theft"):
        assert part in shown
    with session_scope(world[1]) as session:
        stored = session.get(MonitorBacktest, number)
        assert stored is not None
        assert stored.report["overall"]["customers"] > 0
        precision = stored.report["overall"]["precision"]
        assert session.scalar(select(AuditEntry).where(AuditEntry.action == "rules.backtest")) is not None
    assert f"{precision:.2f}".rstrip("0").rstrip(".") in shown
    rule_page = client.get(f"/rules/{DEMOTED}").text.split('id="rule-backtest"')[1]
    assert f"Backtest #{number}" in rule_page
    assert "precision <strong>" in rule_page


def test_mode_change_needs_permission_csrf_reason_is_audited_and_honoured(
    client: TestClient, world: tuple[Settings, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = world[1]
    url = f"/rules/{DEMOTED}/mode"
    reason = "too noisy on the bridge addresses; observe for two weeks"
    login(client, "analyst")
    token = csrf_from(client.get(f"/rules/{DEMOTED}").text)
    denied = client.post(url, data={"mode": "shadow", "reason": reason, "csrf_token": token}, follow_redirects=False)
    assert denied.status_code == 403

    login(client, "compliance")
    page = client.get(f"/rules/{DEMOTED}").text
    assert 'id="mode-form"' in page
    assert "Demote to shadow" in page
    token = csrf_from(page)
    assert client.post(url, data={"mode": "shadow", "reason": reason}, follow_redirects=False).status_code == 403
    assert client.post(url, data={"mode": "shadow", "reason": " ", "csrf_token": token}).status_code == 422
    assert client.post(url, data={"mode": "active", "reason": reason, "csrf_token": token}).status_code == 422
    with session_scope(engine) as session:
        assert session.get(MonitorRuleMode, DEMOTED) is None
    done = client.post(url, data={"mode": "shadow", "reason": reason, "csrf_token": token}, follow_redirects=False)
    assert done.status_code == 303
    with session_scope(engine) as session:
        row = session.get(MonitorRuleMode, DEMOTED)
        assert row is not None
        assert (row.mode, row.changed_by, row.reason) == ("shadow", "compliance", reason)
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "rules.demote"))
        assert entry is not None
        assert (entry.object_id, entry.actor, entry.purpose) == (DEMOTED, "compliance", reason)
        details = json.loads(entry.details)
        assert (details["from"], details["to"]) == ("active", "shadow")
    page = client.get(f"/rules/{DEMOTED}").text
    assert "set on this deployment by compliance" in page
    assert "Promote to active" in page
    assert "(override)" in client.get("/rules").text

    # the next batch run (the CLI, over the store) treats the demoted rule as shadow: hits recorded, no alerts
    alerts_before = _alerts_of(engine, DEMOTED)
    monkeypatch.setenv("CHAINSLEUTH_DATABASE_URL", world[0].resolved_database_url)
    get_settings.cache_clear()
    try:
        ran = CliRunner().invoke(monitor_cli, ["run", "--batch"])
    finally:
        get_settings.cache_clear()
    assert ran.exit_code == 0, ran.output
    assert _alerts_of(engine, DEMOTED) == alerts_before
    with session_scope(engine) as session:
        shadow = session.scalar(select(func.count()).where(MonitorShadowHit.rule_id == DEMOTED))
        assert shadow
        assert shadow > 0
    listed = client.get(f"/rules/shadow-hits?rule={DEMOTED}").text
    assert f'href="/rules/{DEMOTED}"' in listed.split('id="shadow-hits-table"')[1]

    # promoting the shipped shadow rule works the same way, audited as a promotion
    token = csrf_from(client.get(f"/rules/{SHADOW}").text)
    form = {"mode": "active", "reason": "validated in shadow for a quarter", "csrf_token": token}
    promoted = client.post(f"/rules/{SHADOW}/mode", data=form, follow_redirects=False)
    assert promoted.status_code == 303
    with session_scope(engine) as session:
        assert session.scalar(select(AuditEntry).where(AuditEntry.action == "rules.promote")) is not None
    assert 'badge-ok">active' in client.get("/rules").text.split(f'id="rule-{SHADOW}"')[1].split("</tr>")[0]


def test_a_detector_that_has_run_is_listed_shown_and_can_be_put_in_shadow(
    client: TestClient, world: tuple[Settings, Engine]
) -> None:
    """Model rules (``model-*``) appear once stored, rebuilt from their stored definition; their mode switches like
    a rule's, and ``store_model_alerts`` honours it (tested with the detector)."""
    engine = world[1]
    store_model_rule(engine)
    login(client, "compliance")
    listing = client.get("/rules").text
    assert 'id="rule-model-ledger"' in listing
    page = client.get("/rules/model-ledger")
    assert page.status_code == 200
    assert "LightGBM detector" in page.text
    assert "model_risk &gt;= 0.25" in page.text or "model_risk >= 0.25" in page.text
    reason = "validation precision too low this quarter; observe first"
    form = {"mode": "shadow", "reason": reason, "csrf_token": csrf_from(page.text)}
    done = client.post("/rules/model-ledger/mode", data=form, follow_redirects=False)
    assert done.status_code == 303
    with session_scope(engine) as session:
        row = session.get(MonitorRuleMode, "model-ledger")
        assert row is not None
        assert row.mode == "shadow"
    assert "(override)" in client.get("/rules").text.split('id="rule-model-ledger"')[1].split("</tr>")[0]


def test_a_backtest_with_a_stored_model_rule_leaves_it_out_and_says_so(
    client: TestClient, world: tuple[Settings, Engine]
) -> None:
    """A trained detector's rule reads ``model_risk``, which the event replay has no column for: the backtest
    runs the other rules, names the model rule as left out, and stores no result for it."""
    store_model_rule(world[1])
    login(client, "compliance")
    page = client.get("/rules/backtests").text
    left_out = page.split('id="backtest-left-out"')[1].split("</p>")[0]
    assert "model-ledger" in left_out
    answer = client.post("/rules/backtests", data={"engine": "batch", "csrf_token": csrf_from(page)},
                         follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303, answer.text[:500]
    number = int(answer.headers["location"].rsplit("=", 1)[1])
    with session_scope(world[1]) as session:
        stored = session.get(MonitorBacktest, number)
        assert stored is not None
        assert "model-ledger" not in {r["rule_id"] for r in stored.report["rules"]}
        assert DEMOTED in {r["rule_id"] for r in stored.report["rules"]}
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "rules.backtest").order_by(AuditEntry.seq.desc())
        ).first()
        assert entry is not None
        assert json.loads(entry.details)["left_out"] == ["model-ledger"]


def test_an_unexpected_failure_is_shown_in_the_layout_not_as_a_bare_500(
    world: tuple[Settings, Engine], tiny_world: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chainsleuth.monitor import backtest as backtest_module

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("Binder Error: secret internals")

    monkeypatch.setattr(backtest_module, "backtest", broken)
    app = web_client(*world, tiny_world).app
    with TestClient(app, raise_server_exceptions=False) as no_raise:
        login(no_raise, "compliance")
        page = no_raise.get("/rules/backtests").text
        answer = no_raise.post("/rules/backtests", data={"engine": "batch", "csrf_token": csrf_from(page)})
    assert answer.status_code == 500
    assert "text/html" in answer.headers["content-type"]
    assert "Something went wrong" in answer.text
    assert 'class="panel error-page"' in answer.text
    assert "reference" in answer.text
    assert "secret internals" not in answer.text
    assert "/rules" in answer.text  # the navigation of the layout is there
