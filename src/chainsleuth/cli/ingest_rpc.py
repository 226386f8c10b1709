"""``chainsleuth ingest ethereum-rpc|bitcoin-rpc``: bring the chain store up to a node's tip over JSON-RPC.

The lead mounts these functions on the ``ingest`` group. Each run is incremental and reorg-safe (see
``docs/ingest-rpc.md``): it first rolls back stored blocks the node has replaced, printing what it removed, then
ingests up to the node's tip minus ``--confirmations``. A progress bar (committed blocks out of the target) goes
to stderr, a summary table to stdout; errors propagate as chainsleuth errors so that ``chainsleuth.cli.main``
maps them to exit codes (node unreachable or answering errors: 69; malformed answers or bad options: 64).
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from chainsleuth.cli.ingest_chain import StoreOption, chain_progress, chain_store
from chainsleuth.ingest.rpc import (
    DEFAULT_MAX_REORG_DEPTH,
    DEFAULT_RPC_BATCH_SIZE,
    RpcIngestReport,
    ingest_bitcoin_rpc,
    ingest_ethereum_rpc,
)

stdout = Console()

FromOption = typer.Option(
    None, "--from-block", min=0, help="First block for an empty store (default 0); a filled store resumes."
)
ToOption = typer.Option(None, "--to-block", min=0, help="Last block to ingest (default: the node's tip).")
ConfirmationsOption = typer.Option(
    0, "--confirmations", min=0, help="Leave the newest N blocks out (they may still be reorganised)."
)
ReorgOption = typer.Option(
    DEFAULT_MAX_REORG_DEPTH, "--max-reorg-depth", min=0, help="How far back to look for the fork point."
)
BatchOption = typer.Option(DEFAULT_RPC_BATCH_SIZE, "--batch-size", min=1, help="Transactions per committed batch.")


def print_report(report: RpcIngestReport) -> None:
    """The summary table, then every rollback and warning (rollbacks are what an operator must notice)."""
    table = Table(title=f"{report.chain} from {report.files[0]} (node tip {report.node_tip}, target {report.target})")
    for column in ("height", "blocks", "transactions", "outputs/transfers", "new addresses"):
        table.add_column(column, justify="right")
    moved = report.outputs if report.outputs else report.transfers
    table.add_row(
        f"{report.height_before} → {report.height_after}",
        f"{report.blocks:,}",
        f"{report.transactions:,}",
        f"{moved:,}",
        f"{report.addresses:,}",
    )
    stdout.print(table)
    for rollback in report.rollbacks:
        stdout.print(f"[bold yellow]reorg:[/] {rollback.describe()}")
        for number, block_hash in rollback.removed:
            stdout.print(f"  removed block {number} {block_hash}")
    if report.unresolved_inputs:
        stdout.print(f"[yellow]{report.unresolved_inputs:,} inputs spend outputs from before the store[/]")
    for warning in report.warnings:
        if not warning.startswith(f"{report.chain}: rolled back"):
            stdout.print(f"[yellow]warning:[/] {warning}")


def ethereum_rpc(
    url: str = typer.Argument(..., help="JSON-RPC URL of an Ethereum node, e.g. http://127.0.0.1:8545."),
    from_block: int | None = FromOption,
    to_block: int | None = ToOption,
    confirmations: int = ConfirmationsOption,
    chain_name: str = typer.Option("ethereum", "--chain-name", help="Store chain to fill (an account chain)."),
    max_reorg_depth: int = ReorgOption,
    batch_size: int = BatchOption,
    store_dir: Path | None = StoreOption,
) -> None:
    """Ingest blocks, transactions, receipts and ERC-20 transfers from an Ethereum node."""
    with chain_progress() as update:
        report = ingest_ethereum_rpc(
            url,
            chain_store(store_dir),
            chain=chain_name,
            from_block=from_block,
            to_block=to_block,
            confirmations=confirmations,
            max_reorg_depth=max_reorg_depth,
            batch_size=batch_size,
            progress=update,
        )
    print_report(report)


def bitcoin_rpc(
    url: str = typer.Argument(..., help="JSON-RPC URL of Bitcoin Core, e.g. http://127.0.0.1:8332."),
    user: str | None = typer.Option(None, "--user", help="rpcuser / rpcauth user."),
    password: str | None = typer.Option(
        None, "--password", envvar="CHAINSLEUTH_BITCOIN_RPC_PASSWORD", help="RPC password (or set the env var)."
    ),
    cookie: Path | None = typer.Option(
        None, "--cookie", exists=True, dir_okay=False, help="The node's .cookie file instead of user/password."
    ),
    from_block: int | None = FromOption,
    to_block: int | None = ToOption,
    confirmations: int = ConfirmationsOption,
    chain_name: str = typer.Option("bitcoin", "--chain-name", help="Store chain to fill (a UTXO chain)."),
    max_reorg_depth: int = ReorgOption,
    batch_size: int = BatchOption,
    store_dir: Path | None = StoreOption,
) -> None:
    """Ingest blocks with their transactions, inputs and outputs from Bitcoin Core (getblock verbosity 3)."""
    with chain_progress() as update:
        report = ingest_bitcoin_rpc(
            url,
            chain_store(store_dir),
            user=user,
            password=password,
            cookie_file=cookie,
            chain=chain_name,
            from_block=from_block,
            to_block=to_block,
            confirmations=confirmations,
            max_reorg_depth=max_reorg_depth,
            batch_size=batch_size,
            progress=update,
        )
    print_report(report)
