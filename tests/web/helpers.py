"""Shared helpers of the web tests: log in through the real form, read CSRF tokens, load a world."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from chainsleuth.config import Settings
from chainsleuth.store.users import DEMO_USERS

_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]*)"')


def password_of(username: str) -> str:
    return next(password for name, _, password, _, _ in DEMO_USERS if name == username)


def csrf_from(html: str) -> str:
    """The CSRF token of a page (hidden field or meta tag)."""
    found = _CSRF_FIELD.search(html) or _CSRF_META.search(html)
    assert found is not None, "no CSRF token on the page"
    return found.group(1)


def login(client: TestClient, username: str, password: str | None = None, next_url: str = "/dashboard") -> object:
    """Post the log-in form like a browser: fetch the page for its token, then submit (no redirect follow)."""
    client.cookies.clear()
    token = csrf_from(client.get("/login").text)
    return client.post(
        "/login",
        data={
            "username": username,
            "password": password or password_of(username),
            "csrf_token": token,
            "next": next_url,
        },
        follow_redirects=False,
    )


def load_tiny_world(world: Path, settings: Settings, engine: Engine) -> None:
    """The tiny world in both stores, its TagPacks imported, the demo users seeded (as ``chainsleuth demo``)."""
    from chainsleuth.demo import _import_world_tagpacks
    from chainsleuth.ingest.etl import ingest_world_chains
    from chainsleuth.ingest.ledger import load_exchange
    from chainsleuth.store.chainstore import ChainStore
    from chainsleuth.store.db import session_scope
    from chainsleuth.store.users import seed_demo_users

    load_exchange(world, engine)
    ingest_world_chains(world, ChainStore(settings.chain_dir))
    with session_scope(engine) as session:
        _import_world_tagpacks(session, world)
        seed_demo_users(session)
