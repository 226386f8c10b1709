"""Every event on the exchange's books: the one wide ``ledger_events`` table of the export contract.

One wide table rather than one table per event type because monitoring rules, timelines and law-enforcement
disclosures all read "everything this customer did, in order"; the indexes below serve exactly those reads
(per customer, per account, by transaction hash, by address, by device and by IP). ``ip`` and
``bank_reference`` are personal data, stored encrypted; IP look-ups go through the ``ip_bidx`` blind index.
Events are immutable once booked, so they carry no version.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from chainsleuth.privacy.columns import EncryptedText, blind_index
from chainsleuth.store.models.base import Base, one_of
from chainsleuth.store.models.exchange import ID_LENGTH
from chainsleuth.store.models.personal import personal
from chainsleuth.store.types import Amount, UTCDateTime

EVENT_TYPES = (
    "deposit",
    "withdrawal",
    "internal_transfer",
    "trade",
    "fiat_deposit",
    "fiat_withdrawal",
    "login",
    "credential_change",
)
TRADE_SIDES = ("buy", "sell")
CHANGE_TYPES = ("password", "email", "phone", "two_factor")


class LedgerEvent(Base):
    """One booked event (deposit, withdrawal, transfer, trade, fiat movement, login, credential change)."""

    __tablename__ = "ledger_events"
    __table_args__ = (
        one_of("event_type", EVENT_TYPES),
        one_of("side", TRADE_SIDES),
        one_of("change_type", CHANGE_TYPES),
        Index(None, "customer_id", "timestamp"),
        Index(None, "account_id", "timestamp"),
        Index(None, "tx_hash"),
        Index(None, "address"),
        Index(None, "device_id"),
        Index(None, "ip_bidx"),
    )

    event_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(20))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime())
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.account_id"))
    asset: Mapped[str | None] = mapped_column(String(16))
    amount: Mapped[Decimal | None] = mapped_column(Amount())
    usd_value: Mapped[float | None] = mapped_column(Float)
    chain: Mapped[str | None] = mapped_column(String(16))
    tx_hash: Mapped[str | None] = mapped_column(String(80))
    address: Mapped[str | None] = mapped_column(String(128))
    counterparty_customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.customer_id"))
    counterparty_account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.account_id"))
    side: Mapped[str | None] = mapped_column(String(4))
    quote_asset: Mapped[str | None] = mapped_column(String(16))
    quote_amount: Mapped[Decimal | None] = mapped_column(Amount())
    price: Mapped[Decimal | None] = mapped_column(Amount())
    bank_reference: Mapped[str | None] = mapped_column(
        EncryptedText("ledger_events", "bank_reference"), info=personal()
    )
    ip: Mapped[str | None] = mapped_column(EncryptedText("ledger_events", "ip"), info=personal())
    #: Blind index of ``ip`` ("which accounts logged in from this IP" without decrypting).
    ip_bidx: Mapped[str | None] = mapped_column(String(64), info=blind_index("ip", "ip"))
    device_id: Mapped[str | None] = mapped_column(String(128))
    user_agent: Mapped[str | None] = mapped_column(Text)
    ip_country: Mapped[str | None] = mapped_column(String(2))
    success: Mapped[bool | None] = mapped_column(Boolean)
    change_type: Mapped[str | None] = mapped_column(String(20))

    def __repr__(self) -> str:
        return f"LedgerEvent({self.event_id!r}, {self.event_type!r}, account={self.account_id!r})"
