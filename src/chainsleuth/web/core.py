"""The pages' foundation: templates, the navigation registry, the page dependency and CSRF.

Every page handler declares what it needs, exactly like the HTTP API does::

    @router.get("/customers")
    def customers(request: Request, viewer: Annotated[Viewer, Depends(page("customer.read_pseudonymised"))]):
        return render(request, "customers.html", viewer, {...})

:func:`page` sends an anonymous visitor to the log-in page (and back afterwards), re-reads the user from the
database on every request (a deactivated user or changed role takes effect at once), and answers a proper 403
page when the user's role lacks the permission in the privacy layer's matrix. :func:`csrf_protected` guards every
state-changing request. New capabilities add their pages with :func:`register_nav` and a router (see
``docs/web.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth import __version__
from chainsleuth.api.deps import REFUSALS, Principal, get_session
from chainsleuth.errors import ChainsleuthError, PermissionDeniedError
from chainsleuth.privacy.policy import PERMISSIONS, has_permission, require
from chainsleuth.store.models.users import Role, User
from chainsleuth.web.sessions import (
    COOKIE_NAME,
    CSRF_FIELD,
    CSRF_HEADER,
    SessionManager,
    WebSession,
    credential_fingerprint,
    csrf_matches,
)

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
templates = Jinja2Templates(directory=str(TEMPLATE_DIR))
DbSession = Annotated[Session, Depends(get_session)]

ROLE_LABELS = {
    Role.ANALYST: "Analyst",
    Role.SENIOR_ANALYST: "Senior analyst",
    Role.COMPLIANCE_OFFICER: "Compliance officer",
    Role.LE_RESPONSE_OFFICER: "LE-response officer",
    Role.AUDITOR: "Auditor",
    Role.ADMIN: "Administrator",
    Role.LE_OFFICER: "Law-enforcement officer",
}


class LoginRequired(Exception):  # noqa: N818  (a control-flow signal, not an error)
    """Raised by :func:`page` for an anonymous visitor; answered with a redirect to the log-in page."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


@dataclass(frozen=True)
class NavItem:
    """One entry of the left navigation, shown only to roles holding ``permission`` (None: everyone)."""

    group: str
    label: str
    href: str
    permission: str | None
    #: URL prefixes that mark this entry as the current one.
    active_prefixes: tuple[str, ...] = ()
    order: int = 100
    #: Hidden from agency-scoped users (law-enforcement officers) even when they hold ``permission``: for staff
    #: pages behind a permission that officers share for their own agency (``le_request.read``).
    staff_only: bool = False


@dataclass(frozen=True)
class Viewer:
    """The logged-in user of a page request, with their session."""

    principal: Principal
    session: WebSession

    @property
    def username(self) -> str:
        return self.principal.username

    def can(self, permission: str) -> bool:
        return has_permission(self.principal, permission)


@dataclass
class _NavRegistry:
    items: list[NavItem] = field(default_factory=list)

    def add(self, item: NavItem) -> None:
        if item.permission is not None and item.permission not in PERMISSIONS:
            raise ValueError(f"unknown permission {item.permission!r}")
        self.items = [i for i in self.items if i.href != item.href] + [item]

    def for_viewer(self, viewer: Viewer, path: str) -> list[tuple[str, list[dict[str, Any]]]]:
        groups: dict[str, list[dict[str, Any]]] = {}
        for item in sorted(self.items, key=lambda i: (i.order, i.label)):
            if item.permission is not None and not viewer.can(item.permission):
                continue
            if item.staff_only and viewer.principal.agency_id is not None:
                continue
            prefixes = item.active_prefixes or (item.href,)
            active = any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)
            groups.setdefault(item.group, []).append({"label": item.label, "href": item.href, "active": active})
        return list(groups.items())


NAV = _NavRegistry()


def register_nav(item: NavItem) -> None:
    """Add (or replace, by ``href``) an entry of the left navigation."""
    NAV.add(item)


def sessions_of(request: Request) -> SessionManager:
    manager: SessionManager = request.app.state.web_sessions
    return manager


def current_web_session(request: Request) -> WebSession | None:
    """The request's valid session (any stage), or None."""
    cached = getattr(request.state, "web_session", None)
    if isinstance(cached, WebSession):
        return cached
    session = sessions_of(request).decode(request.cookies.get(COOKIE_NAME))
    request.state.web_session = session
    return session


def set_session_cookie(request: Request, response: Response, session: WebSession) -> None:
    """Write ``session`` into the response's cookie (HttpOnly, SameSite=Lax, Secure over https)."""
    request.state.web_session = session
    response.set_cookie(
        COOKIE_NAME,
        sessions_of(request).encode(session),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE_NAME, path="/")


def load_viewer(request: Request, db: Session) -> Viewer | None:
    """The logged-in (both factors) user of this request, re-read from the database; None otherwise."""
    session = current_web_session(request)
    if session is None or session.stage != "full" or session.username is None:
        return None
    user = db.scalar(select(User).where(User.username == session.username))
    if user is None or not user.active:
        return None
    if credential_fingerprint(user.password_hash, user.totp_secret) != session.fingerprint:
        return None  # password or second factor changed since log-in: every older session ends
    principal = Principal(
        username=user.username, display_name=user.display_name, role=Role(user.role), agency_id=user.agency_id
    )
    touched = sessions_of(request).touched(session)
    if touched is not None:
        request.state.refresh_session = touched
    return Viewer(principal=principal, session=session)


def page(*permissions: str) -> Callable[[Request, Session], Viewer]:
    """A dependency for a page needing every one of ``permissions`` (none: any logged-in user)."""
    for permission in permissions:
        if permission not in PERMISSIONS:
            raise ValueError(f"unknown permission {permission!r}")

    def _viewer(request: Request, db: DbSession) -> Viewer:
        viewer = load_viewer(request, db)
        if viewer is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise LoginRequired(target)
        request.state.viewer = viewer  # before the check: a 403 page still shows the user and navigation
        for permission in permissions:
            require(viewer.principal, permission)
        return viewer

    return _viewer


async def csrf_protected(request: Request) -> None:
    """Refuse a state-changing request whose CSRF token (form field or header) does not match the session's."""
    session = current_web_session(request)
    given = request.headers.get(CSRF_HEADER)
    if not given:
        content_type = request.headers.get("content-type", "")
        if "form" in content_type:
            form = await request.form()
            value = form.get(CSRF_FIELD)
            given = value if isinstance(value, str) else None
    if session is None or not csrf_matches(session, given):
        raise PermissionDeniedError("the form has expired or did not come from this site: reload the page and retry")


# -- rendering ------------------------------------------------------------------------------------------------


def render(
    request: Request,
    template: str,
    viewer: Viewer | None,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """Render ``template`` with the layout's context (user, navigation, CSRF token, flash)."""
    session = viewer.session if viewer is not None else current_web_session(request)
    base: dict[str, Any] = {
        "viewer": viewer,
        "role_label": ROLE_LABELS.get(viewer.principal.role, "") if viewer else "",
        "nav": NAV.for_viewer(viewer, request.url.path) if viewer else [],
        "can_search": viewer is not None and (viewer.can("chain.read") or viewer.can("customer.read_pseudonymised")),
        "csrf_token": session.csrf if session is not None else "",
        "csrf_field": CSRF_FIELD,
        "version": __version__,
        "path": request.url.path,
    }
    base.update(context or {})
    response = templates.TemplateResponse(request, template, base, status_code=status_code)
    return response


def redirect(url: str) -> RedirectResponse:
    """A See-Other redirect (the right answer to a POST)."""
    return RedirectResponse(url, status_code=303)


def error_page(request: Request, error: ChainsleuthError, status_code: int) -> HTMLResponse:
    """An error as a page in the layout (or as a fragment for htmx requests).

    A refusal shown this way (the page caught it) is left on ``request.state.refusal`` for the request's session
    dependency to audit once the request's transaction has ended.
    """
    if isinstance(error, REFUSALS) and not error.audited:
        request.state.refusal = error
    viewer = getattr(request.state, "viewer", None)
    if viewer is None and isinstance(error, PermissionDeniedError):
        try:
            from chainsleuth.store.db import session_scope

            with session_scope(request.app.state.engine) as db:
                viewer = load_viewer(request, db)
        except ChainsleuthError:
            viewer = None
    template = "fragments/error.html" if request.headers.get("HX-Request") else "error.html"
    return render(request, template, viewer, {"error": error, "status": status_code}, status_code=status_code)


# -- template helpers -----------------------------------------------------------------------------------------


def fmt_number(value: Any, digits: int = 2) -> str:
    """Thousands separators; trailing zeros trimmed for decimals."""
    if value is None:
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    number = float(value) if isinstance(value, Decimal | float) else float(str(value))
    text = f"{number:,.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def fmt_time(value: Any) -> str:
    """ISO-like UTC time without microseconds; integers are Unix seconds."""
    if value is None:
        return "—"
    moment: datetime | None = None
    if isinstance(value, int | float):
        moment = datetime.fromtimestamp(value, UTC)
    elif isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if moment is None:
        return str(value)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def short_hash(value: str | None, keep: int = 10) -> str:
    """``0x1234…cdef``: enough to recognise, full value in the title attribute."""
    if not value:
        return "—"
    return value if len(value) <= 2 * keep + 1 else f"{value[:keep]}…{value[-6:]}"


def risk_badge(value: str | None) -> Markup:
    """A coloured badge for a risk rating or status (text as well as colour, for accessibility)."""
    text = (value or "unknown").lower()
    kind = {
        "high": "danger",
        "closed": "muted",
        "frozen": "danger",
        "preserved": "warn",
        "medium": "warn",
        "dormant": "warn",
        "low": "ok",
        "active": "ok",
    }.get(text, "neutral")
    return Markup('<span class="badge badge-{}">{}</span>').format(kind, text.replace("_", " "))


def fmt_detail(value: Any) -> str:
    """An audit-detail value for people: lists joined, booleans as yes/no, nothing as a dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(fmt_detail(item) for item in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{key} {fmt_detail(item)}" for key, item in value.items())
    return str(value)


def file_name(value: str | None) -> str:
    """The last part of a path or URI (a TagPack's file name): the server's own directories are not for users."""
    if not value:
        return ""
    return value.rstrip("/").replace("\\", "/").rsplit("/", 1)[-1]


def url_with(request: Request, **changes: Any) -> str:
    """The current URL with some query parameters replaced (None removes one)."""
    params = dict(request.query_params)
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = str(value)
    return request.url.path + ("?" + urlencode(params) if params else "")


def address_url(chain: str, address: str) -> str:
    return f"/chain/{quote(chain)}/address/{quote(address, safe='')}"


def tx_url(chain: str, tx_hash: str) -> str:
    return f"/chain/{quote(chain)}/tx/{quote(tx_hash, safe='')}"


templates.env.filters.update(
    number=fmt_number,
    time=fmt_time,
    short=short_hash,
    badge=risk_badge,
    detail=fmt_detail,
    filename=file_name,
)
templates.env.globals.update(url_with=url_with, address_url=address_url, tx_url=tx_url)
