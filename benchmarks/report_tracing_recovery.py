"""Ground-truth report: how much of each traceable story's value tracing delivers to the right accounts.

For a generated world (any size), ingested into a chain store: the phone theft is traced forward from the
victim's address under each policy, the hack from the tagged loot address; traces stop at tagged services and
at our own deposit addresses (each one a customer's account). The table compares the USD found at each
incident's ``terminal_accounts`` (ground truth) with what ground truth credits there, shows what reached
other accounts of ours (false attributions) and the services where traces stopped.

Run: ``python benchmarks/report_tracing_recovery.py --world DIR [--store DIR]`` (the world is ingested into the
store first, a temporary one by default; re-ingesting a store that holds it already adds nothing).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from chainsleuth.chain.attribution import resolve_to_clusters
from chainsleuth.chain.attribution.tagpack import parse_tagpack
from chainsleuth.chain.tracing import (
    Policy,
    PriceTable,
    StopEntity,
    StoreResolver,
    TraceResult,
    load_flow_graph,
    resolve_source,
    stops_from_addresses,
    stops_from_attributions,
    trace,
)
from chainsleuth.ingest.etl import ingest_world_chains
from chainsleuth.store.chainstore import ChainStore


def usd_of(result: TraceResult, accounts: set[str]) -> float:
    return sum(t.amount_usd or 0.0 for t in result.terminals if t.entity in accounts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world", type=Path, required=True)
    parser.add_argument("--store", type=Path, default=None)
    parser.add_argument("--hops", type=int, default=10)
    args = parser.parse_args()
    world: Path = args.world
    store_dir = args.store or Path(tempfile.mkdtemp(prefix="trace-report-")) / "store"
    store = ChainStore(store_dir)
    started = time.perf_counter()
    ingest_world_chains(world, store)  # idempotent: a store that already holds the world gains nothing
    ingested = time.perf_counter()
    graph = load_flow_graph(store)
    loaded = time.perf_counter()
    tags = [t for p in sorted((world / "tagpacks").glob("*.yaml")) for t in parse_tagpack(p).tags]
    services = stops_from_attributions(graph, store, resolve_to_clusters(tags, {}))
    deposits = pq.read_table(world / "exchange" / "deposit_addresses.parquet").to_pylist()
    ours = stops_from_addresses(
        graph,
        store,
        [(r["chain"], r["address"], StopEntity(r["account_id"], r["customer_id"], "exchange")) for r in deposits],
    )
    stops = ours.merged(services)
    our_accounts = {e.key for e in ours.entities}
    prices = PriceTable.read(world / "prices.csv")
    incidents = [json.loads(line) for line in (world / "ground_truth" / "incidents.jsonl").read_text().splitlines()]
    resolver = StoreResolver(store)
    rows: list[tuple[Any, ...]] = []
    for incident in incidents:
        if incident["typology"] == "phone_theft":
            policies: tuple[Policy, ...] = ("haircut", "fifo", "poison")
            starts: list[tuple[str, Policy]] = [(incident["details"]["victim_address"], p) for p in policies]
        elif incident["typology"] == "hack_laundering":
            loot = next(t.address for t in tags if t.abuse == "hacking" and t.network == "bitcoin" and t.address)
            starts = [(loot, "haircut")]
        else:
            continue
        expected = {a["account_id"]: float(a["amount_usd"]) for a in incident["terminal_accounts"]}
        for address, policy in starts:
            source = resolve_source(graph, store, "bitcoin", address, "forward")
            result = trace(
                graph,
                source,
                policy=policy,
                hops=args.hops,
                stops=stops,
                max_terminals=None,
                top_k=1,
                resolver=resolver,
                prices=prices,
            )
            found = {a: usd_of(result, {a}) for a in expected}
            recovered = sum(min(found[a], v) for a, v in expected.items())
            others = usd_of(result, our_accounts - set(expected))
            at_services = sorted(
                (
                    (t.label or t.entity, t.share)
                    for t in result.terminals
                    if t.reason == "service" and t.entity not in our_accounts
                ),
                key=lambda x: -x[1],
            )[:3]
            rows.append(
                (
                    incident["incident_id"],
                    incident["typology"],
                    policy,
                    f"{incident['amount_usd']:,.0f}",
                    f"{sum(expected.values()):,.0f}",
                    f"{recovered:,.0f}",
                    f"{recovered / sum(expected.values()):.1%}" if expected else "-",
                    f"{others:,.0f}",
                    ", ".join(f"{name} {share:.0%}" for name, share in at_services),
                    f"{result.elapsed_ms:.0f}",
                )
            )
    header = (
        "incident",
        "typology",
        "policy",
        "stolen USD",
        "truth at accounts USD",
        "found there USD",
        "recovery",
        "at other accounts",
        "stopped at services",
        "ms",
    )
    print(
        f"world {world} ({graph.n_edges:,} edges; ingest {ingested - started:.1f} s, graph {loaded - ingested:.1f} s)"
    )
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
