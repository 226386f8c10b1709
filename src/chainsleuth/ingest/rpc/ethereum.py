"""Ethereum over JSON-RPC → ethereum-etl records → the chain store.

Per block: ``eth_getBlockByNumber(n, true)`` (the block with full transactions) and ``eth_getBlockReceipts(n)``
(status, gas used, effective gas price, logs), falling back to ``eth_getTransactionReceipt`` per transaction
on nodes without the block method. ERC-20 ``Transfer(address,address,uint256)`` logs (three topics, a 32-byte
value) become ``token_transfers`` records exactly as ethereum-etl extracts them; tokens seen for the first time
are asked ``decimals()`` and ``symbol()`` with ``eth_call`` and enter the store's token registry with source
``node`` (or ``default``, 18 decimals, with a warning, when the contract does not answer).

Every hex quantity is converted with ``int(x, 16)``: wei and token units stay exact integers. Every field is
checked as it is read, so a malformed answer fails with the method and block named before anything is written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from chainsleuth.ingest.etl_common import ChainIngestReport
from chainsleuth.ingest.etl_ethereum import TokenCatalog
from chainsleuth.ingest.rpc.client import Call, Failure, JsonRpcClient, MalformedNodeAnswerError
from chainsleuth.ingest.rpc.etl_bridge import HashKeys, Record, ethereum_tables
from chainsleuth.ingest.rpc.runner import ChainMovedError, NodeBlock
from chainsleuth.store.chainstore import ChainStore, ChainWriter

#: keccak256("Transfer(address,address,uint256)"): topic0 of ERC-20 (and ERC-721) Transfer events.
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
DECIMALS_SELECTOR = "0x313ce567"  # decimals()
SYMBOL_SELECTOR = "0x95d89b41"  # symbol()
DEFAULT_DECIMALS = 18
#: The store keeps exact values as decimal128(38, 0); a uint256 beyond that cannot be stored.
MAX_EXACT_VALUE = 10**38 - 1
_QUANTITY = re.compile(r"0x[0-9a-fA-F]+")
_HASH = re.compile(r"0x[0-9a-fA-F]{64}")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_DATA = re.compile(r"0x(?:[0-9a-fA-F]{2})*")


class _Reader:
    """Typed access to one JSON-RPC object, failing with the method, block and field named."""

    def __init__(self, method: str, block: int, where: str = "") -> None:
        self.method, self.block, self.where = method, block, where

    def fail(self, message: str) -> MalformedNodeAnswerError:
        prefix = f"{self.where}: " if self.where else ""
        return MalformedNodeAnswerError(f"{prefix}{message}", method=self.method, block=self.block)

    def obj(self, value: Any, what: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(f"{what} is not an object")
        return value

    def get(self, data: dict[str, Any], key: str, pattern: re.Pattern[str], *, optional: bool = False) -> Any:
        value = data.get(key)
        if value is None:
            if optional:
                return None
            raise self.fail(f"field {key!r} is missing")
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise self.fail(f"field {key!r} is malformed: {value!r}")
        return value.lower()

    def quantity(self, data: dict[str, Any], key: str, *, optional: bool = False) -> int | None:
        value = self.get(data, key, _QUANTITY, optional=optional)
        return None if value is None else int(value, 16)

    def need(self, data: dict[str, Any], key: str) -> int:
        value = self.quantity(data, key)
        assert value is not None
        return value


def _transfers(receipt: dict[str, Any], reader: _Reader, block: int, report: ChainIngestReport) -> list[Record]:
    """ethereum-etl ``token_transfers`` records from a receipt's ERC-20 Transfer logs."""
    logs = receipt.get("logs")
    if not isinstance(logs, list):
        raise reader.fail("field 'logs' is missing or not a list")
    found: list[Record] = []
    for position, raw in enumerate(logs):
        log = reader.obj(raw, f"logs[{position}]")
        if log.get("removed") is True:
            continue
        topics = log.get("topics")
        if not isinstance(topics, list) or not all(isinstance(t, str) and _HASH.fullmatch(t) for t in topics):
            raise reader.fail(f"logs[{position}].topics is malformed")
        data = reader.get(log, "data", _DATA)
        if len(topics) != 3 or topics[0].lower() != TRANSFER_TOPIC or len(data) != 66:
            continue  # not an ERC-20 Transfer (ERC-721 has the token id as a fourth topic)
        value = int(data, 16)
        token = reader.get(log, "address", _ADDRESS)
        if value > MAX_EXACT_VALUE:
            report.warnings.append(
                f"token transfer of {token} in block {block} has a value beyond 38 digits; not stored"
            )
            continue
        found.append(
            {
                "token_address": token,
                "from_address": "0x" + topics[1][-40:].lower(),
                "to_address": "0x" + topics[2][-40:].lower(),
                "value": value,
                "transaction_hash": reader.get(receipt, "transactionHash", _HASH),
                "log_index": reader.need(log, "logIndex"),
                "block_number": block,
            }
        )
    return found


def _abi_string(result: str) -> str:
    """A ``symbol()`` answer: an ABI string, or a ``bytes32`` (older tokens such as MKR); "" if neither."""
    raw = bytes.fromhex(result[2:]) if _DATA.fullmatch(result) else b""
    text = b""
    if len(raw) >= 64 and int.from_bytes(raw[:32], "big") == 32:
        length = int.from_bytes(raw[32:64], "big")
        text = raw[64 : 64 + length] if length <= len(raw) - 64 else b""
    elif len(raw) == 32:
        text = raw.rstrip(b"\0")
    decoded = text.decode("utf-8", errors="replace")
    return "".join(ch for ch in decoded if ch.isprintable())[:32]


class EthereumSource:
    """An Ethereum node (geth, erigon, reth, nethermind, anvil...) as a :class:`NodeSource`."""

    def __init__(self, client: JsonRpcClient, *, chain: str = "ethereum", fetch_size: int = 20) -> None:
        self.client = client
        self.chain = chain
        self.url = client.url
        self.fetch_size = fetch_size
        self._block_receipts = True

    def tip(self) -> int:
        value = self.client.call("eth_blockNumber")
        if not isinstance(value, str) or not _QUANTITY.fullmatch(value):
            raise MalformedNodeAnswerError(f"eth_blockNumber answered {value!r}", method="eth_blockNumber")
        return int(value, 16)

    def hashes(self, heights: Sequence[int]) -> dict[int, str | None]:
        calls = [Call("eth_getBlockByNumber", [hex(h), False], h) for h in heights]
        found: dict[int, str | None] = {}
        for height, result in zip(heights, self.client.batch(calls), strict=True):
            reader = _Reader("eth_getBlockByNumber", height)
            found[height] = None if result is None else reader.get(reader.obj(result, "block"), "hash", _HASH)
        return found

    # -- fetching and validating -----------------------------------------------------------------------------

    def fetch(self, heights: Sequence[int]) -> list[NodeBlock]:
        blocks = self.client.batch([Call("eth_getBlockByNumber", [hex(h), True], h) for h in heights])
        receipts = self._receipts(heights, blocks)
        return [
            self._block(height, block, block_receipts)
            for height, block, block_receipts in zip(heights, blocks, receipts, strict=True)
        ]

    def _receipts(self, heights: Sequence[int], blocks: list[Any]) -> list[list[Any]]:
        for height, block in zip(heights, blocks, strict=True):
            if block is None:
                raise ChainMovedError(height)  # the tip went down since eth_blockNumber
        if self._block_receipts:
            calls = [Call("eth_getBlockReceipts", [hex(h)], h) for h in heights]
            results = self.client.batch_results(calls)
            if not any(isinstance(result, Failure) for result in results):
                for height, result in zip(heights, results, strict=True):
                    if result is None:
                        raise ChainMovedError(height)  # the block is gone since eth_getBlockByNumber
                return [result if isinstance(result, list) else [result] for result in results]
            self._block_receipts = False  # this node lacks the method: one receipt per transaction from now on
        calls, owners = [], []
        for height, block in zip(heights, blocks, strict=True):
            reader = _Reader("eth_getBlockByNumber", height)
            transactions = reader.obj(block, "block").get("transactions")
            if not isinstance(transactions, list):
                raise reader.fail("field 'transactions' is missing or not a list")
            for position, tx in enumerate(transactions):
                tx_hash = _Reader("eth_getBlockByNumber", height, f"transactions[{position}]").get(
                    reader.obj(tx, "transaction"), "hash", _HASH
                )
                calls.append(Call("eth_getTransactionReceipt", [tx_hash], height))
                owners.append(height)
        grouped: dict[int, list[Any]] = {height: [] for height in heights}
        for height, receipt in zip(owners, self.client.batch(calls), strict=True):
            if receipt is None:
                raise ChainMovedError(height)
            grouped[height].append(receipt)
        return [grouped[height] for height in heights]

    def _block(self, height: int, raw_block: Any, raw_receipts: list[Any]) -> NodeBlock:
        reader = _Reader("eth_getBlockByNumber", height)
        block = reader.obj(raw_block, "block")
        if reader.need(block, "number") != height:
            raise reader.fail(f"the node answered block {block.get('number')} for this height")
        block_hash = reader.get(block, "hash", _HASH)
        timestamp = reader.need(block, "timestamp")
        transactions = block.get("transactions")
        if not isinstance(transactions, list):
            raise reader.fail("field 'transactions' is missing or not a list")
        receipts_reader = _Reader("eth_getBlockReceipts", height)
        by_hash: dict[str, dict[str, Any]] = {}
        for position, raw in enumerate(raw_receipts):
            r_reader = _Reader("eth_getBlockReceipts", height, f"receipt {position}")
            receipt = r_reader.obj(raw, "receipt")
            if r_reader.get(receipt, "blockHash", _HASH) != block_hash:
                raise ChainMovedError(height)  # receipts of a block that has been replaced meanwhile
            by_hash[r_reader.get(receipt, "transactionHash", _HASH)] = receipt
        if len(by_hash) != len(transactions):
            raise receipts_reader.fail(f"{len(by_hash)} receipts for {len(transactions)} transactions")
        tx_records: list[Record] = []
        for position, raw in enumerate(transactions):
            tx_reader = _Reader("eth_getBlockByNumber", height, f"transactions[{position}]")
            tx = tx_reader.obj(raw, "transaction")
            tx_hash = tx_reader.get(tx, "hash", _HASH)
            if tx_hash not in by_hash:
                raise receipts_reader.fail(f"no receipt for transaction {tx_hash}")
            receipt = by_hash[tx_hash]
            r_reader = _Reader("eth_getBlockReceipts", height, f"receipt of {tx_hash}")
            gas_price = r_reader.quantity(receipt, "effectiveGasPrice", optional=True)
            if gas_price is None:
                gas_price = tx_reader.quantity(tx, "gasPrice", optional=True)
            tx_records.append(
                {
                    "hash": tx_hash,
                    "nonce": tx_reader.need(tx, "nonce"),
                    "transaction_index": tx_reader.need(tx, "transactionIndex"),
                    "from_address": tx_reader.get(tx, "from", _ADDRESS),
                    "to_address": tx_reader.get(tx, "to", _ADDRESS, optional=True),
                    "value": tx_reader.need(tx, "value"),
                    "gas": tx_reader.need(tx, "gas"),
                    "gas_price": gas_price,
                    "input": tx_reader.get(tx, "input", _DATA),
                    "block_number": height,
                    "block_timestamp": timestamp,
                    # pre-Byzantium receipts carry a state root instead of a status: unknown, not failed
                    "receipt_status": r_reader.quantity(receipt, "status", optional=True),
                    "receipt_gas_used": r_reader.need(receipt, "gasUsed"),
                    "_receipt": receipt,
                }
            )
        record = {
            "number": height,
            "hash": block_hash,
            "timestamp": timestamp,
            "transaction_count": len(tx_records),
            "miner": reader.get(block, "miner", _ADDRESS, optional=True),
        }
        parent = reader.get(block, "parentHash", _HASH)
        return NodeBlock(height, block_hash, parent, len(tx_records), (record, tx_records))

    # -- conversion ------------------------------------------------------------------------------------------

    def build(
        self, writer: ChainWriter, store: ChainStore, blocks: list[NodeBlock], report: ChainIngestReport
    ) -> tuple[dict[str, pa.Table], HashKeys | None]:
        block_records: list[Record] = []
        tx_records: list[Record] = []
        transfers: list[Record] = []
        for block in blocks:
            record, txs = block.payload
            block_records.append(record)
            for tx in txs:
                reader = _Reader("eth_getBlockReceipts", block.number, f"receipt of {tx['hash']}")
                transfers.extend(_transfers(tx["_receipt"], reader, block.number, report))
                tx_records.append({key: value for key, value in tx.items() if key != "_receipt"})
        catalog, sources = self._token_metadata(
            sorted({t["token_address"] for t in transfers} - set(writer.tokens)), report
        )
        tables = ethereum_tables(writer, block_records, tx_records, transfers, catalog, report, self.url)
        for address, info in writer.tokens.items():
            if address in sources and info.source == "tokens_file":
                info.source = sources[address]  # the etl converter labels catalog entries as file-sourced
        return tables, None

    def _token_metadata(self, addresses: list[str], report: ChainIngestReport) -> tuple[TokenCatalog, dict[str, str]]:
        """Symbol and decimals of new tokens via ``eth_call`` (at the latest block: metadata is immutable)."""
        calls = [
            Call("eth_call", [{"to": address, "data": selector}, "latest"])
            for address in addresses
            for selector in (DECIMALS_SELECTOR, SYMBOL_SELECTOR)
        ]
        results = self.client.batch_results(calls)
        entries: dict[str, tuple[str, int]] = {}
        sources: dict[str, str] = {}
        for position, address in enumerate(addresses):
            decimals_answer, symbol_answer = results[2 * position], results[2 * position + 1]
            decimals: int | None = None
            if isinstance(decimals_answer, str) and _DATA.fullmatch(decimals_answer) and len(decimals_answer) == 66:
                decimals = int(decimals_answer, 16)
            symbol = _abi_string(symbol_answer) if isinstance(symbol_answer, str) else ""
            if decimals is None or decimals > 77:
                report.warnings.append(
                    f"token {address} does not answer decimals(): assuming {DEFAULT_DECIMALS} decimals"
                )
                entries[address] = (symbol, DEFAULT_DECIMALS)
                sources[address] = "default"
            else:
                entries[address] = (symbol, decimals)
                sources[address] = "node"
        return TokenCatalog(entries), sources
