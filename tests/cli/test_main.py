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
    assert any(name.startswith("CHAINSLEUTH_SECRET_KEY") for name in shown["default_secrets_in_use"])


def test_config_show_masks_the_database_password(isolated: dict[str, str], tmp_path: Path) -> None:
    url = "postgresql+psycopg://analyst:hunter2-s3cret@db.example:5432/chainsleuth"
    result = run("config", "show", env={**isolated, "CHAINSLEUTH_DATABASE_URL": url}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "hunter2-s3cret" not in result.stdout
    shown = json.loads(result.stdout)
    assert shown["database_url"] == "postgresql+psycopg://analyst:***@db.example:5432/chainsleuth"
    assert shown["resolved_database_url"] == shown["database_url"]


def test_keys_init_refuses_to_overwrite(isolated: dict[str, str], tmp_path: Path) -> None:
    assert run("keys", "init", env=isolated, cwd=tmp_path).returncode == 0
    again = run("keys", "init", env=isolated, cwd=tmp_path)
    assert again.returncode == 75
    assert "already exists" in again.stderr


def test_serve_refuses_default_secrets_with_configuration_exit_code(isolated: dict[str, str], tmp_path: Path) -> None:
    result = run("serve", env=isolated, cwd=tmp_path)
    assert result.returncode == 78
    assert "refusing to start with unsafe settings" in result.stderr
    assert "public default" in result.stderr


def test_serve_refuses_a_short_secret(isolated: dict[str, str], tmp_path: Path) -> None:
    assert run("keys", "init", env=isolated, cwd=tmp_path).returncode == 0
    result = run("serve", env={**isolated, "CHAINSLEUTH_SECRET_KEY": "short"}, cwd=tmp_path)
    assert result.returncode == 78
    assert "at least 32" in result.stderr


def test_demo_flag_cannot_expose_serve_to_the_network(isolated: dict[str, str], tmp_path: Path) -> None:
    """CHAINSLEUTH_DEMO=1 used to skip the secret check; now serve uses the demo's random secret, loopback only."""
    assert run("keys", "init", env=isolated, cwd=tmp_path).returncode == 0
    env = {**isolated, "CHAINSLEUTH_DEMO": "1", "CHAINSLEUTH_HOST": "0.0.0.0"}
    result = run("serve", env=env, cwd=tmp_path)
    assert result.returncode == 78, result.stderr
    assert "non-loopback host 0.0.0.0" in result.stderr
    secret_file = tmp_path / "data" / "keys" / "demo-secret"
    assert secret_file.stat().st_mode & 0o777 == 0o600


def test_demo_refuses_a_network_host_before_preparing(tmp_path: Path) -> None:
    env = {"CHAINSLEUTH_CONFIG": "", "XDG_DATA_HOME": str(tmp_path)}
    result = run("demo", "--host", "0.0.0.0", "--no-serve", "--data-dir", str(tmp_path / "demo"), env=env, cwd=tmp_path)
    assert result.returncode == 78, result.stderr
    assert "explicit CHAINSLEUTH_SECRET_KEY" in result.stderr
    assert not (tmp_path / "demo" / "world").exists()  # refused before minutes of preparation


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [("CHAINSLEUTH_PORT", "abc", "CHAINSLEUTH_PORT"), ("CHAINSLEUTH_PORT", "70000", "less than or equal to 65535")],
)
def test_bad_environment_setting_exits_78(
    isolated: dict[str, str], tmp_path: Path, variable: str, value: str, expected: str
) -> None:
    result = run("config", "show", env={**isolated, variable: value}, cwd=tmp_path)
    assert result.returncode == 78
    assert "Traceback" not in result.stderr
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("content", "expected"),
    [("colour = 'blue'\n", "unknown setting 'colour'"), ("port = = 8000\n", "not valid TOML")],
)
def test_bad_settings_file_exits_78(isolated: dict[str, str], tmp_path: Path, content: str, expected: str) -> None:
    config = tmp_path / "site.toml"
    config.write_text(content)
    result = run("config", "show", env={**isolated, "CHAINSLEUTH_CONFIG": str(config)}, cwd=tmp_path)
    assert result.returncode == 78
    assert "Traceback" not in result.stderr
    assert expected in result.stderr
    assert str(config) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_long_errors_stay_on_one_line(isolated: dict[str, str], tmp_path: Path) -> None:
    deep = tmp_path / ("a-rather-long-directory-name-" * 6) / "[not]-a-world"
    result = run("world", "summary", str(deep), env={**isolated, "COLUMNS": "80"}, cwd=tmp_path)
    assert result.returncode == 66
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    assert str(deep) in lines[0]  # verbatim: no wrapping, no markup eaten


def test_missing_input_is_a_clear_error(isolated: dict[str, str], tmp_path: Path) -> None:
    result = run("world", "summary", str(tmp_path / "no-such-world"), env=isolated, cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr


def test_unknown_command_is_a_usage_error() -> None:
    result = run("no-such-command")
    assert result.returncode == 2
    assert "No such command" in result.stderr
