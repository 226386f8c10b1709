"""Customer notification, as the request's non-disclosure order allows.

Telling a suspect that the police asked about them can ruin an investigation, so a request under a
non-disclosure order creates a ``withheld`` notification: with the order's end date as ``release_at`` (the
notice becomes due then), or without a date (an indefinite order: reviewed, never sent automatically). A
request without an order makes the notice ``due`` at once. The exchange's customer-communication system reads
:func:`due_notifications` and marks them sent; nothing here contacts a customer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from chainsleuth.cases.common import moment
from chainsleuth.errors import ConflictError, NotFoundError, PolicyViolationError
from chainsleuth.privacy import audit
from chainsleuth.privacy.policy import Actor, require
from chainsleuth.store.models.lawenforcement import LeNotification, LeRequest, LeTarget


def create_notifications(session: Session, request: LeRequest, now: datetime) -> list[LeNotification]:
    """One notification per matched customer of ``request`` (idempotent)."""
    existing = set(session.scalars(select(LeNotification.customer_id).where(LeNotification.request_id == request.id)))
    matched = session.scalars(
        select(LeTarget.customer_id).where(LeTarget.request_id == request.id, LeTarget.customer_id.is_not(None))
    )
    customers = sorted({c for c in matched if c is not None} - existing)
    withheld = request.non_disclosure or request.non_disclosure_until is not None
    rows = [LeNotification(request_id=request.id, customer_id=c, status="withheld" if withheld else "due",
                           release_at=request.non_disclosure_until if withheld else now, created_at=now)
            for c in customers]  # fmt: skip
    session.add_all(rows)
    return rows


#: Who reads and marks notifications: the response team (the notices name customers of LE requests).
NOTIFY_PERMISSION = "le_request.respond"


def due_notifications(session: Session, actor: Actor, now: datetime | None = None) -> list[LeNotification]:
    """Notifications to send now (``le_request.respond``): due ones, and withheld ones whose order has ended.

    The list names customers that law enforcement asked about, so it is for the response team (and the
    customer-communication job acting as one of them), never for whoever can read requests.
    """
    require(actor, NOTIFY_PERMISSION)
    at = moment(now)
    query = select(LeNotification).where(
        or_(
            LeNotification.status == "due",
            (LeNotification.status == "withheld") & LeNotification.release_at.is_not(None)
            & (LeNotification.release_at <= at),
        )
    )  # fmt: skip
    return list(session.scalars(query.order_by(LeNotification.id)))


def mark_sent(session: Session, actor: Actor, notification_id: int, now: datetime | None = None) -> LeNotification:
    """Record that the customer was notified (``le_request.respond``).

    Refused while a non-disclosure order still holds the notice (an indefinite order, or one that has not ended):
    recording a notice that the order forbids would be the first step of sending it. Marking twice is refused
    too, so the audit log has one ``le_notification.sent`` per notice.
    """
    require(actor, NOTIFY_PERMISSION)
    at = moment(now)
    row = session.get(LeNotification, notification_id)
    if row is None:
        raise NotFoundError("no such notification", notification_id=notification_id)
    if row.status == "sent":
        raise ConflictError("this notification was already marked sent", notification_id=notification_id)
    if row.status == "withheld" and (row.release_at is None or row.release_at > at):
        until = row.release_at.isoformat() if row.release_at else "indefinite"
        raise PolicyViolationError("a non-disclosure order withholds this notification",
                                   notification_id=notification_id, release_at=until)  # fmt: skip
    row.status = "sent"
    request = session.get(LeRequest, row.request_id)
    audit.record(session, actor, "le_notification.sent", "le_notification", str(row.id),
                 purpose=request.reference if request else None, details={"customer_id": row.customer_id})  # fmt: skip
    return row


def notification_view(row: LeNotification) -> dict[str, Any]:
    """A notification as plain data (for the response team)."""
    return {"id": row.id, "request_id": row.request_id, "customer_id": row.customer_id, "status": row.status,
            "release_at": row.release_at.isoformat() if row.release_at else None,
            "created_at": row.created_at.isoformat()}  # fmt: skip
