"""A tiny generated world, ingested into chain stores: whole, and in two increments."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from chainsleuth.ingest.etl import ingest_bitcoin_etl, ingest_world_chains
from chainsleuth.store.chainstore import ChainStore
from chainsleuth.world.config import WorldConfig
from chainsleuth.world.generator import generate_world


@dataclass(frozen=True)
class TinyWorld:
    world: Path
    store: ChainStore
    first_half: Path  # bitcoin-etl export cut at ``cut_height``
    cut_height: int


def _cut(source: Path, target: Path, height: int) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for name, key in (("blocks.jsonl", "number"), ("transactions.jsonl", "block_number")):
        with (source / name).open() as src, (target / name).open("w") as dst:
            for line in src:
                if json.loads(line)[key] <= height:
                    dst.write(line)


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory: pytest.TempPathFactory) -> TinyWorld:
    root = tmp_path_factory.mktemp("clustering-world")
    world = root / "world"
    generate_world(WorldConfig.from_size("tiny", seed=11), world)
    store = ChainStore(root / "store")
    ingest_world_chains(world, store)
    cut = store.height("bitcoin") // 2
    _cut(world / "bitcoin", root / "first_half", cut)
    return TinyWorld(world, store, root / "first_half", cut)


@pytest.fixture
def half_store(tiny_world: TinyWorld, tmp_path: Path) -> ChainStore:
    """A fresh store holding only the first half of the tiny world's bitcoin blocks."""
    store = ChainStore(tmp_path / "store")
    half = tiny_world.first_half
    ingest_bitcoin_etl(half / "blocks.jsonl", half / "transactions.jsonl", store)
    return store


def ingest_rest(tiny_world: TinyWorld, store: ChainStore) -> None:
    """Ingest the whole bitcoin export: the ingest resumes above the stored height."""
    source = tiny_world.world / "bitcoin"
    ingest_bitcoin_etl(source / "blocks.jsonl", source / "transactions.jsonl", store)
