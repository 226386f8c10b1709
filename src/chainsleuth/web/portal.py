"""The law-enforcement portal for officers: registration, verification, requests, messages and packages.

"As clear as a good government service": every page says what happens next, every refusal says why, and a
submission that fails keeps what the officer typed. The pages call the same Python API as ``/api/le`` and so
inherit its rules: an officer sees only their own agency's requests (another agency's request answers the same
404 as a missing one), submitting and downloading need a fresh authenticator code on top of the logged-in
session (a hijacked browser session alone cannot take data out), uploads are limited by the deployment's size
limit, and malformed target rows are kept and listed row by row for correction.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

import pyotp
from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.api.deps import note_refusal
from chainsleuth.api.errors import http_status_for
from chainsleuth.errors import ChainsleuthError, PermissionDeniedError
from chainsleuth.lawenforcement import officers, packages, responses
from chainsleuth.lawenforcement import requests as le_requests
from chainsleuth.lawenforcement.agencies import get_agency
from chainsleuth.lawenforcement.matrix import CATEGORIES, load_matrix
from chainsleuth.lawenforcement.targets import COLUMNS, parse_correction, parse_targets_csv
from chainsleuth.store.chainstore import ChainStore
from chainsleuth.store.models.lawenforcement import REQUEST_TYPES, LeOfficer
from chainsleuth.store.models.users import Role, User
from chainsleuth.web.core import (
    DbSession,
    NavItem,
    Viewer,
    csrf_protected,
    current_web_session,
    page,
    redirect,
    register_nav,
    render,
    sessions_of,
    set_session_cookie,
)
from chainsleuth.web.dashboard import DashboardSection, register_section
from chainsleuth.web.le_common import parse_day, read_upload, safe_filename, sealed_container
from chainsleuth.web.sessions import credential_fingerprint

router = APIRouter(include_in_schema=False)
Officer = Annotated[Viewer, Depends(page("le_request.submit"))]
CSRF = Depends(csrf_protected)
NOTICES = {
    "submitted": "Your request was received. Its reference and deadline are below.",
    "corrected": "The target row was corrected.",
    "message": "Your message was sent securely to the exchange.",
    "totp": "Your authenticator is confirmed.",
    "email": "A verification code was sent to your address: open it to keep using the portal.",
}
FORM_FIELDS = ("request_type", "legal_basis", "legal_reference", "jurisdiction", "case_number", "offence",
               "description", "date_from", "date_to", "requested_deadline", "non_disclosure_until",
               "parent_reference", "seizure_chain", "seizure_address")  # fmt: skip


def _settings(request: Request) -> Any:
    return request.app.state.settings


def _officer_row(db: DbSession, viewer: Viewer) -> LeOfficer:
    if viewer.principal.role is not Role.LE_OFFICER:
        raise PermissionDeniedError("the portal is for law-enforcement officers")
    return officers.get_officer(db, viewer.username)


def _status_of(db: DbSession, viewer: Viewer) -> list[str]:
    """What still stands between the officer and the portal (empty when they may use it)."""
    try:
        officers.require_active_officer(db, viewer.principal)
    except PermissionDeniedError as error:
        return list(error.details.get("problems") or [error.message])
    return []


def _anon_csrf(request: Request) -> tuple[Any, bool]:
    session = current_web_session(request)
    if session is None:
        return sessions_of(request).anonymous(), True
    return session, False


def _public(request: Request, template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    """A page for visitors without an account (registration, verification), with an anonymous CSRF session."""
    session, fresh = _anon_csrf(request)
    viewer = getattr(request.state, "viewer", None)
    response = render(request, template, viewer, {"csrf_token": session.csrf, **context}, status_code=status)
    if fresh:
        set_session_cookie(request, response, session)
    return response


# -- registration and verification ------------------------------------------------------------------------------


@router.get("/portal/register")
def register_form(request: Request) -> HTMLResponse:
    """Registration with an official agency address; nothing is created until the form is sent."""
    return _public(request, "portal/register.html", {"title": "Register as an officer", "form": {}})


@router.post("/portal/register", dependencies=[CSRF])
def register(
    request: Request, db: DbSession, username: Annotated[str, Form()] = "", display_name: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "", password2: Annotated[str, Form()] = "",
) -> HTMLResponse:  # fmt: skip
    """Register; the verification code goes to the official address (shown here in demo mode only)."""
    form = {"username": username, "display_name": display_name, "email": email}
    context: dict[str, Any] = {"title": "Register as an officer", "form": form}
    if password != password2:
        return _public(request, "portal/register.html", {**context, "error": "The two passwords differ."}, 400)
    try:
        officer, token = officers.register_officer(db, username=username, password=password,
                                                   display_name=display_name or username, email=email)  # fmt: skip
    except ChainsleuthError as error:
        note_refusal(db, error)
        db.rollback()
        reasons = error.details.get("reasons") or []
        return _public(request, "portal/register.html", {**context, "error": error.message, "reasons": reasons},
                       http_status_for(error))  # fmt: skip
    demo_link = f"/portal/verify?token={token}" if _settings(request).demo else None
    return _public(
        request,
        "portal/registered.html",
        {"title": "Check your e-mail", "email": officer.email, "agency_id": officer.agency_id, "demo_link": demo_link},
    )


@router.get("/portal/verify")
def verify_form(request: Request, token: str = "") -> HTMLResponse:
    """The link of the verification mail opens a confirmation (a GET changes nothing: mail scanners follow links)."""
    return _public(request, "portal/verify.html", {"title": "Verify your e-mail address", "token": token})


@router.post("/portal/verify", dependencies=[CSRF])
def verify(request: Request, db: DbSession, token: Annotated[str, Form()] = "") -> HTMLResponse:
    """Prove the address; the officer then logs in and enrols an authenticator."""
    try:
        officer = officers.verify_email(db, token)
    except ChainsleuthError as error:
        note_refusal(db, error)
        db.rollback()
        context = {"title": "Verify your e-mail address", "token": token, "error": error.message}
        return _public(request, "portal/verify.html", context, http_status_for(error))
    return _public(request, "portal/verified.html", {"title": "E-mail address verified", "officer": officer})


# -- set-up: authenticator and approval -------------------------------------------------------------------------


def _setup_context(request: Request, viewer: Viewer, db: DbSession) -> dict[str, Any]:
    officer = _officer_row(db, viewer)
    user = db.scalar(select(User).where(User.username == viewer.username))
    pending = user.totp_secret if user is not None and officer.totp_confirmed_at is None else None
    return {
        "title": "Your portal account", "officer": officer, "problems": _status_of(db, viewer),
        "pending": pending, "pending_grouped": " ".join(pending[i:i + 4] for i in range(0, len(pending), 4))
        if pending else None,
        "otpauth": pyotp.TOTP(pending).provisioning_uri(name=officer.email, issuer_name=officers.TOTP_ISSUER)
        if pending else None,
        "error": None, "notice": NOTICES.get(request.query_params.get("done", "")),
        "demo_link": f"/portal/verify?token={request.query_params['demo_token']}"
        if _settings(request).demo and request.query_params.get("demo_token") else None,
    }  # fmt: skip


@router.get("/portal/setup")
def setup(request: Request, viewer: Officer, db: DbSession) -> HTMLResponse:
    """The officer's checklist: address verified, authenticator enrolled, approved by the exchange."""
    return render(request, "portal/setup.html", viewer, _setup_context(request, viewer, db))


def _setup_error(request: Request, viewer: Viewer, db: DbSession, error: ChainsleuthError) -> HTMLResponse:
    """Undo the failed step and show the account page with the reason."""
    note_refusal(db, error)
    db.rollback()
    context = {**_setup_context(request, viewer, db), "error": error.message}
    return render(request, "portal/setup.html", viewer, context, status_code=http_status_for(error))


@router.post("/portal/setup/totp", dependencies=[CSRF])
def totp_start(request: Request, viewer: Officer, db: DbSession, code: Annotated[str, Form()] = "") -> Response:
    """Propose an authenticator secret; replacing a confirmed one needs its current code. The session continues
    under the changed credentials."""
    _officer_row(db, viewer)
    try:
        officers.enrol_totp(db, viewer.principal, code or None)
    except ChainsleuthError as error:
        return _setup_error(request, viewer, db, error)
    db.flush()
    user = db.scalar(select(User).where(User.username == viewer.username))
    assert user is not None
    response = redirect("/portal/setup")
    fingerprint = credential_fingerprint(user.password_hash, user.totp_secret)
    set_session_cookie(request, response, replace(viewer.session, fingerprint=fingerprint))
    return response


@router.post("/portal/setup/totp/confirm", dependencies=[CSRF])
def totp_confirm(request: Request, viewer: Officer, db: DbSession, code: Annotated[str, Form()] = "") -> Response:
    """Confirm the authenticator with its first code."""
    _officer_row(db, viewer)
    try:
        officers.confirm_totp(db, viewer.principal, code)
    except ChainsleuthError as error:
        return _setup_error(request, viewer, db, error)
    return redirect("/portal/setup?done=totp")


@router.post("/portal/setup/email", dependencies=[CSRF])
def email_change(request: Request, viewer: Officer, db: DbSession, email: Annotated[str, Form()] = "") -> Response:
    """Change the officer's address to another official one of their agency; it is verified again."""
    _officer_row(db, viewer)
    try:
        _, token = officers.change_email(db, viewer.principal, email)
    except ChainsleuthError as error:
        return _setup_error(request, viewer, db, error)
    return redirect(_verification_sent(request, token))


@router.post("/portal/setup/verification", dependencies=[CSRF])
def resend(request: Request, viewer: Officer, db: DbSession) -> Response:
    """A new verification code to the current address (the one that expired stops working)."""
    _officer_row(db, viewer)
    try:
        _, token = officers.resend_verification(db, viewer.principal)
    except ChainsleuthError as error:
        return _setup_error(request, viewer, db, error)
    return redirect(_verification_sent(request, token))


def _verification_sent(request: Request, token: str) -> str:
    """Where to go after a code was sent: the account page (and, in demo mode only, the code's link)."""
    if _settings(request).demo:
        return f"/portal/setup?done=email&demo_token={token}"
    return "/portal/setup?done=email"


# -- requests ---------------------------------------------------------------------------------------------------


@router.get("/portal")
def my_requests(request: Request, viewer: Officer, db: DbSession, status: str | None = None) -> Response:
    """The agency's requests, most urgent first; an officer not yet approved is sent to the checklist."""
    _officer_row(db, viewer)
    if _status_of(db, viewer):
        return redirect("/portal/setup")
    rows, total = le_requests.list_requests(db, viewer.principal, status=status or None, limit=200)
    views = [le_requests.request_view(r, officer=True) for r in rows]
    return render(request, "portal/index.html", viewer, {"title": "Your agency's requests", "requests": views,
                                                         "total": total, "status": status or ""})  # fmt: skip


def _form_context(request: Request, form: dict[str, Any], error: str | None = None,
                  details: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    matrix = load_matrix(data_dir=_settings(request).data_dir)
    return {"title": "New request", "form": form, "error": error, "details": details or {},
            "types": REQUEST_TYPES, "bases": matrix.legal_bases or ("court_order",), "categories": CATEGORIES,
            "columns": COLUMNS, "limit_mb": max(1, _settings(request).max_upload_bytes // (1024 * 1024))}  # fmt: skip


@router.get("/portal/new")
def new_request(request: Request, viewer: Officer, db: DbSession) -> Response:
    """The request form: type, legal basis, case details, instrument PDF and target list CSV."""
    _officer_row(db, viewer)
    if _status_of(db, viewer):
        return redirect("/portal/setup")
    country = get_agency(db, viewer.principal.agency_id or "").country
    form = {"request_type": "production", "legal_basis": "court_order", "data_categories": ["subscriber"],
            "jurisdiction": country}  # fmt: skip
    return render(request, "portal/new.html", viewer, _form_context(request, form))


@router.post("/portal/new", dependencies=[CSRF])
async def submit(
    request: Request, viewer: Officer, db: DbSession,
    instrument: Annotated[UploadFile | None, File()] = None, targets: Annotated[UploadFile | None, File()] = None,
) -> Response:  # fmt: skip
    """Submit; on any error the form comes back with the officer's entries and a clear reason."""
    raw = await request.form()
    form: dict[str, Any] = {name: str(raw.get(name) or "") for name in FORM_FIELDS}
    form["data_categories"] = [str(c) for c in raw.getlist("data_categories")]
    form["non_disclosure"] = bool(raw.get("non_disclosure"))
    limit = _settings(request).max_upload_bytes
    try:
        officers.require_active_officer(db, viewer.principal)
        officers.check_totp(db, viewer.principal, str(raw.get("totp_code") or ""))
        pdf = await read_upload(instrument, limit, "legal instrument")
        csv_bytes = await read_upload(targets, limit, "target list")
        parsed = parse_targets_csv(csv_bytes, max_bytes=limit) if csv_bytes is not None else []
        submission = le_requests.Submission(
            request_type=form["request_type"], legal_basis=form["legal_basis"], jurisdiction=form["jurisdiction"],
            case_number=form["case_number"], offence=form["offence"], data_categories=form["data_categories"],
            date_from=parse_day(form["date_from"], "date_from"),
            date_to=parse_day(form["date_to"], "date_to", end=True),
            requested_deadline=parse_day(form["requested_deadline"], "requested_deadline", end=True),
            description=form["description"], legal_reference=form["legal_reference"],
            non_disclosure=form["non_disclosure"],
            non_disclosure_until=parse_day(form["non_disclosure_until"], "non_disclosure_until", end=True),
            parent_reference=form["parent_reference"] or None, seizure_chain=form["seizure_chain"] or None,
            seizure_address=form["seizure_address"] or None,
        )  # fmt: skip
        filename = (instrument.filename if instrument is not None else None) or "instrument.pdf"
        created = le_requests.submit_request(db, viewer.principal, submission, targets=parsed, instrument=pdf,
                                             instrument_filename=filename, max_upload_bytes=limit,
                                             matrix=load_matrix(data_dir=_settings(request).data_dir))  # fmt: skip
    except ChainsleuthError as error:
        note_refusal(db, error)
        db.rollback()
        context = _form_context(
            request,
            form,
            error.message,
            {k: v for k, v in error.details.items() if k in ("field", "allowed", "unknown", "limit")},
        )
        return render(request, "portal/new.html", viewer, context, status_code=http_status_for(error))
    return redirect(f"/portal/requests/{created.reference}?done=submitted")


def _request_page(request: Request, viewer: Viewer, db: DbSession, request_id: str, *, error: str | None = None,
                  status: int = 200) -> HTMLResponse:  # fmt: skip
    found = le_requests.get_request(db, viewer.principal, request_id)
    view = le_requests.request_view(found, officer=True)
    targets = [le_requests.target_view(t, officer=True) for t in le_requests.request_targets(db, found)]
    thread = [responses.message_view(m) for m in responses.messages(db, viewer.principal, found.id)]
    packs = [packages.package_view(p) for p in packages.list_packages(db, viewer.principal, found.id)]
    return render(request, "portal/request.html", viewer, {
        "title": found.reference, "req": view, "targets": targets,
        "rejected": [t for t in targets if t["error"]], "valid_count": sum(1 for t in targets if not t["error"]),
        "messages": thread, "packages": packs, "error": error,
        "notice": NOTICES.get(request.query_params.get("done", "")),
        "limit_mb": max(1, _settings(request).max_upload_bytes // (1024 * 1024)),
    }, status_code=status)  # fmt: skip


@router.get("/portal/requests/{request_id}")
def request_page(request: Request, request_id: str, viewer: Officer, db: DbSession) -> HTMLResponse:
    """Status, deadline, targets (rejected rows correctable), secure messages and packages."""
    return _request_page(request, viewer, db, request_id)


@router.post("/portal/requests/{request_id}/targets/{target_id}", dependencies=[CSRF])
def correct_target(
    request: Request, request_id: str, target_id: int, viewer: Officer, db: DbSession,
    column: Annotated[str, Form()] = "", value: Annotated[str, Form()] = "", chain: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    """Correct one rejected row: the value is checked exactly like a row of the CSV."""
    try:
        parsed = parse_correction(column, value, chain)
        le_requests.correct_target(db, viewer.principal, request_id, target_id, parsed)
    except ChainsleuthError as error:
        note_refusal(db, error)
        db.rollback()
        if http_status_for(error) == 404:
            raise
        return _request_page(request, viewer, db, request_id, error=f"Row not corrected: {error.message}",
                             status=http_status_for(error))  # fmt: skip
    return redirect(f"/portal/requests/{request_id}?done=corrected#targets")


@router.post("/portal/requests/{request_id}/messages", dependencies=[CSRF])
async def post_message(
    request: Request, request_id: str, viewer: Officer, db: DbSession, body: Annotated[str, Form()] = "",
    attachment: Annotated[UploadFile | None, File()] = None,
) -> Response:  # fmt: skip
    """A secure message to the exchange, optionally with a file (stored encrypted)."""
    limit = _settings(request).max_upload_bytes
    try:
        data = await read_upload(attachment, limit, "attachment")
        name = (attachment.filename if attachment is not None else None) or "attachment"
        responses.post_message(db, viewer.principal, request_id, body, attachment=data, filename=name,
                               max_upload_bytes=limit)  # fmt: skip
    except ChainsleuthError as error:
        note_refusal(db, error)
        db.rollback()
        if http_status_for(error) == 404:
            raise
        return _request_page(request, viewer, db, request_id, error=f"Message not sent: {error.message}",
                             status=http_status_for(error))  # fmt: skip
    return redirect(f"/portal/requests/{request_id}?done=message#messages")


@router.get("/portal/requests/{request_id}/messages/{message_id}/attachment")
def attachment(request_id: str, message_id: int, viewer: Officer, db: DbSession) -> Response:
    """An attachment of the thread (decrypted from storage)."""
    data, filename = responses.attachment(db, viewer.principal, request_id, message_id)
    safe = safe_filename(filename)
    return Response(data, media_type="application/octet-stream",
                    headers={"Content-Disposition": f'attachment; filename="{safe}"'})  # fmt: skip


@router.post("/portal/packages/{package_id}/download", dependencies=[CSRF])
def download(
    request: Request, package_id: int, viewer: Officer, db: DbSession, code: Annotated[str, Form()] = ""
) -> Response:
    """The sealed package with its envelope, until it expires (then 410 Gone); a fresh code is required."""
    package, found = packages.get_package(db, viewer.principal, package_id)
    try:
        packages.refuse_if_expired(db, viewer.principal, package.id)  # before the TOTP check writes anything
        officers.check_totp(db, viewer.principal, code)
    except ChainsleuthError as error:
        note_refusal(db, error)
        db.rollback()
        return _request_page(request, viewer, db, found.reference, error=f"Not downloaded: {error.message}",
                             status=http_status_for(error))  # fmt: skip
    data, envelope, _ = packages.download_package(db, viewer.principal, package.id)
    return Response(
        sealed_container(data, envelope),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{found.reference}-sealed.zip"'},
    )


def _dashboard(db: Session, viewer: Viewer, store: ChainStore) -> dict[str, Any] | None:
    """The officer's dashboard card: what is left to set up, or the agency's open requests."""
    try:
        officers.get_officer(db, viewer.username)
    except ChainsleuthError:
        return None  # no portal registration: nothing to show
    problems = _status_of(db, viewer)
    if problems:
        return {"problems": problems, "requests": [], "open": 0}
    rows, _ = le_requests.list_requests(db, viewer.principal, limit=200)
    views = [le_requests.request_view(r, officer=True) for r in rows]
    open_views = [v for v in views if v["status"] in le_requests.OPEN_STATUSES]
    answered = [v for v in views if v["status"] in ("responded", "closed")]
    return {"problems": [], "requests": (open_views + answered)[:6], "open": len(open_views)}


register_section(DashboardSection("le_portal", "Your agency's requests", "le_request.submit", "portal/dashboard.html",
                                  _dashboard, order=5))  # fmt: skip
register_nav(NavItem("Cooperate", "My requests", "/portal", "le_request.submit", ("/portal/requests",), order=10))
register_nav(NavItem("Cooperate", "New request", "/portal/new", "le_request.submit", order=11))
register_nav(NavItem("Cooperate", "Portal account", "/portal/setup", "le_request.submit", order=12))
