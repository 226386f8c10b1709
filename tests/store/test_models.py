"""Every model round-trips on both databases; constraints, locking and the personal-field registry hold."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chainsleuth.errors import StaleVersionError
from chainsleuth.store.db import session_factory, session_scope, stale_version_guard
from chainsleuth.store.models import (
    Account,
    Balance,
    Base,
    Customer,
    DepositAddress,
    IngestRun,
    LedgerEvent,
    User,
    personal_columns,
    personal_fields_registry,
)
from chainsleuth.store.models.personal import search_kind

CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "export-formats.md"
WHEN = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)
TINY = Decimal("0.000000000000000001")
HUGE = Decimal("12345678901234567890.123456789012345678")


def _customer(customer_id: str = "C0000001") -> Customer:
    return Customer(
        customer_id=customer_id,
        created_at=WHEN,
        full_name="Zoë Ünicode-Example",
        date_of_birth="1990-02-03",
        nationality="DE",
        id_document_type="passport",
        id_document_number="P123",
        id_document_country="DE",
        email="zoe@example.org",
        phone="+4915100000000",
        address_line="1 Example Street",
        city="Berlin",
        postal_code="10115",
        country_of_residence="DE",
        occupation="engineer",
        declared_annual_income_usd=9_000_000_000,
        source_of_funds="salary",
        risk_rating="low",
        kyc_level=3,
        status="active",
    )


def _populate(session: Session) -> None:
    session.add(_customer())
    session.add(
        Account(
            account_id="A0000001",
            customer_id="C0000001",
            account_type="spot",
            opened_at=WHEN,
            status="active",
        )
    )
    session.flush()
    session.add_all(
        [
            DepositAddress(
                chain="bitcoin",
                address="bc1qxyz",
                account_id="A0000001",
                customer_id="C0000001",
                created_at=WHEN,
            ),
            Balance(account_id="A0000001", asset="ETH", balance=HUGE),
            LedgerEvent(
                event_id="E0000000001",
                event_type="trade",
                timestamp=WHEN,
                customer_id="C0000001",
                account_id="A0000001",
                asset="ETH",
                amount=TINY,
                usd_value=0.5,
                side="buy",
                quote_asset="USDT",
                quote_amount=HUGE,
                price=Decimal("3000.5"),
                ip="192.0.2.1",
                success=None,
            ),
            User(
                username="ada",
                display_name="Ada",
                password_hash="$argon2id$x",
                role="le_officer",
                agency_id="AG-1",
                totp_secret="JBSWY3DPEHPK3PXP",
            ),
            IngestRun(source="exchange", table_name="customers", path="/x", sha256="0" * 64, rows_total=1),
        ]
    )


def test_every_model_round_trips(engine: Engine) -> None:
    with session_scope(engine) as session:
        _populate(session)
    with Session(engine) as session:
        customer = session.get_one(Customer, "C0000001")
        assert customer.full_name == "Zoë Ünicode-Example"
        assert customer.created_at == WHEN
        assert customer.created_at.tzinfo is not None
        assert customer.declared_annual_income_usd == 9_000_000_000
        assert customer.version == 1
        assert [account.account_id for account in customer.accounts] == ["A0000001"]
        account = session.get_one(Account, "A0000001")
        assert account.balances[0].balance == HUGE
        assert session.get_one(DepositAddress, ("bitcoin", "bc1qxyz")).customer_id == "C0000001"
        event = session.get_one(LedgerEvent, "E0000000001")
        assert (event.amount, event.quote_amount, event.price) == (TINY, HUGE, Decimal("3000.5"))
        assert event.timestamp == WHEN
        assert event.success is None
        assert event.ip == "192.0.2.1"
        user = session.scalars(select(User)).one()
        assert (user.active, user.version, user.agency_id) == (True, 1, "AG-1")
        assert user.created_at.tzinfo is not None
        run = session.scalars(select(IngestRun)).one()
        assert (run.rows_done, run.status) == (0, "running")


def test_timestamps_are_stored_in_utc(engine: Engine) -> None:
    plus_two = WHEN.astimezone(timezone(timedelta(hours=2)))
    with session_scope(engine) as session:
        customer = _customer()
        customer.created_at = plus_two
        session.add(customer)
    with Session(engine) as session:
        stored = session.get_one(Customer, "C0000001").created_at
    assert stored == WHEN
    assert stored.utcoffset() == timedelta(0)


def test_naive_timestamps_and_oversized_amounts_are_rejected(engine: Engine) -> None:
    customer = _customer()
    customer.created_at = datetime(2024, 1, 1)
    with pytest.raises(Exception, match="naive datetime"), session_scope(engine) as session:
        session.add(customer)
    with session_scope(engine) as session:
        _populate(session)
    with pytest.raises(Exception, match="does not fit"), session_scope(engine) as session:
        session.add(Balance(account_id="A0000001", asset="BTC", balance=Decimal(10) ** 21))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    amounts=st.lists(
        st.decimals(min_value=0, max_value=Decimal("9" * 20 + "." + "9" * 18), places=18, allow_nan=False),
        min_size=1,
        max_size=20,
        unique=True,
    )
)
def test_amounts_round_trip_exactly(engine: Engine, amounts: list[Decimal]) -> None:
    with session_scope(engine) as session:
        if session.get(Account, "A0000001") is None:
            _populate(session)
        session.query(Balance).delete()
        session.add_all(
            Balance(account_id="A0000001", asset=f"T{index}", balance=amount) for index, amount in enumerate(amounts)
        )
    with Session(engine) as session:
        stored = [row.balance for row in session.scalars(select(Balance).order_by(Balance.asset))]
    assert sorted(stored) == sorted(amounts)


@pytest.mark.parametrize(
    "change",
    [
        {"status": "frozen"},
        {"kyc_level": 7},
        {"source_of_funds": "lottery"},
    ],
)
def test_check_constraints(engine: Engine, change: dict[str, object]) -> None:
    customer = _customer()
    for key, value in change.items():
        setattr(customer, key, value)
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(customer)


def test_foreign_keys_are_enforced(engine: Engine) -> None:
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(
            Account(account_id="A1", customer_id="C-nobody", account_type="spot", opened_at=WHEN, status="active")
        )


def test_deposit_address_is_unique_per_chain(engine: Engine) -> None:
    with session_scope(engine) as session:
        _populate(session)
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(
            DepositAddress(
                chain="bitcoin",
                address="bc1qxyz",
                account_id="A0000001",
                customer_id="C0000001",
                created_at=WHEN,
            )
        )


@pytest.mark.parametrize("model", [Customer, Account, User])
def test_stale_concurrent_update_raises(engine: Engine, model: type[Base]) -> None:
    with session_scope(engine) as session:
        _populate(session)
    factory = session_factory(engine)
    first, second = factory(), factory()
    try:
        mine = first.scalars(select(model)).one()
        first.commit()  # a web request reads, answers, and writes in a later request
        theirs = second.scalars(select(model)).one()
        field = "display_name" if model is User else "status"
        setattr(theirs, field, "closed" if model is not User else "Someone Else")
        second.commit()
        setattr(mine, field, "dormant" if model is Customer else ("closed" if model is Account else "Me"))
        with pytest.raises(StaleVersionError, match="changed by someone else"), stale_version_guard():
            first.commit()
    finally:
        first.close()
        second.close()
    with Session(engine) as session:
        assert session.scalars(select(model)).one().version == 2


def test_version_increments_on_each_update(engine: Engine) -> None:
    with session_scope(engine) as session:
        _populate(session)
    for expected in (2, 3):
        with session_scope(engine) as session:
            customer = session.get_one(Customer, "C0000001")
            customer.risk_rating = "high" if expected == 2 else "medium"
        assert customer.version == expected


def _contract_personal_columns() -> dict[str, set[str]]:
    text = CONTRACT.read_text(encoding="utf-8")
    customers = text[text.index("`customers`:") : text.index("`accounts`:")]
    ledger = text[text.index("`ledger_events`, one row") : text.index("Balance effects")]
    starred = re.compile(r"`(\w+)`\*")
    return {"customers": set(starred.findall(customers)), "ledger_events": set(starred.findall(ledger))}


def test_personal_registry_is_exactly_the_contract() -> None:
    contract = _contract_personal_columns()
    assert contract["customers"]
    assert contract["ledger_events"] == {"bank_reference", "ip"}
    registry = personal_fields_registry()
    # beyond the exchange's input contract, the case tables hold personal data written by investigators
    assert registry.pop("case_notes") == ["body"]
    assert registry.pop("str_reports") == ["xml"]
    assert {table: set(columns) for table, columns in registry.items()} == contract
    assert personal_columns(Customer) == registry["customers"]
    assert personal_columns(Account) == []


def test_personal_columns_are_wide_and_searchable_where_needed() -> None:
    for table_name, columns in personal_fields_registry().items():
        table = Base.metadata.tables[table_name]
        for name in columns:
            assert getattr(table.columns[name].type, "length", None) is None, f"{table_name}.{name} is bounded"
    assert search_kind(Customer, "email") == "email"
    assert search_kind(Customer, "phone") == "phone"
    assert search_kind(Customer, "full_name") == "name"
    assert search_kind(Customer, "id_document_number") == "document"
    assert search_kind(Customer, "city") is None
