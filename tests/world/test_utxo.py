"""The UTXO chain refuses what bitcoin refuses and writes what bitcoin-etl writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chainsleuth.world.ids import P2PKH, P2WPKH, AddressBook, Hasher
from chainsleuth.world.utxo import BLOCK_COLUMNS, SUBSIDY, TX_COLUMNS, Payment, UtxoChain, Wallet
from chainsleuth.world.writers import RecordWriter

START = 1_704_067_200


@pytest.fixture
def chain(tmp_path: Path) -> UtxoChain:
    book = AddressBook("bitcoin", Hasher(1))
    c = UtxoChain(
        book,
        Hasher(1),
        RecordWriter(tmp_path / "blocks", BLOCK_COLUMNS, "jsonl"),
        RecordWriter(tmp_path / "transactions", TX_COLUMNS, "jsonl"),
        START,
        600,
        np.random.default_rng(0),
    )
    c.miners = [(book.new(0, "mining"), [])]
    return c


def _txs(chain: UtxoChain) -> list[dict[str, Any]]:
    chain.close_block()
    chain.txs.flush()
    return [json.loads(line) for line in chain.txs.path.read_text().splitlines()]


def test_send_with_change_and_fee(chain: UtxoChain) -> None:
    alice: Wallet = []
    a, b = chain.book.new(1, "personal", P2PKH), chain.book.new(2, "personal")
    chain.genesis([Payment(a, 1_000_000, alice)])
    bob: Wallet = []
    txh = chain.send(START + 10, alice, [Payment(b, 300_000, bob)], chain.book.new(1, "change", P2PKH))
    assert txh is not None
    assert chain.balance(bob) == 300_000
    assert 690_000 < chain.balance(alice) < 700_000
    tx = _txs(chain)[-1]
    assert tx["hash"] == txh
    assert list(tx) == list(TX_COLUMNS)
    assert tx["input_value"] == tx["output_value"] + tx["fee"]
    assert tx["inputs"][0]["type"] == "pubkeyhash"


def test_insufficient_funds_leave_the_wallet_untouched(chain: UtxoChain) -> None:
    alice: Wallet = []
    a = chain.book.new(1, "personal")
    chain.genesis([Payment(a, 10_000, alice), Payment(a, 20_000, alice)])
    before = list(alice)
    assert chain.send(START, alice, [Payment(a, 50_000)], a) is None
    assert alice == before
    assert chain.send(START, alice, [Payment(a, 100)], a) is None  # dust is refused


def test_blocks_open_with_a_coinbase(chain: UtxoChain) -> None:
    alice: Wallet = []
    a = chain.book.new(1, "personal")
    chain.genesis([Payment(a, 10**8, alice)])
    chain.send(START + 700, alice, [Payment(a, 10**6)], a)
    txs = _txs(chain)
    assert [t["is_coinbase"] for t in txs] == [True, True, False]
    assert txs[1]["outputs"][0]["value"] == SUBSIDY
    assert txs[1]["index"] == 0
    assert txs[2]["block_timestamp"] >= START + 700


def test_coinjoin_has_equal_outputs(chain: UtxoChain) -> None:
    wallets: list[Wallet] = [[] for _ in range(4)]
    addrs = [chain.book.new(i, "personal", P2WPKH) for i in range(4)]
    chain.genesis([Payment(addrs[i], 3_000_000, wallets[i]) for i in range(4)])
    parts = [(wallets[i], chain.book.new(i, "personal"), chain.book.new(i, "change")) for i in range(4)]
    assert chain.coinjoin(START, parts, 1_000_000) is not None
    tx = _txs(chain)[-1]
    values = [o["value"] for o in tx["outputs"]]
    assert values.count(1_000_000) == 4
    assert tx["input_count"] == 4


def test_coinjoin_needs_three_participants(chain: UtxoChain) -> None:
    wallets: list[Wallet] = [[], []]
    addrs = [chain.book.new(i, "personal") for i in range(2)]
    chain.genesis([Payment(addrs[i], 3_000_000, wallets[i]) for i in range(2)])
    parts = [(wallets[i], addrs[i], addrs[i]) for i in range(2)]
    assert chain.coinjoin(START, parts, 1_000_000) is None
    assert all(len(w) == 1 for w in wallets)


def test_sweep_with_memo(chain: UtxoChain) -> None:
    alice: Wallet = []
    a, dest = chain.book.new(1, "personal"), chain.book.new(2, "custody")
    chain.genesis([Payment(a, 500_000, alice) for _ in range(3)])
    result = chain.sweep(START, alice, dest, None, op_return=b"=:ETH:0xabc")
    assert result is not None
    assert alice == []
    tx = _txs(chain)[-1]
    memo = tx["outputs"][-1]
    assert memo["type"] == "nulldata"
    assert memo["script_asm"] == "OP_RETURN " + b"=:ETH:0xabc".hex()
    assert tx["outputs"][0]["value"] == result[1]
