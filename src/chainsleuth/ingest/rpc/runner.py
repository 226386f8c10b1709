"""The incremental, idempotent, reorg-safe loop shared by the Ethereum and Bitcoin node ingests.

Every run:

1. **Reconcile** the stored tip with the node. The store keeps every block's hash (``blocks.hash``); the node is
   asked for its hash at the stored tip, then further back, until the two agree (at most ``max_reorg_depth``
   blocks back). Blocks above the last agreeing height were replaced on the node: they are removed with
   :meth:`ChainStore.truncate_above`, which also takes back their transactions and first-seen addresses, and the
   removal is recorded in the report. A store that agrees with the node on *no* block within that depth is
   refused rather than emptied: it was probably filled from another network.
2. **Ingest** the blocks from the stored height + 1 (or ``from_block`` on an empty store) up to the node's tip
   minus ``confirmations`` (and at most ``to_block``), in batches of whole blocks committed atomically through
   the same converters and :class:`ChainWriter` as the etl ingest. Re-running adds nothing; an interrupted run
   resumes after its last commit.
3. While fetching, every block's parent hash must be the previous block's hash (the stored tip's for the first
   one). If not, the node reorganised *during* the run: the uncommitted blocks are dropped and the run goes back
   to step 1 (a few times at most).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pyarrow as pa

from chainsleuth.errors import InvalidInputError, StorageError
from chainsleuth.ingest.etl_common import ChainIngestReport, IngestProgress, ProgressCallback
from chainsleuth.ingest.rpc.etl_bridge import HashKeys
from chainsleuth.store.chainstore import ChainStore, ChainWriter, chain_spec

#: Transactions per committed batch (the etl ingest uses 50k; node blocks arrive slower, so commit sooner).
DEFAULT_RPC_BATCH_SIZE = 20_000
DEFAULT_MAX_REORG_DEPTH = 100
#: Blocks per committed batch at most, so that runs of nearly empty blocks still commit (and report) regularly.
MAX_BLOCKS_PER_BATCH = 1_000
#: How often one run goes back to reconciliation when the node keeps reorganising under it.
MAX_ATTEMPTS = 5
#: Node hashes asked per JSON-RPC batch while walking back to the fork point.
_WALK_WINDOW = 16


@dataclass(frozen=True)
class NodeBlock:
    """A block fetched and validated by a source; ``payload`` is what only that source's ``build`` reads."""

    number: int
    hash: str
    parent_hash: str | None
    tx_count: int
    payload: Any


@dataclass
class Rollback:
    """Blocks removed from the store because the node replaced them (a reorganisation)."""

    fork_height: int
    old_height: int
    removed: list[tuple[int, str]]

    def describe(self) -> str:
        numbers = [number for number, _ in self.removed]
        span = f"{numbers[0]}-{numbers[-1]}" if numbers else "none"
        return f"rolled back {len(numbers)} block(s) {span} (fork at {self.fork_height})"


@dataclass
class RpcIngestReport(ChainIngestReport):
    """A :class:`ChainIngestReport` plus the node's tip, the target height and the rollbacks made."""

    node_tip: int = -1
    target: int = -1
    rollbacks: list[Rollback] = field(default_factory=list)


class NodeSource(Protocol):
    """What the loop needs from a chain's node: heights, hashes, validated blocks, and conversion."""

    chain: str
    url: str
    #: Blocks requested per JSON-RPC batch (small for Bitcoin: a verbose block is megabytes of JSON).
    fetch_size: int

    def tip(self) -> int:
        """The node's best height."""
        ...

    def hashes(self, heights: Sequence[int]) -> dict[int, str | None]:
        """The node's block hash at each height (lowercase; None above its tip)."""
        ...

    def fetch(self, heights: Sequence[int]) -> list[NodeBlock]:
        """Validated blocks at consecutive ``heights``; raises :class:`ChainMovedError` if one is gone."""
        ...

    def build(
        self, writer: ChainWriter, store: ChainStore, blocks: list[NodeBlock], report: ChainIngestReport
    ) -> tuple[dict[str, pa.Table], HashKeys | None]:
        """The store tables of one batch of whole blocks (through the etl converters)."""
        ...


class ChainMovedError(Exception):
    """The node's chain changed while a run was fetching (internal: the loop reconciles and retries)."""

    def __init__(self, height: int) -> None:
        super().__init__(f"the node's chain changed at block {height}")
        self.height = height


def _stored_hashes(store: ChainStore, chain: str, low: int, high: int) -> dict[int, str]:
    table = store.table(chain, "blocks", ["number", "hash"], min_block=low, max_block=high)
    return {
        int(number): str(block_hash).lower()
        for number, block_hash in zip(table.column("number").to_pylist(), table.column("hash").to_pylist(), strict=True)
    }


def reconcile(source: NodeSource, store: ChainStore, max_reorg_depth: int) -> Rollback | None:
    """Roll back stored blocks the node no longer has; None when the stored tip is still on its chain."""
    chain = source.chain
    height = store.height(chain)
    if height < 0:
        return None
    first = store.chain_state(chain).first_block
    low = max(first, height - max_reorg_depth)
    stored = _stored_hashes(store, chain, low, height)
    fork: int | None = None
    top = height
    while fork is None and top >= low:
        window = list(range(top, max(low, top - _WALK_WINDOW + 1) - 1, -1))
        node = source.hashes([number for number in window if number in stored])
        fork = next((n for n in window if n in stored and node.get(n) == stored[n]), None)
        top = window[-1] - 1
    if fork is None:
        raise StorageError(
            f"the node's chain agrees with no stored block in the last {height - low + 1} blocks:"
            " a reorganisation deeper than --max-reorg-depth, a node still syncing below the stored"
            " height, or a node of another network; nothing was rolled back",
            chain=chain,
            node=source.url,
            stored_height=height,
            max_reorg_depth=max_reorg_depth,
        )
    if fork == height:
        return None
    removed = sorted((number, block_hash) for number, block_hash in stored.items() if number > fork)
    store.truncate_above(chain, fork)
    return Rollback(fork_height=fork, old_height=height, removed=removed)


def ingest_from_node(
    source: NodeSource,
    store: ChainStore,
    *,
    from_block: int | None = None,
    to_block: int | None = None,
    confirmations: int = 0,
    max_reorg_depth: int = DEFAULT_MAX_REORG_DEPTH,
    batch_size: int = DEFAULT_RPC_BATCH_SIZE,
    progress: ProgressCallback | None = None,
) -> RpcIngestReport:
    """Bring the store's copy of ``source.chain`` up to the node's tip minus ``confirmations``."""
    spec = chain_spec(source.chain)
    for name, value in (("confirmations", confirmations), ("max_reorg_depth", max_reorg_depth)):
        if value < 0:
            raise InvalidInputError(f"{name} must not be negative", **{name: value})
    if batch_size < 1:
        raise InvalidInputError("batch_size must be positive", batch_size=batch_size)
    if from_block is not None and to_block is not None and to_block < from_block:
        raise InvalidInputError("to_block is below from_block", from_block=from_block, to_block=to_block)
    started = time.perf_counter()
    addresses_before = store.chain_state(spec.name).address_count
    report = RpcIngestReport(spec.name, [source.url], store.height(spec.name))
    report.height_after = report.height_before
    for _ in range(MAX_ATTEMPTS):
        rollback = reconcile(source, store, max_reorg_depth)
        if rollback is not None:
            report.rollbacks.append(rollback)
            report.warnings.append(f"{spec.name}: {rollback.describe()}")
        report.node_tip = source.tip()
        target = report.node_tip - confirmations
        if to_block is not None:
            target = min(target, to_block)
        report.target = target
        height = store.height(spec.name)
        if height >= 0 and from_block is not None and from_block > height + 1:
            raise InvalidInputError(
                "from_block would leave a gap after the stored blocks (the store resumes at its height + 1)",
                chain=spec.name,
                stored_height=height,
                from_block=from_block,
            )
        start = height + 1 if height >= 0 else (from_block or 0)
        try:
            if start <= target:
                _ingest_range(source, store, start, target, batch_size, report, progress)
            break
        except ChainMovedError as moved:
            report.warnings.append(f"{spec.name}: {moved}; reconciling again")
    else:
        raise StorageError(
            "the node kept reorganising during the ingest; try again later or with --confirmations",
            chain=spec.name,
            node=source.url,
        )
    report.height_after = store.height(spec.name)
    report.addresses = store.chain_state(spec.name).address_count - addresses_before
    report.warnings = sorted(set(report.warnings), key=report.warnings.index)
    report.seconds = time.perf_counter() - started
    return report


def _ingest_range(
    source: NodeSource,
    store: ChainStore,
    start: int,
    target: int,
    batch_size: int,
    report: RpcIngestReport,
    progress: ProgressCallback | None,
) -> None:
    """Fetch ``start..target``, check the hash chain, and commit batches of whole blocks."""
    chain = source.chain
    with store.writer(chain) as writer:
        if writer.height != start - 1 and writer.height >= 0:
            raise ChainMovedError(start)  # another writer changed the store since the reconciliation
        previous = _stored_hashes(store, chain, start - 1, start - 1).get(start - 1)
        pending: list[NodeBlock] = []
        pending_txs = 0
        first_height = start - 1

        def flush() -> None:
            nonlocal pending_txs
            _commit(source, store, writer, pending, report)
            pending.clear()
            pending_txs = 0
            if progress is not None:
                progress(
                    IngestProgress(chain, writer.height, first_height, target, report.transactions, report.transfers)
                )

        for chunk in range(start, target + 1, source.fetch_size):
            for block in source.fetch(list(range(chunk, min(chunk + source.fetch_size, target + 1)))):
                if previous is not None and block.parent_hash != previous:
                    raise ChainMovedError(block.number)
                previous = block.hash
                pending.append(block)
                pending_txs += block.tx_count
                if len(pending) >= MAX_BLOCKS_PER_BATCH or pending_txs >= batch_size:
                    flush()
        if pending:
            flush()


def _commit(
    source: NodeSource, store: ChainStore, writer: ChainWriter, blocks: list[NodeBlock], report: RpcIngestReport
) -> None:
    """Build and commit one batch; a failure leaves the writer's ``with`` block, whose exit rolls it back."""
    tables, keys = source.build(writer, store, blocks, report)
    writer.commit(tables, blocks[0].number, blocks[-1].number, tx_hash_keys=keys)
    report.batches += 1
    report.blocks += len(blocks)
    report.transactions += tables["transactions"].num_rows
    report.height_after = writer.height
