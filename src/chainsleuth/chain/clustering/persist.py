# mypy: disable-error-code="no-untyped-call"
"""Persisted clusters: the address → cluster mapping and the merge log, under the chain store root.

Layout (one directory per chain)::

    ROOT/clusters/<chain>/state.json                     options, clustered height and block hash, files
    ROOT/clusters/<chain>/parts/clusters-<run>.parquet   address_id, cluster_id  (row i is address i)
    ROOT/clusters/<chain>/parts/merges-<run>.parquet     the merges of run <run> (one file per run)
    ROOT/clusters/<chain>/parts/links-<run>.parquet      evidence of links (change, deposit, CoinJoin)

Every file is written to a temporary name, fsynced and renamed; ``state.json`` is replaced last and names the
files of the current generation, so a reader (or a crash) sees the previous generation or the new one, never a
mix. Files no longer named by the state are removed after the switch. The parts sit one level below
``<chain>/`` on purpose, out of reach of any sweep of unreferenced files at ``ROOT/*/*/*`` (the chain store's
writer once swept there).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from chainsleuth.chain.clustering.kernel import Int64Array, Merge, as_int64
from chainsleuth.errors import NotFoundError, StorageError

FORMAT_VERSION = 1

MERGES_SCHEMA = pa.schema(
    [
        pa.field("run", pa.int64(), nullable=False),
        pa.field("height", pa.int64(), nullable=False),
        pa.field("timestamp", pa.int64(), nullable=False),
        pa.field("into_cluster", pa.int64(), nullable=False),
        pa.field("absorbed_cluster", pa.int64(), nullable=False),
        pa.field("into_size_before", pa.int64(), nullable=False),
        pa.field("absorbed_size_before", pa.int64(), nullable=False),
    ]
)


@dataclass
class ClusterState:
    """What ``state.json`` records about the current clustering of one chain."""

    chain: str
    config: dict[str, Any]
    height: int = -1
    block_hash: str = ""
    address_count: int = 0
    run: int = 0
    clusters_file: str = ""
    merge_files: list[str] = field(default_factory=list)
    links_file: str = ""
    cluster_count: int = 0
    largest_cluster: int = 0
    updated_at: int = 0
    version: int = FORMAT_VERSION


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_bytes(path: Path, data: bytes, tmp_dir: Path) -> None:
    tmp = tmp_dir / f".tmp-{uuid.uuid4().hex}"
    try:
        with tmp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _atomic_parquet(table: pa.Table, path: Path) -> None:
    tmp = path.parent / f".tmp-{uuid.uuid4().hex}"
    try:
        pq.write_table(table, tmp, compression="zstd", compression_level=1)
        with tmp.open("rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class ClusterStore:
    """Reads and writes the persisted clustering of one chain under ``<store root>/clusters/<chain>``."""

    def __init__(self, store_root: Path, chain: str) -> None:
        self.chain = chain
        self.dir = Path(store_root) / "clusters" / chain
        self.parts = self.dir / "parts"

    @property
    def state_path(self) -> Path:
        return self.dir / "state.json"

    def exists(self) -> bool:
        return self.state_path.is_file()

    def state(self) -> ClusterState:
        """The current state; NotFoundError when the chain was never clustered."""
        if not self.exists():
            raise NotFoundError("chain not clustered yet (run `chainsleuth chain cluster run`)", chain=self.chain)
        try:
            raw = json.loads(self.state_path.read_text())
        except (OSError, ValueError) as error:
            raise StorageError("cluster state unreadable", path=str(self.state_path), error=str(error)) from error
        if raw.get("version") != FORMAT_VERSION:
            raise StorageError("cluster state has an unknown format version", path=str(self.state_path))
        return ClusterState(**raw)

    def cluster_of(self, state: ClusterState | None = None) -> Int64Array:
        """The cluster id of every address id (row ``i`` is address ``i``)."""
        current = state or self.state()
        table = pq.read_table(self.parts / current.clusters_file, columns=["cluster_id"])
        return as_int64(table.column("cluster_id").to_numpy())

    def merges(self, state: ClusterState | None = None) -> pa.Table:
        """Every recorded merge of two pre-existing clusters, oldest run first."""
        current = state or self.state()
        tables = [pq.read_table(self.parts / name) for name in current.merge_files]
        return pa.concat_tables(tables) if tables else MERGES_SCHEMA.empty_table()

    def links(self, state: ClusterState | None = None) -> pa.Table | None:
        """Evidence of the heuristic links (change, deposit) used by the latest run, if any."""
        current = state or self.state()
        return pq.read_table(self.parts / current.links_file) if current.links_file else None

    def save(
        self,
        state: ClusterState,
        cluster_of: Int64Array,
        merges: Merge | None,
        links: pa.Table | None = None,
        *,
        keep_merge_log: bool = True,
    ) -> ClusterState:
        """Write a new generation (mapping, this run's merges, links), then switch ``state.json`` to it."""
        self.parts.mkdir(parents=True, exist_ok=True)
        old = self.state() if self.exists() else None
        run = (old.run if old else 0) + 1
        state.run = run
        state.updated_at = int(time.time())
        state.address_count = len(cluster_of)
        clusters_file = f"clusters-{run:06d}.parquet"
        ids = np.arange(len(cluster_of), dtype=np.int64)
        _atomic_parquet(pa.table({"address_id": ids, "cluster_id": as_int64(cluster_of)}), self.parts / clusters_file)
        state.clusters_file = clusters_file
        state.merge_files = list(old.merge_files) if (old and keep_merge_log) else []
        if merges is not None and len(merges):
            merges_file = f"merges-{run:06d}.parquet"
            count = len(merges)
            table = pa.table(
                {
                    "run": np.full(count, run, dtype=np.int64),
                    "height": np.full(count, state.height, dtype=np.int64),
                    "timestamp": np.full(count, state.updated_at, dtype=np.int64),
                    "into_cluster": merges.into,
                    "absorbed_cluster": merges.absorbed,
                    "into_size_before": merges.into_size_before,
                    "absorbed_size_before": merges.absorbed_size_before,
                },
                schema=MERGES_SCHEMA,
            )
            _atomic_parquet(table, self.parts / merges_file)
            state.merge_files.append(merges_file)
        state.links_file = ""
        if links is not None and links.num_rows:
            state.links_file = f"links-{run:06d}.parquet"
            _atomic_parquet(links, self.parts / state.links_file)
        _fsync_dir(self.parts)
        _atomic_bytes(self.state_path, json.dumps(asdict(state), indent=1, sort_keys=True).encode(), self.parts)
        self._remove_unreferenced(state, old)
        return state

    def _remove_unreferenced(self, state: ClusterState, previous: ClusterState | None) -> None:
        """Delete parts that neither the new nor the previous generation names.

        The previous generation survives one more run, so that a reader that loaded the old ``state.json`` just
        before the switch can still open its files. Temp files are only left by a crashed run (runs hold a lock).
        """
        keep = {state.clusters_file, state.links_file, *state.merge_files}
        if previous is not None:
            keep |= {previous.clusters_file, previous.links_file, *previous.merge_files}
        for path in self.parts.iterdir():
            if path.name not in keep and (path.suffix == ".parquet" or path.name.startswith(".tmp-")):
                path.unlink(missing_ok=True)

    def cluster_id(self, address_id: int, state: ClusterState | None = None) -> int:
        """The cluster of one address (its own id if the address is newer than the clustering)."""
        cluster_of = self.cluster_of(state)
        return int(cluster_of[address_id]) if 0 <= address_id < len(cluster_of) else address_id

    def members(self, cluster_id: int, state: ClusterState | None = None) -> Int64Array:
        """The address ids of one cluster, ascending (the first is the cluster id itself)."""
        result: Int64Array = np.flatnonzero(self.cluster_of(state) == cluster_id).astype(np.int64)
        return result

    def clear(self) -> None:
        """Forget the clustering of this chain (the next run starts from scratch)."""
        self.state_path.unlink(missing_ok=True)
        if self.parts.is_dir():
            for path in self.parts.iterdir():
                path.unlink(missing_ok=True)


def cluster_arrays(store_root: Path, chains: Iterable[str]) -> dict[str, Int64Array]:
    """The address → cluster id array of each of ``chains`` that has been clustered (others are left out)."""
    arrays: dict[str, Int64Array] = {}
    for chain in chains:
        clusters = ClusterStore(store_root, chain)
        if clusters.exists():
            arrays[chain] = clusters.cluster_of()
    return arrays
