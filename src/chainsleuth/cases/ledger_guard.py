"""The exchange ledger's posting path, with the guard that makes a frozen account really frozen.

Every movement of funds on the exchange's books goes through :func:`post_withdrawal`,
:func:`post_internal_transfer` or :func:`post_deposit`, which book a ``ledger_events`` row and update
``balances`` in the caller's transaction. Before anything moves *out* of an account they call
:func:`assert_can_move_funds`, which refuses with a :class:`PolicyViolationError` naming the freeze, its legal
basis, its case and its expiry while an approved freeze is in force. Deposits still credit a frozen account:
refusing incoming funds would bounce them back to the very addresses under investigation, and a freeze is
about keeping value *in*.

An expired freeze no longer blocks, even before the scheduler's :func:`chainsleuth.cases.actions.expire_due`
has marked it expired: the guard compares ``expires_at`` with the time of the posting (lazy expiry).

Legal holds (approved ``preserve`` actions) are listed by :func:`active_holds` / :func:`holds_for_customers`
and shown on the customer (API and web page), case and action views, so that whoever handles the customer's
records sees they are preserved. chainsleuth itself has no path that deletes or erases customer data (the ledger
loader only inserts, customers are never removed, the privacy layer has no erasure command);
:func:`assert_no_legal_hold` is the check any such path must call first, and a test keeps it refusing.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from chainsleuth.cases.common import moment
from chainsleuth.errors import InvalidInputError, NotFoundError, PolicyViolationError
from chainsleuth.store.models.cases import AccountAction, LegalHold
from chainsleuth.store.models.exchange import Account, Balance
from chainsleuth.store.models.ledger import LedgerEvent
from chainsleuth.store.types import normalize_amount

#: Movements a freeze refuses (everything that takes value out of the account or converts it).
OUTGOING = frozenset({"withdrawal", "internal_transfer", "fiat_withdrawal", "trade"})
#: Movements a freeze lets through.
INCOMING = frozenset({"deposit", "fiat_deposit"})
#: The execution of an approved seizure: the one way value leaves a frozen account.
SEIZURE = "seizure"


def active_freezes(session: Session, account_id: str, now: datetime | None = None) -> list[AccountAction]:
    """Approved freezes of ``account_id`` in force at ``now`` (expired ones no longer count)."""
    at = moment(now)
    return list(
        session.scalars(
            select(AccountAction)
            .where(
                AccountAction.kind == "freeze",
                AccountAction.status == "active",
                AccountAction.account_id == account_id,
                or_(AccountAction.expires_at.is_(None), AccountAction.expires_at > at),
            )
            .order_by(AccountAction.id)
        )
    )


def _describe(freeze: AccountAction) -> str:
    basis = freeze.legal_basis or "none stated"
    case = f"CASE-{freeze.case_id:06d}" if freeze.case_id is not None else "no case"
    until = freeze.expires_at.isoformat() if freeze.expires_at else "further notice"
    return f"freeze #{freeze.id} (legal basis: {basis}; {case}; in force until {until})"


def assert_can_move_funds(session: Session, account_id: str, kind: str, now: datetime | None = None) -> None:
    """Refuse an outgoing movement of a frozen account with a PolicyViolationError naming the freeze.

    ``kind`` is a ledger event type, or ``"seizure"`` for the execution of an approved seizure.
    """
    if kind in INCOMING or kind == SEIZURE:
        return
    if kind not in OUTGOING:
        raise InvalidInputError("unknown kind of funds movement", kind=kind,
                                allowed=sorted(OUTGOING | INCOMING | {SEIZURE}))  # fmt: skip
    freezes = active_freezes(session, account_id, now)
    if freezes:
        first = freezes[0]
        raise PolicyViolationError(
            f"account {account_id} is frozen by {_describe(first)}: {kind.replace('_', ' ')}s out of it are refused",
            account_id=account_id,
            freeze_id=first.id,
            legal_basis=first.legal_basis,
            case_id=first.case_id,
            expires_at=first.expires_at.isoformat() if first.expires_at else None,
        )


def _account(session: Session, account_id: str) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise NotFoundError("no such account", account_id=account_id)
    return account


def _amount(amount: Decimal | int | str) -> Decimal:
    try:
        value = normalize_amount(amount)
    except ValueError as error:
        raise InvalidInputError(str(error), field="amount") from error
    if value <= 0:
        raise InvalidInputError("amounts must be positive", field="amount", amount=str(value))
    return value


def _balance(session: Session, account_id: str, asset: str) -> Balance | None:
    return session.scalars(
        select(Balance).where(Balance.account_id == account_id, Balance.asset == asset).with_for_update()
    ).one_or_none()


def _debit(session: Session, account_id: str, asset: str, amount: Decimal) -> None:
    row = _balance(session, account_id, asset)
    available = row.balance if row is not None else Decimal(0)
    if row is None or available < amount:
        raise PolicyViolationError(
            f"insufficient {asset} balance in account {account_id}: {available} available, {amount} requested",
            account_id=account_id, asset=asset,
        )  # fmt: skip
    row.balance = available - amount


def _credit(session: Session, account_id: str, asset: str, amount: Decimal) -> None:
    row = _balance(session, account_id, asset)
    if row is None:
        session.add(Balance(account_id=account_id, asset=asset, balance=amount))
    else:
        row.balance = row.balance + amount


def new_event_id(prefix: str = "L") -> str:
    """A fresh ledger event id (fits the 32-character id columns)."""
    return prefix + uuid.uuid4().hex[:24].upper()


def _book(
    session: Session, event_type: str, account: Account, asset: str, value: Decimal, at: datetime,
    event_id: str | None, usd_value: float | None, **fields: str | None,
) -> LedgerEvent:  # fmt: skip
    """Add and flush the ``ledger_events`` row of a movement of ``account``'s funds."""
    event = LedgerEvent(
        event_id=event_id or new_event_id(), event_type=event_type, timestamp=at, customer_id=account.customer_id,
        account_id=account.account_id, asset=asset, amount=value, usd_value=usd_value, **fields,
    )  # fmt: skip
    session.add(event)
    session.flush()
    return event


def post_withdrawal(
    session: Session,
    account_id: str,
    asset: str,
    amount: Decimal | int | str,
    *,
    chain: str,
    address: str,
    tx_hash: str | None = None,
    usd_value: float | None = None,
    event_id: str | None = None,
    now: datetime | None = None,
    seizure: bool = False,
) -> LedgerEvent:
    """Book an on-chain withdrawal (debit ``account_id``); refused out of a frozen account.

    ``seizure=True`` is reserved for :mod:`chainsleuth.cases.actions` executing an approved seizure.
    """
    at = moment(now)
    account = _account(session, account_id)
    assert_can_move_funds(session, account_id, SEIZURE if seizure else "withdrawal", at)
    value = _amount(amount)
    _debit(session, account_id, asset, value)
    return _book(session, "withdrawal", account, asset, value, at, event_id, usd_value, chain=chain, address=address,
                 tx_hash=tx_hash)  # fmt: skip


def post_internal_transfer(
    session: Session,
    from_account_id: str,
    to_account_id: str,
    asset: str,
    amount: Decimal | int | str,
    *,
    usd_value: float | None = None,
    event_id: str | None = None,
    now: datetime | None = None,
    seizure: bool = False,
) -> LedgerEvent:
    """Book a transfer between two accounts on the exchange; refused out of a frozen account."""
    if from_account_id == to_account_id:
        raise InvalidInputError("a transfer needs two different accounts", account_id=from_account_id)
    at = moment(now)
    source = _account(session, from_account_id)
    target = _account(session, to_account_id)
    assert_can_move_funds(session, from_account_id, SEIZURE if seizure else "internal_transfer", at)
    value = _amount(amount)
    _debit(session, from_account_id, asset, value)
    _credit(session, to_account_id, asset, value)
    return _book(session, "internal_transfer", source, asset, value, at, event_id, usd_value,
                 counterparty_customer_id=target.customer_id, counterparty_account_id=to_account_id)  # fmt: skip


def post_deposit(
    session: Session,
    account_id: str,
    asset: str,
    amount: Decimal | int | str,
    *,
    chain: str,
    address: str,
    tx_hash: str,
    usd_value: float | None = None,
    event_id: str | None = None,
    now: datetime | None = None,
) -> LedgerEvent:
    """Book an on-chain deposit (credit ``account_id``): accepted even while the account is frozen."""
    at = moment(now)
    account = _account(session, account_id)
    value = _amount(amount)
    _credit(session, account_id, asset, value)
    return _book(session, "deposit", account, asset, value, at, event_id, usd_value, chain=chain, address=address,
                 tx_hash=tx_hash)  # fmt: skip


# -- legal holds ------------------------------------------------------------------------------------------------


def active_holds(session: Session, customer_id: str, now: datetime | None = None) -> list[LegalHold]:
    """Legal holds in force on a customer's records at ``now``."""
    at = moment(now)
    return list(
        session.scalars(
            select(LegalHold)
            .where(
                LegalHold.customer_id == customer_id,
                LegalHold.active.is_(True),
                or_(LegalHold.until.is_(None), LegalHold.until > at),
            )
            .order_by(LegalHold.id)
        )
    )


def holds_for_customers(session: Session, customer_ids: list[str], now: datetime | None = None) -> list[LegalHold]:
    """Legal holds in force on any of ``customer_ids`` at ``now`` (for case views: the linked customers)."""
    if not customer_ids:
        return []
    at = moment(now)
    return list(
        session.scalars(
            select(LegalHold)
            .where(
                LegalHold.customer_id.in_(sorted(set(customer_ids))),
                LegalHold.active.is_(True),
                or_(LegalHold.until.is_(None), LegalHold.until > at),
            )
            .order_by(LegalHold.id)
        )
    )


def is_preserved(session: Session, customer_id: str, now: datetime | None = None) -> bool:
    """Whether the customer's records are under a legal hold (a flag for views and exports)."""
    return bool(active_holds(session, customer_id, now))


def assert_no_legal_hold(session: Session, customer_id: str, now: datetime | None = None) -> None:
    """Refuse deletion or erasure of a customer's data while a legal hold is in force."""
    holds = active_holds(session, customer_id, now)
    if holds:
        hold = holds[0]
        raise PolicyViolationError(
            f"customer {customer_id}'s records are preserved by legal hold #{hold.id} (action #{hold.action_id}, "
            f"legal basis: {hold.legal_basis or 'none stated'}): they may not be deleted or erased",
            customer_id=customer_id, hold_id=hold.id, action_id=hold.action_id,
        )  # fmt: skip
