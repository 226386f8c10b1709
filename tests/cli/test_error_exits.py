"""Commands report "not found" through the error hierarchy (exit 66, one line), not a hard-coded exit 1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from chainsleuth.cli.errors import exit_code_for
from chainsleuth.cli.monitor_cmd import app as monitor_app
from chainsleuth.cli.tags_cmd import app as tags_app
from chainsleuth.config import get_settings
from chainsleuth.errors import NotFoundError

runner = CliRunner()


@pytest.fixture
def configured(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("CHAINSLEUTH_DATABASE_URL", database_url)
    monkeypatch.setenv("CHAINSLEUTH_CONFIG", "")
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()


def test_tags_show_without_tags_is_not_found(configured: str) -> None:
    result = runner.invoke(tags_app, ["show", "bc1qnobodyknowsthis", "--network", "bitcoin"])
    assert isinstance(result.exception, NotFoundError), result.output
    assert exit_code_for(result.exception) == 66
    assert result.exception.details == {"address": "bc1qnobodyknowsthis", "network": "bitcoin"}
    as_json = runner.invoke(tags_app, ["show", "bc1qnobodyknowsthis", "--network", "bitcoin", "--json"])
    assert as_json.exit_code == 0
    assert as_json.stdout.strip() == "[]"


def test_monitor_rules_show_unknown_rule_is_not_found() -> None:
    result = runner.invoke(monitor_app, ["rules", "show", "no-such-rule"])
    assert isinstance(result.exception, NotFoundError)
    assert exit_code_for(result.exception) == 66
    assert "monitor rules list" in str(result.exception)
