"""Log-in (password, then TOTP when the user has enrolled), log-out and TOTP enrolment.

Passwords are checked by :func:`chainsleuth.store.users.authenticate` (argon2, uniform failures); the second
factor by pyotp with one step of clock drift allowed and each code usable once. Failures feed the
:class:`~chainsleuth.web.sessions.LoginThrottle`. Successful log-ins, lock-outs, log-outs and enrolments are
written to the audit log; failed guesses are not (they would let anyone fill the log), the lock-out they cause is.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

import pyotp
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from chainsleuth.errors import AuthenticationError
from chainsleuth.privacy import audit
from chainsleuth.privacy.policy import SystemActor, UserActor, permissions_of
from chainsleuth.store.models.users import Role, User
from chainsleuth.store.users import authenticate, normalize_username, totp_step
from chainsleuth.web.core import (
    DbSession,
    Viewer,
    clear_session_cookie,
    csrf_protected,
    current_web_session,
    load_viewer,
    page,
    redirect,
    render,
    sessions_of,
    set_session_cookie,
)
from chainsleuth.web.sessions import SessionManager, WebSession, credential_fingerprint

router = APIRouter(include_in_schema=False)
CSRF = Depends(csrf_protected)
HOME = "/dashboard"
ISSUER = "chainsleuth"


def safe_next(target: str | None) -> str:
    """Only local paths: an open redirect after log-in would help phishing."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return HOME
    return target


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _actor(user: User) -> UserActor:
    return UserActor(username=user.username, role=Role(user.role), agency_id=user.agency_id)


def verify_totp(manager: SessionManager, username: str, secret: str, code: str) -> bool:
    """Whether ``code`` is valid now (one 30 s step of drift) and was not used before by this user."""
    step = totp_step(secret, code, at=manager.clock())
    return step is not None and manager.use_totp_counter(username, step)


def _login_page(
    request: Request, session: WebSession, *, error: str | None = None, next_url: str = HOME, status: int = 200
) -> HTMLResponse:
    response = render(
        request,
        "login.html",
        None,
        {"error": error, "next": next_url, "csrf_token": session.csrf, "bye": "bye" in request.query_params},
        status_code=status,
    )
    set_session_cookie(request, response, session)
    return response


@router.get("/login")
def login_form(request: Request, db: DbSession, next: str | None = None) -> Response:
    """The log-in page; a logged-in user goes straight on."""
    if load_viewer(request, db) is not None:
        return redirect(safe_next(next))
    session = current_web_session(request)
    if session is None or session.stage != "anon":
        session = sessions_of(request).anonymous()
    return _login_page(request, session, next_url=safe_next(next))


@router.post("/login", dependencies=[CSRF])
def login(
    request: Request,
    db: DbSession,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = HOME,
) -> Response:
    """Check the password; go on to the second factor or into the console."""
    manager = sessions_of(request)
    anon = current_web_session(request) or manager.anonymous()
    name, client = normalize_username(username), _client(request)
    wait = manager.throttle.locked_for(name, client)
    if wait > 0:
        message = f"Too many failed attempts. Try again in {int(wait // 60) + 1} minutes."
        return _login_page(request, anon, error=message, next_url=safe_next(next), status=429)
    try:
        user = authenticate(db, name, password)
    except AuthenticationError as error:
        if manager.throttle.failed(name, client):
            audit.record_independently(
                request.app.state.engine,
                SystemActor("web-login"),
                "auth.lockout",
                "user",
                name[:64],
                details={"client": client},
            )
        return _login_page(request, anon, error=error.message, next_url=safe_next(next), status=401)
    manager.throttle.succeeded(name)
    fingerprint = credential_fingerprint(user.password_hash, user.totp_secret)
    if user.totp_secret:
        session = manager.start(user.username, fingerprint, stage="totp")
        response = redirect(f"/login/totp?next={safe_next(next)}")
    else:
        session = manager.start(user.username, fingerprint, stage="full")
        audit.record(db, _actor(user), "auth.login", "user", user.username, details={"second_factor": False})
        response = redirect(safe_next(next))
    set_session_cookie(request, response, session)
    return response


@router.get("/login/totp")
def totp_form(request: Request, next: str | None = None) -> Response:
    session = current_web_session(request)
    if session is None or session.stage != "totp":
        return redirect("/login")
    return render(request, "totp.html", None, {"next": safe_next(next), "error": None})


@router.post("/login/totp", dependencies=[CSRF])
def totp_check(
    request: Request, db: DbSession, code: Annotated[str, Form()] = "", next: Annotated[str, Form()] = HOME
) -> Response:
    """Check the second factor and finish the log-in."""
    manager = sessions_of(request)
    session = current_web_session(request)
    if session is None or session.stage != "totp" or session.username is None:
        return redirect("/login")
    client = _client(request)
    context = {"next": safe_next(next)}
    if manager.throttle.locked_for(session.username, client) > 0:
        return render(request, "totp.html", None, {**context, "error": "Too many failed attempts."}, status_code=429)
    user = db.scalar(select(User).where(User.username == session.username))
    if user is None or not user.active or not user.totp_secret:
        return redirect("/login")
    if not verify_totp(manager, user.username, user.totp_secret, code):
        manager.throttle.failed(user.username, client)
        error = "That code is not valid. Enter the current 6-digit code from your authenticator app."
        return render(request, "totp.html", None, {**context, "error": error}, status_code=401)
    manager.throttle.succeeded(user.username)
    full = manager.start(user.username, session.fingerprint or "", stage="full")
    audit.record(db, _actor(user), "auth.login", "user", user.username, details={"second_factor": True})
    response = redirect(safe_next(next))
    set_session_cookie(request, response, full)
    return response


@router.post("/logout", dependencies=[CSRF])
def logout(request: Request, db: DbSession) -> Response:
    """End the session here and everywhere this cookie might still be presented."""
    session = current_web_session(request)
    if session is not None:
        sessions_of(request).revoke(session)
        if session.stage == "full" and session.username:
            user = db.scalar(select(User).where(User.username == session.username))
            if user is not None:
                audit.record(db, _actor(user), "auth.logout", "user", user.username)
    response = redirect("/login?bye=1")
    clear_session_cookie(response)
    return response


# -- account and TOTP enrolment -------------------------------------------------------------------------------


def grouped(secret: str) -> str:
    """``JBSWY3DPEHPK3PXP`` → ``JBSW Y3DP EHPK 3PXP`` (easier to type into an authenticator app)."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@router.get("/account")
def account(request: Request, viewer: Annotated[Viewer, Depends(page())], db: DbSession) -> Response:
    """Who I am, what my role may do, and my second factor."""
    user = db.scalar(select(User).where(User.username == viewer.username))
    pending = viewer.session.pending_totp
    context = {
        "permissions": permissions_of(viewer.principal.role),
        "has_totp": bool(user and user.totp_secret),
        "pending": pending,
        "pending_grouped": grouped(pending) if pending else None,
        "otpauth": pyotp.TOTP(pending).provisioning_uri(name=viewer.username, issuer_name=ISSUER) if pending else None,
        "message": request.query_params.get("msg"),
        "error": None,
    }
    return render(request, "account.html", viewer, context)


@router.post("/account/totp/start", dependencies=[CSRF])
def totp_start(request: Request, viewer: Annotated[Viewer, Depends(page())]) -> Response:
    """Propose a new TOTP secret; it is only stored once the user proves their app produces its codes."""
    session = replace(viewer.session, pending_totp=pyotp.random_base32())
    response = redirect("/account")
    set_session_cookie(request, response, session)
    return response


@router.post("/account/totp/confirm", dependencies=[CSRF])
def totp_confirm(
    request: Request, viewer: Annotated[Viewer, Depends(page())], db: DbSession, code: Annotated[str, Form()] = ""
) -> Response:
    """Store the pending secret when ``code`` matches it; the session continues under the new credentials."""
    pending = viewer.session.pending_totp
    user = db.scalar(select(User).where(User.username == viewer.username))
    if not pending or user is None:
        return redirect("/account")
    if not verify_totp(sessions_of(request), user.username, pending, code):
        return redirect("/account?msg=" + "That code does not match: try again with the current code.")
    user.totp_secret = pending
    db.flush()
    audit.record(db, _actor(user), "user.totp_enrolled", "user", user.username)
    fingerprint = credential_fingerprint(user.password_hash, user.totp_secret)
    session = replace(viewer.session, pending_totp=None, fingerprint=fingerprint)
    response = redirect("/account?msg=Two-factor authentication is now on for your account.")
    set_session_cookie(request, response, session)
    return response
