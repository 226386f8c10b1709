"""Legal holds on the views, concurrent identical proposals, and actions past their review date."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, insert
from sqlalchemy.exc import IntegrityError as DBIntegrityError

from chainsleuth.cases import actions, service, views
from chainsleuth.store.db import session_scope
from chainsleuth.store.models.cases import AccountAction
from tests.cases.conftest import LATER, NOW, OFFICER, SENIOR


def test_holds_show_on_case_and_action_views(loaded: Engine) -> None:
    with session_scope(loaded) as s:
        case = service.create_case(s, SENIOR, title="hold", now=NOW)
        service.link(s, SENIOR, case.id, case.version, "account", "A0000001", now=NOW)
        other = service.create_case(s, SENIOR, title="unrelated", now=NOW)
        assert views.case_detail(s, case, NOW)["legal_holds"] == []
        hold, _ = actions.propose(s, SENIOR, "preserve", customer_id="C0000001", reason="LE preservation request",
                                  legal_basis="order 12", expires_at=LATER, now=NOW)  # fmt: skip
        actions.approve(s, OFFICER, hold.id, hold.version, now=NOW)
        (shown,) = views.case_detail(s, case, NOW)["legal_holds"]  # linked through the customer's account
        assert (shown["customer_id"], shown["action_id"], shown["legal_basis"]) == ("C0000001", hold.id, "order 12")
        assert views.case_detail(s, other, NOW)["legal_holds"] == []
        freeze, _ = actions.propose(s, SENIOR, "freeze", account_id="A0000001", reason="r", legal_basis="b",
                                    expires_at=LATER, now=NOW)  # fmt: skip
        assert [h["action_id"] for h in actions.action_detail(s, freeze, NOW)["legal_holds"]] == [hold.id]
        assert actions.action_detail(s, freeze, LATER + timedelta(days=1))["legal_holds"] == []  # hold expired


def _proposal(s, **extra):  # type: ignore[no-untyped-def]
    return actions.propose(s, SENIOR, "freeze", account_id="A0000003", reason="mixer deposits", legal_basis="b",
                           expires_at=LATER, now=NOW, **extra)  # fmt: skip


def test_the_database_refuses_two_open_actions_with_one_fingerprint(loaded: Engine) -> None:
    with session_scope(loaded) as s:
        first, _ = _proposal(s)
        names = ("kind", "customer_id", "account_id", "legal_basis", "reason", "fingerprint", "proposed_by",
                 "proposed_at", "expires_at")  # fmt: skip
        values = {c: getattr(first, c) for c in names}
    with pytest.raises(DBIntegrityError), session_scope(loaded) as s:
        s.execute(insert(AccountAction).values(status="proposed", version=1, **values))
    with session_scope(loaded) as s:  # a closed action with the same fingerprint is history, not a duplicate
        s.execute(insert(AccountAction).values(status="rejected", version=1, **values))


def test_a_concurrent_identical_proposal_gets_the_winner(loaded: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    with session_scope(loaded) as s:
        winner, created = _proposal(s)
        assert created
    # the second proposer read "nothing open" before the winner committed: its insert hits the unique index
    real = actions._open_with
    calls = iter([None])
    monkeypatch.setattr(actions, "_open_with", lambda session, fp: next(calls, None) or real(session, fp))
    with session_scope(loaded) as s:
        again, created_again = _proposal(s)
        assert (again.id, created_again) == (winner.id, False)


def test_an_expired_open_action_makes_way_for_a_new_proposal(loaded: Engine) -> None:
    soon = NOW + timedelta(hours=1)
    with session_scope(loaded) as s:
        old, _ = actions.propose(s, SENIOR, "freeze", account_id="A0000003", reason="r", legal_basis="b",
                                 expires_at=soon, now=NOW)  # fmt: skip
        fresh, created = actions.propose(s, SENIOR, "freeze", account_id="A0000003", reason="r", legal_basis="b",
                                         expires_at=LATER, now=soon + timedelta(minutes=1))  # fmt: skip
        assert created
        assert fresh.id != old.id
        assert old.status == "expired"


def test_actions_past_their_review_date(loaded: Engine) -> None:
    review = NOW + timedelta(days=7)
    with session_scope(loaded) as s:
        due, _ = actions.propose(s, SENIOR, "freeze", account_id="A0000003", reason="r", legal_basis="b",
                                 review_at=review, expires_at=LATER, now=NOW)  # fmt: skip
        actions.approve(s, OFFICER, due.id, due.version, now=NOW)
        pending, _ = actions.propose(s, SENIOR, "freeze", account_id="A0000004", reason="r", legal_basis="b",
                                     review_at=review, now=NOW)  # fmt: skip
        assert actions.list_actions(s, SENIOR, review_due=True, now=NOW)[1] == 0
        rows, total = actions.list_actions(s, SENIOR, review_due=True, now=review + timedelta(days=1))
        assert (total, [r.id for r in rows]) == (1, [due.id])  # a mere proposal is not under review
        assert pending.id not in [r.id for r in rows]
