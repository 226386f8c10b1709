"""``chainsleuth le``: the law-enforcement portal on the command line (agencies, officers, requests, notifications).

Like ``chainsleuth cases``, commands act as a platform user (``--as USERNAME``, password from
``CHAINSLEUTH_PASSWORD`` or a prompt), so permissions, agency scoping, four-eyes and the audit log apply exactly as
over HTTP. Output is JSON on stdout (Markdown or CSV for ``transparency``).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from chainsleuth.cli.cases_cmd import As, acting, emit, store_session, utc_if_naive
from chainsleuth.config import get_settings
from chainsleuth.lawenforcement import agencies, notify, officers, packages, responses, stats, triage
from chainsleuth.lawenforcement import requests as le_requests
from chainsleuth.lawenforcement.matrix import load_matrix
from chainsleuth.lawenforcement.targets import parse_correction, parse_targets_csv
from chainsleuth.privacy.policy import is_agency_scoped, require
from chainsleuth.store.chainstore import ChainStore

app = typer.Typer(help="Law-enforcement portal: agencies, officers, requests, packages.", no_args_is_help=True)
agencies_app = typer.Typer(help="The agency registry.", no_args_is_help=True)
officers_app = typer.Typer(help="Officer registration, verification, approval, suspension.", no_args_is_help=True)
requests_app = typer.Typer(help="Requests: submit, triage, match, queues, packages, statistics.", no_args_is_help=True)
app.add_typer(agencies_app, name="agencies")
app.add_typer(officers_app, name="officers")
notifications_app = typer.Typer(help="Customer notifications, as non-disclosure orders allow.", no_args_is_help=True)
app.add_typer(requests_app, name="requests")
app.add_typer(notifications_app, name="notifications")
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
def agencies_list(as_user: As) -> None:
    """The registry (names, countries, domains, call-back contacts): staff with ``agency.manage`` only, because
    the call-back numbers are what an impostor would need to intercept a verification call."""
    with acting(as_user) as (session, who):
        require(who, "agency.manage")
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


@officers_app.command("reinstate")
def officers_reinstate(username: str, as_user: As) -> None:
    """Lift a suspension (the officer is approved again)."""
    with acting(as_user) as (session, who):
        emit(officers.officer_view(officers.reinstate_officer(session, who, username)))


@officers_app.command("change-email")
def officers_change_email(as_user: As, email: str) -> None:
    """Change your own address (an official one of your agency); it is verified again before you can submit."""
    with acting(as_user) as (session, who):
        officer, _ = officers.change_email(session, who, email)
        emit({**officers.officer_view(officer), "verification": "code written to the outbox (le_outbox)"})


@officers_app.command("resend-verification")
def officers_resend(as_user: As) -> None:
    """Send a new verification code to your current address (the previous code stops working)."""
    with acting(as_user) as (session, who):
        emit({**officers.officer_view(officers.resend_verification(session, who)[0]),
              "verification": "a new code was written to the outbox (le_outbox)"})  # fmt: skip


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
    deadline: datetime | None = typer.Option(None, help="The deadline your instrument sets, if any."),
    legal_reference: str = typer.Option("", help="Court, docket or order number of the instrument."),
    description: str = typer.Option("", help="What the request is about, for the response team."),
    parent: str | None = typer.Option(None, help="Reference of the earlier request (follow_up, unfreeze)."),
    non_disclosure: bool = typer.Option(False, "--non-disclosure", help="A non-disclosure order applies (no end)."),
    non_disclosure_until: datetime | None = typer.Option(None, help="End of the non-disclosure order."),
    seizure_chain: str | None = typer.Option(None, help="Seizure: chain of the agency's wallet."),
    seizure_address: str | None = typer.Option(None, help="Seizure: the agency's wallet address."),
    totp: str = typer.Option(..., help="A current authenticator code."),
) -> None:  # fmt: skip
    """Submit a request as an officer (seizures name the agency wallet; follow-ups and unfreezes name --parent)."""
    settings = get_settings()
    limit = settings.max_upload_bytes
    with acting(as_user) as (session, who):
        officers.require_active_officer(session, who)
        officers.check_totp(session, who, totp)
        form = le_requests.Submission(request_type=request_type, legal_basis=basis, jurisdiction=jurisdiction,
                                      case_number=case_number, offence=offence,
                                      data_categories=[c for c in categories.split(",") if c],
                                      date_from=utc_if_naive(date_from), date_to=utc_if_naive(date_to),
                                      requested_deadline=utc_if_naive(deadline), description=description,
                                      legal_reference=legal_reference, parent_reference=parent,
                                      non_disclosure=non_disclosure,
                                      non_disclosure_until=utc_if_naive(non_disclosure_until),
                                      seizure_chain=seizure_chain, seizure_address=seizure_address)  # fmt: skip
        parsed = parse_targets_csv(targets.read_bytes(), max_bytes=limit) if targets else []
        request = le_requests.submit_request(session, who, form, targets=parsed, max_upload_bytes=limit,
                                             instrument=instrument.read_bytes() if instrument else None,
                                             matrix=load_matrix(data_dir=settings.data_dir))  # fmt: skip
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


MatrixFile = Annotated[
    Path | None,
    typer.Option(
        "--matrix",
        help="A disclosure matrix YAML to apply instead of <data_dir>/lawenforcement/matrix.yaml or the shipped one.",
    ),
]


@requests_app.command("triage")
def run_triage(ref: Ref, as_user: As, matrix: MatrixFile = None) -> None:
    """Completeness, matrix decision, matching, "seen before"."""
    settings = get_settings()
    rules = load_matrix(matrix, data_dir=settings.data_dir)
    with acting(as_user) as (session, who):
        store = ChainStore(settings.chain_dir)
        emit(le_requests.request_view(triage.triage(session, who, ref, chain_store=store, matrix=rules),
                                      officer=False))  # fmt: skip


@requests_app.command("match")
def match(ref: Ref, as_user: As) -> None:
    """Match an open request's targets to customers and accounts again (response team: ``le_request.triage``)."""
    with acting(as_user) as (session, who):
        request = triage.rematch(session, who, ref, ChainStore(get_settings().chain_dir))
        targets = le_requests.request_targets(session, request)
        emit({"matched": sum(1 for t in targets if t.customer_id),
              "targets": [le_requests.target_view(t, officer=False) for t in targets]})  # fmt: skip


@requests_app.command("correct")
def correct(
    ref: Ref, target_id: int, as_user: As,
    column: str = typer.Option(..., help="customer_id, email, phone, wallet_address or tx_hash"),
    value: str = typer.Option(...), chain: str = typer.Option("", help="bitcoin or ethereum (addresses, hashes)"),
) -> None:  # fmt: skip
    """Correct a rejected target row (the submitting officer, or the response team)."""
    with acting(as_user) as (session, who):
        parsed = parse_correction(column, value, chain)
        target = le_requests.correct_target(session, who, ref, target_id, parsed)
        emit(le_requests.target_view(target, officer=is_agency_scoped(who)))


@requests_app.command("claim")
def claim(ref: Ref, as_user: As) -> None:
    """Claim a request."""
    with acting(as_user) as (session, who):
        emit(le_requests.request_view(triage.claim(session, who, ref), officer=False))


@requests_app.command("release")
def release(ref: Ref, as_user: As) -> None:
    """Give a claimed request back to its queue."""
    with acting(as_user) as (session, who):
        emit(le_requests.request_view(triage.release(session, who, ref), officer=False))


@requests_app.command("next")
def next_request(as_user: As, queue: str | None = None) -> None:
    """Claim the most urgent unclaimed request."""
    with acting(as_user) as (session, who):
        emit(le_requests.request_view(triage.next_request(session, who, queue), officer=False))


@requests_app.command("escalate")
def escalate(as_user: As) -> None:
    """Escalate every open request whose clock ran out (what a scheduler runs; ``le_request.triage``)."""
    rules = load_matrix(data_dir=get_settings().data_dir)
    with acting(as_user) as (session, who):
        require(who, "le_request.triage")
        emit([r.reference for r in triage.escalate_overdue(session, actor=who, matrix=rules)])


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


@requests_app.command("callbacks")
def list_callbacks(ref: Ref, as_user: As) -> None:
    """The call-backs recorded on a request."""
    with acting(as_user) as (session, who):
        emit([responses.callback_view(c) for c in responses.callbacks(session, who, ref)])


@requests_app.command("request-actions")
def list_request_actions(ref: Ref, as_user: As) -> None:
    """Ids of the account actions a request caused (see ``chainsleuth cases actions``)."""
    with acting(as_user) as (session, who):
        emit({"action_ids": responses.request_actions(session, who, ref)})


@requests_app.command("instrument")
def instrument(ref: Ref, as_user: As, output: Path = typer.Option(..., help="Where to write the PDF.")) -> None:
    """Write the request's legal instrument (staff; decrypted, hash checked, audited)."""
    with acting(as_user) as (session, who):
        data = responses.instrument(session, who, ref)
        output.write_bytes(data)
        emit({"written": str(output), "bytes": len(data)})


@requests_app.command("narrow")
def narrow(
    ref: Ref, as_user: As, keep: str = typer.Option(..., help="Comma-separated categories to keep."),
    template: str = typer.Option("overbroad", help="Reason template (see decline)."), note: str | None = None,
) -> None:  # fmt: skip
    """Limit the response to some of the allowed categories; the agency sees the templated reason."""
    with acting(as_user) as (session, who):
        kept = [c.strip() for c in keep.split(",") if c.strip()]
        emit(le_requests.request_view(responses.narrow(session, who, ref, categories=kept, template=template,
                                                       note=note), officer=False))  # fmt: skip


@requests_app.command("messages")
def list_messages(ref: Ref, as_user: As) -> None:
    """The secure message thread of a request."""
    with acting(as_user) as (session, who):
        emit([responses.message_view(m) for m in responses.messages(session, who, ref)])


@requests_app.command("send")
def send_message(
    ref: Ref, as_user: As, body: str = typer.Option(..., help="The message."),
    attachment: Path | None = typer.Option(None, help="A file to attach (stored encrypted)."),
) -> None:  # fmt: skip
    """Post a message (and an optional attachment) to a request's thread."""
    limit = get_settings().max_upload_bytes
    with acting(as_user) as (session, who):
        message = responses.post_message(session, who, ref, body, max_upload_bytes=limit,
                                         attachment=attachment.read_bytes() if attachment else None,
                                         filename=attachment.name if attachment else "attachment")  # fmt: skip
        emit(responses.message_view(message))


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


@requests_app.command("reject-package")
def reject_package(package_id: int, as_user: As, reason: str = typer.Option(...)) -> None:
    """Send someone else's draft back with a reason."""
    with acting(as_user) as (session, who):
        emit(packages.package_view(packages.reject_package(session, who, package_id, reason)))


@requests_app.command("download")
def download(
    package_id: int, as_user: As, output: Path = typer.Option(..., help="Where to write the sealed package."),
    totp: str | None = typer.Option(None, help="A current authenticator code (officers)."),
) -> None:  # fmt: skip
    """Download an approved package until it expires: the ciphertext to OUTPUT, its envelope next to it
    (OUTPUT.envelope.json); open both with ``chainsleuth.lawenforcement.sealing.open_sealed``."""
    with acting(as_user) as (session, who):
        packages.refuse_if_expired(session, who, package_id)  # audited on its own, before the TOTP check writes
        if is_agency_scoped(who):
            officers.check_totp(session, who, totp)
        data, envelope, filename = packages.download_package(session, who, package_id)
        output.write_bytes(data)
        envelope_path = output.with_name(output.name + ".envelope.json")
        envelope_path.write_text(json.dumps(envelope, indent=1, sort_keys=True), encoding="utf-8")
        emit({"written": str(output), "envelope": str(envelope_path), "bytes": len(data), "filename": filename})


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


# -- notifications -----------------------------------------------------------------------------------------------


@notifications_app.command("due")
def notifications_due(as_user: As) -> None:
    """Customer notifications to send now (no order, or an order that has ended)."""
    with acting(as_user) as (session, who):
        emit([notify.notification_view(n) for n in notify.due_notifications(session, who)])


@notifications_app.command("sent")
def notifications_sent(notification_id: int, as_user: As) -> None:
    """Record that the customer was notified (refused while a non-disclosure order holds the notice)."""
    with acting(as_user) as (session, who):
        emit(notify.notification_view(notify.mark_sent(session, who, notification_id)))
