"""Model alerts: the detector's candidates become alerts in the same queues, with the same machinery, as rules.

A trained detector is presented to the alert machinery as one synthetic rule, ``model-<name>``: its content
hash is the model's ``model_id`` (so every retrained model is a new stored revision of the rule, and an alert
names the exact model that raised it), its condition documents the decision (``model_risk >= <threshold>``,
with the threshold as the rule's parameter), its subject is the customer. Each candidate becomes one
``RuleHit`` as of the scoring time, carrying the probability and the reason codes in its values and a sentence
an analyst can read as its explanation. ``AlertBook`` and ``store_alerts`` then de-duplicate (the same customer
scored again within ``dedup_seconds`` updates its open alert), score, route and store them like any rule's.

Severity follows the probability (``SEVERITY_BANDS``), and the alert's score is that severity's points, so a
customer alerted by the model and by rules gets a combined (noisy-OR) score over both.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from chainsleuth.monitor.alerts.book import QUEUES, AlertBook, combine
from chainsleuth.monitor.engine.context import RuleHit, format_value
from chainsleuth.monitor.features.edges import FeatureError
from chainsleuth.monitor.models.detector import ModelAlertCandidate, detector_name
from chainsleuth.monitor.models.lgbm import Reason, TrainedModel
from chainsleuth.monitor.rules.compiler import BOOL, NUM, Cmp, Const, Ref
from chainsleuth.monitor.rules.model import MODES, SEVERITIES, Rule, RuleSet

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from chainsleuth.monitor.alerts.store import StoreReport

#: Probability → severity (first band whose floor the probability reaches).
SEVERITY_BANDS: tuple[tuple[float, str], ...] = ((0.9, "critical"), (0.6, "high"), (0.3, "medium"), (0.0, "low"))
DEFAULT_QUEUE = "aml-high"
DEFAULT_DEDUP_SECONDS = 7 * 86_400
EVENT_TYPE = "model_score"
RISK = "model_risk"
MODEL_PREFIX = "model-"
EXPLAIN = "model risk {model_risk} ≥ threshold {threshold}: the top reasons with their values and direction"
EXPLAINED_REASONS = 3


def severity_for(probability: float) -> str:
    for floor, severity in SEVERITY_BANDS:
        if probability >= floor:
            return severity
    return "low"


def _date(value: Any) -> str:
    return str(value)[:10] if value else "?"


def model_rule(
    model: TrainedModel,
    *,
    queue: str = DEFAULT_QUEUE,
    dedup_seconds: int = DEFAULT_DEDUP_SECONDS,
    mode: str = "active",
    source: str = "",
) -> Rule:
    """The synthetic rule ``model-<name>`` that stands for ``model`` in the alert machinery."""
    if queue not in QUEUES:
        raise FeatureError(f"unknown queue {queue!r}: use one of {', '.join(QUEUES)}")
    if mode not in MODES:
        raise FeatureError(f"unknown mode {mode!r}: use active or shadow")
    model_id = model.metadata.get("model_id")
    if not model_id:
        raise FeatureError("the model has no model_id: it was not trained by the ledger detector")
    name = detector_name(model)
    window = model.metadata.get("training_window") or {}
    validation = model.metadata.get("validation") or {}
    base = (model.metadata.get("base_rates") or {}).get("validation")
    threshold = float(model.threshold)
    payload = {"model_id": model_id, "threshold": threshold, "dedup_seconds": dedup_seconds,
               "bands": SEVERITY_BANDS, "explain": EXPLAIN}  # fmt: skip
    return Rule(
        id=f"{MODEL_PREFIX}{name}",
        version=1,
        title=f"LightGBM detector '{name}' ({len(model.features)} features, trained on "
        f"{_date(window.get('start'))} to {_date(window.get('end'))})",
        description=(
            "Customers whose risk from the LightGBM detector, trained on the exchange's confirmed cases over the "
            "ledger's transfer graph (lifetime habits, neighbours, exposure to flagged customers, windowed "
            f"statistics), reaches the threshold chosen on the validation period ({_date(window.get('val_time'))}); "
            f"validation PR-AUC {validation.get('pr_auc', float('nan')):.3f} at a base rate of "
            f"{base if base is not None else float('nan'):.4f}. Model {model_id[:12]}."
        ),
        severity="high",
        tags=("model", "lightgbm"),
        mode=mode,
        scope=(EVENT_TYPE,),
        subject="customer",
        condition_text=f"{RISK} >= {threshold:.6g}",
        condition=Cmp(BOOL, ">=", Ref(NUM, "event", RISK), Const(NUM, threshold)),
        named={},
        aggregates={},
        params={RISK: threshold},
        explain=EXPLAIN,
        queue=queue,
        dedup_seconds=dedup_seconds,
        source=source,
        content_hash=hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest(),
    )


def rule_from_definition(definition: dict[str, Any]) -> Rule:
    """A model rule rebuilt from the definition stored with its revision (``register_rules``), so the rules pages
    can list it, show it and switch its mode without the model files."""
    try:
        threshold = float(definition["params"][RISK])
        return Rule(
            id=str(definition["id"]), version=int(definition["version"]), title=str(definition["title"]),
            description=str(definition["description"]), severity=str(definition["severity"]),
            tags=tuple(definition.get("tags") or ()), mode=str(definition["mode"]),
            scope=tuple(definition.get("scope") or (EVENT_TYPE,)), subject=str(definition.get("subject") or "customer"),
            condition_text=str(definition["condition"]),
            condition=Cmp(BOOL, ">=", Ref(NUM, "event", RISK), Const(NUM, threshold)),
            named={}, aggregates={}, params={RISK: threshold}, explain=str(definition.get("explain") or EXPLAIN),
            queue=definition.get("queue"), dedup_seconds=int(definition.get("dedup_seconds") or DEFAULT_DEDUP_SECONDS),
            source=str(definition.get("source") or ""), content_hash=str(definition["content_hash"]),
        )  # fmt: skip
    except (KeyError, TypeError, ValueError) as error:
        raise FeatureError(f"stored model rule definition is incomplete: {error}") from None


def stored_model_rules(session: Session) -> list[Rule]:
    """The latest stored revision of every model rule (``model-*``): the detectors this deployment has run."""
    from sqlalchemy import select

    from chainsleuth.store.models.alerts import MonitorRuleVersion

    latest: dict[str, MonitorRuleVersion] = {}
    query = select(MonitorRuleVersion).where(MonitorRuleVersion.rule_id.like(f"{MODEL_PREFIX}%"))
    for row in session.scalars(query.order_by(MonitorRuleVersion.rule_id, MonitorRuleVersion.revision)):
        latest[row.rule_id] = row
    return [rule_from_definition(dict(row.definition)) for row in latest.values()]


def _number(value: float) -> float | None:
    """JSON-safe: a missing feature (NaN) is stored as null (PostgreSQL's JSON has no NaN)."""
    return value if math.isfinite(value) else None


def reason_text(reason: Reason) -> str:
    """One reason code as a clause: ``<description> = <value> (raises|lowers)``."""
    value = _number(reason.value)
    shown = "n/a" if value is None else format_value(round(value, 2) if abs(value) < 1e15 else value)
    return f"{reason.description} = {shown} ({reason.direction})"


def _probability(p: float) -> str:
    """0.93, 0.41; small ones with a third digit (0.050), tiny ones in two significant digits (0.0012)."""
    if p >= 0.1:
        return f"{p:.2f}"
    return f"{p:.3f}" if p >= 0.01 else f"{p:.2g}"


def explanation(candidate: ModelAlertCandidate, limit: int = EXPLAINED_REASONS) -> str:
    """``model risk 0.93 ≥ threshold 0.41 as of <time>: <reason> = <value> (raises); ...``"""
    moment = datetime.fromtimestamp(candidate.at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    head = f"model risk {_probability(candidate.probability)} ≥ threshold {_probability(candidate.threshold)}"
    reasons = "; ".join(reason_text(r) for r in candidate.reasons[:limit])
    return f"{head} as of {moment}: {reasons}" if reasons else f"{head} as of {moment}"


def _values(candidate: ModelAlertCandidate) -> dict[str, Any]:
    values: dict[str, Any] = {RISK: candidate.probability}
    for reason in candidate.reasons:
        values[reason.feature] = _number(reason.value)
    values["reasons"] = [
        {**reason.as_dict(), "value": _number(reason.value), "contribution": _number(reason.contribution)}
        for reason in candidate.reasons
    ]
    return values


def model_hits(candidates: Sequence[ModelAlertCandidate], rule: Rule) -> list[RuleHit]:
    """One hit per candidate, as of its scoring time (in time order, then by customer)."""
    hits = []
    for c in sorted(candidates, key=lambda c: (c.at, c.customer_id)):
        hits.append(
            RuleHit(
                rule_id=rule.id,
                rule_version=rule.version,
                rule_hash=rule.content_hash,
                mode=rule.mode,
                severity=severity_for(c.probability),
                event_id=c.event_id or f"{rule.id}:{c.customer_id}:{c.at}",
                timestamp=c.at * 1_000_000,
                event_type=EVENT_TYPE,
                subject_type="customer",
                subject_id=c.customer_id,
                customer_id=c.customer_id,
                account_id=None,
                values=_values(c),
                evidence=(),
                explanation=explanation(c),
            )
        )
    return hits


def model_alert_book(candidates: Sequence[ModelAlertCandidate], rule: Rule) -> AlertBook:
    """The candidates as an alert book (shadow hits when the rule is in shadow mode).

    An alert's score is the points of its own severity band, not the rule's: a 0.95 outranks a 0.45.
    """
    book = AlertBook(RuleSet((rule,))).extend(model_hits(candidates, rule))
    for alert in book.alerts:  # one rule: each subject has this one alert in the book
        alert.score = min(100.0, SEVERITIES[alert.severity] * rule.weight)
        alert.combined_score = combine([alert.score])
    return book


def store_model_alerts(session: Session, candidates: Sequence[ModelAlertCandidate], rule: Rule) -> StoreReport:
    """Store the candidates' alerts (merged into open alerts of the same model and customer) in ``session``.

    The deployment's mode override for the rule applies (a rules manager may have put the model in shadow).
    Re-scoring the same period does not resurrect an alert an analyst closed: ``store_alerts`` keeps a closed
    episode closed (``skipped_closed``), for rules and models alike.
    """
    from chainsleuth.monitor.alerts.store import apply_mode_overrides, store_alerts

    rules = apply_mode_overrides(session, RuleSet((rule,)))
    return store_alerts(session, model_alert_book(candidates, rules.rules[0]), rules)
