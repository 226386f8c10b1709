"""Request intake and scoped access: submit with a legal instrument and bulk targets, read, list, correct.

Access rule (issue 6): an officer sees only their own agency's requests. Every query goes through
:func:`chainsleuth.privacy.policy.agency_filter` and every id through :func:`get_request`, which answers a request
of another agency exactly like a request that does not exist (404, same message), so ids leak nothing.
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from pypdf import PdfReader
from pypdf.errors import PyPdfError
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from chainsleuth.cases.common import aware, iso, moment, required_text
from chainsleuth.errors import (
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    PolicyViolationError,
)
from chainsleuth.lawenforcement.agencies import get_agency
from chainsleuth.lawenforcement.matrix import CATEGORIES, Matrix, load_matrix
from chainsleuth.lawenforcement.officers import require_active_officer
from chainsleuth.lawenforcement.risk import requester_risk
from chainsleuth.lawenforcement.sealing import store_file
from chainsleuth.lawenforcement.targets import ParsedTarget, target_key
from chainsleuth.privacy import audit
from chainsleuth.privacy.keyring import crypto_for, engine_of
from chainsleuth.privacy.policy import Actor, agency_filter, check_agency, is_agency_scoped, require
from chainsleuth.store.models.lawenforcement import REQUEST_TYPES, LeRequest, LeTarget

REQUEST_OBJECT = "le_request"
QUEUE_OF_TYPE = {"emergency_disclosure": "emergency", "freeze": "actions", "seizure": "actions",
                 "unfreeze": "actions", "preservation": "preservation"}  # fmt: skip
OPEN_STATUSES = ("submitted", "in_triage", "awaiting_callback", "in_progress")
_NOT_FOUND = "no such request"


def _scope(actor: Actor) -> ColumnElement[bool]:
    """The WHERE clause of what ``actor`` may see (officers: their own agency's requests)."""
    return agency_filter(actor, cast("ColumnElement[str | None]", LeRequest.agency_id))


def queue_of(request_type: str) -> str:
    """The work queue of a request type (emergency first, then actions, preservation, production)."""
    return QUEUE_OF_TYPE.get(request_type, "production")


def check_pdf(data: bytes, *, max_bytes: int) -> int:
    """Page count of a legal instrument; PayloadTooLargeError over the limit, InvalidInputError unless it is a
    readable, unencrypted PDF (magic bytes ``%PDF-`` and a successful parse)."""
    if len(data) > max_bytes:
        raise PayloadTooLargeError("the legal instrument is larger than the upload limit", limit=max_bytes,
                                   size=len(data))  # fmt: skip
    if not data.startswith(b"%PDF-"):
        raise InvalidInputError("the legal instrument must be a PDF (the file does not start with %PDF-)")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise InvalidInputError("the legal instrument is password-protected: upload it without a password")
        pages = len(reader.pages)
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as error:
        raise InvalidInputError("the legal instrument is not a readable PDF", reason=str(error)[:200]) from error
    if pages < 1:
        raise InvalidInputError("the legal instrument has no pages")
    return pages


@dataclass(frozen=True)
class Submission:
    """What an officer sends (besides the instrument and the targets)."""

    request_type: str
    legal_basis: str
    jurisdiction: str
    case_number: str
    offence: str
    data_categories: Sequence[str] = ()
    date_from: datetime | None = None
    date_to: datetime | None = None
    requested_deadline: datetime | None = None
    description: str = ""
    legal_reference: str = ""
    non_disclosure: bool = False
    non_disclosure_until: datetime | None = None
    parent_reference: str | None = None
    seizure_chain: str | None = None
    seizure_address: str | None = None


def _validate(session: Session, actor: Actor, form: Submission, matrix: Matrix) -> dict[str, Any]:
    if form.request_type not in REQUEST_TYPES:
        raise InvalidInputError("unknown request type", field="request_type", allowed=list(REQUEST_TYPES))
    if matrix.legal_bases and form.legal_basis not in matrix.legal_bases:
        raise InvalidInputError("unknown legal basis", field="legal_basis", allowed=list(matrix.legal_bases))
    jurisdiction = form.jurisdiction.strip().upper()
    if len(jurisdiction) != 2 or not jurisdiction.isalpha():
        raise InvalidInputError("jurisdiction is a two-letter country code", field="jurisdiction")
    unknown = sorted(set(form.data_categories) - set(CATEGORIES))
    if unknown:
        raise InvalidInputError("unknown data categories", field="data_categories", unknown=unknown,
                                allowed=list(CATEGORIES))  # fmt: skip
    date_from, date_to = aware(form.date_from, "date_from"), aware(form.date_to, "date_to")
    if date_from and date_to and date_from > date_to:
        raise InvalidInputError("date_from is after date_to", field="date_from")
    parent_id = None
    if form.parent_reference:
        parent = session.scalar(select(LeRequest).where(LeRequest.reference == form.parent_reference,
                                                        _scope(actor)))  # fmt: skip
        if parent is None:
            raise NotFoundError(_NOT_FOUND, reference=form.parent_reference)
        parent_id = parent.id
    elif form.request_type in ("follow_up", "unfreeze"):
        raise InvalidInputError(f"a {form.request_type} request names the earlier request", field="parent_reference")
    destination = None
    if form.request_type == "seizure":
        if not (form.seizure_chain and form.seizure_address):
            raise InvalidInputError("a seizure request names the agency wallet (chain and address)",
                                    field="seizure_address")  # fmt: skip
        destination = {"chain": form.seizure_chain.strip().lower(), "address": form.seizure_address.strip()}
    return {
        "request_type": form.request_type, "legal_basis": form.legal_basis, "jurisdiction": jurisdiction,
        "case_number": required_text(form.case_number, "case_number", max_length=100),
        "offence": required_text(form.offence, "offence", max_length=200),
        "data_categories": list(dict.fromkeys(form.data_categories)), "date_from": date_from, "date_to": date_to,
        "requested_deadline": aware(form.requested_deadline, "requested_deadline"),
        "description": form.description.strip()[:10_000], "legal_reference": form.legal_reference.strip()[:2000],
        "non_disclosure": bool(form.non_disclosure or form.non_disclosure_until),
        "non_disclosure_until": aware(form.non_disclosure_until, "non_disclosure_until"),
        "parent_request_id": parent_id, "seizure_destination": destination,
    }  # fmt: skip


def add_targets(session: Session, request: LeRequest, parsed: Sequence[ParsedTarget]) -> tuple[int, int]:
    """Store parsed targets (valid and invalid) on ``request``; returns ``(valid, invalid)`` counts."""
    keys = crypto_for(engine_of(session)).keys
    valid = invalid = 0
    rows = []
    for target in parsed:
        if target.valid and target.kind is not None:
            key: str | None = target_key(keys, target.kind, target.chain, target.value)
            valid += 1
        else:
            key = None
            invalid += 1
        rows.append(LeTarget(request_id=request.id, row_number=target.row_number, kind=target.kind,
                             chain=target.chain, value=target.value, value_key=key, error=target.error,
                             error_column=target.column))  # fmt: skip
    session.add_all(rows)
    session.flush()
    return valid, invalid


def submit_request(
    session: Session,
    actor: Actor,
    form: Submission,
    *,
    targets: Sequence[ParsedTarget] = (),
    instrument: bytes | None = None,
    instrument_filename: str = "instrument.pdf",
    max_upload_bytes: int,
    matrix: Matrix | None = None,
    now: datetime | None = None,
) -> LeRequest:
    """Submit a request as an active officer of an agency; the instrument is checked, hashed and encrypted."""
    require(actor, "le_request.submit")
    officer = require_active_officer(session, actor)
    at = moment(now)
    rules = matrix or load_matrix()
    fields = _validate(session, actor, form, rules)
    pages = check_pdf(instrument, max_bytes=max_upload_bytes) if instrument is not None else None
    agency = get_agency(session, officer.agency_id)
    score, reasons = requester_risk(session, officer, agency, fields["jurisdiction"], at)
    request = LeRequest(
        reference=f"tmp-{secrets.token_hex(8)}", agency_id=agency.agency_id, officer_username=officer.username,
        status="submitted", queue=queue_of(form.request_type), submitted_at=at,
        due_at=at + timedelta(hours=rules.clock_hours(form.request_type)), escalation_level=0,
        risk_score=score, risk_reasons=reasons, triage={}, **fields,
    )  # fmt: skip
    session.add(request)
    session.flush()
    request.reference = f"LER-{at.year}-{request.id:06d}"
    if instrument is not None:
        stored = store_file(session, instrument, kind="instrument", filename=instrument_filename,
                            media_type="application/pdf", request_id=request.id)  # fmt: skip
        request.instrument_file_id, request.instrument_sha256 = stored.id, stored.sha256
    valid, invalid = add_targets(session, request, targets)
    audit.record(session, actor, "le_request.submit", REQUEST_OBJECT, request.reference,
                 details={"type": request.request_type, "legal_basis": request.legal_basis,
                          "jurisdiction": request.jurisdiction, "targets_valid": valid, "targets_invalid": invalid,
                          "instrument_sha256": request.instrument_sha256, "instrument_pages": pages,
                          "risk_score": score})  # fmt: skip
    return request


def get_request(session: Session, actor: Actor, request_id: int | str) -> LeRequest:
    """A request by id or reference, if ``actor`` may read it; otherwise NotFoundError, whatever the reason."""
    require(actor, "le_request.read")
    if isinstance(request_id, str) and not request_id.isdigit():
        request = session.scalar(select(LeRequest).where(LeRequest.reference == request_id))
    else:
        request = session.get(LeRequest, int(request_id))
    if request is None:
        raise NotFoundError(_NOT_FOUND, request=str(request_id))
    try:
        check_agency(actor, request.agency_id)
        if is_agency_scoped(actor):
            require_active_officer(session, actor)
    except PermissionDeniedError:
        raise NotFoundError(_NOT_FOUND, request=str(request_id)) from None
    return request


def list_requests(
    session: Session, actor: Actor, *, status: str | None = None, queue: str | None = None,
    agency_id: str | None = None, limit: int = 50, offset: int = 0,
) -> tuple[list[LeRequest], int]:  # fmt: skip
    """Requests visible to ``actor`` (officers: their agency only), most urgent first, and the total."""
    require(actor, "le_request.read")
    if is_agency_scoped(actor):
        require_active_officer(session, actor)
    query = select(LeRequest).where(_scope(actor))
    for column, value in ((LeRequest.status, status), (LeRequest.queue, queue), (LeRequest.agency_id, agency_id)):
        if value is not None:
            query = query.where(column == value)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(LeRequest.due_at, LeRequest.id).limit(limit).offset(offset))
    return list(rows), int(total)


def request_targets(session: Session, request: LeRequest) -> list[LeTarget]:
    """The request's targets in file order."""
    query = select(LeTarget).where(LeTarget.request_id == request.id).order_by(LeTarget.row_number, LeTarget.id)
    return list(session.scalars(query))


def correct_target(
    session: Session, actor: Actor, request_id: int | str, target_id: int, parsed: ParsedTarget
) -> LeTarget:
    """Replace a rejected target with a corrected value: the officer who submitted the request, or staff with
    ``le_request.triage``. Reading a request is not enough to change it (auditors and compliance officers read),
    and a closed request's targets are a record of what was asked, so they stay as they are."""
    request = get_request(session, actor, request_id)
    if not (is_agency_scoped(actor) and actor.username == request.officer_username):
        try:
            require(actor, "le_request.triage")
        except PermissionDeniedError:
            raise PermissionDeniedError("only the submitting officer or the response team corrects targets",
                                        request=request.reference) from None  # fmt: skip
    if request.status not in OPEN_STATUSES:
        raise PolicyViolationError(f"a {request.status} request is closed: its targets are not changed",
                                   request=request.reference)  # fmt: skip
    target = session.get(LeTarget, target_id)
    if target is None or target.request_id != request.id:
        raise NotFoundError("no such target", target_id=target_id)
    if target.error is None:
        raise InvalidInputError("only a rejected target is corrected", target_id=target_id)
    if not parsed.valid or parsed.kind is None:
        raise InvalidInputError(f"still invalid: {parsed.error}", column=parsed.column)
    keys = crypto_for(engine_of(session)).keys
    target.kind, target.chain, target.value = parsed.kind, parsed.chain, parsed.value
    target.value_key = target_key(keys, parsed.kind, parsed.chain, parsed.value)
    target.error, target.error_column = None, None
    audit.record(session, actor, "le_request.correct_target", REQUEST_OBJECT, request.reference,
                 details={"target_id": target.id, "row": target.row_number})  # fmt: skip
    return target


def target_view(target: LeTarget, *, officer: bool) -> dict[str, Any]:
    """A target; officers see their own values and errors, never the matched customer."""
    view: dict[str, Any] = {"id": target.id, "row": target.row_number, "kind": target.kind, "chain": target.chain,
                            "value": target.value, "error": target.error, "column": target.error_column}  # fmt: skip
    if not officer:
        view |= {"customer_id": target.customer_id, "account_id": target.account_id, "match_via": target.match_via}
    return view


def request_view(request: LeRequest, *, officer: bool, now: datetime | None = None) -> dict[str, Any]:
    """A request as plain data. Officers get status and deadline, not the exchange's triage internals, risk
    reasoning or "seen before" flags (those name other agencies)."""
    at = moment(now)
    view: dict[str, Any] = {
        "id": request.id, "reference": request.reference, "agency_id": request.agency_id,
        "officer": request.officer_username, "request_type": request.request_type,
        "legal_basis": request.legal_basis, "legal_reference": request.legal_reference,
        "jurisdiction": request.jurisdiction, "case_number": request.case_number, "offence": request.offence,
        "description": request.description, "data_categories": request.data_categories,
        "date_from": iso(request.date_from), "date_to": iso(request.date_to),
        "requested_deadline": iso(request.requested_deadline), "non_disclosure": request.non_disclosure,
        "non_disclosure_until": iso(request.non_disclosure_until), "instrument_sha256": request.instrument_sha256,
        "status": request.status, "submitted_at": iso(request.submitted_at), "due_at": iso(request.due_at),
        "overdue": request.status in OPEN_STATUSES and request.due_at <= at, "outcome": request.outcome,
        "outcome_reason": request.outcome_reason, "closed_at": iso(request.closed_at), "version": request.version,
        # What the agency will not receive and why: the categories cut (by the matrix or by staff) and the
        # templated reason staff gave; the rest of the triage stays internal.
        "narrowed_categories": list(request.triage.get("narrowed") or []),
        "narrowing_reason": request.triage.get("narrowing_reason"),
    }  # fmt: skip
    if not officer:
        view |= {"queue": request.queue, "risk_score": request.risk_score, "risk_reasons": request.risk_reasons,
                 "triage": request.triage, "claimed_by": request.claimed_by,
                 "escalation_level": request.escalation_level, "escalated_at": iso(request.escalated_at),
                 "callback_confirmed_at": iso(request.callback_confirmed_at),
                 "seizure_destination": request.seizure_destination}  # fmt: skip
    return view
