"""Shared test setup: a real PostgreSQL server (Debian's package, no Docker) and per-test databases.

``database_url`` and ``engine`` are parametrized over the databases named in ``CHAINSLEUTH_TEST_DATABASES``
(default ``sqlite,postgresql``), so every store test runs against both. PostgreSQL is started once per session
with ``initdb`` in a temporary directory, listening on 127.0.0.1 on a free port with its socket in that
directory, and is stopped and removed at the end. initdb and postgres refuse to run as root, so as root they
run as the ``postgres`` system user. Each PostgreSQL test gets a fresh database cloned from a template that is
already migrated (a file copy inside the server: milliseconds), each SQLite test a copy of an already migrated
file. Missing PostgreSQL binaries fail the run loudly unless the environment variable leaves PostgreSQL out.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from chainsleuth.store.db import create_engine_for
from chainsleuth.store.migrate import upgrade_to_head

ALL_DATABASES = ("sqlite", "postgresql")
TEMPLATE_DATABASE = "chainsleuth_template"


def selected_databases() -> list[str]:
    """The databases to test against, from ``CHAINSLEUTH_TEST_DATABASES``."""
    raw = os.environ.get("CHAINSLEUTH_TEST_DATABASES", ",".join(ALL_DATABASES))
    names = [name.strip().lower() for name in raw.split(",") if name.strip()]
    unknown = sorted(set(names) - set(ALL_DATABASES))
    if unknown or not names:
        raise pytest.UsageError(f"CHAINSLEUTH_TEST_DATABASES: unknown {unknown}; choose from {ALL_DATABASES}")
    return names


def _database_params() -> list[object]:
    marks = {"postgresql": [pytest.mark.postgres]}
    return [pytest.param(name, marks=marks.get(name, []), id=name) for name in selected_databases()]


def find_postgres_bin() -> Path:
    """The ``bin`` directory of the newest installed Debian PostgreSQL."""
    candidates = []
    for directory in Path("/usr/lib/postgresql").glob("*/bin"):
        try:
            version = float(directory.parent.name)
        except ValueError:
            continue
        if (directory / "initdb").is_file() and (directory / "pg_ctl").is_file():
            candidates.append((version, directory))
    if not candidates:
        pytest.fail(
            "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: run "
            "scripts/install-system-packages.sh, or set CHAINSLEUTH_TEST_DATABASES=sqlite for SQLite only",
            pytrace=False,
        )
    return max(candidates)[1]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class PostgresServer:
    """A running throw-away PostgreSQL server."""

    host: str
    port: int
    user: str

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"{what} failed ({done.returncode}): {done.stdout}\n{done.stderr}", pytrace=False)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """Start a private PostgreSQL server for the session; stop it and delete its files afterwards."""
    bin_dir = find_postgres_bin()
    root = Path(tempfile.mkdtemp(prefix="chainsleuth-pg-"))
    data, log = root / "data", root / "server.log"
    if os.geteuid() == 0:
        shutil.chown(root, user="postgres", group="postgres")
    root.chmod(0o700)
    port = _free_port()
    started = False
    try:
        _run(
            _as_server_user(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                ]
            ),
            "initdb",
        )
        options = (
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=60"
        )
        _run(
            _as_server_user(
                [
                    str(bin_dir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-o",
                    options,
                    "-l",
                    str(log),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            "starting PostgreSQL",
        )
        started = True
        yield PostgresServer(host="127.0.0.1", port=port, user="postgres")
    finally:
        if started:
            subprocess.run(
                _as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
                capture_output=True,
                check=False,
            )
        shutil.rmtree(root, ignore_errors=True)


def _admin(server: PostgresServer, *statements: str) -> None:
    engine = create_engine_for(server.url("postgres"))
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_template(postgres_server: PostgresServer) -> str:
    """Name of a database migrated to head, cloned by each PostgreSQL test."""
    _admin(postgres_server, f"CREATE DATABASE {TEMPLATE_DATABASE}")
    upgrade_to_head(postgres_server.url(TEMPLATE_DATABASE))  # disposes its engine: the template has no sessions
    return TEMPLATE_DATABASE


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file migrated to head, copied by each SQLite test."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = create_engine_for(f"sqlite:///{path}")
    try:
        upgrade_to_head(engine)
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()
    return path


_counter = itertools.count()


def _fresh_postgres_database(request: pytest.FixtureRequest, template: str | None) -> Iterator[str]:
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"test_{os.getpid()}_{next(_counter)}"
    source = f" TEMPLATE {template}" if template else " TEMPLATE template0"
    _admin(server, f"CREATE DATABASE {name}{source}")
    try:
        yield server.url(name)
    finally:
        _admin(server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=_database_params())
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a database with no tables at all (to test migrations from scratch)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        yield from _fresh_postgres_database(request, None)


@pytest.fixture(params=_database_params())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a fresh database migrated to head: an SQLite file in tmp_path, or a PostgreSQL database."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "chainsleuth.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
    else:
        yield from _fresh_postgres_database(request, request.getfixturevalue("postgres_template"))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on a fresh, migrated database (both backends); disposed after the test."""
    created = create_engine_for(database_url)
    try:
        yield created
    finally:
        created.dispose()


@pytest.fixture(scope="session", autouse=True)
def test_master_key() -> Iterator[bytes]:
    """A random master key for the whole session: personal fields are encrypted in every test, as deployed."""
    from chainsleuth.privacy.keyring import set_default_master_key

    key = os.urandom(32)
    set_default_master_key(key)
    try:
        yield key
    finally:
        set_default_master_key(None)


@pytest.fixture
def fast_password_hashing() -> Iterator[None]:
    """Cheap argon2 parameters for the duration of a test (production parameters cost ~50 ms a hash)."""
    from chainsleuth.privacy import passwords

    previous = passwords.get_hasher()
    passwords.configure(time_cost=1, memory_cost=1024, parallelism=1)
    try:
        yield
    finally:
        passwords.set_hasher(previous)


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny generated world (seed 7), made once per session and shared read-only by every test that needs one."""
    from chainsleuth.world import WorldConfig, generate_world

    out = tmp_path_factory.mktemp("tiny-world") / "world"
    generate_world(WorldConfig.from_size("tiny", seed=7), out)
    return out


@pytest.fixture(scope="module", params=_database_params())
def module_database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Like ``database_url`` but shared by one test module (for modules that load a whole world once)."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path_factory.mktemp("module-db") / "chainsleuth.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
    else:
        yield from _fresh_postgres_database(request, request.getfixturevalue("postgres_template"))
