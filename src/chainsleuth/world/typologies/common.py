"""Helpers shared by the stories: story customers, criminal wallets, and evidence collection."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chainsleuth.world.cast import Cast
from chainsleuth.world.economy import Economy
from chainsleuth.world.ids import P2WPKH
from chainsleuth.world.names import make_profile
from chainsleuth.world.sim import World
from chainsleuth.world.truth import Incident
from chainsleuth.world.utxo import Payment, Wallet

DAY = 86_400
HOUR = 3_600


@dataclass
class Ctx:
    """What a story needs: the world, the institutions and the ordinary economy."""

    world: World
    cast: Cast
    economy: Economy

    def day(self, fraction: float, hour: float = 10.0) -> int:
        """Time of ``hour`` o'clock on the day at ``fraction`` of the simulated period."""
        cfg = self.world.config
        return cfg.start_ts + int(fraction * (cfg.n_days - 1)) * DAY + int(hour * HOUR)

    def customer(self, inc: Incident, role: str, created: int, status: str = "active", **profile: Any) -> int:
        """A customer of ours taking part in a story."""
        w = self.world
        cust = w.new_customer(make_profile(w.rng, w.ledger.n_customers, **profile), created, status)
        inc.customer(cust, role)
        return cust


@dataclass
class BtcPurse:
    """A criminal's or victim's bitcoin addresses, all spending from one wallet."""

    ctx: Ctx
    owner: int
    wallet: Wallet = field(default_factory=list)

    def address(self, role: str = "personal", kind: int = P2WPKH) -> int:
        return self.ctx.world.btc_address(self.owner, role, kind)

    def balance(self) -> int:
        return self.ctx.world.btc.balance(self.wallet)


def buy_btc(
    t: int, ctx: Ctx, inc: Incident | None, purse: BtcPurse, address: int, sats: int, exchange: int = 0
) -> str | None:
    """The purse buys ``sats`` at another exchange and withdraws them to ``address``."""
    ex = ctx.world.other_exchanges[exchange % len(ctx.world.other_exchanges)]
    txh = ex.pay_btc(t, [Payment(address, sats, purse.wallet)])
    if inc is not None:
        inc.btc(t, txh)
    return txh


def fund_eth(
    t: int, ctx: Ctx, inc: Incident | None, address: int, gwei: int = 0, usdt: int = 0, exchange: int = 0
) -> None:
    """Another exchange pays ETH (for gas) and/or USDT to ``address``."""
    ex = ctx.world.other_exchanges[exchange % len(ctx.world.other_exchanges)]
    if gwei:
        txh = ex.pay_eth(t, address, gwei)
        if inc is not None:
            inc.eth(t, txh)
    if usdt:
        txh = ex.pay_usdt(t, address, usdt)
        if inc is not None:
            inc.eth(t, txh)


def deposit_btc(t: int, ctx: Ctx, inc: Incident, wallet: Wallet, cust: int, sats: int | None, change: int) -> None:
    """Pay a customer's bitcoin deposit address (everything in the wallet if ``sats`` is None)."""
    w = ctx.world
    with w.ledger.capturing() as events:
        if sats is None:
            swept = w.btc.sweep(t, wallet, w.cust_btc_dep[cust], w.ours.deposit_wallet)
            inc.btc(t, swept[0] if swept else None)
        else:
            inc.btc(t, w.btc.send(t, wallet, [Payment(w.cust_btc_dep[cust], sats, w.ours.deposit_wallet)], change))
    for event in events:
        inc.event(event)


def deposit_token(t: int, ctx: Ctx, inc: Incident, frm: int, cust: int, micro: int) -> str | None:
    """Send USDT from an external address to a customer's ethereum deposit address."""
    w = ctx.world
    with w.ledger.capturing() as events:
        txh = inc.eth(t, w.eth.send_token(t, frm, w.cust_eth_dep[cust], micro))
    for event in events:
        inc.event(event)
    return txh


def tag_addresses(
    ctx: Ctx,
    pack: str,
    chain: str,
    addresses: list[int],
    label: str,
    category: str,
    abuse: str,
    confidence: str,
) -> None:
    from chainsleuth.world.cast import tag

    for address in addresses:
        tag(ctx.world, pack, chain, address, label, category, abuse=abuse, confidence=confidence)
