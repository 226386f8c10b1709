from __future__ import annotations

from decimal import Decimal

from chainsleuth.world.writers import decimal_array, iso_us, units_to_decimal_str


def test_decimal_array_is_exact() -> None:
    arr = decimal_array([123_456_789, None, 5, 10**15], [8, 0, 2, 9])
    assert arr.to_pylist() == [Decimal("1.23456789"), None, Decimal("0.05"), Decimal("1000000")]
    assert arr.null_count == 1


def test_units_to_decimal_str() -> None:
    assert units_to_decimal_str(150, 2) == "1.5"
    assert units_to_decimal_str(100, 2) == "1"
    assert units_to_decimal_str(1, 18) == "0.000000000000000001"


def test_iso_us() -> None:
    assert iso_us(1_704_067_200_000_000) == "2024-01-01T00:00:00Z"
