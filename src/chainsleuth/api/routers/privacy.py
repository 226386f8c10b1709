"""Personal data over HTTP, only through the privacy layer: pseudonymised views, blind-index search,
purpose-logged reveals, and the audit log for auditors.

Every route states its permission (:mod:`chainsleuth.api.permissions`); reveals and searches are audited, and
their responses are marked ``Cache-Control: no-store`` so that revealed data does not linger in caches.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from chainsleuth.api.deps import Principal, current_principal, get_session
from chainsleuth.api.permissions import requires
from chainsleuth.errors import InvalidInputError
from chainsleuth.privacy import audit
from chainsleuth.privacy.fields import find_customers
from chainsleuth.privacy.reveal import PseudonymisedCustomer, pseudonymise, pseudonymised_customer, reveal

router = APIRouter(tags=["privacy"])
DbSession = Annotated[Session, Depends(get_session)]
MAX_AUDIT_PAGE = 1_000


class RevealRequest(BaseModel):
    """What to reveal and why."""

    fields: list[str] = Field(min_length=1, description="Personal fields to decrypt, e.g. full_name, email.")
    purpose: str = Field(
        description="A purpose code (case_investigation, le_request, str_filing, account_action, kyc_review, "
        "data_subject_request, audit_sample) or a free-text reason of at least 20 characters.",
    )
    case_ref: str | None = Field(default=None, description="Case, request or ticket the reveal serves.")


class RevealResponse(BaseModel):
    customer_id: str
    fields: dict[str, str | None]
    audit_seq: int = Field(description="The audit-log entry recording this reveal.")


class SearchRequest(BaseModel):
    """Exact look-up by normalised value (blind index); at least one criterion."""

    email: str | None = None
    phone: str | None = Field(default=None, description="With country code, any formatting.")
    name: str | None = Field(default=None, description="Full name; case, accents and punctuation are ignored.")
    document: str | None = None


class VerifyResponse(BaseModel):
    ok: bool
    entries: int
    last_seq: int
    keyed: bool
    first_bad_seq: int | None
    problem: str | None


@router.get(
    "/api/exchange/customers/{customer_id}/pseudonymised",
    response_model=PseudonymisedCustomer,
    summary="A customer, pseudonymised",
)
def pseudonymised(
    customer_id: str,
    principal: Annotated[Principal, Depends(requires("customer.read_pseudonymised"))],
    session: DbSession,
) -> PseudonymisedCustomer:
    """Stable pseudonym, masked name/e-mail/phone/document, birth year only, and the non-personal profile."""
    return pseudonymised_customer(session, principal, customer_id)


@router.post(
    "/api/exchange/customers/{customer_id}/reveal", response_model=RevealResponse, summary="Reveal personal fields"
)
def reveal_fields(
    customer_id: str,
    body: RevealRequest,
    principal: Annotated[Principal, Depends(current_principal)],
    session: DbSession,
    response: Response,
) -> RevealResponse:
    """Decrypt the named fields for a stated purpose (permission ``customer.reveal``). Recorded in the audit
    log (who, which fields, why); refused attempts, including those by roles without the permission, are
    recorded too, which is why the permission is checked by the privacy layer rather than by the route.
    """
    response.headers["Cache-Control"] = "no-store"
    result = reveal(session, principal, customer_id, body.fields, body.purpose, body.case_ref)
    return RevealResponse(customer_id=result.customer_id, fields=result.fields, audit_seq=result.audit_seq)


@router.post(
    "/api/exchange/customers/search", response_model=list[PseudonymisedCustomer], summary="Find customers by identifier"
)
def search(
    body: SearchRequest,
    principal: Annotated[Principal, Depends(requires("customer.search"))],
    session: DbSession,
    response: Response,
) -> list[PseudonymisedCustomer]:
    """Exact match on e-mail, phone, name and/or document number without decrypting anything; results are
    pseudonymised (reveal them separately, with a purpose). The search is audited by criterion kind, never by
    the searched values.
    """
    response.headers["Cache-Control"] = "no-store"
    found = find_customers(session, email=body.email, phone=body.phone, name=body.name, document=body.document)
    kinds = sorted(key for key, value in body.model_dump().items() if value is not None)
    audit.record(
        session,
        principal,
        "customer.search",
        "customer",
        None,
        details={"criteria": kinds, "matches": [c.customer_id for c in found]},
    )
    return [pseudonymise(session, customer) for customer in found]


@router.get("/api/audit/verify", response_model=VerifyResponse, summary="Verify the audit log")
def verify_audit(
    _: Annotated[Principal, Depends(requires("audit.verify"))],
    session: DbSession,
) -> VerifyResponse:
    """Recompute the hash chain and MACs; names the first bad sequence number if anything was tampered with."""
    report = audit.verify(session)
    return VerifyResponse(**report.__dict__)


@router.get("/api/audit/entries", summary="Read the audit log")
def audit_entries(
    _: Annotated[Principal, Depends(requires("audit.read"))],
    session: DbSession,
    since: Annotated[datetime | None, Query(description="Only entries at or after this time.")] = None,
    object_type: Annotated[str | None, Query()] = None,
    object_id: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_AUDIT_PAGE)] = 100,
) -> list[dict[str, Any]]:
    """Entries in sequence order (oldest first), at most ``limit``."""
    if since is not None and since.tzinfo is None:
        raise InvalidInputError("since must carry a time zone, e.g. 2026-01-01T00:00:00Z")
    entries = []
    for entry in audit.entries_since(session, since, object_type=object_type, object_id=object_id):
        entries.append(audit.entry_dict(entry))
        if len(entries) >= limit:
            break
    return entries
