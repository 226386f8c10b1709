"""The academy over the database (SQLite and PostgreSQL): cohorts, per-trainee worlds, exercises end to end,
refusals recorded, time limits, hints, progress, offline grading."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from chainsleuth.academy.grading import AnswerRefusedError
from chainsleuth.academy.service import Academy
from chainsleuth.errors import ConflictError, InvalidInputError, NotFoundError
from chainsleuth.store.db import session_scope
from chainsleuth.store.models import AuditEntry
from tests.academy.conftest import COHORT, Clock, key_of, perfect_answer


def test_each_trainee_gets_a_different_world(academy: Academy) -> None:
    alice, bob = academy.world(COHORT, "alice"), academy.world(COHORT, "bob")
    assert [t["world_status"] for t in academy.trainees(COHORT)] == ["ready", "ready"]
    assert academy.token(COHORT, "alice") != academy.token(COHORT, "bob")
    a_key, b_key = alice.answer_keys()["phone-theft"], bob.answer_keys()["phone-theft"]
    assert a_key["given"]["victim_address"] != b_key["given"]["victim_address"]
    assert not set(a_key["path"]) & set(b_key["path"])
    assert a_key["accounts"] != b_key["accounts"]  # customer counts differ per trainee, so account ids do too
    # the sandbox holds no ground truth, and is ingested into its own stores
    assert not (alice.world_dir / "ground_truth").exists()
    assert (alice.key_dir / "ground_truth").is_dir()
    assert alice.database.exists()
    assert (alice.chain_dir).is_dir()
    assignment = json.loads(alice.assignment_file.read_text())
    assert assignment["submission_token"] == academy.token(COHORT, "alice")
    shown = json.dumps(assignment["exercises"])
    assert a_key["accounts"][0] not in shown
    assert a_key["path"][0] not in shown


def test_solving_the_phone_theft_exercise(academy: Academy, clock: Clock) -> None:
    started = academy.start_exercise(COHORT, "alice", "phone-theft")
    assert started["given"]["victim_address"]
    assert started["status"] == "started"
    clock.advance(30)
    assert academy.start_exercise(COHORT, "alice", "phone-theft")["started_at"] == started["started_at"]
    result = academy.submit(COHORT, "alice", "phone-theft", perfect_answer(academy, "alice", "phone-theft"))
    assert result["score"] == 100
    assert result["explanation"]["path"]
    with pytest.raises(ConflictError, match="already been graded"):
        academy.submit(COHORT, "alice", "phone-theft", perfect_answer(academy, "alice", "phone-theft"))
    progress = academy.trainee_progress(COHORT, "alice")
    assert progress["exercises"]["phone-theft"]["score"] == 100
    assert not progress["complete"]


def test_answers_from_another_trainees_world_are_refused_and_recorded(academy: Academy) -> None:
    academy.start_exercise(COHORT, "alice", "phone-theft")
    bobs = perfect_answer(academy, "bob", "phone-theft")
    with pytest.raises(AnswerRefusedError, match="another trainee's world"):
        academy.submit(COHORT, "alice", "phone-theft", bobs)  # bob's token
    copied = {**bobs, "token": academy.token(COHORT, "alice")}  # own token, bob's transactions
    with pytest.raises(AnswerRefusedError, match="identifier"):
        academy.submit(COHORT, "alice", "phone-theft", copied)
    history = academy.submissions(COHORT, "alice", "phone-theft")
    assert [s["status"] for s in history] == ["refused", "refused"]
    assert "another trainee" in history[0]["reason"]
    with session_scope(academy.engine) as session:
        actions = session.scalars(select(AuditEntry.action)).all()
    assert actions.count("academy.submission_refused") == 2
    # the refusals did not use up the attempt: alice's own answer is still graded
    assert (
        academy.submit(COHORT, "alice", "phone-theft", perfect_answer(academy, "alice", "phone-theft"))["score"] == 100
    )


def test_time_limits_and_hints(academy: Academy, clock: Clock) -> None:
    academy.start_exercise(COHORT, "alice", "ransomware")  # refuses late answers
    first = academy.take_hint(COHORT, "alice", "ransomware")
    assert first["hint"] == 1
    assert first["cost"] == 10
    assert first["text"]
    clock.advance(91)
    with pytest.raises(AnswerRefusedError, match="time limit"):
        academy.submit(COHORT, "alice", "ransomware", perfect_answer(academy, "alice", "ransomware"))
    academy.start_exercise(COHORT, "alice", "phone-theft")  # penalises late answers, 10 %/h
    academy.take_hint(COHORT, "alice", "phone-theft")
    clock.advance(90 + 60)
    result = academy.submit(COHORT, "alice", "phone-theft", perfect_answer(academy, "alice", "phone-theft"))
    assert result["hint_penalty"] == 10
    assert result["late_penalty"] == pytest.approx(9)
    assert result["score"] == pytest.approx(81)
    with pytest.raises(ConflictError):
        academy.take_hint(COHORT, "alice", "phone-theft")  # graded: no more hints


def test_submitting_needs_a_started_exercise_and_an_enrolment(academy: Academy) -> None:
    with pytest.raises(ConflictError, match="start the exercise"):
        academy.submit(COHORT, "alice", "structuring", perfect_answer(academy, "alice", "structuring"))
    with pytest.raises(NotFoundError):
        academy.start_exercise(COHORT, "mallory", "structuring")
    with pytest.raises(InvalidInputError):
        academy.enrol(COHORT, "../etc", "Path Traversal")
    with pytest.raises(ConflictError):
        academy.enrol(COHORT, "alice", "Alice Again")


def test_offline_grading_of_a_folder(academy: Academy, tmp_path: Path) -> None:
    (tmp_path / "alice").mkdir()
    (tmp_path / "bob").mkdir()
    (tmp_path / "alice" / "structuring.json").write_text(json.dumps(perfect_answer(academy, "alice", "structuring")))
    key = key_of(academy.dir, "bob", "structuring")
    (tmp_path / "bob" / "structuring.yaml").write_text(
        f"token: {academy.token(COHORT, 'bob')}\naccount: {key['accounts'][0]}\namount_usd: 1\n"
    )
    (tmp_path / "bob" / "phone-theft.json").write_text(json.dumps(perfect_answer(academy, "alice", "phone-theft")))
    results = {(r["trainee"], r["exercise"]): r for r in academy.grade_offline(COHORT, tmp_path)}
    assert results["alice", "structuring"]["score"] == 100
    assert results["bob", "structuring"]["score"] == 70  # right account, amount far off
    assert results["bob", "phone-theft"]["status"] == "refused"
    rows = {p["trainee"]: p for p in academy.progress(COHORT)}
    assert rows["alice"]["exercises"]["structuring"]["score"] == 100


def test_quiz_results_count_towards_progress(academy: Academy) -> None:
    module = academy.course.modules[0]
    result = academy.submit_quiz(COHORT, "alice", module.id, {q.id: q.answer for q in module.quiz})
    assert result.percent == 100
    academy.submit_quiz(COHORT, "alice", module.id, {})
    assert academy.trainee_progress(COHORT, "alice")["quizzes"][module.id] == 100  # the best try counts
