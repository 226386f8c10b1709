"""Ledger events into a case and its goAML reports: add them as evidence, redraft a report from the case.

A goAML report describes transactions; ``cases.goaml.filing`` takes them from the case's alerts, its ledger
extracts and the deposits/withdrawals of its linked accounts that its evidence names. A case opened by hand (a
victim's report, a police request) may still need particular bookings in the report: the case page's form adds
them as a *ledger extract* (hashed evidence, ``case.update`` and ``ledger.read``), either by event id or as the
deposits and withdrawals of a linked account within a period. A draft that was invalid or is out of date is then
*redrafted*: regenerated from the case as it is now, as a new revision (``report.draft``, audited by the filing
service; an approval is lost, as the content changed).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.cases import evidence, service
from chainsleuth.cases.goaml import filing
from chainsleuth.errors import InvalidInputError
from chainsleuth.store.models.ledger import LedgerEvent
from chainsleuth.web.case_forms import optional_time, stale_guard
from chainsleuth.web.core import DbSession, Viewer, csrf_protected, page, redirect

router = APIRouter(include_in_schema=False)
CSRF = [Depends(csrf_protected)]
#: At most this many events in one extract: a report lists the suspicious movements, not an account's history.
MAX_EXTRACT_EVENTS = 500
#: The kinds of event an account's period extract takes (what goAML reports as transactions).
TRANSFERS = ("deposit", "withdrawal")
_SEPARATORS = re.compile(r"[\s,;]+")


def account_events(
    db: Session, case_id: int, account_id: str, since: datetime | None, until: datetime | None
) -> list[str]:
    """Deposits and withdrawals of ``account_id`` (which must be linked to the case) within the period."""
    linked = {link.target for link in service.links(db, case_id) if link.link_type == "account"}
    if account_id not in linked:
        raise InvalidInputError("link the account to the case first", account_id=account_id)
    query = select(LedgerEvent.event_id).where(LedgerEvent.account_id == account_id,
                                               LedgerEvent.event_type.in_(TRANSFERS))  # fmt: skip
    if since is not None:
        query = query.where(LedgerEvent.timestamp >= since)
    if until is not None:
        query = query.where(LedgerEvent.timestamp <= until)
    ids = list(db.scalars(query.order_by(LedgerEvent.timestamp, LedgerEvent.event_id).limit(MAX_EXTRACT_EVENTS + 1)))
    if not ids:
        raise InvalidInputError("the account has no deposits or withdrawals in that period", account_id=account_id)
    return ids


@router.post("/cases/{case_id}/ledger-events", dependencies=CSRF)
def add_ledger_events(
    case_id: int,
    viewer: Annotated[Viewer, Depends(page("case.update", "ledger.read"))],
    db: DbSession,
    version: Annotated[int, Form(ge=1)],
    event_ids: Annotated[str, Form(max_length=20_000)] = "",
    account_id: Annotated[str, Form(max_length=32)] = "",
    since: Annotated[str, Form()] = "",
    until: Annotated[str, Form()] = "",
    title: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    """Attach ledger events as evidence: the ids given, or a linked account's transfers within a period."""
    ids = [part for part in _SEPARATORS.split(event_ids.strip()) if part]
    if ids and account_id.strip():
        raise InvalidInputError("give either event ids or an account and period, not both")
    if not ids and account_id.strip():
        ids = account_events(db, case_id, account_id.strip(), optional_time(since, "since"),
                             optional_time(until, "until"))  # fmt: skip
    if not ids:
        raise InvalidInputError("name the ledger events (their ids) or a linked account", field="event_ids")
    if len(set(ids)) > MAX_EXTRACT_EVENTS:
        raise InvalidInputError(f"at most {MAX_EXTRACT_EVENTS} events in one extract; narrow the period",
                                events=len(set(ids)))  # fmt: skip
    default = f"Ledger extract: {account_id.strip()}" if account_id.strip() else f"Ledger extract ({len(ids)} events)"
    with stale_guard():
        evidence.add_ledger_extract(db, viewer.principal, case_id, version, ids, title=title.strip() or default)
    return redirect(f"/cases/{case_id}#evidence")


@router.post("/reports/{report_id}/redraft", dependencies=CSRF)
def redraft_report(
    report_id: int,
    viewer: Annotated[Viewer, Depends(page("report.draft"))],
    db: DbSession,
    version: Annotated[int, Form(ge=1)],
    back: Annotated[str, Form(max_length=20)] = "case",
) -> RedirectResponse:
    """Regenerate a report from its case as it is now (new events, evidence, links) as a new revision."""
    report = filing.get_report(db, report_id)
    with stale_guard("someone else changed this report since you opened the page — reload; nothing was changed"):
        filing.redraft(db, viewer.principal, report_id, version,
                       event_ids=filing.case_event_ids(db, report.case_id))  # fmt: skip
    return redirect("/approvals#reports" if back == "approvals" else f"/cases/{report.case_id}#reports")
