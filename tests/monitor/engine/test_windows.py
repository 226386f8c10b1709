"""Window semantics shared by both engines: [t - w, t] inclusive, same-microsecond events excluded."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from chainsleuth.errors import InvalidInputError
from chainsleuth.monitor.engine.streaming import StreamingState, run_streaming
from tests.monitor.rule_helpers import T0, both, event, rules_from_text

RULES = """\
rules:
  - id: probe
    version: 1
    title: Window probe
    severity: low
    scope: [deposit]
    aggregates:
      n: count(by=customer, window=1h)
      total: sum(usd_value, by=customer, window=1h)
      biggest: max(usd_value, by=customer, window=1h)
      smallest: min(usd_value, by=customer, window=1h)
      mean: avg(usd_value, by=customer, window=1h)
      kinds: distinct_count(asset, by=customer, window=1h)
    condition: n >= 0 and total >= 0 and biggest >= 0 and smallest >= 0 and mean >= 0 and kinds >= 0
"""


def values(tmp_path: Path, offsets_us: list[int], amounts: list[float] | None = None) -> list[dict[str, object]]:
    rules = rules_from_text(tmp_path, RULES)
    events = []
    for index, offset in enumerate(offsets_us):
        row = event("deposit", 0, usd_value=(amounts or [1.0] * len(offsets_us))[index], asset=f"X{index % 2}")
        row["timestamp"] = T0 + timedelta(microseconds=offset)
        events.append(row)
    return [dict(hit.values) for hit in both(events, rules)]


HOUR = 3_600_000_000


def test_window_start_is_inclusive(tmp_path: Path) -> None:
    got = values(tmp_path, [0, HOUR], [2.0, 3.0])
    assert got[1] == {"n": 2.0, "total": 5.0, "biggest": 3.0, "smallest": 2.0, "mean": 2.5, "kinds": 2.0}


def test_one_microsecond_later_is_outside(tmp_path: Path) -> None:
    got = values(tmp_path, [0, HOUR + 1], [2.0, 3.0])
    assert got[1] == {"n": 1.0, "total": 3.0, "biggest": 3.0, "smallest": 3.0, "mean": 3.0, "kinds": 1.0}


def test_same_microsecond_events_do_not_see_each_other(tmp_path: Path) -> None:
    got = values(tmp_path, [5, 5, 6], [1.0, 2.0, 4.0])
    assert [v["n"] for v in got] == [1.0, 1.0, 3.0]
    assert [v["total"] for v in got] == [1.0, 2.0, 7.0]


def test_sums_are_exact(tmp_path: Path) -> None:
    got = values(tmp_path, [0, 1, 2], [0.1, 0.2, 0.3])
    assert got[-1]["total"] == 0.6  # a float running sum would give 0.6000000000000001


def test_out_of_order_events_are_refused(tmp_path: Path) -> None:
    rules = rules_from_text(tmp_path, RULES)
    events = [event("deposit", 2, usd_value=1.0), event("deposit", 1, usd_value=1.0)]
    with pytest.raises(InvalidInputError, match="time order"):
        run_streaming(events, rules)


def test_state_is_bounded_by_the_window(tmp_path: Path) -> None:
    rules = rules_from_text(tmp_path, RULES)
    state = StreamingState(rules)
    for index in range(2_000):  # a new customer every 10 minutes: only ~6 are inside any 1 h window
        run_streaming([event("deposit", index / 6, f"C{index:07d}", usd_value=1.0)], rules, state)
    state.sweep(state.last_ts)
    assert state.window_count() <= 6 * 7
    aggregate = next(iter(state.aggregates.values()))
    assert all(len(window.entries) <= 1 for window in aggregate.windows.values())


def test_state_continues_between_calls(tmp_path: Path) -> None:
    rules = rules_from_text(tmp_path, RULES)
    state = StreamingState(rules)
    run_streaming([event("deposit", 0, usd_value=1.0)], rules, state)
    hits = run_streaming([event("deposit", 0.5, usd_value=1.0)], rules, state)
    assert hits[0].values["n"] == 2.0
