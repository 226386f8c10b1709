"""Key rotation: everything re-encrypted, old ciphertexts readable meanwhile, resumable, then retirement."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from chainsleuth.errors import ConflictError, IntegrityError, NotFoundError
from chainsleuth.privacy import audit, rotation
from chainsleuth.privacy.fields import find_customers
from chainsleuth.privacy.keyring import crypto_for
from chainsleuth.store.db import session_scope
from chainsleuth.store.models import Customer


def prefixes(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT email, full_name, postal_code FROM customers")).all()
        ips = connection.execute(text("SELECT ip FROM ledger_events WHERE ip IS NOT NULL")).scalars().all()
    return {value.split(":")[0] for row in rows for value in row} | {value.split(":")[0] for value in ips}


def test_rotation_reencrypts_everything_and_old_keys_decrypt_meanwhile(loaded: Engine) -> None:
    before = rotation.key_status(loaded)
    assert (before.active_version, before.unencrypted) == (1, 0)
    assert before.per_column["customers.email"] == {"v1": 3, "unencrypted": 0}
    report = rotation.rotate_key(loaded, batch_size=2)
    assert (report.active_version, report.started_new_version) == (2, True)
    assert report.reencrypted["customers"] == 3 * 9
    assert report.reencrypted["ledger_events"] > 0
    assert prefixes(loaded) == {"v2"}
    after = rotation.key_status(loaded)
    assert [(v.version, v.state, v.values) for v in after.versions] == [
        (1, "decrypt_only", 0),
        (2, "active", before.versions[0].values),
    ]
    with session_scope(loaded) as session:
        alice = session.get(Customer, "C0000001")
        assert alice is not None
        assert alice.email == "alice@example.org"
        assert [c.customer_id for c in find_customers(session, email="alice@example.org")] == ["C0000001"]
        actions = [entry.action for entry in audit.tail(session, 5)]
    assert actions[-2:] == ["privacy.rotate_key.start", "privacy.rotate_key.complete"]


def test_interrupted_rotation_resumes_and_mixed_versions_stay_readable(loaded: Engine) -> None:
    def interrupt(table: str, done: int) -> None:
        if table == "customers" and done >= 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rotation.rotate_key(loaded, batch_size=1, progress=interrupt)
    assert prefixes(loaded) == {"v1", "v2"}  # half-way: both versions in use
    with session_scope(loaded) as session:  # ...and every value still decrypts
        assert sorted(c.full_name for c in session.query(Customer)) == [
            "Alice Example",
            "Bob Sample",
            "Carol Placeholder",
        ]
    with pytest.raises(ConflictError, match="still encrypted with key version 1"):
        rotation.retire_key(loaded, 1)
    resumed = rotation.rotate_key(loaded, batch_size=50)
    assert (resumed.active_version, resumed.started_new_version) == (2, False)  # resumed, no third version
    assert prefixes(loaded) == {"v2"}
    rotation.retire_key(loaded, 1)
    assert [(v.version, v.state) for v in rotation.key_status(loaded).versions] == [(1, "retired"), (2, "active")]


def test_retired_key_is_refused_and_active_key_cannot_be_retired(loaded: Engine) -> None:
    with loaded.connect() as connection:
        old_email = connection.execute(text("SELECT email FROM customers WHERE customer_id = 'C0000001'")).scalar_one()
    rotation.rotate_key(loaded)
    with pytest.raises(ConflictError, match="active key"):
        rotation.retire_key(loaded, 2)
    with pytest.raises(NotFoundError):
        rotation.retire_key(loaded, 9)
    rotation.retire_key(loaded, 1)
    with loaded.begin() as connection:  # an old backup value restored behind the layer's back
        connection.execute(text("UPDATE customers SET email = :e WHERE customer_id = 'C0000001'"), {"e": old_email})
    crypto_for(loaded).refresh()
    with pytest.raises(IntegrityError, match="retired"), session_scope(loaded) as session:
        session.get(Customer, "C0000001")


def test_legacy_clear_text_is_refused_on_read_and_encrypted_by_rotate(loaded: Engine) -> None:
    with loaded.begin() as connection:
        connection.execute(text("UPDATE customers SET city = 'Hamburg' WHERE customer_id = 'C0000002'"))
    assert rotation.key_status(loaded).unencrypted == 1
    with pytest.raises(IntegrityError, match="not chainsleuth ciphertext"), session_scope(loaded) as session:
        session.get(Customer, "C0000002")
    report = rotation.rotate_key(loaded)
    assert (report.started_new_version, report.values) == (False, 1)  # finishing the job, not a new key
    with session_scope(loaded) as session:
        bob = session.get(Customer, "C0000002")
        assert bob is not None
        assert bob.city == "Hamburg"
    assert rotation.key_status(loaded).unencrypted == 0


def test_rotation_covers_case_notes_reports_and_evidence_keys(loaded: Engine, tmp_path: Path) -> None:
    from tests.privacy.test_fields import _case_with_personal_data

    _case_with_personal_data(loaded, tmp_path)
    report = rotation.rotate_key(loaded)
    assert report.reencrypted["case_notes"] == 1
    assert report.reencrypted["str_reports"] == 1
    assert report.reencrypted["case_evidence"] == 1  # the document's data key, re-wrapped; the file is untouched
    with loaded.connect() as connection:
        for query in (
            "SELECT body FROM case_notes",
            "SELECT xml FROM str_reports",
            "SELECT data_key FROM case_evidence",
        ):
            assert connection.execute(text(query)).scalar_one().startswith("v2:"), query
    from chainsleuth.cases import evidence
    from chainsleuth.config import Settings

    with session_scope(loaded) as session:
        (row,) = [r for r in evidence.list_evidence(session, 1) if r.kind == "document"]
        assert evidence.check(row, Settings(data_dir=tmp_path)).ok
