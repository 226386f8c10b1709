"""Choosing the alert threshold on validation data.

A threshold tuned on the data it is scored on overstates every metric, so the threshold is always a function of
validation labels and scores only. Two policies: maximise F1 (balanced precision and recall), or an alert budget
(the share of cases the analysts can review: the top ``budget`` fraction of scores alert).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from chainsleuth.monitor.features.edges import FeatureError


@dataclass(frozen=True)
class ThresholdPolicy:
    kind: Literal["f1", "budget"] = "f1"
    budget: float = 0.01  # share of scored items that may alert (kind="budget")

    def __post_init__(self) -> None:
        if self.kind not in ("f1", "budget"):
            raise FeatureError(f"unknown threshold policy {self.kind!r}: use 'f1' or 'budget'")
        if not 0 < self.budget <= 1:
            raise FeatureError("the alert budget must be a share in (0, 1]")


def best_f1_threshold(y: NDArray[np.int_], score: NDArray[np.float64]) -> tuple[float, float]:
    """The score threshold (alert when ``score >= threshold``) with the highest F1 on (y, score), and that F1."""
    y = np.asarray(y).astype(np.int64)
    s = np.asarray(score, dtype=np.float64)
    if y.size == 0 or y.sum() == 0:
        return math.inf, 0.0  # nothing to find: never alert
    order = np.argsort(-s, kind="stable")
    ss, yy = s[order], y[order]
    last = np.r_[ss[1:] != ss[:-1], True]  # cut only between distinct scores
    tp = np.cumsum(yy)[last]
    k = np.arange(1, s.size + 1)[last]
    f1 = 2 * tp / (k + y.sum())
    i = int(np.argmax(f1))
    return float(ss[last][i]), float(f1[i])


def budget_threshold(score: NDArray[np.float64], budget: float) -> float:
    """The threshold that alerts on the top ``budget`` share of scores (ties may add a few)."""
    s = np.sort(np.asarray(score, dtype=np.float64))[::-1]
    if s.size == 0:
        return math.inf
    k = max(1, math.ceil(budget * s.size))
    return float(s[k - 1])


def choose_threshold(y_val: NDArray[np.int_], score_val: NDArray[np.float64], policy: ThresholdPolicy) -> float:
    if policy.kind == "budget":
        return budget_threshold(score_val, policy.budget)
    return best_f1_threshold(y_val, score_val)[0]
