"""The world's state and clock: chains, custodians, our exchange's books, people, and the event scheduler.

Everything that happens is an action ``fn(t)`` on a time-ordered heap; actions emit chain transactions and
ledger events at the current time only and schedule their follow-ups, which keeps all outputs in time order
and lets the criminal stories be written as plain sequential code spread over days.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from chainsleuth.world import account, utxo
from chainsleuth.world.config import WorldConfig
from chainsleuth.world.custody import Custodian
from chainsleuth.world.entities import Registry
from chainsleuth.world.etl_columns import ETH_RECEIPTS_CSV, columns_for
from chainsleuth.world.ids import P2PKH, P2SH, P2WPKH, AddressBook, Hasher
from chainsleuth.world.ledger import ASSET_INDEX, DECIMALS, Event, Ledger
from chainsleuth.world.names import COUNTRY_CODES, Profile
from chainsleuth.world.prices import Prices
from chainsleuth.world.truth import Truth
from chainsleuth.world.writers import RecordWriter

Action = Callable[..., object]
"""An action is called as ``action(t, *args)``; its return value is ignored."""
BTC_KIND_WEIGHTS = (0.25, 0.15, 0.60)


class World:
    """Mutable state of a world being generated."""

    def __init__(self, config: WorldConfig, out: Path) -> None:
        self.config = config
        self.out = out
        self.rng = np.random.Generator(np.random.PCG64(config.seed))
        self.hasher = Hasher(config.seed)
        self.registry = Registry(config.n_customers, config.n_persons)
        self.btc_book = AddressBook("bitcoin", self.hasher, 1 << 16)
        self.eth_book = AddressBook("ethereum", self.hasher, 1 << 14)
        fmt = config.fmt
        self.btc = utxo.UtxoChain(
            self.btc_book,
            self.hasher,
            RecordWriter(out / "bitcoin" / "blocks", columns_for("bitcoin/blocks", utxo.BLOCK_COLUMNS, fmt), fmt),
            RecordWriter(
                out / "bitcoin" / "transactions", columns_for("bitcoin/transactions", utxo.TX_COLUMNS, fmt), fmt
            ),
            config.start_ts,
            config.btc_block_seconds,
            np.random.Generator(np.random.PCG64(config.seed + 1)),
        )
        self.eth = account.AccountChain(
            self.eth_book,
            self.hasher,
            RecordWriter(out / "ethereum" / "blocks", columns_for("ethereum/blocks", account.BLOCK_COLUMNS, fmt), fmt),
            RecordWriter(
                out / "ethereum" / "transactions", columns_for("ethereum/transactions", account.TX_COLUMNS, fmt), fmt
            ),
            RecordWriter(
                out / "ethereum" / "token_transfers",
                columns_for("ethereum/token_transfers", account.TOKEN_COLUMNS, fmt),
                fmt,
            ),
            config.start_ts,
            config.eth_block_seconds,
            np.random.Generator(np.random.PCG64(config.seed + 2)),
            # ethereum-etl keeps receipt fields out of transactions.csv; a CSV world has its receipts.csv
            receipts=RecordWriter(out / "ethereum" / "receipts", ETH_RECEIPTS_CSV, fmt) if fmt == "csv" else None,
        )
        self.ledger = Ledger(out / "exchange", fmt)
        self.prices = Prices(np.random.Generator(np.random.PCG64(config.seed + 3)), config.start, config.n_days)
        self.truth = Truth(self)
        self.custodians: dict[int, Custodian] = {}
        self.btc.deposit_hook = self._btc_deposit
        self.eth.deposit_hook = self._eth_deposit
        self._heap: list[tuple[int, int, Action, tuple[Any, ...]]] = []
        self._seq = 0
        self.now = config.start_ts
        # people: personal wallets, created lazily
        n = self.registry.n_people
        self.person_btc: npt.NDArray[np.int64] = np.full(n, -1, dtype=np.int64)
        self.person_eth: npt.NDArray[np.int64] = np.full(n, -1, dtype=np.int64)
        self.person_kind = self.rng.choice(3, size=n, p=BTC_KIND_WEIGHTS).astype(np.int8)
        self.person_wallets: dict[int, utxo.Wallet] = {}
        # our customers
        self.cust_account: list[int] = []
        self.cust_btc_dep: list[int] = []
        self.cust_eth_dep: list[int] = []
        self.cust_country: list[int] = []
        self.cust_device: list[str] = []
        self.ours: Custodian  # set by the cast
        self.our_entity = -1
        self.other_exchanges: list[Custodian] = []
        self.services: dict[str, Custodian] = {}
        self.public_tags: list[dict[str, object]] = []

    # ----------------------------------------------------------------- scheduler
    def at(self, t: int, action: Action, *args: Any) -> None:
        """Run ``action(t, *args)`` when the clock reaches ``t`` (never earlier than now)."""
        self._seq += 1
        heapq.heappush(self._heap, (max(t, self.now), self._seq, action, args))

    def run_until(self, t_end: int) -> int:
        """Run every action due before ``t_end``; returns how many ran."""
        ran = 0
        heap = self._heap
        while heap and heap[0][0] < t_end:
            t, _, action, args = heapq.heappop(heap)
            self.now = t
            self.ledger.advance(t)
            action(t, *args)
            ran += 1
        self.now = max(self.now, t_end)
        return ran

    # ----------------------------------------------------------------- people
    def person_btc_address(self, person: int) -> int:
        address = int(self.person_btc[person])
        if address < 0:
            address = self.btc_book.new(person, "personal", int(self.person_kind[person]))
            self.person_btc[person] = address
        return address

    def person_eth_address(self, person: int) -> int:
        address = int(self.person_eth[person])
        if address < 0:
            address = self.eth_book.new(person, "personal")
            self.person_eth[person] = address
            self.eth.ensure()
        return address

    def person_wallet(self, person: int) -> utxo.Wallet:
        wallet = self.person_wallets.get(person)
        if wallet is None:
            wallet = self.person_wallets[person] = []
        return wallet

    def person_change(self, person: int) -> int:
        """Change address of a person: usually a fresh one of the same type, sometimes the address itself."""
        if self.rng.random() < 0.3:
            return self.person_btc_address(person)
        return self.btc_book.new(person, "change", int(self.person_kind[person]))

    def btc_address(self, owner: int, role: str = "personal", kind: int | None = None) -> int:
        if kind is None:
            kind = (P2PKH, P2SH, P2WPKH)[int(self.rng.choice(3, p=BTC_KIND_WEIGHTS))]
        return self.btc_book.new(owner, role, kind)

    def eth_address(self, owner: int, role: str = "personal") -> int:
        address = self.eth_book.new(owner, role)
        self.eth.ensure()
        return address

    # ----------------------------------------------------------------- our exchange
    def new_customer(self, profile: Profile, created: int, status: str = "active") -> int:
        """Open a customer with a spot account and a deposit address per chain; returns the customer index."""
        led = self.ledger
        cust = led.add_customer(profile, created * 1_000_000, status)
        acct = led.add_account(cust, created * 1_000_000)
        btc_dep = self.ours.new_btc_deposit(acct)
        eth_dep = self.ours.new_eth_deposit(acct)
        led.add_deposit_address("bitcoin", self.btc_book.text(btc_dep), acct, created * 1_000_000)
        led.add_deposit_address("ethereum", self.eth_book.text(eth_dep), acct, created * 1_000_000)
        self.cust_account.append(acct)
        self.cust_btc_dep.append(btc_dep)
        self.cust_eth_dep.append(eth_dep)
        self.cust_country.append(COUNTRY_CODES.index(profile.country_of_residence))
        self.cust_device.append("D" + self.hasher.hex(b"device", cust)[:15])
        return cust

    def _btc_deposit(self, address: int, value: int, txh: str, block_ts: int) -> None:
        if int(self.btc_book.owner[address]) == self.our_entity:
            self._credit(
                int(self.btc_book.tag[address]),
                "BTC",
                value,
                "bitcoin",
                txh,
                self.btc_book.text(address),
                block_ts,
            )

    def _eth_deposit(self, frm: int, address: int, asset: str, units: int, txh: str, block_ts: int) -> None:
        owner = int(self.eth_book.owner[address])
        custodian = self.custodians.get(owner)
        if custodian is not None:
            custodian.eth_dirty.add(address)
        # gas top-ups from the custodian's own hot wallet are not customer deposits
        if owner == self.our_entity and int(self.eth_book.owner[frm]) != owner:
            self._credit(
                int(self.eth_book.tag[address]),
                asset,
                units,
                "ethereum",
                txh,
                self.eth_book.text(address),
                block_ts,
            )

    def _credit(self, acct: int, asset: str, units: int, chain: str, txh: str, address: str, block_ts: int) -> None:
        if asset == "ETH" and units <= 0:
            return
        ts = block_ts + 600 + int(self.rng.integers(0, 1200))
        event = Event("deposit", ts, acct, asset, units, self.prices.usd_value(asset, units, ts))
        event.chain, event.tx_hash, event.address = chain, txh, address
        self.ledger.schedule(event)

    def withdraw(
        self, t: int, acct: int, asset: str, units: int, dest: int, dest_wallet: utxo.Wallet | None = None
    ) -> Event | None:
        """A customer's on-chain withdrawal, paid from our hot wallet; None if the balance is short."""
        if not self.ledger.can_debit(acct, asset, units):
            return None
        if asset == "BTC":
            txh = self.ours.pay_btc(t, [utxo.Payment(dest, units, dest_wallet)])
            chain, text = "bitcoin", self.btc_book.text(dest)
        elif asset == "ETH":
            txh = self.ours.pay_eth(t, dest, units)
            chain, text = "ethereum", self.eth_book.text(dest)
        else:
            txh = self.ours.pay_usdt(t, dest, units)
            chain, text = "ethereum", self.eth_book.text(dest)
        if txh is None:
            return None
        event = Event("withdrawal", t, acct, asset, units, self.prices.usd_value(asset, units, t))
        event.chain, event.tx_hash, event.address = chain, txh, text
        return self.ledger.book(event)

    def trade(self, t: int, acct: int, side: str, asset: str, units: int, quote: str = "USD") -> Event | None:
        """Buy or sell ``units`` of ``asset`` against ``quote`` at the day's price (0.1% fee)."""
        price = self.prices.usd(asset, t) / self.prices.usd(quote, t)
        amount = units / 10 ** DECIMALS[asset]
        fee = 1.001 if side == "buy" else 0.999
        quote_units = int(amount * price * fee * 10 ** DECIMALS[quote])
        if quote_units <= 0:
            return None
        event = Event("trade", t, acct, asset, units, self.prices.usd_value(asset, units, t))
        event.side, event.quote_asset, event.quote_amount = side, quote, quote_units
        event.price = round(price * fee * 10**8) * 10**10
        return self.ledger.book(event)

    def fiat(self, t: int, acct: int, kind: str, asset: str, units: int, bank_ref: str) -> Event | None:
        event = Event(kind, t, acct, asset, units, self.prices.usd_value(asset, units, t))
        event.bank_reference = bank_ref
        return self.ledger.book(event)

    def internal(self, t: int, frm: int, to: int, asset: str, units: int) -> Event | None:
        event = Event("internal_transfer", t, frm, asset, units, self.prices.usd_value(asset, units, t))
        event.cp_account = to
        return self.ledger.book(event)

    def login(
        self,
        t: int,
        cust: int,
        *,
        ip: str | None = None,
        device: str | None = None,
        country: str | None = None,
        success: bool = True,
    ) -> Event | None:
        acct = self.cust_account[cust]
        event = Event("login", t, acct)
        code = country or COUNTRY_CODES[self.cust_country[cust]]
        event.ip = ip or self.ip_for(code, cust)
        event.device_id = device or self.cust_device[cust]
        event.user_agent = USER_AGENTS[int(event.device_id[1:3], 16) % len(USER_AGENTS)]
        event.ip_country, event.success = code, success
        return self.ledger.book(event)

    def credential_change(self, t: int, cust: int, change: str) -> Event | None:
        event = Event("credential_change", t, self.cust_account[cust])
        event.change_type = change
        return self.ledger.book(event)

    def ip_for(self, country: str, key: int) -> str:
        """A stable-ish IPv4 address in a per-country block (customers mostly log in from a few addresses)."""
        block = COUNTRY_CODES.index(country) if country in COUNTRY_CODES else 250
        r = int(self.rng.integers(0, 4))
        return f"{10 + block * 7}.{(key * 7 + r) % 250}.{(key // 250) % 250}.{(key * 13 + r) % 250 + 1}"

    def device(self, key: int) -> str:
        """A device id not tied to a customer (stories use it for thieves' and shared phones)."""
        return "D" + self.hasher.hex(b"device-extra", key)[:15]

    def balance(self, acct: int, asset: str) -> int:
        return int(self.ledger.balance[acct, ASSET_INDEX[asset]])


USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) Safari/605.1.15",
    "ExchangeApp/4.2 (iPhone; iOS 17.2)",
    "ExchangeApp/4.2 (Android 14; Pixel 8)",
    "Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0",
)
