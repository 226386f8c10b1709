"""``chainsleuth privacy``: encryption keys, blind indexes, finding and revealing customers.

Key commands (``status``, ``rotate-key``, ``retire-key``, ``reindex``) are operator commands: they need the
master key file and database access, and are recorded in the audit log as ``system:operator:<os user>``.
``find`` and ``reveal`` act as a named platform user (``--as USERNAME``, password prompted, one-time code
when the user has one) and are subject to the same permissions and audit as the HTTP API.
"""

from __future__ import annotations

import getpass
import json
import os
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

from chainsleuth.cli.cases_cmd import store_engine
from chainsleuth.cli.console import console, progress_bar
from chainsleuth.privacy import audit, rotation
from chainsleuth.privacy.fields import find_customers, reindex
from chainsleuth.privacy.policy import SystemActor, UserActor, require
from chainsleuth.privacy.reveal import MIN_FREE_TEXT, PURPOSES, REVEALABLE_FIELDS, pseudonymise, reveal
from chainsleuth.store.db import session_scope
from chainsleuth.store.models.users import Role
from chainsleuth.store.users import authenticate, check_second_factor, needs_code_at_login

app = typer.Typer(
    help=(
        "Personal-data protection: field-encryption key status, rotation and retirement, blind-index rebuild, "
        "search by identifier and purpose-logged reveal."
    ),
    no_args_is_help=True,
)
stdout = Console()
AsUser = Annotated[str, typer.Option("--as", help="Your chainsleuth username; the password is prompted.")]


def _operator() -> SystemActor:
    return SystemActor(f"operator:{getpass.getuser()}")


def login(engine: Engine, username: str) -> UserActor:
    """Authenticate ``username`` interactively (password, then the one-time code, ``CHAINSLEUTH_TOTP`` or a prompt,
    if the user has 2FA: the same rule as :func:`chainsleuth.cli.cases_cmd.acting`).

    In a transaction of its own (a password-hash upgrade commits here), so that the command's own
    transaction has written nothing when a refusal must be audited separately.
    """
    password = typer.prompt("password", hide_input=True, err=True)
    with session_scope(engine) as session:
        user = authenticate(session, username, password)
        if needs_code_at_login(user):
            check_second_factor(user, os.environ.get("CHAINSLEUTH_TOTP") or typer.prompt("one-time code", err=True))
        return UserActor(username=user.username, role=Role(user.role), agency_id=user.agency_id)


@app.command("status")
def status(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """Key versions (active, decrypt_only, retired), how many stored values each encrypts, per column, and
    values still in clear text (a database upgraded from before encryption: run rotate-key).
    """
    with store_engine() as engine:
        report = rotation.key_status(engine)
    if as_json:
        stdout.print_json(
            json.dumps(
                {
                    "active_version": report.active_version,
                    "versions": [v.__dict__ for v in report.versions],
                    "unencrypted": report.unencrypted,
                    "per_column": report.per_column,
                }
            )
        )
        return
    table = Table(title=f"field-encryption keys (active: v{report.active_version})")
    for name in ("version", "state", "values"):
        table.add_column(name, justify="right" if name != "state" else "left")
    for version in report.versions:
        table.add_row(f"v{version.version}", version.state, f"{version.values:,}")
    stdout.print(table)
    stdout.print(f"values in clear text: {report.unencrypted:,}")


@app.command("rotate-key")
def rotate_key(
    batch_size: Annotated[int, typer.Option(min=1, help="Rows re-encrypted per committed batch.")] = 1_000,
) -> None:
    """Make a new key version active and re-encrypt every personal value with it, in committed batches.

    The previous version keeps decrypting meanwhile. Interrupted? Run it again: it resumes (values not yet at
    the active version are picked up) instead of starting another version. Afterwards retire the old version
    with `chainsleuth privacy retire-key VERSION`.
    """
    with store_engine() as engine, progress_bar() as bar:
        tasks: dict[str, object] = {}

        def progress(table: str, done: int) -> None:
            if table not in tasks:
                tasks[table] = bar.add_task(f"re-encrypting {table}", total=None)
            bar.update(tasks[table], completed=done)  # type: ignore[arg-type]

        report = rotation.rotate_key(engine, actor=_operator(), batch_size=batch_size, progress=progress)
    verb = "rotated to" if report.started_new_version else "resumed rotation to"
    console.print(f"{verb} key v{report.active_version}: {report.values:,} values re-encrypted")
    for table, count in report.reencrypted.items():
        console.print(f"  {table}: {count:,}")


@app.command("retire-key")
def retire_key(version: Annotated[int, typer.Argument(help="The key version to retire (not the active one).")]) -> None:
    """Refuse a key version from now on. Only allowed once no stored value is encrypted with it."""
    with store_engine() as engine:
        rotation.retire_key(engine, version, actor=_operator())
    console.print(f"key v{version} retired")


@app.command("reindex")
def reindex_command(
    batch_size: Annotated[int, typer.Option(min=1, help="Rows per committed batch.")] = 2_000,
) -> None:
    """Recompute every blind index from the decrypted values (after normalisation rules changed, or for rows
    written without the privacy layer). Safe to interrupt and re-run.
    """
    with store_engine() as engine:
        updated = reindex(engine, batch_size=batch_size)
        with session_scope(engine) as session:
            audit.record(session, _operator(), "privacy.reindex", "blind_index", None, details=updated)
    for table, count in updated.items():
        console.print(f"{table}: {count:,} rows re-indexed")


@app.command("find")
def find(
    as_user: AsUser,
    email: Annotated[str | None, typer.Option(help="E-mail address (case and spaces ignored).")] = None,
    phone: Annotated[str | None, typer.Option(help="Phone number with country code, any formatting.")] = None,
    name: Annotated[str | None, typer.Option(help="Full name (case, accents, punctuation ignored).")] = None,
    document: Annotated[str | None, typer.Option(help="Identity document number.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Find customers by exact identifier through blind indexes, without decrypting anything.

    Needs the customer.search permission; results are pseudonymised (use `reveal` with a purpose to see
    more). The search is audited by criterion kind, not by the searched values.
    """
    criteria = {"email": email, "phone": phone, "name": name, "document": document}
    with store_engine() as engine:
        actor = login(engine, as_user)
        require(actor, "customer.search")
        with session_scope(engine) as session:
            found = find_customers(session, email=email, phone=phone, name=name, document=document)
            details = {
                "criteria": sorted(k for k, v in criteria.items() if v),
                "matches": [c.customer_id for c in found],
            }
            audit.record(session, actor, "customer.search", "customer", None, details=details)
            views = [pseudonymise(session, customer) for customer in found]
    if as_json:
        stdout.print_json(json.dumps([view.model_dump() for view in views]))
        return
    table = Table(title=f"{len(views)} customer(s)")
    for column in ("customer_id", "pseudonym", "name", "email", "status", "risk"):
        table.add_column(column, no_wrap=True)
    for view in views:
        table.add_row(view.customer_id, view.pseudonym, view.name, view.email, view.status, view.risk_rating)
    stdout.print(table)


@app.command("reveal")
def reveal_command(
    customer_id: Annotated[str, typer.Argument(help="The customer id, e.g. C0000001.")],
    as_user: AsUser,
    purpose: Annotated[
        str,
        typer.Option(
            help=f"One of {', '.join(sorted(PURPOSES))}, or a free-text reason of at least {MIN_FREE_TEXT} "
            "characters (which then needs --case-ref)."
        ),
    ],
    case_ref: Annotated[str | None, typer.Option(help="The case, request or ticket this reveal serves.")] = None,
    field: Annotated[
        list[str] | None,
        typer.Option(
            "--field", "-f", help=f"Field to reveal (repeatable; default all): {', '.join(REVEALABLE_FIELDS)}."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Decrypt a customer's personal fields for a stated purpose, as a named user with customer.reveal.

    Every reveal is written to the audit log (who, which fields, why; never the values), and so is every
    refused attempt.
    """
    with store_engine() as engine:
        actor = login(engine, as_user)
        with session_scope(engine) as session:
            result = reveal(session, actor, customer_id, field or list(REVEALABLE_FIELDS), purpose, case_ref)
    if as_json:
        stdout.print_json(
            json.dumps({"customer_id": result.customer_id, "fields": result.fields, "audit_seq": result.audit_seq})
        )
        return
    table = Table(title=f"{result.customer_id} (audit entry {result.audit_seq})")
    table.add_column("field")
    table.add_column("value")
    for key, value in result.fields.items():
        table.add_row(key, value or "")
    stdout.print(table)
