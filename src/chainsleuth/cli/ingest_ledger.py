"""``chainsleuth ingest ledger DIR``: load a world's exchange export (customers, accounts, ledger) into the
store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import TaskID

from chainsleuth.cli.console import console, progress_bar
from chainsleuth.config import get_settings
from chainsleuth.ingest.ledger import load_exchange
from chainsleuth.store.db import open_store


def ledger(
    world_dir: Annotated[
        Path,
        typer.Argument(help="A generated world (or an export with the same exchange/ layout).", file_okay=False),
    ],
) -> None:
    """Load exchange/*.parquet (or *.csv) of WORLD_DIR; safe to re-run, resumes an interrupted load."""
    engine = open_store(get_settings().resolved_database_url)
    tasks: dict[str, TaskID] = {}
    try:
        with progress_bar() as bar:

            def progress(table: str, done: int, total: int) -> None:
                if table not in tasks:
                    tasks[table] = bar.add_task(table, total=total)
                bar.update(tasks[table], completed=done)

            report = load_exchange(world_dir, engine, progress)
    finally:
        engine.dispose()
    for table in report.tables:
        if table.already_loaded:
            note = "already loaded"
        else:
            note = f"{table.rows_inserted:,} inserted"
            if table.rows_already_present:
                note += f", {table.rows_already_present:,} already present"
            if table.resumed_from_row:
                note += f", resumed after row {table.resumed_from_row:,}"
        console.print(f"{table.table}: {table.rows_in_file:,} rows in {table.path.name} ({note})", soft_wrap=True)
    console.print(f"loaded {report.rows_inserted:,} rows in {report.seconds:.1f} s")
