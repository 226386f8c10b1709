"""The academy in a real browser (Debian's Chromium driven by Playwright, SQLite): a trainee solves the
phone-theft exercise on their own world with the workspace's trace and account pages (the answer key is read
only to check the grade), the instructor issues the certificate, the trainee downloads it and the
public page verifies its code. Screenshots go to ``docs/screenshots/academy-*.png``."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chainsleuth.academy.service import Academy
from chainsleuth.api.app import create_app
from chainsleuth.config import Settings
from chainsleuth.privacy import passwords
from chainsleuth.store.db import create_engine_for, session_scope
from chainsleuth.store.users import create_user
from tests.academy.conftest import COHORT, PASSWORD, SECRET, _setup, complete_course, key_of
from tests.browser import SCREENSHOTS, chromium, serving


@pytest.fixture(scope="module")
def server(academy_dir: Path, sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """uvicorn over a database with cohort c1; alice has done everything but the phone-theft exercise."""
    previous = passwords.get_hasher()
    passwords.configure(time_cost=1, memory_cost=1024, parallelism=1)
    database = tmp_path_factory.mktemp("academy-browser") / "chainsleuth.db"
    shutil.copyfile(sqlite_template, database)
    engine = create_engine_for(f"sqlite:///{database}")
    academy = Academy(engine, academy_dir, SECRET)
    _setup(academy)
    with session_scope(engine) as session:
        for username, role in (("alice", "analyst"), ("instructor", "senior_analyst")):
            create_user(session, username=username, password=PASSWORD, role=role, display_name=username)
    complete_course(academy, "alice", skip=("phone-theft",))
    settings = Settings(data_dir=academy_dir.parent, database_url=str(engine.url), secret_key=SECRET, demo=True)
    try:
        with serving(create_app(settings, engine=engine)) as base:
            yield base, academy
    finally:
        engine.dispose()
        passwords.set_hasher(previous)


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
        tab = context.new_page()
        tab.set_default_timeout(15_000)
        problems: list[str] = []
        tab.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        tab.on("pageerror", lambda error: problems.append(str(error)))
        setattr(tab, "problems", problems)  # noqa: B010  (read back by the test)
        try:
            yield tab
        finally:
            context.close()
            browser.close()


def _login(page: Any, base: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(base + "/login?next=/academy")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/academy")


def test_trainee_solves_phone_theft_and_gets_the_certificate(page: Any, server: Any, tmp_path: Path) -> None:
    base, academy = server
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    _login(page, base, "alice")
    page.click("text=Trace the stolen USD 350,000")
    page.click("#start")
    exercise_url = page.url
    victim = page.inner_text("#given-victim_address")
    # the trainee traces forward from the victim's address in their own workspace (poison, the default)
    page.click("#trace-given-victim_address")
    page.wait_for_selector("#terminals")
    ours = page.locator("#terminals tr.terminal", has=page.locator(".terminal-account a")).first
    account = ours.locator(".terminal-account a").inner_text().strip()
    amount = ours.locator(".terminal-usd").inner_text().strip()
    deposit = ours.locator("td:nth-child(3) a").inner_text().strip()
    hops: list[str] = []
    for hop in page.locator("#trace-result .trace-path li.hop").all():
        tx, pays = hop.get_attribute("data-tx") or "", hop.get_attribute("data-to") or ""
        if pays != victim and tx not in hops:  # the transaction that funded the victim is before the theft
            hops.append(tx)
    page.screenshot(path=str(SCREENSHOTS / "academy-workspace-trace.png"), full_page=True)
    # ...and confirms whose deposit address the funds reached with the account lookup
    page.fill("#account-form input[name=q]", deposit)
    page.click("#account-lookup")
    page.wait_for_selector("#account-panel")
    assert page.inner_text("#account-id") == account
    page.goto(exercise_url)
    page.fill("input[name=accounts]", account)
    page.fill("input[name=amount_usd]", amount)
    page.fill("textarea[name=path]", " -> ".join(hops))
    page.click("#submit-answer")
    page.wait_for_selector("#result")
    key = key_of(academy.dir, "alice", "phone-theft")  # only to check the grade, never to answer
    assert page.inner_text("#true-accounts") == ", ".join(key["accounts"])
    assert "Result: 100" in page.inner_text("#result h2"), page.inner_text("#result")
    page.screenshot(path=str(SCREENSHOTS / "academy-exercise.png"), full_page=True)

    _login(page, base, "instructor")
    page.goto(base + f"/academy/teach/{COHORT}")
    page.click("#progress button[type=submit]")
    page.wait_for_selector("#issued")
    page.screenshot(path=str(SCREENSHOTS / "academy-cohort.png"), full_page=True)

    _login(page, base, "alice")
    with page.expect_download() as download:
        page.click("#certificate-link")
    pdf = tmp_path / "certificate.pdf"
    download.value.save_as(str(pdf))
    assert pdf.read_bytes().startswith(b"%PDF")
    code = academy.certificate_of(COHORT, "alice")["code"]
    page.context.clear_cookies()
    page.goto(base + "/academy/verify")
    page.fill("input[name=code]", code)
    page.click("button[type=submit]")
    page.wait_for_selector("#verified")
    assert "Alice Ångström" in page.inner_text("#verified")
    page.screenshot(path=str(SCREENSHOTS / "academy-verified.png"), full_page=False)
    assert not [p for p in page.problems if "Content Security Policy" in p or "Refused" in p], page.problems
