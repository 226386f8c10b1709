"""``chainsleuth config`` and ``chainsleuth keys``: inspect settings and create the secrets production needs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from chainsleuth.config import get_settings
from chainsleuth.privacy.keyfile import create_key_file

app = typer.Typer(help="Inspect the effective settings (environment, TOML file, defaults).", no_args_is_help=True)
keys_app = typer.Typer(help="Create the secrets a non-demo deployment must have.", no_args_is_help=True)


@app.command("show")
def show() -> None:
    """Print the effective settings as JSON, secrets masked, and which secrets are still defaults or too weak.

    The secret key and any password in the database URL are masked, so the output can be pasted into a ticket.
    """
    settings = get_settings()
    data = settings.model_dump(mode="json")
    data["secret_key"] = "***"
    data["database_url"] = _mask_url(settings.database_url)
    data["resolved_database_url"] = _mask_url(settings.resolved_database_url)
    data["resolved_key_file"] = str(settings.resolved_key_file)
    data["default_secrets_in_use"] = settings.uses_default_secrets()
    typer.echo(json.dumps(data, indent=2, sort_keys=True))


def _mask_url(url: str | None) -> str | None:
    """The URL with its password replaced by ***; a URL SQLAlchemy cannot parse is withheld entirely."""
    if url is None:
        return None
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "*** (not a valid database URL)"


@keys_app.command("init")
def init_key(
    path: Annotated[
        Path | None, typer.Option(help="Where to write the key; default: the configured encryption key file.")
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Overwrite an existing key file (data encrypted with it is lost).")
    ] = False,
) -> None:
    """Create the master key file for field-level encryption (256 random bits, readable by the owner only)."""
    target = path or get_settings().resolved_key_file
    create_key_file(target, overwrite=force)
    typer.echo(f"wrote {target}")


@keys_app.command("secret")
def new_secret() -> None:
    """Print a fresh random value for CHAINSLEUTH_SECRET_KEY."""
    import secrets

    typer.echo(secrets.token_urlsafe(48))
