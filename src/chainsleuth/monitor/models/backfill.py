"""Day one of the detector: train on the cases confirmed so far, then score every week since, as a weekly job would.

An exchange that switches the model on has history but no model alerts. Scoring once "now" is not what the
detector is for: its strongest reasons are 7- and 30-day windowed sums, which fade when an episode is over
(docs/detection.md, "Model alerts in the product"). So the back-fill replays the weekly job: for each week after
the training cut it scores the ledger *as of that week* (nothing later is read) and stores the alerts through
the ordinary alert machinery, where a customer alerted in consecutive weeks extends one alert. The demo runs it
with the world's ground truth standing in for the confirmed cases, cut where 70 % of them had been confirmed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import Engine

from chainsleuth.monitor.features.bulk import edge_features
from chainsleuth.monitor.features.edges import FeatureError
from chainsleuth.monitor.models.detector import MIN_LABELLED, detector_config, score_ledger, train_detector
from chainsleuth.monitor.models.ledger import read_labels, store_ledger
from chainsleuth.monitor.models.model_alerts import model_rule, store_model_alerts
from chainsleuth.privacy import audit
from chainsleuth.privacy.policy import Actor
from chainsleuth.store.db import session_scope

WEEK = 7 * 86_400


@dataclass(frozen=True)
class Backfill:
    """What the back-fill did: the training cut, the weeks scored and the alerts stored."""

    model_dir: Path
    cut: int
    weeks: int
    created: int
    updated: int
    customers_alerted: int
    validation_pr_auc: float | None


def training_cut(onsets: np.ndarray, confirmed_share: float) -> int:
    """The moment by which ``confirmed_share`` of the labelled onsets had happened (the training cut)."""
    finite = np.sort(onsets[np.isfinite(onsets)])
    if finite.size < 2 * MIN_LABELLED:
        raise FeatureError(
            f"{finite.size} labelled customers: the back-fill needs at least {2 * MIN_LABELLED} "
            "(half to train on, the rest to find later)"
        )
    if not 0.0 < confirmed_share < 1.0:
        raise FeatureError("confirmed_share must be between 0 and 1")
    return int(finite[int(confirmed_share * (finite.size - 1))])


def train_and_backfill(
    engine: Engine,
    labels_path: Path,
    model_dir: Path,
    actor: Actor,
    *,
    confirmed_share: float = 0.7,
    every: int = WEEK,
    seed: int = 0,
) -> Backfill:
    """Train on the store's ledger up to the cut, then score and store alerts as of each ``every`` since.

    Reading the ledger for training and every stored scoring are audited (``monitor.model_train``,
    ``monitor.model_score``) as ``actor``, like the CLI's ``monitor model train`` / ``score``.
    """
    graph = store_ledger(engine)
    labels = read_labels(labels_path)
    onset = graph.onset(labels)
    cut = training_cut(onset[graph.eligible], confirmed_share)
    model = train_detector(graph.edges, onset, graph.eligible, model_dir, until=cut, seed=seed)
    rule = model_rule(model)
    with session_scope(engine) as session:
        audit.record(session, actor, "monitor.model_train", "monitor_model", str(model.metadata["model_id"])[:16],
                     details={"out": str(model_dir), "labels": str(labels_path), "backfill": True,
                              "training_window": model.metadata.get("training_window")})  # fmt: skip
    end = int(graph.edges.time.max())
    edge_feats = edge_features(graph.edges, detector_config(model))  # once: causal, so every week reads its prefix
    created = updated = weeks = 0
    alerted: set[str] = set()
    at = cut + every
    while at - every < end:
        scoring = score_ledger(graph, model, at=min(at, end), labels=labels, known_until=cut, edge_feats=edge_feats)
        with session_scope(engine) as session:
            report = store_model_alerts(session, scoring.candidates, rule)
            audit.record(session, actor, "monitor.model_score", "monitor_rule", rule.id,
                         details={"model_id": model.metadata["model_id"], "at": scoring.at, "scored": scoring.scored,
                                  "alerts": len(scoring.candidates), "created": report.created,
                                  "updated": report.updated})  # fmt: skip
        created, updated, weeks = created + report.created, updated + report.updated, weeks + 1
        alerted.update(candidate.customer_id for candidate in scoring.candidates)
        at += every
    validation = model.metadata.get("validation") or {}
    pr_auc = validation.get("pr_auc") if isinstance(validation, dict) else None
    return Backfill(model_dir, cut, weeks, created, updated, len(alerted), pr_auc)
