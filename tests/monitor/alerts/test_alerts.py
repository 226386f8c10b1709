"""Alerts: de-duplication, scoring, queues, shadow mode, and storage on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, func, select

from chainsleuth.monitor.alerts.book import build_alerts, combine, queue_for
from chainsleuth.monitor.alerts.store import (
    get_alert,
    list_alerts,
    queue_counts,
    register_rules,
    rule_versions,
    store_alerts,
    store_backtest,
)
from chainsleuth.monitor.engine.streaming import run_streaming
from chainsleuth.store.db import session_scope
from chainsleuth.store.models.alerts import MonitorAlert, MonitorShadowHit
from tests.monitor.rule_helpers import event, library, rules_from_text

RULES = """\
rules:
  - id: big
    version: 1
    title: Big deposit
    severity: high
    scope: [deposit]
    dedup_window: 24h
    aggregates:
      day_total: sum(usd_value, by=customer, window=24h)
    condition: usd_value >= 1000
    explain: "Deposit of USD {usd_value}"
  - id: many
    version: 1
    title: Many deposits
    severity: medium
    scope: [deposit]
    aggregates:
      n: count(by=customer, window=24h)
    condition: n >= 2
  - id: candidate
    version: 1
    title: Candidate rule
    severity: critical
    mode: shadow
    scope: [deposit]
    condition: usd_value >= 5000
"""


def deposits() -> list[dict[str, object]]:
    return [
        event("deposit", 0, usd_value=1_500.0),
        event("deposit", 0.5, "C0000002", usd_value=10.0),
        event("deposit", 5, usd_value=6_000.0),  # same episode: updates the 'big' alert
        event("deposit", 60, usd_value=2_000.0),  # 55 h later: a new 'big' episode
    ]


def test_dedup_scoring_and_shadow(tmp_path: Path) -> None:
    rules = rules_from_text(tmp_path, RULES)
    hits = run_streaming(deposits(), rules)
    book = build_alerts(hits, rules)
    big = [alert for alert in book.alerts if alert.rule_id == "big"]
    assert [(a.hit_count, len(a.event_ids)) for a in big] == [(2, 2), (1, 1)]
    assert big[0].explanation == "Deposit of USD 6,000"
    assert big[0].values["usd_value"] == 6_000.0
    assert big[0].expression == "usd_value >= 1000"
    assert big[0].thresholds == {}
    many = [alert for alert in book.alerts if alert.rule_id == "many"]
    assert len(many) == 1
    assert many[0].score == 25.0
    # Two rules on the same customer: noisy-OR of 50 and 25.
    assert many[0].combined_score == combine([50.0, 25.0]) == 62.5
    assert big[-1].combined_score == 62.5
    # The shadow rule hit but raised nothing.
    assert [hit.rule_id for hit in book.shadow_hits] == ["candidate"]
    assert all(alert.rule_id != "candidate" for alert in book.alerts)


def test_queues() -> None:
    rules = library()
    assert queue_for(rules.get("exposure-sanctions")) == "sanctions"
    assert queue_for(rules.get("exposure-scam")) == "fraud"
    assert queue_for(rules.get("credential-change-full-withdrawal")) == "fraud"
    assert queue_for(rules.get("structuring-below-threshold")) == "aml-high"
    assert queue_for(rules.get("round-amounts")) == "aml-standard"


def test_alerts_are_stored_and_deduplicated_across_runs(engine: Engine, tmp_path: Path) -> None:
    rules = rules_from_text(tmp_path, RULES)
    events = deposits()
    first = build_alerts(run_streaming(events[:3], rules), rules)
    with session_scope(engine) as session:
        report = store_alerts(session, first, rules)
    assert (report.created, report.updated, report.shadow_hits) == (2, 0, 1)
    # A later run over overlapping history: the open 'big' alert is updated, not duplicated.
    again = build_alerts(run_streaming(events, rules), rules)
    with session_scope(engine) as session:
        report = store_alerts(session, again, rules)
        assert report.shadow_hits == 0  # the candidate's hit was already recorded by the first run
        rows, total = list_alerts(session, rule_id="big")
        assert total == 2
        episode = next(row for row in rows if row.hit_count == 2)
        assert len(episode.event_ids) == 2
        assert episode.rule_hash == rules.get("big").content_hash
        assert episode.details["expression"] == "usd_value >= 1000"
        assert get_alert(session, episode.id).queue == "aml-high"
        assert session.scalar(select(func.count()).select_from(MonitorShadowHit)) == 1
        assert session.scalar(select(func.count()).select_from(MonitorAlert)) == 3
        assert queue_counts(session) == {"aml-high": 2, "aml-standard": 1}
        assert {row.combined_score for row in rows} == {62.5}
        store_backtest(session, "test", "batch", rules, {"overall": {}})


def test_a_closed_alert_stays_closed_when_the_same_history_is_run_again(engine: Engine, tmp_path: Path) -> None:
    rules = rules_from_text(tmp_path, RULES)
    events = deposits()
    with session_scope(engine) as session:
        store_alerts(session, build_alerts(run_streaming(events[:2], rules), rules), rules)
        big = session.scalars(select(MonitorAlert).where(MonitorAlert.rule_id == "big")).one()
        big.status = "closed"
    with session_scope(engine) as session:  # the same history again: nothing new, nothing reopened
        report = store_alerts(session, build_alerts(run_streaming(events[:2], rules), rules), rules)
        assert (report.created, report.skipped_closed) == (0, 1)
        assert session.scalar(select(func.count()).select_from(MonitorAlert).where(MonitorAlert.rule_id == "big")) == 1
    with session_scope(engine) as session:  # the episode went on after the close: one new alert, new events only
        report = store_alerts(session, build_alerts(run_streaming(events[:3], rules), rules), rules)
        assert report.created == 2  # the follow-up of 'big', and 'many' firing for the first time
        rows = session.scalars(select(MonitorAlert).where(MonitorAlert.rule_id == "big").order_by(MonitorAlert.id))
        closed, follow_up = list(rows)
        assert closed.status == "closed"
        assert follow_up.status == "open"
        assert follow_up.event_ids == [events[2]["event_id"]]
        assert follow_up.hit_count == 1
    with session_scope(engine) as session:  # and that is not duplicated either
        report = store_alerts(session, build_alerts(run_streaming(events[:3], rules), rules), rules)
        assert report.created == 0
        assert session.scalar(select(func.count()).select_from(MonitorAlert).where(MonitorAlert.rule_id == "big")) == 2


def test_an_episode_that_gets_worse_raises_its_stored_severity(engine: Engine, tmp_path: Path) -> None:
    rules = rules_from_text(tmp_path, RULES)
    bumped = RULES.replace(
        "version: 1\n    title: Big deposit\n    severity: high",
        "version: 2\n    title: Big deposit\n    severity: critical",
    )
    worse = rules_from_text(tmp_path, bumped, name="v2.yaml")
    assert worse.get("big").severity == "critical"
    events = deposits()
    with session_scope(engine) as session:
        store_alerts(session, build_alerts(run_streaming(events[:1], rules), rules), rules)
    with session_scope(engine) as session:
        report = store_alerts(session, build_alerts(run_streaming(events[:3], worse), worse), worse)
        assert report.updated >= 1
        big = session.scalars(select(MonitorAlert).where(MonitorAlert.rule_id == "big")).one()
        assert big.severity == "critical"
        assert big.score == worse.get("big").base_score
        assert big.hit_count == 2


def test_rule_versions_are_kept(engine: Engine, tmp_path: Path) -> None:
    rules = rules_from_text(tmp_path, RULES)
    changed = rules_from_text(tmp_path, RULES.replace("usd_value >= 1000", "usd_value >= 2000"), "v2.yaml")
    with session_scope(engine) as session:
        assert register_rules(session, rules)["big"] == 1
        assert register_rules(session, rules)["big"] == 1  # unchanged: same revision
        assert register_rules(session, changed)["big"] == 2
        versions = rule_versions(session, "big")
        assert [v.revision for v in versions] == [1, 2]
        assert versions[0].definition["condition"] == "usd_value >= 1000"
