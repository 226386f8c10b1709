"""Alerts in the relational store: rule versions, alert upserts with de-duplication, shadow hits, backtests.

Everything takes a SQLAlchemy ``Session`` and only flushes; the caller owns the transaction
(``chainsleuth.store.db.session_scope``), so a monitoring run's alerts are stored all or nothing.

De-duplication continues across runs: an incoming alert whose rule and subject match an open stored alert whose
last hit is within the rule's ``dedup_window`` of the incoming alert's first hit updates that row (hit count,
event ids, latest values, score) instead of inserting a new one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chainsleuth.errors import NotFoundError
from chainsleuth.monitor.alerts.book import MAX_EVENT_IDS, Alert, AlertBook, combine
from chainsleuth.monitor.engine.context import RuleHit, from_micros
from chainsleuth.monitor.rules.model import Rule, RuleSet
from chainsleuth.store.models.alerts import MonitorAlert, MonitorBacktest, MonitorRuleVersion, MonitorShadowHit
from chainsleuth.store.models.rule_modes import MonitorRuleMode
from chainsleuth.store.types import utcnow


def register_rules(session: Session, rules: Iterable[Rule]) -> dict[str, int]:
    """Record each rule's current version (a new revision when its content hash is new); rule id → revision."""
    revisions: dict[str, int] = {}
    for rule in rules:
        known = session.scalars(
            select(MonitorRuleVersion).where(
                MonitorRuleVersion.rule_id == rule.id, MonitorRuleVersion.content_hash == rule.content_hash
            )
        ).one_or_none()
        if known is None:
            latest = session.scalar(
                select(func.max(MonitorRuleVersion.revision)).where(MonitorRuleVersion.rule_id == rule.id)
            )
            known = MonitorRuleVersion(
                rule_id=rule.id,
                version=rule.version,
                revision=(latest or 0) + 1,
                content_hash=rule.content_hash,
                mode=rule.mode,
                severity=rule.severity,
                definition=rule.definition(),
            )
            session.add(known)
            session.flush()
        elif known.mode != rule.mode:
            known.mode = rule.mode
        revisions[rule.id] = known.revision
    return revisions


# -- rule mode overrides (rule management, web/rules.py) -------------------------------------------------------


def mode_overrides(session: Session) -> dict[str, MonitorRuleMode]:
    """The deployment's mode overrides (shadow ↔ active decided by a rules manager), by rule id."""
    return {row.rule_id: row for row in session.scalars(select(MonitorRuleMode))}


def apply_mode_overrides(session: Session, rules: RuleSet) -> RuleSet:
    """``rules`` with each overridden rule's mode replaced (mode is not in the content hash: same revision)."""
    overrides = mode_overrides(session)
    changed = tuple(replace(rule, mode=overrides[rule.id].mode) if rule.id in overrides else rule for rule in rules)
    return RuleSet(changed, rules.lists)


def rule_versions(session: Session, rule_id: str | None = None) -> list[MonitorRuleVersion]:
    query = select(MonitorRuleVersion).order_by(MonitorRuleVersion.rule_id, MonitorRuleVersion.revision)
    if rule_id is not None:
        query = query.where(MonitorRuleVersion.rule_id == rule_id)
    return list(session.scalars(query))


SEVERITY_ORDER = {"low": 1, "medium": 2, "high": 3, "critical": 4}


@dataclass
class StoreReport:
    created: int = 0
    updated: int = 0
    shadow_hits: int = 0
    skipped_closed: int = 0  # episodes an analyst already closed, seen again with no new event


def _details(alert: Alert) -> dict[str, Any]:
    return {
        "expression": alert.expression,
        "values": alert.values,
        "thresholds": alert.thresholds,
        "evidence": list(alert.evidence),
    }


def store_alerts(session: Session, book: AlertBook, rules: RuleSet) -> StoreReport:
    """Persist the book's alerts (merging into stored open alerts) and its shadow hits."""
    revisions = register_rules(session, rules)
    by_id = {rule.id: rule for rule in rules}
    report = StoreReport()
    touched_subjects: set[tuple[str, str]] = set()
    for alert in book.alerts:
        rule = by_id[alert.rule_id]
        first, last = from_micros(alert.first_ts), from_micros(alert.last_ts)
        existing = session.scalars(
            select(MonitorAlert)
            .where(
                MonitorAlert.rule_id == alert.rule_id,
                MonitorAlert.subject_type == alert.subject_type,
                MonitorAlert.subject_id == alert.subject_id,
                MonitorAlert.status != "closed",
                MonitorAlert.last_event_at >= first - timedelta(seconds=rule.dedup_seconds),
                MonitorAlert.first_event_at <= last,
            )
            .order_by(MonitorAlert.last_event_at.desc())
            .limit(1)
        ).one_or_none()
        if existing is not None:
            new_ids = [event for event in alert.event_ids if event not in existing.event_ids]
            if new_ids:
                existing.event_ids = (list(existing.event_ids) + new_ids)[:MAX_EVENT_IDS]
                existing.hit_count += len(new_ids)
            existing.last_event_at = max(existing.last_event_at, last)
            if SEVERITY_ORDER.get(alert.severity, 0) > SEVERITY_ORDER.get(existing.severity, 0):
                existing.severity = alert.severity  # an episode that got worse (a model's risk rose) says so
            existing.score = max(existing.score, alert.score)
            existing.explanation = alert.explanation
            existing.details = _details(alert)
            existing.updated_at = utcnow()
            report.updated += 1
        else:
            key, event_ids = alert.alert_key, list(alert.event_ids)
            closed = session.scalars(select(MonitorAlert).where(MonitorAlert.alert_key == key)).one_or_none()
            if closed is not None:
                # The same episode, closed by an analyst, seen again (a re-run over the same history, or the
                # behaviour went on). Closed stays closed; only events it never covered raise a new alert.
                event_ids = [event for event in event_ids if event not in set(closed.event_ids)]
                key = f"{alert.alert_key}@{alert.last_ts}"
                if not event_ids or session.scalar(select(MonitorAlert.id).where(MonitorAlert.alert_key == key)):
                    report.skipped_closed += 1
                    continue
                first = max(first, closed.last_event_at)
            session.add(
                MonitorAlert(
                    alert_key=key, rule_id=alert.rule_id, rule_version=alert.rule_version,
                    rule_revision=revisions[alert.rule_id], rule_hash=alert.rule_hash, severity=alert.severity,
                    queue=alert.queue, status="open", subject_type=alert.subject_type, subject_id=alert.subject_id,
                    customer_id=alert.customer_id, score=alert.score, combined_score=alert.combined_score,
                    first_event_at=first, last_event_at=last, hit_count=len(event_ids) if closed else alert.hit_count,
                    event_ids=event_ids, explanation=alert.explanation, details=_details(alert),
                )
            )  # fmt: skip
            report.created += 1
        touched_subjects.add((alert.subject_type, alert.subject_id))
    session.flush()
    for subject_type, subject_id in touched_subjects:
        _rescore(session, subject_type, subject_id)
    report.shadow_hits = store_shadow_hits(session, book.shadow_hits)
    session.flush()
    return report


def _rescore(session: Session, subject_type: str, subject_id: str) -> None:
    """Combined score of a subject across its open alerts (one score per rule: the highest)."""
    rows = list(
        session.scalars(
            select(MonitorAlert).where(
                MonitorAlert.subject_type == subject_type,
                MonitorAlert.subject_id == subject_id,
                MonitorAlert.status != "closed",
            )
        )
    )
    best: dict[str, float] = {}
    for row in rows:
        best[row.rule_id] = max(best.get(row.rule_id, 0.0), row.score)
    combined = combine(best.values())
    for row in rows:
        row.combined_score = combined


def store_shadow_hits(session: Session, hits: Sequence[RuleHit]) -> int:
    """Record shadow-mode hits (once per rule version and event); returns how many were new."""
    added = 0
    for hit in hits:
        exists = session.scalar(
            select(MonitorShadowHit.id).where(
                MonitorShadowHit.rule_hash == hit.rule_hash, MonitorShadowHit.event_id == hit.event_id
            )
        )
        if exists is None:
            session.add(
                MonitorShadowHit(
                    rule_id=hit.rule_id, rule_version=hit.rule_version, rule_hash=hit.rule_hash,
                    event_id=hit.event_id, occurred_at=from_micros(hit.timestamp), subject_type=hit.subject_type,
                    subject_id=hit.subject_id, customer_id=hit.customer_id, values=dict(hit.values),
                    explanation=hit.explanation,
                )
            )  # fmt: skip
            added += 1
    return added


def list_alerts(
    session: Session,
    *,
    queue: str | None = None,
    status: str | None = None,
    rule_id: str | None = None,
    customer_id: str | None = None,
    severity: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[MonitorAlert], int]:
    """Alerts matching the filters, highest combined score first, and the total count."""
    query = select(MonitorAlert)
    for column, value in (
        (MonitorAlert.queue, queue),
        (MonitorAlert.status, status),
        (MonitorAlert.rule_id, rule_id),
        (MonitorAlert.customer_id, customer_id),
        (MonitorAlert.severity, severity),
    ):
        if value is not None:
            query = query.where(column == value)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(MonitorAlert.combined_score.desc(), MonitorAlert.last_event_at.desc(), MonitorAlert.id)
        .limit(limit)
        .offset(offset)
    )
    return list(rows), int(total)


def get_alert(session: Session, alert_id: int) -> MonitorAlert:
    alert = session.get(MonitorAlert, alert_id)
    if alert is None:
        raise NotFoundError("no such alert", alert_id=alert_id)
    return alert


def queue_counts(session: Session) -> dict[str, int]:
    """Open (not closed) alerts per queue."""
    rows = session.execute(
        select(MonitorAlert.queue, func.count()).where(MonitorAlert.status != "closed").group_by(MonitorAlert.queue)
    )
    return {queue: int(count) for queue, count in rows.tuples()}


def shadow_hits(session: Session, rule_id: str | None = None, limit: int = 100) -> list[MonitorShadowHit]:
    query = select(MonitorShadowHit).order_by(MonitorShadowHit.occurred_at.desc()).limit(limit)
    if rule_id is not None:
        query = query.where(MonitorShadowHit.rule_id == rule_id)
    return list(session.scalars(query))


def store_backtest(session: Session, source: str, engine: str, rules: RuleSet, report: dict[str, Any]) -> int:
    row = MonitorBacktest(
        source=source,
        engine=engine,
        rules=[{"rule_id": r.id, "version": r.version, "content_hash": r.content_hash} for r in rules],
        report=report,
    )
    session.add(row)
    session.flush()
    return row.id


def list_backtests(session: Session, limit: int = 20) -> list[MonitorBacktest]:
    return list(session.scalars(select(MonitorBacktest).order_by(MonitorBacktest.id.desc()).limit(limit)))


def get_backtest(session: Session, backtest_id: int) -> MonitorBacktest:
    row = session.get(MonitorBacktest, backtest_id)
    if row is None:
        raise NotFoundError("no such backtest", backtest_id=backtest_id)
    return row


def alert_view(alert: MonitorAlert) -> dict[str, Any]:
    """An alert as plain data (API and CLI)."""
    return {
        "id": alert.id, "alert_key": alert.alert_key, "rule_id": alert.rule_id, "rule_version": alert.rule_version,
        "rule_revision": alert.rule_revision, "rule_hash": alert.rule_hash, "severity": alert.severity,
        "queue": alert.queue, "status": alert.status, "subject_type": alert.subject_type,
        "subject_id": alert.subject_id, "customer_id": alert.customer_id, "score": alert.score,
        "combined_score": alert.combined_score, "first_event_at": alert.first_event_at.isoformat(),
        "last_event_at": alert.last_event_at.isoformat(), "hit_count": alert.hit_count,
        "event_ids": list(alert.event_ids), "explanation": alert.explanation, "details": dict(alert.details),
    }  # fmt: skip
