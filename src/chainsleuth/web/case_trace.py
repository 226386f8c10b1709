"""Tracing for the case workspace: run a trace under a policy and draw its result as Cytoscape elements.

The flow graph comes from the process-wide cache (``chain.tracing.cache``, shared with the HTTP API): building
it is the expensive part, a trace on it takes milliseconds. Traces stop at our own customers' deposit
addresses, so an investigator sees *the account* the funds reached (the seed story: a stolen phone traced to
the thief's account), and at attributed services (exchanges, mixers, markets) from the attribution store. The
result keeps the tracer's evidence (paths with transaction, addresses, amount and taint per hop) so that "save
trace as evidence" stores exactly what was drawn.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.chain.attribution.store import tags_for
from chainsleuth.chain.exposure.query import entity_exposure
from chainsleuth.chain.tracing import (
    FlowGraph,
    StopEntity,
    StopSet,
    StoreResolver,
    TraceResult,
    is_service,
    resolve_source,
    stops_from_addresses,
    trace,
)
from chainsleuth.chain.tracing.cache import cached_graph
from chainsleuth.errors import InvalidInputError
from chainsleuth.store.chainstore import ChainStore
from chainsleuth.store.models.exchange import DepositAddress
from chainsleuth.store.models.tags import Tag

POLICIES = ("haircut", "poison", "fifo")
DIRECTIONS = ("forward", "backward")
MAX_HOPS = 20
#: Terminals drawn on the graph (the result keeps every share; the canvas stays legible).
DRAWN_TERMINALS = 15


def flow_graph(store: ChainStore) -> FlowGraph:
    """The store's flow graph from the process-wide cache shared with the HTTP API (rebuilt when it changes)."""
    return cached_graph(store).graph


def stop_set(db: Session, graph: FlowGraph, store: ChainStore) -> StopSet:
    """Our customers' deposit addresses (each its account) first, then service-tagged addresses."""
    ours = [
        (
            d.chain,
            d.address,
            StopEntity(d.account_id, f"our customer {d.customer_id}, account {d.account_id}", "exchange",
                       source="exchange ledger", confidence="ownership"),
        )
        for d in db.scalars(select(DepositAddress))
    ]  # fmt: skip
    services = [
        (t.network, t.address, StopEntity(f"tag:{t.network}:{t.label}", t.label, t.category, source=t.source,
                                          confidence=t.confidence, is_bridge=t.category == "defi_bridge"))
        for t in db.scalars(select(Tag).where(Tag.address.is_not(None), Tag.category.is_not(None)))
        if t.address and t.category and is_service(t.category)
    ]  # fmt: skip
    return stops_from_addresses(graph, store, ours).merged(stops_from_addresses(graph, store, services))


def tagged_set(db: Session, graph: FlowGraph, store: ChainStore) -> StopSet:
    """Every tagged address with all its concepts (exposure counts abuse and services alike)."""
    entries = [
        (t.network, t.address, StopEntity(f"tag:{t.network}:{t.label}", t.label, t.abuse or t.category,
                                          source=t.source, confidence=t.confidence,
                                          concepts=tuple(c for c in (t.category, t.abuse, *t.concepts) if c)))
        for t in db.scalars(select(Tag).where(Tag.address.is_not(None)))
        if t.address
    ]  # fmt: skip
    return stops_from_addresses(graph, store, entries)


def exposure(db: Session, store: ChainStore, chain: str, address: str, hops: int = 3) -> dict[str, Any]:
    """Exposure of one address by category (incoming and outgoing, direct and indirect) with its evidence."""
    graph = flow_graph(store)
    local = store.address_id(chain, address)
    if local is None:
        raise InvalidInputError("address not in the chain store", chain=chain, address=address)
    result = entity_exposure(graph, chain, [local], tagged_set(db, graph, store), hops=hops, label=address,
                             resolver=StoreResolver(store))  # fmt: skip
    categories = [
        {"category": c.category, "direction": c.direction, "share": c.direct_share + c.indirect_share,
         "direct_share": c.direct_share, "evidence": [e.label or e.counterparty for e in c.evidence]}
        for c in sorted(result.categories, key=lambda c: -(c.direct_share + c.indirect_share))
    ]  # fmt: skip
    return {"address": address, "hops": result.hops, "tier": result.tier, "categories": categories}


def _time(value: str | None) -> int | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInputError("not a date", value=value) from None
    return int((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp())


def run_trace(
    db: Session,
    store: ChainStore,
    *,
    chain: str,
    target: str,
    direction: str,
    policy: str,
    hops: int,
    since: str | None = None,
    until: str | None = None,
) -> TraceResult:
    """Trace from an address or transaction; bad parameters are refused with a clear message."""
    if direction not in DIRECTIONS:
        raise InvalidInputError("direction must be forward or backward", direction=direction)
    if policy not in POLICIES:
        raise InvalidInputError("policy must be haircut, poison or fifo", policy=policy)
    if not 1 <= hops <= MAX_HOPS:
        raise InvalidInputError(f"hops must be between 1 and {MAX_HOPS}", hops=hops)
    graph = flow_graph(store)
    source = resolve_source(graph, store, chain, target, "backward" if direction == "backward" else "forward")
    return trace(
        graph,
        source,
        direction="backward" if direction == "backward" else "forward",
        policy="poison" if policy == "poison" else ("fifo" if policy == "fifo" else "haircut"),
        hops=hops,
        since=_time(since),
        until=_time(until),
        stops=stop_set(db, graph, store),
        top_k=2,
        max_terminals=100,
        resolver=StoreResolver(store),
    )


def _node(address: str, chain: str, **extra: Any) -> dict[str, Any]:
    return {"group": "nodes", "data": {"id": address, "label": address[:10] + "…", "chain": chain, "tags": [],
                                       "customer": None, "badge": None, "illicit": False, **extra}}  # fmt: skip


def enrich(db: Session, nodes: list[dict[str, Any]]) -> None:
    """Tags (badges) and our customers on the traced nodes, as the address graph shows them."""
    by_chain: dict[str, list[str]] = {}
    for node in nodes:
        by_chain.setdefault(node["data"]["chain"], []).append(node["data"]["id"])
    for chain, addresses in by_chain.items():
        tags = tags_for(db, chain, addresses)
        query = select(DepositAddress).where(DepositAddress.chain == chain, DepositAddress.address.in_(addresses))
        ours = {d.address: d.customer_id for d in db.scalars(query)}
        for node in nodes:
            data = node["data"]
            if data["chain"] != chain:
                continue
            found = tags.get(data["id"], [])
            data["tags"] = [{"label": t.label, "category": t.abuse or t.category, "confidence": t.confidence}
                            for t in found[:5]]  # fmt: skip
            data["badge"] = (found[0].abuse or found[0].category or found[0].label) if found else ""
            data["illicit"] = any(t.abuse for t in found)
            data["customer"] = data.get("customer") or ours.get(data["id"])


def trace_elements(result: TraceResult, origin: str) -> dict[str, Any]:
    """The result as Cytoscape elements: every hop of the drawn terminals' evidence paths, terminals marked."""
    nodes: dict[str, dict[str, Any]] = {}
    edges: dict[str, dict[str, Any]] = {}
    terminals = []
    for rank, terminal in enumerate(result.terminals[:DRAWN_TERMINALS]):
        label = terminal.label or terminal.entity
        summary = {
            "entity": terminal.entity, "label": label, "reason": terminal.reason, "chain": terminal.chain,
            "address": terminal.address, "category": terminal.category, "asset": terminal.asset,
            "amount": terminal.amount, "share": terminal.share, "source": terminal.source,
            "confidence": terminal.confidence,
        }  # fmt: skip
        terminals.append(summary)
        for path in terminal.paths:
            for hop in path.hops:
                if not hop.from_address or not hop.to_address:
                    continue
                for address in (hop.from_address, hop.to_address):
                    nodes.setdefault(address, _node(address, hop.chain))
                key = f"trace:{hop.tx_hash}:{hop.from_address}:{hop.to_address}"
                edge = edges.setdefault(key, {"group": "edges", "data": {
                    "id": key, "source": hop.from_address, "target": hop.to_address, "asset": hop.asset,
                    "amount": 0.0, "taint": 0.0, "count": 1, "first": hop.timestamp, "last": hop.timestamp,
                    "txs": [hop.tx_hash], "traced": True}})  # fmt: skip
                edge["data"]["amount"] = max(edge["data"]["amount"], float(hop.value))
                edge["data"]["taint"] = max(edge["data"]["taint"], float(hop.taint))
        if terminal.address:
            node = nodes.setdefault(terminal.address, _node(terminal.address, terminal.chain))
            node["data"].update(terminal=True, terminal_rank=rank + 1, terminal_label=label,
                                terminal_share=terminal.share, terminal_amount=terminal.amount,
                                terminal_asset=terminal.asset, terminal_reason=terminal.reason)  # fmt: skip
            if terminal.category == "exchange" and terminal.label and terminal.label.startswith("our customer"):
                node["data"]["customer"] = terminal.label
    if origin in nodes:
        nodes[origin]["data"]["trace_origin"] = True
    return {
        "nodes": list(nodes.values()),
        "edges": list(edges.values()),
        "terminals": terminals,
        "summary": {
            "source": result.source,
            "direction": result.direction,
            "policy": result.policy,
            "hops": result.hops,
            "traced_value": result.traced_value,
            "traced_asset": result.traced_asset,
            "shares": result.shares,
            "terminal_count": result.terminal_count,
            "dropped_share": result.dropped_share,
        },
    }
