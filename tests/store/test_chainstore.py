"""The columnar chain store: dense ids, atomic commits, crash leftovers, rollback, lookups, DuckDB views."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from chainsleuth.errors import ConflictError, InvalidInputError, NotFoundError
from chainsleuth.ingest.etl import ingest_world_chains
from chainsleuth.store.chainstore import AddressColumn, AddressDictionary, ChainStore
from chainsleuth.store.chainstore import state as state_module
from tests.ingest.etl_helpers import contents, snapshot, world_copy


@pytest.fixture
def loaded(tmp_path: Path) -> ChainStore:
    store = ChainStore(tmp_path / "store")
    ingest_world_chains(world_copy(tmp_path), store)
    return store


def _column(values: list[str | None], blocks: list[int], kind: str = "account") -> AddressColumn:
    return AddressColumn(pa.array(values, pa.string()), np.array(blocks, dtype=np.int64), kind)


def test_address_dictionary_is_dense_in_block_order_and_rolls_back() -> None:
    dictionary = AddressDictionary("ethereum", ["known"])
    ids = dictionary.encode([_column(["b", None, "known"], [7, 7, 7]), _column(["a", "b", ""], [5, 9, 9])])
    # "a" appears first by block (5), then "b" (7): ids continue after the one known address.
    assert ids[0].tolist() == [2, -1, 0]
    assert ids[1].tolist() == [1, 2, -1]
    pending = dictionary.pending_table().to_pylist()
    assert [(r["address"], r["first_seen_block"]) for r in pending] == [("a", 5), ("b", 7)]
    dictionary.rollback()
    assert len(dictionary) == 1
    assert dictionary.get("a") is None
    again = dictionary.encode([_column(["a", "b"], [5, 7])])
    assert again[0].tolist() == [1, 2]  # a retry hands out exactly the same ids


def test_addresses_persist_and_reload(loaded: ChainStore) -> None:
    files = loaded.files("bitcoin", "addresses")
    dictionary = AddressDictionary.load("bitcoin", files)
    table = loaded.table("bitcoin", "addresses")
    assert len(dictionary) == table.num_rows == loaded.stats()["bitcoin"]["addresses"]
    for address, address_id in zip(
        table.column("address").to_pylist(), table.column("address_id").to_pylist(), strict=True
    ):
        assert dictionary.get(address) == address_id
        assert loaded.address_id("bitcoin", address) == address_id
        assert loaded.address("bitcoin", address_id) == address
    assert loaded.address_id("bitcoin", "1NeverSeen") is None
    with pytest.raises(NotFoundError):
        loaded.address("bitcoin", 10_000)


def test_failed_commit_leaves_no_trace(loaded: ChainStore, monkeypatch: pytest.MonkeyPatch) -> None:
    before = snapshot(loaded.root)

    def power_cut(root: Path, state: object) -> None:
        raise OSError("disk full")

    tables = {name: loaded.table("bitcoin", name) for name in ("blocks", "transactions", "outputs", "inputs")}
    monkeypatch.setattr("chainsleuth.store.chainstore.writer.write_state", power_cut)
    with loaded.writer("bitcoin") as writer:
        writer.allocate_tx_ids(5)
        writer.encode_addresses([_column(["1New"], [103], "pubkeyhash")])
        with pytest.raises(OSError, match="disk full"):
            writer.commit(tables, 103, 103)
        writer.rollback()
        assert writer.addresses.get("1New") is None
    assert snapshot(loaded.root) == before
    assert loaded.height("bitcoin") == 102


def test_crash_leftovers_are_invisible_and_cleaned(loaded: ChainStore) -> None:
    orphan = loaded.root / "bitcoin" / "blocks" / "000000000103-000000000103-000099.parquet"
    orphan.write_bytes(b"half a parquet file")
    temp = loaded.root / "bitcoin" / "outputs" / ".tmp-deadbeef"
    temp.write_bytes(b"partial")
    assert loaded.table("bitcoin", "blocks").num_rows == 3  # readers only open committed parts
    assert loaded.query("SELECT count(*) AS n FROM btc_blocks").column("n").to_pylist() == [3]
    with loaded.writer("bitcoin") as writer:
        assert writer.height == 102
    assert not orphan.exists()
    assert not temp.exists()


def test_commit_must_extend_the_chain(loaded: ChainStore) -> None:
    with pytest.raises(InvalidInputError), loaded.writer("bitcoin") as writer:
        writer.commit({}, 102, 102)


def test_one_writer_at_a_time(loaded: ChainStore) -> None:
    with loaded.writer("bitcoin"), pytest.raises(ConflictError), loaded.writer("ethereum"):
        pass


def test_truncate_above_rolls_back_blocks_ids_and_addresses(tmp_path: Path, loaded: ChainStore) -> None:
    full = contents(loaded)
    assert loaded.truncate_above("bitcoin", 101) == 1
    assert loaded.height("bitcoin") == 101
    assert loaded.table("bitcoin", "blocks").column("number").to_pylist() == [100, 101]
    assert loaded.table("bitcoin", "transactions").column("tx_id").to_pylist() == [0, 1, 2]
    assert loaded.table("bitcoin", "inputs").num_rows == 1
    addresses = loaded.table("bitcoin", "addresses")
    assert max(addresses.column("first_seen_block").to_pylist()) <= 101
    assert addresses.column("address_id").to_pylist() == list(range(addresses.num_rows))
    assert loaded.chain_state("bitcoin").next_tx_id == 3
    assert loaded.height("ethereum") == 5003  # other chains untouched
    assert loaded.truncate_above("bitcoin", 500) == 0
    # Re-ingesting restores exactly the same store, same ids.
    ingest_world_chains(world_copy(tmp_path / "again"), loaded)
    assert contents(loaded) == full
    assert loaded.truncate_above("ethereum", 10) == 4
    assert loaded.height("ethereum") == -1
    assert loaded.table("ethereum", "transfers").num_rows == 0
    assert loaded.stats()["ethereum"]["addresses"] == 0
    assert loaded.tokens("ethereum") == []


def test_duckdb_views_answer(loaded: ChainStore) -> None:
    connection = loaded.duckdb_connection()
    tables = {row[0] for row in connection.sql("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    assert {"btc_blocks", "btc_transactions", "btc_outputs", "btc_inputs", "btc_addresses"} <= tables
    received = connection.sql(
        """SELECT a.address, sum(o.value) AS sat
           FROM btc_outputs o JOIN btc_addresses a USING (address_id)
           GROUP BY a.address ORDER BY sat DESC LIMIT 1"""
    ).fetchall()
    assert received == [("1MinerP2pkhAddr5gYmEt1n6bqW7xyzQ", 1_250_010_000)]
    usdt = connection.sql(
        "SELECT t.symbol, sum(x.value_coin) FROM eth_transfers x JOIN eth_tokens t USING (asset_id) GROUP BY 1"
    ).fetchall()
    assert usdt == [("USDT", 250.0)]
    with pytest.raises(Exception, match=r"(?i)permission|disabled"):
        connection.sql("SELECT * FROM read_csv('/etc/hostname')").fetchall()
    with pytest.raises(InvalidInputError):
        loaded.query("CREATE TABLE x AS SELECT 1")


def test_empty_store_has_empty_views_and_arrays(tmp_path: Path) -> None:
    store = ChainStore(tmp_path / "empty")
    assert store.query("SELECT count(*) AS n FROM eth_transfers").column("n").to_pylist() == [0]
    assert len(store.edges("ethereum")) == 0
    assert len(store.utxo_outputs("bitcoin")) == 0
    assert store.stats() == {}
    assert store.chains() == []
    assert store.height("bitcoin") == -1
    with pytest.raises(InvalidInputError):
        store.edges("bitcoin")
    with pytest.raises(InvalidInputError):
        store.height("dogecoin")


def test_block_range_reads(loaded: ChainStore) -> None:
    assert loaded.table("ethereum", "transfers", ["tx_id"], min_block=5001, max_block=5001).num_rows == 2
    assert loaded.table("bitcoin", "blocks", min_block=101).column("number").to_pylist() == [101, 102]


def test_state_file_is_replaced_atomically(loaded: ChainStore) -> None:
    state = loaded.state()
    assert (loaded.root / state_module.STATE_FILE).exists()
    assert not list(loaded.root.glob(".*.tmp"))
    assert state.referenced_files() == {
        p.relative_to(loaded.root).as_posix() for p in loaded.root.glob("*/*/*.parquet")
    }


def test_writer_never_touches_other_components_files(loaded: ChainStore) -> None:
    derived = loaded.root / "clusters" / "bitcoin" / "parts.parquet"
    derived.parent.mkdir(parents=True)
    derived.write_bytes(b"clustering output")
    with loaded.writer("bitcoin"):
        pass
    loaded.truncate_above("bitcoin", 101)
    assert derived.read_bytes() == b"clustering output"


def test_truncate_above_keeps_address_parts_of_earlier_batches(tmp_path: Path) -> None:
    store = ChainStore(tmp_path / "store")
    ingest_world_chains(world_copy(tmp_path), store, batch_size=1)  # one batch (and address part) per block
    before = store.chain_state("bitcoin").table_parts("addresses")
    addresses = store.table("bitcoin", "addresses").to_pylist()
    store.truncate_above("bitcoin", 101)
    earlier = [part for part in before if part.last_block <= 101]
    assert len(earlier) >= 2
    assert store.chain_state("bitcoin").table_parts("addresses")[: len(earlier)] == earlier
    assert store.table("bitcoin", "addresses").to_pylist() == [a for a in addresses if a["first_seen_block"] <= 101]
