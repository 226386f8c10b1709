"""Property: on any event sequence, the batch engine (DuckDB) and the streaming engine give identical hits and
identical alerts, values included, bit for bit.

The generated sequences are built to hit the hard cases: many events in the same microsecond, gaps of exactly
one window (the inclusive edge), null keys (events without a device or address), values whose float sums are
inexact, and aggregates of every kind over every key.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chainsleuth.monitor.alerts.book import build_alerts
from chainsleuth.monitor.engine.batch import run_batch
from chainsleuth.monitor.engine.context import EngineContext
from chainsleuth.monitor.engine.streaming import StreamingState, run_streaming
from chainsleuth.monitor.rules.loader import load_file
from chainsleuth.monitor.rules.model import RuleSet
from tests.monitor.rule_helpers import T0, customer

RULES = """\
rules:
  - id: p-structuring
    version: 1
    title: p1
    severity: high
    scope: [deposit, withdrawal, fiat_deposit]
    aggregates:
      near: count(by=customer, window=1h, where=usd_value >= 9000 and usd_value < 10000)
      total: sum(usd_value, by=account, window=2h)
      mean: avg(usd_value, by=customer, window=1h, where=event_type != "withdrawal")
    condition: near >= 2 or total > 20000.3 or mean > 9999.9
  - id: p-devices
    version: 1
    title: p2
    severity: medium
    subject: device
    scope: [login]
    aggregates:
      people: distinct_count(customer_id, by=device, window=1h)
      fails: count(by=ip, window=30m, where=success == false)
    condition: people >= 2 or fails >= 2
  - id: p-extremes
    version: 1
    title: p3
    severity: low
    scope: [withdrawal, deposit]
    aggregates:
      top: max(usd_value, by=address, window=1h)
      low: min(usd_value, by=customer, window=1h)
      first: min(timestamp, by=customer, window=2h)
      last_country: max(ip_country, by=customer, window=1h)
    condition: (top >= 2 * usd_value and low < 0.3) or hours_between(first, timestamp) >= 1.5
      or last_country == "NG" or round_amount(usd_value, 1000) == usd_value
  - id: p-funnel
    version: 1
    title: p4
    severity: high
    subject: counterparty
    scope: [internal_transfer]
    aggregates:
      senders: distinct_count(customer_id, by=counterparty, window=1h)
      volume: sum(usd_value / 3, by=counterparty, window=1h)
    condition: senders >= 2 or volume > 3333.3 or customer.age_days < 10 and usd_value / 0 == null
"""
TYPES = ["deposit", "withdrawal", "fiat_deposit", "login", "internal_transfer", "trade"]
AMOUNTS = [0.1, 0.2, 0.3, 1000.0, 9000.0, 9500.0, 9999.99, 10_000.0, 12_345.67, 20_000.0]
WINDOW_US = 3_600_000_000


@st.composite
def sequences(draw: st.DrawFn) -> list[dict[str, Any]]:
    count = draw(st.integers(min_value=1, max_value=60))
    events: list[dict[str, Any]] = []
    clock = 0
    for index in range(count):
        step = draw(st.sampled_from([0, 0, 1, WINDOW_US // 2, WINDOW_US, WINDOW_US + 1, 7 * 60_000_000]))
        clock += step
        who = draw(st.integers(min_value=1, max_value=3))
        kind = draw(st.sampled_from(TYPES))
        events.append(
            {
                "event_id": f"E{index:010d}",
                "event_type": kind,
                "timestamp": T0 + timedelta(microseconds=clock),
                "customer_id": f"C000000{who}",
                "account_id": f"A000000{who}",
                "usd_value": draw(st.sampled_from(AMOUNTS)) if kind != "login" else None,
                "address": draw(st.sampled_from([None, "addr1", "addr2"])),
                "device_id": draw(st.sampled_from([None, "D1", "D2"])) if kind == "login" else None,
                "ip": draw(st.sampled_from(["10.0.0.1", "10.0.0.2"])) if kind == "login" else None,
                "ip_country": draw(st.sampled_from([None, "DE", "NG"])),
                "success": draw(st.booleans()) if kind == "login" else None,
                "counterparty_account_id": draw(st.sampled_from(["A0000009", "A0000008"]))
                if kind == "internal_transfer"
                else None,
            }
        )
    return events


def _ruleset(tmp_path: Path) -> RuleSet:
    path = tmp_path / "property.yaml"
    path.write_text(RULES, encoding="utf-8")
    rules, lists = load_file(path)
    return RuleSet(tuple(rules), lists)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=sequences())
def test_batch_equals_streaming(tmp_path: Path, events: list[dict[str, Any]]) -> None:
    rules = _ruleset(tmp_path)
    ctx = EngineContext.from_rows(
        [customer(f"C000000{i}", age_days=i * 4) for i in (1, 2, 3)],
        [{"account_id": f"A000000{i}", "account_type": "spot", "opened_at": T0, "status": "active"} for i in (1, 2, 3)],
    )
    streamed = run_streaming(events, rules, StreamingState(rules, ctx))
    batch = run_batch(events, rules, ctx)
    assert batch.disagreements == 0
    assert [hit.as_dict() for hit in batch.hits] == [hit.as_dict() for hit in streamed]
    batch_alerts = [a.as_dict() for a in build_alerts(batch.hits, rules).alerts]
    stream_alerts = [a.as_dict() for a in build_alerts(streamed, rules).alerts]
    assert batch_alerts == stream_alerts
