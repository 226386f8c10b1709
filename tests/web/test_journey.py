"""The seed story in a real browser: an analyst traces the stolen-phone funds to the thief's account and proposes a
freeze; a compliance officer approves it; the ledger then refuses the thief's withdrawal.

Debian's Chromium driven by Playwright against uvicorn over the tiny world (seed 7) with its monitoring alerts,
SQLite only (the backends are covered by the TestClient tests). Saves the screenshots of the alert page, the
case workspace with the traced graph and the approval inbox into ``docs/screenshots/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from chainsleuth.api.app import create_app
from chainsleuth.errors import PolicyViolationError
from chainsleuth.store.db import session_scope
from chainsleuth.store.models.alerts import MonitorAlert
from tests.browser import chromium, serving
from tests.web.helpers import loaded_world, password_of, sqlite_copy
from tests.web.test_alerts_cases import phone_theft, run_monitoring
from tests.web.test_browser import _shot


@pytest.fixture(scope="module")
def server(
    tiny_world: Path, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[dict[str, Any]]:
    """uvicorn over the loaded tiny world with alerts; yields its URL, engine and the phone-theft story."""
    data_dir = tmp_path_factory.mktemp("web-journey")
    with loaded_world(tiny_world, sqlite_copy(sqlite_template, data_dir), data_dir) as (settings, engine):
        run_monitoring(engine)
        with session_scope(engine) as session:
            alert_id = session.scalars(
                select(MonitorAlert.id).where(MonitorAlert.queue == "sanctions").order_by(MonitorAlert.id).limit(1)
            ).one()
        with serving(create_app(settings, engine=engine)) as base:
            yield {"base": base, "engine": engine, "alert": alert_id, **phone_theft(tiny_world)}


@pytest.fixture(scope="module")
def page(server: dict[str, Any]) -> Iterator[Any]:
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        tab = context.new_page()
        tab.set_default_timeout(45_000)  # the machine is shared: navigation can stall under load
        problems: list[str] = []
        tab.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        tab.on("pageerror", lambda error: problems.append(str(error)))
        tab.on("response", lambda r: problems.append(f"HTTP {r.status} {r.url}") if r.status >= 500 else None)
        tab.problems = problems
        try:
            yield tab
        finally:
            browser.close()


def _login(page: Any, base: str, username: str) -> None:
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", password_of(username))
    page.click("button[type=submit]")
    page.wait_for_url("**/dashboard")


def test_phone_theft_traced_frozen_and_approved(page: Any, server: dict[str, Any]) -> None:
    base = server["base"]
    _login(page, base, "senior")

    # the alert queue and one alert's explanation
    page.click("nav.sidenav >> text=Alerts")
    page.wait_for_selector("#alerts-table")
    page.goto(f"{base}/alerts/{server['alert']}")
    assert "exposure(" in page.inner_text("#expression")
    _shot(page, "alert")

    # a case from the victim's address, traced forward under haircut to the thief's deposit address
    page.goto(base + "/cases")
    page.fill("#new-title-input", "Stolen phone: the victim's bitcoin wallet drained")
    page.fill("#new-address", server["victim"])
    page.click("#new-case-form button[type=submit]")
    page.wait_for_selector("#case-graph")
    page.wait_for_selector("#case-graph[data-loaded='1']")
    page.evaluate(f"() => {{ window.chainsleuthGraph.getElementById({server['victim']!r}).select(); }}")
    page.select_option("#trace-direction", "forward")
    page.select_option("#trace-policy", "haircut")
    page.fill("#trace-hops", "6")
    page.click("#trace-run")
    page.wait_for_selector("#case-graph[data-traced]")
    terminals = page.inner_text("#trace-terminals")
    assert server["account"] in terminals
    assert "our customer " + server["customer"] in terminals
    highlighted = page.evaluate(f"window.chainsleuthGraph.getElementById({server['deposit']!r}).data('kind')")
    assert highlighted == "terminal"
    page.click("#trace-save")
    page.wait_for_selector("#case-graph[data-trace-saved]")
    page.evaluate(
        f"() => {{ const cy = window.chainsleuthGraph; cy.nodes().unselect(); "
        f"cy.getElementById({server['deposit']!r}).select(); }}"
    )
    page.click("#graph-exposure")
    page.wait_for_selector("#case-graph[data-exposure]")
    page.fill("#annotation", "thief's deposit address")
    page.click("#graph-annotate")
    page.click("#graph-save")
    page.wait_for_selector("#case-graph[data-graph-saved]")
    page.evaluate(
        "() => { window.chainsleuthGraph.nodes().unselect(); "
        "window.scrollBy(0, document.getElementById('graph-status').getBoundingClientRect().top - 64); }"
    )
    _shot(page, "case-workspace", full_page=False)

    # a note through htmx (bumps the case version; the page's forms follow it, so the next step is not stale)
    page.fill("#note-body", "Haircut trace: 100 % of the stolen 10.78 BTC reached one deposit address of ours.")
    page.click("#note-form button[type=submit]")
    page.wait_for_selector("#notes-list >> text=Haircut trace")

    # the terminal's account linked to the case, a freeze proposed with reason, legal basis and expiry
    with page.expect_navigation():
        page.click("button.link-account")
    assert server["account"] in page.inner_text("#linked")
    page.select_option("#action-account", server["account"])
    page.select_option("#action-kind", "freeze")
    page.fill("#action-basis", "AMLA art. 8; police request 2024/0311")
    page.fill("#action-reason", "Proceeds of the phone theft traced to this account (haircut, 99.9 %)")
    page.click("#propose-button")
    page.wait_for_selector("#actions-table >> text=freeze")
    assert "awaiting a second officer" in page.inner_text("#actions-table")
    page.click("text=Log out")
    page.wait_for_url("**/login?bye=1")

    # the compliance officer approves it in the inbox
    _login(page, base, "compliance")
    page.click("nav.sidenav >> text=Approval inbox")
    page.wait_for_selector("#proposals-table")
    assert server["account"] in page.inner_text("#proposals-table")
    _shot(page, "approval-inbox", full_page=False)
    page.click("#proposals-table button.primary")
    page.wait_for_selector("#approval-done")
    assert "active" in page.inner_text("#recent-table")
    assert not [p for p in page.problems if "Content Security Policy" in p or "Refused" in p], page.problems
    assert not [p for p in page.problems if p.startswith("HTTP 5")], page.problems

    from chainsleuth.cases.ledger_guard import post_withdrawal

    with session_scope(server["engine"]) as session, pytest.raises(PolicyViolationError):
        post_withdrawal(session, server["account"], "BTC", Decimal("0.5"), chain="bitcoin", address=server["victim"])
