"""A generated world ingested into a chain store, with its flow graph and stop sets (shared by tests)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from chainsleuth.chain.attribution import resolve_to_clusters
from chainsleuth.chain.attribution.tagpack import parse_tagpack
from chainsleuth.chain.tracing import (
    FlowGraph,
    StopEntity,
    StopSet,
    load_flow_graph,
    stops_from_addresses,
    stops_from_attributions,
)
from chainsleuth.ingest.etl import ingest_world_chains
from chainsleuth.store.chainstore import ChainStore


@dataclass
class LoadedWorld:
    world: Path
    store: ChainStore
    graph: FlowGraph
    services: StopSet
    tagged: StopSet
    ours: StopSet
    incidents: list[dict[str, Any]]

    @property
    def stops(self) -> StopSet:
        """Our own deposit addresses (each one a customer's account) first, then every tagged service."""
        return self.ours.merged(self.services)

    def incident(self, typology: str) -> dict[str, Any]:
        return next(i for i in self.incidents if i["typology"] == typology)


def load_world(world: Path, store_dir: Path) -> LoadedWorld:
    store = ChainStore(store_dir)
    ingest_world_chains(world, store)
    graph = load_flow_graph(store)
    tags = [t for p in sorted((world / "tagpacks").glob("*.yaml")) for t in parse_tagpack(p).tags]
    attributions = resolve_to_clusters(tags, {})
    deposits = pq.read_table(world / "exchange" / "deposit_addresses.parquet").to_pylist()
    ours = stops_from_addresses(
        graph,
        store,
        [
            (r["chain"], r["address"], StopEntity(r["account_id"], f"our customer {r['customer_id']}", "exchange"))
            for r in deposits
        ],
    )
    incidents = [json.loads(line) for line in (world / "ground_truth" / "incidents.jsonl").read_text().splitlines()]
    return LoadedWorld(
        world=world,
        store=store,
        graph=graph,
        services=stops_from_attributions(graph, store, attributions),
        tagged=stops_from_attributions(graph, store, attributions, only_services=False),
        ours=ours,
        incidents=incidents,
    )
