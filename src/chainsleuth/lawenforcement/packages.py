"""Disclosure packages: minimum-necessary data, four-eyes approval, sealed for the agency, expiring downloads.

A package contains only the categories the matrix allows for the request (``triage.allowed_categories``), and
within each category only an explicit allow-list of fields: internal assessments (risk rating, declared income,
source of funds), bank references and anything not listed never leave, whatever the request asked for. Other
customers who appear as counterparties of the target's transfers are third parties: they are replaced by a
stable pseudonym (``THIRD-…``), which lets the agency follow flows without learning who they are.

Files: one CSV per category, ``data.json`` with all of them, ``report.pdf`` for humans and ``manifest.json``
with the SHA-256 of every other file, zipped. The draft is kept encrypted at rest for the approver to review;
approval (by a person other than the drafter) seals the zip for the agency (see
:mod:`chainsleuth.lawenforcement.sealing`) and sets the expiry, after which a download answers 410 Gone.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from fpdf import FPDF
from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.cases.common import moment, required_text
from chainsleuth.errors import GoneError, NotFoundError, PolicyViolationError
from chainsleuth.lawenforcement.agencies import get_agency
from chainsleuth.lawenforcement.notify import create_notifications
from chainsleuth.lawenforcement.requests import get_request, request_targets
from chainsleuth.lawenforcement.sealing import read_file, seal_for_agency, sha256_hex, store_file
from chainsleuth.lawenforcement.triage import require_callback
from chainsleuth.privacy import audit
from chainsleuth.privacy.keyring import crypto_for, engine_of
from chainsleuth.privacy.policy import Actor, require
from chainsleuth.store.db import stale_version_guard
from chainsleuth.store.models.exchange import Account, Balance, Customer, DepositAddress
from chainsleuth.store.models.lawenforcement import LeFile, LePackage, LeRequest, LeRequestAction
from chainsleuth.store.models.ledger import LedgerEvent

PACKAGE_OBJECT = "le_package"
DEFAULT_EXPIRY_DAYS = 30
#: The only fields each category may contain (minimum necessary; everything else is never exported).
FIELDS: dict[str, tuple[str, ...]] = {
    "subscriber": ("customer_id", "full_name", "date_of_birth", "nationality", "id_document_type",
                   "id_document_number", "id_document_country", "email", "phone", "address_line", "city",
                   "postal_code", "country_of_residence", "created_at", "status"),
    "transactions": ("event_id", "event_type", "timestamp", "customer_id", "account_id", "asset", "amount",
                     "usd_value", "chain", "tx_hash", "address", "counterparty_customer", "counterparty_account",
                     "side", "quote_asset", "quote_amount", "price"),
    "login_ip": ("event_id", "event_type", "timestamp", "customer_id", "account_id", "ip", "device_id",
                 "user_agent", "ip_country", "success", "change_type"),
    "wallet_addresses": ("chain", "address", "account_id", "customer_id", "created_at"),
    "balances": ("customer_id", "account_id", "asset", "balance"),
}  # fmt: skip
_MONEY_EVENTS = ("deposit", "withdrawal", "internal_transfer", "trade", "fiat_deposit", "fiat_withdrawal")
_ACCESS_EVENTS = ("login", "credential_change")
#: Request types that ask for an account action (see responses.propose_actions).
ACTION_REQUEST_TYPES = ("freeze", "seizure", "preservation", "unfreeze")


class PackageExpiredError(GoneError, PolicyViolationError):
    """The package's download period is over: HTTP 410 Gone through the error tables (GoneError comes first), and
    still a refusal (PolicyViolationError) for the access audit."""

    code = "package_expired"


def _text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


def _events(session: Session, request: LeRequest, customers: list[str], types: Sequence[str]) -> list[LedgerEvent]:
    query = select(LedgerEvent).where(LedgerEvent.customer_id.in_(customers), LedgerEvent.event_type.in_(types))
    if request.date_from is not None:
        query = query.where(LedgerEvent.timestamp >= request.date_from)
    if request.date_to is not None:
        query = query.where(LedgerEvent.timestamp <= request.date_to)
    return list(session.scalars(query.order_by(LedgerEvent.timestamp, LedgerEvent.event_id)))


def collect(session: Session, request: LeRequest, categories: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """Rows per allowed category for the request's matched customers, restricted to :data:`FIELDS`."""
    customers = sorted({t.customer_id for t in request_targets(session, request) if t.customer_id and not t.error})
    keys = crypto_for(engine_of(session)).keys
    subjects = set(customers)

    def third(customer_id: str | None, prefix: str) -> str | None:
        if customer_id is None or customer_id in subjects:
            return customer_id
        return keys.pseudonym(customer_id, prefix=prefix)

    data: dict[str, list[dict[str, Any]]] = {}
    if not customers:
        return {category: [] for category in categories}
    for category in categories:
        rows: list[dict[str, Any]] = []
        if category == "subscriber":
            for customer in session.scalars(select(Customer).where(Customer.customer_id.in_(customers))
                                            .order_by(Customer.customer_id)):  # fmt: skip
                rows.append({f: getattr(customer, f) for f in FIELDS[category]})
        elif category in ("transactions", "login_ip"):
            for event in _events(session, request, customers, _MONEY_EVENTS if category == "transactions"
                                 else _ACCESS_EVENTS):  # fmt: skip
                row = {f: getattr(event, f, None) for f in FIELDS[category]}
                if category == "transactions":
                    owner = None
                    if event.counterparty_account_id:
                        account = session.get(Account, event.counterparty_account_id)
                        owner = account.customer_id if account else None
                    row["counterparty_customer"] = third(event.counterparty_customer_id, "THIRD")
                    row["counterparty_account"] = (event.counterparty_account_id if owner in subjects
                                                   else third(owner, "THIRDACCT") if owner else None)  # fmt: skip
                rows.append(row)
        elif category == "wallet_addresses":
            addresses = select(DepositAddress).where(DepositAddress.customer_id.in_(customers))
            for address in session.scalars(addresses.order_by(DepositAddress.customer_id, DepositAddress.chain,
                                                          DepositAddress.address)):  # fmt: skip
                rows.append({f: getattr(address, f) for f in FIELDS[category]})
        elif category == "balances":
            balances = (
                select(Account.customer_id, Balance.account_id, Balance.asset, Balance.balance)
                .join(Account, Account.account_id == Balance.account_id)
                .where(Account.customer_id.in_(customers))
                .order_by(Balance.account_id, Balance.asset)
            )
            rows = [dict(zip(FIELDS[category], row, strict=True)) for row in session.execute(balances)]
        data[category] = [{k: _text(v) for k, v in row.items()} for row in rows]
    return data


def _csv(rows: list[dict[str, Any]], fields: Sequence[str]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(fields), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buffer.getvalue().encode("utf-8")


def _latin(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def _pdf(request: LeRequest, agency_name: str, files: dict[str, bytes], data: dict[str, list[Any]]) -> bytes:
    pdf = FPDF()
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 10, _latin(f"Disclosure package {request.reference}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=9)
    lines = [f"Agency: {agency_name} ({request.agency_id})", f"Case number: {request.case_number}",
             f"Request type: {request.request_type}; legal basis: {request.legal_basis}; "
             f"jurisdiction: {request.jurisdiction}", f"Offence: {request.offence}",
             f"Date range: {_text(request.date_from) or '-'} to {_text(request.date_to) or '-'}", "",
             "Disclosed under the minimum-necessary rule: only the categories and fields below. Other customers "
             "appearing as counterparties are pseudonymised (THIRD-...).", ""]  # fmt: skip
    for category, rows in data.items():
        lines.append(f"{category}: {len(rows)} record(s); fields: {', '.join(FIELDS[category])}")
    lines += ["", "Files and SHA-256:"] + [f"{name}  {sha256_hex(body)}" for name, body in files.items()]
    for line in lines:
        pdf.multi_cell(0, 5, _latin(line), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def build_bundle(request: LeRequest, agency_name: str, data: dict[str, list[dict[str, Any]]],
                 at: datetime) -> tuple[bytes, dict[str, Any]]:  # fmt: skip
    """The package zip and its manifest."""
    files: dict[str, bytes] = {f"{c}.csv": _csv(rows, FIELDS[c]) for c, rows in data.items()}
    files["data.json"] = json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True).encode("utf-8")
    files["report.pdf"] = _pdf(request, agency_name, dict(files), data)
    manifest = {
        "format": "chainsleuth-disclosure-v1",
        "request": request.reference,
        "agency_id": request.agency_id,
        "case_number": request.case_number,
        "created_at": at.isoformat(),
        "categories": sorted(data),
        "records": {c: len(rows) for c, rows in data.items()},
        "files": [{"name": n, "sha256": sha256_hex(b), "bytes": len(b)} for n, b in sorted(files.items())],
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in sorted(files.items()):
            archive.writestr(name, body)
        archive.writestr("manifest.json", json.dumps(manifest, indent=1, sort_keys=True))
    return buffer.getvalue(), manifest


def draft_package(session: Session, staff: Actor, request_id: int | str, now: datetime | None = None) -> LePackage:
    """Assemble the minimum-necessary package of a triaged request (``le_request.respond``)."""
    require(staff, "le_request.respond")
    at = moment(now)
    request = get_request(session, staff, request_id)
    require_callback(request)
    if request.status != "in_progress" or not request.triage.get("complete"):
        raise PolicyViolationError("only a triaged, complete request gets a package", status=request.status)
    categories = list(request.triage.get("allowed_categories") or [])
    if not categories:
        raise PolicyViolationError("the matrix allows no disclosure for this request: decline it or act on it")
    data = collect(session, request, categories)
    bundle, manifest = build_bundle(request, get_agency(session, request.agency_id).name, data, at)
    stored = store_file(session, bundle, kind="package_draft", filename=f"{request.reference}.zip",
                        media_type="application/zip", request_id=request.id)  # fmt: skip
    package = LePackage(
        request_id=request.id,
        status="draft",
        categories=categories,
        manifest=manifest,
        manifest_sha256=sha256_hex(json.dumps(manifest, sort_keys=True).encode()),
        draft_file_id=stored.id,
        drafted_by=staff.username,
        drafted_at=at,
        download_count=0,
    )
    session.add(package)
    session.flush()
    audit.record(session, staff, "le_package.draft", PACKAGE_OBJECT, str(package.id), purpose=request.reference,
                 details={"categories": categories, "records": manifest["records"]})  # fmt: skip
    return package


def get_package(session: Session, actor: Actor, package_id: int) -> tuple[LePackage, LeRequest]:
    """A package and its request, scoped like the request (another agency's package does not exist)."""
    package = session.get(LePackage, package_id)
    if package is None:
        raise NotFoundError("no such package", package_id=package_id)
    try:
        request = get_request(session, actor, package.request_id)
    except NotFoundError:
        raise NotFoundError("no such package", package_id=package_id) from None
    return package, request


def draft_bytes(session: Session, staff: Actor, package_id: int) -> bytes:
    """The draft zip, for the reviewing approver (staff only)."""
    require(staff, "le_request.respond")
    package, _ = get_package(session, staff, package_id)
    row = session.get(LeFile, package.draft_file_id)
    assert row is not None
    return read_file(row)


def approve_package(
    session: Session, approver: Actor, package_id: int, *, expires_in_days: int = DEFAULT_EXPIRY_DAYS,
    now: datetime | None = None,
) -> tuple[LePackage, str | None]:  # fmt: skip
    """Approve (four-eyes) and seal for the agency; returns the package and, in password mode, the password to
    give the agency out of band (shown once, never stored)."""
    require(approver, "le_request.respond")
    at = moment(now)
    package, request = get_package(session, approver, package_id)
    if package.status != "draft":
        raise PolicyViolationError(f"a {package.status} package cannot be approved", package_id=package_id)
    if approver.username == package.drafted_by:
        raise PolicyViolationError("four-eyes rule: a package is approved by someone other than its drafter",
                                   drafter=package.drafted_by)  # fmt: skip
    if request.status != "in_progress":
        raise PolicyViolationError(f"the request is {request.status}: only a package of a request in progress is "
                                   "approved (a declined or closed request discloses nothing more)",
                                   package_id=package_id, request=request.reference)  # fmt: skip
    require_callback(request)
    draft = session.get(LeFile, package.draft_file_id)
    assert draft is not None
    agency = get_agency(session, request.agency_id)
    sealed = seal_for_agency(read_file(draft), reference=request.reference, agency_public_key=agency.public_key)
    stored = store_file(session, sealed.ciphertext, kind="package", filename=f"{request.reference}.zip.enc",
                        media_type="application/octet-stream", request_id=request.id)  # fmt: skip
    package.status, package.approved_by, package.approved_at = "approved", approver.username, at
    package.sealed_file_id, package.envelope = stored.id, sealed.envelope
    package.encryption = "password" if sealed.password else "x25519"
    package.expires_at = at + timedelta(days=expires_in_days)
    narrowed = bool(request.triage.get("narrowed"))
    request.outcome = "narrowed" if narrowed else "disclosed"
    request.outcome_reason = (f"disclosed {', '.join(package.categories)}; narrowed: "
                              f"{', '.join(request.triage.get('narrowed') or [])}" if narrowed else None)  # fmt: skip
    if _actions_pending(session, request):
        request.outcome_reason = (request.outcome_reason or f"disclosed {', '.join(package.categories)}") + (
            "; account actions to follow"
        )  # the request closes when they are proposed
    else:
        request.status, request.closed_at = "responded", at
    create_notifications(session, request, at)
    with stale_version_guard():
        session.flush()
    audit.record(session, approver, "le_package.approve", PACKAGE_OBJECT, str(package.id), purpose=request.reference,
                 details={"encryption": package.encryption, "expires_at": package.expires_at.isoformat(),
                          "manifest_sha256": package.manifest_sha256})  # fmt: skip
    return package, sealed.password


def _actions_pending(session: Session, request: LeRequest) -> bool:
    """Whether the request still asks for account actions the matrix allows and nobody has proposed yet (a freeze
    request with its balances disclosed first): then the request stays in progress after the package."""
    if request.request_type not in ACTION_REQUEST_TYPES or not request.triage.get("allowed_actions"):
        return False
    query = select(LeRequestAction.action_id).where(LeRequestAction.request_id == request.id).limit(1)
    return session.scalar(query) is None


def reject_package(session: Session, approver: Actor, package_id: int, reason: str) -> LePackage:
    """Send a draft back (the drafter makes a new one)."""
    require(approver, "le_request.respond")
    package, request = get_package(session, approver, package_id)
    if package.status != "draft":
        raise PolicyViolationError(f"a {package.status} package cannot be rejected", package_id=package_id)
    package.status = "rejected"
    audit.record(session, approver, "le_package.reject", PACKAGE_OBJECT, str(package.id), purpose=request.reference,
                 details={"reason": required_text(reason, "reason", max_length=2000)})  # fmt: skip
    return package


def refuse_if_expired(
    session: Session, actor: Actor, package_id: int, now: datetime | None = None
) -> tuple[LePackage, LeRequest]:
    """The approved package and its request; PackageExpiredError (audited) once it has expired.

    Writes nothing in ``session``: callers run it before anything else in their transaction writes (a TOTP check
    does), because the refusal is audited in a transaction of its own and SQLite has a single writer.
    """
    package, request = get_package(session, actor, package_id)
    if package.status != "approved" or package.sealed_file_id is None:
        raise NotFoundError("no such package", package_id=package_id)
    if package.expires_at is None or package.expires_at <= moment(now):
        audit.record_independently(engine_of(session), actor, "le_package.download_expired", PACKAGE_OBJECT,
                                   str(package.id), purpose=request.reference)  # fmt: skip
        raise PackageExpiredError("this package has expired: ask the exchange to re-issue it",
                                  expired_at=str(package.expires_at))  # fmt: skip
    return package, request


def download_package(
    session: Session, actor: Actor, package_id: int, now: datetime | None = None
) -> tuple[bytes, dict[str, Any], str]:
    """``(ciphertext, envelope, filename)`` of an approved package for the requesting agency, until it expires."""
    package, request = refuse_if_expired(session, actor, package_id, now)
    row = session.get(LeFile, package.sealed_file_id)
    assert row is not None
    package.download_count += 1
    audit.record(session, actor, "le_package.download", PACKAGE_OBJECT, str(package.id), purpose=request.reference,
                 details={"count": package.download_count})  # fmt: skip
    return read_file(row), dict(package.envelope or {}), row.filename


def list_packages(session: Session, actor: Actor, request_id: int | str) -> list[LePackage]:
    """A request's packages (officers: approved ones only)."""
    request = get_request(session, actor, request_id)
    query = select(LePackage).where(LePackage.request_id == request.id).order_by(LePackage.id)
    rows = list(session.scalars(query))
    if actor.agency_id is not None:
        rows = [p for p in rows if p.status == "approved"]
    return rows


def package_view(package: LePackage, now: datetime | None = None) -> dict[str, Any]:
    """A package as plain data."""
    at = moment(now)
    return {"id": package.id, "request_id": package.request_id, "status": package.status,
            "categories": package.categories, "manifest": package.manifest,
            "manifest_sha256": package.manifest_sha256, "encryption": package.encryption,
            "envelope": package.envelope, "drafted_by": package.drafted_by, "approved_by": package.approved_by,
            "approved_at": _text(package.approved_at), "expires_at": _text(package.expires_at),
            "expired": package.expires_at is not None and package.expires_at <= at,
            "download_count": package.download_count}  # fmt: skip
