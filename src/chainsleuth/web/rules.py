"""Rule management pages: the rule list, one rule, shadow hits, backtests, and promote/demote with a reason.

Built on the monitoring capability's public functions: ``load_rules`` (the shipped library), the rule revisions
``register_rules`` stores, alerts and shadow hits (``monitor.alerts.store``) and ``backtest``. Reading needs
``alert.read``; running a backtest and changing a rule's mode need ``rules.manage``. A mode change is stored as
an override (``monitor_rule_modes``) that every run over the store applies (``monitor.service``), and is audited
with its reason. Counts "in the last 30 days" end at the latest monitored event, which is now in a live
deployment and the end of the history in a replayed or demo one.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chainsleuth.errors import InvalidInputError, NotFoundError
from chainsleuth.monitor.alerts import store as alert_store
from chainsleuth.monitor.models.model_alerts import MODEL_PREFIX, stored_model_rules
from chainsleuth.monitor.rules.loader import load_rules
from chainsleuth.monitor.rules.model import MODES, Rule, RuleSet
from chainsleuth.privacy import audit
from chainsleuth.store.models.alerts import MonitorAlert, MonitorBacktest, MonitorShadowHit
from chainsleuth.store.models.rule_modes import MonitorRuleMode
from chainsleuth.store.types import utcnow
from chainsleuth.web.core import DbSession, NavItem, Viewer, csrf_protected, page, redirect, register_nav, render

router = APIRouter(include_in_schema=False)
Reader = Annotated[Viewer, Depends(page("alert.read"))]
Manager = Annotated[Viewer, Depends(page("alert.read", "rules.manage"))]
WINDOW = timedelta(days=30)
ENGINES = ("batch", "streaming")
MIN_REASON = 10
_UNITS = (("d", 86_400), ("h", 3_600), ("m", 60))
_SECONDS = re.compile(r"window=(\d+)s\b")


def duration(seconds: int) -> str:
    """``604800`` → ``7d``: the rule language's own duration notation (days, as the library writes them)."""
    for unit, size in _UNITS:
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def readable(text: str) -> str:
    """A compiled aggregate with its window written as a duration (``window=7d``)."""
    return _SECONDS.sub(lambda m: f"window={duration(int(m.group(1)))}", text)


def declared_rules(db: Session) -> RuleSet:
    """The shipped library plus the detectors (model rules) this deployment has run, as declared (no overrides)."""
    library = load_rules()
    models = tuple(rule for rule in stored_model_rules(db) if rule.id not in {r.id for r in library})
    return RuleSet(tuple(library) + models, library.lists)


def effective_rules(db: Session) -> RuleSet:
    """The library and the detectors with the deployment's mode overrides applied (what the next run evaluates)."""
    return alert_store.apply_mode_overrides(db, declared_rules(db))


def backtestable_rules(db: Session) -> tuple[RuleSet, list[str]]:
    """The effective rules a rule backtest can evaluate, and the ids of the model rules it leaves out.

    A model rule's condition reads ``model_risk``, a score its detector computes per customer when it runs; the
    rule backtest replays events through the rule engines, which have no such column. Model rules are measured by
    their detector's own evaluation (reported by ``chainsleuth monitor model train``), so they are named on the page as
    left out rather than failing the whole backtest.
    """
    rules = effective_rules(db)
    kept = tuple(rule for rule in rules if not rule.id.startswith(MODEL_PREFIX))
    left_out = sorted(rule.id for rule in rules if rule.id.startswith(MODEL_PREFIX))
    return RuleSet(kept, rules.lists), left_out


def _rule(rules: RuleSet, rule_id: str) -> Rule:
    try:
        return rules.get(rule_id)
    except KeyError:
        raise NotFoundError("no such rule", rule_id=rule_id) from None


def _since(db: Session) -> datetime:
    """Start of the 30-day window ending at the latest monitored event (or now, with nothing monitored)."""
    latest = [
        db.scalar(select(func.max(MonitorAlert.last_event_at))),
        db.scalar(select(func.max(MonitorShadowHit.occurred_at))),
    ]
    return max((t for t in latest if t is not None), default=utcnow()) - WINDOW


def _counts(db: Session, column: Any, rule_column: Any, since: datetime) -> dict[str, int]:
    rows = db.execute(select(rule_column, func.count()).where(column >= since).group_by(rule_column))
    return {rule_id: int(count) for rule_id, count in rows.tuples()}


def _latest_backtest(db: Session) -> MonitorBacktest | None:
    return db.scalars(select(MonitorBacktest).order_by(MonitorBacktest.id.desc()).limit(1)).one_or_none()


@router.get("/rules")
def rules_list(request: Request, viewer: Reader, db: DbSession) -> HTMLResponse:
    """Every rule: severity, mode (with overrides), FATF tags, current revision and hash, 30-day activity."""
    rules = effective_rules(db)
    revisions: dict[str, list[Any]] = {}
    for row in alert_store.rule_versions(db):
        revisions.setdefault(row.rule_id, []).append(row)
    since = _since(db)
    alerts = _counts(db, MonitorAlert.last_event_at, MonitorAlert.rule_id, since)
    shadow = _counts(db, MonitorShadowHit.occurred_at, MonitorShadowHit.rule_id, since)
    overrides = alert_store.mode_overrides(db)
    rows = []
    for rule in rules:
        current = next((r for r in revisions.get(rule.id, []) if r.content_hash == rule.content_hash), None)
        rows.append({
            "rule": rule, "revision": current.revision if current else None,
            "fatf": [t.split(":", 1)[1].replace("-", " ") for t in rule.tags if t.startswith("fatf-va-rf:")],
            "alerts": alerts.get(rule.id, 0), "shadow_hits": shadow.get(rule.id, 0),
            "overridden": rule.id in overrides,
        })  # fmt: skip
    return render(request, "rules/list.html", viewer, {
        "title": "Rules", "rows": rows, "since": since, "shadow_count": sum(r.mode == "shadow" for r in rules),
    })  # fmt: skip


@router.get("/rules/shadow-hits")
def shadow_hits_page(
    request: Request, viewer: Reader, db: DbSession, rule: Annotated[str | None, Query(max_length=80)] = None
) -> HTMLResponse:
    """Hits of rules in shadow mode: recorded and shown here, never alerted."""
    hits = alert_store.shadow_hits(db, rule or None, 200)
    rule_ids = sorted({r.id for r in declared_rules(db)})
    return render(request, "rules/shadow_hits.html", viewer, {
        "title": "Shadow hits", "hits": hits, "rule": rule or "", "rule_ids": rule_ids,
    })  # fmt: skip


@router.get("/rules/backtests")
def backtests_page(
    request: Request, viewer: Reader, db: DbSession, id: Annotated[int | None, Query(ge=1)] = None
) -> HTMLResponse:
    """Stored backtests, one shown in full (the newest by default), and the form to run a new one."""
    stored = alert_store.list_backtests(db, 50)
    chosen = alert_store.get_backtest(db, id) if id is not None else (stored[0] if stored else None)
    world: Path | None = getattr(request.app.state, "world_dir", None)
    return render(request, "rules/backtests.html", viewer, {
        "title": "Backtests", "backtests": stored, "chosen": chosen, "world": world, "engines": ENGINES,
        "can_run": viewer.can("rules.manage") and world is not None, "left_out": backtestable_rules(db)[1],
    })  # fmt: skip


@router.post("/rules/backtests", dependencies=[Depends(csrf_protected)])
def run_backtest(
    request: Request, viewer: Manager, db: DbSession, engine: Annotated[str, Form()] = "batch"
) -> RedirectResponse:
    """Backtest the effective rules on the deployment's world, in-process, and store the report."""
    from chainsleuth.monitor.backtest import backtest

    world: Path | None = getattr(request.app.state, "world_dir", None)
    if world is None:
        raise InvalidInputError("this deployment has no generated world to backtest on")
    if engine not in ENGINES:
        raise InvalidInputError("engine must be batch or streaming", engine=engine)
    rules, left_out = backtestable_rules(db)
    report = backtest(world, rules, engine=engine)
    number = alert_store.store_backtest(db, str(world), engine, rules, report.as_dict())
    audit.record(db, viewer.principal, "rules.backtest", "monitor_backtest", str(number),
                 details={"engine": engine, "rules": len(rules), "left_out": left_out})  # fmt: skip
    return redirect(f"/rules/backtests?id={number}")


@router.get("/rules/{rule_id}")
def rule_page(request: Request, rule_id: str, viewer: Reader, db: DbSession) -> HTMLResponse:
    """One rule: prose, logic rendered readably, parameters and lists, revisions, activity, latest backtest."""
    rules = effective_rules(db)
    rule = _rule(rules, rule_id)
    declared = _rule(declared_rules(db), rule_id).mode
    lists = {name: values for name, values in rules.lists.items() if re.search(rf"['\"]{re.escape(name)}['\"]",
                                                                                 rule.condition_text)}  # fmt: skip
    aggregates = [(name, readable(key)) for name, key in rule.named.items()]
    alerts, alert_total = alert_store.list_alerts(db, rule_id=rule.id, limit=20)
    latest = _latest_backtest(db)
    measured = None
    if latest is not None:
        measured = next((r for r in latest.report.get("rules", []) if r.get("rule_id") == rule.id), None)
    return render(request, "rules/rule.html", viewer, {
        "title": rule.title, "rule": rule, "declared": declared, "override": db.get(MonitorRuleMode, rule.id),
        "aggregates": aggregates, "lists": lists, "dedup": duration(rule.dedup_seconds),
        "revisions": list(reversed(alert_store.rule_versions(db, rule.id))), "alerts": alerts,
        "alert_total": alert_total, "shadow_hits": alert_store.shadow_hits(db, rule.id, 20),
        "backtest": latest, "measured": measured, "can_manage": viewer.can("rules.manage"),
        "other_mode": "active" if rule.mode == "shadow" else "shadow", "min_reason": MIN_REASON,
    })  # fmt: skip


@router.post("/rules/{rule_id}/mode", dependencies=[Depends(csrf_protected)])
def change_mode(
    rule_id: str,
    viewer: Manager,
    db: DbSession,
    mode: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Promote a shadow rule to active or demote an active one to shadow; needs a reason, audited."""
    rule = _rule(effective_rules(db), rule_id)
    reason = reason.strip()
    if mode not in MODES:
        raise InvalidInputError("mode must be active or shadow", mode=mode)
    if len(reason) < MIN_REASON:
        raise InvalidInputError(f"give a reason for the change (at least {MIN_REASON} characters)")
    if mode == rule.mode:
        raise InvalidInputError(f"the rule is already {mode}", rule_id=rule_id)
    row = db.get(MonitorRuleMode, rule.id)
    if row is None:
        row = MonitorRuleMode(rule_id=rule.id, mode=mode, reason=reason, changed_by=viewer.username)
        db.add(row)
    else:
        row.mode, row.reason, row.changed_by, row.changed_at = mode, reason, viewer.username, utcnow()
    audit.record(db, viewer.principal, "rules.promote" if mode == "active" else "rules.demote", "monitor_rule",
                 rule.id, purpose=reason, details={"from": rule.mode, "to": mode,
                                                   "content_hash": rule.content_hash})  # fmt: skip
    return redirect(f"/rules/{rule.id}")


register_nav(NavItem("Watch", "Rules", "/rules", "alert.read", order=20))
