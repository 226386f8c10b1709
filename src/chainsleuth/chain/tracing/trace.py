"""Forward and backward tracing: the public API over the kernel, with terminals and paths as evidence.

A trace answers "where did this value go?" (forward) or "where did it come from?" (backward) and must be
defensible in front of a court: every terminal comes with the amount, its share of the traced value, why the
trace ended there (a service, unspent, retained, the hop limit, a fee, an origin) and up to ``top_k`` paths
whose hops name the transaction, the addresses, the amount moved and the taint the policy assigns to it.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from chainsleuth.chain.tracing.graph import NODE_TX, FlowGraph, Int64Array
from chainsleuth.chain.tracing.kernel import (
    DEAD_END,
    HOP_LIMIT,
    RESIDUAL,
    STOPPED,
    WINDOW,
    Kernel,
    Policy,
    Propagation,
)
from chainsleuth.chain.tracing.stops import StopSet
from chainsleuth.errors import InvalidInputError

Direction = Literal["forward", "backward"]
#: One step of a raw evidence path: (edge, taint, hop number).
RawHop = tuple[int, float, int]


@dataclass(frozen=True)
class Source:
    """What to trace: edges of the graph with the taint each starts with (``first_hop`` 0 means the edges
    are the traced value itself, e.g. a UTXO address's outputs, rather than its first movement)."""

    edges: Int64Array
    taint: npt.NDArray[np.float64]
    first_hop: int
    label: str
    asset: int = 0


@dataclass(frozen=True)
class Hop:
    """One step of an evidence path, always in chronological order."""

    chain: str
    tx: int
    tx_hash: str
    from_address: str | None
    to_address: str | None
    value: float
    taint: float
    asset: str
    timestamp: int
    bridge_memo: str | None = None
    #: Which hop this is: 1 for the first transaction after the source, 0 for the source itself (the output
    #: that funded a UTXO address, a transaction traced backward), shown as context and not counted.
    hop: int = 1


@dataclass(frozen=True)
class EvidencePath:
    hops: tuple[Hop, ...]
    taint: float
    #: Transactions after the source: the number the hop limit (``--hops``, ``--max-depth``) bounds.
    hop_count: int = 0


@dataclass(frozen=True)
class Terminal:
    """One entity the traced value reached (or came from), in one asset."""

    entity: str
    reason: str
    chain: str
    address: str | None
    label: str | None
    category: str | None
    asset: str
    amount: float
    share: float
    amount_usd: float | None
    paths: tuple[EvidencePath, ...]
    #: The part of ``share`` reached in one hop (a direct counterparty).
    direct_share: float = 0.0
    #: The stop entity's tag evidence (source, confidence) and all its concepts, when stopped at a service.
    source: str | None = None
    confidence: str | None = None
    concepts: tuple[str, ...] = ()


@dataclass
class TraceResult:
    source: str
    direction: Direction
    policy: Policy
    hops: int
    traced_value: float
    traced_asset: str
    terminals: list[Terminal]
    #: Share of the traced value per reason (poison shares can exceed 1: every edge counts fully).
    shares: dict[str, float]
    dropped_share: float
    terminal_count: int
    edges_visited: int
    elapsed_ms: float
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Resolver:
    """Turns graph ids into hashes and addresses; this default shows ids (tests, benchmarks)."""

    def tx_hashes(self, graph: FlowGraph, txs: list[int]) -> dict[int, str]:
        return {tx: f"tx#{tx}" for tx in txs}

    def addresses(self, graph: FlowGraph, addresses: list[int]) -> dict[int, str]:
        return {a: f"addr#{a}" for a in addresses}


def kernel_for(graph: FlowGraph, backward: bool) -> Kernel:
    key = f"kernel:{backward}"
    found = graph.cache.get(key)
    if not isinstance(found, Kernel):
        found = Kernel(graph.view(backward))
        graph.cache[key] = found
    return found


def _asset_name(graph: FlowGraph, code: int) -> str:
    for seg in graph.segments:
        if seg.asset_code == code:
            return seg.asset
    return str(code)


def _chain_of_edge(graph: FlowGraph, edge: int) -> str:
    return (
        graph.segment_of_node(int(graph.src[edge] if graph.src[edge] >= 0 else graph.dst[edge])).chain
        if graph.segments
        else "graph"
    )


def trace(
    graph: FlowGraph,
    source: Source,
    *,
    direction: Direction = "forward",
    policy: Policy = "haircut",
    hops: int = 5,
    since: int | None = None,
    until: int | None = None,
    min_value: float = 0.0,
    stops: StopSet | None = None,
    cross_bridge: bool = True,
    top_k: int = 3,
    max_terminals: int | None = 100,
    resolver: Resolver | None = None,
    prices: Any = None,
) -> TraceResult:
    """Trace ``source`` through ``graph``; see ``docs/tracing.md`` for the policies and stopping rules.

    ``since``/``until`` (unix seconds) bound the time of every hop; ``min_value`` (in the asset's coins)
    drops smaller tainted amounts; ``stops`` ends the trace at attributed services (a bridge in it is
    crossed unless ``cross_bridge`` is False). Terminals are sorted by share; the first ``max_terminals``
    (None: all) are listed, with up to ``top_k`` evidence paths each; ``shares`` and ``terminal_count`` always
    cover all of them.
    """
    if hops < 1:
        raise InvalidInputError("hops must be at least 1", hops=hops)
    if direction not in ("forward", "backward"):
        raise InvalidInputError("direction must be forward or backward", direction=direction)
    if since is not None and until is not None and since > until:
        raise InvalidInputError("since is after until", since=since, until=until)
    started = time.perf_counter()
    backward = direction == "backward"
    kernel = kernel_for(graph, backward)
    view = kernel.view
    t_min, t_max = (
        (since, until)
        if not backward
        else (-until if until is not None else None, -since if since is not None else None)
    )
    edges = np.asarray(source.edges, dtype=np.int64)
    taint = np.asarray(source.taint, dtype=np.float64)
    if len(edges):
        ok = np.ones(len(edges), bool)
        if t_min is not None:
            ok &= view.time[edges] >= t_min
        if t_max is not None:
            ok &= view.time[edges] <= t_max
        edges, taint = edges[ok], taint[ok]
    prop = kernel.run(
        edges,
        taint,
        policy=policy,
        hops=hops,
        first_hop=source.first_hop,
        min_value=min_value,
        t_min=t_min,
        t_max=t_max,
        stop_mask=stops.mask(graph.n_addresses) if stops else None,
        cross_bridge=cross_bridge,
    )
    result = _assemble(
        graph, prop, source, direction, policy, hops, stops, top_k, max_terminals, resolver or Resolver(), prices
    )
    result.elapsed_ms = (time.perf_counter() - started) * 1000.0
    return result


REASONS = ("service", "unspent", "origin", "hop_limit", "fee", "retained")
_STOP_KEY = 1 << 40


def _reasons(graph: FlowGraph, ev: dict[str, npt.NDArray[Any]], backward: bool) -> Int64Array:
    """Why each event ended there, as an index into :data:`REASONS`."""
    kind = ev["kind"]
    code = np.zeros(len(kind), dtype=np.int64)
    code[kind == DEAD_END] = REASONS.index("origin" if backward else "unspent")
    code[kind == HOP_LIMIT] = REASONS.index("hop_limit")
    residual = kind == RESIDUAL
    tx_node = np.zeros(len(kind), dtype=bool)
    tx_node[residual] = graph.node_kind[ev["node"][residual]] == NODE_TX
    code[residual & tx_node] = REASONS.index("origin" if backward else "fee")
    code[residual & ~tx_node] = REASONS.index("origin" if backward else "retained")
    # outside the time window: still held at the output's address when it closed (forward), or already
    # there when it opened (backward)
    code[kind == WINDOW] = REASONS.index("origin" if backward else "retained")
    return code


def _group_keys(ev: dict[str, npt.NDArray[Any]], reason: Int64Array, stops: StopSet | None) -> Int64Array:
    """One int64 per event naming its terminal entity: a stop entity, an address, or a reason (fee...)."""
    key = np.where(ev["addr"] >= 0, ev["addr"], -1 - reason)
    stopped = ev["kind"] == STOPPED
    if stops is not None and stopped.any() and len(stops.addresses):
        at = np.clip(np.searchsorted(stops.addresses, ev["addr"][stopped]), 0, len(stops.addresses) - 1)
        hit = stops.addresses[at] == ev["addr"][stopped]
        key[np.flatnonzero(stopped)[hit]] = _STOP_KEY + stops.entity[at[hit]]
    return key


def _assemble(
    graph: FlowGraph,
    prop: Propagation,
    source: Source,
    direction: Direction,
    policy: Policy,
    hops: int,
    stops: StopSet | None,
    top_k: int,
    max_terminals: int | None,
    resolver: Resolver,
    prices: Any,
) -> TraceResult:
    backward = direction == "backward"
    ev = prop.events()
    asset = np.where(
        ev["edge"] >= 0, graph.asset[np.maximum(ev["edge"], 0)], graph.node_asset()[np.maximum(ev["node"], 0)]
    ).astype(np.int64)
    reason = _reasons(graph, ev, backward)
    entity = _group_keys(ev, reason, stops)
    traced = prop.traced_units or 1.0
    hop_of = np.asarray([f.hop for f in prop.frontiers], dtype=np.int64)
    direct = hop_of[ev["step"]] <= 1 if len(hop_of) else np.zeros(0, bool)
    by_reason = np.bincount(reason, weights=ev["units"], minlength=len(REASONS)) / traced
    shares = {REASONS[i]: float(v) for i, v in enumerate(by_reason) if v > 0}
    # group events by (entity, asset); rank groups by share; events of a group by taint
    order = np.lexsort((-ev["taint"], asset, entity))
    ent_s, asset_s = entity[order], asset[order]
    first = (
        np.flatnonzero(np.r_[True, (ent_s[1:] != ent_s[:-1]) | (asset_s[1:] != asset_s[:-1])])
        if len(order)
        else np.empty(0, np.int64)
    )
    bounds = np.r_[first, len(order)]
    group_of = np.repeat(np.arange(len(first)), np.diff(bounds))
    units = np.bincount(group_of, weights=ev["units"][order], minlength=len(first))
    amount = np.bincount(group_of, weights=ev["taint"][order], minlength=len(first))
    direct_units = np.bincount(group_of, weights=(ev["units"] * direct)[order], minlength=len(first))
    ranked = np.argsort(-units, kind="stable")[:max_terminals]
    picked = [order[bounds[g] : min(bounds[g + 1], bounds[g] + top_k)] for g in ranked.tolist()]
    flat = np.concatenate(picked) if picked else np.empty(0, np.int64)
    walked = _backtrack_all(graph, prop, ev["edge"][flat], ev["node"][flat], ev["step"][flat], backward)
    paths_raw: dict[int, list[list[RawHop]]] = {}
    at = 0
    for g, rows in zip(ranked.tolist(), picked, strict=True):
        paths_raw[g] = walked[at : at + len(rows)]
        at += len(rows)
    tx_ids = sorted({int(graph.tx[e]) for ps in paths_raw.values() for p in ps for e, _, _ in p})
    addrs = {
        int(a)
        for ps in paths_raw.values()
        for p in ps
        for e, _, _ in p
        for a in (graph.addr_from[e], graph.addr_to[e])
        if a >= 0
    }
    addrs |= {int(ev["addr"][order[bounds[g]]]) for g in ranked.tolist() if ev["addr"][order[bounds[g]]] >= 0}
    hashes = resolver.tx_hashes(graph, tx_ids)
    names = resolver.addresses(graph, sorted(addrs))
    memo_of = graph.bridges.memo_by_pair
    terminals: list[Terminal] = []
    for g in ranked.tolist():
        row = int(order[bounds[g]])
        addr, key = int(ev["addr"][row]), int(ent_s[bounds[g]])
        why = REASONS[int(reason[row])]
        asset_name = _asset_name(graph, int(asset_s[bounds[g]]))
        label = category = tag_source = confidence = None
        concepts: tuple[str, ...] = ()
        if key >= _STOP_KEY and stops is not None:
            stop = stops.entities[key - _STOP_KEY]
            label, category, name = stop.label, stop.category, stop.key
            tag_source, confidence, concepts = stop.source, stop.confidence, stop.concepts
        else:
            name = names.get(addr, why) if addr >= 0 else why
        if addr >= 0 and graph.segments:
            chain = graph.segment_of_address(addr).chain
        else:
            chain = graph.segment_of_node(int(ev["node"][row])).chain if graph.segments else "graph"
        evidence = tuple(_to_path(graph, p, hashes, names, memo_of, backward) for p in paths_raw.get(g, []) if p)
        when = max((h.timestamp for ep in evidence for h in ep.hops), default=0)
        total = float(amount[g])
        usd = prices.usd(asset_name, total, when) if prices is not None and when else None
        terminals.append(
            Terminal(
                entity=name,
                reason=why,
                chain=chain,
                address=names.get(addr) if addr >= 0 else None,
                label=label,
                category=category,
                asset=asset_name,
                amount=total,
                share=float(units[g]) / traced,
                amount_usd=usd,
                paths=evidence,
                direct_share=float(direct_units[g]) / traced,
                source=tag_source,
                confidence=confidence,
                concepts=concepts,
            )
        )
    return TraceResult(
        source=source.label,
        direction=direction,
        policy=policy,
        hops=hops,
        traced_value=prop.traced_units,
        traced_asset=_asset_name(graph, source.asset),
        terminals=terminals,
        shares=shares,
        dropped_share=prop.dropped_units / traced,
        terminal_count=len(first),
        edges_visited=prop.edges_visited,
        elapsed_ms=0.0,
    )


def _backtrack_all(
    graph: FlowGraph, prop: Propagation, edges: Int64Array, nodes: Int64Array, steps: Int64Array, backward: bool
) -> list[list[RawHop]]:
    """For each event, the heaviest chain of tainted edges leading to it: [(edge, taint, via bridge)],
    chronological. All paths walk back one frontier at a time together (vectorised lookups)."""
    view = graph.view(backward)
    n = len(edges)
    paths: list[list[RawHop]] = [[] for _ in range(n)]
    cur = np.asarray(edges, dtype=np.int64).copy()
    step = np.asarray(steps, dtype=np.int64).copy()
    alive = np.ones(n, dtype=bool)
    for s in np.unique(step[cur < 0]).tolist():  # residuals: start from the heaviest edge that reached the node
        rows = np.flatnonzero((cur < 0) & (step == s))
        found = prop.frontiers[s].best_into(view, nodes[rows])
        cur[rows] = np.where(found >= 0, prop.frontiers[s].edges[np.maximum(found, 0)], -1)
    alive &= cur >= 0
    for s in range(int(step.max(initial=-1)), -1, -1):
        rows = np.flatnonzero(alive & (step == s))
        if len(rows) == 0:
            continue
        fr = prop.frontiers[s]
        found = fr.locate(cur[rows])
        ok = found >= 0
        alive[rows[~ok]] = False
        rows, found = rows[ok], found[ok]
        injected = fr.injected[found]
        for r, e, t in zip(rows.tolist(), cur[rows].tolist(), fr.taint[found].tolist(), strict=True):
            paths[r].append((e, t, fr.hop))
        if s == 0:
            alive[rows] = False
            continue
        prev = prop.frontiers[s - 1]
        plain = rows[~injected]
        parent = prev.best_into(view, view.tail[cur[plain]])
        cur[plain] = np.where(parent >= 0, prev.edges[np.maximum(parent, 0)], -1)
        for r in rows[injected].tolist():  # over a bridge: the source leg, rare enough for Python
            sources = view.bridge_from[view.bridge_to == cur[r]]
            hit = prev.locate(sources.astype(np.int64))
            hit = hit[hit >= 0]
            cur[r] = prev.edges[hit[np.argmax(prev.taint[hit])]] if len(hit) else -1
        step[rows] = s - 1
        alive &= cur >= 0
    if not backward:
        for p in paths:
            p.reverse()
    return paths


def _to_path(
    graph: FlowGraph,
    raw: list[RawHop],
    hashes: dict[int, str],
    names: dict[int, str],
    memo_of: dict[tuple[int, int], str],
    backward: bool,
) -> EvidencePath:
    hops: list[Hop] = []
    previous_to: str | None = None
    previous_edge = -1
    for e, taint, hop in raw:
        frm = int(graph.addr_from[e])
        to = int(graph.addr_to[e])
        hops.append(
            Hop(
                chain=_chain_of_edge(graph, e),
                tx=int(graph.tx[e]),
                tx_hash=hashes.get(int(graph.tx[e]), ""),
                from_address=names.get(frm) if frm >= 0 else previous_to,
                to_address=names.get(to) if to >= 0 else None,
                value=float(graph.value[e]),
                taint=taint,
                asset=_asset_name(graph, int(graph.asset[e])),
                timestamp=int(graph.ts[e]),
                bridge_memo=memo_of.get((previous_edge, e)),
                hop=hop,
            )
        )
        previous_to = names.get(to) if to >= 0 else None
        previous_edge = e
    # Backward paths run from the origin to the source: the hop number is the distance from the source.
    return EvidencePath(tuple(hops), raw[-1][1] if raw else 0.0, max((h for _, _, h in raw), default=0))


def evidence_path(graph: FlowGraph, edges: list[int], resolver: Resolver, *, first_hop: int = 1) -> EvidencePath:
    """An evidence path of chronologically ordered edges (each hop's taint is the value it moved); the
    edges are numbered from ``first_hop`` (0 when the first edge is the output that funded the source)."""
    hashes = resolver.tx_hashes(graph, sorted({int(graph.tx[e]) for e in edges}))
    addrs = sorted({int(a) for e in edges for a in (graph.addr_from[e], graph.addr_to[e]) if a >= 0})
    names = resolver.addresses(graph, addrs)
    memo_of = graph.bridges.memo_by_pair
    raw = [(e, float(graph.value[e]), first_hop + i) for i, e in enumerate(edges)]
    return _to_path(graph, raw, hashes, names, memo_of, False)
