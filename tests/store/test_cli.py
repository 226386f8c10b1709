"""``chainsleuth db upgrade|current|check`` and ``chainsleuth ingest ledger`` against both databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from sqlalchemy import func, select
from typer.testing import CliRunner

from chainsleuth.cli.ingest_ledger import ledger
from chainsleuth.cli.store_cmd import app as db_app
from chainsleuth.config import get_settings
from chainsleuth.errors import StorageError
from chainsleuth.store.db import create_engine_for
from chainsleuth.store.migrate import head_revision
from chainsleuth.store.models import LedgerEvent

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "world_exchange"
runner = CliRunner()


@pytest.fixture
def configured(empty_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("CHAINSLEUTH_DATABASE_URL", empty_database_url)
    get_settings.cache_clear()
    yield empty_database_url
    get_settings.cache_clear()


def test_db_commands(configured: str) -> None:
    current = runner.invoke(db_app, ["current"])
    assert current.exit_code == 0
    assert "database: none" in current.stdout
    assert f"expected: {head_revision()}" in current.stdout

    refused = runner.invoke(db_app, ["check"])
    assert refused.exit_code != 0
    assert isinstance(refused.exception, StorageError)

    upgraded = runner.invoke(db_app, ["upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert f"to revision {head_revision()}" in upgraded.output
    assert "already at revision" in runner.invoke(db_app, ["upgrade"]).output

    assert runner.invoke(db_app, ["check"]).exit_code == 0
    assert f"database: {head_revision()}" in runner.invoke(db_app, ["current"]).stdout


def test_ingest_ledger_command(configured: str) -> None:
    ingest = typer.Typer()
    ingest.command()(ledger)
    refused = runner.invoke(ingest, [str(FIXTURE)])
    assert isinstance(refused.exception, StorageError)  # not migrated yet: told to upgrade, nothing loaded

    assert runner.invoke(db_app, ["upgrade"]).exit_code == 0
    first = runner.invoke(ingest, [str(FIXTURE)])
    assert first.exit_code == 0, first.output
    assert "ledger_events: 13 rows in ledger_events.parquet (13 inserted)" in first.output
    second = runner.invoke(ingest, [str(FIXTURE)])
    assert "loaded 0 rows" in second.output
    engine = create_engine_for(configured)
    try:
        with engine.connect() as connection:
            assert connection.scalar(select(func.count()).select_from(LedgerEvent)) == 13
    finally:
        engine.dispose()
