"""Helpers for the rules/engine/alerts tests: crafted ledger events, profiles, and running both engines."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from chainsleuth.chain.attribution.records import TagRecord
from chainsleuth.monitor.engine.batch import run_batch
from chainsleuth.monitor.engine.context import EngineContext, RuleHit
from chainsleuth.monitor.engine.streaming import StreamingState, run_streaming
from chainsleuth.monitor.exposure import TagExposureProvider
from chainsleuth.monitor.rules.loader import load_file, load_rules
from chainsleuth.monitor.rules.model import RuleSet

T0 = datetime(2024, 3, 1, tzinfo=UTC)
_counter = iter(range(1, 10**9))


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def event(event_type: str, hours: float, customer: str = "C0000001", **fields: Any) -> dict[str, Any]:
    """A ledger event ``hours`` after T0 (ids increase in creation order)."""
    row: dict[str, Any] = {
        "event_id": f"E{next(_counter):010d}",
        "event_type": event_type,
        "timestamp": at(hours),
        "customer_id": customer,
        "account_id": "A" + customer[1:],
    }
    row.update(fields)
    return row


def customer(customer_id: str = "C0000001", *, age_days: float = 400, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "customer_id": customer_id, "created_at": T0 - timedelta(days=age_days), "nationality": "DE",
        "country_of_residence": "DE", "occupation": "engineer", "declared_annual_income_usd": 80_000,
        "source_of_funds": "salary", "risk_rating": "low", "kyc_level": 2, "status": "active",
    }  # fmt: skip
    base.update(fields)
    return base


def context(
    customers: Sequence[Mapping[str, Any]] = (),
    tags: Iterable[TagRecord] = (),
    senders: Mapping[str, str] | None = None,
) -> EngineContext:
    accounts = [{"account_id": "A" + c["customer_id"][1:], "account_type": "spot", "opened_at": c["created_at"],
                 "status": "active"} for c in customers]  # fmt: skip
    sender_map = dict(senders or {})
    provider = TagExposureProvider.from_records(
        tags, senders=lambda chain, tx: [(sender_map[tx], 1.0)] if tx in sender_map else []
    )
    return EngineContext.from_rows(list(customers), accounts, provider)


def tag(address: str, category: str | None = None, abuse: str | None = None, network: str = "ethereum") -> TagRecord:
    return TagRecord(
        network=network, label=f"test {category or abuse}", source="https://example.org", confidence="authority_data",
        confidence_level=100, creator="test", origin="tagpack", address=address, category=category, abuse=abuse,
    )  # fmt: skip


def library(*rule_ids: str) -> RuleSet:
    rules = load_rules()
    return rules.select(rule_ids) if rule_ids else rules


def rules_from_text(tmp_path: Path, text: str, name: str = "rules.yaml") -> RuleSet:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    rules, lists = load_file(path)
    return RuleSet(tuple(rules), lists)


def both(events: Sequence[Mapping[str, Any]], rules: RuleSet, ctx: EngineContext | None = None) -> list[RuleHit]:
    """Hits from the streaming engine, after checking that the batch engine gives exactly the same."""
    ctx = ctx or EngineContext()
    ordered = sorted(events, key=lambda e: (e["timestamp"], e["event_id"]))
    streamed = run_streaming(ordered, rules, StreamingState(rules, ctx))
    batch = run_batch(ordered, rules, ctx)
    assert batch.disagreements == 0
    assert [h.as_dict() for h in batch.hits] == [h.as_dict() for h in streamed]
    return streamed


def fired(hits: Sequence[RuleHit]) -> set[tuple[str, str]]:
    return {(hit.rule_id, hit.event_id) for hit in hits}
