"""Customer notification, as the request's non-disclosure order allows.

Telling a suspect that the police asked about them can ruin an investigation, so a request under a
non-disclosure order creates a ``withheld`` notification: with the order's end date as ``release_at`` (the
notice becomes due then), or without a date (an indefinite order: reviewed, never sent automatically). A
request without an order makes the notice ``due`` at once. The exchange's customer-communication system reads
:func:`due_notifications` and marks them sent; nothing here contacts a customer.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from chainsleuth.cases.common import moment
from chainsleuth.errors import NotFoundError
from chainsleuth.privacy import audit
from chainsleuth.privacy.policy import Actor
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


def due_notifications(session: Session, now: datetime | None = None) -> list[LeNotification]:
    """Notifications to send now: due ones, and withheld ones whose order has ended."""
    at = moment(now)
    query = select(LeNotification).where(
        or_(
            LeNotification.status == "due",
            (LeNotification.status == "withheld") & LeNotification.release_at.is_not(None)
            & (LeNotification.release_at <= at),
        )
    )  # fmt: skip
    return list(session.scalars(query.order_by(LeNotification.id)))


def mark_sent(session: Session, actor: Actor, notification_id: int) -> LeNotification:
    """Record that the customer was notified."""
    row = session.get(LeNotification, notification_id)
    if row is None:
        raise NotFoundError("no such notification", notification_id=notification_id)
    row.status = "sent"
    audit.record(session, actor, "le_notification.sent", "le_notification", str(row.id))
    return row
