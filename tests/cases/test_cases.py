"""Cases: triage, workflow state machine, notes, links, deadlines, optimistic locking, roles, audit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from chainsleuth.cases import service
from chainsleuth.errors import ConflictError, PermissionDeniedError, PolicyViolationError, StaleVersionError
from chainsleuth.privacy import audit
from chainsleuth.store.db import session_scope
from chainsleuth.store.models import AuditEntry
from chainsleuth.store.models.alerts import MonitorAlert
from tests.cases.conftest import ANALYST, AUDITOR, NOW, OFFICER, SENIOR, make_alert


def test_case_from_alerts_links_customer_account_address_and_escalates_alert(loaded: Engine) -> None:
    alert = make_alert(loaded, ["E0000000003"])
    with session_scope(loaded) as s:
        case = service.create_from_alerts(s, ANALYST, [alert], now=NOW, due_at=NOW + timedelta(days=3))
        assert case.queue == "exposure"
        assert case.status == "open"
        assert case.version == 1
        links = [(lk.link_type, lk.target) for lk in service.links(s, case.id)]
        # the alert's customer, the account its event booked, and the on-chain address the event names: what a
        # case graph and an account action start from
        assert links[:2] == [("customer", "C0000002"), ("account", "A0000003")]
        assert [kind for kind, _ in links[2:]] == ["address"]
        assert s.get(MonitorAlert, alert).status == "escalated"
        case_id = case.id
    second = make_alert(loaded, ["E0000000007"], key="a2")
    with session_scope(loaded) as s:
        case = service.attach_alerts(s, ANALYST, case_id, [second], expected_version=1, now=NOW)
        assert service.alert_ids(s, case_id) == [alert, second]
    with session_scope(loaded) as s, pytest.raises(ConflictError):
        service.create_from_alerts(s, ANALYST, [alert], now=NOW)


def test_status_workflow_refuses_illegal_transitions(loaded: Engine) -> None:
    with session_scope(loaded) as s:
        case = service.create_case(s, SENIOR, title="manual", now=NOW)
        v = case.version
        case = service.change_status(s, SENIOR, case.id, v, "investigating", now=NOW)
        with pytest.raises(PolicyViolationError):
            service.change_status(s, SENIOR, case.id, case.version, "open", now=NOW)
        with pytest.raises(PolicyViolationError, match="decision"):
            service.change_status(s, SENIOR, case.id, case.version, "closed", now=NOW)
        case = service.change_status(s, SENIOR, case.id, case.version, "escalated", reason="big", now=NOW)
        case = service.close_case(s, SENIOR, case.id, case.version, decision="no_further_action",
                                  reason="explained", now=NOW)  # fmt: skip
        assert case.status == "closed"
        assert case.decision == "no_further_action"
        with pytest.raises(PolicyViolationError, match="reopen"):
            service.change_status(s, SENIOR, case.id, case.version, "investigating", now=NOW)
        case = service.reopen(s, SENIOR, case.id, case.version, reason="new facts", now=NOW)
        assert case.status == "investigating"
        assert case.decision is None
        types = [e.event_type for e in service.timeline(s, SENIOR, case.id)]
        assert types == ["created", "status_changed", "status_changed", "status_changed", "reopened"]


def test_wrong_role(loaded: Engine) -> None:
    with session_scope(loaded) as s:
        with pytest.raises(PermissionDeniedError):
            service.create_case(s, AUDITOR, title="x", now=NOW)
        case = service.create_case(s, ANALYST, title="x", now=NOW)
        with pytest.raises(PermissionDeniedError):  # closing is for senior roles
            service.close_case(s, ANALYST, case.id, case.version, decision="no_further_action", reason="r")
        with pytest.raises(PermissionDeniedError):
            service.assign(s, ANALYST, case.id, case.version, assignee="someone")


def test_stale_version_two_sessions(loaded: Engine) -> None:
    with session_scope(loaded) as s:
        case_id = service.create_case(s, ANALYST, title="shared", now=NOW).id
    # two investigators read the case (version 1) in their own sessions
    with session_scope(loaded) as a:
        seen_by_a = service.get_case(a, ANALYST, case_id).version
    with session_scope(loaded) as b:
        seen_by_b = service.get_case(b, SENIOR, case_id).version
    with session_scope(loaded) as a:
        service.add_note(a, ANALYST, case_id, seen_by_a, "first edit wins", now=NOW)
    with pytest.raises(StaleVersionError), session_scope(loaded) as b:
        service.add_note(b, SENIOR, case_id, seen_by_b, "second edit must not overwrite", now=NOW)
    with session_scope(loaded) as s:
        assert [n.body for n in service.notes(s, case_id)] == ["first edit wins"]
        assert service.get_case(s, SENIOR, case_id).version == 2


def test_concurrent_flush_is_detected(loaded: Engine) -> None:
    """A writer that passed the version check is still stopped at UPDATE time by version_id_col."""
    with session_scope(loaded) as s:
        case_id = service.create_case(s, ANALYST, title="race", now=NOW).id
    with session_scope(loaded) as a:
        service.set_deadline(a, SENIOR, case_id, 1, NOW + timedelta(days=1), now=NOW)
    from sqlalchemy.orm.attributes import set_committed_value

    from chainsleuth.cases import common
    from chainsleuth.store.models import Case

    with session_scope(loaded) as b:
        case = b.get(Case, case_id)
        assert case is not None
        set_committed_value(case, "version", 1)  # as if b had read the row before a committed
        with pytest.raises(StaleVersionError):
            common.touch(b, case, NOW)
        b.rollback()


def test_links_deadlines_overdue(loaded: Engine) -> None:
    with session_scope(loaded) as s:
        case = service.create_case(s, OFFICER, title="deadline", due_at=NOW - timedelta(hours=1), now=NOW)
        assert service.is_overdue(case, NOW)
        case = service.link(s, OFFICER, case.id, case.version, "address", "bc1qxyz", chain="bitcoin", now=NOW)
        version = case.version
        case = service.link(s, OFFICER, case.id, case.version, "address", "bc1qxyz", chain="bitcoin", now=NOW)
        assert case.version == version  # idempotent link
        case = service.link(s, OFFICER, case.id, case.version, "account", "A0000001", now=NOW)
        rows, total = service.list_cases(s, OFFICER, overdue=True, now=NOW)
        assert total == 1
        assert rows[0].id == case.id
        case = service.close_case(s, OFFICER, case.id, case.version, decision="sar_filed", reason="filed", now=NOW)
        assert not service.is_overdue(case, NOW)


def test_every_case_action_is_audited(loaded: Engine) -> None:
    with session_scope(loaded) as s:
        case = service.create_case(s, SENIOR, title="audited", now=NOW)
        case = service.add_note(s, SENIOR, case.id, case.version, "n", now=NOW) and service.get_case(s, SENIOR, case.id)
        case = service.assign(s, SENIOR, case.id, case.version, assignee="analyst", now=NOW)
        service.change_status(s, SENIOR, case.id, case.version, "investigating", now=NOW)
    with session_scope(loaded) as s:
        actions = [e.action for e in s.scalars(select(AuditEntry).where(AuditEntry.object_type == "case"))]
        for expected in ("case.create", "case.note_added", "case.read", "case.assigned", "case.status_changed"):
            assert expected in actions
        assert audit.verify(s).ok
