"""The ``chainsleuth world`` command group (tests/world owns it: it is the simulator's CLI)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from chainsleuth.cli.world_cmd import app
from chainsleuth.errors import InvalidInputError

runner = CliRunner()


def test_generate_summary_verify(tmp_path: Path) -> None:
    out = tmp_path / "w"
    result = runner.invoke(app, ["generate", "--out", str(out), "--size", "2500", "--seed", "5"])
    assert result.exit_code == 0, result.output
    assert (out / "manifest.json").is_file()
    result = runner.invoke(app, ["summary", str(out), "--json"])
    assert result.exit_code == 0
    body = json.loads(result.stdout)
    assert body["row_counts"]["bitcoin_transactions"] > 0
    assert any(i["typology"] == "phone_theft" for i in body["incidents"])
    result = runner.invoke(app, ["verify", str(out)])
    assert result.exit_code == 0, result.output


def test_generate_rejects_bad_input(tmp_path: Path) -> None:
    result = runner.invoke(app, ["generate", "--out", str(tmp_path / "w"), "--size", "enormous"])
    assert isinstance(result.exception, InvalidInputError)
    result = runner.invoke(app, ["generate", "--out", str(tmp_path / "w"), "--format", "xml"])
    assert isinstance(result.exception, InvalidInputError)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    result = runner.invoke(app, ["generate", "--out", str(tmp_path / "full")])
    assert isinstance(result.exception, InvalidInputError)


def test_help_documents_sizes() -> None:
    result = runner.invoke(app, ["generate", "--help"])
    assert result.exit_code == 0
    assert "tiny" in result.output
    assert "10m" in result.output
