"""Backtests: run rules over history and measure them against labels, per rule and overall.

Labels are customer labels (``customer_id`` → typology; a world's ``ground_truth/customer_labels.csv`` or any
table with those columns) and, optionally, event labels (``event_id`` → typology). A rule's *customer precision*
is the share of the customers it flags that are labelled; its *recall* is the share of labelled customers of
the typologies it targets that it flags; *event precision* the share of its hits on labelled events. Overall
figures are for the union of the active rules; shadow rules are reported but never counted overall, exactly as
they never raise alerts. The false-positive rate is per 1,000 customers, because that is what an alert budget is
planned in.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from chainsleuth.monitor.alerts.book import build_alerts
from chainsleuth.monitor.engine.batch import run_batch
from chainsleuth.monitor.engine.context import EngineContext, RuleHit
from chainsleuth.monitor.engine.streaming import run_streaming
from chainsleuth.monitor.exposure import ExposureProvider, world_provider
from chainsleuth.monitor.rules.model import RuleSet


@dataclass(frozen=True)
class Labels:
    """Ground truth: labelled customers (→ typology) and labelled events (→ typology)."""

    customers: Mapping[str, str]
    events: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_files(
        cls, customers_csv: str | Path, events_csv: str | Path | None = None, *, label_column: str = "label"
    ) -> Labels:
        """Any labels table: a CSV with ``customer_id`` and ``label_column``; optionally events with
        ``event_id`` and ``typology``."""
        return cls(
            _csv_map(Path(customers_csv), "customer_id", label_column),
            _csv_map(Path(events_csv), "event_id", "typology") if events_csv else {},
        )

    @classmethod
    def from_world(cls, world_dir: str | Path) -> Labels:
        root = Path(world_dir) / "ground_truth"
        return cls(
            _csv_map(root / "customer_labels.csv", "customer_id", "label"),
            _csv_map(root / "event_labels.csv", "event_id", "typology"),
        )


def _csv_map(path: Path, key: str, value: str) -> dict[str, str]:
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as handle:
        return {row[key]: row[value] for row in csv.DictReader(handle) if row.get(key)}


def world_context(world_dir: str | Path, exposure: ExposureProvider | None = None) -> EngineContext:
    """Profiles of a generated world's customers and accounts, with direct exposure from its TagPacks."""
    root = Path(world_dir) / "exchange"
    customers = pq.read_table(root / "customers.parquet").to_pylist()
    accounts = pq.read_table(root / "accounts.parquet").to_pylist()
    return EngineContext.from_rows(customers, accounts, exposure or world_provider(world_dir))


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


@dataclass
class BacktestReport:
    """Per-rule and overall precision and recall; ``as_dict`` is the JSON form, ``table`` the printed one."""

    rules: list[dict[str, Any]]
    overall: dict[str, Any]
    per_typology: dict[str, dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {"rules": self.rules, "overall": self.overall, "per_typology": self.per_typology}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, sort_keys=True)

    def table(self) -> str:
        head = f"{'rule':38} {'mode':6} {'hits':>6} {'alerts':>6} {'cust':>5} {'prec':>6} {'recall':>6} {'ev.prec':>7}"
        lines = [head, "-" * len(head)]

        def fmt(value: float | None) -> str:
            return "-" if value is None else f"{value:.2f}"

        for row in self.rules:
            lines.append(
                f"{row['rule_id']:38} {row['mode']:6} {row['hits']:>6} {row['alerts']:>6} "
                f"{row['customers_flagged']:>5} {fmt(row['precision']):>6} {fmt(row['recall_targeted']):>6} "
                f"{fmt(row['event_precision']):>7}"
            )
        o = self.overall
        lines.append("-" * len(head))
        lines.append(
            f"overall (active rules): {o['customers_flagged']} customers flagged of {o['customers']}, "
            f"precision {fmt(o['precision'])}, recall {fmt(o['recall'])}, "
            f"false positives per 1,000 customers {o['false_positives_per_1000']:.1f}, "
            f"base rate {fmt(o['base_rate'])}"
        )
        lines.append("recall per typology: " + ", ".join(
            f"{name} {fmt(item['recall'])} ({item['flagged']}/{item['customers']})"
            for name, item in sorted(self.per_typology.items())
        ))  # fmt: skip
        return "\n".join(lines)


def evaluate_hits(hits: Sequence[RuleHit], rules: RuleSet, labels: Labels, customers: int) -> BacktestReport:
    """Measure ``hits`` against ``labels`` (``customers`` is the population size, for rates)."""
    book = build_alerts(hits, rules)
    alerts_per_rule: dict[str, int] = {}
    for alert in book.alerts:
        alerts_per_rule[alert.rule_id] = alerts_per_rule.get(alert.rule_id, 0) + 1
    by_typology: dict[str, set[str]] = {}
    for customer, typology in labels.customers.items():
        by_typology.setdefault(typology, set()).add(customer)
    rows = []
    flagged_active: set[str] = set()
    for rule in rules:
        mine = [hit for hit in hits if hit.rule_id == rule.id]
        flagged = {hit.customer_id for hit in mine if hit.customer_id}
        if rule.mode == "active":
            flagged_active |= flagged
        true = flagged & set(labels.customers)
        targeted = set().union(*(by_typology.get(name, set()) for name in rule.typologies))
        labelled_events = sum(1 for hit in mine if hit.event_id in labels.events)
        rows.append(
            {
                "rule_id": rule.id, "version": rule.version, "mode": rule.mode, "hits": len(mine),
                "alerts": alerts_per_rule.get(rule.id, 0), "customers_flagged": len(flagged),
                "true_positives": len(true), "precision": _ratio(len(true), len(flagged)),
                "typologies": list(rule.typologies), "targeted_customers": len(targeted),
                "recall_targeted": _ratio(len(flagged & targeted), len(targeted)),
                "event_precision": _ratio(labelled_events, len(mine)),
            }
        )  # fmt: skip
    labelled = set(labels.customers)
    true_all = flagged_active & labelled
    overall = {
        "customers": customers,
        "labelled_customers": len(labelled),
        "base_rate": _ratio(len(labelled), customers),
        "customers_flagged": len(flagged_active),
        "true_positives": len(true_all),
        "precision": _ratio(len(true_all), len(flagged_active)),
        "recall": _ratio(len(true_all), len(labelled)),
        "false_positives_per_1000": 1000.0 * len(flagged_active - labelled) / customers if customers else 0.0,
        "alerts": len(book.alerts),
        "shadow_hits": len(book.shadow_hits),
    }
    per_typology = {
        name: {"customers": len(members), "flagged": len(members & flagged_active),
               "recall": _ratio(len(members & flagged_active), len(members))}
        for name, members in by_typology.items()
    }  # fmt: skip
    return BacktestReport(rows, overall, per_typology)


def backtest(
    world_dir: str | Path,
    rules: RuleSet,
    *,
    labels: Labels | None = None,
    engine: str = "batch",
    context: EngineContext | None = None,
) -> BacktestReport:
    """Run ``rules`` over a world's ledger (batch or streaming) and measure them against its ground truth."""
    ctx = context or world_context(world_dir)
    truth = labels or Labels.from_world(world_dir)
    ledger = Path(world_dir) / "exchange" / "ledger_events.parquet"
    if engine == "streaming":
        from chainsleuth.monitor.engine.streaming import StreamingState

        events = pq.read_table(ledger).to_pylist()
        hits = run_streaming(events, rules, StreamingState(rules, ctx))
    else:
        hits = run_batch(ledger, rules, ctx).hits
    return evaluate_hits(hits, rules, truth, len(ctx.customers))
