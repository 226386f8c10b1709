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
from chainsleuth.chain.tracing.trace import Direction, EvidencePath, Resolver, Source, Terminal, TraceResult, trace
from chainsleuth.errors import NotFoundError


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
    #: share × volume, in the exposure's unit.
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


def _assets(graph: FlowGraph, chain: str) -> list[str | None]:
    """The assets of ``chain`` to trace separately (None: the chain's only one, for UTXO and hand-built graphs)."""
    found = [seg.asset for seg in graph.segments if seg.chain == chain]
    return list(found) if len(found) > 1 else [None]


def _add(
    categories: dict[tuple[str, str], CategoryExposure],
    policy: ExposurePolicy,
    direction: str,
    term: Terminal,
    part: float,
    evidence_per_category: int,
) -> None:
    """Book one stopped terminal under each category its tags map to (split equally between them)."""
    cats = policy.categories_of(term.concepts or ((term.category,) if term.category else ()))
    for cat in cats:
        name = policy.categories[cat].name
        entry = categories.setdefault((name, direction), CategoryExposure(name, direction, 0.0, 0.0, 0.0))
        weight = part / len(cats)
        entry.direct_share += term.direct_share * weight
        entry.indirect_share += (term.share - term.direct_share) * weight
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
    False)``). Shares are of the entity's volume; on an account chain every asset is traced on its own and
    the results are weighted by USD value (``prices``), or by coin amounts when no prices are given.
    """
    pol = policy or ExposurePolicy.default()
    k = pol.hops if hops is None else hops
    categories: dict[tuple[str, str], CategoryExposure] = {}
    volume: dict[str, float] = {}
    assets: set[str] = set()
    for direction, name in (("backward", "incoming"), ("forward", "outgoing")):
        dir_: Direction = "backward" if direction == "backward" else "forward"
        runs: list[tuple[TraceResult, float]] = []
        for asset in _assets(graph, chain):
            sources = []
            for address in addresses:
                try:
                    sources.append(address_source(graph, chain, int(address), dir_, asset=asset))
                except NotFoundError:  # no flow in this asset and direction: contributes nothing
                    continue
            if not sources:
                continue
            source = _combine(sources)
            result = trace(
                graph,
                source,
                direction=dir_,
                policy="haircut",
                hops=k,
                stops=tagged,
                cross_bridge=True,
                top_k=1,
                max_terminals=None,
                resolver=resolver,
                prices=prices,
            )
            when = int(graph.ts[source.edges].min()) if len(source.edges) else 0
            usd = prices.usd(result.traced_asset, result.traced_value, when) if prices is not None else None
            runs.append((result, usd if usd is not None else result.traced_value))
            assets.add(result.traced_asset)
        # Several assets (ETH and tokens) are combined by their USD value (by coin amounts without prices).
        total = sum(weight for _, weight in runs)
        volume[name] = total
        for result, weight in runs:
            part = weight / total if total > 0 else 0.0
            for term in result.terminals:
                if term.reason == "service":
                    _add(categories, pol, name, term, part, evidence_per_category)
    unit = "USD" if prices is not None else (next(iter(assets)) if len(assets) == 1 else "mixed coin units")
    for entry in categories.values():
        entry.value = (entry.direct_share + entry.indirect_share) * volume.get(entry.direction, 0.0)
        entry.value_usd = entry.value if unit == "USD" else None
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
