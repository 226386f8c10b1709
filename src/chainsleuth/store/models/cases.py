"""Act: cases, their evidence and timeline, four-eyes account actions, legal holds and goAML reports.

* ``cases`` are edited by several investigators at once, so they carry an optimistic-locking ``version``: every
  change to a case (status, assignment, a note, a piece of evidence, a link) bumps it, and a caller acting on
  an outdated read gets :class:`~chainsleuth.errors.StaleVersionError` instead of overwriting someone else.
* ``case_events`` is the case's timeline: one row per change, never updated.
* ``case_evidence`` stores a SHA-256 of every piece of evidence (JSON results canonicalised, documents as
  uploaded) so that a later modification of the stored bytes is detected. Documents are encrypted on disk under
  a per-file key held in ``data_key`` (an encrypted column, so key rotation re-wraps it); the hash is of the
  clear bytes, so it stays verifiable whatever the key.
* ``case_notes.body`` and ``str_reports.xml`` are personal data (notes name people; a goAML report carries
  names, birth dates, document numbers, addresses) and are stored through the privacy layer's
  :class:`~chainsleuth.privacy.columns.EncryptedText`.
* ``account_actions`` (freeze, unfreeze, seize, preserve) are explicit state machines with a proposer and a
  distinct approver (four-eyes); ``fingerprint`` identifies "the same proposal" for idempotency, and a partial
  unique index allows one pending or in-force action per fingerprint even under concurrent proposals.
* ``legal_holds`` flag a customer's records as preserved (shown on the customer, case and action views); any
  future erasure path must call :func:`chainsleuth.cases.ledger_guard.assert_no_legal_hold` first.
* ``str_reports`` keeps every generated goAML report (the XML itself, its hash and validation outcome) and its
  filing state.

Enumerations are short strings with CHECK constraints (see :func:`~chainsleuth.store.models.base.one_of`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from chainsleuth.privacy.columns import EncryptedText
from chainsleuth.store.models.base import Base, one_of
from chainsleuth.store.models.personal import personal
from chainsleuth.store.types import UTCDateTime, utcnow

CASE_STATUSES = ("open", "investigating", "escalated", "closed")
CASE_PRIORITIES = ("low", "medium", "high", "critical")
CASE_DECISIONS = ("sar_filed", "no_further_action", "account_actions_taken", "referred_to_law_enforcement")
LINK_TYPES = ("customer", "account", "address")
EVIDENCE_KINDS = ("trace", "exposure", "document", "ledger_extract")
ACTION_KINDS = ("freeze", "unfreeze", "seize", "preserve")
ACTION_STATUSES = ("proposed", "approved", "active", "expired", "released", "completed", "rejected")
REPORT_STATUSES = ("drafted", "approved", "submitted", "acknowledged", "rejected")
#: Where at most one action per fingerprint may be (the statuses of ``cases.actions.PENDING_OR_IN_FORCE``).
OPEN_FINGERPRINT_WHERE = "status IN ('proposed', 'approved', 'active')"


class Case(Base):
    """An investigation: alerts triaged into it, evidence, links, notes, a status and a deadline."""

    __tablename__ = "cases"
    __table_args__ = (
        one_of("status", CASE_STATUSES),
        one_of("priority", CASE_PRIORITIES),
        one_of("decision", CASE_DECISIONS),
        Index(None, "status", "queue"),
        Index(None, "assignee"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="open")
    priority: Mapped[str] = mapped_column(String(10), default="medium")
    queue: Mapped[str] = mapped_column(String(40))
    assignee: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision: Mapped[str | None] = mapped_column(String(40))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by: Mapped[str | None] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  (SQLAlchemy's declarative convention)

    @property
    def reference(self) -> str:
        """The human reference of the case (``CASE-000042``), as printed on reports and in the audit log."""
        return f"CASE-{self.id:06d}"

    def __repr__(self) -> str:
        return f"Case({self.id}, {self.status!r}, v{self.version})"


class CaseAlert(Base):
    """An alert triaged into a case (an alert belongs to at most one case)."""

    __tablename__ = "case_alerts"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("monitor_alerts.id"), primary_key=True, unique=True)
    added_by: Mapped[str] = mapped_column(String(128))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CaseLink(Base):
    """A customer, account or on-chain address linked to a case (``chain`` is empty except for addresses)."""

    __tablename__ = "case_links"
    __table_args__ = (
        one_of("link_type", LINK_TYPES),
        UniqueConstraint("case_id", "link_type", "chain", "target"),
        Index(None, "link_type", "target"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    link_type: Mapped[str] = mapped_column(String(16))
    chain: Mapped[str] = mapped_column(String(16), default="")
    target: Mapped[str] = mapped_column(String(128))
    added_by: Mapped[str] = mapped_column(String(128))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CaseNote(Base):
    """A free-text note of an investigator (never edited: a correction is another note)."""

    __tablename__ = "case_notes"
    __table_args__ = (Index(None, "case_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    author: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    body: Mapped[str] = mapped_column(EncryptedText("case_notes", "body"), info=personal())


class CaseEvidence(Base):
    """One piece of evidence with the SHA-256 of its bytes: JSON ``content`` in the row, or a stored document."""

    __tablename__ = "case_evidence"
    __table_args__ = (one_of("kind", EVIDENCE_KINDS), Index(None, "case_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(100))
    filename: Mapped[str | None] = mapped_column(String(255))
    #: Documents: path of the stored bytes relative to the data directory.
    storage_path: Mapped[str | None] = mapped_column(Text)
    #: Trace, exposure and ledger extracts: the canonical JSON whose hash is ``sha256``.
    content: Mapped[str | None] = mapped_column(Text)
    #: Documents: the file's AES-256-GCM key (base64), encrypted by the privacy layer; None only for a file
    #: stored in clear before migration 0009 (which encrypts them all).
    data_key: Mapped[str | None] = mapped_column(EncryptedText("case_evidence", "data_key"), info={"secret": True})
    added_by: Mapped[str] = mapped_column(String(128))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CaseEvent(Base):
    """One entry of a case's timeline."""

    __tablename__ = "case_events"
    __table_args__ = (Index(None, "case_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(128))
    event_type: Mapped[str] = mapped_column(String(40))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)


class AccountAction(Base):
    """A freeze, unfreeze, seizure or preservation: proposed by one person, approved by another."""

    __tablename__ = "account_actions"
    __table_args__ = (
        one_of("kind", ACTION_KINDS),
        one_of("status", ACTION_STATUSES),
        Index(None, "account_id", "status"),
        Index(None, "customer_id", "status"),
        Index(None, "fingerprint"),
        Index(
            "uq_account_actions_open_fingerprint",
            "fingerprint",
            unique=True,
            sqlite_where=text(OPEN_FINGERPRINT_WHERE),
            postgresql_where=text(OPEN_FINGERPRINT_WHERE),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="proposed")
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"))
    account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.account_id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    legal_basis: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    #: Seizure: the asset to seize (None: every asset with a positive balance).
    asset: Mapped[str | None] = mapped_column(String(16))
    destination_chain: Mapped[str | None] = mapped_column(String(16))
    destination_address: Mapped[str | None] = mapped_column(String(128))
    destination_account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.account_id"))
    #: Unfreeze: the freeze it ends.
    target_action_id: Mapped[int | None] = mapped_column(ForeignKey("account_actions.id"))
    review_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    fingerprint: Mapped[str] = mapped_column(String(64))
    proposed_by: Mapped[str] = mapped_column(String(128))
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    approved_by: Mapped[str | None] = mapped_column(String(128))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rejected_by: Mapped[str | None] = mapped_column(String(128))
    rejected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end_reason: Mapped[str | None] = mapped_column(Text)
    #: What executing the action did (seizure: the ledger events and amounts moved).
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  (SQLAlchemy's declarative convention)

    def __repr__(self) -> str:
        return f"AccountAction({self.id}, {self.kind!r}, {self.status!r}, account={self.account_id!r})"


class LegalHold(Base):
    """A customer's records preserved by an approved ``preserve`` action: no deletion, no erasure."""

    __tablename__ = "legal_holds"
    __table_args__ = (Index(None, "customer_id", "active"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"))
    action_id: Mapped[int] = mapped_column(ForeignKey("account_actions.id"), unique=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    legal_basis: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class StrReport(Base):
    """A goAML STR/SAR generated from a case: the XML, its hash and validation result, and its filing state."""

    __tablename__ = "str_reports"
    __table_args__ = (one_of("status", REPORT_STATUSES), Index(None, "case_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    status: Mapped[str] = mapped_column(String(16), default="drafted")
    report_code: Mapped[str] = mapped_column(String(10))
    entity_reference: Mapped[str] = mapped_column(String(255), unique=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    xml: Mapped[str] = mapped_column(EncryptedText("str_reports", "xml"), info=personal())
    sha256: Mapped[str] = mapped_column(String(64))
    valid: Mapped[bool] = mapped_column(Boolean)
    validation_errors: Mapped[list[str]] = mapped_column(JSON)
    event_ids: Mapped[list[str]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text)
    action_taken: Mapped[str] = mapped_column(Text)
    indicators: Mapped[list[str]] = mapped_column(JSON)
    drafted_by: Mapped[str] = mapped_column(String(128))
    drafted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    approved_by: Mapped[str | None] = mapped_column(String(128))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    submitted_by: Mapped[str | None] = mapped_column(String(128))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    submission_count: Mapped[int] = mapped_column(Integer, default=0)
    fiu_ref_number: Mapped[str | None] = mapped_column(String(255))
    fiu_reason: Mapped[str | None] = mapped_column(Text)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rejected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  (SQLAlchemy's declarative convention)

    def __repr__(self) -> str:
        return f"StrReport({self.id}, case={self.case_id}, {self.status!r}, valid={self.valid})"
