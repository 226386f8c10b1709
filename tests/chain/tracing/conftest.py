"""Fixtures of the tracing tests: the session's tiny world, ingested once into a chain store."""

from __future__ import annotations

from pathlib import Path

import pytest

from .world_fixture import LoadedWorld, load_world


@pytest.fixture(scope="session")
def tiny_loaded_world(tiny_world: Path, tmp_path_factory: pytest.TempPathFactory) -> LoadedWorld:
    return load_world(tiny_world, tmp_path_factory.mktemp("tiny-loaded") / "store")
