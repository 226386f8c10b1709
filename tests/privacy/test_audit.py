"""The audit log: a valid chain verifies; direct tampering with the database is detected and located."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from chainsleuth.errors import IntegrityError
from chainsleuth.privacy import audit
from chainsleuth.privacy.policy import SystemActor
from chainsleuth.store.db import session_scope
from chainsleuth.store.models.audit import AuditEntry
from chainsleuth.store.models.users import Role

from .conftest import principal

OFFICER = principal(Role.COMPLIANCE_OFFICER, "olga")


def write_entries(engine: Engine, count: int = 6) -> None:
    for number in range(1, count + 1):
        with session_scope(engine) as session:
            audit.record(
                session,
                OFFICER,
                "action.approve" if number % 2 else "customer.reveal",
                "customer",
                f"C000000{number}",
                purpose="case_investigation",
                details={"case_ref": f"CASE-{number}", "fields": ["email"], "amount": number * 1.5},
            )


def verify(engine: Engine, *, keyed: bool = True) -> audit.VerifyReport:
    with session_scope(engine) as session:
        return audit.verify(session, keyed=keyed)


def test_chain_records_and_verifies(engine: Engine) -> None:
    assert verify(engine).ok
    assert verify(engine).entries == 0
    write_entries(engine)
    with session_scope(engine) as session:
        audit.record(session, SystemActor("ingest"), "ingest.ledger", "world", "fixture")
    report = verify(engine)
    assert (report.ok, report.entries, report.last_seq, report.keyed) == (True, 7, 7, True)
    with session_scope(engine) as session:
        last = audit.tail(session, 2)
        assert [e.seq for e in last] == [6, 7]
        assert (last[1].actor, last[1].actor_role) == ("system:ingest", "system")
        assert last[1].prev_hash == last[0].entry_hash
        exported = [audit.entry_dict(e) for e in audit.entries_since(session, last[0].occurred_at)]
        assert [e["seq"] for e in exported] == [6, 7]
        assert exported[0]["details"] == {"amount": 9.0, "case_ref": "CASE-6", "fields": ["email"]}
        future = last[1].occurred_at + timedelta(seconds=1)
        assert list(audit.entries_since(session, future)) == []


def test_rolled_back_work_leaves_no_entry_and_no_gap(engine: Engine) -> None:
    write_entries(engine, 2)

    def failing_action() -> None:
        with session_scope(engine) as session:
            audit.record(session, OFFICER, "action.propose", "account", "A1")
            raise RuntimeError("the action failed")

    with pytest.raises(RuntimeError):
        failing_action()
    write_entries(engine, 1)
    assert verify(engine).ok
    assert verify(engine).last_seq == 3


def _swap_rows(a: int, b: int) -> list[str]:
    """Swap the whole contents (every column but seq) of two entries, through a free sequence number."""
    return [
        f"UPDATE audit_log SET seq = -1 WHERE seq = {a}",
        f"UPDATE audit_log SET seq = {a} WHERE seq = {b}",
        f"UPDATE audit_log SET seq = {b} WHERE seq = -1",
    ]


TAMPERING: dict[str, tuple[list[str], int]] = {
    "altered purpose": (["UPDATE audit_log SET purpose = 'curiosity' WHERE seq = 3"], 3),
    "altered details": (["UPDATE audit_log SET details = '{}' WHERE seq = 2"], 2),
    "altered actor": (["UPDATE audit_log SET actor = 'mallory' WHERE seq = 5"], 5),
    "removed entry": (["DELETE FROM audit_log WHERE seq = 4"], 4),
    "removed last entries": (["DELETE FROM audit_log WHERE seq >= 5"], 5),
    "removed first entry": (["DELETE FROM audit_log WHERE seq = 1"], 1),
    "swapped entries": (_swap_rows(2, 4), 2),
    "renumbered entries": (["UPDATE audit_log SET seq = seq + 100 WHERE seq >= 3"], 3),
    "inserted after the head": (
        [
            "INSERT INTO audit_log (seq, occurred_at, actor, actor_role, action, object_type, details, prev_hash, "
            "entry_hash) SELECT 7, occurred_at, actor, actor_role, action, object_type, details, entry_hash, "
            "entry_hash FROM audit_log WHERE seq = 6"
        ],
        7,
    ),
    "head rewound": (
        ["UPDATE audit_chain_head SET seq = 5, entry_hash = (SELECT entry_hash FROM audit_log WHERE seq = 5)"],
        6,
    ),
}


def test_direct_tampering_is_detected(engine: Engine) -> None:
    """Each tampering runs in a transaction that is rolled back afterwards: one database serves every case."""
    write_entries(engine)
    for case, (statements, first_bad) in sorted(TAMPERING.items()):
        with engine.connect() as connection:
            transaction = connection.begin()
            try:
                for statement in statements:
                    connection.execute(text(statement))
                report = audit.verify(Session(bind=connection))
            finally:
                transaction.rollback()
        assert not report.ok, case
        assert report.first_bad_seq == first_bad, (case, report.problem)
    assert verify(engine).ok  # every tampering was rolled back


def _recompute_with(tamper: Callable[[AuditEntry], None], engine: Engine, seq: int, chain_rest: bool) -> None:
    """Alter entry ``seq`` and recompute its hash (and, optionally, every later link and the head) exactly as
    the code does, but without the audit key: the best an attacker with only database access can do.
    """
    with session_scope(engine) as session:
        entries = list(audit.entries_since(session))
        prev = entries[seq - 2].entry_hash if seq > 1 else audit.GENESIS_HASH
        for entry in entries[seq - 1 :] if chain_rest else [entries[seq - 1]]:
            if entry.seq == seq:
                tamper(entry)
            entry.prev_hash = prev
            entry.entry_hash = audit.compute_hash(entry)
            prev = entry.entry_hash
        if chain_rest:
            session.execute(text("UPDATE audit_chain_head SET entry_hash = :h"), {"h": prev})


def _rename(entry: AuditEntry) -> None:
    entry.actor = "somebody-else"


def test_recomputed_hash_without_the_key_is_detected(engine: Engine) -> None:
    write_entries(engine)
    _recompute_with(_rename, engine, 3, chain_rest=False)
    report = verify(engine)
    assert (report.ok, report.first_bad_seq) == (False, 3)  # entry 3's MAC (and entry 4's link) break


def test_rewritten_chain_without_the_key_passes_only_the_unkeyed_check(engine: Engine) -> None:
    write_entries(engine)
    _recompute_with(_rename, engine, 3, chain_rest=True)
    assert verify(engine, keyed=False).ok  # a consistent rewrite fools the plain hash chain...
    report = verify(engine)
    assert (report.ok, report.first_bad_seq) == (False, 3)  # ...but not the keyed MACs
    assert "MAC" in (report.problem or "")


def test_missing_head_row_refuses_new_entries(engine: Engine) -> None:
    write_entries(engine, 1)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_chain_head"))
    assert not verify(engine).ok
    with pytest.raises(IntegrityError, match="head row is missing"), session_scope(engine) as session:
        audit.record(session, OFFICER, "customer.reveal", "customer", "C1")


def test_concurrent_writers_keep_a_valid_chain(engine: Engine) -> None:
    writers, per_writer = 6, 8
    failures: list[BaseException] = []

    def work(number: int) -> None:
        try:
            for index in range(per_writer):
                with session_scope(engine) as session:
                    audit.record(
                        session, principal(Role.ANALYST, f"a{number}"), "case.update", "case", f"{number}-{index}"
                    )
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    report = verify(engine)
    assert (report.ok, report.entries) == (True, writers * per_writer), report.problem
