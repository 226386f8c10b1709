"""Feature extraction throughput: our bulk and streaming features vs IBM's GraphFeaturePreprocessor (snapml).

Each measurement runs in its own subprocess so that its peak memory (max RSS) is its own. The same synthetic
edge list (power-law-ish senders and receivers, ``--edges`` transfers over 30 days, amounts log-normal) is fed
to every method. GFP runs with one thread and the same pattern window as ours, and computes its own (different)
set of patterns, so the ratio compares the cost of "graph features for every edge", not identical outputs.

    python benchmarks/bench_features.py --edges 1000000 --nodes 100000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

DAY = 86_400


def make_edges(m: int, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, n + 1) ** 0.8
    weights /= weights.sum()
    perm = rng.permutation(n)
    src = perm[rng.choice(n, m, p=weights)]
    dst = rng.permutation(n)[rng.choice(n, m, p=weights)]
    t = np.sort(rng.integers(0, 30 * DAY, m))
    return src.astype(np.int64), dst.astype(np.int64), rng.lognormal(5, 1.5, m), t.astype(np.int64)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _cpu_s() -> float:
    """Process CPU time: on a shared machine wall time measures the neighbours, CPU time measures the method."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_one(method: str, m: int, n: int) -> dict[str, float]:
    from chainsleuth.monitor.features.bulk import FeatureConfig, account_features, edge_features
    from chainsleuth.monitor.features.edges import EdgeList

    src, dst, amt, t = make_edges(m, n)
    cfg = FeatureConfig(windows=(DAY, 7 * DAY), pattern_window=DAY, fast_window=DAY)
    base = _peak_mb()
    started, cpu0 = time.perf_counter(), _cpu_s()
    if method == "ours":
        e = EdgeList.from_arrays(src, dst, amt, t, nodes=np.arange(n))
        f = edge_features(e, cfg)
        account_features(e, int(t[-1]), cfg, edge_feats=f)
        edges = m
    elif method == "stream":
        from chainsleuth.monitor.features.incremental import StreamingFeatures

        edges = min(m, 50_000)
        s = StreamingFeatures(cfg, nodes=range(n))
        for i in range(edges):
            s.update(int(src[i]), int(dst[i]), float(amt[i]), int(t[i]))
    elif method == "gfp":
        from chainsleuth.monitor.evaluation.gfp import gfp_edge_features

        e = EdgeList.from_arrays(src, dst, amt, t, nodes=np.arange(n))
        if gfp_edge_features(e, cfg.pattern_window, threads=1) is None:
            return {"skipped": 1.0}
        edges = m
    else:
        raise SystemExit(f"unknown method {method}")
    seconds, cpu = time.perf_counter() - started, _cpu_s() - cpu0
    return {"seconds": seconds, "cpu_seconds": cpu, "edges": float(edges), "edges_per_cpu_s": edges / cpu,
            "edges_per_s": edges / seconds, "peak_mb": _peak_mb(), "base_mb": base}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--edges", type=int, default=1_000_000)
    ap.add_argument("--nodes", type=int, default=100_000)
    ap.add_argument("--method", help=argparse.SUPPRESS)
    ap.add_argument("--only", default="ours,gfp,stream", help="comma-separated subset of ours,gfp,stream")
    args = ap.parse_args()
    if args.method:
        print(json.dumps(run_one(args.method, args.edges, args.nodes)))
        return
    results: dict[str, dict[str, float]] = {}
    for method in args.only.split(","):
        out = subprocess.run(
            [sys.executable, __file__, "--method", method, "--edges", str(args.edges), "--nodes", str(args.nodes)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        results[method] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"feature extraction, {args.edges:,} edges, {args.nodes:,} nodes, one thread")
    print(f"{'method':<28}{'edges':>12}{'wall s':>10}{'CPU s':>10}{'edges/CPU s':>14}{'peak MB':>10}")
    label = {"ours": "chainsleuth bulk", "gfp": "snapml GFP (1 thread)", "stream": "chainsleuth streaming"}
    for k, r in results.items():
        if "skipped" in r:
            print(f"{label[k]:<28}{'skipped: snapml not installed':>44}")
            continue
        row = f"{label[k]:<28}{r['edges']:>12,.0f}{r['seconds']:>10.1f}{r['cpu_seconds']:>10.1f}"
        print(row + f"{r['edges_per_cpu_s']:>14,.0f}{r['peak_mb']:>10.0f}")
    if "gfp" in results and "ours" in results and "skipped" not in results["gfp"]:
        ratio = results["ours"]["edges_per_cpu_s"] / results["gfp"]["edges_per_cpu_s"]
        print(f"throughput ratio (edges per CPU second) chainsleuth bulk / GFP: {ratio:.2f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
