"""Account actions: four-eyes, idempotency, expiry, the ledger guard, seizure and legal holds."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select

from chainsleuth.cases import actions, ledger_guard, service
from chainsleuth.errors import InvalidInputError, PermissionDeniedError, PolicyViolationError
from chainsleuth.privacy import audit
from chainsleuth.store.db import session_scope
from chainsleuth.store.models import AuditEntry, Balance, LedgerEvent
from tests.cases.conftest import ANALYST, LATER, NOW, OFFICER, OFFICER2, SENIOR


def _freeze(s, expires=LATER):  # type: ignore[no-untyped-def]
    action, created = actions.propose(s, SENIOR, "freeze", account_id="A0000003", reason="stolen funds",
                                      legal_basis="Court order 12/2026", expires_at=expires, now=NOW)  # fmt: skip
    return action, created


def test_proposal_needs_reason_basis_and_date(loaded: Engine) -> None:
    with session_scope(loaded) as s:
        with pytest.raises(InvalidInputError, match="reason"):
            actions.propose(s, SENIOR, "freeze", account_id="A0000003", reason=" ", legal_basis="x",
                            expires_at=LATER, now=NOW)  # fmt: skip
        with pytest.raises(InvalidInputError, match="legal basis or a case"):
            actions.propose(s, SENIOR, "freeze", account_id="A0000003", reason="r", expires_at=LATER, now=NOW)
        with pytest.raises(InvalidInputError, match="review or expiry"):
            actions.propose(s, SENIOR, "freeze", account_id="A0000003", reason="r", legal_basis="x", now=NOW)
        with pytest.raises(PermissionDeniedError):
            actions.propose(s, ANALYST, "freeze", account_id="A0000003", reason="r", legal_basis="x",
                            expires_at=LATER, now=NOW)  # fmt: skip


def test_missing_approver_self_approval_and_wrong_role(loaded: Engine) -> None:
    with session_scope(loaded) as s:
        freeze, _ = actions.propose(s, OFFICER, "freeze", account_id="A0000003", reason="r", legal_basis="x",
                                    expires_at=LATER, now=NOW)  # fmt: skip
        # missing approver: a proposed freeze does not block anything yet
        ledger_guard.assert_can_move_funds(s, "A0000003", "withdrawal", NOW)
        with pytest.raises(PolicyViolationError, match="four-eyes"):
            actions.approve(s, OFFICER, freeze.id, freeze.version, now=NOW)
        with pytest.raises(PermissionDeniedError):
            actions.approve(s, SENIOR, freeze.id, freeze.version, now=NOW)
        assert freeze.status == "proposed"


def test_frozen_account_refuses_withdrawal_and_transfer_but_accepts_deposit(loaded: Engine) -> None:
    with session_scope(loaded) as s:
        freeze, _ = _freeze(s)
        actions.approve(s, OFFICER, freeze.id, freeze.version, now=NOW)
        assert freeze.status == "active"
        assert freeze.approved_by == OFFICER.username
    with session_scope(loaded) as s:
        with pytest.raises(PolicyViolationError, match=r"frozen by freeze #\d+ \(legal basis: Court order 12/2026"):
            ledger_guard.post_withdrawal(s, "A0000003", "BTC", "0.05", chain="bitcoin", address="bc1qthief", now=NOW)
        with pytest.raises(PolicyViolationError, match="internal transfers out of it are refused"):
            ledger_guard.post_internal_transfer(s, "A0000003", "A0000004", "USDT", "10", now=NOW)
        ledger_guard.post_deposit(
            s,
            "A0000003",
            "BTC",
            "0.25",
            chain="bitcoin",
            address="3BobSampleAddress000000000000000000",
            tx_hash="ab" * 32,
            now=NOW,
        )
        # transfers *into* the frozen account still work
        ledger_guard.post_internal_transfer(s, "A0000004", "A0000003", "USDT", "10", now=NOW)
    with session_scope(loaded) as s:
        btc = s.get(Balance, ("A0000003", "BTC"))
        assert btc is not None
        assert btc.balance == Decimal("0.35")


def test_idempotent_propose_and_approve(loaded: Engine) -> None:
    with session_scope(loaded) as s:
        first, created = _freeze(s)
        again, created_again = _freeze(s)
        assert created
        assert not created_again
        assert again.id == first.id
        actions.approve(s, OFFICER, first.id, first.version, now=NOW)
        version = first.version
        actions.approve(s, OFFICER2, first.id, 1, now=NOW)  # approving twice: no-op
        assert first.version == version
        assert first.approved_by == OFFICER.username
        third, created_third = _freeze(s)  # identical proposal while active: the active one
        assert third.id == first.id
        assert not created_third


def test_expired_freeze_no_longer_blocks_and_cannot_be_approved(loaded: Engine) -> None:
    soon = NOW + timedelta(hours=1)
    with session_scope(loaded) as s:
        freeze, _ = _freeze(s, expires=soon)
        actions.approve(s, OFFICER, freeze.id, freeze.version, now=NOW)
        ledger_guard.post_deposit(s, "A0000003", "BTC", "1", chain="bitcoin", address="a", tx_hash="cd" * 32, now=NOW)
        later = soon + timedelta(minutes=1)
        # lazily: past expiry the freeze no longer blocks even before expire_due ran
        ledger_guard.post_withdrawal(s, "A0000003", "BTC", "0.1", chain="bitcoin", address="bc1qx", now=later)
        assert actions.effective_status(freeze, later) == "expired"
        pending, _ = actions.propose(s, SENIOR, "preserve", customer_id="C0000001", reason="hold",
                                     legal_basis="LE request 7", expires_at=soon, now=NOW)  # fmt: skip
        with pytest.raises(PolicyViolationError, match="past its expiry"):
            actions.approve(s, OFFICER, pending.id, pending.version, now=later)
        expired = actions.expire_due(s, later)
        assert {a.id for a in expired} == {freeze.id, pending.id}
        assert freeze.status == "expired"
        assert pending.status == "expired"


def test_unfreeze_releases_the_freeze(loaded: Engine) -> None:
    with session_scope(loaded) as s:
        freeze, _ = _freeze(s)
        actions.approve(s, OFFICER, freeze.id, freeze.version, now=NOW)
        unfreeze, _ = actions.propose(s, SENIOR, "unfreeze", account_id="A0000003", reason="court lifted order",
                                      legal_basis="Court order 13/2026", review_at=LATER, now=NOW)  # fmt: skip
        assert unfreeze.target_action_id == freeze.id
        actions.approve(s, OFFICER, unfreeze.id, unfreeze.version, now=NOW)
        assert freeze.status == "released"
        assert unfreeze.status == "completed"
        ledger_guard.post_withdrawal(s, "A0000003", "BTC", "0.01", chain="bitcoin", address="bc1q", now=NOW)


def test_seize_moves_exactly_the_balance(loaded: Engine) -> None:
    with session_scope(loaded) as s:
        freeze, _ = _freeze(s)
        actions.approve(s, OFFICER, freeze.id, freeze.version, now=NOW)
        seize, _ = actions.propose(s, SENIOR, "seize", account_id="A0000003", asset="ETH", reason="forfeiture",
                                   legal_basis="Seizure warrant 99", destination_chain="ethereum",
                                   destination_address="0xagency", review_at=LATER, now=NOW)  # fmt: skip
        actions.approve(s, OFFICER, seize.id, seize.version, now=NOW)
        assert seize.status == "completed"
        assert seize.result is not None
        assert seize.result["moved"] == {"ETH": "1.000000000000000001"}
    with session_scope(loaded) as s:
        eth = s.get(Balance, ("A0000003", "ETH"))
        assert eth is not None
        assert eth.balance == 0
        event = s.scalars(select(LedgerEvent).where(LedgerEvent.address == "0xagency")).one()
        assert event.event_type == "withdrawal"
        assert event.amount == Decimal("1.000000000000000001")
        usdt = s.get(Balance, ("A0000003", "USDT"))
        assert usdt is not None
        assert usdt.balance == Decimal("1000.5")


def test_seize_to_designated_account(loaded: Engine) -> None:
    with session_scope(loaded) as s:
        seize, _ = actions.propose(s, SENIOR, "seize", account_id="A0000002", reason="forfeiture",
                                   legal_basis="Warrant 5", destination_account_id="A0000004", expires_at=LATER,
                                   now=NOW)  # fmt: skip
        actions.approve(s, OFFICER, seize.id, seize.version, now=NOW)
        assert seize.result is not None
        assert seize.result["moved"] == {"BTC": "0.150000000000000000", "USDT": "3000.000000000000000000"}
        target = s.get(Balance, ("A0000004", "USDT"))
        assert target is not None
        assert target.balance == Decimal("3500")


def test_preserve_places_legal_hold_and_reject(loaded: Engine) -> None:
    with session_scope(loaded) as s:
        case = service.create_case(s, SENIOR, title="hold", now=NOW)
        hold, _ = actions.propose(s, SENIOR, "preserve", customer_id="C0000001", reason="LE preservation request",
                                  case_id=case.id, expires_at=LATER, now=NOW)  # fmt: skip
        actions.approve(s, OFFICER, hold.id, hold.version, now=NOW)
        assert ledger_guard.is_preserved(s, "C0000001", NOW)
        with pytest.raises(PolicyViolationError, match="may not be deleted or erased"):
            ledger_guard.assert_no_legal_hold(s, "C0000001", NOW)
        assert "action_approved" in [e.event_type for e in service.timeline(s, SENIOR, case.id)]
        other, _ = actions.propose(s, SENIOR, "freeze", account_id="A0000004", reason="r", case_id=case.id,
                                   expires_at=LATER, now=NOW)  # fmt: skip
        actions.reject(s, OFFICER, other.id, other.version, reason="insufficient grounds", now=NOW)
        actions.reject(s, OFFICER, other.id, 1, reason="again", now=NOW)  # no-op
        assert other.status == "rejected"
        assert other.rejection_reason == "insufficient grounds"
        with pytest.raises(PolicyViolationError):
            actions.approve(s, OFFICER2, other.id, other.version, now=NOW)


def test_every_action_step_is_audited(loaded: Engine) -> None:
    with session_scope(loaded) as s:
        freeze, _ = _freeze(s)
        _freeze(s)
        actions.approve(s, OFFICER, freeze.id, freeze.version, now=NOW)
        actions.approve(s, OFFICER2, freeze.id, freeze.version, now=NOW)
        actions.expire_due(s, LATER + timedelta(days=1))
    with session_scope(loaded) as s:
        logged = [e.action for e in s.scalars(select(AuditEntry).where(AuditEntry.object_type == "account_action"))]
        assert logged == ["action.propose", "action.propose_repeat", "action.approve", "action.execute",
                          "action.approve_repeat", "action.expire"]  # fmt: skip
        assert audit.verify(s).ok
