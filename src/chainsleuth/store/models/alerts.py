"""Monitoring: rule versions, alerts (trigger warnings), shadow-mode hits and backtest results.

* ``monitor_rules`` keeps every version of every rule that ever produced a hit or alert: a rule whose content
  hash changes gets a new ``revision`` row, old rows stay, so an alert can always be explained by the exact
  rule that raised it (alerts store rule id, declared version, revision and content hash).
* ``monitor_alerts``: one row per alert episode (same rule, same subject, overlapping window → one row,
  updated). ``details`` holds the explanation data: the expression, values, thresholds, chain evidence.
  ``queue`` routes it to a work queue of the cases issue; ``status`` is that issue's to move.
* ``monitor_shadow_hits``: hits of rules in shadow mode, kept apart from alerts (nobody is alerted).
* ``monitor_backtests``: stored backtest reports.

Subjects are identifiers (customer, account, device, address), not foreign keys: an alert may be about a
device or an address that has no row of its own, and alerts must survive the deletion of reference data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from chainsleuth.store.models.base import Base, one_of
from chainsleuth.store.types import UTCDateTime, utcnow

ALERT_STATUSES = ("open", "in_review", "escalated", "closed")
ALERT_SEVERITIES = ("low", "medium", "high", "critical")
RULE_MODES = ("active", "shadow")


class MonitorRuleVersion(Base):
    """One version of a rule, identified by its content hash."""

    __tablename__ = "monitor_rules"
    __table_args__ = (
        UniqueConstraint("rule_id", "content_hash"),
        UniqueConstraint("rule_id", "revision"),
        one_of("mode", RULE_MODES),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule_id: Mapped[str] = mapped_column(String(80))
    version: Mapped[int] = mapped_column(Integer)
    revision: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(10))
    severity: Mapped[str] = mapped_column(String(10))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MonitorAlert(Base):
    """One alert: a rule on a subject over one episode of hits, scored, explained and queued."""

    __tablename__ = "monitor_alerts"
    __table_args__ = (
        one_of("status", ALERT_STATUSES),
        one_of("severity", ALERT_SEVERITIES),
        Index(None, "queue", "status"),
        Index(None, "subject_type", "subject_id"),
        Index(None, "customer_id"),
        Index(None, "rule_id", "subject_type", "subject_id", "last_event_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_key: Mapped[str] = mapped_column(String(300), unique=True)
    rule_id: Mapped[str] = mapped_column(String(80))
    rule_version: Mapped[int] = mapped_column(Integer)
    rule_revision: Mapped[int] = mapped_column(Integer)
    rule_hash: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(10))
    queue: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(12), default="open")
    subject_type: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[str] = mapped_column(String(128))
    customer_id: Mapped[str | None] = mapped_column(String(32))
    score: Mapped[float] = mapped_column(Float)
    combined_score: Mapped[float] = mapped_column(Float)
    first_event_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_event_at: Mapped[datetime] = mapped_column(UTCDateTime())
    hit_count: Mapped[int] = mapped_column(Integer)
    event_ids: Mapped[list[str]] = mapped_column(JSON)
    explanation: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MonitorShadowHit(Base):
    """A hit of a rule in shadow mode: recorded for measurement, never alerted."""

    __tablename__ = "monitor_shadow_hits"
    __table_args__ = (UniqueConstraint("rule_hash", "event_id"), Index(None, "rule_id", "occurred_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule_id: Mapped[str] = mapped_column(String(80))
    rule_version: Mapped[int] = mapped_column(Integer)
    rule_hash: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    subject_type: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[str] = mapped_column(String(128))
    customer_id: Mapped[str | None] = mapped_column(String(32))
    values: Mapped[dict[str, Any]] = mapped_column(JSON)
    explanation: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MonitorBacktest(Base):
    """A stored backtest report (per-rule and overall precision/recall)."""

    __tablename__ = "monitor_backtests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(Text)
    engine: Mapped[str] = mapped_column(String(10))
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
