"""The append-only, hash-chained audit log and the field-encryption keyring.

``audit_log`` holds one row per audited event (who, in which role, did what to which object, why), each
carrying the hash of the previous entry and its own hash, plus an HMAC under a key derived from the master key
(see ``chainsleuth.privacy.audit``). ``audit_chain_head`` is a single row (``id = 1``) that every writer locks
first: it serialises sequence allocation on PostgreSQL and SQLite alike, and records the last entry so that
cutting entries off the end of the chain is detected too.

``privacy_keys`` records which field-encryption key versions exist and what each may still do. The keys are
never stored: they are derived from the master key file and the version number; ``check_value`` (an HMAC of a
fixed label under the derived key) lets the privacy layer tell a wrong master key from tampered data.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from chainsleuth.store.models.base import Base, one_of
from chainsleuth.store.types import UTCDateTime

KEY_STATES = ("active", "decrypt_only", "retired")


class AuditEntry(Base):
    """One audited event. Rows are only ever inserted; ``chainsleuth audit verify`` proves it."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index(None, "occurred_at"),
        Index(None, "object_type", "object_id"),
        Index(None, "actor"),
    )

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(128))
    actor_role: Mapped[str] = mapped_column(String(32))
    agency_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(200))
    purpose: Mapped[str | None] = mapped_column(Text)
    details: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))
    entry_mac: Mapped[str | None] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"AuditEntry({self.seq}, {self.action!r}, {self.object_type}:{self.object_id}, by={self.actor!r})"


class AuditChainHead(Base):
    """The single row naming the last entry of the chain; locked by every writer."""

    __tablename__ = "audit_chain_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    entry_hash: Mapped[str] = mapped_column(String(64))
    head_mac: Mapped[str | None] = mapped_column(String(64))


class PrivacyKey(Base):
    """One field-encryption key version: ``active`` (encrypts and decrypts), ``decrypt_only`` (an older key
    whose ciphertexts a rotation has not re-encrypted yet) or ``retired`` (refused).
    """

    __tablename__ = "privacy_keys"
    __table_args__ = (one_of("state", KEY_STATES),)

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    state: Mapped[str] = mapped_column(String(16))
    check_value: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"PrivacyKey(v{self.version}, {self.state})"
