"""Regenerate ``tests/fixtures/world_exchange/exchange/*.parquet``: a tiny export in exactly the contract's
format.

Run ``python tests/ingest/exchange_world.py`` after changing the rows below. Balances are computed from
the events with the contract's balance effects, so the fixture is consistent by construction. The people,
addresses and hashes are invented (documentation IP ranges, example.org e-mail addresses).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

FIXTURE_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "world_exchange" / "exchange"
T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def _customer(number: int, name: str, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "customer_id": f"C{number:07d}",
        "created_at": T0 - timedelta(days=30 - number),
        "full_name": name,
        "date_of_birth": date(1980 + number, number, 10 + number),
        "nationality": "DE",
        "id_document_type": "passport",
        "id_document_number": f"P{number:08d}",
        "id_document_country": "DE",
        "email": f"{name.split()[0].lower()}@example.org",
        "phone": f"+4915100000{number:02d}",
        "address_line": f"{number} Example Street",
        "city": "Berlin",
        "postal_code": f"1011{number}",
        "country_of_residence": "DE",
        "occupation": "engineer",
        "declared_annual_income_usd": 50_000 * number,
        "source_of_funds": "salary",
        "risk_rating": "low",
        "kyc_level": 2,
        "status": "active",
    }
    row.update(overrides)
    return row


CUSTOMERS = [
    _customer(1, "Alice Example"),
    _customer(
        2,
        "Bob Sample",
        nationality="FR",
        id_document_type="national_id",
        risk_rating="medium",
        source_of_funds="business",
        kyc_level=3,
    ),
    _customer(3, "Carol Placeholder", status="dormant", id_document_type="driving_licence", kyc_level=1),
]
ACCOUNTS = [
    {
        "account_id": "A0000001",
        "customer_id": "C0000001",
        "account_type": "spot",
        "opened_at": T0,
        "status": "active",
    },
    {
        "account_id": "A0000002",
        "customer_id": "C0000001",
        "account_type": "sub",
        "opened_at": T0,
        "status": "active",
    },
    {
        "account_id": "A0000003",
        "customer_id": "C0000002",
        "account_type": "spot",
        "opened_at": T0,
        "status": "active",
    },
    {
        "account_id": "A0000004",
        "customer_id": "C0000003",
        "account_type": "spot",
        "opened_at": T0,
        "status": "active",
    },
]
BTC_1 = "bc1qalice000000000000000000000000000000000"
ETH_1 = "0x" + "a1" * 20
BTC_2 = "3BobSampleAddress000000000000000000"
ETH_2 = "0x" + "b2" * 20
BTC_3 = "1CarolPlaceholderAddr0000000000000"
DEPOSIT_ADDRESSES = [
    {
        "chain": "bitcoin",
        "address": BTC_1,
        "account_id": "A0000001",
        "customer_id": "C0000001",
        "created_at": T0,
    },
    {
        "chain": "ethereum",
        "address": ETH_1,
        "account_id": "A0000001",
        "customer_id": "C0000001",
        "created_at": T0,
    },
    {
        "chain": "bitcoin",
        "address": BTC_2,
        "account_id": "A0000003",
        "customer_id": "C0000002",
        "created_at": T0,
    },
    {
        "chain": "ethereum",
        "address": ETH_2,
        "account_id": "A0000003",
        "customer_id": "C0000002",
        "created_at": T0,
    },
    {
        "chain": "bitcoin",
        "address": BTC_3,
        "account_id": "A0000004",
        "customer_id": "C0000003",
        "created_at": T0,
    },
]


def _event(number: int, event_type: str, customer: int, account: int, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "event_id": f"E{number:010d}",
        "event_type": event_type,
        "timestamp": T0 + timedelta(hours=number, microseconds=number),
        "customer_id": f"C{customer:07d}",
        "account_id": f"A{account:07d}",
    }
    for key, value in fields.items():
        row[key] = Decimal(value) if key in ("amount", "quote_amount", "price") else value
    return row


def _hash(seed: int, prefix: str = "") -> str:
    return prefix + f"{seed:02x}" * 32


LEDGER_EVENTS = [
    _event(
        1,
        "login",
        1,
        1,
        ip="203.0.113.5",
        device_id="dev-alice",
        user_agent="Mozilla/5.0",
        ip_country="DE",
        success=True,
    ),
    _event(
        2,
        "deposit",
        1,
        1,
        asset="BTC",
        amount="0.5",
        usd_value=31000.0,
        chain="bitcoin",
        tx_hash=_hash(1),
        address=BTC_1,
    ),
    _event(
        3,
        "deposit",
        2,
        3,
        asset="ETH",
        amount="2.000000000000000001",
        usd_value=6800.0,
        chain="ethereum",
        tx_hash=_hash(2, "0x"),
        address=ETH_2,
    ),
    _event(4, "fiat_deposit", 2, 3, asset="USD", amount="10000", usd_value=10000.0, bank_reference="bankref-7f3a"),
    _event(
        5,
        "trade",
        2,
        3,
        asset="BTC",
        amount="0.1",
        usd_value=6500.0,
        side="buy",
        quote_asset="USD",
        quote_amount="6500",
        price="65000",
    ),
    _event(
        6,
        "internal_transfer",
        1,
        1,
        asset="BTC",
        amount="0.2",
        usd_value=12400.0,
        counterparty_customer_id="C0000001",
        counterparty_account_id="A0000002",
    ),
    _event(
        7,
        "withdrawal",
        2,
        3,
        asset="ETH",
        amount="1",
        usd_value=3400.0,
        chain="ethereum",
        tx_hash=_hash(3, "0x"),
        address="0x" + "dd" * 20,
    ),
    _event(
        8,
        "deposit",
        2,
        3,
        asset="USDT",
        amount="1500.5",
        usd_value=1500.5,
        chain="ethereum",
        tx_hash=_hash(4, "0x"),
        address=ETH_2,
    ),
    _event(9, "credential_change", 1, 1, change_type="email", ip="203.0.113.5", device_id="dev-alice"),
    _event(10, "fiat_withdrawal", 2, 3, asset="USD", amount="500", usd_value=500.0, bank_reference="bankref-7f3a"),
    _event(
        11,
        "trade",
        1,
        2,
        asset="BTC",
        amount="0.05",
        usd_value=3000.0,
        side="sell",
        quote_asset="USDT",
        quote_amount="3000",
        price="60000",
    ),
    _event(
        12,
        "login",
        3,
        4,
        ip="198.51.100.77",
        device_id="dev-unknown",
        user_agent="curl/8.0",
        ip_country="NL",
        success=False,
    ),
    _event(
        13,
        "internal_transfer",
        2,
        3,
        asset="USDT",
        amount="500",
        usd_value=500.0,
        counterparty_customer_id="C0000003",
        counterparty_account_id="A0000004",
    ),
]


def balances_from_events(events: list[dict[str, Any]]) -> dict[tuple[str, str], Decimal]:
    """Closing balances per (account, asset) under the contract's balance effects."""
    book: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for event in events:
        kind, account = event["event_type"], event["account_id"]
        asset, amount = event.get("asset"), event.get("amount")
        if kind in ("deposit", "fiat_deposit"):
            book[account, asset] += amount
        elif kind in ("withdrawal", "fiat_withdrawal"):
            book[account, asset] -= amount
        elif kind == "internal_transfer":
            book[account, asset] -= amount
            book[event["counterparty_account_id"], asset] += amount
        elif kind == "trade":
            sign = 1 if event["side"] == "buy" else -1
            book[account, asset] += sign * amount
            book[account, event["quote_asset"]] -= sign * event["quote_amount"]
    return dict(sorted(book.items()))


def balance_rows(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"account_id": account, "asset": asset, "balance": balance}
        for (account, asset), balance in balances_from_events(events).items()
    ]


def tables() -> dict[str, list[dict[str, Any]]]:
    """Every exchange table of the fixture, by name."""
    return {
        "customers": CUSTOMERS,
        "accounts": ACCOUNTS,
        "deposit_addresses": DEPOSIT_ADDRESSES,
        "balances": balance_rows(LEDGER_EVENTS),
        "ledger_events": LEDGER_EVENTS,
    }


def write(directory: Path, fmt: str = "parquet", overrides: dict[str, list[dict[str, Any]]] | None = None) -> None:
    """Write the fixture (optionally with some tables replaced) under ``directory`` in ``fmt``."""
    from chainsleuth.ingest.exchange_files import write_exchange_table
    from chainsleuth.ingest.exchange_schema import TABLES_BY_NAME

    for name, rows in {**tables(), **(overrides or {})}.items():
        write_exchange_table(directory, TABLES_BY_NAME[name], rows, fmt=fmt)


if __name__ == "__main__":
    write(FIXTURE_DIR)
    print(f"wrote {FIXTURE_DIR}")
