"""The back-fill's training cut: where the confirmed share of onsets is reached; too few labels are refused."""

from __future__ import annotations

import numpy as np
import pytest

from chainsleuth.monitor.features.edges import FeatureError
from chainsleuth.monitor.models.backfill import training_cut


def test_cut_is_where_the_confirmed_share_of_onsets_had_happened() -> None:
    onsets = np.array([np.nan, *range(100, 2100, 100)], dtype=np.float64)  # 20 onsets, one unlabelled node
    assert training_cut(onsets, 0.7) == 1400  # the 14th of 20 (index 13 of 0..19)
    assert training_cut(onsets, 0.5) < training_cut(onsets, 0.9)


def test_too_few_labels_or_a_bad_share_are_refused() -> None:
    with pytest.raises(FeatureError, match="at least 16"):
        training_cut(np.arange(10, dtype=np.float64), 0.7)
    with pytest.raises(FeatureError, match="between 0 and 1"):
        training_cut(np.arange(40, dtype=np.float64), 1.0)
