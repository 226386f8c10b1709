"""Helpers shared by the etl ingest tests: fixture copies and store snapshots."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from chainsleuth.store.chainstore import ChainStore

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "etl"
CHAIN_TABLES = {
    "bitcoin": ("blocks", "transactions", "outputs", "inputs", "addresses"),
    "ethereum": ("blocks", "transactions", "transfers", "addresses"),
}


def world_copy(tmp_path: Path, fmt: str = "jsonl") -> Path:
    """A private copy of the hand-written fixture world (tests may edit it)."""
    target = tmp_path / f"world-{fmt}"
    shutil.copytree(FIXTURES / fmt, target)
    return target


def snapshot(root: Path) -> dict[str, str]:
    """Every file of a store with its sha256: equal snapshots mean nothing was written."""
    if not root.exists():
        return {}
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name != ".writer.lock"
    }


def contents(store: ChainStore) -> dict[tuple[str, str], list[dict[str, object]]]:
    """All rows of all tables, for comparing two stores independently of how they were batched."""
    return {
        (chain, table): store.table(chain, table).to_pylist()
        for chain in store.chains()
        for table in CHAIN_TABLES[chain]
    }
