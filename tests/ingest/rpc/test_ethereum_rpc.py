"""The Ethereum JSON-RPC ingest against a real node (anvil), with real transactions and a real ERC-20 token.

The token is the hand-assembled contract of ``evm_token.py`` installed with ``anvil_setCode``; its transfers
are real ``transfer(address,uint256)`` calls whose ``Transfer`` logs anvil emits. Blocks are mined with
``evm_mine`` with automine off, so blocks hold several transactions. The reorg test replaces blocks with
``evm_snapshot``/``evm_revert`` and different transactions.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from chainsleuth.errors import InvalidInputError
from chainsleuth.ingest.rpc import ingest_ethereum_rpc
from chainsleuth.store.chainstore import ChainStore
from tests.ingest.etl_helpers import contents, snapshot
from tests.ingest.rpc.conftest import Anvil
from tests.ingest.rpc.evm_token import DECIMALS, RUNTIME, SYMBOL, balance_slot, transfer_input
from tests.ingest.rpc.fake_node import fake_node

TOKEN = "0x5fbdb2315678afecb367f032d93f642f64180aa3"
ETH = 10**18


def install_token(anvil: Anvil, holder: str, balance: int) -> None:
    anvil.rpc("anvil_setCode", TOKEN, "0x" + RUNTIME.hex())
    anvil.rpc("anvil_setStorageAt", TOKEN, balance_slot(holder), "0x" + balance.to_bytes(32, "big").hex())


def mine_block(anvil: Anvil, sends: list[dict[str, Any]]) -> list[str]:
    """Send transactions with automine off and mine them into one block; returns their hashes."""
    anvil.rpc("evm_setAutomine", False)
    hashes = [anvil.send(**send) for send in sends]
    anvil.mine()
    anvil.rpc("evm_setAutomine", True)
    return hashes


def transfers(store: ChainStore) -> list[tuple[str | None, str | None, int, str, int]]:
    """(from, to, exact value, kind, asset id) of every stored transfer, in store order."""
    rows = store.table("ethereum", "transfers").to_pylist()
    names = store.addresses("ethereum", [r["from_id"] for r in rows] + [r["to_id"] for r in rows])
    return [
        (names[i], names[len(rows) + i], int(row["value"]), row["kind"], row["asset_id"]) for i, row in enumerate(rows)
    ]


def assert_store_matches_node(store: ChainStore, anvil: Anvil) -> None:
    """Every stored block hash is the node's hash at that height, and the store reaches the node's tip."""
    blocks = store.table("ethereum", "blocks").to_pylist()
    assert [b["number"] for b in blocks] == list(range(anvil.height() + 1))
    for block in blocks:
        assert block["hash"] == anvil.rpc("eth_getBlockByNumber", hex(block["number"]), False)["hash"]


def test_ingest_stores_exactly_the_node_transfers(anvil: Anvil, tmp_path: Path) -> None:
    a, b, c, d = anvil.accounts()
    install_token(anvil, a, 10**12)
    first = mine_block(
        anvil,
        [
            {"sender": a, "to": b, "value": 3 * ETH // 2, "gas": 21_000},
            {"sender": b, "to": c, "value": 123_456_789, "gas": 21_000},
            {"sender": a, "to": TOKEN, "data": transfer_input(b, 12_345)},
            {"sender": c, "to": TOKEN, "data": transfer_input(d, 10**9)},  # no balance: reverts
        ],
    )
    mine_block(anvil, [{"sender": b, "to": TOKEN, "data": transfer_input(d, 345)}])
    anvil.mine(2)
    store = ChainStore(tmp_path / "store")

    report = ingest_ethereum_rpc(anvil.url, store)

    assert report.height_before == -1
    assert report.height_after == anvil.height() == 4
    assert report.blocks == 5
    assert report.transactions == 5
    assert report.transfers == 4
    assert report.rollbacks == []
    assert_store_matches_node(store, anvil)
    assert transfers(store) == [
        (a, b, 3 * ETH // 2, "native", 0),
        (b, c, 123_456_789, "native", 0),
        (a, b, 12_345, "token", 1),
        (b, d, 345, "token", 1),
    ]
    coins = store.table("ethereum", "transfers", ["value_coin"]).column("value_coin").to_pylist()
    assert coins == pytest.approx([1.5, 1.23456789e-10, 0.012345, 0.000345])
    [token] = store.tokens("ethereum")
    assert (token.token_address, token.symbol, token.decimals, token.source) == (TOKEN, SYMBOL, DECIMALS, "node")
    assert store.address_info("ethereum", TOKEN)["type"] == "contract"

    txs = {row["hash"]: row for row in store.table("ethereum", "transactions").to_pylist()}
    failed = txs[first[3]]
    assert failed["status"] == 0
    assert failed["method_id"] == "0xa9059cbb"
    receipt = anvil.rpc("eth_getTransactionReceipt", first[0])
    assert txs[first[0]]["fee"] == Decimal(int(receipt["gasUsed"], 16) * int(receipt["effectiveGasPrice"], 16))
    assert txs[first[0]]["value"] == Decimal(3 * ETH // 2)

    # Re-ingesting the same range adds nothing and writes nothing.
    before = snapshot(store.root)
    again = ingest_ethereum_rpc(anvil.url, store)
    assert again.blocks == 0
    assert again.transactions == 0
    assert snapshot(store.root) == before

    # New blocks: the ingest resumes after the stored height.
    later = mine_block(anvil, [{"sender": d, "to": TOKEN, "data": transfer_input(a, 45)}])
    resumed = ingest_ethereum_rpc(anvil.url, store)
    assert (resumed.height_before, resumed.height_after, resumed.blocks) == (4, 5, 1)
    assert transfers(store)[-1] == (d, a, 45, "token", 1)
    stored_later = store.transaction("ethereum", later[0])
    assert stored_later is not None
    assert stored_later["tx_id"] == 5
    assert len(store.tokens("ethereum")) == 1


def test_confirmations_and_block_range(anvil: Anvil, tmp_path: Path) -> None:
    a, b, _, _ = anvil.accounts()
    for _ in range(6):
        anvil.send(a, b, value=1, gas=21_000)  # automine: one block each, heights 1..6
    store = ChainStore(tmp_path / "store")

    assert ingest_ethereum_rpc(anvil.url, store, to_block=2).height_after == 2
    lagging = ingest_ethereum_rpc(anvil.url, store, confirmations=3)
    assert (lagging.node_tip, lagging.target, lagging.height_after) == (6, 3, 3)
    with pytest.raises(InvalidInputError, match="gap"):
        ingest_ethereum_rpc(anvil.url, store, from_block=5)
    assert ingest_ethereum_rpc(anvil.url, store).height_after == 6
    assert len(transfers(store)) == 6

    fresh = ChainStore(tmp_path / "fresh")
    assert ingest_ethereum_rpc(anvil.url, fresh, from_block=4).blocks == 3
    assert fresh.chain_state("ethereum").first_block == 4


def test_reorg_is_rolled_back_and_store_matches_node(anvil: Anvil, tmp_path: Path) -> None:
    a, b, c, d = anvil.accounts()
    install_token(anvil, a, 10**9)
    mine_block(anvil, [{"sender": a, "to": TOKEN, "data": transfer_input(b, 1_000)}])  # block 1, kept
    fork = anvil.rpc("evm_snapshot")
    mine_block(anvil, [{"sender": a, "to": TOKEN, "data": transfer_input(c, 2_000)}])  # block 2, replaced
    mine_block(anvil, [{"sender": a, "to": c, "value": ETH, "gas": 21_000}])  # block 3, replaced
    store = ChainStore(tmp_path / "store")
    ingest_ethereum_rpc(anvil.url, store)
    replaced = [anvil.rpc("eth_getBlockByNumber", hex(n), False)["hash"] for n in (2, 3)]
    assert (a, c, 2_000, "token", 1) in transfers(store)

    assert anvil.rpc("evm_revert", fork) is True
    mine_block(anvil, [{"sender": a, "to": TOKEN, "data": transfer_input(d, 7_000)}])  # new block 2
    mine_block(anvil, [{"sender": b, "to": d, "value": 2 * ETH, "gas": 21_000}])  # new block 3
    anvil.mine()  # block 4

    report = ingest_ethereum_rpc(anvil.url, store)

    [rollback] = report.rollbacks
    assert rollback.fork_height == 1
    assert rollback.old_height == 3
    assert rollback.removed == [(2, replaced[0]), (3, replaced[1])]
    assert report.height_after == 4
    assert_store_matches_node(store, anvil)
    assert transfers(store) == [(a, b, 1_000, "token", 1), (a, d, 7_000, "token", 1), (b, d, 2 * ETH, "native", 0)]
    # The rolled-back store is identical to one ingested from scratch from the node as it is now.
    fresh = ChainStore(tmp_path / "fresh")
    ingest_ethereum_rpc(anvil.url, fresh)
    assert contents(store) == contents(fresh)
    assert store.tokens("ethereum") == fresh.tokens("ethereum")


def test_malformed_node_answer_names_the_block_and_writes_nothing(anvil: Anvil, tmp_path: Path) -> None:
    a, b, _, _ = anvil.accounts()
    for _ in range(3):
        anvil.send(a, b, value=5, gas=21_000)
    upstream = httpx.Client(timeout=30)

    def corrupting(request: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = upstream.post(anvil.url, json=request).json()
        if request["method"] == "eth_getBlockByNumber" and request["params"] == ["0x2", True]:
            del answer["result"]["transactions"][0]["from"]
        if request["method"] == "eth_getBlockReceipts" and request["params"] == ["0x3"] and corrupt_status:
            answer["result"][0]["status"] = 1  # a number where a hex quantity belongs
        return {key: value for key, value in answer.items() if key in ("result", "error")}

    store = ChainStore(tmp_path / "store")
    ingest_ethereum_rpc(anvil.url, store, to_block=1)
    before = snapshot(store.root)
    corrupt_status = False
    with fake_node(corrupting) as node, pytest.raises(InvalidInputError) as missing:
        ingest_ethereum_rpc(node.url, store)
    upstream.close()
    assert "'from' is missing" in str(missing.value)
    assert missing.value.details["block"] == 2
    assert missing.value.details["method"] == "eth_getBlockByNumber"
    assert snapshot(store.root) == before  # nothing of blocks 2-3 was written
    resumed = ingest_ethereum_rpc(anvil.url, store)
    assert resumed.height_before == 1
    assert resumed.height_after == 3
    assert len(transfers(store)) == 3

    bad_store = ChainStore(tmp_path / "bad")
    upstream = httpx.Client(timeout=30)
    corrupt_status = True
    with fake_node(corrupting) as node, pytest.raises(InvalidInputError) as wrong_type:
        ingest_ethereum_rpc(node.url, bad_store, from_block=3)
    upstream.close()
    assert "'status' is malformed" in str(wrong_type.value)
    assert wrong_type.value.details["block"] == 3
    assert snapshot(bad_store.root) == {}


def test_nodes_without_block_receipts_fall_back_to_transaction_receipts(anvil: Anvil, tmp_path: Path) -> None:
    a, b, c, _ = anvil.accounts()
    install_token(anvil, a, 10**9)
    mine_block(
        anvil,
        [
            {"sender": a, "to": TOKEN, "data": transfer_input(b, 500)},
            {"sender": b, "to": c, "value": ETH, "gas": 21_000},
        ],
    )
    upstream = httpx.Client(timeout=30)

    def without_block_receipts(request: dict[str, Any]) -> dict[str, Any]:
        if request["method"] == "eth_getBlockReceipts":
            return {"error": {"code": -32601, "message": "the method eth_getBlockReceipts does not exist"}}
        answer: dict[str, Any] = upstream.post(anvil.url, json=request).json()
        return {key: value for key, value in answer.items() if key in ("result", "error")}

    store = ChainStore(tmp_path / "store")
    with fake_node(without_block_receipts) as node:
        ingest_ethereum_rpc(node.url, store)
    upstream.close()
    assert "eth_getTransactionReceipt" in node.requests
    direct = ChainStore(tmp_path / "direct")
    ingest_ethereum_rpc(anvil.url, direct)
    assert contents(store) == contents(direct)
    assert transfers(store) == [(a, b, 500, "token", 1), (b, c, ETH, "native", 0)]
