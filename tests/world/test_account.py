"""The account chain refuses overspending and opens blocks only for transactions that happen."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chainsleuth.world.account import (
    BLOCK_COLUMNS,
    BLOCK_REWARD_GWEI,
    TOKEN_COLUMNS,
    TX_COLUMNS,
    USDT_CONTRACT,
    AccountChain,
)
from chainsleuth.world.ids import AddressBook, Hasher
from chainsleuth.world.writers import RecordWriter

START = 1_704_067_200
GWEI = 10**9


@pytest.fixture
def chain(tmp_path: Path) -> AccountChain:
    book = AddressBook("ethereum", Hasher(1))
    c = AccountChain(
        book,
        Hasher(1),
        RecordWriter(tmp_path / "blocks", BLOCK_COLUMNS, "jsonl"),
        RecordWriter(tmp_path / "transactions", TX_COLUMNS, "jsonl"),
        RecordWriter(tmp_path / "token_transfers", TOKEN_COLUMNS, "jsonl"),
        START,
        12,
        np.random.default_rng(0),
    )
    c.miners = [book.new(1, "mining")]
    c.usdt_contract = book.new(2, "contract")
    book.pin(c.usdt_contract, USDT_CONTRACT)
    return c


def test_eth_transfer_pays_value_and_gas(chain: AccountChain) -> None:
    a, b = chain.book.new(3, "personal"), chain.book.new(4, "personal")
    chain.allocate(a, 10 * GWEI)
    assert chain.send_eth(START, a, b, GWEI) is not None
    fee = 21_000 * chain.gas_price_gwei
    assert chain.eth[a] == 9 * GWEI - fee
    assert chain.eth[b] == GWEI
    assert chain.eth[chain.miners[0]] == BLOCK_REWARD_GWEI + fee
    assert chain.nonce[a] == 1


def test_overspending_is_refused_without_opening_a_block(chain: AccountChain) -> None:
    a, b = chain.book.new(3, "personal"), chain.book.new(4, "personal")
    chain.allocate(a, 1_000)
    assert chain.send_eth(START, a, b, 10 * GWEI) is None
    assert chain.send_eth(START, a, b, -5) is None
    assert chain.block_number == -1
    assert chain.eth[chain.miners[0]] == 0


def test_token_transfer_writes_transfer_call_and_event(chain: AccountChain) -> None:
    issuer, treasury, bob = (chain.book.new(i, "personal") for i in (3, 4, 5))
    chain.allocate(issuer, GWEI)
    chain.allocate(treasury, GWEI)
    assert chain.mint(START, issuer, treasury, 5_000_000) is not None
    txh = chain.send_token(START, treasury, bob, 2_000_000)
    assert txh is not None
    assert chain.usdt[bob] == 2_000_000
    assert chain.usdt[treasury] == 3_000_000
    assert chain.send_token(START, bob, treasury, 9_000_000) is None  # more than bob holds
    chain.close_block()
    chain.txs.flush()
    chain.tokens.flush()
    last = chain.txs.path.read_text().splitlines()[-1]
    assert '"input":"0xa9059cbb' in last
    assert f'"to_address":"{USDT_CONTRACT}"' in last
    events = chain.tokens.path.read_text().splitlines()
    assert '"from_address":"0x0000000000000000000000000000000000000000"' in events[0]
    assert len(events) == 2
