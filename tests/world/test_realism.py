"""Realism that a user relies on: population size on demand, heavy-tailed activity, typologies in their shape."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from typer.testing import CliRunner

from chainsleuth.cli.world_cmd import app
from chainsleuth.world import load_manifest
from chainsleuth.world.verify import read_records, read_table

runner = CliRunner()


def test_customers_option_overrides_the_preset(tmp_path: Path) -> None:
    out = tmp_path / "crowd"
    result = runner.invoke(app, ["generate", "--out", str(out), "--size", "2000", "--customers", "400"])
    assert result.exit_code == 0, result.output
    manifest = load_manifest(out)
    assert manifest.extra["customers"] == 400  # the default for 2,000 transfers is 150
    customers = read_table(out / "exchange", "customers")
    assert 400 <= len(customers) <= 400 + 80  # the stories add their own few dozen customers
    assert manifest.row_counts["customers"] == len(customers)
    active = {e["customer_id"] for e in read_table(out / "exchange", "ledger_events")}
    assert len(active) > 200  # more than the whole default population: the crowd is used, not just listed


def _activity(world: Path) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Ledger events per customer (logins left out), every customer counted, sorted descending."""
    counts: Counter[str] = Counter(
        e["customer_id"] for e in read_table(world / "exchange", "ledger_events") if e["event_type"] != "login"
    )
    everyone = [c["customer_id"] for c in read_table(world / "exchange", "customers")]
    return np.array(sorted((counts.get(c, 0) for c in everyone), reverse=True), dtype=np.int64)


def test_activity_is_heavy_tailed(tiny_world: Path) -> None:
    activity = _activity(tiny_world)
    n, total = len(activity), int(activity.sum())
    top_decile = activity[: n // 10].sum() / total
    assert top_decile > 0.30  # three times its share of the population (a uniform world gives 0.10)
    ordered = np.sort(activity)
    gini = (n + 1 - 2 * (np.cumsum(ordered).sum() / total)) / n
    assert gini > 0.4  # a Poisson world of equal customers stays near 0.2
    assert activity[0] > 5 * np.median(activity)


def _incident(world: Path, typology: str) -> dict[str, Any]:
    with (world / "ground_truth" / "incidents.jsonl").open(encoding="utf-8") as fh:
        incidents = [json.loads(line) for line in fh]
    return next(i for i in incidents if i["typology"] == typology)


def _owners(world: Path) -> dict[str, str]:
    with (world / "ground_truth" / "address_owners.csv").open(encoding="utf-8", newline="") as fh:
        return {r["address"]: r["entity_id"] for r in csv.DictReader(fh) if r["chain"] == "bitcoin"}


def test_hack_is_laundered_through_a_peel_chain(tiny_world: Path) -> None:
    """Each hop spends the previous hop's change: one input, a large change back to the hacker, a small peel out."""
    hack = _incident(tiny_world, "hack_laundering")
    hacker = set(hack["perpetrator_entity_ids"])
    owners = _owners(tiny_world)
    txs = {t["hash"]: t for t in read_records(tiny_world, "bitcoin/transactions")}
    spender = {(i["spent_transaction_hash"], i["spent_output_index"]): t for t in txs.values() for i in t["inputs"]}
    theft = txs[hack["tx_hashes"]["bitcoin"][0]]
    current = next(o for o in theft["outputs"] if owners.get(o["addresses"][0]) in hacker)
    at = (theft["hash"], current["index"])
    peels = []
    while at in spender:
        hop = spender[at]
        paying = [o for o in hop["outputs"] if o["type"] != "nulldata"]
        change = [o for o in paying if owners.get(o["addresses"][0]) in hacker]
        peel = [o for o in paying if owners.get(o["addresses"][0]) not in hacker]
        if len(hop["inputs"]) != 1 or len(change) != 1 or len(peel) != 1 or peel[0]["value"] > change[0]["value"]:
            break  # the chain ends: the hacker sweeps what is left
        assert hop["hash"] in hack["tx_hashes"]["bitcoin"]
        assert change[0]["value"] + peel[0]["value"] + hop["fee"] == hop["input_value"]
        assert peel[0]["value"] < 0.25 * hop["input_value"]  # a small peel off a large balance
        peels.append(peel[0]["value"])
        at = (hop["hash"], change[0]["index"])
    assert len(peels) >= 6


def test_coinjoins_are_labelled_in_the_ground_truth(tiny_world: Path) -> None:
    with (tiny_world / "ground_truth" / "coinjoins.csv").open(encoding="utf-8", newline="") as fh:
        labels = list(csv.DictReader(fh))
    assert labels
    hashes = {row["tx_hash"] for row in labels}
    txs = {t["hash"]: t for t in read_records(tiny_world, "bitcoin/transactions")}
    owners = _owners(tiny_world)
    for row in labels:
        tx = txs[row["tx_hash"]]
        equal = sum(o["value"] == int(row["denomination_sat"]) for o in tx["outputs"])
        assert equal >= 3, row  # equal-value outputs, one per participant
        senders = {owners[i["addresses"][0]] for i in tx["inputs"]}
        assert len(senders) >= 3  # inputs of several owners: the multi-input heuristic must not merge them
        assert row["initiator_entity_id"] in senders
        assert tx["block_timestamp"] >= int(
            np.datetime64(row["timestamp"].rstrip("Z")).astype("datetime64[s]").astype(np.int64)
        )
    # every transaction of that shape is labelled: none is left for an investigator to mistake for one wallet
    for tx in txs.values():
        values = Counter(o["value"] for o in tx["outputs"])
        owners_in = {owners[i["addresses"][0]] for i in tx["inputs"]}
        if len(owners_in) >= 3 and any(n >= 3 for n in values.values()):
            assert tx["hash"] in hashes, tx["hash"]
    assert load_manifest(tiny_world).row_counts["coinjoins"] == len(labels)
