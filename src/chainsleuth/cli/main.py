"""Entry point of the ``chainsleuth`` command: assembles one command group per capability."""

from __future__ import annotations

import sys

import typer

from chainsleuth import __version__
from chainsleuth.cli.errors import exit_code_for, print_error
from chainsleuth.errors import ChainsleuthError

app = typer.Typer(
    name="chainsleuth",
    help=(
        "Financial-crime platform for crypto exchanges: watch flows, investigate chains, act on accounts, "
        "answer law-enforcement requests, train investigators, protect personal data."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _register_groups() -> None:
    """Add one command group per capability (called once, when this module is imported)."""
    from chainsleuth.cli import (
        academy_cmd,
        actions_cmd,
        audit_cmd,
        cases_cmd,
        chain_cmd,
        cluster_cmd,
        config_cmd,
        eval_cmd,
        ingest_cmd,
        le_cmd,
        monitor_cmd,
        privacy_cmd,
        serve_cmd,
        store_cmd,
        tags_cmd,
        trace_cmd,
        users_cmd,
        world_cmd,
    )

    app.add_typer(world_cmd.app, name="world")
    app.add_typer(store_cmd.app, name="db")
    app.add_typer(ingest_cmd.app, name="ingest")
    # `chain trace|exposure|path` live in their own module; they belong to the same `chain` group.
    chain_cmd.app.registered_commands.extend(trace_cmd.app.registered_commands)
    chain_cmd.app.add_typer(cluster_cmd.app, name="cluster")
    app.add_typer(chain_cmd.app, name="chain")
    app.add_typer(tags_cmd.app, name="tags")
    app.add_typer(privacy_cmd.app, name="privacy")
    app.add_typer(audit_cmd.app, name="audit")
    app.add_typer(cases_cmd.app, name="cases")
    app.add_typer(actions_cmd.app, name="actions")
    app.add_typer(le_cmd.app, name="le")
    app.add_typer(monitor_cmd.app, name="monitor")
    app.add_typer(eval_cmd.app, name="eval")
    app.add_typer(config_cmd.app, name="config")
    app.add_typer(config_cmd.keys_app, name="keys")
    app.add_typer(academy_cmd.app, name="academy")
    app.add_typer(users_cmd.app, name="users")
    app.command("serve")(serve_cmd.serve)
    app.command("demo")(serve_cmd.demo)


@app.command("version")
def version() -> None:
    """Print the chainsleuth version."""
    typer.echo(__version__)


_register_groups()


def main() -> None:
    """Run the CLI, turning chainsleuth errors into a clear one-line message and a meaningful exit code.

    Typer (click) handles usage errors and Ctrl-C itself in standalone mode; our own errors propagate out of it.
    """
    try:
        app()
    except ChainsleuthError as error:
        print_error(error)
        sys.exit(exit_code_for(error))
