"""Request types end to end on the Python API: seizure, unfreeze and follow-up (with their parent reference),
informational enquiries, a preservation request becoming a legal hold; the message attachment limit; and the
statistics' turnaround percentiles and disclosure rate on a constructed set."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from chainsleuth.cases import actions as case_actions
from chainsleuth.cases import ledger_guard
from chainsleuth.errors import (
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    PolicyViolationError,
)
from chainsleuth.lawenforcement import packages, responses, stats, triage
from chainsleuth.store.db import session_scope
from chainsleuth.store.models.lawenforcement import LeFile, LeMessage, LeRequest
from tests.lawenforcement.conftest import CO, LIMIT, LRO, LRO2, NOW, World, submit

BOB = "email\nbob@example.org\n"
WALLET = {"seizure_chain": "ethereum", "seizure_address": "0x" + "ab" * 20}
EXPIRES = NOW + timedelta(days=30)


def _confirm_and_propose(session: Session, request_id: int) -> list[int]:
    request = triage.triage(session, LRO, request_id, now=NOW)
    if request.status == "awaiting_callback":
        responses.record_callback(session, LRO, request_id, phone="+49 30 0000 1000", outcome="confirmed",
                                  called_at=NOW, now=NOW)  # fmt: skip
    return responses.propose_actions(session, LRO, request_id, expires_at=EXPIRES, now=NOW + timedelta(hours=1))


def _reference(world: World, request_id: int) -> str:
    with session_scope(world.engine) as session:
        request = session.get(LeRequest, request_id)
        assert request is not None
        return request.reference


def test_seizure_names_the_agency_wallet_and_proposes_a_seizure(world: World) -> None:
    with pytest.raises(InvalidInputError, match="agency wallet"):
        submit(world, request_type="seizure", basis="seizure_warrant", categories=("balances",), targets=BOB)
    request_id = submit(world, request_type="seizure", basis="seizure_warrant", categories=("balances",),
                        targets=BOB, **WALLET)  # fmt: skip
    with session_scope(world.engine) as session:
        ids = _confirm_and_propose(session, request_id)
        proposed = {case_actions.get_action(session, i).kind: case_actions.get_action(session, i) for i in ids}
        assert set(proposed) == {"seize", "preserve"}
        assert proposed["seize"].destination_chain == "ethereum"
        assert proposed["seize"].destination_address == WALLET["seizure_address"]
        request = session.get(LeRequest, request_id)
        assert request is not None
        assert request.seizure_destination == {"chain": "ethereum", "address": WALLET["seizure_address"]}
        assert request.status == "closed"


def test_unfreeze_names_the_freeze_request_and_lifts_its_freeze(world: World) -> None:
    freeze_id = submit(world, request_type="freeze", basis="freezing_order", categories=("balances",), targets=BOB)
    with session_scope(world.engine) as session:
        freeze_actions = _confirm_and_propose(session, freeze_id)
    with session_scope(world.engine) as session:
        for action_id in freeze_actions:
            case_actions.approve(session, CO, action_id, 1, now=NOW)
        assert ledger_guard.active_freezes(session, "A0000003", NOW)
    with pytest.raises(InvalidInputError, match="names the earlier request"):
        submit(world, request_type="unfreeze", basis="court_order", categories=(), targets=BOB)
    with pytest.raises(NotFoundError):  # another agency's request is not a parent
        submit(world, world.nils, request_type="unfreeze", basis="court_order", categories=(), targets=BOB,
               parent_reference=_reference(world, freeze_id))  # fmt: skip
    unfreeze_id = submit(world, request_type="unfreeze", basis="court_order", categories=(), targets=BOB,
                         parent_reference=_reference(world, freeze_id))  # fmt: skip
    with session_scope(world.engine) as session:
        unfreeze = session.get(LeRequest, unfreeze_id)
        assert unfreeze is not None
        assert unfreeze.parent_request_id == freeze_id
        assert unfreeze.queue == "actions"
        ids = _confirm_and_propose(session, unfreeze_id)
        assert [case_actions.get_action(session, i).kind for i in ids] == ["unfreeze"]
    with session_scope(world.engine) as session:
        case_actions.approve(session, CO, ids[0], 1, now=NOW + timedelta(hours=2))
        assert not ledger_guard.active_freezes(session, "A0000003", NOW + timedelta(hours=3))


def test_follow_up_builds_on_an_earlier_request(world: World) -> None:
    first = submit(world, categories=("subscriber",))
    with pytest.raises(InvalidInputError, match="names the earlier request"):
        submit(world, request_type="follow_up", categories=("transactions",))
    follow_up = submit(world, request_type="follow_up", categories=("transactions",),
                       parent_reference=_reference(world, first))  # fmt: skip
    with session_scope(world.engine) as session:
        request = triage.triage(session, LRO, follow_up, now=NOW)
        assert request.parent_request_id == first
        assert request.queue == "production"
        assert request.due_at - request.submitted_at == timedelta(hours=120)
        assert request.triage["allowed_categories"] == ["transactions"]
        assert packages.draft_package(session, LRO, follow_up, now=NOW).categories == ["transactions"]


def test_informational_enquiry_is_answered_by_message_not_data(world: World) -> None:
    request_id = submit(world, request_type="informational", basis="none", categories=(), targets="email\n")
    with session_scope(world.engine) as session:
        request = triage.triage(session, LRO, request_id, now=NOW)
        assert request.status == "in_progress"
        assert request.triage["complete"] is True
        with pytest.raises(PolicyViolationError, match="allows no disclosure"):
            packages.draft_package(session, LRO, request_id, now=NOW)
        with pytest.raises(PolicyViolationError, match="asks for no account action"):
            responses.propose_actions(session, LRO, request_id, expires_at=EXPIRES, now=NOW)
        responses.post_message(session, LRO, request_id, "Our law-enforcement guide is attached.",
                               max_upload_bytes=LIMIT, now=NOW)  # fmt: skip
        assert [m.from_agency for m in responses.messages(session, world.alice, request_id)] == [False]


def test_preservation_request_becomes_a_legal_hold(world: World) -> None:
    request_id = submit(world, request_type="preservation", basis="preservation_letter", categories=(), targets=BOB)
    with session_scope(world.engine) as session:
        ids = _confirm_and_propose(session, request_id)
        assert [case_actions.get_action(session, i).kind for i in ids] == ["preserve"]
        assert not ledger_guard.is_preserved(session, "C0000002", NOW)  # four-eyes: not yet
    with session_scope(world.engine) as session:
        case_actions.approve(session, CO, ids[0], 1, now=NOW)
        assert ledger_guard.is_preserved(session, "C0000002", NOW)
        assert responses.request_actions(session, LRO, request_id) == ids
        with pytest.raises(PermissionDeniedError, match="exchange's records"):
            responses.request_actions(session, world.alice, request_id)


def test_message_attachment_over_the_limit_is_refused_and_nothing_stored(world: World) -> None:
    request_id = submit(world)
    with session_scope(world.engine) as session:
        files = session.scalar(select(func.count()).select_from(LeFile))
        with pytest.raises(PayloadTooLargeError, match="upload limit"):
            responses.post_message(session, world.alice, request_id, "scan", attachment=b"x" * 101,
                                   max_upload_bytes=100)  # fmt: skip
        assert session.scalar(select(func.count()).select_from(LeFile)) == files
        assert session.scalar(select(func.count()).select_from(LeMessage)) == 0
        responses.post_message(session, world.alice, request_id, "scan", attachment=b"x" * 100, max_upload_bytes=100)


def test_statistics_on_a_constructed_set(world: World) -> None:
    # Five answered production requests taking 1, 2, 3, 4 and 10 hours; one still open.
    answered = [(1, "disclosed"), (2, "disclosed"), (3, "narrowed"), (4, "declined"), (10, "actioned")]
    ids = [submit(world) for _ in range(len(answered) + 1)]
    with session_scope(world.engine) as session:
        for request_id, (hours, outcome) in zip(ids, answered, strict=False):
            closed = NOW + timedelta(hours=hours)
            query = update(LeRequest).where(LeRequest.id == request_id)
            session.execute(query.values(outcome=outcome, status="closed", closed_at=closed))
    with session_scope(world.engine) as session:
        report = stats.statistics(session, LRO)
        assert report["requests"] == 6
        assert report["turnaround_hours"]["all"] == {"median": 3.0, "p90": 7.6, "n": 5}
        assert report["turnaround_hours"]["production"]["n"] == 5
        assert report["disclosure_rate"] == 0.6  # 3 of 5 answered: disclosed, disclosed, narrowed
        assert report["outcomes"]["open"] == 1
        assert report["by_country"] == {"DE": 6}
        assert stats.statistics(session, LRO, since=NOW + timedelta(minutes=1))["requests"] == 0


def test_freeze_with_balances_disclosed_first_closes_when_its_actions_are_proposed(world: World) -> None:
    request_id = submit(world, request_type="freeze", basis="freezing_order", categories=("balances",), targets=BOB)
    with session_scope(world.engine) as session:
        triage.triage(session, LRO, request_id, now=NOW)
        responses.record_callback(session, LRO, request_id, phone="+49 30 0000 1000", outcome="confirmed",
                                  called_at=NOW, now=NOW)  # fmt: skip
        package_id = packages.draft_package(session, LRO, request_id, now=NOW).id
    with session_scope(world.engine) as session:
        packages.approve_package(session, LRO2, package_id, now=NOW)
        request = session.get(LeRequest, request_id)
        assert request is not None
        assert (request.status, request.outcome, request.closed_at) == ("in_progress", "disclosed", None)
        assert request.outcome_reason is not None
        assert request.outcome_reason.endswith("account actions to follow")
        responses.propose_actions(session, LRO, request_id, expires_at=EXPIRES, now=NOW + timedelta(hours=3))
        assert (request.status, request.outcome) == ("closed", "actioned")
        assert request.closed_at == NOW + timedelta(hours=3)
