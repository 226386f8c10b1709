"""Overlapping page requests of logged-in users: none fails with a server error (SQLite's single writer)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from chainsleuth.config import Settings
from chainsleuth.store.db import session_scope
from chainsleuth.store.models.audit import AuditEntry
from tests.web.helpers import loaded_world, login, web_client

PAGES = ("/dashboard", "/alerts", "/customers", "/cases", "/tags", "/approvals", "/rules", "/account")


@pytest.fixture(scope="module")
def world(
    module_database_url: str, tiny_world: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, Engine]]:
    with loaded_world(tiny_world, module_database_url, tmp_path_factory.mktemp("web-concurrency")) as loaded:
        yield loaded


def test_twenty_parallel_requests_never_fail(world: tuple[Settings, Engine], tiny_world: Path) -> None:
    settings, engine = world
    with web_client(settings, engine, tiny_world) as client:
        assert login(client, "senior").status_code == 303  # type: ignore[attr-defined]
        with session_scope(engine) as session:
            audited_before = session.scalar(select(func.count()).select_from(AuditEntry))
        start = threading.Barrier(20)

        def fetch(index: int) -> tuple[str, int, str]:
            worker = TestClient(client.app, follow_redirects=False)
            worker.cookies.update(client.cookies)
            path = PAGES[index % len(PAGES)]
            start.wait()
            response = worker.get(path)
            return path, response.status_code, response.text[:300]

        with ThreadPoolExecutor(max_workers=20) as pool:
            results = list(pool.map(fetch, range(20)))
        failures = [result for result in results if result[1] >= 500]
        assert not failures, failures
        assert all(status == 200 for _, status, _ in results), [r for r in results if r[1] != 200]
        with session_scope(engine) as session:
            audited_after = session.scalar(select(func.count()).select_from(AuditEntry))
        assert audited_after is not None
        assert audited_before is not None
        assert audited_after >= audited_before  # the audit chain stayed writable throughout
