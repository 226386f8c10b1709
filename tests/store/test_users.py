"""Platform users: creation rules, authentication and the demo users."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select

from chainsleuth.errors import AuthenticationError, ConflictError, InvalidInputError
from chainsleuth.privacy import passwords
from chainsleuth.store.db import session_scope
from chainsleuth.store.models import Role, User
from chainsleuth.store.users import DEMO_USERS, authenticate, create_user, seed_demo_users

pytestmark = pytest.mark.usefixtures("fast_password_hashing")
PASSWORD = "correct horse battery"


def _make(engine: Engine, **overrides: object) -> None:
    values: dict[str, object] = {
        "username": "Ada.Lovelace",
        "password": PASSWORD,
        "role": Role.ANALYST,
        "display_name": "Ada Lovelace",
    }
    values.update(overrides)
    with session_scope(engine) as session:
        create_user(session, **values)  # type: ignore[arg-type]


def test_authentication_success_and_failures(engine: Engine) -> None:
    _make(engine)
    with session_scope(engine) as session:
        user = authenticate(session, "ada.lovelace", PASSWORD)
        assert (user.username, user.role) == ("ada.lovelace", "analyst")
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash
        assert authenticate(session, "  ADA.LOVELACE ", PASSWORD).id == user.id
        for username, password in (
            ("ada.lovelace", "wrong password!"),
            ("nobody", PASSWORD),
            ("ada.lovelace", ""),
        ):
            with pytest.raises(AuthenticationError) as caught:
                authenticate(session, username, password)
            assert str(caught.value) == "invalid username or password"


def test_unknown_user_costs_a_password_check(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """No early return for unknown names: the response time must not reveal which usernames exist."""
    _make(engine)
    calls: list[str] = []
    real = passwords.verify_password

    def counting(password_hash: str, password: str) -> bool:
        calls.append(password_hash)
        return real(password_hash, password)

    monkeypatch.setattr(passwords, "verify_password", counting)
    with session_scope(engine) as session, pytest.raises(AuthenticationError):
        authenticate(session, "nobody", PASSWORD)
    assert len(calls) == 1
    assert calls[0].startswith("$argon2id$")


def test_inactive_user_cannot_log_in(engine: Engine) -> None:
    _make(engine, active=False)
    with session_scope(engine) as session, pytest.raises(AuthenticationError):
        authenticate(session, "ada.lovelace", PASSWORD)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"username": "x"}, "username"),
        ({"username": "has space"}, "username"),
        ({"role": "superuser"}, "role"),
        ({"password": "short"}, "password"),
        ({"display_name": "  "}, "display_name"),
        ({"role": Role.LE_OFFICER}, "agency_id"),
        ({"agency_id": "AG-1"}, "agency_id"),
    ],
)
def test_invalid_users_are_refused(engine: Engine, overrides: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        _make(engine, **overrides)
    assert caught.value.details["field"] == field


def test_usernames_are_unique_case_insensitively(engine: Engine) -> None:
    _make(engine)
    with pytest.raises(ConflictError, match="taken"):
        _make(engine, username="ADA.lovelace")


def test_outdated_hash_is_upgraded_on_login(engine: Engine) -> None:
    _make(engine)
    passwords.configure(time_cost=2, memory_cost=2048, parallelism=1)
    with session_scope(engine) as session:
        old = session.scalars(select(User.password_hash)).one()
        assert passwords.needs_rehash(old)
        authenticate(session, "ada.lovelace", PASSWORD)
    with session_scope(engine) as session:
        new = session.scalars(select(User.password_hash)).one()
    assert new != old
    assert not passwords.needs_rehash(new)


def test_demo_users_cover_every_role_and_log_in(engine: Engine) -> None:
    with session_scope(engine) as session:
        seeded = seed_demo_users(session)
    assert {role for _, _, role in seeded} == set(Role)
    assert len(seeded) == len(DEMO_USERS)
    with session_scope(engine) as session:
        for username, password, role in seeded:
            user = authenticate(session, username, password)
            assert user.role == role.value
            assert (user.agency_id is not None) == (role is Role.LE_OFFICER)


def test_seeding_twice_keeps_one_user_per_role_and_valid_passwords(engine: Engine) -> None:
    with session_scope(engine) as session:
        seed_demo_users(session)
        admin = session.scalars(select(User).where(User.username == "admin")).one()
        admin.password_hash = passwords.hash_password("changed by someone")
    with session_scope(engine) as session:
        seeded = seed_demo_users(session)
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(User)) == len(DEMO_USERS)
        for username, password, _ in seeded:
            authenticate(session, username, password)
