"""FastAPI dependencies: the settings, stores and the authenticated caller of a request.

Everything is looked up on ``app.state`` (set by :func:`chainsleuth.api.app.create_app`) rather than imported as a
global, so tests can build several apps against different stores in one process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from chainsleuth.api.tokens import TokenSigner
from chainsleuth.config import Settings
from chainsleuth.errors import AuthenticationError, PermissionDeniedError
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


def get_session(engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Session]:
    """One transaction per request: committed on success, rolled back on any error."""
    with session_scope(engine) as session:
        yield session


def get_signer(request: Request) -> TokenSigner:
    signer: TokenSigner = request.app.state.token_signer
    return signer


def current_principal(
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
    return Principal(
        username=user.username, display_name=user.display_name, role=Role(user.role), agency_id=user.agency_id
    )


def require_roles(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency that admits only the given roles (403 otherwise)."""
    allowed = frozenset(roles)

    def _check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role not in allowed:
            raise PermissionDeniedError(
                "your role may not use this resource", role=principal.role.value, allowed=sorted(allowed)
            )
        return principal

    return _check


#: Staff of the exchange's financial-crime unit (everyone but outside law-enforcement officers).
STAFF_ROLES = (
    Role.ANALYST,
    Role.SENIOR_ANALYST,
    Role.COMPLIANCE_OFFICER,
    Role.LE_RESPONSE_OFFICER,
    Role.AUDITOR,
    Role.ADMIN,
)
