"""Demo seeding for the law-enforcement portal: a verified officer of the fictional DEMO-POLICE agency.

Used by ``chainsleuth demo`` and the tests, like the seeded users themselves. It lives here, beside the officer
workflow it short-cuts, rather than in the web layer, so the demo pipeline does not depend on the pages.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.errors import InvalidInputError
from chainsleuth.lawenforcement import agencies, officers
from chainsleuth.privacy.policy import Actor
from chainsleuth.store.models.lawenforcement import LeOfficer
from chainsleuth.store.models.users import User

DEMO_OFFICER = ("officer", "officer@police.example")


def seed_demo_officer(session: Session, admin: Actor, *, now: datetime | None = None) -> str:
    """Make the seeded ``officer`` a verified, enrolled, approved officer of DEMO-POLICE; returns its TOTP secret.

    Demo and tests only, like the seeded users themselves: it loads the example agency registry (audited) when
    the agency is missing, then writes the registration directly as verified, enrolled and approved, because a
    demo has no mailbox and no phone to complete those steps with.
    """
    username, email = DEMO_OFFICER
    at = now or datetime.now(UTC)
    if not any(a.agency_id == "DEMO-POLICE" for a in agencies.list_agencies(session)):
        agencies.load_registry(session, admin, agencies.EXAMPLE_FILE, now=at - timedelta(days=400))
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise InvalidInputError("seed the demo users first", username=username)
    officer = session.scalar(select(LeOfficer).where(LeOfficer.username == username))
    if officer is None:
        officer = LeOfficer(username=username, agency_id=user.agency_id or "DEMO-POLICE", email=email,
                            email_nonce="", status="pending", failed_checks=0,
                            created_at=at - timedelta(days=200))  # fmt: skip
        session.add(officer)
        session.flush()
    officer.email_verified_at = officer.email_verified_at or at
    if officer.totp_confirmed_at is None or not user.totp_secret:
        user.totp_secret = pyotp.random_base32()
        officer.totp_confirmed_at, officer.totp_last_step = at, None
    if officer.status != "approved":
        officer.status, officer.approved_by, officer.approved_at = "approved", admin.username, at
    session.flush()
    return str(officers.get_officer(session, username) and user.totp_secret)
