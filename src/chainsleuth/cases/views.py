"""Cases as plain data for the HTTP API and the CLI (identifiers and investigator text, no personal fields)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.cases import evidence, ledger_guard, service
from chainsleuth.cases.common import iso
from chainsleuth.store.models.cases import Case, CaseEvent, CaseEvidence, CaseLink, CaseNote, LegalHold
from chainsleuth.store.models.exchange import Account


def case_view(case: Case, now: datetime | None = None) -> dict[str, Any]:
    return {
        "id": case.id, "reference": case.reference, "title": case.title, "description": case.description,
        "status": case.status, "priority": case.priority, "queue": case.queue, "assignee": case.assignee,
        "created_by": case.created_by, "created_at": iso(case.created_at), "updated_at": iso(case.updated_at),
        "due_at": iso(case.due_at), "overdue": service.is_overdue(case, now), "decision": case.decision,
        "decision_reason": case.decision_reason, "closed_at": iso(case.closed_at), "closed_by": case.closed_by,
        "version": case.version,
    }  # fmt: skip


def link_view(link: CaseLink) -> dict[str, Any]:
    return {"id": link.id, "link_type": link.link_type, "chain": link.chain or None, "target": link.target,
            "added_by": link.added_by, "added_at": iso(link.added_at)}  # fmt: skip


def note_view(note: CaseNote) -> dict[str, Any]:
    return {"id": note.id, "author": note.author, "created_at": iso(note.created_at), "body": note.body}


def evidence_view(row: CaseEvidence) -> dict[str, Any]:
    return {"id": row.id, "kind": row.kind, "title": row.title, "sha256": row.sha256, "size_bytes": row.size_bytes,
            "media_type": row.media_type, "filename": row.filename, "added_by": row.added_by,
            "added_at": iso(row.added_at),
            "content": json.loads(row.content) if row.content is not None else None}  # fmt: skip


def event_view(event: CaseEvent) -> dict[str, Any]:
    return {"id": event.id, "occurred_at": iso(event.occurred_at), "actor": event.actor,
            "event_type": event.event_type, "details": dict(event.details)}  # fmt: skip


def hold_view(hold: LegalHold) -> dict[str, Any]:
    """A legal hold as plain data (what views show so that nobody deletes preserved records)."""
    return {"id": hold.id, "customer_id": hold.customer_id, "action_id": hold.action_id, "case_id": hold.case_id,
            "legal_basis": hold.legal_basis, "active": hold.active, "placed_at": iso(hold.placed_at),
            "until": iso(hold.until), "released_at": iso(hold.released_at)}  # fmt: skip


def linked_customers(session: Session, case_id: int) -> list[str]:
    """Customers linked to a case directly or through a linked account."""
    links = service.links(session, case_id)
    customers = {link.target for link in links if link.link_type == "customer"}
    accounts = [link.target for link in links if link.link_type == "account"]
    if accounts:
        customers |= set(session.scalars(select(Account.customer_id).where(Account.account_id.in_(accounts))))
    return sorted(customers)


def case_holds(session: Session, case_id: int, now: datetime | None = None) -> list[dict[str, Any]]:
    """Legal holds in force on the case's customers, and those the case itself placed."""
    holds = {h.id: h for h in ledger_guard.holds_for_customers(session, linked_customers(session, case_id), now)}
    own = session.scalars(select(LegalHold).where(LegalHold.case_id == case_id, LegalHold.active.is_(True)))
    holds.update({h.id: h for h in own})
    return [hold_view(holds[key]) for key in sorted(holds)]


def case_detail(session: Session, case: Case, now: datetime | None = None) -> dict[str, Any]:
    """The case with its alerts, links, notes, evidence and the legal holds on its customers."""
    return {
        **case_view(case, now),
        "alert_ids": service.alert_ids(session, case.id),
        "links": [link_view(link) for link in service.links(session, case.id)],
        "notes": [note_view(note) for note in service.notes(session, case.id)],
        "evidence": [{**evidence_view(row), "content": None} for row in evidence.list_evidence(session, case.id)],
        "legal_holds": case_holds(session, case.id, now),
    }
