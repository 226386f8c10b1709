"""``chainsleuth db``: migrate and inspect the relational store configured by ``CHAINSLEUTH_DATABASE_URL``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from sqlalchemy import Engine

from chainsleuth.cli.console import console
from chainsleuth.store.db import check_connection, create_engine_for, describe_url
from chainsleuth.store.migrate import current_revision, ensure_current, head_revision, upgrade_to_head

app = typer.Typer(help="Relational store: schema migrations and health.", no_args_is_help=True)


@contextmanager
def _connected() -> Iterator[Engine]:
    """An engine for the configured database, known to be reachable; disposed after the block."""
    engine = create_engine_for()
    try:
        check_connection(engine)
        yield engine
    finally:
        engine.dispose()


@app.command("upgrade")
def upgrade() -> None:
    """Create or migrate the database schema to the version this chainsleuth expects."""
    with _connected() as engine:
        before = current_revision(engine)
        after = upgrade_to_head(engine)
    where = describe_url(engine.url)
    if before == after:
        console.print(f"{where} is already at revision {after}", soft_wrap=True)
    else:
        console.print(f"migrated {where} from {before or 'an empty database'} to revision {after}", soft_wrap=True)


@app.command("current")
def current() -> None:
    """Print the schema revision of the database (``none`` if never migrated) and the expected one."""
    with _connected() as engine:
        revision = current_revision(engine)
    typer.echo(f"database: {revision or 'none'}")
    typer.echo(f"expected: {head_revision()}")


@app.command("check")
def check() -> None:
    """Exit non-zero unless the database is reachable and at the expected schema revision."""
    with _connected() as engine:
        ensure_current(engine)
    console.print(f"{describe_url(engine.url)} is reachable and at revision {head_revision()}", soft_wrap=True)
