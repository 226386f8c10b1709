"""What both engines share: event and profile normalisation, exposure look-ups, rule hits and explanations.

Events arrive as mappings in the ledger schema (Parquet rows, database rows, dicts). They are normalised once
into the value domain of the rule language: timestamps become integer microseconds since the epoch (exact, and
what DuckDB's ``epoch_us`` gives), decimals and integers become floats, so that the streaming and batch engines
read exactly the same values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from chainsleuth.monitor.exposure import ExposureHit, ExposureProvider
from chainsleuth.monitor.rules.compiler import EVENT_FIELDS, Ref
from chainsleuth.monitor.rules.evaluate import Env, profile_value
from chainsleuth.monitor.rules.model import SUBJECTS, Rule

CUSTOMER_COLUMNS = (
    "customer_id", "created_at", "nationality", "id_document_country", "country_of_residence", "occupation",
    "declared_annual_income_usd", "source_of_funds", "risk_rating", "kyc_level", "status",
)  # fmt: skip
ACCOUNT_COLUMNS = ("account_id", "account_type", "opened_at", "status")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(value: Any) -> int | None:
    """A timestamp as integer microseconds since the epoch (naive datetimes are taken as UTC)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError("a boolean is not a timestamp")
    if isinstance(value, int):
        return value
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        delta = aware - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    if isinstance(value, date):
        return to_micros(datetime(value.year, value.month, value.day, tzinfo=UTC))
    if isinstance(value, str):
        return to_micros(datetime.fromisoformat(value.replace("Z", "+00:00")))
    raise TypeError(f"not a timestamp: {value!r}")


def from_micros(value: int) -> datetime:
    """The aware UTC datetime of a microsecond timestamp."""
    return datetime.fromtimestamp(value // 1_000_000, UTC).replace(microsecond=value % 1_000_000)


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    return float(value) if isinstance(value, int | float | Decimal) else float(str(value))


def normalize_event(raw: Mapping[str, Any]) -> dict[str, Any]:
    """``raw`` in the rule language's value domain; KeyError/TypeError on a missing id or bad timestamp."""
    event: dict[str, Any] = {}
    for name, kind in EVENT_FIELDS.items():
        value = raw.get(name)
        if value is None:
            event[name] = None
        elif kind == "ts":
            event[name] = to_micros(value)
        elif kind == "num":
            event[name] = _number(value)
        elif kind == "bool":
            event[name] = bool(value)
        else:
            event[name] = str(value)
    if event["event_id"] is None or event["timestamp"] is None:
        raise KeyError("every event needs event_id and timestamp")
    return event


def normalize_profile(raw: Mapping[str, Any], columns: tuple[str, ...]) -> dict[str, Any]:
    """A customer or account profile with timestamps in microseconds and numbers as floats."""
    out: dict[str, Any] = {}
    for name in columns:
        value = raw.get(name)
        if name in ("created_at", "opened_at"):
            out[name] = to_micros(value)
        elif name in ("declared_annual_income_usd", "kyc_level"):
            out[name] = _number(value)
        else:
            out[name] = None if value is None else str(value)
    return out


@dataclass
class EngineContext:
    """Reference data the rules read besides the event: profiles and exposure."""

    customers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    accounts: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    exposure: ExposureProvider | None = None

    @classmethod
    def from_rows(
        cls,
        customers: Sequence[Mapping[str, Any]],
        accounts: Sequence[Mapping[str, Any]],
        exposure: ExposureProvider | None = None,
    ) -> EngineContext:
        return cls(
            {str(row["customer_id"]): normalize_profile(row, CUSTOMER_COLUMNS) for row in customers},
            {str(row["account_id"]): normalize_profile(row, ACCOUNT_COLUMNS) for row in accounts},
            exposure,
        )

    def exposure_hit(
        self, chain: str | None, address: str | None, tx_hash: str | None, event_type: str | None,
        event_address: str | None, category: str,
    ) -> ExposureHit | None:  # fmt: skip
        """The hit for ``category``: deposits to our own address look at the funding transaction's senders."""
        if self.exposure is None or address is None:
            return None
        direction = "in" if event_type == "deposit" and address == event_address else "out"
        return self.exposure.exposure(chain, address, tx_hash, direction).get(category)

    def lookup(self, env: Env, address: str, category: str) -> float:
        """The ``exposure()`` function of the rule language; records the evidence of a hit on ``env``."""
        event = env.event
        hit = self.exposure_hit(
            event.get("chain"), address, event.get("tx_hash"), event.get("event_type"), event.get("address"),
            category,
        )  # fmt: skip
        if hit is None:
            return 0.0
        env.evidence.append({"address": address, **hit.as_dict()})
        return hit.share


@dataclass(frozen=True)
class RuleHit:
    """One rule firing on one event, with everything needed to explain it."""

    rule_id: str
    rule_version: int
    rule_hash: str
    mode: str
    severity: str
    event_id: str
    timestamp: int
    event_type: str
    subject_type: str
    subject_id: str
    customer_id: str | None
    account_id: str | None
    values: Mapping[str, Any]
    evidence: tuple[Mapping[str, Any], ...]
    explanation: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id, "rule_version": self.rule_version, "rule_hash": self.rule_hash,
            "mode": self.mode, "severity": self.severity, "event_id": self.event_id,
            "timestamp": from_micros(self.timestamp).isoformat(), "event_type": self.event_type,
            "subject_type": self.subject_type, "subject_id": self.subject_id, "customer_id": self.customer_id,
            "account_id": self.account_id, "values": dict(self.values), "evidence": list(self.evidence),
            "explanation": self.explanation,
        }  # fmt: skip


_PLACEHOLDER = re.compile(r"\{([A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)?)\}")


def format_value(value: Any) -> str:
    """Values as people read them: 9500.0 → 9,500; 0.25 → 0.25; strings as they are."""
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:,.2f}" if abs(value) >= 100 else f"{value:.4g}"
    return "null" if value is None else str(value)


def render(template: str, values: Mapping[str, Any]) -> str:
    """Fill ``{name}`` placeholders (no attribute access or format specs: templates are not code)."""
    return _PLACEHOLDER.sub(lambda m: format_value(values[m.group(1)]) if m.group(1) in values else m.group(0),
                            template)  # fmt: skip


def describe_exposure(record: Mapping[str, Any], limit: int = 2) -> str:
    """One exposure hit as people read it: tier, then per counterparty its label, tag source, confidence and the
    path of addresses the funds took (bridge crossings marked), e.g. ``indirect: OFAC SDN X (source ofac,
    confidence 100) via a → b → [bridge] c``."""
    parts: list[str] = []
    evidence = list(record.get("evidence") or ())
    for item in evidence[:limit]:
        text = f"{item.get('label') or item.get('address')} (source {item.get('source')}, " \
               f"confidence {item.get('confidence')})"  # fmt: skip
        hops = list(item.get("path") or ())
        if hops:
            steps = [str(hops[0].get("from_address") or item.get("address"))]
            for hop in hops:
                mark = "[bridge] " if hop.get("bridge_memo") else ""
                step = f"{mark}{hop.get('to_address')}"
                if step != steps[-1]:  # a UTXO path starts with the output the next hop spends
                    steps.append(step)
            text += f" via {' → '.join(steps)} ({len(hops)} hop{'s' if len(hops) > 1 else ''})"
        parts.append(text)
    if len(evidence) > limit:
        parts.append(f"and {len(evidence) - limit} more")
    return f"{record.get('tier', 'direct')}: " + ("; ".join(parts) if parts else "no evidence recorded")


def make_hit(rule: Rule, env: Env) -> RuleHit | None:
    """Evaluate ``rule`` on ``env``; a hit with its values and evidence when the condition is true."""
    env.evidence = []
    if rule.function(env) is not True:
        return None
    values: dict[str, Any] = {}
    for label, ref in rule.references():
        values[label] = _read(env, ref)
    for record in env.evidence:
        values[f"exposure_{record['category']}"] = record["share"]
    subject_id = env.event.get(SUBJECTS[rule.subject])
    if subject_id is None:  # e.g. a device rule on an event without a device: the customer answers for it
        subject_id = env.event.get("customer_id")
    texts: dict[str, Any] = {**env.event, **dict(rule.params)}
    for scope, profile in (("customer", env.customer), ("account", env.account)):
        for name in profile or {}:
            texts[f"{scope}.{name}"] = _read(env, Ref("str", scope, name))
    texts.update(values)
    for record in env.evidence:  # {exposure_<category>_evidence}: the tier, tag source, confidence and path
        texts[f"exposure_{record['category']}_evidence"] = describe_exposure(record)
    texts["timestamp"] = from_micros(env.ts).isoformat()
    return RuleHit(
        rule_id=rule.id,
        rule_version=rule.version,
        rule_hash=rule.content_hash,
        mode=rule.mode,
        severity=rule.severity,
        event_id=env.event["event_id"],
        timestamp=env.ts,
        event_type=env.event["event_type"],
        subject_type=rule.subject,
        subject_id=str(subject_id),
        customer_id=env.event.get("customer_id"),
        account_id=env.event.get("account_id"),
        values=values,
        evidence=tuple(env.evidence),
        explanation=render(rule.explain, texts),
    )


def _read(env: Env, ref: Ref) -> Any:
    if ref.scope == "event":
        value = env.event.get(ref.name)
        return from_micros(value).isoformat() if ref.type == "ts" and value is not None else value
    if ref.scope == "agg":
        return env.aggs.get(ref.name)
    profile = env.customer if ref.scope == "customer" else env.account
    value = profile_value(profile, ref.name, env.ts)
    is_time = ref.type == "ts" or ref.name in ("created_at", "opened_at")
    return from_micros(value).isoformat() if is_time and value is not None else value
