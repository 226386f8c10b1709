"""LightGBM detector: thresholds from validation, saved-model round trip, refusal on feature mismatch, reasons."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from chainsleuth.monitor.features.edges import FeatureError
from chainsleuth.monitor.models.lgbm import METADATA_FILE, TrainConfig, load_model, train_model
from chainsleuth.monitor.models.threshold import ThresholdPolicy, best_f1_threshold, budget_threshold

FEATURES = ["src_out_fan_86400", "dst_in_count_86400", "cycle3", "amount"]


def _data(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    y = (x[:, 0] + 0.5 * x[:, 2] + rng.normal(scale=0.7, size=n) > 2.0).astype(np.int64)
    return x, y


@pytest.fixture(scope="module")
def model_and_data() -> tuple[object, np.ndarray]:
    xt, yt = _data(0, 1500)
    xv, yv = _data(1, 600)
    cfg = TrainConfig(num_boost_round=60, early_stopping_rounds=10)
    return train_model(xt, yt, xv, yv, FEATURES, cfg, training_window={"from": 0, "to": 1}, data_hash="abc"), xv


def test_best_f1_threshold_by_hand() -> None:
    y = np.array([1, 0, 1, 0, 0])
    s = np.array([0.9, 0.8, 0.7, 0.2, 0.1])
    # alert top 1: F1 = 2/3; top 3: P 2/3 R 1, F1 = 0.8 (best); top 2: 0.5
    thr, f1 = best_f1_threshold(y, s)
    assert thr == 0.7
    assert f1 == pytest.approx(0.8)
    assert budget_threshold(s, 0.4) == 0.8  # top 2 of 5
    assert best_f1_threshold(np.zeros(3, dtype=int), s[:3])[1] == 0.0


def test_threshold_never_splits_tied_scores() -> None:
    thr, _ = best_f1_threshold(np.array([1, 0, 0]), np.array([0.5, 0.5, 0.1]))
    assert thr == 0.5


def test_threshold_policy_validation() -> None:
    with pytest.raises(FeatureError):
        ThresholdPolicy(kind="magic")  # type: ignore[arg-type]
    with pytest.raises(FeatureError):
        ThresholdPolicy(kind="budget", budget=0)


def test_threshold_is_chosen_on_validation_scores(model_and_data: tuple) -> None:
    model, xv = model_and_data
    _, yv = _data(1, 600)
    thr, _ = best_f1_threshold(yv, model.predict_proba(xv))
    assert model.threshold == thr


def test_budget_policy_alerts_on_the_budget_share() -> None:
    xt, yt = _data(0, 1500)
    xv, yv = _data(1, 600)
    cfg = TrainConfig(num_boost_round=30, early_stopping_rounds=0, threshold=ThresholdPolicy("budget", 0.05))
    model = train_model(xt, yt, xv, yv, FEATURES, cfg)
    assert model.alerts(xv).sum() == pytest.approx(30, abs=2)


def test_reason_codes_sum_with_base_value_to_raw_score(model_and_data: tuple) -> None:
    model, xv = model_and_data
    contrib = model.contributions(xv[:20])
    np.testing.assert_allclose(contrib.sum(axis=1), model.raw_score(xv[:20]), rtol=1e-9, atol=1e-9)
    reasons = model.reasons(xv[:3], top_k=2)
    assert len(reasons) == 3
    assert all(len(r) == 2 for r in reasons)
    top = reasons[0][0]
    assert abs(top.contribution) >= abs(reasons[0][1].contribution)
    assert top.direction in ("raises", "lowers")
    assert top.value == xv[0, FEATURES.index(top.feature)]
    assert {r.description for rr in reasons for r in rr} <= {
        "distinct counterparties of transfers sent by the sender in the last 1 day",
        "number of transfers received by the receiver in the last 1 day",
        "time-ordered 3-cycles closed by this transfer",
        "amount of this transfer",
    }


def test_saved_model_round_trip_and_metadata(model_and_data: tuple, tmp_path: Path) -> None:
    model, xv = model_and_data
    model.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / METADATA_FILE).read_text())
    for key in ("features", "training_window", "params", "validation", "threshold", "data_hash", "versions"):
        assert key in meta
    assert meta["versions"]["lightgbm"]
    loaded = load_model(tmp_path / "m", FEATURES)
    np.testing.assert_allclose(loaded.predict_proba(xv), model.predict_proba(xv))
    assert loaded.threshold == model.threshold


def test_loading_refuses_a_different_feature_list(model_and_data: tuple, tmp_path: Path) -> None:
    model, _ = model_and_data
    model.save(tmp_path / "m")
    with pytest.raises(FeatureError, match="different feature list"):
        load_model(tmp_path / "m", [*FEATURES[:3], "gather_scatter"])
    with pytest.raises(FeatureError, match="different feature list"):
        load_model(tmp_path / "m", list(reversed(FEATURES)))
    with pytest.raises(FeatureError, match="not a saved model"):
        load_model(tmp_path / "nothing", FEATURES)


def test_scoring_refuses_wrong_width(model_and_data: tuple) -> None:
    model, xv = model_and_data
    with pytest.raises(FeatureError, match="feature columns"):
        model.predict_proba(xv[:, :3])


def test_training_needs_both_classes() -> None:
    x, _ = _data(0, 100)
    with pytest.raises(FeatureError, match="both positive and negative"):
        train_model(x, np.zeros(100, dtype=np.int64), x, np.zeros(100, dtype=np.int64), FEATURES)
