"""Engine creation, connection set-up, error translation and the session helper."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from chainsleuth.config import make_settings
from chainsleuth.errors import ConfigurationError, StorageError
from chainsleuth.store.db import (
    SQLITE_BUSY_TIMEOUT_MS,
    check_connection,
    create_engine_for,
    open_store,
    parse_database_url,
    session_scope,
)
from chainsleuth.store.models import User


def test_default_database_is_sqlite_under_the_data_dir(tmp_path: Path) -> None:
    settings = make_settings(data_dir=tmp_path / "data")
    engine = create_engine_for(settings=settings)
    try:
        check_connection(engine)
        assert engine.dialect.name == "sqlite"
        assert (tmp_path / "data" / "chainsleuth.db").is_file()
    finally:
        engine.dispose()


def test_every_sqlite_connection_is_configured(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        for _ in range(2):  # a fresh pool connection each time
            with engine.connect() as connection:
                assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
                assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
                assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == SQLITE_BUSY_TIMEOUT_MS
            engine.dispose()
    finally:
        engine.dispose()


def test_url_parsing() -> None:
    assert parse_database_url("postgresql://u:p@h/db").drivername == "postgresql+psycopg"
    assert parse_database_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"
    with pytest.raises(ConfigurationError, match="unsupported database"):
        parse_database_url("mysql://u:secret@h/db")
    with pytest.raises(ConfigurationError, match="not a database URL"):
        parse_database_url("no url at all")


def test_unreachable_postgres_is_a_storage_error_without_password() -> None:
    engine = create_engine_for("postgresql+psycopg://someone:hunter2@127.0.0.1:1/nothing")
    try:
        with pytest.raises(StorageError, match="cannot reach the database") as caught:
            check_connection(engine)
        assert "hunter2" not in str(caught.value)
    finally:
        engine.dispose()
    with pytest.raises(StorageError):
        open_store("postgresql+psycopg://someone@127.0.0.1:1/nothing")


def test_unopenable_sqlite_is_a_storage_error(tmp_path: Path) -> None:
    directory = tmp_path / "is-a-directory.db"
    directory.mkdir()
    engine = create_engine_for(f"sqlite:///{directory}")
    try:
        with pytest.raises(StorageError, match="cannot reach the database"):
            check_connection(engine)
    finally:
        engine.dispose()


def test_uncreatable_sqlite_directory_is_a_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(StorageError, match="cannot create the database directory"):
        create_engine_for(f"sqlite:///{blocker / 'sub' / 'x.db'}")


def _user(name: str) -> User:
    return User(username=name, display_name=name, password_hash="x", role="analyst")


def test_session_scope_commits_or_rolls_back(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.add(_user("kept"))

    def fail_after_writing() -> None:
        with session_scope(engine) as session:
            session.add(_user("dropped"))
            session.flush()
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_after_writing()
    with session_scope(engine) as session:
        assert list(session.scalars(select(User.username))) == ["kept"]
