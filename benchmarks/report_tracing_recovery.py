"""Ground-truth report: how much of each traceable story's value tracing delivers to the right accounts.

For a generated world (any size, 10M transfers included), ingested into a chain store, every incident with
ground-truth terminal accounts is traced forward under each policy:

* phone theft: from the victim's address;
* hack: from the loot address(es), the hacking-tagged addresses that ground truth gives to the perpetrator;
* ransomware: from the per-victim payment addresses (ransomware-tagged, owned by the operator), together.

Traces stop at tagged services and at our own deposit addresses (each one a customer's account). The table
compares the USD found at each incident's ``terminal_accounts`` (ground truth) with what ground truth credits
there, shows what reached other accounts of ours (false attributions), where the rest stopped, and whether
the shares add up (terminals + dropped = 1).

Run: ``python benchmarks/report_tracing_recovery.py --world DIR [--store DIR] [--no-ingest]``. Without
``--store`` the world is ingested into a temporary store; with ``--no-ingest`` a store that already holds the
world (``chainsleuth ingest chains``) is used as it is, which at 10M transfers saves the re-check.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from chainsleuth.chain.attribution import TagRecord, resolve_to_clusters
from chainsleuth.chain.attribution.tagpack import parse_tagpack
from chainsleuth.chain.tracing import (
    POLICIES,
    FlowGraph,
    PriceTable,
    Source,
    StopEntity,
    StoreResolver,
    TraceResult,
    address_source,
    load_flow_graph,
    resolve_source,
    stops_from_addresses,
    stops_from_attributions,
    trace,
)
from chainsleuth.ingest.etl import ingest_world_chains
from chainsleuth.store.chainstore import ChainStore

#: Typology → the tag abuse that marks its perpetrator's source addresses.
SOURCE_ABUSE = {"hack_laundering": "hacking", "ransomware": "ransomware"}
NETWORKS = {"BTC": "bitcoin", "ETH": "ethereum"}


def usd_of(result: TraceResult, accounts: set[str]) -> float:
    return sum(t.amount_usd or 0.0 for t in result.terminals if t.entity in accounts)


def owners(world: Path, entity_ids: set[str]) -> set[tuple[str, str]]:
    """(chain, address) of every address ground truth gives to ``entity_ids`` (streamed: 10M worlds have
    millions of rows)."""
    found: set[tuple[str, str]] = set()
    reader = pacsv.open_csv(world / "ground_truth" / "address_owners.csv")
    for batch in reader:
        entity = batch.column("entity_id").to_numpy(zero_copy_only=False)
        hit = np.flatnonzero(np.isin(entity, list(entity_ids)))
        if len(hit):
            chains = batch.column("chain").to_numpy(zero_copy_only=False)[hit]
            addresses = batch.column("address").to_numpy(zero_copy_only=False)[hit]
            found.update(zip(chains.tolist(), addresses.tolist(), strict=True))
    return found


def combined(sources: Sequence[Source], label: str) -> Source:
    """Several addresses' value traced as one (the same asset), each edge once."""
    edges, first = np.unique(np.concatenate([s.edges for s in sources]), return_index=True)
    taint = np.concatenate([s.taint for s in sources])[first]
    return Source(edges, taint, sources[0].first_hop, label, sources[0].asset)


def incident_source(
    graph: FlowGraph, store: ChainStore, world: Path, incident: dict[str, Any], tags: list[TagRecord]
) -> Source | None:
    """Where the story's value starts, from ground truth (see the module docstring)."""
    typology = incident["typology"]
    if typology == "phone_theft":
        return resolve_source(graph, store, "bitcoin", incident["details"]["victim_address"], "forward")
    abuse = SOURCE_ABUSE.get(typology)
    if abuse is None:
        return None
    theirs = owners(world, set(incident["perpetrator_entity_ids"]))
    picked = sorted(
        (NETWORKS.get(t.network.upper(), t.network), t.address)
        for t in tags
        if t.abuse == abuse and t.address and (NETWORKS.get(t.network.upper(), t.network), t.address) in theirs
    )
    sources: list[Source] = []
    for chain, address in picked:
        if chain != "bitcoin":  # the stories start on bitcoin; the bridge takes them to ethereum
            continue
        local = store.address_id(chain, address)
        if local is not None:
            sources.append(address_source(graph, chain, local, "forward", label=address))
    return combined(sources, f"{incident['incident_id']} {abuse} addresses") if sources else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world", type=Path, required=True, help="The generated world (ground truth, tags).")
    parser.add_argument("--store", type=Path, default=None, help="Chain store (default: a temporary one).")
    parser.add_argument("--no-ingest", action="store_true", help="The store already holds the world.")
    parser.add_argument("--hops", type=int, default=10)
    args = parser.parse_args()
    world: Path = args.world
    if args.no_ingest and args.store is None:
        parser.error("--no-ingest needs --store")
    store_dir = args.store or Path(tempfile.mkdtemp(prefix="trace-report-")) / "store"
    store = ChainStore(store_dir)
    started = time.perf_counter()
    if not args.no_ingest:
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
        expected = {a["account_id"]: float(a["amount_usd"]) for a in incident.get("terminal_accounts") or []}
        if not expected:
            continue
        source = incident_source(graph, store, world, incident, tags)
        if source is None:
            continue
        for policy in POLICIES:
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
            covered = sum(t.share for t in result.terminals) + result.dropped_share
            rows.append(
                (
                    incident["incident_id"],
                    incident["typology"],
                    policy,
                    f"{incident['amount_usd']:,.0f}",
                    f"{sum(expected.values()):,.0f}",
                    f"{recovered:,.0f}",
                    f"{recovered / sum(expected.values()):.1%}",
                    f"{others:,.0f}",
                    ", ".join(f"{name} {share:.0%}" for name, share in at_services),
                    f"{covered:.4f}",
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
        "shares sum",
        "ms",
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(
        f"world {world} ({graph.n_edges:,} edges; ingest {ingested - started:.1f} s, graph {loaded - ingested:.1f} s, "
        f"peak memory {peak:.2f} GiB)"
    )
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
