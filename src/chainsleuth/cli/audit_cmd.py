"""``chainsleuth audit``: verify, read and export the hash-chained audit log.

The log records every reveal of personal data and every action on money or personal data (who, in which
role, what, why). ``verify`` recomputes the chain and the keyed MACs (with the master key file) and exits
non-zero, naming the first bad sequence number, if anything was altered, removed, inserted or reordered.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, TextIO

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from chainsleuth.cli.cases_cmd import store_session
from chainsleuth.cli.console import console
from chainsleuth.errors import IntegrityError, InvalidInputError
from chainsleuth.privacy import audit

app = typer.Typer(
    help="The tamper-evident audit log: verify its hash chain, show the latest entries, export as JSON lines.",
    no_args_is_help=True,
)
stdout = Console()


def _parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError("--since must be an ISO date or time, e.g. 2026-01-31 or 2026-01-31T12:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@app.command("verify")
def verify(
    no_key: Annotated[
        bool,
        typer.Option("--no-key", help="Check only the hash chain (no master key needed; weaker: see docs)."),
    ] = False,
) -> None:
    """Verify every entry: sequence, hash links, hashes, keyed MACs and the chain head.

    Exit code 0 when intact; 70 with the first bad sequence number and what is wrong there otherwise.
    """
    with store_session() as session:
        report = audit.verify(session, keyed=not no_key)
    if not report.ok:
        raise IntegrityError(
            f"audit log tampered at entry {report.first_bad_seq}: {report.problem}",
            first_bad_seq=report.first_bad_seq,
        )
    mode = "hashes and MACs" if report.keyed else "hashes only"
    console.print(f"audit log intact: {report.entries:,} entries, last {report.last_seq} ({mode})")


@app.command("tail")
def tail(
    lines: Annotated[int, typer.Option("-n", "--lines", min=1, help="How many of the latest entries.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
) -> None:
    """Show the latest entries, oldest first."""
    with store_session() as session:
        entries = [audit.entry_dict(entry) for entry in audit.tail(session, lines)]
    if as_json:
        for entry in entries:
            sys.stdout.write(json.dumps(entry, ensure_ascii=False) + "\n")
        return
    table = Table(title="audit log")
    for column in ("seq", "time (UTC)", "actor", "role", "action", "object", "purpose"):
        table.add_column(column, no_wrap=column != "purpose")
    for e in entries:
        obj = f"{e['object_type']}:{e['object_id']}" if e["object_id"] else e["object_type"]
        table.add_row(
            str(e["seq"]), e["occurred_at"][:19], e["actor"], e["actor_role"], e["action"], obj, e["purpose"] or ""
        )
    stdout.print(table)


@app.command("export")
def export(
    since: Annotated[
        str | None, typer.Option(help="Only entries at or after this ISO date/time (UTC if no zone).")
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")] = None,
) -> None:
    """Export entries as JSON lines (one object per entry, with hashes and MACs) for archiving or a SIEM."""
    moment = _parse_since(since)
    with store_session() as session:
        if output is None:
            count = _write(session, moment, sys.stdout)
        else:
            with output.open("w", encoding="utf-8") as handle:
                count = _write(session, moment, handle)
    console.print(f"exported {count:,} entries" + (f" to {output}" if output else ""))


def _write(session: Session, since: datetime | None, handle: TextIO) -> int:
    count = 0
    for entry in audit.entries_since(session, since):
        handle.write(json.dumps(audit.entry_dict(entry), ensure_ascii=False) + "\n")
        count += 1
    return count
