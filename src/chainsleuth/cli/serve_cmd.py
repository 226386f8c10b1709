"""``chainsleuth serve`` and ``chainsleuth demo``: run the HTTP server, alone or on a freshly generated world."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from chainsleuth.cli.console import console, progress_bar
from chainsleuth.config import Settings, get_settings, make_settings


def _run_server(settings: Settings, world_dir: Path | None = None) -> None:
    settings.check_safe_for_service()  # before importing the web stack: refuse fast and without side effects
    import uvicorn

    from chainsleuth.api.app import create_app
    from chainsleuth.api.docs_page import check_assets

    check_assets()
    app = create_app(settings, world_dir=world_dir)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", proxy_headers=False)


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on (default: CHAINSLEUTH_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: CHAINSLEUTH_PORT).")] = None,
) -> None:
    """Serve the HTTP API and pages on the configured stores.

    Refuses to start (exit 78) while the secret key is the public default or shorter than 32 characters, or the
    encryption key file is missing: create them with `chainsleuth keys secret` and `chainsleuth keys init`.
    With CHAINSLEUTH_DEMO=1 and no secret set, it uses the demo's generated secret of the data directory, and then
    only on a loopback host.
    """
    settings = get_settings()
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    if overrides:
        settings = settings.model_copy(update=overrides)
    if settings.demo:
        settings = settings.with_demo_secret()
    _run_server(settings)


def demo(
    size: Annotated[
        str, typer.Option(help="World size: tiny, small, demo, 1m, 10m or a number of transfers.")
    ] = "demo",
    seed: Annotated[int, typer.Option(help="Seed of the generated world (same seed, same world).")] = 7,
    data_dir: Annotated[
        Path, typer.Option(help="Where the demo keeps its world, database, chain store and keys.")
    ] = Path("var/demo"),
    host: Annotated[
        str,
        typer.Option(
            help="Interface to listen on. A non-loopback one (e.g. 0.0.0.0) needs an explicit CHAINSLEUTH_SECRET_KEY."
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8000,
    regenerate: Annotated[bool, typer.Option(help="Throw away the demo data and start again.")] = False,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Prepare everything, print the summary, exit.")] = False,
) -> None:
    """Generate a world, load and analyse it, and serve it on localhost with seeded users (demo mode).

    The analysis covers attribution, clustering, monitoring with the rule library and the trained detector; then
    a worked story is seeded so that every page has something to show: the seed's phone-theft case with its
    trace, a freeze awaiting a second approver, a police request in the queue, a rule in shadow mode with hits
    and a stored backtest.

    Everything lives under --data-dir (default ./var/demo), on the embedded SQLite database unless
    CHAINSLEUTH_DATABASE_URL says otherwise. Running it again reuses what is already there. Unless
    CHAINSLEUTH_SECRET_KEY is set, the server signs sessions and tokens with a random secret generated once for the
    data directory (keys/demo-secret), and then it listens on loopback only.
    """
    from chainsleuth.api.docs_page import check_assets
    from chainsleuth.demo import prepare_demo

    check_assets()  # fail before minutes of preparation, not after
    settings = make_settings(
        data_dir=data_dir.resolve(),
        demo=True,
        host=host,
        port=port,
        database_url=os.environ.get("CHAINSLEUTH_DATABASE_URL") or None,
    ).with_demo_secret()
    settings.check_safe_for_service(require_key_file=False)  # the demo creates the key file itself
    with progress_bar() as progress:
        report = prepare_demo(settings, size=size, seed=seed, regenerate=regenerate, progress=progress)

    summary = Table(title="chainsleuth demo", show_header=False)
    for key, value in report.summary_rows():
        summary.add_row(key, value)
    console.print(summary)
    users = Table(title="Seeded users (demo passwords)")
    users.add_column("username")
    users.add_column("password")
    users.add_column("role")
    for username, password, role in report.users:
        users.add_row(username, password, role)
    console.print(users)
    if report.officer_totp_secret:
        import pyotp

        uri = pyotp.TOTP(report.officer_totp_secret).provisioning_uri(
            name="officer@police.example", issuer_name="chainsleuth LE portal"
        )
        console.print(
            "The law-enforcement officer [bold]officer[/] (DEMO-POLICE) logs in with a second factor: add this key "
            f"to an authenticator app: [bold]{report.officer_totp_secret}[/]\n  ({uri})\n"
            "  or print the current code with: .venv/bin/python -c "
            f"'import pyotp; print(pyotp.TOTP(\"{report.officer_totp_secret}\").now())'"
        )
    url = f"http://{host}:{port}/"
    console.print(f"\n[bold green]chainsleuth is ready:[/] {url}  (OpenAPI page: {url}docs)\n")
    if not no_serve:
        _run_server(settings, world_dir=report.world_dir)
