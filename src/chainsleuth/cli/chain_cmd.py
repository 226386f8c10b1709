"""``chainsleuth chain``: the blockchain analytics group.

This module holds the store inspection commands (stats, an address, a transaction, read-only SQL); the entry
point mounts the tracing commands (``trace``, ``exposure``, ``path``: :mod:`.trace_cmd`) and the ``cluster``
sub-group (:mod:`.cluster_cmd`, which also rates every cluster's exposure) on the same group, so its help
describes all of them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from chainsleuth.config import get_settings
from chainsleuth.errors import NotFoundError
from chainsleuth.store.chainstore import ChainStore

app = typer.Typer(
    help=(
        "Blockchain analytics over the chain store: trace funds (poison, haircut, FIFO), rate an address's or "
        "cluster's exposure, search paths, cluster addresses (and rate every cluster: `cluster exposure`), and "
        "inspect statistics, addresses, transactions and read-only SQL."
    ),
    no_args_is_help=True,
)
stdout = Console()

StoreOption = typer.Option(None, "--store", help="Chain store directory (default: the configured chain_dir).")
ChainOption = typer.Option("bitcoin", "--chain", "-c", help="bitcoin or ethereum.")


def _store(store_dir: Path | None) -> ChainStore:
    return ChainStore(store_dir if store_dir is not None else get_settings().chain_dir)


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value if isinstance(value, int | float | str | bool | type(None)) else str(value)


@app.command("stats")
def stats(store_dir: Path | None = StoreOption, as_json: bool = typer.Option(False, "--json")) -> None:
    """Rows per table, block range, addresses and size of each chain."""
    summary = _store(store_dir).stats()
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    table = Table(title="chain store")
    for column in (
        "chain",
        "blocks",
        "height",
        "transactions",
        "outputs",
        "inputs",
        "transfers",
        "addresses",
        "tokens",
        "MB",
    ):
        table.add_column(column, justify="left" if column == "chain" else "right")
    for chain, info in summary.items():
        rows = info["rows"]
        table.add_row(
            chain,
            f"{rows.get('blocks', 0):,}",
            f"{info['first_block']}–{info['height']}",
            f"{rows.get('transactions', 0):,}",
            f"{rows['outputs']:,}" if "outputs" in rows else "–",
            f"{rows['inputs']:,}" if "inputs" in rows else "–",
            f"{rows['transfers']:,}" if "transfers" in rows else "–",
            f"{info['addresses']:,}",
            str(info["tokens"]),
            f"{info['bytes'] / 1e6:.1f}",
        )
    stdout.print(table)


@app.command("address")
def address(address: str = typer.Argument(...), chain: str = ChainOption, store_dir: Path | None = StoreOption) -> None:
    """What the store knows about one address (dense id, type, first block, activity)."""
    info = _store(store_dir).address_info(chain, address)
    typer.echo(json.dumps(_plain(info), indent=2))


@app.command("tx")
def tx(
    tx_hash: str = typer.Argument(..., metavar="HASH"),
    chain: str = ChainOption,
    store_dir: Path | None = StoreOption,
) -> None:
    """One transaction with its inputs and outputs (bitcoin) or transfers (ethereum)."""
    record = _store(store_dir).transaction(chain, tx_hash)
    if record is None:
        raise NotFoundError("transaction not in the chain store", chain=chain, hash=tx_hash)
    typer.echo(json.dumps(_plain(record), indent=2))


@app.command("sql")
def sql(
    query: str = typer.Argument(
        ..., help="SELECT over btc_* / eth_* views, e.g. 'SELECT count(*) FROM eth_transfers'."
    ),
    store_dir: Path | None = StoreOption,
    limit: int = typer.Option(100, "--limit", min=1, help="Rows to print."),
) -> None:
    """Run a read-only SQL query over the chain store's DuckDB views and print the result."""
    result = _store(store_dir).query(query)
    table = Table(caption=f"{result.num_rows:,} rows" + (f" (first {limit})" if result.num_rows > limit else ""))
    for name in result.column_names:
        table.add_column(name)
    for row in result.slice(0, limit).to_pylist():
        table.add_row(*(str(_plain(value)) for value in row.values()))
    stdout.print(table)
