"""Custodial wallets of exchanges and services: deposit addresses, sweeps, hot wallets refilled from cold.

Every custodian (our exchange, other exchanges, the mixer, the darknet market, services) runs the same
wallet operations, which is what makes their on-chain footprint realistic: many one-off deposit addresses
swept into a hot wallet, payouts with change back to the hot wallet, occasional hot/cold rebalancing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chainsleuth.world.account import GAS_TOKEN
from chainsleuth.world.ids import P2PKH, P2SH, P2WPKH
from chainsleuth.world.utxo import Payment, Wallet

if TYPE_CHECKING:
    from chainsleuth.world.sim import World


class Custodian:
    """The wallets of one custodial entity on both chains."""

    def __init__(self, world: World, entity: int, btc_kind: int = P2WPKH, hot_addresses: int = 1) -> None:
        self.world = world
        self.entity = entity
        self.btc_kind = btc_kind
        b, e = world.btc_book, world.eth_book
        self.btc_hot = [b.new(entity, "hot_wallet", btc_kind) for _ in range(hot_addresses)]
        self.btc_cold = b.new(entity, "cold_wallet", P2SH if btc_kind != P2PKH else P2PKH)
        self.hot_wallet: Wallet = []
        self.cold_wallet: Wallet = []
        self.deposit_wallet: Wallet = []
        self.eth_hot = e.new(entity, "hot_wallet")
        self.eth_cold = e.new(entity, "cold_wallet")
        self.eth_dirty: set[int] = set()
        self._turn = 0
        world.custodians[entity] = self

    # ----------------------------------------------------------------- addresses
    def new_btc_deposit(self, tag: int = -1) -> int:
        kind = self.btc_kind if self.world.rng.random() < 0.8 else P2SH
        address = self.world.btc_book.new(self.entity, "deposit", kind)
        self.world.btc_book.tag[address] = tag
        return address

    def new_eth_deposit(self, tag: int = -1) -> int:
        address = self.world.eth_book.new(self.entity, "deposit")
        self.world.eth_book.tag[address] = tag
        self.world.eth.ensure()
        return address

    def hot(self) -> int:
        self._turn += 1
        return self.btc_hot[self._turn % len(self.btc_hot)]

    # ----------------------------------------------------------------- payouts
    def pay_btc(self, t: int, payments: list[Payment], *, op_return: bytes | None = None) -> str | None:
        """Pay from the hot wallet (change back to it), refilling from cold when the hot wallet is short."""
        chain = self.world.btc
        txh = chain.send(t, self.hot_wallet, payments, self.hot(), fee_rate=6, op_return=op_return)
        if txh is None:
            need = sum(p.value for p in payments)
            refill = max(need * 3, chain.balance(self.cold_wallet) // 20)
            if (
                chain.send(
                    t,
                    self.cold_wallet,
                    [Payment(self.hot(), refill, self.hot_wallet)],
                    self.btc_cold,
                    change_wallet=self.cold_wallet,
                )
                is None
            ):
                return None
            txh = chain.send(t, self.hot_wallet, payments, self.hot(), fee_rate=6, op_return=op_return)
        return txh

    def pay_eth(self, t: int, to: int, gwei: int, data: str = "0x") -> str | None:
        eth = self.world.eth
        eth.ensure()
        if eth.eth[self.eth_hot] < gwei + eth.fee(90_000):
            refill = max(gwei * 3, int(eth.eth[self.eth_cold]) // 20)
            eth.send_eth(t, self.eth_cold, self.eth_hot, min(refill, int(eth.eth[self.eth_cold]) - eth.fee()))
        return eth.send_eth(t, self.eth_hot, to, gwei, data)

    def pay_usdt(self, t: int, to: int, micro: int) -> str | None:
        eth = self.world.eth
        eth.ensure()
        if eth.usdt[self.eth_hot] < micro:
            refill = max(micro * 3, int(eth.usdt[self.eth_cold]) // 20)
            eth.send_token(t, self.eth_cold, self.eth_hot, min(refill, int(eth.usdt[self.eth_cold])))
        return eth.send_token(t, self.eth_hot, to, micro)

    # ----------------------------------------------------------------- housekeeping
    def sweep(self, t: int) -> None:
        """Move deposits to the hot wallet: multi-input bitcoin transactions, one ethereum transfer each."""
        chain = self.world.btc
        while self.deposit_wallet:
            if chain.sweep(t, self.deposit_wallet, self.hot(), self.hot_wallet, fee_rate=4, max_inputs=80) is None:
                break
        eth = self.world.eth
        gas_token = eth.fee(GAS_TOKEN)
        for address in sorted(self.eth_dirty):
            if eth.usdt[address] > 0:
                if eth.eth[address] < gas_token:
                    self.pay_eth(t, address, gas_token)
                eth.send_token(t, address, self.eth_hot, int(eth.usdt[address]))
            spare = int(eth.eth[address]) - eth.fee()
            if spare > 5_000_000:  # more than 0.005 ETH
                eth.send_eth(t, address, self.eth_hot, spare)
        self.eth_dirty.clear()

    def rebalance(self, t: int, keep_fraction: float = 0.3) -> None:
        """Send most of an overfull hot wallet to cold storage, as exchanges do daily."""
        chain = self.world.btc
        hot, cold = chain.balance(self.hot_wallet), chain.balance(self.cold_wallet)
        if hot > keep_fraction * (hot + cold) * 1.5 and len(self.hot_wallet) > 3:
            excess = int(hot - keep_fraction * (hot + cold))
            chain.send(t, self.hot_wallet, [Payment(self.btc_cold, excess, self.cold_wallet)], self.hot())
        eth = self.world.eth
        hot_e, cold_e = int(eth.eth[self.eth_hot]), int(eth.eth[self.eth_cold])
        if hot_e > keep_fraction * (hot_e + cold_e) * 1.5:
            eth.send_eth(t, self.eth_hot, self.eth_cold, int(hot_e - keep_fraction * (hot_e + cold_e)))
        hot_u, cold_u = int(eth.usdt[self.eth_hot]), int(eth.usdt[self.eth_cold])
        if hot_u > keep_fraction * (hot_u + cold_u) * 1.5:
            eth.send_token(t, self.eth_hot, self.eth_cold, int(hot_u - keep_fraction * (hot_u + cold_u)))
