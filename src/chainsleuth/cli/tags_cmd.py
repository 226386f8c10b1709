"""``chainsleuth tags``: the attribution tag store (TagPacks, ActorPacks, OFAC lists, analysts' tags).

Every command works on the relational store configured by ``CHAINSLEUTH_DATABASE_URL`` (run
``chainsleuth db upgrade`` first). Imports are all-or-nothing: every file is validated before the first row
is written, and a malformed file stops the command with its name and line (exit code 65).
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from chainsleuth.chain.attribution.actorpack import ParsedActorPack, parse_actorpack
from chainsleuth.chain.attribution.clusters import attribute_cluster
from chainsleuth.chain.attribution.store import (
    ImportReport,
    add_tag,
    export_actorpack,
    export_tagpack,
    import_actorpack,
    import_ofac,
    import_tagpack,
    is_actorpack,
    pack_files,
    tags_for,
)
from chainsleuth.chain.attribution.tagpack import ParsedTagPack, parse_tagpack
from chainsleuth.chain.attribution.taxonomy import get_taxonomy
from chainsleuth.cli.console import console, progress_bar
from chainsleuth.config import get_settings
from chainsleuth.errors import NotFoundError
from chainsleuth.store.db import open_store, session_scope

app = typer.Typer(
    help=(
        "Attribution tags: import GraphSense TagPacks/ActorPacks and OFAC sanctioned-address lists, add "
        "analysts' tags, look addresses up, export TagPacks, browse the taxonomies."
    ),
    no_args_is_help=True,
)
stdout = Console()


@contextmanager
def _session() -> Iterator[Session]:
    engine = open_store(get_settings().resolved_database_url)
    try:
        with session_scope(engine) as session:
            yield session
    finally:
        engine.dispose()


def _print_reports(reports: list[ImportReport]) -> None:
    table = Table(title="imported")
    table.add_column("file", no_wrap=True, overflow="ellipsis", max_width=32)
    for column in ("kind", "status"):
        table.add_column(column, no_wrap=True)
    for column in ("in file", "imported", "dups", "replaced"):
        table.add_column(column, justify="right")
    for report in reports:
        table.add_row(
            Path(report.path).name,
            report.kind,
            report.status,
            f"{report.in_file:,}",
            f"{report.imported:,}",
            f"{report.duplicates:,}",
            f"{report.removed:,}",
        )
    stdout.print(table)
    for report in reports:
        for warning in report.warnings:
            stdout.print(f"[yellow]warning:[/] {Path(report.path).name}: {warning}")


@app.command("import")
def import_packs(
    paths: list[Path] = typer.Argument(..., help="TagPack/ActorPack YAML files, or directories searched for *.yaml."),
    as_json: bool = typer.Option(False, "--json", help="Print the per-pack reports as JSON on stdout."),
) -> None:
    """Import GraphSense TagPacks and ActorPacks (files named *actorpack.yaml are ActorPacks).

    Every file is validated against the packaged schema and taxonomies first; nothing is written unless all
    are valid. Re-importing an unchanged file adds nothing; a changed file replaces the tags it brought
    before. The report lists, per pack, the tags in the file, imported, skipped as duplicates, replaced, and
    warnings (for example a default confidence).
    """
    files = pack_files(paths)
    taxonomy = get_taxonomy()
    with progress_bar(transient=True) as progress:
        task = progress.add_task("validating", total=len(files))
        parsed: list[ParsedTagPack | ParsedActorPack] = []
        for file in files:
            progress.update(task, description=f"validating {file.name}")
            if is_actorpack(file):
                parsed.append(parse_actorpack(file, taxonomy=taxonomy))
            else:
                parsed.append(parse_tagpack(file, taxonomy=taxonomy))
            progress.advance(task)
        reports: list[ImportReport] = []
        with _session() as session:
            task = progress.add_task("importing", total=sum(pack.total for pack in parsed))
            for file, pack in zip(files, parsed, strict=True):
                progress.update(task, description=f"importing {file.name}")
                if isinstance(pack, ParsedActorPack):
                    reports.append(import_actorpack(session, file, parsed=pack))
                else:
                    reports.append(import_tagpack(session, file, parsed=pack))
                progress.advance(task, pack.total)
    if as_json:
        typer.echo(json.dumps([report.__dict__ for report in reports], indent=2))
    else:
        _print_reports(reports)


@app.command("import-ofac")
def import_ofac_list(
    path: Path = typer.Argument(..., help="Directory of sanctioned_addresses_<TICKER>.txt/.json files, or one file."),
    list_date: str | None = typer.Option(
        None, "--date", help="Date of the list (YYYY-MM-DD); default: the newest file's modification date."
    ),
) -> None:
    """Import the OFAC SDN sanctioned digital-currency addresses as tags of category 'sanction'.

    Tickers map to networks (XBT → bitcoin, ETH/USDC → ethereum, USDT by address format, TRX, LTC, ...).
    Tags get source "OFAC SDN list", confidence authority_data and creator "OFAC import". A newer list
    replaces the previous one, so delisted addresses stop matching.
    """
    try:
        when = dt.date.fromisoformat(list_date) if list_date else None
    except ValueError as error:
        raise typer.BadParameter("expected YYYY-MM-DD", param_hint="--date") from error
    with _session() as session:
        report = import_ofac(session, path, list_date=when)
    _print_reports([report])


@app.command("add")
def add(
    address: str = typer.Argument(..., help="The address (or, with --tx, the transaction hash) to tag."),
    network: str = typer.Option(..., "--network", "-n", help="bitcoin, ethereum, or a ticker such as BTC, LTC."),
    label: str = typer.Option(..., "--label", help="Who or what the address belongs to."),
    category: str | None = typer.Option(None, "--category", help="A concept id, e.g. exchange (see `tags taxonomy`)."),
    abuse: str | None = typer.Option(None, "--abuse", help="An abuse concept id, e.g. ransomware, scam."),
    source: str = typer.Option(..., "--source", help="Where the claim comes from: case number, URL, document."),
    confidence: str = typer.Option(..., "--confidence", help="A confidence id, e.g. forensic_investigation."),
    actor: str | None = typer.Option(None, "--actor", help="Actor id this address belongs to."),
    creator: str | None = typer.Option(None, "--creator", help="Who makes the claim (default: your user name)."),
    tx: bool = typer.Option(False, "--tx", help="ADDRESS is a transaction hash."),
) -> None:
    """Record an analyst's tag, validated against the taxonomy, with its source, confidence and creator."""
    who = creator or os.environ.get("CHAINSLEUTH_USER") or getpass.getuser()
    with _session() as session:
        tag = add_tag(
            session,
            creator=who,
            network=network,
            address=None if tx else address,
            tx_hash=address if tx else None,
            label=label,
            category=category,
            abuse=abuse,
            source=source,
            confidence=confidence,
            actor=actor,
        )
    console.print(f"tag {tag.id} added: {tag.network} {tag.subject} → {tag.label} ({tag.confidence}, by {tag.creator})")


@app.command("show")
def show(
    address: str = typer.Argument(..., help="The address to look up."),
    network: str = typer.Option(..., "--network", "-n", help="bitcoin, ethereum, or a ticker."),
    as_json: bool = typer.Option(False, "--json", help="Print the tags as JSON."),
) -> None:
    """Every tag on an address with its evidence (source, confidence, creator, date, pack and line).

    Then: the label the address is shown under and why (highest confidence, then the most recent
    tag), and every conflict between the tags (different categories, labels or actors). Nothing is hidden.
    """
    with _session() as session:
        tags = tags_for(session, network, [address]).get(address, [])
    if as_json:
        typer.echo(json.dumps([{**tag.__dict__} for tag in tags], indent=2, default=str))
        return
    if not tags:
        raise NotFoundError("no tags on this address", address=address, network=network)
    stdout.print(f"[bold]{address}[/] on {tags[0].network}: {len(tags)} tag(s), most trusted first")
    for number, tag in enumerate(tags, start=1):
        kinds = ", ".join(
            f"{name}={value}" for name, value in (("category", tag.category), ("abuse", tag.abuse)) if value
        )
        where = tag.tagpack or ""
        if tag.tagpack and tag.line:
            where = f"{Path(tag.tagpack).name}:{tag.line}"
        stdout.print(f"[{number}] [bold]{tag.label}[/]  {kinds}  confidence={tag.confidence} ({tag.confidence_level})")
        stdout.print(f"    source: {tag.source}", soft_wrap=True)
        stdout.print(
            f"    creator: {tag.creator} · date: {tag.lastmod or ''} · origin: {tag.origin}"
            + (f" ({where})" if where else "")
            + (f" · actor: {tag.actor}" if tag.actor else "")
        )
    summary = attribute_cluster(address, tags)
    stdout.print(f"shown as [bold]{summary.label}[/] ({summary.category or 'no category'}): {summary.reason}")
    for conflict in summary.conflicts:
        stdout.print(f"[yellow]conflict:[/] {conflict}; all tags are kept")


@app.command("export")
def export(
    out: Path = typer.Option(..., "--out", "-o", help="TagPack (or, with --actors, *actorpack.yaml) file to write."),
    actors: bool = typer.Option(
        False, "--actors", help="Export the store's actors as an ActorPack instead of tags (--category filters)."
    ),
    origin: str | None = typer.Option(None, "--origin", help="Only tags from: tagpack, ofac or analyst."),
    network: str | None = typer.Option(None, "--network", "-n", help="Only tags on this network."),
    category: str | None = typer.Option(None, "--category", help="Only tags with this category or abuse."),
    title: str | None = typer.Option(None, "--title", help="Title of the pack."),
    creator: str | None = typer.Option(None, "--creator", help="Creator of the pack (default: the tags' creator)."),
) -> None:
    """Export tags as a GraphSense TagPack, or with --actors the actors as an ActorPack.

    Both are schema-valid and re-importable here and by GraphSense; export the actors next to the tags so that
    every tag's actor id resolves at the recipient.
    """
    if actors:
        with _session() as session:
            path, count = export_actorpack(session, out, title=title, creator=creator or "chainsleuth export",
                                           category=category)  # fmt: skip
        console.print(f"{count:,} actors written to {path}")
        return
    with _session() as session:
        path, count = export_tagpack(
            session, out, origin=origin, network=network, category=category, title=title, creator=creator
        )
    console.print(f"{count:,} tags written to {path}")


@app.command("taxonomy")
def taxonomy(
    which: str = typer.Argument("concepts", help="concepts, confidence, tag_types or countries."),
) -> None:
    """List a taxonomy: concepts (with parents), confidence levels (numeric level), tag types, countries."""
    tax = get_taxonomy()
    table = Table(title=which)
    if which == "concepts":
        for column in ("id", "label", "parent", "description"):
            table.add_column(column)
        for concept in sorted(tax.concepts.values(), key=lambda c: c.id):
            table.add_row(concept.id, concept.label, concept.parent or "", concept.description)
    elif which == "confidence":
        for column in ("id", "level", "label", "description"):
            table.add_column(column)
        for level in sorted(tax.confidence.values(), key=lambda c: -c.level):
            table.add_row(level.id, str(level.level), level.label, level.description)
    elif which in ("tag_types", "countries"):
        terms = tax.tag_types if which == "tag_types" else tax.countries
        for column in ("id", "label", "description"):
            table.add_column(column)
        for term in terms.values():
            table.add_row(term.id, term.label, term.description)
    else:
        raise typer.BadParameter("choose concepts, confidence, tag_types or countries", param_hint="WHICH")
    stdout.print(table)
