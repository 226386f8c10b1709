"""Fixtures of the case tests: the committed exchange fixture loaded, actors by role, an alert to triage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from chainsleuth.api.deps import Principal
from chainsleuth.config import Settings
from chainsleuth.ingest.ledger import load_exchange
from chainsleuth.store.db import session_scope
from chainsleuth.store.models.alerts import MonitorAlert
from chainsleuth.store.models.users import Role

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "world_exchange"
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=30)


def actor(role: Role, username: str | None = None) -> Principal:
    name = username or role.value.replace("_", "-")
    return Principal(username=name, display_name=name.title(), role=role, agency_id=None)


ANALYST = actor(Role.ANALYST)
SENIOR = actor(Role.SENIOR_ANALYST)
OFFICER = actor(Role.COMPLIANCE_OFFICER)
OFFICER2 = actor(Role.COMPLIANCE_OFFICER, "second-officer")
AUDITOR = actor(Role.AUDITOR)


@pytest.fixture
def loaded(engine: Engine) -> Engine:
    """``engine`` with the committed exchange fixture (three customers, four accounts) loaded."""
    load_exchange(FIXTURE, engine)
    return engine


def make_alert(engine: Engine, event_ids: list[str], customer_id: str = "C0000002", key: str = "a1",
               rule_id: str = "mixer_exposure") -> int:  # fmt: skip
    with session_scope(engine) as session:
        alert = MonitorAlert(
            alert_key=key, rule_id=rule_id, rule_version=1, rule_revision=1, rule_hash="0" * 64, severity="high",
            queue="exposure", status="open", subject_type="customer", subject_id=customer_id,
            customer_id=customer_id, score=0.9, combined_score=0.9, first_event_at=NOW, last_event_at=NOW,
            hit_count=len(event_ids), event_ids=event_ids, explanation="test", details={"evidence": []},
        )  # fmt: skip
        session.add(alert)
        session.flush()
        return alert.id


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url, max_upload_bytes=1024)
