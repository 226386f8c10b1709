"""Typed settings for every chainsleuth process.

Values come, highest priority first, from keyword arguments, ``CHAINSLEUTH_*`` environment variables, a TOML file
(``CHAINSLEUTH_CONFIG`` or ``./chainsleuth.toml``), and the defaults below. The defaults work with no configuration
at all so that ``chainsleuth demo`` runs on a fresh machine; :meth:`Settings.check_safe_for_service` refuses to serve
outside demo mode while a default secret is still in place.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from chainsleuth.errors import ConfigurationError

#: The well-known secret shipped for the demo. Anything outside demo mode must replace it.
DEFAULT_SECRET_KEY = "chainsleuth-demo-secret-do-not-use-in-production"


def _default_data_dir() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "chainsleuth"


def _config_file() -> Path | None:
    explicit = os.environ.get("CHAINSLEUTH_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigurationError("CHAINSLEUTH_CONFIG names a file that does not exist", path=str(path))
        return path
    local = Path("chainsleuth.toml")
    return local if local.is_file() else None


class Settings(BaseSettings):
    """Process-wide configuration."""

    model_config = SettingsConfigDict(env_prefix="CHAINSLEUTH_", extra="forbid", validate_default=True)

    data_dir: Path = Field(default_factory=_default_data_dir, description="Where stores, keys and exports live.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the relational store; default: SQLite file under the data directory.",
    )
    encryption_key_file: Path | None = Field(
        default=None, description="Key file for field-level encryption; default: keys/master.key in the data dir."
    )
    secret_key: SecretStr = Field(default=SecretStr(DEFAULT_SECRET_KEY), description="Signs sessions and tokens.")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    demo: bool = Field(default=False, description="Demo mode: default secrets allowed, seeded users created.")
    max_upload_bytes: int = Field(default=25 * 1024 * 1024, gt=0)

    @field_validator("data_dir", mode="after")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_path = _config_file()
        if toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to an SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'chainsleuth.db'}"

    @property
    def resolved_key_file(self) -> Path:
        return self.encryption_key_file or self.data_dir / "keys" / "master.key"

    @property
    def chain_dir(self) -> Path:
        """Root of the Parquet chain store."""
        return self.data_dir / "chain"

    def uses_default_secrets(self) -> list[str]:
        """Names of secrets still at their shipped defaults."""
        problems = []
        if self.secret_key.get_secret_value() == DEFAULT_SECRET_KEY:
            problems.append("CHAINSLEUTH_SECRET_KEY")
        if not self.resolved_key_file.is_file():
            problems.append(f"encryption key file {self.resolved_key_file} (create it with `chainsleuth keys init`)")
        return problems

    def check_safe_for_service(self) -> None:
        """Refuse to serve with default secrets unless this is the demo."""
        if self.demo:
            return
        problems = self.uses_default_secrets()
        if problems:
            raise ConfigurationError("refusing to start outside demo mode with default secrets: " + "; ".join(problems))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process settings, read once."""
    return Settings()


def make_settings(**overrides: Any) -> Settings:
    """Settings with explicit overrides (tests, CLI options)."""
    return Settings(**overrides)
