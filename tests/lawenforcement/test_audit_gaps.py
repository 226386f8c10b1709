"""The audit's security and lifecycle findings, on the Python API: authenticator replacement needs the current
code, matches and target corrections need the response team, notifications respect permissions and orders,
nothing is approved on a declined request, proposals close their request, narrowing survives re-triage,
addresses are stored as checked."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from chainsleuth.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    PolicyViolationError,
)
from chainsleuth.lawenforcement import notify, officers, packages, responses, stats, triage
from chainsleuth.lawenforcement import requests as le_requests
from chainsleuth.lawenforcement.targets import ParsedTarget
from chainsleuth.store.db import session_scope
from chainsleuth.store.models.audit import AuditEntry
from chainsleuth.store.models.lawenforcement import LeNotification, LeRequest, LeTarget
from chainsleuth.store.models.users import Role
from tests.lawenforcement.conftest import ADMIN, CO, LRO, LRO2, NOW, PASSWORD, World, staff, submit, user

AUDITOR = staff(Role.AUDITOR, "aud-one")


def test_replacing_a_confirmed_authenticator_needs_its_current_code(world: World) -> None:
    later = NOW + timedelta(minutes=5)
    with session_scope(world.engine) as session, pytest.raises(AuthenticationError, match="current code"):
        officers.enrol_totp(session, world.alice, now=later)  # a password or session alone
    with session_scope(world.engine) as session, pytest.raises(AuthenticationError):
        officers.enrol_totp(session, world.alice, "000000", now=later)
    assert user(world.engine, world.alice.username).totp_secret == world.alice_secret  # unchanged
    with session_scope(world.engine) as session:
        failed = officers.get_officer(session, world.alice.username).failed_checks
        assert failed >= 2  # counted for the risk score
        code = pyotp.TOTP(world.alice_secret).at(later)
        secret, _ = officers.enrol_totp(session, world.alice, code, now=later)
    assert secret != world.alice_secret
    # Mid-replacement the officer is still approved: a second replacement needs a code of the new key.
    with session_scope(world.engine) as session, pytest.raises(AuthenticationError):
        officers.enrol_totp(session, world.alice, now=later)
    with session_scope(world.engine) as session:
        with pytest.raises(PermissionDeniedError, match="authenticator"):
            officers.require_active_officer(session, world.alice)
        officers.confirm_totp(session, world.alice, pyotp.TOTP(secret).at(later + timedelta(seconds=30)),
                              now=later + timedelta(seconds=30))  # fmt: skip
        officers.require_active_officer(session, world.alice)
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.object_id == world.alice.username))
        assert "le_officer.totp_failed" in set(actions)


def test_matching_and_corrections_are_for_the_response_team(world: World) -> None:
    request_id = submit(world, targets="email,phone\nnope,\n,+4915100000\n")
    fixed = ParsedTarget(0, "email", "bob@example.org")
    with session_scope(world.engine) as session:
        for reader in (AUDITOR, CO):
            with pytest.raises(PermissionDeniedError, match=r"le_request\.triage"):
                triage.rematch(session, reader, request_id)
        bad = session.scalars(select(LeTarget).where(LeTarget.request_id == request_id,
                                                     LeTarget.error.is_not(None))).one()  # fmt: skip
        for reader in (AUDITOR, CO):
            with pytest.raises(PermissionDeniedError, match="submitting officer"):
                le_requests.correct_target(session, reader, request_id, bad.id, fixed)
        bad_id = bad.id
    colleague, _ = _colleague(world)
    with session_scope(world.engine) as session:
        with pytest.raises(PermissionDeniedError):  # same agency, but not the officer who sent it
            le_requests.correct_target(session, colleague, request_id, bad_id, fixed)
        assert le_requests.correct_target(session, world.alice, request_id, bad_id, fixed).error is None
        triage.rematch(session, LRO, request_id)
        assert session.get(LeTarget, bad_id).customer_id is not None  # type: ignore[union-attr]
        responses.decline(session, LRO, request_id, template="duplicate", now=NOW)
    with session_scope(world.engine) as session, pytest.raises(PolicyViolationError, match="closed"):
        triage.rematch(session, LRO, request_id)


def _colleague(world: World) -> tuple[object, str]:
    from tests.lawenforcement.conftest import onboard

    return onboard(world.engine, "carl.cop", "carl@police.example", NOW - timedelta(days=100))


def test_notifications_need_the_response_team_and_respect_orders(world: World) -> None:
    open_id = submit(world, request_type="freeze", basis="freezing_order", categories=("balances",),
                     targets="email\nbob@example.org\n")  # fmt: skip
    gagged_id = submit(world, request_type="freeze", basis="freezing_order", categories=("balances",),
                       targets="email\nbob@example.org\n", non_disclosure=True)  # fmt: skip
    with session_scope(world.engine) as session:
        for request_id in (open_id, gagged_id):
            _act(session, request_id)
    with session_scope(world.engine) as session:
        for reader in (AUDITOR, CO, world.alice):
            with pytest.raises(PermissionDeniedError):
                notify.due_notifications(session, reader, NOW)
        due = notify.due_notifications(session, LRO, NOW + timedelta(days=3650))
        assert [n.request_id for n in due] == [open_id]  # the indefinite order is never due
        gagged = session.scalars(select(LeNotification).where(LeNotification.request_id == gagged_id)).one()
        assert gagged.status == "withheld"
        assert gagged.release_at is None
        with pytest.raises(PermissionDeniedError):
            notify.mark_sent(session, AUDITOR, due[0].id)
        with pytest.raises(PolicyViolationError, match="non-disclosure order"):
            notify.mark_sent(session, LRO, gagged.id, now=NOW + timedelta(days=3650))
        assert notify.mark_sent(session, LRO, due[0].id, now=NOW).status == "sent"
        with pytest.raises(ConflictError):
            notify.mark_sent(session, LRO, due[0].id, now=NOW)
        with pytest.raises(NotFoundError):
            notify.mark_sent(session, LRO, 999_999)
        assert notify.due_notifications(session, LRO, NOW) == []
        sent = session.scalars(select(AuditEntry).where(AuditEntry.action == "le_notification.sent")).one()
        assert sent.actor == LRO.username


def _act(session: object, request_id: int) -> list[int]:
    """Triage, confirm the call-back and propose the request's actions."""
    triage.triage(session, LRO, request_id, now=NOW)  # type: ignore[arg-type]
    responses.record_callback(session, LRO, request_id, phone="+49 30 0000 1000", outcome="confirmed",  # type: ignore[arg-type]
                              called_at=NOW, now=NOW)  # fmt: skip
    return responses.propose_actions(session, LRO, request_id, expires_at=NOW + timedelta(days=30),  # type: ignore[arg-type]
                                     now=NOW + timedelta(hours=2))  # fmt: skip


def test_no_package_is_approved_or_drafted_once_the_request_is_declined(world: World) -> None:
    request_id = submit(world)
    with session_scope(world.engine) as session:
        triage.triage(session, LRO, request_id, now=NOW)
        package_id = packages.draft_package(session, LRO, request_id, now=NOW).id
        responses.decline(session, LRO, request_id, template="insufficient_legal_basis", now=NOW)
    with session_scope(world.engine) as session:
        with pytest.raises(PolicyViolationError, match="declined"):
            packages.approve_package(session, LRO2, package_id, now=NOW)
        with pytest.raises(PolicyViolationError):
            packages.draft_package(session, LRO, request_id, now=NOW)
        with pytest.raises(PolicyViolationError):
            responses.narrow(session, LRO, request_id, categories=["subscriber"])
        assert packages.list_packages(session, world.alice, request_id) == []


def test_proposing_actions_closes_the_request(world: World) -> None:
    request_id = submit(world, request_type="preservation", basis="preservation_letter", categories=(),
                        targets="email\nbob@example.org\n")  # fmt: skip
    with session_scope(world.engine) as session:
        ids = _act(session, request_id)
        assert ids
    with session_scope(world.engine) as session:
        request = session.get(LeRequest, request_id)
        assert request is not None
        assert (request.status, request.outcome) == ("closed", "actioned")
        assert request.closed_at is not None
        with pytest.raises(PolicyViolationError):  # proposing again does not hand out the same actions
            responses.propose_actions(session, LRO, request_id, expires_at=NOW + timedelta(days=30), now=NOW)
        with pytest.raises(NotFoundError, match="queue is empty"):
            triage.next_request(session, LRO2, "preservation", now=NOW)
        assert triage.escalate_overdue(session, NOW + timedelta(days=30)) == []
        report = stats.statistics(session, LRO)
        assert report["turnaround_hours"]["preservation"] == {"median": 2.0, "p90": 2.0, "n": 1}
        assert report["outcomes"] == {"actioned": 1}
        assert le_requests.request_view(request, officer=True)["status"] == "closed"


def test_narrowing_survives_triage_and_is_shown_to_the_agency(world: World) -> None:
    request_id = submit(world, categories=("subscriber", "transactions"))
    with session_scope(world.engine) as session:
        triage.triage(session, LRO, request_id, now=NOW)
        responses.narrow(session, LRO, request_id, categories=["subscriber"], note="Transactions need an MLAT.")
    with session_scope(world.engine) as session:
        request = triage.triage(session, LRO, request_id, now=NOW + timedelta(hours=1))
        assert request.triage["allowed_categories"] == ["subscriber"]
        assert request.triage["narrowed"] == ["transactions"]
        view = le_requests.request_view(request, officer=True)
        assert view["narrowed_categories"] == ["transactions"]
        assert view["narrowing_reason"].endswith("Transactions need an MLAT.")
        assert "triage" not in view
        package = packages.draft_package(session, LRO, request_id, now=NOW)
        assert package.categories == ["subscriber"]


def test_addresses_are_normalised_before_the_check_and_stored_so(world: World) -> None:
    with session_scope(world.engine) as session:
        officer, _ = officers.register_officer(session, username="dora", password=PASSWORD, display_name="Dora",
                                               email="Dora@POLICE\u2024Example", now=NOW)  # fmt: skip
        assert officer.email == "Dora@police.example"
        assert officer.agency_id == "DEMO-POLICE"
    with session_scope(world.engine) as session:
        officer, _ = officers.change_email(session, world.alice, "alice2@CYBER.police\uff0eexample")
        assert officer.email == "alice2@cyber.police.example"


def test_suspended_officers_cannot_change_email_or_download(world: World) -> None:
    request_id = submit(world, categories=("subscriber",))
    with session_scope(world.engine) as session:
        triage.triage(session, LRO, request_id, now=NOW)
        package_id = packages.draft_package(session, LRO, request_id, now=NOW).id
        packages.approve_package(session, LRO2, package_id, now=NOW)
        officers.suspend_officer(session, ADMIN, world.alice.username, "under review", now=NOW)
    with session_scope(world.engine) as session:
        with pytest.raises(PermissionDeniedError, match="suspended"):
            officers.change_email(session, world.alice, "alice2@police.example")
        with pytest.raises(NotFoundError):
            packages.download_package(session, world.alice, package_id, now=NOW)
        with pytest.raises(PermissionDeniedError, match="suspended"):
            officers.resend_verification(session, world.alice)
        officers.reinstate_officer(session, ADMIN, world.alice.username, now=NOW)
    with session_scope(world.engine) as session:
        assert packages.download_package(session, world.alice, package_id, now=NOW)[0]


def test_resend_verification_replaces_the_code(world: World) -> None:
    with session_scope(world.engine) as session:
        with pytest.raises(ConflictError, match="already verified"):
            officers.resend_verification(session, world.alice)
        _, first = officers.change_email(session, world.alice, "alice2@police.example")
    with session_scope(world.engine) as session:
        _, second = officers.resend_verification(session, world.alice)
    with session_scope(world.engine) as session, pytest.raises(AuthenticationError, match="no longer valid"):
        officers.verify_email(session, first, now=NOW)
    with session_scope(world.engine) as session:
        assert officers.verify_email(session, second).email_verified_at is not None


def test_targets_of_a_closed_request_are_not_corrected(world: World) -> None:
    request_id = submit(world, targets="email\nnope\n")
    with session_scope(world.engine) as session:
        bad = session.scalars(select(LeTarget).where(LeTarget.request_id == request_id)).one()
        responses.decline(session, LRO, request_id, template="incomplete", now=NOW)
        with pytest.raises(PolicyViolationError, match="closed"):
            le_requests.correct_target(session, world.alice, request_id, bad.id,
                                       ParsedTarget(0, "email", "bob@example.org"))  # fmt: skip
