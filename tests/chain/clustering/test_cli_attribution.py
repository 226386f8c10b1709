"""``chain cluster show`` prints the cluster's attribution with its conflicting tags (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from chainsleuth.chain.attribution.store import add_tag
from chainsleuth.chain.clustering.persist import ClusterStore
from chainsleuth.cli.cluster_cmd import app
from chainsleuth.config import get_settings
from chainsleuth.store.db import session_scope

from .conftest import TinyWorld

runner = CliRunner()


@pytest.fixture
def configured(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("CHAINSLEUTH_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()


def _two_members(tiny_world: TinyWorld) -> tuple[str, str]:
    store = str(tiny_world.store.root)
    assert runner.invoke(app, ["run", "--store", store]).exit_code == 0
    cluster_of = ClusterStore(tiny_world.store.root, "bitcoin").cluster_of()
    sizes = np.bincount(cluster_of)
    cluster = int(np.flatnonzero(sizes >= 2)[0])
    first, second = np.flatnonzero(cluster_of == cluster)[:2].tolist()
    return tiny_world.store.address("bitcoin", first), tiny_world.store.address("bitcoin", second)


def test_show_prints_attribution_and_conflicts(tiny_world: TinyWorld, configured: str, engine: Engine) -> None:
    first, second = _two_members(tiny_world)
    with session_scope(engine) as session:
        add_tag(session, creator="alice", network="bitcoin", address=first, label="Example Exchange",
                category="exchange", source="case 17", confidence="forensic")  # fmt: skip
        add_tag(session, creator="bob", network="bitcoin", address=second, label="Locky ransomware",
                abuse="ransomware", source="https://ransomwhe.re", confidence="web_crawl")  # fmt: skip
    result = runner.invoke(app, ["show", second, "--store", str(tiny_world.store.root)])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    attribution = shown["attribution"]
    assert attribution["conflict"] is True
    assert attribution["conflicts"], "the disagreement is listed"
    assert {t["label"] for t in attribution["tags"]} == {"Example Exchange", "Locky ransomware"}
    assert {t["creator"] for t in attribution["tags"]} == {"alice", "bob"}
    assert attribution["label"] == "Example Exchange"  # the more trusted tag is shown, the other kept
    assert "conflict:" in result.stderr


def test_show_without_tags_or_with_no_tags_flag(tiny_world: TinyWorld, configured: str) -> None:
    first, _ = _two_members(tiny_world)
    result = runner.invoke(app, ["show", first, "--store", str(tiny_world.store.root)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["attribution"] is None
    plain = runner.invoke(app, ["show", first, "--no-tags", "--store", str(tiny_world.store.root)])
    assert plain.exit_code == 0, plain.output
    assert "attribution" not in json.loads(plain.stdout)
