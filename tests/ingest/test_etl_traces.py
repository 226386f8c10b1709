"""ethereum-etl traces: internal value transfers in the ``transfers`` table, skipped non-transfers, errors.

The fixture ``tests/fixtures/etl/traces/traces.{jsonl,csv}`` belongs to the fixture world's ethereum export
(kept apart so that the world's other tests see no traces): transaction 5001/1 pays 200 ETH to contract
0xdddd…, which forwards 120 ETH to 0x1111… (which forwards 20 ETH on to 0x5555…) and 79 ETH to 0x2222…;
it also delegatecalls 0x3333… (the caller's 200 ETH repeated, moving nothing), makes a 1 ETH call to 0x4444…
that runs out of gas (its subcall sending 0.5 ETH on to 0x5555… is reverted with it) and a staticcall;
transaction 5001/2 failed as a whole; block 5002 has a block reward.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from chainsleuth.chain.tracing.loader import load_flow_graph
from chainsleuth.errors import MalformedFileError
from chainsleuth.ingest.etl import ChainIngestReport, ingest_ethereum_etl, ingest_world_chains
from chainsleuth.store.chainstore import ChainStore, ChainWriter
from tests.ingest.etl_helpers import FIXTURES, contents, snapshot, world_copy

ETH = 10**18
CONTRACT, FIRST, SECOND, NESTED = ("0x" + c * 40 for c in "d125")
SKIPPED = ["0x" + c * 40 for c in "346"]  # delegatecall, failed call, staticcall targets


def traced_world(tmp_path: Path, fmt: str = "jsonl") -> Path:
    """The fixture world with its ethereum traces, without bitcoin (not under test here)."""
    world = world_copy(tmp_path, fmt)
    shutil.copy(FIXTURES / "traces" / f"traces.{fmt}", world / "ethereum" / f"traces.{fmt}")
    shutil.rmtree(world / "bitcoin")
    return world


def _ingest(world: Path, store: ChainStore, fmt: str = "jsonl", **options: Any) -> ChainIngestReport:
    eth = world / "ethereum"
    return ingest_ethereum_etl(
        eth / f"blocks.{fmt}",
        eth / f"transactions.{fmt}",
        eth / f"token_transfers.{fmt}",
        store,
        tokens_path=eth / f"tokens.{fmt}",
        traces_path=eth / f"traces.{fmt}",
        **options,
    )


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_internal_transfers_are_stored_with_their_trace_address(tmp_path: Path, fmt: str) -> None:
    store = ChainStore(tmp_path / "store")
    report = ingest_world_chains(traced_world(tmp_path, fmt), store).chains["ethereum"]
    assert (report.transactions, report.transfers, report.internal_transfers, report.reward_traces) == (6, 8, 3, 1)
    rows = store.table("ethereum", "transfers").to_pylist()
    assert [r["kind"] for r in rows] == [
        "native",
        "token",
        "native",
        "internal",
        "internal",
        "internal",
        "native",
        "native",
    ]
    ids = {address: store.address_id("ethereum", address) for address in (CONTRACT, FIRST, SECOND, NESTED)}
    internal = [r for r in rows if r["kind"] == "internal"]
    assert [(r["from_id"], r["to_id"], r["value"], r["trace_address"]) for r in internal] == [
        (ids[CONTRACT], ids[FIRST], Decimal(120 * ETH), "0"),
        (ids[FIRST], ids[NESTED], Decimal(20 * ETH), "0,0"),
        (ids[CONTRACT], ids[SECOND], Decimal(79 * ETH), "4"),
    ]
    assert [r["value_coin"] for r in internal] == [120.0, 20.0, 79.0]
    assert {r["tx_id"] for r in internal} == {rows[2]["tx_id"]}  # all inside the 200 ETH payment
    assert all(r["log_index"] == -1 and r["asset_id"] == 0 for r in internal)
    assert all(r["trace_address"] is None for r in rows if r["kind"] != "internal")
    # Delegatecall, staticcall and the failed call (with its subcall) move nothing: their targets are unknown.
    assert [store.address_id("ethereum", address) for address in SKIPPED] == [None, None, None]
    types = dict(zip(*store.table("ethereum", "addresses", ["address", "type"]).to_pydict().values(), strict=True))
    assert types[FIRST] == "contract"  # it sent value from inside a transaction: it has code
    sql = "SELECT trace_address, value_coin FROM eth_transfers WHERE kind = 'internal' ORDER BY value_coin"
    assert store.query(sql).to_pylist() == [
        {"trace_address": "0,0", "value_coin": 20.0},
        {"trace_address": "4", "value_coin": 79.0},
        {"trace_address": "0", "value_coin": 120.0},
    ]


def test_jsonl_and_csv_traces_give_identical_stores(tmp_path: Path) -> None:
    from_jsonl, from_csv = ChainStore(tmp_path / "a"), ChainStore(tmp_path / "b")
    ingest_world_chains(traced_world(tmp_path, "jsonl"), from_jsonl)
    ingest_world_chains(traced_world(tmp_path / "c", "csv"), from_csv)
    assert contents(from_jsonl) == contents(from_csv)


def test_traces_are_optional(tmp_path: Path) -> None:
    world = traced_world(tmp_path)
    plain, traced = ChainStore(tmp_path / "plain"), ChainStore(tmp_path / "traced")
    eth = world / "ethereum"
    report = ingest_ethereum_etl(eth / "blocks.jsonl", eth / "transactions.jsonl", None, plain, traces_path=None)
    assert (report.transfers, report.internal_transfers) == (4, 0)
    _ingest(world, traced)
    kinds = pc.value_counts(traced.table("ethereum", "transfers").column("kind").cast("string")).to_pylist()
    assert {k["values"]: k["counts"] for k in kinds} == {"native": 4, "token": 1, "internal": 3}


def test_reingest_small_batches_and_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    world = traced_world(tmp_path)
    whole = ChainStore(tmp_path / "whole")
    _ingest(world, whole)
    before = snapshot(whole.root)
    again = _ingest(world, whole)
    assert (again.blocks, again.transfers) == (0, 0)
    assert snapshot(whole.root) == before

    small = ChainStore(tmp_path / "small")
    assert _ingest(world, small, batch_size=1).batches == 4
    assert contents(small) == contents(whole)

    crashed = ChainStore(tmp_path / "crashed")
    real_commit = ChainWriter.commit
    calls = {"n": 0}

    def crash_on_third(self: ChainWriter, *args: object, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("power cut")
        real_commit(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ChainWriter, "commit", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        _ingest(world, crashed, batch_size=1)
    assert crashed.height("ethereum") == 5001
    monkeypatch.setattr(ChainWriter, "commit", real_commit)
    resumed = _ingest(world, crashed, batch_size=1)
    assert resumed.height_before == 5001
    assert contents(crashed) == contents(whole)


def _json_edit(line: int, change: Callable[[dict[str, object]], None]) -> Callable[[list[str]], list[str]]:
    def edit(lines: list[str]) -> list[str]:
        record = json.loads(lines[line - 1])
        change(record)
        lines[line - 1] = json.dumps(record) + "\n"
        return lines

    return edit


def _set(field: str, value: object) -> Callable[[dict[str, object]], None]:
    return lambda record: record.__setitem__(field, value)


JSONL_CASES = [
    (_json_edit(3, _set("trace_address", "0")), 3, "trace_address"),
    (_json_edit(3, _set("trace_address", [0, -1])), 3, "negative"),
    (_json_edit(4, _set("trace_type", "teleport")), 4, "unknown trace_type"),
    (_json_edit(4, _set("call_type", "jumpcall")), 4, "unknown call_type"),
    (_json_edit(3, _set("transaction_hash", "0x" + "9" * 64)), 3, "not in the transactions file"),
    (_json_edit(3, _set("transaction_hash", None)), 3, "without a transaction_hash"),
    (_json_edit(3, _set("to_address", "0x12")), 3, "not an ethereum address"),
    (_json_edit(3, _set("to_address", None)), 3, "without to_address"),
    (_json_edit(3, _set("value", "lots")), 3, "value"),
    (_json_edit(12, _set("block_number", 5005)), 12, "not in the blocks file"),
    (_json_edit(3, _set("block_number", 5000)), 3, "not in block order"),
    (lambda lines: [*lines[:-1], lines[-1][: len(lines[-1]) // 2]], 12, ""),
]


@pytest.mark.parametrize(("edit", "line", "words"), JSONL_CASES)
def test_malformed_traces_name_file_and_line_and_write_nothing(
    tmp_path: Path, edit: Callable[[list[str]], list[str]], line: int, words: str
) -> None:
    world = traced_world(tmp_path)
    path = world / "ethereum" / "traces.jsonl"
    path.write_text("".join(edit(path.read_text().splitlines(keepends=True))))
    store = ChainStore(tmp_path / "store")
    before = snapshot(store.root)
    with pytest.raises(MalformedFileError) as raised:
        ingest_world_chains(world, store)
    assert Path(raised.value.path) == path
    assert raised.value.line == line, str(raised.value)
    assert words.lower() in str(raised.value).lower()
    assert snapshot(store.root) == before


@pytest.mark.parametrize(("bad", "words"), [('"0;0"', "comma-separated"), ('"0,x"', "comma-separated")])
def test_malformed_csv_trace_address(tmp_path: Path, bad: str, words: str) -> None:
    world = traced_world(tmp_path, "csv")
    path = world / "ethereum" / "traces.csv"
    lines = path.read_text().splitlines(keepends=True)
    lines[4] = lines[4].replace('"0,0"', bad)
    path.write_text("".join(lines))
    store = ChainStore(tmp_path / "store")
    with pytest.raises(MalformedFileError) as raised:
        ingest_world_chains(world, store)
    assert (Path(raised.value.path), raised.value.line) == (path, 5)
    assert words in str(raised.value)


def test_failed_batch_keeps_earlier_ones_and_resumes(tmp_path: Path) -> None:
    world = traced_world(tmp_path)
    path = world / "ethereum" / "traces.jsonl"
    good = path.read_text()
    lines = good.splitlines(keepends=True)
    path.write_text("".join(_json_edit(12, _set("trace_type", "teleport"))(lines)))
    store = ChainStore(tmp_path / "store")
    with pytest.raises(MalformedFileError):
        _ingest(world, store, batch_size=1)
    assert store.height("ethereum") == 5001  # blocks 5000 and 5001 committed, 5002 not
    path.write_text(good)
    _ingest(world, store, batch_size=1)
    clean = ChainStore(tmp_path / "clean")
    _ingest(world, clean)
    assert contents(store) == contents(clean)


def test_store_written_before_trace_address_reads_it_as_null(tmp_path: Path) -> None:
    world = traced_world(tmp_path)
    store = ChainStore(tmp_path / "store")
    eth = world / "ethereum"
    ingest_ethereum_etl(eth / "blocks.jsonl", eth / "transactions.jsonl", eth / "token_transfers.jsonl", store)
    for part in store.chain_state("ethereum").table_parts("transfers"):  # as an older version wrote them
        path = store.root / part.file
        pq.write_table(pq.read_table(path).drop_columns(["trace_address"]), path)
    transfers = store.table("ethereum", "transfers")
    assert transfers.column("trace_address").null_count == transfers.num_rows == 5
    assert store.query("SELECT count(trace_address) AS n, count(*) AS m FROM eth_transfers").to_pylist() == [
        {"n": 0, "m": 5}
    ]
    assert len(store.edges("ethereum")) == 5
    assert store.truncate_above("ethereum", 5001) == 2
    _ingest(world, store)  # continues with traces; old and new parts read together
    assert store.query("SELECT count(trace_address) AS n FROM eth_transfers").to_pylist() == [{"n": 0}]
    assert store.table("ethereum", "transfers").num_rows == 5


def test_flow_graph_has_internal_transfers_as_value_edges(tmp_path: Path) -> None:
    store = ChainStore(tmp_path / "store")
    ingest_world_chains(traced_world(tmp_path), store)
    graph = load_flow_graph(store)
    ids = {address: store.address_id("ethereum", address) for address in (CONTRACT, FIRST, SECOND, NESTED)}
    edges = set(zip(graph.addr_from.tolist(), graph.addr_to.tolist(), graph.value.tolist(), strict=True))
    for sender, receiver, value in ((CONTRACT, FIRST, 120.0), (FIRST, NESTED, 20.0), (CONTRACT, SECOND, 79.0)):
        assert (ids[sender], ids[receiver], value) in edges
    # The contract's 200 ETH inflow ranks before what it forwards in the same transaction.
    inflow = np.flatnonzero((graph.addr_to == ids[CONTRACT]) & (graph.value == 200.0))
    outflow = np.flatnonzero((graph.addr_from == ids[CONTRACT]) & (graph.value == 120.0))
    assert graph.out_rank[inflow[0]] < graph.out_rank[outflow[0]]
