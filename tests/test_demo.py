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


def test_demo_command_prints_url_and_users_with_its_own_secret(tmp_path: Path) -> None:
    """The command the README runs: a random secret per data directory (0600, reused), URL and users printed."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "COLUMNS": "200", "CHAINSLEUTH_CONFIG": "", "XDG_DATA_HOME": str(tmp_path)}
    env.pop("CHAINSLEUTH_SECRET_KEY", None)
    command = [sys.executable, "-m", "chainsleuth", "demo", "--size", "tiny", "--no-serve"]
    command += ["--data-dir", str(tmp_path / "demo"), "--port", "8765"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "http://127.0.0.1:8765/" in result.stderr
    assert "admin" in result.stderr
    assert "Seeded users" in result.stderr
    secret_file = tmp_path / "demo" / "keys" / "demo-secret"
    assert secret_file.stat().st_mode & 0o777 == 0o600
    secret = secret_file.read_text().strip()
    assert len(secret) >= 32
    assert secret not in result.stderr + result.stdout  # never printed
    settings = Settings(data_dir=tmp_path / "demo", demo=True).with_demo_secret()
    assert settings.secret_key.get_secret_value() == secret  # what the server signs with
