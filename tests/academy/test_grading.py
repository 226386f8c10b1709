"""Exercise grading against the ground truth: full marks, partial credit, hints, lateness, freeze requests,
and refusals of foreign tokens and of identifiers from another trainee's world (pure functions, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chainsleuth.academy.exercises import exercises, get_exercise
from chainsleuth.academy.grading import AnswerRefusedError, check_ownership, check_token, grade_exercise
from chainsleuth.academy.worlds import trainee_world
from tests.academy.conftest import COHORT, key_of

START = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def _grade(academy_dir: Path, exercise_id: str, answer: dict[str, object], *, minutes: float = 10, hints: int = 0):  # type: ignore[no-untyped-def]
    return grade_exercise(
        get_exercise(exercise_id), key_of(academy_dir, "alice", exercise_id), answer,
        started_at=START, submitted_at=START + timedelta(minutes=minutes), hints_used=hints,
    )  # fmt: skip


@pytest.mark.parametrize("exercise_id", [e for e in exercises() if e != "freeze-request"])
def test_the_true_answer_gets_full_marks(academy_dir: Path, exercise_id: str) -> None:
    key = key_of(academy_dir, "alice", exercise_id)
    grade = _grade(academy_dir, exercise_id, {"accounts": key["accounts"], "amount_usd": key["amount_usd"],
                                              "path": key["path"]})  # fmt: skip
    assert grade.score == grade.max_score == 100
    assert grade.explanation["accounts"] == key["accounts"]
    assert grade.explanation["path"] == key["path"]


def test_phone_theft_ground_truth_is_the_seed_story(academy_dir: Path) -> None:
    key = key_of(academy_dir, "alice", "phone-theft")
    assert len(key["accounts"]) == 1
    assert 345_000 < key["amount_usd"] < 351_000
    assert key["given"]["victim_address"] == key["path_addresses"][0]


def test_partial_credit_for_account_amount_and_path(academy_dir: Path) -> None:
    key = key_of(academy_dir, "alice", "phone-theft")
    # right account, amount 8 % off (half credit: tolerance 5 %), two of the five hops
    grade = _grade(academy_dir, "phone-theft", {"account": key["accounts"][0], "amount_usd": key["amount_usd"] * 1.08,
                                               "path": key["path"][:2]})  # fmt: skip
    parts = {c.name: c.points for c in grade.components}
    assert parts == {"account": 50, "amount": 10, "path": pytest.approx(30 * 2 / 5)}
    # the path may be named by addresses instead of transactions; the given victim address does not count
    by_address = _grade(academy_dir, "phone-theft", {"path": key["path_addresses"]})
    assert {c.name: c.points for c in by_address.components}["path"] == 30
    only_victim = _grade(academy_dir, "phone-theft", {"path": [key["given"]["victim_address"]]})
    assert {c.name: c.points for c in only_victim.components}["path"] == 0


def test_several_accounts_each_earn_a_share_and_wrong_ones_cost(academy_dir: Path) -> None:
    key = key_of(academy_dir, "alice", "hack-laundering")
    assert len(key["accounts"]) == 3
    two = _grade(academy_dir, "hack-laundering", {"accounts": key["accounts"][:2]})
    assert {c.name: c.points for c in two.components}["account"] == pytest.approx(50 * 2 / 3)
    with_wrong = _grade(academy_dir, "hack-laundering", {"accounts": [*key["accounts"][:2], "A0000001"]})
    assert {c.name: c.points for c in with_wrong.components}["account"] == pytest.approx(50 * 2 / 3 - 50 / 6)


def test_hints_cost_points(academy_dir: Path) -> None:
    key = key_of(academy_dir, "alice", "phone-theft")
    answer = {"account": key["accounts"][0], "amount_usd": key["amount_usd"], "path": key["path"]}
    grade = _grade(academy_dir, "phone-theft", answer, hints=2)
    assert grade.hint_penalty == 25
    assert grade.score == 75


def test_late_answers_are_penalised_or_refused(academy_dir: Path) -> None:
    key = key_of(academy_dir, "alice", "phone-theft")
    answer = {"account": key["accounts"][0], "amount_usd": key["amount_usd"], "path": key["path"]}
    late = _grade(academy_dir, "phone-theft", answer, minutes=90 + 120)  # 2 h late at 10 %/h
    assert late.late_penalty == pytest.approx(20)
    assert late.score == pytest.approx(80)
    very_late = _grade(academy_dir, "phone-theft", answer, minutes=90 + 60 * 24)
    assert very_late.score == pytest.approx(50)  # capped at 50 %
    with pytest.raises(AnswerRefusedError, match="time limit"):
        _grade(academy_dir, "ransomware", {"accounts": key["accounts"]}, minutes=91)


def test_freeze_request_is_graded_on_its_required_elements(academy_dir: Path) -> None:
    key = key_of(academy_dir, "alice", "freeze-request")
    valid = {
        "legal_basis": "Section 261 Criminal Code, order of the public prosecutor of 20 November",
        "account": key["accounts"][0],
        "amount_usd": key["amount_usd"] * 0.8,
        "justification": f"The stolen coins were traced from the victim through {key['path'][0]} to this account.",
        "deadline": (START + timedelta(days=30)).date().isoformat(),
    }
    assert _grade(academy_dir, "freeze-request", valid).score == 100
    flawed = {**valid, "legal_basis": "because", "amount_usd": key["amount_usd"] * 3,
              "justification": "The account holder is a thief, everybody knows it, freeze it now please.",
              "deadline": (START + timedelta(days=200)).date().isoformat()}  # fmt: skip
    parts = {c.name: c.points for c in _grade(academy_dir, "freeze-request", flawed).components}
    assert parts == {"legal_basis": 10, "account": 20, "amount": 0, "justification": 10, "deadline": 0}
    assert _grade(academy_dir, "freeze-request", {}).score == 0


def test_tokens_and_identifiers_of_another_trainee_are_refused(academy_dir: Path) -> None:
    alice, bob = (trainee_world(academy_dir, COHORT, t) for t in ("alice", "bob"))
    check_token("CSA1-X", "CSA1-X", {"bob": "CSA1-Y"})
    with pytest.raises(AnswerRefusedError, match="another trainee"):
        check_token("CSA1-Y", "CSA1-X", {"bob": "CSA1-Y"})
    with pytest.raises(AnswerRefusedError, match="missing"):
        check_token(None, "CSA1-X", {})
    with pytest.raises(AnswerRefusedError, match="not valid"):
        check_token("forged", "CSA1-X", {"bob": "CSA1-Y"})
    bob_key = bob.answer_keys()["phone-theft"]
    others = {"bob": set(bob.identifiers())}
    own = set(alice.identifiers())
    with pytest.raises(AnswerRefusedError, match="another trainee's world") as refused:
        check_ownership({"path": bob_key["path"]}, own, others)
    assert set(refused.value.details["foreign"]) <= set(bob_key["path"])
    check_ownership({"path": alice.answer_keys()["phone-theft"]["path"], "accounts": ["A0000001"]}, own, others)
