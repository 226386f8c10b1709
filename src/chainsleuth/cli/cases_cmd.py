"""``chainsleuth cases``: list, show, open (from alerts or manually), assign, set deadlines, link, attach alerts,
annotate, move through the workflow, add, retrieve and verify evidence, and the goAML reports
(``chainsleuth cases report draft|validate|approve|submit|ack|reject|redraft``).

Commands act as a platform user: ``--as USERNAME`` with the password from ``CHAINSLEUTH_PASSWORD`` or a
prompt, checked by :func:`chainsleuth.store.users.authenticate`, and, for a user enrolled in two-factor
authentication, the one-time code from ``CHAINSLEUTH_TOTP`` (scripts) or a prompt, so that the permission
matrix, the second factor, four-eyes and the audit log apply on the command line exactly as over HTTP. A failed
log-in is audited (``auth.cli_login_failed``). Output is JSON on stdout.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from chainsleuth.api.deps import Principal
from chainsleuth.cases import evidence, service, views
from chainsleuth.cases.common import sha256_hex
from chainsleuth.cases.goaml import filing
from chainsleuth.cases.goaml.validate import validate
from chainsleuth.config import get_settings
from chainsleuth.errors import AuthenticationError
from chainsleuth.privacy import audit
from chainsleuth.privacy.policy import SystemActor
from chainsleuth.store.db import open_store, session_scope
from chainsleuth.store.models.cases import StrReport
from chainsleuth.store.models.users import Role
from chainsleuth.store.users import authenticate, check_second_factor, needs_code_at_login, normalize_username

app = typer.Typer(help="Cases: triage, workflow, notes, evidence and goAML reports.", no_args_is_help=True)
evidence_app = typer.Typer(help="Evidence of a case.", no_args_is_help=True)
report_app = typer.Typer(help="goAML STR/SAR reports of a case.", no_args_is_help=True)
app.add_typer(evidence_app, name="evidence")
app.add_typer(report_app, name="report")

As = Annotated[
    str,
    typer.Option(
        "--as",
        help="Act as this user (password: CHAINSLEUTH_PASSWORD or a prompt; one-time code of a user with 2FA: "
        "CHAINSLEUTH_TOTP or a prompt).",
    ),
]
Version = Annotated[int, typer.Option("--expected-version", "-v", help="The case version you read (see `show`).")]


def _password() -> str:
    return os.environ.get("CHAINSLEUTH_PASSWORD") or str(typer.prompt("password", hide_input=True))


def _one_time_code() -> str:
    return os.environ.get("CHAINSLEUTH_TOTP") or str(typer.prompt("one-time code", err=True))


@contextmanager
def store_engine() -> Iterator[Engine]:
    """The configured store, opened (and checked) for one command and disposed afterwards."""
    engine = open_store(get_settings().resolved_database_url)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def store_session() -> Iterator[Session]:
    """A session of the configured store in one transaction (committed when the block ends without error)."""
    with store_engine() as engine, session_scope(engine) as session:
        yield session


@contextmanager
def acting(username: str) -> Iterator[tuple[Session, Principal]]:
    """A session in one transaction and the authenticated user acting in it (password, then the one-time code
    for a user enrolled in TOTP); a failed log-in is audited in a transaction of its own."""
    with store_engine() as engine, session_scope(engine) as session:
        try:
            user = authenticate(session, username, _password())
            if needs_code_at_login(user):
                check_second_factor(user, _one_time_code())
        except AuthenticationError as error:
            name, reason = normalize_username(username)[:64], {"reason": error.message}
            audit.record_independently(engine, SystemActor("cli-login"), "auth.cli_login_failed", "user", name,
                                       details=reason)  # fmt: skip
            raise
        yield session, Principal(username=user.username, display_name=user.display_name, role=Role(user.role),
                                 agency_id=user.agency_id)  # fmt: skip


def utc_if_naive(value: datetime | None) -> datetime | None:
    """A command-line time: UTC when it names no zone."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable by the owner only (0600), whatever the umask: what leaves the
    database here (report XML, evidence) is personal data."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(data)


def emit(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@app.command("list")
def list_cases(
    as_user: As, status: str | None = None, queue: str | None = None, assignee: str | None = None,
    overdue: Annotated[bool | None, typer.Option("--overdue/--not-overdue")] = None, limit: int = 50,
) -> None:  # fmt: skip
    """Cases, most urgent deadline first."""
    with acting(as_user) as (session, who):
        rows, total = service.list_cases(session, who, status=status, queue=queue, assignee=assignee,
                                         overdue=overdue, limit=limit)  # fmt: skip
        emit({"total": total, "items": [views.case_view(row) for row in rows]})


@app.command("show")
def show(case_id: int, as_user: As, timeline: bool = typer.Option(False, help="Include the timeline.")) -> None:
    """One case with its alerts, links, notes and evidence."""
    with acting(as_user) as (session, who):
        data = views.case_detail(session, service.get_case(session, who, case_id))
        if timeline:
            data["timeline"] = [views.event_view(e) for e in service.timeline(session, who, case_id)]
        emit(data)


Due = Annotated[datetime | None, typer.Option("--due", help="Deadline (ISO, UTC if no zone).")]


@app.command("create")
def create(
    as_user: As,
    from_alert: Annotated[list[int] | None, typer.Option("--from-alert", help="Alert id (repeatable).")] = None,
    title: str | None = None, queue: str | None = None, priority: str = "medium",
    description: Annotated[str, typer.Option(help="What the case is about.")] = "",
    assignee: Annotated[str | None, typer.Option(help="Investigator (needs case.assign).")] = None,
    due: Due = None,
) -> None:  # fmt: skip
    """Open a case from one or more alerts, or manually (with --title)."""
    options: dict[str, Any] = {"queue": queue, "priority": priority, "description": description,
                               "assignee": assignee, "due_at": utc_if_naive(due)}  # fmt: skip
    with acting(as_user) as (session, who):
        if from_alert:
            case = service.create_from_alerts(session, who, from_alert, title=title, **options)
        else:
            if not title:
                raise typer.BadParameter("a manual case needs --title")
            case = service.create_case(session, who, title=title, **options)
        emit(views.case_view(case))


@app.command("assign")
def assign(
    case_id: int, as_user: As, expected_version: Version,
    assignee: Annotated[str | None, typer.Option(help="Investigator; omit to unassign.")] = None,
    queue: Annotated[str | None, typer.Option(help="Move to this queue too.")] = None,
) -> None:  # fmt: skip
    """Assign the case to an investigator and/or a queue (case.assign)."""
    with acting(as_user) as (session, who):
        emit(views.case_view(service.assign(session, who, case_id, expected_version, assignee=assignee, queue=queue)))


@app.command("deadline")
def deadline(
    case_id: int, as_user: As, expected_version: Version, due: Due = None,
    priority: Annotated[str | None, typer.Option(help="low, medium, high or critical.")] = None,
) -> None:  # fmt: skip
    """Set (or, without --due, clear) the deadline; optionally the priority."""
    with acting(as_user) as (session, who):
        case = service.set_deadline(session, who, case_id, expected_version, utc_if_naive(due), priority=priority)
        emit(views.case_view(case))


@app.command("link")
def link(
    case_id: int,
    link_type: Annotated[str, typer.Argument(help="customer, account or address")],
    target: Annotated[str, typer.Argument(help="Customer id, account id or address.")],
    as_user: As, expected_version: Version,
    chain: Annotated[str, typer.Option(help="The address's chain (addresses only).")] = "",
) -> None:  # fmt: skip
    """Link a customer, account or on-chain address to the case."""
    with acting(as_user) as (session, who):
        case = service.link(session, who, case_id, expected_version, link_type, target, chain=chain)
        emit(views.case_detail(session, case))


@app.command("attach-alerts")
def attach_alerts(
    case_id: int, as_user: As, expected_version: Version,
    alert: Annotated[list[int], typer.Option("--alert", help="Alert id (repeatable).")],
) -> None:  # fmt: skip
    """Triage more alerts into the case."""
    with acting(as_user) as (session, who):
        emit(views.case_detail(session, service.attach_alerts(session, who, case_id, alert, expected_version)))


@app.command("note")
def note(case_id: int, text: str, as_user: As, expected_version: Version) -> None:
    """Add a note."""
    with acting(as_user) as (session, who):
        emit(views.note_view(service.add_note(session, who, case_id, expected_version, text)))


@app.command("status")
def status(
    case_id: int, new_status: str, as_user: As, expected_version: Version,
    decision: str | None = None, reason: str | None = None,
) -> None:  # fmt: skip
    """Move the case (investigating, escalated, closed --decision --reason) or `reopen --reason`."""
    with acting(as_user) as (session, who):
        if new_status == "reopen":
            case = service.reopen(session, who, case_id, expected_version, reason=reason or "")
        else:
            case = service.change_status(session, who, case_id, expected_version, new_status, decision=decision,
                                         reason=reason)  # fmt: skip
        emit(views.case_view(case))


@evidence_app.command("add")
def evidence_add(
    case_id: int, as_user: As, expected_version: Version,
    file: Annotated[Path | None, typer.Option(help="A document to store (size-limited).")] = None,
    result: Annotated[Path | None, typer.Option(help="A trace or exposure result as a JSON file.")] = None,
    kind: str = typer.Option("trace", help="trace or exposure (with --result)."),
    events: Annotated[list[str] | None, typer.Option("--event", help="Ledger event id (repeatable).")] = None,
    title: str | None = None,
) -> None:  # fmt: skip
    """Attach a document, a trace/exposure result, or a ledger extract; prints its SHA-256."""
    if sum(x is not None and x != [] for x in (file, result, events)) != 1:
        raise typer.BadParameter("give exactly one of --file, --result, --event")
    with acting(as_user) as (session, who):
        if file is not None:
            with file.open("rb") as handle:
                row = evidence.add_document(session, who, case_id, expected_version, handle, filename=file.name,
                                            title=title)  # fmt: skip
        elif result is not None:
            payload = json.loads(result.read_text(encoding="utf-8"))
            row = evidence.add_result(
                session, who, case_id, expected_version, kind, payload, title=title or result.name
            )
        else:
            row = evidence.add_ledger_extract(session, who, case_id, expected_version, events or [],
                                              title=title or "Ledger extract")  # fmt: skip
        emit({**views.evidence_view(row), "content": None})


@evidence_app.command("get")
def evidence_get(
    evidence_id: int, as_user: As,
    out: Annotated[Path, typer.Option(help="Write the content here (created mode 0600).")],
) -> None:  # fmt: skip
    """Retrieve a piece of evidence (decrypted, hash-checked, audited) into a file readable by you only."""
    with acting(as_user) as (session, who):
        row, data = evidence.read_evidence(session, who, evidence_id)
        write_private(out, data)
        emit({**views.evidence_view(row), "content": None, "file": str(out),
              "hash_ok": sha256_hex(data) == row.sha256})  # fmt: skip


@evidence_app.command("verify")
def evidence_verify(case_id: int, as_user: As) -> None:
    """Recompute every evidence hash; exit 1 if any piece was modified or is missing."""
    with acting(as_user) as (session, who):
        checks = evidence.verify_evidence(session, who, case_id)
        emit([vars(c) for c in checks])
    if not all(c.ok for c in checks):
        raise typer.Exit(1)


@report_app.command("draft")
def report_draft(
    case_id: int, as_user: As, reason: str = typer.Option(...), action: str = typer.Option(...),
    event: Annotated[list[str] | None, typer.Option(help="Ledger event (default: the case's).")] = None,
    indicator: Annotated[list[str] | None, typer.Option(help="Report indicator code.")] = None,
    out: Annotated[Path | None, typer.Option(help="Write the XML here too.")] = None,
) -> None:  # fmt: skip
    """Generate and validate a goAML report from the case."""
    with acting(as_user) as (session, who):
        report = filing.draft_report(session, who, case_id, reason=reason, action=action, event_ids=event,
                                     indicators=indicator)  # fmt: skip
        if out is not None:
            write_private(out, report.xml.encode("utf-8"))
        emit(filing.report_view(report))


@report_app.command("validate")
def report_validate(xml_file: Path) -> None:
    """Validate an XML file against the shipped goAML 5.0.2 schema; exit 1 listing the errors."""
    errors = validate(xml_file.read_bytes())
    emit({"file": str(xml_file), "valid": not errors, "errors": errors})
    if errors:
        raise typer.Exit(1)


def _transition(report_id: int, as_user: As, expected_version: int, step: str, **kwargs: Any) -> None:
    with acting(as_user) as (session, who):
        functions: dict[str, Callable[..., StrReport]] = {
            "approve": filing.approve_report, "ack": filing.acknowledge, "reject": filing.record_rejection,
            "redraft": filing.redraft,
        }  # fmt: skip
        report = functions[step](session, who, report_id, expected_version, **kwargs)
        emit(filing.report_view(report))


@report_app.command("approve")
def report_approve(report_id: int, as_user: As, expected_version: Version) -> None:
    """Approve a valid report drafted by someone else (four-eyes)."""
    _transition(report_id, as_user, expected_version, "approve")


@report_app.command("submit")
def report_submit(
    report_id: int, as_user: As, expected_version: Version, out: Path = typer.Option(..., help="XML file to write.")
) -> None:
    """Mark the approved report as submitted and write its XML (mode 0600) for upload to the FIU."""
    with acting(as_user) as (session, who):
        report = filing.submit_report(session, who, report_id, expected_version)
        write_private(out, report.xml.encode("utf-8"))
        emit({**filing.report_view(report), "file": str(out)})


@report_app.command("ack")
def report_ack(report_id: int, as_user: As, expected_version: Version, fiu_ref: str = typer.Option(...)) -> None:
    """Record the FIU's acknowledgement and reference number."""
    _transition(report_id, as_user, expected_version, "ack", fiu_ref_number=fiu_ref)


@report_app.command("reject")
def report_reject(report_id: int, as_user: As, expected_version: Version, reason: str = typer.Option(...)) -> None:
    """Record the FIU's rejection and its reason."""
    _transition(report_id, as_user, expected_version, "reject", fiu_reason=reason)


@report_app.command("redraft")
def report_redraft(report_id: int, as_user: As, expected_version: Version) -> None:
    """Regenerate a drafted, approved (approval is lost) or rejected report as a new revision."""
    _transition(report_id, as_user, expected_version, "redraft")
