"""Stories that start on chain: the stolen phone (the seed story), a hack laundered through a peel chain,
the mixer and the bridge, and a ransomware campaign."""

from __future__ import annotations

from chainsleuth.world import flows
from chainsleuth.world.account import GWEI
from chainsleuth.world.ids import P2PKH, P2SH
from chainsleuth.world.truth import Incident
from chainsleuth.world.typologies.common import (
    DAY,
    HOUR,
    BtcPurse,
    Ctx,
    buy_btc,
    deposit_btc,
    deposit_token,
    tag_addresses,
)
from chainsleuth.world.utxo import Payment

PHONE_THEFT_USD = 350_000


def phone_theft(ctx: Ctx) -> None:
    """A victim's phone is stolen; the thief drains USD 350,000 of bitcoin from the victim's wallet app
    through four hops (one split) into the thief's own deposit address at our exchange, then starts cashing out."""
    w = ctx.world
    reg = w.registry
    inc = w.truth.new(
        "phone_theft",
        "Stolen phone: the victim's bitcoin wallet drained through several hops "
        "into the thief's account at our exchange.",
    )
    victim = reg.add("person", "phone theft victim", "victim")
    thief_ent = reg.add("thief", "phone thief", "perpetrator", illicit=True)
    inc.victims.append(victim)
    inc.perpetrators.append(thief_ent)
    t_theft = ctx.day(0.45, 2.2)
    thief = ctx.customer(inc, "thief", t_theft - 75 * DAY, occupation="unemployed", country="GB")
    reg.get(thief_ent).customer_id = f"C{thief + 1:07d}"
    victim_purse = BtcPurse(ctx, victim)
    victim_addr = victim_purse.address("personal", P2PKH)
    stolen = w.prices.units("BTC", PHONE_THEFT_USD, t_theft)
    inc.details.update(
        {
            "victim_address": w.btc_book.text(victim_addr),
            "thief_deposit_address": w.btc_book.text(w.cust_btc_dep[thief]),
            "stolen_sat": stolen,
        }
    )
    for i, share in enumerate((0.5, 0.3, 0.2)):
        sats = int(stolen * share) + (10_000 if i == 0 else 0)
        w.at(t_theft - (30 - 7 * i) * DAY, buy_btc, ctx, None, victim_purse, victim_addr, sats, 0)
    thief_purse = BtcPurse(ctx, thief_ent)
    hops = [thief_purse.address("personal", P2SH), thief_purse.address()]
    split_a, split_b = thief_purse.address(), thief_purse.address("personal", P2PKH)
    wallet_a: list[int] = []
    wallet_b: list[int] = []

    def steal(t: int) -> None:
        w.login(t, thief, ip="185.220.101.7", country="GB")
        swept = w.btc.sweep(t, victim_purse.wallet, hops[0], thief_purse.wallet)
        if swept:
            inc.btc(t, swept[0])
            inc.amount_usd = w.prices.usd_value("BTC", swept[1], t)

    def hop(t: int) -> None:
        swept = w.btc.sweep(t, thief_purse.wallet, hops[1], thief_purse.wallet)
        inc.btc(t, swept[0] if swept else None)

    def split(t: int) -> None:
        total = w.btc.balance(thief_purse.wallet)
        inc.btc(
            t,
            w.btc.send(
                t,
                thief_purse.wallet,
                [Payment(split_a, int(total * 0.6), wallet_a)],
                split_b,
                change_wallet=wallet_b,
            ),
        )

    w.at(t_theft, steal)
    w.at(t_theft + HOUR, hop)
    w.at(t_theft + 3 * HOUR, split)
    w.at(t_theft + 6 * HOUR, lambda t: deposit_btc(t, ctx, inc, wallet_a, thief, None, split_a))
    w.at(t_theft + 9 * HOUR, lambda t: deposit_btc(t, ctx, inc, wallet_b, thief, None, split_b))

    def cash_out(t: int) -> None:
        acct = w.cust_account[thief]
        inc.event(w.login(t, thief, device=w.device(1), country="GB"))
        btc = w.balance(acct, "BTC")
        inc.event(w.trade(t, acct, "sell", "BTC", btc // 3, "USDT"))
        usdt = w.balance(acct, "USDT")
        out = w.eth_address(thief_ent)
        ev = inc.event(w.withdraw(t, acct, "USDT", usdt // 2, out))
        if ev is not None:
            inc.eth(t, ev.tx_hash)

    w.at(t_theft + 3 * DAY, cash_out)
    for i in range(3):
        w.at(t_theft - 60 * DAY + i * 20 * DAY, lambda t: w.login(t, thief, country="GB"))


def hack_laundering(ctx: Ctx) -> None:
    """Another exchange's hot wallet is hacked; the hacker peels the loot through a chain of fresh addresses,
    sends peels through the mixer and across the bridge (BTC to USDT), and lands it in three mule accounts."""
    w = ctx.world
    reg = w.registry
    victim_ex = w.other_exchanges[1]
    inc = w.truth.new(
        "hack_laundering",
        f"Hack of {reg.get(victim_ex.entity).name}'s hot wallet laundered "
        "through a peel chain, the mixer and the bridge into accounts at our exchange.",
    )
    hacker = reg.add("hacker", "hot-wallet hacker group", "perpetrator", illicit=True)
    inc.perpetrators.append(hacker)
    inc.victims.append(victim_ex.entity)
    t0 = ctx.day(0.2, 3.0)
    mules = [
        ctx.customer(inc, "mule", t0 - (40 + 9 * i) * DAY, occupation=job)
        for i, job in enumerate(("student", "unemployed", "waiter"))
    ]
    purse = BtcPurse(ctx, hacker)
    loot_addr = purse.address()
    loot = w.prices.units("BTC", 4_000_000, t0)
    eth_addrs = [w.eth_address(hacker) for _ in range(3)]
    mixed: list[int] = []
    inc.amount_usd = 4_000_000.0

    def sink(chain: str, txh: str) -> None:
        (inc.btc if chain == "bitcoin" else inc.eth)(w.now, txh)

    def hack(t: int) -> None:
        inc.btc(t, victim_ex.pay_btc(t, [Payment(loot_addr, loot, purse.wallet)]))
        tag_addresses(
            ctx,
            "hacks",
            "bitcoin",
            [loot_addr],
            f"{reg.get(victim_ex.entity).name} hack",
            "perpetrator",
            "hacking",
            "forensic",
        )

    def peel(t: int, k: int) -> None:
        change = purse.address("change")
        peel_sats = int(w.btc.balance(purse.wallet) * (0.08 + 0.02 * k))
        if k in (1, 3, 5):
            flows.mix_btc(w, t, purse.wallet, change, peel_sats, [(purse.address(), mixed) for _ in range(2)], sink)
        elif k == 2:
            flows.bridge_btc_to_eth(w, ctx.cast.bridge, t, purse.wallet, change, peel_sats, eth_addrs[0], "ETH", sink)
        else:
            flows.bridge_btc_to_eth(
                w, ctx.cast.bridge, t, purse.wallet, change, peel_sats, eth_addrs[k % 2 + 1], "USDT", sink
            )

    w.at(t0, hack)
    for k in range(1, 7):
        w.at(t0 + k * 5 * HOUR, peel, k)

    def gas(t: int) -> None:
        for address in eth_addrs[1:]:
            inc.eth(t, w.eth.send_eth(t, eth_addrs[0], address, GWEI // 20))

    def land(t: int) -> None:
        for i, address in enumerate(eth_addrs[1:]):
            amount = int(w.eth.usdt[address])
            if i == 0:
                deposit_token(t, ctx, inc, address, mules[0], amount)
            else:
                deposit_token(t, ctx, inc, address, mules[1], amount // 2)
                deposit_token(t, ctx, inc, address, mules[2], int(w.eth.usdt[address]))
        remaining = w.btc.balance(purse.wallet)
        if remaining > 0:
            flows.mix_btc(
                w,
                t,
                purse.wallet,
                purse.address("change"),
                remaining - 10_000,
                [(purse.address(), mixed) for _ in range(3)],
                sink,
            )

    w.at(t0 + 3 * DAY, gas)
    w.at(t0 + 3 * DAY + 2 * HOUR, land)

    def land_mixed(t: int, mule: int) -> None:
        deposit_btc(t, ctx, inc, mixed, mule, w.btc.balance(mixed) // 2, purse.address("change"))

    def cash_out(t: int, mule: int) -> None:
        _mule_cash_out(ctx, inc, t, mule)

    for i, mule in enumerate(mules):
        w.at(t0 + (9 + i) * DAY, land_mixed, mule)
        w.at(t0 + (13 + i) * DAY, cash_out, mule)


def _mule_cash_out(ctx: Ctx, inc: Incident, t: int, cust: int) -> None:
    w = ctx.world
    acct = w.cust_account[cust]
    w.login(t, cust)
    for asset in ("BTC", "USDT"):
        have = w.balance(acct, asset)
        if have > 0:
            ev = w.trade(t, acct, "sell", asset, have, "USD")
            if ev is not None:
                inc.event(ev)
    usd = w.balance(acct, "USD")
    if usd > 0:
        inc.event(
            w.fiat(
                t,
                acct,
                "fiat_withdrawal",
                "USD",
                usd * 9 // 10,
                "B" + w.hasher.hex(b"mulebank", cust)[:20],
            )
        )


def ransomware(ctx: Ctx) -> None:
    """Six organisations pay ransoms to per-victim addresses; the operator consolidates them and cashes out
    through another exchange, the mixer and an affiliate's account at our exchange."""
    w = ctx.world
    reg = w.registry
    inc = w.truth.new(
        "ransomware",
        "Ransomware campaign: victims pay per-victim addresses, the operator "
        "consolidates and cashes out (part through an affiliate's account at our exchange).",
    )
    operator = reg.add("ransomware_operator", "LockBite ransomware", "ransomware", illicit=True)
    inc.perpetrators.append(operator)
    t0 = ctx.day(0.3, 9.0)
    affiliate = ctx.customer(inc, "affiliate", t0 - 100 * DAY, occupation="consultant")
    op = BtcPurse(ctx, operator)
    pay_addresses = []
    for i in range(6):
        victim = reg.add("person", f"ransomware victim organisation {i + 1}", "victim")
        inc.victims.append(victim)
        vpurse = BtcPurse(ctx, victim)
        vaddr = vpurse.address("personal", P2SH)
        pay = op.address("payment")
        pay_addresses.append(pay)
        ransom = w.prices.units("BTC", float(w.rng.uniform(20_000, 150_000)), t0)
        t_pay = t0 + i * 3 * DAY
        w.at(t_pay - DAY, buy_btc, ctx, inc, vpurse, vaddr, ransom + 30_000, i)

        def pay_ransom(t: int, vp: BtcPurse = vpurse, va: int = vaddr, pay: int = pay, r: int = ransom) -> None:
            inc.btc(t, w.btc.send(t, vp.wallet, [Payment(pay, r, op.wallet)], va))
            inc.amount_usd += w.prices.usd_value("BTC", r, t)

        w.at(t_pay, pay_ransom)
    tag_addresses(
        ctx,
        "ransomware",
        "bitcoin",
        pay_addresses[::2],
        "LockBite",
        "perpetrator",
        "ransomware",
        "trusted_provider",
    )
    consolidation = op.address("consolidation")

    def consolidate(t: int) -> None:
        swept = w.btc.sweep(t, op.wallet, consolidation, op.wallet)
        inc.btc(t, swept[0] if swept else None)

    def sink(chain: str, txh: str) -> None:
        inc.btc(w.now, txh)

    def cash_out(t: int) -> None:
        total = w.btc.balance(op.wallet)
        ex = w.other_exchanges[3]
        inc.btc(
            t,
            w.btc.send(
                t,
                op.wallet,
                [Payment(ex.new_btc_deposit(), int(total * 0.4), ex.deposit_wallet)],
                op.address("change"),
            ),
        )
        flows.mix_btc(
            w,
            t,
            op.wallet,
            op.address("change"),
            int(total * 0.3),
            [(op.address(), op.wallet)],
            sink,
        )

    w.at(t0 + 18 * DAY, consolidate)
    w.at(t0 + 19 * DAY, cash_out)
    w.at(t0 + 25 * DAY, lambda t: deposit_btc(t, ctx, inc, op.wallet, affiliate, None, consolidation))
    w.at(t0 + 28 * DAY, lambda t: _mule_cash_out(ctx, inc, t, affiliate))
