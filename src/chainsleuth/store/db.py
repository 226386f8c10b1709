"""Engines and sessions of the relational store.

SQLite is the embedded default (one file in the data directory, nothing to install); PostgreSQL is for a team
(``CHAINSLEUTH_DATABASE_URL=postgresql+psycopg://user:pass@host/db``). Every SQLite connection is set up the
same way: WAL journal so that the web app can read while an ingest writes, foreign keys enforced (SQLite
leaves them off by default), a busy timeout instead of an immediate "database is locked", and the driver's own
implicit transaction handling switched off so that ``BEGIN``/``SAVEPOINT`` behave as on PostgreSQL.

SQLite transactions start deferred (``BEGIN``: readers never wait for a writer in WAL mode) and are *promoted* at
their first write: a transaction that has only read so far is ended and restarted with ``BEGIN IMMEDIATE`` just
before the first ``INSERT``/``UPDATE``/``DELETE``/``SAVEPOINT``. Without this, a read transaction whose snapshot is
older than another connection's commit cannot be upgraded to a write transaction at all: SQLite answers
``SQLITE_BUSY_SNAPSHOT`` ("database is locked") at once, without waiting the busy timeout, and every web request
(which reads the user, then appends an audit entry) failed when requests overlapped. ``BEGIN IMMEDIATE`` waits the
busy timeout for the single write lock instead. Starting *every* transaction immediate would serialise read-only
work too and block a request's own nested transaction (an independent audit entry) behind the request's lock.
The reads before the first write are then not in the write's snapshot, which is PostgreSQL's default *read
committed* behaviour: lost updates are caught by the optimistic version columns (:class:`StaleVersionError`).

Driver errors never leak to callers as-is: an unreachable database becomes a :class:`StorageError` naming the
(password-masked) URL, and a lost optimistic-locking race becomes a :class:`StaleVersionError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from chainsleuth.config import Settings, get_settings
from chainsleuth.errors import ConfigurationError, StaleVersionError, StorageError

#: How long an SQLite writer waits for another writer before failing, in milliseconds.
SQLITE_BUSY_TIMEOUT_MS = 15_000
#: Page cache per SQLite connection in KiB (allocated on demand): the default 2 MiB slows bulk index updates.
SQLITE_CACHE_KIB = 64 * 1024
#: How long to wait for a PostgreSQL server to accept a connection, in seconds.
POSTGRES_CONNECT_TIMEOUT_S = 10


def parse_database_url(url: str | URL) -> URL:
    """Parse ``url``, choosing psycopg 3 for a bare ``postgresql://`` URL; ConfigurationError if unusable."""
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise ConfigurationError(f"not a database URL: {error}") from error
    backend = parsed.get_backend_name()
    if backend == "postgresql" and parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if backend not in ("sqlite", "postgresql"):
        raise ConfigurationError(
            "unsupported database; use sqlite:///PATH or postgresql+psycopg://…",
            url=parsed.render_as_string(hide_password=True),
        )
    return parsed


def describe_url(url: str | URL) -> str:
    """The URL with its password hidden, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see _begin_sqlite)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable in WAL mode except on power loss mid-checkpoint
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    finally:
        cursor.close()


#: Statements that need SQLite's write lock (a savepoint is opened to write).
_SQLITE_WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER|SAVEPOINT)\b", re.IGNORECASE)
#: Key in the DBAPI connection's ``info``: the current transaction holds the write lock.
_WRITE_LOCKED = "chainsleuth_write_locked"


def _begin_sqlite(connection: Connection) -> None:
    connection.info[_WRITE_LOCKED] = False
    connection.exec_driver_sql("BEGIN")


def _promote_before_write(
    connection: Connection, _cursor: Any, statement: str, _parameters: Any, _context: Any, _executemany: bool
) -> None:
    """Restart a still read-only SQLite transaction as ``BEGIN IMMEDIATE`` before its first write (see above)."""
    if connection.info.get(_WRITE_LOCKED, True) or not _SQLITE_WRITE.match(statement):
        return
    raw = connection.connection.dbapi_connection
    if raw is None:  # pragma: no cover - a connection is always checked out while it executes
        return
    if raw.in_transaction:
        raw.execute("COMMIT")  # only reads so far: nothing to lose, and it drops the stale snapshot
    raw.execute("BEGIN IMMEDIATE")  # waits the busy timeout for the write lock
    connection.info[_WRITE_LOCKED] = True


def create_engine_for(url: str | URL | None = None, *, settings: Settings | None = None, echo: bool = False) -> Engine:
    """An engine for ``url`` (default: the configured ``resolved_database_url``), set up as described above.

    Creating the engine does not connect; use :func:`check_connection` or :func:`open_store` to fail early.
    """
    if url is None:
        url = (settings or get_settings()).resolved_database_url
    parsed = parse_database_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            directory = Path(database).expanduser().parent
            try:
                directory.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StorageError(f"cannot create the database directory {directory}: {error}") from error
        engine = create_engine(parsed, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _set_sqlite_pragmas)
        event.listen(engine, "begin", _begin_sqlite)
        event.listen(engine, "before_cursor_execute", _promote_before_write)
        return engine
    return create_engine(
        parsed,
        echo=echo,
        pool_pre_ping=True,
        connect_args={"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S, "application_name": "chainsleuth"},
    )


def as_engine(engine_or_url: Engine | str | URL | None) -> tuple[Engine, bool]:
    """``(engine, owned)``: an existing engine as is, or a new one for a URL (the caller disposes it)."""
    if isinstance(engine_or_url, Engine):
        return engine_or_url, False
    return create_engine_for(engine_or_url), True


def check_connection(engine: Engine) -> None:
    """Connect once; StorageError naming the database when it cannot be reached."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except (OperationalError, DBAPIError) as error:
        raise StorageError(
            f"cannot reach the database {describe_url(engine.url)}: {_first_line(error)}",
            url=describe_url(engine.url),
        ) from error


def open_store(url: str | URL | None = None, *, require_current: bool = True) -> Engine:
    """An engine that is known to work: reachable and (unless told otherwise) at the schema the code expects.

    This is what long-running processes (the app, ingest commands) call at start-up, so that a missing
    migration is reported once and clearly rather than as an obscure "no such column" in the middle of a
    request.
    """
    from chainsleuth.store.migrate import ensure_current

    engine = create_engine_for(url)
    try:
        check_connection(engine)
        if require_current:
            ensure_current(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine``; objects stay usable after commit (``expire_on_commit=False``)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def stale_version_guard() -> Iterator[None]:
    """Turn SQLAlchemy's StaleDataError (an optimistic-locking conflict) into :class:`StaleVersionError`."""
    try:
        yield
    except StaleDataError as error:
        raise StaleVersionError(
            "the record was changed by someone else since it was read; reload it and try again",
            reason=_first_line(error),
        ) from error


@contextmanager
def session_scope(bind: Engine | sessionmaker[Session]) -> Iterator[Session]:
    """A session in one transaction: committed when the block succeeds, rolled back when it raises.

    A stale optimistic-locking version raises :class:`StaleVersionError`; a lost connection raises
    :class:`StorageError`. Both leave nothing half-written.
    """
    factory = bind if isinstance(bind, sessionmaker) else session_factory(bind)
    session = factory()
    try:
        with stale_version_guard():
            yield session
            session.commit()
    except OperationalError as error:
        session.rollback()
        raise StorageError(f"database error: {_first_line(error)}") from error
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _first_line(error: BaseException) -> str:
    text_ = str(getattr(error, "orig", None) or error).strip()
    return text_.splitlines()[0] if text_ else type(error).__name__
