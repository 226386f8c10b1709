"""Ingest straight from a node over JSON-RPC: Ethereum (any node) and Bitcoin Core.

Node answers become the same bitcoin-etl / ethereum-etl records the file ingest reads and go through the same
converters and :class:`~chainsleuth.store.chainstore.ChainWriter`, so a chain ingested from a node and one
ingested from an export are stored identically. Runs are incremental (they resume at the stored height),
idempotent (a re-run adds nothing) and reorg-safe (blocks the node replaced are rolled back first). See
``docs/ingest-rpc.md``.

Public API: :func:`ingest_ethereum_rpc`, :func:`ingest_bitcoin_rpc`, :func:`ingest_from_node` with the sources
:class:`EthereumSource` and :class:`BitcoinSource`, the report :class:`RpcIngestReport` (with its
:class:`Rollback` list), and the client :class:`JsonRpcClient` with its errors.
"""

from __future__ import annotations

from pathlib import Path

from chainsleuth.errors import InvalidInputError
from chainsleuth.ingest.etl_common import ProgressCallback
from chainsleuth.ingest.rpc.bitcoin import BitcoinSource
from chainsleuth.ingest.rpc.client import (
    JsonRpcClient,
    MalformedNodeAnswerError,
    NodeError,
    NodeUnavailableError,
    cookie_auth,
)
from chainsleuth.ingest.rpc.ethereum import EthereumSource
from chainsleuth.ingest.rpc.runner import (
    DEFAULT_MAX_REORG_DEPTH,
    DEFAULT_RPC_BATCH_SIZE,
    Rollback,
    RpcIngestReport,
    ingest_from_node,
)
from chainsleuth.store.chainstore import ChainStore, chain_spec

__all__ = [
    "DEFAULT_MAX_REORG_DEPTH",
    "DEFAULT_RPC_BATCH_SIZE",
    "BitcoinSource",
    "EthereumSource",
    "JsonRpcClient",
    "MalformedNodeAnswerError",
    "NodeError",
    "NodeUnavailableError",
    "Rollback",
    "RpcIngestReport",
    "ingest_bitcoin_rpc",
    "ingest_ethereum_rpc",
    "ingest_from_node",
]


def _check_kind(chain: str, kind: str) -> None:
    if chain_spec(chain).kind != kind:
        article = "an" if kind == "account" else "a"
        raise InvalidInputError(f"chain {chain!r} is not {article} {kind} chain of the store", chain=chain)


def ingest_ethereum_rpc(
    url: str,
    store: ChainStore,
    *,
    chain: str = "ethereum",
    from_block: int | None = None,
    to_block: int | None = None,
    confirmations: int = 0,
    max_reorg_depth: int = DEFAULT_MAX_REORG_DEPTH,
    batch_size: int = DEFAULT_RPC_BATCH_SIZE,
    timeout: float = 60.0,
    progress: ProgressCallback | None = None,
) -> RpcIngestReport:
    """Bring ``chain`` in ``store`` up to an Ethereum node's tip (minus ``confirmations``)."""
    _check_kind(chain, "account")
    with JsonRpcClient(url, timeout=timeout) as client:
        return ingest_from_node(
            EthereumSource(client, chain=chain),
            store,
            from_block=from_block,
            to_block=to_block,
            confirmations=confirmations,
            max_reorg_depth=max_reorg_depth,
            batch_size=batch_size,
            progress=progress,
        )


def ingest_bitcoin_rpc(
    url: str,
    store: ChainStore,
    *,
    user: str | None = None,
    password: str | None = None,
    cookie_file: Path | None = None,
    chain: str = "bitcoin",
    from_block: int | None = None,
    to_block: int | None = None,
    confirmations: int = 0,
    max_reorg_depth: int = DEFAULT_MAX_REORG_DEPTH,
    batch_size: int = DEFAULT_RPC_BATCH_SIZE,
    timeout: float = 120.0,
    progress: ProgressCallback | None = None,
) -> RpcIngestReport:
    """Bring ``chain`` in ``store`` up to a Bitcoin Core node's tip (minus ``confirmations``).

    Credentials: ``user`` and ``password`` (``rpcauth``/``rpcuser``), or the node's ``.cookie`` file.
    """
    _check_kind(chain, "utxo")
    if cookie_file is not None and (user is not None or password is not None):
        raise InvalidInputError("give either a cookie file or user and password, not both")
    if (user is None) != (password is None):
        raise InvalidInputError("user and password go together")
    auth = cookie_auth(cookie_file) if cookie_file is not None else None
    if user is not None and password is not None:
        auth = (user, password)
    with JsonRpcClient(url, auth=auth, timeout=timeout) as client:
        return ingest_from_node(
            BitcoinSource(client, chain=chain),
            store,
            from_block=from_block,
            to_block=to_block,
            confirmations=confirmations,
            max_reorg_depth=max_reorg_depth,
            batch_size=batch_size,
            progress=progress,
        )
