"""Cases over HTTP: triage, workflow, notes, links, evidence, timeline and goAML reports.

Every mutating request carries the ``expected_version`` the client read: a concurrent edit answers 409 (stale
version) instead of overwriting. Transitions the workflow forbids and four-eyes violations answer 403 with
the reason; permissions come from the one matrix in :mod:`chainsleuth.privacy.policy`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from chainsleuth.api.deps import Principal, get_session, get_settings
from chainsleuth.api.permissions import requires
from chainsleuth.cases import evidence, service, views
from chainsleuth.cases.goaml import filing
from chainsleuth.config import Settings
from chainsleuth.errors import PayloadTooLargeError

router = APIRouter(prefix="/api/cases", tags=["cases"])
reports_router = APIRouter(prefix="/api/reports", tags=["reports"])
Reader = Annotated[Principal, Depends(requires("case.read"))]
Creator = Annotated[Principal, Depends(requires("case.create"))]
Updater = Annotated[Principal, Depends(requires("case.update"))]
Assigner = Annotated[Principal, Depends(requires("case.assign"))]
Closer = Annotated[Principal, Depends(requires("case.close"))]
Drafter = Annotated[Principal, Depends(requires("report.draft"))]
FilingOfficer = Annotated[Principal, Depends(requires("report.approve"))]
Revealer = Annotated[Principal, Depends(requires("customer.reveal"))]
DbSession = Annotated[Session, Depends(get_session)]
AppSettings = Annotated[Settings, Depends(get_settings)]


class Versioned(BaseModel):
    expected_version: int = Field(ge=1)


class CaseIn(BaseModel):
    title: str | None = Field(default=None, max_length=200)
    description: str = ""
    queue: str | None = Field(default=None, max_length=40)
    priority: Literal["low", "medium", "high", "critical"] = "medium"
    alert_ids: list[int] = Field(default_factory=list)
    due_at: datetime | None = None
    assignee: str | None = Field(default=None, max_length=64)


class StatusIn(Versioned):
    status: Literal["investigating", "escalated", "closed"]
    decision: str | None = None
    reason: str | None = None


class ReasonIn(Versioned):
    reason: str


class AssignIn(Versioned):
    assignee: str | None
    queue: str | None = None


class DeadlineIn(Versioned):
    due_at: datetime | None
    priority: Literal["low", "medium", "high", "critical"] | None = None


class NoteIn(Versioned):
    body: str


class LinkIn(Versioned):
    link_type: Literal["customer", "account", "address"]
    target: str
    chain: str = ""


class AlertsIn(Versioned):
    alert_ids: list[int]


class ResultIn(Versioned):
    kind: Literal["trace", "exposure"]
    title: str
    result: dict[str, Any]


class ExtractIn(Versioned):
    event_ids: list[str]
    title: str = "Ledger extract"


class ReportIn(BaseModel):
    reason: str
    action: str
    event_ids: list[str] | None = None
    indicators: list[str] | None = None
    report_code: str | None = None


class AckIn(Versioned):
    fiu_ref_number: str


class FiuRejectIn(Versioned):
    fiu_reason: str


@router.get("", summary="List cases")
def list_cases(
    who: Reader, session: DbSession, status: str | None = None, queue: str | None = None,
    assignee: str | None = None, overdue: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:  # fmt: skip
    rows, total = service.list_cases(session, who, status=status, queue=queue, assignee=assignee, overdue=overdue,
                                     limit=limit, offset=offset)  # fmt: skip
    return {"total": total, "items": [views.case_view(row) for row in rows]}


@router.post("", summary="Open a case (manually or from alerts)", status_code=201)
def create_case(who: Creator, session: DbSession, body: CaseIn) -> dict[str, Any]:
    options: dict[str, Any] = {"description": body.description, "queue": body.queue, "priority": body.priority,
                               "due_at": body.due_at, "assignee": body.assignee}  # fmt: skip
    if body.alert_ids:
        case = service.create_from_alerts(session, who, body.alert_ids, title=body.title, **options)
    else:
        case = service.create_case(session, who, title=body.title or "", **options)
    return views.case_detail(session, case)


@router.get("/{case_id}", summary="One case")
def get_case(case_id: int, who: Reader, session: DbSession) -> dict[str, Any]:
    return views.case_detail(session, service.get_case(session, who, case_id))


@router.get("/{case_id}/timeline", summary="The case's timeline")
def timeline(case_id: int, who: Reader, session: DbSession) -> list[dict[str, Any]]:
    return [views.event_view(event) for event in service.timeline(session, who, case_id)]


@router.post("/{case_id}/status", summary="Change status (close needs decision and reason)")
def change_status(case_id: int, who: Updater, session: DbSession, body: StatusIn) -> dict[str, Any]:
    case = service.change_status(session, who, case_id, body.expected_version, body.status, decision=body.decision,
                                 reason=body.reason)  # fmt: skip
    return views.case_view(case)


@router.post("/{case_id}/reopen", summary="Reopen a closed case")
def reopen(case_id: int, who: Closer, session: DbSession, body: ReasonIn) -> dict[str, Any]:
    return views.case_view(service.reopen(session, who, case_id, body.expected_version, reason=body.reason))


@router.post("/{case_id}/assign", summary="Assign to an investigator or queue")
def assign(case_id: int, who: Assigner, session: DbSession, body: AssignIn) -> dict[str, Any]:
    case = service.assign(session, who, case_id, body.expected_version, assignee=body.assignee, queue=body.queue)
    return views.case_view(case)


@router.post("/{case_id}/deadline", summary="Set the deadline")
def deadline(case_id: int, who: Updater, session: DbSession, body: DeadlineIn) -> dict[str, Any]:
    case = service.set_deadline(session, who, case_id, body.expected_version, body.due_at, priority=body.priority)
    return views.case_view(case)


@router.post("/{case_id}/notes", summary="Add a note", status_code=201)
def add_note(case_id: int, who: Updater, session: DbSession, body: NoteIn) -> dict[str, Any]:
    return views.note_view(service.add_note(session, who, case_id, body.expected_version, body.body))


@router.post("/{case_id}/links", summary="Link a customer, account or address")
def add_link(case_id: int, who: Updater, session: DbSession, body: LinkIn) -> dict[str, Any]:
    case = service.link(session, who, case_id, body.expected_version, body.link_type, body.target, chain=body.chain)
    return views.case_detail(session, case)


@router.post("/{case_id}/alerts", summary="Attach alerts")
def attach_alerts(case_id: int, who: Updater, session: DbSession, body: AlertsIn) -> dict[str, Any]:
    case = service.attach_alerts(session, who, case_id, body.alert_ids, body.expected_version)
    return views.case_detail(session, case)


@router.post("/{case_id}/evidence/result", summary="Attach a trace or exposure result", status_code=201)
def add_result(case_id: int, who: Updater, session: DbSession, body: ResultIn) -> dict[str, Any]:
    row = evidence.add_result(session, who, case_id, body.expected_version, body.kind, body.result, title=body.title)
    return views.evidence_view(row)


@router.post("/{case_id}/evidence/ledger", summary="Attach a ledger extract", status_code=201)
def add_extract(case_id: int, who: Updater, session: DbSession, body: ExtractIn) -> dict[str, Any]:
    row = evidence.add_ledger_extract(session, who, case_id, body.expected_version, body.event_ids, title=body.title)
    return views.evidence_view(row)


@router.post("/{case_id}/evidence/document", summary="Upload a document (raw request body)", status_code=201)
async def add_document(
    case_id: int, who: Updater, session: DbSession, settings: AppSettings, request: Request,
    expected_version: Annotated[int, Query(ge=1)], filename: Annotated[str, Query(max_length=255)],
    title: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The document is the request body; its size is checked while it streams in (413 beyond the limit)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > settings.max_upload_bytes:
            raise PayloadTooLargeError("the document is larger than the upload limit",
                                       limit=settings.max_upload_bytes)  # fmt: skip
        chunks.append(chunk)
    row = evidence.add_document(session, who, case_id, expected_version, b"".join(chunks), filename=filename,
                                title=title, media_type=request.headers.get("content-type") or
                                "application/octet-stream", settings=settings)  # fmt: skip
    return views.evidence_view(row)


@router.get("/evidence/{evidence_id}/content", summary="Retrieve a piece of evidence (audited)")
def evidence_content(evidence_id: int, who: Reader, session: DbSession, settings: AppSettings) -> Response:
    """The evidence's bytes as stored (documents decrypted; JSON results as canonical JSON) with its recorded
    SHA-256 in ``X-Evidence-SHA256``; every retrieval is written to the audit log."""
    row, data = evidence.read_evidence(session, who, evidence_id, settings=settings)
    name = (row.filename or f"evidence-{row.id}.json").replace('"', "")
    return Response(data, media_type=row.media_type, headers={
        "Content-Disposition": f'attachment; filename="{name}"', "X-Evidence-SHA256": row.sha256,
        "Cache-Control": "no-store"})  # fmt: skip


@router.get("/{case_id}/evidence/verify", summary="Verify every evidence hash")
def verify(case_id: int, who: Reader, session: DbSession, settings: AppSettings) -> list[dict[str, Any]]:
    return [vars(check) for check in evidence.verify_evidence(session, who, case_id, settings=settings)]


@router.post("/{case_id}/reports", summary="Draft a goAML STR/SAR from the case", status_code=201)
def draft_report(case_id: int, who: Drafter, session: DbSession, body: ReportIn) -> dict[str, Any]:
    report = filing.draft_report(session, who, case_id, reason=body.reason, action=body.action,
                                 event_ids=body.event_ids, indicators=body.indicators,
                                 report_code=body.report_code)  # fmt: skip
    return filing.report_view(report)


@reports_router.get("/{report_id}", summary="One report")
def get_report(report_id: int, who: Reader, session: DbSession) -> dict[str, Any]:
    return filing.report_view(filing.get_report(session, report_id))


@reports_router.get("/{report_id}/xml", summary="Download the report's goAML XML (a reveal: purpose required)")
def report_xml(
    report_id: int, who: Revealer, session: DbSession,
    purpose: Annotated[str, Query(description="Why (e.g. str_filing); see the reveal purposes.")],
    case_ref: Annotated[str | None, Query(max_length=200, description="Case or request reference.")] = None,
) -> Response:  # fmt: skip
    """The XML names the reported customers, so it needs ``customer.reveal`` and a stated purpose; the download
    and a reveal of every customer in it are audited."""
    report = filing.read_report_xml(session, who, report_id, purpose=purpose, case_ref=case_ref)
    return Response(
        report.xml, media_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{report.entity_reference}.xml"',
                 "Cache-Control": "no-store"},
    )  # fmt: skip


@reports_router.post("/{report_id}/approve", summary="Approve (four-eyes; valid reports only)")
def approve(report_id: int, who: FilingOfficer, session: DbSession, body: Versioned) -> dict[str, Any]:
    return filing.report_view(filing.approve_report(session, who, report_id, body.expected_version))


@reports_router.post("/{report_id}/submit", summary="Mark as submitted to the FIU")
def submit(report_id: int, who: FilingOfficer, session: DbSession, body: Versioned) -> dict[str, Any]:
    return filing.report_view(filing.submit_report(session, who, report_id, body.expected_version))


@reports_router.post("/{report_id}/acknowledge", summary="Record the FIU's acknowledgement")
def acknowledge(report_id: int, who: FilingOfficer, session: DbSession, body: AckIn) -> dict[str, Any]:
    report = filing.acknowledge(session, who, report_id, body.expected_version, fiu_ref_number=body.fiu_ref_number)
    return filing.report_view(report)


@reports_router.post("/{report_id}/reject", summary="Record the FIU's rejection and reason")
def fiu_reject(report_id: int, who: FilingOfficer, session: DbSession, body: FiuRejectIn) -> dict[str, Any]:
    report = filing.record_rejection(session, who, report_id, body.expected_version, fiu_reason=body.fiu_reason)
    return filing.report_view(report)


@reports_router.post("/{report_id}/redraft", summary="Regenerate as a new revision")
def redraft(report_id: int, who: Drafter, session: DbSession, body: Versioned) -> dict[str, Any]:
    return filing.report_view(filing.redraft(session, who, report_id, body.expected_version))
