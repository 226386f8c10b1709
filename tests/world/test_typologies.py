"""Each criminal story leaves the evidence its typology is known for, and the ground truth matches it."""

from __future__ import annotations

import csv
import itertools
import json
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from chainsleuth.world.typologies import TYPOLOGIES
from chainsleuth.world.typologies.patterns import PATTERNS
from chainsleuth.world.verify import read_records, read_table


def _incidents(world: Path) -> list[dict[str, Any]]:
    with (world / "ground_truth" / "incidents.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def _one(world: Path, typology: str) -> dict[str, Any]:
    found = [i for i in _incidents(world) if i["typology"] == typology]
    assert len(found) == 1, typology
    return found[0]


def _events(world: Path) -> list[dict[str, Any]]:
    return read_table(world / "exchange", "ledger_events")


def test_every_typology_and_pattern_is_present(tiny_world: Path) -> None:
    incidents = _incidents(tiny_world)
    assert {i["typology"] for i in incidents} == set(TYPOLOGIES)
    assert {i["pattern"] for i in incidents if i["typology"] == "aml_pattern"} == set(PATTERNS)
    for inc in incidents:
        assert inc["customer_ids"], inc["incident_id"]
        assert inc["event_ids"] or inc["tx_hashes"]["bitcoin"] or inc["tx_hashes"]["ethereum"]


def test_phone_theft_reaches_the_thief(tiny_world: Path) -> None:
    inc = _one(tiny_world, "phone_theft")
    hashes = set(inc["tx_hashes"]["bitcoin"])
    victim, thief_dep = inc["details"]["victim_address"], inc["details"]["thief_deposit_address"]
    stolen = reached = fees = 0
    for tx in read_records(tiny_world, "bitcoin/transactions"):
        if tx["hash"] not in hashes:
            continue
        if any(victim in i["addresses"] for i in tx["inputs"]):
            stolen += sum(i["value"] for i in tx["inputs"] if victim in i["addresses"])
        fees += tx["fee"]
        reached += sum(o["value"] for o in tx["outputs"] if thief_dep in o["addresses"])
    assert stolen > 0
    assert reached >= 0.95 * (stolen - fees)
    assert abs(inc["amount_usd"] - 350_000) < 1_000
    terminal = inc["terminal_accounts"]
    assert len(terminal) == 1
    assert terminal[0]["customer_id"] == inc["customer_ids"][0]["customer_id"]
    assert terminal[0]["amount_usd"] > 300_000
    # the thief's deposits are booked on the ledger and labelled
    events = {e["event_id"]: e for e in _events(tiny_world)}
    deposits = [events[i] for i in inc["event_ids"] if events[i]["event_type"] == "deposit"]
    assert {d["address"] for d in deposits} == {thief_dep}


def test_unexplained_wealth_contradicts_the_profile(tiny_world: Path) -> None:
    inc = _one(tiny_world, "unexplained_wealth")
    cust = inc["customer_ids"][0]["customer_id"]
    profile = next(c for c in read_table(tiny_world / "exchange", "customers") if c["customer_id"] == cust)
    assert profile["declared_annual_income_usd"] <= 20_000
    deposits = [e for e in _events(tiny_world) if e["customer_id"] == cust and e["event_type"] == "deposit"]
    assert sum(e["usd_value"] for e in deposits) >= 1_900_000


def test_hack_goes_through_mixer_and_bridge(tiny_world: Path) -> None:
    inc = _one(tiny_world, "hack_laundering")
    hashes = set(inc["tx_hashes"]["bitcoin"])
    memos = [
        o["script_asm"]
        for tx in read_records(tiny_world, "bitcoin/transactions")
        if tx["hash"] in hashes
        for o in tx["outputs"]
        if o["type"] == "nulldata"
    ]
    assert any(bytes.fromhex(m.split()[1]).startswith(b"=:ETH:0x") for m in memos)
    bridge_payouts = [
        tx
        for tx in read_records(tiny_world, "ethereum/transactions")
        if tx["hash"] in set(inc["tx_hashes"]["ethereum"]) and tx["input"].startswith("0xb1d9e0a5")
    ]
    assert bridge_payouts
    assert all(tx["input"][10:] in hashes for tx in bridge_payouts)
    owners = _owners(tiny_world)
    mixer_hits = [
        o
        for tx in read_records(tiny_world, "bitcoin/transactions")
        if tx["hash"] in hashes
        for o in tx["outputs"]
        if o["addresses"] and owners.get(o["addresses"][0]) == "mixer"
    ]
    assert mixer_hits
    assert len(inc["terminal_accounts"]) == 3


def test_ransomware_is_partly_tagged(tiny_world: Path) -> None:
    inc = _one(tiny_world, "ransomware")
    assert len(inc["victim_entity_ids"]) == 6
    text = (tiny_world / "tagpacks" / "ransomware.yaml").read_text()
    assert "abuse: ransomware" in text
    assert inc["terminal_accounts"]


def test_sanctioned_entity_only_partly_public(tiny_world: Path) -> None:
    import yaml

    pack = yaml.safe_load((tiny_world / "tagpacks" / "sanctions.yaml").read_text())
    tagged = {t["address"] for t in pack["tags"]}
    inc = _one(tiny_world, "sanctions")
    entity = inc["perpetrator_entity_ids"][0]
    with (tiny_world / "ground_truth" / "address_owners.csv").open() as fh:
        owned = {r["address"] for r in csv.DictReader(fh) if r["entity_id"] == entity}
    assert tagged < owned  # strictly fewer tagged than owned
    assert len(inc["customer_ids"]) == 4


def test_structuring_stays_below_threshold(tiny_world: Path) -> None:
    inc = _one(tiny_world, "structuring")
    events = {e["event_id"]: e for e in _events(tiny_world)}
    money = [events[i] for i in inc["event_ids"] if events[i]["event_type"] in ("fiat_deposit", "withdrawal")]
    assert len(money) >= 14
    assert all(8_500 <= e["usd_value"] < 10_000 for e in money)


def test_mules_never_trade(tiny_world: Path) -> None:
    inc = _one(tiny_world, "money_mule")
    mules = {c["customer_id"] for c in inc["customer_ids"]}
    kinds = Counter(e["event_type"] for e in _events(tiny_world) if e["customer_id"] in mules)
    assert kinds["trade"] == 0
    assert kinds["deposit"] >= 6
    assert kinds["withdrawal"] >= 6


def test_shared_device_links_customers(tiny_world: Path) -> None:
    by_device: dict[str, set[str]] = defaultdict(set)
    for e in _events(tiny_world):
        if e["event_type"] == "login":
            by_device[e["device_id"]].add(e["customer_id"])
    inc = _one(tiny_world, "shared_device")
    members = {c["customer_id"] for c in inc["customer_ids"]}
    assert any(members <= customers for customers in by_device.values())


def test_dormant_account_gap(tiny_world: Path) -> None:
    inc = _one(tiny_world, "dormant_reactivated")
    cust = inc["customer_ids"][0]["customer_id"]
    times = sorted(e["timestamp"] for e in _events(tiny_world) if e["customer_id"] == cust)
    gaps = [(b - a).days for a, b in itertools.pairwise(times)]
    assert max(gaps) >= 60
    kinds = {e["event_type"] for e in _events(tiny_world) if e["event_id"] in set(inc["event_ids"])}
    assert {"credential_change", "deposit", "withdrawal"} <= kinds


def test_pig_butchering_victim_pays_reported_scam(tiny_world: Path) -> None:
    inc = _one(tiny_world, "pig_butchering")
    assert inc["customer_ids"][0]["role"] == "victim"
    assert not inc["terminal_accounts"]
    events = {e["event_id"]: e for e in _events(tiny_world)}
    destinations = {events[i]["address"] for i in inc["event_ids"] if events[i]["event_type"] == "withdrawal"}
    assert len(destinations) == 1
    assert destinations.pop() in (tiny_world / "tagpacks" / "scams.yaml").read_text()


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_aml_patterns_end_at_our_customers(tiny_world: Path, pattern: str) -> None:
    inc = next(i for i in _incidents(tiny_world) if i["pattern"] == pattern)
    assert inc["terminal_accounts"] or pattern == "fan_out"
    assert len(inc["tx_hashes"]["ethereum"]) >= 5


def test_labels_match_incidents(tiny_world: Path) -> None:
    incidents = {i["incident_id"]: i for i in _incidents(tiny_world)}
    with (tiny_world / "ground_truth" / "customer_labels.csv").open() as fh:
        labels = list(csv.DictReader(fh))
    for row in labels:
        inc = incidents[row["incident_id"]]
        assert row["label"] == inc["typology"]
        assert {"customer_id": row["customer_id"], "role": row["role"]} in inc["customer_ids"]
    with (tiny_world / "ground_truth" / "event_labels.csv").open() as fh:
        for row in csv.DictReader(fh):
            assert row["event_id"] in incidents[row["incident_id"]]["event_ids"]


def test_balances_are_decimal_and_non_negative(tiny_world: Path) -> None:
    for row in read_table(tiny_world / "exchange", "balances"):
        assert isinstance(row["balance"], Decimal)
        assert row["balance"] >= 0


def _owners(world: Path) -> dict[str, str]:
    with (world / "ground_truth" / "entities.csv").open() as fh:
        kinds = {r["entity_id"]: r["kind"] for r in csv.DictReader(fh)}
    with (world / "ground_truth" / "address_owners.csv").open() as fh:
        return {r["address"]: kinds[r["entity_id"]] for r in csv.DictReader(fh)}
