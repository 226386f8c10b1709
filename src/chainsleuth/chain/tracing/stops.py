"""Where a trace stops: attributed services, resolved from tags (and clusters) by the caller.

Funds that reach an exchange, a mixer or a market stop being traceable on chain: the service pools them,
and what leaves it is the service's money. A trace therefore ends at the first address of such an entity
and reports the entity (its label, category, and the tag's source and confidence) as the terminal. Bridges
are services too, but a bridge's public memo ties its two legs together, so the kernel crosses it unless the
caller turns crossing off.

The stop set is built from what the attribution module already resolved (``resolve_to_clusters``): every
tagged address, and, when the caller passes the clustering's address → cluster arrays, every address of a
tagged cluster. Tracing itself never reads the tag database.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from chainsleuth.chain.attribution.clusters import ClusterAttribution, resolve_to_clusters
from chainsleuth.chain.attribution.records import TagRecord
from chainsleuth.chain.attribution.taxonomy import get_taxonomy
from chainsleuth.chain.tracing.graph import BoolArray, FlowGraph, Int64Array
from chainsleuth.store.chainstore import ChainStore

#: Concepts at which a trace stops by default: every ``service`` of the taxonomy (exchanges, mixers,
#: markets, gambling, DeFi including bridges, payment processors...) plus mining pools.
STOP_ROOTS = frozenset({"service", "miner", "mining_service"})


def is_service(concept: str) -> bool:
    """Whether ``concept`` is a service (or a miner) in the taxonomy, directly or through a broader one."""
    if concept in STOP_ROOTS:
        return True
    tax = get_taxonomy()
    return concept in tax.concepts and bool(STOP_ROOTS.intersection(tax.ancestors(concept)))


@dataclass(frozen=True)
class StopEntity:
    """An entity a trace can end at, with the evidence for calling it that."""

    key: str
    label: str
    category: str | None
    source: str | None = None
    confidence: str | None = None
    is_bridge: bool = False
    #: Every category and abuse concept the entity's tags name (exposure maps them to risk categories).
    concepts: tuple[str, ...] = ()


@dataclass
class StopSet:
    """Graph-wide address ids of stopping entities (sorted) and, for each, the entity it belongs to."""

    addresses: Int64Array
    entity: Int64Array
    entities: list[StopEntity]
    _mask: BoolArray | None = field(default=None, repr=False)

    @staticmethod
    def build(pairs: Iterable[tuple[int, StopEntity]]) -> StopSet:
        """From (address id, entity) pairs; an address listed twice keeps its first entity."""
        index: dict[StopEntity, int] = {}
        seen: dict[int, int] = {}
        for address, entity in pairs:
            if address < 0 or address in seen:
                continue
            seen[address] = index.setdefault(entity, len(index))
        addresses = np.asarray(sorted(seen), dtype=np.int64)
        entity_ids = np.asarray([seen[a] for a in addresses.tolist()], dtype=np.int64)
        return StopSet(addresses, entity_ids, list(index))

    def __len__(self) -> int:
        return len(self.addresses)

    def mask(self, n_addresses: int) -> BoolArray:
        if self._mask is None or len(self._mask) != n_addresses:
            mask = np.zeros(n_addresses, dtype=bool)
            mask[self.addresses[self.addresses < n_addresses]] = True
            self._mask = mask
        return self._mask

    def entity_of(self, address: int) -> int:
        at = int(np.searchsorted(self.addresses, address))
        if at < len(self.addresses) and self.addresses[at] == address:
            return int(self.entity[at])
        return -1

    def merged(self, other: StopSet) -> StopSet:
        """Both sets; where they overlap, this set's entity wins."""
        pairs = [(int(a), self.entities[int(e)]) for a, e in zip(self.addresses, self.entity, strict=True)]
        pairs += [(int(a), other.entities[int(e)]) for a, e in zip(other.addresses, other.entity, strict=True)]
        return StopSet.build(pairs)


def lookup_addresses(store: ChainStore, chain: str, addresses: Collection[str]) -> dict[str, int]:
    """Dense ids of many addresses of one chain in one query (unknown ones are left out)."""
    if not addresses:
        return {}
    prefix = "btc" if chain == "bitcoin" else "eth"
    wanted = sorted(set(addresses))
    quoted = ",".join("'" + a.replace("'", "''") + "'" for a in wanted)
    table = store.query(f"SELECT address, address_id FROM {prefix}_addresses WHERE address IN ({quoted})")
    return dict(zip(table.column("address").to_pylist(), table.column("address_id").to_pylist(), strict=True))


def _offset(graph: FlowGraph, chain: str) -> int | None:
    for seg in graph.segments:
        if seg.chain == chain:
            return seg.address_offset
    return None


def stops_from_attributions(
    graph: FlowGraph,
    store: ChainStore,
    attributions: Mapping[Hashable, ClusterAttribution],
    *,
    clusters: Mapping[str, Int64Array] | None = None,
    only_services: bool = True,
) -> StopSet:
    """The stop set of resolved attributions (``resolve_to_clusters`` output).

    ``clusters`` maps a chain to its address → cluster id array (``ClusterStore(...).cluster_of()``); with
    it, every address of a tagged cluster stops the trace, not only the tagged ones. With
    ``only_services`` (the default) only clusters with a service category stop it; pass False to stop at
    every tagged entity (exposure does this).
    """
    pairs: list[tuple[int, StopEntity]] = []
    by_chain: dict[str, set[str]] = {}
    for attribution in attributions.values():
        for tag in attribution.tags:
            if tag.address is not None:
                by_chain.setdefault(tag.network, set()).add(tag.address)
    ids = {
        chain: lookup_addresses(store, chain, names)
        for chain, names in by_chain.items()
        if _offset(graph, chain) is not None
    }
    tagged_clusters: dict[str, dict[int, StopEntity]] = {}
    for cluster_id, attribution in attributions.items():
        categories = [c for c in attribution.categories if c]
        if only_services and not any(is_service(c) for c in categories):
            continue
        tag = attribution.display_tag
        entity = StopEntity(
            key=str(cluster_id),
            label=attribution.label,
            category=attribution.category,
            source=tag.source,
            confidence=tag.confidence,
            is_bridge=any(c == "defi_bridge" for c in categories),
            concepts=tuple(categories),
        )
        for t in attribution.tags:
            offset = _offset(graph, t.network)
            if t.address is None or offset is None:
                continue
            local = ids.get(t.network, {}).get(t.address)
            if local is None:
                continue
            pairs.append((offset + int(local), entity))
            cluster_of = (clusters or {}).get(t.network)
            if cluster_of is not None and 0 <= local < len(cluster_of):
                tagged_clusters.setdefault(t.network, {}).setdefault(int(cluster_of[local]), entity)
    # Every member of a tagged cluster, in one pass over each chain's cluster array.
    for chain, by_cluster in tagged_clusters.items():
        cluster_of = (clusters or {})[chain]
        offset = _offset(graph, chain) or 0
        keys = np.fromiter(by_cluster, dtype=np.int64, count=len(by_cluster))
        members = np.flatnonzero(np.isin(cluster_of, keys))
        pairs.extend(
            (offset + int(m), by_cluster[int(c)])
            for m, c in zip(members.tolist(), cluster_of[members].tolist(), strict=True)
        )
    return StopSet.build(pairs)


def stops_from_tags(
    graph: FlowGraph,
    store: ChainStore,
    tags: Sequence[TagRecord],
    clusters: Mapping[str, Int64Array],
) -> tuple[StopSet, StopSet, dict[Hashable, ClusterAttribution]]:
    """Tags resolved to clusters (keyed ``"<chain>:<cluster id>"``, or the address where the chain is not
    clustered), and their stop sets: ``(services, every tagged entity, attributions)``."""
    key_of: dict[str, Hashable] = {}
    for chain, array in clusters.items():
        ids = lookup_addresses(store, chain, [t.address for t in tags if t.network == chain and t.address])
        key_of.update({address: f"{chain}:{int(array[i])}" for address, i in ids.items() if i < len(array)})
    attributions = resolve_to_clusters(tags, key_of)
    services = stops_from_attributions(graph, store, attributions, clusters=clusters)
    tagged = stops_from_attributions(graph, store, attributions, clusters=clusters, only_services=False)
    return services, tagged, attributions


def stops_from_addresses(
    graph: FlowGraph, store: ChainStore, entries: Iterable[tuple[str, str, StopEntity]]
) -> StopSet:
    """A stop set from (chain, address, entity) triples, e.g. our exchange's own deposit addresses."""
    rows = list(entries)
    pairs: list[tuple[int, StopEntity]] = []
    for chain in {r[0] for r in rows}:
        offset = _offset(graph, chain)
        if offset is None:
            continue
        ids = lookup_addresses(store, chain, [r[1] for r in rows if r[0] == chain])
        pairs.extend((offset + ids[a], e) for c, a, e in rows if c == chain and a in ids)
    return StopSet.build(pairs)
