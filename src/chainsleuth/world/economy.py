"""The ordinary economy: our customers' everyday activity and the background population of both chains.

Per-customer and per-person parameters (activity rates, amounts, preferences) are drawn once with numpy from
heavy-tailed distributions (lognormal amounts, lognormal/Pareto activity), and each simulated day draws its
sessions and payments in bulk; only the individual actions are Python, because each one must respect the
current on-chain and ledger balances. The background fills the transfer budget adaptively, day by day.
"""

from __future__ import annotations

import numpy as np

from chainsleuth.world import flows
from chainsleuth.world.cast import Cast
from chainsleuth.world.custody import Custodian
from chainsleuth.world.names import COUNTRY_CODES, make_profile
from chainsleuth.world.sim import World
from chainsleuth.world.utxo import Payment

EUR_COUNTRIES = {"DE", "FR", "NL", "ES"}
CRYPTO = ("BTC", "ETH", "USDT")
GAS = 3_000_000  # gwei topped up with USDT payouts so people can move their tokens


class Economy:
    """Ordinary customers and background people."""

    def __init__(self, world: World, cast: Cast) -> None:
        self.world, self.cast = world, cast
        cfg = world.config
        rng = world.rng
        n = cfg.n_customers
        self.n_customers = n
        incomes = np.zeros(n)
        dormant = rng.random(n) < 0.04
        created_at: list[int] = []
        for i in range(n):
            profile = make_profile(rng, i)
            created = cfg.start_ts - int(rng.integers(86_400, 4 * 365 * 86_400))
            if not dormant[i] and rng.random() < 0.3:  # a third join during the simulated period
                created = cfg.start_ts + int(rng.integers(0, cfg.n_days * 86_400 * 3 // 4))
            world.new_customer(profile, created, "dormant" if dormant[i] else "active")
            incomes[i] = profile.declared_annual_income_usd
            created_at.append(created)
        self.created = np.array(created_at, dtype=np.int64)
        # about one customer in twelve keeps a sub-account and moves funds between their own accounts
        self.sub_account: dict[int, int] = {}
        for c in np.flatnonzero(rng.random(n) < 0.08).tolist():
            opened = int(self.created[c]) + int(rng.integers(0, 30 * 86_400))
            self.sub_account[c] = world.ledger.add_account(c, opened * 1_000_000, "sub")
        sessions = 0.4 * cfg.transfers / n  # sessions per customer over the whole world
        rate = rng.lognormal(0.0, 1.0, n)
        self.rate = np.minimum(rate / rate.mean() * sessions / cfg.n_days, 3.0)
        self.rate[dormant] = 0.0
        self.scale = rng.lognormal(np.log(350.0), 1.1, n) * np.clip(incomes / 50_000, 0.05, 20) ** 0.4
        self.pref = rng.choice(3, size=n, p=[0.5, 0.25, 0.25]).astype(np.int8)
        self.fiat = ["EUR" if COUNTRY_CODES[c] in EUR_COUNTRIES else "USD" for c in world.cust_country]
        n_ex = len(world.other_exchanges)
        self.home = rng.integers(0, n_ex, size=world.registry.n_people).astype(np.int8)
        self.bank = ["B" + world.hasher.hex(b"bank", i)[:20] for i in range(n)]
        # each person's reused deposit address at their home exchange, per chain (-1: none yet)
        self.ex_dep = np.full((2, world.registry.n_people), -1, dtype=np.int64)
        # background people: Pareto activity weights
        self.first_person = n
        weights = rng.pareto(1.3, size=cfg.n_persons) + 0.05
        self.person_cdf = np.cumsum(weights) / weights.sum()
        self.last_customer_transfers = 0

    # ----------------------------------------------------------------- helpers
    def transfers(self) -> int:
        w = self.world
        return w.btc.n_tx + w.eth.n_tx + w.eth.n_token

    def home_exchange(self, person: int) -> Custodian:
        return self.world.other_exchanges[int(self.home[person])]

    def exchange_deposit(self, person: int, chain: str) -> int:
        """The person's (reused) deposit address at their home exchange."""
        row = 0 if chain == "bitcoin" else 1
        address = int(self.ex_dep[row, person])
        if address < 0:
            ex = self.home_exchange(person)
            address = ex.new_btc_deposit() if chain == "bitcoin" else ex.new_eth_deposit()
            self.ex_dep[row, person] = address
        return address

    def fund(self, t: int, person: int, asset: str, units: int) -> bool:
        """Make sure a personal wallet holds ``units`` of ``asset``, buying at the home exchange if needed."""
        w = self.world
        ex = self.home_exchange(person)
        if asset == "BTC":
            wallet = w.person_wallet(person)
            have = w.btc.balance(wallet)
            if have >= units + 20_000:
                return True
            return ex.pay_btc(t, [Payment(w.person_btc_address(person), units - have + 50_000, wallet)]) is not None
        address = w.person_eth_address(person)
        eth = w.eth
        if asset == "ETH":
            if eth.eth[address] >= units + eth.fee():
                return True
            return ex.pay_eth(t, address, units + 2 * eth.fee()) is not None
        if eth.eth[address] < eth.fee(60_000):
            ex.pay_eth(t, address, GAS)
        if eth.usdt[address] >= units:
            return True
        return ex.pay_usdt(t, address, units - int(eth.usdt[address])) is not None

    def pay_from_person(
        self, t: int, person: int, asset: str, units: int, dest: int, dest_wallet: list[int] | None = None
    ) -> str | None:
        w = self.world
        if asset == "BTC":
            return w.btc.send(t, w.person_wallet(person), [Payment(dest, units, dest_wallet)], w.person_change(person))
        src = w.person_eth_address(person)
        if asset == "ETH":
            return w.eth.send_eth(t, src, dest, units)
        return w.eth.send_token(t, src, dest, units)

    # ----------------------------------------------------------------- daily plan
    def plan_day(self, day: int) -> None:
        """Schedule the day's customer sessions, background payments and custodians' housekeeping."""
        w = self.world
        rng = w.rng
        cfg = w.config
        t0 = cfg.start_ts + day * 86_400
        counts = rng.poisson(self.rate)
        counts[self.created > t0] = 0  # customers act from the day after they joined
        custs = np.repeat(np.arange(self.n_customers), counts)
        times = t0 + rng.integers(0, 86_400, size=len(custs))
        for c, t in zip(custs.tolist(), times.tolist(), strict=True):
            w.at(t, self.session, c)
        target = cfg.transfers * (day + 1) // cfg.n_days
        deficit = target - self.transfers() - int(0.9 * self.last_customer_transfers)
        n_bg = max(0, int(deficit / 1.6))
        picks = np.searchsorted(self.person_cdf, rng.random(n_bg)) + self.first_person
        times = t0 + rng.integers(0, 86_400, size=n_bg)
        for p, t in zip(picks.tolist(), times.tolist(), strict=True):
            w.at(t, self.background, p)
        for hour in (5, 11, 17, 23):
            w.at(t0 + hour * 3_600, w.ours.sweep)
        w.at(t0 + 23 * 3_600 + 1_800, w.ours.rebalance)
        for i, ex in enumerate([*w.other_exchanges, *w.services.values()]):
            w.at(t0 + 2 * 3_600 + i * 600, ex.sweep)
            w.at(t0 + 22 * 3_600 + i * 600, ex.rebalance)

    # ----------------------------------------------------------------- our customers
    def session(self, t: int, c: int) -> None:
        """One visit of an ordinary customer: a login and one action that fits the account's balances."""
        w = self.world
        rng = w.rng
        before = self.transfers()
        acct = w.cust_account[c]
        if rng.random() < 0.03:
            w.login(t, c, success=False)
        w.login(t, c)
        fiat = self.fiat[c]
        crypto = CRYPTO[int(self.pref[c])] if rng.random() < 0.8 else CRYPTO[int(rng.integers(3))]
        usd = float(self.scale[c] * rng.lognormal(0.0, 0.8))
        r = rng.random()
        done: object | None = None
        if r < 0.18:
            done = self.crypto_deposit(t, c, crypto, usd)
        elif r < 0.38:
            have = w.balance(acct, fiat)
            if have > 1_000:
                spend = min(have, int(w.prices.units(fiat, usd, t)))
                units = int(
                    spend
                    / 1.002
                    / 10**2
                    * w.prices.usd(fiat, t)
                    / w.prices.usd(crypto, t)
                    * 10 ** {"BTC": 8, "ETH": 9, "USDT": 6}[crypto]
                )
                done = w.trade(t, acct, "buy", crypto, units, fiat) if units > 0 else None
        elif r < 0.50:
            have = w.balance(acct, crypto)
            if have > 0:
                done = w.trade(t, acct, "sell", crypto, int(have * rng.uniform(0.2, 1.0)), fiat)
        elif r < 0.68:
            have = w.balance(acct, crypto)
            if have > 0:
                done = self.withdraw(t, c, crypto, int(have * rng.uniform(0.3, 1.0)))
        elif r < 0.75:
            have = w.balance(acct, fiat)
            if have > 0:
                done = w.fiat(t, acct, "fiat_withdrawal", fiat, int(have * rng.uniform(0.3, 1.0)), self.bank[c])
        elif r < 0.79:
            have = w.balance(acct, crypto)
            sub = self.sub_account.get(c)
            if sub is not None and t > int(self.created[c]) + 30 * 86_400:
                if have > 0 and rng.random() < 0.7:
                    done = w.internal(t, acct, sub, crypto, int(have * rng.uniform(0.1, 0.6)))
                elif w.balance(sub, crypto) > 0:
                    done = w.internal(t, sub, acct, crypto, w.balance(sub, crypto))
            else:
                other = int(rng.integers(self.n_customers))
                if have > 0 and other != c:
                    done = w.internal(t, acct, w.cust_account[other], crypto, int(have * rng.uniform(0.05, 0.5)))
        elif r < 0.80:
            done = w.credential_change(t, c, ("password", "two_factor", "email", "phone")[int(rng.integers(4))])
        if done is None:
            w.fiat(t, acct, "fiat_deposit", fiat, w.prices.units(fiat, max(usd, 20.0), t), self.bank[c])
        self.last_customer_transfers = int(0.999 * self.last_customer_transfers) + (self.transfers() - before)

    def crypto_deposit(self, t: int, c: int, asset: str, usd: float) -> object | None:
        """Deposit from the customer's own wallet, first buying the coins at another exchange if needed."""
        w = self.world
        units = w.prices.units(asset, usd, t)
        if not self.fund(t, c, asset, units):
            return None
        dest = w.cust_btc_dep[c] if asset == "BTC" else w.cust_eth_dep[c]

        def deposit(t2: int) -> None:
            self.pay_from_person(t2, c, asset, units, dest, w.ours.deposit_wallet if asset == "BTC" else None)

        w.at(t + int(w.rng.integers(600, 6 * 3_600)), deposit)
        return True

    def withdraw(self, t: int, c: int, asset: str, units: int) -> object | None:
        w = self.world
        if w.rng.random() < 0.75:
            if asset == "BTC":
                return w.withdraw(t, w.cust_account[c], asset, units, w.person_btc_address(c), w.person_wallet(c))
            return w.withdraw(t, w.cust_account[c], asset, units, w.person_eth_address(c))
        chain = "bitcoin" if asset == "BTC" else "ethereum"
        dest = self.exchange_deposit(c, chain)
        wallet = self.home_exchange(c).deposit_wallet if asset == "BTC" else None
        return w.withdraw(t, w.cust_account[c], asset, units, dest, wallet)

    # ----------------------------------------------------------------- background people
    def background(self, t: int, p: int) -> None:
        """One payment by a background person; people without coins buy some at their exchange first."""
        w = self.world
        rng = w.rng
        usd = float(min(250_000.0, rng.lognormal(np.log(250.0), 1.3)))
        if rng.random() < 0.45:
            self._background_btc(t, p, usd)
        else:
            self._background_eth(t, p, usd, "ETH" if rng.random() < 0.45 else "USDT")

    def _other_person(self) -> int:
        return int(np.searchsorted(self.person_cdf, self.world.rng.random())) + self.first_person

    def _background_btc(self, t: int, p: int, usd: float) -> None:
        w = self.world
        rng = w.rng
        wallet = w.person_wallet(p)
        have = w.btc.balance(wallet)
        units = w.prices.units("BTC", usd, t)
        if have < units + 20_000:
            if rng.random() < 0.05:
                miner_addr, miner_wallet = self.cast.miners_btc[int(rng.integers(len(self.cast.miners_btc)))]
                outs = [
                    Payment(w.person_btc_address(q), units, w.person_wallet(q))
                    for q in {p, *(self._other_person() for _ in range(int(rng.integers(3, 12))))}
                ]
                w.btc.send(t, miner_wallet, outs, miner_addr)
            else:
                flows.exchange_payout_btc(w, t, self.home_exchange(p), w.person_btc_address(p), wallet, units)
            return
        r = rng.random()
        change = w.person_change(p)
        if r < 0.42:
            q = self._other_person()
            w.btc.send(t, wallet, [Payment(w.person_btc_address(q), units, w.person_wallet(q))], change)
        elif r < 0.70:
            ex = self.home_exchange(p)
            w.btc.send(
                t,
                wallet,
                [Payment(self.exchange_deposit(p, "bitcoin"), min(units, have // 2), ex.deposit_wallet)],
                change,
            )
        elif r < 0.90:
            svc = w.services[("payment_processor", "gambling", "wallet_service")[int(rng.integers(3))]]
            w.btc.send(t, wallet, [Payment(svc.new_btc_deposit(), units, svc.deposit_wallet)], change)
        elif r < 0.93:
            market = w.services["market"]
            w.btc.send(
                t,
                wallet,
                [Payment(market.new_btc_deposit(), min(units, 5_000_000), market.deposit_wallet)],
                change,
            )
        elif r < 0.95:
            flows.mix_btc(w, t, wallet, change, min(units, have // 2), [(w.btc_address(p, "personal"), wallet)])
        elif r < 0.975:
            denom = 10_000_000 if usd > 3_000 else 1_000_000
            parts = [
                (w.person_wallet(q), w.btc_address(q, "personal"), w.person_change(q))
                for q in {p, *(self._other_person() for _ in range(6))}
            ]
            txh = w.btc.coinjoin(t, parts, denom)
            if txh is not None:  # not a crime, but an investigator must be able to tell it apart
                w.truth.coinjoin(t, txh, denom, p)
        elif r < 0.985:
            flows.bridge_btc_to_eth(
                w,
                self.cast.bridge,
                t,
                wallet,
                change,
                min(units, have // 2),
                w.person_eth_address(p),
                "USDT" if rng.random() < 0.5 else "ETH",
            )
        else:
            w.btc.sweep(t, wallet, w.btc_address(p, "personal", int(w.person_kind[p])), wallet)

    def _background_eth(self, t: int, p: int, usd: float, asset: str) -> None:
        w = self.world
        rng = w.rng
        eth = w.eth
        units = w.prices.units(asset, usd, t)
        src = w.person_eth_address(p)
        have = int(eth.eth[src] if asset == "ETH" else eth.usdt[src])
        if have < units or eth.eth[src] < eth.fee(60_000):
            self.fund(t, p, asset, units)
            return
        r = rng.random()
        if r < 0.45:
            self.pay_from_person(t, p, asset, units, w.person_eth_address(self._other_person()))
        elif r < 0.78:
            self.pay_from_person(t, p, asset, min(units, have // 2), self.exchange_deposit(p, "ethereum"))
        elif r < 0.97:
            svc = w.services[("payment_processor", "gambling", "wallet_service")[int(rng.integers(3))]]
            self.pay_from_person(t, p, asset, units, svc.new_eth_deposit())
        elif asset == "ETH":
            flows.bridge_eth_to_btc(
                w,
                self.cast.bridge,
                t,
                src,
                min(units, have // 2),
                w.person_btc_address(p),
                w.person_wallet(p),
            )
