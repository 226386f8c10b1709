"""``chainsleuth chain trace | exposure | path``: follow funds, rate exposure, find connections.

Each command loads the flow graph of the chain store (both chains, linked across the bridge), the tags that
say where traces stop (the tag database, or TagPack files with ``--tagpacks``), optionally the clusters of
``chainsleuth chain cluster run`` (every address of a tagged cluster then stops a trace) and our own deposit
addresses (``--deposits``: a trace then ends at the customer's account). Every result carries its evidence;
``--json`` prints it whole for reports and other tools.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from chainsleuth.api.investigate import entity_members, parse_time
from chainsleuth.chain.attribution.records import TagRecord
from chainsleuth.chain.clustering.persist import cluster_arrays
from chainsleuth.chain.exposure import ExposurePolicy, entity_exposure
from chainsleuth.chain.paths import find_paths
from chainsleuth.chain.tracing import (
    Direction,
    FlowGraph,
    Policy,
    PriceTable,
    StopEntity,
    StopSet,
    StoreResolver,
    TraceResult,
    load_flow_graph,
    resolve_source,
    stops_from_addresses,
    stops_from_tags,
    trace,
)
from chainsleuth.cli.console import console
from chainsleuth.config import get_settings
from chainsleuth.errors import InvalidInputError
from chainsleuth.store.chainstore import ChainStore

app = typer.Typer(help="Trace funds, rate exposure, and search paths between addresses.", no_args_is_help=True)
stdout = Console()

StoreOption = typer.Option(None, "--store", help="Chain store directory (default: the configured chain_dir).")
ChainOption = typer.Option("bitcoin", "--chain", "-c", help="Chain of the address or transaction: bitcoin or ethereum.")
TagpacksOption = typer.Option(
    None, "--tagpacks", help="Read tags from this TagPack file or directory instead of the tag database."
)
DepositsOption = typer.Option(
    None,
    "--deposits",
    help="Our deposit addresses (Parquet or CSV with chain, address, account_id, customer_id): traces end at "
    "the customer's account.",
)
PricesOption = typer.Option(None, "--prices", help="Daily prices CSV (date,asset,usd) to value amounts in USD.")
JsonOption = typer.Option(False, "--json", help="Print the whole result, evidence included, as JSON.")


@dataclass
class Context:
    store: ChainStore
    graph: FlowGraph
    services: StopSet
    tagged: StopSet
    prices: PriceTable | None
    notes: list[str]
    #: The address → cluster id array of each clustered chain.
    clusters: dict[str, Any]


def _tags(tagpacks: Path | None) -> list[TagRecord]:
    if tagpacks is not None:
        from chainsleuth.chain.attribution.tagpack import parse_tagpack

        files = sorted(tagpacks.glob("*.yaml")) if tagpacks.is_dir() else [tagpacks]
        return [tag for path in files if not path.name.endswith("actorpack.yaml") for tag in parse_tagpack(path).tags]
    from chainsleuth.chain.attribution.store import find_tags
    from chainsleuth.store.db import open_store, session_scope

    engine = open_store(get_settings().resolved_database_url)
    try:
        with session_scope(engine) as session:
            return [t for t in find_tags(session) if t.network in ("bitcoin", "ethereum")]
    finally:
        engine.dispose()


def _deposit_stops(graph: FlowGraph, store: ChainStore, path: Path) -> StopSet:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    table = pq.read_table(path) if path.suffix == ".parquet" else pacsv.read_csv(path)
    rows = table.to_pylist()
    entries = [
        (
            r["chain"],
            r["address"],
            StopEntity(
                str(r["account_id"]),
                f"our customer {r.get('customer_id')}",
                "exchange",
                source=str(path),
                confidence="ownership",
            ),
        )
        for r in rows
    ]
    return stops_from_addresses(graph, store, entries)


def _context(store_dir: Path | None, tagpacks: Path | None, deposits: Path | None, prices: Path | None) -> Context:
    store = ChainStore(store_dir if store_dir is not None else get_settings().chain_dir)
    notes: list[str] = []
    with console.status("loading the flow graph"):
        graph = load_flow_graph(store)
    try:
        tags = _tags(tagpacks)
    except Exception as exc:
        tags = []
        notes.append(f"no tags loaded ({exc}); traces will not stop at services")
    clusters = cluster_arrays(store.root, store.chains())
    services, tagged, _ = stops_from_tags(graph, store, tags, clusters)
    if deposits is not None:
        ours = _deposit_stops(graph, store, deposits)
        services, tagged = ours.merged(services), ours.merged(tagged)
    table = PriceTable.read(prices) if prices is not None else None
    return Context(store, graph, services, tagged, table, notes, clusters)


def _when(ts: int) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M")


def _print_trace(result: TraceResult, paths: int) -> None:
    title = (
        f"{result.direction} {result.policy} trace of {result.source}: {result.traced_value:,.8g} "
        f"{result.traced_asset}, {result.hops} hops, {result.terminal_count} terminals, {result.elapsed_ms:.0f} ms"
    )
    table = Table(title=title)
    for column in ("entity", "label", "category", "reason", "chain", "amount", "asset", "share", "USD", "hops"):
        table.add_column(column, justify="right" if column in ("amount", "share", "USD", "hops") else "left")
    for t in result.terminals:
        table.add_row(
            t.entity,
            t.label or "",
            t.category or "",
            t.reason,
            t.chain,
            f"{t.amount:,.8g}",
            t.asset,
            f"{t.share:.2%}",
            f"{t.amount_usd:,.0f}" if t.amount_usd is not None else "",
            str(t.paths[0].hop_count) if t.paths else "",
        )
    stdout.print(table)
    stdout.print("shares by reason: " + ", ".join(f"{k} {v:.2%}" for k, v in sorted(result.shares.items())))
    for t in result.terminals[:paths]:
        for path in t.paths[:1]:
            stdout.print(f"\n[bold]evidence → {t.entity}[/bold] ({t.label or t.reason})")
            for hop in path.hops:
                memo = f"  bridge memo {hop.bridge_memo}" if hop.bridge_memo else ""
                stdout.print(
                    f"  {_hop_label(hop.hop)} {_when(hop.timestamp)} {hop.chain} {hop.tx_hash}  "
                    f"{hop.from_address or '(inputs)'} → "
                    f"{hop.to_address}  {hop.value:,.8g} {hop.asset}, taint {hop.taint:,.8g}{memo}"
                )


def _hop_label(hop: int) -> str:
    """``1.``, ``2.``... for counted hops; ``src`` for the source's own leg (e.g. the output that funded it)."""
    return f"{hop}." if hop > 0 else "src"


F = TypeVar("F", bound=Callable[..., Any])


def _reflow(func: F) -> F:
    """Join the docstring's wrapped lines into paragraphs: the docstring is the command's ``--help`` text and
    rich help keeps single line breaks, which the terminal would then break a second time."""
    doc = inspect.cleandoc(func.__doc__ or "")
    func.__doc__ = "\n\n".join(" ".join(p.split()) for p in doc.split("\n\n"))
    return func


@app.command("trace")
@_reflow
def trace_cmd(
    target: str = typer.Argument(..., help="An address, a transaction hash, or TXHASH:INDEX for one bitcoin output."),
    chain: str = ChainOption,
    direction: str = typer.Option("forward", "--direction", "-d", help="forward (where did it go) or backward."),
    policy: str = typer.Option(
        "haircut",
        "--policy",
        "-p",
        help="poison (any taint taints everything after), haircut (pro rata) or fifo (first in, first out).",
    ),
    hops: int = typer.Option(
        5,
        "--hops",
        min=1,
        help="Maximum transactions to follow after the source. The output that funded a bitcoin address (or "
        "the transaction traced backward) is shown as hop 'src' and not counted.",
    ),
    since: str | None = typer.Option(None, "--since", help="Ignore movements before this (ISO date/time or unix)."),
    until: str | None = typer.Option(None, "--until", help="Ignore movements after this (ISO date/time or unix)."),
    min_value: float = typer.Option(0.0, "--min-value", help="Drop tainted amounts below this (coins of the asset)."),
    asset: str | None = typer.Option(None, "--asset", help="Account chains: the asset to trace (ETH, USDT...)."),
    no_bridge: bool = typer.Option(False, "--no-bridge", help="Stop at the bridge instead of crossing it."),
    top_k: int = typer.Option(3, "--top-k", help="Evidence paths kept per terminal."),
    limit: int = typer.Option(30, "--limit", help="Terminals listed, 0 for all (the shares always cover all)."),
    show_paths: int = typer.Option(5, "--show-paths", help="Terminals whose best path is printed."),
    store_dir: Path | None = StoreOption,
    tagpacks: Path | None = TagpacksOption,
    deposits: Path | None = DepositsOption,
    prices: Path | None = PricesOption,
    as_json: bool = JsonOption,
) -> None:
    """Follow funds from an address, a transaction or an output to where they end (or came from).

    The trace stops at attributed services (exchanges, mixers, markets...) and crosses the bridge between
    the chains using its public memos. Every terminal is listed with amount, share of the traced value and
    the paths that justify it (transaction, addresses, amount and taint per hop).
    """
    if direction not in ("forward", "backward"):
        raise InvalidInputError("direction must be forward or backward", direction=direction)
    if policy not in ("poison", "haircut", "fifo"):
        raise InvalidInputError("policy must be poison, haircut or fifo", policy=policy)
    ctx = _context(store_dir, tagpacks, deposits, prices)
    dir_: Direction = "backward" if direction == "backward" else "forward"
    pol: Policy = "poison" if policy == "poison" else ("fifo" if policy == "fifo" else "haircut")
    source = resolve_source(ctx.graph, ctx.store, chain, target, dir_, asset=asset)
    result = trace(
        ctx.graph,
        source,
        direction=dir_,
        policy=pol,
        hops=hops,
        since=parse_time(since, "since"),
        until=parse_time(until, "until"),
        min_value=min_value,
        stops=ctx.services,
        cross_bridge=not no_bridge,
        top_k=top_k,
        max_terminals=limit or None,
        resolver=StoreResolver(ctx.store),
        prices=ctx.prices,
    )
    result.notes.extend(ctx.notes)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2, default=str))
        return
    for note in ctx.notes:
        console.print(f"[yellow]{note}[/yellow]")
    _print_trace(result, show_paths)


def _entity_addresses(ctx: Context, chain: str, address: str, cluster: bool) -> list[int]:
    return entity_members(ctx.store, ctx.clusters, chain, address, cluster)


@app.command("exposure")
@_reflow
def exposure_cmd(
    address: str = typer.Argument(..., help="The address to rate."),
    chain: str = ChainOption,
    hops: int | None = typer.Option(None, "--hops", help="Hops of indirect exposure (default: the policy's)."),
    cluster: bool = typer.Option(False, "--cluster", help="Rate the address's whole cluster."),
    policy_file: Path | None = typer.Option(None, "--policy", help="Risk policy YAML (default: the shipped one)."),
    store_dir: Path | None = StoreOption,
    tagpacks: Path | None = TagpacksOption,
    deposits: Path | None = DepositsOption,
    prices: Path | None = PricesOption,
    as_json: bool = JsonOption,
) -> None:
    """Exposure of an address (or its cluster) to sanctioned, criminal and other categories, with a risk tier.

    Direct exposure is to counterparties; indirect up to --hops transactions away, incoming (where its funds
    came from) and outgoing (where they went), as shares of its volume. Each category lists its evidence: the
    tagged entity, the tag's source and confidence, and a path to it. The tier comes from the risk policy.
    """
    ctx = _context(store_dir, tagpacks, deposits, prices)
    policy = ExposurePolicy.load(policy_file) if policy_file is not None else ExposurePolicy.default()
    members = _entity_addresses(ctx, chain, address, cluster)
    result = entity_exposure(
        ctx.graph,
        chain,
        members,
        ctx.tagged,
        policy=policy,
        hops=hops,
        label=address,
        prices=ctx.prices,
        resolver=StoreResolver(ctx.store),
    )
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2, default=str))
        return
    volume = ", ".join(f"{k} {v:,.8g} {result.unit}" for k, v in result.volume.items())
    table = Table(title=f"exposure of {address} ({len(members)} address(es)), {result.hops} hops: {volume}")
    for column in ("category", "direction", "direct", "indirect", "value", "evidence (label · source · confidence)"):
        table.add_column(column)
    for c in result.categories:
        ev = c.evidence[0] if c.evidence else None
        table.add_row(
            c.category,
            c.direction,
            f"{c.direct_share:.2%}",
            f"{c.indirect_share:.2%}",
            f"{c.value:,.8g}",
            f"{ev.label} · {ev.tag_source} · {ev.confidence}" if ev else "",
        )
    stdout.print(table)
    stdout.print(f"risk tier: [bold]{result.tier or 'none'}[/bold] (policy {policy.source})")
    for reason in result.reasons:
        stdout.print(
            f"  {reason.tier}: {reason.category} {reason.mode} {reason.direction} {reason.share:.2%} "
            f"≥ {reason.threshold:.2%}"
        )


@app.command("path")
@_reflow
def path_cmd(
    source: str = typer.Argument(..., help="From this address, or from every address of cluster:<id>."),
    target: str = typer.Argument(..., help="To this address, or to any address of cluster:<id>."),
    chain: str = ChainOption,
    to_chain: str | None = typer.Option(
        None, "--to-chain", help="Chain of TARGET when it differs (across the bridge)."
    ),
    max_depth: int = typer.Option(
        6,
        "--max-depth",
        min=1,
        help="Maximum transactions on a path (the output that funded a bitcoin source is shown as 'src' and "
        "not counted, as in a trace).",
    ),
    max_degree: int = typer.Option(1000, "--max-degree", help="Never route through nodes with more edges than this."),
    max_paths: int = typer.Option(3, "--max-paths", help="Paths returned."),
    cluster: bool = typer.Option(False, "--cluster", help="Search between the two addresses' whole clusters."),
    store_dir: Path | None = StoreOption,
    as_json: bool = JsonOption,
) -> None:
    """Shortest transaction paths from one address (or cluster) to another, each hop as evidence.

    SOURCE and TARGET are addresses or cluster:<id> (the id `chainsleuth chain cluster` shows: the smallest
    address id of the cluster); --cluster widens plain addresses to their whole clusters.

    A bidirectional breadth-first search; hubs above --max-degree are skipped and listed, so a "no path"
    answer says whether pruning could have hidden one.
    """
    store = ChainStore(store_dir if store_dir is not None else get_settings().chain_dir)
    with console.status("loading the flow graph"):
        graph = load_flow_graph(store)
    wants_clusters = cluster or any(x.strip().startswith("cluster:") for x in (source, target))
    clusters = cluster_arrays(store.root, store.chains()) if wants_clusters else {}
    ctx = Context(store, graph, StopSet.build([]), StopSet.build([]), None, [], clusters)
    ends: list[list[int]] = []
    for address, name in ((source, chain), (target, to_chain or chain)):
        offset = next((seg.address_offset for seg in graph.segments if seg.chain == name), None)
        if offset is None:
            raise InvalidInputError(
                "chain not in the chain store", chain=name, known=", ".join(sorted({s.chain for s in graph.segments}))
            )
        ends.append([offset + a for a in _entity_addresses(ctx, name, address, cluster)])
    result = find_paths(
        graph,
        ends[0],
        ends[1],
        max_depth=max_depth,
        max_degree=max_degree,
        max_paths=max_paths,
        resolver=StoreResolver(store),
    )
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2, default=str))
        return
    _print_paths(result.found, result.paths, result.skipped_hubs, result.notes)


def _print_paths(found: bool, paths: Sequence[Any], skipped: list[str], notes: list[str]) -> None:
    if not found:
        stdout.print("no path found: " + "; ".join(notes))
    for n, path in enumerate(paths, 1):
        table = Table(title=f"path {n}: {path.hop_count} hops")
        for column in ("hop", "time", "chain", "tx", "from", "to", "value", "asset", "bridge memo"):
            table.add_column(column)
        for hop in path.hops:
            table.add_row(
                _hop_label(hop.hop),
                _when(hop.timestamp),
                hop.chain,
                hop.tx_hash,
                hop.from_address or "(inputs)",
                hop.to_address or "",
                f"{hop.value:,.8g}",
                hop.asset,
                hop.bridge_memo or "",
            )
        stdout.print(table)
    if skipped:
        stdout.print(
            f"hubs skipped (degree above the limit): {', '.join(skipped[:20])}"
            + (f" and {len(skipped) - 20} more" if len(skipped) > 20 else "")
        )
