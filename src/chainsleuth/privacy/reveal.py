"""Pseudonymised customers by default, and purpose-logged reveals of their personal fields.

An analyst works with ``CUST-7F3A-91B2-XK4M`` (a keyed HMAC of the customer id: stable within a deployment,
meaningless outside it, not reversible without the key), masked fields (``J*** D***``, ``j***@example.org``,
birth year only) and everything that is not personal. Seeing who a customer really is requires
``customer.reveal`` *and* a purpose: either one of :data:`PURPOSES` (with a reference where the purpose names
one) or a free-text reason of at least :data:`MIN_FREE_TEXT` characters together with a reference. Every
reveal, and every refused attempt, is written to the audit log (who, which fields, why); the values
themselves never are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.errors import ChainsleuthError, InvalidInputError, NotFoundError, PermissionDeniedError
from chainsleuth.privacy import audit
from chainsleuth.privacy.keyring import crypto_for, engine_of
from chainsleuth.privacy.policy import Actor, require
from chainsleuth.store.models.exchange import Customer
from chainsleuth.store.models.ledger import LedgerEvent
from chainsleuth.store.models.personal import personal_columns

#: Purposes that may be named by code; ``True`` where a reference (case, request, ticket) is required.
PURPOSES: dict[str, tuple[str, bool]] = {
    "case_investigation": ("Investigating an open case.", True),
    "le_request": ("Answering a law-enforcement request.", True),
    "str_filing": ("Preparing a suspicious-transaction report.", True),
    "account_action": ("Justifying a freeze, seizure or preservation.", True),
    "kyc_review": ("Periodic or triggered KYC review.", False),
    "data_subject_request": ("Answering the customer's own data-protection request.", True),
    "audit_sample": ("Internal or regulatory audit sampling.", False),
}
#: Minimum length of a free-text purpose (which also needs a reference).
MIN_FREE_TEXT = 20
REVEALABLE_FIELDS: tuple[str, ...] = tuple(personal_columns(Customer))
LEDGER_REVEALABLE: tuple[str, ...] = tuple(personal_columns(LedgerEvent))


class PseudonymisedCustomer(BaseModel):
    """A customer as analysts see it by default: a pseudonym, masked personal fields, the rest in clear."""

    customer_id: str
    pseudonym: str
    name: str
    email: str
    phone: str
    birth_year: str
    nationality: str
    id_document_type: str
    id_document_number: str
    address: str
    country_of_residence: str
    occupation: str
    risk_rating: str
    kyc_level: int
    status: str


@dataclass(frozen=True)
class RevealResult:
    """What a reveal returned, and the audit entry that records it."""

    customer_id: str
    fields: dict[str, str | None]
    audit_seq: int


# -- masking --------------------------------------------------------------------------------------------------


def mask_name(name: str) -> str:
    """``John Doe`` -> ``J*** D***``: initials only."""
    return " ".join(part[0] + "***" for part in name.split()) or "***"


def mask_email(email: str) -> str:
    """``john.doe@example.org`` -> ``j***@example.org``: first letter and domain."""
    local, at, domain = email.strip().partition("@")
    return (local[:1] + "***" + at + domain) if at else "***"


def mask_phone(phone: str) -> str:
    """``+442079460018`` -> ``+44*******18``: country prefix and last two digits."""
    text = phone.strip()
    if len(text) <= 5:
        return "***"
    return text[:3] + "*" * (len(text) - 5) + text[-2:]


def mask_document(number: str) -> str:
    """``X12345678`` -> ``*******78``."""
    return "*" * max(len(number) - 2, 3) + number[-2:] if len(number) > 2 else "***"


def pseudonym_of(session: Session, customer_id: str) -> str:
    """The deployment's stable pseudonym of a customer id."""
    return crypto_for(engine_of(session)).keys.pseudonym(customer_id)


#: What the pseudonymised view still derives from decrypted personal fields (recorded with every such read).
PSEUDONYMISED_DERIVED = ("birth_year", "nationality", "email_domain", "phone_prefix_and_last_digits",
                         "name_initials", "document_last_digits")  # fmt: skip


def pseudonymised_customer(session: Session, actor: Actor, customer_id: str) -> PseudonymisedCustomer:
    """The pseudonymised view of one customer (``customer.read_pseudonymised``).

    Masked as it is, the view decrypts personal fields and shows parts of them (birth year, nationality, e-mail
    domain, phone prefix and last digits), so every read is audited as ``customer.read_pseudonymised``.
    """
    require(actor, "customer.read_pseudonymised")
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFoundError("no such customer", customer_id=customer_id)
    audit.record(session, actor, "customer.read_pseudonymised", "customer", customer_id,
                 details={"derived": list(PSEUDONYMISED_DERIVED)})  # fmt: skip
    return pseudonymise(session, customer)


def pseudonymise(session: Session, customer: Customer) -> PseudonymisedCustomer:
    """The pseudonymised view of a loaded customer (no permission check: for callers that did it)."""
    return PseudonymisedCustomer(
        customer_id=customer.customer_id,
        pseudonym=pseudonym_of(session, customer.customer_id),
        name=mask_name(customer.full_name),
        email=mask_email(customer.email),
        phone=mask_phone(customer.phone),
        birth_year=customer.date_of_birth[:4],
        nationality=customer.nationality,
        id_document_type=customer.id_document_type,
        id_document_number=mask_document(customer.id_document_number),
        address="***",
        country_of_residence=customer.country_of_residence,
        occupation=customer.occupation,
        risk_rating=customer.risk_rating,
        kyc_level=customer.kyc_level,
        status=customer.status,
    )


# -- reveal ---------------------------------------------------------------------------------------------------


def check_purpose(purpose: str | None, case_ref: str | None) -> str:
    """The purpose as it will be logged; InvalidInputError explaining what is missing otherwise."""
    text = (purpose or "").strip()
    reference = (case_ref or "").strip()
    if not text:
        raise InvalidInputError(
            "a reveal needs a stated purpose: one of " + ", ".join(sorted(PURPOSES)) + ", or a free-text reason "
            f"of at least {MIN_FREE_TEXT} characters with a reference",
            field="purpose",
        )
    if text in PURPOSES:
        if PURPOSES[text][1] and not reference:
            raise InvalidInputError(f"purpose {text!r} needs a reference (case or request number)", field="case_ref")
        return text
    if len(text) < MIN_FREE_TEXT:
        raise InvalidInputError(
            f"a free-text purpose must have at least {MIN_FREE_TEXT} characters", field="purpose", length=len(text)
        )
    if not reference:
        raise InvalidInputError("a free-text purpose needs a reference (case or request number)", field="case_ref")
    return text


def _check_fields(fields: Sequence[str]) -> list[str]:
    wanted = list(dict.fromkeys(fields))
    if not wanted:
        raise InvalidInputError("name the fields to reveal", allowed=list(REVEALABLE_FIELDS))
    unknown = [name for name in wanted if name not in REVEALABLE_FIELDS]
    if unknown:
        raise InvalidInputError("unknown personal fields", unknown=unknown, allowed=list(REVEALABLE_FIELDS))
    return wanted


def reveal(
    session: Session,
    actor: Actor,
    customer_id: str,
    fields: Sequence[str],
    purpose: str | None,
    case_ref: str | None = None,
) -> RevealResult:
    """Decrypt ``fields`` of one customer for ``actor``, who must hold ``customer.reveal`` and state a purpose.

    The reveal is audited in ``session``'s transaction (no audit entry, no data). A refusal (role, purpose,
    fields, unknown customer) is audited in a transaction of its own, then raised.
    """
    details: dict[str, object] = {"fields": list(fields), "case_ref": case_ref}
    try:
        require(actor, "customer.reveal")
        stated = check_purpose(purpose, case_ref)
        wanted = _check_fields(fields)
        customer = session.get(Customer, customer_id)
        if customer is None:
            raise NotFoundError("no such customer", customer_id=customer_id)
    except ChainsleuthError as error:
        reason = "permission_denied" if isinstance(error, PermissionDeniedError) else error.code
        audit.record_independently(
            engine_of(session),
            actor,
            "customer.reveal_refused",
            "customer",
            customer_id,
            purpose=purpose,
            details={**details, "reason": reason, "message": error.message},
        )
        error.audited = True
        raise
    values = {name: getattr(customer, name) for name in wanted}
    entry = audit.record(
        session,
        actor,
        "customer.reveal",
        "customer",
        customer_id,
        purpose=stated,
        details={"fields": wanted, "case_ref": case_ref},
    )
    return RevealResult(customer_id=customer_id, fields=values, audit_seq=entry.seq)


def reveal_ledger_field(
    session: Session,
    actor: Actor,
    event_id: str,
    field: str,
    purpose: str | None,
    case_ref: str | None = None,
) -> str | None:
    """Decrypt one personal column of a ledger event (``bank_reference``, ``ip``) for ``actor``, who must hold
    ``customer.reveal`` and state a purpose; audited as ``ledger.reveal`` (the value never is). Code that needs
    such a value (goAML drafting) comes here instead of reading the ORM attribute."""
    if field not in LEDGER_REVEALABLE:
        raise InvalidInputError("unknown personal ledger field", field=field, allowed=list(LEDGER_REVEALABLE))
    require(actor, "customer.reveal")
    stated = check_purpose(purpose, case_ref)
    column = LedgerEvent.__table__.c[field]
    row = session.execute(select(column, LedgerEvent.customer_id).where(LedgerEvent.event_id == event_id)).one_or_none()
    if row is None:
        raise NotFoundError("no such ledger event", event_id=event_id)
    audit.record(session, actor, "ledger.reveal", "ledger_event", event_id, purpose=stated,
                 details={"fields": [field], "customer_id": row[1], "case_ref": case_ref})  # fmt: skip
    value: str | None = row[0]
    return value
