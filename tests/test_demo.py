"""The demo's preparation end to end on a tiny world: everything loaded and analysed, and a second run adds nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from chainsleuth.config import Settings
from chainsleuth.demo import prepare_demo
from chainsleuth.errors import ConflictError
from chainsleuth.store.db import create_engine_for, session_scope
from chainsleuth.store.models.alerts import MonitorAlert
from chainsleuth.store.models.audit import AuditEntry
from chainsleuth.store.models.users import User


def _alerts(settings: Settings) -> dict[str, int]:
    engine = create_engine_for(settings.resolved_database_url)
    try:
        with session_scope(engine) as session:
            model = session.scalar(select(func.count()).where(MonitorAlert.rule_id == "model-ledger")) or 0
            every = session.scalar(select(func.count()).select_from(MonitorAlert)) or 0
            users = session.scalar(select(func.count()).select_from(User)) or 0
            scorings = session.scalar(select(func.count()).where(AuditEntry.action == "monitor.model_score")) or 0
    finally:
        engine.dispose()
    return {"model": model, "rules": every - model, "users": users, "audited_scorings": scorings}


def test_demo_prepares_a_world_and_reuses_it(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "demo", demo=True)
    first = prepare_demo(settings, size="tiny", seed=7)
    assert first.generated
    assert first.ledger.rows_inserted > 0
    assert first.chains.transactions > 0
    assert first.monitoring is not None
    assert first.monitoring.stored is not None
    assert first.monitoring.stored.created > 0
    assert first.model is not None, first.model_skipped
    assert first.model.weeks >= 1
    assert (first.model.model_dir / "metadata.json").is_file()
    counts = _alerts(settings)
    assert counts["model"] == first.model.created > 0
    assert counts["rules"] == first.monitoring.stored.created
    assert counts["users"] >= 6
    assert counts["audited_scorings"] == first.model.weeks  # every stored scoring is in the audit log
    assert first.officer_totp_secret
    rows = dict(first.summary_rows())
    assert "weekly scorings since alerted" in rows["monitoring (model)"]

    again = prepare_demo(settings, size="tiny", seed=7)  # the second run reuses everything
    assert not again.generated
    assert again.ledger.rows_inserted == 0
    assert again.monitoring is not None
    assert again.monitoring.stored is not None
    assert again.monitoring.stored.created == 0
    assert again.model is not None
    assert again.model.created == 0
    assert _alerts(settings) == {**counts, "audited_scorings": 2 * first.model.weeks}

    with pytest.raises(ConflictError, match="different world"):
        prepare_demo(settings, size="tiny", seed=8)
