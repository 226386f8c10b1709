"""Migration 0010: second-factor secrets stored in clear before it are encrypted by it."""

from __future__ import annotations

from collections.abc import Iterator

import pyotp
import pytest
from alembic import command
from sqlalchemy import Engine, select, text

from chainsleuth.store.db import create_engine_for, session_scope
from chainsleuth.store.migrate import alembic_config, upgrade_to_head
from chainsleuth.store.models.users import User


@pytest.fixture
def at_0009(empty_database_url: str) -> Iterator[Engine]:
    engine = create_engine_for(empty_database_url)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0009")
    try:
        yield engine
    finally:
        engine.dispose()


def test_upgrade_encrypts_clear_totp_secrets(at_0009: Engine) -> None:
    secret = pyotp.random_base32()
    with at_0009.begin() as c:
        for name, value in (("enrolled", secret), ("plain", None)):
            c.execute(
                text(
                    "INSERT INTO users (username, display_name, password_hash, role, totp_secret, created_at) "
                    "VALUES (:u, :u, 'x', 'analyst', :s, :t)"
                ),
                {"u": name, "s": value, "t": "2026-11-22 10:00:00+00:00"},
            )
    upgrade_to_head(at_0009)
    with at_0009.connect() as c:
        stored = dict(c.execute(text("SELECT username, totp_secret FROM users")).all())
    assert stored["plain"] is None
    assert stored["enrolled"].startswith("v1:")
    assert secret not in stored["enrolled"]
    with session_scope(at_0009) as s:
        user = s.scalars(select(User).where(User.username == "enrolled")).one()
        assert user.totp_secret == secret
    upgrade_to_head(at_0009)  # a second run finds nothing clear and changes nothing
    with at_0009.connect() as c:
        assert (
            c.execute(text("SELECT totp_secret FROM users WHERE username = 'enrolled'")).scalar_one()
            == stored["enrolled"]
        )
