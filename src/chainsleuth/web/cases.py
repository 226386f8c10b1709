"""The case workspace: list and open cases, move them through their workflow, notes, links and evidence.

Every handler calls ``chainsleuth.cases`` (the same functions as ``/api/cases``), so the workflow's legal
transitions, four-eyes rules, timeline and audit entries are the service's, not the page's. Each form carries
the case version the investigator read: a stale edit is answered "someone else changed this case — reload"
(409) and never overwrites. The fund-flow graph and tracing live in :mod:`chainsleuth.web.case_graph`, the
actions panel, report drafting and the approval inbox in :mod:`chainsleuth.web.actions`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chainsleuth.cases import actions as case_actions
from chainsleuth.cases import evidence, service, views
from chainsleuth.cases.common import check_version
from chainsleuth.cases.goaml import filing
from chainsleuth.config import Settings
from chainsleuth.errors import PayloadTooLargeError
from chainsleuth.store.chainstore import ChainStore
from chainsleuth.store.models.cases import CASE_DECISIONS, CASE_PRIORITIES, Case
from chainsleuth.store.models.exchange import Account
from chainsleuth.web import case_graph, standing
from chainsleuth.web.case_forms import Paging, optional_time, stale_guard, text_or_none
from chainsleuth.web.core import (
    DbSession,
    NavItem,
    Viewer,
    csrf_protected,
    page,
    redirect,
    register_nav,
    render,
)
from chainsleuth.web.dashboard import DashboardSection, register_section

router = APIRouter(include_in_schema=False)
router.include_router(case_graph.router)
PAGE_SIZE = 25
#: Proposed account actions expire unless renewed; a month is the default offered in the form.
ACTION_TERM = timedelta(days=30)
Reader = Annotated[Viewer, Depends(page("case.read"))]
Updater = Annotated[Viewer, Depends(page("case.update"))]
Version = Annotated[int, Form(ge=1)]
CSRF = [Depends(csrf_protected)]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@router.get("/cases")
def case_list(
    request: Request,
    viewer: Reader,
    db: DbSession,
    status: str | None = None,
    queue: str | None = None,
    overdue: str | None = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> HTMLResponse:
    """Open cases first by default; overdue ones flagged (deadlines are what regulators ask about)."""
    rows, total = service.list_cases(db, viewer.principal, status=status or None, queue=queue or None,
                                     overdue=True if overdue else None, limit=PAGE_SIZE, offset=offset)  # fmt: skip
    return render(request, "cases/list.html", viewer, {
        "title": "Cases", "cases": rows, "is_overdue": service.is_overdue, "priorities": CASE_PRIORITIES,
        "statuses": tuple(service.TRANSITIONS), "filters": {"status": status or "", "queue": queue or "",
                                                            "overdue": bool(overdue)},
        "page": Paging(total, PAGE_SIZE, offset, rows),
    })  # fmt: skip


@router.post("/cases", dependencies=CSRF)
def create_case(
    viewer: Annotated[Viewer, Depends(page("case.create"))],
    db: DbSession,
    title: Annotated[str, Form(max_length=200)],
    description: Annotated[str, Form(max_length=20_000)] = "",
    priority: Annotated[str, Form()] = "medium",
    address: Annotated[str, Form(max_length=128)] = "",
    chain: Annotated[str, Form(max_length=16)] = "bitcoin",
) -> RedirectResponse:
    """A case opened by hand, optionally starting from an on-chain address (the graph's seed)."""
    case = service.create_case(db, viewer.principal, title=title.strip(), description=description, priority=priority)
    if address.strip():
        service.link(db, viewer.principal, case.id, case.version, "address", address.strip(), chain=chain)
    return redirect(f"/cases/{case.id}")


def _linked(db: Session, case_id: int) -> dict[str, list[dict[str, Any]]]:
    """The case's links by type; accounts carry their customer and current status (frozen shows at once)."""
    grouped: dict[str, list[dict[str, Any]]] = {"customer": [], "account": [], "address": []}
    links = service.links(db, case_id)
    frozen = standing.frozen_accounts(db, [link.target for link in links if link.link_type == "account"])
    for link in links:
        item: dict[str, Any] = {"target": link.target, "chain": link.chain or None}
        if link.link_type == "account":
            account = db.get(Account, link.target)
            stored = account.status if account else None
            item.update(customer_id=account.customer_id if account else None,
                        status=standing.account_status(stored, link.target, frozen))  # fmt: skip
        grouped[link.link_type].append(item)
    customers = [c["target"] for c in grouped["customer"]] + [a["customer_id"] for a in grouped["account"]]
    preserved = standing.preserved_customers(db, [c for c in customers if c])
    for item in grouped["customer"] + grouped["account"]:
        item["preserved"] = (item.get("customer_id") or item["target"]) in preserved
    return grouped


@router.get("/cases/{case_id}")
def workspace(request: Request, case_id: int, viewer: Reader, db: DbSession) -> HTMLResponse:
    """Everything an investigator works with on one page (the graph loads its data separately)."""
    case = service.get_case(db, viewer.principal, case_id)
    links = _linked(db, case.id)
    account_ids = [a["target"] for a in links["account"]]
    related = case_actions.actions_for_accounts(db, account_ids) if account_ids else []
    related += [a for a in case_actions.list_actions(db, viewer.principal, case_id=case.id)[0] if a not in related]
    return render(request, "cases/workspace.html", viewer, {
        "title": f"{case.reference} {case.title}", "case": case, "overdue": service.is_overdue(case),
        "next_statuses": sorted(service.TRANSITIONS[case.status]), "decisions": CASE_DECISIONS,
        "priorities": CASE_PRIORITIES, "links": links, "notes": service.notes(db, case.id),
        "evidence": evidence.list_evidence(db, case.id), "alert_ids": service.alert_ids(db, case.id),
        "timeline": list(reversed(service.timeline(db, viewer.principal, case.id))),
        "actions": sorted(related, key=lambda a: a.id, reverse=True),
        "reports": filing.list_reports(db, viewer.principal, case.id),
        "legal_holds": views.case_holds(db, case.id),
        "upload_limit": _settings(request).max_upload_bytes,
        "default_expiry": (datetime.now(UTC) + ACTION_TERM).strftime("%Y-%m-%dT%H:%M"),
        "can": {p: viewer.can(p) for p in ("case.update", "case.close", "case.assign", "action.propose",
                                           "report.draft", "chain.read", "customer.reveal", "ledger.read")},
    })  # fmt: skip


@router.post("/cases/{case_id}/status", dependencies=CSRF)
def change_status(
    case_id: int,
    viewer: Updater,
    db: DbSession,
    version: Version,
    status: Annotated[str, Form()],
    decision: Annotated[str, Form()] = "",
    reason: Annotated[str, Form(max_length=20_000)] = "",
) -> RedirectResponse:
    """A legal transition only (the service names the allowed ones); closing needs a decision and reason."""
    with stale_guard():
        if status == "reopen":
            service.reopen(db, viewer.principal, case_id, version, reason=reason)
        else:
            service.change_status(db, viewer.principal, case_id, version, status, decision=text_or_none(decision),
                                  reason=text_or_none(reason))  # fmt: skip
    return redirect(f"/cases/{case_id}")


@router.post("/cases/{case_id}/assign", dependencies=CSRF)
def assign(
    case_id: int,
    viewer: Annotated[Viewer, Depends(page("case.assign"))],
    db: DbSession,
    version: Version,
    assignee: Annotated[str, Form(max_length=64)] = "",
    due_at: Annotated[str, Form()] = "",
    priority: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Assignment and deadline together (one form, two audited changes when both moved)."""
    with stale_guard():
        case = service.get_case(db, viewer.principal, case_id)
        check_version("case", case.id, case.version, version)
        if text_or_none(assignee) != case.assignee:
            case = service.assign(db, viewer.principal, case_id, version, assignee=text_or_none(assignee))
        deadline = optional_time(due_at, "due_at")
        if deadline != case.due_at or (priority and priority != case.priority):
            service.set_deadline(db, viewer.principal, case_id, case.version, deadline, priority=priority or None)
    return redirect(f"/cases/{case_id}")


@router.post("/cases/{case_id}/notes", dependencies=CSRF)
def add_note(
    request: Request,
    case_id: int,
    viewer: Updater,
    db: DbSession,
    version: Version,
    body: Annotated[str, Form(max_length=20_000)],
) -> Response:
    """htmx swaps in the refreshed notes panel (with the new version); a plain form post redirects."""
    with stale_guard():
        service.add_note(db, viewer.principal, case_id, version, body)
    if not request.headers.get("HX-Request"):
        return redirect(f"/cases/{case_id}#notes")
    case = service.get_case(db, viewer.principal, case_id)
    return render(request, "cases/notes.html", viewer, {"case": case, "notes": service.notes(db, case_id),
                                                        "can": {"case.update": True}})  # fmt: skip


@router.post("/cases/{case_id}/links", dependencies=CSRF)
def add_link(
    case_id: int,
    viewer: Updater,
    db: DbSession,
    version: Version,
    link_type: Annotated[str, Form()],
    target: Annotated[str, Form(max_length=128)],
    chain: Annotated[str, Form(max_length=16)] = "",
) -> RedirectResponse:
    """Link a customer, account or address (addresses need their chain)."""
    with stale_guard():
        service.link(db, viewer.principal, case_id, version, link_type, target.strip(),
                     chain=chain if link_type == "address" else "")  # fmt: skip
    return redirect(f"/cases/{case_id}")


@router.post("/cases/{case_id}/evidence", dependencies=CSRF)
async def upload(
    request: Request,
    case_id: int,
    viewer: Updater,
    db: DbSession,
    version: Version,
    document: UploadFile,
    title: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    """A document with its SHA-256; anything beyond the upload limit is refused with the limit named."""
    limit = _settings(request).max_upload_bytes
    data = await document.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLargeError(f"the document is larger than the upload limit of {limit:,} bytes; nothing was "
                                   "stored", limit=limit)  # fmt: skip
    if not data:
        raise PayloadTooLargeError("the document is empty; choose a file to upload", limit=limit)
    with stale_guard():
        evidence.add_document(db, viewer.principal, case_id, version, data,
                              filename=document.filename or "document", title=text_or_none(title),
                              media_type=document.content_type or "application/octet-stream",
                              settings=_settings(request))  # fmt: skip
    return redirect(f"/cases/{case_id}#evidence")


@router.post("/cases/{case_id}/evidence/verify", dependencies=CSRF)
def verify(request: Request, case_id: int, viewer: Reader, db: DbSession) -> HTMLResponse:
    """Recompute every hash now (audited); the result replaces the verify panel."""
    checks = evidence.verify_evidence(db, viewer.principal, case_id, settings=_settings(request))
    return render(request, "cases/verify.html", viewer, {"checks": checks, "ok": all(c.ok for c in checks)})


def open_cases_by_status(db: Session, viewer: Viewer, store: ChainStore) -> dict[str, Any] | None:
    """Dashboard: cases by status and how many are overdue, shown with zero counts too (an empty queue is news).

    Counts only, read directly: they name no case or person, so loading the dashboard writes no audit entry
    (opening the case list does, through ``service.list_cases``).
    """
    counts = dict(db.execute(select(Case.status, func.count()).group_by(Case.status)).tuples().all())
    now = datetime.now(UTC)
    overdue = db.scalar(select(func.count()).where(Case.status != "closed", Case.due_at.is_not(None),
                                                   Case.due_at < now)) or 0  # fmt: skip
    return {"counts": sorted(counts.items()), "total": sum(counts.values()), "overdue": int(overdue)}


register_section(DashboardSection("cases", "Cases", "case.read", "dashboard/cases.html", open_cases_by_status, order=6))
register_nav(NavItem("Investigate", "Cases", "/cases", "case.read", order=5))
