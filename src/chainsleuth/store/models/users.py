"""People who use chainsleuth itself: analysts, officers, auditors, administrators and law-enforcement
officers.

Only the argon2 hash of a password is stored. ``role`` decides what a user may do and ``agency_id`` scopes a
law-enforcement officer to their own agency's requests. ``totp_secret`` is a credential, not personal data,
but it is just as sensitive: a copy of the database must not let anyone mint second-factor codes, so it is an
encrypted column like the personal fields (and is re-encrypted by key rotation with them).
Users are edited concurrently by administrators, hence the optimistic-locking ``version``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from chainsleuth.privacy.columns import EncryptedText
from chainsleuth.store.models.base import Base, one_of
from chainsleuth.store.types import UTCDateTime, utcnow


class Role(StrEnum):
    """What a platform user is allowed to do (the access policy lives in ``chainsleuth.privacy``)."""

    ANALYST = "analyst"
    SENIOR_ANALYST = "senior_analyst"
    COMPLIANCE_OFFICER = "compliance_officer"
    LE_RESPONSE_OFFICER = "le_response_officer"
    AUDITOR = "auditor"
    ADMIN = "admin"
    LE_OFFICER = "le_officer"


class User(Base):
    """A login to the platform."""

    __tablename__ = "users"
    __table_args__ = (one_of("role", [role.value for role in Role]),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    agency_id: Mapped[str | None] = mapped_column(String(64))
    totp_secret: Mapped[str | None] = mapped_column(EncryptedText("users", "totp_secret"), info={"secret": True})
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  (SQLAlchemy's declarative convention)

    def __repr__(self) -> str:
        return f"User({self.username!r}, role={self.role!r}, active={self.active})"
