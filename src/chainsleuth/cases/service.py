"""Cases: triage alerts into cases, assign them, move them through their workflow, annotate and link them.

The status workflow is an explicit state machine (:data:`TRANSITIONS`)::

    open ──► investigating ──► escalated ──► closed (decision + reason)
      │            ▲   │            │           │
      │            └───┼────────────┘           │ reopen (reason)
      └────────────────┴──► closed ◄────────────┘──► investigating

Anything else (closing without a decision, "reopening" an open case, jumping back to ``open``) raises
:class:`PolicyViolationError` naming the allowed moves. Closing and reopening need ``case.close`` (senior
roles); everything else ``case.update``. Each call takes the ``expected_version`` the caller read (see
:mod:`chainsleuth.cases.common`), writes a timeline event and an audit entry in the same transaction.

Alerts move with their case: attaching one marks it ``escalated``; closing the case closes its alerts and
reopening puts them back to ``escalated``. An alert belongs to at most one case.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from chainsleuth.cases.common import (
    CASE_OBJECT,
    aware,
    case_changed,
    case_for_update,
    get_case_row,
    moment,
    record_event,
    required_text,
)
from chainsleuth.errors import ConflictError, InvalidInputError, NotFoundError, PolicyViolationError
from chainsleuth.privacy import audit
from chainsleuth.privacy.policy import Actor, require
from chainsleuth.store.models.alerts import MonitorAlert
from chainsleuth.store.models.cases import (
    CASE_DECISIONS,
    CASE_PRIORITIES,
    LINK_TYPES,
    Case,
    CaseAlert,
    CaseEvent,
    CaseLink,
    CaseNote,
)
from chainsleuth.store.models.exchange import Account, Customer
from chainsleuth.store.models.ledger import LedgerEvent

#: The status workflow: current status -> statuses it may move to (``reopen`` is the way out of ``closed``).
TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"investigating", "escalated", "closed"}),
    "investigating": frozenset({"escalated", "closed"}),
    "escalated": frozenset({"investigating", "closed"}),
    "closed": frozenset(),
}
#: Queue of cases opened without alerts (alerts bring their own queue).
DEFAULT_QUEUE = "general"
MAX_NOTE = 20_000


def _check_priority(priority: str) -> str:
    if priority not in CASE_PRIORITIES:
        raise InvalidInputError("unknown priority", priority=priority, allowed=list(CASE_PRIORITIES))
    return priority


def _alerts(session: Session, alert_ids: Iterable[int]) -> list[MonitorAlert]:
    wanted = list(dict.fromkeys(alert_ids))
    rows = {a.id: a for a in session.scalars(select(MonitorAlert).where(MonitorAlert.id.in_(wanted)))}
    missing = [i for i in wanted if i not in rows]
    if missing:
        raise NotFoundError("no such alert", alert_ids=missing)
    taken = session.execute(select(CaseAlert.alert_id, CaseAlert.case_id).where(CaseAlert.alert_id.in_(wanted)))
    already = dict(taken.tuples().all())
    if already:
        raise ConflictError("alerts already belong to a case", alerts={str(k): v for k, v in already.items()})
    return [rows[i] for i in wanted]


def _attach(session: Session, case: Case, actor: Actor, alerts: Sequence[MonitorAlert], now: datetime) -> None:
    for alert in alerts:
        session.add(CaseAlert(case_id=case.id, alert_id=alert.id, added_by=actor.username, added_at=now))
        alert.status = "escalated"
        alert.updated_at = now
        if alert.customer_id and session.get(Customer, alert.customer_id) is not None:
            _add_link(session, case, actor, "customer", alert.customer_id, "", now)
        for link_type, chain, target in _alert_subjects(session, alert):
            _add_link(session, case, actor, link_type, target, chain, now)


#: At most this many of an alert's events are followed for accounts and addresses to link (a structuring alert
#: may name hundreds of deposits; the first ones show where the money came from, the rest stay on the alert).
MAX_LINKED_EVENTS = 50


def _alert_subjects(session: Session, alert: MonitorAlert) -> list[tuple[str, str, str]]:
    """``(link_type, chain, target)`` for the accounts and on-chain addresses an alert names.

    The subject account (account and counterparty alerts), the accounts of the alert's ledger events and the
    addresses of its deposits and withdrawals: so that a case opened from an alert starts with a graph to work
    on (the addresses) and accounts a freeze can be proposed on.
    """
    found: list[tuple[str, str, str]] = []
    if alert.subject_type in ("account", "counterparty") and session.get(Account, alert.subject_id) is not None:
        found.append(("account", "", alert.subject_id))
    event_ids = [str(e) for e in (alert.event_ids or [])][:MAX_LINKED_EVENTS]
    if event_ids:
        events = session.scalars(select(LedgerEvent).where(LedgerEvent.event_id.in_(event_ids)))
        for event in events:
            found.append(("account", "", event.account_id))
            if event.event_type in ("deposit", "withdrawal") and event.chain and event.address:
                found.append(("address", event.chain, event.address))
    return list(dict.fromkeys(found))


def _add_link(
    session: Session, case: Case, actor: Actor, link_type: str, target: str, chain: str, now: datetime
) -> bool:
    exists = session.scalar(
        select(CaseLink.id).where(
            CaseLink.case_id == case.id, CaseLink.link_type == link_type, CaseLink.chain == chain,
            CaseLink.target == target,
        )
    )  # fmt: skip
    if exists is not None:
        return False
    session.add(CaseLink(case_id=case.id, link_type=link_type, chain=chain, target=target, added_by=actor.username,
                         added_at=now))  # fmt: skip
    return True


def create_case(
    session: Session,
    actor: Actor,
    *,
    title: str,
    description: str = "",
    queue: str | None = None,
    priority: str = "medium",
    alert_ids: Sequence[int] = (),
    assignee: str | None = None,
    due_at: datetime | None = None,
    now: datetime | None = None,
) -> Case:
    """Open a case, manually or from alerts (``case.create``; with alerts also ``alert.triage``).

    Alerts are attached, marked ``escalated``, and their customers linked; the queue defaults to the first
    alert's queue.
    """
    require(actor, "case.create")
    if alert_ids:
        require(actor, "alert.triage")
    if assignee is not None:
        require(actor, "case.assign")
    at = moment(now)
    alerts = _alerts(session, alert_ids) if alert_ids else []
    case = Case(
        title=required_text(title, "title", max_length=200),
        description=description.strip(),
        status="open",
        priority=_check_priority(priority),
        queue=(queue or (alerts[0].queue if alerts else DEFAULT_QUEUE)).strip()[:40],
        assignee=assignee,
        created_by=actor.username,
        created_at=at,
        updated_at=at,
        due_at=aware(due_at, "due_at"),
    )
    session.add(case)
    session.flush()
    _attach(session, case, actor, alerts, at)
    details: dict[str, Any] = {"title": case.title, "queue": case.queue, "priority": case.priority,
                               "alert_ids": [a.id for a in alerts], "assignee": assignee}  # fmt: skip
    record_event(session, case, actor, "created", details, at)
    session.flush()
    audit.record(session, actor, "case.create", CASE_OBJECT, str(case.id), details=details)
    return case


def create_from_alerts(
    session: Session, actor: Actor, alert_ids: Sequence[int], *, title: str | None = None, **options: Any
) -> Case:
    """Open a case for one or more alerts; the title defaults to the first alert's rule and subject."""
    if not alert_ids:
        raise InvalidInputError("name at least one alert", field="alert_ids")
    first = session.get(MonitorAlert, alert_ids[0])
    if first is None:
        raise NotFoundError("no such alert", alert_ids=[alert_ids[0]])
    default = f"{first.rule_id} on {first.subject_type} {first.subject_id}"
    return create_case(session, actor, title=title or default, alert_ids=alert_ids, **options)


def get_case(session: Session, actor: Actor, case_id: int) -> Case:
    """One case (``case.read``); reading it is audited."""
    require(actor, "case.read")
    case = get_case_row(session, case_id)
    audit.record(session, actor, "case.read", CASE_OBJECT, str(case.id))
    return case


def list_cases(
    session: Session,
    actor: Actor,
    *,
    status: str | None = None,
    queue: str | None = None,
    assignee: str | None = None,
    overdue: bool | None = None,
    limit: int = 100,
    offset: int = 0,
    now: datetime | None = None,
) -> tuple[list[Case], int]:
    """Cases matching the filters, most urgent deadline first, and the total count (``case.read``)."""
    require(actor, "case.read")
    at = moment(now)
    query = select(Case)
    if status is not None:
        query = query.where(Case.status == status)
    if queue is not None:
        query = query.where(Case.queue == queue)
    if assignee is not None:
        query = query.where(Case.assignee == assignee)
    if overdue is True:
        query = query.where(Case.status != "closed", Case.due_at.is_not(None), Case.due_at < at)
    elif overdue is False:
        query = query.where(or_(Case.status == "closed", Case.due_at.is_(None), Case.due_at >= at))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Case.due_at.is_(None), Case.due_at, Case.id).limit(limit).offset(offset))
    audit.record(session, actor, "case.list", CASE_OBJECT, None,
                 details={"status": status, "queue": queue, "assignee": assignee, "overdue": overdue})  # fmt: skip
    return list(rows), int(total)


def is_overdue(case: Case, now: datetime | None = None) -> bool:
    """Whether the case is still open past its deadline."""
    return case.status != "closed" and case.due_at is not None and case.due_at < moment(now)


def attach_alerts(
    session: Session, actor: Actor, case_id: int, alert_ids: Sequence[int], expected_version: int,
    *, now: datetime | None = None,
) -> Case:  # fmt: skip
    """Attach further alerts to an existing case (``case.update`` and ``alert.triage``)."""
    require(actor, "case.update")
    require(actor, "alert.triage")
    case = case_for_update(session, case_id, expected_version)
    if case.status == "closed":
        raise PolicyViolationError("a closed case takes no new alerts; reopen it first", case_id=case_id)
    if not alert_ids:
        raise InvalidInputError("name at least one alert", field="alert_ids")
    at = moment(now)
    _attach(session, case, actor, _alerts(session, alert_ids), at)
    case_changed(session, case, actor, "alerts_attached", {"alert_ids": list(alert_ids)}, at)
    return case


def assign(
    session: Session, actor: Actor, case_id: int, expected_version: int, *, assignee: str | None,
    queue: str | None = None, now: datetime | None = None,
) -> Case:  # fmt: skip
    """Assign the case to an investigator (None: unassign) and optionally move it to another queue."""
    require(actor, "case.assign")
    case = case_for_update(session, case_id, expected_version)
    at = moment(now)
    details = {"from": case.assignee, "to": assignee, "queue_from": case.queue, "queue_to": queue or case.queue}
    case.assignee = assignee.strip() if assignee else None
    if queue:
        case.queue = queue.strip()[:40]
    case_changed(session, case, actor, "assigned", details, at)
    return case


def set_deadline(
    session: Session, actor: Actor, case_id: int, expected_version: int, due_at: datetime | None,
    *, priority: str | None = None, now: datetime | None = None,
) -> Case:  # fmt: skip
    """Set or clear the case's deadline (and optionally its priority)."""
    require(actor, "case.update")
    case = case_for_update(session, case_id, expected_version)
    at = moment(now)
    new_due = aware(due_at, "due_at")
    details = {"from": case.due_at.isoformat() if case.due_at else None,
               "to": new_due.isoformat() if new_due else None, "priority": priority}  # fmt: skip
    case.due_at = new_due
    if priority is not None:
        case.priority = _check_priority(priority)
    case_changed(session, case, actor, "deadline_set", details, at)
    return case


def change_status(
    session: Session, actor: Actor, case_id: int, expected_version: int, new_status: str,
    *, decision: str | None = None, reason: str | None = None, now: datetime | None = None,
) -> Case:  # fmt: skip
    """Move the case along :data:`TRANSITIONS`; closing needs ``decision`` and ``reason`` (``case.close``)."""
    require(actor, "case.close" if new_status == "closed" else "case.update")
    case = case_for_update(session, case_id, expected_version)
    if new_status not in TRANSITIONS:
        raise InvalidInputError("unknown case status", status=new_status, allowed=list(TRANSITIONS))
    allowed = TRANSITIONS[case.status]
    if new_status not in allowed:
        hint = "; use reopen" if case.status == "closed" else ""
        raise PolicyViolationError(
            f"a case cannot go from {case.status} to {new_status}{hint}",
            case_id=case.id, status=case.status, allowed=sorted(allowed),
        )  # fmt: skip
    at = moment(now)
    details: dict[str, Any] = {"from": case.status, "to": new_status}
    if new_status == "closed":
        if decision not in CASE_DECISIONS:
            raise PolicyViolationError("closing a case needs a decision", decision=decision,
                                       allowed=list(CASE_DECISIONS))  # fmt: skip
        case.decision = decision
        case.decision_reason = required_text(reason, "reason")
        case.closed_at, case.closed_by = at, actor.username
        details.update(decision=decision, reason=case.decision_reason)
        _set_alert_status(session, case, "closed", at)
    elif reason:
        details["reason"] = reason.strip()
    case.status = new_status
    case_changed(session, case, actor, "status_changed", details, at)
    return case


def close_case(
    session: Session, actor: Actor, case_id: int, expected_version: int, *, decision: str, reason: str,
    now: datetime | None = None,
) -> Case:  # fmt: skip
    """Close with a decision (``sar_filed``, ``no_further_action``, ``account_actions_taken``…) and reason."""
    return change_status(session, actor, case_id, expected_version, "closed", decision=decision, reason=reason,
                         now=now)  # fmt: skip


def reopen(
    session: Session, actor: Actor, case_id: int, expected_version: int, *, reason: str, now: datetime | None = None
) -> Case:
    """Reopen a closed case (status ``investigating``) with a reason (``case.close``)."""
    require(actor, "case.close")
    case = case_for_update(session, case_id, expected_version)
    if case.status != "closed":
        raise PolicyViolationError("only a closed case can be reopened", case_id=case.id, status=case.status)
    at = moment(now)
    details = {"from": "closed", "to": "investigating", "reason": required_text(reason, "reason"),
               "previous_decision": case.decision}  # fmt: skip
    case.status, case.decision, case.decision_reason, case.closed_at, case.closed_by = (
        "investigating", None, None, None, None,
    )  # fmt: skip
    _set_alert_status(session, case, "escalated", at)
    case_changed(session, case, actor, "reopened", details, at)
    return case


def _set_alert_status(session: Session, case: Case, status: str, now: datetime) -> None:
    alerts = session.scalars(
        select(MonitorAlert).join(CaseAlert, CaseAlert.alert_id == MonitorAlert.id).where(CaseAlert.case_id == case.id)
    )
    for alert in alerts:
        alert.status, alert.updated_at = status, now


def add_note(
    session: Session, actor: Actor, case_id: int, expected_version: int, body: str, *, now: datetime | None = None
) -> CaseNote:
    """Add a note (``case.update``); notes are never edited."""
    require(actor, "case.update")
    case = case_for_update(session, case_id, expected_version)
    at = moment(now)
    note = CaseNote(case_id=case.id, author=actor.username, created_at=at,
                    body=required_text(body, "note", max_length=MAX_NOTE))  # fmt: skip
    session.add(note)
    session.flush()
    case_changed(session, case, actor, "note_added", {"note_id": note.id, "length": len(note.body)}, at)
    return note


def link(
    session: Session, actor: Actor, case_id: int, expected_version: int, link_type: str, target: str,
    *, chain: str = "", now: datetime | None = None,
) -> Case:  # fmt: skip
    """Link a customer, account or on-chain address (``chain`` required for addresses) to the case."""
    require(actor, "case.update")
    if link_type not in LINK_TYPES:
        raise InvalidInputError("unknown link type", link_type=link_type, allowed=list(LINK_TYPES))
    case = case_for_update(session, case_id, expected_version)
    value = required_text(target, "target", max_length=128)
    chain = chain.strip().lower()
    if link_type == "address" and not chain:
        raise InvalidInputError("an address link needs its chain", field="chain")
    if link_type != "address":
        chain = ""
    if link_type == "customer" and session.get(Customer, value) is None:
        raise NotFoundError("no such customer", customer_id=value)
    if link_type == "account" and session.get(Account, value) is None:
        raise NotFoundError("no such account", account_id=value)
    at = moment(now)
    if not _add_link(session, case, actor, link_type, value, chain, at):
        return case  # already linked: idempotent, nothing changes
    case_changed(session, case, actor, "linked", {"link_type": link_type, "target": value, "chain": chain}, at)
    return case


def links(session: Session, case_id: int) -> list[CaseLink]:
    return list(session.scalars(select(CaseLink).where(CaseLink.case_id == case_id).order_by(CaseLink.id)))


def notes(session: Session, case_id: int) -> list[CaseNote]:
    return list(session.scalars(select(CaseNote).where(CaseNote.case_id == case_id).order_by(CaseNote.id)))


def alert_ids(session: Session, case_id: int) -> list[int]:
    return list(
        session.scalars(select(CaseAlert.alert_id).where(CaseAlert.case_id == case_id).order_by(CaseAlert.alert_id))
    )


def timeline(session: Session, actor: Actor, case_id: int) -> list[CaseEvent]:
    """Every change of the case, oldest first (``case.read``)."""
    require(actor, "case.read")
    get_case_row(session, case_id)
    return list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)))
