"""The path element of a grade: recall, precision and order (pure functions on a synthetic answer key).

Why a synthetic key: the rules are arithmetic, and a key written out here states exactly what each answer must
earn; the world-based tests in ``test_grading.py`` check the same rules on generated keys.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from chainsleuth.academy.exercises import get_exercise
from chainsleuth.academy.grading import ORDER_SHARE, grade_exercise

AT = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
PATH = [f"{i:064x}" for i in range(1, 6)]
KEY: dict[str, Any] = {
    "accounts": ["A0000042"],
    "amount_usd": 350_000.0,
    "path": PATH,
    "path_addresses": ["bc1victim", "bc1hop1", "bc1hop2", "bc1hop3", "bc1hop4", "3Deposit"],
    "given": {"victim_address": "bc1victim"},
    "description": "test",
}


def _path_points(path: list[str]) -> float:
    grade = grade_exercise(get_exercise("phone-theft"), KEY, {"path": path}, started_at=AT, submitted_at=AT)
    return next(c.points for c in grade.components if c.name == "path")


def test_the_true_sequence_earns_everything() -> None:
    assert _path_points(PATH) == pytest.approx(30)
    assert _path_points(KEY["path_addresses"][1:]) == pytest.approx(30)


def test_extra_identifiers_cost_points() -> None:
    """Listing every transaction of the chain (the audit's 30/30 ransomware answer) earns almost nothing."""
    noise = [f"{i:064x}" for i in range(100, 195)]
    assert _path_points(PATH + noise) == pytest.approx(30 * 5 / 100)
    assert _path_points(PATH + noise[:5]) == pytest.approx(15)


def test_order_is_credited() -> None:
    shuffled = [PATH[4], PATH[3], PATH[2], PATH[1], PATH[0]]
    assert _path_points(shuffled) == pytest.approx(30 * ((1 - ORDER_SHARE) + ORDER_SHARE / 5))
    one_swap = [PATH[0], PATH[2], PATH[1], PATH[3], PATH[4]]
    assert _path_points(one_swap) == pytest.approx(30 * ((1 - ORDER_SHARE) + ORDER_SHARE * 4 / 5))


def test_missing_hops_and_the_given_fact() -> None:
    assert _path_points(PATH[:2]) == pytest.approx(30 * 2 / 5)
    assert _path_points(["bc1victim"]) == 0
    assert _path_points(["bc1victim", *PATH]) == pytest.approx(30)  # restating the brief's fact costs nothing
    assert _path_points([]) == 0
