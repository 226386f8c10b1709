"""Mount the pages on the FastAPI app: routers, session manager, cookie refresh and HTML error pages.

:func:`install_web` is the one call :func:`chainsleuth.api.app.create_app` makes. A capability adds its pages
by appending its router to :data:`PAGE_ROUTERS` (or calling ``app.include_router`` after ``install_web``) and
registering navigation entries and dashboard sections from its module (see ``docs/web.md``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from chainsleuth.api.errors import http_status_for
from chainsleuth.errors import ChainsleuthError, NotFoundError
from chainsleuth.web import auth, chain_pages, customers, dashboard, records
from chainsleuth.web.core import LoginRequired, error_page, redirect, set_session_cookie
from chainsleuth.web.sessions import SessionConfig, SessionManager

PAGE_ROUTERS: list[APIRouter] = [
    auth.router,
    dashboard.router,
    customers.router,
    chain_pages.router,
    records.router,
]
#: Paths that belong to the JSON API or to files: their errors stay JSON.
NON_PAGE_PREFIXES = ("/api/", "/docs", "/openapi.json", "/static/")


def is_page_request(request: Request) -> bool:
    """Whether an error on this request should be answered with an HTML page."""
    path = request.url.path
    return not path.startswith(NON_PAGE_PREFIXES) and not path.endswith(".json")


def install_web(app: FastAPI, config: SessionConfig | None = None) -> None:
    """Add the pages, their session manager and error handling to ``app``."""
    app.state.web_sessions = SessionManager(app.state.settings.secret_key.get_secret_value(), config)
    for router in PAGE_ROUTERS:
        app.include_router(router)

    json_handler = app.exception_handlers.get(ChainsleuthError)

    async def _chainsleuth_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, ChainsleuthError)
        if is_page_request(request):
            return error_page(request, error, http_status_for(error))
        assert json_handler is not None
        return await json_handler(request, error)  # type: ignore[no-any-return]

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

    app.add_exception_handler(ChainsleuthError, _chainsleuth_error)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(StarletteHTTPException, _not_found)

    @app.middleware("http")
    async def _refresh_session(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """Re-sign the session cookie with a new last-seen time (sliding idle timeout)."""
        response = await call_next(request)
        refreshed = getattr(request.state, "refresh_session", None)
        if refreshed is not None and "set-cookie" not in response.headers:
            set_session_cookie(request, response, refreshed)
        return response
