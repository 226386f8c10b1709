"""goAML configuration: the reporting entity's identifiers and the FIU's lookup codes.

Each FIU runs its own goAML instance with its own code lists, and registers each reporting entity under its own
id, so none of these values belong in code. The shipped ``example_config.toml`` holds generic values valid in
the 5.0.2 schema; a deployment's file (``CHAINSLEUTH_GOAML_CONFIG``, else ``<data dir>/goaml.toml``) is
merged over it key by key, so it only states what differs. Codes are checked against the schema's
enumerations when the configuration is loaded: a typo fails at start-up, not in front of the FIU.
"""

from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chainsleuth.errors import ConfigurationError

ENV_VARIABLE = "CHAINSLEUTH_GOAML_CONFIG"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReportingEntity(_Strict):
    rentity_id: int = Field(ge=1)
    rentity_branch: str = Field(max_length=255)
    institution_name: str = Field(min_length=1, max_length=255)
    institution_code: str = Field(min_length=1, max_length=50)
    institution_country: str = "-"
    branch: str = Field(min_length=1, max_length=255)
    transaction_location: str = Field(max_length=255)


class ReportingPerson(_Strict):
    title: str | None = Field(default=None, max_length=30)
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    email: str | None = None
    occupation: str | None = Field(default=None, max_length=255)


class Codes(_Strict):
    report_code: str
    submission_code: str
    currency_local: str
    usd_to_local_rate: float = Field(gt=0)
    transmode_comment: str = Field(min_length=1, max_length=1)
    tax_reg_number: str = Field(min_length=1, max_length=1)
    unknown_date: str
    unknown_text: str = Field(min_length=1)
    gender_unknown: str
    account_type: str
    account_role: str
    item_type: str
    external_institution_code: str = Field(min_length=1, max_length=50)
    include_original_script_names: bool = True
    transmode: dict[str, str]
    funds: dict[str, str]
    account_status: dict[str, str]
    identifier: dict[str, str]


class Indicators(_Strict):
    default: list[str] = Field(min_length=1)
    categories: dict[str, str] = Field(default_factory=dict)


class GoamlConfig(_Strict):
    """Everything the report builder needs that is not in the case."""

    reporting_entity: ReportingEntity
    reporting_person: ReportingPerson
    codes: Codes
    indicators: Indicators


#: Which configured code must be a value of which schema enumeration.
_ENUMERATED: tuple[tuple[str, str], ...] = (
    ("codes.report_code", "report_type"),
    ("codes.submission_code", "submission_type"),
    ("codes.currency_local", "currency_type"),
    ("codes.gender_unknown", "gender_type"),
    ("codes.account_type", "account_type"),
    ("codes.account_role", "account_person_role_type"),
    ("codes.item_type", "trans_item_type"),
    ("codes.transmode.*", "conduction_type"),
    ("codes.funds.*", "funds_type"),
    ("codes.account_status.*", "account_status_type"),
    ("codes.identifier.*", "identifier_type"),
    ("reporting_entity.institution_country", "country_type"),
    ("indicators.default[]", "report_indicator_type"),
    ("indicators.categories.*", "report_indicator_type"),
)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as error:
        raise ConfigurationError(f"cannot read the goAML configuration {path}: {error}", path=str(path)) from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigurationError(
            f"the goAML configuration {path} is not valid TOML: {error}", path=str(path)
        ) from error


def example_config_text() -> str:
    """The shipped example configuration (documented defaults)."""
    return resources.files("chainsleuth.cases.goaml").joinpath("example_config.toml").read_text("utf-8")


def _values(data: dict[str, Any], dotted: str) -> list[tuple[str, str]]:
    node: Any = data
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node[part]
    last = parts[-1]
    if last == "*":
        return [(f"{'.'.join(parts[:-1])}.{k}", v) for k, v in node.items()]
    if last.endswith("[]"):
        return [(dotted, v) for v in node[last[:-2]]]
    return [(dotted, node[last])]


def check_codes(config: GoamlConfig) -> None:
    """ConfigurationError naming every configured code that the schema's enumerations do not allow."""
    from chainsleuth.cases.goaml.validate import enumeration

    data = config.model_dump()
    problems = [
        f"{where}={value!r} is not a {type_name} code"
        for path, type_name in _ENUMERATED
        for where, value in _values(data, path)
        if value not in enumeration(type_name)
    ]
    if problems:
        raise ConfigurationError("invalid goAML codes in the configuration: " + "; ".join(problems))


def load_config(path: Path | None = None, *, data_dir: Path | None = None, use_environment: bool = True) -> GoamlConfig:
    """The example configuration merged with ``path`` (or the configured file), validated and code-checked."""
    data = tomllib.loads(example_config_text())
    if path is None and use_environment:
        explicit = os.environ.get(ENV_VARIABLE)
        if explicit:
            path = Path(explicit)
            if not path.is_file():
                raise ConfigurationError(f"{ENV_VARIABLE} names a file that does not exist", path=str(path))
        elif data_dir is not None and (data_dir / "goaml.toml").is_file():
            path = data_dir / "goaml.toml"
    if path is not None:
        data = _merge(data, _read_toml(path))
    try:
        config = GoamlConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigurationError(f"invalid goAML configuration: {error}", path=str(path) if path else None) from error
    check_codes(config)
    return config


@lru_cache(maxsize=1)
def default_config() -> GoamlConfig:
    """The shipped example configuration alone (tests, demo)."""
    return load_config(None, use_environment=False)
