"""Indirect exposure for the rules, from the chain engine: computed once per run, in bulk, for every deposit.

:func:`chain_exposure_provider` takes the chain store's cached flow graph and the stop set of every tagged
entity (:func:`chainsleuth.api.investigate.investigation`: tags from the attribution store resolved to clusters,
our deposit addresses as our own), builds the bulk :class:`~chainsleuth.chain.exposure.ExposureModel` with the
rule language's risk categories (:data:`~chainsleuth.monitor.exposure.RISK_CATEGORIES`) and reads, for each of
our deposit addresses the ledger's deposits were paid to, the share of what it received that comes from a
category within ``hops`` hops (the senders of its funding transactions and, through them, up to ``hops - 1``
intermediaries, the bridge included). Addresses at or above ``min_share`` then get their evidence once from the
time-respecting single-entity query (:func:`~chainsleuth.chain.exposure.entity_exposure`): the counterparty,
its tag's source and confidence, and the path. Events only look answers up, so the batch and the streaming
engines see the same answers.

The provider answers deposits (direction ``in``) only; withdrawals keep the direct look-up of the destination.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.chain.exposure import Category, ExposureModel, ExposurePolicy, category_matrix, entity_exposure
from chainsleuth.chain.exposure.query import Evidence
from chainsleuth.chain.tracing import StopSet, StoreResolver
from chainsleuth.monitor.exposure import RISK_CATEGORIES, ExposureHit
from chainsleuth.store.chainstore import ChainStore

if TYPE_CHECKING:
    from chainsleuth.api.investigate import Investigation
from chainsleuth.store.models.exchange import DepositAddress

DEFAULT_HOPS = 3
#: Shares below this are numerical dust, never reported.
EPSILON = 1e-9


#: The last column of the bulk labels: entities attributed to none of the risk categories (exchanges, the bridge,
#: our own deposit addresses). They pass on their own category, i.e. nothing: funds that went through an exchange
#: are the exchange's, as in the chain engine's own policy.
OTHER = "attributed"


def risk_policy(hops: int) -> ExposurePolicy:
    """An exposure policy whose categories are the rule language's (no tiers: the rules decide)."""
    categories = tuple(Category(name, tuple(sorted(concepts)), (), ()) for name, concepts in RISK_CATEGORIES.items())
    return ExposurePolicy(hops=hops, min_value=0.0, tiers=(), categories=categories, source="monitor")


def _labels(policy: ExposurePolicy, tagged: StopSet, n_entities: int) -> sp.csr_matrix:
    """``L`` of the risk categories plus the :data:`OTHER` column for every other attributed entity."""
    risk = category_matrix(policy, tagged, n_entities).tolil()
    other = sp.lil_matrix((n_entities, 1))
    has_risk = np.asarray(risk.sum(axis=1)).ravel() > 0
    addresses = np.asarray(tagged.addresses, dtype=np.int64)
    addresses = addresses[(addresses >= 0) & (addresses < n_entities)]
    plain = addresses[~has_risk[addresses]]
    if len(plain):
        other[plain, 0] = 1.0
    return sp.hstack([risk, other]).tocsr()


def _evidence(item: Evidence, hops: int) -> dict[str, object]:
    path = [
        {"chain": h.chain, "tx_hash": h.tx_hash, "from_address": h.from_address, "to_address": h.to_address,
         "value": h.value, "asset": h.asset, "timestamp": h.timestamp, "bridge_memo": h.bridge_memo}
        for h in (item.path.hops if item.path is not None else ())
    ]  # fmt: skip
    return {"address": item.counterparty, "label": item.label, "source": item.tag_source,
            "confidence": item.confidence, "share": item.share, "hops": len(path) or hops, "max_hops": hops,
            "path": path}  # fmt: skip


def _bridged(
    inv: Investigation, row: int, policy: ExposurePolicy, hops: int, resolver: StoreResolver
) -> dict[str, tuple[float, list[dict[str, object]]]]:
    """Exposure arriving at entity ``row`` as a bridge payout: the single-entity query's backward trace ends at
    the bridge, so the deposit leg's sender is looked at here (its own tag, then its exposure in ``hops - 1``),
    weighted by the payout's part of what ``row`` received in that asset."""
    graph, links = inv.graph, inv.graph.bridges
    found: dict[str, tuple[float, list[dict[str, object]]]] = {}
    if not len(links):
        return found
    chain_of = {seg.chain: seg for seg in graph.segments}
    received = graph.addr_to == row
    for i in np.flatnonzero(graph.addr_to[links.target] == row).tolist():
        source, target = int(links.source[i]), int(links.target[i])
        sender = int(graph.addr_from[source])
        if sender < 0:  # a UTXO deposit leg: its senders are the inputs (not followed here)
            continue
        inbound = float(graph.value[received & (graph.asset == graph.asset[target])].sum()) or 1.0
        weight = min(1.0, float(graph.value[target]) / inbound)
        seg = next(s for s in reversed(graph.segments) if s.address_offset <= sender)
        names = resolver.addresses(graph, [sender, row])
        hashes = resolver.tx_hashes(graph, [int(graph.tx[source]), int(graph.tx[target])])
        crossing = [
            {"chain": seg.chain, "tx_hash": hashes.get(int(graph.tx[source])), "from_address": names.get(sender),
             "to_address": "bridge", "bridge_memo": None},
            {"chain": next((c for c, s in chain_of.items() if s.address_offset <= row), None),
             "tx_hash": hashes.get(int(graph.tx[target])), "from_address": "bridge", "to_address": names.get(row),
             "bridge_memo": links.memo[i] if i < len(links.memo) else "bridge"},
        ]  # fmt: skip
        own = np.flatnonzero(np.asarray(inv.tagged.addresses) == sender)
        if len(own):
            entity = inv.tagged.entities[int(inv.tagged.entity[own[0]])]
            for j in policy.categories_of(entity.concepts or ((entity.category,) if entity.category else ())):
                share, evidence = found.get(policy.categories[j].name, (0.0, []))
                evidence.append(
                    {
                        "address": names.get(sender),
                        "label": entity.label,
                        "source": entity.source,
                        "confidence": entity.confidence,
                        "share": weight,
                        "hops": 1,
                        "path": crossing,
                    }
                )
                found[policy.categories[j].name] = (share + weight, evidence)  # fmt: skip
            continue
        if hops < 2:
            continue
        detail = entity_exposure(graph, seg.chain, [sender - seg.address_offset], inv.tagged, policy=policy,
                                 hops=hops - 1, resolver=resolver)  # fmt: skip
        for cat in detail.categories:
            part = (cat.direct_share + cat.indirect_share) * weight
            if cat.direction != "incoming" or part <= EPSILON:
                continue
            share, evidence = found.get(cat.category, (0.0, []))
            for item in cat.evidence:
                record = _evidence(item, hops)
                record["path"] = [*list(record["path"]), *crossing]  # type: ignore[call-overload]
                evidence.append(record)
            found[cat.category] = (share + part, evidence)
    return found


@dataclass
class ChainExposureProvider:
    """Precomputed exposure of our deposit addresses, ``(chain, address) → category → hit``."""

    by_address: Mapping[tuple[str, str], Mapping[str, ExposureHit]]
    hops: int = DEFAULT_HOPS
    min_share: float = 0.0

    def exposure(
        self, chain: str | None, address: str, tx_hash: str | None, direction: str
    ) -> Mapping[str, ExposureHit]:
        if chain is None or direction != "in":
            return {}
        return self.by_address.get((chain, address), {})


def chain_exposure_provider(
    session: Session,
    store: ChainStore,
    *,
    hops: int = DEFAULT_HOPS,
    min_share: float = 0.0,
    addresses: Iterable[tuple[str, str]] | None = None,
) -> ChainExposureProvider:
    """Bulk exposure of our deposit addresses (all of them, or ``addresses``) within ``hops`` hops."""
    from chainsleuth.api.investigate import investigation  # the API layer imports the monitor: no cycle at load

    if hops < 1:
        raise ValueError("hops must be at least 1")
    chains = set(store.chains())
    if not chains:
        return ChainExposureProvider({}, hops, min_share)
    wanted = (
        sorted(set(addresses))
        if addresses is not None
        else sorted(set(session.execute(select(DepositAddress.chain, DepositAddress.address)).tuples()))
    )
    inv = investigation(session, store)
    graph = inv.graph
    policy = risk_policy(hops)
    model = inv.entry.memoised(("monitor-exposure-model",), lambda: ExposureModel.from_graph(graph))
    result = model.compute(_labels(policy, inv.tagged, model.n_entities), policy, hops)
    offsets = {seg.chain: seg.address_offset for seg in graph.segments}
    resolver = StoreResolver(store)
    payouts = set(graph.addr_to[graph.bridges.target].tolist()) if len(graph.bridges) else set()
    found: dict[tuple[str, str], dict[str, ExposureHit]] = {}
    for chain, address in wanted:
        if chain not in chains or chain not in offsets:
            continue
        local = store.address_id(chain, address)
        if local is None:
            continue
        row = offsets[chain] + local
        if row >= result.in_total.shape[0]:
            continue
        total = result.in_total[row, : len(policy.categories)]
        screened = any(float(share) > EPSILON and float(share) >= min_share for share in total.tolist())
        if not screened and row not in payouts:  # the bulk flows do not cross the bridge: its payouts are checked
            continue
        # Screened in bulk; confirmed, measured time-respecting and explained by the single-entity query.
        detail = entity_exposure(graph, chain, [local], inv.tagged, policy=policy, hops=hops, resolver=resolver)
        shares: dict[str, tuple[float, float, list[dict[str, object]]]] = {}
        for cat in detail.categories:
            if cat.direction == "incoming" and cat.evidence:
                evidence = [_evidence(item, hops) for item in cat.evidence]
                shares[cat.category] = (cat.direct_share, cat.indirect_share, evidence)
        for name, (part, bridged) in _bridged(inv, row, policy, hops, resolver).items():
            direct, indirect, evidence = shares.get(name, (0.0, 0.0, []))
            shares[name] = (direct, indirect + part, evidence + bridged)
        hits: dict[str, ExposureHit] = {}
        for name, (direct, indirect, evidence) in shares.items():
            share = direct + indirect
            if share > EPSILON and share >= min_share:
                tier = "indirect" if indirect > EPSILON else "direct"
                hits[name] = ExposureHit(name, min(1.0, share), tier, tuple(evidence))
        if hits:
            found[(chain, address)] = hits
    return ChainExposureProvider(found, hops, min_share)
