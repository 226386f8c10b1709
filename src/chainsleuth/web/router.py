"""Mount the pages on the FastAPI app: routers, session manager, cookie refresh and HTML error pages.

:func:`install_web` is the one call :func:`chainsleuth.api.app.create_app` makes. A capability adds its pages
as a module ``chainsleuth.web.<name>`` listed in :data:`CAPABILITY_PAGES` (mounted when it exists), and by
registering navigation entries and dashboard sections from its module (see ``docs/web.md``).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from chainsleuth.api.errors import http_status_for
from chainsleuth.errors import ChainsleuthError, NotFoundError
from chainsleuth.web import academy, auth, case_ledger, chain_pages, customers, dashboard, records
from chainsleuth.web.core import LoginRequired, error_page, redirect, set_session_cookie
from chainsleuth.web.sessions import SessionConfig, SessionManager

PAGE_ROUTERS: list[APIRouter] = [
    auth.router,
    dashboard.router,
    customers.router,
    chain_pages.router,
    records.router,
    academy.router,
    case_ledger.router,
]
#: Page modules of capabilities that land separately (``chainsleuth.web.<name>`` with a module-level ``router``).
#: Each is mounted when it exists, so the console grows with the product and never links to a missing page.
CAPABILITY_PAGES = ("alerts", "cases", "actions", "rules", "lawenforcement", "portal", "exposure_tiers")
#: Paths that belong to the JSON API or to files: their errors stay JSON.
NON_PAGE_PREFIXES = ("/api/", "/docs", "/openapi.json", "/static/")

log = logging.getLogger(__name__)


def is_page_request(request: Request) -> bool:
    """Whether an error on this request should be answered with an HTML page."""
    path = request.url.path
    return not path.startswith(NON_PAGE_PREFIXES) and not path.endswith(".json")


def capability_routers() -> list[APIRouter]:
    """The routers of the capability page modules that exist (an import error inside one is raised, not hidden)."""
    found = []
    for name in CAPABILITY_PAGES:
        module_name = f"chainsleuth.web.{name}"
        if importlib.util.find_spec(module_name) is None:
            continue
        router = getattr(importlib.import_module(module_name), "router", None)
        if isinstance(router, APIRouter) and router not in PAGE_ROUTERS:
            found.append(router)
    return found


def install_web(app: FastAPI, config: SessionConfig | None = None) -> None:
    """Add the pages, their session manager and error handling to ``app``."""
    app.state.web_sessions = SessionManager(app.state.settings.secret_key.get_secret_value(), config)
    for router in [*PAGE_ROUTERS, *capability_routers()]:
        app.include_router(router)

    json_handler = app.exception_handlers.get(ChainsleuthError)

    async def _chainsleuth_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, ChainsleuthError)
        if is_page_request(request):
            return error_page(request, error, http_status_for(error))
        assert json_handler is not None
        answer = json_handler(request, error)
        return await answer if inspect.isawaitable(answer) else answer

    async def _login_required(request: Request, error: Exception) -> Response:
        assert isinstance(error, LoginRequired)
        if request.headers.get("HX-Request"):
            response = Response(status_code=401, headers={"HX-Redirect": "/login"})
            return response
        from urllib.parse import quote

        return redirect("/login?next=" + quote(error.next_url, safe="/"))

    async def _not_found(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        if is_page_request(request) and error.status_code == 404:
            return error_page(request, NotFoundError("there is no page at this address"), 404)
        from fastapi.exception_handlers import http_exception_handler

        return await http_exception_handler(request, error)

    async def _unexpected(request: Request, error: Exception) -> Response:
        """A bug or an engine failure on a page: logged in full with a reference, shown in the normal layout
        (never a bare "Internal Server Error"), without internals that could leak data or code paths."""
        reference = uuid.uuid4().hex[:12]
        log.error("unexpected error on %s %s (reference %s)", request.method, request.url.path, reference,
                  exc_info=error)  # fmt: skip
        if not is_page_request(request):
            return Response("Internal Server Error", status_code=500, media_type="text/plain")
        problem = ChainsleuthError(
            "an unexpected error stopped this page; nothing was changed. It has been logged: quote the reference "
            "to your administrator",
            reference=reference,
        )
        try:
            return error_page(request, problem, 500)
        except Exception:  # the layout itself failed: fall back to a plain page, still with the reference
            log.exception("the error page failed too (reference %s)", reference)
            return Response(f"Internal error (reference {reference})", status_code=500, media_type="text/plain")

    app.add_exception_handler(ChainsleuthError, _chainsleuth_error)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(StarletteHTTPException, _not_found)
    app.add_exception_handler(Exception, _unexpected)

    @app.middleware("http")
    async def _refresh_session(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """Re-sign the session cookie with a new last-seen time (sliding idle timeout)."""
        response = await call_next(request)
        refreshed = getattr(request.state, "refresh_session", None)
        if refreshed is not None and "set-cookie" not in response.headers:
            set_session_cookie(request, response, refreshed)
        return response
