"""Periodic scoring of the validation and test periods (as the weekly detector job runs): times, causality, max."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from chainsleuth.monitor.evaluation import accounts
from chainsleuth.monitor.evaluation.accounts import evaluate_accounts, period_times
from chainsleuth.monitor.evaluation.world import WEEK, world_task
from chainsleuth.monitor.features.bulk import FeatureMatrix, account_features
from chainsleuth.monitor.models.lgbm import TrainConfig
from tests.monitor.evaluation.test_evaluation import _write_world

FAST = TrainConfig(num_boost_round=60, early_stopping_rounds=10, imbalance="none")


def test_period_times_step_through_the_period_and_end_at_its_end() -> None:
    assert period_times(100, 130, 7) == [107, 114, 121, 128, 130]
    assert period_times(100, 128, 7) == [107, 114, 121, 128]
    assert period_times(100, 105, 7) == [105]
    assert period_times(100, 130, None) == [130]


def test_weekly_matrices_only_for_validation_and_test_and_read_only_their_past(tmp_path: Path) -> None:
    _write_world(tmp_path / "w")
    task = world_task(tmp_path / "w")
    assert task.score_every == WEEK
    snaps = accounts.build_snapshots(task)
    assert all(k == "graph" for s in snaps[:-2] for k in s.features)  # training snapshots: one matrix each
    since = [task.start, *task.times[:-1]]
    for k in (-2, -1):
        snap = snaps[k]
        weekly = sorted(int(name.split("@")[1]) for name in snap.features if name.startswith("graph@"))
        assert weekly == period_times(since[k], snap.time, WEEK)[:-1]
        assert weekly
        at = weekly[len(weekly) // 2]
        fresh = account_features(task.edges.until(at), at, task.config, known_illicit=task.onset <= since[k])
        np.testing.assert_allclose(snap.features[f"graph@{at}"].values, fresh.values[snap.rows], rtol=1e-9, atol=1e-9)


def test_periodic_scores_are_the_highest_of_the_period(tmp_path: Path) -> None:
    _write_world(tmp_path / "w")
    weekly = world_task(tmp_path / "w")
    once = dataclasses.replace(weekly, score_every=None)
    snaps = accounts.build_snapshots(weekly)
    plain = [dataclasses.replace(s, features={"graph": s.features["graph"]}) for s in snaps]
    report_weekly = evaluate_accounts(weekly, seeds=(0,), methods=("lgbm_graph",), train_config=FAST, snapshots=snaps)
    report_once = evaluate_accounts(once, seeds=(0,), methods=("lgbm_graph",), train_config=FAST, snapshots=plain)
    # same model, more scorings: every positive alerted at the end is found by the periodic job too
    weekly_recall = report_weekly["methods"]["lgbm_graph"]["runs"][0]["recall_at_0.01"]
    once_recall = report_once["methods"]["lgbm_graph"]["runs"][0]["recall_at_0.01"]
    assert weekly_recall >= once_recall
    names = snaps[-1].features["graph"].names
    test = snaps[-1]
    stacked = np.vstack([m.select(names).values for k, m in test.features.items() if k.startswith("graph")])
    assert stacked.shape[0] > test.features["graph"].values.shape[0]  # there really were several scorings
    assert isinstance(test.features["graph"], FeatureMatrix)
