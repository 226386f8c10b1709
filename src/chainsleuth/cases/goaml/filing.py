"""The filing state of goAML reports::

    drafted ──approve (four-eyes, only if valid)──► approved ──submit──► submitted ──► acknowledged (FIU ref)
       ▲                                                                    │
       └─────────────── redraft (revision + 1) ◄──── rejected (FIU's reason) ◄┘   then approve and submit again
                                                                                  (recorded as a resubmission)

A report is generated and validated against the goAML XSD when drafted (and redrafted); its XML and SHA-256
are stored. An invalid report keeps its validation errors and cannot be approved. Approval needs
``report.approve`` and someone other than the drafter; on approval the stored XML is re-validated and checked
against its hash, so what was approved is exactly what is submitted. Every step is audited with purpose
"goAML report" and appears on the case's timeline.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.cases.common import check_version, get_case_row, iso, moment, record_event, required_text, sha256_hex
from chainsleuth.cases.goaml.builder import BuildContext, build_report, indicators_for, report_events
from chainsleuth.cases.goaml.config import GoamlConfig, default_config
from chainsleuth.cases.goaml.validate import enumeration, validate
from chainsleuth.errors import InvalidInputError, NotFoundError, PolicyViolationError
from chainsleuth.privacy import audit
from chainsleuth.privacy.policy import Actor, require
from chainsleuth.privacy.reveal import check_purpose
from chainsleuth.store.db import stale_version_guard
from chainsleuth.store.models.alerts import MonitorAlert
from chainsleuth.store.models.cases import CaseAlert, CaseEvidence, CaseLink, StrReport
from chainsleuth.store.models.ledger import LedgerEvent

PURPOSE = "goAML report"
REPORT_OBJECT = "str_report"
#: Filing transitions: status -> statuses reachable from it.
TRANSITIONS: dict[str, frozenset[str]] = {
    "drafted": frozenset({"approved", "drafted"}),
    "approved": frozenset({"submitted", "drafted"}),
    "submitted": frozenset({"acknowledged", "rejected"}),
    "acknowledged": frozenset(),
    "rejected": frozenset({"drafted"}),
}


def _move(report: StrReport, target: str) -> None:
    if target not in TRANSITIONS[report.status]:
        raise PolicyViolationError(f"a {report.status} report cannot become {target}", report_id=report.id,
                                   status=report.status, allowed=sorted(TRANSITIONS[report.status]))  # fmt: skip
    report.status = target


def _begin(
    session: Session, actor: Actor, report_id: int, expected_version: int, target: str, now: datetime | None,
    permission: str = "report.approve",
) -> tuple[StrReport, datetime]:  # fmt: skip
    """The start of a filing step: the permission, the report at the version the caller read, the move."""
    require(actor, permission)
    at = moment(now)
    report = get_report(session, report_id)
    check_version("report", report.id, report.version, expected_version)
    _move(report, target)
    return report, at


def _save(session: Session, actor: Actor, report: StrReport, what: str, now: datetime, **details: Any) -> StrReport:
    """The end of a filing step: flush (a lost race is a StaleVersionError), timeline entry and audit record."""
    with stale_version_guard():
        session.flush()
    _record(session, actor, report, what, now, **details)
    return report


def get_report(session: Session, report_id: int) -> StrReport:
    report = session.get(StrReport, report_id)
    if report is None:
        raise NotFoundError("no such report", report_id=report_id)
    return report


def case_event_ids(session: Session, case_id: int) -> list[str]:
    """Ledger events the case points at: its alerts' events, its ledger extracts' events, and the deposits and
    withdrawals of its linked accounts that its evidence or linked addresses name (:func:`linked_account_events`)."""
    ids: list[str] = []
    for alert in session.scalars(
        select(MonitorAlert).join(CaseAlert, CaseAlert.alert_id == MonitorAlert.id).where(CaseAlert.case_id == case_id)
    ):
        ids.extend(alert.event_ids)
    for evidence in session.scalars(
        select(CaseEvidence).where(CaseEvidence.case_id == case_id, CaseEvidence.kind == "ledger_extract")
    ):
        ids.extend(json.loads(evidence.content or "{}").get("event_ids", []))
    ids.extend(linked_account_events(session, case_id))
    return list(dict.fromkeys(ids))


#: Deposits and withdrawals of one linked account looked at when matching them against the case's evidence.
MAX_ACCOUNT_EVENTS = 5_000


def linked_account_events(session: Session, case_id: int) -> list[str]:
    """Deposits and withdrawals of the case's linked accounts whose on-chain address or transaction the case
    itself names: a linked address, or a saved trace or exposure result (a trace from the victim ends at the
    thief's deposit address). That is the suspicious movement a report has to describe; the account's other,
    unrelated activity stays out of it (add it as a ledger extract when it belongs in the report)."""
    links = session.execute(select(CaseLink.link_type, CaseLink.target).where(CaseLink.case_id == case_id)).all()
    accounts = [target for link_type, target in links if link_type == "account"]
    if not accounts:
        return []
    named = {target.lower() for link_type, target in links if link_type == "address"}
    results_query = select(CaseEvidence.content).where(
        CaseEvidence.case_id == case_id, CaseEvidence.kind.in_(("trace", "exposure"))
    )
    results = " ".join(content or "" for content in session.scalars(results_query)).lower()
    events = session.scalars(
        select(LedgerEvent)
        .where(LedgerEvent.account_id.in_(accounts), LedgerEvent.event_type.in_(("deposit", "withdrawal")))
        .order_by(LedgerEvent.timestamp, LedgerEvent.event_id)
        .limit(MAX_ACCOUNT_EVENTS * len(accounts))
    )
    found = []
    for event in events:
        keys = [value.lower() for value in (event.address, event.tx_hash) if value]
        if any(key in named or key in results for key in keys):
            found.append(event.event_id)
    return found


def _categories(session: Session, case_id: int) -> list[str]:
    """Exposure/alert categories named by the case's alerts (for indicator mapping)."""
    found: list[str] = []
    for alert in session.scalars(
        select(MonitorAlert).join(CaseAlert, CaseAlert.alert_id == MonitorAlert.id).where(CaseAlert.case_id == case_id)
    ):
        details: dict[str, Any] = dict(alert.details or {})
        for item in details.get("evidence", []) or []:
            if isinstance(item, dict) and item.get("category"):
                found.append(str(item["category"]))
        found.extend(part for part in alert.rule_id.replace("-", "_").split("_") if part)
    return found


def _check_indicators(indicators: Sequence[str]) -> list[str]:
    """``indicators`` as a list; InvalidInputError naming any code goAML does not know."""
    bad = [c for c in indicators if c not in enumeration("report_indicator_type")]
    if bad:
        raise InvalidInputError("unknown goAML report indicators", indicators=bad)
    return list(indicators)


def _known_events(session: Session, event_ids: Sequence[str]) -> list[str]:
    """``event_ids`` as a list; NotFoundError naming any that the ledger does not hold."""
    ids = list(event_ids)
    known = set(session.scalars(select(LedgerEvent.event_id).where(LedgerEvent.event_id.in_(ids))))
    if len(known) != len(set(ids)):
        raise NotFoundError("no such ledger events", event_ids=sorted(set(ids) - known))
    return ids


def _generate(session: Session, actor: Actor, report: StrReport, config: GoamlConfig, now: datetime) -> None:
    case = get_case_row(session, report.case_id)
    ctx = BuildContext(session=session, actor=actor, config=config, case=case)
    xml = build_report(
        ctx, events=report_events(session, report.event_ids), entity_reference=report.entity_reference,
        reason=report.reason, action=report.action_taken, indicators=report.indicators,
        report_code=report.report_code, now=now,
    )  # fmt: skip
    report.xml = xml.decode("utf-8")
    report.sha256 = sha256_hex(xml)
    errors = validate(xml)
    report.valid, report.validation_errors = not errors, errors


def draft_report(
    session: Session,
    actor: Actor,
    case_id: int,
    *,
    reason: str,
    action: str,
    event_ids: Sequence[str] | None = None,
    indicators: Sequence[str] | None = None,
    report_code: str | None = None,
    config: GoamlConfig | None = None,
    now: datetime | None = None,
) -> StrReport:
    """Generate, validate and store a report from a case (``report.draft``; reveals are audited).

    ``event_ids`` default to the case's alerts' and ledger extracts' events. An invalid report is stored with
    its errors (so that they can be shown and fixed) but cannot be approved.
    """
    require(actor, "report.draft")
    config = config or default_config()
    at = moment(now)
    case = get_case_row(session, case_id)
    code = report_code or config.codes.report_code
    if code not in enumeration("report_type"):
        raise InvalidInputError("unknown goAML report code", report_code=code)
    _check_indicators(indicators or [])
    ids = _known_events(session, event_ids if event_ids is not None else case_event_ids(session, case_id))
    report = StrReport(
        case_id=case.id,
        status="drafted",
        report_code=code,
        entity_reference=f"pending-{sha256_hex(str(at).encode())}",
        revision=1,
        xml="",
        sha256="",
        valid=False,
        validation_errors=[],
        event_ids=ids,
        reason=required_text(reason, "reason", max_length=8000),
        action_taken=required_text(action, "action", max_length=8000),
        indicators=indicators_for(config, _categories(session, case_id), indicators),
        drafted_by=actor.username,
        drafted_at=at,
    )
    session.add(report)
    session.flush()
    report.entity_reference = f"{case.reference}-STR-{report.id}"
    _generate(session, actor, report, config, at)
    return _save(session, actor, report, "drafted", at, errors=len(report.validation_errors), events=len(ids))


def _record(session: Session, actor: Actor, report: StrReport, what: str, now: datetime, **details: Any) -> None:
    case = get_case_row(session, report.case_id)
    info = {"report_id": report.id, "status": report.status, "revision": report.revision, "valid": report.valid,
            "sha256": report.sha256, **details}  # fmt: skip
    record_event(session, case, actor, f"report_{what}", info, now)
    audit.record(session, actor, f"report.{what}", REPORT_OBJECT, str(report.id), purpose=PURPOSE, details=info)


def redraft(
    session: Session, actor: Actor, report_id: int, expected_version: int, *, reason: str | None = None,
    action: str | None = None, event_ids: Sequence[str] | None = None, indicators: Sequence[str] | None = None,
    config: GoamlConfig | None = None, now: datetime | None = None,
) -> StrReport:  # fmt: skip
    """Regenerate a drafted, approved (approval is lost) or FIU-rejected report as a new revision.

    New ``event_ids`` and ``indicators`` are checked as in :func:`draft_report`.
    """
    report, at = _begin(session, actor, report_id, expected_version, "drafted", now, permission="report.draft")
    if reason is not None:
        report.reason = required_text(reason, "reason", max_length=8000)
    if action is not None:
        report.action_taken = required_text(action, "action", max_length=8000)
    if event_ids is not None:
        report.event_ids = _known_events(session, event_ids)
    if indicators is not None:
        report.indicators = _check_indicators(indicators)
    report.revision += 1
    report.approved_by = report.approved_at = None
    report.drafted_by, report.drafted_at = actor.username, at
    _generate(session, actor, report, config or default_config(), at)
    return _save(session, actor, report, "redrafted", at, errors=len(report.validation_errors))


def approve_report(
    session: Session, approver: Actor, report_id: int, expected_version: int, *, now: datetime | None = None
) -> StrReport:
    """Approve a valid report drafted by someone else; a second approval is a no-op."""
    require(approver, "report.approve")
    at = moment(now)
    report = get_report(session, report_id)
    if report.status == "approved":
        audit.record(session, approver, "report.approve_repeat", REPORT_OBJECT, str(report.id), purpose=PURPOSE)
        return report
    check_version("report", report.id, report.version, expected_version)
    if approver.username == report.drafted_by:
        raise PolicyViolationError("four-eyes rule: a report must be approved by someone other than its drafter",
                                   report_id=report.id, drafter=report.drafted_by)  # fmt: skip
    xml = report.xml.encode("utf-8")
    errors = validate(xml) if sha256_hex(xml) == report.sha256 else ["the stored XML does not match its hash"]
    if errors or not report.valid:
        raise PolicyViolationError("an invalid report cannot be approved; fix the case data and redraft it",
                                   report_id=report.id, errors=errors or report.validation_errors)  # fmt: skip
    _move(report, "approved")
    report.approved_by, report.approved_at = approver.username, at
    return _save(session, approver, report, "approved", at)


def submit_report(
    session: Session, actor: Actor, report_id: int, expected_version: int, *, now: datetime | None = None
) -> StrReport:
    """Mark an approved report as submitted to the FIU (the XML is what the caller uploads or sends)."""
    report, at = _begin(session, actor, report_id, expected_version, "submitted", now)
    report.submitted_by, report.submitted_at = actor.username, at
    report.submission_count += 1
    report.fiu_reason = None
    return _save(session, actor, report, "resubmitted" if report.submission_count > 1 else "submitted", at)


def acknowledge(
    session: Session, actor: Actor, report_id: int, expected_version: int, *, fiu_ref_number: str,
    now: datetime | None = None,
) -> StrReport:  # fmt: skip
    """Record the FIU's acknowledgement and its reference number."""
    report, at = _begin(session, actor, report_id, expected_version, "acknowledged", now)
    report.fiu_ref_number = required_text(fiu_ref_number, "fiu_ref_number", max_length=255)
    report.acknowledged_at = at
    return _save(session, actor, report, "acknowledged", at, fiu_ref_number=report.fiu_ref_number)


def record_rejection(
    session: Session, actor: Actor, report_id: int, expected_version: int, *, fiu_reason: str,
    now: datetime | None = None,
) -> StrReport:  # fmt: skip
    """Record that the FIU rejected the report, with its reason (redraft, approve and submit again)."""
    report, at = _begin(session, actor, report_id, expected_version, "rejected", now)
    report.fiu_reason = required_text(fiu_reason, "fiu_reason", max_length=8000)
    report.rejected_at = at
    return _save(session, actor, report, "rejected", at, fiu_reason=report.fiu_reason)


def list_reports(session: Session, actor: Actor, case_id: int | None = None) -> list[StrReport]:
    require(actor, "case.read")
    query = select(StrReport).order_by(StrReport.id)
    if case_id is not None:
        query = query.where(StrReport.case_id == case_id)
    return list(session.scalars(query))


def report_view(report: StrReport) -> dict[str, Any]:
    """A report as plain data (without the XML)."""
    return {
        "id": report.id, "case_id": report.case_id, "status": report.status, "report_code": report.report_code,
        "entity_reference": report.entity_reference, "revision": report.revision, "sha256": report.sha256,
        "valid": report.valid, "validation_errors": list(report.validation_errors),
        "event_ids": list(report.event_ids), "indicators": list(report.indicators),
        "drafted_by": report.drafted_by, "drafted_at": iso(report.drafted_at), "approved_by": report.approved_by,
        "approved_at": iso(report.approved_at), "submitted_by": report.submitted_by,
        "submitted_at": iso(report.submitted_at), "submission_count": report.submission_count,
        "fiu_ref_number": report.fiu_ref_number, "fiu_reason": report.fiu_reason,
        "acknowledged_at": iso(report.acknowledged_at), "rejected_at": iso(report.rejected_at),
        "version": report.version,
    }  # fmt: skip


def report_customers(session: Session, report: StrReport) -> list[str]:
    """Our customers identified in a report: both sides of every reported event that are our customers."""
    rows = session.execute(
        select(LedgerEvent.customer_id, LedgerEvent.counterparty_customer_id).where(
            LedgerEvent.event_id.in_(list(report.event_ids))
        )
    ).all()
    return sorted({c for row in rows for c in row if c})


def read_report_xml(
    session: Session, actor: Actor, report_id: int, *, purpose: str | None, case_ref: str | None = None
) -> StrReport:
    """The report with its XML, for someone allowed to see identified customers (``customer.reveal``) who
    states a purpose: the XML names the customers (names, birth dates, document numbers, addresses), so a
    download is a reveal of every customer in it and is audited as such, one entry per customer, plus the
    download itself. A refusal is audited by the caller's transport (HTTP, CLI).
    """
    require(actor, "customer.reveal")
    stated = check_purpose(purpose, case_ref)
    report = get_report(session, report_id)
    customers = report_customers(session, report)
    for customer_id in customers:
        audit.record(session, actor, "customer.reveal", "customer", customer_id, purpose=stated,
                     details={"fields": ["goaml_report"], "report_id": report.id, "case_ref": case_ref})  # fmt: skip
    audit.record(session, actor, "report.download", REPORT_OBJECT, str(report.id), purpose=stated,
                 details={"customers": customers, "case_ref": case_ref, "sha256": report.sha256})  # fmt: skip
    return report
