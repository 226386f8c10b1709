"""Benchmark of the distributed path: multi-input clustering on Apache Spark versus the local numpy engine.

The same synthetic UTXO inputs and outputs as ``bench_clustering.py`` (wallets of geometric size, 1% CoinJoins)
are written as Parquet in the chain store's ``inputs`` / ``outputs`` layout. Both engines then cluster them from
those files, CoinJoin detection included, and the mappings are checked equal:

* local: pyarrow read → :class:`UtxoView` → ``utxo_edges`` → ``apply_edges`` (what ``cluster_chain`` does);
* Spark: ``multi_input_from_parquet`` on a ``local[N]`` master (start-up timed apart).

On one machine Spark is expected to be slower: it exists for chains whose inputs do not fit in one machine's
memory, where it scales out and the local engine cannot run at all. The ratio says what that insurance costs.

Run: ``python benchmarks/bench_spark_clustering.py --transfers 1e6 1e7`` (needs the ``[spark]`` extra and Java).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from bench_clustering import synthetic
from chainsleuth.chain.clustering.engine import utxo_edges
from chainsleuth.chain.clustering.kernel import apply_edges
from chainsleuth.chain.clustering.spark import multi_input_from_parquet, spark_session
from chainsleuth.chain.clustering.view import UtxoView

TXS_PER_BLOCK = 500


def write_parts(arrays: dict[str, Any], directory: Path, parts: int = 8) -> tuple[list[str], list[str]]:
    """Write inputs and outputs as ``parts`` Parquet files each, split by transaction id like the store's parts."""
    directory.mkdir(parents=True, exist_ok=True)
    n_tx = int(arrays["in_tx"].max()) + 1
    bounds = np.linspace(0, n_tx, parts + 1).astype(np.int64)
    files: dict[str, list[str]] = {"inputs": [], "outputs": []}
    for kind, prefix in (("inputs", "in"), ("outputs", "out")):
        tx = arrays[f"{prefix}_tx"]
        for part in range(parts):
            lo, hi = np.searchsorted(tx, bounds[part]), np.searchsorted(tx, bounds[part + 1])
            table = pa.table(
                {
                    "tx_id": tx[lo:hi],
                    "block_number": tx[lo:hi] // TXS_PER_BLOCK,
                    "address_id": arrays[f"{prefix}_address"][lo:hi],
                    "value": arrays[f"{prefix}_value"][lo:hi],
                }
            )
            path = directory / f"{kind}-{part:03d}.parquet"
            pq.write_table(table, path, compression="zstd")
            files[kind].append(str(path))
    return files["inputs"], files["outputs"]


def local_engine(input_files: list[str], output_files: list[str], n_addresses: int) -> np.ndarray[Any, Any]:
    inputs = pq.read_table(input_files, columns=["tx_id", "address_id", "value"])
    outputs = pq.read_table(output_files, columns=["tx_id", "address_id", "value"])
    view = UtxoView.from_arrays(
        in_tx=inputs.column("tx_id").to_numpy(),
        in_address=inputs.column("address_id").to_numpy(),
        in_value=inputs.column("value").to_numpy(),
        out_tx=outputs.column("tx_id").to_numpy(),
        out_address=outputs.column("address_id").to_numpy(),
        out_value=outputs.column("value").to_numpy(),
        n_addresses=n_addresses,
    )
    edges = utxo_edges(view)
    return apply_edges(None, n_addresses, edges.src, edges.dst)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transfers", type=float, nargs="*", default=[1e6, 1e7])
    parser.add_argument("--master", default="local[2]", help="Spark master URL")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench-spark-"))
    table = Table(title=f"multi-input clustering: Spark ({args.master}) vs local numpy engine, same Parquet files")
    for column in (
        "inputs",
        "addresses",
        "local (wall)",
        "Spark job (wall)",
        "ratio",
        "rounds",
        "CoinJoins",
        "equal",
    ):
        table.add_column(column, justify="right")
    try:
        started = time.perf_counter()
        with spark_session(args.master, scratch=workdir) as spark:
            start_up = time.perf_counter() - started
            for transfers in args.transfers:
                arrays, n_addresses = synthetic(int(transfers))
                input_files, output_files = write_parts(arrays, workdir / f"data-{int(transfers)}")
                started = time.perf_counter()
                local = local_engine(input_files, output_files, n_addresses)
                local_wall = time.perf_counter() - started
                started = time.perf_counter()
                result = multi_input_from_parquet(
                    spark, input_files, output_files, n_addresses=n_addresses, scratch=workdir
                )
                spark_wall = time.perf_counter() - started
                table.add_row(
                    f"{len(arrays['in_tx']):,}",
                    f"{n_addresses:,}",
                    f"{local_wall:.1f} s",
                    f"{spark_wall:.1f} s",
                    f"{spark_wall / local_wall:.1f}×",
                    str(result.rounds),
                    f"{result.counts['coinjoins']:,}",
                    "yes" if np.array_equal(local, result.cluster_of) else "NO",
                )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    Console(width=160).print(table)
    print(f"Spark session start-up (not in the job times): {start_up:.1f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the driver process: {peak:,.0f} MiB (Spark's JVM is a separate process)")


if __name__ == "__main__":
    main()
