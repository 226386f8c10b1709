# mypy: disable-error-code="attr-defined,no-untyped-call"
# (pyarrow ships partial type stubs.)
"""Bitcoin Core over JSON-RPC → bitcoin-etl records → the chain store.

Per block: ``getblockhash <height>`` then ``getblock <hash> 3``. Verbosity 3 (Bitcoin Core 23 and later) puts
the spent output (``prevout``: value and script) on every input, so input addresses and values need no lookups.
Older nodes treat 3 as 2 and omit ``prevout``; those inputs are resolved from the block batch itself, then from
the store's ``outputs``, then with ``getrawtransaction`` (which needs ``-txindex``), and an input none of them
can resolve stops the ingest with an error naming the block, the transaction and the input.

Conversions, as bitcoin-etl does them:
- BTC amounts arrive as exact decimals (the client parses JSON numbers with ``Decimal``) and become satoshi with
  a check that nothing is lost: ``Decimal("0.00000001") * 10**8 == 1``; a binary float never appears;
- script types keep Bitcoin Core's names, which are bitcoin-etl's (``pubkeyhash``, ``scripthash``,
  ``witness_v0_keyhash``, ``witness_v0_scripthash``, ``witness_v1_taproot``, ``multisig``, ``nulldata``,
  ``nonstandard``...); unknown names become ``nonstandard``;
- addresses: the node's ``address`` (Core 22+) or ``addresses`` (older); bare ``multisig`` and ``pubkey``
  scripts get the P2PKH addresses of their public keys; scripts without any address get bitcoin-etl's
  ``nonstandard`` + the first 40 hex digits of the script's SHA-256, so that they still have a stable id;
- a coinbase transaction has no inputs (its ``coinbase`` input spends nothing).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds

from chainsleuth.errors import StorageError
from chainsleuth.ingest.etl_common import ChainIngestReport
from chainsleuth.ingest.rpc.client import Call, Failure, JsonRpcClient, MalformedNodeAnswerError
from chainsleuth.ingest.rpc.etl_bridge import HashKeys, Record, bitcoin_tables
from chainsleuth.ingest.rpc.runner import ChainMovedError, NodeBlock
from chainsleuth.store.chainstore import ChainStore, ChainWriter
from chainsleuth.store.chainstore.hexarrays import hash_keys

SATOSHI_PER_BTC = 100_000_000
#: Bitcoin Core's RPC_INVALID_PARAMETER: "Block height out of range" from getblockhash.
OUT_OF_RANGE = -8
KNOWN_TYPES = frozenset(
    {
        "pubkey",
        "pubkeyhash",
        "scripthash",
        "multisig",
        "nulldata",
        "nonstandard",
        "witness_v0_keyhash",
        "witness_v0_scripthash",
        "witness_v1_taproot",
        "witness_unknown",
        "anchor",
    }
)
_HASH = re.compile(r"[0-9a-f]{64}")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})*")
_PUBKEY = re.compile(r"(?:0[23][0-9a-fA-F]{64}|04[0-9a-fA-F]{128})")
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


class _Reader:
    """Typed access to ``getblock`` answers, failing with the method, block and position named."""

    def __init__(self, block: int | str, where: str = "", method: str = "getblock") -> None:
        self.block, self.where, self.method = block, where, method

    def at(self, where: str) -> _Reader:
        return _Reader(self.block, f"{self.where}.{where}" if self.where else where, self.method)

    def fail(self, message: str) -> MalformedNodeAnswerError:
        prefix = f"{self.where}: " if self.where else ""
        return MalformedNodeAnswerError(f"{prefix}{message}", method=self.method, block=self.block)

    def obj(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail("is not an object")
        return value

    def field(self, data: dict[str, Any], key: str, kind: type, *, optional: bool = False) -> Any:
        value = data.get(key)
        if value is None and optional:
            return None
        if value is None:
            raise self.fail(f"field {key!r} is missing")
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise self.fail(f"field {key!r} must be {kind.__name__}, got {value!r}")
        return value

    def txid(self, data: dict[str, Any], key: str) -> str:
        value = str(self.field(data, key, str))
        if not _HASH.fullmatch(value):
            raise self.fail(f"field {key!r} is not a 64-hex-digit hash: {value!r}")
        return value

    def satoshi(self, data: dict[str, Any], key: str) -> int:
        value = data.get(key)
        if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
            raise self.fail(f"field {key!r} must be a BTC amount, got {value!r}")
        scaled = Decimal(value) * SATOSHI_PER_BTC
        if scaled != scaled.to_integral_value() or scaled < 0:
            raise self.fail(f"field {key!r} is not a whole number of satoshi: {value}")
        return int(scaled)


def _base58check(payload: bytes) -> str:
    data = payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    number = int.from_bytes(data, "big")
    text = ""
    while number:
        number, rest = divmod(number, 58)
        text = _BASE58[rest] + text
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + text


def p2pkh_address(pubkey_hex: str) -> str | None:
    """The legacy address of a public key (what bitcoin-etl lists for ``pubkey``/``multisig`` scripts)."""
    try:
        ripemd = hashlib.new("ripemd160", hashlib.sha256(bytes.fromhex(pubkey_hex)).digest())
    except ValueError:  # an OpenSSL build without RIPEMD-160
        return None
    return _base58check(b"\0" + ripemd.digest())


def script_addresses(spk: dict[str, Any], reader: _Reader) -> tuple[str, list[str]]:
    """bitcoin-etl ``type`` and ``addresses`` of a ``scriptPubKey`` object."""
    core_type = str(reader.field(spk, "type", str))
    script_hex = str(reader.field(spk, "hex", str))
    if not _HEX.fullmatch(script_hex):
        raise reader.fail(f"field 'hex' is not hex: {script_hex!r}")
    script_type = core_type if core_type in KNOWN_TYPES else "nonstandard"
    if script_type == "nulldata":
        return script_type, []
    addresses: list[str] = []
    if spk.get("address") is not None:
        addresses = [str(reader.field(spk, "address", str))]
    elif spk.get("addresses") is not None:
        listed = reader.field(spk, "addresses", list)
        if not all(isinstance(item, str) for item in listed):
            raise reader.fail("field 'addresses' must be a list of strings")
        addresses = list(listed)
    if not addresses and script_type in ("pubkey", "multisig"):
        asm = str(reader.field(spk, "asm", str))
        derived = [p2pkh_address(token) for token in asm.split() if _PUBKEY.fullmatch(token)]
        addresses = [address for address in derived if address is not None]
    if not addresses:
        addresses = ["nonstandard" + hashlib.sha256(bytes.fromhex(script_hex)).hexdigest()[:40]]
    return script_type, addresses


@dataclass
class _Unresolved:
    """An input whose spent output the node did not include (verbosity 2): filled in by :meth:`build`."""

    record: Record
    txid: str
    vout: int
    tx_hash: str


class BitcoinSource:
    """A Bitcoin Core node as a :class:`NodeSource` (``chain`` must be a UTXO chain of the store)."""

    def __init__(self, client: JsonRpcClient, *, chain: str = "bitcoin", fetch_size: int = 2) -> None:
        self.client = client
        self.chain = chain
        self.url = client.url
        self.fetch_size = fetch_size

    def tip(self) -> int:
        value = self.client.call("getblockcount")
        if isinstance(value, bool) or not isinstance(value, int):
            raise MalformedNodeAnswerError(f"getblockcount answered {value!r}", method="getblockcount")
        return int(value)

    def hashes(self, heights: Sequence[int]) -> dict[int, str | None]:
        results = self.client.batch_results([Call("getblockhash", [h], h) for h in heights])
        found: dict[int, str | None] = {}
        for height, result in zip(heights, results, strict=True):
            if isinstance(result, Failure):
                if result.rpc_code != OUT_OF_RANGE:
                    raise result.error()
                found[height] = None
            elif not isinstance(result, str) or not _HASH.fullmatch(result):
                raise MalformedNodeAnswerError(f"getblockhash answered {result!r}", method="getblockhash", block=height)
            else:
                found[height] = result
        return found

    def fetch(self, heights: Sequence[int]) -> list[NodeBlock]:
        hashes = self.hashes(heights)
        for height in heights:
            if hashes[height] is None:
                raise ChainMovedError(height)
        calls = [Call("getblock", [hashes[h], 3], h) for h in heights]
        return [
            self._block(height, str(hashes[height]), raw)
            for height, raw in zip(heights, self.client.batch(calls), strict=True)
        ]

    def _block(self, height: int, expected_hash: str, raw: Any) -> NodeBlock:
        reader = _Reader(height)
        block = reader.obj(raw)
        block_hash = reader.txid(block, "hash")
        if block_hash != expected_hash or reader.field(block, "height", int) != height:
            raise ChainMovedError(height)
        if reader.field(block, "confirmations", int, optional=True) == -1:
            raise ChainMovedError(height)  # Core still serves a block a reorg took off its chain, marked -1
        timestamp = int(reader.field(block, "time", int))
        parent = reader.txid(block, "previousblockhash") if height > 0 else None
        transactions = reader.field(block, "tx", list)
        n_tx = reader.field(block, "nTx", int, optional=True)
        if n_tx is not None and n_tx != len(transactions):
            raise reader.fail(f"nTx is {n_tx} but the block lists {len(transactions)} transactions")
        records: list[Record] = []
        unresolved: list[_Unresolved] = []
        for position, raw_tx in enumerate(transactions):
            tx_reader = reader.at(f"tx[{position}]")
            records.append(self._transaction(tx_reader, tx_reader.obj(raw_tx), height, timestamp, position, unresolved))
        record = {"number": height, "hash": block_hash, "timestamp": timestamp, "transaction_count": len(records)}
        return NodeBlock(height, block_hash, parent, len(records), (record, records, unresolved))

    def _transaction(
        self,
        reader: _Reader,
        tx: dict[str, Any],
        height: int,
        timestamp: int,
        position: int,
        unresolved: list[_Unresolved],
    ) -> Record:
        txid = reader.txid(tx, "txid")
        vin = reader.field(tx, "vin", list)
        vout = reader.field(tx, "vout", list)
        is_coinbase = bool(vin) and isinstance(vin[0], dict) and "coinbase" in vin[0]
        inputs: list[Record] = []
        for index, raw_input in enumerate([] if is_coinbase else vin):
            in_reader = reader.at(f"vin[{index}]")
            item = in_reader.obj(raw_input)
            record: Record = {
                "index": index,
                "spent_transaction_hash": in_reader.txid(item, "txid"),
                "spent_output_index": int(in_reader.field(item, "vout", int)),
            }
            prevout = item.get("prevout")
            if prevout is not None:
                prev_reader = in_reader.at("prevout")
                prev = prev_reader.obj(prevout)
                spk = prev_reader.at("scriptPubKey")
                record["type"], record["addresses"] = script_addresses(spk.obj(prev.get("scriptPubKey")), spk)
                record["value"] = prev_reader.satoshi(prev, "value")
            else:
                unresolved.append(
                    _Unresolved(record, record["spent_transaction_hash"], record["spent_output_index"], txid)
                )
            inputs.append(record)
        outputs: list[Record] = []
        for index, raw_output in enumerate(vout):
            out_reader = reader.at(f"vout[{index}]")
            item = out_reader.obj(raw_output)
            if out_reader.field(item, "n", int) != index:
                raise out_reader.fail(f"output n is {item.get('n')}, expected {index}")
            spk = out_reader.at("scriptPubKey")
            spk_data = spk.obj(item.get("scriptPubKey"))
            script_type, addresses = script_addresses(spk_data, spk)
            outputs.append(
                {
                    "index": index,
                    "script_asm": str(spk.field(spk_data, "asm", str)),
                    "type": script_type,
                    "addresses": addresses,
                    "value": out_reader.satoshi(item, "value"),
                }
            )
        return {
            "hash": txid,
            "block_number": height,
            "block_timestamp": timestamp,
            "index": position,
            "is_coinbase": is_coinbase,
            "inputs": inputs,
            "outputs": outputs,
        }

    # -- conversion ------------------------------------------------------------------------------------------

    def build(
        self, writer: ChainWriter, store: ChainStore, blocks: list[NodeBlock], report: ChainIngestReport
    ) -> tuple[dict[str, pa.Table], HashKeys | None]:
        block_records: list[Record] = []
        tx_records: list[Record] = []
        unresolved: list[_Unresolved] = []
        for block in blocks:
            record, txs, missing = block.payload
            block_records.append(record)
            tx_records.extend(txs)
            unresolved.extend(missing)
        if unresolved:
            self._resolve(writer, store, tx_records, unresolved, blocks)
        return bitcoin_tables(writer, block_records, tx_records, report, self.url)

    def _resolve(
        self,
        writer: ChainWriter,
        store: ChainStore,
        txs: list[Record],
        unresolved: list[_Unresolved],
        blocks: list[NodeBlock],
    ) -> None:
        """Fill in inputs without ``prevout``: from this batch, then the store, then ``getrawtransaction``."""
        outputs = {(tx["hash"], out["index"]): out for tx in txs for out in tx["outputs"]}
        remaining: list[_Unresolved] = []
        for item in unresolved:
            spent = outputs.get((item.txid, item.vout))
            if spent is None:
                remaining.append(item)
            else:
                item.record.update(type=spent["type"], addresses=spent["addresses"], value=spent["value"])
        remaining = self._resolve_from_store(writer, store, remaining)
        if not remaining:
            return
        txids = sorted({item.txid for item in remaining})
        results = self.client.batch_results([Call("getrawtransaction", [txid, True]) for txid in txids])
        answers = dict(zip(txids, results, strict=True))
        for item in remaining:
            answer = answers[item.txid]
            block = next(b.number for b in blocks if any(t["hash"] == item.tx_hash for t in b.payload[1]))
            reader = _Reader(block, f"input {item.record['index']} of {item.tx_hash}", "getrawtransaction")
            vout = answer.get("vout") if isinstance(answer, dict) else None
            if isinstance(answer, Failure) or not isinstance(vout, list) or item.vout >= len(vout):
                raise StorageError(
                    "an input spends an output that neither the node's block (getblock verbosity 3 needs"
                    " Bitcoin Core 23 or later) nor the store nor getrawtransaction (needs -txindex) knows",
                    block=block,
                    transaction=item.tx_hash,
                    input=item.record["index"],
                    spent=f"{item.txid}:{item.vout}",
                )
            spent_reader = reader.at(f"vout[{item.vout}]")
            spent = spent_reader.obj(vout[item.vout])
            spk = spent_reader.at("scriptPubKey")
            item.record["type"], item.record["addresses"] = script_addresses(spk.obj(spent.get("scriptPubKey")), spk)
            item.record["value"] = spent_reader.satoshi(spent, "value")

    def _resolve_from_store(
        self, writer: ChainWriter, store: ChainStore, items: list[_Unresolved]
    ) -> list[_Unresolved]:
        """Fill what the store's committed outputs know; return the inputs still unresolved."""
        if not items:
            return items
        k1, k2, bad = hash_keys(pa.array([item.txid for item in items]))
        tx_ids = writer.resolve_tx_hashes(k1, k2)
        tx_ids[bad] = -1
        wanted = sorted({int(tx_id) for tx_id in tx_ids if tx_id >= 0})
        if not wanted:
            return items
        parts = [
            part
            for part in store.chain_state(self.chain).table_parts("outputs")
            if any(part.first_id <= tx_id <= part.last_id for tx_id in wanted)
        ]
        table = ds.dataset([str(store.root / part.file) for part in parts], format="parquet").to_table(
            columns=["tx_id", "output_index", "address_id", "value", "script_type"],
            filter=ds.field("tx_id").isin(wanted),
        )
        address_ids = table.column("address_id").to_pylist()
        names = store.addresses(self.chain, np.asarray(address_ids, dtype=np.int64))
        found = {
            (tx_id, index): (str(script_type), name, value)
            for tx_id, index, script_type, name, value in zip(
                table.column("tx_id").to_pylist(),
                table.column("output_index").to_pylist(),
                table.column("script_type").to_pylist(),
                names,
                table.column("value").to_pylist(),
                strict=True,
            )
        }
        remaining: list[_Unresolved] = []
        for item, tx_id in zip(items, tx_ids.tolist(), strict=True):
            spent = found.get((tx_id, item.vout))
            if spent is None:
                remaining.append(item)
                continue
            script_type, name, value = spent
            addresses = [] if name is None else name.split(",")
            item.record.update(type=script_type, addresses=addresses, value=int(value))
        return remaining
