"""Detection metrics, always reported next to the base rate they should be read against.

PR-AUC (average precision) is the headline because at a base rate of a few percent ROC-AUC looks good for
almost any model; a random ranking has PR-AUC equal to the base rate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import average_precision_score


def pr_auc(y: NDArray[np.int_], score: NDArray[np.float64]) -> float:
    y = np.asarray(y)
    if y.size == 0 or y.sum() == 0 or y.sum() == y.size:
        return math.nan
    return float(average_precision_score(y, score))


def f1_at(y: NDArray[np.int_], score: NDArray[np.float64], threshold: float) -> dict[str, float]:
    """Precision, recall and F1 of the minority class when alerting on ``score >= threshold``."""
    y = np.asarray(y).astype(bool)
    pred = np.asarray(score) >= threshold
    tp = float(np.sum(pred & y))
    precision = tp / pred.sum() if pred.sum() else 0.0
    recall = tp / y.sum() if y.sum() else math.nan
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "alerts": float(pred.sum())}


def recall_at_budget(y: NDArray[np.int_], score: NDArray[np.float64], budget: float) -> float:
    """Recall when only the top ``budget`` share of items (by score) can be reviewed."""
    y = np.asarray(y).astype(bool)
    if y.sum() == 0:
        return math.nan
    k = max(1, math.ceil(budget * y.size))
    top = np.argsort(-np.asarray(score), kind="stable")[:k]
    return float(y[top].sum() / y.sum())


def recall_by_group(y_pred: NDArray[np.bool_], groups: Sequence[str | None]) -> dict[str, dict[str, float]]:
    """Recall per group (typology, pattern) over the positives that carry a group."""
    out: dict[str, dict[str, float]] = {}
    names = sorted({g for g in groups if g})
    for g in names:
        idx = np.array([x == g for x in groups])
        out[g] = {"positives": float(idx.sum()), "recall": float(np.asarray(y_pred)[idx].mean())}
    return out


def mean_std(runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Mean and (sample) standard deviation of every numeric metric across seeds; nested dicts recurse."""
    out: dict[str, Any] = {}
    for key in runs[0]:
        vals = [r[key] for r in runs]
        if isinstance(vals[0], Mapping):
            out[key] = mean_std(vals)
        elif isinstance(vals[0], int | float) and not isinstance(vals[0], bool):
            arr = np.array(vals, dtype=np.float64)
            ok = arr[~np.isnan(arr)]
            std = float(ok.std(ddof=1)) if ok.size > 1 else 0.0
            out[key] = {"mean": float(ok.mean()) if ok.size else math.nan, "std": std}
    return out
