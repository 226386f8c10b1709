"""Benchmark of the monitoring engines with the full shipped rule library.

Synthetic events in the exact ledger schema (``ledger_events.parquet`` columns) are generated with numpy/pyarrow:
a mix of event types like a generated world's (half logins), log-normal USD values, one device and deposit
address per customer with a few shared ones, tagged withdrawal destinations so that exposure rules look up tags.

Measured in one run:

* **streaming**: sustained events/s of the streaming engine on one core (pure Python, no DuckDB) over the first
  ``--stream-events`` events, and p50/p99 latency per event;
* **naive baseline**: the same rules and the same compiled expressions, but every window recomputed from the
  key's history at every event (what a straightforward implementation does), on the first ``--naive-events``
  events; the streaming engine is timed on exactly those events too, and the ratio is reported (the hits are
  checked to be identical);
* **batch**: DuckDB over all ``--events`` events (default 10M) from Parquet, in a child process so that its peak
  RSS is its own (``os.wait4``), with its time and events/s, and the ratio to the streaming engine's events/s.

Usage: ``python benchmarks/bench_monitor.py [--events 10m] [--stream-events 200k] [--naive-events 20k]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from chainsleuth.chain.attribution.records import TagRecord
from chainsleuth.monitor.engine.context import EngineContext, RuleHit, make_hit, normalize_event
from chainsleuth.monitor.engine.streaming import StreamingState, scaled
from chainsleuth.monitor.exposure import TagExposureProvider
from chainsleuth.monitor.rules.evaluate import Env, to_python
from chainsleuth.monitor.rules.loader import load_rules
from chainsleuth.monitor.rules.model import RuleSet

START_US = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1_000_000)
DAYS = 120
TYPES = np.array(["login", "fiat_deposit", "trade", "deposit", "withdrawal", "fiat_withdrawal",
                  "internal_transfer", "credential_change"])  # fmt: skip
TYPE_P = np.array([0.49, 0.18, 0.12, 0.09, 0.065, 0.03, 0.02, 0.005])
COUNTRIES = np.array(["DE", "US", "GB", "FR", "NL", "NG", "VN", "BR", "IN", "TR"])


def parse_count(text: str) -> int:
    text = text.lower().replace("_", "")
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("km")) * factor)


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    digits = pc.utf8_lpad(pa.array(numbers).cast(pa.large_string()), width, "0")
    large = pa.large_string()
    return pc.binary_join_element_wise(pa.scalar(prefix, large), digits, pa.scalar("", large))


def _where(mask: np.ndarray, values: pa.Array) -> pa.Array:
    return pc.if_else(pa.array(mask), values, pa.scalar(None, values.type))


def customers_for(events: int) -> int:
    """40 events per customer over the 120 days whatever the size: the same per-key density (window occupancy)
    in the small streaming sample as in the 10M batch set."""
    return max(100, events // 40)


def generate(n: int, seed: int = 1) -> pa.Table:
    """``n`` events in the ledger schema, in time order."""
    rng = np.random.default_rng(seed)
    customers = customers_for(n)
    ts = np.sort(rng.integers(START_US, START_US + DAYS * 86_400_000_000, n))
    kinds = rng.choice(len(TYPES), n, p=TYPE_P)
    kind_names = pa.array(TYPES[kinds])
    # Skewed activity: 20% of the events come from the 1% most active customers.
    who = np.where(rng.random(n) < 0.2, rng.integers(0, max(1, customers // 100), n), rng.integers(0, customers, n))
    money = (kinds >= 1) & (kinds <= 6)
    usd = np.round(rng.lognormal(7.0, 1.6, n), 2)
    onchain = (kinds == 3) | (kinds == 4)
    login = kinds == 0
    device = np.where(rng.random(n) < 0.001, rng.integers(0, 50, n), who)  # 0.1% of logins on 50 shared devices
    dest = rng.integers(0, customers * 5, n)
    address = np.where(kinds == 3, who, customers + dest)
    assets = np.array(["BTC", "ETH", "USDT", "USD"])[rng.integers(0, 4, n)]
    null_str = pa.nulls(n, pa.string())
    columns: dict[str, pa.Array] = {
        "event_id": _ids("E", np.arange(1, n + 1), 10),
        "event_type": kind_names,
        "timestamp": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "customer_id": _ids("C", who, 7),
        "account_id": _ids("A", who, 7),
        "asset": _where(money, pa.array(assets)),
        "amount": _where(money, pa.array(usd / 1000.0)),
        "usd_value": _where(money, pa.array(usd)),
        "chain": _where(onchain, pa.array(np.where(rng.random(n) < 0.5, "bitcoin", "ethereum"))),
        "tx_hash": _where(onchain, _ids("0x", np.arange(n), 64)),
        "address": _where(onchain, _ids("addr", address, 9)),
        "counterparty_customer_id": _where(kinds == 6, _ids("C", (who + 1) % customers, 7)),
        "counterparty_account_id": _where(kinds == 6, _ids("A", (who + 1) % customers, 7)),
        "side": _where(kinds == 2, pa.array(np.where(rng.random(n) < 0.5, "buy", "sell"))),
        "quote_asset": _where(kinds == 2, pa.array(np.full(n, "USD"))),
        "quote_amount": _where(kinds == 2, pa.array(usd)),
        "price": _where(kinds == 2, pa.array(np.full(n, 1000.0))),
        "bank_reference": null_str,
        "ip": _where(login, _ids("10.", device, 8)),
        "device_id": _where(login, _ids("D", device, 8)),
        "user_agent": null_str,
        # Logins come from the customer's country of residence, 2% from anywhere.
        "ip_country": _where(
            login,
            pa.array(
                np.where(
                    rng.random(n) < 0.02,
                    COUNTRIES[rng.integers(0, len(COUNTRIES), n)],
                    COUNTRIES[(who * 7) % len(COUNTRIES)],
                )
            ),
        ),
        "success": _where(login, pa.array(rng.random(n) < 0.97)),
        "change_type": _where(kinds == 7, pa.array(np.full(n, "email"))),
    }
    return pa.table(columns)


def context_for(events: int, seed: int = 1) -> EngineContext:
    """Profiles of the synthetic customers and tags on 0.5% of withdrawal destinations."""
    rng = np.random.default_rng(seed + 1)
    count = customers_for(events)
    created = START_US - rng.integers(0, 800, count) * 86_400_000_000
    customers = [
        {"customer_id": f"C{i:07d}", "created_at": int(created[i]), "nationality": str(COUNTRIES[i % 10]),
         "country_of_residence": str(COUNTRIES[(i * 7) % 10]), "occupation": "employee",
         # the 1% most active customers are businesses with a large declared income
         "declared_annual_income_usd": 5_000_000 if i < max(1, count // 100) else int(rng.integers(9_000, 200_000)),
         "source_of_funds": "salary",
         "risk_rating": "low", "kyc_level": 2, "status": "active"}
        for i in range(count)
    ]  # fmt: skip
    accounts = [{"account_id": f"A{i:07d}", "account_type": "spot", "opened_at": int(created[i]),
                 "status": "active"} for i in range(count)]  # fmt: skip
    categories = ["sanction", "mixing_service", "market", "ransomware", "scam", "hacking"]
    tags = []
    for k, dest in enumerate(rng.choice(count * 5, max(10, count * 5 // 200), replace=False)):
        for network in ("bitcoin", "ethereum"):
            tags.append(
                TagRecord(network=network, label="synthetic", source="bench", confidence="authority_data",
                          confidence_level=100, creator="bench", origin="tagpack",
                          address=f"addr{count + int(dest):09d}", category=categories[k % 6])
            )  # fmt: skip
    return EngineContext.from_rows(customers, accounts, TagExposureProvider.from_records(tags))


class NaiveState:
    """Baseline: every window recomputed from the key's full history at every event (same expressions)."""

    def __init__(self, rules: RuleSet, context: EngineContext) -> None:
        self.rules, self.context = rules, context
        self.specs = [
            (key, spec, to_python(spec.value) if spec.value else None, to_python(spec.where) if spec.where else None)
            for key, spec in rules.aggregates().items()
        ]
        self.history: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def process(self, raw: Mapping[str, Any]) -> list[RuleHit]:
        event = normalize_event(raw)
        ts = event["timestamp"]
        results: dict[str, Any] = {}
        for key, spec, value_fn, where_fn in self.specs:
            group = event.get(spec.key_field)
            if group is None:
                results[key] = None
                continue
            history = self.history.setdefault((key, group), [])
            history.append(event)
            low = ts - spec.window_seconds * 1_000_000
            values = []
            for past in history:
                if past["timestamp"] < low or (past["timestamp"] == ts and past is not event):
                    continue
                env = Env(past, None, None, {})
                if where_fn is not None and where_fn(env) is not True:
                    continue
                value = value_fn(env) if value_fn is not None else 1.0
                if value is not None:
                    values.append(value)
            results[key] = _aggregate(spec.func, values)
        hits = []
        customer = self.context.customers.get(event["customer_id"])
        account = self.context.accounts.get(event["account_id"])
        env = Env(event, customer, account, results, self.context.lookup)
        for rule in self.rules:
            if event["event_type"] in rule.scope:
                hit = make_hit(rule, env)
                if hit is not None:
                    hits.append(hit)
        return hits


def _aggregate(func: str, values: list[Any]) -> Any:
    if func == "count":
        return float(len(values))
    if func == "distinct_count":
        return float(len(set(values)))
    if func in ("sum", "avg"):
        total = sum(scaled(value) for value in values)
        if func == "sum":
            return total / 1_000_000
        return (total / 1_000_000) / len(values) if values else None
    if not values:
        return None
    return max(values) if func == "max" else min(values)


def time_stream(events: list[dict[str, Any]], rules: RuleSet, ctx: EngineContext) -> dict[str, Any]:
    state = StreamingState(rules, ctx)
    latencies = np.empty(len(events), dtype=np.int64)
    cpu = np.empty(len(events), dtype=np.int64)
    hits: list[RuleHit] = []
    clock, cpu_clock = time.perf_counter_ns, time.thread_time_ns
    started, cpu_started = time.perf_counter(), time.thread_time()
    for index, event in enumerate(events):
        before, cpu_before = clock(), cpu_clock()
        hits.extend(state.process(event))
        latencies[index] = clock() - before
        cpu[index] = cpu_clock() - cpu_before
    seconds, cpu_seconds = time.perf_counter() - started, time.thread_time() - cpu_started
    # Wall-clock percentiles include the machine's other load (preemption); CPU-time percentiles do not.
    return {"seconds": seconds, "events_per_s": len(events) / seconds, "cpu_events_per_s": len(events) / cpu_seconds,
            "hits": hits, "p50_us": float(np.percentile(latencies, 50)) / 1000,
            "p99_us": float(np.percentile(latencies, 99)) / 1000, "cpu_p50_us": float(np.percentile(cpu, 50)) / 1000,
            "cpu_p99_us": float(np.percentile(cpu, 99)) / 1000, "windows": state.window_count()}  # fmt: skip


def time_naive(events: list[dict[str, Any]], rules: RuleSet, ctx: EngineContext) -> dict[str, Any]:
    state = NaiveState(rules, ctx)
    hits: list[RuleHit] = []
    started = time.perf_counter()
    for event in events:
        hits.extend(state.process(event))
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "events_per_s": len(events) / seconds, "hits": hits}


CHILD = """
import json, sys, time
sys.path.insert(0, sys.argv[4])
import bench_monitor as bench
from chainsleuth.monitor.engine.batch import run_batch
from chainsleuth.monitor.rules.loader import load_rules
ctx = bench.context_for(int(sys.argv[2]))
started = time.perf_counter()
result = run_batch(sys.argv[1], load_rules(), ctx, threads=int(sys.argv[3]))
print(json.dumps({"seconds": time.perf_counter() - started, "events": result.events, "hits": len(result.hits),
                  "disagreements": result.disagreements, "per_rule": result.seconds_per_rule}))
"""


def time_batch(path: Path, events: int, threads: int) -> dict[str, Any]:
    here = str(Path(__file__).resolve().parent)
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(events), str(threads), here],
                            stdout=subprocess.PIPE)  # fmt: skip
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("batch child failed")
    result: dict[str, Any] = json.loads(output.decode().strip().splitlines()[-1])
    result["peak_rss_mib"] = usage.ru_maxrss / 1024
    result["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", default="10m")
    parser.add_argument("--stream-events", default="200k")
    parser.add_argument("--naive-events", default="20k")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    total, streamed, naive = (parse_count(args.events), parse_count(args.stream_events),
                              parse_count(args.naive_events))  # fmt: skip
    rules = load_rules()
    with tempfile.TemporaryDirectory(prefix="bench-monitor-") as tmp:
        path = Path(tmp) / "ledger_events.parquet"
        started = time.perf_counter()
        table = generate(total, args.seed)
        pq.write_table(table, path, row_group_size=1_000_000)
        generated = time.perf_counter() - started
        print(f"generated {total:,} events ({path.stat().st_size / 2**20:,.0f} MiB Parquet) in {generated:.1f} s")
        del table
        # The streaming sample is its own data set spanning the same 120 days with the same events per customer,
        # so its windows are as full as the big set's (the first N rows of the big set would span hours).
        stream_table = generate(streamed, args.seed)
        sample = stream_table.to_pylist()
        naive_sample = generate(naive, args.seed).to_pylist()
        stream = time_stream(sample, rules, context_for(streamed, args.seed))
        print(f"streaming: {stream['events_per_s']:,.0f} events/s", flush=True)
        naive_ctx = context_for(naive, args.seed)
        stream_small = time_stream(naive_sample, rules, naive_ctx)
        baseline = time_naive(naive_sample, rules, naive_ctx)
        print(f"naive baseline: {baseline['events_per_s']:,.0f} events/s", flush=True)
        same = [h.as_dict() for h in stream_small["hits"]] == [h.as_dict() for h in baseline["hits"]]
        batch = time_batch(path, total, args.threads)
    rows = [
        ("streaming, full library, 1 core", f"{streamed:,}", f"{stream['events_per_s']:,.0f}",
         f"wall p50 {stream['p50_us']:.0f} µs p99 {stream['p99_us']:.0f} µs; CPU {stream['cpu_events_per_s']:,.0f}/s, "
         f"p50 {stream['cpu_p50_us']:.0f} µs p99 {stream['cpu_p99_us']:.0f} µs; {len(stream['hits']):,} hits"),
        ("naive recompute-per-event baseline", f"{naive:,}", f"{baseline['events_per_s']:,.0f}",
         f"streaming on the same events: {stream_small['events_per_s']:,.0f}/s = "
         f"{stream_small['events_per_s'] / baseline['events_per_s']:.1f}x; identical hits: {same}"),
        (f"batch (DuckDB, {args.threads} threads)", f"{batch['events']:,}",
         f"{batch['events'] / batch['seconds']:,.0f}",
         f"{batch['seconds']:.1f} s, peak RSS {batch['peak_rss_mib']:,.0f} MiB, {batch['hits']:,} hits, "
         f"{batch['events'] / batch['seconds'] / stream['events_per_s']:.1f}x streaming's events/s"),
    ]  # fmt: skip
    print(f"\n{'engine':40} {'events':>12} {'events/s':>10}  notes")
    for name, count, rate, notes in rows:
        print(f"{name:40} {count:>12} {rate:>10}  {notes}")
    slowest = sorted(batch["per_rule"].items(), key=lambda item: -item[1])[:5]
    print("slowest batch rules: " + ", ".join(f"{name} {sec:.1f} s" for name, sec in slowest))
    if not same:
        raise SystemExit("the naive baseline and the streaming engine disagree")


if __name__ == "__main__":
    main()
