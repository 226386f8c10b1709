"""Overlapping transactions on the embedded SQLite store: writers wait for each other instead of failing.

The failure this guards against: a transaction that read first and wrote later could not be upgraded to a write
transaction once another connection had committed after its first read (SQLite's ``SQLITE_BUSY_SNAPSHOT``, shown
as "database is locked" without waiting the busy timeout), so every other web request failed under load.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from chainsleuth.store.db import create_engine_for, session_scope


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Engine:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'race.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE counter (id INTEGER PRIMARY KEY, value INTEGER NOT NULL)"))
        connection.execute(text("INSERT INTO counter (id, value) VALUES (1, 0)"))
    return engine


def test_read_then_write_after_another_commit_waits_instead_of_failing(sqlite_engine: Engine) -> None:
    """The exact interleaving of two overlapping page requests: A reads, B writes and commits, A writes."""
    with session_scope(sqlite_engine) as first:
        assert first.execute(text("SELECT value FROM counter")).scalar_one() == 0
        with session_scope(sqlite_engine) as second:
            second.execute(text("UPDATE counter SET value = value + 1"))
        first.execute(text("UPDATE counter SET value = value + 10"))
    with session_scope(sqlite_engine) as check:
        assert check.execute(text("SELECT value FROM counter")).scalar_one() == 11


def test_a_read_only_transaction_does_not_take_the_write_lock(sqlite_engine: Engine) -> None:
    """Readers stay concurrent: a reader's open transaction does not stop another connection from writing."""
    with session_scope(sqlite_engine) as reader:
        reader.execute(text("SELECT value FROM counter")).scalar_one()
        with session_scope(sqlite_engine) as writer:
            writer.execute(text("UPDATE counter SET value = 5"))
        # the reader keeps its snapshot until it writes
        assert reader.execute(text("SELECT value FROM counter")).scalar_one() == 0


def test_savepoints_still_roll_back_on_their_own(sqlite_engine: Engine) -> None:
    with session_scope(sqlite_engine) as session:
        session.execute(text("SELECT value FROM counter")).scalar_one()
        with session.begin_nested() as nested:
            session.execute(text("UPDATE counter SET value = 99"))
            nested.rollback()
        session.execute(text("UPDATE counter SET value = value + 2"))
    with session_scope(sqlite_engine) as check:
        assert check.execute(text("SELECT value FROM counter")).scalar_one() == 2


def test_many_threads_reading_then_writing_all_succeed(sqlite_engine: Engine) -> None:
    """Twenty overlapping read-then-write transactions: none fails, no increment is lost."""
    start = threading.Barrier(20)

    def bump(_: int) -> None:
        start.wait()
        with session_scope(sqlite_engine) as session:
            session.execute(text("SELECT value FROM counter")).scalar_one()
            session.execute(text("UPDATE counter SET value = value + 1"))

    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(bump, range(20)))
    with session_scope(sqlite_engine) as check:
        assert check.execute(text("SELECT value FROM counter")).scalar_one() == 20
    sqlite_engine.dispose()
