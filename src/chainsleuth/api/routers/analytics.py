"""The chain engine over HTTP: trace, exposure, path search, clusters, change heuristics and tags.

Every route answers from the process-wide flow graph (:mod:`chainsleuth.chain.tracing.cache`), which is built
on the first request and again only after the chain store changed, with stop sets from the attribution store
and our deposit addresses (:mod:`chainsleuth.api.investigate`); so the answers match ``chainsleuth chain
trace|exposure|path`` and the web pages exactly. ``/exposure`` lists every cluster by risk tier from the
persisted bulk snapshot (:mod:`chainsleuth.chain.exposure.snapshot`), recomputed on the request after a tag,
ingest or clustering changed it. Reading needs ``chain.read``; adding a tag ``tags.write`` (audited). Bad input
answers 422 naming the field, unknown addresses/transactions/clusters 404.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from chainsleuth.api import investigate as inv_
from chainsleuth.api.deps import Principal, get_chain_store, get_session
from chainsleuth.api.permissions import requires
from chainsleuth.chain.attribution.clusters import resolve_to_clusters
from chainsleuth.chain.attribution.store import add_tag, find_tags, tags_for
from chainsleuth.chain.exposure.snapshot import ExposureSnapshot, ensure_exposure, row_of, select_rows, shares_of
from chainsleuth.chain.tracing.cache import GRAPHS, cached_graph
from chainsleuth.errors import InvalidInputError
from chainsleuth.privacy import audit
from chainsleuth.store.chainstore import ChainStore

router = APIRouter(prefix="/api/chain", tags=["investigate"])
Reader = Annotated[Principal, Depends(requires("chain.read"))]
Tagger = Annotated[Principal, Depends(requires("tags.write"))]
DbSession = Annotated[Session, Depends(get_session)]
Store = Annotated[ChainStore, Depends(get_chain_store)]
Hops = Annotated[int | None, Query(ge=1, le=10, description="Hops of indirect exposure (default: the policy's).")]
Offset = Annotated[int, Query(ge=0, description="First member listed.")]
Limit = Annotated[int, Query(ge=1, le=1000, description="Members listed.")]


def price_file(request: Request) -> Path | None:
    """The daily USD prices: the world's ``prices.csv`` (demo) or one in the chain store directory."""
    world: Path | None = request.app.state.world_dir
    store: ChainStore = request.app.state.chain_store
    for candidate in ([world / "prices.csv"] if world is not None else []) + [Path(store.root) / "prices.csv"]:
        if candidate.is_file():
            return candidate
    return None


def _investigation(request: Request, session: Session, store: ChainStore, chain: str) -> inv_.Investigation:
    inv_.known_chain(store, chain)
    return inv_.investigation(session, store, price_file(request))


def _entity(inv: inv_.Investigation, chain: str, text: str, cluster: bool) -> list[int]:
    """Members of ``cluster:<id>``, of an address's cluster (``cluster``), or the address alone."""
    return inv_.entity_members(inv.store, inv.clusters, chain, text, cluster)


@router.get("/graph-cache", summary="The cached flow graph")
def graph_cache(_: Reader, store: Store) -> dict[str, Any]:
    """Which build of the flow graph answers queries, and the store state it was built for."""
    entry = cached_graph(store)
    return {"build": entry.build, "builds_in_process": GRAPHS.builds, "store_state": repr(entry.key)}


@router.get("/{chain}/trace", summary="Trace funds forward or backward")
def trace_route(
    request: Request,
    chain: str,
    _: Reader,
    session: DbSession,
    store: Store,
    target: Annotated[str, Query(min_length=1, description="Address, transaction hash, or TXHASH:INDEX.")],
    direction: Literal["forward", "backward"] = "forward",
    policy: Literal["haircut", "poison", "fifo"] = "haircut",
    hops: Annotated[int, Query(ge=1, le=30)] = 5,
    since: Annotated[str | None, Query(description="ISO date/time or unix seconds.")] = None,
    until: Annotated[str | None, Query(description="ISO date/time or unix seconds.")] = None,
    min_value: Annotated[float, Query(ge=0)] = 0.0,
    asset: Annotated[str | None, Query(description="Account chains: ETH, USDT...")] = None,
    cross_bridge: bool = True,
    top_k: Annotated[int, Query(ge=1, le=20, description="Evidence paths per terminal.")] = 3,
    limit: Annotated[int, Query(ge=1, le=1000, description="Terminals listed (shares cover all).")] = 100,
) -> dict[str, Any]:
    """Where the funds went (or came from): every terminal with amount, share, USD and evidence paths.

    Stops at our customers' deposit addresses (the entity is the account) and at attributed services.
    """
    inv = _investigation(request, session, store, chain)
    result = inv_.run_trace(
        inv,
        chain,
        target,
        direction=direction,
        policy=policy,
        hops=hops,
        since=inv_.parse_time(since, "since"),
        until=inv_.parse_time(until, "until"),
        min_value=min_value,
        asset=asset,
        cross_bridge=cross_bridge,
        top_k=top_k,
        limit=limit,
    )
    return {**result.to_dict(), "graph_build": inv.entry.build}


@router.get("/{chain}/addresses/{address}/exposure", summary="Exposure of an address or its cluster")
def address_exposure(
    request: Request,
    chain: str,
    address: str,
    _: Reader,
    session: DbSession,
    store: Store,
    hops: Hops = None,
    cluster: Annotated[bool, Query(description="Rate the address's whole cluster.")] = False,
) -> dict[str, Any]:
    """By category: direct and indirect, incoming and outgoing, value and share, tier, evidence with tag source."""
    inv = _investigation(request, session, store, chain)
    members = _entity(inv, chain, address, cluster)
    result = inv_.exposure(inv, chain, members, address, hops=hops)
    return {**result.to_dict(), "chain": chain, "members": len(members), "graph_build": inv.entry.build}


@router.get("/{chain}/clusters/{cluster_id}/exposure", summary="Exposure of a cluster")
def cluster_exposure(
    request: Request, chain: str, cluster_id: int, _: Reader, session: DbSession, store: Store, hops: Hops = None
) -> dict[str, Any]:
    """The same as for an address, for every address of the cluster as one entity."""
    inv = _investigation(request, session, store, chain)
    members = inv_.cluster_members(inv, chain, cluster_id)
    result = inv_.exposure(inv, chain, members, f"cluster {cluster_id}", hops=hops)
    return {**result.to_dict(), "chain": chain, "members": len(members), "graph_build": inv.entry.build}


def _snapshot(request: Request, session: Session, store: ChainStore) -> ExposureSnapshot:
    """The persisted exposure of every cluster, recomputed first when tags, store or clusterings changed."""
    return ensure_exposure(session, store, price_file=price_file(request))


def _snapshot_info(snapshot: ExposureSnapshot) -> dict[str, Any]:
    state = snapshot.state
    return {"computed_at": state.computed_at, "recomputed": snapshot.recomputed, "unit": state.unit,
            "tag_fingerprint": state.key.tags, "hops": state.key.hops, "tiers": state.tiers,
            "categories": state.categories, "clustered_chains": state.clustered_chains}  # fmt: skip


@router.get("/exposure", summary="Clusters by risk tier")
def exposure_list(
    request: Request,
    _: Reader,
    session: DbSession,
    store: Store,
    chain: Annotated[str | None, Query(description="Only this chain.")] = None,
    tier: Annotated[str | None, Query(description="severe, high, medium, low, or none.")] = None,
    category: Annotated[str | None, Query(description="Only clusters exposed to this policy category.")] = None,
    offset: Offset = 0,
    limit: Limit = 50,
) -> dict[str, Any]:
    """Every cluster's exposure from the bulk model, most severe tier first, paged.

    Served from the Parquet snapshot under the chain store; when the tag set (or the store, its clusterings or
    the prices) changed since it was computed, this request recomputes it first (``recomputed``: true).
    """
    if chain is not None:
        inv_.known_chain(store, chain)
    snapshot = _snapshot(request, session, store)
    total, rows = select_rows(snapshot, chain=chain, tier=tier, category=category, offset=offset, limit=limit)
    clusters = []
    for row in rows:
        shares = shares_of(row, snapshot.state.categories)
        keep = ("chain", "cluster_id", "size", "tier", "tagged", "in_volume", "out_volume", "max_share", "categories")
        clusters.append({**{key: row[key] for key in keep}, "shares": shares})
    return {**_snapshot_info(snapshot), "total": total, "offset": offset, "limit": limit, "clusters": clusters}


@router.get("/exposure/{chain}/{cluster_id}", summary="One cluster's exposure with evidence")
def exposure_detail(
    request: Request, chain: str, cluster_id: int, _: Reader, session: DbSession, store: Store, hops: Hops = None
) -> dict[str, Any]:
    """The cluster's bulk row (shares and tier as listed) and the time-respecting query with its evidence.

    ``evidence`` is :func:`~chainsleuth.chain.exposure.entity_exposure`: per category the tagged counterparty,
    the tag's source and confidence, and a path to it. Its tier can be lower than the bulk one, because it
    only follows funds forward in time.
    """
    inv = _investigation(request, session, store, chain)
    root = store.address(chain, cluster_id)  # 404 for an id the store never gave out
    members = inv_.cluster_members(inv, chain, cluster_id) if chain in inv.clusters else [cluster_id]
    snapshot = _snapshot(request, session, store)
    row = row_of(snapshot, chain, cluster_id)
    detail = inv_.exposure(inv, chain, members, f"cluster {cluster_id}", hops=hops)
    bulk = None
    if row is not None:
        bulk = {"tier": row["tier"], "size": row["size"], "in_volume": row["in_volume"],
                "out_volume": row["out_volume"], "shares": shares_of(row, snapshot.state.categories)}  # fmt: skip
    return {**_snapshot_info(snapshot), "chain": chain, "cluster_id": cluster_id,
            "root_address": root, "bulk": bulk, "evidence": detail.to_dict()}  # fmt: skip


@router.get("/paths", summary="Paths between two addresses or clusters")
def paths_route(
    request: Request,
    _: Reader,
    session: DbSession,
    store: Store,
    source: Annotated[str, Query(min_length=1, description="Address, or cluster:<id>.")],
    target: Annotated[str, Query(min_length=1, description="Address, or cluster:<id>.")],
    chain: str = "bitcoin",
    to_chain: Annotated[str | None, Query(description="Chain of the target when it differs.")] = None,
    cluster: Annotated[bool, Query(description="Search between the addresses' whole clusters.")] = False,
    max_depth: Annotated[int, Query(ge=1, le=12)] = 6,
    max_degree: Annotated[int, Query(ge=2, le=1_000_000)] = 1000,
    max_paths: Annotated[int, Query(ge=1, le=20)] = 3,
) -> dict[str, Any]:
    """Shortest transaction paths, each hop as evidence; hubs above ``max_degree`` are skipped and listed."""
    inv = _investigation(request, session, store, chain)
    other = inv_.known_chain(store, to_chain or chain)
    ends = [(chain, _entity(inv, chain, source, cluster)), (other, _entity(inv, other, target, cluster))]
    result = inv_.paths(inv, ends, max_depth=max_depth, max_degree=max_degree, max_paths=max_paths)
    return {**result.to_dict(), "max_depth": max_depth, "max_degree": max_degree, "graph_build": inv.entry.build}


@router.get("/{chain}/addresses/{address}/cluster", summary="The cluster of an address")
def address_cluster(
    request: Request,
    chain: str,
    address: str,
    _: Reader,
    session: DbSession,
    store: Store,
    offset: Offset = 0,
    limit: Limit = 50,
) -> dict[str, Any]:
    """Id, size, members (paged), attribution with conflicts, and the heuristics and links behind it."""
    inv = _investigation(request, session, store, chain)
    local = inv_.address_id(store, chain, address)
    array = inv_.cluster_array(inv, chain)
    if local >= len(array):
        raise InvalidInputError("the address is newer than the clustering: run `chainsleuth chain cluster run`",
                                address=address)  # fmt: skip
    return inv_.cluster_view(inv, chain, int(array[local]), offset=offset, limit=limit)


@router.get("/{chain}/clusters/{cluster_id}", summary="One cluster")
def cluster_route(
    request: Request,
    chain: str,
    cluster_id: int,
    _: Reader,
    session: DbSession,
    store: Store,
    offset: Offset = 0,
    limit: Limit = 50,
) -> dict[str, Any]:
    """Id, size, members (paged), attribution with conflicts, and the heuristics and links behind it."""
    inv = _investigation(request, session, store, chain)
    return inv_.cluster_view(inv, chain, cluster_id, offset=offset, limit=limit)


@router.get("/{chain}/transactions/{tx_hash}/change", summary="Change-heuristic verdicts")
def change_route(
    request: Request,
    chain: str,
    tx_hash: str,
    _: Reader,
    session: DbSession,
    store: Store,
    heuristic: Annotated[list[str] | None, Query(description="Only these heuristics (repeatable).")] = None,
) -> dict[str, Any]:
    """Each heuristic fired (output, address, confidence) or why not; and whether the tx is a CoinJoin."""
    inv = _investigation(request, session, store, chain)
    return inv_.change_verdicts(inv, chain, tx_hash, heuristic)


# -- tags ---------------------------------------------------------------------------------------------------------


class TagIn(BaseModel):
    """An analyst's tag on one address; checked against the taxonomy by the attribution store."""

    label: str = Field(min_length=1, max_length=200)
    source: str = Field(min_length=1, description="Where the knowledge comes from (URL, case, report).")
    confidence: str = Field(min_length=1, description="A confidence concept of the taxonomy, e.g. forensic.")
    category: str | None = None
    abuse: str | None = None
    actor: str | None = None
    context: str | None = None


@router.get("/tags", summary="List tags")
def list_tags(
    _: Reader,
    session: DbSession,
    network: str | None = None,
    origin: Annotated[str | None, Query(description="analyst, tagpack, ofac...")] = None,
    category: str | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> dict[str, Any]:
    """Tags matching every filter, oldest first, each with source, confidence, creator and origin."""
    tags = find_tags(session, network=network, origin=origin, category=category, limit=limit)
    return {"count": len(tags), "tags": [inv_.tag_dict(t) for t in tags]}


@router.get("/{chain}/addresses/{address}/tags", summary="Tags of an address")
def address_tags(chain: str, address: str, _: Reader, session: DbSession, store: Store) -> dict[str, Any]:
    """Every tag of the address with provenance, and where they disagree (conflicts are kept, never merged)."""
    inv_.known_chain(store, chain)
    tags = tags_for(session, chain, [address]).get(address, [])
    attribution = resolve_to_clusters(tags, {}).get(address)
    return {"chain": chain, "address": address, "tags": [inv_.tag_dict(t) for t in tags],
            "attribution": inv_.attribution_dict(attribution)}  # fmt: skip


@router.post("/{chain}/addresses/{address}/tags", status_code=201, summary="Tag an address")
def add_address_tag(
    chain: str, address: str, body: TagIn, principal: Tagger, session: DbSession, store: Store
) -> dict[str, Any]:
    """Record an analyst's tag (audited as ``tag.add``); exposure and traces use it from the next request."""
    inv_.known_chain(store, chain)
    record = add_tag(session, creator=principal.username, network=chain, address=address, **body.model_dump())
    audit.record(session, principal, "tag.add", "address", record.address,
                 details={"network": record.network, "label": record.label, "tag_id": record.id})  # fmt: skip
    return inv_.tag_dict(record)
