"""Settings: defaults work, environment and TOML override them, and default secrets are refused outside the demo."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainsleuth.config import DEFAULT_SECRET_KEY, Settings
from chainsleuth.errors import ConfigurationError
from chainsleuth.privacy.keyfile import create_key_file, read_key_file


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("CHAINSLEUTH_DATA_DIR", "CHAINSLEUTH_DATABASE_URL", "CHAINSLEUTH_SECRET_KEY", "CHAINSLEUTH_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


def test_defaults_need_no_configuration(tmp_path: Path) -> None:
    settings = Settings()
    assert settings.data_dir == tmp_path / "xdg" / "chainsleuth"
    assert settings.resolved_database_url == f"sqlite:///{settings.data_dir / 'chainsleuth.db'}"
    assert settings.resolved_key_file == settings.data_dir / "keys" / "master.key"
    assert settings.port == 8000


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CHAINSLEUTH_DATA_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("CHAINSLEUTH_PORT", "9123")
    settings = Settings()
    assert settings.data_dir == tmp_path / "elsewhere"
    assert settings.port == 9123


def test_toml_file_is_read_and_environment_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text('port = 8443\nhost = "0.0.0.0"\n')
    monkeypatch.setenv("CHAINSLEUTH_CONFIG", str(config))
    assert Settings().port == 8443
    monkeypatch.setenv("CHAINSLEUTH_PORT", "8500")
    settings = Settings()
    assert (settings.port, settings.host) == (8500, "0.0.0.0")


def test_local_toml_file_is_picked_up(tmp_path: Path) -> None:
    (tmp_path / "chainsleuth.toml").write_text("port = 8111\n")
    assert Settings().port == 8111


def test_missing_config_file_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CHAINSLEUTH_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigurationError, match="does not exist"):
        Settings()


def test_invalid_values_are_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAINSLEUTH_PORT", "not-a-port")
    with pytest.raises(ValueError, match="port"):
        Settings()


def test_service_refuses_default_secrets_outside_demo(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    with pytest.raises(ConfigurationError) as raised:
        settings.check_safe_for_service()
    assert "CHAINSLEUTH_SECRET_KEY" in str(raised.value)
    assert "encryption key file" in str(raised.value)


def test_demo_mode_allows_default_secrets(tmp_path: Path) -> None:
    Settings(data_dir=tmp_path / "data", demo=True).check_safe_for_service()


def test_service_starts_with_real_secrets(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", secret_key="a-real-secret-of-some-length-123456")
    create_key_file(settings.resolved_key_file)
    assert settings.secret_key.get_secret_value() != DEFAULT_SECRET_KEY
    settings.check_safe_for_service()
    assert len(read_key_file(settings.resolved_key_file)) == 32
    assert settings.resolved_key_file.stat().st_mode & 0o777 == 0o600
