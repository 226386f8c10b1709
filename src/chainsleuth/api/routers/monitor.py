"""Monitoring over HTTP: alerts (list with filters, detail), queues, rules and backtest results.

Every endpoint needs ``alert.read`` (the matrix in :mod:`chainsleuth.privacy.policy`). Alerts carry identifiers
and rule values, never customers' personal data; the explanation names the customer id, the event ids and the
chain evidence behind the alert.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from chainsleuth.api.deps import Principal, get_session
from chainsleuth.api.permissions import requires
from chainsleuth.monitor.alerts import store as alert_store
from chainsleuth.monitor.alerts.book import QUEUES
from chainsleuth.monitor.rules.loader import load_rules

router = APIRouter(prefix="/api/monitor", tags=["monitor"])
AlertReader = Annotated[Principal, Depends(requires("alert.read"))]
DbSession = Annotated[Session, Depends(get_session)]


@router.get("/alerts", summary="List alerts")
def list_alerts(
    _: AlertReader,
    session: DbSession,
    queue: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[str | None, Query(pattern="^(open|in_review|escalated|closed)$")] = None,
    rule_id: Annotated[str | None, Query(max_length=80)] = None,
    customer_id: Annotated[str | None, Query(max_length=32)] = None,
    severity: Annotated[str | None, Query(pattern="^(low|medium|high|critical)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Alerts, highest combined score first, with the total matching count."""
    rows, total = alert_store.list_alerts(
        session, queue=queue, status=status, rule_id=rule_id, customer_id=customer_id, severity=severity,
        limit=limit, offset=offset,
    )  # fmt: skip
    return {"total": total, "limit": limit, "offset": offset, "items": [alert_store.alert_view(r) for r in rows]}


@router.get("/alerts/{alert_id}", summary="One alert")
def alert_detail(alert_id: int, _: AlertReader, session: DbSession) -> dict[str, Any]:
    """The alert with its explanation: rule and version, expression, values, thresholds, events, evidence."""
    return alert_store.alert_view(alert_store.get_alert(session, alert_id))


@router.get("/queues", summary="Alert queues")
def queues(_: AlertReader, session: DbSession) -> dict[str, int]:
    """Open alerts per queue (every known queue is listed, empty ones with 0)."""
    counts = dict.fromkeys(QUEUES, 0)
    counts.update(alert_store.queue_counts(session))
    return counts


@router.get("/rules", summary="Rules")
def rules(_: AlertReader, session: DbSession) -> list[dict[str, Any]]:
    """The shipped rule library as loaded, with each rule's stored revisions."""
    revisions: dict[str, list[dict[str, Any]]] = {}
    for row in alert_store.rule_versions(session):
        revisions.setdefault(row.rule_id, []).append(
            {"revision": row.revision, "version": row.version, "content_hash": row.content_hash,
             "created_at": row.created_at.isoformat()}
        )  # fmt: skip
    return [{**rule.definition(), "revisions": revisions.get(rule.id, [])} for rule in load_rules()]


@router.get("/shadow-hits", summary="Shadow-mode hits")
def shadow_hits(
    _: AlertReader, session: DbSession, rule_id: str | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[dict[str, Any]]:
    """Hits of rules in shadow mode (recorded, never alerted)."""
    return [
        {"rule_id": h.rule_id, "rule_version": h.rule_version, "rule_hash": h.rule_hash, "event_id": h.event_id,
         "occurred_at": h.occurred_at.isoformat(), "subject_type": h.subject_type, "subject_id": h.subject_id,
         "values": h.values, "explanation": h.explanation}
        for h in alert_store.shadow_hits(session, rule_id, limit)
    ]  # fmt: skip


@router.get("/backtests", summary="Backtest results")
def backtests(
    _: AlertReader, session: DbSession, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> list[dict[str, Any]]:
    """Stored backtest reports, newest first."""
    return [
        {"id": row.id, "source": row.source, "engine": row.engine, "created_at": row.created_at.isoformat(),
         "rules": row.rules, "report": row.report}
        for row in alert_store.list_backtests(session, limit)
    ]  # fmt: skip


@router.get("/backtests/{backtest_id}", summary="One backtest")
def backtest(backtest_id: int, _: AlertReader, session: DbSession) -> dict[str, Any]:
    """One stored backtest report."""
    row = alert_store.get_backtest(session, backtest_id)
    return {"id": row.id, "source": row.source, "engine": row.engine, "created_at": row.created_at.isoformat(),
            "rules": row.rules, "report": row.report}  # fmt: skip
