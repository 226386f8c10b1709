"""The ``ingest ethereum-rpc`` / ``ingest bitcoin-rpc`` commands, mounted on a throwaway Typer app as the lead
mounts them on ``chainsleuth ingest``."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from chainsleuth.cli.errors import exit_code_for
from chainsleuth.cli.ingest_rpc import bitcoin_rpc, ethereum_rpc
from chainsleuth.errors import ChainsleuthError
from chainsleuth.store.chainstore import ChainStore
from tests.ingest.rpc.conftest import Anvil
from tests.ingest.rpc.fake_node import fake_node
from tests.ingest.rpc.test_bitcoin_rpc import BASE, Bitcoind

app = typer.Typer()
app.command("ethereum-rpc")(ethereum_rpc)
app.command("bitcoin-rpc")(bitcoin_rpc)
runner = CliRunner()


def test_bitcoin_rpc_command_reports_height_and_rollbacks(tmp_path: Path) -> None:
    answers = Bitcoind()
    store = tmp_path / "store"
    with fake_node(answers) as node:
        first = runner.invoke(app, ["bitcoin-rpc", node.url, "--from-block", str(BASE), "--store", str(store)])
        assert first.exit_code == 0, first.output
        assert "-1 → 840003" in first.output
        answers.branch = "reorg"
        second = runner.invoke(app, ["bitcoin-rpc", node.url, "--store", str(store)])
        assert second.exit_code == 0, second.output
        assert "reorg: rolled back 2 block(s) 840002-840003 (fork at 840001)" in second.output
        assert "removed block 840002" in second.output
        bad = runner.invoke(app, ["bitcoin-rpc", node.url, "--store", str(store), "--user", "u"])
    assert isinstance(bad.exception, ChainsleuthError)
    assert exit_code_for(bad.exception) == 64
    assert ChainStore(store).height("bitcoin") == BASE + 4


def test_ethereum_rpc_command_with_confirmations(anvil: Anvil, tmp_path: Path) -> None:
    a, b, _, _ = anvil.accounts()
    for _ in range(3):
        anvil.send(a, b, value=10**15, gas=21_000)
    store = tmp_path / "store"
    result = runner.invoke(
        app, ["ethereum-rpc", anvil.url, "--store", str(store), "--confirmations", "1", "--chain-name", "ethereum"]
    )
    assert result.exit_code == 0, result.output
    assert "-1 → 2" in result.output
    assert ChainStore(store).height("ethereum") == 2
    wrong = runner.invoke(app, ["ethereum-rpc", anvil.url, "--store", str(store), "--chain-name", "bitcoin"])
    assert isinstance(wrong.exception, ChainsleuthError)
    assert "not an account chain" in str(wrong.exception)
