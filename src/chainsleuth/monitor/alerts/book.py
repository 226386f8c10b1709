"""From rule hits to alerts: de-duplicated, scored, explained and routed to a queue.

* **De-duplication**: a hit of the same rule on the same subject while that subject's alert is still "open in
  time" (the new hit is within the rule's ``dedup_window`` of the alert's last hit) updates that alert (one more
  hit, its event ids, the latest values) instead of raising another. Analysts see one alert per episode.
* **Scoring**: an alert scores its rule's severity points × weight (0–100). When several rules hit the same
  subject, the subject's combined score is a noisy-OR of its alerts' scores (1 − Π(1 − sᵢ/100)) × 100: two
  independent medium signals outrank one, and nothing exceeds 100. Every alert of the subject carries it.
* **Queues**: a rule's explicit ``queue`` wins; otherwise sanctions exposure goes to ``sanctions``, fraud and
  scam typologies to ``fraud``, high and critical severity to ``aml-high``, the rest to ``aml-standard``.
* **Shadow mode**: hits of shadow rules never become alerts; they are kept apart (``shadow_hits``) so that a
  candidate rule can be measured on live traffic before it is switched on.

The book is fed hits in time order by either engine, so batch and streaming build the same alerts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chainsleuth.monitor.engine.context import RuleHit, from_micros
from chainsleuth.monitor.rules.model import Rule, RuleSet

QUEUES = ("sanctions", "fraud", "aml-high", "aml-standard")
FRAUD_TAGS = frozenset({"scam", "fraud", "account_takeover", "phone_theft"})
MAX_EVENT_IDS = 1_000


def queue_for(rule: Rule) -> str:
    """The queue an alert of ``rule`` goes to (see the module docstring)."""
    if rule.queue:
        return rule.queue
    tags = set(rule.tags)
    if "sanctions" in tags:
        return "sanctions"
    if tags & FRAUD_TAGS:
        return "fraud"
    return "aml-high" if rule.severity in ("high", "critical") else "aml-standard"


@dataclass
class Alert:
    """One alert: a rule on a subject over one episode of hits."""

    alert_key: str
    rule_id: str
    rule_version: int
    rule_hash: str
    severity: str
    queue: str
    subject_type: str
    subject_id: str
    customer_id: str | None
    score: float
    combined_score: float
    first_ts: int
    last_ts: int
    hit_count: int
    event_ids: list[str]
    explanation: str
    expression: str
    values: dict[str, Any]
    thresholds: dict[str, Any]
    evidence: list[Mapping[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "alert_key": self.alert_key, "rule_id": self.rule_id, "rule_version": self.rule_version,
            "rule_hash": self.rule_hash, "severity": self.severity, "queue": self.queue,
            "subject_type": self.subject_type, "subject_id": self.subject_id, "customer_id": self.customer_id,
            "score": self.score, "combined_score": self.combined_score,
            "first_event_at": from_micros(self.first_ts).isoformat(),
            "last_event_at": from_micros(self.last_ts).isoformat(), "hit_count": self.hit_count,
            "event_ids": list(self.event_ids), "explanation": self.explanation, "expression": self.expression,
            "values": dict(self.values), "thresholds": dict(self.thresholds), "evidence": list(self.evidence),
        }  # fmt: skip


def combine(scores: Iterable[float]) -> float:
    """Noisy-OR of 0–100 scores."""
    remaining = 1.0
    for score in scores:
        remaining *= 1.0 - min(score, 99.0) / 100.0
    return round((1.0 - remaining) * 100.0, 4)


class AlertBook:
    """Turns a time-ordered stream of hits into alerts; ``add`` returns the alert created or updated."""

    def __init__(self, rules: RuleSet) -> None:
        self.rules = {rule.id: rule for rule in rules}
        self.alerts: list[Alert] = []
        self.shadow_hits: list[RuleHit] = []
        self._open: dict[tuple[str, str, str], Alert] = {}
        self._by_subject: dict[tuple[str, str], dict[str, Alert]] = {}

    def add(self, hit: RuleHit) -> Alert | None:
        rule = self.rules[hit.rule_id]
        if hit.mode == "shadow":
            self.shadow_hits.append(hit)
            return None
        key = (hit.rule_id, hit.subject_type, hit.subject_id)
        alert = self._open.get(key)
        if alert is not None and hit.timestamp - alert.last_ts <= rule.dedup_seconds * 1_000_000:
            alert.last_ts = hit.timestamp
            alert.hit_count += 1
            if len(alert.event_ids) < MAX_EVENT_IDS:
                alert.event_ids.append(hit.event_id)
            alert.values = dict(hit.values)
            alert.explanation = hit.explanation
            alert.evidence.extend(item for item in hit.evidence if item not in alert.evidence)
        else:
            alert = Alert(
                alert_key=f"{hit.rule_id}:{hit.subject_type}:{hit.subject_id}:{hit.timestamp}",
                rule_id=hit.rule_id,
                rule_version=hit.rule_version,
                rule_hash=hit.rule_hash,
                severity=hit.severity,
                queue=queue_for(rule),
                subject_type=hit.subject_type,
                subject_id=hit.subject_id,
                customer_id=hit.customer_id,
                score=rule.base_score,
                combined_score=rule.base_score,
                first_ts=hit.timestamp,
                last_ts=hit.timestamp,
                hit_count=1,
                event_ids=[hit.event_id],
                explanation=hit.explanation,
                expression=rule.condition_text,
                values=dict(hit.values),
                thresholds=dict(rule.params),
                evidence=list(hit.evidence),
            )
            self.alerts.append(alert)
            self._open[key] = alert
        subject = self._by_subject.setdefault((hit.subject_type, hit.subject_id), {})
        subject[hit.rule_id] = alert
        combined = combine(item.score for item in subject.values())
        for item in subject.values():
            item.combined_score = combined
        return alert

    def extend(self, hits: Iterable[RuleHit]) -> AlertBook:
        for hit in hits:
            self.add(hit)
        return self


def build_alerts(hits: Iterable[RuleHit], rules: RuleSet) -> AlertBook:
    """Alerts (and shadow hits) of ``hits``, which must be in time order."""
    return AlertBook(rules).extend(hits)
