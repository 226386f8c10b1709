"""Evaluation protocols: sealed test labels, validation-only thresholds, AMLSim, the world, the CLI."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from chainsleuth.cli.eval_cmd import app
from chainsleuth.monitor.evaluation import accounts
from chainsleuth.monitor.evaluation.accounts import evaluate_accounts
from chainsleuth.monitor.evaluation.amlsim import amlsim_task, load_amlsim
from chainsleuth.monitor.evaluation.guard import LabelLeakError, SealedLabels
from chainsleuth.monitor.evaluation.world import world_task
from chainsleuth.monitor.models.lgbm import TrainConfig

AMLSIM = Path(__file__).resolve().parents[4] / "shared" / "data" / "amlsim" / "20K_fanin200"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
FAST = TrainConfig(num_boost_round=80, early_stopping_rounds=15, imbalance="none")


def test_sealed_labels_refuse_every_early_read() -> None:
    sealed = SealedLabels(np.array([0, 1, 0]))
    with pytest.raises(LabelLeakError):
        np.asarray(sealed)
    with pytest.raises(LabelLeakError):
        sealed[0]
    with pytest.raises(LabelLeakError):
        list(sealed)
    with pytest.raises(LabelLeakError):
        sealed.open(np.zeros(3), threshold_frozen=False)
    with pytest.raises(LabelLeakError):
        sealed.open(np.zeros(2), threshold_frozen=True)
    assert sealed.open(np.zeros(3), threshold_frozen=True).tolist() == [0, 1, 0]


@pytest.fixture(scope="module")
def amlsim_small() -> Any:
    """The first 60 of 149 steps of 20K_fanin200 (all 20,000 accounts, ~40k transactions, patterns intact)."""
    if not AMLSIM.is_dir():
        pytest.skip("shared AMLSim data not present")
    task = amlsim_task(load_amlsim(AMLSIM, max_step=60))
    return task, accounts.build_snapshots(task)


def test_threshold_uses_validation_labels_and_test_labels_open_only_after_scoring(
    amlsim_small: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    log: list[str] = []
    real_train, real_open = accounts.train_model, SealedLabels.open
    val_labels: list[np.ndarray] = []

    def spy_train(x_tr: Any, y_tr: Any, x_va: Any, y_va: Any, *a: Any, **k: Any) -> Any:
        log.append("train")
        val_labels.append(np.asarray(y_va))
        return real_train(x_tr, y_tr, x_va, y_va, *a, **k)

    def spy_open(self: SealedLabels, scores: Any, *, threshold_frozen: bool) -> Any:
        log.append("open")
        return real_open(self, scores, threshold_frozen=threshold_frozen)

    monkeypatch.setattr(accounts, "train_model", spy_train)
    monkeypatch.setattr(SealedLabels, "open", spy_open)
    task, snaps = amlsim_small
    evaluate_accounts(task, seeds=(0,), methods=("lgbm_raw",), train_config=FAST, snapshots=snaps)
    assert log == ["train", "open"]
    np.testing.assert_array_equal(val_labels[0], snaps[-2].y)  # the validation snapshot, not the test one
    assert snaps[-2].time < snaps[-1].time


def test_amlsim_subsample_beats_the_base_rate(amlsim_small: Any) -> None:
    task, snaps = amlsim_small
    methods = ("rules", "lgbm_graph", "lgbm_profile")
    report = evaluate_accounts(task, seeds=(0,), methods=methods, train_config=FAST, snapshots=snaps)
    base = report["data"]["test"]["base_rate"]
    assert 0 < base < 0.02
    pr = report["methods"]["lgbm_graph"]["summary"]["pr_auc"]["mean"]
    # measured: PR-AUC 0.40 at a base rate of 0.0061 (65x); the bound, 40x, sits below that with room for
    # LightGBM differences across platforms. Rules alone measured 0.09 on the full data set.
    assert pr > 40 * base
    assert report["methods"]["rules"]["rule"]
    assert report["methods"]["lgbm_graph"]["summary"]["recall_by_group"]["fan-in"]["recall"]["mean"] >= 0


def test_flagged_account_exposure_reads_only_onsets_before_the_period(amlsim_small: Any) -> None:
    """The known_* columns at snapshot T see accounts flagged before T's label period, never later onsets."""
    task, snaps = amlsim_small
    since = [task.start, *task.times[:-1]]
    rng = np.random.default_rng(0)
    later = np.isfinite(task.onset) & (task.onset > since[2])
    moved = task.onset.copy()
    moved[later] = rng.uniform(since[2] + 1, task.test_time, int(later.sum())).round()  # reshuffle future onsets
    again = accounts.build_snapshots(dataclasses.replace(task, onset=moved))
    names = [n for n in snaps[2].features["graph"].names if n.startswith("known_")]
    assert len(names) == 8
    for k in range(3):  # snapshots whose period starts at or before since[2] see the same flagged accounts
        np.testing.assert_array_equal(
            again[k].features["graph"].select(names).values, snaps[k].features["graph"].select(names).values
        )
    assert np.nansum(snaps[2].features["graph"].select(names).values) > 0  # the columns carry something to leak
    earlier = np.isfinite(task.onset) & (task.onset <= since[1])
    unflag = task.onset.copy()
    unflag[earlier] = np.nan
    changed = accounts.build_snapshots(dataclasses.replace(task, onset=unflag))
    assert not np.array_equal(
        changed[2].features["graph"].select(names).values, snaps[2].features["graph"].select(names).values
    )


def _write_world(root: Path) -> None:
    """A minimal world export: 40 customers, a fan-in funnel of mules paying one launderer over time."""
    (root / "exchange").mkdir(parents=True)
    (root / "ground_truth").mkdir()
    rng = np.random.default_rng(0)
    t0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    rows: list[dict[str, Any]] = []
    labels = ["customer_id,label,incident_id,first_illicit_at,role"]
    customers = [f"C{i:07d}" for i in range(40)]
    for day in range(100):
        for _ in range(6):
            a, b = rng.choice(40, 2, replace=False)
            rows.append({"event_type": "internal_transfer", "customer_id": customers[a],
                         "counterparty_customer_id": customers[b], "usd_value": float(rng.uniform(10, 500)),
                         "timestamp": t0 + dt.timedelta(days=day, minutes=int(rng.integers(0, 1400)))})  # fmt: skip
    for k in range(10):  # ten mule incidents, spread over time, each paying customer 0 then withdrawing
        mule, day = customers[30 + k], 5 + 9 * k
        labels.append(f"{mule},money_mule,I{k:04d},{(t0 + dt.timedelta(days=day)).isoformat()},mule")
        rows.append({"event_type": "fiat_deposit", "customer_id": mule, "bank_reference": f"bank{k % 2}",
                     "usd_value": 9000.0, "timestamp": t0 + dt.timedelta(days=day)})  # fmt: skip
        rows.append({"event_type": "withdrawal", "customer_id": mule, "chain": "bitcoin", "address": "1Shared",
                     "usd_value": 8900.0, "timestamp": t0 + dt.timedelta(days=day, hours=2)})  # fmt: skip
    labels.append(f"{customers[1]},pig_butchering,I0099,{t0.isoformat()},victim")
    cols = ["event_type", "customer_id", "counterparty_customer_id", "usd_value", "chain", "address", "bank_reference"]
    table = pa.table({c: [r.get(c) for r in rows] for c in cols} | {
        "timestamp": pa.array([r["timestamp"] for r in rows], pa.timestamp("us", tz="UTC"))})  # fmt: skip
    pq.write_table(table, root / "exchange" / "ledger_events.parquet")
    pq.write_table(pa.table({"customer_id": customers}), root / "exchange" / "customers.parquet")
    (root / "ground_truth" / "customer_labels.csv").write_text("\n".join(labels) + "\n")


def test_world_evaluation_reports_typology_recall_and_fp_rate(tmp_path: Path) -> None:
    _write_world(tmp_path / "w")
    task = world_task(tmp_path / "w")
    assert task.eligible is not None
    assert int(task.eligible.sum()) == 40  # addresses and banks are nodes, not scored customers
    assert np.isnan(task.onset[list(task.edges.labels).index("C0000001")])  # victims are not illicit
    report = evaluate_accounts(task, seeds=(0,), methods=("rules", "lgbm_graph"), train_config=FAST)
    for m in ("rules", "lgbm_graph"):
        s = report["methods"][m]["summary"]
        assert "fp_per_1000" in s
        assert "money_mule" in s["recall_by_group"]


def test_cli_elliptic_and_amlworld_on_fixtures(tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["elliptic", str(FIXTURES / "elliptic"), "--out", str(tmp_path), "--seeds", "2"])
    assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "elliptic.json").read_text())
    assert rep["data"]["train"]["n"] + rep["data"]["test"]["n"] == 48  # labelled only
    assert "illicit_f1" in (tmp_path / "elliptic.md").read_text()
    r = runner.invoke(app, ["amlworld", str(FIXTURES / "amlworld"), "--out", str(tmp_path), "--seeds", "1"])
    assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "amlworld.json").read_text())
    assert rep["data"]["test"]["positives"] == 3
    assert "CYCLE" in rep["methods"]["lgbm_graph"]["summary"]["recall_by_group"]
    assert "| lgbm_graph |" in (tmp_path / "amlworld.md").read_text()
    assert rep["methods"]["lgbm_profile"]["n_features"] == rep["methods"]["lgbm_raw"]["n_features"] + 20
