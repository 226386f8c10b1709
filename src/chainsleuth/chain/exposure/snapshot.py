"""Exposure of every cluster, computed in bulk and persisted as Parquet under the chain store.

The bulk model (:mod:`.bulk`) rates every entity at once; this module picks the entities (one per cluster on a
clustered chain, one per address elsewhere; an Ethereum address's ETH and token segments are one entity),
computes direct and indirect shares by category and the risk tier of each, and writes them::

    ROOT/exposure/state.json                   what the snapshot was computed from (see ``SnapshotKey``)
    ROOT/exposure/parts/clusters-<id>.parquet  one row per cluster with any volume or a tag

The Parquet file is written under a fresh name and ``state.json`` is replaced after it, so a reader sees the
old snapshot or the new one, never a mix.

**Recompute on tag change: stale by fingerprint, recomputed on the next read.** ``state.json`` records the
fingerprint of the tag set (a hash over every tag's subject, concepts, label, source and confidence, and over
our deposit addresses, which exposure counts as exchange entities), of the chain store and of its clusterings,
of the policy and of the price file. :func:`ensure_exposure` compares it with the current one and recomputes
when anything differs; every reader (``chainsleuth chain cluster exposure``, ``GET /api/chain/exposure``) goes
through it, so an imported TagPack or an analyst's new tag shows in the next listing without a separate job,
and an unchanged world is read from disk without recomputing.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.chain.exposure.bulk import ExposureModel, category_matrix
from chainsleuth.chain.exposure.policy import ExposurePolicy
from chainsleuth.chain.tracing.graph import FlowGraph, Int64Array
from chainsleuth.chain.tracing.loader import PriceTable
from chainsleuth.chain.tracing.stops import StopSet
from chainsleuth.errors import InvalidInputError, NotFoundError, StorageError
from chainsleuth.store.models.exchange import DepositAddress
from chainsleuth.store.models.tags import Tag

if TYPE_CHECKING:
    from chainsleuth.store.chainstore import ChainStore

FORMAT_VERSION = 1
DIRECTIONS = (("in", "incoming"), ("out", "outgoing"))
#: Shares below this are numerical dust: not an exposure.
EPSILON = 1e-12
_LOCK = threading.Lock()


@dataclass(frozen=True)
class SnapshotKey:
    """Everything a snapshot depends on; a snapshot whose key differs from the current one is stale."""

    tags: str
    store: str
    clusters: str
    policy: str
    hops: int
    prices: str


@dataclass
class SnapshotState:
    """``state.json``: the key the snapshot was computed from, and what it holds."""

    key: SnapshotKey
    file: str
    rows: int
    unit: str
    categories: list[str]
    tiers: list[str]
    clustered_chains: list[str]
    computed_at: int
    seconds: float
    version: int = FORMAT_VERSION


@dataclass
class ExposureSnapshot:
    """A read snapshot: its state, its rows, and whether this call recomputed it."""

    directory: Path
    state: SnapshotState
    table: pa.Table
    recomputed: bool


def tags_fingerprint(session: Session) -> str:
    """A hash of the tag set as exposure sees it (and of our deposit addresses): changes with any tag edit."""
    digest = hashlib.sha256()
    columns = (Tag.id, Tag.network, Tag.address, Tag.label, Tag.category, Tag.abuse, Tag.concepts, Tag.source,
               Tag.confidence, Tag.actor)  # fmt: skip
    for row in session.execute(select(*columns).where(Tag.address.is_not(None)).order_by(Tag.id)):
        digest.update(json.dumps(list(row), default=str).encode())
    digest.update(b"\x00deposits")
    deposits = select(DepositAddress.chain, DepositAddress.address, DepositAddress.account_id)
    for deposit in session.execute(deposits.order_by(DepositAddress.chain, DepositAddress.address)):
        digest.update(json.dumps(list(deposit), default=str).encode())
    return digest.hexdigest()


def policy_fingerprint(policy: ExposurePolicy) -> str:
    """A hash of the policy's content (hops, minimum value, tiers, categories and thresholds)."""
    content = [policy.hops, policy.min_value, list(policy.tiers), [asdict(c) for c in policy.categories]]
    return hashlib.sha256(json.dumps(content, default=str).encode()).hexdigest()


def price_fingerprint(price_file: Path | None) -> str:
    """The price file's path, size and modification time ('' without prices)."""
    if price_file is None or not price_file.is_file():
        return ""
    stat = price_file.stat()
    return f"{price_file.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"


def entity_map(graph: FlowGraph, clusters: Mapping[str, Int64Array]) -> tuple[Int64Array, dict[str, int]]:
    """Graph address → entity: ``offset(chain) + cluster id`` (or the local address id where unclustered).

    Every asset segment of a chain maps onto the chain's first segment, so an Ethereum address's ETH and token
    flows are one entity; addresses newer than the clustering are clusters of their own. Returns the map and
    each chain's base offset.
    """
    entity_of = np.arange(graph.n_addresses, dtype=np.int64)
    base: dict[str, int] = {}
    for seg in graph.segments:
        offset = base.setdefault(seg.chain, seg.address_offset)
        local = np.arange(seg.address_count, dtype=np.int64)
        array = clusters.get(seg.chain)
        if array is not None:
            n = min(len(array), seg.address_count)
            local[:n] = np.asarray(array[:n], dtype=np.int64)
        entity_of[seg.address_offset : seg.address_offset + seg.address_count] = offset + local
    return entity_of, base


def compute_table(
    graph: FlowGraph,
    clusters: Mapping[str, Int64Array],
    tagged: StopSet,
    policy: ExposurePolicy,
    prices: PriceTable | None = None,
) -> tuple[pa.Table, str]:
    """One row per cluster (or unclustered address) with volume or a tag: shares by category, tier, size.

    Columns: ``chain``, ``cluster_id`` (the cluster's id on its chain: its smallest address id), ``size``,
    ``tier`` (null: none), ``tier_rank`` (index into the policy's tiers; ``len(tiers)`` for none),
    ``tagged``, ``in_volume``/``out_volume`` (in ``unit``), ``categories`` (those with any exposure),
    ``max_share``, and per category ``<category>_<in|out>_<direct|indirect>`` shares.
    """
    entity_of, base = entity_map(graph, clusters)
    n = graph.n_addresses
    model = ExposureModel.from_graph(graph, entity_of=entity_of, n_entities=n, prices=prices)
    result = model.compute(category_matrix(policy, tagged, n, entity_of), policy)
    tiers = result.tiers(policy)
    size = np.zeros(n, dtype=np.int64)
    for seg in graph.segments:
        if seg.address_offset == base[seg.chain]:  # count each address once, on its chain's first segment
            np.add.at(size, entity_of[seg.address_offset : seg.address_offset + seg.address_count], 1)
    keep = (size > 0) & ((result.in_volume + result.out_volume > 0) | result.tagged)
    rows = np.flatnonzero(keep)
    chain_names = np.empty(n, dtype=object)
    cluster_ids = np.arange(n, dtype=np.int64)
    for seg in graph.segments:
        span = slice(seg.address_offset, seg.address_offset + seg.address_count)
        chain_names[span] = seg.chain
        cluster_ids[span] = np.arange(seg.address_count, dtype=np.int64)
    columns: dict[str, Any] = {
        "chain": pa.array(chain_names[rows].tolist(), pa.string()),
        "cluster_id": pa.array(cluster_ids[rows], pa.int64()),
        "size": pa.array(size[rows], pa.int64()),
        "tier": pa.array([policy.tiers[t] if t < len(policy.tiers) else None for t in tiers[rows].tolist()],
                         pa.string()),
        "tier_rank": pa.array(tiers[rows], pa.int64()),
        "tagged": pa.array(result.tagged[rows], pa.bool_()),
        "in_volume": pa.array(result.in_volume[rows], pa.float64()),
        "out_volume": pa.array(result.out_volume[rows], pa.float64()),
    }  # fmt: skip
    shares: dict[str, np.ndarray[Any, np.dtype[np.float64]]] = {}
    exposed = np.zeros((len(rows), len(policy.categories)), dtype=bool)
    for j, name in enumerate(policy.names):
        for short, direct, total in (("in", result.in_direct, result.in_total), ("out", result.out_direct,
                                                                                  result.out_total)):  # fmt: skip
            d = direct[rows, j]
            i = np.maximum(total[rows, j] - d, 0.0)
            shares[f"{name}_{short}_direct"] = d
            shares[f"{name}_{short}_indirect"] = i
            exposed[:, j] |= (d > EPSILON) | (i > EPSILON)
    names = np.asarray(policy.names, dtype=object)
    columns["categories"] = pa.array([names[flags].tolist() for flags in exposed], pa.list_(pa.string()))
    stacked = np.stack([shares[k] for k in shares], axis=1) if shares else np.zeros((len(rows), 1))
    columns["max_share"] = pa.array(stacked.max(axis=1, initial=0.0), pa.float64())
    for key, values in shares.items():
        columns[key] = pa.array(values, pa.float64())
    return pa.table(columns), model.unit


class ExposureStore:
    """The persisted snapshot under ``directory`` (default: ``<chain store>/exposure``)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    @property
    def state_path(self) -> Path:
        return self.directory / "state.json"

    def state(self) -> SnapshotState | None:
        """The current state, or None before the first computation."""
        if not self.state_path.is_file():
            return None
        try:
            raw = json.loads(self.state_path.read_text())
            raw["key"] = SnapshotKey(**raw["key"])
            return SnapshotState(**raw)
        except (ValueError, TypeError, KeyError) as error:
            raise StorageError(f"unreadable exposure state {self.state_path}: {error}") from error

    def table(self, state: SnapshotState) -> pa.Table:
        return pq.read_table(self.directory / state.file)

    def write(self, table: pa.Table, state: SnapshotState) -> None:
        """Write the rows under a new name, then switch ``state.json`` to it; remove the previous file."""
        parts = self.directory / "parts"
        parts.mkdir(parents=True, exist_ok=True)
        previous = self.state()
        name = f"parts/clusters-{uuid.uuid4().hex[:12]}.parquet"
        pq.write_table(table, self.directory / name)
        state.file = name
        temporary = self.state_path.with_suffix(f".{uuid.uuid4().hex[:8]}.tmp")
        temporary.write_text(json.dumps(asdict(state), indent=2))
        os.replace(temporary, self.state_path)
        if previous is not None and previous.file != name:
            (self.directory / previous.file).unlink(missing_ok=True)


def current_key(session: Session, store: ChainStore, policy: ExposurePolicy, price_file: Path | None) -> SnapshotKey:
    """The key a snapshot computed now would have."""
    from chainsleuth.chain.tracing.cache import cluster_fingerprint, store_fingerprint

    return SnapshotKey(
        tags=tags_fingerprint(session),
        store=repr(store_fingerprint(store)),
        clusters=repr(cluster_fingerprint(store)),
        policy=policy_fingerprint(policy),
        hops=policy.hops,
        prices=price_fingerprint(price_file),
    )


def ensure_exposure(
    session: Session,
    store: ChainStore,
    *,
    price_file: Path | None = None,
    policy: ExposurePolicy | None = None,
    directory: Path | None = None,
    force: bool = False,
) -> ExposureSnapshot:
    """The snapshot for the store, tags, clusterings, policy and prices as they are now.

    Reads the persisted one when its key matches; otherwise (or with ``force``) recomputes it from the same
    graph, clusters and tagged entities the HTTP API uses (:func:`chainsleuth.api.investigate.investigation`)
    and persists it. One recomputation at a time per process.
    """
    from chainsleuth.api.investigate import investigation  # the API layer builds on the engine: import late

    if not store.chains():
        raise NotFoundError("the chain store is empty: ingest a chain first", store=str(store.root))
    pol = policy or ExposurePolicy.default()
    where = ExposureStore(directory if directory is not None else Path(store.root) / "exposure")
    with _LOCK:
        key = current_key(session, store, pol, price_file)
        state = where.state()
        if state is not None and state.key == key and not force and state.version == FORMAT_VERSION:
            return ExposureSnapshot(where.directory, state, where.table(state), recomputed=False)
        started = time.perf_counter()
        inv = investigation(session, store, price_file)
        table, unit = compute_table(inv.graph, inv.clusters, inv.tagged, pol, inv.prices)
        state = SnapshotState(
            key=key,
            file="",
            rows=table.num_rows,
            unit=unit,
            categories=list(pol.names),
            tiers=list(pol.tiers),
            clustered_chains=sorted(inv.clusters),
            computed_at=int(time.time()),
            seconds=round(time.perf_counter() - started, 3),
        )
        where.write(table, state)
        return ExposureSnapshot(where.directory, state, table, recomputed=True)


def select_rows(
    snapshot: ExposureSnapshot,
    *,
    chain: str | None = None,
    tier: str | None = None,
    category: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[int, list[dict[str, Any]]]:
    """Rows matching the filters, most severe first (then the largest share): the total and one page."""
    state = snapshot.state
    if tier is not None and tier not in (*state.tiers, "none"):
        raise InvalidInputError(f"unknown tier {tier!r}; one of: {', '.join(state.tiers)}, none", field="tier")
    if category is not None and category not in state.categories:
        raise InvalidInputError(
            f"unknown category {category!r}; one of: {', '.join(state.categories)}", field="category"
        )
    table = snapshot.table
    mask = pa.array(np.ones(table.num_rows, dtype=bool))
    if chain is not None:
        mask = pc.and_(mask, pc.equal(table["chain"], chain))
    if tier == "none":
        mask = pc.and_(mask, pc.is_null(table["tier"]))
    elif tier is not None:
        mask = pc.and_(mask, pc.equal(table["tier"], tier))
    if category is not None:
        share = np.zeros(table.num_rows)
        for short, _ in DIRECTIONS:
            for mode in ("direct", "indirect"):
                share += table[f"{category}_{short}_{mode}"].to_numpy()
        mask = pc.and_(mask, pa.array(share > EPSILON))
    chosen = table.filter(mask)
    ordered = chosen.sort_by([("tier_rank", "ascending"), ("max_share", "descending"), ("cluster_id", "ascending")])
    return ordered.num_rows, ordered.slice(offset, limit).to_pylist()


def row_of(snapshot: ExposureSnapshot, chain: str, cluster_id: int) -> dict[str, Any] | None:
    """The row of one cluster, or None when it has neither volume nor tags."""
    table = snapshot.table
    mask = pc.and_(pc.equal(table["chain"], chain), pc.equal(table["cluster_id"], cluster_id))
    found = table.filter(mask).to_pylist()
    return found[0] if found else None


def shares_of(row: Mapping[str, Any], categories: list[str]) -> list[dict[str, Any]]:
    """A row's non-zero shares as ``{category, direction, direct_share, indirect_share}`` entries."""
    found = []
    for name in categories:
        for short, direction in DIRECTIONS:
            direct, indirect = float(row[f"{name}_{short}_direct"]), float(row[f"{name}_{short}_indirect"])
            if direct > EPSILON or indirect > EPSILON:
                found.append({"category": name, "direction": direction, "direct_share": direct,
                              "indirect_share": indirect})  # fmt: skip
    return found
