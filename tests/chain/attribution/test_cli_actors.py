"""``chainsleuth tags export --actors``: the store's actors as a schema-valid ActorPack that re-imports identically
(SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from chainsleuth.chain.attribution.actorpack import parse_actorpack
from chainsleuth.chain.attribution.store import find_actors
from chainsleuth.cli.tags_cmd import app
from chainsleuth.config import get_settings
from chainsleuth.errors import InvalidInputError
from chainsleuth.store.db import session_scope

from .test_actorpack import ACTORS

runner = CliRunner()


@pytest.fixture
def configured(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("CHAINSLEUTH_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()


def test_export_actors_validates_and_reimports_identically(configured: str, engine: Engine, tmp_path: Path) -> None:
    source = tmp_path / "in-actorpack.yaml"
    source.write_text(ACTORS, encoding="utf-8")
    assert runner.invoke(app, ["import", str(source)]).exit_code == 0
    with session_scope(engine) as session:
        before = find_actors(session)
    out = tmp_path / "out" / "export-actorpack.yaml"
    result = runner.invoke(app, ["export", "--actors", "--out", str(out), "--creator", "Test Desk"])
    assert result.exit_code == 0, result.output
    assert "2 actors written" in result.output
    exported = parse_actorpack(out)  # schema and taxonomy validation
    assert exported.creator == "Test Desk"
    assert [a.id for a in exported.actors] == ["huobi", "lazarus"]
    original = parse_actorpack(source)
    assert [a.__dict__ | {"line": None} for a in exported.actors] == [
        a.__dict__ | {"line": None} for a in original.actors
    ]
    assert runner.invoke(app, ["import", str(out)]).exit_code == 0
    with session_scope(engine) as session:
        assert find_actors(session) == before  # the same actors, field for field

    only = tmp_path / "hackers-actorpack.yaml"
    assert runner.invoke(app, ["export", "--actors", "--category", "hacking", "--out", str(only)]).exit_code == 0
    assert [a.id for a in parse_actorpack(only).actors] == ["lazarus"]


def test_export_actors_errors(configured: str, tmp_path: Path) -> None:
    empty = runner.invoke(app, ["export", "--actors", "--out", str(tmp_path / "x-actorpack.yaml")])
    assert empty.exit_code != 0
    assert isinstance(empty.exception, InvalidInputError)
    assert "no actors" in str(empty.exception)
    named = runner.invoke(app, ["export", "--actors", "--out", str(tmp_path / "actors.yaml")])
    assert isinstance(named.exception, InvalidInputError)
    assert "actorpack.yaml" in str(named.exception)
