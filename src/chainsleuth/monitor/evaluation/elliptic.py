"""The Elliptic Bitcoin data set (Weber et al. 2019): loader and the published evaluation.

Published format, three CSV files:
- ``elliptic_txs_features.csv``, no header: txId, time step (1-49), then the features (165 in the release: 93
  local, 72 aggregated over neighbours);
- ``elliptic_txs_classes.csv``: header ``txId,class``; class ``1`` = illicit, ``2`` = licit, ``unknown``;
- ``elliptic_txs_edgelist.csv``: header ``txId1,txId2`` (payment flows between transactions).

The published protocol trains on time steps 1-34 and tests on 35-49, with labelled transactions only; a random
forest on all features reaches illicit F1 about 0.80 on the test steps. ``evaluate_elliptic`` reproduces that
protocol so users holding the real files get comparable numbers.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from chainsleuth.monitor.evaluation.guard import SealedLabels
from chainsleuth.monitor.evaluation.metrics import f1_at, pr_auc
from chainsleuth.monitor.features.edges import FeatureError, FloatArray

FEATURES_FILE = "elliptic_txs_features.csv"
CLASSES_FILE = "elliptic_txs_classes.csv"
EDGES_FILE = "elliptic_txs_edgelist.csv"
TRAIN_LAST_STEP = 34


@dataclass(frozen=True)
class EllipticData:
    tx_id: NDArray[np.int64]
    time_step: NDArray[np.int64]
    features: FloatArray  # without txId and time step
    label: NDArray[np.int64]  # 1 illicit, 0 licit, -1 unknown
    edges: NDArray[np.int64]  # (m, 2) row indices into tx_id

    @property
    def feature_names(self) -> list[str]:
        n = self.features.shape[1]
        return [f"local_{i + 1}" if i < 93 else f"agg_{i - 92}" for i in range(n)]


def load_elliptic(directory: Path) -> EllipticData:
    paths = [directory / f for f in (FEATURES_FILE, CLASSES_FILE, EDGES_FILE)]
    for p in paths:
        if not p.is_file():
            raise FeatureError(
                f"{p} not found: the Elliptic folder holds {FEATURES_FILE}, {CLASSES_FILE}, {EDGES_FILE}"
            )
    raw = np.loadtxt(paths[0], delimiter=",", ndmin=2, dtype=np.float64)
    if raw.shape[1] < 3:
        raise FeatureError(f"{paths[0]}: expected txId, time step and features per row (no header)")
    tx = raw[:, 0].astype(np.int64)
    steps = raw[:, 1].astype(np.int64)
    if np.unique(tx).size != tx.size:
        raise FeatureError(f"{paths[0]}: duplicate txId")
    index = {int(t): i for i, t in enumerate(tx)}
    label = np.full(tx.size, -2, dtype=np.int64)
    with paths[1].open(newline="") as fh:
        reader = csv.reader(fh)
        if next(reader, None) != ["txId", "class"]:
            raise FeatureError(f"{paths[1]}: expected header txId,class")
        for row in reader:
            i = index.get(int(row[0]))
            if i is None:
                raise FeatureError(f"{paths[1]}: txId {row[0]} has no features")
            label[i] = {"1": 1, "2": 0, "unknown": -1}.get(row[1].strip(), -3)
            if label[i] == -3:
                raise FeatureError(f"{paths[1]}: class must be 1, 2 or unknown, got {row[1]!r}")
    if (label == -2).any():
        raise FeatureError(f"{paths[1]}: {int((label == -2).sum())} transactions have no class row")
    pairs: list[tuple[int, int]] = []
    with paths[2].open(newline="") as fh:
        reader = csv.reader(fh)
        if next(reader, None) != ["txId1", "txId2"]:
            raise FeatureError(f"{paths[2]}: expected header txId1,txId2")
        for row in reader:
            a, b = index.get(int(row[0])), index.get(int(row[1]))
            if a is None or b is None:
                raise FeatureError(f"{paths[2]}: edge {row} refers to an unknown txId")
            pairs.append((a, b))
    edges = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    return EllipticData(tx, steps, raw[:, 2:], label, edges)


def evaluate_elliptic(
    data: EllipticData, *, seeds: tuple[int, ...] = (0, 1, 2, 3, 4), n_estimators: int = 50
) -> dict[str, Any]:
    """Random forest (Weber et al.: 50 trees, max_features 50) trained on steps 1-34, tested on 35-49."""
    from sklearn.ensemble import RandomForestClassifier

    known = data.label >= 0
    train = known & (data.time_step <= TRAIN_LAST_STEP)
    test = known & (data.time_step > TRAIN_LAST_STEP)
    if data.label[train].min(initial=1) == data.label[train].max(initial=0):
        raise FeatureError("the training steps (1-34) need both illicit and licit transactions")
    sealed = data.label[test]
    runs = []
    for seed in seeds:
        rf = RandomForestClassifier(
            n_estimators=n_estimators, max_features=min(50, data.features.shape[1]), random_state=seed, n_jobs=1
        )
        rf.fit(data.features[train], data.label[train])
        proba = rf.predict_proba(data.features[test])
        score = proba[:, list(rf.classes_).index(1)] if 1 in rf.classes_ else np.zeros(int(test.sum()))
        y = SealedLabels(sealed).open(score, threshold_frozen=True)  # the 0.5 vote threshold is fixed a priori
        at = f1_at(y, score, 0.5)
        runs.append({"illicit_f1": at["f1"], "precision": at["precision"], "recall": at["recall"],
                     "pr_auc": pr_auc(y, score)})  # fmt: skip
    from chainsleuth.monitor.evaluation.metrics import mean_std

    return {
        "task": "elliptic",
        "protocol": "train time steps 1-34, test 35-49, labelled transactions only, random forest, threshold 0.5",
        "data": {
            "train": {"n": int(train.sum()), "illicit": int(data.label[train].sum())},
            "test": {"n": int(test.sum()), "illicit": int(sealed.sum()), "base_rate": float(sealed.mean())},
            "unknown": int((data.label == -1).sum()),
            "edges": int(data.edges.shape[0]),
        },
        "published": {"random_forest_illicit_f1": 0.80, "source": "Weber et al. 2019 (all features)"},
        "methods": {"random_forest": {"runs": runs, "summary": mean_std(runs)}},
    }
