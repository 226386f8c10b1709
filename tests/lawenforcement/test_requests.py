"""Intake (PDF and size checks, targets row by row), agency scoping, triage, matching, "seen before",
clocks, queues and escalation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from chainsleuth.errors import ConflictError, InvalidInputError, NotFoundError, PayloadTooLargeError
from chainsleuth.lawenforcement import requests as le_requests
from chainsleuth.lawenforcement import triage
from chainsleuth.lawenforcement.requests import check_pdf, get_request, list_requests, request_view
from chainsleuth.lawenforcement.sealing import read_file
from chainsleuth.lawenforcement.targets import parse_targets_csv
from chainsleuth.store.db import session_scope
from chainsleuth.store.models.lawenforcement import LeFile, LeRequest
from tests.lawenforcement.conftest import LRO, LRO2, NOW, World, make_pdf, submit

BAD_TARGETS = (
    "customer_id,email,phone,wallet_address,chain,tx_hash\n"
    "C0000001,,,,,\n"
    ",not-an-email,,,,\n"
    ",,020 7946 0018,,,\n"
    ",,,0x1234,ethereum,\n"
    ",,,bc1qvalidlookingaddress000000000000,,\n"
    "\n"
    ",,,,,0xzz\n"
    ",,,,dogecoin,\n"
    ",bob@example.org,+491510000002,,,\n"
)


def test_malformed_targets_reported_row_by_row_nothing_lost() -> None:
    parsed = parse_targets_csv(BAD_TARGETS.encode())
    errors = [(t.row_number, t.column, t.error) for t in parsed if not t.valid]
    assert [(row, column) for row, column, _ in errors] == [
        (3, "email"), (4, "phone"), (5, "wallet_address"), (6, "wallet_address"), (8, "tx_hash"), (9, "chain"),
    ]  # fmt: skip
    assert "country code" in str(errors[1][2])
    assert "needs its chain" in str(errors[3][2])
    valid = [(t.row_number, t.kind, t.value) for t in parsed if t.valid]
    assert valid == [(2, "customer_id", "C0000001"), (10, "email", "bob@example.org"), (10, "phone", "491510000002")]
    with pytest.raises(InvalidInputError, match="unknown or missing"):
        parse_targets_csv(b"name,iban\nx,y\n")
    with pytest.raises(PayloadTooLargeError):
        parse_targets_csv(b"email\n" + b"a@b.cd\n" * 100, max_bytes=50)
    with pytest.raises(InvalidInputError, match="UTF-8"):
        parse_targets_csv(b"email\n\xff\xfe\n")


def test_pdf_magic_parse_and_size() -> None:
    pdf = make_pdf()
    assert check_pdf(pdf, max_bytes=len(pdf)) == 1
    with pytest.raises(PayloadTooLargeError):
        check_pdf(pdf, max_bytes=len(pdf) - 1)
    with pytest.raises(InvalidInputError, match="%PDF-"):
        check_pdf(b"MZ\x90\x00 this is an executable", max_bytes=10_000)
    with pytest.raises(InvalidInputError, match="readable PDF"):
        check_pdf(b"%PDF-1.7\n garbage that is not a pdf", max_bytes=10_000)


def test_instrument_stored_encrypted_with_hash_and_invalid_rows_kept(world: World) -> None:
    request_id = submit(world, targets=BAD_TARGETS)
    with session_scope(world.engine) as session:
        request = get_request(session, LRO, request_id)
        row = session.get(LeFile, request.instrument_file_id)
        assert row is not None
        assert row.sha256 == request.instrument_sha256
        assert b"%PDF" not in bytes(row.blob)
        assert read_file(row).startswith(b"%PDF-")
        targets = le_requests.request_targets(session, request)
        assert len(targets) == 9
        assert sum(1 for t in targets if t.error) == 6
        broken = next(t for t in targets if t.row_number == 4)
        fixed = parse_targets_csv("phone\n+44 20 7946 0018\n")[0]
        le_requests.correct_target(session, world.alice, request_id, broken.id, fixed)
        assert broken.error is None
        assert broken.value == "442079460018"
    with world.engine.connect() as connection:  # target values are encrypted at rest
        stored = connection.exec_driver_sql("SELECT value FROM le_targets").scalars().all()
        assert all(str(v).startswith("v1:") for v in stored)


def test_officer_cannot_see_other_agency_requests(world: World) -> None:
    mine = submit(world, world.alice)
    theirs = submit(world, world.nils, jurisdiction="SE")
    with session_scope(world.engine) as session:
        for ident in (theirs, get_request(session, LRO, theirs).reference, 999_999):
            with pytest.raises(NotFoundError) as caught:
                get_request(session, world.alice, ident)
            assert caught.value.message == "no such request"  # same answer whether it exists or not
        rows, total = list_requests(session, world.alice)
        assert [r.id for r in rows] == [mine]
        assert total == 1
        view = request_view(get_request(session, world.alice, mine), officer=True)
        assert "risk_score" not in view
        assert "triage" not in view
        assert len(list_requests(session, LRO)[0]) == 2


def test_triage_matches_targets_and_applies_matrix(world: World) -> None:
    request_id = submit(world, categories=("subscriber", "transactions", "login_ip"))
    with session_scope(world.engine) as session:
        request = triage.triage(session, LRO, request_id, now=NOW)
        found = {(t.kind, t.customer_id, t.match_via) for t in le_requests.request_targets(session, request)}
        assert found == {("email", "C0000002", "blind_index:email"), ("phone", "C0000001", "blind_index:phone"),
                         ("address", "C0000002", "deposit_address"), ("tx_hash", "C0000002", "ledger_tx")}  # fmt: skip
        assert request.status == "in_progress"
        assert request.triage["complete"]
        assert request.triage["allowed_categories"] == ["subscriber", "transactions", "login_ip"]
    subpoena = submit(world, world.alice, basis="subpoena", categories=("subscriber", "transactions"))
    with session_scope(world.engine) as session:
        request = triage.triage(session, LRO, subpoena, now=NOW)  # a DE subpoena: nothing allowed
        assert request.triage["allowed_categories"] == []
        assert request.triage["narrowed"]
        assert request.status == "in_triage"


def test_duplicates_across_agencies_flagged_for_staff_only(world: World) -> None:
    first = submit(world, world.nils, jurisdiction="SE")
    second = submit(world, world.alice, targets="email\nBob@Example.org\n")
    with session_scope(world.engine) as session:
        triage.triage(session, LRO, first, now=NOW)
        request = triage.triage(session, LRO, second, now=NOW)
        flags = request.triage["seen_before"]
        assert {f["kind"] for f in flags} == {"same_target", "same_customer"}
        assert all(f["agency_id"] == "NORDIC-NCB" and f["other_agency"] for f in flags)
        officer_view = request_view(get_request(session, world.alice, second), officer=True)
        assert "NORDIC-NCB" not in str(officer_view)
        assert "K-1/26" in str(officer_view)


def test_deadlines_queues_claim_next_and_escalation(world: World) -> None:
    emergency = submit(world, request_type="emergency_disclosure", basis="emergency", categories=("subscriber",))
    production = submit(world)
    with session_scope(world.engine) as session:
        e, p = session.get(LeRequest, emergency), session.get(LeRequest, production)
        assert e is not None
        assert p is not None
        assert e.due_at - e.submitted_at == timedelta(hours=4)
        assert e.queue == "emergency"
        assert p.due_at - p.submitted_at == timedelta(hours=240)
        assert triage.next_request(session, LRO, now=NOW).id == emergency
        with pytest.raises(ConflictError):
            triage.claim(session, LRO2, emergency)
        assert triage.next_request(session, LRO2, now=NOW).id == production
        with pytest.raises(NotFoundError, match="queue is empty"):
            triage.next_request(session, LRO2, now=NOW)
    with session_scope(world.engine) as session:
        assert triage.escalate_overdue(session, NOW + timedelta(hours=3)) == []
        raised = triage.escalate_overdue(session, NOW + timedelta(hours=5))
        assert [r.id for r in raised] == [emergency]
        assert raised[0].escalation_level == 1
        assert triage.escalate_overdue(session, NOW + timedelta(hours=6)) == []  # same level: no repeat
        again = triage.escalate_overdue(session, NOW + timedelta(hours=29))
        assert again[0].escalation_level == 2


def test_chain_store_match_through_deposit_address(world: World) -> None:
    class FakeStore:
        def chains(self) -> list[str]:
            return ["bitcoin"]

        def transaction(self, chain: str, tx_hash: str) -> dict[str, object] | None:
            return {"inputs": [{"address": "1Someone"}],
                    "outputs": [{"address": "bc1qalice000000000000000000000000000000000"}]}  # fmt: skip

    request_id = submit(world, targets="tx_hash,chain\n" + "ab" * 32 + ",bitcoin\n")
    with session_scope(world.engine) as session:
        request = triage.triage(session, LRO, request_id, chain_store=FakeStore(), now=NOW)  # type: ignore[arg-type]
        (target,) = le_requests.request_targets(session, request)
        assert (target.customer_id, target.account_id, target.match_via) == ("C0000001", "A0000001", "chain_store")
    with session_scope(world.engine) as session:
        assert session.scalars(select(LeRequest.id)).all()
