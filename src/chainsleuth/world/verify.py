"""Check a generated world against its invariants, reading only the exported files.

This is what the tests run on tiny worlds, and what a user can run on any world they were handed
(``chainsleuth world verify DIR``): it replays both chains and the exchange ledger and cross-checks the ground
truth. It holds every unspent output and balance in memory, so it is meant for worlds up to a few million
transfers. Checks that need no replay (file hashes, label files, TagPacks) and the readers that turn a broken file
into a clear error live in :mod:`chainsleuth.world.verify_files`.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

from chainsleuth.errors import MalformedFileError
from chainsleuth.world.generator import load_manifest
from chainsleuth.world.verify_files import (
    check_hashes,
    check_labels,
    check_tagpacks,
    read_csv,
    read_incidents,
    read_records,
    read_table,
)

__all__ = ["STAGES", "Report", "read_records", "read_table", "verify_world"]

#: The stages ``verify_world`` reports progress on, in order.
STAGES = ("file hashes", "bitcoin", "ethereum", "ledger", "deposits", "ground truth", "labels", "tagpacks")

Progress = Callable[[int, int, str], None]
"""Called as ``progress(stages_done, stages_total, next_stage)`` before each stage and once at the end."""


@dataclass
class Report:
    """Outcome of ``verify_world``: counts of what was checked and every problem found."""

    problems: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, message: str) -> None:
        if len(self.problems) < 200:
            self.problems.append(message)


def verify_world(directory: Path | str, progress: Progress | None = None) -> Report:
    """Replay a world's exports and return every invariant violation found.

    A file that cannot be read at all raises MalformedFileError (or NotFoundError) instead of a report: there is
    nothing left to check in a world whose files do not parse.
    """
    out = Path(directory)
    report = Report()
    manifest = load_manifest(out)
    step = _Stages(progress)
    with step("file hashes", out / "manifest.json"):
        check_hashes(out, manifest, report)
    with step("bitcoin", out / "bitcoin"):
        btc_txs, btc_paid = _check_bitcoin(out, report)
    with step("ethereum", out / "ethereum"):
        eth_txs, eth_paid = _check_ethereum(
            out, report, manifest.extra.get("ethereum_genesis_alloc", []), manifest.extra.get("constants", {})
        )
    with step("ledger", out / "exchange"):
        events = _check_ledger(out, report)
    with step("deposits", out / "exchange"):
        _check_deposits(out, report, events, btc_paid, eth_paid)
    event_ids = {e["event_id"] for e in events}
    with step("ground truth", out / "ground_truth"):
        incidents = read_incidents(out)
        owners = _owners(out)
        _check_truth(out, report, incidents, owners, btc_txs, eth_txs, event_ids)
    with step("labels", out / "ground_truth"):
        customers = {str(r["customer_id"]) for r in read_table(out / "exchange", "customers")}
        check_labels(out, report, incidents, customers, event_ids)
    with step("tagpacks", out / "tagpacks"):
        check_tagpacks(out, report, owners)
    step.finish()
    return report


class _Stages:
    """Reports progress per stage, and turns a record of the wrong shape into a MalformedFileError for its files."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.done = 0
        self.where = Path()

    def __call__(self, name: str, where: Path) -> _Stages:
        if self.progress is not None:
            self.progress(self.done, len(STAGES), name)
        self.where = where
        return self

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, _tb: object) -> Literal[False]:
        # our own errors are ChainsleuthErrors, none of these: they pass through unchanged
        if isinstance(error, KeyError | TypeError | ValueError | InvalidOperation | AttributeError):
            raise MalformedFileError(
                f"a record has an unexpected shape ({type(error).__name__}: {error})", path=str(self.where)
            ) from error
        self.done += 1
        return False

    def finish(self) -> None:
        if self.progress is not None:
            self.progress(len(STAGES), len(STAGES), "done")


def _check_bitcoin(out: Path, report: Report) -> tuple[set[str], dict[tuple[str, str], int]]:
    utxos: dict[tuple[str, int], tuple[int, str]] = {}
    hashes: set[str] = set()
    paid: dict[tuple[str, str], int] = defaultdict(int)
    blocks = {b["number"]: b for b in read_records(out, "bitcoin/blocks")}
    if sorted(blocks) != list(range(len(blocks))):
        report.fail("bitcoin block numbers are not consecutive from 0")
    counts: dict[int, int] = defaultdict(int)
    last_block = -1
    for tx in read_records(out, "bitcoin/transactions"):
        h = tx["hash"]
        hashes.add(h)
        if tx["block_number"] < last_block:
            report.fail(f"bitcoin tx {h} out of block order")
        last_block = tx["block_number"]
        counts[last_block] += 1
        block = blocks.get(tx["block_number"])
        if block is None or block["hash"] != tx["block_hash"]:
            report.fail(f"bitcoin tx {h} in unknown block")
        in_value = 0
        for inp in tx["inputs"]:
            key = (inp["spent_transaction_hash"], inp["spent_output_index"])
            spent = utxos.pop(key, None)
            if spent is None:
                report.fail(f"bitcoin tx {h} spends a missing or already spent output {key}")
                continue
            if spent[0] != inp["value"]:
                report.fail(f"bitcoin tx {h} input value differs from the output it spends")
            in_value += inp["value"]
        out_value = 0
        for o in tx["outputs"]:
            out_value += o["value"]
            if o["type"] != "nulldata":
                utxos[(h, o["index"])] = (o["value"], o["addresses"][0])
                paid[(h, o["addresses"][0])] += o["value"]
        if tx["is_coinbase"]:
            if tx["inputs"]:
                report.fail(f"coinbase {h} has inputs")
        elif in_value < out_value or tx["fee"] != in_value - out_value:
            report.fail(f"bitcoin tx {h}: inputs {in_value} < outputs {out_value} + fee {tx['fee']}")
    for number, block in blocks.items():
        if counts[number] != block["transaction_count"]:
            report.fail(f"bitcoin block {number} has {counts[number]} transactions, says {block['transaction_count']}")
    report.checked["bitcoin_transactions"] = len(hashes)
    return hashes, dict(paid)


def _check_ethereum(
    out: Path, report: Report, alloc: list[dict[str, str]], constants: dict[str, Any]
) -> tuple[set[str], dict[tuple[str, str], int]]:
    eth: dict[str, int] = defaultdict(int)
    usdt: dict[str, int] = defaultdict(int)
    for entry in alloc:
        eth[entry["address"]] += int(entry["wei"])
    reward = int(constants.get("ethereum_block_reward_wei", 0))
    blocks = sorted(read_records(out, "ethereum/blocks"), key=lambda b: int(b["number"]))
    miners = {b["number"]: b["miner"] for b in blocks}
    for previous, block in itertools.pairwise(blocks):
        if block["number"] != previous["number"] + 1 or block["parent_hash"] != previous["hash"]:
            report.fail(f"ethereum block {block['number']} does not follow block {previous['number']}")
    tokens: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for tt in read_records(out, "ethereum/token_transfers"):
        tokens[tt["transaction_hash"]].append(tt)
    hashes: set[str] = set()
    paid: dict[tuple[str, str], int] = defaultdict(int)
    zero = "0x" + "0" * 40
    rewarded: set[int] = set()
    for tx in read_records(out, "ethereum/transactions"):
        number = tx["block_number"]
        miner = miners.get(number)
        if miner is None:
            report.fail(f"ethereum tx {tx['hash']} in unknown block")
            continue
        if number not in rewarded:
            rewarded.add(number)
            eth[miner] += reward
        h, frm, to, value = tx["hash"], tx["from_address"], tx["to_address"], int(tx["value"])
        hashes.add(h)
        fee = int(tx["gas"]) * int(tx["gas_price"])
        eth[frm] -= value + fee
        eth[to] += value
        eth[miner] += fee
        if eth[frm] < 0:
            report.fail(f"ethereum balance of {frm} negative after {h}")
        if value:
            paid[(h, to)] += value
        for tt in tokens.pop(h, []):
            v = int(tt["value"])
            usdt[tt["from_address"]] -= v
            usdt[tt["to_address"]] += v
            paid[(h, tt["to_address"])] += v
            if tt["from_address"] != zero and usdt[tt["from_address"]] < 0:
                report.fail(f"USDT balance of {tt['from_address']} negative after {h}")
    if tokens:
        report.fail(f"{len(tokens)} token transfers refer to missing transactions")
    report.checked["ethereum_transactions"] = len(hashes)
    return hashes, dict(paid)


DECIMALS = {"BTC": 8, "ETH": 18, "USDT": 6, "USD": 2, "EUR": 2}


def _units(value: Any, asset: str) -> int:
    return int(Decimal(str(value)).scaleb(DECIMALS[asset]))


def _check_ledger(out: Path, report: Report) -> list[dict[str, Any]]:
    events = read_table(out / "exchange", "ledger_events")
    balance: dict[tuple[str, str], int] = defaultdict(int)
    previous: tuple[str, str] = ("", "")
    for e in events:
        key = (str(e["timestamp"]), e["event_id"])
        if key < previous:
            report.fail(f"ledger not ordered by timestamp, event_id at {e['event_id']}")
        previous = key
        asset = e["asset"]
        if asset is None:
            continue
        amount = _units(e["amount"], asset)
        kind, acct = e["event_type"], e["account_id"]
        if kind in ("deposit", "fiat_deposit"):
            balance[(acct, asset)] += amount
        elif kind in ("withdrawal", "fiat_withdrawal"):
            balance[(acct, asset)] -= amount
        elif kind == "internal_transfer":
            balance[(acct, asset)] -= amount
            balance[(e["counterparty_account_id"], asset)] += amount
        elif kind == "trade":
            quote = _units(e["quote_amount"], e["quote_asset"])
            sign = 1 if e["side"] == "buy" else -1
            balance[(acct, asset)] += sign * amount
            balance[(acct, e["quote_asset"])] -= sign * quote
            if balance[(acct, e["quote_asset"])] < 0:
                report.fail(f"negative {e['quote_asset']} balance of {acct} after {e['event_id']}")
        if balance[(acct, asset)] < 0:
            report.fail(f"negative {asset} balance of {acct} after {e['event_id']}")
    closing = {
        (r["account_id"], r["asset"]): _units(r["balance"], r["asset"])
        for r in read_table(out / "exchange", "balances")
    }
    for key, value in balance.items():
        if closing.get(key, 0) != value:
            report.fail(f"balances table differs from the ledger for {key}: {closing.get(key)} != {value}")
    for key in closing.keys() - balance.keys():
        report.fail(f"balances table has {key} without ledger events")
    report.checked["ledger_events"] = len(events)
    return events


def _check_deposits(
    out: Path,
    report: Report,
    events: list[dict[str, Any]],
    btc_paid: dict[tuple[str, str], int],
    eth_paid: dict[tuple[str, str], int],
) -> None:
    ours = {(r["chain"], r["address"]) for r in read_table(out / "exchange", "deposit_addresses")}
    booked: dict[tuple[str, str], int] = defaultdict(int)
    for e in events:
        if e["event_type"] == "deposit":
            asset = e["asset"]
            amount = _units(e["amount"], asset)
            booked[(e["tx_hash"], e["address"])] += amount
            if (e["chain"], e["address"]) not in ours:
                report.fail(f"deposit {e['event_id']} to an address that is not ours")
    our_entity = _our_entity(out)
    hot = {
        a for (c, a), (ent, role) in _owners(out).items() if role in ("hot_wallet", "cold_wallet") and ent == our_entity
    }
    on_chain: dict[tuple[str, str], int] = {}
    for (h, address), value in btc_paid.items():
        if ("bitcoin", address) in ours:
            on_chain[(h, address)] = value
    eth_senders = {tx["hash"]: tx["from_address"] for tx in read_records(out, "ethereum/transactions")}
    for (h, address), value in eth_paid.items():
        if ("ethereum", address) in ours and eth_senders.get(h) not in hot:
            on_chain[(h, address)] = value
    for key, value in on_chain.items():
        if booked.get(key) != value:
            report.fail(f"on-chain deposit {key} of {value} booked as {booked.get(key)}")
    for key in booked.keys() - on_chain.keys():
        report.fail(f"ledger deposit {key} has no on-chain transfer")
    report.checked["deposits"] = len(on_chain)


def _owners(out: Path) -> dict[tuple[str, str], tuple[str, str]]:
    rows = read_csv(out / "ground_truth" / "address_owners.csv")
    return {(r["chain"], r["address"]): (r["entity_id"], r["role"]) for r in rows}


def _our_entity(out: Path) -> str:
    return str(load_manifest(out).extra.get("our_exchange_entity_id", ""))


def _check_truth(
    out: Path,
    report: Report,
    incidents: list[dict[str, Any]],
    owners: dict[tuple[str, str], tuple[str, str]],
    btc: set[str],
    eth: set[str],
    event_ids: set[str],
) -> None:
    for tx in read_records(out, "bitcoin/transactions"):
        for part in (*tx["inputs"], *tx["outputs"]):
            for address in part["addresses"]:
                if ("bitcoin", address) not in owners:
                    report.fail(f"bitcoin address {address} has no owner")
    for tx in read_records(out, "ethereum/transactions"):
        for address in (tx["from_address"], tx["to_address"]):
            if ("ethereum", address) not in owners:
                report.fail(f"ethereum address {address} has no owner")
    accounts = {r["account_id"]: r["customer_id"] for r in read_table(out / "exchange", "accounts")}
    entities = {r["entity_id"] for r in read_csv(out / "ground_truth" / "entities.csv")}
    for inc in incidents:
        iid = inc["incident_id"]
        for h in inc["tx_hashes"]["bitcoin"]:
            if h not in btc:
                report.fail(f"{iid}: bitcoin tx {h} not in the chain export")
        for h in inc["tx_hashes"]["ethereum"]:
            if h not in eth:
                report.fail(f"{iid}: ethereum tx {h} not in the chain export")
        for event_id in inc["event_ids"]:
            if event_id not in event_ids:
                report.fail(f"{iid}: event {event_id} not in the ledger")
        for term in inc["terminal_accounts"]:
            if accounts.get(term["account_id"]) != term["customer_id"]:
                report.fail(f"{iid}: terminal account {term['account_id']} is not {term['customer_id']}'s")
        for entity in inc["perpetrator_entity_ids"] + inc["victim_entity_ids"]:
            if entity not in entities:
                report.fail(f"{iid}: unknown entity {entity}")
        if not inc["tx_hashes"]["bitcoin"] and not inc["tx_hashes"]["ethereum"] and not inc["event_ids"]:
            report.fail(f"{iid}: incident without any evidence")
    report.checked["incidents"] = len(incidents)
    coinjoins = out / "ground_truth" / "coinjoins.csv"
    if coinjoins.is_file():  # worlds of generator versions before it have no such file
        for row in read_csv(coinjoins):
            if row["tx_hash"] not in btc:
                report.fail(f"coinjoins.csv: bitcoin tx {row['tx_hash']} not in the chain export")
