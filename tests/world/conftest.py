"""Tiny worlds generated once per test session (each takes about a second)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainsleuth.world import WorldConfig, generate_world

SEED = 7


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world") / "jsonl"
    generate_world(WorldConfig.from_size("tiny", seed=SEED), out)
    return out


@pytest.fixture(scope="session")
def tiny_world_again(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world") / "again"
    generate_world(WorldConfig.from_size("tiny", seed=SEED), out)
    return out


@pytest.fixture(scope="session")
def tiny_world_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world") / "csv"
    generate_world(WorldConfig.from_size("tiny", seed=SEED, fmt="csv"), out)
    return out
