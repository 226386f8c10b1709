"""Read-side queries over the exchange's books, returning views without personal data.

The HTTP API, the CLI and later the web pages all list customers and their ledgers through these functions, so the
rule "no personal field leaves the store unless the privacy layer reveals it for a stated purpose" is enforced in one
place: the view models below simply have no personal fields.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chainsleuth.errors import InvalidInputError, NotFoundError
from chainsleuth.store.models.exchange import Account, Customer, DepositAddress
from chainsleuth.store.models.ledger import LedgerEvent

MAX_PAGE = 500
T = TypeVar("T")


class CustomerSummary(BaseModel):
    customer_id: str
    created_at: datetime
    country_of_residence: str
    occupation: str
    declared_annual_income_usd: int
    source_of_funds: str
    risk_rating: str
    kyc_level: int
    status: str


class BalanceView(BaseModel):
    asset: str
    balance: Decimal


class DepositAddressView(BaseModel):
    chain: str
    address: str
    created_at: datetime


class AccountView(BaseModel):
    account_id: str
    account_type: str
    opened_at: datetime
    status: str
    balances: list[BalanceView]
    deposit_addresses: list[DepositAddressView]


class CustomerOverview(CustomerSummary):
    accounts: list[AccountView]
    event_counts: dict[str, int]


class LedgerEventView(BaseModel):
    """A ledger event without its personal columns (IP address, bank reference)."""

    event_id: str
    event_type: str
    timestamp: datetime
    customer_id: str
    account_id: str
    asset: str | None
    amount: Decimal | None
    usd_value: float | None
    chain: str | None
    tx_hash: str | None
    address: str | None
    counterparty_customer_id: str | None
    counterparty_account_id: str | None
    side: str | None
    quote_asset: str | None
    quote_amount: Decimal | None
    price: Decimal | None
    device_id: str | None
    ip_country: str | None
    success: bool | None
    change_type: str | None


class Page(BaseModel, Generic[T]):
    total: int
    limit: int
    offset: int
    items: list[T]


def _check_page(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInputError(f"limit must be between 1 and {MAX_PAGE}", limit=limit)
    if offset < 0:
        raise InvalidInputError("offset must not be negative", offset=offset)


def _summary(customer: Customer) -> CustomerSummary:
    return CustomerSummary.model_validate(customer, from_attributes=True)


def list_customers(
    session: Session,
    *,
    risk_rating: str | None = None,
    status: str | None = None,
    country: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page[CustomerSummary]:
    """Customers in id order, optionally filtered by risk rating, status and country of residence."""
    _check_page(limit, offset)
    query = select(Customer)
    if risk_rating:
        query = query.where(Customer.risk_rating == risk_rating)
    if status:
        query = query.where(Customer.status == status)
    if country:
        query = query.where(Customer.country_of_residence == country.upper())
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Customer.customer_id).limit(limit).offset(offset)).all()
    return Page[CustomerSummary](total=total, limit=limit, offset=offset, items=[_summary(c) for c in rows])


def customer_overview(session: Session, customer_id: str) -> CustomerOverview:
    """One customer's profile (no personal fields), accounts, balances, deposit addresses and activity counts."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFoundError("no such customer", customer_id=customer_id)
    addresses = session.scalars(
        select(DepositAddress).where(DepositAddress.customer_id == customer_id).order_by(DepositAddress.chain)
    ).all()
    by_account: dict[str, list[DepositAddressView]] = {}
    for address in addresses:
        by_account.setdefault(address.account_id, []).append(
            DepositAddressView(chain=address.chain, address=address.address, created_at=address.created_at)
        )
    accounts = [
        AccountView(
            account_id=account.account_id,
            account_type=account.account_type,
            opened_at=account.opened_at,
            status=account.status,
            balances=[BalanceView(asset=b.asset, balance=b.balance) for b in account.balances],
            deposit_addresses=by_account.get(account.account_id, []),
        )
        for account in customer.accounts
    ]
    counts = session.execute(
        select(LedgerEvent.event_type, func.count())
        .where(LedgerEvent.customer_id == customer_id)
        .group_by(LedgerEvent.event_type)
    ).all()
    return CustomerOverview(
        **_summary(customer).model_dump(),
        accounts=accounts,
        event_counts={str(event_type): int(count) for event_type, count in counts},
    )


def account_events(
    session: Session,
    account_id: str,
    *,
    event_type: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Page[LedgerEventView]:
    """The ledger of one account, newest first, including internal transfers it received."""
    _check_page(limit, offset)
    if session.get(Account, account_id) is None:
        raise NotFoundError("no such account", account_id=account_id)
    query = select(LedgerEvent).where(
        (LedgerEvent.account_id == account_id) | (LedgerEvent.counterparty_account_id == account_id)
    )
    if event_type:
        query = query.where(LedgerEvent.event_type == event_type)
    if since:
        query = query.where(LedgerEvent.timestamp >= since)
    if until:
        query = query.where(LedgerEvent.timestamp < until)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(LedgerEvent.timestamp.desc(), LedgerEvent.event_id.desc()).limit(limit).offset(offset)
    ).all()
    items = [LedgerEventView.model_validate(row, from_attributes=True) for row in rows]
    return Page[LedgerEventView](total=total, limit=limit, offset=offset, items=items)


def deposit_address_owner(session: Session, chain: str, address: str) -> DepositAddress | None:
    """Which of our customers a deposit address belongs to, if any."""
    return session.get(DepositAddress, (chain, address))
