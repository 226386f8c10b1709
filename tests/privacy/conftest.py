"""Fixtures of the privacy tests: a database with the committed world fixture loaded, and callers by role."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from chainsleuth.api.deps import Principal
from chainsleuth.ingest.ledger import load_exchange
from chainsleuth.store.models.users import Role

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "world_exchange"


@pytest.fixture
def loaded(engine: Engine) -> Engine:
    """``engine`` with the committed exchange fixture (three customers, their accounts and ledger) loaded."""
    load_exchange(FIXTURE, engine)
    return engine


def principal(role: Role, username: str | None = None, agency_id: str | None = None) -> Principal:
    """A caller with ``role`` (named after it unless told otherwise)."""
    name = username or role.value.replace("_", "-")
    return Principal(username=name, display_name=name.title(), role=role, agency_id=agency_id)
