"""bitcoin-etl / ethereum-etl ingest: round trip, formats, incremental ids, idempotence, resume, tokens,
CLI."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from chainsleuth.cli import chain_cmd, ingest_chain
from chainsleuth.ingest.etl import ingest_bitcoin_etl, ingest_ethereum_etl, ingest_world_chains
from chainsleuth.store.chainstore import ChainStore, ChainWriter
from tests.ingest.etl_helpers import contents, snapshot, world_copy

USDT = "0x" + "7" * 40
BRIDGE_DEST = "0x" + "d" * 40


@pytest.fixture
def store(tmp_path: Path) -> ChainStore:
    return ChainStore(tmp_path / "store")


def test_bitcoin_round_trip(tmp_path: Path, store: ChainStore) -> None:
    world = world_copy(tmp_path)
    report = ingest_world_chains(world, store)
    btc = report.chains["bitcoin"]
    assert (btc.blocks, btc.transactions, btc.outputs, btc.inputs, btc.unresolved_inputs) == (3, 5, 8, 3, 0)
    txs = store.table("bitcoin", "transactions")
    assert txs.column("tx_id").to_pylist() == [0, 1, 2, 3, 4]
    assert txs.column("is_coinbase").to_pylist() == [True, True, False, True, False]
    assert txs.column("fee").to_pylist() == [0, 0, 10_000, 0, 20_000]
    inputs = store.utxo_inputs("bitcoin")
    # t1 spends cb100:0; t2 spends t1:0 (same batch) and cb101:0.
    assert inputs.tx_ids.tolist() == [2, 4, 4]
    assert inputs.spent_tx_ids.tolist() == [0, 2, 1]
    assert inputs.values.tolist() == [625_000_000, 300_000_000, 625_010_000]
    outputs = store.utxo_outputs("bitcoin")
    assert outputs.address_ids.dtype == np.int64
    assert outputs.values_coin[outputs.tx_ids == 4].tolist() == [9.0, 0.0, 0.2499]
    memo = store.query("SELECT memo, address_id FROM btc_outputs WHERE script_type = 'nulldata'").to_pylist()
    assert memo == [{"memo": "=:ETH:" + BRIDGE_DEST, "address_id": -1}]
    # The multi-input spend's two input addresses are the ids of the outputs they spent (clustering input).
    spent = [int(outputs.address_ids[(outputs.tx_ids == t) & (outputs.index == 0)][0]) for t in (2, 1)]
    assert inputs.address_ids[inputs.tx_ids == 4].tolist() == spent
    assert txs.column("has_op_return").to_pylist() == [False, False, False, False, True]


def test_ethereum_round_trip(tmp_path: Path, store: ChainStore) -> None:
    report = ingest_world_chains(world_copy(tmp_path), store).chains["ethereum"]
    assert (report.blocks, report.transactions, report.transfers) == (4, 6, 5)
    assert report.warnings == []
    rows = store.table("ethereum", "transfers").to_pylist()
    assert [r["kind"] for r in rows] == ["native", "token", "native", "native", "native"]
    token = rows[1]
    assert token["value"] == Decimal(250_000_000)
    assert token["value_coin"] == 250.0
    assert token["log_index"] == 0
    assert rows[2]["value"] == Decimal(200 * 10**18)  # beyond int64: kept exact
    assert rows[2]["value_coin"] == 200.0
    assert 3 not in [r["tx_id"] for r in rows]  # the failed transaction moved nothing
    (usdt,) = store.tokens("ethereum")
    assert (usdt.symbol, usdt.decimals, usdt.source, usdt.token_address) == ("USDT", 6, "tokens_file", USDT)
    assert store.address_id("ethereum", USDT.upper().replace("0X", "0x")) == usdt.address_id
    assert store.addresses("ethereum", [usdt.address_id]) == [USDT]
    edges = store.edges("ethereum")
    assert len(edges) == 5
    assert edges.values.dtype == np.float64
    assert edges.asset_ids.tolist() == [0, 1, 0, 0, 0]
    bridge = store.query(
        "SELECT method_id, input_text FROM eth_transactions WHERE method_id = '0x3d2f19c0'"
    ).to_pylist()
    assert bridge == [{"method_id": "0x3d2f19c0", "input_text": "bc1qdestinationaddr0000000000000000000"}]
    payout = store.query("SELECT lower(hex(input_data)) AS h FROM eth_transactions WHERE method_id = '0xb1d9e0a5'")
    btc_hash = store.table("bitcoin", "transactions").column("hash")[4].as_py()
    assert payout.column("h").to_pylist() == [btc_hash]
    status = store.table("ethereum", "transactions").column("status").to_pylist()
    assert status == [1, 1, 1, 0, 1, 1]


def test_jsonl_and_csv_give_identical_stores(tmp_path: Path) -> None:
    from_jsonl, from_csv = ChainStore(tmp_path / "a"), ChainStore(tmp_path / "b")
    ingest_world_chains(world_copy(tmp_path, "jsonl"), from_jsonl)
    ingest_world_chains(world_copy(tmp_path, "csv"), from_csv)
    assert contents(from_jsonl) == contents(from_csv)
    assert from_jsonl.tokens("ethereum") == from_csv.tokens("ethereum")
    assert sum(len(rows) for rows in contents(from_csv).values()) > 40


def test_reingest_adds_nothing(tmp_path: Path, store: ChainStore) -> None:
    world = world_copy(tmp_path)
    ingest_world_chains(world, store)
    before = snapshot(store.root)
    again = ingest_world_chains(world, store)
    assert all(r.blocks == 0 and r.transactions == 0 and r.batches == 0 for r in again.chains.values())
    assert snapshot(store.root) == before


def _head(source: Path, target: Path, lines: int) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    kept = source.read_text().splitlines(keepends=True)[:lines]
    target.write_text("".join(kept))


def test_incremental_ingest_keeps_ids_stable(tmp_path: Path) -> None:
    world = world_copy(tmp_path)
    partial = tmp_path / "partial"
    # Blocks 100-101 of bitcoin (3 transactions) and 5000-5001 of ethereum (4 transactions, 1 token transfer).
    _head(world / "bitcoin/blocks.jsonl", partial / "bitcoin/blocks.jsonl", 2)
    _head(world / "bitcoin/transactions.jsonl", partial / "bitcoin/transactions.jsonl", 3)
    _head(world / "ethereum/blocks.jsonl", partial / "ethereum/blocks.jsonl", 2)
    _head(world / "ethereum/transactions.jsonl", partial / "ethereum/transactions.jsonl", 4)
    _head(world / "ethereum/token_transfers.jsonl", partial / "ethereum/token_transfers.jsonl", 1)
    _head(world / "ethereum/tokens.jsonl", partial / "ethereum/tokens.jsonl", 1)
    incremental = ChainStore(tmp_path / "incremental")
    ingest_world_chains(partial, incremental)
    first_ids = {c: incremental.table(c, "addresses").to_pylist() for c in ("bitcoin", "ethereum")}
    assert incremental.height("bitcoin") == 101
    assert incremental.height("ethereum") == 5001
    second = ingest_world_chains(world, incremental)
    assert second.chains["bitcoin"].blocks == 1
    assert second.chains["ethereum"].blocks == 2
    # Ids handed out by the first run are unchanged, later ones continue densely from there.
    for chain, rows in first_ids.items():
        assert incremental.table(chain, "addresses").to_pylist()[: len(rows)] == rows
        ids = incremental.table(chain, "addresses").column("address_id").to_pylist()
        assert ids == list(range(len(ids)))
    # A spend in block 102 of an output from block 101 resolves across the two runs.
    assert incremental.utxo_inputs("bitcoin").spent_tx_ids.tolist() == [0, 2, 1]
    one_shot = ChainStore(tmp_path / "one-shot")
    ingest_world_chains(world, one_shot)
    assert contents(incremental) == contents(one_shot)


def test_small_batches_give_the_same_rows(tmp_path: Path) -> None:
    world = world_copy(tmp_path)
    big, small = ChainStore(tmp_path / "big"), ChainStore(tmp_path / "small")
    ingest_world_chains(world, big)
    report = ingest_world_chains(world, small, batch_size=1)
    assert report.chains["bitcoin"].batches == 3
    assert report.chains["ethereum"].batches == 4  # the empty block 5003 is a batch of its own
    assert {k: v for k, v in contents(small).items() if k[1] != "addresses"} == {
        k: v for k, v in contents(big).items() if k[1] != "addresses"
    }


def test_resume_after_crash_mid_ingest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    world = world_copy(tmp_path)
    store = ChainStore(tmp_path / "crashed")
    real_commit = ChainWriter.commit
    calls = {"n": 0}

    def crash_on_second(self: ChainWriter, *args: object, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("power cut")
        real_commit(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ChainWriter, "commit", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        ingest_bitcoin_etl(world / "bitcoin/blocks.jsonl", world / "bitcoin/transactions.jsonl", store, batch_size=1)
    assert store.height("bitcoin") == 100
    assert store.stats()["bitcoin"]["rows"]["transactions"] == 1
    monkeypatch.setattr(ChainWriter, "commit", real_commit)
    resumed = ingest_bitcoin_etl(
        world / "bitcoin/blocks.jsonl", world / "bitcoin/transactions.jsonl", store, batch_size=1
    )
    assert resumed.blocks == 2
    assert resumed.height_before == 100
    clean = ChainStore(tmp_path / "clean")
    ingest_bitcoin_etl(world / "bitcoin/blocks.jsonl", world / "bitcoin/transactions.jsonl", clean, batch_size=1)
    assert contents(store) == contents(clean)


def test_unknown_token_defaults_to_18_decimals_with_warning(tmp_path: Path, store: ChainStore) -> None:
    world = world_copy(tmp_path)
    report = ingest_ethereum_etl(
        world / "ethereum/blocks.jsonl",
        world / "ethereum/transactions.jsonl",
        world / "ethereum/token_transfers.jsonl",
        store,
    )
    assert len(report.warnings) == 1
    assert USDT in report.warnings[0]
    assert "18" in report.warnings[0]
    (token,) = store.tokens("ethereum")
    assert (token.decimals, token.source) == (18, "default")
    value_coin = store.edges("ethereum", asset_id=1).values
    assert value_coin.tolist() == [250_000_000 / 1e18]


def test_cli_ingest_and_inspect(tmp_path: Path) -> None:
    app = typer.Typer()
    ingest = typer.Typer()
    ingest.command("chains")(ingest_chain.chains)
    app.add_typer(ingest, name="ingest")
    app.add_typer(chain_cmd.app, name="chain")
    runner = CliRunner()
    store_dir = str(tmp_path / "store")
    result = runner.invoke(app, ["ingest", "chains", str(world_copy(tmp_path, "csv")), "--store", store_dir])
    assert result.exit_code == 0, result.output
    stats = runner.invoke(app, ["chain", "stats", "--json", "--store", store_dir])
    assert json.loads(stats.output)["ethereum"]["rows"]["transfers"] == 5
    info = runner.invoke(app, ["chain", "address", BRIDGE_DEST, "--chain", "ethereum", "--store", store_dir])
    assert json.loads(info.output)["totals"]["ETH"]["received"] == 200.5
    tx_hash = ChainStore(Path(store_dir)).table("bitcoin", "transactions").column("hash")[2].as_py()
    tx = runner.invoke(app, ["chain", "tx", tx_hash, "--store", store_dir])
    assert [o["value"] for o in json.loads(tx.output)["outputs"]] == [300_000_000, 324_990_000]
    sql = runner.invoke(app, ["chain", "sql", "SELECT count(*) AS n FROM btc_outputs", "--store", store_dir])
    assert sql.exit_code == 0
    assert "8" in sql.output
    rejected = runner.invoke(app, ["chain", "sql", "DROP VIEW btc_outputs", "--store", store_dir])
    assert rejected.exit_code != 0


def test_reingest_skips_committed_blocks_one_read_block_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chainsleuth.ingest import etl_read

    monkeypatch.setattr(etl_read, "BLOCK_SIZE", 1024)
    monkeypatch.setattr(etl_read, "LARGE_BLOCK_SIZE", 2048)
    world = world_copy(tmp_path)
    store = ChainStore(tmp_path / "store")
    ingest_world_chains(world, store)
    largest: list[int] = []
    real_buffered = etl_read.BlockOrderedStream._buffered

    def spy(self: etl_read.BlockOrderedStream) -> object:
        table = real_buffered(self)
        largest.append(table.num_rows)
        return table

    monkeypatch.setattr(etl_read.BlockOrderedStream, "_buffered", spy)
    again = ingest_world_chains(world, store)
    assert again.transactions == 0
    assert max(largest) < 5  # never the whole file in memory while skipping
