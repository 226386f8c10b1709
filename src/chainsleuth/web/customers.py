"""Customer pages: pseudonymised by default, revealed only through the privacy layer with a stated purpose.

The list and the profile come from :mod:`chainsleuth.store.exchange_read` (views that have no personal
fields) and :func:`chainsleuth.privacy.reveal.pseudonymised_customer` (pseudonym and masked fields). The reveal
form posts to :func:`chainsleuth.privacy.reveal.reveal`, which checks the permission and purpose and writes the
audit entry; refusals are audited there too. Revealed values are shown once, in the response to the reveal,
and never stored in the page's URL or the session.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from chainsleuth.cases.ledger_guard import active_holds
from chainsleuth.errors import ChainsleuthError, InvalidInputError
from chainsleuth.privacy.reveal import PURPOSES, REVEALABLE_FIELDS, pseudonym_of, pseudonymised_customer, reveal
from chainsleuth.store import exchange_read
from chainsleuth.store.models.ledger import EVENT_TYPES
from chainsleuth.web.core import DbSession, NavItem, Viewer, csrf_protected, page, register_nav, render
from chainsleuth.web.exposure_pages import deposit_panels
from chainsleuth.web.standing import frozen_accounts

router = APIRouter(include_in_schema=False)
Reader = Annotated[Viewer, Depends(page("customer.read_pseudonymised", "ledger.read"))]
PAGE_SIZE = 25
EVENTS_PAGE = 20
RISKS = ("low", "medium", "high")
STATUSES = ("active", "dormant", "closed")
FIELD_LABELS = {
    "full_name": "Full name",
    "date_of_birth": "Date of birth",
    "nationality": "Nationality",
    "id_document_number": "ID document number",
    "email": "E-mail",
    "phone": "Phone",
    "address_line": "Address",
    "city": "City",
    "postal_code": "Postal code",
}


def _choice(value: str | None, allowed: tuple[str, ...]) -> str | None:
    return value if value in allowed else None


@router.get("/customers")
def customers(
    request: Request,
    viewer: Reader,
    db: DbSession,
    risk: str | None = None,
    status: str | None = None,
    country: str | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> HTMLResponse:
    """Customers filtered by risk rating, status and country, a page at a time, under their pseudonyms."""
    country_code = country.strip().upper()[:2] if country and country.strip() else None
    result = exchange_read.list_customers(
        db,
        risk_rating=_choice(risk, RISKS),
        status=_choice(status, STATUSES),
        country=country_code,
        limit=PAGE_SIZE,
        offset=offset,
    )
    rows = [{"c": c, "pseudonym": pseudonym_of(db, c.customer_id)} for c in result.items]
    context = {
        "title": "Customers",
        "page": result,
        "rows": rows,
        "filters": {"risk": risk or "", "status": status or "", "country": country_code or ""},
        "risks": RISKS,
        "statuses": STATUSES,
    }
    return render(request, "customers.html", viewer, context)


def _events_context(db: DbSession, account_id: str | None, event_type: str | None, offset: int) -> dict[str, Any]:
    if account_id is None:
        return {"events": None, "account_id": None, "event_type": "", "event_types": EVENT_TYPES}
    events = exchange_read.account_events(
        db, account_id, event_type=_choice(event_type, tuple(EVENT_TYPES)), limit=EVENTS_PAGE, offset=offset
    )
    return {"events": events, "account_id": account_id, "event_type": event_type or "", "event_types": EVENT_TYPES}


@router.get("/customers/{customer_id}")
def customer(
    request: Request,
    customer_id: str,
    viewer: Reader,
    db: DbSession,
    account: str | None = None,
    event_type: str | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> HTMLResponse:
    """A customer's pseudonymised profile, accounts, balances, deposit addresses and ledger."""
    profile = pseudonymised_customer(db, viewer.principal, customer_id)
    overview = exchange_read.customer_overview(db, customer_id)
    account_ids = [a.account_id for a in overview.accounts]
    selected = account if account in account_ids else (account_ids[0] if account_ids else None)
    context: dict[str, Any] = {
        "title": f"Customer {profile.pseudonym}",
        "profile": profile,
        "overview": overview,
        "can_reveal": viewer.can("customer.reveal"),
        "purposes": PURPOSES,
        "fields": [(name, FIELD_LABELS.get(name, name)) for name in REVEALABLE_FIELDS],
        "revealed": None,
        "reveal_error": None,
        "legal_holds": active_holds(db, customer_id),
        "frozen": frozen_accounts(db, account_ids),
        **_events_context(db, selected, event_type, offset),
    }
    return render(request, "customer.html", viewer, context)


@router.get("/customers/{customer_id}/events")
def events_fragment(
    request: Request,
    customer_id: str,
    viewer: Reader,
    db: DbSession,
    account: str,
    event_type: str | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> HTMLResponse:
    """The ledger table alone (htmx swaps it in when paging or filtering)."""
    overview = exchange_read.customer_overview(db, customer_id)
    if account not in {a.account_id for a in overview.accounts}:
        raise InvalidInputError("this account does not belong to the customer", account=account)
    context = {"overview": overview, **_events_context(db, account, event_type, offset)}
    return render(request, "fragments/events.html", viewer, context)


# Exposure panel of the customer page (added with the customer exposure panel).
@router.get("/customers/{customer_id}/exposure")
def exposure_fragment(request: Request, customer_id: str, viewer: Reader, db: DbSession) -> HTMLResponse:
    """Incoming exposure of the customer's deposit addresses, per chain (htmx loads it once the page is shown)."""
    overview = exchange_read.customer_overview(db, customer_id)
    deposits = [(d.chain, d.address) for a in overview.accounts for d in a.deposit_addresses]
    context = {"customer_id": customer_id, "panels": deposit_panels(request, db, deposits)}
    return render(request, "fragments/customer_exposure.html", viewer, context)


@router.post("/customers/{customer_id}/reveal", dependencies=[Depends(csrf_protected)])
async def reveal_customer(
    request: Request,
    customer_id: str,
    viewer: Annotated[Viewer, Depends(page())],
    db: DbSession,
) -> HTMLResponse:
    """Reveal the chosen fields for the stated purpose (the privacy layer checks and audits both).

    The permissions are deliberately checked by the privacy layer, not here, so that a refused attempt by any
    logged-in role is audited like every other refusal.
    """
    form = await request.form()
    fields = [str(v) for v in form.getlist("fields")]
    code = str(form.get("purpose") or "").strip()
    free_text = str(form.get("purpose_text") or "").strip()
    purpose = free_text if code in ("", "other") else code
    case_ref = str(form.get("case_ref") or "").strip() or None
    context: dict[str, Any] = {"customer_id": customer_id, "labels": FIELD_LABELS, "revealed": None}
    status = 200
    try:
        result = reveal(db, viewer.principal, customer_id, fields, purpose, case_ref)
    except ChainsleuthError as error:
        from chainsleuth.api.errors import http_status_for

        context["reveal_error"] = error
        status = http_status_for(error)
    else:
        context.update(revealed=result.fields, audit_seq=result.audit_seq, purpose=purpose, case_ref=case_ref)
    return render(request, "fragments/revealed.html", viewer, context, status_code=status)


register_nav(NavItem("Exchange", "Customers", "/customers", "customer.read_pseudonymised", order=20))
