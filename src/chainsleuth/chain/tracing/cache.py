"""The flow graph of a chain store, built once per process and reused until the store changes.

Building the flow graph reads every transfer of the store into numpy arrays: seconds on a large store, while a
trace, an exposure or a path search on it takes milliseconds. The HTTP API and the web pages therefore share one
:class:`FlowGraphCache` per process. An entry is keyed on the store's committed state (commit counter, and per
chain its height, transaction and address counts), which ``state.json`` records and every ingest or reorg
rollback changes; reading that small file on each request is what makes "rebuild when the store changes"
reliable without any signal from the ingest process.

Things derived from the graph and something else (cluster arrays, stop sets built from the tag database, the
UTXO view of the change heuristics) live in the entry's *memo* under a key that names that something else, so
they are dropped with the graph and recomputed when their own inputs change.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from chainsleuth.chain.clustering.persist import ClusterStore
from chainsleuth.chain.tracing.graph import FlowGraph
from chainsleuth.chain.tracing.loader import load_flow_graph
from chainsleuth.store.chainstore import ChainStore

T = TypeVar("T")
StoreKey = tuple[Hashable, ...]
#: Derived values kept per entry; the oldest is dropped beyond this (tag edits make new stop-set keys).
MEMO_SIZE = 16


def store_fingerprint(store: ChainStore) -> StoreKey:
    """What identifies the committed content of ``store``: changes on every ingest, rollback or compaction."""
    state = store.state()
    chains = tuple(sorted((name, c.height, c.next_tx_id, c.address_count) for name, c in state.chains.items()))
    return (state.commit_seq, chains)


def cluster_fingerprint(store: ChainStore) -> StoreKey:
    """What identifies the persisted clusterings of ``store``'s chains (the run counter changes on each run)."""
    found: list[tuple[str, int, str]] = []
    for chain in store.chains():
        clusters = ClusterStore(store.root, chain)
        if clusters.exists():
            state = clusters.state()
            found.append((chain, state.run, state.clusters_file))
    return tuple(found)


@dataclass
class GraphEntry:
    """One store's flow graph at one state, plus the values derived from it (see the module docstring)."""

    key: StoreKey
    graph: FlowGraph
    #: Which build of the process this is (1 = the first): tests and ``/api/chain/graph`` report it.
    build: int
    memo: OrderedDict[Hashable, object] = field(default_factory=OrderedDict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def memoised(self, key: Hashable, make: Callable[[], T]) -> T:
        """The value under ``key``, computed by ``make`` on first use (under the entry's lock: once)."""
        with self.lock:
            if key in self.memo:
                self.memo.move_to_end(key)
                value: T = self.memo[key]  # type: ignore[assignment]
                return value
            made = make()
            self.memo[key] = made
            while len(self.memo) > MEMO_SIZE:
                self.memo.popitem(last=False)
            return made


class FlowGraphCache:
    """Flow graphs per chain-store directory, rebuilt when the store's fingerprint changes.

    One lock per directory: a request arriving while the graph is being built waits for that build instead of
    starting a second one; requests for another store are not held up.
    """

    def __init__(self, loader: Callable[[ChainStore], FlowGraph] = load_flow_graph, max_stores: int = 4) -> None:
        self._loader = loader
        self._max_stores = max_stores
        self._entries: OrderedDict[Path, GraphEntry] = OrderedDict()
        self._locks: dict[Path, threading.Lock] = {}
        self._guard = threading.Lock()
        self.builds = 0

    def get(self, store: ChainStore) -> GraphEntry:
        """The current graph of ``store``, built now if the store changed since the last call."""
        root = Path(store.root).resolve()
        with self._guard:
            lock = self._locks.setdefault(root, threading.Lock())
        with lock:
            key = store_fingerprint(store)
            with self._guard:
                entry = self._entries.get(root)
            if entry is not None and entry.key == key:
                with self._guard:
                    self._entries.move_to_end(root)
                return entry
            graph = self._loader(store)
            with self._guard:
                self.builds += 1
                entry = GraphEntry(key=key, graph=graph, build=self.builds)
                self._entries[root] = entry
                self._entries.move_to_end(root)
                while len(self._entries) > self._max_stores:
                    self._entries.popitem(last=False)
            return entry

    def clear(self) -> None:
        """Forget every graph (the next request rebuilds)."""
        with self._guard:
            self._entries.clear()


#: The process-wide cache used by the HTTP API and the web pages.
GRAPHS = FlowGraphCache()


def cached_graph(store: ChainStore) -> GraphEntry:
    """The process-wide cached graph of ``store`` (see :data:`GRAPHS`)."""
    return GRAPHS.get(store)


__all__ = [
    "GRAPHS",
    "FlowGraphCache",
    "GraphEntry",
    "cached_graph",
    "cluster_fingerprint",
    "store_fingerprint",
]
