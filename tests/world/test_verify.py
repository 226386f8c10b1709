"""The invariant checker notices broken worlds (so a passing check means something)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from chainsleuth.world import verify_world


@pytest.fixture
def world_copy(tiny_world: Path, tmp_path: Path) -> Path:
    out = tmp_path / "copy"
    shutil.copytree(tiny_world, out)
    return out


def _rewrite_jsonl(path: Path, change: Callable[[list[dict[str, Any]]], None]) -> None:
    lines = path.read_text().splitlines()
    records = [json.loads(line) for line in lines]
    change(records)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def test_double_spend_is_found(world_copy: Path) -> None:
    def duplicate_input(records: list[dict[str, Any]]) -> None:
        spends = [r for r in records if r["inputs"]]
        spends[-1]["inputs"] = [*spends[-1]["inputs"], spends[0]["inputs"][0]]

    _rewrite_jsonl(world_copy / "bitcoin" / "transactions.jsonl", duplicate_input)
    report = verify_world(world_copy)
    assert any("missing or already spent" in p for p in report.problems)


def test_overspent_ethereum_balance_is_found(world_copy: Path) -> None:
    def inflate(records: list[dict[str, Any]]) -> None:
        person = next(r for r in records if r["value"] and r["input"] == "0x")
        person["value"] = 10**30

    _rewrite_jsonl(world_copy / "ethereum" / "transactions.jsonl", inflate)
    assert any("negative" in p for p in verify_world(world_copy).problems)


def test_missing_ledger_event_is_found(world_copy: Path) -> None:
    path = world_copy / "exchange" / "ledger_events.parquet"
    table = pq.read_table(path)
    deposits = [i for i, kind in enumerate(table.column("event_type").to_pylist()) if kind == "deposit"]
    keep = [i for i in range(table.num_rows) if i != deposits[0]]
    pq.write_table(table.take(keep), path)
    problems = verify_world(world_copy).problems
    assert any("booked as None" in p for p in problems)
    assert any("balances table differs" in p for p in problems)


def test_unknown_incident_evidence_is_found(world_copy: Path) -> None:
    def corrupt(records: list[dict[str, Any]]) -> None:
        records[0]["event_ids"] = ["E9999999999"]
        records[0]["tx_hashes"] = {"bitcoin": ["00" * 32], "ethereum": []}

    _rewrite_jsonl(world_copy / "ground_truth" / "incidents.jsonl", corrupt)
    problems = verify_world(world_copy).problems
    assert any("not in the ledger" in p for p in problems)
    assert any("not in the chain export" in p for p in problems)
