"""Clustering a chain of the chain store: heuristics → edges → union → persisted, stable cluster ids.

:func:`utxo_edges` and :func:`account_edges` turn arrays into "same owner" edges with their evidence;
:func:`cluster_chain` runs them on a chain store incrementally and persists the result with
:class:`~chainsleuth.chain.clustering.persist.ClusterStore`.

A run is *incremental* (only blocks above the last clustered height are read, the stored mapping is the
union-find state) when the options are unchanged, the chain was not rolled back below the clustered height,
and no heuristic in use looks ahead; otherwise it recomputes from scratch. Both give the same mapping, because
cluster ids are the smallest address id of each cluster (see :mod:`~chainsleuth.chain.clustering.kernel`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from chainsleuth.chain.clustering.change import (
    HEURISTICS,
    LOOKAHEAD,
    ChangeResult,
    change_candidates,
    check_heuristics,
)
from chainsleuth.chain.clustering.coinjoin import CoinJoinParams, CoinJoinResult, detect_coinjoins
from chainsleuth.chain.clustering.deposit import DepositParams, DepositResult, detect_deposit_addresses
from chainsleuth.chain.clustering.kernel import (
    Int64Array,
    apply_edges,
    as_int64,
    compare_clusterings,
    group_edges,
)
from chainsleuth.chain.clustering.persist import ClusterState, ClusterStore
from chainsleuth.chain.clustering.view import UtxoView, load_utxo_view
from chainsleuth.errors import InvalidInputError
from chainsleuth.store.chainstore import ChainStore, chain_spec

log = logging.getLogger(__name__)
Progress = Callable[[str], None]
ENGINES = ("local", "spark")

LINKS_SCHEMA = pa.schema(
    [
        pa.field("kind", pa.string(), nullable=False),
        pa.field("tx_id", pa.int64(), nullable=False),
        pa.field("address_id", pa.int64(), nullable=False),
        pa.field("linked_to", pa.int64(), nullable=False),
        pa.field("heuristic", pa.string(), nullable=False),
        pa.field("confidence", pa.float64(), nullable=False),
    ]
)


@dataclass(frozen=True)
class ClusterOptions:
    """How to cluster. Defaults: multi-input with CoinJoins excluded, no change links, deposit links on
    Ethereum.

    The super-cluster limit is ``min(super_cluster_size, max(super_cluster_min, super_cluster_share ×
    addresses))``.
    """

    change: tuple[str, ...] = ()
    min_confidence: float = 0.0
    change_confidence: Mapping[str, float] | None = None
    coinjoin: CoinJoinParams = field(default_factory=CoinJoinParams)
    deposit: DepositParams = field(default_factory=DepositParams)
    hot_wallets: Mapping[int, str] | None = None
    link_hot_wallets: bool = True
    super_cluster_size: int = 100_000
    super_cluster_share: float = 0.25
    super_cluster_min: int = 1_000

    def fingerprint(self, kind: str) -> dict[str, Any]:
        """The options that decide the mapping (a change forces a recomputation from scratch)."""
        if kind == "utxo":
            return {
                "kind": kind,
                "change": sorted(self.change),
                "min_confidence": self.min_confidence,
                "change_confidence": dict(sorted((self.change_confidence or {}).items())),
                "coinjoin": asdict(self.coinjoin),
            }
        hot = sorted((self.hot_wallets or {}).items())
        return {
            "kind": kind,
            "deposit": asdict(self.deposit),
            "link_hot_wallets": self.link_hot_wallets,
            "hot_wallets": hashlib.sha256(json.dumps(hot).encode()).hexdigest(),
        }

    def limit(self, n_addresses: int) -> int:
        share = max(self.super_cluster_min, math.ceil(self.super_cluster_share * n_addresses))
        return min(self.super_cluster_size, share)


@dataclass
class EdgeSet:
    """Same-owner edges with what produced them."""

    src: Int64Array
    dst: Int64Array
    counts: dict[str, int]
    links: pa.Table
    coinjoins: CoinJoinResult | None = None
    change: ChangeResult | None = None
    deposits: DepositResult | None = None


@dataclass
class ClusterReport:
    """What one clustering run did (printed by the CLI, returned by the API)."""

    chain: str
    mode: str
    reason: str
    height_before: int
    height_after: int
    addresses: int = 0
    clusters: int = 0
    largest_cluster: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    merges: int = 0
    splits: int = 0
    super_cluster_limit: int = 0
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0


def utxo_edges(view: UtxoView, options: ClusterOptions | None = None) -> EdgeSet:
    """Multi-input edges (CoinJoins excluded) plus, if chosen, change links of sufficient confidence."""
    opts = options or ClusterOptions()
    coinjoins = detect_coinjoins(
        view.in_tx, view.in_address, view.out_tx, view.out_address, view.out_value, opts.coinjoin
    )
    excluded = coinjoins.flagged_tx_ids
    src, dst = group_edges(view.in_tx, view.in_address, exclude=excluded)
    counts = {
        "inputs": len(view.in_tx),
        "coinjoin_candidates": len(coinjoins.tx_ids),
        "coinjoins": len(excluded),
        "multi_input_edges": len(src),
    }
    parts = [
        _links(
            "coinjoin_excluded",
            excluded,
            np.full(len(excluded), -1),
            np.full(len(excluded), -1),
            "coinjoin",
            coinjoins.score[coinjoins.flagged],
        )
    ]
    change: ChangeResult | None = None
    if opts.change:
        names = check_heuristics(opts.change)
        change = change_candidates(view, names, exclude_tx=excluded, confidence=opts.change_confidence)
        c_src, c_dst, conflicts = change.links(names, opts.min_confidence)
        counts["change_links"], counts["change_conflicts"] = len(c_src), conflicts
        src, dst = np.concatenate((src, c_src)), np.concatenate((dst, c_dst))
        keep = np.isin(change.heuristic, [HEURISTICS.index(name) for name in names])
        keep &= change.confidence >= opts.min_confidence
        first = change.first_input[np.searchsorted(change.eligible_tx, change.tx_ids[keep])]
        parts.append(
            _links(
                "change",
                change.tx_ids[keep],
                change.address_id[keep],
                first,
                [HEURISTICS[int(h)] for h in change.heuristic[keep]],
                change.confidence[keep],
            )
        )
    return EdgeSet(src, dst, counts, pa.concat_tables(parts), coinjoins=coinjoins, change=change)


def account_edges(
    src: Int64Array,
    dst: Int64Array,
    values: Any,
    timestamps: Int64Array,
    asset_ids: Any,
    options: ClusterOptions | None = None,
) -> EdgeSet:
    """Deposit-address links to known exchange wallets (and optionally the wallets of one exchange joined)."""
    opts = options or ClusterOptions()
    hot = dict(opts.hot_wallets or {})
    deposits = detect_deposit_addresses(src, dst, values, timestamps, hot, asset_ids=asset_ids, params=opts.deposit)
    e_src, e_dst = deposits.links(opts.deposit.min_confidence)
    confidence = deposits.confidence[deposits.confidence >= opts.deposit.min_confidence]
    counts = {"transfers": len(src), "deposit_links": len(e_src), "hot_wallets": len(hot)}
    parts = [_links("deposit", np.full(len(e_src), -1), e_src, e_dst, "deposit_address", confidence)]
    if opts.link_hot_wallets and hot:
        by_exchange: dict[str, list[int]] = {}
        for address, name in hot.items():
            by_exchange.setdefault(name, []).append(address)
        pairs = [(a, min(ids)) for ids in by_exchange.values() for a in ids if a != min(ids)]
        h_src = np.array([p[0] for p in pairs], dtype=np.int64)
        h_dst = np.array([p[1] for p in pairs], dtype=np.int64)
        e_src, e_dst = np.concatenate((e_src, h_src)), np.concatenate((e_dst, h_dst))
        counts["hot_wallet_links"] = len(h_src)
        parts.append(_links("tag", np.full(len(h_src), -1), h_src, h_dst, "same_exchange_tag", np.ones(len(h_src))))
    return EdgeSet(e_src, e_dst, counts, pa.concat_tables(parts), deposits=deposits)


def _links(kind: str, tx: Any, address: Any, linked: Any, heuristic: Any, confidence: Any) -> pa.Table:
    n = len(tx)
    names = [heuristic] * n if isinstance(heuristic, str) else list(heuristic)
    return pa.table(
        {
            "kind": [kind] * n,
            "tx_id": as_int64(tx),
            "address_id": as_int64(address),
            "linked_to": as_int64(linked),
            "heuristic": names,
            "confidence": np.asarray(confidence, dtype=np.float64),
        },
        schema=LINKS_SCHEMA,
    )


@contextlib.contextmanager
def _run_lock(directory: Path) -> Iterator[None]:
    """One clustering run per chain at a time (a second one waits)."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _block_hash(store: ChainStore, chain: str, height: int) -> str:
    if height < 0:
        return ""
    blocks = store.table(chain, "blocks", ["hash"], min_block=height, max_block=height)
    return str(blocks.column("hash")[0].as_py()) if blocks.num_rows else ""


def _decide(
    store: ChainStore, chain: str, kind: str, opts: ClusterOptions, old: ClusterState | None, full: bool
) -> tuple[str, str]:
    if old is None:
        return "full", "first run"
    if full:
        return "full", "requested"
    if old.config != opts.fingerprint(kind):
        return "full", "options changed"
    height = store.height(chain)
    if height < old.height or _block_hash(store, chain, old.height) != old.block_hash:
        return "full", "chain rolled back below the clustered height"
    if height == old.height:
        return "unchanged", "no new blocks"
    if kind == "account":
        return "full", "deposit-address statistics cover all transfers"
    ahead = sorted(set(opts.change) & LOOKAHEAD)
    if ahead:
        return "full", f"change heuristic {', '.join(ahead)} looks ahead"
    return "incremental", f"blocks {old.height + 1}..{height}"


def cluster_chain(
    store: ChainStore,
    chain: str = "bitcoin",
    options: ClusterOptions | None = None,
    *,
    full: bool = False,
    progress: Progress | None = None,
    engine: str = "local",
    spark_master: str = "local[*]",
) -> ClusterReport:
    """Cluster ``chain`` (incrementally when possible), persist the mapping and return the run's report.

    ``engine="spark"`` runs the multi-input heuristic on Apache Spark at ``spark_master`` instead of numpy
    (:mod:`~chainsleuth.chain.clustering.spark`): the same mapping, for chains too large for one machine.
    """
    opts = options or ClusterOptions()
    kind = chain_spec(chain).kind
    if engine not in ENGINES:
        raise InvalidInputError(f"unknown clustering engine (choose {' or '.join(ENGINES)})", engine=engine)
    if engine == "spark" and (kind != "utxo" or opts.change):
        raise InvalidInputError(
            "the Spark engine runs the multi-input heuristic on UTXO chains; change heuristics and "
            "Ethereum deposit addresses run on the local engine",
            chain=chain,
        )
    if kind == "account" and not opts.hot_wallets:
        raise InvalidInputError("clustering an account chain needs known exchange wallets (hot_wallets)", chain=chain)
    started = time.perf_counter()
    say = progress or (lambda _stage: None)
    clusters = ClusterStore(store.root, chain)
    with _run_lock(clusters.dir):
        old = clusters.state() if clusters.exists() else None
        mode, reason = _decide(store, chain, kind, opts, old, full)
        height = store.height(chain)
        report = ClusterReport(chain, mode, reason, old.height if old else -1, height)
        if mode == "unchanged" and old is not None:
            report.addresses, report.clusters = old.address_count, old.cluster_count
            report.largest_cluster = old.largest_cluster
            report.seconds = time.perf_counter() - started
            return report
        previous = clusters.cluster_of(old) if old is not None else None
        if engine == "spark":
            if mode == "incremental":
                mode, reason = "full", f"{reason}; the Spark engine recomputes from scratch"
                report.mode, report.reason = mode, reason
            cluster_of, counts, links_now = _spark_run(store, chain, opts, height, spark_master, say)
        else:
            cluster_of, counts, links_now = _local_run(store, chain, kind, opts, mode, old, previous, height, say)
        n_addresses = len(cluster_of)
        comparison = compare_clusterings(previous, cluster_of, count_splits=mode == "full")
        sizes = np.bincount(cluster_of, minlength=n_addresses) if n_addresses else np.zeros(0, np.int64)
        limit = opts.limit(n_addresses)
        report.counts = counts
        report.addresses = n_addresses
        report.clusters = int(np.count_nonzero(sizes))
        report.largest_cluster = int(sizes.max(initial=0))
        report.merges, report.splits = len(comparison.merges), comparison.splits
        report.super_cluster_limit = limit
        report.warnings = super_cluster_warnings(cluster_of, sizes, comparison, limit, opts.super_cluster_min)
        if comparison.splits:
            report.warnings.append(
                f"{comparison.splits} clusters of the previous run were split (the options changed, "
                "the chain was rolled back, or a look-ahead change link was withdrawn)"
            )
        for warning in report.warnings:
            log.warning("%s: %s", chain, warning)
        say("saving")
        state = ClusterState(
            chain=chain,
            config=opts.fingerprint(kind),
            height=height,
            block_hash=_block_hash(store, chain, height),
            cluster_count=report.clusters,
            largest_cluster=report.largest_cluster,
        )
        old_links = clusters.links(old) if (old is not None and mode == "incremental") else None
        links = pa.concat_tables([old_links, links_now]) if old_links is not None else links_now
        clusters.save(state, cluster_of, comparison.merges, links)
        report.seconds = time.perf_counter() - started
        return report


def _local_run(
    store: ChainStore,
    chain: str,
    kind: str,
    opts: ClusterOptions,
    mode: str,
    old: ClusterState | None,
    previous: Int64Array | None,
    height: int,
    say: Progress,
) -> tuple[Int64Array, dict[str, int], pa.Table]:
    """The numpy engine: heuristics → edges → union with the previous mapping when incremental."""
    say("reading the chain store")
    if kind == "utxo":
        # pinned to ``height``: an ingest committing meanwhile is picked up by the next run
        first = old.height + 1 if mode == "incremental" and old else None
        view = load_utxo_view(store, chain, min_block=first, max_block=height)
        say("detecting CoinJoins and building edges")
        edges = utxo_edges(view, opts)
    else:
        transfers = store.edges(chain)
        say("finding deposit addresses")
        edges = account_edges(
            transfers.src_ids,
            transfers.dst_ids,
            transfers.values,
            transfers.timestamps,
            transfers.asset_ids,
            opts,
        )
    say("joining clusters")
    # read after the data, so that every address id in it is covered even if an ingest committed meanwhile
    n_addresses = max(
        store.chain_state(chain).address_count,
        int(edges.src.max(initial=-1)) + 1,
        int(edges.dst.max(initial=-1)) + 1,
    )
    valid = (edges.src >= 0) & (edges.dst >= 0)
    base = previous if mode == "incremental" else None
    return apply_edges(base, n_addresses, edges.src[valid], edges.dst[valid]), edges.counts, edges.links


def _spark_run(
    store: ChainStore, chain: str, opts: ClusterOptions, height: int, master: str, say: Progress
) -> tuple[Int64Array, dict[str, int], pa.Table]:
    """The Spark engine: the same multi-input mapping and CoinJoin evidence, computed by a Spark job."""
    from chainsleuth.chain.clustering.spark import spark_multi_input, spark_session  # optional dependency

    say("starting Spark")
    scratch = store.root / ".spark"
    with spark_session(master, scratch=scratch) as spark:
        result = spark_multi_input(
            spark,
            store,
            chain,
            height=height,
            n_addresses=store.chain_state(chain).address_count,
            coinjoin=opts.coinjoin,
            scratch=scratch,
            progress=say,
        )
    count = len(result.coinjoin_tx_ids)
    links = _links(
        "coinjoin_excluded",
        result.coinjoin_tx_ids,
        np.full(count, -1),
        np.full(count, -1),
        "coinjoin",
        result.coinjoin_scores,
    )
    counts = dict(result.counts, spark_rounds=result.rounds)
    return result.cluster_of, counts, links


def super_cluster_warnings(
    cluster_of: Int64Array, sizes: Int64Array, comparison: Any, limit: int, big: int
) -> list[str]:
    """Warnings for clusters that crossed ``limit`` in this run, or absorbed another cluster of ≥ ``big``.

    A sudden giant cluster is the classic failure of multi-input clustering (an undetected CoinJoin or a wrong
    change link glues unrelated wallets together); a cluster that is big and stays big is not news.
    """
    warnings: list[str] = []
    largest = comparison.largest_before
    crossed = np.flatnonzero((sizes > limit) & (largest[: len(sizes)] <= limit))
    for cluster in crossed[:20].tolist():
        warnings.append(
            f"super-cluster: cluster {cluster} now has {int(sizes[cluster]):,} addresses "
            f"(limit {limit:,}; its largest part had {int(largest[cluster]):,})"
        )
    merges = comparison.merges
    big_merge = np.flatnonzero((merges.absorbed_size_before >= big) & (merges.into_size_before >= big))
    for row in big_merge[:20].tolist():
        into = int(merges.into[row])
        warnings.append(
            f"large merge: cluster {int(merges.absorbed[row])} "
            f"({int(merges.absorbed_size_before[row]):,} addresses) joined cluster {into} "
            f"({int(merges.into_size_before[row]):,}), now {int(sizes[into]):,}"
        )
    extra = len(crossed) + len(big_merge) - len(warnings)
    if extra > 0:
        warnings.append(f"... and {extra} more")
    return warnings
