"""Compiled rules and rule sets: what the loader produces and both engines consume."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chainsleuth.monitor.rules.compiler import IR, AggregateSpec, Ref, Value, ir_text, walk
from chainsleuth.monitor.rules.evaluate import Fn, to_python

SEVERITIES: dict[str, float] = {"low": 10.0, "medium": 25.0, "high": 50.0, "critical": 80.0}
MODES = ("active", "shadow")
SUBJECTS: dict[str, str] = {
    "customer": "customer_id",
    "account": "account_id",
    "address": "address",
    "device": "device_id",
    "ip": "ip",
    "counterparty": "counterparty_account_id",
}


@dataclass(frozen=True)
class Rule:
    """One compiled rule. ``content_hash`` changes whenever anything that decides or explains a hit does."""

    id: str
    version: int
    title: str
    description: str
    severity: str
    tags: tuple[str, ...]
    mode: str
    scope: tuple[str, ...]
    subject: str
    condition_text: str
    condition: IR
    named: Mapping[str, str]  # aggregate name → aggregate key
    aggregates: Mapping[str, AggregateSpec]  # key → spec (named and inline)
    params: Mapping[str, Value]
    explain: str
    weight: float = 1.0
    queue: str | None = None
    typologies: tuple[str, ...] = ()
    dedup_seconds: int = 86_400
    source: str = ""
    line: int = 0
    content_hash: str = ""
    function: Fn = field(default=lambda env: None, compare=False, repr=False)

    @property
    def base_score(self) -> float:
        """Points of one alert of this rule: severity × weight (0–100)."""
        return min(100.0, SEVERITIES[self.severity] * self.weight)

    def references(self) -> list[tuple[str, Ref]]:
        """(label, reference) of every field and aggregate the condition reads: the values an alert shows."""
        labels = {key: name for name, key in self.named.items()}
        seen: dict[str, Ref] = {}
        for node in walk(self.condition):
            if isinstance(node, Ref):
                if node.scope == "agg":
                    label = labels.get(node.name, node.name)
                elif node.scope == "event":
                    label = node.name
                else:
                    label = f"{node.scope}.{node.name}"
                seen.setdefault(label, node)
        return list(seen.items())

    def definition(self) -> dict[str, Any]:
        """The rule as plain data (what is stored with every version)."""
        return {
            "id": self.id,
            "version": self.version,
            "title": self.title,
            "description": self.description,
            "severity": self.severity,
            "tags": list(self.tags),
            "mode": self.mode,
            "scope": list(self.scope),
            "subject": self.subject,
            "condition": self.condition_text,
            "compiled": ir_text(self.condition),
            "aggregates": dict(self.named),
            "params": dict(self.params),
            "explain": self.explain,
            "weight": self.weight,
            "queue": self.queue,
            "typologies": list(self.typologies),
            "dedup_seconds": self.dedup_seconds,
            "source": self.source,
            "content_hash": self.content_hash,
        }


def content_hash(
    *,
    rule_id: str,
    version: int,
    severity: str,
    scope: Sequence[str],
    subject: str,
    condition: IR,
    named: Mapping[str, str],
    explain: str,
    weight: float,
    dedup_seconds: int,
) -> str:
    """SHA-256 of the rule's logic with parameters and lists inlined (so a threshold change is a change).

    Title, description, tags and mode are left out: editing prose or promoting a rule from shadow to active
    does not change which events it flags.
    """
    payload = {
        "id": rule_id,
        "version": version,
        "severity": severity,
        "scope": sorted(scope),
        "subject": subject,
        "condition": ir_text(condition),
        "aggregates": dict(sorted(named.items())),
        "explain": explain,
        "weight": weight,
        "dedup_seconds": dedup_seconds,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def build_rule(**fields: Any) -> Rule:
    """A :class:`Rule` with its hash and Python closure filled in."""
    fields["content_hash"] = content_hash(
        rule_id=fields["id"],
        version=fields["version"],
        severity=fields["severity"],
        scope=fields["scope"],
        subject=fields["subject"],
        condition=fields["condition"],
        named=fields["named"],
        explain=fields["explain"],
        weight=fields["weight"],
        dedup_seconds=fields["dedup_seconds"],
    )
    fields["function"] = to_python(fields["condition"])
    return Rule(**fields)


@dataclass(frozen=True)
class RuleSet:
    """Rules loaded together, plus the named lists they were compiled against."""

    rules: tuple[Rule, ...]
    lists: Mapping[str, tuple[Value, ...]] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def get(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    def aggregates(self) -> dict[str, AggregateSpec]:
        """Every distinct aggregate of every rule (shared state and columns)."""
        out: dict[str, AggregateSpec] = {}
        for rule in self.rules:
            out.update(rule.aggregates)
        return out

    def select(self, ids: Sequence[str]) -> RuleSet:
        wanted = set(ids)
        missing = wanted - {rule.id for rule in self.rules}
        if missing:
            raise KeyError(", ".join(sorted(missing)))
        return RuleSet(tuple(rule for rule in self.rules if rule.id in wanted), self.lists)
