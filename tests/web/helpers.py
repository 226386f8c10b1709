"""Shared helpers of the web tests: log in through the real form, read CSRF tokens, load a world, serve it."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from chainsleuth.api.app import create_app
from chainsleuth.config import Settings
from chainsleuth.privacy import passwords
from chainsleuth.store.db import create_engine_for
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
    from chainsleuth.demo import import_world_tagpacks
    from chainsleuth.ingest.etl import ingest_world_chains
    from chainsleuth.ingest.ledger import load_exchange
    from chainsleuth.store.chainstore import ChainStore
    from chainsleuth.store.db import session_scope
    from chainsleuth.store.users import seed_demo_users

    load_exchange(world, engine)
    ingest_world_chains(world, ChainStore(settings.chain_dir))
    with session_scope(engine) as session:
        import_world_tagpacks(session, world)
        seed_demo_users(session)


@contextmanager
def loaded_world(world: Path, database_url: str, data_dir: Path, **settings: Any) -> Iterator[tuple[Settings, Engine]]:
    """Demo settings over ``data_dir`` and ``database_url`` (plus ``settings``), an engine with the tiny world
    loaded (:func:`load_tiny_world`) and cheap password hashing; the engine is disposed and the hasher restored
    on exit. The module-scoped ``world`` fixtures of the page tests are built on this."""
    previous = passwords.get_hasher()
    passwords.configure(time_cost=1, memory_cost=1024, parallelism=1)
    engine = create_engine_for(database_url)
    try:
        configured = Settings(data_dir=data_dir, database_url=database_url, demo=True, **settings)
        load_tiny_world(world, configured, engine)
        yield configured, engine
    finally:
        engine.dispose()
        passwords.set_hasher(previous)


def sqlite_copy(template: Path, data_dir: Path) -> str:
    """The URL of a copy of the migrated SQLite template in ``data_dir`` (the browser tests' one database)."""
    shutil.copyfile(template, data_dir / "chainsleuth.db")
    return f"sqlite:///{data_dir / 'chainsleuth.db'}"


def web_client(settings: Settings, engine: Engine, world: Path) -> TestClient:
    """A TestClient of the whole app over a loaded world (use it as a context manager: it runs the lifespan)."""
    return TestClient(create_app(settings, engine=engine, world_dir=world))
