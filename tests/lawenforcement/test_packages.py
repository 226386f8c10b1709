"""Responses and actions: minimum-necessary packages read back from their files, third parties pseudonymised,
four-eyes, sealing for the agency key (and by password), expiry, call-backs before freezes, actions in the cases
workflow, notifications, declines, messages and statistics."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import timedelta
from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from chainsleuth.cases import actions as case_actions
from chainsleuth.cases import ledger_guard
from chainsleuth.errors import IntegrityError, NotFoundError, PolicyViolationError
from chainsleuth.lawenforcement import agencies, packages, responses, stats, triage
from chainsleuth.lawenforcement.notify import due_notifications
from chainsleuth.lawenforcement.sealing import generate_agency_keypair, open_sealed, sha256_hex
from chainsleuth.store.db import session_scope
from chainsleuth.store.models.lawenforcement import LeNotification, LeRequest
from chainsleuth.store.models.ledger import LedgerEvent
from tests.lawenforcement.conftest import CO, LIMIT, LRO, LRO2, NOW, World, submit


def _third_party_transfer(world: World) -> None:
    with session_scope(world.engine) as session:
        session.add(LedgerEvent(event_id="E9000000001", event_type="internal_transfer",
                                timestamp=NOW - timedelta(days=5),
                                customer_id="C0000002", account_id="A0000003", asset="USDT", amount=Decimal(10),
                                counterparty_customer_id="C0000003", counterparty_account_id="A0000004"))  # fmt: skip


def _approved(world: World, categories: tuple[str, ...], private: str | None = None) -> tuple[int, bytes]:
    request_id = submit(world, categories=categories, targets="email\nbob@example.org\n")
    with session_scope(world.engine) as session:
        triage.triage(session, LRO, request_id, now=NOW)
        package = packages.draft_package(session, LRO, request_id, now=NOW)
        with pytest.raises(PolicyViolationError, match="four-eyes"):
            packages.approve_package(session, LRO, package.id, now=NOW)
        package_id = package.id
    with session_scope(world.engine) as session:
        _, password = packages.approve_package(session, LRO2, package_id, now=NOW)
        assert (password is None) == (private is not None)
    with session_scope(world.engine) as session:
        ciphertext, envelope, _ = packages.download_package(session, world.alice, package_id, now=NOW)
    clear = open_sealed(ciphertext, envelope, private_key=private, password=password)
    return package_id, clear


def test_overbroad_request_gets_only_matrix_fields_and_third_parties_pseudonymised(world: World) -> None:
    private, public = generate_agency_keypair()
    with session_scope(world.engine) as session:
        entry = agencies.agency_view(agencies.get_agency(session, "DEMO-POLICE"))
        entry = {k: v for k, v in entry.items() if k != "has_public_key"} | {"public_key": public}
        agencies.upsert_agencies(session, LRO, [entry])
    _third_party_transfer(world)
    # Asks for everything, under a US-style subpoena from a DE agency in US jurisdiction: subscriber + wallets only.
    request_id = submit(world, basis="subpoena", jurisdiction="US", targets="email\nbob@example.org\n",
                        categories=("subscriber", "transactions", "login_ip", "wallet_addresses",
                                    "balances"))  # fmt: skip
    with session_scope(world.engine) as session:
        request = triage.triage(session, LRO, request_id, now=NOW)
        assert request.triage["allowed_categories"] == ["subscriber", "wallet_addresses"]
        package_id = packages.draft_package(session, LRO, request_id, now=NOW).id
    with session_scope(world.engine) as session:
        packages.approve_package(session, LRO2, package_id, now=NOW)
    with session_scope(world.engine) as session:
        ciphertext, envelope, _ = packages.download_package(session, world.alice, package_id, now=NOW)
    with pytest.raises(IntegrityError):
        open_sealed(ciphertext, envelope, private_key=generate_agency_keypair()[0])
    archive = zipfile.ZipFile(io.BytesIO(open_sealed(ciphertext, envelope, private_key=private)))
    names = set(archive.namelist())
    assert names == {"manifest.json", "data.json", "report.pdf", "subscriber.csv", "wallet_addresses.csv"}
    manifest = json.loads(archive.read("manifest.json"))
    for entry in manifest["files"]:
        assert sha256_hex(archive.read(entry["name"])) == entry["sha256"]
    subscriber = list(csv.DictReader(io.StringIO(archive.read("subscriber.csv").decode())))
    assert [row["customer_id"] for row in subscriber] == ["C0000002"]
    assert subscriber[0]["full_name"] == "Bob Sample"
    assert set(subscriber[0]) == set(packages.FIELDS["subscriber"])
    blob = b"".join(archive.read(n) for n in names)
    for secret in (b"risk_rating", b"declared_annual_income", b"source_of_funds", b"bankref", b"203.0.113",
                   b"Alice", b"Carol", b"C0000003", b"1000.5"):  # fmt: skip
        assert secret not in blob
    assert "Disclosure package" in PdfReader(io.BytesIO(archive.read("report.pdf"))).pages[0].extract_text()


def test_transactions_pseudonymise_third_parties_password_delivery(world: World) -> None:
    _third_party_transfer(world)
    _, clear = _approved(world, ("transactions", "balances"))
    archive = zipfile.ZipFile(io.BytesIO(clear))
    rows = list(csv.DictReader(io.StringIO(archive.read("transactions.csv").decode())))
    transfer = next(r for r in rows if r["event_id"] == "E9000000001")
    assert transfer["counterparty_customer"].startswith("THIRD-")
    assert transfer["counterparty_account"].startswith("THIRDACCT-")
    assert b"C0000003" not in clear
    assert b"A0000004" not in clear
    assert b"bankref" not in clear
    assert "ip" not in rows[0]


def test_package_expiry_and_scoping(world: World) -> None:
    package_id, _ = _approved(world, ("subscriber",))
    with session_scope(world.engine) as session, pytest.raises(NotFoundError):
        packages.download_package(session, world.nils, package_id, now=NOW)
    with session_scope(world.engine) as session, pytest.raises(packages.PackageExpiredError):
        packages.download_package(session, world.alice, package_id, now=NOW + timedelta(days=31))
    with session_scope(world.engine) as session:
        request = session.scalars(select(LeRequest)).one()
        assert request.status == "responded"
        assert request.outcome == "disclosed"
        notes = session.scalars(select(LeNotification)).all()
        assert [(n.customer_id, n.status) for n in notes] == [("C0000002", "due")]


def test_emergency_without_callback_cannot_freeze_or_disclose(world: World) -> None:
    freeze = submit(world, request_type="freeze", basis="freezing_order", categories=("balances",),
                    targets="email\nbob@example.org\n", non_disclosure=True,
                    non_disclosure_until=NOW + timedelta(days=90))  # fmt: skip
    emergency = submit(world, request_type="emergency_disclosure", basis="emergency", categories=("subscriber",))
    with session_scope(world.engine) as session:
        for request_id in (freeze, emergency):
            assert triage.triage(session, LRO, request_id, now=NOW).status == "awaiting_callback"
        with pytest.raises(PolicyViolationError, match="call-back"):
            responses.propose_actions(session, LRO, freeze, expires_at=NOW + timedelta(days=30), now=NOW)
        with pytest.raises(PolicyViolationError, match="call-back"):
            packages.draft_package(session, LRO, emergency, now=NOW)
        with pytest.raises(PolicyViolationError, match="registry"):  # a number from the request is not accepted
            responses.record_callback(session, LRO, freeze, phone="+1 555 0199", outcome="confirmed", called_at=NOW,
                                      now=NOW)  # fmt: skip
    with session_scope(world.engine) as session:
        responses.record_callback(session, LRO, emergency, phone="+49 30 0000 1000", outcome="not_confirmed",
                                  called_at=NOW, now=NOW)  # fmt: skip
        responses.record_callback(session, LRO, freeze, phone="+4930 00001000", outcome="confirmed", called_at=NOW,
                                  now=NOW)  # fmt: skip
        assert session.get(LeRequest, freeze).status == "in_progress"  # type: ignore[union-attr]
        ids = responses.propose_actions(session, LRO, freeze, expires_at=NOW + timedelta(days=30), now=NOW)
        proposed = [case_actions.get_action(session, i) for i in ids]
        assert sorted(a.kind for a in proposed) == ["freeze", "preserve"]
        assert all(a.status == "proposed" for a in proposed)  # four-eyes: nothing frozen yet
        assert not ledger_guard.active_freezes(session, "A0000003", NOW)
    with session_scope(world.engine) as session:
        for action_id in ids:
            case_actions.approve(session, CO, action_id, 1, now=NOW)
        assert ledger_guard.active_freezes(session, "A0000003", NOW)
        assert ledger_guard.is_preserved(session, "C0000002", NOW)
        assert responses.request_actions(session, LRO, freeze) == ids
        note = session.scalars(select(LeNotification)).one()
        assert note.status == "withheld"
        assert due_notifications(session, LRO, NOW) == []
        assert [n.id for n in due_notifications(session, LRO, NOW + timedelta(days=91))] == [note.id]
        responses.decline(session, LRO, emergency, template="verification_failed", now=NOW + timedelta(hours=1))
    with session_scope(world.engine) as session:
        report = stats.statistics(session, LRO)
        assert report["emergency_failed_verification_share"] == 1.0
        assert report["by_type"]["freeze"] == 1
        assert "| DE | 2 |" in stats.to_markdown(report)
        assert "by_type,freeze,1" in stats.to_csv(report)


def test_decline_narrow_and_messages(world: World) -> None:
    request_id = submit(world, categories=("subscriber", "transactions"))
    with session_scope(world.engine) as session:
        triage.triage(session, LRO, request_id, now=NOW)
        responses.narrow(session, LRO, request_id, categories=["subscriber"], note="Transactions need an MLAT.")
        message = responses.post_message(session, world.alice, request_id, "Please hurry", attachment=b"scan bytes",
                                         filename="scan.png", max_upload_bytes=LIMIT)  # fmt: skip
        with pytest.raises(NotFoundError):
            responses.messages(session, world.nils, request_id)
        assert responses.attachment(session, LRO, request_id, message.id) == (b"scan bytes", "scan.png")
        assert [m.body for m in responses.messages(session, LRO, request_id)] == ["Please hurry"]
        package_id = packages.draft_package(session, LRO, request_id, now=NOW).id
        assert json.loads(zipfile.ZipFile(io.BytesIO(packages.draft_bytes(session, LRO2, package_id)))
                          .read("manifest.json"))["categories"] == ["subscriber"]  # fmt: skip
    other = submit(world)
    with session_scope(world.engine) as session:
        declined = responses.decline(session, LRO, other, template="insufficient_legal_basis", note="Ref 12.")
        assert declined.outcome_reason is not None
        assert declined.outcome_reason.endswith("Ref 12.")
        with pytest.raises(PolicyViolationError):
            responses.decline(session, LRO, other, template="no_records")
