"""The exchange ledger never overdraws and books deposits only when their time comes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow.parquet as pq

from chainsleuth.world.ledger import Event, Ledger
from chainsleuth.world.names import make_profile


def _ledger(tmp_path: Path) -> tuple[Ledger, int]:
    import numpy as np

    ledger = Ledger(tmp_path, "jsonl")
    cust = ledger.add_customer(make_profile(np.random.default_rng(0), 0), 0)
    return ledger, ledger.add_account(cust, 0)


def test_debits_are_checked(tmp_path: Path) -> None:
    ledger, acct = _ledger(tmp_path)
    assert ledger.book(Event("fiat_withdrawal", 10, acct, "USD", 100)) is None
    assert ledger.book(Event("fiat_deposit", 10, acct, "USD", 5_000)) is not None
    buy = Event("trade", 11, acct, "BTC", 1_000)
    buy.side, buy.quote_asset, buy.quote_amount = "buy", "USD", 9_000
    assert ledger.book(buy) is None  # costs more USD than the account holds
    buy.quote_amount = 4_000
    assert ledger.book(buy) is not None
    assert ledger.balance[acct].tolist() == [1_000, 0, 0, 1_000, 0]


def test_deposits_wait_for_their_time_and_ids_follow_time(tmp_path: Path) -> None:
    ledger, acct = _ledger(tmp_path)
    deposit = ledger.schedule(Event("deposit", 100, acct, "BTC", 50))
    assert not ledger.can_debit(acct, "BTC", 50)
    assert ledger.book(Event("withdrawal", 90, acct, "BTC", 50)) is None
    login = ledger.book(Event("login", 120, acct))
    assert login is not None
    assert deposit.event_id < login.event_id
    assert ledger.can_debit(acct, "BTC", 50)


def test_close_writes_balances_equal_to_events(tmp_path: Path) -> None:
    ledger, acct = _ledger(tmp_path)
    ledger.book(Event("fiat_deposit", 10, acct, "EUR", 12_345))
    ledger.schedule(Event("deposit", 20, acct, "ETH", 7 * 10**9))
    assert ledger.close() == 2
    balances = pq.read_table(tmp_path / "balances.parquet").to_pylist()
    assert {(b["asset"], str(b["balance"])) for b in balances} == {
        ("EUR", "123.450000000000000000"),
        ("ETH", "7.000000000000000000"),
    }
    events = pq.read_table(tmp_path / "ledger_events.parquet").to_pylist()
    assert [e["event_id"] for e in events] == ["E0000000001", "E0000000002"]
    assert events[0]["timestamp"] == dt.datetime(1970, 1, 1, 0, 0, 10, tzinfo=dt.UTC)
