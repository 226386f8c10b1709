"""Benchmark of address clustering against the practical floor and plain-Python baselines, in one run.

Synthetic UTXO data with ``--transfers`` inputs (spent outputs) is generated in numpy (bounded memory: a few
arrays of that length): wallets own runs of consecutive address ids, each transaction spends 1-20 inputs of one
wallet (geometric, mean about 2) and pays a random address plus change; 1 % of transactions are CoinJoin-shaped
(5 participants, 5 equal outputs). For each size the table shows, measured in the same process:

* ``scipy cc``: ``scipy.sparse.csgraph.connected_components`` on the multi-input edge list (COO → components,
  undirected) — the practical floor the issue names;
* ``clustering (kernel)``: our multi-input clustering from the input arrays: building the edge list
  (``group_edges``) + components + smallest-address cluster ids. The ratio to ``scipy cc`` must be ≤ 1.5;
* ``clustering (pipeline)``: the same plus CoinJoin detection over inputs and outputs (``utxo_edges``), and
  the detection alone (``detect_coinjoins``), to show where the pipeline's time above the floor goes;
* ``incremental +10 %``: applying the last 10 % of transactions to the mapping of the first 90 %;
* ``python union-find`` and ``networkx``: the same edge list in plain Python (path halving) and in networkx
  (``Graph.add_edges_from`` + ``connected_components``); networkx is skipped above ``--networkx-max`` edges
  because its graph needs several GB there.

Run: ``python benchmarks/bench_clustering.py --transfers 1000000 10000000``.
"""

from __future__ import annotations

import argparse
import gc
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chainsleuth.chain.clustering.coinjoin import detect_coinjoins
from chainsleuth.chain.clustering.engine import utxo_edges
from chainsleuth.chain.clustering.kernel import apply_edges, components, group_edges, python_union_find
from chainsleuth.chain.clustering.view import UtxoView

Arrays = dict[str, np.ndarray[Any, Any]]


def synthetic(transfers: int, seed: int = 1) -> tuple[Arrays, int]:
    """Inputs and outputs of about ``transfers`` inputs, sorted by transaction id, and the address count."""
    rng = np.random.default_rng(seed)
    wallet_sizes = rng.geometric(0.25, size=max(1, transfers // 6)).astype(np.int64)
    wallet_start = np.concatenate(([0], np.cumsum(wallet_sizes)[:-1]))
    n_wallet_addresses = int(wallet_sizes.sum())
    n_addresses = n_wallet_addresses + transfers // 4  # plus payees outside any wallet
    per_tx = np.minimum(rng.geometric(0.5, size=transfers), 20).astype(np.int64)
    per_tx = per_tx[np.cumsum(per_tx) <= transfers]
    n_tx = len(per_tx)
    coinjoin = rng.random(n_tx) < 0.01
    per_tx[coinjoin] = 5
    in_tx = np.repeat(np.arange(n_tx, dtype=np.int64), per_tx)
    wallet = rng.integers(0, len(wallet_sizes), size=n_tx)
    in_wallet = np.repeat(wallet, per_tx)
    in_address = wallet_start[in_wallet] + rng.integers(0, 1 << 30, size=len(in_tx)) % wallet_sizes[in_wallet]
    # CoinJoin participants: each input from a different random wallet
    cj_rows = np.repeat(coinjoin, per_tx)
    other = rng.integers(0, len(wallet_sizes), size=int(cj_rows.sum()))
    in_address[cj_rows] = wallet_start[other]
    in_value = rng.integers(10_000, 10**8, size=len(in_tx))
    # outputs: payment + change, or 5 equal outputs for CoinJoins
    n_out = np.where(coinjoin, 5, 2)
    out_tx = np.repeat(np.arange(n_tx, dtype=np.int64), n_out)
    out_address = rng.integers(0, n_addresses, size=len(out_tx))
    out_value = rng.integers(10_000, 10**8, size=len(out_tx))
    out_value[np.repeat(coinjoin, n_out)] = 1_000_000
    arrays = {
        "in_tx": in_tx,
        "in_address": in_address.astype(np.int64),
        "in_value": in_value,
        "out_tx": out_tx,
        "out_address": out_address.astype(np.int64),
        "out_value": out_value,
    }
    return arrays, n_addresses


@dataclass
class Timing:
    """Best CPU and wall seconds of a measured function, and its last result."""

    cpu: float
    wall: float
    result: Any = None


def timed(function: Callable[[], Any], repeats: int) -> Timing:
    """Best process CPU time and best wall time of ``repeats`` calls (after a collection).

    Ratios use CPU time: every measured step is single-threaded, and on a shared machine the CPU time of this
    process is far less disturbed by other processes than wall time (which also counts waiting for a core).
    The best of several runs is the figure ``timeit`` reports, for the same reason.
    """
    cpu: list[float] = []
    wall: list[float] = []
    result: Any = None
    for _ in range(repeats):
        gc.collect()
        started_cpu, started_wall = time.process_time(), time.perf_counter()
        result = function()
        cpu.append(time.process_time() - started_cpu)
        wall.append(time.perf_counter() - started_wall)
    return Timing(min(cpu), min(wall), result)


def paired(first: Callable[[], Any], second: Callable[[], Any], repeats: int) -> tuple[Timing, Timing, float]:
    """Two functions timed alternately (so that both see the same machine), and the median per-round CPU ratio."""
    a_runs: list[Timing] = []
    b_runs: list[Timing] = []
    for _ in range(repeats):
        a_runs.append(timed(first, 1))
        b_runs.append(timed(second, 1))
    ratio = statistics.median(b.cpu / a.cpu for a, b in zip(a_runs, b_runs, strict=True))
    return _best(a_runs), _best(b_runs), ratio


def _best(runs: list[Timing]) -> Timing:
    return Timing(min(r.cpu for r in runs), min(r.wall for r in runs), runs[-1].result)


def scipy_floor(n: int, src: np.ndarray[Any, Any], dst: np.ndarray[Any, Any]) -> Any:
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    graph = sp.coo_array((np.ones(len(src), dtype=np.int8), (src, dst)), shape=(n, n))
    return connected_components(graph, directed=False)


def networkx_components(n: int, src: np.ndarray[Any, Any], dst: np.ndarray[Any, Any]) -> int:
    import networkx as nx

    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    graph.add_edges_from(zip(src.tolist(), dst.tolist(), strict=True))
    return sum(1 for _ in nx.connected_components(graph))


def from_store(root: str, chain: str) -> tuple[Arrays, int]:
    """The inputs and outputs of a chain store's UTXO chain (e.g. an ingested 10M-transfer world)."""
    from chainsleuth.chain.clustering.view import load_utxo_view
    from chainsleuth.store.chainstore import ChainStore

    view = load_utxo_view(ChainStore(Path(root)), chain)
    arrays = {
        "in_tx": view.in_tx,
        "in_address": view.in_address,
        "in_value": view.in_value,
        "out_tx": view.out_tx,
        "out_address": view.out_address,
        "out_value": view.out_value,
    }
    return arrays, view.n_addresses


Row = tuple[str, float, float, str]


def run(data: Arrays, n: int, repeats: int, networkx_max: int, python_max: int) -> list[Row]:
    """Every measurement on one data set; rows of (name, CPU seconds, wall seconds, note)."""
    rows: list[Row] = []
    src, dst = group_edges(data["in_tx"], data["in_address"])
    print(
        f"{len(data['in_tx']):,} inputs (transfers), {len(data['out_tx']):,} outputs, "
        f"{int(data['in_tx'][-1]) + 1:,} transactions, {n:,} addresses, {len(src):,} edges"
    )

    def kernel() -> np.ndarray[Any, Any]:
        s, d = group_edges(data["in_tx"], data["in_address"])
        return components(n, s, d)

    floor, ours, ratio = paired(lambda: scipy_floor(n, src, dst), kernel, repeats)
    labels = ours.result
    rows.append(("scipy cc (floor)", floor.cpu, floor.wall, f"{floor.result[0]:,} components"))
    rows.append(
        ("clustering (kernel)", ours.cpu, ours.wall, f"{ours.cpu / floor.cpu:.2f}x floor (median round {ratio:.2f}x)")
    )

    view = UtxoView.from_arrays(
        in_tx=data["in_tx"],
        in_address=data["in_address"],
        in_value=data["in_value"],
        out_tx=data["out_tx"],
        out_address=data["out_address"],
        out_value=data["out_value"],
        n_addresses=n,
    )

    def pipeline() -> int:
        edges = utxo_edges(view)
        apply_edges(None, n, edges.src, edges.dst)
        return edges.counts["coinjoins"]

    floor2, full, ratio = paired(lambda: scipy_floor(n, src, dst), pipeline, repeats)
    note = f"{full.cpu / floor2.cpu:.2f}x floor (median round {ratio:.2f}x); {full.result:,} CoinJoins"
    rows.append(("clustering (pipeline)", full.cpu, full.wall, note))
    detect = timed(
        lambda: detect_coinjoins(view.in_tx, view.in_address, view.out_tx, view.out_address, view.out_value), repeats
    )
    share = detect.cpu / full.cpu if full.cpu > 0 else float("nan")
    rows.append(("  of which CoinJoin det.", detect.cpu, detect.wall, f"{share:.0%} of the pipeline"))

    cut = int(np.searchsorted(data["in_tx"], int(data["in_tx"][-1] * 0.9)))
    first = components(n, *group_edges(data["in_tx"][:cut], data["in_address"][:cut]))

    def incremental() -> np.ndarray[Any, Any]:
        s, d = group_edges(data["in_tx"][cut:], data["in_address"][cut:])
        return apply_edges(first, n, s, d)

    step = timed(incremental, repeats)
    rows.append(
        ("incremental +10 %", step.cpu, step.wall, f"equals from scratch: {np.array_equal(step.result, labels)}")
    )

    if len(src) <= python_max:
        plain = timed(lambda: python_union_find(n, src, dst), 1)
        same = bool(np.array_equal(np.asarray(plain.result), labels))
        rows.append(
            ("python union-find", plain.cpu, plain.wall, f"ours {plain.cpu / ours.cpu:.0f}x faster; equal: {same}")
        )
    else:
        rows.append(("python union-find", float("nan"), float("nan"), f"skipped (> {python_max:,} edges)"))
    if len(src) <= networkx_max:
        nx_time = timed(lambda: networkx_components(n, src, dst), 1)
        note = f"ours {nx_time.cpu / ours.cpu:.0f}x faster; {nx_time.result:,} components"
        rows.append(("networkx", nx_time.cpu, nx_time.wall, note))
    else:
        rows.append(("networkx", float("nan"), float("nan"), f"skipped (> {networkx_max:,} edges, memory)"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transfers", type=float, nargs="*", default=[1e6, 1e7])
    parser.add_argument("--store", help="also benchmark the UTXO chain of this chain store")
    parser.add_argument("--chain", default="bitcoin")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--networkx-max", type=float, default=3e6, help="largest edge list for networkx")
    parser.add_argument("--python-max", type=float, default=2e7, help="largest edge list for python UF")
    args = parser.parse_args()
    datasets: list[tuple[str, Any]] = [(f"synthetic {t:,.0f}", lambda t=t: synthetic(int(t))) for t in args.transfers]
    if args.store:
        datasets.append((f"store {args.store} ({args.chain})", lambda: from_store(args.store, args.chain)))
    for label, load in datasets:
        print(f"\n== {label}")
        data, n = load()
        rows = run(data, n, args.repeats, int(args.networkx_max), int(args.python_max))
        print(f"{'measure':<24}{'CPU s':>9}{'wall s':>9}  notes")
        for name, cpu, wall, note in rows:
            print(f"{name:<24}{cpu:>9.3f}{wall:>9.3f}  {note}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"\npeak RSS {peak:.2f} GiB")


if __name__ == "__main__":
    main()
