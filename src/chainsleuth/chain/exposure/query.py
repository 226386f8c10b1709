"""Exposure of one address or cluster, with its evidence: the paths to each tagged counterparty.

This runs two haircut traces, backward (where did the entity's funds come from?) and forward (where did they
go?), that stop at *every* tagged entity, and sums the terminals by exposure category. Unlike the bulk model
it respects time (funds cannot leave before they arrive) and it keeps, for each category, the paths and the
tags (label, source, confidence) that justify it, which is what an analyst or a court needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from chainsleuth.chain.exposure.policy import ExposurePolicy, TierReason
from chainsleuth.chain.tracing.graph import FlowGraph
from chainsleuth.chain.tracing.loader import PriceTable
from chainsleuth.chain.tracing.sources import address_source
from chainsleuth.chain.tracing.stops import StopSet
from chainsleuth.chain.tracing.trace import Direction, EvidencePath, Resolver, Source, trace


@dataclass(frozen=True)
class Evidence:
    """Why an entity is exposed to a category: the tagged counterparty, the tag, and a path to it."""

    counterparty: str
    label: str | None
    tag_source: str | None
    confidence: str | None
    share: float
    path: EvidencePath | None


@dataclass
class CategoryExposure:
    category: str
    direction: str
    direct_share: float
    indirect_share: float
    value: float
    #: The same in USD when prices were given (``None`` otherwise: the policy's min_value is then not applied).
    value_usd: float | None = None
    evidence: list[Evidence] = field(default_factory=list)


@dataclass
class EntityExposure:
    entity: str
    hops: int
    unit: str
    volume: dict[str, float]
    categories: list[CategoryExposure]
    tier: str | None
    reasons: list[TierReason]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _combine(sources: Sequence[Source]) -> Source:
    first_hop = min(s.first_hop for s in sources)
    same = [s for s in sources if s.first_hop == first_hop and s.asset == sources[0].asset]
    return Source(
        np.concatenate([s.edges for s in same]),
        np.concatenate([s.taint for s in same]),
        first_hop,
        sources[0].label,
        sources[0].asset,
    )


def entity_exposure(
    graph: FlowGraph,
    chain: str,
    addresses: Sequence[int],
    tagged: StopSet,
    *,
    policy: ExposurePolicy | None = None,
    hops: int | None = None,
    label: str | None = None,
    prices: PriceTable | None = None,
    resolver: Resolver | None = None,
    evidence_per_category: int = 3,
) -> EntityExposure:
    """Exposure of the entity made of ``addresses`` (dense ids on ``chain``: one address or a cluster).

    ``tagged`` is the stop set of *all* tagged entities (``stops_from_attributions(..., only_services=
    False)``). Shares are of the entity's traced volume in its native asset.
    """
    pol = policy or ExposurePolicy.default()
    k = pol.hops if hops is None else hops
    categories: dict[tuple[str, str], CategoryExposure] = {}
    volume: dict[str, float] = {}
    unit = "coin"
    for direction, name in (("backward", "incoming"), ("forward", "outgoing")):
        dir_: Direction = "backward" if direction == "backward" else "forward"
        sources = []
        for address in addresses:
            try:
                sources.append(address_source(graph, chain, int(address), dir_))
            except Exception:
                continue
        if not sources:
            volume[name] = 0.0
            continue
        result = trace(
            graph,
            _combine(sources),
            direction=dir_,
            policy="haircut",
            hops=k,
            stops=tagged,
            cross_bridge=True,
            top_k=1,
            max_terminals=10_000,
            resolver=resolver,
            prices=prices,
        )
        volume[name] = result.traced_value
        unit = result.traced_asset
        for term in result.terminals:
            if term.reason != "service":
                continue
            cats = pol.categories_of(term.concepts or ((term.category,) if term.category else ()))
            for cat in cats:
                cname = pol.categories[cat].name
                entry = categories.setdefault((cname, name), CategoryExposure(cname, name, 0.0, 0.0, 0.0))
                weight = 1.0 / len(cats)
                entry.direct_share += term.direct_share * weight
                entry.indirect_share += (term.share - term.direct_share) * weight
                entry.value += term.amount * weight
                if term.amount_usd is not None:
                    entry.value_usd = (entry.value_usd or 0.0) + term.amount_usd * weight
                if len(entry.evidence) < evidence_per_category:
                    entry.evidence.append(
                        Evidence(
                            counterparty=term.entity,
                            label=term.label,
                            tag_source=term.source,
                            confidence=term.confidence,
                            share=term.share * weight,
                            path=term.paths[0] if term.paths else None,
                        )
                    )
    shares: dict[tuple[str, str, str], tuple[float, float]] = {}
    for entry in categories.values():
        total = entry.direct_share + entry.indirect_share
        usd = entry.value_usd if entry.value_usd is not None else float("inf")
        if entry.direct_share > 0:
            shares[(entry.category, "direct", entry.direction)] = (entry.direct_share, usd * entry.direct_share / total)
        if entry.indirect_share > 1e-12:
            shares[(entry.category, "indirect", entry.direction)] = (
                entry.indirect_share,
                usd * entry.indirect_share / total,
            )
    tier, reasons = pol.tier(shares)
    ordered = sorted(categories.values(), key=lambda c: -(c.direct_share + c.indirect_share))
    return EntityExposure(
        entity=label or f"{chain}:{','.join(str(a) for a in addresses[:3])}",
        hops=k,
        unit=unit,
        volume=volume,
        categories=ordered,
        tier=tier,
        reasons=reasons,
    )
