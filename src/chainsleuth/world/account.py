"""An ethereum-like account chain with native ETH and one ERC-20 token (USDT), as ethereum-etl records.

Balances live in numpy arrays indexed by address: ETH in gwei (every simulated ETH amount is a whole number
of gwei, so int64 suffices; exports show wei) and USDT in its 6-decimal base units. A transfer that the sender
cannot pay (value plus gas) is refused, so no balance can go negative. Miners get ``BLOCK_REWARD_GWEI`` per
block and all gas fees (``gas`` x ``gas_price``; gas equals gas used in this world), as on proof-of-work
Ethereum; the starting balances are the genesis allocation listed in manifest.json.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from chainsleuth.world.ids import ROLE, AddressBook, Hasher
from chainsleuth.world.writers import RecordWriter

GWEI = 10**9
_DEPOSIT = ROLE["deposit"]
BLOCK_REWARD_GWEI = 2 * GWEI
USDT_CONTRACT = "0xdac17f958d2ee523a2206206994597c13d831ec7"
ZERO_ADDRESS = "0x" + "0" * 40
TRANSFER_SELECTOR = "0xa9059cbb"
MINT_SELECTOR = "0x40c10f19"
GAS_ETH, GAS_TOKEN, GAS_CALL = 21_000, 60_000, 90_000
#: Called for every credit of a deposit address: (sender, address, asset, amount units, tx hash, block time).
TokenHook = Callable[[int, int, str, int, str, int], None]

BLOCK_COLUMNS = (
    "type",
    "number",
    "hash",
    "parent_hash",
    "nonce",
    "sha3_uncles",
    "logs_bloom",
    "transactions_root",
    "state_root",
    "receipts_root",
    "miner",
    "difficulty",
    "total_difficulty",
    "size",
    "extra_data",
    "gas_limit",
    "gas_used",
    "timestamp",
    "transaction_count",
    "base_fee_per_gas",
)
TX_COLUMNS = (
    "type",
    "hash",
    "nonce",
    "transaction_index",
    "from_address",
    "to_address",
    "value",
    "gas",
    "gas_price",
    "input",
    "block_timestamp",
    "block_number",
    "block_hash",
    "max_fee_per_gas",
    "max_priority_fee_per_gas",
    "transaction_type",
    "receipt_status",
)
TOKENS_COLUMNS = (
    "type",
    "address",
    "symbol",
    "name",
    "decimals",
    "total_supply",
    "block_number",
    "block_timestamp",
)
TOKEN_COLUMNS = (
    "type",
    "token_address",
    "from_address",
    "to_address",
    "value",
    "transaction_hash",
    "log_index",
    "block_number",
    "block_timestamp",
)
_EMPTY_UNCLES = "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347"


class AccountChain:
    """State and writers of the simulated ethereum chain."""

    def __init__(
        self,
        book: AddressBook,
        hasher: Hasher,
        blocks: RecordWriter,
        txs: RecordWriter,
        tokens: RecordWriter,
        start_ts: int,
        slot_seconds: int,
        rng: np.random.Generator,
        *,
        receipts: RecordWriter | None = None,
    ) -> None:
        self.book, self.hasher, self.blocks, self.txs, self.tokens = book, hasher, blocks, txs, tokens
        self.receipts = receipts
        self.start_ts, self.slot_seconds, self.rng = start_ts, slot_seconds, rng
        cap = 1 << 14
        self.eth: npt.NDArray[np.int64] = np.zeros(cap, dtype=np.int64)
        self.usdt: npt.NDArray[np.int64] = np.zeros(cap, dtype=np.int64)
        self.nonce: npt.NDArray[np.int64] = np.zeros(cap, dtype=np.int64)
        self.n_tx = 0
        self.n_token = 0
        self.block_number = -1
        self.block_ts = start_ts
        self.block_hash = ZERO_ADDRESS[:2] + "0" * 64
        self._parent = self.block_hash
        self._slot = -1
        self._index = 0
        self._gas_used = 0
        self._miner = 0
        self._log_index = 0
        self.miners: list[int] = []
        self.deposit_hook: TokenHook | None = None
        self.genesis_alloc: list[tuple[int, int]] = []
        self.gas_price_gwei = 20
        self._next: tuple[int, int] | None = None  # miner and gas price of the next block, once drawn
        self.zero = book.new(0, "contract")
        book.pin(self.zero, ZERO_ADDRESS)
        self.usdt_contract = -1
        self.minted = 0

    def ensure(self) -> None:
        """Grow the balance arrays to cover every allocated address."""
        if self.book.count > len(self.eth):
            grow = max(self.book.count, len(self.eth) * 2)
            for name in ("eth", "usdt", "nonce"):
                arr = getattr(self, name)
                new = np.zeros(grow, dtype=np.int64)
                new[: len(arr)] = arr
                setattr(self, name, new)

    def allocate(self, address: int, gwei: int) -> None:
        """Genesis allocation of ETH (listed in manifest.json; there are no genesis transactions)."""
        self.ensure()
        self.eth[address] += gwei
        self.genesis_alloc.append((address, gwei))

    # ----------------------------------------------------------------- blocks
    def _gas_price_at(self, t: int) -> int:
        """Gas price a transaction at ``t`` will pay: the current block's, or the next block's if it opens one."""
        if max(0, (t - self.start_ts) // self.slot_seconds) > self._slot:
            if self._next is None:
                self._next = (self.miners[int(self.rng.integers(len(self.miners)))], int(self.rng.integers(8, 40)))
            return self._next[1]
        return self.gas_price_gwei

    def _place(self, t: int) -> None:
        """Open the block of ``t``'s slot; only called once a transaction is sure to go in it."""
        slot = max(0, (t - self.start_ts) // self.slot_seconds)
        if slot <= self._slot:
            return
        self._gas_price_at(t)
        assert self._next is not None
        self.close_block()
        self._slot = slot
        self.block_number += 1
        self.block_ts = self.start_ts + (slot + 1) * self.slot_seconds
        self._parent = self.block_hash
        self.block_hash = "0x" + self.hasher.hex(b"ethblock", self.block_number)
        self._index = 0
        self._gas_used = 0
        self._log_index = 0
        self._miner, self.gas_price_gwei = self._next
        self._next = None
        self.ensure()
        self.eth[self._miner] += BLOCK_REWARD_GWEI

    def close_block(self) -> None:
        if self._index == 0:
            return
        n = self.block_number
        h = self.hasher
        self.blocks.write(
            {
                "type": "block",
                "number": n,
                "hash": self.block_hash,
                "parent_hash": self._parent,
                "nonce": "0x" + h.hex(b"ethnonce", n)[:16],
                "sha3_uncles": _EMPTY_UNCLES,
                "logs_bloom": "0x" + "0" * 512,
                "transactions_root": "0x" + h.hex(b"ethtxroot", n),
                "state_root": "0x" + h.hex(b"ethstate", n),
                "receipts_root": "0x" + h.hex(b"ethreceipts", n),
                "miner": self.book.text(self._miner),
                "difficulty": 10**13,
                "total_difficulty": 10**13 * (n + 1),
                "size": 540 + 110 * self._index,
                "extra_data": "0x",
                "gas_limit": 30_000_000,
                "gas_used": self._gas_used,
                "timestamp": self.block_ts,
                "transaction_count": self._index,
                "base_fee_per_gas": None,
            }
        )
        self._index = 0

    # ----------------------------------------------------------------- transactions
    def _tx(self, t: int, frm: int, to: int, gwei: int, gas: int, data: str) -> str | None:
        self.ensure()
        fee = gas * self._gas_price_at(t)
        if gwei < 0 or self.eth[frm] < gwei + fee:
            return None
        self._place(t)
        number = self.n_tx
        self.n_tx += 1
        txh = "0x" + self.hasher.hex(b"ethtx", number)
        self.eth[frm] -= gwei + fee
        self.eth[to] += gwei
        self.eth[self._miner] += fee
        nonce = int(self.nonce[frm])
        self.nonce[frm] = nonce + 1
        self.txs.write(
            {
                "type": "transaction",
                "hash": txh,
                "nonce": nonce,
                "transaction_index": self._index,
                "from_address": self.book.text(frm),
                "to_address": self.book.text(to),
                "value": gwei * GWEI,
                "gas": gas,
                "gas_price": self.gas_price_gwei * GWEI,
                "input": data,
                "block_timestamp": self.block_ts,
                "block_number": self.block_number,
                "block_hash": self.block_hash,
                "max_fee_per_gas": None,
                "max_priority_fee_per_gas": None,
                "transaction_type": 0,
                "receipt_status": 1,
            }
        )
        if self.receipts is not None:  # every simulated transaction succeeds and uses all its gas
            self.receipts.write(
                {
                    "transaction_hash": txh,
                    "transaction_index": self._index,
                    "block_hash": self.block_hash,
                    "block_number": self.block_number,
                    "cumulative_gas_used": self._gas_used + gas,
                    "gas_used": gas,
                    "contract_address": None,
                    "root": None,
                    "status": 1,
                    "effective_gas_price": self.gas_price_gwei * GWEI,
                }
            )
        self._index += 1
        self._gas_used += gas
        if gwei and self.book.role[to] == _DEPOSIT and self.deposit_hook is not None:
            self.deposit_hook(frm, to, "ETH", gwei, txh, self.block_ts)
        return txh

    def _token_event(self, txh: str, frm: int, to: int, micro: int) -> None:
        self.usdt[frm] -= micro
        self.usdt[to] += micro
        self.n_token += 1
        self.tokens.write(
            {
                "type": "token_transfer",
                "token_address": USDT_CONTRACT,
                "from_address": self.book.text(frm),
                "to_address": self.book.text(to),
                "value": micro,
                "transaction_hash": txh,
                "log_index": self._log_index,
                "block_number": self.block_number,
                "block_timestamp": self.block_ts,
            }
        )
        self._log_index += 1
        if self.book.role[to] == _DEPOSIT and self.deposit_hook is not None:
            self.deposit_hook(frm, to, "USDT", micro, txh, self.block_ts)

    def fee(self, gas: int = GAS_ETH) -> int:
        """A safe upper bound of the gas fee in gwei (gas prices stay below 40 gwei)."""
        return gas * 40

    def send_eth(self, t: int, frm: int, to: int, gwei: int, data: str = "0x") -> str | None:
        """Transfer ETH; None if the sender cannot pay value plus gas."""
        return self._tx(t, frm, to, gwei, GAS_ETH if data == "0x" else GAS_CALL, data)

    def send_token(self, t: int, frm: int, to: int, micro: int) -> str | None:
        """ERC-20 ``transfer`` of USDT: a transaction to the token contract plus a token_transfers row."""
        self.ensure()
        if self.usdt[frm] < micro or micro <= 0:
            return None
        data = TRANSFER_SELECTOR + self.book.text(to)[2:].rjust(64, "0") + f"{micro:064x}"
        txh = self._tx(t, frm, self.usdt_contract, 0, GAS_TOKEN, data)
        if txh is not None:
            self._token_event(txh, frm, to, micro)
        return txh

    def contract_token_payout(self, t: int, relayer: int, contract: int, to: int, micro: int, data: str) -> str | None:
        """A relayer calls ``contract``, which transfers USDT it holds to ``to`` (bridges do this)."""
        self.ensure()
        if self.usdt[contract] < micro:
            return None
        txh = self._tx(t, relayer, contract, 0, GAS_CALL, data)
        if txh is not None:
            self._token_event(txh, contract, to, micro)
        return txh

    def mint(self, t: int, issuer: int, treasury: int, micro: int) -> str | None:
        """The token issuer mints USDT to its treasury (a Transfer from the zero address, as on mainnet)."""
        data = MINT_SELECTOR + self.book.text(treasury)[2:].rjust(64, "0") + f"{micro:064x}"
        txh = self._tx(t, issuer, self.usdt_contract, 0, GAS_CALL, data)
        if txh is not None:
            self.usdt[self.zero] += micro
            self.minted += micro
            self._token_event(txh, self.zero, treasury, micro)
        return txh
