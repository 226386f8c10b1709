"""Stories visible mostly in our own books: unexplained wealth, structuring, money mules, pig butchering,
accounts sharing devices, dormant accounts reactivated, and sanctioned-entity deposits."""

from __future__ import annotations

from chainsleuth.world import flows
from chainsleuth.world.account import GWEI
from chainsleuth.world.ids import P2SH
from chainsleuth.world.ledger import Event
from chainsleuth.world.truth import Incident
from chainsleuth.world.typologies.common import (
    DAY,
    HOUR,
    BtcPurse,
    Ctx,
    buy_btc,
    deposit_btc,
    deposit_token,
    fund_eth,
    tag_addresses,
)
from chainsleuth.world.utxo import Payment

USDT = 10**6


def _ev(inc: Incident, event: Event | None) -> Event | None:
    return inc.event(event)


def unexplained_wealth(ctx: Ctx) -> None:
    """A student declaring USD 9,000 a year receives USD 2 million of USDT from undisclosed sources and keeps
    most of it on the account (the "could not explain the source" case)."""
    w = ctx.world
    inc = w.truth.new(
        "unexplained_wealth",
        "Customer with a low declared income receives USD 2 million from "
        "external addresses, inconsistent with the KYC profile.",
    )
    funder = w.registry.add("person", "undisclosed source of funds", "perpetrator", illicit=True)
    inc.perpetrators.append(funder)
    t0 = ctx.day(0.35, 14.0)
    cust = ctx.customer(inc, "recipient", t0 - 200 * DAY, occupation="student", income=9_000, risk="low")
    sources = [w.eth_address(funder) for _ in range(4)]
    amounts = [500_000 * USDT] * 4
    for i, (src, amount) in enumerate(zip(sources, amounts, strict=True)):
        w.at(t0 + i * 5 * DAY - DAY, fund_eth, ctx, inc, src, GWEI // 10, amount, 2 + i % 2)
        w.at(t0 + i * 5 * DAY, deposit_token, ctx, inc, src, cust, amount)
    inc.amount_usd = 2_000_000.0

    def spend(t: int) -> None:
        acct = w.cust_account[cust]
        _ev(inc, w.login(t, cust))
        _ev(inc, w.trade(t, acct, "sell", "USDT", 400_000 * USDT, "USD"))
        _ev(inc, w.trade(t, acct, "buy", "BTC", w.prices.units("BTC", 300_000, t), "USD"))

    w.at(t0 + 22 * DAY, spend)


def structuring(ctx: Ctx) -> None:
    """Fourteen fiat deposits and six crypto withdrawals, each just under the USD 10,000 threshold."""
    w = ctx.world
    inc = w.truth.new("structuring", "Repeated fiat deposits and crypto withdrawals just below USD 10,000.")
    t0 = ctx.day(0.5, 11.0)
    cust = ctx.customer(inc, "structurer", t0 - 30 * DAY, occupation="small business owner", country="US")
    acct = w.cust_account[cust]
    bank = "B" + w.hasher.hex(b"structbank", cust)[:20]
    out_purse = BtcPurse(ctx, w.registry.add("person", "structurer's own wallet", "user", customer_id=""))
    dest = out_purse.address()
    for i in range(14):
        usd = float(w.rng.uniform(9_000, 9_950))

        def deposit(t: int, usd: float = usd) -> None:
            _ev(inc, w.login(t, cust))
            ev = _ev(inc, w.fiat(t, acct, "fiat_deposit", "USD", int(usd * 100), bank))
            if ev is not None:
                inc.amount_usd += usd
            _ev(inc, w.trade(t, acct, "buy", "BTC", w.prices.units("BTC", usd * 0.99, t), "USD"))

        w.at(t0 + int(i * 1.6 * DAY) + int(w.rng.integers(0, 6 * HOUR)), deposit)
    for i in range(6):

        def withdraw(t: int) -> None:
            units = min(w.balance(acct, "BTC"), w.prices.units("BTC", float(w.rng.uniform(9_200, 9_900)), t))
            ev = _ev(inc, w.withdraw(t, acct, "BTC", units, dest, out_purse.wallet))
            if ev is not None:
                inc.btc(t, ev.tx_hash)

        w.at(t0 + 3 * DAY + i * 4 * DAY, withdraw)


def money_mules(ctx: Ctx) -> None:
    """Three mules receive USDT from a fraud ring and forward the same amounts within hours, never trading."""
    w = ctx.world
    reg = w.registry
    inc = w.truth.new("money_mule", "Pass-through accounts: deposits forwarded out within hours, no trading.")
    ring = reg.add("scam_operator", "invoice-fraud ring", "scam", illicit=True)
    inc.perpetrators.append(ring)
    t0 = ctx.day(0.55, 8.0)
    src = w.eth_address(ring)
    cash_out = w.eth_address(ring)
    mules = [ctx.customer(inc, "mule", t0 - (20 + 3 * i) * DAY, occupation="student") for i in range(3)]
    w.at(t0 - DAY, lambda t: fund_eth(t, ctx, inc, src, gwei=GWEI // 5, usdt=400_000 * USDT, exchange=4))
    for k in range(3):
        for i, mule in enumerate(mules):
            amount = int(w.rng.uniform(15_000, 40_000)) * USDT
            t_in = t0 + k * 4 * DAY + i * HOUR

            def receive(t: int, mule: int = mule, amount: int = amount) -> None:
                deposit_token(t, ctx, inc, src, mule, amount)
                inc.amount_usd += amount / USDT

            def forward(t: int, mule: int = mule, amount: int = amount) -> None:
                acct = w.cust_account[mule]
                _ev(inc, w.login(t, mule))
                ev = _ev(inc, w.withdraw(t, acct, "USDT", min(amount, w.balance(acct, "USDT")), cash_out))
                if ev is not None:
                    inc.eth(t, ev.tx_hash)

            w.at(t_in, receive)
            w.at(t_in + DAY, forward)


def pig_butchering(ctx: Ctx) -> None:
    """A retired customer is groomed into a fake investment platform and sends growing USDT amounts to it."""
    w = ctx.world
    reg = w.registry
    inc = w.truth.new(
        "pig_butchering",
        "Investment-scam victim buys USDT with savings and sends it to the "
        "scammers' 'platform' address in growing amounts.",
    )
    scam = reg.add("scam_operator", "fake trading platform 'GoldBridge FX'", "scam", illicit=True)
    inc.perpetrators.append(scam)
    t0 = ctx.day(0.25, 19.0)
    victim = ctx.customer(inc, "victim", t0 - 700 * DAY, occupation="retired", income=35_000)
    inc.victims.append(
        reg.add("person", "pig butchering victim (our customer)", "victim", customer_id=f"C{victim + 1:07d}")
    )
    platform = w.eth_address(scam, "payment")
    tag_addresses(
        ctx,
        "scams",
        "ethereum",
        [platform],
        "GoldBridge FX (reported scam)",
        "perpetrator",
        "investment_fraud",
        "web_crawl",
    )
    acct = w.cust_account[victim]
    bank = "B" + w.hasher.hex(b"victimbank", victim)[:20]
    for i, usd in enumerate((5_000, 10_000, 20_000, 40_000, 60_000, 80_000)):

        def invest(t: int, usd: int = usd) -> None:
            _ev(inc, w.login(t, victim))
            _ev(inc, w.fiat(t, acct, "fiat_deposit", "USD", usd * 100, bank))
            _ev(inc, w.trade(t, acct, "buy", "USDT", int(usd * 0.995 * USDT / w.prices.usd("USDT", t)), "USD"))

        def send(t: int) -> None:
            ev = _ev(inc, w.withdraw(t, acct, "USDT", w.balance(acct, "USDT"), platform))
            if ev is not None:
                inc.eth(t, ev.tx_hash)
                inc.amount_usd += ev.usd or 0.0

        w.at(t0 + i * 8 * DAY, invest)
        w.at(t0 + i * 8 * DAY + 2 * HOUR, send)

    def launder(t: int) -> None:
        ex = w.other_exchanges[4]
        fund_eth(t, ctx, inc, platform, gwei=GWEI // 10, exchange=0)
        inc.eth(t, w.eth.send_token(t, platform, ex.new_eth_deposit(), int(w.eth.usdt[platform])))

    w.at(t0 + 50 * DAY, launder)


def shared_devices(ctx: Ctx) -> None:
    """Five customers with different identities use one phone and two IPs and pool funds in one hub."""
    w = ctx.world
    inc = w.truth.new(
        "shared_device",
        "Accounts opened under different identities operated from one device "
        "and the same IP addresses, funnelling funds to one hub account.",
    )
    t0 = ctx.day(0.4, 12.0)
    members = [ctx.customer(inc, "shared_device", t0 - (10 - i) * DAY, country="NG") for i in range(5)]
    device = w.device(77)
    hub_ent = w.registry.add("person", "shared-device group's wallet", "perpetrator", illicit=True)
    inc.perpetrators.append(hub_ent)
    ips = ("102.89.32.11", "102.89.32.14")
    hub = members[0]
    for d in range(6):
        for i, cust in enumerate(members):

            def act(t: int, cust: int = cust, i: int = i, d: int = d) -> None:
                acct = w.cust_account[cust]
                _ev(inc, w.login(t, cust, ip=ips[(i + d) % 2], device=device, country="NG"))
                if cust != hub:
                    usd = 1_500 + 100 * i + 50 * d
                    _ev(
                        inc,
                        w.fiat(
                            t,
                            acct,
                            "fiat_deposit",
                            "USD",
                            usd * 100,
                            "B" + w.hasher.hex(b"sharedbank", cust)[:20],
                        ),
                    )
                    ev = _ev(inc, w.internal(t, acct, w.cust_account[hub], "USD", usd * 100))
                    if ev is not None:
                        inc.amount_usd += usd

            w.at(t0 + d * 2 * DAY + i * 600, act)

    def hub_out(t: int) -> None:
        acct = w.cust_account[hub]
        usd = w.balance(acct, "USD")
        _ev(
            inc,
            w.trade(t, acct, "buy", "USDT", int(usd / 1.003 / 100 * USDT / w.prices.usd("USDT", t)), "USD"),
        )
        ev = _ev(inc, w.withdraw(t, acct, "USDT", w.balance(acct, "USDT"), w.eth_address(hub_ent)))
        if ev is not None:
            inc.eth(t, ev.tx_hash)

    w.at(t0 + 13 * DAY, hub_out)


def dormant_reactivated(ctx: Ctx) -> None:
    """An account silent for months wakes up: new device abroad, credentials changed, a large deposit
    is swapped to USDT and withdrawn the same day (account takeover used for laundering)."""
    w = ctx.world
    reg = w.registry
    inc = w.truth.new(
        "dormant_reactivated",
        "Dormant account reactivated from a new device and country; "
        "credentials changed, then large funds passed through.",
    )
    crew = reg.add("thief", "account-takeover crew", "perpetrator", illicit=True)
    inc.perpetrators.append(crew)
    cfg = w.config
    cust = ctx.customer(inc, "dormant_reactivated", cfg.start_ts - 5 * 365 * DAY, "active", occupation="retired")
    w.at(cfg.start_ts + 2 * DAY, lambda t: w.login(t, cust))
    t0 = ctx.day(0.78, 3.0)
    purse = BtcPurse(ctx, crew)
    src = purse.address("personal", P2SH)
    sats = w.prices.units("BTC", 80_000, t0)
    w.at(t0 - 2 * DAY, lambda t: buy_btc(t, ctx, inc, purse, src, sats + 20_000, exchange=2))

    def takeover(t: int) -> None:
        _ev(inc, w.login(t, cust, ip="45.146.164.20", device=w.device(99), country="VN"))
        for change in ("email", "phone", "two_factor"):
            _ev(inc, w.credential_change(t, cust, change))
        deposit_btc(t, ctx, inc, purse.wallet, cust, sats, src)
        inc.amount_usd = 80_000.0

    def drain(t: int) -> None:
        acct = w.cust_account[cust]
        _ev(inc, w.login(t, cust, ip="45.146.164.20", device=w.device(99), country="VN"))
        _ev(inc, w.trade(t, acct, "sell", "BTC", w.balance(acct, "BTC"), "USDT"))
        ev = _ev(inc, w.withdraw(t, acct, "USDT", w.balance(acct, "USDT"), w.eth_address(crew)))
        if ev is not None:
            inc.eth(t, ev.tx_hash)

    w.at(t0, takeover)
    w.at(t0 + 2 * DAY, drain)


def sanctioned(ctx: Ctx) -> None:
    """A sanctioned OTC desk pays customers directly from listed addresses, from unlisted ones, and via the
    bridge (ETH to BTC); one customer also sends funds to it."""
    w = ctx.world
    reg = w.registry
    inc = w.truth.new(
        "sanctions",
        "Deposits from (and a withdrawal to) a sanctioned entity's addresses, only "
        "some of which are on the public list.",
    )
    ent = reg.add("sanctioned_entity", "Kolyma Trade OTC (sanctioned)", "sanction", illicit=True)
    inc.perpetrators.append(ent)
    t0 = ctx.day(0.6, 10.0)
    custs = [
        ctx.customer(inc, "sanctions_exposure", t0 - (50 + 10 * i) * DAY, country=c)
        for i, c in enumerate(("TR", "DE", "PL", "TR"))
    ]
    purse = BtcPurse(ctx, ent)
    btc_addrs = [purse.address("personal", P2SH) for _ in range(4)]
    eth_addrs = [w.eth_address(ent) for _ in range(3)]
    tag_addresses(
        ctx,
        "sanctions",
        "bitcoin",
        btc_addrs[:2],
        "Kolyma Trade OTC (SDN list)",
        "organization",
        "sanction",
        "authority_data",
    )
    tag_addresses(
        ctx,
        "sanctions",
        "ethereum",
        eth_addrs[:2],
        "Kolyma Trade OTC (SDN list)",
        "organization",
        "sanction",
        "authority_data",
    )
    w.at(
        t0 - 3 * DAY,
        lambda t: buy_btc(t, ctx, inc, purse, btc_addrs[0], w.prices.units("BTC", 300_000, t), 1),
    )
    w.at(
        t0 - 3 * DAY,
        lambda t: fund_eth(t, ctx, inc, eth_addrs[0], gwei=40 * GWEI, usdt=200_000 * USDT, exchange=1),
    )
    wallet1: list[int] = []

    def move(t: int) -> None:
        inc.btc(
            t,
            w.btc.send(
                t,
                purse.wallet,
                [Payment(btc_addrs[1], w.prices.units("BTC", 100_000, t), wallet1)],
                btc_addrs[2],
            ),
        )
        inc.eth(t, w.eth.send_eth(t, eth_addrs[0], eth_addrs[2], 10 * GWEI))

    def pay(t: int) -> None:
        deposit_btc(t, ctx, inc, wallet1, custs[0], None, btc_addrs[1])
        deposit_token(t, ctx, inc, eth_addrs[0], custs[1], 120_000 * USDT)
        deposit_btc(t, ctx, inc, purse.wallet, custs[2], w.prices.units("BTC", 60_000, t), btc_addrs[3])
        inc.amount_usd += 280_000.0

    def bridge(t: int) -> None:
        inc.eth(
            t,
            flows.bridge_eth_to_btc(
                w,
                ctx.cast.bridge,
                t,
                eth_addrs[2],
                9 * GWEI,
                w.cust_btc_dep[custs[3]],
                w.ours.deposit_wallet,
                lambda c, h: _bridge_landed(ctx, inc, c, h),
            ),
        )

    def outgoing(t: int) -> None:
        acct = w.cust_account[custs[1]]
        ev = _ev(inc, w.withdraw(t, acct, "USDT", 20_000 * USDT, eth_addrs[1]))
        if ev is not None:
            inc.eth(t, ev.tx_hash)

    w.at(t0 - DAY, move)
    w.at(t0, pay)
    w.at(t0 + DAY, bridge)
    w.at(t0 + 4 * DAY, outgoing)


def _bridge_landed(ctx: Ctx, inc: Incident, chain: str, txh: str) -> None:
    """The bridge's bitcoin payout landed on a customer's deposit address: label the deposit it created."""
    w = ctx.world
    if chain == "bitcoin":
        inc.btc(w.now, txh)
        for event in w.ledger.scheduled(txh):
            inc.event(event)
