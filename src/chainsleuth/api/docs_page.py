"""The OpenAPI page, served with Swagger UI from the package's own copy of its assets (no CDN)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from chainsleuth.errors import ConfigurationError

STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "static"
VENDOR_DIR = STATIC_DIR / "vendor"
REQUIRED_ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css")


def check_assets() -> None:
    """Fail early, with the fix, when the front-end assets were never installed."""
    missing = [name for name in REQUIRED_ASSETS if not (VENDOR_DIR / name).is_file()]
    if missing:
        raise ConfigurationError("front-end assets are not installed: run scripts/setup.sh", missing=", ".join(missing))


def install_docs(app: FastAPI) -> None:
    """Mount the static files and the Swagger UI page at ``/docs``."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title}: HTTP API",
            oauth2_redirect_url="/docs/oauth2-redirect",
            swagger_js_url="/static/vendor/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui.css",
            swagger_favicon_url="/static/vendor/favicon-32x32.png",
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    def swagger_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
