"""Typed settings for every chainsleuth process.

Values come, highest priority first, from keyword arguments, ``CHAINSLEUTH_*`` environment variables, a TOML file
(``CHAINSLEUTH_CONFIG`` or ``./chainsleuth.toml``), and the defaults below. The defaults work with no configuration
at all so that ``chainsleuth demo`` runs on a fresh machine.

The shipped secret key is public (it is in this file), and API tokens are only an HMAC of the username under it, so
serving with it would let anyone forge an administrator's token. :meth:`Settings.check_safe_for_service` therefore
refuses to serve with the default or a short secret in every mode. The demo does not use the default either: it
generates a random secret once per data directory (:meth:`Settings.with_demo_secret`) and may serve with it only on a
loopback interface; exposing a demo to the network needs an explicit secret.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from chainsleuth.errors import ConfigurationError

#: The well-known placeholder secret. It is public, so no server may run with it (not even the demo).
DEFAULT_SECRET_KEY = "chainsleuth-demo-secret-do-not-use-in-production"

#: Shortest secret key a server accepts: 32 characters of `chainsleuth keys secret` output carry ~190 random bits.
MIN_SECRET_KEY_LENGTH = 32

#: Where the demo keeps its generated secret, relative to the data directory (owner-only permissions).
DEMO_SECRET_FILE = Path("keys") / "demo-secret"


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
    demo: bool = Field(
        default=False,
        description="Demo mode: seeded users, demo shortcuts; a generated secret, served on loopback only.",
    )
    max_upload_bytes: int = Field(default=25 * 1024 * 1024, gt=0)
    spark_master: str = Field(
        default="local[*]",
        description="Spark master URL for the distributed batch jobs (`--engine spark`); local[*] uses this machine.",
    )

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

    @property
    def demo_secret_file(self) -> Path:
        """The demo's generated secret for this data directory."""
        return self.data_dir / DEMO_SECRET_FILE

    def uses_default_secrets(self) -> list[str]:
        """Names of secrets still at their shipped defaults (or too weak to serve with)."""
        problems = []
        secret = self.secret_key.get_secret_value()
        if secret == DEFAULT_SECRET_KEY:
            problems.append(
                "CHAINSLEUTH_SECRET_KEY (still the public default; create one with `chainsleuth keys secret`)"
            )
        elif len(secret) < MIN_SECRET_KEY_LENGTH:
            problems.append(
                f"CHAINSLEUTH_SECRET_KEY (only {len(secret)} characters, at least {MIN_SECRET_KEY_LENGTH} needed; "
                "create one with `chainsleuth keys secret`)"
            )
        if not self.resolved_key_file.is_file():
            problems.append(f"encryption key file {self.resolved_key_file} (create it with `chainsleuth keys init`)")
        return problems

    def uses_generated_demo_secret(self) -> bool:
        """True if the secret key is the one the demo generated for this data directory."""
        path = self.demo_secret_file
        return path.is_file() and self.secret_key.get_secret_value() == path.read_text(encoding="utf-8").strip()

    def with_demo_secret(self) -> Settings:
        """These settings with the demo's random secret for this data directory, created on first use.

        Only replaces the public default: an explicit secret (environment or TOML) wins, so an operator who wants to
        show the demo on the network sets one. The file is reused on later runs so that sessions, tokens and the
        academy's seeds stay valid across restarts.
        """
        if self.secret_key.get_secret_value() != DEFAULT_SECRET_KEY:
            return self
        return self.model_copy(update={"secret_key": SecretStr(_read_or_create_secret(self.demo_secret_file))})

    def check_safe_for_service(self, *, require_key_file: bool = True) -> None:
        """Refuse to serve with a public or weak secret, without the key file, or a demo reachable from the network.

        Demo mode is no exception to the secret check: the demo's own secret comes from :meth:`with_demo_secret`.
        ``require_key_file=False`` lets the demo check before it creates the key file itself.
        """
        problems = [
            p for p in self.uses_default_secrets() if require_key_file or not p.startswith("encryption key file")
        ]
        if self.demo and not _is_loopback(self.host) and self.uses_generated_demo_secret():
            problems.append(
                f"demo mode on the non-loopback host {self.host} needs an explicit CHAINSLEUTH_SECRET_KEY "
                "(the demo's generated secret and seeded passwords are for this machine only)"
            )
        if problems:
            raise ConfigurationError("refusing to start with unsafe settings: " + "; ".join(problems))


def _is_loopback(host: str) -> bool:
    """True for an interface reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve to anything


def _read_or_create_secret(path: Path) -> str:
    """The secret stored in ``path``, or a fresh random one written there with owner-only permissions."""
    if path.is_file():
        value = path.read_text(encoding="utf-8").strip()
        if len(value) >= MIN_SECRET_KEY_LENGTH:
            return value
        raise ConfigurationError("the demo secret file is too short; delete it to generate a new one", path=str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another demo process created it first: use theirs
        return _read_or_create_secret(path)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return value


def _describe_validation_error(error: ValidationError) -> str:
    """One line naming each bad setting, its environment variable and why it is wrong (never a secret's value)."""
    parts = []
    for item in error.errors():
        name = ".".join(str(part) for part in item["loc"]) or "settings"
        if item["type"] == "extra_forbidden":
            parts.append(f"unknown setting {name!r}")
            continue
        shown = ""
        if name != "secret_key" and isinstance(item.get("input"), str | int | float):
            shown = f" (got {str(item['input'])[:60]!r})"
        parts.append(f"{name} (CHAINSLEUTH_{name.upper()}): {item['msg']}{shown}")
    return "; ".join(parts)


def load_settings(**overrides: Any) -> Settings:
    """Build settings, turning every way they can be wrong into one ConfigurationError that names the culprit."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        source = _config_file()
        where = {"file": str(source)} if source is not None else {}
        raise ConfigurationError("invalid settings: " + _describe_validation_error(error), **where) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigurationError(f"the settings file is not valid TOML: {error}", path=str(_config_file())) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process settings, read once."""
    return load_settings()


def make_settings(**overrides: Any) -> Settings:
    """Settings with explicit overrides (tests, CLI options)."""
    return load_settings(**overrides)
