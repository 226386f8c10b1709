"""Schema migrations, run from code: ``upgrade_to_head``, ``current_revision``, ``ensure_current``.

The Alembic configuration is built here rather than read from an ``alembic.ini``, so an installed chainsleuth
migrates any database it is pointed at with ``chainsleuth db upgrade`` and nothing else on disk.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from chainsleuth.errors import StorageError
from chainsleuth.store.db import as_engine, describe_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    """The Alembic configuration of the packaged migrations (no ini file)."""
    config = Config()
    config.set_main_option("path_separator", "os")
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("version_locations", str(MIGRATIONS_DIR / "versions"))
    return config


def head_revision() -> str:
    """The revision the code expects (the single head of the packaged migrations)."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships an initial revision
        raise StorageError("no migrations are packaged")
    return head


def current_revision(engine_or_url: Engine | str | URL | None = None) -> str | None:
    """The revision the database is at, or ``None`` for an empty (never migrated) database."""
    engine, owned = as_engine(engine_or_url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except DBAPIError as error:
        raise StorageError(f"cannot read the schema revision of {describe_url(engine.url)}: {error.orig}") from error
    finally:
        if owned:
            engine.dispose()


def upgrade_to_head(engine_or_url: Engine | str | URL | None = None) -> str:
    """Apply every pending migration, in one transaction per run; return the revision now in place."""
    engine, owned = as_engine(engine_or_url)
    config = alembic_config()
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except DBAPIError as error:
        raise StorageError(f"migrating {describe_url(engine.url)} failed: {error.orig}") from error
    finally:
        if owned:
            engine.dispose()
    return head_revision()


def ensure_current(engine: Engine) -> None:
    """StorageError unless the database is at exactly the revision the code expects."""
    current = current_revision(engine)
    expected = head_revision()
    if current == expected:
        return
    known = {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    if current is None:
        message = f"database {describe_url(engine.url)} has no chainsleuth schema yet, code expects {expected}"
    elif current not in known:
        message = (
            f"database is at revision {current}, which this version of chainsleuth does not know "
            f"(code expects {expected}); it was migrated by a newer chainsleuth"
        )
        raise StorageError(message, current=current, expected=expected)
    else:
        message = f"database is at revision {current}, code expects {expected}"
    raise StorageError(f"{message}: run `chainsleuth db upgrade`", current=current, expected=expected)
