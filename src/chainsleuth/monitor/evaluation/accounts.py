"""Account classification on a time split: the protocol shared by the AMLSim and simulator evaluations.

The question an exchange asks is "which accounts became criminal in the period that just ended?", answered with
what was known at its end. So every account has an *onset* (when it became illicit; NaN if never), and the data
is cut into snapshots at increasing times T:

- features as of T use only edges with ``time <= T`` (``account_features`` on ``edges.until(T)``);
- an account is positive at T if its onset is in ``(S, T]``, S being the previous snapshot time (``start``
  for the first one); accounts whose onset is ``<= S`` are already known and dropped from that snapshot;
  accounts turning illicit after T are negatives at T (at T nobody knew), so no future label ever enters an
  earlier snapshot;
- several training snapshots are stacked, one validation snapshot follows them, one test snapshot follows that.
  The validation snapshot alone drives early stopping, rule thresholds and the alert threshold; the test
  labels are sealed (``SealedLabels``) until the test scores are final.
- accounts whose onset is ``<= S`` are what the exchange had already flagged when the period began: they feed the
  ``known_*`` exposure columns (transfers with flagged accounts) of the snapshot at T, never its labels.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from chainsleuth.monitor.evaluation.guard import SealedLabels
from chainsleuth.monitor.evaluation.metrics import f1_at, mean_std, pr_auc, recall_at_budget, recall_by_group
from chainsleuth.monitor.features.bulk import (
    FeatureConfig,
    FeatureMatrix,
    account_features,
    edge_features,
    profile_account_features,
    raw_account_features,
)
from chainsleuth.monitor.features.edges import EdgeList, FeatureError, FloatArray
from chainsleuth.monitor.models.lgbm import TrainConfig, TrainedModel, train_model
from chainsleuth.monitor.models.threshold import best_f1_threshold, choose_threshold

RULE_FEATURES = ("in_fan", "out_fan", "in_count", "out_count", "cycle_edges", "sg_gather", "gs_max", "fast_out_share")

ExtraFeatures = Callable[[EdgeList, int], FeatureMatrix | None]


@dataclass(frozen=True)
class AccountTask:
    name: str
    edges: EdgeList
    onset: FloatArray  # per node; NaN = never illicit
    train_times: tuple[int, ...]
    val_time: int
    test_time: int
    start: int  # labels of the first training snapshot cover (start, train_times[0]]
    config: FeatureConfig
    groups: Sequence[str | None] = ()  # per node: pattern / typology of positives
    eligible: NDArray[np.bool_] | None = None  # nodes that are accounts (not external addresses)
    budget: float = 0.01
    # When set, the validation and test periods are also scored every `score_every` time units inside the period,
    # as a periodic job would score them; an account's score is its highest, and the threshold is chosen on the
    # validation period's highest scores. Rules see every event of a period; a model scored only at the period's
    # end would see a fading episode (windowed sums shrink once it is over).
    score_every: int | None = None

    def __post_init__(self) -> None:
        if self.onset.shape != (self.edges.n_nodes,):
            raise FeatureError("onset needs one value per node")
        times = [*self.train_times, self.val_time, self.test_time]
        if [self.start, *times] != sorted([self.start, *times]) or len(set(times)) != len(times):
            raise FeatureError("snapshot times must increase: start < training < validation < test")

    @property
    def times(self) -> list[int]:
        return [*self.train_times, self.val_time, self.test_time]


@dataclass
class Snapshot:
    time: int
    rows: NDArray[np.int64]  # node ids scored in this snapshot
    y: NDArray[np.int64]
    features: dict[str, FeatureMatrix] = field(default_factory=dict)


def snapshot_labels(onset: FloatArray, since: int, t: int, eligible: NDArray[np.bool_]) -> tuple[Any, Any]:
    """Node ids scored at ``t`` and their labels (onset in ``(since, t]``); already-known ones dropped."""
    known = onset <= since  # NaN compares False: never-illicit accounts are kept
    keep = np.flatnonzero(eligible & ~known)
    y = ((onset[keep] > since) & (onset[keep] <= t)).astype(np.int64)
    return keep.astype(np.int64), y


def period_times(since: int, t: int, every: int | None) -> list[int]:
    """The scoring times inside ``(since, t]`` of a job run every ``every`` time units (``t`` always last)."""
    if not every:
        return [t]
    return [*range(since + every, t, every), t]


def build_snapshots(task: AccountTask, extra: dict[str, ExtraFeatures] | None = None) -> list[Snapshot]:
    eligible = task.eligible if task.eligible is not None else np.ones(task.edges.n_nodes, dtype=bool)
    out: list[Snapshot] = []
    n_times = len(task.times)
    for k, (since, t) in enumerate(zip([task.start, *task.times[:-1]], task.times, strict=True)):
        rows, y = snapshot_labels(task.onset, since, t, eligible)
        known = task.edges.until(t)  # nothing after t is even passed in
        flagged = task.onset <= since  # NaN (never illicit) compares False
        per_edge = edge_features(known, task.config)
        feats = account_features(known, t, task.config, edge_feats=per_edge, known_illicit=flagged)
        snap = Snapshot(t, rows, y, {"graph": FeatureMatrix(feats.names, feats.values[rows])})
        if k >= n_times - 2:  # validation and test: the periodic job's earlier scorings inside the period
            for at in period_times(since, t, task.score_every)[:-1]:
                part = known.until(at)  # per-edge features are causal: the prefix of this snapshot's rows
                prefix = FeatureMatrix(per_edge.names, per_edge.values[: part.n_edges])
                during = account_features(part, at, task.config, edge_feats=prefix, known_illicit=flagged)
                snap.features[f"graph@{at}"] = FeatureMatrix(during.names, during.values[rows])
        for name, fn in (extra or {}).items():
            m = fn(known, t)
            if m is not None:
                snap.features[name] = FeatureMatrix(m.names, m.values[rows])
        if "gfp" in snap.features:  # IBM's features with the same flagged-account exposure as ours
            known_cols = [n for n in feats.names if n.startswith("known_")]
            gfp = snap.features["gfp"]
            extra_cols = snap.features["graph"].select(known_cols).values
            snap.features["gfp_known"] = FeatureMatrix(
                gfp.names + known_cols, np.column_stack([gfp.values, extra_cols])
            )
        out.append(snap)
    return out


def _stack(snaps: Sequence[Snapshot], key: str, names: list[str]) -> tuple[FloatArray, NDArray[np.int64]]:
    x = np.vstack([s.features[key].select(names).values for s in snaps])
    return x, np.concatenate([s.y for s in snaps])


def score_report(
    y: NDArray[np.int64], score: FloatArray, threshold: float, groups: list[str | None], budget: float
) -> dict[str, Any]:
    at = f1_at(y, score, threshold)
    fp = float(np.sum((score >= threshold) & (y == 0)))
    pos_groups = [g if yy else None for g, yy in zip(groups, y, strict=True)]
    return {
        "pr_auc": pr_auc(y, score),
        "f1": at["f1"],
        "precision": at["precision"],
        "recall": at["recall"],
        "alerts": at["alerts"],
        f"recall_at_{budget:g}": recall_at_budget(y, score, budget),
        "fp_per_1000": 1000.0 * fp / max(len(y), 1),
        "recall_by_group": recall_by_group(score >= threshold, pos_groups),
    }


def _method_features(snaps: Sequence[Snapshot], method: str) -> tuple[str, list[str]]:
    graph = snaps[0].features["graph"].names
    if method == "lgbm_raw":
        return "graph", raw_account_features(graph)
    if method == "lgbm_graph":
        return "graph", list(graph)
    if method == "lgbm_profile":
        return "graph", profile_account_features(graph)
    if method in ("lgbm_gfp", "lgbm_gfp_known"):
        key = method.removeprefix("lgbm_")
        return key, snaps[0].features[key].names
    raise FeatureError(f"unknown method {method!r}")


def _period_score(model: TrainedModel, snap: Snapshot, names: list[str], key: str = "graph") -> FloatArray:
    """The model's score at the snapshot and, for ``graph`` features, its highest at the period's earlier
    scorings (``graph@<time>`` matrices; none unless the task scores periodically)."""
    score = model.predict_proba(snap.features[key].select(names).values)
    if key != "graph":
        return score
    for name, matrix in snap.features.items():
        if name.startswith("graph@"):
            score = np.maximum(score, model.predict_proba(matrix.select(names).values))
    return score


def _period_value(snap: Snapshot, feature: str) -> FloatArray:
    """A feature's highest value over the snapshot and the period's earlier scorings (missing values lowest)."""
    values = [m.column(feature) for k, m in snap.features.items() if k == "graph" or k.startswith("graph@")]
    return _floor_nan(np.asarray(np.fmax.reduce(values), dtype=np.float64))  # fmax: a missing value loses


def _floor_nan(col: FloatArray) -> FloatArray:
    """Missing values rank below every observed one (a rule never fires on a missing value)."""
    finite = col[np.isfinite(col)]
    floor = float(finite.min()) - 1.0 if finite.size else -1.0
    return np.where(np.isfinite(col), col, floor)


def _rules(snaps: Sequence[Snapshot], groups: list[str | None], budget: float) -> dict[str, Any]:
    """Best single threshold rule ``feature >= k``; feature and k chosen on the validation snapshot only (a rule
    fires when the value reaches k at any of the period's scorings)."""
    names = snaps[0].features["graph"].names
    cands = [n for n in names if any(n == r or n.startswith(r + "_") for r in RULE_FEATURES)]
    val, test = snaps[-2], snaps[-1]
    best: tuple[float, str, float] = (-1.0, "", math.inf)
    for n in cands:
        s = _period_value(val, n)
        thr, f1 = best_f1_threshold(val.y, s)
        if f1 > best[0]:
            best = (f1, n, thr)
    _, feat, thr = best
    score = _period_value(test, feat)
    y = SealedLabels(test.y).open(score, threshold_frozen=True)
    rep = score_report(y, score, thr, groups, budget)
    rep["rule"] = f"{feat} >= {thr:g}"
    return rep


def evaluate_accounts(
    task: AccountTask,
    *,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    methods: Sequence[str] = ("rules", "lgbm_raw", "lgbm_graph", "lgbm_profile", "lgbm_gfp", "lgbm_gfp_known"),
    extra: dict[str, ExtraFeatures] | None = None,
    train_config: TrainConfig | None = None,
    snapshots: list[Snapshot] | None = None,
) -> dict[str, Any]:
    """Run every method on the same snapshots; LightGBM methods once per seed. Returns a JSON-able report."""
    snaps = snapshots if snapshots is not None else build_snapshots(task, extra)
    train, val, test = snaps[:-2], snaps[-2], snaps[-1]
    groups_all = list(task.groups) if task.groups else [None] * task.edges.n_nodes
    test_groups = [groups_all[i] for i in test.rows]
    base = TrainConfig() if train_config is None else train_config
    results: dict[str, Any] = {}
    for method in methods:
        if method == "rules":
            rep = _rules(snaps, test_groups, task.budget)
            results[method] = {"runs": [rep], "summary": mean_std([rep]), "rule": rep["rule"]}
            continue
        if method in ("lgbm_gfp", "lgbm_gfp_known") and "gfp" not in test.features:
            results[method] = {"skipped": "snapml (IBM GraphFeaturePreprocessor) is not installed"}
            continue
        key, names = _method_features(snaps, method)
        x_tr, y_tr = _stack(train, key, names)
        x_va, y_va = _stack([val], key, names)
        runs = []
        for seed in seeds:
            cfg = dataclasses.replace(base, seed=seed)
            window = {"start": task.start, "train_times": list(task.train_times), "val_time": task.val_time}
            model = train_model(x_tr, y_tr, x_va, y_va, names, cfg, training_window=window,
                                data_hash=task.edges.until(task.val_time).digest())  # fmt: skip
            threshold = model.threshold
            if key == "graph" and task.score_every:  # scored as the periodic job would: the period's highest
                threshold = choose_threshold(val.y, _period_score(model, val, names), cfg.threshold)
            score = _period_score(model, test, names, key)
            y = SealedLabels(test.y).open(score, threshold_frozen=True)
            rep = score_report(y, score, threshold, test_groups, task.budget)
            rep["threshold"] = threshold
            runs.append(rep)
        results[method] = {"runs": runs, "summary": mean_std(runs), "n_features": len(names)}
    return {
        "task": task.name,
        "split": {
            "train_times": list(task.train_times),
            "val_time": task.val_time,
            "test_time": task.test_time,
            "start": task.start,
            "score_every": task.score_every,
        },
        "data": {
            "train": {"n": int(sum(s.y.size for s in train)), "positives": int(sum(s.y.sum() for s in train))},
            "validation": {"n": int(val.y.size), "positives": int(val.y.sum())},
            "test": {"n": int(test.y.size), "positives": int(test.y.sum()), "base_rate": float(test.y.mean())},
        },
        "seeds": list(seeds),
        "budget": task.budget,
        "methods": results,
    }
