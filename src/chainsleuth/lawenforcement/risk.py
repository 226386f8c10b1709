"""The requester risk score: how much a request's sender deserves a second look, with its reasons.

Fake "law-enforcement" requests (account takeover by social engineering, data theft) come from new accounts,
from domains that stopped being official, after failed checks, in sudden bursts, or about people far outside
the agency's jurisdiction. Each signal adds points (capped at 100) and a sentence, and both are stored on the
request so that staff see *why* a request is risky on every screen, not a bare number.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chainsleuth.lawenforcement.domains import check_email
from chainsleuth.store.models.lawenforcement import LeAgency, LeOfficer, LeRequest

NEW_ACCOUNT_DAYS = 14
SPIKE_MIN_REQUESTS = 5
SPIKE_FACTOR = 3.0


def requester_risk(
    session: Session, officer: LeOfficer, agency: LeAgency, jurisdiction: str, now: datetime
) -> tuple[int, list[str]]:
    """``(score 0-100, reasons)`` for a request about to be submitted by ``officer``."""
    score, reasons = 0, []
    check = check_email(officer.email, dict.fromkeys(agency.domains, agency.agency_id))
    if not check.accepted:
        score += 40
        reasons.append(f"the officer's e-mail domain {check.domain} is no longer on the agency's registry entry")
    if not agency.active:
        score += 40
        reasons.append("the agency is marked inactive in the registry")
    age = now - officer.created_at
    if age < timedelta(days=NEW_ACCOUNT_DAYS):
        score += 15
        reasons.append(f"new officer account ({age.days} days old)")
    if officer.failed_checks:
        score += min(30, 10 * officer.failed_checks)
        reasons.append(f"{officer.failed_checks} failed verification check(s) on this account")
    window = now - timedelta(days=1)
    history_start = now - timedelta(days=31)
    recent = session.scalar(
        select(func.count()).where(LeRequest.officer_username == officer.username, LeRequest.submitted_at >= window)
    )
    older = session.scalar(
        select(func.count()).where(
            LeRequest.officer_username == officer.username,
            LeRequest.submitted_at >= history_start,
            LeRequest.submitted_at < window,
        )
    )
    daily = (older or 0) / 30.0
    if (recent or 0) + 1 >= SPIKE_MIN_REQUESTS and (recent or 0) + 1 > SPIKE_FACTOR * max(daily, 1.0):
        score += 15
        reasons.append(f"volume spike: {(recent or 0) + 1} requests in 24 hours (usual: {daily:.1f} a day)")
    allowed = set(agency.jurisdictions or [agency.country]) | {agency.country}
    if jurisdiction.upper() not in allowed:
        score += 20
        reasons.append(f"out-of-jurisdiction request: {jurisdiction.upper()} is not among {sorted(allowed)}")
    return min(score, 100), reasons
