"""``chainsleuth chain cluster``: cluster addresses, look one up, explain change guesses, measure quality."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from chainsleuth.chain.clustering.change import HEURISTICS, change_candidates, check_heuristics
from chainsleuth.chain.clustering.coinjoin import detect_coinjoins
from chainsleuth.chain.clustering.deposit import DepositParams
from chainsleuth.chain.clustering.engine import ClusterOptions, ClusterReport, Progress, cluster_chain
from chainsleuth.chain.clustering.persist import ClusterStore
from chainsleuth.chain.clustering.quality import address_ids, quality_report, tagpack_wallets
from chainsleuth.chain.clustering.view import load_utxo_view
from chainsleuth.cli import cluster_exposure
from chainsleuth.cli.console import console, progress_bar
from chainsleuth.config import get_settings
from chainsleuth.errors import InvalidInputError, NotFoundError
from chainsleuth.store.chainstore import ChainStore, chain_spec

app = typer.Typer(
    help=(
        "Cluster addresses into wallets: multi-input heuristic with CoinJoins excluded, optional "
        "change-address heuristics, deposit addresses on Ethereum; stable cluster ids across ingests; the "
        "exposure and risk tier of every cluster. See docs/clustering.md."
    ),
    no_args_is_help=True,
)
stdout = Console()
app.command("exposure")(cluster_exposure.exposure)
# The commands print the run's warnings themselves; without a handler, logging would print them a second time.
logging.getLogger("chainsleuth.chain.clustering.engine").addHandler(logging.NullHandler())

StoreOption = typer.Option(None, "--store", help="Chain store directory (default: the configured chain_dir).")
ChainOption = typer.Option("bitcoin", "--chain", "-c", help="bitcoin (UTXO) or ethereum (account chain).")
ChangeOption = typer.Option(
    None,
    "--change",
    help=f"Also link change addresses found by this heuristic (repeatable): {', '.join(HEURISTICS)}.",
)
MinConfidenceOption = typer.Option(
    0.0, "--min-confidence", min=0.0, max=1.0, help="Ignore change heuristics below this confidence."
)
HotWalletsOption = typer.Option(
    None,
    "--hot-wallets",
    help="Ethereum: a file of known exchange wallets, one 'address,exchange name' per line.",
)
TagpacksOption = typer.Option(
    None,
    "--tagpacks",
    help="Ethereum: take the exchange wallets from the GraphSense TagPacks (*.yaml) in this directory.",
)


def _store(store_dir: Path | None) -> ChainStore:
    return ChainStore(store_dir if store_dir is not None else get_settings().chain_dir)


@contextmanager
def _stages(title: str, total: int = 4) -> Iterator[Progress]:
    with progress_bar(transient=True) as bar:
        task = bar.add_task(title, total=total)

        def update(stage: str) -> None:
            bar.update(task, advance=1, description=f"{title}: {stage}")

        yield update


def _hot_wallets(store: ChainStore, chain: str, path: Path | None, tagpacks: Path | None) -> dict[int, str]:
    wallets: dict[int, str] = {}
    if tagpacks is not None:
        if not tagpacks.is_dir():
            raise NotFoundError("tagpacks directory not found", path=str(tagpacks))
        wallets.update(tagpack_wallets(store, chain, tagpacks))
    if path is not None:
        if not path.is_file():
            raise NotFoundError("hot-wallet file not found", path=str(path))
        lines = [
            line.split(",", 1) for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")
        ]
        ids = address_ids(store, chain, [parts[0].strip() for parts in lines])
        for address_id, parts in zip(ids.tolist(), lines, strict=True):
            if address_id >= 0:
                wallets[address_id] = parts[1].strip() if len(parts) > 1 else parts[0].strip()
    return wallets


def _options(
    store: ChainStore,
    chain: str,
    change: list[str] | None,
    min_confidence: float,
    hot_wallets: Path | None,
    tagpacks: Path | None,
    super_cluster_size: int = 100_000,
) -> ClusterOptions:
    kind = chain_spec(chain).kind
    if change and kind != "utxo":
        raise InvalidInputError("change heuristics apply to UTXO chains only", chain=chain)
    hot = _hot_wallets(store, chain, hot_wallets, tagpacks) if kind == "account" else None
    if kind == "account" and not hot:
        raise InvalidInputError("ethereum clustering needs known exchange wallets: pass --hot-wallets or --tagpacks")
    return ClusterOptions(
        change=tuple(check_heuristics(change or [])),
        min_confidence=min_confidence,
        hot_wallets=hot,
        deposit=DepositParams(),
        super_cluster_size=super_cluster_size,
    )


def _print_report(report: ClusterReport) -> None:
    table = Table(title=f"clustering {report.chain}: {report.mode} ({report.reason})", show_header=False)
    if report.mode == "incremental":
        blocks = f"{report.height_before + 1}..{report.height_after} (new)"
    elif report.mode == "full":
        blocks = f"0..{report.height_after} (all)"
    else:
        blocks = f"none new (clustered up to {report.height_after})"
    table.add_row("blocks", blocks)
    table.add_row("addresses", f"{report.addresses:,}")
    table.add_row("clusters", f"{report.clusters:,}")
    table.add_row("largest cluster", f"{report.largest_cluster:,}")
    for key, value in report.counts.items():
        table.add_row(key.replace("_", " "), f"{value:,}")
    table.add_row("merges of earlier clusters", f"{report.merges:,}")
    table.add_row("seconds", f"{report.seconds:.2f}")
    stdout.print(table)
    for warning in report.warnings:
        console.print(f"[bold yellow]warning:[/] {warning}")


@app.command("run")
def run(
    chain: str = ChainOption,
    change: list[str] | None = ChangeOption,
    min_confidence: float = MinConfidenceOption,
    hot_wallets: Path | None = HotWalletsOption,
    tagpacks: Path | None = TagpacksOption,
    full: bool = typer.Option(False, "--full", help="Recompute from scratch instead of only the new blocks."),
    super_cluster_size: int = typer.Option(
        100_000, "--super-cluster-size", min=2, help="Warn when a merge makes a cluster larger than this."
    ),
    store_dir: Path | None = StoreOption,
    engine: str = typer.Option(
        "local",
        "--engine",
        help="local (numpy, one machine) or spark (Apache Spark; needs the \\[spark] extra and Java 17+).",
    ),
    spark_master: str | None = typer.Option(
        None, "--spark-master", help="Spark master URL for --engine spark (default: the spark_master setting)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Cluster a chain and store the address → cluster mapping (only new blocks when nothing else changed).

    Bitcoin: multi-input heuristic, CoinJoins excluded; add change links with --change. Ethereum: deposit
    addresses joined to the exchange wallets given by --hot-wallets or --tagpacks. Cluster ids are the
    smallest address id of each cluster and stay stable across runs; merges are logged, and a merge that
    creates a super-cluster prints a warning. With --engine spark the multi-input heuristic runs as a Spark
    job over the store's Parquet parts and gives the same mapping (for chains that outgrow one machine).
    """
    store = _store(store_dir)
    options = _options(store, chain, change, min_confidence, hot_wallets, tagpacks, super_cluster_size)
    master = spark_master or get_settings().spark_master
    with _stages(f"clustering {chain}", total=4 if engine == "local" else 8) as update:
        report = cluster_chain(store, chain, options, full=full, progress=update, engine=engine, spark_master=master)
    if as_json:
        typer.echo(json.dumps(asdict(report), indent=2))
    else:
        _print_report(report)


@app.command("show")
def show(
    address: str = typer.Argument(..., help="An address of the chain."),
    chain: str = ChainOption,
    members: int = typer.Option(20, "--members", min=0, help="How many member addresses to list."),
    tags: bool = typer.Option(
        True, "--tags/--no-tags", help="Add the attribution and conflicting tags from the tag database."
    ),
    store_dir: Path | None = StoreOption,
) -> None:
    """The cluster of one address: id, size, members, the merges that built it and the links behind it, and
    its attribution: the label it is shown under and why, every member's tag with source and confidence, and
    the conflicts between them (all kept; the same view as the HTTP cluster route)."""
    store = _store(store_dir)
    address_id = store.address_id(chain, address)
    if address_id is None:
        raise NotFoundError("address not in the chain store", chain=chain, address=address)
    clusters = ClusterStore(store.root, chain)
    state = clusters.state()
    cluster_of = clusters.cluster_of(state)
    if address_id >= len(cluster_of):
        raise NotFoundError("address is newer than the clustering: run `cluster run` again", address=address)
    cluster = int(cluster_of[address_id])
    member_ids = np.flatnonzero(cluster_of == cluster)
    info: dict[str, object] = {
        "chain": chain,
        "address": address,
        "address_id": address_id,
        "cluster_id": cluster,
        "cluster_root_address": store.address(chain, cluster),
        "size": len(member_ids),
        "clustered_up_to_block": state.height,
        "members": [a for a in store.addresses(chain, member_ids[:members]) if a is not None],
    }
    merges = clusters.merges(state).to_pylist()
    info["merges"] = [m for m in merges if m["into_cluster"] == cluster or m["absorbed_cluster"] == cluster][:50]
    links = clusters.links(state)
    if links is not None:
        in_cluster = np.isin(links.column("address_id").to_numpy(), member_ids)
        kinds = [k for k, keep in zip(links.column("heuristic").to_pylist(), in_cluster.tolist(), strict=True) if keep]
        info["links_by_heuristic"] = {k: kinds.count(k) for k in sorted(set(kinds))}
    if tags:
        info.update(_attribution(store, chain, cluster, member_ids))
    typer.echo(json.dumps(info, indent=2))
    if info.get("attribution"):
        attribution = info["attribution"]
        assert isinstance(attribution, dict)
        console.print(f"shown as [bold]{attribution['label']}[/] ({attribution['category'] or 'no category'}): "
                      f"{attribution['reason']}")  # fmt: skip
        for conflict in attribution["conflicts"]:
            console.print(f"[yellow]conflict:[/] {conflict}; all {len(attribution['tags'])} tags are kept")


def _attribution(store: ChainStore, chain: str, cluster: int, member_ids: np.ndarray) -> dict[str, object]:
    """The cluster's attribution from the tag database, exactly as ``GET /api/chain/.../cluster`` gives it:
    the label shown and why, every tag of any member with its provenance, and the conflicts (kept, not merged).
    Without a usable tag database the cluster is still shown, with the reason attribution is missing."""
    from chainsleuth.api.investigate import attribution_dict
    from chainsleuth.chain.attribution.clusters import resolve_to_clusters
    from chainsleuth.chain.attribution.store import find_tags
    from chainsleuth.errors import ChainsleuthError
    from chainsleuth.store.db import open_store, session_scope

    try:
        engine = open_store(get_settings().resolved_database_url)
    except ChainsleuthError as error:
        return {"attribution": None, "attribution_unavailable": f"tag database: {error}"}
    try:
        with session_scope(engine) as session:
            tags = [t for t in find_tags(session, network=chain) if t.address]
    finally:
        engine.dispose()
    ids = address_ids(store, chain, [t.address or "" for t in tags])
    members = set(np.asarray(member_ids).tolist())
    mine = [t for t, i in zip(tags, ids.tolist(), strict=True) if i in members]
    resolved = resolve_to_clusters(mine, lambda _: f"{chain}:{cluster}") if mine else {}
    return {"attribution": attribution_dict(resolved.get(f"{chain}:{cluster}"))}


@app.command("change")
def change_cmd(
    tx_hash: str = typer.Argument(..., metavar="TX_HASH", help="Hash of a bitcoin transaction."),
    chain: str = ChainOption,
    heuristic: list[str] | None = typer.Option(None, "--heuristic", help="Only these heuristics (repeatable)."),
    store_dir: Path | None = StoreOption,
) -> None:
    """Each change heuristic's verdict on one transaction (fired → output, confidence; or why not), and
    whether the transaction is a CoinJoin (then no heuristic applies)."""
    store = _store(store_dir)
    record = store.transaction(chain, tx_hash)
    if record is None:
        raise NotFoundError("transaction not in the chain store", chain=chain, hash=tx_hash)
    tx_id = int(record["tx_id"])
    view = load_utxo_view(store, chain)
    coinjoins = detect_coinjoins(view.in_tx, view.in_address, view.out_tx, view.out_address, view.out_value)
    names = check_heuristics(heuristic or list(HEURISTICS))
    result = change_candidates(view, names, tx_ids=[tx_id], exclude_tx=coinjoins.flagged_tx_ids)
    verdicts = result.for_tx(tx_id)
    outputs = {int(o["output_index"]): o for o in record.get("outputs", [])}
    table = Table(title=f"change heuristics on {tx_hash}")
    for column in ("heuristic", "verdict", "output", "address", "confidence", "reason"):
        table.add_column(column)
    for verdict in verdicts:
        fired = bool(verdict["fired"])
        index = int(str(verdict["output_index"])) if fired else -1
        table.add_row(
            str(verdict["heuristic"]),
            "[green]change[/]" if fired else "–",
            str(index) if fired else "",
            str(outputs.get(index, {}).get("address", "")) if fired else "",
            f"{verdict['confidence']:.2f}" if fired else "",
            str(verdict["reason"]),
        )
    stdout.print(table)
    explained = coinjoins.explain(tx_id)
    stdout.print(
        f"CoinJoin: {'yes' if explained['coinjoin'] else 'no'} (score {explained['score']:.1f}; {explained['reason']})"
    )


@app.command("quality")
def quality(
    world_dir: Path = typer.Argument(..., help="A generated world directory (with ground_truth/ and tagpacks/)."),
    chain: list[str] | None = typer.Option(None, "--chain", "-c", help="Chains to score (default: all ingested)."),
    change: list[str] | None = ChangeOption,
    min_confidence: float = MinConfidenceOption,
    store_dir: Path | None = StoreOption,
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """Cluster precision, recall and F1 (pairwise and B-cubed) against the world's true address owners.

    Runs the clustering (incrementally) with the given options first, taking Ethereum's exchange wallets from
    the world's public TagPacks. Also prints the all-singletons baseline and, on bitcoin, the precision of
    every change heuristic's links, measured on the transactions where it fired.
    """
    store = _store(store_dir)
    chains = chain or store.chains()
    with _stages("clustering", total=4 * len(chains)) as update:
        results = quality_report(store, world_dir, chains, change=change or (), min_confidence=min_confidence,
                                 progress=update)  # fmt: skip
    if as_json:
        typer.echo(json.dumps(results, indent=2))
        return
    table = Table(title=f"cluster quality against {world_dir}/ground_truth")
    for column in ("chain", "measure", "precision", "recall", "F1", "addresses", "clusters", "owners"):
        table.add_column(column, justify="left" if column in ("chain", "measure") else "right")
    for name, entry in results.items():
        for label, key in (("clustering", "clustering"), ("singletons", "singletons_baseline")):
            q = entry[key]
            assert isinstance(q, dict)
            for kind in ("pairwise", "bcubed"):
                table.add_row(
                    name,
                    f"{label} {kind}",
                    f"{q[f'{kind}_precision']:.4f}",
                    f"{q[f'{kind}_recall']:.4f}",
                    f"{q[f'{kind}_f1']:.4f}",
                    f"{q['addresses']:,}",
                    f"{q['clusters']:,}",
                    f"{q['owners']:,}",
                )
    stdout.print(table)
    for name, entry in results.items():
        precision = entry.get("change_link_precision")
        if isinstance(precision, dict):
            sub = Table(title=f"{name}: precision of change links (all heuristics, measured where each fired)")
            for column in ("heuristic", "links", "correct", "precision"):
                sub.add_column(column, justify="left" if column == "heuristic" else "right")
            for h, figures in precision.items():
                sub.add_row(h, f"{figures['links']:,}", f"{figures['correct']:,}", f"{figures['precision']:.4f}")
            stdout.print(sub)
