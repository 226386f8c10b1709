"""Our exchange's books: customers, accounts, deposit addresses, ledger events and balances.

Balances are integers per account and asset in an ``int64`` matrix (BTC in satoshi, ETH in gwei, USDT in
micro-units, fiat in cents). Every debit is checked before it is booked, and deposits are credited only when
the simulated clock reaches their booking time, so replaying ledger_events in (timestamp, event_id) order
never
shows a negative balance. Event ids are assigned in booking order, which is also timestamp order.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from chainsleuth.world.names import Profile
from chainsleuth.world.writers import DEC, TS, TableWriter, decimal_array

ASSETS = ("BTC", "ETH", "USDT", "USD", "EUR")
ASSET_INDEX = {a: i for i, a in enumerate(ASSETS)}
#: Internal integer units per asset (ETH is kept in gwei).
DECIMALS = {"BTC": 8, "ETH": 9, "USDT": 6, "USD": 2, "EUR": 2}

EVENT_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("event_type", pa.string()),
        ("timestamp", TS),
        ("customer_id", pa.string()),
        ("account_id", pa.string()),
        ("asset", pa.string()),
        ("amount", DEC),
        ("usd_value", pa.float64()),
        ("chain", pa.string()),
        ("tx_hash", pa.string()),
        ("address", pa.string()),
        ("counterparty_customer_id", pa.string()),
        ("counterparty_account_id", pa.string()),
        ("side", pa.string()),
        ("quote_asset", pa.string()),
        ("quote_amount", DEC),
        ("price", DEC),
        ("bank_reference", pa.string()),
        ("ip", pa.string()),
        ("device_id", pa.string()),
        ("user_agent", pa.string()),
        ("ip_country", pa.string()),
        ("success", pa.bool_()),
        ("change_type", pa.string()),
    ]
)
CUSTOMER_SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("created_at", TS),
        ("full_name", pa.string()),
        ("date_of_birth", pa.date32()),
        ("nationality", pa.string()),
        ("id_document_type", pa.string()),
        ("id_document_number", pa.string()),
        ("id_document_country", pa.string()),
        ("email", pa.string()),
        ("phone", pa.string()),
        ("address_line", pa.string()),
        ("city", pa.string()),
        ("postal_code", pa.string()),
        ("country_of_residence", pa.string()),
        ("occupation", pa.string()),
        ("declared_annual_income_usd", pa.int64()),
        ("source_of_funds", pa.string()),
        ("risk_rating", pa.string()),
        ("kyc_level", pa.int8()),
        ("status", pa.string()),
    ]
)
ACCOUNT_SCHEMA = pa.schema(
    [
        ("account_id", pa.string()),
        ("customer_id", pa.string()),
        ("account_type", pa.string()),
        ("opened_at", TS),
        ("status", pa.string()),
    ]
)
DEPOSIT_SCHEMA = pa.schema(
    [
        ("chain", pa.string()),
        ("address", pa.string()),
        ("account_id", pa.string()),
        ("customer_id", pa.string()),
        ("created_at", TS),
    ]
)
BALANCE_SCHEMA = pa.schema([("account_id", pa.string()), ("asset", pa.string()), ("balance", DEC)])


class Event:
    """One ledger event. ``event_id`` is set when the event is booked."""

    __slots__ = (
        "account",
        "address",
        "amount",
        "asset",
        "bank_reference",
        "chain",
        "change_type",
        "cp_account",
        "device_id",
        "event_id",
        "ip",
        "ip_country",
        "kind",
        "price",
        "quote_amount",
        "quote_asset",
        "side",
        "success",
        "ts",
        "tx_hash",
        "usd",
        "user_agent",
    )

    def __init__(
        self,
        kind: str,
        ts: int,
        account: int,
        asset: str | None = None,
        amount: int = 0,
        usd: float | None = None,
    ) -> None:
        self.event_id = ""
        self.kind, self.ts, self.account, self.asset, self.amount, self.usd = (
            kind,
            ts,
            account,
            asset,
            amount,
            usd,
        )
        self.chain: str | None = None
        self.tx_hash: str | None = None
        self.address: str | None = None
        self.side: str | None = None
        self.quote_asset: str | None = None
        self.bank_reference: str | None = None
        self.ip: str | None = None
        self.device_id: str | None = None
        self.user_agent: str | None = None
        self.ip_country: str | None = None
        self.change_type: str | None = None
        self.cp_account = -1
        self.quote_amount: int | None = None
        self.price: int | None = None  # in 1e-18 units
        self.success: bool | None = None


class Ledger:
    """Customers, accounts and booked events of our exchange, streamed to the exchange tables."""

    def __init__(self, out: Path, fmt: str) -> None:
        self.customer_writer = TableWriter(out / "customers", CUSTOMER_SCHEMA, fmt)
        self.account_writer = TableWriter(out / "accounts", ACCOUNT_SCHEMA, fmt)
        self.deposit_writer = TableWriter(out / "deposit_addresses", DEPOSIT_SCHEMA, fmt)
        self.event_writer = TableWriter(out / "ledger_events", EVENT_SCHEMA, fmt)
        self.balance_writer_base = out / "balances"
        self.fmt = fmt
        self.n_customers = 0
        self.account_customer: list[int] = []
        self.balance: npt.NDArray[np.int64] = np.zeros((1024, len(ASSETS)), dtype=np.int64)
        self.touched: npt.NDArray[np.bool_] = np.zeros((1024, len(ASSETS)), dtype=np.bool_)
        self.n_events = 0
        self._pending: list[tuple[int, int, Event]] = []
        self._seq = 0
        self._booked: list[Event] = []
        self._rows: dict[str, list[Any]] = {}
        self.capture: list[Event] | None = None
        self._buffers: dict[str, list[list[Any]]] = {"c": [], "a": [], "d": []}

    # ----------------------------------------------------------------- static tables
    def add_customer(self, profile: Profile, created_us: int, status: str = "active") -> int:
        idx = self.n_customers
        self.n_customers += 1
        p = profile
        self._buffers["c"].append(
            [
                cid(idx),
                created_us,
                p.full_name,
                p.date_of_birth,
                p.nationality,
                p.id_document_type,
                p.id_document_number,
                p.id_document_country,
                p.email,
                p.phone,
                p.address_line,
                p.city,
                p.postal_code,
                p.country_of_residence,
                p.occupation,
                p.declared_annual_income_usd,
                p.source_of_funds,
                p.risk_rating,
                p.kyc_level,
                status,
            ]
        )
        if len(self._buffers["c"]) >= 50_000:
            self.flush_static()
        return idx

    def add_account(self, customer: int, opened_us: int, kind: str = "spot") -> int:
        idx = len(self.account_customer)
        self.account_customer.append(customer)
        if idx >= len(self.balance):
            self.balance = np.concatenate([self.balance, np.zeros_like(self.balance)])
            self.touched = np.concatenate([self.touched, np.zeros_like(self.touched)])
        self._buffers["a"].append([aid(idx), cid(customer), kind, opened_us, "active"])
        return idx

    def add_deposit_address(self, chain: str, address: str, account: int, created_us: int) -> None:
        self._buffers["d"].append([chain, address, aid(account), cid(self.account_customer[account]), created_us])

    def flush_static(self) -> None:
        """Write the buffered customers, accounts and deposit addresses."""
        for key, writer in (
            ("c", self.customer_writer),
            ("a", self.account_writer),
            ("d", self.deposit_writer),
        ):
            rows = self._buffers[key]
            if rows:
                cols = list(zip(*rows, strict=True))
                writer.write({f.name: list(cols[i]) for i, f in enumerate(writer.schema)})
                self._buffers[key] = []

    # ----------------------------------------------------------------- booking
    @contextmanager
    def capturing(self) -> Iterator[list[Event]]:
        """Collect the events booked or scheduled inside the block (stories use it to label deposits)."""
        previous = self.capture
        self.capture = []
        try:
            yield self.capture
        finally:
            self.capture = previous

    def schedule(self, event: Event) -> Event:
        """Book ``event`` when the clock reaches its timestamp (deposits confirmed after their block)."""
        self._seq += 1
        heapq.heappush(self._pending, (event.ts, self._seq, event))
        if self.capture is not None:
            self.capture.append(event)
        return event

    def scheduled(self, tx_hash: str) -> list[Event]:
        """Events scheduled but not yet booked for a transaction (a story labelling a deposit in flight)."""
        return [event for _, _, event in self._pending if event.tx_hash == tx_hash]

    def advance(self, t: int) -> None:
        """Book every scheduled event whose time has come (at or before ``t``)."""
        while self._pending and self._pending[0][0] <= t:
            _, _, event = heapq.heappop(self._pending)
            self._apply(event)

    def can_debit(self, account: int, asset: str, units: int) -> bool:
        return units > 0 and int(self.balance[account, ASSET_INDEX[asset]]) >= units

    def book(self, event: Event) -> Event | None:
        """Book an event now (its ts must not precede already booked ones); None if it would overdraw."""
        a = event.account
        if event.kind in ("withdrawal", "fiat_withdrawal", "internal_transfer"):
            if not self.can_debit(a, event.asset or "", event.amount):
                return None
        elif event.kind == "trade":
            pay_asset, pay = (
                (event.quote_asset, event.quote_amount or 0) if event.side == "buy" else (event.asset, event.amount)
            )
            if not self.can_debit(a, pay_asset or "", pay):
                return None
        self.advance(event.ts)
        self._apply(event)
        if self.capture is not None:
            self.capture.append(event)
        return event

    def _apply(self, event: Event) -> None:
        a, kind = event.account, event.kind
        if event.asset is not None:
            col = ASSET_INDEX[event.asset]
            sign = {
                "deposit": 1,
                "fiat_deposit": 1,
                "withdrawal": -1,
                "fiat_withdrawal": -1,
                "internal_transfer": -1,
                "trade": 1 if event.side == "buy" else -1,
            }[kind]
            self.balance[a, col] += sign * event.amount
            self.touched[a, col] = True
            if kind == "internal_transfer":
                self.balance[event.cp_account, col] += event.amount
                self.touched[event.cp_account, col] = True
            if kind == "trade":
                qcol = ASSET_INDEX[event.quote_asset or ""]
                self.balance[a, qcol] -= sign * (event.quote_amount or 0)
                self.touched[a, qcol] = True
        self.n_events += 1
        event.event_id = f"E{self.n_events:010d}"
        self._booked.append(event)
        if len(self._booked) >= 100_000:
            self.flush_events()

    def flush_events(self) -> None:
        evs = self._booked
        if not evs:
            return
        self._booked = []
        acc_cust = self.account_customer
        amounts = [e.amount if e.asset is not None else None for e in evs]
        decs = [DECIMALS[e.asset] if e.asset is not None else 0 for e in evs]
        quote_dec = [DECIMALS[e.quote_asset] if e.quote_asset else 0 for e in evs]
        prices = [e.price for e in evs]
        self.event_writer.write(
            {
                "event_id": [e.event_id for e in evs],
                "event_type": [e.kind for e in evs],
                "timestamp": [e.ts * 1_000_000 for e in evs],
                "customer_id": [cid(acc_cust[e.account]) for e in evs],
                "account_id": [aid(e.account) for e in evs],
                "asset": [e.asset for e in evs],
                "amount": decimal_array(amounts, decs),
                "usd_value": [e.usd for e in evs],
                "chain": [e.chain for e in evs],
                "tx_hash": [e.tx_hash for e in evs],
                "address": [e.address for e in evs],
                "counterparty_customer_id": [cid(acc_cust[e.cp_account]) if e.cp_account >= 0 else None for e in evs],
                "counterparty_account_id": [aid(e.cp_account) if e.cp_account >= 0 else None for e in evs],
                "side": [e.side for e in evs],
                "quote_asset": [e.quote_asset for e in evs],
                "quote_amount": decimal_array([e.quote_amount for e in evs], quote_dec),
                "price": decimal_array(prices, [18] * len(evs)),
                "bank_reference": [e.bank_reference for e in evs],
                "ip": [e.ip for e in evs],
                "device_id": [e.device_id for e in evs],
                "user_agent": [e.user_agent for e in evs],
                "ip_country": [e.ip_country for e in evs],
                "success": [e.success for e in evs],
                "change_type": [e.change_type for e in evs],
            }
        )

    def close(self) -> int:
        """Book what is left, write balances and close every table; returns the number of balance rows."""
        self.advance(2**62)
        self.flush_events()
        self.flush_static()
        for writer in (self.customer_writer, self.account_writer, self.deposit_writer, self.event_writer):
            writer.close()
        writer = TableWriter(self.balance_writer_base, BALANCE_SCHEMA, self.fmt)
        n_acc = len(self.account_customer)
        rows, cols = np.nonzero(self.touched[:n_acc])
        step = 200_000
        for lo in range(0, len(rows), step):
            r, c = rows[lo : lo + step], cols[lo : lo + step]
            writer.write(
                {
                    "account_id": [aid(int(i)) for i in r],
                    "asset": [ASSETS[int(j)] for j in c],
                    "balance": decimal_array(
                        [int(self.balance[i, j]) for i, j in zip(r, c, strict=True)],
                        [DECIMALS[ASSETS[int(j)]] for j in c],
                    ),
                }
            )
        writer.close()
        return len(rows)


def cid(index: int) -> str:
    """Customer id of a customer index."""
    return f"C{index + 1:07d}"


def aid(index: int) -> str:
    """Account id of an account index."""
    return f"A{index + 1:07d}"
