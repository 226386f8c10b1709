"""Migrations: from empty to head on both backends; the models agree with the migrated schema."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from chainsleuth.errors import StorageError
from chainsleuth.store.db import create_engine_for, open_store
from chainsleuth.store.migrate import current_revision, ensure_current, head_revision, upgrade_to_head
from chainsleuth.store.models import Base

#: The tables this part of the store creates (later revisions add more).
EXPECTED_TABLES = {
    "customers",
    "accounts",
    "deposit_addresses",
    "balances",
    "ledger_events",
    "users",
    "ingest_runs",
    "alembic_version",
}


def test_upgrade_from_empty_creates_every_table(empty_database_url: str) -> None:
    assert current_revision(empty_database_url) is None
    assert upgrade_to_head(empty_database_url) == head_revision()
    assert current_revision(empty_database_url) == head_revision()
    engine = create_engine_for(empty_database_url)
    try:
        assert set(inspect(engine).get_table_names()) >= EXPECTED_TABLES
        assert set(inspect(engine).get_table_names()) - {"alembic_version"} == set(Base.metadata.tables)
        # running it again is a no-op, not an error
        upgrade_to_head(engine)
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_models_and_migrated_schema_agree(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_indexes_of_the_ledger(engine: Engine) -> None:
    indexes = {tuple(index["column_names"]) for index in inspect(engine).get_indexes("ledger_events")}
    assert {
        ("customer_id", "timestamp"),
        ("account_id", "timestamp"),
        ("tx_hash",),
        ("address",),
        ("device_id",),
        ("ip_bidx",),  # the IP is encrypted (randomised): look-ups go through its blind index (0003)
    } <= indexes


def test_unmigrated_database_is_refused_with_instructions(empty_database_url: str) -> None:
    engine = create_engine_for(empty_database_url)
    try:
        with pytest.raises(StorageError, match="run `chainsleuth db upgrade`"):
            ensure_current(engine)
    finally:
        engine.dispose()
    with pytest.raises(StorageError, match="no chainsleuth schema"):
        open_store(empty_database_url)


def test_database_at_another_revision_is_refused(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'ffffffffffff'"))
    with pytest.raises(StorageError, match="revision ffffffffffff") as caught:
        ensure_current(engine)
    assert caught.value.details == {"current": "ffffffffffff", "expected": head_revision()}


def test_open_store_accepts_a_current_database(database_url: str) -> None:
    engine = open_store(database_url)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()
