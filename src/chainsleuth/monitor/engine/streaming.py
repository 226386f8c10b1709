"""The streaming engine: events one at a time, incremental per-key sliding windows, hits as they arrive.

State is one small window object per (aggregate, key): a deque of the values inside the window, plus a running
aggregate (an exact integer total for sums and averages, a value → count map for distinct counts, a monotonic
deque for max/min). Advancing to a new event evicts what fell out of the window, so memory is bounded by the
events inside the longest window; windows whose key has gone quiet are dropped by a periodic sweep.

The window of an event at time t holds the key's events in [t - w, t) plus the event itself; other events
booked in the same microsecond are not in each other's windows (they wait in ``pending`` until time moves on).
That is exactly DuckDB's ``RANGE ... EXCLUDE TIES``, which is why batch and streaming agree (see the property
test), and it makes the result independent of how ties happen to be ordered.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chainsleuth.errors import InvalidInputError
from chainsleuth.monitor.engine.context import EngineContext, RuleHit, make_hit, normalize_event
from chainsleuth.monitor.rules.compiler import AggregateSpec
from chainsleuth.monitor.rules.evaluate import Env, Fn, to_python
from chainsleuth.monitor.rules.model import Rule, RuleSet
from chainsleuth.monitor.rules.sqlgen import SUM_SCALE

SWEEP_EVERY = 50_000


def scaled(value: float) -> int:
    """A value in exact integer micro-units (the batch engine's ``floor(x * 1e6 + 0.5)``)."""
    return math.floor(value * SUM_SCALE + 0.5)


class Window:
    """One key's sliding window for one aggregate."""

    __slots__ = ("counts", "entries", "func", "mono", "pending", "pending_ts", "total", "width")

    def __init__(self, func: str, width_us: int) -> None:
        self.func = func
        self.width = width_us
        self.entries: deque[tuple[int, Any]] = deque()
        self.pending: list[Any] = []
        self.pending_ts = -1
        self.total = 0
        self.counts: dict[Any, int] = {}
        self.mono: deque[tuple[int, Any]] = deque()

    def advance(self, ts: int) -> None:
        """Commit same-time values once time has moved on, then evict what is older than ``ts - width``."""
        if self.pending and ts > self.pending_ts:
            for value in self.pending:
                self._commit(self.pending_ts, value)
            self.pending.clear()
        low = ts - self.width
        entries = self.entries
        while entries and entries[0][0] < low:
            _, value = entries.popleft()
            if self.func in ("sum", "avg"):
                self.total -= value
            elif self.func == "distinct_count":
                left = self.counts[value] - 1
                if left:
                    self.counts[value] = left
                else:
                    del self.counts[value]
        mono = self.mono
        while mono and mono[0][0] < low:
            mono.popleft()

    def _commit(self, ts: int, value: Any) -> None:
        func = self.func
        if func in ("max", "min"):
            mono = self.mono
            if func == "max":
                while mono and mono[-1][1] <= value:
                    mono.pop()
            else:
                while mono and mono[-1][1] >= value:
                    mono.pop()
            mono.append((ts, value))
            return
        if func in ("sum", "avg"):
            value = scaled(value)
            self.total += value
        elif func == "distinct_count":
            self.counts[value] = self.counts.get(value, 0) + 1
        self.entries.append((ts, value))

    def result(self, current: Any) -> float | str | int | None:
        """The aggregate over the window plus ``current`` (None when the event does not contribute)."""
        func = self.func
        if func == "count":
            return float(len(self.entries) + (current is not None))
        if func == "sum":
            return (self.total + (scaled(current) if current is not None else 0)) / SUM_SCALE
        if func == "avg":
            count = len(self.entries) + (current is not None)
            if count == 0:
                return None
            return ((self.total + (scaled(current) if current is not None else 0)) / SUM_SCALE) / count
        if func == "distinct_count":
            return float(len(self.counts) + (current is not None and current not in self.counts))
        best = self.mono[0][1] if self.mono else None
        if current is None:
            return best
        if best is None:
            return current  # type: ignore[no-any-return]
        chosen: float | str | int = max(best, current) if func == "max" else min(best, current)
        return chosen

    def add(self, ts: int, value: Any) -> None:
        self.pending_ts = ts
        self.pending.append(value)

    def idle(self, now: int) -> bool:
        """Nothing of this key is inside the window any more (values pending in the same microsecond count)."""
        newest = self.pending_ts if self.pending else -1
        if self.entries:
            newest = max(newest, self.entries[-1][0])
        if self.mono:
            newest = max(newest, self.mono[-1][0])
        return newest < now - self.width


@dataclass
class _Aggregate:
    spec: AggregateSpec
    value: Fn | None
    where: Fn | None
    windows: dict[str, Window] = field(default_factory=dict)


@dataclass
class StreamingState:
    """Incremental state of the streaming engine; keep it between calls to continue a stream."""

    rules: RuleSet
    context: EngineContext = field(default_factory=EngineContext)
    last_ts: int = -(2**62)
    processed: int = 0
    aggregates: dict[str, _Aggregate] = field(default_factory=dict)
    by_type: dict[str, tuple[Rule, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key, spec in self.rules.aggregates().items():
            self.aggregates[key] = _Aggregate(
                spec,
                to_python(spec.value) if spec.value is not None else None,
                to_python(spec.where) if spec.where is not None else None,
            )
        types = {event_type for rule in self.rules for event_type in rule.scope}
        self.by_type = {t: tuple(rule for rule in self.rules if t in rule.scope) for t in types}

    def window_count(self) -> int:
        """How many (aggregate, key) windows are held (memory is proportional to their entries)."""
        return sum(len(aggregate.windows) for aggregate in self.aggregates.values())

    def process(self, raw: Mapping[str, Any]) -> list[RuleHit]:
        """Feed one event; the rule hits it produces (active and shadow), in rule order."""
        event = normalize_event(raw)
        ts: int = event["timestamp"]
        if ts < self.last_ts:
            raise InvalidInputError(
                "events must arrive in time order", event_id=event["event_id"], timestamp=ts, last=self.last_ts
            )
        self.last_ts = ts
        plain = Env(event, None, None, {})
        results: dict[str, Any] = {}
        for key, aggregate in self.aggregates.items():
            group = event.get(aggregate.spec.key_field)
            if group is None:
                results[key] = None
                continue
            contribution: Any = None
            if aggregate.where is None or aggregate.where(plain) is True:
                contribution = aggregate.value(plain) if aggregate.value is not None else 1.0
            window = aggregate.windows.get(group)
            if window is None:
                window = aggregate.windows[group] = Window(aggregate.spec.func, aggregate.spec.window_seconds * 10**6)
            window.advance(ts)
            results[key] = window.result(contribution)
            if contribution is not None:
                window.add(ts, contribution)
        self.processed += 1
        if self.processed % SWEEP_EVERY == 0:
            self.sweep(ts)
        rules = self.by_type.get(event["event_type"], ())
        if not rules:
            return []
        context = self.context
        customer = context.customers.get(event["customer_id"]) if event["customer_id"] else None
        account = context.accounts.get(event["account_id"]) if event["account_id"] else None
        env = Env(event, customer, account, results, context.lookup)
        hits = []
        for rule in rules:
            hit = make_hit(rule, env)
            if hit is not None:
                hits.append(hit)
        return hits

    def sweep(self, now: int) -> None:
        """Drop windows of keys with nothing left inside their window."""
        for aggregate in self.aggregates.values():
            stale = [group for group, window in aggregate.windows.items() if window.idle(now)]
            for group in stale:
                del aggregate.windows[group]


def run_streaming(
    events: Iterable[Mapping[str, Any]], rules: RuleSet, state: StreamingState | None = None
) -> list[RuleHit]:
    """Feed ``events`` (in time order) through ``rules``; returns every hit. Pass ``state`` to continue."""
    current = state if state is not None else StreamingState(rules)
    if current.rules is not rules:
        raise InvalidInputError("the streaming state was built for another rule set")
    hits: list[RuleHit] = []
    for event in events:
        hits.extend(current.process(event))
    return hits
