"""Invariants of a whole generated world, checked on tiny worlds."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from chainsleuth.errors import InvalidInputError, NotFoundError
from chainsleuth.world import WorldConfig, generate_world, load_manifest, verify_world
from chainsleuth.world.etl_columns import CSV_COLUMNS
from chainsleuth.world.verify import read_records, read_table

CHAIN_FILES = (
    "bitcoin/blocks",
    "bitcoin/transactions",
    "ethereum/blocks",
    "ethereum/transactions",
    "ethereum/token_transfers",
    "ethereum/tokens",
)
TABLES = ("customers", "accounts", "deposit_addresses", "balances", "ledger_events")


def test_layout_follows_the_contract(tiny_world: Path) -> None:
    for name in CHAIN_FILES:
        assert (tiny_world / f"{name}.jsonl").is_file(), name
    for name in TABLES:
        assert (tiny_world / "exchange" / f"{name}.parquet").is_file(), name
    for name in (
        "entities.csv",
        "address_owners.csv",
        "incidents.jsonl",
        "customer_labels.csv",
        "event_labels.csv",
    ):
        assert (tiny_world / "ground_truth" / name).is_file(), name
    assert (tiny_world / "prices.csv").is_file()
    assert list((tiny_world / "tagpacks").glob("*.yaml"))


def test_all_invariants_hold(tiny_world: Path) -> None:
    report = verify_world(tiny_world)
    assert report.ok, report.problems[:20]
    assert report.checked["bitcoin_transactions"] > 500
    assert report.checked["ethereum_transactions"] > 500
    assert report.checked["deposits"] > 50
    assert report.checked["incidents"] >= 18


def test_size_is_close_to_target(tiny_world: Path) -> None:
    manifest = load_manifest(tiny_world)
    assert 4_500 <= manifest.transfers <= 5_600
    assert manifest.row_counts["customers"] >= 200


def test_manifest_hashes_every_file(tiny_world: Path) -> None:
    manifest = load_manifest(tiny_world)
    on_disk = {p.relative_to(tiny_world).as_posix() for p in tiny_world.rglob("*") if p.is_file()}
    assert set(manifest.files) == on_disk - {"manifest.json"}
    for name, digest in manifest.files.items():
        assert hashlib.sha256((tiny_world / name).read_bytes()).hexdigest() == digest


def test_same_seed_gives_identical_bytes(tiny_world: Path, tiny_world_again: Path) -> None:
    first = sorted(p.relative_to(tiny_world) for p in tiny_world.rglob("*") if p.is_file())
    second = sorted(p.relative_to(tiny_world_again) for p in tiny_world_again.rglob("*") if p.is_file())
    assert first == second
    for rel in first:
        assert (tiny_world / rel).read_bytes() == (tiny_world_again / rel).read_bytes(), rel


def test_other_seed_gives_another_world(tmp_path: Path, tiny_world: Path) -> None:
    generate_world(WorldConfig.from_size("tiny", seed=8), tmp_path / "w")
    a = (tiny_world / "bitcoin" / "transactions.jsonl").read_bytes()
    assert a != (tmp_path / "w" / "bitcoin" / "transactions.jsonl").read_bytes()


def _csv_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


@pytest.mark.parametrize("name", CHAIN_FILES)
def test_csv_chain_files_carry_the_same_data(tiny_world: Path, tiny_world_csv: Path, name: str) -> None:
    import csv

    with (tiny_world_csv / f"{name}.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    records = list(read_records(tiny_world, name))
    assert len(rows) == len(records)
    for row, record in zip(rows, records, strict=True):
        assert tuple(row) == CSV_COLUMNS[name]  # the real tool's columns, in its order, no "type"
        assert row == {k: _csv_text(record[k]) for k in CSV_COLUMNS[name]}


@pytest.mark.parametrize("name", TABLES)
def test_csv_tables_carry_the_same_data(tiny_world: Path, tiny_world_csv: Path, name: str) -> None:
    import csv
    import datetime as dt
    from decimal import Decimal

    parquet = read_table(tiny_world / "exchange", name)
    with (tiny_world_csv / "exchange" / f"{name}.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(parquet)
    for row, record in zip(rows, parquet, strict=True):
        for key, value in record.items():
            text = row[key]
            if value is None:
                assert text == "", key
            elif isinstance(value, Decimal):
                assert Decimal(text) == value, key
            elif isinstance(value, dt.datetime):
                assert dt.datetime.fromisoformat(text.replace("Z", "+00:00")) == value, key
            elif isinstance(value, bool):
                assert text == ("true" if value else "false"), key
            else:
                assert text == str(value), key


def test_csv_world_passes_the_invariants(tiny_world_csv: Path) -> None:
    report = verify_world(tiny_world_csv)
    assert report.ok, report.problems[:20]


def test_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("precious")
    with pytest.raises(InvalidInputError, match="not empty"):
        generate_world(WorldConfig.from_size("tiny"), tmp_path)
    assert (tmp_path / "keep.txt").read_text() == "precious"


def test_refuses_a_file_as_output(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(InvalidInputError):
        generate_world(WorldConfig.from_size("tiny"), target)


def test_load_manifest_errors(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        load_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("{}")
    with pytest.raises(InvalidInputError):
        load_manifest(tmp_path)


def test_progress_is_reported(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    config = WorldConfig(transfers=2_000, seed=3, days=30, customers=60)
    generate_world(config, tmp_path / "w", lambda done, total: seen.append((done, total)))
    assert seen[-1] == (30, 30)
    assert len(seen) == 30
    assert verify_world(tmp_path / "w").ok


def test_ledger_covers_every_event_type(tiny_world: Path) -> None:
    events = read_table(tiny_world / "exchange", "ledger_events")
    kinds = {e["event_type"] for e in events}
    assert kinds == {
        "deposit",
        "withdrawal",
        "internal_transfer",
        "trade",
        "fiat_deposit",
        "fiat_withdrawal",
        "login",
        "credential_change",
    }
    assert len({e["event_id"] for e in events}) == len(events)


def test_accounts_and_customers_are_consistent(tiny_world: Path) -> None:
    customers = {c["customer_id"]: c for c in read_table(tiny_world / "exchange", "customers")}
    accounts = read_table(tiny_world / "exchange", "accounts")
    assert {a["account_type"] for a in accounts} == {"spot", "sub"}
    assert all(a["customer_id"] in customers for a in accounts)
    owner = {a["account_id"]: a["customer_id"] for a in accounts}
    for event in read_table(tiny_world / "exchange", "ledger_events"):
        assert owner[event["account_id"]] == event["customer_id"]
        created = customers[event["customer_id"]]["created_at"]
        assert event["timestamp"] >= created, event["event_id"]
    addresses = read_table(tiny_world / "exchange", "deposit_addresses")
    per_customer = {(a["customer_id"], a["chain"]) for a in addresses}
    assert len(per_customer) == len(addresses) == 2 * len(customers)
    for c in customers.values():
        assert c["phone"].startswith("+")
        assert c["phone"][1:].isdigit()
        assert len(c["phone"]) <= 16


def test_determinism_does_not_depend_on_hash_seed(tiny_world: Path, tmp_path: Path) -> None:
    """A fresh interpreter with another PYTHONHASHSEED must write the same bytes (no set-order leaks)."""
    import os
    import subprocess
    import sys

    from tests.world.conftest import SEED

    out = tmp_path / "other-process"
    code = (
        "import sys; from pathlib import Path; from chainsleuth.world import WorldConfig, generate_world; "
        "generate_world(WorldConfig.from_size('tiny', seed=int(sys.argv[1])), Path(sys.argv[2]))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", code, str(SEED), str(out)], check=True, env=env, timeout=120)
    assert load_manifest(out).files == load_manifest(tiny_world).files
