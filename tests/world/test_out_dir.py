"""``--force`` replaces an earlier world and nothing else: a user's own files are never deleted."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chainsleuth.cli.world_cmd import app
from chainsleuth.errors import InvalidInputError
from chainsleuth.world.generator import is_world_directory, prepare_out_dir

runner = CliRunner()


@pytest.fixture
def earlier_world(tiny_world: Path, tmp_path: Path) -> Path:
    """A private copy of the session's tiny world, so tests may add files to it or replace it."""
    copy = tmp_path / "world"
    shutil.copytree(tiny_world, copy)
    return copy


def test_force_refuses_a_directory_that_is_not_a_world(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.txt").write_text("three years of work")
    result = runner.invoke(app, ["generate", "--out", str(precious), "--size", "2000", "--force"])
    assert isinstance(result.exception, InvalidInputError)
    assert "not an earlier world" in str(result.exception)
    assert (precious / "thesis.txt").read_text() == "three years of work"
    assert sorted(p.name for p in precious.iterdir()) == ["thesis.txt"]


def test_force_refuses_a_world_holding_foreign_files(earlier_world: Path) -> None:
    (earlier_world / "ground_truth" / "notes.md").write_text("my analysis")
    (earlier_world / "scratch").mkdir()
    with pytest.raises(InvalidInputError, match="did not write") as raised:
        prepare_out_dir(earlier_world, force=True)
    assert "ground_truth/notes.md" in str(raised.value)
    assert (earlier_world / "ground_truth" / "notes.md").read_text() == "my analysis"
    assert (earlier_world / "manifest.json").is_file()
    assert not is_world_directory(earlier_world)


def test_force_refuses_a_manifest_of_another_tool(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text('{"files": {}}')
    with pytest.raises(InvalidInputError, match="not an earlier world"):
        prepare_out_dir(tmp_path, force=True)
    assert (tmp_path / "manifest.json").is_file()


def test_force_replaces_an_earlier_world(earlier_world: Path) -> None:
    before = (earlier_world / "manifest.json").read_text()
    assert is_world_directory(earlier_world)
    result = runner.invoke(app, ["generate", "--out", str(earlier_world), "--size", "2000", "--seed", "9", "--force"])
    assert result.exit_code == 0, result.output
    after = (earlier_world / "manifest.json").read_text()
    assert after != before
    assert '"seed": 9' in after
    assert is_world_directory(earlier_world)  # nothing of the old world is left over
