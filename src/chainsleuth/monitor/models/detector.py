"""The product's LightGBM detector: trained on the exchange's own history, scoring its customers as of a time.

Why it is built this way:

- **The question is the evaluation's**, "which customers became criminal in the period that just ended?", so
  training follows the same time split as ``evaluation/accounts.py``: snapshots at the 25/50/75 % quantiles of
  the labelled onsets are stacked for training, the most recent period (up to the end of the data) is the
  validation period that stops boosting early and sets the alert threshold. At each snapshot T features use
  only transfers up to T; a customer is positive if its onset falls in the period ending at T, customers
  flagged before the period began are dropped from it and feed only the flagged-account exposure columns.
  Quantiles rather than calendar periods because incidents are uneven in time: every period gets positives.
- **Features are the profile set** (``profile_account_features``): lifetime habits, the neighbours' habits,
  exposure to already-flagged customers and the raw windowed statistics. The evaluation found it the set that
  survives drift in activity (docs/detection.md); the full graph set does not.
- **A saved model knows how it was made**: the feature windows, the training window, the base rates, the labels
  it saw, and a ``model_id`` digest; :func:`load_detector` recomputes the feature list from the saved windows and
  refuses a model whose list differs (``load_model``), so a model never scores shuffled columns.
- **Scoring as of T reads nothing after T**: the edge list is cut at T before any feature is computed.

The labels are a CSV of ``customer_id, first_illicit_at`` (``ledger.read_labels``): a world's ground truth, or
in production the export of confirmed cases.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from chainsleuth.monitor.features.bulk import (
    FeatureConfig,
    FeatureMatrix,
    account_feature_names,
    account_features,
    edge_features,
    profile_account_features,
)
from chainsleuth.monitor.features.edges import EdgeList, FeatureError, FloatArray
from chainsleuth.monitor.models.ledger import LEDGER_CONFIG, LedgerGraph
from chainsleuth.monitor.models.lgbm import METADATA_FILE, Reason, TrainConfig, TrainedModel, load_model, train_model

#: Fewer labelled customers than this cannot fill four periods with positives: training refuses.
MIN_LABELLED = 8
TRAIN_QUANTILES = (0.25, 0.5, 0.75)
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,40}")
DEFAULT_NAME = "ledger"


def feature_names(config: FeatureConfig) -> list[str]:
    """The detector's columns for ``config``: the profile set, flagged-account exposure included."""
    return profile_account_features(account_feature_names(config, known=True))


def _iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat()


def split_times(onset: FloatArray, t0: int, t1: int, min_labelled: int = MIN_LABELLED) -> list[int]:
    """Training snapshot times at the onset quantiles, then the end of the data (the validation snapshot).

    ``onset`` holds the onsets of the eligible (scored) nodes; only onsets inside ``[t0, t1]`` count as labels.
    """
    on = np.sort(onset[np.isfinite(onset) & (onset >= t0) & (onset <= t1)])
    if on.size < min_labelled:
        raise FeatureError(
            f"only {on.size} labelled customers became illicit within the ledger's history "
            f"({_iso(t0)} to {_iso(t1)}): the detector needs at least {min_labelled} to fill its training and "
            "validation periods; export more confirmed cases or use the rules alone",
            labelled=int(on.size),
            required=min_labelled,
        )
    cuts = [max(t0, int(np.quantile(on, q))) for q in TRAIN_QUANTILES]
    times = sorted({*cuts, max(t1, cuts[-1] + 1)})
    if len(times) < len(TRAIN_QUANTILES) + 1:
        raise FeatureError("the labelled onsets are too concentrated in time for three training periods")
    return times


@dataclass
class _Period:
    since: int
    time: int
    x: FloatArray
    y: NDArray[np.int64]


def _periods(
    edges: EdgeList, onset: FloatArray, eligible: NDArray[np.bool_], times: list[int], config: FeatureConfig
) -> list[_Period]:
    """One labelled snapshot per time; the first period starts just before the first transfer."""
    names = feature_names(config)
    ef = edge_features(edges.until(times[-1]), config)  # causal per edge: valid for every earlier snapshot too
    out: list[_Period] = []
    for since, t in zip([int(edges.time.min()) - 1, *times[:-1]], times, strict=True):
        flagged = onset <= since  # NaN (never illicit) compares False
        rows = np.flatnonzero(eligible & ~flagged)
        y = ((onset[rows] > since) & (onset[rows] <= t)).astype(np.int64)
        known = edges.until(t)
        feats = account_features(known, t, config, edge_feats=ef, known_illicit=flagged)
        out.append(_Period(since, t, feats.select(names).values[rows], y))
    return out


def _model_id(model: TrainedModel) -> str:
    payload = {k: model.metadata.get(k) for k in ("created_at", "data_hash", "training_window", "params", "detector")}
    payload |= {"features": model.features, "threshold": model.threshold, "trees": model.booster.model_to_string()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def train_detector(
    edges: EdgeList,
    onset: FloatArray,
    eligible: NDArray[np.bool_],
    out_dir: Path | None,
    *,
    config: FeatureConfig = LEDGER_CONFIG,
    train_config: TrainConfig | None = None,
    seed: int = 0,
    name: str = DEFAULT_NAME,
    until: int | None = None,
    min_labelled: int = MIN_LABELLED,
) -> TrainedModel:
    """Train on ``edges`` (up to ``until``, default all) and the per-node ``onset``; save into ``out_dir``.

    ``eligible`` marks the nodes that are customers (scored); the others (addresses, bank accounts) are
    context. Refuses (``FeatureError``) with fewer than ``min_labelled`` labelled customers in the history,
    onsets too concentrated for the split, or a period without positives.
    """
    if not NAME_PATTERN.fullmatch(name):
        raise FeatureError(f"model name {name!r}: use lower-case letters, digits and dashes (up to 41)")
    if onset.shape != (edges.n_nodes,) or eligible.shape != (edges.n_nodes,):
        raise FeatureError("onset and eligible need one value per node")
    history = edges.until(until) if until is not None else edges
    if history.n_edges == 0:
        raise FeatureError("the ledger has no transfers to learn from")
    t0, t1 = int(history.time.min()), int(history.time.max())
    times = split_times(onset[eligible], t0, t1, min_labelled)
    periods = _periods(history, onset, eligible, times, config)
    train, val = periods[:-1], periods[-1]
    y_tr = np.concatenate([p.y for p in train])
    if int(y_tr.sum()) == 0 or int(val.y.sum()) == 0:
        raise FeatureError("the training or the validation period has no labelled customer: too few labels")
    cfg = dataclasses.replace(train_config or TrainConfig(), seed=seed)
    window = {
        "start": _iso(t0),
        "train_times": [_iso(t) for t in times[:-1]],
        "val_time": _iso(times[-1]),
        "end": _iso(t1),
    }
    names = feature_names(config)
    x_tr = np.vstack([p.x for p in train])
    model = train_model(x_tr, y_tr, val.x, val.y, names, cfg, training_window=window, data_hash=history.digest())
    model.metadata["detector"] = {
        "name": name,
        "kind": "ledger-customer",
        "feature_set": "profile",
        "feature_config": {
            "windows": list(config.windows),
            "pattern_window": config.pattern_window,
            "fast_window": config.fast_window,
        },
    }
    model.metadata["periods"] = [
        {"since": _iso(p.since), "until": _iso(p.time), "role": "training" if p is not val else "validation",
         "n": int(p.y.size), "positives": int(p.y.sum()), "base_rate": float(p.y.mean()) if p.y.size else 0.0}
        for p in periods
    ]  # fmt: skip
    model.metadata["base_rates"] = {
        "training": float(y_tr.mean()),
        "validation": float(val.y.mean()),
    }
    model.metadata["labelled_customers"] = int(np.sum(np.isfinite(onset) & eligible))
    model.metadata["model_id"] = _model_id(model)
    if not np.isfinite(model.threshold):
        raise FeatureError("no finite alert threshold could be chosen on the validation period")
    if out_dir is not None:
        model.save(out_dir)
    return model


def detector_config(model: TrainedModel) -> FeatureConfig:
    """The feature windows the model was trained with (from its metadata)."""
    return _config(model.metadata)


def _config(metadata: dict[str, Any]) -> FeatureConfig:
    raw = (metadata.get("detector") or {}).get("feature_config")
    if not raw:
        raise FeatureError("this model was not trained by the ledger detector (no detector metadata)")
    return FeatureConfig(
        windows=tuple(int(w) for w in raw["windows"]),
        pattern_window=int(raw["pattern_window"]),
        fast_window=int(raw["fast_window"]),
    )


def detector_name(model: TrainedModel) -> str:
    return str((model.metadata.get("detector") or {}).get("name") or DEFAULT_NAME)


def load_detector(directory: Path) -> TrainedModel:
    """Load a saved detector, refusing it unless its feature list is the one its windows produce today."""
    meta_path = directory / METADATA_FILE
    if not meta_path.is_file():
        raise FeatureError(f"{directory} is not a saved model (no {METADATA_FILE})")
    try:
        meta: dict[str, Any] = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise FeatureError(f"{meta_path} is not valid JSON: {exc}") from None
    return load_model(directory, feature_names(_config(meta)))


@dataclass(frozen=True)
class CustomerRisk:
    """Every scored customer's model risk as of ``at`` (nodes, probabilities and their feature rows)."""

    at: int
    nodes: NDArray[np.int64]
    probability: FloatArray
    x: FloatArray


def customer_risk(
    model: TrainedModel,
    edges: EdgeList,
    at: int,
    known_illicit: NDArray[np.bool_],
    eligible: NDArray[np.bool_],
    edge_feats: FeatureMatrix | None = None,
) -> CustomerRisk:
    """Probabilities of the eligible customers not already known to be illicit, from transfers up to ``at``.

    ``edge_feats`` (``edge_features`` of ``edges`` with the model's config) saves recomputing the per-edge
    features for every scoring time: they are causal, so rows computed on the whole list equal those computed on
    its prefix up to ``at``, and only that prefix is read.
    """
    config = detector_config(model)
    known = edges.until(at)  # nothing after `at` is even passed in
    prefix = None if edge_feats is None else FeatureMatrix(edge_feats.names, edge_feats.values[: known.n_edges])
    feats = account_features(known, at, config, edge_feats=prefix, known_illicit=known_illicit)
    try:
        x = feats.select(model.features).values
    except ValueError:
        raise FeatureError("the model's features are not all computed by this version: retrain it") from None
    nodes = np.flatnonzero(eligible & ~known_illicit).astype(np.int64)
    rows = x[nodes]
    probability = model.predict_proba(rows) if nodes.size else np.empty(0, dtype=np.float64)
    return CustomerRisk(at, nodes, probability, rows)


@dataclass(frozen=True)
class ModelAlertCandidate:
    """A customer at or above the model's threshold as of ``at``, with the reasons that drove its score."""

    customer_id: str
    node: int
    probability: float
    threshold: float
    at: int  # unix seconds
    reasons: tuple[Reason, ...]
    event_id: str | None = None  # the customer's latest transfer at or before `at`, when known

    def as_dict(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "probability": self.probability,
            "threshold": self.threshold,
            "at": _iso(self.at),
            "reasons": [reason.as_dict() for reason in self.reasons],
            "event_id": self.event_id,
        }


def score_customers(
    model: TrainedModel,
    edges: EdgeList,
    at: int,
    known_illicit: NDArray[np.bool_],
    eligible: NDArray[np.bool_],
    *,
    top_k: int = 5,
    event_ids: list[str | None] | None = None,
    edge_feats: FeatureMatrix | None = None,
) -> list[ModelAlertCandidate]:
    """The customers alerted as of ``at`` (probability ≥ the model's threshold), riskiest first.

    ``known_illicit`` marks customers already confirmed (they feed the exposure columns and are not alerted
    again); ``event_ids`` (per node, e.g. ``LedgerGraph.last_event_ids(at)``) lets each alert point at an event.
    """
    risk = customer_risk(model, edges, at, known_illicit, eligible, edge_feats)
    hit = np.flatnonzero(risk.probability >= model.threshold)
    hit = hit[np.argsort(-risk.probability[hit], kind="stable")]
    reasons = model.reasons(risk.x[hit], top_k) if hit.size else []
    out: list[ModelAlertCandidate] = []
    for k, why in zip(hit.tolist(), reasons, strict=True):
        node = int(risk.nodes[k])
        out.append(
            ModelAlertCandidate(
                customer_id=str(edges.labels[node]),
                node=node,
                probability=float(risk.probability[k]),
                threshold=model.threshold,
                at=at,
                reasons=tuple(why),
                event_id=event_ids[node] if event_ids is not None else None,
            )
        )
    return out


@dataclass(frozen=True)
class LedgerScoring:
    """One scoring run: as of when, how many customers were scored and known, and who alerted."""

    at: int
    scored: int
    known: int
    candidates: list[ModelAlertCandidate]


def training_end(model: TrainedModel) -> int | None:
    """The last moment of the model's training data (unix seconds), from its metadata."""
    end = (model.metadata.get("training_window") or {}).get("end")
    return int(dt.datetime.fromisoformat(end).timestamp()) if end else None


def score_ledger(
    graph: LedgerGraph,
    model: TrainedModel,
    *,
    at: int | None = None,
    labels: Mapping[str, tuple[float, str]] | None = None,
    known_until: int | None = None,
    top_k: int = 5,
    edge_feats: FeatureMatrix | None = None,
) -> LedgerScoring:
    """Score a ledger's customers as of ``at`` (default: its latest transfer).

    ``labels`` are the confirmed cases (``read_labels``); those whose onset is at or before ``known_until``
    (default ``at``) count as already known: they feed the flagged-account exposure columns and are not alerted.
    """
    edges = graph.edges
    if at is None:
        if edges.n_edges == 0:
            raise FeatureError("the ledger has no transfers to score")
        at = int(edges.time.max())
    cut = at if known_until is None else min(at, known_until)
    eligible = graph.eligible
    known = (graph.onset(labels) <= cut) & eligible if labels else np.zeros(edges.n_nodes, dtype=bool)
    candidates = score_customers(
        model, edges, at, known, eligible, top_k=top_k, event_ids=graph.last_event_ids(at), edge_feats=edge_feats
    )
    return LedgerScoring(at, int(np.sum(eligible & ~known)), int(known.sum()), candidates)
