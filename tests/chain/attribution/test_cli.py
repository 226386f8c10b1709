"""``chainsleuth tags``: import, import-ofac, add, show, export and taxonomy end to end (SQLite)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chainsleuth.chain.attribution.tagpack import parse_tagpack
from chainsleuth.cli.tags_cmd import app
from chainsleuth.config import get_settings
from chainsleuth.errors import InvalidInputError, MalformedFileError

from .conftest import OFAC, SMALL_PACK

runner = CliRunner()


@pytest.fixture
def configured(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("CHAINSLEUTH_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_tags_commands(configured: str, tmp_path: Path) -> None:
    packs = tmp_path / "packs"
    packs.mkdir()
    (packs / "small.yaml").write_text(SMALL_PACK, encoding="utf-8")
    imported = runner.invoke(app, ["import", str(packs), "--json"])
    assert imported.exit_code == 0, imported.output
    report = json.loads(imported.stdout)
    assert [(r["status"], r["imported"]) for r in report] == [("imported", 3)]
    again = json.loads(runner.invoke(app, ["import", str(packs / "small.yaml"), "--json"]).stdout)
    assert again[0]["status"] == "unchanged"

    (packs / "bad.yaml").write_text(SMALL_PACK.replace("confidence: web_crawl", "confidence: sure"), encoding="utf-8")
    refused = runner.invoke(app, ["import", str(packs)])
    assert isinstance(refused.exception, MalformedFileError)
    assert refused.exception.line == 21

    if OFAC.is_dir():
        assert runner.invoke(app, ["import-ofac", str(OFAC), "--date", "2024-09-27"]).exit_code == 0
        assert runner.invoke(app, ["import-ofac", str(OFAC), "--date", "soon"]).exit_code != 0

    kraken = "3G3VG4X1WquWjqXT27JRwrRoyZgdyWf1dT"
    options = "--network bitcoin --category hot_wallet --confidence forensic_investigation --creator alice"
    added = runner.invoke(app, ["add", kraken, *options.split(), "--label", "Kraken hot wallet", "--source", "case 5"])
    assert added.exit_code == 0, added.output
    wrong = runner.invoke(
        app,
        [
            "add",
            "x1",
            "-n",
            "bitcoin",
            "--label",
            "x",
            "--category",
            "nope",
            "--source",
            "s",
            "--confidence",
            "web_crawl",
        ],
    )
    assert isinstance(wrong.exception, InvalidInputError)

    shown = runner.invoke(app, ["show", "3G3VG4X1WquWjqXT27JRwrRoyZgdyWf1dT", "--network", "BTC", "--json"])
    assert shown.exit_code == 0, shown.output
    tags = json.loads(shown.stdout)
    assert [tag["label"] for tag in tags] == ["Kraken hot wallet", "Kraken.com"]  # by confidence
    assert {tag["creator"] for tag in tags} == {"alice", "Test Team"}
    table = runner.invoke(app, ["show", "3G3VG4X1WquWjqXT27JRwrRoyZgdyWf1dT", "--network", "bitcoin"])
    assert "case 5" in table.stdout
    assert "conflict" in table.output
    assert runner.invoke(app, ["show", "1Unknown", "-n", "bitcoin"]).exit_code == 1

    out = tmp_path / "analyst.yaml"
    exported = runner.invoke(app, ["export", "--out", str(out), "--origin", "analyst"])
    assert exported.exit_code == 0, exported.output
    assert [tag.label for tag in parse_tagpack(out).tags] == ["Kraken hot wallet"]

    concepts = runner.invoke(app, ["taxonomy", "concepts"])
    assert "sanction" in concepts.stdout
    assert "authority_data" in runner.invoke(app, ["taxonomy", "confidence"]).stdout
    assert runner.invoke(app, ["taxonomy", "colours"]).exit_code != 0
