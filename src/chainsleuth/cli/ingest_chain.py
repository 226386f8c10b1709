"""``chainsleuth ingest chains|bitcoin-etl|ethereum-etl``: load chain exports into the columnar chain store.

The lead mounts these functions on the ``ingest`` group. Each shows a progress bar (blocks committed out of the
last block of the export) on stderr and prints a summary table on stdout. Errors propagate as chainsleuth errors
so that ``chainsleuth.cli.main`` maps them to exit codes (a malformed file: 65, naming file and line).
:func:`chain_store`, :func:`chain_progress` and ``StoreOption`` serve the node commands too (``ingest_rpc``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import TaskID
from rich.table import Table

from chainsleuth.cli.console import progress_bar
from chainsleuth.config import get_settings
from chainsleuth.ingest.etl import (
    DEFAULT_BATCH_SIZE,
    ChainIngestReport,
    IngestProgress,
    ingest_bitcoin_etl,
    ingest_ethereum_etl,
    ingest_world_chains,
)
from chainsleuth.ingest.etl_common import ProgressCallback
from chainsleuth.store.chainstore import ChainStore

stdout = Console()


StoreOption = typer.Option(None, "--store", help="Chain store directory (default: the configured chain_dir).")


def chain_store(store_dir: Path | None) -> ChainStore:
    """The chain store at ``--store``, else the configured one."""
    return ChainStore(store_dir if store_dir is not None else get_settings().chain_dir)


@contextmanager
def chain_progress() -> Iterator[ProgressCallback]:
    """A progress bar with one task per chain, fed by the ingest's :class:`IngestProgress` events."""
    with progress_bar() as bar:
        tasks: dict[str, TaskID] = {}

        def update(event: IngestProgress) -> None:
            if event.chain not in tasks:
                total = None if event.target_block is None else max(1, event.target_block - event.start_block)
                tasks[event.chain] = bar.add_task(event.chain, total=total)
            bar.update(
                tasks[event.chain],
                completed=event.height - event.start_block,
                description=f"{event.chain} block {event.height:,} · {event.transactions:,} txs",
            )

        yield update


def _summary(reports: list[ChainIngestReport]) -> None:
    table = Table(title="chain ingest")
    for column in (
        "chain",
        "height",
        "batches",
        "blocks",
        "transactions",
        "outputs/transfers",
        "new addresses",
        "seconds",
    ):
        table.add_column(column, justify="left" if column == "chain" else "right")
    for report in reports:
        moved = report.transfers if report.chain != "bitcoin" else report.outputs
        table.add_row(
            report.chain,
            f"{report.height_before} → {report.height_after}",
            str(report.batches),
            f"{report.blocks:,}",
            f"{report.transactions:,}",
            f"{moved:,}",
            f"{report.addresses:,}",
            f"{report.seconds:.1f}",
        )
    stdout.print(table)
    for report in reports:
        if report.internal_transfers or report.reward_traces:
            stdout.print(
                f"{report.chain}: {report.internal_transfers:,} internal transfers from traces "
                f"({report.reward_traces:,} reward traces skipped)"
            )
        if report.unresolved_inputs:
            stdout.print(
                f"[yellow]{report.chain}: {report.unresolved_inputs:,} inputs spend outputs from before the export[/]"
            )
        for warning in report.warnings:
            stdout.print(f"[yellow]warning:[/] {warning}")


BatchOption = typer.Option(DEFAULT_BATCH_SIZE, "--batch-size", min=1, help="Transactions per committed batch.")


def chains(
    world_dir: Path = typer.Argument(..., exists=True, file_okay=False, help="A generated world directory."),
    store_dir: Path | None = StoreOption,
    batch_size: int = BatchOption,
) -> None:
    """Ingest the bitcoin/ and ethereum/ exports of a world directory (incremental, resumable)."""
    with chain_progress() as update:
        report = ingest_world_chains(world_dir, chain_store(store_dir), update, batch_size=batch_size)
    _summary(list(report.chains.values()))


def bitcoin_etl(
    blocks: Path = typer.Argument(..., exists=True, dir_okay=False, help="bitcoin-etl blocks (.jsonl or .csv)."),
    transactions: Path = typer.Argument(..., exists=True, dir_okay=False, help="bitcoin-etl transactions."),
    store_dir: Path | None = StoreOption,
    batch_size: int = BatchOption,
) -> None:
    """Ingest a bitcoin-etl export."""
    with chain_progress() as update:
        report = ingest_bitcoin_etl(
            blocks, transactions, chain_store(store_dir), batch_size=batch_size, progress=update
        )
    _summary([report])


def ethereum_etl(
    blocks: Path = typer.Argument(..., exists=True, dir_okay=False, help="ethereum-etl blocks (.jsonl or .csv)."),
    transactions: Path = typer.Argument(..., exists=True, dir_okay=False, help="ethereum-etl transactions."),
    token_transfers: Path | None = typer.Argument(
        None, exists=True, dir_okay=False, help="ethereum-etl token_transfers."
    ),
    tokens: Path | None = typer.Option(
        None, "--tokens", exists=True, dir_okay=False, help="ethereum-etl tokens export."
    ),
    traces: Path | None = typer.Option(
        None,
        "--traces",
        exists=True,
        dir_okay=False,
        help="ethereum-etl traces export (.jsonl or .csv): ETH moved by contracts becomes 'internal' transfers.",
    ),
    receipts: Path | None = typer.Option(
        None,
        "--receipts",
        exists=True,
        dir_okay=False,
        help="ethereum-etl receipts export: each transaction's status and gas used (a failed one moves nothing).",
    ),
    store_dir: Path | None = StoreOption,
    batch_size: int = BatchOption,
) -> None:
    """Ingest an ethereum-etl export (token decimals from --tokens, else 18 with a warning).

    Without --traces only top-level ETH transfers and token logs are stored, so value a contract forwards
    (a multisig paying out, a mixer's withdrawal) is invisible to tracing; pass the traces export to add
    those internal transfers (failed, reverted, delegate and static calls are skipped). Plain ethereum-etl
    keeps transaction status in its receipts export: pass it with --receipts so failed transactions are known.
    """
    with chain_progress() as update:
        report = ingest_ethereum_etl(
            blocks,
            transactions,
            token_transfers,
            chain_store(store_dir),
            tokens_path=tokens,
            traces_path=traces,
            receipts_path=receipts,
            batch_size=batch_size,
            progress=update,
        )
    _summary([report])
