"""The exchange's books over HTTP: customers (no personal data), accounts, balances and ledgers (``ledger.read``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy.orm import Session

from chainsleuth.api.deps import Principal, get_session
from chainsleuth.api.permissions import requires
from chainsleuth.cases.ledger_guard import active_holds
from chainsleuth.store import exchange_read
from chainsleuth.store.exchange_read import CustomerOverview, CustomerSummary, LedgerEventView, Page

router = APIRouter(prefix="/api/exchange", tags=["exchange"])
LedgerReader = Annotated[Principal, Depends(requires("ledger.read"))]
DbSession = Annotated[Session, Depends(get_session)]


@router.get("/customers", response_model=Page[CustomerSummary], summary="List customers")
def list_customers(
    _: LedgerReader,
    session: DbSession,
    risk_rating: Annotated[str | None, Query(pattern="^(low|medium|high)$")] = None,
    status: Annotated[str | None, Query(pattern="^(active|dormant|closed)$")] = None,
    country: Annotated[str | None, Query(min_length=2, max_length=2)] = None,
    limit: Annotated[int, Query(ge=1, le=exchange_read.MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page[CustomerSummary]:
    """Customers with their risk profile. Names, contact and identity data are never part of this view."""
    return exchange_read.list_customers(
        session, risk_rating=risk_rating, status=status, country=country, limit=limit, offset=offset
    )


class LegalHoldView(BaseModel):
    """A legal hold in force on the customer's records (an approved ``preserve`` action)."""

    id: int
    action_id: int
    case_id: int | None
    legal_basis: str | None
    placed_at: datetime
    until: datetime | None


class CustomerWithHolds(CustomerOverview):
    legal_holds: list[LegalHoldView]


@router.get("/customers/{customer_id}", response_model=CustomerWithHolds, summary="One customer")
def customer(customer_id: str, _: LedgerReader, session: DbSession) -> CustomerWithHolds:
    """Profile without personal data, accounts with balances and deposit addresses, activity counts, and the
    legal holds preserving the customer's records (nothing of them may be deleted while one is in force)."""
    overview = exchange_read.customer_overview(session, customer_id)
    holds = [LegalHoldView(id=h.id, action_id=h.action_id, case_id=h.case_id, legal_basis=h.legal_basis,
                           placed_at=h.placed_at, until=h.until)
             for h in active_holds(session, customer_id)]  # fmt: skip
    return CustomerWithHolds(**overview.model_dump(), legal_holds=holds)


@router.get("/accounts/{account_id}/events", response_model=Page[LedgerEventView], summary="An account's ledger")
def account_events(
    account_id: str,
    _: LedgerReader,
    session: DbSession,
    event_type: Annotated[str | None, Query()] = None,
    since: Annotated[datetime | None, Query()] = None,
    until: Annotated[datetime | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=exchange_read.MAX_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page[LedgerEventView]:
    """Ledger events of the account (and internal transfers into it), newest first."""
    return exchange_read.account_events(
        session, account_id, event_type=event_type, since=since, until=until, limit=limit, offset=offset
    )
