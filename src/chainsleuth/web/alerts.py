"""Alert pages: the queue (filters, paging) and one alert with why it fired, and one click into a case.

Built on the monitoring capability's public functions (``monitor.alerts.store``): an alert carries its rule,
expression, values and thresholds and the chain evidence behind it, so the page explains itself without a
second query. Opening a case from an alert or attaching it to an existing case goes through
``cases.service``, which links the customer, marks the alert escalated and writes the timeline and audit log.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.cases import service
from chainsleuth.monitor.alerts import store as alert_store
from chainsleuth.monitor.alerts.book import QUEUES
from chainsleuth.store.chainstore import ChainStore
from chainsleuth.store.models import LedgerEvent
from chainsleuth.store.models.cases import Case, CaseAlert
from chainsleuth.web.case_forms import Paging, stale_guard
from chainsleuth.web.core import DbSession, NavItem, Viewer, csrf_protected, page, redirect, register_nav, render
from chainsleuth.web.dashboard import DashboardSection, register_section

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25
SEVERITIES = ("critical", "high", "medium", "low")
STATUSES = ("open", "in_review", "escalated", "closed")
Reader = Annotated[Viewer, Depends(page("alert.read"))]


def _choice(value: str | None, allowed: tuple[str, ...]) -> str | None:
    return value if value in allowed else None


@router.get("/alerts")
def alert_queue(
    request: Request,
    viewer: Reader,
    db: DbSession,
    queue: str | None = None,
    severity: str | None = None,
    status: str | None = None,
    rule: str | None = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> HTMLResponse:
    """Highest combined score first; open alerts by default, because that is the work to do."""
    wanted_status = status if status is not None else "open"
    rows, total = alert_store.list_alerts(
        db, queue=queue or None, severity=_choice(severity, SEVERITIES), status=_choice(wanted_status, STATUSES),
        rule_id=rule or None, limit=PAGE_SIZE, offset=offset,
    )  # fmt: skip
    counts = dict.fromkeys(QUEUES, 0) | alert_store.queue_counts(db)
    return render(request, "alerts.html", viewer, {
        "title": "Alerts", "alerts": rows, "total": total, "counts": sorted(counts.items()),
        "filters": {"queue": queue or "", "severity": severity or "", "status": wanted_status, "rule": rule or ""},
        "queues": sorted(counts), "severities": SEVERITIES, "statuses": STATUSES,
        "page": Paging(total, PAGE_SIZE, offset, rows),
    })  # fmt: skip


def _events(db: DbSession, event_ids: list[str]) -> list[LedgerEvent]:
    if not event_ids:
        return []
    rows = db.scalars(select(LedgerEvent).where(LedgerEvent.event_id.in_(event_ids[:50])))
    return sorted(rows, key=lambda e: (e.timestamp, e.event_id))


@router.get("/alerts/{alert_id}")
def alert_page(request: Request, alert_id: int, viewer: Reader, db: DbSession) -> HTMLResponse:
    """Why it fired: rule and version, expression, each value against its threshold, events, chain evidence."""
    alert = alert_store.get_alert(db, alert_id)
    view = alert_store.alert_view(alert)
    details: dict[str, Any] = view["details"]
    thresholds: dict[str, Any] = details.get("thresholds") or {}
    raw_values = dict(details.get("values") or {})
    # a model alert carries its reason codes (feature, description, value, contribution) as one list value
    reasons = raw_values.pop("reasons", None)
    reasons = [r for r in reasons if isinstance(r, dict)] if isinstance(reasons, list) else []
    values = [{"name": name, "value": value, "threshold": thresholds.get(name)} for name, value in raw_values.items()]
    case = db.scalar(select(Case).join(CaseAlert, CaseAlert.case_id == Case.id).where(CaseAlert.alert_id == alert.id))
    open_cases: list[Case] = []
    if case is None and viewer.can("case.read"):
        open_cases = list(db.scalars(select(Case).where(Case.status != "closed").order_by(Case.id.desc()).limit(50)))
    return render(request, "alert.html", viewer, {
        "title": f"Alert {alert.id}", "alert": view, "values": values, "reasons": reasons,
        "first": alert.first_event_at, "last": alert.last_event_at,
        "extra_thresholds": {k: v for k, v in thresholds.items() if k not in {x["name"] for x in values}},
        "evidence": details.get("evidence") or [], "events": _events(db, view["event_ids"]),
        "case": case, "open_cases": open_cases,
        "can_triage": viewer.can("alert.triage") and viewer.can("case.create"),
        "can_attach": viewer.can("alert.triage") and viewer.can("case.update"),
    })  # fmt: skip


@router.post("/alerts/{alert_id}/case", dependencies=[Depends(csrf_protected)])
def open_case(
    alert_id: int, viewer: Annotated[Viewer, Depends(page("alert.triage", "case.create"))], db: DbSession
) -> RedirectResponse:
    """One click: a case for this alert (title from the rule and subject, the customer linked)."""
    case = service.create_from_alerts(db, viewer.principal, [alert_id])
    return redirect(f"/cases/{case.id}")


@router.post("/alerts/{alert_id}/attach", dependencies=[Depends(csrf_protected)])
def attach(
    alert_id: int,
    viewer: Annotated[Viewer, Depends(page("alert.triage", "case.update"))],
    db: DbSession,
    case_id: Annotated[int, Form()],
) -> RedirectResponse:
    """Attach to an existing case at its current version (no stale form can be involved: we just read it)."""
    case = service.get_case(db, viewer.principal, case_id)
    with stale_guard():
        service.attach_alerts(db, viewer.principal, case.id, [alert_id], case.version)
    return redirect(f"/cases/{case.id}")


def open_alerts_by_queue(db: Session, viewer: Viewer, store: ChainStore) -> dict[str, Any] | None:
    """Dashboard: open alerts per queue, each linked to the queue's filtered list (replaces the plain count); an
    empty queue shows as zero rather than hiding the section."""
    counts = alert_store.queue_counts(db)
    rows = [(queue, counts.get(queue, 0)) for queue in (*QUEUES, *sorted(set(counts) - set(QUEUES)))]
    return {"counts": rows, "total": sum(counts.values())}


register_section(
    DashboardSection("alerts", "Open alerts by queue", "alert.read", "dashboard/alert_queues.html",
                     open_alerts_by_queue, order=5, requires_module="chainsleuth.monitor.alerts.store")
)  # fmt: skip
register_nav(NavItem("Watch", "Alerts", "/alerts", "alert.read", order=10))
