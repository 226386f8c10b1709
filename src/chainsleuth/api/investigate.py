"""The chain engine's queries as the HTTP API and the web pages ask them: trace, exposure, paths, clusters, change.

Both front ends need the same assembly that ``chainsleuth chain trace`` does on the command line (the flow graph,
the clusters, tags from the attribution store resolved to clusters, our own deposit addresses so a trace ends
at *the customer's account*), but per request and without rebuilding anything. The graph comes from the
process-wide :mod:`chainsleuth.chain.tracing.cache`; the stop sets are memoised on that graph under a key made
of the clustering's and the tag database's fingerprints, so a new tag or a new clustering run takes effect on
the next request while an unchanged world costs nothing. Results are the engine's own dataclasses; callers
serialise them (``to_dict``) or render them.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chainsleuth.chain.attribution.clusters import ClusterAttribution
from chainsleuth.chain.attribution.store import find_tags
from chainsleuth.chain.clustering.change import HEURISTICS, change_candidates, check_heuristics
from chainsleuth.chain.clustering.coinjoin import CoinJoinResult, detect_coinjoins
from chainsleuth.chain.clustering.persist import ClusterStore, cluster_arrays
from chainsleuth.chain.clustering.view import UtxoView, load_utxo_view
from chainsleuth.chain.exposure import EntityExposure, ExposurePolicy, entity_exposure
from chainsleuth.chain.paths import find_paths
from chainsleuth.chain.paths.search import PathResult
from chainsleuth.chain.tracing import (
    Direction,
    FlowGraph,
    Policy,
    PriceTable,
    StopEntity,
    StopSet,
    StoreResolver,
    TraceResult,
    resolve_source,
    stops_from_addresses,
    stops_from_tags,
    trace,
)
from chainsleuth.chain.tracing.cache import GraphEntry, cached_graph, cluster_fingerprint
from chainsleuth.errors import InvalidInputError, NotFoundError
from chainsleuth.store.chainstore import CHAINS, ChainStore
from chainsleuth.store.chainstore.schema import chain_spec
from chainsleuth.store.models.exchange import DepositAddress
from chainsleuth.store.models.tags import Tag

#: Co-spending transactions listed as the multi-input evidence of a cluster (the count covers all).
COSPEND_EVIDENCE = 20


@dataclass
class Investigation:
    """Everything a query needs, valid for the store, clustering and tags as they are now."""

    store: ChainStore
    entry: GraphEntry
    clusters: dict[str, Any]
    #: Where traces stop: our customers' deposit addresses (each its account), then tagged services.
    services: StopSet
    #: Every tagged entity (exposure counts abuse and services alike), our deposit addresses included.
    tagged: StopSet
    #: Tags resolved to clusters, keyed ``"<chain>:<cluster id>"`` (or the address for unclustered chains).
    attributions: dict[Hashable, ClusterAttribution]
    prices: PriceTable | None

    @property
    def graph(self) -> FlowGraph:
        return self.entry.graph


def known_chain(store: ChainStore, chain: str) -> str:
    """``chain`` if it is a chain the store holds; NotFoundError naming the ones it does otherwise."""
    if chain not in CHAINS or chain not in store.chains():
        raise NotFoundError("unknown chain, or nothing ingested for it", chain=chain, known=", ".join(store.chains()))
    return chain


def parse_time(value: str | None, name: str) -> int | None:
    """An ISO date/time (UTC unless it says otherwise) or unix seconds; InvalidInputError naming the field."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return int(text)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError(f"{name}: not an ISO date/time or unix timestamp", field=name, value=value) from None
    return int((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp())


def _db_fingerprint(session: Session) -> tuple[int, int, int]:
    """Changes when a tag or a deposit address is added or removed (stop sets are rebuilt then)."""
    count, last = session.execute(select(func.count(Tag.id), func.max(Tag.id))).one()
    deposits = session.scalar(select(func.count()).select_from(DepositAddress)) or 0
    return int(count or 0), int(last or 0), int(deposits)


def _stops(
    session: Session, store: ChainStore, graph: FlowGraph, clusters: dict[str, Any]
) -> tuple[StopSet, StopSet, dict[Hashable, ClusterAttribution]]:
    chains = set(store.chains())
    tags = [t for t in find_tags(session) if t.network in chains and t.address]
    services, tagged, attributions = stops_from_tags(graph, store, tags, clusters)
    ours = stops_from_addresses(
        graph,
        store,
        [
            (d.chain, d.address, StopEntity(d.account_id, f"our customer {d.customer_id}, account {d.account_id}",
                                            "exchange", source="exchange ledger", confidence="ownership"))
            for d in session.scalars(select(DepositAddress))
            if d.chain in chains
        ],
    )  # fmt: skip
    return ours.merged(services), ours.merged(tagged), attributions


def _prices(price_file: Path | None) -> PriceTable | None:
    return PriceTable.read(price_file) if price_file is not None and price_file.is_file() else None


def investigation(session: Session, store: ChainStore, price_file: Path | None = None) -> Investigation:
    """The cached graph of ``store`` with clusters, stop sets and prices for one request."""
    entry = cached_graph(store)
    clusters_key = cluster_fingerprint(store)
    clusters = entry.memoised(("clusters", clusters_key), lambda: cluster_arrays(store.root, store.chains()))
    services, tagged, attributions = entry.memoised(
        ("stops", clusters_key, _db_fingerprint(session)), lambda: _stops(session, store, entry.graph, clusters)
    )
    prices = entry.memoised(("prices", str(price_file)), lambda: _prices(price_file))
    return Investigation(store, entry, clusters, services, tagged, attributions, prices)


# -- trace, exposure, paths -------------------------------------------------------------------------------------


def run_trace(
    inv: Investigation,
    chain: str,
    target: str,
    *,
    direction: Direction = "forward",
    policy: Policy = "haircut",
    hops: int = 5,
    since: int | None = None,
    until: int | None = None,
    min_value: float = 0.0,
    asset: str | None = None,
    cross_bridge: bool = True,
    top_k: int = 3,
    limit: int | None = 100,
) -> TraceResult:
    """Trace from an address, a transaction or ``<tx>:<index>``; ends at our accounts and tagged services."""
    source = resolve_source(inv.graph, inv.store, chain, target, direction, asset=asset)
    return trace(
        inv.graph,
        source,
        direction=direction,
        policy=policy,
        hops=hops,
        since=since,
        until=until,
        min_value=min_value,
        stops=inv.services,
        cross_bridge=cross_bridge,
        top_k=top_k,
        max_terminals=limit,
        resolver=StoreResolver(inv.store),
        prices=inv.prices,
    )


def address_id(store: ChainStore, chain: str, address: str) -> int:
    """The dense id of ``address``; NotFoundError when the store never saw it."""
    local = store.address_id(chain, address.strip())
    if local is None:
        raise NotFoundError("address not in the chain store", chain=chain, address=address)
    return local


def _clustering(clusters: Mapping[str, Any], chain: str) -> Any:
    array = clusters.get(chain)
    if array is None:
        raise NotFoundError("no clustering for this chain yet: run `chainsleuth chain cluster run`", chain=chain)
    return array


def _members(clusters: Mapping[str, Any], chain: str, cluster_id: int) -> Any:
    array = _clustering(clusters, chain)
    if not 0 <= cluster_id < len(array) or int(array[cluster_id]) != cluster_id:
        raise NotFoundError("no such cluster (a cluster id is the smallest address id of its members)",
                            chain=chain, cluster_id=cluster_id)  # fmt: skip
    return np.flatnonzero(array == cluster_id).astype(np.int64)


def cluster_array(inv: Investigation, chain: str) -> Any:
    """The address → cluster id array of ``chain``; NotFoundError when the chain was never clustered."""
    return _clustering(inv.clusters, chain)


def cluster_members(inv: Investigation, chain: str, cluster_id: int) -> Any:
    """Dense ids of the members of ``cluster_id`` (its smallest address id), ascending."""
    return _members(inv.clusters, chain, cluster_id)


def entity_members(store: ChainStore, clusters: Mapping[str, Any], chain: str, text: str, cluster: bool) -> list[int]:
    """Members of ``cluster:<id>``, of an address's cluster (``cluster``), or the address alone (shared by the
    HTTP routes and ``chainsleuth chain exposure|path``)."""
    value = text.strip()
    if value.startswith("cluster:"):
        number = value.removeprefix("cluster:")
        if not number.isdigit():
            raise InvalidInputError("a cluster is written cluster:<id>", value=text)
        return [int(m) for m in _members(clusters, chain, int(number))]
    local = address_id(store, chain, value)
    if not cluster:
        return [local]
    array = _clustering(clusters, chain)
    if local >= len(array):  # newer than the clustering: a cluster of its own
        return [local]
    return [int(m) for m in _members(clusters, chain, int(array[local]))]


def exposure(
    inv: Investigation,
    chain: str,
    members: Sequence[int],
    label: str,
    *,
    hops: int | None = None,
    policy: ExposurePolicy | None = None,
) -> EntityExposure:
    """Exposure of the entity made of ``members`` by category, direct and indirect, with evidence and tier."""
    return entity_exposure(
        inv.graph,
        chain,
        [int(m) for m in members],
        inv.tagged,
        policy=policy,
        hops=hops,
        label=label,
        prices=inv.prices,
        resolver=StoreResolver(inv.store),
    )


def paths(
    inv: Investigation,
    ends: Sequence[tuple[str, Sequence[int]]],
    *,
    max_depth: int = 6,
    max_degree: int = 1000,
    max_paths: int = 3,
) -> PathResult:
    """Shortest paths between two entities, each given as ``(chain, dense member ids)``."""
    graph_ends: list[list[int]] = []
    for chain, members in ends:
        offset = next(seg.address_offset for seg in inv.graph.segments if seg.chain == chain)
        graph_ends.append([offset + int(m) for m in members])
    return find_paths(
        inv.graph,
        graph_ends[0],
        graph_ends[1],
        max_depth=max_depth,
        max_degree=max_degree,
        max_paths=max_paths,
        resolver=StoreResolver(inv.store),
    )


# -- clusters and change heuristics -----------------------------------------------------------------------------


def _utxo(inv: Investigation, chain: str) -> tuple[UtxoView, CoinJoinResult]:
    def make() -> tuple[UtxoView, CoinJoinResult]:
        view = load_utxo_view(inv.store, chain)
        joins = detect_coinjoins(view.in_tx, view.in_address, view.out_tx, view.out_address, view.out_value)
        return view, joins

    return inv.entry.memoised(("utxo", chain), make)


def _tx_hashes(store: ChainStore, chain: str, tx_ids: Sequence[int]) -> dict[int, str]:
    if not tx_ids:
        return {}
    prefix = "btc" if chain_spec(chain).kind == "utxo" else "eth"
    ids = ",".join(str(int(t)) for t in tx_ids)
    rows = store.query(f"SELECT tx_id, hash FROM {prefix}_transactions WHERE tx_id IN ({ids})")
    return dict(zip(rows.column("tx_id").to_pylist(), rows.column("hash").to_pylist(), strict=True))


def _cospends(inv: Investigation, chain: str, members: Any) -> dict[str, Any]:
    """The multi-input evidence: transactions spending outputs of two or more member addresses."""
    view, joins = _utxo(inv, chain)
    hit = np.isin(view.in_address, members)
    pairs = np.unique(np.stack([view.in_tx[hit], view.in_address[hit]], axis=1), axis=0)
    if not len(pairs):
        return {"transactions": 0, "examples": [], "coinjoins_excluded": 0}
    txs, counts = np.unique(pairs[:, 0], return_counts=True)
    joint = txs[counts >= 2]
    per_tx = counts[counts >= 2]
    flagged = np.isin(joint, joins.flagged_tx_ids)
    kept, kept_counts = joint[~flagged], per_tx[~flagged]
    order = np.argsort(-kept_counts, kind="stable")[:COSPEND_EVIDENCE]
    hashes = _tx_hashes(inv.store, chain, [int(t) for t in kept[order]])
    examples = [
        {"tx_id": int(kept[i]), "tx_hash": hashes.get(int(kept[i]), ""), "member_inputs": int(kept_counts[i])}
        for i in order
    ]
    return {"transactions": len(kept), "examples": examples, "coinjoins_excluded": int(flagged.sum())}


def cluster_view(
    inv: Investigation, chain: str, cluster_id: int, *, offset: int = 0, limit: int = 50
) -> dict[str, Any]:
    """A cluster: size, one page of members, attribution with conflicts, and the links that built it."""
    members = cluster_members(inv, chain, cluster_id)
    clusters = ClusterStore(inv.store.root, chain)
    state = clusters.state()
    page = members[offset : offset + limit]
    names = inv.store.addresses(chain, page)
    attribution = inv.attributions.get(f"{chain}:{cluster_id}")
    heuristics: dict[str, Any] = {}
    if chain_spec(chain).kind == "utxo":
        heuristics["multi_input"] = _cospends(inv, chain, members)
    links = clusters.links(state)
    if links is not None:
        inside = np.isin(links.column("address_id").to_numpy(), members)
        kinds = [k for k, keep in zip(links.column("heuristic").to_pylist(), inside.tolist(), strict=True) if keep]
        heuristics["links_by_heuristic"] = {k: kinds.count(k) for k in sorted(set(kinds))}
    merges = [m for m in clusters.merges(state).to_pylist() if cluster_id in (m["into_cluster"], m["absorbed_cluster"])]
    return {
        "chain": chain,
        "cluster_id": cluster_id,
        "root_address": inv.store.address(chain, cluster_id),
        "size": len(members),
        "clustered_up_to_block": state.height,
        "offset": offset,
        "limit": limit,
        "members": [
            {"address_id": int(a), "address": n} for a, n in zip(page.tolist(), names, strict=True) if n is not None
        ],
        "attribution": attribution_dict(attribution),
        "heuristics": heuristics,
        "merges": merges[:50],
        "options": state.config,
    }


def attribution_dict(attribution: ClusterAttribution | None) -> dict[str, Any] | None:
    """A cluster's attribution as JSON: the displayed label and why, every tag, and the conflicts kept."""
    if attribution is None:
        return None
    return {
        "label": attribution.label,
        "category": attribution.category,
        "reason": attribution.reason,
        "categories": list(attribution.categories),
        "labels": list(attribution.labels),
        "conflict": attribution.conflict,
        "conflicts": list(attribution.conflicts),
        "tags": [tag_dict(t) for t in attribution.tags],
    }


def tag_dict(tag: Any) -> dict[str, Any]:
    """One tag with its provenance (source, confidence, creator, origin, date)."""
    return {
        "id": tag.id,
        "network": tag.network,
        "address": tag.address,
        "label": tag.label,
        "category": tag.category,
        "abuse": tag.abuse,
        "actor": tag.actor,
        "source": tag.source,
        "confidence": tag.confidence,
        "confidence_level": tag.confidence_level,
        "creator": tag.creator,
        "origin": tag.origin,
        "tagpack": tag.tagpack,
        "lastmod": tag.lastmod.isoformat() if tag.lastmod else None,
    }


def change_verdicts(
    inv: Investigation, chain: str, tx_hash: str, heuristics: Sequence[str] | None = None
) -> dict[str, Any]:
    """Each change heuristic's verdict on one transaction (fired → output and confidence, or why not)."""
    if chain_spec(chain).kind != "utxo":
        raise InvalidInputError("change heuristics apply to UTXO chains only", chain=chain)
    names = check_heuristics(list(heuristics) if heuristics else list(HEURISTICS))
    record = inv.store.transaction(chain, tx_hash.strip())
    if record is None:
        raise NotFoundError("transaction not in the chain store", chain=chain, tx_hash=tx_hash)
    tx_id = int(record["tx_id"])
    view, joins = _utxo(inv, chain)
    result = change_candidates(view, names, tx_ids=[tx_id], exclude_tx=joins.flagged_tx_ids)
    outputs = {int(o["output_index"]): o for o in record.get("outputs", [])}
    verdicts = result.for_tx(tx_id)
    for verdict in verdicts:
        if verdict.get("fired"):
            verdict["address"] = outputs.get(int(str(verdict["output_index"])), {}).get("address")
    explained = joins.explain(tx_id)
    return {"chain": chain, "tx_hash": record["hash"], "verdicts": verdicts, "coinjoin": explained}
