"""The law-enforcement portal over HTTP: officer registration and requests, and the response team's desk.

Officers register without an account (``/register``, ``/verify-email``), then log in at ``/api/auth/token`` and
enrol TOTP. Submitting a request and downloading a package also need a fresh TOTP code in the ``X-TOTP-Code``
header (a stolen password or token alone cannot exfiltrate data), and so does replacing an enrolled
authenticator. Every id an officer sends is checked against
their agency; another agency's request or package answers 404 exactly like a missing one. An expired package
answers 410 Gone.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Header, HTTPException, Query, UploadFile
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from chainsleuth.api.deps import Principal, get_chain_store, get_session, get_settings
from chainsleuth.api.permissions import requires
from chainsleuth.config import Settings
from chainsleuth.errors import PayloadTooLargeError
from chainsleuth.lawenforcement import agencies, notify, officers, packages, responses, stats, triage
from chainsleuth.lawenforcement import requests as le_requests
from chainsleuth.lawenforcement.matrix import load_matrix
from chainsleuth.lawenforcement.targets import parse_correction, parse_targets_csv
from chainsleuth.privacy.policy import is_agency_scoped
from chainsleuth.store.chainstore import ChainStore

router = APIRouter(prefix="/api/le", tags=["law enforcement"])
DbSession = Annotated[Session, Depends(get_session)]
AppSettings = Annotated[Settings, Depends(get_settings)]
Reader = Annotated[Principal, Depends(requires("le_request.read"))]
Submitter = Annotated[Principal, Depends(requires("le_request.submit"))]
Triager = Annotated[Principal, Depends(requires("le_request.triage"))]
Responder = Annotated[Principal, Depends(requires("le_request.respond"))]
Proposer = Annotated[Principal, Depends(requires("action.propose"))]
Manager = Annotated[Principal, Depends(requires("agency.manage"))]
Totp = Annotated[str | None, Header(alias="X-TOTP-Code")]


class RegisterIn(BaseModel):
    username: str
    password: str
    display_name: str
    email: str


class TokenIn(BaseModel):
    token: str


class CodeIn(BaseModel):
    code: str


class EmailIn(BaseModel):
    email: str


class TargetIn(BaseModel):
    column: str
    value: str
    chain: str = ""


class ReasonIn(BaseModel):
    reason: str


class CallbackIn(BaseModel):
    phone: str
    outcome: str
    called_at: datetime
    notes: str = ""


class ActionsIn(BaseModel):
    expires_at: datetime


class DeclineIn(BaseModel):
    template: str
    note: str | None = None


class NarrowIn(DeclineIn):
    categories: list[str]
    template: str = "overbroad"


class ApproveIn(BaseModel):
    expires_in_days: int = Field(default=packages.DEFAULT_EXPIRY_DAYS, ge=1, le=365)


async def _read(upload: UploadFile | None, limit: int, what: str) -> bytes | None:
    """The upload's bytes, read in chunks and refused (413) as soon as they pass ``limit``."""
    if upload is None:
        return None
    chunks, size = [], 0
    while chunk := await upload.read(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"the {what} is larger than the upload limit", limit=limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _view(request: Any, who: Principal, session: Session) -> dict[str, Any]:
    officer = is_agency_scoped(who)
    view = le_requests.request_view(request, officer=officer)
    view["targets"] = [
        le_requests.target_view(t, officer=officer) for t in le_requests.request_targets(session, request)
    ]
    return view


# -- officers ----------------------------------------------------------------------------------------------------


@router.post("/register", summary="Register as an officer (official agency e-mail required)", status_code=201)
def register(body: RegisterIn, session: DbSession) -> dict[str, Any]:
    officer, _ = officers.register_officer(session, username=body.username, password=body.password,
                                           display_name=body.display_name, email=body.email)  # fmt: skip
    return {**officers.officer_view(officer), "next": "open the verification code sent to your official address"}


@router.post("/verify-email", summary="Prove the official e-mail address with the code sent to it")
def verify_email(body: TokenIn, session: DbSession) -> dict[str, Any]:
    return officers.officer_view(officers.verify_email(session, body.token))


@router.get("/me", summary="My officer registration")
def me(who: Submitter, session: DbSession) -> dict[str, Any]:
    return officers.officer_view(officers.get_officer(session, who.username))


@router.post("/me/totp", summary="Enrol an authenticator (TOTP); replacing one needs its current code")
def enrol_totp(who: Submitter, session: DbSession, totp: Totp = None) -> dict[str, str]:
    secret, uri = officers.enrol_totp(session, who, totp)
    return {"secret": secret, "otpauth_uri": uri}


@router.post("/me/totp/confirm", summary="Confirm the authenticator with a first code")
def confirm_totp(who: Submitter, session: DbSession, body: CodeIn) -> dict[str, Any]:
    return officers.officer_view(officers.confirm_totp(session, who, body.code))


@router.post("/me/email", summary="Change my e-mail address (verified again)")
def change_email(who: Submitter, session: DbSession, body: EmailIn) -> dict[str, Any]:
    return officers.officer_view(officers.change_email(session, who, body.email)[0])


@router.post("/me/verification", summary="Send a new verification code to my current address")
def resend_verification(who: Submitter, session: DbSession) -> dict[str, Any]:
    return {**officers.officer_view(officers.resend_verification(session, who)[0]),
            "next": "open the new verification code sent to your official address"}  # fmt: skip


@router.post("/requests", summary="Submit a request (multipart: fields, instrument PDF, targets CSV)", status_code=201)
async def submit(
    who: Submitter, session: DbSession, settings: AppSettings,
    request_type: Annotated[str, Form()], legal_basis: Annotated[str, Form()], jurisdiction: Annotated[str, Form()],
    case_number: Annotated[str, Form()], offence: Annotated[str, Form()],
    data_categories: Annotated[str, Form(description="comma-separated")] = "",
    date_from: Annotated[datetime | None, Form()] = None, date_to: Annotated[datetime | None, Form()] = None,
    requested_deadline: Annotated[datetime | None, Form()] = None, description: Annotated[str, Form()] = "",
    legal_reference: Annotated[str, Form()] = "", non_disclosure: Annotated[bool, Form()] = False,
    non_disclosure_until: Annotated[datetime | None, Form()] = None,
    parent_reference: Annotated[str | None, Form()] = None, seizure_chain: Annotated[str | None, Form()] = None,
    seizure_address: Annotated[str | None, Form()] = None,
    instrument: Annotated[UploadFile | None, File()] = None, targets: Annotated[UploadFile | None, File()] = None,
    totp: Totp = None,
) -> dict[str, Any]:  # fmt: skip
    officers.require_active_officer(session, who)
    officers.check_totp(session, who, totp)
    pdf = await _read(instrument, settings.max_upload_bytes, "legal instrument")
    csv_bytes = await _read(targets, settings.max_upload_bytes, "target list")
    form = le_requests.Submission(
        request_type=request_type, legal_basis=legal_basis, jurisdiction=jurisdiction, case_number=case_number,
        offence=offence, data_categories=[c.strip() for c in data_categories.split(",") if c.strip()],
        date_from=date_from, date_to=date_to, requested_deadline=requested_deadline, description=description,
        legal_reference=legal_reference, non_disclosure=non_disclosure, non_disclosure_until=non_disclosure_until,
        parent_reference=parent_reference, seizure_chain=seizure_chain, seizure_address=seizure_address,
    )  # fmt: skip
    parsed = parse_targets_csv(csv_bytes, max_bytes=settings.max_upload_bytes) if csv_bytes is not None else []
    request = le_requests.submit_request(session, who, form, targets=parsed, instrument=pdf,
                                         instrument_filename=(instrument.filename if instrument else None) or "i.pdf",
                                         max_upload_bytes=settings.max_upload_bytes,
                                         matrix=load_matrix(data_dir=settings.data_dir))  # fmt: skip
    view = _view(request, who, session)
    view["rejected_targets"] = [t for t in view["targets"] if t["error"]]
    return view


@router.get("/requests", summary="Requests (officers: their agency's only)")
def list_requests(
    who: Reader, session: DbSession, status: str | None = None, queue: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:  # fmt: skip
    rows, total = le_requests.list_requests(session, who, status=status, queue=queue, limit=limit, offset=offset)
    return {"total": total, "items": [le_requests.request_view(r, officer=is_agency_scoped(who)) for r in rows]}


@router.get("/requests/{request_id}", summary="One request with its targets, status and deadline")
def get_request(request_id: str, who: Reader, session: DbSession) -> dict[str, Any]:
    return _view(le_requests.get_request(session, who, request_id), who, session)


@router.post("/requests/{request_id}/targets/{target_id}", summary="Correct a rejected target row")
def correct_target(request_id: str, target_id: int, who: Reader, session: DbSession, body: TargetIn) -> dict[str, Any]:
    parsed = parse_correction(body.column, body.value, body.chain)
    target = le_requests.correct_target(session, who, request_id, target_id, parsed)
    return le_requests.target_view(target, officer=is_agency_scoped(who))


@router.get("/requests/{request_id}/messages", summary="The secure message thread")
def list_messages(request_id: str, who: Reader, session: DbSession) -> list[dict[str, Any]]:
    return [responses.message_view(m) for m in responses.messages(session, who, request_id)]


@router.post("/requests/{request_id}/messages", summary="Post a message (optional attachment)", status_code=201)
async def post_message(
    request_id: str, who: Reader, session: DbSession, settings: AppSettings, body: Annotated[str, Form()],
    attachment: Annotated[UploadFile | None, File()] = None,
) -> dict[str, Any]:  # fmt: skip
    data = await _read(attachment, settings.max_upload_bytes, "attachment")
    message = responses.post_message(session, who, request_id, body, attachment=data,
                                     filename=(attachment.filename if attachment else None) or "attachment",
                                     max_upload_bytes=settings.max_upload_bytes)  # fmt: skip
    return responses.message_view(message)


@router.get("/requests/{request_id}/messages/{message_id}/attachment", summary="Download an attachment")
def get_attachment(request_id: str, message_id: int, who: Reader, session: DbSession) -> Response:
    data, filename = responses.attachment(session, who, request_id, message_id)
    return Response(data, media_type="application/octet-stream",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})  # fmt: skip


@router.get("/requests/{request_id}/packages", summary="Packages of a request (officers: approved ones)")
def list_packages(request_id: str, who: Reader, session: DbSession) -> list[dict[str, Any]]:
    return [packages.package_view(p) for p in packages.list_packages(session, who, request_id)]


@router.get("/packages/{package_id}/download", summary="Download a sealed package (410 once it has expired)")
def download(package_id: int, who: Reader, session: DbSession, totp: Totp = None) -> Response:
    packages.refuse_if_expired(session, who, package_id)  # before the TOTP check writes anything (410 Gone)
    if is_agency_scoped(who):
        officers.check_totp(session, who, totp)
    data, envelope, filename = packages.download_package(session, who, package_id)
    header = base64.b64encode(json.dumps(envelope, sort_keys=True).encode()).decode()
    return Response(data, media_type="application/octet-stream",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"',
                             "X-Package-Envelope": header})  # fmt: skip


# -- staff -------------------------------------------------------------------------------------------------------


@router.get("/agencies", summary="The agency registry")
def list_agencies(who: Manager, session: DbSession) -> list[dict[str, Any]]:
    return [agencies.agency_view(a) for a in agencies.list_agencies(session)]


@router.post("/agencies", summary="Create or update agencies (registry entries)")
def upsert_agencies(who: Manager, session: DbSession, body: list[dict[str, Any]]) -> list[dict[str, Any]]:
    entries = agencies.parse_registry(json.dumps({"agencies": body}), path="request.yaml")
    return [agencies.agency_view(a) for a in agencies.upsert_agencies(session, who, entries)]


@router.get("/officers", summary="Officer registrations")
def list_officers(who: Manager, session: DbSession, agency_id: str | None = None) -> list[dict[str, Any]]:
    return [officers.officer_view(o) for o in officers.list_officers(session, who, agency_id)]


@router.post("/officers/{username}/approve", summary="Approve a verified, enrolled officer")
def approve_officer(username: str, who: Manager, session: DbSession) -> dict[str, Any]:
    return officers.officer_view(officers.approve_officer(session, who, username))


@router.post("/officers/{username}/suspend", summary="Suspend an officer at once")
def suspend_officer(username: str, who: Manager, session: DbSession, body: ReasonIn) -> dict[str, Any]:
    return officers.officer_view(officers.suspend_officer(session, who, username, body.reason))


@router.post("/officers/{username}/reinstate", summary="Lift an officer's suspension")
def reinstate_officer(username: str, who: Manager, session: DbSession) -> dict[str, Any]:
    return officers.officer_view(officers.reinstate_officer(session, who, username))


@router.post("/queue/next", summary="Claim the most urgent unclaimed request")
def next_request(who: Triager, session: DbSession, queue: str | None = None) -> dict[str, Any]:
    return _view(triage.next_request(session, who, queue), who, session)


@router.post("/requests/{request_id}/claim", summary="Claim a request")
def claim(request_id: str, who: Triager, session: DbSession) -> dict[str, Any]:
    return _view(triage.claim(session, who, request_id), who, session)


@router.post("/requests/{request_id}/release", summary="Give a claimed request back to its queue")
def release(request_id: str, who: Triager, session: DbSession) -> dict[str, Any]:
    return _view(triage.release(session, who, request_id), who, session)


@router.post("/requests/{request_id}/triage", summary="Check, decide by the matrix, match targets, flag overlaps")
def run_triage(
    request_id: str, who: Triager, session: DbSession, settings: AppSettings,
    store: Annotated[ChainStore, Depends(get_chain_store)],
) -> dict[str, Any]:  # fmt: skip
    rules = load_matrix(data_dir=settings.data_dir)
    return _view(triage.triage(session, who, request_id, chain_store=store, matrix=rules), who, session)


@router.get("/requests/{request_id}/callbacks", summary="The call-backs recorded on a request")
def list_callbacks(request_id: str, who: Triager, session: DbSession) -> list[dict[str, Any]]:
    return [responses.callback_view(c) for c in responses.callbacks(session, who, request_id)]


@router.get("/requests/{request_id}/actions", summary="Ids of the account actions a request caused (staff)")
def list_request_actions(request_id: str, who: Reader, session: DbSession) -> dict[str, Any]:
    return {"action_ids": responses.request_actions(session, who, request_id)}


@router.get("/requests/{request_id}/instrument", summary="The legal instrument PDF (staff; audited)")
def get_instrument(request_id: str, who: Reader, session: DbSession) -> Response:
    return Response(responses.instrument(session, who, request_id), media_type="application/pdf",
                    headers={"Content-Disposition": 'attachment; filename="instrument.pdf"'})  # fmt: skip


@router.post("/requests/{request_id}/callbacks", summary="Record a call-back on a registry number", status_code=201)
def callback(request_id: str, who: Triager, session: DbSession, body: CallbackIn) -> dict[str, Any]:
    row = responses.record_callback(session, who, request_id, phone=body.phone, outcome=body.outcome,
                                    called_at=body.called_at, notes=body.notes)  # fmt: skip
    return responses.callback_view(row)


@router.post("/requests/{request_id}/actions", summary="Propose the request's account actions (four-eyes)")
def propose_actions(request_id: str, who: Proposer, session: DbSession, body: ActionsIn) -> dict[str, Any]:
    return {"action_ids": responses.propose_actions(session, who, request_id, expires_at=body.expires_at)}


@router.post("/requests/{request_id}/decline", summary="Decline with a templated reason")
def decline(request_id: str, who: Responder, session: DbSession, body: DeclineIn) -> dict[str, Any]:
    return _view(responses.decline(session, who, request_id, template=body.template, note=body.note), who, session)


@router.post("/requests/{request_id}/narrow", summary="Limit the response to some categories")
def narrow(request_id: str, who: Responder, session: DbSession, body: NarrowIn) -> dict[str, Any]:
    request = responses.narrow(session, who, request_id, categories=body.categories, template=body.template,
                               note=body.note)  # fmt: skip
    return _view(request, who, session)


@router.post("/requests/{request_id}/packages", summary="Draft the minimum-necessary package", status_code=201)
def draft(request_id: str, who: Responder, session: DbSession) -> dict[str, Any]:
    return packages.package_view(packages.draft_package(session, who, request_id))


@router.get("/packages/{package_id}/draft", summary="The draft zip, for the approver's review")
def draft_zip(package_id: int, who: Responder, session: DbSession) -> Response:
    return Response(packages.draft_bytes(session, who, package_id), media_type="application/zip")


@router.post("/packages/{package_id}/approve", summary="Approve (another person) and seal for the agency")
def approve_package(package_id: int, who: Responder, session: DbSession, body: ApproveIn) -> dict[str, Any]:
    package, password = packages.approve_package(session, who, package_id, expires_in_days=body.expires_in_days)
    return {**packages.package_view(package), "password": password}


@router.post("/packages/{package_id}/reject", summary="Send a draft back")
def reject_package(package_id: int, who: Responder, session: DbSession, body: ReasonIn) -> dict[str, Any]:
    return packages.package_view(packages.reject_package(session, who, package_id, body.reason))


@router.get("/notifications", summary="Customer notifications due now (non-disclosure orders respected)")
def due_notifications(who: Responder, session: DbSession) -> list[dict[str, Any]]:
    return [notify.notification_view(n) for n in notify.due_notifications(session, who)]


@router.post("/notifications/{notification_id}/sent", summary="Record that the customer was notified")
def notification_sent(notification_id: int, who: Responder, session: DbSession) -> dict[str, Any]:
    return notify.notification_view(notify.mark_sent(session, who, notification_id))


@router.get("/stats", summary="Statistics (JSON)")
def statistics(who: Reader, session: DbSession, since: datetime | None = None,
               until: datetime | None = None) -> dict[str, Any]:  # fmt: skip
    return stats.statistics(session, who, since=since, until=until)


@router.get("/transparency", summary="Transparency report (markdown, csv or json)")
def transparency(
    who: Reader, session: DbSession, format: str = "markdown", since: datetime | None = None,
    until: datetime | None = None,
) -> PlainTextResponse:  # fmt: skip
    report = stats.statistics(session, who, since=since, until=until)
    render = {"markdown": stats.to_markdown, "csv": stats.to_csv, "json": stats.to_json}.get(format)
    if render is None:
        raise HTTPException(status_code=422, detail="format is markdown, csv or json")
    return PlainTextResponse(render(report), media_type="text/csv" if format == "csv" else "text/plain")
