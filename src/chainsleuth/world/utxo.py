"""A bitcoin-like UTXO chain: outputs in compact numpy arrays, transactions written as bitcoin-etl records.

Wallets are plain lists of output indices: spending pops outputs from the list, so every spend refers to an
existing unspent output by construction and balances cannot go negative. Blocks are slots of fixed length;
only slots with transactions become blocks (each opened by a coinbase), numbered consecutively.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from chainsleuth.world.ids import BTC_TYPES, P2PKH, P2SH, ROLE, AddressBook, Hasher
from chainsleuth.world.writers import RecordWriter

SUBSIDY = 312_500_000
_DEPOSIT = ROLE["deposit"]
DUST = 546
Wallet = list[int]
#: Called for every output paid to an address the exchange watches: (address, value, tx hash, block time).
DepositHook = Callable[[int, int, str, int], None]

BLOCK_COLUMNS = (
    "type",
    "hash",
    "size",
    "stripped_size",
    "weight",
    "number",
    "version",
    "merkle_root",
    "timestamp",
    "nonce",
    "bits",
    "coinbase_param",
    "transaction_count",
)
TX_COLUMNS = (
    "type",
    "hash",
    "size",
    "virtual_size",
    "version",
    "lock_time",
    "block_number",
    "block_hash",
    "block_timestamp",
    "is_coinbase",
    "index",
    "input_count",
    "output_count",
    "input_value",
    "output_value",
    "fee",
    "inputs",
    "outputs",
)


@dataclass(slots=True)
class Payment:
    """One output of a transaction to build: address index, value, and the wallet that will own it."""

    address: int
    value: int
    wallet: Wallet | None = None


class UtxoChain:
    """State and writer of the simulated bitcoin chain."""

    def __init__(
        self,
        book: AddressBook,
        hasher: Hasher,
        blocks: RecordWriter,
        txs: RecordWriter,
        start_ts: int,
        slot_seconds: int,
        rng: np.random.Generator,
    ) -> None:
        self.book, self.hasher, self.blocks, self.txs = book, hasher, blocks, txs
        self.start_ts, self.slot_seconds, self.rng = start_ts, slot_seconds, rng
        cap = 1 << 16
        self.u_tx: npt.NDArray[np.int64] = np.zeros(cap, dtype=np.int64)
        self.u_vout: npt.NDArray[np.int32] = np.zeros(cap, dtype=np.int32)
        self.u_addr: npt.NDArray[np.int64] = np.zeros(cap, dtype=np.int64)
        self.u_value: npt.NDArray[np.int64] = np.zeros(cap, dtype=np.int64)
        self.u_spent: npt.NDArray[np.bool_] = np.zeros(cap, dtype=np.bool_)
        self.n_utxo = 0
        self.n_tx = 0
        self.block_number = -1
        self.block_ts = start_ts
        self.block_hash = ""
        self._slot = -1
        self._block_index = 0
        self._block_size = 0
        self.miners: list[tuple[int, Wallet]] = []
        self.deposit_hook: DepositHook | None = None
        self.last_block_ts = start_ts

    # ----------------------------------------------------------------- outputs
    def _new_utxo(self, tx: int, vout: int, address: int, value: int) -> int:
        if self.n_utxo == len(self.u_tx):
            grow = len(self.u_tx) * 2
            self.u_tx = np.resize(self.u_tx, grow)
            self.u_vout = np.resize(self.u_vout, grow)
            self.u_addr = np.resize(self.u_addr, grow)
            self.u_value = np.resize(self.u_value, grow)
            self.u_spent = np.resize(self.u_spent, grow)
            self.u_spent[self.n_utxo :] = False
        idx = self.n_utxo
        self.u_tx[idx], self.u_vout[idx], self.u_addr[idx], self.u_value[idx] = tx, vout, address, value
        self.n_utxo += 1
        return idx

    def balance(self, wallet: Wallet) -> int:
        return int(self.u_value[wallet].sum()) if wallet else 0

    def tx_hash(self, number: int) -> str:
        return self.hasher.hex(b"btctx", number)

    # ----------------------------------------------------------------- blocks
    def _script(self, address: int) -> tuple[str, str, str]:
        key = self.book.key_hex(address)
        kind = int(self.book.kind[address])
        if kind == P2PKH:
            return f"OP_DUP OP_HASH160 {key} OP_EQUALVERIFY OP_CHECKSIG", f"76a914{key}88ac", BTC_TYPES[kind]
        if kind == P2SH:
            return f"OP_HASH160 {key} OP_EQUAL", f"a914{key}87", BTC_TYPES[kind]
        return f"0 {key}", f"0014{key}", BTC_TYPES[kind]

    def _place(self, t: int) -> None:
        """Open the block of the slot containing ``t`` (closing the previous one) if needed."""
        slot = max(0, (t - self.start_ts) // self.slot_seconds)
        if slot <= self._slot:
            return
        self.close_block()
        self._slot = slot
        self._open_block(self.start_ts + (slot + 1) * self.slot_seconds)
        miner_addr, miner_wallet = self.miners[int(self.rng.integers(len(self.miners)))]
        self._emit([], [Payment(miner_addr, SUBSIDY, miner_wallet)], coinbase=True)

    def _open_block(self, ts: int) -> None:
        self.block_number += 1
        self.block_ts = ts
        self.block_hash = self.hasher.hex(b"btcblock", self.block_number)
        self._block_index = 0
        self._block_size = 80

    def close_block(self) -> None:
        if self._block_index == 0:
            return
        n = self.block_number
        self.blocks.write(
            {
                "type": "block",
                "hash": self.block_hash,
                "size": self._block_size,
                "stripped_size": self._block_size * 3 // 4,
                "weight": self._block_size * 3,
                "number": n,
                "version": 0x20000000,
                "merkle_root": self.hasher.hex(b"btcmerkle", n),
                "timestamp": self.block_ts,
                "nonce": f"{n * 2654435761 % 2**32:08x}",
                "bits": "17034219",
                "coinbase_param": f"03{n:06x}",
                "transaction_count": self._block_index,
            }
        )
        self.last_block_ts = self.block_ts
        self._block_index = 0

    def genesis(self, payments: list[Payment]) -> str:
        """Block 0: one coinbase distributing the coins that existed before the simulated period."""
        self._open_block(self.start_ts)
        tx = self._emit([], payments, coinbase=True)
        self.close_block()
        return tx

    # ----------------------------------------------------------------- transactions
    def _emit(
        self,
        spent: list[int],
        payments: list[Payment],
        coinbase: bool = False,
        op_return: bytes | None = None,
    ) -> str:
        number = self.n_tx
        self.n_tx += 1
        txh = self.tx_hash(number)
        inputs = []
        in_value = 0
        for i, u in enumerate(spent):
            address, value = int(self.u_addr[u]), int(self.u_value[u])
            in_value += value
            self.u_spent[u] = True
            inputs.append(
                {
                    "index": i,
                    "spent_transaction_hash": self.tx_hash(int(self.u_tx[u])),
                    "spent_output_index": int(self.u_vout[u]),
                    "script_asm": "",
                    "script_hex": "",
                    "sequence": 4294967293,
                    "required_signatures": None,
                    "type": BTC_TYPES[int(self.book.kind[address])],
                    "addresses": [self.book.text(address)],
                    "value": value,
                }
            )
        outputs = []
        out_value = 0
        for vout, pay in enumerate(payments):
            asm, hexs, kind = self._script(pay.address)
            outputs.append(
                {
                    "index": vout,
                    "script_asm": asm,
                    "script_hex": hexs,
                    "required_signatures": 1,
                    "type": kind,
                    "addresses": [self.book.text(pay.address)],
                    "value": pay.value,
                }
            )
            out_value += pay.value
            u = self._new_utxo(number, vout, pay.address, pay.value)
            if pay.wallet is not None:
                pay.wallet.append(u)
        if op_return is not None:
            data = op_return.hex()
            outputs.append(
                {
                    "index": len(outputs),
                    "script_asm": f"OP_RETURN {data}",
                    "script_hex": f"6a{len(op_return):02x}{data}",
                    "required_signatures": None,
                    "type": "nulldata",
                    "addresses": [],
                    "value": 0,
                }
            )
        vsize = 10 + 68 * len(inputs) + 31 * len(outputs)
        self.txs.write(
            {
                "type": "transaction",
                "hash": txh,
                "size": vsize + 2 * len(inputs),
                "virtual_size": vsize,
                "version": 2,
                "lock_time": 0,
                "block_number": self.block_number,
                "block_hash": self.block_hash,
                "block_timestamp": self.block_ts,
                "is_coinbase": coinbase,
                "index": self._block_index,
                "input_count": len(inputs),
                "output_count": len(outputs),
                "input_value": in_value,
                "output_value": out_value,
                "fee": in_value - out_value if not coinbase else 0,
                "inputs": inputs,
                "outputs": outputs,
            }
        )
        self._block_index += 1
        self._block_size += vsize
        if self.deposit_hook is not None:
            role = self.book.role
            for pay in payments:
                if role[pay.address] == _DEPOSIT:
                    self.deposit_hook(pay.address, pay.value, txh, self.block_ts)
        return txh

    def send(
        self,
        t: int,
        wallet: Wallet,
        payments: list[Payment],
        change: int,
        *,
        fee_rate: int = 8,
        op_return: bytes | None = None,
        change_wallet: Wallet | None = None,
    ) -> str | None:
        """Pay ``payments`` from ``wallet`` with change to address ``change``; None if funds are short."""
        if any(p.value <= DUST for p in payments):
            return None
        need = sum(p.value for p in payments)
        n_out = len(payments) + 1 + (op_return is not None)
        chosen: list[int] = []
        total = 0
        fee = 0
        while True:
            fee = fee_rate * (10 + 68 * max(1, len(chosen)) + 31 * n_out)
            if total >= need + fee and chosen:
                break
            if not wallet:
                wallet.extend(reversed(chosen))
                return None
            u = wallet.pop()
            chosen.append(u)
            total += int(self.u_value[u])
        self._place(t)
        rest = total - need - fee
        outs = list(payments)
        if rest > DUST:
            pos = int(self.rng.integers(len(outs) + 1))
            outs.insert(pos, Payment(change, rest, wallet if change_wallet is None else change_wallet))
        return self._emit(chosen, outs, op_return=op_return)

    def sweep(
        self,
        t: int,
        wallet: Wallet,
        to: int,
        to_wallet: Wallet | None,
        *,
        fee_rate: int = 8,
        max_inputs: int = 200,
        op_return: bytes | None = None,
    ) -> tuple[str, int] | None:
        """Spend (up to ``max_inputs`` of) the wallet's outputs to one address; returns (hash, value sent)."""
        if not wallet:
            return None
        chosen = wallet[-max_inputs:]
        total = int(self.u_value[chosen].sum())
        fee = fee_rate * (10 + 68 * len(chosen) + 31 * (1 + (op_return is not None)))
        if total - fee <= DUST:
            return None
        del wallet[-len(chosen) :]
        self._place(t)
        return self._emit(chosen, [Payment(to, total - fee, to_wallet)], op_return=op_return), total - fee

    def coinjoin(
        self, t: int, wallets: list[tuple[Wallet, int, int]], denomination: int, fee_each: int = 2_000
    ) -> str | None:
        """Equal-value outputs for every participant (wallet, fresh address, change address) plus change.

        Participants who cannot afford the denomination drop out; with fewer than three left nothing is sent.
        """
        taken: list[tuple[Wallet, list[int]]] = []
        outs: list[Payment] = []
        changes: list[Payment] = []
        for wallet, fresh, change in wallets:
            total, chosen = 0, []
            while wallet and total < denomination + fee_each:
                u = wallet.pop()
                chosen.append(u)
                total += int(self.u_value[u])
            taken.append((wallet, chosen))
            if total < denomination + fee_each:
                continue
            outs.append(Payment(fresh, denomination, wallet))
            rest = total - denomination - fee_each
            if rest > DUST:
                changes.append(Payment(change, rest, wallet))
        if len(outs) < 3:
            for wallet, chosen in taken:
                wallet.extend(reversed(chosen))
            return None
        spent = [u for wallet, chosen in taken for u in chosen if any(o.wallet is wallet for o in outs)]
        for wallet, chosen in taken:
            if not any(o.wallet is wallet for o in outs):
                wallet.extend(reversed(chosen))
        self._place(t)
        order = self.rng.permutation(len(outs))
        return self._emit(spent, [outs[int(i)] for i in order] + changes)
