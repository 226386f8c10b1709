from __future__ import annotations

import pytest

from chainsleuth.errors import InvalidInputError
from chainsleuth.world.config import SIZE_PRESETS, WorldConfig, parse_size, size_label


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tiny", 5_000),
        ("10m", 10_000_000),
        ("DEMO", 200_000),
        ("250000", 250_000),
        ("3m", 3_000_000),
        ("20k", 20_000),
        ("1_500_000", 1_500_000),
    ],
)
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["huge", "", "-5", "1.5x", "100", "200m"])
def test_parse_size_rejects_bad_sizes(text: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_size(text)


def test_size_label_round_trips_presets() -> None:
    for name, value in SIZE_PRESETS.items():
        assert size_label(value) == name
    assert size_label(123_456) == "123456"


def test_config_validation() -> None:
    with pytest.raises(InvalidInputError):
        WorldConfig(transfers=5_000, fmt="xml")
    with pytest.raises(InvalidInputError):
        WorldConfig(transfers=5_000, seed=-1)
    with pytest.raises(InvalidInputError):
        WorldConfig(transfers=5_000, customers=3)


def test_derived_scale_grows_with_size() -> None:
    tiny, big = WorldConfig.from_size("tiny"), WorldConfig.from_size("10m")
    assert tiny.n_customers >= 150
    assert big.n_customers > 100 * tiny.n_customers
    assert big.btc_block_seconds == 600
    assert tiny.n_days >= 120  # room for dormancy in the smallest world
