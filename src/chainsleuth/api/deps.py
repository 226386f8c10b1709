"""FastAPI dependencies: the settings, stores and the authenticated caller of a request.

Everything is looked up on ``app.state`` (set by :func:`chainsleuth.api.app.create_app`) rather than imported as a
global, so tests can build several apps against different stores in one process.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from chainsleuth.api.tokens import TokenSigner
from chainsleuth.config import Settings
from chainsleuth.errors import AuthenticationError, ChainsleuthError, PermissionDeniedError, PolicyViolationError
from chainsleuth.privacy import audit
from chainsleuth.store.chainstore import ChainStore
from chainsleuth.store.db import session_scope
from chainsleuth.store.models.users import Role, User

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)


@dataclass(frozen=True)
class Principal:
    """Who is calling: re-read from the database on every request, so a deactivation takes effect at once."""

    username: str
    display_name: str
    role: Role
    agency_id: str | None


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_chain_store(request: Request) -> ChainStore:
    store: ChainStore = request.app.state.chain_store
    return store


REFUSALS = (PermissionDeniedError, PolicyViolationError)


def get_session(request: Request, engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Session]:
    """One transaction per request: committed on success, rolled back on any error.

    A refusal (a role without the permission, self-approval, acting on a frozen account…) of an identified caller
    is then written to the audit log in a transaction of its own, *after* the request's transaction has rolled
    back: an attempt on money or personal data is evidence too, and with SQLite's single writer an independent
    transaction could not write while the request's still held the lock.
    """
    try:
        with session_scope(engine) as session:
            yield session
    except REFUSALS as refusal:
        audit_refusal(request, engine, refusal)
        raise
    # a page that caught a refusal and rendered it itself (``note_refusal`` / ``error_page``)
    shown = session.info.get("refusal") or getattr(request.state, "refusal", None)
    if isinstance(shown, ChainsleuthError):
        audit_refusal(request, engine, shown)


def note_refusal(session: Session, error: ChainsleuthError) -> None:
    """For a handler that catches a refusal to show it on its own page: the request's session dependency
    audits it when the request's transaction has ended."""
    if isinstance(error, REFUSALS) and not error.audited:
        session.info["refusal"] = error


def audit_refusal(request: Request, engine: Engine, refusal: ChainsleuthError) -> None:
    """Audit ``refusal`` as ``access.refused`` on the request's method and path (once; anonymous callers are
    the authentication layer's business). Only the error's class and message are kept: messages name what was
    refused, never personal values."""
    actor = getattr(request.state, "principal", None)
    if actor is None:
        viewer = getattr(request.state, "viewer", None)
        actor = getattr(viewer, "principal", None)
    if actor is None or refusal.audited:
        return
    route = getattr(request.scope.get("route"), "path", None) or request.url.path
    audit.record_independently(
        engine,
        actor,
        "access.refused",
        "request",
        f"{request.method} {request.url.path}"[:200],
        details={"route": route, "error": refusal.code, "message": refusal.message[:500]},
    )
    refusal.audited = True


def get_signer(request: Request) -> TokenSigner:
    signer: TokenSigner = request.app.state.token_signer
    return signer


def current_principal(
    request: Request,
    token: Annotated[str | None, Depends(oauth2_scheme)],
    signer: Annotated[TokenSigner, Depends(get_signer)],
    session: Annotated[Session, Depends(get_session)],
) -> Principal:
    """The authenticated caller; 401 without a valid, unexpired token for an active user."""
    if not token:
        raise AuthenticationError("authentication required: obtain a token at /api/auth/token")
    username = signer.verify(token)
    user = session.query(User).filter(User.username == username).one_or_none()
    if user is None or not user.active:
        raise AuthenticationError("this account no longer exists or has been deactivated")
    principal = Principal(
        username=user.username, display_name=user.display_name, role=Role(user.role), agency_id=user.agency_id
    )
    request.state.principal = principal  # for auditing a refusal after the request's transaction rolled back
    return principal
