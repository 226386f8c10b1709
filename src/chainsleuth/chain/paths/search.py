"""Path search: is there a chain of transactions from one address (or cluster) to another, and which?

A bidirectional breadth-first search over the flow graph's CSR, one vectorised level at a time, expanding
the smaller side first. Nodes are the graph's nodes (UTXO transactions, account addresses per asset); the
bridge's memo links are extra transitions, so a path may cross chains. Hubs (exchanges' hot wallets, big
services) connect almost everything in a few hops and make every answer meaningless, so a node with more
than ``max_degree`` edges (in and out) is never used as an intermediate node; the result lists the hubs skipped so
the analyst knows the search was pruned there and can raise the limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from chainsleuth.chain.tracing.graph import NODE_TX, FlowGraph, Int64Array
from chainsleuth.chain.tracing.trace import EvidencePath, Resolver, evidence_path


@dataclass
class PathResult:
    found: bool
    depth: int
    paths: list[EvidencePath]
    skipped_hubs: list[str] = field(default_factory=list)
    nodes_visited: int = 0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Adjacency:
    ptr: Int64Array
    head: Int64Array
    edge: Int64Array  # >= 0: graph edge; < 0: bridge link -(i + 1)


def _adjacency(graph: FlowGraph, backward: bool) -> _Adjacency:
    key = f"paths:adj:{backward}"
    cached = graph.cache.get(key)
    if isinstance(cached, _Adjacency):
        return cached
    ok = (graph.src >= 0) & (graph.dst >= 0)
    tail, head = graph.src[ok], graph.dst[ok]
    edges = np.flatnonzero(ok).astype(np.int64)
    b = graph.bridges
    if len(b):
        b_tail, b_head = graph.src[b.source], graph.dst[b.target]
        good = (b_tail >= 0) & (b_head >= 0)
        tail = np.r_[tail, b_tail[good]]
        head = np.r_[head, b_head[good]]
        edges = np.r_[edges, -(np.flatnonzero(good) + 1)]
    if backward:
        tail, head = head, tail
    order = np.argsort(tail, kind="stable")
    ptr = np.zeros(graph.n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(tail, minlength=graph.n_nodes), out=ptr[1:])
    adj = _Adjacency(ptr, head[order].astype(np.int64), edges[order].astype(np.int64))
    graph.cache[key] = adj
    return adj


def _nodes_for(graph: FlowGraph, addresses: Sequence[int], start: bool) -> tuple[Int64Array, Int64Array]:
    """Graph nodes where a search from (``start``) or to these addresses begins, with the edges tying them.

    Account addresses are their own nodes (every asset); a UTXO address is entered through the
    transactions that spend its outputs (start) or that pay it (end).
    """
    wanted = np.asarray(addresses, dtype=np.int64)
    nodes = np.flatnonzero(np.isin(graph.node_addr, wanted)).astype(np.int64)
    hit = np.flatnonzero(np.isin(graph.addr_to, wanted)).astype(np.int64)
    col = graph.dst if start else graph.src
    utxo = hit[(col[hit] >= 0) & (graph.node_kind[np.maximum(col[hit], 0)] == NODE_TX)]
    return np.unique(np.r_[nodes, col[utxo]]).astype(np.int64), utxo


def find_paths(
    graph: FlowGraph,
    sources: Sequence[int],
    targets: Sequence[int],
    *,
    max_depth: int = 6,
    max_degree: int = 1_000,
    max_paths: int = 3,
    resolver: Resolver | None = None,
    hub_names: bool = True,
) -> PathResult:
    """Shortest paths of at most ``max_depth`` transactions from ``sources`` to ``targets`` (graph-wide
    address ids; a cluster is all its addresses).

    A path's ``hop_count`` is its number of transactions after the source, the same count as a trace's hop
    limit: on a UTXO chain the output that funded the source address is shown first as hop 0 and not counted.
    """
    start, start_edges = _nodes_for(graph, sources, True)
    goal, goal_edges = _nodes_for(graph, targets, False)
    result = PathResult(False, 0, [])
    if len(start) == 0 or len(goal) == 0:
        result.notes.append("source or target has no flows in the graph")
        return result
    fwd, bwd = _adjacency(graph, False), _adjacency(graph, True)
    parent = [np.full(graph.n_nodes, -2, np.int64), np.full(graph.n_nodes, -2, np.int64)]
    via = [np.full(graph.n_nodes, 0, np.int64), np.full(graph.n_nodes, 0, np.int64)]
    parent[0][start] = -1
    parent[1][goal] = -1
    frontiers = [start, goal]
    skipped: set[int] = set()
    degree = (fwd.ptr[1:] - fwd.ptr[:-1]) + (bwd.ptr[1:] - bwd.ptr[:-1])
    endpoint = np.zeros(graph.n_nodes, dtype=bool)
    endpoint[start] = endpoint[goal] = True
    meet = np.intersect1d(start, goal)
    depth = 0
    while len(meet) == 0 and depth < max_depth and len(frontiers[0]) and len(frontiers[1]):
        side = 0 if len(frontiers[0]) <= len(frontiers[1]) else 1
        adj = fwd if side == 0 else bwd
        front = frontiers[side]
        starts = adj.ptr[front]
        counts = adj.ptr[front + 1] - starts
        owner = np.repeat(np.arange(len(front)), counts)
        slots = np.arange(int(counts.sum())) - (np.cumsum(counts) - counts)[owner] + starts[owner]
        heads, edges = adj.head[slots], adj.edge[slots]
        fresh = parent[side][heads] == -2
        heads, edges, tails = heads[fresh], edges[fresh], front[owner[fresh]]
        # A hub is never an intermediate node: it is reported and left out (the endpoints may be hubs).
        hub = (degree[heads] > max_degree) & ~endpoint[heads]
        skipped.update(heads[hub].tolist())
        heads, edges, tails = heads[~hub], edges[~hub], tails[~hub]
        heads, first = np.unique(heads, return_index=True)
        parent[side][heads] = tails[first]
        via[side][heads] = edges[first]
        frontiers[side] = heads.astype(np.int64)
        result.nodes_visited += len(heads)
        depth += 1
        meet = heads[parent[1 - side][heads] != -2]
    result.depth = depth
    result.skipped_hubs = _hub_labels(graph, sorted(skipped), resolver if hub_names else None)
    if len(meet) == 0:
        result.notes.append(f"no path within {max_depth} steps" + (" (hubs skipped)" if skipped else ""))
        return result
    shortest = 0
    for node in meet.tolist():
        chain = _walk(parent[0], via[0], node)[::-1] + _walk(parent[1], via[1], node)
        edges = _edges_of(graph, chain)
        first_node = int(graph.src[edges[0]]) if edges else node
        last_node = int(graph.dst[edges[-1]]) if edges else node
        head_e = start_edges[graph.dst[start_edges] == first_node][:1].tolist()
        tail_e = goal_edges[graph.src[goal_edges] == last_node][:1].tolist()
        # The output that funded a UTXO source is shown as hop 0, like in a trace: it is not a step taken.
        path = evidence_path(graph, [*head_e, *edges, *tail_e], resolver or Resolver(), first_hop=0 if head_e else 1)
        # A search step is not always one transaction (a UTXO path's first transaction, a bridge's two
        # legs), so the limit is checked on the transactions themselves.
        if path.hop_count > max_depth:
            shortest = min(shortest or path.hop_count, path.hop_count)
            continue
        result.paths.append(path)
        if len(result.paths) >= max_paths:
            break
    result.found = bool(result.paths)
    if not result.found:
        result.notes.append(f"the shortest path found has {shortest} transactions, more than max_depth {max_depth}")
    return result


def _walk(parent: Int64Array, via: Int64Array, node: int) -> list[int]:
    """Edges (or bridge links) from ``node`` back to the search root, nearest first."""
    found: list[int] = []
    while parent[node] >= 0:
        found.append(int(via[node]))
        node = int(parent[node])
    return found


def _edges_of(graph: FlowGraph, steps: list[int]) -> list[int]:
    """Graph edges of a path; a bridge link becomes its two legs."""
    edges: list[int] = []
    for step in steps:
        if step >= 0:
            edges.append(step)
        else:
            i = -step - 1
            edges.extend([int(graph.bridges.source[i]), int(graph.bridges.target[i])])
    return edges


def _hub_labels(graph: FlowGraph, nodes: list[int], resolver: Resolver | None) -> list[str]:
    addrs = [int(graph.node_addr[n]) for n in nodes]
    names = resolver.addresses(graph, [a for a in addrs if a >= 0]) if resolver else {}
    return [names.get(a, f"addr#{a}") if a >= 0 else f"tx-node#{n}" for n, a in zip(nodes, addrs, strict=True)]
