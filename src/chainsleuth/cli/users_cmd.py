"""``chainsleuth users``: create, list, change the role of, deactivate and reset the password of platform users.

Every command acts as an administrator (``--as ADMIN``, password and one-time code as for every ``--as``; see
:func:`chainsleuth.cli.cases_cmd.acting`) and needs ``user.manage``; each change is audited. A fresh installation
has no administrator yet: ``chainsleuth users create NAME --role admin`` *without* ``--as`` is then allowed once,
as the operator's bootstrap (audited as ``system:operator:<os user>``); as soon as an active administrator
exists, it is refused. New passwords come from ``CHAINSLEUTH_NEW_PASSWORD`` or a hidden, confirmed prompt, never
from the command line (which ends up in shell history and process lists).
"""

from __future__ import annotations

import getpass
import os
from typing import Annotated

import typer

from chainsleuth.cli.cases_cmd import As, acting, emit, store_session
from chainsleuth.errors import PermissionDeniedError
from chainsleuth.privacy.policy import SystemActor
from chainsleuth.store import users

app = typer.Typer(help="Platform users and their roles (administrators: user.manage).", no_args_is_help=True)
OptionalAs = Annotated[
    str | None,
    typer.Option("--as", help="Act as this administrator (omit only to bootstrap the first administrator)."),
]
ROLE_HELP = "analyst, senior_analyst, compliance_officer, le_response_officer, auditor, admin or le_officer."
Username = Annotated[str, typer.Argument(help="The user's login name (case-insensitive).")]


def _new_password() -> str:
    given = os.environ.get("CHAINSLEUTH_NEW_PASSWORD")
    if given:
        return given
    return str(typer.prompt("new password", hide_input=True, confirmation_prompt=True, err=True))


@app.command("create")
def create(
    username: Username,
    as_user: OptionalAs = None,
    role: Annotated[str, typer.Option(help=ROLE_HELP)] = "analyst",
    display_name: Annotated[str | None, typer.Option(help="Full name shown in the console.")] = None,
    agency: Annotated[str | None, typer.Option(help="Agency id (law-enforcement officers only).")] = None,
) -> None:
    """Create a user (password: CHAINSLEUTH_NEW_PASSWORD or a prompt)."""
    password = _new_password()
    name = display_name or username
    if as_user is None:
        operator = SystemActor(f"operator:{getpass.getuser()}")
        with store_session() as session:
            if users.has_active_admin(session):
                raise PermissionDeniedError("an administrator exists: create users with --as ADMIN")
            user = users.add_user(session, operator, username=username, password=password, role=role,
                                  display_name=name, agency_id=agency)  # fmt: skip
            emit(users.user_view(user))
        return
    with acting(as_user) as (session, who):
        user = users.add_user(session, who, username=username, password=password, role=role, display_name=name,
                              agency_id=agency)  # fmt: skip
        emit(users.user_view(user))


@app.command("list")
def list_users(as_user: As, active_only: bool = typer.Option(False, "--active-only", help="Hide deactivated.")) -> None:
    """Every user with role, agency, whether active and whether 2FA is enrolled."""
    with acting(as_user) as (session, who):
        emit([users.user_view(u) for u in users.list_users(session, who, include_inactive=not active_only)])


@app.command("set-role")
def set_role(
    username: Username,
    role: Annotated[str, typer.Argument(help="The new role.")],
    as_user: As,
    agency: Annotated[str | None, typer.Option(help="Agency id (le_officer only).")] = None,
) -> None:
    """Give a user another role (the last active administrator cannot be demoted)."""
    with acting(as_user) as (session, who):
        emit(users.user_view(users.set_role(session, who, username, role, agency_id=agency)))


@app.command("deactivate")
def deactivate(username: Username, as_user: As, reason: str = typer.Option(..., help="Why (audited).")) -> None:
    """Deactivate a user: their tokens and web sessions stop working at once; nothing is deleted."""
    with acting(as_user) as (session, who):
        emit(users.user_view(users.deactivate(session, who, username, reason=reason)))


@app.command("reset-password")
def reset_password(
    username: Username,
    as_user: As,
    clear_totp: bool = typer.Option(False, "--clear-totp", help="Also remove a lost authenticator (re-enrol)."),
) -> None:
    """Set a new password (CHAINSLEUTH_NEW_PASSWORD or a prompt)."""
    password = _new_password()
    with acting(as_user) as (session, who):
        emit(users.user_view(users.reset_password(session, who, username, password, clear_totp=clear_totp)))
