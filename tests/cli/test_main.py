"""The ``chainsleuth`` command as a user runs it: groups listed, clear errors, meaningful exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "chainsleuth", *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=cwd,
        timeout=120,
        check=False,
    )


@pytest.fixture
def isolated(tmp_path: Path) -> dict[str, str]:
    return {"CHAINSLEUTH_DATA_DIR": str(tmp_path / "data"), "CHAINSLEUTH_CONFIG": "", "XDG_DATA_HOME": str(tmp_path)}


def test_help_lists_every_capability_group() -> None:
    result = run("--help")
    assert result.returncode == 0
    for group in ("world", "db", "ingest", "chain", "tags", "serve", "demo", "config", "keys"):
        assert group in result.stdout


def test_config_show_masks_the_secret(isolated: dict[str, str], tmp_path: Path) -> None:
    result = run("config", "show", env=isolated, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["secret_key"] == "***"
    assert shown["data_dir"] == isolated["CHAINSLEUTH_DATA_DIR"]
    assert "CHAINSLEUTH_SECRET_KEY" in shown["default_secrets_in_use"]


def test_keys_init_refuses_to_overwrite(isolated: dict[str, str], tmp_path: Path) -> None:
    assert run("keys", "init", env=isolated, cwd=tmp_path).returncode == 0
    again = run("keys", "init", env=isolated, cwd=tmp_path)
    assert again.returncode == 75
    assert "already exists" in again.stderr


def test_serve_refuses_default_secrets_with_configuration_exit_code(isolated: dict[str, str], tmp_path: Path) -> None:
    result = run("serve", env=isolated, cwd=tmp_path)
    assert result.returncode == 78
    assert "refusing to start outside demo mode" in result.stderr


def test_missing_input_is_a_clear_error(isolated: dict[str, str], tmp_path: Path) -> None:
    result = run("world", "summary", str(tmp_path / "no-such-world"), env=isolated, cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr


def test_unknown_command_is_a_usage_error() -> None:
    result = run("no-such-command")
    assert result.returncode == 2
    assert "No such command" in result.stderr
