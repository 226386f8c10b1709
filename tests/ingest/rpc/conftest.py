"""A real Ethereum node for the RPC ingest tests: anvil from the npm package @foundry-rs/anvil.

The session fixture starts ``node_modules/.bin/anvil`` (installed by ``npm ci`` in ``scripts/setup.sh``) on
127.0.0.1 and a free port, with a fixed mnemonic and chain id so that accounts are the same on every run, and
stops it at the end. A missing binary fails the run loudly: these tests must run against a real node.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[3]
ANVIL = REPO / "node_modules" / ".bin" / "anvil"
MNEMONIC = "test test test test test test test test test test test junk"
CHAIN_ID = 31337


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Anvil:
    """A running anvil and a tiny JSON-RPC helper for driving it from tests."""

    def __init__(self, url: str, process: subprocess.Popen[bytes]) -> None:
        self.url = url
        self.process = process
        self._http = httpx.Client(timeout=30)
        self._id = 0

    def rpc(self, method: str, *params: Any) -> Any:
        self._id += 1
        answer = self._http.post(
            self.url, json={"jsonrpc": "2.0", "id": self._id, "method": method, "params": list(params)}
        ).json()
        if "error" in answer:
            raise AssertionError(f"anvil {method}: {answer['error']}")
        return answer["result"]

    def accounts(self) -> list[str]:
        return [str(a).lower() for a in self.rpc("eth_accounts")]

    def height(self) -> int:
        return int(self.rpc("eth_blockNumber"), 16)

    def send(self, sender: str, to: str, value: int = 0, data: str = "0x", gas: int = 100_000) -> str:
        tx = {"from": sender, "to": to, "value": hex(value), "data": data, "gas": hex(gas)}
        return str(self.rpc("eth_sendTransaction", tx))

    def mine(self, blocks: int = 1) -> None:
        for _ in range(blocks):
            self.rpc("evm_mine")

    def close(self) -> None:
        self._http.close()


@pytest.fixture(scope="session")
def anvil_node() -> Iterator[Anvil]:
    if not ANVIL.is_file():
        pytest.fail(f"{ANVIL} is missing: run scripts/setup.sh (it runs `npm ci`, which installs anvil)")
    port = _free_port()
    command = [
        str(ANVIL),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--silent",
        "--mnemonic",
        MNEMONIC,
        "--chain-id",
        str(CHAIN_ID),
        "--accounts",
        "4",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    node = Anvil(f"http://127.0.0.1:{port}", process)
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            stderr = process.stderr.read().decode() if process.stderr else ""
            pytest.fail(f"anvil exited with {process.returncode}: {stderr}")
        try:
            node.rpc("eth_chainId")
            break
        except httpx.TransportError:
            if time.monotonic() > deadline:
                process.kill()
                pytest.fail("anvil did not answer within 30 s")
            time.sleep(0.05)
    try:
        yield node
    finally:
        node.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def anvil(anvil_node: Anvil) -> Anvil:
    """The session's anvil, reset to a fresh chain for each test (``anvil_reset`` keeps the accounts)."""
    anvil_node.rpc("anvil_reset")
    anvil_node.rpc("evm_setAutomine", True)
    return anvil_node
