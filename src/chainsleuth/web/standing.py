"""What an account's or customer's badge says: the stored status, or what an approved action made of it.

Freezing an account does not rewrite ``accounts.status`` (that is the ledger's own field, loaded from the
exchange); it is an active ``freeze`` action that the ledger guard enforces on every withdrawal. Likewise a legal
hold preserves a customer's records without touching the customer row. Pages that showed the stored status
therefore said "active" for a frozen account; these helpers give them the effective standing instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from chainsleuth.cases.common import moment
from chainsleuth.store.models.cases import AccountAction, LegalHold


def frozen_accounts(db: Session, account_ids: Iterable[str], now: datetime | None = None) -> set[str]:
    """Those of ``account_ids`` under a freeze in force at ``now`` (the ledger guard's rule: approved, active,
    not expired, even before the expiry job has run)."""
    wanted = sorted(set(account_ids))
    if not wanted:
        return set()
    at = moment(now)
    query = select(AccountAction.account_id).where(
        AccountAction.kind == "freeze",
        AccountAction.status == "active",
        AccountAction.account_id.in_(wanted),
        or_(AccountAction.expires_at.is_(None), AccountAction.expires_at > at),
    )
    return {account_id for account_id in db.scalars(query) if account_id}


def preserved_customers(db: Session, customer_ids: Iterable[str], now: datetime | None = None) -> set[str]:
    """Those of ``customer_ids`` whose records are under a legal hold in force at ``now``."""
    wanted = sorted(set(customer_ids))
    if not wanted:
        return set()
    at = moment(now)
    query = select(LegalHold.customer_id).where(
        LegalHold.customer_id.in_(wanted),
        LegalHold.active.is_(True),
        or_(LegalHold.until.is_(None), LegalHold.until > at),
    )
    return set(db.scalars(query))


def account_status(stored: str | None, account_id: str, frozen: set[str]) -> str | None:
    """``frozen`` for an account under a freeze in force, otherwise its stored status."""
    return "frozen" if account_id in frozen else stored
