"""Officer registration: official-domain e-mail, e-mail verification, TOTP second factor, staff approval.

An officer can submit requests only when all four hold: the e-mail's domain is one of their agency's official
domains (:mod:`chainsleuth.lawenforcement.domains`), they proved they read that mailbox (a signed, single-use
token sent to the outbox), they enrolled a TOTP authenticator and proved it with a code, and a staff member with
``agency.manage`` approved them. Changing the e-mail address withdraws the verification until the new address is
proved; suspension stops everything at once. Failed checks (wrong token, wrong code, refused domain) are counted
and audited in transactions of their own, so that they survive the refusal, and feed the requester risk score.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from chainsleuth.cases.common import iso, moment, required_text
from chainsleuth.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    PolicyViolationError,
)
from chainsleuth.lawenforcement.agencies import domain_registry, get_agency
from chainsleuth.lawenforcement.domains import DomainCheck, check_email, normalise_address
from chainsleuth.privacy import audit
from chainsleuth.privacy.keyring import crypto_for, engine_of
from chainsleuth.privacy.policy import Actor, SystemActor, require, role_of
from chainsleuth.store.models.lawenforcement import LeOfficer, LeOutbox
from chainsleuth.store.models.users import Role, User
from chainsleuth.store.users import create_user, normalize_username

OFFICER_OBJECT = "le_officer"
#: How long an e-mail verification link stays valid.
VERIFY_MAX_AGE_SECONDS = 48 * 3600
TOTP_ISSUER = "chainsleuth LE portal"
PORTAL = SystemActor("le-portal")


@dataclass(frozen=True)
class Applicant:
    """Someone registering (not yet a user): audited under their requested username."""

    username: str
    agency_id: str | None = None
    role: str = Role.LE_OFFICER.value


def _serializer(session: Session) -> URLSafeTimedSerializer:
    # The signing secret is derived from the master key (HMAC under the audit key with its own label), so no
    # separate secret has to be configured and a database copy without the key file cannot mint tokens.
    secret = crypto_for(engine_of(session)).keys.audit_mac("chainsleuth/le-email-token/v1")
    return URLSafeTimedSerializer(secret, salt="chainsleuth.le.email")


def _fail(session: Session, officer: LeOfficer | None, actor: Actor, action: str, **details: object) -> None:
    """Count and audit a failed check in its own transaction (the caller is about to raise)."""
    engine = engine_of(session)
    if officer is not None:
        table = LeOfficer.__table__
        assert isinstance(table, Table)
        with engine.begin() as connection:
            connection.execute(
                update(table).where(table.c.id == officer.id).values(failed_checks=table.c.failed_checks + 1)
            )
    audit.record_independently(engine, actor, action, OFFICER_OBJECT, officer.username if officer else None,
                               details=details)  # fmt: skip


def get_officer(session: Session, username: str) -> LeOfficer:
    """The officer registration of ``username``, or NotFoundError."""
    officer = session.scalar(select(LeOfficer).where(LeOfficer.username == normalize_username(username)))
    if officer is None:
        raise NotFoundError("no such officer", username=username)
    return officer


def _outbox(session: Session, to: str, subject: str, body: str) -> LeOutbox:
    mail = LeOutbox(to_address=to, subject=subject, body=body)
    session.add(mail)
    return mail


def send_verification(session: Session, officer: LeOfficer) -> str:
    """Write a verification mail with a fresh single-use token to the outbox; return the token."""
    officer.email_nonce = secrets.token_hex(8)
    token = _serializer(session).dumps({"u": officer.username, "n": officer.email_nonce, "e": officer.email})
    _outbox(session, officer.email, "Verify your e-mail address for the law-enforcement portal",
            f"Confirm that you registered for the portal with this address by opening the portal's "
            f"/verify page with this code:\n\n{token}\n\nIt is valid for 48 hours. If you did not register, "
            "ignore this message.")  # fmt: skip
    session.flush()
    return token


def resend_verification(session: Session, actor: Actor) -> tuple[LeOfficer, str]:
    """A fresh verification code for the acting officer's current address: ``(officer, token)``; the old code
    stops working.

    What an officer does when the code expired or the mail was lost; the code goes to the address on file only,
    never to one given in the call, so it proves nothing to anyone but the mailbox owner.
    """
    officer = get_officer(session, actor.username)
    if officer.status == "suspended":
        raise PermissionDeniedError("this officer account is suspended")
    if officer.email_verified_at is not None:
        raise ConflictError("this address is already verified", email=officer.email)
    token = send_verification(session, officer)
    audit.record(session, actor, "le_officer.resend_verification", OFFICER_OBJECT, officer.username)
    return officer, token


def register_officer(
    session: Session, *, username: str, password: str, display_name: str, email: str, now: datetime | None = None
) -> tuple[LeOfficer, str]:
    """Register an officer whose e-mail is on an official agency domain; returns ``(officer, token)``.

    A refused domain raises PolicyViolationError with the reasons (look-alike, subdomain trick, unknown).
    """
    at = moment(now)
    name = normalize_username(username)
    email = normalise_address(email)
    check = check_email(email, domain_registry(session))
    if not check.accepted or check.agency_id is None:
        _fail(session, None, Applicant(name), "le_officer.register_refused", domain=check.domain, reasons=check.reasons)
        raise PolicyViolationError("this e-mail address is not on an official agency domain", domain=check.domain,
                                   reasons=check.reasons)  # fmt: skip
    create_user(session, username=name, password=password, role=Role.LE_OFFICER, display_name=display_name,
                agency_id=check.agency_id)  # fmt: skip
    officer = LeOfficer(username=name, agency_id=check.agency_id, email=email, email_nonce="", status="pending",
                        failed_checks=0, created_at=at)  # fmt: skip
    session.add(officer)
    session.flush()
    token = send_verification(session, officer)
    audit.record(session, Applicant(name, check.agency_id), "le_officer.register", OFFICER_OBJECT, name,
                 details={"agency_id": check.agency_id, "domain": check.domain})  # fmt: skip
    return officer, token


def domain_check(session: Session, email: str) -> DomainCheck:
    """What the registry says about ``email`` (for staff tools and the registration form)."""
    return check_email(email, domain_registry(session))


def verify_email(session: Session, token: str, now: datetime | None = None) -> LeOfficer:
    """Mark the officer's current address verified; AuthenticationError for a bad, stale or expired token."""
    at = moment(now)
    try:
        payload = _serializer(session).loads(token.strip(), max_age=VERIFY_MAX_AGE_SECONDS)
    except SignatureExpired:
        raise AuthenticationError("this verification code has expired: ask for a new one") from None
    except BadSignature:
        _fail(session, None, PORTAL, "le_officer.verify_failed", reason="bad signature")
        raise AuthenticationError("invalid verification code") from None
    officer = session.scalar(select(LeOfficer).where(LeOfficer.username == str(payload.get("u"))))
    if officer is None or payload.get("n") != officer.email_nonce or payload.get("e") != officer.email:
        _fail(session, officer, PORTAL, "le_officer.verify_failed", reason="superseded code")
        raise AuthenticationError("this verification code is no longer valid (the address changed or a newer code "
                                  "was sent)")  # fmt: skip
    officer.email_verified_at, officer.email_nonce = at, secrets.token_hex(8)  # single use
    audit.record(session, Applicant(officer.username, officer.agency_id), "le_officer.verify_email", OFFICER_OBJECT,
                 officer.username)  # fmt: skip
    return officer


def _user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFoundError("no such user", username=username)
    return user


def enrol_totp(session: Session, actor: Actor, code: str | None = None, now: datetime | None = None) -> tuple[str, str]:
    """Start TOTP enrolment for the acting officer: ``(secret, otpauth:// URI)``; confirmed by a first code.

    Replacing an authenticator that was already proved (or that of an approved officer, who proved one before
    approval) needs a current code of the authenticator being replaced: otherwise a stolen password or a
    hijacked session alone could swap in the attacker's authenticator and defeat the second factor.
    """
    officer = get_officer(session, actor.username)
    if officer.status == "suspended":
        raise PermissionDeniedError("this officer account is suspended")
    user = _user(session, officer.username)
    replacing = officer.totp_confirmed_at is not None or officer.status == "approved"
    if replacing and (not code or not _accept_code(session, officer, actor, code, moment(now))):
        _fail(session, officer, actor, "le_officer.totp_failed", stage="re-enrolment")
        raise AuthenticationError("replacing the authenticator needs a current code from the one you use now")
    secret = pyotp.random_base32()
    user.totp_secret = secret
    officer.totp_confirmed_at, officer.totp_last_step = None, None
    audit.record(session, actor, "le_officer.totp_enrol", OFFICER_OBJECT, officer.username,
                 details={"replaces_confirmed": replacing})  # fmt: skip
    return secret, pyotp.TOTP(secret).provisioning_uri(name=officer.email, issuer_name=TOTP_ISSUER)


def _accept_code(session: Session, officer: LeOfficer, actor: Actor, code: str, at: datetime) -> bool:
    secret = _user(session, officer.username).totp_secret
    if not secret:
        return False
    totp = pyotp.TOTP(secret)
    step = int(at.timestamp()) // totp.interval
    for candidate in (step, step - 1, step + 1):  # one step of clock drift either way
        if candidate <= (officer.totp_last_step or -1):
            continue
        if secrets.compare_digest(totp.generate_otp(candidate), code.strip()):
            officer.totp_last_step = candidate
            return True
    return False


def confirm_totp(session: Session, actor: Actor, code: str, now: datetime | None = None) -> LeOfficer:
    """Finish enrolment with a first valid code."""
    at = moment(now)
    officer = get_officer(session, actor.username)
    if not _accept_code(session, officer, actor, code, at):
        _fail(session, officer, actor, "le_officer.totp_failed", stage="enrolment")
        raise AuthenticationError("wrong authenticator code")
    officer.totp_confirmed_at = at
    audit.record(session, actor, "le_officer.totp_confirm", OFFICER_OBJECT, officer.username)
    return officer


def check_totp(session: Session, actor: Actor, code: str | None, now: datetime | None = None) -> None:
    """Second factor for sensitive officer actions (submitting, downloading): a fresh, unused code."""
    officer = get_officer(session, actor.username)
    if officer.totp_confirmed_at is None:
        raise PermissionDeniedError("enrol an authenticator (TOTP) first")
    if not code or not _accept_code(session, officer, actor, code, moment(now)):
        _fail(session, officer, actor, "le_officer.totp_failed", stage="action")
        raise AuthenticationError("a valid, unused authenticator code is required")


def require_active_officer(session: Session, actor: Actor) -> LeOfficer:
    """The acting officer's registration when approved, verified, enrolled and not suspended; 403 otherwise."""
    if role_of(actor) != Role.LE_OFFICER.value:
        raise PermissionDeniedError("only law-enforcement officers use this part of the portal")
    officer = get_officer(session, actor.username)
    problems = [text for failed, text in (
        (officer.status == "suspended", "the account is suspended"),
        (officer.status != "approved", "the account awaits approval by the exchange"),
        (officer.email_verified_at is None, "the e-mail address is not verified"),
        (officer.totp_confirmed_at is None, "no authenticator (TOTP) is enrolled"),
        (officer.agency_id != actor.agency_id, "the account's agency changed"),
    ) if failed]  # fmt: skip
    if problems:
        raise PermissionDeniedError("this officer may not use the portal yet: " + "; ".join(problems),
                                    problems=problems)  # fmt: skip
    return officer


def approve_officer(session: Session, staff: Actor, username: str, now: datetime | None = None) -> LeOfficer:
    """Approve a verified, enrolled officer (``agency.manage``)."""
    require(staff, "agency.manage")
    officer = get_officer(session, username)
    if officer.email_verified_at is None or officer.totp_confirmed_at is None:
        raise PolicyViolationError("verify the e-mail address and enrol TOTP before approval", username=username)
    if officer.status == "suspended":
        raise PolicyViolationError("a suspended officer is reinstated, not approved", username=username)
    if officer.status != "approved":
        officer.status, officer.approved_by, officer.approved_at = "approved", staff.username, moment(now)
        audit.record(session, staff, "le_officer.approve", OFFICER_OBJECT, officer.username,
                     details={"agency_id": officer.agency_id})  # fmt: skip
    return officer


def suspend_officer(
    session: Session, staff: Actor, username: str, reason: str, now: datetime | None = None
) -> LeOfficer:
    """Suspend an officer at once (``agency.manage``): no submissions, no reads, no downloads."""
    require(staff, "agency.manage")
    officer = get_officer(session, username)
    officer.status, officer.suspended_by, officer.suspended_at = "suspended", staff.username, moment(now)
    officer.suspension_reason = required_text(reason, "reason", max_length=2000)
    audit.record(session, staff, "le_officer.suspend", OFFICER_OBJECT, officer.username,
                 details={"reason": officer.suspension_reason})  # fmt: skip
    return officer


def reinstate_officer(session: Session, staff: Actor, username: str, now: datetime | None = None) -> LeOfficer:
    """Lift a suspension (the officer is approved again)."""
    require(staff, "agency.manage")
    officer = get_officer(session, username)
    if officer.status == "suspended":
        officer.status, officer.approved_by, officer.approved_at = "approved", staff.username, moment(now)
        audit.record(session, staff, "le_officer.reinstate", OFFICER_OBJECT, officer.username)
    return officer


def change_email(session: Session, actor: Actor, new_email: str) -> tuple[LeOfficer, str]:
    """Change the acting officer's address: it must be official for the same agency and is verified again."""
    officer = get_officer(session, actor.username)
    if officer.status == "suspended":
        raise PermissionDeniedError("this officer account is suspended: the address cannot be changed")
    new_email = normalise_address(new_email)
    check = domain_check(session, new_email)
    if not check.accepted or check.agency_id != officer.agency_id:
        _fail(session, officer, actor, "le_officer.email_change_refused", domain=check.domain, reasons=check.reasons)
        raise PolicyViolationError("the new address is not on an official domain of your agency",
                                   domain=check.domain, reasons=check.reasons)  # fmt: skip
    officer.email, officer.email_verified_at = new_email, None
    token = send_verification(session, officer)
    audit.record(session, actor, "le_officer.change_email", OFFICER_OBJECT, officer.username,
                 details={"domain": check.domain})  # fmt: skip
    return officer, token


def outbox(session: Session, staff: Actor, to: str | None = None, limit: int = 20) -> list[LeOutbox]:
    """The newest mails of the outbox (``agency.manage``): what a mail relay would deliver."""
    require(staff, "agency.manage")
    query = select(LeOutbox).order_by(LeOutbox.id.desc()).limit(limit)
    if to is not None:
        query = query.where(LeOutbox.to_address == to)
    return list(session.scalars(query))


def list_officers(session: Session, staff: Actor, agency_id: str | None = None) -> list[LeOfficer]:
    """Registrations (``agency.manage``), optionally of one agency."""
    require(staff, "agency.manage")
    query = select(LeOfficer).order_by(LeOfficer.id)
    if agency_id is not None:
        get_agency(session, agency_id)
        query = query.where(LeOfficer.agency_id == agency_id)
    return list(session.scalars(query))


def officer_view(officer: LeOfficer) -> dict[str, object]:
    """An officer registration as plain data."""
    return {"username": officer.username, "agency_id": officer.agency_id, "email": officer.email,
            "status": officer.status, "email_verified_at": iso(officer.email_verified_at),
            "totp_confirmed_at": iso(officer.totp_confirmed_at), "failed_checks": officer.failed_checks,
            "approved_by": officer.approved_by, "approved_at": iso(officer.approved_at),
            "suspended_at": iso(officer.suspended_at), "suspension_reason": officer.suspension_reason,
            "created_at": iso(officer.created_at)}  # fmt: skip
