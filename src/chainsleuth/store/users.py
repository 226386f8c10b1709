"""Platform users: creation, password authentication and the demo's seeded accounts.

Authentication answers every failure (unknown user, wrong password, disabled user) with the same
:class:`AuthenticationError` and spends the same argon2 work on an unknown username as on a known one, so that
neither the message nor the response time tells an attacker which usernames exist.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError as SqlIntegrityError
from sqlalchemy.orm import Session

from chainsleuth.errors import AuthenticationError, ConflictError, InvalidInputError
from chainsleuth.privacy import passwords
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
    """Replace the user's password (the caller commits; the version column guards concurrent edits)."""
    _check_password(password)
    user.password_hash = passwords.hash_password(password)


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
