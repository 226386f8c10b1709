"""Platform users over HTTP (``user.manage``): list, create, change role, deactivate, reset password.

The same functions as ``chainsleuth users`` (:mod:`chainsleuth.store.users`), so the rules are the same: every
change is audited, the last active administrator can be neither demoted nor deactivated, nobody deactivates
their own account, and answers never carry a password hash or TOTP secret. Bootstrapping the first
administrator is a console operation (``chainsleuth users create``), not an HTTP one.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field, SecretStr
from sqlalchemy.orm import Session

from chainsleuth.api.deps import Principal, get_session
from chainsleuth.api.permissions import requires
from chainsleuth.store import users

router = APIRouter(prefix="/api/users", tags=["users"])
Admin = Annotated[Principal, Depends(requires("user.manage"))]
DbSession = Annotated[Session, Depends(get_session)]


class UserIn(BaseModel):
    username: str = Field(max_length=64)
    password: SecretStr
    role: str
    display_name: str = Field(max_length=200)
    agency_id: str | None = Field(default=None, max_length=64)


class RoleIn(BaseModel):
    role: str
    agency_id: str | None = Field(default=None, max_length=64)


class DeactivateIn(BaseModel):
    reason: str = Field(max_length=2000)


class PasswordIn(BaseModel):
    password: SecretStr
    clear_totp: bool = False


@router.get("", summary="List users")
def list_users(who: Admin, session: DbSession, active_only: bool = False) -> list[dict[str, Any]]:
    return [users.user_view(u) for u in users.list_users(session, who, include_inactive=not active_only)]


@router.post("", summary="Create a user", status_code=201)
def create_user(who: Admin, session: DbSession, body: UserIn, response: Response) -> dict[str, Any]:
    user = users.add_user(session, who, username=body.username, password=body.password.get_secret_value(),
                          role=body.role, display_name=body.display_name, agency_id=body.agency_id)  # fmt: skip
    response.headers["Location"] = f"/api/users/{user.username}"
    return users.user_view(user)


@router.get("/{username}", summary="One user")
def get_user(username: str, _: Admin, session: DbSession) -> dict[str, Any]:
    return users.user_view(users.get_user(session, username))


@router.post("/{username}/role", summary="Change a user's role")
def set_role(username: str, who: Admin, session: DbSession, body: RoleIn) -> dict[str, Any]:
    return users.user_view(users.set_role(session, who, username, body.role, agency_id=body.agency_id))


@router.post("/{username}/deactivate", summary="Deactivate a user")
def deactivate(username: str, who: Admin, session: DbSession, body: DeactivateIn) -> dict[str, Any]:
    return users.user_view(users.deactivate(session, who, username, reason=body.reason))


@router.post("/{username}/password", summary="Reset a user's password")
def reset_password(username: str, who: Admin, session: DbSession, body: PasswordIn) -> dict[str, Any]:
    user = users.reset_password(session, who, username, body.password.get_secret_value(), clear_totp=body.clear_totp)
    return users.user_view(user)
