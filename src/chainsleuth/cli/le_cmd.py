"""``chainsleuth le``: the law-enforcement portal on the command line (agencies, officers, requests).

Like ``chainsleuth cases``, commands act as a platform user (``--as USERNAME``, password from
``CHAINSLEUTH_PASSWORD`` or a prompt), so permissions, agency scoping, four-eyes and the audit log apply exactly as
over HTTP. Output is JSON on stdout (Markdown or CSV for ``transparency``).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from chainsleuth.cli.cases_cmd import As, acting, emit, store_session, utc_if_naive
from chainsleuth.config import get_settings
from chainsleuth.lawenforcement import agencies, officers, packages, responses, stats, triage
from chainsleuth.lawenforcement import requests as le_requests
from chainsleuth.lawenforcement.targets import parse_targets_csv
from chainsleuth.store.chainstore import ChainStore

app = typer.Typer(help="Law-enforcement portal: agencies, officers, requests, packages.", no_args_is_help=True)
agencies_app = typer.Typer(help="The agency registry.", no_args_is_help=True)
officers_app = typer.Typer(help="Officer registration, verification, approval, suspension.", no_args_is_help=True)
requests_app = typer.Typer(help="Requests: submit, triage, match, queues, packages, statistics.", no_args_is_help=True)
app.add_typer(agencies_app, name="agencies")
app.add_typer(officers_app, name="officers")
app.add_typer(requests_app, name="requests")
Ref = Annotated[str, typer.Argument(help="Request id or reference (LER-2026-000001).")]


# -- agencies ----------------------------------------------------------------------------------------------------


@agencies_app.command("load")
def agencies_load(
    as_user: As, path: Annotated[Path | None, typer.Argument(help="YAML or CSV (default: the example)")] = None
) -> None:
    """Create or update agencies from a registry file."""
    with acting(as_user) as (session, who):
        emit([agencies.agency_view(a) for a in agencies.load_registry(session, who, path or agencies.EXAMPLE_FILE)])


@agencies_app.command("list")
def agencies_list() -> None:
    """The registry (names, countries, domains, contacts)."""
    with store_session() as session:
        emit([agencies.agency_view(a) for a in agencies.list_agencies(session)])


# -- officers ----------------------------------------------------------------------------------------------------


@officers_app.command("register")
def officers_register(
    username: str, email: str, display_name: str = typer.Option(..., help="Full name.")
) -> None:  # fmt: skip
    """Register an officer (official agency e-mail); the verification code goes to the outbox."""
    password = os.environ.get("CHAINSLEUTH_PASSWORD") or str(typer.prompt("password", hide_input=True))
    with store_session() as session:
        officer, _ = officers.register_officer(session, username=username, password=password,
                                               display_name=display_name, email=email)  # fmt: skip
        emit({**officers.officer_view(officer), "verification": "code written to the outbox (le_outbox)"})


@officers_app.command("verify")
def officers_verify(token: str) -> None:
    """Verify an e-mail address with the code from the outbox."""
    with store_session() as session:
        emit(officers.officer_view(officers.verify_email(session, token)))


@officers_app.command("approve")
def officers_approve(username: str, as_user: As) -> None:
    """Approve a verified officer with TOTP enrolled."""
    with acting(as_user) as (session, who):
        emit(officers.officer_view(officers.approve_officer(session, who, username)))


@officers_app.command("suspend")
def officers_suspend(username: str, as_user: As, reason: str = typer.Option(...)) -> None:
    """Suspend an officer at once."""
    with acting(as_user) as (session, who):
        emit(officers.officer_view(officers.suspend_officer(session, who, username, reason)))


@officers_app.command("outbox")
def officers_outbox(as_user: As, to: str | None = None, limit: int = 20) -> None:
    """The portal's outbox (verification mails): what a mail relay would deliver."""
    with acting(as_user) as (session, who):
        emit([{"id": m.id, "to": m.to_address, "subject": m.subject, "body": m.body,
               "created_at": m.created_at.isoformat()} for m in officers.outbox(session, who, to, limit)])  # fmt: skip


@officers_app.command("list")
def officers_list(as_user: As, agency: str | None = None) -> None:
    """Officer registrations."""
    with acting(as_user) as (session, who):
        emit([officers.officer_view(o) for o in officers.list_officers(session, who, agency)])


# -- requests ----------------------------------------------------------------------------------------------------


@requests_app.command("submit")
def submit(
    as_user: As,
    request_type: str = typer.Option(..., "--type", help="production, preservation, emergency_disclosure, …"),
    basis: str = typer.Option(..., help="court_order, warrant, subpoena, mlat, emergency, …"),
    jurisdiction: str = typer.Option(...), case_number: str = typer.Option(...), offence: str = typer.Option(...),
    categories: str = typer.Option("", help="Comma-separated: subscriber,transactions,login_ip,…"),
    instrument: Path | None = typer.Option(None, help="The legal instrument (PDF)."),
    targets: Path | None = typer.Option(None, help="Target CSV."),
    date_from: datetime | None = typer.Option(None, "--from"), date_to: datetime | None = typer.Option(None, "--to"),
    totp: str = typer.Option(..., help="A current authenticator code."),
) -> None:  # fmt: skip
    """Submit a request as an officer."""
    limit = get_settings().max_upload_bytes
    with acting(as_user) as (session, who):
        officers.require_active_officer(session, who)
        officers.check_totp(session, who, totp)
        form = le_requests.Submission(request_type=request_type, legal_basis=basis, jurisdiction=jurisdiction,
                                      case_number=case_number, offence=offence,
                                      data_categories=[c for c in categories.split(",") if c],
                                      date_from=utc_if_naive(date_from), date_to=utc_if_naive(date_to))  # fmt: skip
        parsed = parse_targets_csv(targets.read_bytes(), max_bytes=limit) if targets else []
        request = le_requests.submit_request(session, who, form, targets=parsed, max_upload_bytes=limit,
                                             instrument=instrument.read_bytes() if instrument else None)  # fmt: skip
        emit({**le_requests.request_view(request, officer=True),
              "rejected_targets": [le_requests.target_view(t, officer=True) for t in
                                   le_requests.request_targets(session, request) if t.error]})  # fmt: skip


@requests_app.command("list")
def list_requests(as_user: As, status: str | None = None, queue: str | None = None, limit: int = 50) -> None:
    """Requests visible to you, most urgent first."""
    with acting(as_user) as (session, who):
        rows, total = le_requests.list_requests(session, who, status=status, queue=queue, limit=limit)
        emit({"total": total, "items": [le_requests.request_view(r, officer=who.agency_id is not None) for r in rows]})


@requests_app.command("show")
def show(ref: Ref, as_user: As) -> None:
    """One request with its targets."""
    with acting(as_user) as (session, who):
        request = le_requests.get_request(session, who, ref)
        officer = who.agency_id is not None
        emit({**le_requests.request_view(request, officer=officer),
              "targets": [le_requests.target_view(t, officer=officer)
                          for t in le_requests.request_targets(session, request)]})  # fmt: skip


@requests_app.command("triage")
def run_triage(ref: Ref, as_user: As) -> None:
    """Completeness, matrix decision, matching, "seen before"."""
    with acting(as_user) as (session, who):
        store = ChainStore(get_settings().chain_dir)
        emit(le_requests.request_view(triage.triage(session, who, ref, chain_store=store), officer=False))


@requests_app.command("match")
def match(ref: Ref, as_user: As) -> None:
    """Match the targets to customers and accounts only."""
    with acting(as_user) as (session, who):
        request = le_requests.get_request(session, who, ref)
        targets = le_requests.request_targets(session, request)
        matched = triage.match_targets(session, targets, ChainStore(get_settings().chain_dir))
        emit({"matched": matched, "targets": [le_requests.target_view(t, officer=False) for t in targets]})


@requests_app.command("claim")
def claim(ref: Ref, as_user: As) -> None:
    """Claim a request."""
    with acting(as_user) as (session, who):
        emit(le_requests.request_view(triage.claim(session, who, ref), officer=False))


@requests_app.command("next")
def next_request(as_user: As, queue: str | None = None) -> None:
    """Claim the most urgent unclaimed request."""
    with acting(as_user) as (session, who):
        emit(le_requests.request_view(triage.next_request(session, who, queue), officer=False))


@requests_app.command("escalate")
def escalate(as_user: As) -> None:
    """Escalate every open request whose clock ran out (what a scheduler runs)."""
    with acting(as_user) as (session, who):
        emit([r.reference for r in triage.escalate_overdue(session, actor=who)])


@requests_app.command("callback")
def callback(
    ref: Ref, as_user: As, phone: str = typer.Option(...), outcome: str = typer.Option(...),
    notes: str = typer.Option(""),
) -> None:  # fmt: skip
    """Record a call-back made now on a registry number."""
    with acting(as_user) as (session, who):
        row = responses.record_callback(session, who, ref, phone=phone, outcome=outcome, notes=notes,
                                        called_at=datetime.now(UTC))  # fmt: skip
        emit(responses.callback_view(row))


@requests_app.command("actions")
def propose_actions(ref: Ref, as_user: As, days: int = typer.Option(30, help="Expiry in days.")) -> None:
    """Propose the request's freeze/seizure/preservation in the four-eyes workflow."""
    with acting(as_user) as (session, who):
        expires = datetime.now(UTC) + timedelta(days=days)
        emit({"action_ids": responses.propose_actions(session, who, ref, expires_at=expires)})


@requests_app.command("package")
def package(ref: Ref, as_user: As) -> None:
    """Draft the minimum-necessary disclosure package."""
    with acting(as_user) as (session, who):
        emit(packages.package_view(packages.draft_package(session, who, ref)))


@requests_app.command("approve-package")
def approve_package(package_id: int, as_user: As, days: int = typer.Option(packages.DEFAULT_EXPIRY_DAYS)) -> None:
    """Approve someone else's draft and seal it for the agency (prints the password in password mode)."""
    with acting(as_user) as (session, who):
        sealed, password = packages.approve_package(session, who, package_id, expires_in_days=days)
        emit({**packages.package_view(sealed), "password": password})


@requests_app.command("decline")
def decline(ref: Ref, as_user: As, template: str = typer.Option(...), note: str | None = None) -> None:
    """Decline with a templated reason."""
    with acting(as_user) as (session, who):
        emit(le_requests.request_view(responses.decline(session, who, ref, template=template, note=note),
                                      officer=False))  # fmt: skip


@requests_app.command("stats")
def statistics(as_user: As) -> None:
    """Statistics as JSON."""
    with acting(as_user) as (session, who):
        emit(stats.statistics(session, who))


@requests_app.command("transparency")
def transparency(
    as_user: As, output_format: str = typer.Option("markdown", "--format", help="markdown, csv or json")
) -> None:
    """The transparency report."""
    with acting(as_user) as (session, who):
        report = stats.statistics(session, who)
        render = {"markdown": stats.to_markdown, "csv": stats.to_csv, "json": stats.to_json}.get(output_format)
        if render is None:
            raise typer.BadParameter("format is markdown, csv or json")
        typer.echo(render(report))
