"""``chainsleuth world``: generate, summarise and verify simulated worlds."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from chainsleuth.cli.console import console, progress_bar

app = typer.Typer(
    help=(
        "Simulated worlds: two blockchains, our exchange and its customers, other services and criminals "
        "following known typologies, with ground truth. Used by the demo, tests, benchmarks and the academy."
    ),
    no_args_is_help=True,
)


@app.command("generate")
def generate(
    out: Path = typer.Option(..., "--out", "-o", help="Directory to write the world into (created if missing)."),
    size: str = typer.Option(
        "tiny",
        "--size",
        "-s",
        help="Preset (tiny ≈ 5k on-chain transfers and ~200 customers, small ≈ 50k, demo ≈ 200k, 1m, 10m) "
        "or a number of transfers such as 250000 or 3m. A transfer is a bitcoin transaction, an "
        "ethereum transaction or a token transfer.",
    ),
    seed: int = typer.Option(1, "--seed", help="Random seed: the same seed and size give byte-identical files."),
    fmt: str = typer.Option(
        "jsonl",
        "--format",
        "-f",
        help="jsonl: chain files as JSON lines and exchange tables as Parquet; csv: everything as CSV.",
    ),
    customers: int | None = typer.Option(
        None, "--customers", help="Override the number of ordinary customers (default: transfers / 25)."
    ),
    force: bool = typer.Option(
        False,
        "--force",
        help="Replace an earlier world in OUT. Refused (nothing deleted) unless OUT holds a world's "
        "manifest.json and only the files that world wrote.",
    ),
) -> None:
    """Generate a deterministic world into OUT (layout and formats: docs/export-formats.md)."""
    from chainsleuth.world import WorldConfig, generate_world
    from chainsleuth.world.generator import prepare_out_dir

    config = WorldConfig.from_size(size, seed=seed, fmt=fmt, customers=customers)  # validates size and format
    prepare_out_dir(out, force)  # fail before drawing the progress bar
    with progress_bar() as bar:
        task = bar.add_task(f"simulating {config.n_days} days", total=config.n_days)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        manifest = generate_world(config, out, progress)
    _print_summary(out)
    console.print(f"[green]world written to[/] {out} ({manifest.transfers:,} on-chain transfers)")


@app.command("summary")
def summary(
    directory: Path = typer.Argument(..., help="A directory written by `chainsleuth world generate`."),
    as_json: bool = typer.Option(False, "--json", help="Print the counts and incidents as JSON on stdout."),
) -> None:
    """Show what a generated world contains: row counts and the criminal incidents of its ground truth."""
    if as_json:
        from chainsleuth.world import load_manifest

        manifest = load_manifest(directory)
        typer.echo(json.dumps({"row_counts": manifest.row_counts, "incidents": _incidents(directory)}, indent=2))
        return
    _print_summary(directory)


@app.command("verify")
def verify(
    directory: Path = typer.Argument(..., help="A directory written by `chainsleuth world generate`."),
) -> None:
    """Check a world: file hashes against manifest.json, both chains and the ledger replayed, ground truth,
    label files and TagPacks against each other.

    Exit code 65 if an invariant fails or a file cannot be parsed (the message names the file and line), 66 if a
    file is missing. It holds every unspent bitcoin output, balance and ledger event in memory, so it is meant for
    worlds up to about the 1m preset; a progress bar shows the stage it is in.
    """
    from chainsleuth.errors import MalformedFileError
    from chainsleuth.world.verify import verify_world

    bar = progress_bar()
    bar.disable = not bar.console.is_terminal  # as stage_bar: a pipe or log gets no last frame in its output
    with bar:
        task = bar.add_task("verifying", total=None)

        def progress(done: int, total: int, stage: str) -> None:
            bar.update(task, completed=done, total=total, description=f"verify: {stage}")

        report = verify_world(directory, progress)
    for name, count in report.checked.items():
        console.print(f"checked {count:,} {name.replace('_', ' ')}")
    if not report.ok:
        for problem in report.problems[:50]:
            console.print(f"[red]✗[/] {problem}", markup=True, highlight=False)
        raise MalformedFileError(f"{len(report.problems)} invariant violations", path=str(directory))
    console.print("[green]all invariants hold[/]")


def _incidents(directory: Path) -> list[dict[str, object]]:
    path = Path(directory) / "ground_truth" / "incidents.jsonl"
    if not path.is_file():
        return []
    rows = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            inc = json.loads(line)
            rows.append(
                {
                    "incident_id": inc["incident_id"],
                    "typology": inc["typology"],
                    "pattern": inc["pattern"],
                    "amount_usd": inc["amount_usd"],
                    "customers": len(inc["customer_ids"]),
                    "txs": len(inc["tx_hashes"]["bitcoin"]) + len(inc["tx_hashes"]["ethereum"]),
                    "events": len(inc["event_ids"]),
                    "start": inc["start"][:10],
                }
            )
    return rows


def _print_summary(directory: Path) -> None:
    from chainsleuth.world import load_manifest

    manifest = load_manifest(directory)
    counts = Table(title=f"world {manifest.size} seed {manifest.seed} ({manifest.start[:10]} – {manifest.end[:10]})")
    counts.add_column("table")
    counts.add_column("rows", justify="right")
    for name, value in manifest.row_counts.items():
        counts.add_row(name.replace("_", " "), f"{value:,}")
    counts.add_row("[bold]on-chain transfers[/]", f"[bold]{manifest.transfers:,}[/]")
    console.print(counts)
    incidents = Table(title="ground-truth incidents")
    for column in ("id", "typology", "amount USD", "customers", "txs", "events", "start"):
        incidents.add_column(
            column, justify="right" if column in ("amount USD", "customers", "txs", "events") else "left"
        )
    for row in _incidents(directory):
        label = str(row["typology"]) + (f" ({row['pattern']})" if row["pattern"] else "")
        incidents.add_row(
            str(row["incident_id"]),
            label,
            f"{row['amount_usd']:,.0f}",
            str(row["customers"]),
            str(row["txs"]),
            str(row["events"]),
            str(row["start"]),
        )
    console.print(incidents)
