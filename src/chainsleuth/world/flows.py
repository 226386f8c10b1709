"""Reusable on-chain moves shared by the background economy and the criminal stories.

Funding a personal wallet from an exchange, mixing through the mixer, crossing the bridge in either direction:
each is a short sequence of transactions, some delayed, that leaves the footprint investigators expect.
"""

from __future__ import annotations

from collections.abc import Callable

from chainsleuth.world.cast import Bridge
from chainsleuth.world.custody import Custodian
from chainsleuth.world.sim import World
from chainsleuth.world.utxo import Payment, Wallet

TxSink = Callable[[str, str], None]
"""Receives (chain, tx hash) of every transaction a flow creates (stories collect them as evidence)."""


def _noop(chain: str, txh: str) -> None:
    del chain, txh


def exchange_payout_btc(
    world: World,
    t: int,
    exchange: Custodian,
    dest: int,
    wallet: Wallet | None,
    sats: int,
    sink: TxSink = _noop,
) -> str | None:
    """An exchange withdrawal to ``dest``: how most people get their first coins."""
    txh = exchange.pay_btc(t, [Payment(dest, sats, wallet)])
    if txh is not None:
        sink("bitcoin", txh)
    return txh


def mix_btc(
    world: World,
    t: int,
    wallet: Wallet,
    change: int,
    sats: int,
    outputs: list[tuple[int, Wallet]],
    sink: TxSink = _noop,
    on_done: Callable[[int], None] | None = None,
) -> str | None:
    """Send ``sats`` to a fresh mixer deposit address; 1-3 days later the mixer pays 97.5% out, split over
    ``outputs`` in separate transactions from its own hot wallet (breaking the on-chain link)."""
    mixer = world.services["mixer"]
    deposit = mixer.new_btc_deposit()
    txh = world.btc.send(t, wallet, [Payment(deposit, sats, mixer.deposit_wallet)], change)
    if txh is None:
        return None
    sink("bitcoin", txh)
    payout = int(sats * 0.975)
    parts = len(outputs)
    for i, (address, out_wallet) in enumerate(outputs):
        delay = int(world.rng.integers(86_400, 3 * 86_400)) + i * 3_600
        value = payout // parts

        def pay(
            t2: int,
            address: int = address,
            out_wallet: Wallet = out_wallet,
            value: int = value,
            last: bool = i == parts - 1,
        ) -> None:
            paid = mixer.pay_btc(t2, [Payment(address, value, out_wallet)])
            if paid is not None:
                sink("bitcoin", paid)
            if last and on_done is not None:
                world.at(t2 + 600, on_done)

        world.at(t + delay, pay)
    return txh


def bridge_btc_to_eth(
    world: World,
    bridge: Bridge,
    t: int,
    wallet: Wallet,
    change: int,
    sats: int,
    dest_eth: int,
    asset: str = "USDT",
    sink: TxSink = _noop,
    on_done: Callable[[int], None] | None = None,
) -> str | None:
    """Pay the bridge custody with an ``=:ETH:<address>`` memo; 20-60 minutes later it pays on ethereum."""
    memo = ("=:ETH:" + world.eth_book.text(dest_eth)).encode()
    txh = world.btc.send(t, wallet, [Payment(bridge.btc_custody, sats, bridge.wallet)], change, op_return=memo)
    if txh is None:
        return None
    sink("bitcoin", txh)
    usd = world.prices.usd_value("BTC", sats, t) * 0.997
    data = "0xb1d9e0a5" + txh

    def payout(t2: int) -> None:
        if asset == "USDT":
            paid = world.eth.contract_token_payout(
                t2, bridge.relayer, bridge.eth_contract, dest_eth, int(usd * 10**6), data
            )
        else:
            paid = world.eth.send_eth(t2, bridge.eth_contract, dest_eth, world.prices.units("ETH", usd, t2), data)
        if paid is not None:
            sink("ethereum", paid)
        if on_done is not None:
            world.at(t2 + 600, on_done)

    world.at(t + int(world.rng.integers(1_200, 3_600)), payout)
    return txh


def bridge_eth_to_btc(
    world: World,
    bridge: Bridge,
    t: int,
    frm: int,
    gwei: int,
    dest_btc: int,
    dest_wallet: Wallet | None,
    sink: TxSink = _noop,
) -> str | None:
    """Send ETH to the bridge contract naming a bitcoin address; the bridge pays BTC with an ``OUT:`` memo."""
    data = "0x3d2f19c0" + world.btc_book.text(dest_btc).encode().hex()
    txh = world.eth.send_eth(t, frm, bridge.eth_contract, gwei, data)
    if txh is None:
        return None
    sink("ethereum", txh)
    usd = world.prices.usd_value("ETH", gwei, t) * 0.997

    def payout(t2: int) -> None:
        sats = world.prices.units("BTC", usd, t2)
        paid = world.btc.send(
            t2,
            bridge.wallet,
            [Payment(dest_btc, sats, dest_wallet)],
            bridge.btc_custody,
            op_return=("OUT:" + txh[2:]).encode(),
        )
        if paid is not None:
            sink("bitcoin", paid)

    world.at(t + int(world.rng.integers(1_200, 3_600)), payout)
    return txh
