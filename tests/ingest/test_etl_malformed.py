"""Malformed and truncated etl files: a MalformedFileError naming file and line, and nothing half-written."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from chainsleuth.errors import MalformedFileError
from chainsleuth.ingest import etl_read
from chainsleuth.ingest.etl import ingest_bitcoin_etl, ingest_world_chains
from chainsleuth.store.chainstore import ChainStore
from tests.ingest.etl_helpers import contents, snapshot, world_copy

Edit = Callable[[list[str]], list[str]]


def _edit_json_line(number: int, change: Callable[[dict[str, object]], None]) -> Edit:
    def edit(lines: list[str]) -> list[str]:
        record = json.loads(lines[number - 1])
        change(record)
        lines[number - 1] = json.dumps(record) + "\n"
        return lines

    return edit


def _replace_line(number: int, text: str) -> Edit:
    def edit(lines: list[str]) -> list[str]:
        lines[number - 1] = text
        return lines

    return edit


def _cut_last_line_in_half(lines: list[str]) -> list[str]:
    return [*lines[:-1], lines[-1][: len(lines[-1]) // 2]]


def _drop_last_line(lines: list[str]) -> list[str]:
    return lines[:-1]


def _drop_output_value(record: dict[str, object]) -> None:
    outputs = record["outputs"]
    assert isinstance(outputs, list)
    del outputs[0]["value"]


JSONL_CASES = [
    # (file, edit, expected line, words in the message)
    ("bitcoin/transactions.jsonl", _replace_line(3, '{"type": "transaction", "hash": \n'), 3, "JSON"),
    ("bitcoin/transactions.jsonl", _edit_json_line(2, lambda r: r.pop("hash")), 2, "hash"),
    ("bitcoin/transactions.jsonl", _edit_json_line(4, _drop_output_value), 4, "value"),
    (
        "bitcoin/transactions.jsonl",
        _edit_json_line(5, lambda r: r.update(block_timestamp="noon")),
        5,
        "block_timestamp",
    ),
    ("ethereum/transactions.jsonl", _edit_json_line(3, lambda r: r.update(value="a lot")), 3, "value"),
    (
        "ethereum/transactions.jsonl",
        _edit_json_line(2, lambda r: r.update(from_address="0x12")),
        2,
        "from_address",
    ),
    (
        "ethereum/token_transfers.jsonl",
        _edit_json_line(1, lambda r: r.update(log_index=None)),
        1,
        "log_index",
    ),
    (
        "ethereum/token_transfers.jsonl",
        _edit_json_line(1, lambda r: r.update(transaction_hash="0x" + "0" * 64)),
        1,
        "transaction",
    ),
    ("bitcoin/transactions.jsonl", _cut_last_line_in_half, 5, "JSON"),
    ("bitcoin/transactions.jsonl", _drop_last_line, 5, "truncated"),
    ("ethereum/transactions.jsonl", _drop_last_line, 6, "truncated"),
    ("bitcoin/blocks.jsonl", _drop_last_line, 4, "not in the blocks file"),
    ("ethereum/blocks.jsonl", _edit_json_line(2, lambda r: r.update(number=4999)), 2, "block"),
]


@pytest.mark.parametrize(("relative", "edit", "line", "words"), JSONL_CASES)
def test_malformed_jsonl_names_file_and_line_and_writes_nothing(
    tmp_path: Path, relative: str, edit: Edit, line: int, words: str
) -> None:
    world = world_copy(tmp_path)
    path = world / relative
    path.write_text("".join(edit(path.read_text().splitlines(keepends=True))))
    store = ChainStore(tmp_path / "store")
    if relative.startswith("ethereum"):
        shutil.rmtree(world / "bitcoin")  # isolate the chain under test
    before = snapshot(store.root)
    with pytest.raises(MalformedFileError) as raised:
        ingest_world_chains(world, store)
    error = raised.value
    bad_path = Path(error.path)
    expected = path if "blocks file" not in words else world / "bitcoin/transactions.jsonl"
    assert bad_path == expected
    assert error.line == line, str(error)
    assert words.lower() in str(error).lower()
    assert snapshot(store.root) == before


CSV_CASES = [
    ("bitcoin/transactions.csv", lambda rows: [*rows[:2], rows[2].replace('"[{', '"[{{', 1), *rows[3:]], 3),
    (
        "bitcoin/transactions.csv",
        lambda rows: [*rows[:4], rows[4].replace(",1700001200,", ",soon,", 1), *rows[5:]],
        5,
    ),
    ("ethereum/transactions.csv", _cut_last_line_in_half, 7),
    ("ethereum/blocks.csv", lambda rows: [rows[0].replace(",hash,", ",hash_,"), *rows[1:]], 1),
]


@pytest.mark.parametrize(("relative", "edit", "line"), CSV_CASES)
def test_malformed_csv_names_file_and_line(tmp_path: Path, relative: str, edit: Edit, line: int) -> None:
    world = world_copy(tmp_path, "csv")
    path = world / relative
    path.write_text("".join(edit(path.read_text().splitlines(keepends=True))))
    store = ChainStore(tmp_path / "store")
    with pytest.raises(MalformedFileError) as raised:
        ingest_world_chains(world, store)
    assert Path(raised.value.path) == path
    assert raised.value.line == line, str(raised.value)
    chain = relative.split("/")[0]
    assert store.height(chain) == -1


def test_bad_line_late_in_file_keeps_earlier_batches_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(etl_read, "BLOCK_SIZE", 4096)  # several read blocks even for this small file
    monkeypatch.setattr(etl_read, "LARGE_BLOCK_SIZE", 4096)
    world = world_copy(tmp_path)
    blocks, txs = world / "bitcoin/blocks.jsonl", world / "bitcoin/transactions.jsonl"
    good = txs.read_text()
    lines = good.splitlines(keepends=True)
    lines[4] = lines[4].replace('"hash"', '"hash_"', 1)  # the last transaction (block 102) loses its hash
    txs.write_text("".join(lines))
    store = ChainStore(tmp_path / "store")
    with pytest.raises(MalformedFileError) as raised:
        ingest_bitcoin_etl(blocks, txs, store, batch_size=1)
    assert raised.value.line == 5
    assert 100 <= store.height("bitcoin") <= 101  # what was read before the bad line is committed
    committed = snapshot(store.root)
    with pytest.raises(MalformedFileError):
        ingest_bitcoin_etl(blocks, txs, store, batch_size=1)
    assert snapshot(store.root) == committed  # a retry on the same bad file changes nothing
    txs.write_text(good)
    resumed = ingest_bitcoin_etl(blocks, txs, store, batch_size=1)
    assert resumed.blocks >= 1
    assert store.height("bitcoin") == 102
    clean = ChainStore(tmp_path / "clean")
    ingest_bitcoin_etl(blocks, txs, clean, batch_size=1)
    assert contents(store) == contents(clean)


def test_records_longer_than_the_read_block_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(etl_read, "LARGE_BLOCK_SIZE", 1200)  # smaller than some transaction lines
    monkeypatch.setattr(etl_read, "BLOCK_SIZE", 1200)
    world = world_copy(tmp_path)
    longest = max(len(line) for line in (world / "bitcoin/transactions.jsonl").read_text().splitlines())
    assert longest > 1200
    small, normal = ChainStore(tmp_path / "small"), ChainStore(tmp_path / "normal")
    ingest_world_chains(world, small)
    monkeypatch.setattr(etl_read, "LARGE_BLOCK_SIZE", 1 << 20)
    monkeypatch.setattr(etl_read, "BLOCK_SIZE", 1 << 20)
    ingest_world_chains(world, normal)
    assert contents(small) == contents(normal)
