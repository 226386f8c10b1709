"""Benchmark of the world simulator: generation time and peak memory at 1M and 10M transfers.

Each size is generated in a fresh subprocess (so its peak RSS is its own, read with ``os.wait4``) and compared
with two baselines measured in the same run on the same number of rows:

* ``pyarrow floor``: writing that many flat transfer rows (hash, from, to, value, block, time) to Parquet with
  pyarrow in one go -- the unavoidable I/O cost of a table that size, with no simulation at all;
* ``naive json``: a pure-Python loop writing that many flat transfer dicts as JSON lines.

The ratios (CPU time over CPU time, robust on a shared machine) say how much a coherent, invariant-checked
world costs over merely writing rows of the same count; wall time is shown too.

Usage: ``python benchmarks/bench_world.py [--sizes 1m,10m] [--seed 1] [--keep DIR]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from chainsleuth.world.config import parse_size

CHILD = """
import json, sys, time
from pathlib import Path
from chainsleuth.world import WorldConfig, generate_world
config = WorldConfig.from_size(sys.argv[1], seed=int(sys.argv[2]))
started = time.perf_counter()
manifest = generate_world(config, Path(sys.argv[3]))
print(json.dumps({"seconds": time.perf_counter() - started, "transfers": manifest.transfers,
                  "ledger_events": manifest.row_counts["ledger_events"],
                  "customers": manifest.row_counts["customers"]}))
"""


def run_generation(size: str, seed: int, out: Path) -> dict[str, float]:
    """Generate one world in a child process; returns its timings, counts and peak RSS (MiB)."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD, size, str(seed), str(out)], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"generation of {size} failed with exit code {proc.returncode}")
    result: dict[str, float] = json.loads(output)
    result["peak_rss_mib"] = usage.ru_maxrss / 1024  # Linux reports KiB
    result["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    result["bytes"] = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return result


def pyarrow_floor(rows: int, out: Path) -> float:
    """CPU seconds to write ``rows`` flat random transfer rows to Parquet with pyarrow (no simulation)."""
    rng = np.random.default_rng(0)
    started = time.process_time()
    step = 1_000_000
    writer = None
    for lo in range(0, rows, step):
        n = min(step, rows - lo)
        hexes = rng.bytes(32 * n).hex()
        table = pa.table(
            {
                "hash": pa.array([hexes[i * 64 : (i + 1) * 64] for i in range(n)]),
                "from_address": pa.array(rng.integers(0, 2**63, n).astype(str)),
                "to_address": pa.array(rng.integers(0, 2**63, n).astype(str)),
                "value": pa.array(rng.integers(0, 2**40, n)),
                "block_number": pa.array(np.arange(lo, lo + n) // 100),
                "timestamp": pa.array(np.arange(lo, lo + n) * 12),
            }
        )
        if writer is None:
            writer = pq.ParquetWriter(str(out), table.schema, compression="zstd")
        writer.write_table(table)
    if writer is not None:
        writer.close()
    return time.process_time() - started


def naive_json(rows: int, out: Path) -> float:
    """CPU seconds for a pure-Python loop to write ``rows`` flat transfer dicts as JSON lines."""
    started = time.process_time()
    with out.open("w", encoding="utf-8") as fh:
        for i in range(rows):
            fh.write(
                json.dumps(
                    {
                        "hash": f"{i:064x}",
                        "from_address": f"0x{i * 7:040x}",
                        "to_address": f"0x{i * 13:040x}",
                        "value": i * 1_000,
                        "block_number": i // 100,
                        "timestamp": i * 12,
                    }
                )
                + "\n"
            )
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1m", help="comma-separated sizes (presets or numbers), e.g. 1m,10m")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, default=None, help="keep the generated worlds under this directory")
    args = parser.parse_args()
    rows = []
    for size in [s.strip() for s in args.sizes.split(",") if s.strip()]:
        parse_size(size)
        with tempfile.TemporaryDirectory(prefix="bench-world-") as tmp:
            base = args.keep or Path(tmp)
            out = base / f"world-{size}"
            if out.exists():
                shutil.rmtree(out)
            result = run_generation(size, args.seed, out)
            n = int(result["transfers"])
            floor = pyarrow_floor(n, Path(tmp) / "floor.parquet")
            naive = naive_json(n, Path(tmp) / "naive.jsonl")
        rows.append((size, result, floor, naive))
        print(json.dumps({"size": size, **result, "pyarrow_floor_s": floor, "naive_json_s": naive}), flush=True)
    header = (
        "size",
        "transfers",
        "ledger events",
        "output",
        "wall",
        "CPU",
        "transfers per CPU s",
        "peak RSS",
        "pyarrow floor (CPU)",
        "ratio",
        "naive json (CPU)",
        "ratio",
    )
    print()
    print(" | ".join(header))
    print(" | ".join("-" * len(h) for h in header))
    for size, r, floor, naive in rows:
        cpu = r["cpu_seconds"]
        cells = (
            size,
            f"{int(r['transfers']):,}",
            f"{int(r['ledger_events']):,}",
            f"{r['bytes'] / 2**30:.2f} GiB",
            f"{r['seconds']:,.0f} s",
            f"{cpu:,.0f} s",
            f"{r['transfers'] / cpu:,.0f}",
            f"{r['peak_rss_mib']:,.0f} MiB",
            f"{floor:,.1f} s",
            f"{cpu / floor:,.0f}x",
            f"{naive:,.1f} s",
            f"{cpu / naive:,.1f}x",
        )
        print(" | ".join(cells))


if __name__ == "__main__":
    main()
