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

from chainsleuth.chain.tracing.graph import NODE_TX, FlowGraph, Int64Array
from chainsleuth.chain.tracing.kernel import (
    DEAD_END,
    HOP_LIMIT,
    RESIDUAL,
    STOPPED,
    Kernel,
    Policy,
    Propagation,
)
from chainsleuth.chain.tracing.stops import StopSet
from chainsleuth.errors import InvalidInputError

Direction = Literal["forward", "backward"]


@dataclass(frozen=True)
class Source:
    """What to trace: edges of the graph with the taint each starts with (``first_hop`` 0 means the edges
    are the traced value itself, e.g. a UTXO address's outputs, rather than its first movement)."""

    edges: Int64Array
    taint: np.ndarray  # type: ignore[type-arg]
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


@dataclass(frozen=True)
class EvidencePath:
    hops: tuple[Hop, ...]
    taint: float


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
    return graph.segment_of_node(int(graph.src[edge] if graph.src[edge] >= 0 else graph.dst[edge])).chain \
        if graph.segments else "graph"


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
    max_terminals: int = 100,
    resolver: Resolver | None = None,
    prices: Any = None,
) -> TraceResult:
    """Trace ``source`` through ``graph``; see ``docs/tracing.md`` for the policies and stopping rules.

    ``since``/``until`` (unix seconds) bound the time of every hop; ``min_value`` (in the asset's coins)
    drops smaller tainted amounts; ``stops`` ends the trace at attributed services (a bridge in it is
    crossed unless ``cross_bridge`` is False). Terminals are sorted by share; the first ``max_terminals``
    get up to ``top_k`` evidence paths each.
    """
    if hops < 1:
        raise InvalidInputError("hops must be at least 1", hops=hops)
    if direction not in ("forward", "backward"):
        raise InvalidInputError("direction must be forward or backward", direction=direction)
    started = time.perf_counter()
    backward = direction == "backward"
    kernel = kernel_for(graph, backward)
    view = kernel.view
    t_min, t_max = (since, until) if not backward else (
        -until if until is not None else None, -since if since is not None else None
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
        edges, taint, policy=policy, hops=hops, first_hop=source.first_hop, min_value=min_value,
        t_min=t_min, t_max=t_max, stop_mask=stops.mask(graph.n_addresses) if stops else None,
        cross_bridge=cross_bridge,
    )
    result = _assemble(graph, prop, source, direction, policy, hops, stops, top_k, max_terminals,
                       resolver or Resolver(), prices)
    result.elapsed_ms = (time.perf_counter() - started) * 1000.0
    return result


def _entity_keys(graph: FlowGraph, ev: dict[str, np.ndarray], stops: StopSet | None,  # type: ignore[type-arg]
                 backward: bool) -> tuple[np.ndarray, list[str]]:  # type: ignore[type-arg]
    """A group key per event: stop entity, address, or (UTXO residual) fee/origin per asset."""
    n = len(ev["kind"])
    reason = np.empty(n, dtype=object)
    kind = ev["kind"]
    reason[kind == STOPPED] = "service"
    reason[kind == DEAD_END] = "unspent" if not backward else "origin"
    reason[kind == HOP_LIMIT] = "hop_limit"
    residual = kind == RESIDUAL
    tx_node = np.zeros(n, bool)
    tx_node[residual] = graph.node_kind[ev["node"][residual]] == NODE_TX
    reason[residual & tx_node] = "origin" if backward else "fee"
    reason[residual & ~tx_node] = "origin" if backward else "retained"
    key = np.empty(n, dtype=object)
    for i in range(n):
        addr = int(ev["addr"][i])
        if kind[i] == STOPPED and stops is not None:
            key[i] = "S" + str(stops.entity_of(addr))
        elif addr >= 0:
            key[i] = "A" + str(addr)
        else:
            key[i] = "R" + str(reason[i])
    return key, list(reason)


def _assemble(
    graph: FlowGraph, prop: Propagation, source: Source, direction: Direction, policy: Policy, hops: int,
    stops: StopSet | None, top_k: int, max_terminals: int, resolver: Resolver, prices: Any,
) -> TraceResult:
    backward = direction == "backward"
    ev = prop.events()
    edge_asset = np.where(ev["edge"] >= 0, graph.asset[np.maximum(ev["edge"], 0)],
                          graph.node_asset()[np.maximum(ev["node"], 0)])
    keys, reasons = _entity_keys(graph, ev, stops, backward)
    traced = prop.traced_units or 1.0
    groups: dict[tuple[str, int], list[int]] = {}
    for i, (k, a) in enumerate(zip(keys, edge_asset.tolist(), strict=True)):
        groups.setdefault((str(k), int(a)), []).append(i)
    shares: dict[str, float] = {}
    for r, u in zip(reasons, ev["units"].tolist(), strict=True):
        shares[r] = shares.get(r, 0.0) + u / traced
    hop_of = np.asarray([f.hop for f in prop.frontiers], dtype=np.int64)
    direct = hop_of[ev["step"]] <= 1 if len(hop_of) else np.zeros(0, bool)
    ranked = sorted(groups.items(), key=lambda item: -float(ev["units"][item[1]].sum()))
    paths_raw: dict[tuple[str, int], list[list[tuple[int, float, bool]]]] = {}
    for gk, rows in ranked[:max_terminals]:
        best = sorted(rows, key=lambda i: -float(ev["taint"][i]))[:top_k]
        paths_raw[gk] = [_backtrack(graph, prop, int(ev["edge"][i]), int(ev["node"][i]),
                                    int(ev["step"][i]), backward) for i in best]
    tx_ids = sorted({int(graph.tx[e]) for ps in paths_raw.values() for p in ps for e, _, _ in p})
    addrs = {int(a) for ps in paths_raw.values() for p in ps for e, _, _ in p
             for a in (graph.addr_from[e], graph.addr_to[e]) if a >= 0}
    addrs |= {int(ev["addr"][rows[0]]) for _, rows in ranked[:max_terminals] if ev["addr"][rows[0]] >= 0}
    hashes = resolver.tx_hashes(graph, tx_ids)
    names = resolver.addresses(graph, sorted(addrs))
    memo_of = {(int(s), int(t)): m for s, t, m in zip(graph.bridges.source.tolist(),
                                                       graph.bridges.target.tolist(),
                                                       graph.bridges.memo, strict=False)}
    terminals: list[Terminal] = []
    for gk, rows in ranked[:max_terminals]:
        first = rows[0]
        addr = int(ev["addr"][first])
        units = float(ev["units"][rows].sum())
        amount = float(ev["taint"][rows].sum())
        asset = _asset_name(graph, gk[1])
        label = category = tag_source = confidence = None
        concepts: tuple[str, ...] = ()
        if gk[0].startswith("S") and stops is not None:
            entity = stops.entities[int(gk[0][1:])]
            label, category, name = entity.label, entity.category, entity.key
            tag_source, confidence, concepts = entity.source, entity.confidence, entity.concepts
        else:
            name = names.get(addr, reasons[first]) if addr >= 0 else reasons[first]
        chain = graph.segment_of_address(addr).chain if addr >= 0 and graph.segments else (
            graph.segment_of_node(int(ev["node"][first])).chain if graph.segments else "graph"
        )
        evidence = tuple(
            _to_path(graph, p, hashes, names, memo_of, backward) for p in paths_raw.get(gk, []) if p
        )
        when = max((h.timestamp for ep in evidence for h in ep.hops), default=0)
        usd = prices.usd(asset, amount, when) if prices is not None and when else None
        terminals.append(Terminal(
            entity=name, reason=reasons[first], chain=chain, address=names.get(addr) if addr >= 0 else None,
            label=label, category=category, asset=asset, amount=amount, share=units / traced,
            amount_usd=usd, paths=evidence, direct_share=float(ev["units"][rows][direct[rows]].sum()) / traced,
            source=tag_source, confidence=confidence, concepts=concepts,
        ))
    return TraceResult(
        source=source.label, direction=direction, policy=policy, hops=hops,
        traced_value=prop.traced_units, traced_asset=_asset_name(graph, source.asset), terminals=terminals,
        shares=shares, dropped_share=prop.dropped_units / traced, terminal_count=len(groups),
        edges_visited=prop.edges_visited, elapsed_ms=0.0,
    )


def _backtrack(graph: FlowGraph, prop: Propagation, edge: int, node: int, step: int,
               backward: bool) -> list[tuple[int, float, bool]]:
    """The heaviest chain of tainted edges leading to an event: [(edge, taint, via bridge)], chronological."""
    kview = graph.view(backward)
    path: list[tuple[int, float, bool]] = []
    if edge < 0:
        # A residual at ``node``: continue from the heaviest edge that reached it in this step.
        fr = prop.frontiers[step]
        heads, perm = fr.by_head(kview)
        lo, hi = np.searchsorted(heads, [node, node + 1])
        if hi <= lo:
            return path
        rows = perm[lo:hi]
        edge = int(fr.edges[rows[np.argmax(fr.taint[rows])]])
    s = step
    while s >= 0 and edge >= 0:
        fr = prop.frontiers[s]
        row = fr.find(edge)
        if row < 0:
            break
        injected = bool(fr.injected[row])
        path.append((edge, float(fr.taint[row]), injected))
        if s == 0:
            break
        prev = prop.frontiers[s - 1]
        if injected:
            sources = kview.bridge_from[kview.bridge_to == edge]
            cands = [prev.find(int(x)) for x in sources]
            cands = [c for c in cands if c >= 0]
            if not cands:
                break
            best = max(cands, key=lambda c: float(prev.taint[c]))
        else:
            heads, perm = prev.by_head(kview)
            tail = int(kview.tail[edge])
            lo, hi = np.searchsorted(heads, [tail, tail + 1])
            if hi <= lo:
                break
            rows = perm[lo:hi]
            best = int(rows[np.argmax(prev.taint[rows])])
        edge = int(prev.edges[best])
        s -= 1
    if not backward:
        path.reverse()
    return path


def _to_path(graph: FlowGraph, raw: list[tuple[int, float, bool]], hashes: dict[int, str],
             names: dict[int, str], memo_of: dict[tuple[int, int], str], backward: bool) -> EvidencePath:
    hops: list[Hop] = []
    previous_to: str | None = None
    previous_edge = -1
    for e, taint, _ in raw:
        frm = int(graph.addr_from[e])
        to = int(graph.addr_to[e])
        hops.append(Hop(
            chain=_chain_of_edge(graph, e), tx=int(graph.tx[e]), tx_hash=hashes.get(int(graph.tx[e]), ""),
            from_address=names.get(frm) if frm >= 0 else previous_to,
            to_address=names.get(to) if to >= 0 else None,
            value=float(graph.value[e]), taint=taint, asset=_asset_name(graph, int(graph.asset[e])),
            timestamp=int(graph.ts[e]), bridge_memo=memo_of.get((previous_edge, e)),
        ))
        previous_to = names.get(to) if to >= 0 else None
        previous_edge = e
    return EvidencePath(tuple(hops), raw[-1][1] if raw else 0.0)


def evidence_path(graph: FlowGraph, edges: list[int], resolver: Resolver) -> EvidencePath:
    """An evidence path of chronologically ordered edges (each hop's taint is the value it moved)."""
    hashes = resolver.tx_hashes(graph, sorted({int(graph.tx[e]) for e in edges}))
    addrs = sorted({int(a) for e in edges for a in (graph.addr_from[e], graph.addr_to[e]) if a >= 0})
    names = resolver.addresses(graph, addrs)
    memo_of = {(int(s), int(t)): m for s, t, m in zip(graph.bridges.source.tolist(), graph.bridges.target.tolist(),
                                                       graph.bridges.memo, strict=False)}
    raw = [(e, float(graph.value[e]), False) for e in edges]
    return _to_path(graph, raw, hashes, names, memo_of, False)
