"""Four-eyes on the pages: propose account actions from a case, draft goAML reports, and the approval inbox.

A freeze, unfreeze, seizure or preservation is proposed by one person and carried out only when a second
one approves it (``cases.actions``); a goAML report is drafted, validated against the schema, and filed only
after someone other than its drafter approves it (``cases.goaml.filing``). The pages add nothing to those
rules: self-approval, an expired proposal or an invalid report are refused by the service, and the refusal's
sentence is what the officer reads.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chainsleuth.cases import actions, service
from chainsleuth.cases.goaml import filing
from chainsleuth.store.chainstore import ChainStore
from chainsleuth.store.models.cases import AccountAction, StrReport
from chainsleuth.store.models.lawenforcement import LeAgency, LePackage, LeRequest
from chainsleuth.web.case_forms import optional_time, stale_guard, text_or_none
from chainsleuth.web.core import DbSession, NavItem, Viewer, csrf_protected, page, redirect, register_nav, render
from chainsleuth.web.dashboard import DashboardSection, register_section

router = APIRouter(include_in_schema=False)
CSRF = [Depends(csrf_protected)]
Approver = Annotated[Viewer, Depends(page("action.approve"))]
ReportApprover = Annotated[Viewer, Depends(page("report.approve"))]
ACTION_STALE = "someone else decided on this proposal since you opened the inbox — reload; nothing was changed"


@router.post("/cases/{case_id}/actions", dependencies=CSRF)
def propose(
    case_id: int,
    viewer: Annotated[Viewer, Depends(page("action.propose"))],
    db: DbSession,
    kind: Annotated[str, Form()],
    account_id: Annotated[str, Form(max_length=32)],
    reason: Annotated[str, Form(max_length=20_000)],
    legal_basis: Annotated[str, Form(max_length=500)] = "",
    expires_at: Annotated[str, Form()] = "",
    review_at: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Step 1 of four-eyes, tied to the case; the approval inbox shows it to a second officer."""
    case = service.get_case(db, viewer.principal, case_id)
    actions.propose(db, viewer.principal, kind, reason=reason, account_id=account_id.strip(),
                    legal_basis=text_or_none(legal_basis), case_id=case.id,
                    expires_at=optional_time(expires_at, "expires_at"),
                    review_at=optional_time(review_at, "review_at"))  # fmt: skip
    return redirect(f"/cases/{case.id}#actions")


@router.post("/cases/{case_id}/reports", dependencies=CSRF)
def draft_report(
    case_id: int,
    viewer: Annotated[Viewer, Depends(page("report.draft"))],
    db: DbSession,
    reason: Annotated[str, Form(max_length=4000)],
    action: Annotated[str, Form(max_length=4000)],
) -> RedirectResponse:
    """Generate and validate a goAML report from the case; an invalid one is kept with its errors."""
    filing.draft_report(db, viewer.principal, case_id, reason=reason, action=action)
    return redirect(f"/cases/{case_id}#reports")


@router.get("/reports/{report_id}/xml")
def report_xml(
    report_id: int, viewer: Annotated[Viewer, Depends(page("customer.reveal"))], db: DbSession,
    purpose: Annotated[str, Query(max_length=200)] = "str_filing",
    case_ref: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:  # fmt: skip
    """The stored XML exactly as validated. It identifies customers, so it takes ``customer.reveal``; the link
    sits on the case's goAML panel, whose purpose is the filing of that case's report, so the purpose defaults
    to ``str_filing`` with the case's reference (audited per customer, as over the API)."""
    reference = case_ref or f"CASE-{filing.get_report(db, report_id).case_id:06d}"
    report = filing.read_report_xml(db, viewer.principal, report_id, purpose=purpose, case_ref=reference)
    disposition = f'attachment; filename="{report.entity_reference}.xml"'
    return Response(report.xml, media_type="application/xml",
                    headers={"Content-Disposition": disposition, "Cache-Control": "no-store"})  # fmt: skip


@router.get("/approvals")
def inbox(
    request: Request,
    viewer: Annotated[Viewer, Depends(page("case.read"))],
    db: DbSession,
) -> HTMLResponse:
    """Proposals and drafted reports awaiting a second person; the viewer's own are marked as such."""
    proposed, _ = actions.list_actions(db, viewer.principal, status="proposed", limit=200)
    reports = [r for r in filing.list_reports(db, viewer.principal) if r.status == "drafted"]
    recent, _ = actions.list_actions(db, viewer.principal, limit=10)
    return render(request, "approvals.html", viewer, {
        "title": "Approval inbox", "proposed": proposed, "reports": reports, "packages": draft_packages(db, viewer),
        "recent": [a for a in recent if a.status != "proposed"],
        "can_approve": viewer.can("action.approve"), "can_approve_reports": viewer.can("report.approve"),
    })  # fmt: skip


# Disclosure packages in the inbox (added): drafts awaiting the four-eyes approval of the package page.
def draft_packages(db: Session, viewer: Viewer) -> list[dict[str, Any]] | None:
    """Drafted disclosure packages, oldest first; None for a role without ``le_request.respond`` (section hidden)."""
    if not viewer.can("le_request.respond"):
        return None
    query = (
        select(LePackage, LeRequest.reference, LeAgency.name)
        .join(LeRequest, LeRequest.id == LePackage.request_id)
        .join(LeAgency, LeAgency.agency_id == LeRequest.agency_id)
        .where(LePackage.status == "draft")
        .order_by(LePackage.drafted_at, LePackage.id)
    )
    return [{"id": p.id, "reference": ref, "agency": agency, "categories": p.categories, "drafted_by": p.drafted_by,
             "drafted_at": p.drafted_at, "own": p.drafted_by == viewer.username}
            for p, ref, agency in db.execute(query)]  # fmt: skip


@router.post("/actions/{action_id}/approve", dependencies=CSRF)
def approve(action_id: int, viewer: Approver, db: DbSession, version: Annotated[int, Form(ge=1)]) -> RedirectResponse:
    """Step 2: carried out at once (a freeze blocks the account's withdrawals from now on)."""
    with stale_guard(ACTION_STALE):
        actions.approve(db, viewer.principal, action_id, version)
    return redirect(f"/approvals?done={action_id}")


@router.post("/actions/{action_id}/reject", dependencies=CSRF)
def reject(
    action_id: int,
    viewer: Approver,
    db: DbSession,
    version: Annotated[int, Form(ge=1)],
    reason: Annotated[str, Form(max_length=4000)],
) -> RedirectResponse:
    """Refuse the proposal with a reason (recorded on the action, its case timeline and the audit log)."""
    with stale_guard(ACTION_STALE):
        actions.reject(db, viewer.principal, action_id, version, reason=reason)
    return redirect(f"/approvals?done={action_id}")


@router.post("/reports/{report_id}/approve", dependencies=CSRF)
def approve_report(
    report_id: int, viewer: ReportApprover, db: DbSession, version: Annotated[int, Form(ge=1)]
) -> RedirectResponse:
    """Four-eyes for a report: only a valid one, only by someone other than its drafter."""
    with stale_guard(ACTION_STALE):
        filing.approve_report(db, viewer.principal, report_id, version)
    return redirect("/approvals")


def awaiting(db: Session, viewer: Viewer, store: ChainStore) -> dict[str, int | None]:
    """Dashboard: what waits for a second person (zero counts shown too); disclosure packages for the roles
    that approve them."""
    proposals = db.scalar(select(func.count()).where(AccountAction.status == "proposed")) or 0
    reports = db.scalar(select(func.count()).where(StrReport.status == "drafted")) or 0
    packages: int | None = None  # None: the viewer does not approve packages (no line for them)
    if viewer.can("le_request.respond"):
        packages = int(db.scalar(select(func.count()).where(LePackage.status == "draft")) or 0)
    return {"proposals": int(proposals), "reports": int(reports), "packages": packages}


register_section(DashboardSection("approvals", "Awaiting approval", "case.read", "dashboard/approvals.html",
                                  awaiting, order=7))  # fmt: skip
register_nav(NavItem("Act", "Approval inbox", "/approvals", "case.read", order=10))
