"""The law-enforcement journey in a real browser (Debian's Chromium, Playwright, uvicorn, SQLite).

An officer logs in with password and TOTP, submits a production order (PDF) with a target CSV holding one
malformed row, corrects that row; a response officer claims, triages and drafts the package; a second one
approves it (four-eyes) and receives the one-time password; the officer downloads the sealed package, and the
test opens it and checks it holds only the allowed fields. Screenshots: the officer's request page, the triage
queue and the package review page, saved to ``docs/screenshots/``.
"""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
from sqlalchemy import func, select

from chainsleuth.api.app import create_app
from chainsleuth.lawenforcement.demo_seed import seed_demo_officer
from chainsleuth.lawenforcement.packages import FIELDS
from chainsleuth.lawenforcement.requests import Submission, submit_request
from chainsleuth.lawenforcement.sealing import open_sealed
from chainsleuth.lawenforcement.targets import parse_targets_csv
from chainsleuth.store.db import session_scope
from chainsleuth.store.models import Customer, LedgerEvent
from chainsleuth.web.le_common import open_container
from tests.browser import SCREENSHOTS, chromium, serving
from tests.lawenforcement.conftest import ADMIN, make_pdf, officer_principal, onboard
from tests.web.helpers import loaded_world, password_of, sqlite_copy

SECOND = ("leresponse2", "demo-leresponse2-pass")


def _background(engine: Any, customer: str) -> None:
    """Two other open requests, so the queue shows its order (an emergency from another agency first)."""
    nils, _ = onboard(engine, "nils.ncb", "nils@ncb.example", datetime.now(UTC) - timedelta(days=90))
    officer = officer_principal("officer", "DEMO-POLICE")
    forms = (
        (nils, Submission(request_type="emergency_disclosure", legal_basis="emergency", jurisdiction="SE",
                          case_number="SE-4411", offence="kidnapping, ransom in bitcoin",
                          data_categories=("subscriber", "login_ip"))),
        (officer, Submission(request_type="preservation", legal_basis="court_order", jurisdiction="DE",
                             case_number="K-12/26", offence="investment fraud")),
    )  # fmt: skip
    for who, form in forms:
        with session_scope(engine) as session:
            submit_request(session, who, form, targets=parse_targets_csv(f"customer_id\n{customer}\n"),
                           instrument=make_pdf(), max_upload_bytes=1_000_000)  # fmt: skip


@pytest.fixture(scope="module")
def server(
    tiny_world: Path, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[dict[str, Any]]:
    data_dir = tmp_path_factory.mktemp("web-portal-browser")
    with loaded_world(tiny_world, sqlite_copy(sqlite_template, data_dir), data_dir) as (settings, engine):
        with session_scope(engine) as session:
            secret = seed_demo_officer(session, ADMIN)
            busiest = (select(LedgerEvent.customer_id).join(Customer, Customer.customer_id == LedgerEvent.customer_id)
                       .where(Customer.country_of_residence == "DE").group_by(LedgerEvent.customer_id)
                       .order_by(func.count().desc(), LedgerEvent.customer_id).limit(1))  # fmt: skip
            customer = session.scalar(busiest) or session.scalars(select(Customer.customer_id).limit(1)).one()
            first, last = session.execute(
                select(func.min(LedgerEvent.timestamp), func.max(LedgerEvent.timestamp))
            ).one()
        _background(engine, customer)
        with serving(create_app(settings, engine=engine)) as base:
            yield {"base": base, "secret": secret, "customer": customer,
                   "from": first.date().isoformat(), "to": last.date().isoformat()}  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def _tab(browser: Any) -> Any:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    problems: list[str] = []
    tab.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    tab.on("pageerror", lambda error: problems.append(str(error)))
    tab.problems = problems
    return tab


def _shot(page: Any, name: str, folder: Path = SCREENSHOTS) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


class Codes:
    """Authenticator codes for one secret, each for a later time step than the one before (no replay)."""

    def __init__(self, secret: str) -> None:
        self.totp, self.used = pyotp.TOTP(secret), -1

    def next(self) -> str:
        step = max(int(time.time()) // 30, self.used + 1)
        self.used = step
        return self.totp.at(step * 30)


def _staff_login(browser: Any, base: str, username: str, password: str, target: str) -> Any:
    tab = _tab(browser)
    tab.goto(base + target)
    tab.wait_for_url("**/login**")
    tab.fill("#username", username)
    tab.fill("#password", password)
    tab.click("button[type=submit]")
    tab.wait_for_url("**" + target.split("?")[0])
    return tab


def test_officer_submits_and_downloads_the_package(browser: Any, server: dict[str, Any], tmp_path: Path) -> None:
    base, codes = server["base"], Codes(server["secret"])
    pdf, targets = tmp_path / "production-order.pdf", tmp_path / "targets.csv"
    pdf.write_bytes(make_pdf("Production order 77/2026, Amtsgericht Demo"))
    targets.write_text(f"customer_id,email\n{server['customer']},\n,thief(at)example.org\n", encoding="utf-8")

    officer = _tab(browser)
    officer.goto(base + "/portal")
    officer.wait_for_url("**/login**")
    officer.fill("#username", "officer")
    officer.fill("#password", password_of("officer"))
    officer.click("button[type=submit]")
    officer.wait_for_url("**/login/totp**")
    officer.fill("#code", pyotp.TOTP(server["secret"]).now())  # the log-in's own replay guard: separate
    officer.click("button[type=submit]")
    officer.wait_for_url("**/portal")
    officer.click("#new-request")
    officer.select_option("#f-type", "production")
    officer.select_option("#f-basis", "court_order")
    officer.fill("#f-case", "K-77/26")
    officer.fill("#f-offence", "Theft of a phone and USD 350,000 drained from the victim's account")
    officer.check("input[name=data_categories][value=transactions]")
    officer.fill("#f-from", server["from"])
    officer.fill("#f-to", server["to"])
    officer.set_input_files("#f-instrument", str(pdf))
    officer.set_input_files("#f-targets", str(targets))
    officer.fill("#f-totp", codes.next())
    officer.click("#send-request")
    officer.wait_for_url("**/portal/requests/LER-*")
    reference = officer.url.split("/portal/requests/")[1].split("?")[0]
    rejected = officer.locator("#rejected-targets")
    assert "not an e-mail address" in rejected.inner_text()
    assert "3" in rejected.inner_text()
    rejected.locator("input[name=value]").fill("thief@example.org")
    rejected.locator("button[type=submit]").click()
    officer.wait_for_selector("#notice")
    assert "to correct" not in officer.locator("#targets h2").inner_text()

    staff = _staff_login(browser, base, "leresponse", password_of("leresponse"), "/le/queue")
    assert reference in staff.locator("#queue").inner_text()
    assert staff.locator("#queue tbody tr").first.inner_text().startswith("LER-")
    assert "emergency" in staff.locator("#queue tbody tr").first.inner_text()
    _shot(staff, "le-queue")
    staff.click(f"a[href='/le/requests/{reference}']")
    staff.click("#claim")
    staff.wait_for_selector("#notice")
    staff.click("#run-triage")
    staff.wait_for_selector("#matrix")
    assert "complete" in staff.locator("#completeness").inner_text()
    assert server["customer"] in staff.locator("#targets").inner_text()
    _shot(staff, "le-request")
    staff.click("#draft-package")
    staff.wait_for_url("**/le/packages/*")
    assert "a colleague must approve it" in staff.locator("#own-draft").inner_text()
    package_path = staff.url.split(base)[1].split("?")[0]

    reviewer = _staff_login(browser, base, SECOND[0], SECOND[1], package_path)
    assert "Subscriber" in reviewer.locator("#preview-subscriber").inner_text()
    _shot(reviewer, "le-package")
    reviewer.click("#approve-package")
    password = reviewer.locator("#password-value").inner_text().strip()
    assert password
    assert "approved" in reviewer.locator("h1").inner_text()

    officer.goto(f"{base}/portal/requests/{reference}")
    assert "Download the sealed package" in officer.locator("#packages").inner_text()
    _shot(officer, "portal-request")
    form = officer.locator("#packages form")
    form.locator("input[name=code]").fill(codes.next())
    with officer.expect_download() as download:
        form.locator("button[type=submit]").click()
    saved = tmp_path / "sealed.zip"
    download.value.save_as(str(saved))
    ciphertext, envelope = open_container(saved.read_bytes())
    assert envelope["reference"] == reference
    assert envelope["cipher"] == "AES-256-GCM"
    with zipfile.ZipFile(io.BytesIO(open_sealed(ciphertext, envelope, password=password))) as bundle:
        names = set(bundle.namelist())
        assert {"manifest.json", "data.json", "report.pdf", "subscriber.csv", "transactions.csv"} <= names
        for category in ("subscriber", "transactions"):
            header = bundle.read(f"{category}.csv").decode().splitlines()[0].split(",")
            assert set(header) <= set(FIELDS[category]), header
        assert server["customer"] in bundle.read("subscriber.csv").decode()
        assert not {n for n in names if n.startswith(("login_ip", "balances"))}  # not asked for: not disclosed
    for tab in (officer, staff, reviewer):
        assert not [p for p in tab.problems if "Content Security Policy" in p or "Refused" in p], tab.problems
        tab.context.close()
