"""Our exchange's customers, accounts, deposit addresses and balances (``exchange/*`` of the export contract).

Column names and meanings are exactly those of ``docs/export-formats.md`` so that a real exchange can load its
own back-office export with the same loader as a simulated world. Personal KYC fields are marked with
:func:`~chainsleuth.store.models.personal.personal` and stored as ``TEXT`` through
:class:`~chainsleuth.privacy.columns.EncryptedText`: AES-GCM ciphertext on disk, clear text in Python; the
searchable ones have a ``*_bidx`` blind-index column beside them. ``date_of_birth`` is therefore an ISO
``YYYY-MM-DD`` string rather than a DATE: an encrypted date is no longer a date. Customers and accounts change
(status, risk rating, freezes), so they carry an optimistic-locking ``version``; two analysts editing the same
customer cannot silently overwrite each other.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chainsleuth.privacy.columns import EncryptedText, blind_index
from chainsleuth.store.models.base import Base, one_of
from chainsleuth.store.models.personal import personal
from chainsleuth.store.types import Amount, UTCDateTime

ID_DOCUMENT_TYPES = ("passport", "national_id", "driving_licence")
SOURCES_OF_FUNDS = (
    "salary",
    "business",
    "investments",
    "savings",
    "inheritance",
    "crypto_trading",
    "mining",
    "pension",
    "other",
)
RISK_RATINGS = ("low", "medium", "high")
CUSTOMER_STATUSES = ("active", "dormant", "closed")
ACCOUNT_TYPES = ("spot", "sub")
ACCOUNT_STATUSES = ("active", "closed")
CHAINS = ("bitcoin", "ethereum")
ASSETS = ("BTC", "ETH", "USDT", "USD", "EUR")

#: Width of identifier columns: the contract's ids are 8-11 characters; real exchanges' ids are often longer.
ID_LENGTH = 32


class Customer(Base):
    """A KYC'd customer of the exchange: who an account belongs to, and what an investigator may need to
    disclose.
    """

    __tablename__ = "customers"
    __table_args__ = (
        one_of("id_document_type", ID_DOCUMENT_TYPES),
        one_of("source_of_funds", SOURCES_OF_FUNDS),
        one_of("risk_rating", RISK_RATINGS),
        one_of("status", CUSTOMER_STATUSES),
        CheckConstraint("kyc_level BETWEEN 0 AND 3", name="kyc_level_valid"),
    )

    customer_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    full_name: Mapped[str] = mapped_column(EncryptedText("customers", "full_name"), info=personal("name"))
    date_of_birth: Mapped[str] = mapped_column(EncryptedText("customers", "date_of_birth"), info=personal())
    nationality: Mapped[str] = mapped_column(EncryptedText("customers", "nationality"), info=personal())
    id_document_type: Mapped[str] = mapped_column(String(20))
    id_document_number: Mapped[str] = mapped_column(
        EncryptedText("customers", "id_document_number"), info=personal("document")
    )
    id_document_country: Mapped[str] = mapped_column(String(2))
    email: Mapped[str] = mapped_column(EncryptedText("customers", "email"), info=personal("email"))
    phone: Mapped[str] = mapped_column(EncryptedText("customers", "phone"), info=personal("phone"))
    address_line: Mapped[str] = mapped_column(EncryptedText("customers", "address_line"), info=personal())
    city: Mapped[str] = mapped_column(EncryptedText("customers", "city"), info=personal())
    postal_code: Mapped[str] = mapped_column(EncryptedText("customers", "postal_code"), info=personal())
    country_of_residence: Mapped[str] = mapped_column(String(2))
    occupation: Mapped[str] = mapped_column(Text)
    declared_annual_income_usd: Mapped[int] = mapped_column(BigInteger)
    source_of_funds: Mapped[str] = mapped_column(String(20))
    risk_rating: Mapped[str] = mapped_column(String(10))
    kyc_level: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(String(10))
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    # Blind indexes (keyed HMAC of the normalised value, see chainsleuth.privacy): exact search without
    # decrypting. Filled by the loader and, for ORM writes, by chainsleuth.privacy.fields.
    full_name_bidx: Mapped[str | None] = mapped_column(String(64), index=True, info=blind_index("full_name", "name"))
    id_document_number_bidx: Mapped[str | None] = mapped_column(
        String(64), index=True, info=blind_index("id_document_number", "document")
    )
    email_bidx: Mapped[str | None] = mapped_column(String(64), index=True, info=blind_index("email", "email"))
    phone_bidx: Mapped[str | None] = mapped_column(String(64), index=True, info=blind_index("phone", "phone"))

    accounts: Mapped[list[Account]] = relationship(back_populates="customer", order_by="Account.account_id")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  (SQLAlchemy's declarative convention)

    def __repr__(self) -> str:  # never print personal fields
        return f"Customer({self.customer_id!r}, status={self.status!r})"


class Account(Base):
    """A trading account (``spot`` or ``sub``) of one customer; the unit that is frozen, and that holds
    balances.
    """

    __tablename__ = "accounts"
    __table_args__ = (
        one_of("account_type", ACCOUNT_TYPES),
        one_of("status", ACCOUNT_STATUSES),
        Index(None, "customer_id"),
    )

    account_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"))
    account_type: Mapped[str] = mapped_column(String(10))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(10))
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))

    customer: Mapped[Customer] = relationship(back_populates="accounts")
    balances: Mapped[list[Balance]] = relationship(back_populates="account", order_by="Balance.asset")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  (SQLAlchemy's declarative convention)

    def __repr__(self) -> str:
        return f"Account({self.account_id!r}, customer={self.customer_id!r}, status={self.status!r})"


class DepositAddress(Base):
    """An on-chain address the exchange gave a customer: the bridge from chain analytics to a KYC'd person.

    The primary key is (chain, address): an address belongs to exactly one account, and a deposit seen on
    chain must resolve to one customer.
    """

    __tablename__ = "deposit_addresses"
    __table_args__ = (Index(None, "account_id"), Index(None, "customer_id", "chain"))

    chain: Mapped[str] = mapped_column(String(16), primary_key=True)
    address: Mapped[str] = mapped_column(String(128), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.account_id"))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"DepositAddress({self.chain!r}, {self.address!r}, account={self.account_id!r})"


class Balance(Base):
    """The balance of one asset in one account: what a freeze immobilises and a seizure moves."""

    __tablename__ = "balances"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.account_id"), primary_key=True)
    asset: Mapped[str] = mapped_column(String(16), primary_key=True)
    balance: Mapped[Decimal] = mapped_column(Amount())

    account: Mapped[Account] = relationship(back_populates="balances")

    def __repr__(self) -> str:
        return f"Balance({self.account_id!r}, {self.asset!r}, {self.balance})"
