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
    """Print the effective settings as JSON, secrets masked, and which secrets are still defaults."""
    settings = get_settings()
    data = settings.model_dump(mode="json")
    data["secret_key"] = "***"
    data["resolved_database_url"] = settings.resolved_database_url
    data["resolved_key_file"] = str(settings.resolved_key_file)
    data["default_secrets_in_use"] = settings.uses_default_secrets()
    typer.echo(json.dumps(data, indent=2, sort_keys=True))


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
