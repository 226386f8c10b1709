"""Benchmark of the columnar chain store: ethereum-etl ingest throughput, memory, size, and edge loading.

Generates a synthetic ethereum-etl export (JSON lines: blocks, transactions, token_transfers, tokens) with
``--transfers`` transfers (half native ETH, half USDT token transfers) in bounded memory, then measures, each
in a
fresh child process so that peak RSS is that phase's own:

* the chain store ingest (``ingest_ethereum_etl``): transfers/s, peak RSS, store size;
* a same-run naive baseline: ``json.loads`` per line, per-row Python lists and dicts, one
  ``pyarrow.Table.from_pylist`` and one Parquet write (on at most ``--baseline-limit`` transfers, because it
  holds everything in memory); the ratio compares throughputs;
* loading the transfer edge arrays into numpy: ``ChainStore.edges`` versus a DuckDB ``SELECT`` of the same
columns.

Run: ``python benchmarks/bench_chainstore.py --transfers 1000000`` (``--transfers 10000000`` for the real
run).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

TXS_PER_BLOCK = 200
USDT = "0x" + "dac17f958d2ee523a2206206994597c13d831ec7"
GENESIS_TS = 1_700_000_000


def generate(directory: Path, transfers: int, seed: int = 7) -> dict[str, int]:
    """Write the synthetic export block by block (memory bounded by one chunk of blocks)."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n_addresses = max(1_000, transfers // 10)
    blocks_out = (directory / "blocks.jsonl").open("w")
    txs_out = (directory / "transactions.jsonl").open("w")
    tts_out = (directory / "token_transfers.jsonl").open("w")
    (directory / "tokens.jsonl").write_text(
        json.dumps({"type": "token", "address": USDT, "symbol": "USDT", "name": "Tether USD", "decimals": 6}) + "\n"
    )
    written = 0
    block = 1_000_000
    chunk_blocks = 250
    while written < transfers:
        count = min(TXS_PER_BLOCK * chunk_blocks, transfers - written)
        senders = rng.integers(0, n_addresses, count)
        receivers = rng.integers(0, n_addresses, count)
        is_token = rng.random(count) < 0.5
        amounts = rng.integers(1, 10**6, count)
        block_lines, tx_lines, tt_lines = [], [], []
        for start in range(0, count, TXS_PER_BLOCK):
            stop = min(start + TXS_PER_BLOCK, count)
            ts = GENESIS_TS + 12 * (block - 1_000_000)
            block_lines.append(
                f'{{"type": "block", "number": {block}, "hash": "0x{block:064x}", "miner": "0x{0:040x}", '
                f'"timestamp": {ts}, "transaction_count": {stop - start}, "gas_used": 21000}}\n'
            )
            for i in range(start, stop):
                tx_hash = f"0x{written + i + 1:064x}"
                sender, receiver = f"0x{int(senders[i]) + 1:040x}", f"0x{int(receivers[i]) + 1:040x}"
                if is_token[i]:
                    value = int(amounts[i]) * 1_000_000
                    data = f"0xa9059cbb{receiver[2:]:0>64}{value:064x}"
                    tx_lines.append(
                        f'{{"type": "transaction", "hash": "{tx_hash}", "nonce": {i}, '
                        f'"transaction_index": {i - start}, '
                        f'"from_address": "{sender}", "to_address": "{USDT}", "value": 0, "gas": 60000, '
                        f'"gas_price": 30000000000, "input": "{data}", "block_timestamp": {ts}, '
                        f'"block_number": {block}, "block_hash": "0x{block:064x}", "receipt_status": 1}}\n'
                    )
                    tt_lines.append(
                        f'{{"type": "token_transfer", "token_address": "{USDT}", "from_address": "{sender}", '
                        f'"to_address": "{receiver}", "value": {value}, "transaction_hash": "{tx_hash}", '
                        f'"log_index": {i - start}, "block_number": {block}, "block_timestamp": {ts}}}\n'
                    )
                else:
                    value = int(amounts[i]) * 10**14
                    tx_lines.append(
                        f'{{"type": "transaction", "hash": "{tx_hash}", "nonce": {i}, '
                        f'"transaction_index": {i - start}, '
                        f'"from_address": "{sender}", "to_address": "{receiver}", '
                        f'"value": {value}, "gas": 21000, '
                        f'"gas_price": 30000000000, "input": "0x", "block_timestamp": {ts}, '
                        f'"block_number": {block}, "block_hash": "0x{block:064x}", "receipt_status": 1}}\n'
                    )
            block += 1
        blocks_out.write("".join(block_lines))
        txs_out.write("".join(tx_lines))
        tts_out.write("".join(tt_lines))
        written += count
    for handle in (blocks_out, txs_out, tts_out):
        handle.close()
    return {"transfers": written, "blocks": block - 1_000_000, "addresses": n_addresses}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    """CPU time of this process (all threads): steadier than wall time on a machine shared with others."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _ingest_child(export: str, store_dir: str, batch_size: int, queue: Any) -> None:
    from chainsleuth.ingest.etl import ingest_ethereum_etl
    from chainsleuth.store.chainstore import ChainStore

    base = Path(export)
    started, cpu_before = time.perf_counter(), _cpu_seconds()
    report = ingest_ethereum_etl(
        base / "blocks.jsonl",
        base / "transactions.jsonl",
        base / "token_transfers.jsonl",
        ChainStore(Path(store_dir)),
        tokens_path=base / "tokens.jsonl",
        batch_size=batch_size,
    )
    queue.put(
        {
            "seconds": time.perf_counter() - started,
            "cpu": _cpu_seconds() - cpu_before,
            "transfers": report.transfers,
            "rss_mb": _peak_rss_mb(),
        }
    )


def _baseline_child(export: str, out_dir: str, limit: int, queue: Any) -> None:
    """The naive approach: json.loads per line, Python rows, one from_pylist (everything in memory)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    base = Path(export)
    started, cpu_before = time.perf_counter(), _cpu_seconds()
    ids: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    tx_ids: dict[str, int] = {}
    with (base / "transactions.jsonl").open() as handle:
        for line in handle:
            tx = json.loads(line)
            tx_id = tx_ids.setdefault(tx["hash"], len(tx_ids))
            if int(tx["value"]) > 0:
                rows.append(
                    {
                        "tx_id": tx_id,
                        "from_id": ids.setdefault(tx["from_address"], len(ids)),
                        "to_id": ids.setdefault(tx["to_address"], len(ids)),
                        "value_coin": int(tx["value"]) / 1e18,
                        "timestamp": tx["block_timestamp"],
                    }
                )
            if len(tx_ids) >= limit:
                break
    with (base / "token_transfers.jsonl").open() as handle:
        for line in handle:
            tt = json.loads(line)
            tx_id = tx_ids.get(tt["transaction_hash"])
            if tx_id is None:
                break
            rows.append(
                {
                    "tx_id": tx_id,
                    "from_id": ids.setdefault(tt["from_address"], len(ids)),
                    "to_id": ids.setdefault(tt["to_address"], len(ids)),
                    "value_coin": int(tt["value"]) / 1e6,
                    "timestamp": tt["block_timestamp"],
                }
            )
    table = pa.Table.from_pylist(rows)
    pq.write_table(table, Path(out_dir) / "baseline.parquet")
    queue.put(
        {
            "seconds": time.perf_counter() - started,
            "cpu": _cpu_seconds() - cpu_before,
            "transfers": len(rows),
            "rss_mb": _peak_rss_mb(),
        }
    )


def _in_child(target: Any, *args: Any) -> dict[str, Any]:
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    result: dict[str, Any] = queue.get()
    process.join()
    if process.exitcode != 0:
        raise SystemExit(f"{target.__name__} failed with exit code {process.exitcode}")
    return result


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _edge_load(store_dir: Path) -> tuple[float, float, int]:
    from chainsleuth.store.chainstore import ChainStore

    store = ChainStore(store_dir)
    best_numpy = best_duckdb = float("inf")
    rows = 0
    for _ in range(3):
        started = time.perf_counter()
        edges = store.edges("ethereum")
        best_numpy = min(best_numpy, time.perf_counter() - started)
        rows = len(edges)
        connection = store.duckdb_connection()
        started = time.perf_counter()
        arrays = connection.sql(
            "SELECT from_id, to_id, value_coin, timestamp, tx_id, asset_id FROM eth_transfers"
        ).fetchnumpy()
        best_duckdb = min(best_duckdb, time.perf_counter() - started)
        assert len(arrays["from_id"]) == rows
        assert np.array_equal(np.asarray(arrays["from_id"]), edges.src_ids)
        connection.close()
    return best_numpy, best_duckdb, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transfers", type=int, default=1_000_000)
    parser.add_argument("--baseline-limit", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=50_000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="Keep the generated export and store.")
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-chainstore-"))
    export, store_dir = workdir / "export", workdir / "store"
    shutil.rmtree(store_dir, ignore_errors=True)
    started = time.perf_counter()
    shape = generate(export, args.transfers)
    generated_in = time.perf_counter() - started
    input_bytes = _dir_size(export)

    ours = _in_child(_ingest_child, str(export), str(store_dir), args.batch_size)
    baseline_dir = workdir / "baseline"
    baseline_dir.mkdir(exist_ok=True)
    naive = _in_child(_baseline_child, str(export), str(baseline_dir), args.baseline_limit)
    numpy_s, duckdb_s, rows = _edge_load(store_dir)

    ours_rate = ours["transfers"] / ours["seconds"]
    naive_rate = naive["transfers"] / naive["seconds"]
    table = Table(title=f"chain store benchmark: {shape['transfers']:,} transfers, {shape['addresses']:,} addresses")
    for column in ("measure", "chain store", "baseline", "ratio"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    table.add_row(
        "ingest throughput (transfers/s)",
        f"{ours_rate:,.0f}",
        f"{naive_rate:,.0f} (naive json.loads, {naive['transfers']:,} transfers)",
        f"{ours_rate / naive_rate:.1f}x",
    )
    ours_cpu_rate = ours["transfers"] / ours["cpu"]
    naive_cpu_rate = naive["transfers"] / naive["cpu"]
    table.add_row(
        "ingest transfers per CPU-second",
        f"{ours_cpu_rate:,.0f}",
        f"{naive_cpu_rate:,.0f}",
        f"{ours_cpu_rate / naive_cpu_rate:.1f}x",
    )
    table.add_row("ingest wall time (s)", f"{ours['seconds']:.1f}", f"{naive['seconds']:.1f}", "")
    table.add_row("peak RSS (MB)", f"{ours['rss_mb']:,.0f}", f"{naive['rss_mb']:,.0f}", "")
    table.add_row(
        "store size on disk (MB)",
        f"{_dir_size(store_dir) / 1e6:,.0f}",
        f"input JSONL {input_bytes / 1e6:,.0f}",
        f"{input_bytes / max(1, _dir_size(store_dir)):.1f}x smaller",
    )
    table.add_row(
        f"load {rows:,} edges into numpy (s)",
        f"{numpy_s:.3f} (ChainStore.edges)",
        f"{duckdb_s:.3f} (DuckDB SELECT)",
        f"{duckdb_s / numpy_s:.1f}x",
    )
    Console(width=130).print(table)
    Console().print(f"generated the export in {generated_in:.0f} s; workdir {workdir}")
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
