"""Exposure look-ups for rules: "what share of this event's funds comes from (or goes to) a risky category?".

Rules call ``exposure(address, "sanctions")``; the engines ask an :class:`ExposureProvider`. The provider here,
:class:`TagExposureProvider`, answers *direct* exposure from attribution tags (TagPacks, the OFAC list, analyst
tags): for a withdrawal the destination address itself, for a deposit the addresses that funded the deposit
transaction (resolved by a ``senders`` function: the chain store, or a world's chain exports), weighted by value
where the chain says it. *Indirect* exposure (funds that passed through intermediaries) is the chain engine's
job; it plugs in as another provider passed as ``indirect`` (:mod:`chainsleuth.monitor.indirect`), whose answers
fill the categories the tags did not answer, with the tier the chain engine gives them (``indirect`` when the
funds passed through intermediaries, ``direct`` when the chain shows a tagged sender the tags alone missed).

Every answer carries its evidence (address, label, source, confidence), which alerts store as chain evidence.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sqlalchemy.orm import Session

from chainsleuth.chain.attribution.records import TagRecord, normalize_address

#: Risk categories of the rule language → the GraphSense concepts (category or abuse) that mean them.
RISK_CATEGORIES: dict[str, frozenset[str]] = {
    "sanctions": frozenset({"sanction", "sanctioned", "sanctions"}),
    "mixer": frozenset({"mixing_service", "coinjoin", "mixer"}),
    "darknet": frozenset({"market", "dark_web", "darknet_market", "darkweb"}),
    "ransomware": frozenset({"ransomware"}),
    "scam": frozenset({"scam", "investment_fraud", "phishing", "ponzi_scheme", "fraud"}),
    "stolen_funds": frozenset({"hacking", "theft", "hack", "stolen_funds", "exploit"}),
}


@dataclass(frozen=True)
class ExposureHit:
    """Exposure of one event to one category, with the evidence behind it."""

    category: str
    share: float
    tier: str  # direct | indirect
    evidence: tuple[Mapping[str, object], ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {"category": self.category, "share": self.share, "tier": self.tier, "evidence": list(self.evidence)}


class ExposureProvider(Protocol):
    """Address → category shares. ``direction`` is ``in`` for deposits (look at the senders of ``tx_hash``)
    and ``out`` for anything else (look at ``address`` itself)."""

    def exposure(
        self, chain: str | None, address: str, tx_hash: str | None, direction: str
    ) -> Mapping[str, ExposureHit]: ...


Senders = Callable[[str, str], Sequence[tuple[str, float]]]


def _matches(tag: TagRecord, concepts: frozenset[str]) -> bool:
    names = {tag.category, tag.abuse, *tag.concepts}
    return bool(concepts & {name for name in names if name})


@dataclass
class TagExposureProvider:
    """Direct exposure from attribution tags; optional indirect exposure from another provider."""

    lookup: Callable[[str, str], Sequence[TagRecord]]  # (network, address) → tags of the address
    senders: Senders | None = None
    indirect: ExposureProvider | None = None
    _cache: dict[tuple[str | None, str, str | None, str], Mapping[str, ExposureHit]] = field(default_factory=dict)

    @classmethod
    def from_records(
        cls, records: Iterable[TagRecord], senders: Senders | None = None, indirect: ExposureProvider | None = None
    ) -> TagExposureProvider:
        index: dict[tuple[str, str], list[TagRecord]] = {}
        for record in records:
            if record.address:
                index.setdefault((record.network, normalize_address(record.address)), []).append(record)

        def lookup(network: str, address: str) -> Sequence[TagRecord]:
            return index.get((network, normalize_address(address)), ())

        return cls(lookup, senders, indirect)

    def exposure(
        self, chain: str | None, address: str, tx_hash: str | None, direction: str
    ) -> Mapping[str, ExposureHit]:
        key = (chain, address, tx_hash, direction)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._compute(chain, address, tx_hash, direction)
            if len(self._cache) > 200_000:
                self._cache.clear()
            self._cache[key] = cached
        return cached

    def _compute(
        self, chain: str | None, address: str, tx_hash: str | None, direction: str
    ) -> Mapping[str, ExposureHit]:
        if chain is None:
            return {}
        if direction == "in":
            weighted = list(self.senders(chain, tx_hash)) if self.senders is not None and tx_hash else []
        else:
            weighted = [(address, 1.0)]
        total = sum(weight for _, weight in weighted) or 1.0
        result: dict[str, ExposureHit] = {}
        for category, concepts in RISK_CATEGORIES.items():
            share, evidence = 0.0, []
            for sender, weight in weighted:
                matching = [t for t in self.lookup(chain, sender) if _matches(t, concepts)]
                if matching:
                    share += weight / total
                    best = matching[0]
                    evidence.append(
                        {"address": sender, "label": best.label, "source": best.source,
                         "confidence": best.confidence, "origin": best.origin, "tagpack": best.tagpack}
                    )  # fmt: skip
            if share > 0:
                result[category] = ExposureHit(category, min(1.0, share), "direct", tuple(evidence))
        if self.indirect is not None:
            for category, hit in self.indirect.exposure(chain, address, tx_hash, direction).items():
                if category not in result:
                    result[category] = hit
        return result


def world_senders(world_dir: str | Path) -> Senders:
    """Senders of each transaction, from a generated world's chain exports (bitcoin-etl / ethereum-etl).

    Bitcoin inputs are weighted by value; on Ethereum the sender of the token transfer (USDT) or of the
    transaction (ETH) counts fully.
    """
    root = Path(world_dir)
    index: dict[tuple[str, str], list[tuple[str, float]]] = {}
    for chain, name in (("bitcoin", "transactions"), ("ethereum", "token_transfers"), ("ethereum", "transactions")):
        path = root / chain / f"{name}.jsonl"
        if not path.is_file():
            continue
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                row = json.loads(line)
                tx_hash = row.get("hash") or row.get("transaction_hash")
                key = (chain, str(tx_hash).lower())
                if chain == "bitcoin":
                    index[key] = [
                        (address, float(item.get("value") or 0) or 1.0)
                        for item in row.get("inputs") or []
                        for address in item.get("addresses") or []
                    ]
                elif key not in index and row.get("from_address"):
                    index[key] = [(row["from_address"], 1.0)]

    def senders(chain: str, tx_hash: str) -> Sequence[tuple[str, float]]:
        return index.get((chain, tx_hash.lower()), ())

    return senders


def world_provider(world_dir: str | Path) -> TagExposureProvider:
    """Direct exposure for a generated world: its TagPacks and its chain exports."""
    from chainsleuth.chain.attribution.tagpack import parse_tagpack

    records: list[TagRecord] = []
    for path in sorted((Path(world_dir) / "tagpacks").glob("*.yaml")):
        records.extend(parse_tagpack(path).tags)
    return TagExposureProvider.from_records(records, world_senders(world_dir))


def store_provider(
    session: Session, senders: Senders | None = None, indirect: ExposureProvider | None = None
) -> TagExposureProvider:
    """Direct exposure from the relational tag store, looked up with ``tags_for`` as addresses come up.

    The session must stay open while the provider is used (the answers are cached per address).
    """
    from chainsleuth.chain.attribution.store import tags_for

    memo: dict[tuple[str, str], Sequence[TagRecord]] = {}

    def lookup(network: str, address: str) -> Sequence[TagRecord]:
        key = (network, address)
        if key not in memo:
            memo[key] = tags_for(session, network, [address]).get(address, [])
        return memo[key]

    return TagExposureProvider(lookup, senders, indirect)
