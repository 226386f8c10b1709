"""The detector on the stream: each arriving transfer updates the features and re-scores the customers it touched.

The weekly job (``backfill``, ``chainsleuth monitor model score``) scores every customer at once. A transfer that
makes a customer suspicious should not wait for the next run, so ``StreamingDetector`` keeps
``StreamingFeatures`` up to date event by event and re-scores only the one or two customers each transfer touches,
from their own and their partners' state (``StreamingFeatures.account_row``). The score is the one the batch path
gives for that customer at that moment (tested against ``customer_risk``), and a candidate above the model's
threshold carries the same reason codes, so it goes through ``model_hits`` / ``store_model_alerts`` like any other.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from collections.abc import Set as AbstractSet
from typing import Any

import numpy as np

from chainsleuth.monitor.features.bulk import account_feature_names
from chainsleuth.monitor.features.edges import FeatureError
from chainsleuth.monitor.features.incremental import StreamingFeatures
from chainsleuth.monitor.models.detector import ModelAlertCandidate, detector_config
from chainsleuth.monitor.models.ledger import event_transfer
from chainsleuth.monitor.models.lgbm import TrainedModel


class StreamingDetector:
    """Score the customers each transfer touches, as it arrives (transfers must come in time order)."""

    def __init__(
        self,
        model: TrainedModel,
        customers: Iterable[Hashable],
        flagged: AbstractSet[Hashable] = frozenset(),
        *,
        top_k: int = 5,
    ) -> None:
        """``customers`` are the scored nodes (not addresses or bank accounts); ``flagged`` the customers already
        known to be illicit: they feed the exposure columns and are never alerted again."""
        self.model = model
        self.features = StreamingFeatures(detector_config(model))
        names = account_feature_names(self.features.config, known=True)
        missing = [f for f in model.features if f not in names]
        if missing:
            raise FeatureError(f"the model uses features the stream does not compute: {missing[:3]}")
        self._columns = [names.index(f) for f in model.features]
        self.customers = frozenset(customers)
        self.flagged = set(flagged)
        self.top_k = top_k

    def flag(self, customer: Hashable) -> None:
        """A customer confirmed illicit from now on: exposure for its partners, no more alerts for it."""
        self.flagged.add(customer)

    def score(self, customer: Hashable, at: int) -> float:
        """The customer's model risk as of ``at`` (at least the latest transfer's time)."""
        row = np.array(self.features.account_row(customer, at, self.flagged), dtype=np.float64)
        return float(self.model.predict_proba(row[self._columns].reshape(1, -1))[0])

    def update(
        self, src: Hashable, dst: Hashable, amount: float, time: int, event_id: str | None = None
    ) -> list[ModelAlertCandidate]:
        """Add one transfer; return the touched customers now at or above the model's threshold, riskiest first."""
        self.features.update(src, dst, amount, time)
        touched = [n for n in dict.fromkeys((src, dst)) if n in self.customers and n not in self.flagged]
        if not touched:
            return []
        rows = np.array([self.features.account_row(n, time, self.flagged) for n in touched], dtype=np.float64)
        x = rows[:, self._columns]
        probability = self.model.predict_proba(x)
        hit = [k for k in np.argsort(-probability, kind="stable").tolist() if probability[k] >= self.model.threshold]
        if not hit:
            return []
        reasons = self.model.reasons(x[hit], self.top_k)
        return [
            ModelAlertCandidate(
                customer_id=str(touched[k]),
                node=-1,  # the stream has no dense node ids of the batch graph
                probability=float(probability[k]),
                threshold=self.model.threshold,
                at=time,
                reasons=tuple(why),
                event_id=event_id,
            )
            for k, why in zip(hit, reasons, strict=True)
        ]


def stream_ledger(
    detector: StreamingDetector, events: Iterable[Mapping[str, Any]]
) -> tuple[int, list[ModelAlertCandidate]]:
    """Feed ledger events (time-ordered mappings, as ``store_events`` yields them) to ``detector``; returns the
    number of transfers seen and every candidate raised on arrival (``store_model_alerts`` de-duplicates them)."""
    transfers = 0
    candidates: list[ModelAlertCandidate] = []
    for event in events:
        transfer = event_transfer(event)
        if transfer is None:
            continue
        transfers += 1
        event_id = event.get("event_id")
        candidates += detector.update(*transfer, event_id=None if event_id is None else str(event_id))
    return transfers, candidates
