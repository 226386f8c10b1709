"""Call-backs, account actions, declines and narrowing, and the secure message thread of a request.

Emergency disclosures, freezes and seizures are what impostors ask for, because they are fast and act on
money. Before any of them is acted on, staff call the agency back on a number *from the registry* (never one
given in the request) and record who called whom, on which number, when, and the outcome
(:func:`record_callback`). Without a confirmed call-back, :func:`propose_actions` and package drafting refuse.

Actions are not executed here: freeze, seizure, preservation (a legal hold) and unfreeze become *proposals* in
the cases module's four-eyes workflow (:func:`chainsleuth.cases.actions.propose`), which a compliance officer
approves; the request records which actions it caused.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.cases import actions as case_actions
from chainsleuth.cases import ledger_guard
from chainsleuth.cases.common import aware, moment, required_text
from chainsleuth.errors import InvalidInputError, NotFoundError, PermissionDeniedError, PolicyViolationError
from chainsleuth.lawenforcement.agencies import get_agency
from chainsleuth.lawenforcement.matrix import CATEGORIES
from chainsleuth.lawenforcement.notify import create_notifications
from chainsleuth.lawenforcement.requests import OPEN_STATUSES, REQUEST_OBJECT, get_request, request_targets
from chainsleuth.lawenforcement.sealing import read_file, store_file
from chainsleuth.lawenforcement.triage import require_callback
from chainsleuth.privacy import audit
from chainsleuth.privacy.policy import Actor, is_agency_scoped, require
from chainsleuth.store.db import stale_version_guard
from chainsleuth.store.models.exchange import Account
from chainsleuth.store.models.lawenforcement import (
    CALLBACK_OUTCOMES,
    LeCallback,
    LeFile,
    LeMessage,
    LeRequest,
    LeRequestAction,
)

#: Templated reasons for declining or narrowing (the agency sees the text; ``note`` adds specifics).
DECLINE_TEMPLATES: dict[str, str] = {
    "insufficient_legal_basis": "The legal instrument provided does not authorise the disclosure or action "
    "requested. Please provide a court order, warrant or equivalent instrument.",
    "out_of_jurisdiction": "The request falls outside the issuing authority's jurisdiction. Please route it "
    "through mutual legal assistance (MLAT) or the competent authority.",
    "overbroad": "The request is broader than the legal basis permits. We have limited our response to the "
    "categories the instrument covers.",
    "no_records": "We searched for the identifiers provided and found no matching records.",
    "incomplete": "The request is missing required information (instrument, targets, date range or case "
    "details). Please resubmit with the missing items.",
    "verification_failed": "We could not verify this request through the agency's registered contact. Please "
    "contact us through your agency's official channel.",
    "duplicate": "This request duplicates an earlier request that is being answered.",
}


def _template(template: str, note: str | None) -> str:
    if template not in DECLINE_TEMPLATES:
        raise InvalidInputError("unknown reason template", template=template, allowed=sorted(DECLINE_TEMPLATES))
    extra = (note or "").strip()
    return DECLINE_TEMPLATES[template] + (f" {extra}" if extra else "")


def record_callback(
    session: Session, staff: Actor, request_id: int | str, *, phone: str, outcome: str, called_at: datetime,
    notes: str = "", now: datetime | None = None,
) -> LeCallback:  # fmt: skip
    """Record a call-back on a registry number of the request's agency (``le_request.triage``)."""
    require(staff, "le_request.triage")
    at = moment(now)
    request = get_request(session, staff, request_id)
    when = aware(called_at, "called_at")
    assert when is not None
    if when > at + timedelta(minutes=5):
        raise InvalidInputError("the call cannot be in the future", field="called_at")
    if outcome not in CALLBACK_OUTCOMES:
        raise InvalidInputError("unknown outcome", field="outcome", allowed=list(CALLBACK_OUTCOMES))
    agency = get_agency(session, request.agency_id)
    digits = "".join(ch for ch in phone if ch.isdigit())
    contact = next((c for c in agency.contacts if "".join(ch for ch in c["phone"] if ch.isdigit()) == digits), None)
    if contact is None or not digits:
        raise PolicyViolationError("call-backs use a verified number from the agency registry, not one from the "
                                   "request", agency_id=agency.agency_id)  # fmt: skip
    callback = LeCallback(
        request_id=request.id,
        performed_by=staff.username,
        contact_name=contact["name"],
        phone=contact["phone"],
        called_at=when,
        outcome=outcome,
        notes=notes.strip()[:4000],
    )
    session.add(callback)
    if outcome == "confirmed":
        request.callback_confirmed_at = when
        if request.status == "awaiting_callback":
            request.status = "in_progress" if request.triage.get("complete") else "in_triage"
    with stale_version_guard():
        session.flush()
    audit.record(session, staff, "le_request.callback", REQUEST_OBJECT, request.reference,
                 details={"outcome": outcome, "contact": contact["name"], "phone": contact["phone"],
                          "called_at": when.isoformat()})  # fmt: skip
    return callback


def callbacks(session: Session, staff: Actor, request_id: int | str) -> list[LeCallback]:
    """The call-backs of a request (staff)."""
    require(staff, "le_request.triage")
    request = get_request(session, staff, request_id)
    return list(session.scalars(select(LeCallback).where(LeCallback.request_id == request.id).order_by(LeCallback.id)))


_ACTION_OF_TYPE = {"freeze": "freeze", "seizure": "seize", "preservation": "preserve", "unfreeze": "unfreeze"}


def propose_actions(
    session: Session, staff: Actor, request_id: int | str, *, expires_at: datetime, now: datetime | None = None
) -> list[int]:
    """Propose the request's account actions in the four-eyes workflow; returns the action ids.

    Freeze and seizure requests also propose a preservation when the matrix allows it.
    """
    require(staff, "action.propose")
    at = moment(now)
    request = get_request(session, staff, request_id)
    kind = _ACTION_OF_TYPE.get(request.request_type)
    if kind is None:
        raise PolicyViolationError("this request type asks for no account action", type=request.request_type)
    require_callback(request)
    allowed = set(request.triage.get("allowed_actions") or [])
    if request.status != "in_progress" or kind not in allowed:
        raise PolicyViolationError("the request is not triaged, or the matrix does not allow this action for its "
                                   "legal basis", status=request.status, allowed=sorted(allowed))  # fmt: skip
    targets = [t for t in request_targets(session, request) if t.customer_id and not t.error]
    if not targets:
        raise PolicyViolationError("no target matched one of our customers: nothing to act on")
    basis = f"{request.reference}: {request.legal_basis} {request.legal_reference}".strip()
    reason = f"law-enforcement request {request.reference} ({request.agency_id}, case {request.case_number})"
    proposals: list[dict[str, Any]] = []
    customers = sorted({t.customer_id for t in targets if t.customer_id})
    accounts = sorted({t.account_id for t in targets if t.account_id}) or sorted(
        session.scalars(select(Account.account_id).where(Account.customer_id.in_(customers))))  # fmt: skip
    if kind in ("freeze", "seize", "unfreeze"):
        extra: dict[str, Any] = {}
        if kind == "seize":
            destination = request.seizure_destination or {}
            extra = {"destination_chain": destination.get("chain"), "destination_address": destination.get("address")}
        proposals += [{"kind": kind, "account_id": a, **extra} for a in accounts]
    if kind == "preserve" or ("preserve" in allowed and kind in ("freeze", "seize")):
        proposals += [{"kind": "preserve", "customer_id": c} for c in customers]
    ids: list[int] = []
    for proposal in proposals:
        if proposal["kind"] == "unfreeze" and not ledger_guard.active_freezes(
                session, proposal["account_id"], at):  # fmt: skip
            continue
        action, _ = case_actions.propose(session, staff, proposal.pop("kind"), reason=reason, legal_basis=basis,
                                         expires_at=expires_at, now=at, **proposal)  # fmt: skip
        if session.get(LeRequestAction, (request.id, action.id)) is None:
            session.add(LeRequestAction(request_id=request.id, action_id=action.id))
        ids.append(action.id)
    # Proposing is the request's last step on our side (the four-eyes approval belongs to the cases workflow):
    # the request closes, so it leaves the queues and the escalation clock, counts in turnaround statistics, and
    # a second call cannot propose the same actions again.
    request.status, request.outcome, request.closed_at = "closed", "actioned", at
    request.outcome_reason = f"proposed {len(ids)} account action(s) for approval"
    create_notifications(session, request, at)
    with stale_version_guard():
        session.flush()
    audit.record(session, staff, "le_request.propose_actions", REQUEST_OBJECT, request.reference,
                 details={"actions": ids})  # fmt: skip
    return ids


def request_actions(session: Session, actor: Actor, request_id: int | str) -> list[int]:
    """Ids of the account actions a request caused (staff: the actions name our accounts, not the agency's)."""
    if is_agency_scoped(actor):
        raise PermissionDeniedError("the account actions of a request are the exchange's records")
    request = get_request(session, actor, request_id)
    query = select(LeRequestAction.action_id).where(LeRequestAction.request_id == request.id)
    return list(session.scalars(query.order_by(LeRequestAction.action_id)))


def decline(
    session: Session, staff: Actor, request_id: int | str, *, template: str, note: str | None = None,
    now: datetime | None = None,
) -> LeRequest:  # fmt: skip
    """Decline a request with a templated reason (``le_request.respond``)."""
    require(staff, "le_request.respond")
    request = get_request(session, staff, request_id)
    if request.status not in OPEN_STATUSES:
        raise PolicyViolationError(f"a {request.status} request cannot be declined", request=request.reference)
    request.status, request.outcome = "declined", "declined"
    request.outcome_reason, request.closed_at = _template(template, note), moment(now)
    with stale_version_guard():
        session.flush()
    audit.record(session, staff, "le_request.decline", REQUEST_OBJECT, request.reference,
                 details={"template": template})  # fmt: skip
    return request


def narrow(
    session: Session, staff: Actor, request_id: int | str, *, categories: list[str], template: str = "overbroad",
    note: str | None = None,
) -> LeRequest:  # fmt: skip
    """Limit what a request will receive to ``categories`` (a subset of what the matrix allowed)."""
    require(staff, "le_request.respond")
    request = get_request(session, staff, request_id)
    allowed = list(request.triage.get("allowed_categories") or [])
    unknown = sorted(set(categories) - set(CATEGORIES))
    if unknown or not set(categories) <= set(allowed):
        raise InvalidInputError("narrowing keeps a subset of the allowed categories", allowed=allowed)
    if request.status not in OPEN_STATUSES:
        raise PolicyViolationError(f"a {request.status} request cannot be narrowed", request=request.reference)
    cut = [c for c in allowed if c not in categories]
    # ``staff_kept`` survives a later triage (see triage._keep_staff_narrowing); the reason is shown to the agency.
    request.triage = {**request.triage, "allowed_categories": [c for c in allowed if c in categories],
                      "narrowed": sorted(set(request.triage.get("narrowed") or []) | set(cut)),
                      "staff_kept": [c for c in allowed if c in categories],
                      "narrowing_reason": _template(template, note)}  # fmt: skip
    audit.record(session, staff, "le_request.narrow", REQUEST_OBJECT, request.reference,
                 details={"kept": categories, "cut": cut, "template": template})  # fmt: skip
    return request


# -- messages ----------------------------------------------------------------------------------------------------


def post_message(
    session: Session, actor: Actor, request_id: int | str, body: str, *, attachment: bytes | None = None,
    filename: str = "attachment", max_upload_bytes: int, now: datetime | None = None,
) -> LeMessage:  # fmt: skip
    """Add a message (and an optional attachment, stored encrypted) to a request's thread."""
    scoped = is_agency_scoped(actor)
    if not scoped:
        require(actor, "le_request.respond")
    request = get_request(session, actor, request_id)
    text = required_text(body, "body", max_length=20_000)
    file_id = None
    if attachment is not None:
        if len(attachment) > max_upload_bytes:
            from chainsleuth.errors import PayloadTooLargeError

            raise PayloadTooLargeError("the attachment is larger than the upload limit", limit=max_upload_bytes)
        file_id = store_file(session, attachment, kind="attachment", filename=filename,
                             media_type="application/octet-stream", request_id=request.id).id  # fmt: skip
    message = LeMessage(request_id=request.id, sender=actor.username, from_agency=scoped, body=text,
                        attachment_file_id=file_id, created_at=moment(now))  # fmt: skip
    session.add(message)
    session.flush()
    audit.record(session, actor, "le_request.message", REQUEST_OBJECT, request.reference,
                 details={"message_id": message.id, "attachment": file_id is not None})  # fmt: skip
    return message


def messages(session: Session, actor: Actor, request_id: int | str) -> list[LeMessage]:
    """The thread of a request, oldest first."""
    request = get_request(session, actor, request_id)
    return list(session.scalars(select(LeMessage).where(LeMessage.request_id == request.id).order_by(LeMessage.id)))


def attachment(session: Session, actor: Actor, request_id: int | str, message_id: int) -> tuple[bytes, str]:
    """The attachment of a message of a request ``actor`` may read."""
    request = get_request(session, actor, request_id)
    message = session.get(LeMessage, message_id)
    if message is None or message.request_id != request.id or message.attachment_file_id is None:
        raise NotFoundError("no such attachment", message_id=message_id)
    row = session.get(LeFile, message.attachment_file_id)
    if row is None:  # pragma: no cover - foreign key
        raise NotFoundError("no such attachment", message_id=message_id)
    return read_file(row), row.filename


def instrument(session: Session, staff: Actor, request_id: int | str) -> bytes:
    """The request's legal instrument (staff; decrypted from storage, hash checked)."""
    if is_agency_scoped(staff):
        raise PermissionDeniedError("officers do not download instruments back")
    request = get_request(session, staff, request_id)
    row = session.get(LeFile, request.instrument_file_id) if request.instrument_file_id else None
    if row is None:
        raise NotFoundError("this request has no instrument", request=request.reference)
    data = read_file(row)
    audit.record(session, staff, "le_request.instrument_read", REQUEST_OBJECT, request.reference,
                 details={"sha256": request.instrument_sha256})  # fmt: skip
    return data


def message_view(message: LeMessage) -> dict[str, Any]:
    """A message as plain data."""
    return {"id": message.id, "sender": message.sender, "from_agency": message.from_agency, "body": message.body,
            "has_attachment": message.attachment_file_id is not None,
            "created_at": message.created_at.isoformat()}  # fmt: skip


def callback_view(callback: LeCallback) -> dict[str, Any]:
    """A call-back record as plain data."""
    return {"id": callback.id, "performed_by": callback.performed_by, "contact": callback.contact_name,
            "phone": callback.phone, "called_at": callback.called_at.isoformat(), "outcome": callback.outcome,
            "notes": callback.notes}  # fmt: skip
