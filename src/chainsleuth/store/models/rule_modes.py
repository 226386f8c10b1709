"""Monitoring rule mode overrides: a rule promoted from shadow to active (or demoted) by a rules manager.

One row per rule id (the latest decision wins; the history is in the audit log, every change being audited with
its reason). Mode is deliberately not part of a rule's content hash, so an override never creates a revision.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from chainsleuth.store.models.alerts import RULE_MODES
from chainsleuth.store.models.base import Base, one_of
from chainsleuth.store.types import UTCDateTime, utcnow


class MonitorRuleMode(Base):
    """The deployment's mode for one rule, overriding the mode declared in its rule file."""

    __tablename__ = "monitor_rule_modes"
    __table_args__ = (one_of("mode", RULE_MODES),)

    rule_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    mode: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(Text)
    changed_by: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
