"""Authentication: exchange a username, password and (when enrolled) one-time code for a bearer token.

The token endpoint applies the rules of the web log-in: failed attempts are counted per username and per
client address by the same :class:`~chainsleuth.web.sessions.LoginThrottle` (one lock-out for both doors), a
locked-out attempt is refused before the password is checked, and a user enrolled in TOTP must give a current
code (``totp_code`` form field or ``X-TOTP-Code`` header), each time step accepted once. Successful log-ins and
failures are audited (failures under ``system:api-login``, naming the attempted username, never the password).
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Header, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from chainsleuth.api.deps import Principal, current_principal, get_engine, get_session, get_signer
from chainsleuth.api.tokens import TokenSigner
from chainsleuth.errors import AuthenticationError
from chainsleuth.privacy import audit
from chainsleuth.privacy.policy import SystemActor, UserActor
from chainsleuth.store.models.users import Role
from chainsleuth.store.users import authenticate, check_second_factor, normalize_username
from chainsleuth.web.sessions import LoginThrottle, SessionConfig, SessionManager

router = APIRouter(prefix="/api/auth", tags=["auth"])
_LOGIN = SystemActor("api-login")


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class Me(BaseModel):
    username: str
    display_name: str
    role: str
    agency_id: str | None


def _throttle(request: Request) -> tuple[LoginThrottle, SessionManager | None]:
    """The web console's throttle (shared counters) or, for an app without web pages, one of the API's own."""
    manager: SessionManager | None = getattr(request.app.state, "web_sessions", None)
    if manager is not None:
        return manager.throttle, manager
    throttle: LoginThrottle | None = getattr(request.app.state, "api_login_throttle", None)
    if throttle is None:
        throttle = LoginThrottle(SessionConfig(), time.time)
        request.app.state.api_login_throttle = throttle
    return throttle, None


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/token", response_model=TokenResponse, summary="Log in (password, and one-time code if enrolled)")
def issue_token(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: Annotated[Session, Depends(get_session)],
    engine: Annotated[Engine, Depends(get_engine)],
    signer: Annotated[TokenSigner, Depends(get_signer)],
    totp_code: Annotated[str | None, Form(description="One-time code (users enrolled in TOTP).")] = None,
    totp_header: Annotated[str | None, Header(alias="X-TOTP-Code")] = None,
) -> TokenResponse:
    """A bearer token for the API (OAuth2 password flow: the OpenAPI page's *Authorize* button uses it)."""
    throttle, manager = _throttle(request)
    name, client = normalize_username(form.username), _client(request)
    wait = throttle.locked_for(name, client)
    if wait > 0:
        raise AuthenticationError(f"too many failed log-ins: try again in {int(wait // 60) + 1} minutes",
                                  retry_after=int(wait) + 1)  # fmt: skip
    try:
        user = authenticate(session, name, form.password)
        step = check_second_factor(user, totp_code or totp_header)
        if step is not None and manager is not None and not manager.use_totp_counter(user.username, step):
            raise AuthenticationError("this one-time code was used already: wait for the next one")
    except AuthenticationError as error:
        locked = throttle.failed(name, client)
        details = {"client": client, "reason": error.message, "locked_out": locked}
        audit.record_independently(engine, _LOGIN, "auth.api_login_failed", "user", name[:64], details=details)
        error.audited = True
        raise
    throttle.succeeded(name)
    actor = UserActor(username=user.username, role=Role(user.role), agency_id=user.agency_id)
    audit.record(session, actor, "auth.api_login", "user", user.username,
                 details={"client": client, "second_factor": step is not None})  # fmt: skip
    return TokenResponse(access_token=signer.issue(user.username), expires_in=signer.ttl_seconds)


@router.get("/me", response_model=Me, summary="Who am I")
def me(principal: Annotated[Principal, Depends(current_principal)]) -> Me:
    return Me(
        username=principal.username,
        display_name=principal.display_name,
        role=principal.role.value,
        agency_id=principal.agency_id,
    )
