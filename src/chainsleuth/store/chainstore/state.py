"""The store's commit point: one small JSON file listing every committed Parquet part.

A batch becomes visible in exactly one step, the atomic rename of a new ``state.json`` over the old one. Parquet
parts are written (temp file, fsync, rename) *before* that step, so a crash at any moment leaves either the old
state (and some unreferenced files, removed by the next writer) or the new one, never a partial batch. Readers
only ever open files the state names, so they never see an uncommitted part either.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chainsleuth.errors import ConflictError, StorageError
from chainsleuth.store.chainstore.schema import CHAINS

STATE_FILE = "state.json"
LOCK_FILE = ".writer.lock"
FORMAT_VERSION = 1


@dataclass
class Part:
    """One committed Parquet file: its path relative to the store root and the range it covers."""

    file: str
    rows: int
    first_block: int
    last_block: int
    first_id: int = -1
    last_id: int = -1

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Part:
        return cls(**data)


@dataclass
class TokenInfo:
    """A registry entry: how to turn a token's base units into coins (``value_coin``)."""

    asset_id: int
    token_address: str
    address_id: int
    symbol: str
    decimals: int
    source: str


@dataclass
class ChainState:
    """Everything committed for one chain."""

    height: int = -1
    first_block: int = -1
    next_tx_id: int = 0
    address_count: int = 0
    parts: dict[str, list[Part]] = field(default_factory=dict)
    tokens: list[TokenInfo] = field(default_factory=list)

    def table_parts(self, table: str) -> list[Part]:
        return self.parts.get(table, [])

    def to_json(self) -> dict[str, Any]:
        return {
            "height": self.height,
            "first_block": self.first_block,
            "next_tx_id": self.next_tx_id,
            "address_count": self.address_count,
            "parts": {name: [asdict(part) for part in parts] for name, parts in self.parts.items()},
            "tokens": [asdict(token) for token in self.tokens],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChainState:
        return cls(
            height=int(data["height"]),
            first_block=int(data["first_block"]),
            next_tx_id=int(data["next_tx_id"]),
            address_count=int(data["address_count"]),
            parts={name: [Part.from_json(p) for p in parts] for name, parts in data["parts"].items()},
            tokens=[TokenInfo(**token) for token in data.get("tokens", [])],
        )


@dataclass
class StoreState:
    """The whole ``state.json``: a commit counter (used in part names) and one :class:`ChainState` per chain."""

    commit_seq: int = 0
    chains: dict[str, ChainState] = field(default_factory=dict)

    def chain(self, name: str) -> ChainState:
        return self.chains.get(name) or ChainState()

    def referenced_files(self) -> set[str]:
        return {part.file for chain in self.chains.values() for parts in chain.parts.values() for part in parts}


def read_state(root: Path) -> StoreState:
    """The committed state; an empty one for a new store."""
    path = root / STATE_FILE
    if not path.exists():
        return StoreState()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT_VERSION:
            raise StorageError("chain store has an unsupported format version", path=str(path))
        return StoreState(
            commit_seq=int(data["commit_seq"]),
            chains={name: ChainState.from_json(chain) for name, chain in data["chains"].items()},
        )
    except (ValueError, KeyError, TypeError) as error:
        raise StorageError(f"chain store state is unreadable: {error}", path=str(path)) from error


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable (a no-op where directories cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_state(root: Path, state: StoreState) -> None:
    """Atomically replace ``state.json``: the single commit point of every batch and rollback."""
    payload = {
        "format": FORMAT_VERSION,
        "commit_seq": state.commit_seq,
        "chains": {name: chain.to_json() for name, chain in sorted(state.chains.items())},
    }
    tmp = root / f".{STATE_FILE}.tmp"
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=1, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, root / STATE_FILE)
    fsync_dir(root)


@contextlib.contextmanager
def writer_lock(root: Path) -> Iterator[None]:
    """One writer per store at a time; a second one fails fast instead of interleaving commits."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / LOCK_FILE).open("a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConflictError("another process is writing to this chain store", path=str(root)) from None
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def remove_unreferenced(root: Path, state: StoreState) -> int:
    """Delete Parquet parts and temp files no committed state names (left by a crash); returns how many.

    Only the store's own table directories (``<chain>/<table>/``) are swept: other components keep derived
    data under the same root (``clusters/`` ...), which must never be touched.
    """
    referenced = state.referenced_files()
    removed = 0
    directories = [root / spec.name / table for spec in CHAINS.values() for table in (*spec.tables, "addresses")]
    for path in (path for directory in directories if directory.is_dir() for path in directory.iterdir()):
        if not path.is_file():
            continue
        relative = path.relative_to(root).as_posix()
        is_part = path.suffix == ".parquet" or path.name.startswith(".tmp-")
        if is_part and relative not in referenced:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
