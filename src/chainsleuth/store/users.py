"""Platform users: creation, password and second-factor authentication, administration, the demo's accounts.

Administration (:func:`add_user`, :func:`list_users`, :func:`set_role`, :func:`deactivate`,
:func:`reset_password`) needs ``user.manage`` and is audited; the one exception is the operator's bootstrap: while
no active administrator exists, a :class:`~chainsleuth.privacy.policy.SystemActor` (the CLI without ``--as``)
may create an administrator, so that a fresh installation can be taken into use.

Authentication answers every failure (unknown user, wrong password, disabled user) with the same
:class:`AuthenticationError` and spends the same argon2 work on an unknown username as on a known one, so that
neither the message nor the response time tells an attacker which usernames exist.
"""

from __future__ import annotations

import re
import secrets
import time

import pyotp
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError as SqlIntegrityError
from sqlalchemy.orm import Session

from chainsleuth.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PolicyViolationError,
)
from chainsleuth.privacy import audit, passwords
from chainsleuth.privacy.policy import Actor, SystemActor, UserActor, has_permission, require
from chainsleuth.store.models.users import Role, User

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD_LENGTH = 12
_FAILURE = "invalid username or password"

#: One demo user per role: (username, display name, password, role, agency). Printed by `chainsleuth demo`.
DEMO_USERS: tuple[tuple[str, str, str, Role, str | None], ...] = (
    ("analyst", "Ada Analyst", "demo-analyst-pass", Role.ANALYST, None),
    ("senior", "Sam Senior-Analyst", "demo-senior-pass", Role.SENIOR_ANALYST, None),
    ("compliance", "Chris Compliance", "demo-compliance-pass", Role.COMPLIANCE_OFFICER, None),
    ("leresponse", "Lee Response", "demo-leresponse-pass", Role.LE_RESPONSE_OFFICER, None),
    ("leresponse2", "Rene Reviewer", "demo-leresponse2-pass", Role.LE_RESPONSE_OFFICER, None),
    ("auditor", "Audrey Auditor", "demo-auditor-pass", Role.AUDITOR, None),
    ("admin", "Alex Admin", "demo-admin-pass", Role.ADMIN, None),
    ("officer", "Olivia Officer", "demo-officer-pass", Role.LE_OFFICER, "DEMO-POLICE"),
)

_dummy_hash: tuple[object, str] | None = None


def _timing_dummy_hash() -> str:
    """A hash made with the current hasher, verified against on unknown usernames to equalise timing."""
    global _dummy_hash
    hasher = passwords.get_hasher()
    if _dummy_hash is None or _dummy_hash[0] is not hasher:
        _dummy_hash = (hasher, passwords.hash_password("chainsleuth-timing-equaliser"))
    return _dummy_hash[1]


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError(f"password must have at least {MIN_PASSWORD_LENGTH} characters", field="password")


def normalize_username(username: str) -> str:
    """Usernames are case-insensitive: stored and looked up in lower case."""
    return username.strip().lower()


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: Role | str,
    display_name: str,
    agency_id: str | None = None,
    totp_secret: str | None = None,
    active: bool = True,
) -> User:
    """Add a user (flushed, not committed); InvalidInputError for bad values, ConflictError for a taken name.

    Law-enforcement officers must belong to an agency (their access is scoped to it); nobody else may.
    """
    name = normalize_username(username)
    if not USERNAME_PATTERN.match(name):
        raise InvalidInputError("username must be 2-64 characters of a-z, 0-9, '.', '_', '-'", field="username")
    try:
        role_value = Role(role)
    except ValueError as error:
        raise InvalidInputError(f"unknown role {role!r}", field="role") from error
    _check_password(password)
    if not display_name.strip():
        raise InvalidInputError("display name must not be empty", field="display_name")
    if role_value is Role.LE_OFFICER and not agency_id:
        raise InvalidInputError("a law-enforcement officer needs an agency_id", field="agency_id")
    if role_value is not Role.LE_OFFICER and agency_id:
        raise InvalidInputError("only law-enforcement officers belong to an agency", field="agency_id")
    if session.scalar(select(User.id).where(User.username == name)) is not None:
        raise ConflictError(f"username {name!r} is taken", field="username")
    user = User(
        username=name,
        display_name=display_name.strip(),
        password_hash=passwords.hash_password(password),
        role=role_value.value,
        agency_id=agency_id,
        totp_secret=totp_secret,
        active=active,
    )
    session.add(user)
    try:
        with session.begin_nested():
            session.flush()
    except SqlIntegrityError as error:  # a concurrent creation of the same name
        raise ConflictError(f"username {name!r} is taken", field="username") from error
    return user


def set_password(user: User, password: str) -> None:
    """Replace the user's password (the caller commits and audits; the version column guards concurrent edits)."""
    _check_password(password)
    user.password_hash = passwords.hash_password(password)


#: Holders of this permission (outside law-enforcement officers) prove a fresh one-time code on every sensitive
#: request instead (``X-TOTP-Code`` / ``--totp``, checked with replay protection by
#: :mod:`chainsleuth.lawenforcement.officers`), so their log-in asks only for the password.
PER_REQUEST_SECOND_FACTOR = "le_request.submit"


def needs_code_at_login(user: User) -> bool:
    """Whether logging in as ``user`` (API token, CLI ``--as``) takes a one-time code besides the password."""
    if not user.totp_secret:
        return False
    actor = UserActor(username=user.username, role=Role(user.role), agency_id=user.agency_id)
    return not has_permission(actor, PER_REQUEST_SECOND_FACTOR)


def totp_step(secret: str, code: str | None, *, at: float | None = None) -> int | None:
    """The 30-second time step ``code`` is valid for (now, or one step of clock drift either way), or None.

    Callers that can remember steps refuse a step already used (a replayed code).
    """
    cleaned = (code or "").replace(" ", "").strip()
    if not cleaned.isdigit() or len(cleaned) != 6:
        return None
    totp = pyotp.TOTP(secret)
    current = int(time.time() if at is None else at) // totp.interval
    for step in (current, current - 1, current + 1):
        if secrets.compare_digest(totp.generate_otp(step), cleaned):
            return step
    return None


def check_second_factor(user: User, code: str | None, *, at: float | None = None) -> int | None:
    """The accepted time step for a user who needs a code at log-in (None for one who does not);
    AuthenticationError when the code is missing or wrong."""
    if not needs_code_at_login(user):
        return None
    if not code or not code.strip():
        raise AuthenticationError("this account has two-factor authentication: give the one-time code")
    step = totp_step(user.totp_secret or "", code, at=at)
    if step is None:
        raise AuthenticationError("invalid one-time code")
    return step


def authenticate(session: Session, username: str, password: str) -> User:
    """The active user with this username and password; AuthenticationError otherwise.

    A hash made with outdated parameters is upgraded in place after a successful login (the caller commits).
    """
    user = session.scalar(select(User).where(User.username == normalize_username(username)))
    if user is None:
        passwords.verify_password(_timing_dummy_hash(), password)
        raise AuthenticationError(_FAILURE)
    if not passwords.verify_password(user.password_hash, password) or not user.active:
        raise AuthenticationError(_FAILURE)
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return user


def seed_demo_users(session: Session) -> list[tuple[str, str, Role]]:
    """Create one user per role with a known password; return ``(username, password, role)`` for each.

    Demo mode only. Running it again keeps the users but resets their passwords to the demo ones, so the
    printed credentials are always valid.
    """
    seeded: list[tuple[str, str, Role]] = []
    for username, display_name, password, role, agency_id in DEMO_USERS:
        existing = session.scalar(select(User).where(User.username == username))
        if existing is None:
            create_user(
                session,
                username=username,
                password=password,
                role=role,
                display_name=display_name,
                agency_id=agency_id,
            )
        else:
            if not passwords.verify_password(existing.password_hash, password):
                existing.password_hash = passwords.hash_password(password)
            existing.role, existing.agency_id, existing.active = role.value, agency_id, True
        seeded.append((username, password, role))
    session.flush()
    return seeded


# -- administration (``user.manage``) ---------------------------------------------------------------------------


def _admin_count(session: Session) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(User).where(User.role == Role.ADMIN.value, User.active.is_(True))
        )
        or 0
    )


def has_active_admin(session: Session) -> bool:
    """Whether any active administrator exists (until one does, the operator may bootstrap one from the CLI)."""
    return _admin_count(session) > 0


def get_user(session: Session, username: str) -> User:
    """The user called ``username``; NotFoundError otherwise."""
    user = session.scalar(select(User).where(User.username == normalize_username(username)))
    if user is None:
        raise NotFoundError("no such user", username=normalize_username(username))
    return user


def user_view(user: User) -> dict[str, object]:
    """A user as plain data: never the password hash or the TOTP secret, only whether 2FA is enrolled."""
    created = user.created_at.isoformat() if user.created_at else None
    return {"username": user.username, "display_name": user.display_name, "role": user.role,
            "agency_id": user.agency_id, "active": user.active, "two_factor": bool(user.totp_secret),
            "created_at": created, "version": user.version}  # fmt: skip


def _bootstrap_allowed(session: Session, actor: Actor, role: Role | str) -> bool:
    """The operator (a system actor at the console) may create the first administrator, and nothing else."""
    return isinstance(actor, SystemActor) and not has_active_admin(session) and str(role) == Role.ADMIN.value


def add_user(
    session: Session,
    actor: Actor,
    *,
    username: str,
    password: str,
    role: Role | str,
    display_name: str,
    agency_id: str | None = None,
) -> User:
    """Create a user (``user.manage``, or the operator's bootstrap of the first administrator); audited."""
    bootstrap = _bootstrap_allowed(session, actor, role)
    if not bootstrap:
        require(actor, "user.manage")
    user = create_user(session, username=username, password=password, role=role, display_name=display_name,
                       agency_id=agency_id)  # fmt: skip
    audit.record(session, actor, "user.create", "user", user.username,
                 details={"role": user.role, "agency_id": user.agency_id, "bootstrap": bootstrap})  # fmt: skip
    return user


def list_users(session: Session, actor: Actor, *, include_inactive: bool = True) -> list[User]:
    """Every user, by username (``user.manage``)."""
    require(actor, "user.manage")
    query = select(User).order_by(User.username)
    if not include_inactive:
        query = query.where(User.active.is_(True))
    return list(session.scalars(query))


def _refuse_losing_last_admin(session: Session, user: User) -> None:
    if user.role == Role.ADMIN.value and user.active and _admin_count(session) <= 1:
        raise ConflictError("this is the last active administrator: create another one first", username=user.username)


def set_role(session: Session, actor: Actor, username: str, role: Role | str, *, agency_id: str | None = None) -> User:
    """Give a user another role (``user.manage``); audited with the old and new role. The last active
    administrator cannot be demoted (nobody could manage users any more)."""
    require(actor, "user.manage")
    user = get_user(session, username)
    try:
        new = Role(role)
    except ValueError as error:
        raise InvalidInputError(f"unknown role {role!r}", field="role", allowed=[r.value for r in Role]) from error
    if (new is Role.LE_OFFICER) != bool(agency_id):
        raise InvalidInputError("law-enforcement officers, and only they, belong to an agency (--agency)",
                                field="agency_id")  # fmt: skip
    if new.value != user.role:
        _refuse_losing_last_admin(session, user)
    old = {"role": user.role, "agency_id": user.agency_id}
    user.role, user.agency_id = new.value, agency_id
    session.flush()
    audit.record(session, actor, "user.set_role", "user", user.username,
                 details={"from": old, "to": {"role": user.role, "agency_id": user.agency_id}})  # fmt: skip
    return user


def deactivate(session: Session, actor: Actor, username: str, *, reason: str) -> User:
    """Deactivate a user (``user.manage``): their tokens and sessions stop working at the next request.
    Users are never deleted (the audit log names them). Audited with the reason."""
    require(actor, "user.manage")
    if not reason.strip():
        raise InvalidInputError("give a reason for the deactivation", field="reason")
    user = get_user(session, username)
    if user.username == actor.username:
        raise PolicyViolationError("you cannot deactivate your own account", username=user.username)
    if user.active:
        _refuse_losing_last_admin(session, user)
        user.active = False
        session.flush()
    audit.record(session, actor, "user.deactivate", "user", user.username, details={"reason": reason.strip()})
    return user


def reset_password(session: Session, actor: Actor, username: str, password: str, *, clear_totp: bool = False) -> User:
    """Set a new password for a user (``user.manage``), optionally removing a lost TOTP enrolment; audited
    (never the password)."""
    require(actor, "user.manage")
    user = get_user(session, username)
    set_password(user, password)
    if clear_totp:
        user.totp_secret = None
    session.flush()
    audit.record(session, actor, "user.reset_password", "user", user.username, details={"totp_cleared": clear_totp})
    return user
