"""Settings: defaults work, environment and TOML override them, and default secrets are refused outside the demo."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from chainsleuth.config import DEFAULT_SECRET_KEY, Settings, get_settings, make_settings
from chainsleuth.errors import ConfigurationError
from chainsleuth.privacy.keyfile import create_key_file, read_key_file


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "CHAINSLEUTH_DATA_DIR",
        "CHAINSLEUTH_DATABASE_URL",
        "CHAINSLEUTH_SECRET_KEY",
        "CHAINSLEUTH_CONFIG",
        "CHAINSLEUTH_DEMO",
        "CHAINSLEUTH_HOST",
        "CHAINSLEUTH_PORT",
    ):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
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


def test_invalid_values_are_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAINSLEUTH_PORT", "not-a-port")
    with pytest.raises(ConfigurationError, match="CHAINSLEUTH_PORT") as raised:
        make_settings()
    assert "not-a-port" in str(raised.value)
    with pytest.raises(ConfigurationError, match="port"):
        get_settings()


def test_unknown_toml_key_names_the_key_and_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text("prot = 8443\n")
    monkeypatch.setenv("CHAINSLEUTH_CONFIG", str(config))
    with pytest.raises(ConfigurationError, match="unknown setting 'prot'") as raised:
        get_settings()
    assert raised.value.details["file"] == str(config)


def test_malformed_toml_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text("port = = 1\n")
    monkeypatch.setenv("CHAINSLEUTH_CONFIG", str(config))
    with pytest.raises(ConfigurationError, match="not valid TOML") as raised:
        make_settings()
    assert raised.value.details["path"] == str(config)
    assert "line 1" in raised.value.message


def test_a_bad_secret_value_is_never_echoed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text("secret_key = 12345678901234567890\n")  # not a string
    monkeypatch.setenv("CHAINSLEUTH_CONFIG", str(config))
    with pytest.raises(ConfigurationError, match="secret_key") as raised:
        make_settings()
    assert "12345678901234567890" not in str(raised.value)


def test_service_refuses_default_secrets(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    with pytest.raises(ConfigurationError) as raised:
        settings.check_safe_for_service()
    assert "CHAINSLEUTH_SECRET_KEY" in str(raised.value)
    assert "encryption key file" in str(raised.value)


def test_demo_flag_does_not_bypass_the_secret_check(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", demo=True)
    create_key_file(settings.resolved_key_file)
    with pytest.raises(ConfigurationError, match="public default"):
        settings.check_safe_for_service()


def test_short_secrets_are_refused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", secret_key="short")
    create_key_file(settings.resolved_key_file)
    with pytest.raises(ConfigurationError, match="only 5 characters, at least 32"):
        settings.check_safe_for_service()


def test_demo_secret_is_random_private_and_reused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", demo=True).with_demo_secret()
    secret = settings.secret_key.get_secret_value()
    assert secret != DEFAULT_SECRET_KEY
    assert len(secret) >= 32
    assert settings.demo_secret_file.stat().st_mode & 0o777 == 0o600
    assert settings.uses_generated_demo_secret()
    again = Settings(data_dir=tmp_path / "data", demo=True).with_demo_secret()
    assert again.secret_key.get_secret_value() == secret  # sessions and tokens survive a restart
    other = Settings(data_dir=tmp_path / "other", demo=True).with_demo_secret()
    assert other.secret_key.get_secret_value() != secret  # one secret per data directory
    create_key_file(settings.resolved_key_file)
    settings.check_safe_for_service()  # loopback: fine


def test_explicit_secret_wins_over_the_demo_secret(tmp_path: Path) -> None:
    explicit = "an-explicit-secret-of-enough-length-0123456789"
    settings = Settings(data_dir=tmp_path / "data", demo=True, secret_key=explicit).with_demo_secret()
    assert settings.secret_key.get_secret_value() == explicit
    assert not settings.demo_secret_file.exists()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.4", "::", "demo.example.org"])
def test_demo_refuses_the_network_with_its_generated_secret(tmp_path: Path, host: str) -> None:
    settings = Settings(data_dir=tmp_path / "data", demo=True, host=host).with_demo_secret()
    with pytest.raises(ConfigurationError, match="non-loopback host"):
        settings.check_safe_for_service(require_key_file=False)
    explicit = settings.model_copy(update={"secret_key": SecretStr("an-explicit-secret-of-enough-length-0123456789")})
    explicit.check_safe_for_service(require_key_file=False)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.5"])
def test_demo_serves_loopback_with_its_generated_secret(tmp_path: Path, host: str) -> None:
    settings = Settings(data_dir=tmp_path / "data", demo=True, host=host).with_demo_secret()
    settings.check_safe_for_service(require_key_file=False)


def test_service_starts_with_real_secrets(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", secret_key="a-real-secret-of-some-length-123456")
    create_key_file(settings.resolved_key_file)
    assert settings.secret_key.get_secret_value() != DEFAULT_SECRET_KEY
    settings.check_safe_for_service()
    assert len(read_key_file(settings.resolved_key_file)) == 32
    assert settings.resolved_key_file.stat().st_mode & 0o777 == 0o600
