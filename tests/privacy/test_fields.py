"""Personal fields on disk: encrypted by the loader and the ORM, searchable by blind index, never in clear."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text

from chainsleuth.config import Settings
from chainsleuth.errors import ConfigurationError, IntegrityError, InvalidInputError
from chainsleuth.ingest.ledger import load_exchange
from chainsleuth.privacy.fields import find_customers, ip_index, reindex
from chainsleuth.privacy.keyring import install_privacy
from chainsleuth.store.db import create_engine_for, session_scope
from chainsleuth.store.models import Customer, LedgerEvent
from chainsleuth.store.models.personal import personal_fields_registry

from .conftest import FIXTURE, principal

#: Clear values from the committed fixture that must never appear on disk.
SECRETS = [
    "alice@example.org",
    "Alice Example",
    "Bob Sample",
    "+491510000002",
    "P00000003",
    "Example Street",
    "203.0.113.5",
]


def raw_database_text(engine: Engine) -> str:
    """Everything the database stores, as text: the SQLite file bytes, or every PostgreSQL row as text."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        path = Path(str(engine.url.database))
        blobs = [path.read_bytes()] + [
            Path(f"{path}{s}").read_bytes() for s in ("-wal",) if Path(f"{path}{s}").exists()
        ]
        return b"".join(blobs).decode("latin-1") + b"".join(blobs).decode("utf-8", "replace")
    with engine.connect() as connection:
        tables = connection.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars()
        return "\n".join(
            str(row[0]) for name in list(tables) for row in connection.execute(text(f'SELECT t::text FROM "{name}" t'))
        )


def test_loaded_fixture_leaves_no_personal_value_in_clear(loaded: Engine) -> None:
    dump = raw_database_text(loaded)
    assert "C0000001" in dump  # the grep works: identifiers are there in clear
    for secret in SECRETS:
        assert secret not in dump, secret
    with loaded.connect() as connection:
        stored = connection.execute(text("SELECT email, full_name, date_of_birth, email_bidx FROM customers")).all()
        ips = connection.execute(text("SELECT ip, ip_bidx FROM ledger_events WHERE ip IS NOT NULL")).all()
    assert all(value.startswith("v1:") for row in stored for value in row[:3])
    assert all(len(row.email_bidx) == 32 for row in stored)
    assert ips
    assert all(row.ip.startswith("v1:") and row.ip_bidx for row in ips)


def test_the_load_is_audited(loaded: Engine) -> None:
    from chainsleuth.privacy import audit

    with session_scope(loaded) as session:
        (entry,) = audit.tail(session, 1)
    assert (entry.actor, entry.action, entry.object_type) == ("system:ingest", "ingest.exchange", "world")
    assert '"customers":3' in entry.details
    load_exchange(FIXTURE, loaded)  # a repeated load adds nothing and records nothing
    with session_scope(loaded) as session:
        assert audit.verify(session).entries == 1


def _case_with_personal_data(engine: Engine, data_dir: Path) -> None:
    """A case note, a drafted report row and an evidence document, all holding personal data."""
    from chainsleuth.cases import evidence, service
    from chainsleuth.store.models.cases import StrReport
    from chainsleuth.store.models.users import Role

    officer = principal(Role.COMPLIANCE_OFFICER)
    with session_scope(engine) as session:
        case = service.create_case(session, officer, title="at rest")
        service.add_note(session, officer, case.id, case.version, "Alice Example, passport X1234567")
        evidence.add_document(session, officer, case.id, case.version, b"passport X1234567", filename="id.pdf",
                              settings=Settings(data_dir=data_dir))  # fmt: skip
        session.add(StrReport(case_id=case.id, report_code="STR", entity_reference="R-1", xml="<first_name>Alice",
                              sha256="0" * 64, valid=True, validation_errors=[], event_ids=[], reason="r",
                              action_taken="a", indicators=[], drafted_by=officer.username))  # fmt: skip


def test_every_registered_personal_column_is_encrypted(loaded: Engine, tmp_path: Path) -> None:
    _case_with_personal_data(loaded, tmp_path)
    registry = personal_fields_registry()
    assert registry["case_notes"] == ["body"]
    assert registry["str_reports"] == ["xml"]
    with loaded.connect() as connection:
        for table_name, columns in [*registry.items(), ("case_evidence", ["data_key"])]:
            for column in columns:
                values = (
                    connection.execute(text(f"SELECT {column} FROM {table_name} WHERE {column} IS NOT NULL"))
                    .scalars()
                    .all()
                )
                assert values, f"{table_name}.{column} has no value to check"
                assert all(str(v).startswith("v1:") for v in values), f"{table_name}.{column}"
    assert "X1234567" not in raw_database_text(loaded)
    stored = [p.read_bytes() for p in (tmp_path / "evidence").rglob("*.enc")]
    assert len(stored) == 1
    assert b"X1234567" not in stored[0]


def test_orm_and_core_reads_are_clear(loaded: Engine) -> None:
    with session_scope(loaded) as session:
        alice = session.get(Customer, "C0000001")
        assert alice is not None
        assert (alice.full_name, alice.email, alice.date_of_birth) == (
            "Alice Example",
            "alice@example.org",
            "1981-01-11",
        )
    with loaded.connect() as connection:
        ips = connection.execute(select(LedgerEvent.ip).where(LedgerEvent.ip.is_not(None))).scalars().all()
    assert "203.0.113.5" in ips


def test_orm_writes_encrypt_and_fill_blind_indexes(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.add(_customer("C9", "Zoë Ünicode-Example", "zoe@example.org"))
    with session_scope(engine) as session:
        (found,) = find_customers(session, name="zoe unicode example", email=" ZOE@example.org")
        assert found.customer_id == "C9"
        found.email = "zoe.new@example.org"
    with session_scope(engine) as session:
        assert find_customers(session, email="zoe@example.org") == []
        assert [c.customer_id for c in find_customers(session, email="zoe.new@example.org")] == ["C9"]
    dump = raw_database_text(engine)
    for secret in ("zoe@example.org", "zoe.new@example.org", "nicode-Example", "Utrecht", "X1234567", "1990-05-17"):
        assert secret not in dump, secret


def test_blind_index_search_hits_and_misses(loaded: Engine) -> None:
    with session_scope(loaded) as session:
        assert [c.customer_id for c in find_customers(session, email="ALICE@example.org ")] == ["C0000001"]
        assert [c.customer_id for c in find_customers(session, phone="0049 151 000 0002")] == ["C0000002"]
        assert [c.customer_id for c in find_customers(session, name="carol   PLACEHOLDER")] == ["C0000003"]
        assert [c.customer_id for c in find_customers(session, document="p-00000003")] == ["C0000003"]
        assert find_customers(session, email="alice@example.org", phone="+491510000002") == []  # AND
        assert find_customers(session, email="nobody@example.org") == []
        assert find_customers(session, name="Alice") == []  # exact match only, no prefix search
        with pytest.raises(InvalidInputError):
            find_customers(session)
        with pytest.raises(InvalidInputError):
            find_customers(session, phone="n/a")
        events = session.scalars(
            select(LedgerEvent).where(LedgerEvent.ip_bidx == ip_index(session, "203.0.113.5"))
        ).all()
        assert events
        assert all(event.ip == "203.0.113.5" for event in events)


def test_reindex_repairs_missing_blind_indexes(loaded: Engine) -> None:
    with loaded.begin() as connection:
        connection.execute(text("UPDATE customers SET email_bidx = NULL, phone_bidx = 'junk'"))
    assert reindex(loaded, batch_size=2) == {"customers": 3, "ledger_events": 0}
    with session_scope(loaded) as session:
        assert [c.customer_id for c in find_customers(session, email="alice@example.org")] == ["C0000001"]
    assert reindex(loaded)["customers"] == 0


def test_ciphertext_swapped_between_columns_is_refused(loaded: Engine) -> None:
    with loaded.begin() as connection:
        connection.execute(text("UPDATE customers SET city = email WHERE customer_id = 'C0000001'"))
    with pytest.raises(IntegrityError, match=r"customers\.city"), session_scope(loaded) as session:
        session.get(Customer, "C0000001")


def test_wrong_master_key_fails_clearly(loaded: Engine, database_url: str) -> None:
    other = create_engine_for(database_url)
    try:
        install_privacy(other, master_key=os.urandom(32))
        with pytest.raises(ConfigurationError, match="does not match key version 1"), session_scope(other) as session:
            session.get(Customer, "C0000001")
    finally:
        other.dispose()


def _customer(customer_id: str, name: str, email: str) -> Customer:
    return Customer(
        customer_id=customer_id,
        created_at=datetime(2024, 1, 1, tzinfo=UTC),
        full_name=name,
        date_of_birth="1990-05-17",
        nationality="NL",
        id_document_type="passport",
        id_document_number="X1234567",
        id_document_country="NL",
        email=email,
        phone="+31612345678",
        address_line="1 Example Road",
        city="Utrecht",
        postal_code="3511",
        country_of_residence="NL",
        occupation="teacher",
        declared_annual_income_usd=40_000,
        source_of_funds="salary",
        risk_rating="low",
        kyc_level=2,
        status="active",
    )


def test_configure_privacy_reads_the_settings_key_file(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app and the demo pass their settings: the engine uses that key file, not the process's settings."""
    from chainsleuth.config import Settings
    from chainsleuth.privacy import keyring
    from chainsleuth.privacy.crypto import keys_for
    from chainsleuth.privacy.keyfile import create_key_file, read_key_file

    settings = Settings(data_dir=tmp_path / "data")
    create_key_file(settings.resolved_key_file)
    monkeypatch.setattr(keyring, "_default_master_key", None)  # as in production: no process-wide key
    engine = create_engine_for(database_url)
    try:
        crypto = keyring.configure_privacy(engine, settings)
        with session_scope(engine) as session:
            session.add(_customer("C7", "Kim Keyfile", "kim@example.org"))
        assert crypto.keys.check_value(1) == keys_for(read_key_file(settings.resolved_key_file)).check_value(1)
        with session_scope(engine) as session:
            assert [c.email for c in find_customers(session, name="kim keyfile")] == ["kim@example.org"]
    finally:
        engine.dispose()
