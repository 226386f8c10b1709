"""Rule files: YAML and TOML, errors naming file, rule, line and column, and content hashes."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainsleuth.monitor.rules.loader import RuleFileError, load_rules
from tests.monitor.rule_helpers import rules_from_text

GOOD = """\
lists:
  risky: [KP, IR]
rules:
  - id: big-deposit
    version: 1
    title: Big deposit
    severity: medium
    scope: [deposit]
    params: {limit: 1000}
    aggregates:
      total_1d: sum(usd_value, by=customer, window=24h)
    condition: usd_value > limit and total_1d > 2 * limit
    explain: "USD {usd_value} (day total {total_1d}, limit {limit})"
"""


def test_yaml_rule_loads(tmp_path: Path) -> None:
    rules = rules_from_text(tmp_path, GOOD)
    rule = rules.get("big-deposit")
    assert rule.mode == "active"
    assert rule.subject == "customer"
    assert rule.line == 4
    assert list(rule.named) == ["total_1d"]
    assert rules.lists == {"risky": ("KP", "IR")}


def test_error_in_plain_condition_points_into_the_file(tmp_path: Path) -> None:
    text = GOOD.replace("condition: usd_value > limit and", "condition: usd_value > limit and $")
    with pytest.raises(RuleFileError) as caught:
        rules_from_text(tmp_path, text)
    error = caught.value
    assert error.rule == "big-deposit"
    assert error.line == 12
    assert error.column == text.splitlines()[11].index("$") + 1
    assert str(error).startswith(f"{tmp_path / 'rules.yaml'}:12:{error.column}: rule 'big-deposit': ")


def test_error_in_block_condition_and_aggregate(tmp_path: Path) -> None:
    text = GOOD.replace(
        "    condition: usd_value > limit and total_1d > 2 * limit\n",
        "    condition: >-\n      usd_value > limit\n      and frobnicate(total_1d)\n",
    )
    with pytest.raises(RuleFileError) as caught:
        rules_from_text(tmp_path, text)
    assert (caught.value.line, caught.value.column) == (14, 11)
    assert "unknown function 'frobnicate'" in str(caught.value)
    bad_agg = GOOD.replace("window=24h", "window=24x")
    with pytest.raises(RuleFileError) as caught:
        rules_from_text(tmp_path, bad_agg)
    assert caught.value.line == 11
    assert caught.value.rule == "big-deposit"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("severity: medium", "severity: dire"), "'severity' must be one of"),
        (("scope: [deposit]", "scope: [teleport]"), "unknown event type 'teleport'"),
        (("version: 1", "version: one"), "'version' must be a positive integer"),
        (("    title: Big deposit\n", "    title: Big deposit\n    colour: red\n"), "unknown key 'colour'"),
        (
            ("condition: usd_value > limit and total_1d > 2 * limit", "condition: usd_value + limit"),
            "the condition must be true/false",
        ),
        (("id: big-deposit", "id: Big Deposit!"), "'id' must be lower-case"),
        (("params: {limit: 1000}", "params: {risky: 1000, limit: 1}"), "shadows a list"),
    ],
)
def test_invalid_rules_are_refused(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    with pytest.raises(RuleFileError) as caught:
        rules_from_text(tmp_path, GOOD.replace(*change))
    assert message in str(caught.value)


def test_broken_yaml_and_duplicates(tmp_path: Path) -> None:
    with pytest.raises(RuleFileError) as caught:
        rules_from_text(tmp_path, "rules: [\n  - id: x\n")
    assert caught.value.line == 2
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text(GOOD)
    with pytest.raises(RuleFileError, match="duplicate rule id"):
        load_rules([tmp_path / "a.yaml", tmp_path / "b.yaml"])
    with pytest.raises(RuleFileError, match="no such rule file"):
        load_rules([tmp_path / "missing.yaml"])


def test_toml_rules(tmp_path: Path) -> None:
    text = """
[lists]
risky = ["KP"]

[[rules]]
id = "toml-rule"
version = 2
title = "From TOML"
severity = "low"
mode = "shadow"
scope = ["login"]
condition = "in_list(ip_country, 'risky')"
"""
    rules = rules_from_text(tmp_path, text, "rules.toml")
    assert rules.get("toml-rule").mode == "shadow"
    with pytest.raises(RuleFileError) as caught:
        rules_from_text(tmp_path, text.replace("'risky')", "'risky') and"), "broken.toml")
    assert caught.value.rule == "toml-rule"
    assert caught.value.line == 12  # the condition's line


def test_content_hash_tracks_logic_not_prose(tmp_path: Path) -> None:
    base = rules_from_text(tmp_path, GOOD).get("big-deposit").content_hash
    prose = GOOD.replace("title: Big deposit", "title: A big deposit").replace(
        "    severity", "    mode: shadow\n    severity"
    )
    assert rules_from_text(tmp_path, prose).get("big-deposit").content_hash == base
    for change in (("limit: 1000", "limit: 2000"), ("window=24h", "window=48h"), ("version: 1", "version: 2")):
        assert rules_from_text(tmp_path, GOOD.replace(*change)).get("big-deposit").content_hash != base
    listed = GOOD.replace("usd_value > limit and", "in_list(ip_country, 'risky') and usd_value > limit and")
    first = rules_from_text(tmp_path, listed).get("big-deposit").content_hash
    changed = rules_from_text(tmp_path, listed.replace("[KP, IR]", "[KP]")).get("big-deposit").content_hash
    assert first != changed
