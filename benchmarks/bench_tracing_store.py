"""The store mode of ``bench_tracing.py``: tracing and exposure on a generated world's chain store.

Unlike the synthetic mode, everything is the real thing: the flow graph the CLI and HTTP API load (both
chains, UTXO transactions and account addresses, the bridge), trace sources from the world's ground truth
(every address ground truth gives to a hack's or ransomware campaign's perpetrator, and every transaction of
those incidents), stops at the world's tagged services and at our deposit addresses, and the clusters of
``chainsleuth chain cluster run`` for the exposure of all clusters (clustered here, timed, if the store has
none).

The networkx baseline runs the same 5-hop haircut in plain Python (:func:`nx_haircut`) on the same graph:
the whole graph when it has at most ``--nx-max-edges`` edges, else the sources' neighbourhood (every node
reachable within the hop limit without passing a stop, with all its outgoing edges), which is everything
those traces can touch, so the results are identical; the table says which. The bridge is not crossed in
this comparison (the baseline does not model it); the full-size latency rows do cross it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from chainsleuth.chain.attribution import resolve_to_clusters
from chainsleuth.chain.attribution.tagpack import parse_tagpack
from chainsleuth.chain.clustering import ClusterOptions, cluster_chain
from chainsleuth.chain.clustering.persist import cluster_arrays
from chainsleuth.chain.clustering.quality import tagpack_wallets
from chainsleuth.chain.exposure import ExposurePolicy
from chainsleuth.chain.exposure.snapshot import compute_table
from chainsleuth.chain.tracing import (
    FlowGraph,
    PriceTable,
    Source,
    StopEntity,
    StopSet,
    address_source,
    load_flow_graph,
    stops_from_addresses,
    stops_from_attributions,
    trace,
    tx_source,
)
from chainsleuth.chain.tracing.graph import Int64Array
from chainsleuth.errors import NotFoundError
from chainsleuth.store.chainstore import ChainStore

TYPOLOGIES = ("hack_laundering", "ransomware")
Rows = list[tuple[str, str]]


def incident_sources(graph: FlowGraph, store: ChainStore, world: Path, limit: int, seed: int = 2) -> list[Source]:
    """Forward sources from ground truth: the perpetrators' addresses and the incidents' transactions."""
    incidents = [json.loads(line) for line in (world / "ground_truth" / "incidents.jsonl").read_text().splitlines()]
    chosen = [i for i in incidents if i["typology"] in TYPOLOGIES]
    if not chosen:
        raise SystemExit(f"{world} has no hack or ransomware incident")
    perpetrators = {e for i in chosen for e in i["perpetrator_entity_ids"]}
    sources: list[Source] = []
    for batch in pacsv.open_csv(world / "ground_truth" / "address_owners.csv"):
        entity = batch.column("entity_id").to_numpy(zero_copy_only=False)
        hit = np.flatnonzero(np.isin(entity, list(perpetrators)))
        chains = batch.column("chain").to_numpy(zero_copy_only=False)[hit].tolist()
        addresses = batch.column("address").to_numpy(zero_copy_only=False)[hit].tolist()
        for chain, address in zip(chains, addresses, strict=True):
            local = store.address_id(chain, address)
            if local is None:
                continue
            try:
                sources.append(address_source(graph, chain, local, "forward", label=address))
            except NotFoundError:  # an address with nothing to trace forward
                continue
    for incident in chosen:
        for chain, hashes in incident["tx_hashes"].items():
            for tx_hash in hashes:
                found = store.transaction(chain, tx_hash)
                if found is not None:
                    sources.append(tx_source(graph, chain, int(found["tx_id"]), "forward", label=tx_hash))
    rng = np.random.default_rng(seed)
    if len(sources) > limit:
        sources = [sources[i] for i in sorted(rng.choice(len(sources), limit, replace=False).tolist())]
    return sources


def world_stops(graph: FlowGraph, store: ChainStore, world: Path, clusters: dict[str, Int64Array]) -> tuple[
    StopSet, StopSet
]:  # fmt: skip
    """(where traces stop: our deposit addresses and tagged services; every tagged cluster, for exposure)."""
    tags = [t for p in sorted((world / "tagpacks").glob("*.yaml")) for t in parse_tagpack(p).tags]
    attributions = resolve_to_clusters(tags, {})
    services = stops_from_attributions(graph, store, attributions, clusters=clusters)
    tagged = stops_from_attributions(graph, store, attributions, clusters=clusters, only_services=False)
    deposits = pq.read_table(world / "exchange" / "deposit_addresses.parquet").to_pylist()
    ours = stops_from_addresses(
        graph,
        store,
        [(r["chain"], r["address"], StopEntity(r["account_id"], r["customer_id"], "exchange")) for r in deposits],
    )
    return ours.merged(services), tagged


def neighbourhood(graph: FlowGraph, sources: list[Source], hops: int, stops: StopSet) -> Int64Array:
    """Edges a forward trace of ``sources`` can touch within ``hops``: the sources' edges and every outgoing
    edge of each node reached without passing a stop (times ignored: a superset of what a trace visits)."""
    view = graph.view(False)
    stop = stops.mask(graph.n_addresses)
    seen = np.zeros(graph.n_nodes, dtype=bool)
    kept: list[Int64Array] = []
    for first in sorted({s.first_hop for s in sources}):
        edges = np.unique(np.concatenate([s.edges for s in sources if s.first_hop == first]))
        kept.append(edges)
        for hop in range(first, hops):
            holder = view.holder[edges]
            go = view.head[edges] >= 0
            if hop > 0:
                go &= ~((holder >= 0) & stop[np.maximum(holder, 0)])
            nodes = np.unique(view.head[edges[go]])
            nodes = nodes[~seen[nodes]]
            seen[nodes] = True
            counts = view.ptr[nodes + 1] - view.ptr[nodes]
            owner = np.repeat(np.arange(len(nodes)), counts)
            slots = np.arange(int(counts.sum())) - (np.cumsum(counts) - counts)[owner] + view.ptr[nodes][owner]
            edges = view.order[slots]
            kept.append(edges)
    return np.unique(np.concatenate(kept)).astype(np.int64)


def nx_graph(graph: FlowGraph, edges: Int64Array) -> Any:
    """A networkx MultiDiGraph of ``edges`` (key: edge id; an unspent output goes to node -1)."""
    import networkx as nx

    g = nx.MultiDiGraph()
    g.add_edges_from(
        (int(s), int(d), int(e), {"value": float(v), "ts": int(t), "holder": int(h)})
        for e, s, d, v, t, h in zip(
            edges.tolist(),
            graph.src[edges].tolist(),
            graph.dst[edges].tolist(),
            graph.value[edges].tolist(),
            graph.ts[edges].tolist(),
            graph.addr_to[edges].tolist(),
            strict=True,
        )
    )
    return g


def nx_haircut(g: Any, graph: FlowGraph, source: Source, hops: int, stops: set[int]) -> float:
    """The kernel's forward haircut (no bridge, no window), edge by edge in Python: the total that ends at
    terminals (services, unspent outputs, the hop limit, what nodes keep)."""
    frontier: dict[int, float] = {int(e): float(t) for e, t in zip(source.edges, source.taint, strict=True)}
    # each tainted edge's (tail, head, attributes); the sources' from the arrays, later ones from networkx
    ends_of: dict[int, tuple[int, int, dict[str, Any]]] = {
        e: (int(graph.src[e]), int(graph.dst[e]), {"holder": int(graph.addr_to[e]), "ts": int(graph.ts[e])})
        for e in frontier
    }
    denom = graph.node_denom
    total = 0.0
    hop = source.first_hop
    while frontier:
        by_node: dict[int, list[float]] = {}
        nxt: dict[int, float] = defaultdict(float)
        for e, t in frontier.items():
            _, v, d = ends_of[e]
            if (hop > 0 and d["holder"] in stops) or v < 0 or hop >= hops:
                total += t
                continue
            acc = by_node.setdefault(v, [0.0, float("inf")])
            acc[0] += t
            acc[1] = min(acc[1], d["ts"])
        ends_of = {}
        for v, (tau, arrival) in by_node.items():
            share = tau / max(float(denom[v]), tau)
            moved = 0.0
            for _, w, k, d in g.out_edges(v, keys=True, data=True):
                if d["ts"] >= arrival:
                    x = d["value"] * share
                    nxt[k] += x
                    moved += x
                    ends_of[k] = (v, w, d)
            total += max(tau - moved, 0.0)
        frontier = dict(nxt)
        hop += 1
    return total


def ensure_clusters(store: ChainStore, world: Path, rows: Rows) -> dict[str, Int64Array]:
    """The store's clusterings; chains never clustered are clustered now (timed), an account chain with the
    world's tagged exchange wallets for the deposit-address heuristic (as ``chain cluster run --tagpacks``)."""
    found = cluster_arrays(store.root, store.chains())
    for chain in store.chains():
        if chain not in found:
            start = time.perf_counter()
            hot = tagpack_wallets(store, chain, world / "tagpacks") if chain != "bitcoin" else None
            cluster_chain(store, chain, ClusterOptions(hot_wallets=hot) if hot else None)
            rows.append(
                (f"clustering {chain} (no clustering in the store yet)", f"{time.perf_counter() - start:.1f} s")
            )
    return cluster_arrays(store.root, store.chains())


def run(args: argparse.Namespace, rows: Rows, timed: Any) -> None:
    """Fill ``rows`` with the store-mode measurements (``timed`` is bench_tracing's latency helper)."""
    world: Path = args.world
    store = ChainStore(args.store)
    start = time.perf_counter()
    graph = load_flow_graph(store)
    loaded = time.perf_counter() - start
    start = time.perf_counter()
    graph.view(False)
    view_time = time.perf_counter() - start
    size = f"[store {graph.n_edges:,} edges]"
    rows.append((f"{size} flow graph load (both chains, bridge links)", f"{loaded:.1f} s"))
    rows.append((f"{size} forward view (CSR)", f"{view_time:.1f} s, graph {graph.nbytes() / 2**30:.2f} GiB"))
    clusters = ensure_clusters(store, world, rows)
    stops, tagged = world_stops(graph, store, world, clusters)
    sources = incident_sources(graph, store, world, args.sources)
    times, results = timed(graph, sources, stops, args.hops)
    bare, _ = timed(graph, sources, stops, args.hops, top_k=0)
    visited = statistics.median([r.edges_visited for r in results])
    label = f"{size} haircut trace, {args.hops} hops, {len(sources)} hack/ransomware sources (ground truth)"
    rows.append(
        (
            f"{label}, no paths: median / p95",
            f"{statistics.median(bare):.1f} / {np.percentile(bare, 95):.1f} ms (median {visited:,.0f} tainted edges)",
        )
    )
    rows.append(
        (
            f"{size} the same with evidence (3 paths for each of the top 50 terminals): median / p95",
            f"{statistics.median(times):.1f} / {np.percentile(times, 95):.1f} ms",
        )
    )
    nx_sources = sources[: args.nx_sources]
    if graph.n_edges <= args.nx_max_edges:
        edges = np.arange(graph.n_edges, dtype=np.int64)
        scope = "the whole graph"
    else:
        edges = neighbourhood(graph, nx_sources, args.hops, stops)
        scope = f"the sources' {args.hops}-hop neighbourhood, {len(edges):,} of {graph.n_edges:,} edges"
    ours: list[float] = []
    for source in nx_sources:
        best = float("inf")
        for _ in range(args.repeats):
            t = time.perf_counter()
            result = trace(graph, source, policy="haircut", hops=args.hops, stops=stops, cross_bridge=False, top_k=0)
            best = min(best, (time.perf_counter() - t) * 1000)
        ours.append(best)
    start = time.perf_counter()
    g = nx_graph(graph, edges)
    build_nx = time.perf_counter() - start
    stop_set = set(stops.addresses.tolist())
    nx_times: list[float] = []
    for source in nx_sources:
        best = float("inf")
        for _ in range(args.repeats):
            t = time.perf_counter()
            total = nx_haircut(g, graph, source, args.hops, stop_set)
            best = min(best, (time.perf_counter() - t) * 1000)
        nx_times.append(best)
        result = trace(graph, source, policy="haircut", hops=args.hops, stops=stops, cross_bridge=False, top_k=0)
        expected = result.traced_value * (1.0 - result.dropped_share)
        assert abs(total - expected) <= 1e-6 * max(expected, 1.0), (source.label, total, expected)
    del g
    rows += [
        (f"{size} networkx graph ({scope}) build", f"{build_nx:.1f} s"),
        (
            f"{size} numpy vs networkx, same {len(nx_sources)} traces, no bridge, no paths: median",
            f"{statistics.median(ours):.2f} ms vs {statistics.median(nx_times):.2f} ms",
        ),
        (
            f"{size} speedup, same terminal totals: median ratio / total time ratio",
            f"{statistics.median(n / o for n, o in zip(nx_times, ours, strict=True)):.1f}x / "
            f"{sum(nx_times) / sum(ours):.1f}x",
        ),
    ]
    graph.drop_views()  # the traces are done: the exposure step gets their memory
    policy = ExposurePolicy.default()
    prices = PriceTable.read(world / "prices.csv") if (world / "prices.csv").is_file() else None
    start = time.perf_counter()
    table, unit = compute_table(graph, clusters, tagged, policy, prices)
    spent = time.perf_counter() - start
    tiers = table.column("tier").to_pylist()
    counts = {t or "none": tiers.count(t) for t in sorted(set(tiers), key=lambda x: x or "~")}
    rows.append(
        (
            f"{size} exposure of all clusters ({table.num_rows:,} with volume or a tag, {policy.hops} hops, "
            f"in + out, {unit})",
            f"{spent:.1f} s  {counts}",
        )
    )
