"""Benchmark of tracing and exposure: 5-hop haircut traces on a 10M-transfer graph, networkx as the baseline.

A synthetic account-chain transfer graph is generated in numpy (bounded memory: a few arrays per transfer):
``--addresses`` addresses (default: one per 20 transfers), of which 500 are exchange hubs (tagged, so traces
stop there, as in life); 10 % of the transfers are deposits to a hub, 10 % withdrawals from one, the rest go
between ordinary addresses picked with a skew (``u ** 1.5``: a few very active addresses, many quiet ones);
times are uniform over a year, values log-normal. Sources are *hack-like*: a random large transfer (top 1 %
by value) into an ordinary address in the first half year, traced forward 5 hops under haircut, stopping at
the hubs.

Measured in one run:

* graph build (CSR, queues, haircut denominators) and its memory;
* the trace's median and p95 latency over ``--sources`` sources, on the full graph (numpy kernel);
* the same traces on a ``--nx-transfers`` graph (networkx would need several GB at 10M edges) with both the
  numpy kernel and a plain networkx implementation of the same haircut (checked to give the same terminal
  totals): the speedup;
* exposure of every cluster (addresses paired into clusters): flow matrix, 3-hop propagation, tiers, and a
  recompute after 100 tag changes;
* peak resident memory of the process.

Run: ``python benchmarks/bench_tracing.py`` (defaults: 10M transfers, 100 sources; networkx on 1M, 30 sources).

**Store mode** (``--store DIR --world DIR``): the same table on a generated world's chain store (ingested
with ``chainsleuth ingest chains``): sources from the world's hack and ransomware incidents (ground truth),
stops at its tagged services and our deposit addresses, exposure of all real clusters, networkx on the same
graph or, above ``--nx-max-edges``, on the traces' whole neighbourhood (see ``bench_tracing_store.py``).
"""

from __future__ import annotations

import argparse
import gc
import resource
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from chainsleuth.chain.exposure import ExposureModel, ExposurePolicy, category_matrix
from chainsleuth.chain.tracing import FlowGraph, Source, StopEntity, StopSet, build_flow_graph, trace
from chainsleuth.chain.tracing.graph import Int64Array

HUBS = 500
YEAR = 365 * 86_400


def synthetic(transfers: int, addresses: int, seed: int = 1) -> FlowGraph:
    rng = np.random.default_rng(seed)
    kind = rng.random(transfers)
    ordinary = addresses - HUBS

    def pick(n: int) -> Int64Array:
        return (HUBS + np.floor(ordinary * rng.random(n) ** 1.5)).astype(np.int64)

    src = pick(transfers)
    dst = pick(transfers)
    deposit, withdrawal = kind < 0.10, (kind >= 0.10) & (kind < 0.20)
    dst[deposit] = rng.integers(0, HUBS, int(deposit.sum()))
    src[withdrawal] = rng.integers(0, HUBS, int(withdrawal.sum()))
    same = src == dst
    dst[same] = (dst[same] + 1 - HUBS) % ordinary + HUBS
    ts = np.sort(rng.integers(0, YEAR, transfers)).astype(np.int64)
    value = rng.lognormal(0.0, 2.0, transfers)
    del kind, deposit, withdrawal, same
    return build_flow_graph(n_nodes=addresses, src=src, dst=dst, value=value, ts=ts, tx=np.arange(transfers))


def hub_stops() -> StopSet:
    return StopSet.build(
        (h, StopEntity(f"EX{h % 25}", f"Exchange {h % 25}", "exchange", concepts=("exchange",))) for h in range(HUBS)
    )


def hack_sources(graph: FlowGraph, count: int, seed: int = 2) -> list[Source]:
    rng = np.random.default_rng(seed)
    big = np.flatnonzero((graph.value > np.quantile(graph.value, 0.99)) & (graph.dst >= HUBS) & (graph.src >= HUBS))
    early = big[graph.ts[big] < YEAR // 2]  # leave time for the funds to move on
    chosen = rng.choice(early, size=count, replace=False)
    return [Source(np.array([e]), graph.value[[e]].copy(), 1, f"edge{e}") for e in chosen.tolist()]


def nx_graph(graph: FlowGraph) -> Any:
    import networkx as nx

    g = nx.MultiDiGraph()
    g.add_edges_from(
        (int(s), int(d), int(e), {"value": float(v), "ts": int(t)})
        for e, (s, d, v, t) in enumerate(zip(graph.src, graph.dst, graph.value, graph.ts, strict=True))
    )
    return g


def nx_haircut(g: Any, graph: FlowGraph, edge: int, hops: int, stops: set[int]) -> dict[int, float]:
    """The same haircut, hop by hop, in plain Python over networkx (terminal amount per address)."""
    frontier: dict[tuple[int, int, int], float] = {
        (int(graph.src[edge]), int(graph.dst[edge]), edge): float(graph.value[edge])
    }
    denom = graph.node_denom
    terminals: dict[int, float] = defaultdict(float)
    for hop in range(1, hops + 1):
        by_node: dict[int, list[float]] = {}
        for (_, v, k), t in frontier.items():
            if v in stops or hop == hops:
                terminals[v] += t
                continue
            acc = by_node.setdefault(v, [0.0, float("inf")])
            acc[0] += t
            acc[1] = min(acc[1], g.edges[_, v, k]["ts"])
        nxt: dict[tuple[int, int, int], float] = defaultdict(float)
        for v, (tau, arrival) in by_node.items():
            share = tau / max(float(denom[v]), tau)
            moved = 0.0
            for _, w, k, d in g.out_edges(v, keys=True, data=True):
                if d["ts"] >= arrival:
                    x = d["value"] * share
                    nxt[(v, w, k)] += x
                    moved += x
            if tau - moved > 1e-12 * max(tau, 1.0):
                terminals[v] += tau - moved
        frontier = nxt
    return terminals


def latencies(
    graph: FlowGraph, sources: list[Source], stops: StopSet, hops: int, top_k: int = 3, repeats: int = 1
) -> tuple[list[float], list[Any]]:
    """Wall time of each trace (best of ``repeats``): kernel plus terminals, and with ``top_k`` > 0 evidence
    paths for the top 50 terminals."""
    trace(graph, sources[0], hops=hops, stops=stops)  # build the view and kernel once (timed separately)
    times, results = [], []
    for source in sources:
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            result = trace(graph, source, policy="haircut", hops=hops, stops=stops, max_terminals=50, top_k=top_k)
            best = min(best, (time.perf_counter() - start) * 1000)
        times.append(best)
        results.append(result)
    return times, results


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def bench_exposure(graph: FlowGraph, rows: list[tuple[str, str]]) -> None:
    policy = ExposurePolicy.default()
    rng = np.random.default_rng(3)
    entity_of = np.arange(graph.n_addresses, dtype=np.int64)
    entity_of[HUBS:] = HUBS + (entity_of[HUBS:] - HUBS) // 2  # ordinary addresses paired into clusters
    entity_of[:HUBS] = np.arange(HUBS) % 25  # 25 exchanges with 20 hot wallets each
    n_entities = int(entity_of.max()) + 1
    pairs = [(h, StopEntity(f"EX{h % 25}", "exchange", "exchange", concepts=("exchange",))) for h in range(HUBS)]
    for name, concept, count in (
        ("sanctioned", "sanction", 2000),
        ("mixer", "mixing_service", 200),
        ("scam", "scam", 2000),
        ("market", "market", 500),
        ("hack", "hacking", 300),
    ):
        for a in rng.choice(np.arange(HUBS, graph.n_addresses), count, replace=False).tolist():
            pairs.append((a, StopEntity(f"{name}{a}", name, concept, concepts=(concept,))))
    tagged = StopSet.build(pairs)
    t0 = time.perf_counter()
    model = ExposureModel.from_graph(graph, entity_of=entity_of, n_entities=n_entities)
    t1 = time.perf_counter()
    labels = category_matrix(policy, tagged, n_entities, entity_of)
    result = model.compute(labels, policy)
    t2 = time.perf_counter()
    tiers = result.tiers(policy)
    t3 = time.perf_counter()
    extra = [
        (int(a), StopEntity(f"new{a}", "new scam", "scam", concepts=("scam",)))
        for a in rng.choice(np.arange(HUBS, graph.n_addresses), 100, replace=False).tolist()
    ]
    changed = tagged.merged(StopSet.build(extra))
    t4 = time.perf_counter()
    affected = model.affected([int(entity_of[a]) for a, _ in extra], policy.hops)
    t5 = time.perf_counter()
    _, moved = model.update(result, category_matrix(policy, changed, n_entities, entity_of), policy)
    t6 = time.perf_counter()
    counts = {policy.tiers[i] if i < len(policy.tiers) else "none": int((tiers == i).sum()) for i in np.unique(tiers)}
    rows += [
        (f"exposure: flow matrix ({n_entities:,} clusters, {model.flows.nnz:,} pairs)", f"{t1 - t0:.2f} s"),
        ("exposure: all clusters, 3 hops in + out", f"{t2 - t1:.2f} s"),
        ("exposure: tiers of all clusters", f"{t3 - t2:.2f} s  {counts}"),
        ("exposure: affected by 100 tag changes (3 hops)", f"{t5 - t4:.2f} s, {len(affected):,} clusters"),
        ("exposure: full recompute after the change", f"{t6 - t5:.2f} s, {len(moved):,} rows moved"),
    ]
    del model, result, labels
    sp.csr_matrix((1, 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transfers", type=int, default=10_000_000)
    parser.add_argument("--addresses", type=int, default=0, help="default: transfers / 20")
    parser.add_argument("--nx-transfers", type=int, default=1_000_000)
    parser.add_argument("--sources", type=int, default=100)
    parser.add_argument("--nx-sources", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=2, help="best of N per source in the networkx comparison")
    parser.add_argument("--hops", type=int, default=5)
    parser.add_argument("--store", type=Path, default=None, help="Benchmark this chain store instead (store mode).")
    parser.add_argument("--world", type=Path, default=None, help="Store mode: the world it holds (ground truth).")
    parser.add_argument(
        "--nx-max-edges",
        type=int,
        default=3_000_000,
        help="Store mode: build networkx on the whole graph up to this many edges, else on the traces' "
        "neighbourhood (networkx needs about 1 KB per edge).",
    )
    args = parser.parse_args()
    rows: list[tuple[str, str]] = []
    if args.store is not None:
        if args.world is None:
            parser.error("--store needs --world (the ground truth that gives the hack sources)")
        from bench_tracing_store import run

        run(args, rows, latencies)
        print_rows(rows)
        return
    stops = hub_stops()

    small = synthetic(
        args.nx_transfers,
        args.addresses * args.nx_transfers // args.transfers if args.addresses else args.nx_transfers // 20,
    )
    sources = hack_sources(small, args.nx_sources)
    ours, results = latencies(small, sources, stops, args.hops, top_k=0, repeats=args.repeats)
    start = time.perf_counter()
    g = nx_graph(small)
    build_nx = time.perf_counter() - start
    nx_times = []
    hub_set = set(range(HUBS))
    for source, result in zip(sources, results, strict=True):
        best = float("inf")
        for _ in range(args.repeats):
            t = time.perf_counter()
            terminals = nx_haircut(g, small, int(source.edges[0]), args.hops, hub_set)
            best = min(best, (time.perf_counter() - t) * 1000)
        nx_times.append(best)
        covered = sum(terminals.values()) + result.dropped_share * result.traced_value
        assert abs(covered - result.traced_value * sum(result.shares.values())) <= 1e-6 * result.traced_value
    rows += [
        (
            f"[{args.nx_transfers:,}] numpy haircut trace, {args.hops} hops, no paths: median / p95",
            f"{statistics.median(ours):.1f} / {p95(ours):.1f} ms",
        ),
        (
            f"[{args.nx_transfers:,}] networkx same trace: median / p95",
            f"{statistics.median(nx_times):.1f} / {p95(nx_times):.1f} ms",
        ),
        (
            f"[{args.nx_transfers:,}] speedup, same graph, same terminals: median ratio / total time ratio",
            f"{statistics.median(n / o for n, o in zip(nx_times, ours, strict=True)):.0f}x / "
            f"{sum(nx_times) / sum(ours):.0f}x",
        ),
        (f"[{args.nx_transfers:,}] networkx graph build", f"{build_nx:.1f} s"),
    ]
    del g, small
    gc.collect()

    start = time.perf_counter()
    graph = synthetic(args.transfers, args.addresses or args.transfers // 20)
    built = time.perf_counter() - start
    start = time.perf_counter()
    graph.view(False)
    view_time = time.perf_counter() - start
    sources = hack_sources(graph, args.sources)
    times, results = latencies(graph, sources, stops, args.hops)
    bare, _ = latencies(graph, sources, stops, args.hops, top_k=0)
    visited = statistics.median([r.edges_visited for r in results])
    rows += [
        (f"[{args.transfers:,}] graph build (arrays, queues, denominators)", f"{built:.1f} s"),
        (f"[{args.transfers:,}] forward view (CSR)", f"{view_time:.1f} s, graph {graph.nbytes() / 2**30:.2f} GiB"),
        (
            f"[{args.transfers:,}] haircut trace, {args.hops} hops, {args.sources} hack-like sources, "
            "no paths: median / p95",
            f"{statistics.median(bare):.1f} / {p95(bare):.1f} ms (median {visited:,.0f} tainted edges)",
        ),
        (
            f"[{args.transfers:,}] the same with evidence (3 paths for each of the top 50 terminals): median / p95",
            f"{statistics.median(times):.1f} / {p95(times):.1f} ms",
        ),
    ]
    bench_exposure(graph, rows)
    print_rows(rows)


def print_rows(rows: list[tuple[str, str]]) -> None:
    """The table, with the process's peak resident memory as its last row."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    rows.append(("peak resident memory", f"{peak:.2f} GiB"))
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  result")
    print("-" * (width + 40))
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
