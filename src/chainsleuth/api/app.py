"""The FastAPI application: stores opened once at start-up, routers per capability, errors and headers."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from sqlalchemy import Engine

from chainsleuth import __version__
from chainsleuth.api.docs_page import install_docs
from chainsleuth.api.errors import install_error_handlers
from chainsleuth.api.routers import (
    academy,
    actions,
    analytics,
    attribution,
    auth,
    cases,
    chain,
    exchange,
    lawenforcement,
    monitor,
    privacy,
    system,
    users,
)
from chainsleuth.api.security import install_security_headers
from chainsleuth.api.tokens import TokenSigner
from chainsleuth.config import Settings
from chainsleuth.privacy.keyring import configure_privacy
from chainsleuth.store.chainstore import ChainStore
from chainsleuth.store.db import open_store

DESCRIPTION = """
chainsleuth's HTTP API. Log in with **Authorize** (username and password; the demo prints its seeded users),
then try the endpoints. Personal data of customers is never part of these views.
"""


def create_app(settings: Settings, *, engine: Engine | None = None, world_dir: Path | None = None) -> FastAPI:
    """Build the app for ``settings``. The database must already be at the current schema version."""
    app = FastAPI(
        title="chainsleuth",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine if engine is not None else open_store(settings.resolved_database_url)
    configure_privacy(app.state.engine, settings)
    app.state.chain_store = ChainStore(settings.chain_dir)
    app.state.token_signer = TokenSigner(settings.secret_key.get_secret_value())
    app.state.world_dir = world_dir
    install_error_handlers(app)
    install_security_headers(app)
    install_docs(app)
    routers = (
        system.router,
        auth.router,
        exchange.router,
        privacy.router,
        chain.router,
        analytics.router,
        attribution.router,
        monitor.router,
        cases.router,
        cases.reports_router,
        actions.router,
        lawenforcement.router,
        academy.router,
        users.router,
    )
    for router in routers:
        app.include_router(router)

    # -- web pages (issue 7): the analyst console; "/" opens the dashboard (or the log-in page) -----------
    from chainsleuth.web.router import install_web

    install_web(app)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/dashboard")

    return app
