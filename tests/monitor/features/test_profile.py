"""Lifetime profiles, neighbour habits and known-illicit exposure: hand-computed answers and causality."""

from __future__ import annotations

import math

import numpy as np
import pytest

from chainsleuth.monitor.features.bulk import FeatureConfig, account_features, profile_account_features
from chainsleuth.monitor.features.edges import EdgeList, FeatureError
from chainsleuth.monitor.features.profile import profile_feature_names, profile_features

# node 0 pays node 1 the same amount three times (a standing order); node 2 mixes its usual 100 with odd amounts
# to node 3, which is already known to be illicit; node 3 forwards to node 1.
SRC = [0, 2, 0, 2, 0, 2, 3]
DST = [1, 3, 1, 3, 1, 3, 1]
AMT = [134.02, 100.0, 134.02, 4.5, 134.02, 100.0, 200.0]
TIME = [0, 1, 2, 3, 4, 5, 6]


def _edges() -> EdgeList:
    return EdgeList.from_arrays(SRC, DST, AMT, TIME, nodes=np.arange(4))


def _col(values: np.ndarray, name: str, known: bool = False) -> np.ndarray:
    return values[:, profile_feature_names(known).index(name)]


def test_a_single_habitual_amount_has_exactly_zero_spread() -> None:
    p = profile_features(_edges(), at=10)
    assert _col(p, "life_out_std")[0] == 0.0  # not rounding noise from sums of squares
    assert _col(p, "life_out_distinct_amounts")[0] == 1
    assert _col(p, "life_out_distinct_share")[0] == pytest.approx(1 / 3)
    assert _col(p, "life_out_min_max_ratio")[0] == 1.0
    assert _col(p, "life_out_fan")[0] == 1


def test_mixed_amounts_have_their_population_spread() -> None:
    p = profile_features(_edges(), at=10)
    amounts = np.array([100.0, 4.5, 100.0])
    assert _col(p, "life_out_std")[2] == pytest.approx(amounts.std())
    assert _col(p, "life_out_cv")[2] == pytest.approx(amounts.std() / amounts.mean())
    assert _col(p, "life_out_distinct_amounts")[2] == 2
    assert _col(p, "life_out_min_max_ratio")[2] == pytest.approx(4.5 / 100)
    assert _col(p, "life_in_count")[1] == 4
    assert _col(p, "life_in_fan")[1] == 2
    assert math.isnan(_col(p, "life_out_std")[1])  # node 1 never sends


def test_neighbours_carry_their_partners_habits() -> None:
    p = profile_features(_edges(), at=10)
    # node 1 receives from 0 (spread 0) and 3 (one transfer, spread 0); node 3 receives from 2 (spread > 0)
    assert _col(p, "nbr_in_max_life_out_std")[1] == 0.0
    assert _col(p, "nbr_in_max_life_out_std")[3] == pytest.approx(np.array([100.0, 4.5, 100.0]).std())
    assert _col(p, "nbr_out_mean_life_in_std")[2] == pytest.approx(_col(p, "life_in_std")[3])
    assert math.isnan(_col(p, "nbr_in_mean_life_out_std")[0])  # nobody pays node 0


def test_known_illicit_exposure_counts_transfers_amounts_and_partners() -> None:
    known = np.array([False, False, False, True])
    p = profile_features(_edges(), at=10, known_illicit=known)
    assert _col(p, "known_out_count", True)[2] == 3
    assert _col(p, "known_out_share", True)[2] == 1.0
    assert _col(p, "known_out_partners", True)[2] == 1
    assert _col(p, "known_in_count", True)[1] == 1  # node 1 was paid once by node 3
    assert _col(p, "known_in_amount_share", True)[1] == pytest.approx(200.0 / (3 * 134.02 + 200.0))
    assert _col(p, "known_out_count", True)[0] == 0
    with pytest.raises(FeatureError, match="one flag per node"):
        profile_features(_edges(), at=10, known_illicit=np.array([True]))


def test_profiles_read_only_the_past() -> None:
    base = profile_features(_edges(), at=3)
    later = EdgeList.from_arrays([*SRC, 0], [*DST, 1], [*AMT, 1.0], [*TIME, 7], nodes=np.arange(4))
    assert np.array_equal(profile_features(later, at=3), base, equal_nan=True)
    assert _col(base, "life_out_count")[0] == 2  # edges at t=0 and t=2 only


def test_profile_feature_set_is_raw_plus_profile_columns() -> None:
    acc = account_features(
        _edges(), 10, FeatureConfig(windows=(2, 5), pattern_window=3), known_illicit=np.zeros(4, bool)
    )
    chosen = profile_account_features(acc.names)
    assert "out_count_5" in chosen
    assert "life_out_std" in chosen
    assert "known_in_share" in chosen
    assert not any(n.startswith(("out_edges_", "in_edges_", "cycle")) for n in chosen)


def test_every_profile_column_reads_as_a_sentence() -> None:
    from chainsleuth.monitor.features.names import describe

    for name in profile_feature_names(known=True):
        text = describe(name)
        assert text != name.replace("_", " "), name
    assert describe("nbr_in_max_life_out_std").startswith("max over the account's senders of: spread")
    assert "already flagged" in describe("known_out_amount_share")
