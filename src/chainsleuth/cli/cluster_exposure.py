"""``chainsleuth chain cluster exposure``: exposure and risk tier of every cluster, persisted as Parquet.

The bulk computation and its persistence live in :mod:`chainsleuth.chain.exposure.snapshot`; this command
computes it (``--all``), lists clusters by tier, or shows the row of one address's cluster. Listing and showing
recompute first when the tags, the chain store, its clusterings, the policy or the prices changed since the
persisted snapshot, so the answer always reflects the current tag set.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from chainsleuth.chain.exposure.policy import ExposurePolicy
from chainsleuth.chain.exposure.snapshot import (
    ExposureSnapshot,
    ExposureStore,
    ensure_exposure,
    row_of,
    select_rows,
    shares_of,
)
from chainsleuth.cli.console import console
from chainsleuth.config import get_settings
from chainsleuth.errors import InvalidInputError, NotFoundError
from chainsleuth.store.chainstore import ChainStore
from chainsleuth.store.db import open_store, session_scope

stdout = Console()


def _snapshot(
    store: ChainStore, policy_file: Path | None, prices: Path | None, out: Path | None, force: bool
) -> ExposureSnapshot:
    policy = ExposurePolicy.load(policy_file) if policy_file is not None else ExposurePolicy.default()
    if prices is not None and not prices.is_file():
        raise NotFoundError("price file not found", path=str(prices))
    price_file = prices if prices is not None else _default_prices(store, out)
    engine = open_store(get_settings().resolved_database_url)
    try:
        with session_scope(engine) as session, console.status("computing exposure of every cluster"):
            return ensure_exposure(
                session,
                store,
                price_file=price_file if price_file.is_file() else None,
                policy=policy,
                directory=out,
                force=force,
            )
    finally:
        engine.dispose()


def _default_prices(store: ChainStore, out: Path | None) -> Path:
    """The price file the persisted snapshot used (e.g. the server's world prices), if it still exists, so that
    the command line and the API share one snapshot; else ``prices.csv`` in the chain store."""
    state = ExposureStore(out if out is not None else Path(store.root) / "exposure").state()
    if state is not None and state.key.prices:
        used = Path(state.key.prices.rsplit(":", 2)[0])
        if used.is_file():
            return used
    return Path(store.root) / "prices.csv"


def _summary(snapshot: ExposureSnapshot) -> dict[str, Any]:
    state = snapshot.state
    tiers = Counter(zip(snapshot.table["chain"].to_pylist(), snapshot.table["tier"].to_pylist(), strict=True))
    return {
        "directory": str(snapshot.directory),
        "file": state.file,
        "recomputed": snapshot.recomputed,
        "rows": state.rows,
        "unit": state.unit,
        "seconds": state.seconds,
        "tag_fingerprint": state.key.tags,
        "clustered_chains": state.clustered_chains,
        "tiers": {f"{chain}:{tier or 'none'}": count for (chain, tier), count in sorted(tiers.items(), key=str)},
    }


def exposure(
    address: str | None = typer.Argument(None, help="Show the exposure row of this address's cluster."),
    compute_all: bool = typer.Option(
        False, "--all", help="Compute the exposure of every cluster now and persist it (even if not stale)."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Directory for the snapshot (default: <chain store>/exposure, which the API reads)."
    ),
    chain: str | None = typer.Option(None, "--chain", "-c", help="Only this chain (bitcoin, ethereum)."),
    tier: str | None = typer.Option(None, "--tier", help="List only this tier (severe, high, medium, low, none)."),
    category: str | None = typer.Option(None, "--category", help="List only clusters exposed to this category."),
    limit: int = typer.Option(20, "--limit", min=1, help="Clusters listed."),
    offset: int = typer.Option(0, "--offset", min=0, help="First cluster listed."),
    policy_file: Path | None = typer.Option(None, "--policy", help="Risk policy YAML (default: the shipped one)."),
    prices: Path | None = typer.Option(
        None,
        "--prices",
        help="Daily prices CSV (date,asset,usd); default: the one the last snapshot used, else prices.csv in the "
        "chain store, if any.",
    ),
    store_dir: Path | None = typer.Option(None, "--store", help="Chain store directory (default: chain_dir)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Exposure of every cluster by category (direct and indirect, in and out) with its risk tier.

    With --all: compute it for all clusters (one per address on unclustered chains) and write Parquet plus
    state.json, which records the tag-set fingerprint it was computed from. Without --all: list clusters by
    tier, most severe first (filters --chain, --tier, --category), or with ADDRESS show its cluster's row. A
    listing recomputes first when tags, ingests, clusterings, policy or prices changed since the snapshot
    (stale by fingerprint). Evidence paths for one cluster: `chainsleuth chain exposure ADDRESS --cluster`.
    """
    if compute_all and address is not None:
        raise InvalidInputError("give an ADDRESS or --all, not both")
    store = ChainStore(store_dir if store_dir is not None else get_settings().chain_dir)
    snapshot = _snapshot(store, policy_file, prices, out, force=compute_all)
    if compute_all:
        summary = _summary(snapshot)
        if as_json:
            typer.echo(json.dumps(summary, indent=2))
            return
        stdout.print(f"exposure of {summary['rows']:,} clusters written to {snapshot.directory / snapshot.state.file}")
        stdout.print(f"tag-set fingerprint {summary['tag_fingerprint'][:16]}…, {summary['seconds']:.2f} s")
        table = Table(title="clusters by tier")
        for column in ("chain", "tier", "clusters"):
            table.add_column(column, justify="right" if column == "clusters" else "left")
        for key, count in summary["tiers"].items():
            table.add_row(*key.split(":", 1), f"{count:,}")
        stdout.print(table)
        return
    if address is not None:
        _show(store, snapshot, address, chain or "bitcoin", as_json)
        return
    total, rows = select_rows(snapshot, chain=chain, tier=tier, category=category, offset=offset, limit=limit)
    if as_json:
        typer.echo(json.dumps({"total": total, "recomputed": snapshot.recomputed, "clusters": rows}, indent=2))
        return
    note = " (recomputed: tags or store changed)" if snapshot.recomputed else ""
    table = Table(title=f"{total:,} clusters{note}, unit {snapshot.state.unit}")
    for column in ("chain", "cluster", "size", "tier", "exposed to", "max share", "in volume", "out volume"):
        table.add_column(column, justify="left" if column in ("chain", "tier", "exposed to") else "right")
    for row in rows:
        table.add_row(
            row["chain"],
            str(row["cluster_id"]),
            f"{row['size']:,}",
            row["tier"] or "none",
            ", ".join(row["categories"]),
            f"{row['max_share']:.2%}",
            f"{row['in_volume']:,.2f}",
            f"{row['out_volume']:,.2f}",
        )
    stdout.print(table)


def _show(store: ChainStore, snapshot: ExposureSnapshot, address: str, chain: str, as_json: bool) -> None:
    """The row of the cluster ``address`` belongs to (its own row when the chain is not clustered)."""
    from chainsleuth.chain.clustering.persist import ClusterStore

    local = store.address_id(chain, address)
    if local is None:
        raise NotFoundError("address not in the chain store", chain=chain, address=address)
    cluster = local
    clusters = ClusterStore(store.root, chain)
    if clusters.exists():
        array = clusters.cluster_of()
        cluster = int(array[local]) if local < len(array) else local
    row = row_of(snapshot, chain, cluster)
    if row is None:
        raise NotFoundError("the cluster has neither volume nor tags: no exposure", chain=chain, cluster_id=cluster)
    shares = shares_of(row, snapshot.state.categories)
    if as_json:
        view = {key: row[key] for key in ("chain", "cluster_id", "size", "tier", "tagged", "in_volume", "out_volume")}
        typer.echo(json.dumps({**view, "address": address, "shares": shares}, indent=2))
        return
    stdout.print(
        f"[bold]{address}[/] is in cluster {cluster} ({row['size']:,} addresses) on {chain}: "
        f"tier [bold]{row['tier'] or 'none'}[/]"
    )
    table = Table()
    for column in ("category", "direction", "direct", "indirect"):
        table.add_column(column)
    for share in shares:
        table.add_row(
            share["category"], share["direction"], f"{share['direct_share']:.2%}", f"{share['indirect_share']:.2%}"
        )
    stdout.print(table)
