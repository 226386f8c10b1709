"""Cooperate: agencies, officers, law-enforcement requests, their targets, files, call-backs, packages, messages.

Why these tables look the way they do:

* ``le_targets.value`` and ``le_messages.body`` hold personal data (an e-mail, a phone number, a message about a
  person), so they are :class:`~chainsleuth.privacy.columns.EncryptedText`; they are flagged ``secret`` rather
  than ``personal`` because they are not part of the exchange export contract (the registry of personal columns
  is exactly that contract). ``value_key`` is a keyed HMAC of the normalised target, so duplicate targets across
  agencies are found without decrypting anything.
* ``le_files`` keeps uploaded instruments, message attachments and disclosure packages *in the database*, each
  encrypted with its own random data key that is itself stored encrypted (``data_key``, envelope encryption
  under the field-encryption key, so key rotation re-wraps it). Keeping the bytes in the row makes an upload
  part of the request's transaction: a refused submission leaves no orphan file behind.
* requests and packages change concurrently (triage, claims, approvals), hence optimistic-locking ``version``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from chainsleuth.privacy.columns import EncryptedText
from chainsleuth.store.models.base import Base, one_of
from chainsleuth.store.types import UTCDateTime, utcnow

OFFICER_STATUSES = ("pending", "approved", "suspended")
REQUEST_TYPES = (
    "preservation",
    "production",
    "emergency_disclosure",
    "freeze",
    "seizure",
    "informational",
    "follow_up",
    "unfreeze",
)
REQUEST_STATUSES = ("submitted", "in_triage", "awaiting_callback", "in_progress", "responded", "declined", "closed")
TARGET_KINDS = ("customer_id", "email", "phone", "address", "tx_hash")
FILE_KINDS = ("instrument", "attachment", "package_draft", "package")
CALLBACK_OUTCOMES = ("confirmed", "not_confirmed", "no_answer")
PACKAGE_STATUSES = ("draft", "approved", "rejected", "withdrawn")
NOTIFICATION_STATUSES = ("due", "withheld", "sent")
_SECRET = {"secret": True}


class LeAgency(Base):
    """A law-enforcement agency of the registry: who may ask, from which e-mail domains, whom to call back."""

    __tablename__ = "le_agencies"

    agency_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    #: Countries whose targets the agency normally asks about (its own country when empty).
    jurisdictions: Mapped[list[str]] = mapped_column(JSON)
    domains: Mapped[list[str]] = mapped_column(JSON)
    #: Verified contacts ``{"name", "phone", "email", "role"}``: the only numbers a call-back may use.
    contacts: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    #: X25519 public key (base64, 32 bytes) that disclosure packages are encrypted to; None: password delivery.
    public_key: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  (SQLAlchemy's declarative convention)


class LeOfficer(Base):
    """A law-enforcement officer's portal registration (the login itself is a ``users`` row, role le_officer)."""

    __tablename__ = "le_officers"
    __table_args__ = (one_of("status", OFFICER_STATUSES), Index(None, "agency_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("le_agencies.agency_id"))
    email: Mapped[str] = mapped_column(String(254))
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Changes on every new verification mail, so an older token (for an older address) no longer works.
    email_nonce: Mapped[str] = mapped_column(String(32))
    totp_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Last TOTP time step accepted: a code is accepted once (no replay within its window).
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    failed_checks: Mapped[int] = mapped_column(Integer, default=0)
    approved_by: Mapped[str | None] = mapped_column(String(128))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    suspended_by: Mapped[str | None] = mapped_column(String(128))
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    suspension_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class LeOutbox(Base):
    """An e-mail the portal would send (verification, notices): written here, never sent over the network."""

    __tablename__ = "le_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(EncryptedText("le_outbox", "body"), info=_SECRET)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LeFile(Base):
    """Bytes at rest (instrument, attachment, package), AES-256-GCM under a per-file key wrapped in ``data_key``."""

    __tablename__ = "le_files"
    __table_args__ = (one_of("kind", FILE_KINDS), Index(None, "request_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("le_requests.id"))
    kind: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    data_key: Mapped[str] = mapped_column(EncryptedText("le_files", "data_key"), info=_SECRET)
    blob: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LeRequest(Base):
    """One request from an agency: what it asks, on which legal basis, its triage, clock, outcome."""

    __tablename__ = "le_requests"
    __table_args__ = (
        one_of("request_type", REQUEST_TYPES),
        one_of("status", REQUEST_STATUSES),
        Index(None, "agency_id", "submitted_at"),
        Index(None, "status", "queue", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("le_agencies.agency_id"))
    officer_username: Mapped[str] = mapped_column(String(64))
    request_type: Mapped[str] = mapped_column(String(24))
    legal_basis: Mapped[str] = mapped_column(String(32))
    legal_reference: Mapped[str] = mapped_column(Text, default="")
    jurisdiction: Mapped[str] = mapped_column(String(2))
    case_number: Mapped[str] = mapped_column(String(100))
    offence: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    data_categories: Mapped[list[str]] = mapped_column(JSON)
    date_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    date_to: Mapped[datetime | None] = mapped_column(UTCDateTime())
    requested_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    parent_request_id: Mapped[int | None] = mapped_column(ForeignKey("le_requests.id"))
    #: Seizure destination ``{"chain", "address"}`` (an agency wallet).
    seizure_destination: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    non_disclosure: Mapped[bool] = mapped_column(Boolean, default=False)
    non_disclosure_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    instrument_file_id: Mapped[int | None] = mapped_column(Integer)
    instrument_sha256: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="submitted")
    queue: Mapped[str] = mapped_column(String(20))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    risk_score: Mapped[int] = mapped_column(Integer, default=0)
    risk_reasons: Mapped[list[str]] = mapped_column(JSON)
    #: Triage result: completeness problems, allowed categories and actions, rule applied, "seen before".
    triage: Mapped[dict[str, Any]] = mapped_column(JSON)
    callback_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(20))
    outcome_reason: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class LeTarget(Base):
    """One target row of a request, valid or not (invalid rows keep their error so nothing is lost)."""

    __tablename__ = "le_targets"
    __table_args__ = (Index(None, "request_id", "row_number"), Index(None, "value_key"), Index(None, "customer_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("le_requests.id"))
    row_number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str | None] = mapped_column(String(16))
    chain: Mapped[str | None] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(EncryptedText("le_targets", "value"), info=_SECRET)
    value_key: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    error_column: Mapped[str | None] = mapped_column(String(32))
    customer_id: Mapped[str | None] = mapped_column(String(32))
    account_id: Mapped[str | None] = mapped_column(String(32))
    match_via: Mapped[str | None] = mapped_column(String(32))


class LeCallback(Base):
    """A call-back verification: who called whom, on which registry number, when, with what outcome."""

    __tablename__ = "le_callbacks"
    __table_args__ = (one_of("outcome", CALLBACK_OUTCOMES), Index(None, "request_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("le_requests.id"))
    performed_by: Mapped[str] = mapped_column(String(128))
    contact_name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(40))
    called_at: Mapped[datetime] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(16))
    notes: Mapped[str] = mapped_column(Text, default="")


class LePackage(Base):
    """A disclosure package: drafted by one person, approved by another, encrypted for the agency, expiring."""

    __tablename__ = "le_packages"
    __table_args__ = (one_of("status", PACKAGE_STATUSES), Index(None, "request_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("le_requests.id"))
    status: Mapped[str] = mapped_column(String(12), default="draft")
    categories: Mapped[list[str]] = mapped_column(JSON)
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON)
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    draft_file_id: Mapped[int] = mapped_column(ForeignKey("le_files.id"))
    sealed_file_id: Mapped[int | None] = mapped_column(ForeignKey("le_files.id"))
    #: How the package key is delivered: ``x25519`` (wrapped to the agency key) or ``password``.
    encryption: Mapped[str | None] = mapped_column(String(12))
    #: Public envelope header: ephemeral key or KDF salt, nonces, wrapped package key (all base64).
    envelope: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    drafted_by: Mapped[str] = mapped_column(String(128))
    drafted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    approved_by: Mapped[str | None] = mapped_column(String(128))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    download_count: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class LeMessage(Base):
    """A message between the agency and the response team on one request (body encrypted at rest)."""

    __tablename__ = "le_messages"
    __table_args__ = (Index(None, "request_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("le_requests.id"))
    sender: Mapped[str] = mapped_column(String(128))
    from_agency: Mapped[bool] = mapped_column(Boolean)
    body: Mapped[str] = mapped_column(EncryptedText("le_messages", "body"), info=_SECRET)
    attachment_file_id: Mapped[int | None] = mapped_column(ForeignKey("le_files.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LeRequestAction(Base):
    """An account action (cases' four-eyes workflow) proposed because of a request."""

    __tablename__ = "le_request_actions"

    request_id: Mapped[int] = mapped_column(ForeignKey("le_requests.id"), primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("account_actions.id"), primary_key=True)


class LeNotification(Base):
    """Whether and when a customer is told about a request, per the request's non-disclosure order."""

    __tablename__ = "le_notifications"
    __table_args__ = (one_of("status", NOTIFICATION_STATUSES), Index(None, "request_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("le_requests.id"))
    customer_id: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(10))
    release_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
