"""``chainsleuth ingest ethereum-etl --traces``: the CLI stores contracts' internal ETH transfers."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chainsleuth.cli.main import app
from chainsleuth.store.chainstore import ChainStore
from tests.ingest.etl_helpers import FIXTURES, world_copy


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_ethereum_etl_with_traces_stores_internal_transfers(tmp_path: Path, fmt: str) -> None:
    eth = world_copy(tmp_path, fmt) / "ethereum"
    shutil.copy(FIXTURES / "traces" / f"traces.{fmt}", eth / f"traces.{fmt}")
    store_dir = tmp_path / "store"
    files = [str(eth / f"{name}.{fmt}") for name in ("blocks", "transactions", "token_transfers")]
    options = ["--tokens", str(eth / f"tokens.{fmt}"), "--store", str(store_dir)]
    result = CliRunner().invoke(
        app, ["ingest", "ethereum-etl", *files, *options, "--traces", str(eth / f"traces.{fmt}")]
    )
    assert result.exit_code == 0, result.output
    assert "3 internal transfers from traces" in result.output
    kinds = ChainStore(store_dir).table("ethereum", "transfers").column("kind").to_pylist()
    assert kinds.count("internal") == 3

    again = CliRunner().invoke(
        app, ["ingest", "ethereum-etl", *files, *options, "--traces", str(eth / f"traces.{fmt}")]
    )
    assert again.exit_code == 0, again.output  # idempotent: nothing added on a re-run
    assert ChainStore(store_dir).table("ethereum", "transfers").column("kind").to_pylist() == kinds


def test_ethereum_etl_without_traces_has_no_internal_transfers(tmp_path: Path) -> None:
    eth = world_copy(tmp_path, "jsonl") / "ethereum"
    store_dir = tmp_path / "store"
    files = [str(eth / f"{name}.jsonl") for name in ("blocks", "transactions", "token_transfers")]
    result = CliRunner().invoke(app, ["ingest", "ethereum-etl", *files, "--store", str(store_dir)])
    assert result.exit_code == 0, result.output
    assert "internal" not in ChainStore(store_dir).table("ethereum", "transfers").column("kind").to_pylist()


def test_missing_traces_file_is_a_usage_error(tmp_path: Path) -> None:
    eth = world_copy(tmp_path, "jsonl") / "ethereum"
    files = [str(eth / f"{name}.jsonl") for name in ("blocks", "transactions")]
    result = CliRunner().invoke(app, ["ingest", "ethereum-etl", *files, "--traces", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 2
    assert "--traces" in result.output
