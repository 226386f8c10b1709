"""A guard that makes "the test labels are never read before scoring" checkable, not just promised.

Evaluation code receives the test period's labels as ``SealedLabels``. They can only be opened with the test
scores in hand (``open(scores)``), after the model and its threshold are frozen; every attempt to read them
earlier raises, and ``opened_after`` records what happened first, so a test can assert the order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from chainsleuth.monitor.features.edges import FeatureError


class LabelLeakError(FeatureError):
    """Test labels were read before the test scores were final."""


class SealedLabels:
    def __init__(self, labels: NDArray[np.int_]) -> None:
        self.__labels = np.asarray(labels).astype(np.int64)
        self.events: list[str] = []
        self.size = int(self.__labels.size)

    def open(self, scores: NDArray[np.float64], *, threshold_frozen: bool) -> NDArray[np.int64]:
        """Reveal the labels; requires the final test scores (one per label) and a frozen threshold."""
        if not threshold_frozen:
            self.events.append("refused: threshold not frozen")
            raise LabelLeakError("test labels requested before the threshold was frozen")
        if np.asarray(scores).shape != self.__labels.shape:
            raise LabelLeakError("test labels requested without one final score per test item")
        self.events.append("opened after scoring")
        return self.__labels.copy()

    def __array__(self, *args: Any, **kwargs: Any) -> NDArray[Any]:
        self.events.append("refused: read as array")
        raise LabelLeakError("sealed test labels cannot be read as an array; call open(scores, ...)")

    def __getitem__(self, item: Any) -> Any:
        self.events.append("refused: indexed")
        raise LabelLeakError("sealed test labels cannot be indexed; call open(scores, ...)")

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Any:
        self.events.append("refused: iterated")
        raise LabelLeakError("sealed test labels cannot be iterated; call open(scores, ...)")
