"""The pages in a real browser: Debian's Chromium driven by Playwright against uvicorn on a loopback port.

Journeys: log in, search an address, open its graph and expand a neighbour, reveal a customer with a purpose,
verify the audit log, and a refused role, over the tiny world as ``chainsleuth demo`` leaves it (monitored,
clustered, with the seeded case, proposal, request, shadow rule and backtest of ``chainsleuth.demo_story``), so
the dashboard screenshot shows alerts, cases and approvals. Screenshots of the key pages go to
``docs/screenshots/`` (same names every run) for docs/web.md and the README. SQLite only: the backends are
covered by the TestClient tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from chainsleuth.api.app import create_app
from chainsleuth.chain.clustering import cluster_chain
from chainsleuth.config import Settings
from chainsleuth.demo_story import seed_demo_story
from chainsleuth.store.chainstore import ChainStore
from chainsleuth.store.db import session_scope
from chainsleuth.store.models import Account, DepositAddress
from chainsleuth.web.graph import neighbourhood
from tests.browser import SCREENSHOTS, chromium, serving
from tests.web.helpers import loaded_world, password_of, sqlite_copy
from tests.web.test_alerts_cases import run_monitoring


def _expandable_deposit(settings: Settings, engine: Engine) -> tuple[str, str, str]:
    """A bitcoin deposit address with a mid-sized neighbourhood and a neighbour that expands it: (address,
    neighbour, customer)."""
    store = ChainStore(settings.chain_dir)
    with session_scope(engine) as session:
        candidates = session.scalars(
            select(DepositAddress).where(DepositAddress.chain == "bitcoin").order_by(DepositAddress.address).limit(40)
        ).all()
        best: tuple[int, str, str, str] | None = None
        for deposit in candidates:
            if store.address_id("bitcoin", deposit.address) is None:
                continue
            graph = neighbourhood(store, session, "bitcoin", deposit.address, limit=25)
            around = {node["data"]["id"] for node in graph["nodes"]}
            if not 6 <= len(around) <= 20:
                continue
            for node in graph["nodes"][1:6]:
                further = neighbourhood(store, session, "bitcoin", node["data"]["id"], limit=25)
                new = len({n["data"]["id"] for n in further["nodes"]} - around)
                if 3 <= new <= 15 and (best is None or len(around) + new > best[0]):
                    best = (len(around) + new, deposit.address, node["data"]["id"], deposit.customer_id)
            if best is not None and best[0] >= 14:
                break
    assert best is not None, "no bitcoin deposit address with an expandable neighbour in the tiny world"
    return best[1], best[2], best[3]


@pytest.fixture(scope="module")
def server(
    tiny_world: Path, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[dict[str, Any]]:
    """uvicorn serving the app over a loaded tiny world; yields its URL and the addresses the journeys use."""
    data_dir = tmp_path_factory.mktemp("web-browser")
    with loaded_world(tiny_world, sqlite_copy(sqlite_template, data_dir), data_dir) as (settings, engine):
        address, neighbour, customer = _expandable_deposit(settings, engine)
        # as ``chainsleuth demo`` leaves it: monitored, clustered, and the seeded work in progress (without the
        # LE request: the officer here is not enrolled in the portal, so the refusal test can log in with a password)
        run_monitoring(engine)
        cluster_chain(ChainStore(settings.chain_dir), "bitcoin")
        story = seed_demo_story(engine, ChainStore(settings.chain_dir), tiny_world)
        with session_scope(engine) as session:
            thief = session.get(Account, story.account_id)
            assert thief is not None, "the seeded trace found no account"
            thief_customer = thief.customer_id
        with serving(create_app(settings, engine=engine, world_dir=tiny_world)) as base:
            yield {"base": base, "address": address, "neighbour": neighbour, "customer": customer,
                   "thief": thief_customer}  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    problems: list[str] = []
    tab.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    tab.on("pageerror", lambda error: problems.append(str(error)))
    tab.problems = problems
    try:
        yield tab
    finally:
        context.close()


def _shot(page: Any, name: str, *, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def _login(page: Any, base: str, username: str, *, shot: str | None = None) -> None:
    page.goto(base + "/")
    page.wait_for_url("**/login**")
    page.fill("#username", username)
    page.fill("#password", password_of(username))
    if shot:
        _shot(page, shot, full_page=False)
    page.click("button[type=submit]")
    page.wait_for_url("**/dashboard")


def test_investigator_journey(page: Any, server: dict[str, Any]) -> None:
    base = server["base"]
    _login(page, base, "senior", shot="login")
    assert page.locator("#section-ledger svg").count() == 1
    _shot(page, "dashboard")

    # search an address from the top bar, open its graph, expand a neighbour
    page.fill("#q", server["address"])
    page.press("#q", "Enter")
    page.wait_for_url(f"**/chain/bitcoin/address/{server['address']}")
    page.wait_for_selector("#graph[data-expanded='1']")
    before = page.evaluate("window.chainsleuthGraph.nodes().length")
    # (returns nothing: serialising a Cytoscape collection back to Python would take minutes)
    page.evaluate(f"() => {{ window.chainsleuthGraph.getElementById({server['neighbour']!r}).select(); }}")
    page.click("#graph-expand")
    page.wait_for_selector("#graph[data-expanded='2']")
    after = page.evaluate("window.chainsleuthGraph.nodes().length")
    assert after > before
    page.click("#graph-fit")
    with page.expect_download() as exported:
        page.click("#graph-json")
    assert exported.value.suggested_filename.endswith(".json")
    with page.expect_download() as png:
        page.click("#graph-png")
    assert png.value.suggested_filename.endswith(".png")
    _shot(page, "address-graph")

    # from the owner link to the customer, pseudonymised, then a reveal with a purpose
    page.click(f"a[href^='/customers/{server['customer']}']")
    page.wait_for_selector("#profile")
    assert "***" in page.inner_text("#profile")
    page.select_option("#purpose", "case_investigation")
    page.click("#reveal-form button[type=submit]")
    page.wait_for_selector("#reveal-error")
    assert "reference" in page.inner_text("#reveal-error")
    page.fill("#case_ref", "CASE-2024-017")
    page.click("#reveal-form button[type=submit]")
    page.wait_for_selector("#revealed")
    assert "audit entry" in page.inner_text("#revealed")
    _shot(page, "customer-revealed")

    # the ledger pages with htmx, the customers list sorts on the client
    tx_link = page.locator("#events-table a[href*='/tx/']").first
    tx_href = tx_link.get_attribute("href")
    page.goto(base + "/customers")
    page.click("#customers thead th:nth-child(7) button")
    assert page.get_attribute("#customers thead th:nth-child(7)", "aria-sort") == "ascending"
    _shot(page, "customers")
    if tx_href:
        page.goto(base + tx_href)
        page.wait_for_selector("text=Transaction")
        assert "Outputs" in page.inner_text("main") or "Transfers" in page.inner_text("main")
        _shot(page, "transaction")
    page.goto(base + "/tags")
    _shot(page, "tags", full_page=False)
    assert not [p for p in page.problems if "Content Security Policy" in p or "Refused" in p], page.problems


def test_monitoring_pages(page: Any, server: dict[str, Any]) -> None:
    """The rule backtests, a customer's exposure and a cluster, over the monitored demo state."""
    base = server["base"]
    _login(page, base, "compliance")
    assert page.locator("#section-approvals").count() == 1
    page.goto(base + "/rules/backtests")
    page.wait_for_selector("#backtest-overall")
    _shot(page, "rules-backtests", full_page=False)
    page.goto(base + f"/customers/{server['thief']}")
    page.wait_for_selector("#customer-exposure [id$='-tier'], #customer-exposure .muted:not([aria-busy])")
    page.locator("#customer-exposure").scroll_into_view_if_needed()
    _shot(page, "customer-exposure", full_page=False)
    page.goto(base + f"/chain/bitcoin/address/{server['address']}")
    page.click("#cluster-link")
    page.wait_for_url("**/clusters/**")
    _shot(page, "cluster", full_page=False)
    assert not [p for p in page.problems if "Content Security Policy" in p or "Refused" in p], page.problems


def test_auditor_verifies_the_log(page: Any, server: dict[str, Any]) -> None:
    _login(page, server["base"], "auditor")
    page.click("nav.sidenav >> text=Audit log")
    page.wait_for_selector("#audit-table")
    page.click("#verify-button")
    page.wait_for_selector("#verify-ok")
    _shot(page, "audit", full_page=False)
    page.click("text=Log out")
    page.wait_for_url("**/login?bye=1")


def test_wrong_role_is_refused(page: Any, server: dict[str, Any]) -> None:
    _login(page, server["base"], "officer")
    page.goto(server["base"] + "/customers")
    assert "Your role may not open this page" in page.inner_text("main")
    _shot(page, "refused", full_page=False)
