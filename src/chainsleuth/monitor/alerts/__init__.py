"""Alerts (trigger warnings): scored, de-duplicated, explained, queued, and stored."""

from __future__ import annotations

from chainsleuth.monitor.alerts.book import QUEUES, Alert, AlertBook, build_alerts, queue_for

__all__ = ["QUEUES", "Alert", "AlertBook", "build_alerts", "queue_for"]
