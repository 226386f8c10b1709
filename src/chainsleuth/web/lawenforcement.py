"""The law-enforcement response team's desk: triage queue, request page, call-backs, packages, statistics.

About 200 requests a working day for a team of 70 means each page must answer "what do I do next" at a
glance: the queue sorts by urgency and hands out the next request in one click (claimed, so two colleagues
never work the same one); the request page puts completeness, the matrix decision, the requester's risk score
with its reasons, matches and "seen before" flags next to the buttons they justify. Every button calls the
same audited Python API as ``/api/le``, so its rules hold here too: call-back before an emergency, freeze or
seizure is acted on, four-eyes on packages, templated reasons on declines. Officers never reach these pages
(they lack ``le_request.triage``); their portal is :mod:`chainsleuth.web.portal`.
"""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from sqlalchemy.orm import Session

from chainsleuth.api.deps import get_chain_store, note_refusal
from chainsleuth.api.errors import http_status_for
from chainsleuth.errors import ChainsleuthError, InvalidInputError
from chainsleuth.lawenforcement import officers, packages, responses, stats, triage
from chainsleuth.lawenforcement import requests as le_requests
from chainsleuth.lawenforcement.agencies import agency_view, get_agency
from chainsleuth.lawenforcement.matrix import load_matrix
from chainsleuth.lawenforcement.requests import OPEN_STATUSES
from chainsleuth.store.chainstore import ChainStore
from chainsleuth.store.models.lawenforcement import CALLBACK_OUTCOMES, REQUEST_STATUSES
from chainsleuth.web.core import DbSession, NavItem, Viewer, csrf_protected, page, redirect, register_nav, render
from chainsleuth.web.dashboard import DashboardSection, register_section
from chainsleuth.web.le_common import parse_day, safe_filename

router = APIRouter(include_in_schema=False)
Triager = Annotated[Viewer, Depends(page("le_request.triage"))]
Responder = Annotated[Viewer, Depends(page("le_request.triage", "le_request.respond"))]
Manager = Annotated[Viewer, Depends(page("agency.manage"))]
StatsReader = Annotated[Viewer, Depends(page("le_request.read"))]
CSRF = [Depends(csrf_protected)]
QUEUES = ("emergency", "actions", "preservation", "production")
DONE = {
    "claimed": "You hold this request now.", "released": "The request is back in its queue.",
    "triaged": "Triage done: completeness, matrix, matches and overlaps are below.",
    "callback": "The call-back is recorded.", "actions": "The account actions are proposed for four-eyes approval.",
    "declined": "The request is declined; the agency sees the reason.", "narrowed": "The response is narrowed.",
    "drafted": "The package is drafted: a colleague reviews and approves it.", "message": "Message sent.",
    "rejected": "The draft was sent back.",
}  # fmt: skip
PREVIEW_ROWS = 4


def _fail(db: DbSession, error: ChainsleuthError) -> tuple[str, int]:
    """Undo the failed step's writes; the page then shows why (a 404 is raised as the 404 page instead)."""
    note_refusal(db, error)
    db.rollback()
    if http_status_for(error) == 404:
        raise error
    return error.message, http_status_for(error)


# -- queue ------------------------------------------------------------------------------------------------------


def _queue_context(viewer: Viewer, db: DbSession, q: str, status: str) -> dict[str, Any]:
    queue_name = q if q in QUEUES else None
    rows: list[Any] = []
    wanted = (status,) if status in REQUEST_STATUSES else OPEN_STATUSES
    for one in wanted:
        found, _ = le_requests.list_requests(db, viewer.principal, status=one, queue=queue_name, limit=500)
        rows.extend(found)
    rows.sort(key=lambda r: (r.queue != "emergency", -r.escalation_level, r.due_at, r.id))
    counts = dict.fromkeys(QUEUES, 0)
    for one in OPEN_STATUSES:
        for name in QUEUES:
            counts[name] += le_requests.list_requests(db, viewer.principal, status=one, queue=name, limit=1)[1]
    return {
        "title": "Triage queue", "requests": [le_requests.request_view(r, officer=False) for r in rows[:200]],
        "counts": counts, "q": queue_name or "", "status": status if status in REQUEST_STATUSES else "open",
        "statuses": ("open", *REQUEST_STATUSES), "queues": QUEUES, "error": None,
    }  # fmt: skip


@router.get("/le/queue")
def queue(request: Request, viewer: Triager, db: DbSession, q: str = "", status: str = "open") -> HTMLResponse:
    """Open requests, most urgent first: emergency queue, then escalation level, then deadline."""
    return render(request, "le/queue.html", viewer, _queue_context(viewer, db, q, status))


@router.post("/le/queue/next", dependencies=CSRF)
def take_next(request: Request, viewer: Triager, db: DbSession, q: Annotated[str, Form()] = "") -> Response:
    """Claim the most urgent unclaimed request and open it."""
    try:
        found = triage.next_request(db, viewer.principal, q if q in QUEUES else None)
    except ChainsleuthError as error:
        note_refusal(db, error)
        db.rollback()
        context = {**_queue_context(viewer, db, q, "open"), "error": f"Nothing to take: {error.message}"}
        return render(request, "le/queue.html", viewer, context)
    return redirect(f"/le/requests/{found.reference}?done=claimed")


# -- request ----------------------------------------------------------------------------------------------------


def _request_context(request: Request, viewer: Viewer, db: DbSession, request_id: str) -> dict[str, Any]:
    found = le_requests.get_request(db, viewer.principal, request_id)
    view = le_requests.request_view(found, officer=False)
    targets = [le_requests.target_view(t, officer=False) for t in le_requests.request_targets(db, found)]
    agency = get_agency(db, found.agency_id)
    who = viewer.principal
    return {
        "title": found.reference, "req": view, "targets": targets, "agency": agency_view(agency),
        "triage": view["triage"] or {}, "callbacks": [responses.callback_view(c) for c in
                                                      responses.callbacks(db, who, found.id)],
        "actions": responses.request_actions(db, who, found.id),
        "packages": [packages.package_view(p) for p in packages.list_packages(db, who, found.id)],
        "messages": [responses.message_view(m) for m in responses.messages(db, who, found.id)],
        "templates": responses.DECLINE_TEMPLATES, "outcomes": CALLBACK_OUTCOMES,
        "can_respond": viewer.can("le_request.respond"), "can_propose": viewer.can("action.propose"),
        "is_open": found.status in OPEN_STATUSES, "needs_action": found.request_type in
        ("freeze", "seizure", "preservation", "unfreeze"),
        "now_local": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M"), "mine": found.claimed_by == viewer.username,
        "notice": DONE.get(request.query_params.get("done", "")), "error": None,
    }  # fmt: skip


def _request_page(request: Request, viewer: Viewer, db: DbSession, request_id: str, error: str | None = None,
                  status: int = 200, **extra: Any) -> HTMLResponse:  # fmt: skip
    context = {**_request_context(request, viewer, db, request_id), "error": error, **extra}
    return render(request, "le/request.html", viewer, context, status_code=status)


@router.get("/le/requests/{request_id}")
def request_page(request: Request, request_id: str, viewer: Triager, db: DbSession) -> HTMLResponse:
    """Everything needed to decide one request, and the buttons for the decision."""
    return _request_page(request, viewer, db, request_id)


def _step(request: Request, viewer: Viewer, db: DbSession, request_id: str, done: str, call: Any) -> Response:
    """Run one state-changing step; its error is shown on the request page, its success as a notice."""
    try:
        call()
    except ChainsleuthError as error:
        message, status = _fail(db, error)
        return _request_page(request, viewer, db, request_id, error=message, status=status)
    return redirect(f"/le/requests/{request_id}?done={done}")


@router.post("/le/requests/{request_id}/claim", dependencies=CSRF)
def claim(request: Request, request_id: str, viewer: Triager, db: DbSession) -> Response:
    return _step(request, viewer, db, request_id, "claimed", lambda: triage.claim(db, viewer.principal, request_id))


@router.post("/le/requests/{request_id}/release", dependencies=CSRF)
def release(request: Request, request_id: str, viewer: Triager, db: DbSession) -> Response:
    return _step(request, viewer, db, request_id, "released",
                 lambda: triage.release(db, viewer.principal, request_id))  # fmt: skip


@router.post("/le/requests/{request_id}/triage", dependencies=CSRF)
def run_triage(
    request: Request, request_id: str, viewer: Triager, db: DbSession,
    store: Annotated[ChainStore, Depends(get_chain_store)],
) -> Response:  # fmt: skip
    """Completeness, matrix, matching (blind indexes and the chain store) and "seen before" in one step."""
    return _step(request, viewer, db, request_id, "triaged",
                 lambda: triage.triage(db, viewer.principal, request_id, chain_store=store,
                                       matrix=load_matrix(data_dir=request.app.state.settings.data_dir)))  # fmt: skip


@router.post("/le/requests/{request_id}/callback", dependencies=CSRF)
def callback(
    request: Request, request_id: str, viewer: Triager, db: DbSession, phone: Annotated[str, Form()] = "",
    outcome: Annotated[str, Form()] = "", called_at: Annotated[str, Form()] = "", notes: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    """Record a call to a registry contact of the agency (never a number given in the request)."""

    def record() -> None:
        when = parse_day(called_at, "called_at") or datetime.now(UTC)
        responses.record_callback(db, viewer.principal, request_id, phone=phone, outcome=outcome, called_at=when,
                                  notes=notes)  # fmt: skip

    return _step(request, viewer, db, request_id, "callback", record)


@router.post("/le/requests/{request_id}/actions", dependencies=CSRF)
def propose_actions(
    request: Request, request_id: str, viewer: Triager, db: DbSession, days: Annotated[int, Form()] = 30
) -> Response:
    """Propose the request's freeze, seizure, preservation or unfreeze (a compliance officer approves)."""

    def propose() -> None:
        if not 1 <= days <= 365:
            raise InvalidInputError("the actions last 1 to 365 days", field="days")
        expires = datetime.now(UTC) + timedelta(days=days)
        responses.propose_actions(db, viewer.principal, request_id, expires_at=expires)

    return _step(request, viewer, db, request_id, "actions", propose)


@router.post("/le/requests/{request_id}/decline", dependencies=CSRF)
def decline(
    request: Request, request_id: str, viewer: Responder, db: DbSession, template: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    return _step(
        request,
        viewer,
        db,
        request_id,
        "declined",
        lambda: responses.decline(db, viewer.principal, request_id, template=template, note=note or None),
    )


@router.post("/le/requests/{request_id}/narrow", dependencies=CSRF)
async def narrow(request: Request, request_id: str, viewer: Responder, db: DbSession) -> Response:
    """Keep only some of the categories the matrix allowed, with a templated reason."""
    form = await request.form()
    kept = [str(c) for c in form.getlist("categories")]
    template, note = str(form.get("template") or "overbroad"), str(form.get("note") or "") or None
    return _step(request, viewer, db, request_id, "narrowed",
                 lambda: responses.narrow(db, viewer.principal, request_id, categories=kept, template=template,
                                          note=note))  # fmt: skip


@router.post("/le/requests/{request_id}/package", dependencies=CSRF)
def draft(request: Request, request_id: str, viewer: Responder, db: DbSession) -> Response:
    """Draft the minimum-necessary package and open it for review."""
    try:
        package = packages.draft_package(db, viewer.principal, request_id)
    except ChainsleuthError as error:
        message, status = _fail(db, error)
        return _request_page(request, viewer, db, request_id, error=message, status=status)
    return redirect(f"/le/packages/{package.id}?done=drafted")


@router.post("/le/requests/{request_id}/messages", dependencies=CSRF)
def message(
    request: Request, request_id: str, viewer: Responder, db: DbSession, body: Annotated[str, Form()] = ""
) -> Response:
    limit = request.app.state.settings.max_upload_bytes
    return _step(
        request,
        viewer,
        db,
        request_id,
        "message",
        lambda: responses.post_message(db, viewer.principal, request_id, body, max_upload_bytes=limit),
    )


@router.get("/le/requests/{request_id}/instrument.pdf")
def instrument(request_id: str, viewer: Triager, db: DbSession) -> Response:
    """The legal instrument, decrypted and hash-checked, shown in the browser's PDF viewer."""
    data = responses.instrument(db, viewer.principal, request_id)
    return Response(data, media_type="application/pdf", headers={"Content-Disposition": "inline"})


@router.get("/le/requests/{request_id}/messages/{message_id}/attachment")
def attachment(request_id: str, message_id: int, viewer: Triager, db: DbSession) -> Response:
    """An attachment of the thread, always as a download (never rendered: it comes from outside)."""
    data, filename = responses.attachment(db, viewer.principal, request_id, message_id)
    disposition = f'attachment; filename="{safe_filename(filename)}"'
    return Response(data, media_type="application/octet-stream", headers={"Content-Disposition": disposition})


# -- packages ---------------------------------------------------------------------------------------------------


def _preview(bundle: bytes) -> dict[str, list[dict[str, str]]]:
    """The first rows of each category's CSV in the draft (what the approver checks before sealing)."""
    shown: dict[str, list[dict[str, str]]] = {}
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        for name in sorted(archive.namelist()):
            if name.endswith(".csv"):
                reader = csv.DictReader(io.StringIO(archive.read(name).decode("utf-8")))
                shown[name[:-4]] = [row for _, row in zip(range(PREVIEW_ROWS), reader, strict=False)]
    return shown


def _package_page(request: Request, viewer: Viewer, db: DbSession, package_id: int, *, error: str | None = None,
                  password: str | None = None, status: int = 200) -> HTMLResponse:  # fmt: skip
    package, found = packages.get_package(db, viewer.principal, package_id)
    view = packages.package_view(package)
    preview = _preview(packages.draft_bytes(db, viewer.principal, package.id)) if package.status == "draft" else {}
    return render(request, "le/package.html", viewer, {
        "title": f"Package #{package.id}", "pkg": view, "req": le_requests.request_view(found, officer=False),
        "preview": preview, "error": error, "password": password,
        "can_approve": package.status == "draft" and package.drafted_by != viewer.username,
        "notice": DONE.get(request.query_params.get("done", "")),
    }, status_code=status)  # fmt: skip


@router.get("/le/packages/{package_id}")
def package_page(request: Request, package_id: int, viewer: Responder, db: DbSession) -> HTMLResponse:
    """A package for review: categories, manifest with hashes, the first records of each file."""
    return _package_page(request, viewer, db, package_id)


@router.get("/le/packages/{package_id}/draft.zip")
def draft_zip(package_id: int, viewer: Responder, db: DbSession) -> Response:
    data = packages.draft_bytes(db, viewer.principal, package_id)
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="package-{package_id}-draft.zip"'},
    )


@router.post("/le/packages/{package_id}/approve", dependencies=CSRF)
def approve(
    request: Request, package_id: int, viewer: Responder, db: DbSession, days: Annotated[int, Form()] = 30
) -> HTMLResponse:
    """Four-eyes approval and sealing; a password (no agency key) is shown on this answer only, never again."""
    try:
        if not 1 <= days <= 365:
            raise InvalidInputError("a package stays downloadable 1 to 365 days", field="days")
        _, password = packages.approve_package(db, viewer.principal, package_id, expires_in_days=days)
    except ChainsleuthError as error:
        message, status = _fail(db, error)
        return _package_page(request, viewer, db, package_id, error=message, status=status)
    return _package_page(request, viewer, db, package_id, password=password)


@router.post("/le/packages/{package_id}/reject", dependencies=CSRF)
def reject(
    request: Request, package_id: int, viewer: Responder, db: DbSession, reason: Annotated[str, Form()] = ""
) -> Response:
    try:
        packages.reject_package(db, viewer.principal, package_id, reason)
    except ChainsleuthError as error:
        message, status = _fail(db, error)
        return _package_page(request, viewer, db, package_id, error=message, status=status)
    return redirect(f"/le/packages/{package_id}?done=rejected")


# -- statistics and officers ------------------------------------------------------------------------------------


def _period(since: str, until: str) -> tuple[datetime | None, datetime | None]:
    return parse_day(since, "since"), parse_day(until, "until", end=True)


@router.get("/le/stats")
def statistics(request: Request, viewer: StatsReader, db: DbSession, since: str = "", until: str = "") -> HTMLResponse:
    """Volumes, outcomes, disclosure rate, turnaround and failed emergency verifications (staff only)."""
    start, end = _period(since, until)
    report = stats.statistics(db, viewer.principal, since=start, until=end)
    return render(request, "le/stats.html", viewer, {"title": "Requests: statistics", "report": report,
                                                     "since": since, "until": until})  # fmt: skip


@router.get("/le/stats/transparency.{fmt}")
def transparency(fmt: str, viewer: StatsReader, db: DbSession, since: str = "", until: str = "") -> Response:
    """The transparency report as Markdown, CSV or JSON (aggregates only)."""
    writers = {"md": (stats.to_markdown, "text/markdown"), "csv": (stats.to_csv, "text/csv"),
               "json": (stats.to_json, "application/json")}  # fmt: skip
    if fmt not in writers:
        raise InvalidInputError("the report comes as md, csv or json", format=fmt)
    start, end = _period(since, until)
    write, media = writers[fmt]
    body = write(stats.statistics(db, viewer.principal, since=start, until=end))
    return PlainTextResponse(
        body, media_type=media, headers={"Content-Disposition": f'attachment; filename="transparency.{fmt}"'}
    )


@router.get("/le/officers")
def officer_list(request: Request, viewer: Manager, db: DbSession) -> HTMLResponse:
    """Registrations with their verification state; approval once the address and authenticator are proved."""
    rows = [officers.officer_view(o) for o in officers.list_officers(db, viewer.principal)]
    return render(
        request,
        "le/officers.html",
        viewer,
        {"title": "Officers", "officers": rows, "notice": DONE.get(request.query_params.get("done", ""))},
    )


@router.post("/le/officers/{username}/{verb}", dependencies=CSRF)
def officer_step(
    username: str, verb: str, viewer: Manager, db: DbSession, reason: Annotated[str, Form()] = ""
) -> Response:
    """Approve, suspend (with a reason) or reinstate an officer."""
    if verb == "approve":
        officers.approve_officer(db, viewer.principal, username)
    elif verb == "suspend":
        officers.suspend_officer(db, viewer.principal, username, reason)
    elif verb == "reinstate":
        officers.reinstate_officer(db, viewer.principal, username)
    else:
        raise InvalidInputError("unknown step", step=verb)
    return redirect("/le/officers")


def _dashboard(db: Session, viewer: Viewer, store: ChainStore) -> dict[str, Any] | None:
    """The dashboard card: open requests per queue, overdue ones, the five most urgent."""
    rows: list[Any] = []
    counts = dict.fromkeys(QUEUES, 0)
    for status in OPEN_STATUSES:
        found, _ = le_requests.list_requests(db, viewer.principal, status=status, limit=200)
        rows.extend(found)
    for row in rows:
        counts[row.queue] = counts.get(row.queue, 0) + 1
    rows.sort(key=lambda r: (r.queue != "emergency", -r.escalation_level, r.due_at, r.id))
    views = [le_requests.request_view(r, officer=False) for r in rows]
    return {"open": len(rows), "overdue": sum(1 for v in views if v["overdue"]), "counts": counts,
            "urgent": views[:5]}  # fmt: skip


register_section(DashboardSection("le_requests", "Law-enforcement requests by deadline", "le_request.triage",
                                  "le/dashboard.html", _dashboard, order=40))  # fmt: skip
register_nav(NavItem("Cooperate", "Triage queue", "/le/queue", "le_request.triage", ("/le/requests", "/le/packages"),
                     order=20))  # fmt: skip
# le_request.read, as the page: auditors and compliance officers read the statistics too; officers hold the same
# permission for their own agency's requests, but statistics across agencies are staff-only.
register_nav(NavItem("Cooperate", "Request statistics", "/le/stats", "le_request.read", order=21, staff_only=True))
register_nav(NavItem("Cooperate", "Officers", "/le/officers", "agency.manage", order=22))
