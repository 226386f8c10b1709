"""``chainsleuth db``: migrate and inspect the relational store configured by ``CHAINSLEUTH_DATABASE_URL``."""

from __future__ import annotations

import typer

from chainsleuth.cli.console import console
from chainsleuth.config import get_settings
from chainsleuth.store.db import check_connection, create_engine_for, describe_url
from chainsleuth.store.migrate import current_revision, ensure_current, head_revision, upgrade_to_head

app = typer.Typer(help="Relational store: schema migrations and health.", no_args_is_help=True)


@app.command("upgrade")
def upgrade() -> None:
    """Create or migrate the database schema to the version this chainsleuth expects."""
    engine = create_engine_for(get_settings().resolved_database_url)
    try:
        check_connection(engine)
        before = current_revision(engine)
        after = upgrade_to_head(engine)
    finally:
        engine.dispose()
    where = describe_url(engine.url)
    if before == after:
        console.print(f"{where} is already at revision {after}", soft_wrap=True)
    else:
        console.print(f"migrated {where} from {before or 'an empty database'} to revision {after}", soft_wrap=True)


@app.command("current")
def current() -> None:
    """Print the schema revision of the database (``none`` if never migrated) and the expected one."""
    engine = create_engine_for(get_settings().resolved_database_url)
    try:
        check_connection(engine)
        revision = current_revision(engine)
    finally:
        engine.dispose()
    typer.echo(f"database: {revision or 'none'}")
    typer.echo(f"expected: {head_revision()}")


@app.command("check")
def check() -> None:
    """Exit non-zero unless the database is reachable and at the expected schema revision."""
    engine = create_engine_for(get_settings().resolved_database_url)
    try:
        check_connection(engine)
        ensure_current(engine)
    finally:
        engine.dispose()
    console.print(f"{describe_url(engine.url)} is reachable and at revision {head_revision()}", soft_wrap=True)
