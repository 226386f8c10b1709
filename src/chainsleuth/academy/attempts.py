"""Exercise work: starting the clock, hints, submissions (online and offline) and their refusals.

Rules that make grading fair, and why:

* the clock starts at :meth:`ExerciseWork.start_exercise` and restarting does not reset it;
* one graded submission per exercise: the explanation shown afterwards gives the true answer away;
* before grading, the submission token must be the trainee's own and the answer may not name identifiers that
  exist only in another trainee's world; a refused submission is recorded (with its reason) in a transaction of
  its own and audited, then the refusal is raised, so the instructor sees it although the call failed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.academy.base import SYSTEM, AcademyBase
from chainsleuth.academy.exercises import Exercise, get_exercise
from chainsleuth.academy.grading import AnswerRefusedError, check_ownership, check_token, grade_exercise
from chainsleuth.errors import ConflictError, InvalidInputError, NotFoundError
from chainsleuth.privacy import audit
from chainsleuth.privacy.policy import Actor
from chainsleuth.store.db import session_scope
from chainsleuth.store.models.academy import AcademyAttempt, AcademyEnrolment, AcademySubmission


class ExerciseWork(AcademyBase):
    """Exercise attempts of trainees (mixed into :class:`chainsleuth.academy.service.Academy`)."""

    def _exercise(self, exercise_id: str) -> Exercise:
        exercise = get_exercise(exercise_id)
        if exercise_id not in self.course.exercises:
            raise NotFoundError("this exercise is not part of the course", exercise=exercise_id)
        return exercise

    def _attempt(self, session: Session, enrolment: AcademyEnrolment, exercise_id: str) -> AcademyAttempt | None:
        return session.scalar(
            select(AcademyAttempt).where(
                AcademyAttempt.enrolment_id == enrolment.id, AcademyAttempt.exercise_id == exercise_id
            )
        )

    def start_exercise(self, cohort: str, trainee: str, exercise_id: str, *, actor: Actor = SYSTEM) -> dict[str, Any]:
        """Start (or look at) an exercise: the brief, the facts given, the start time and the deadline."""
        exercise = self._exercise(exercise_id)
        world = self.world(cohort, trainee)
        with session_scope(self.engine) as session:
            enrolment = self._enrolment(session, cohort, trainee)
            if enrolment.world_status != "ready" or not world.ready:
                raise ConflictError("this trainee's world is not generated yet", cohort=cohort, trainee=trainee)
            attempt = self._attempt(session, enrolment, exercise_id)
            if attempt is None:
                now = self.clock()
                attempt = AcademyAttempt(
                    enrolment_id=enrolment.id,
                    exercise_id=exercise_id,
                    status="started",
                    started_at=now,
                    deadline_at=now + timedelta(minutes=exercise.time_limit_minutes),
                    hints_used=0,
                )
                session.add(attempt)
                session.flush()
                audit.record(
                    session,
                    actor,
                    "academy.exercise_start",
                    "academy_attempt",
                    str(attempt.id),
                    None,
                    {"cohort": cohort, "trainee": trainee, "exercise": exercise_id},
                )
            return {
                **exercise.public(),
                "given": world.answer_keys()[exercise_id]["given"],
                "status": attempt.status,
                "started_at": attempt.started_at.isoformat(),
                "deadline_at": attempt.deadline_at.isoformat() if attempt.deadline_at else None,
                "hints_used": attempt.hints_used,
                "sandbox": {
                    "workspace": f"/academy/cohorts/{cohort}/workspace",
                    "command_line": f"chainsleuth academy run {cohort} {trainee} -- <chainsleuth command>",
                },
            }

    def take_hint(self, cohort: str, trainee: str, exercise_id: str, *, actor: Actor = SYSTEM) -> dict[str, Any]:
        """Reveal the next hint of a started exercise; its cost is deducted when the answer is graded."""
        exercise = self._exercise(exercise_id)
        with session_scope(self.engine) as session:
            enrolment = self._enrolment(session, cohort, trainee)
            attempt = self._attempt(session, enrolment, exercise_id)
            if attempt is None or attempt.status != "started":
                raise ConflictError("hints are for a started, not yet submitted exercise", exercise=exercise_id)
            if attempt.hints_used >= len(exercise.hints):
                raise ConflictError("no more hints for this exercise", exercise=exercise_id)
            hint = exercise.hints[attempt.hints_used]
            attempt.hints_used += 1
            audit.record(
                session,
                actor,
                "academy.hint",
                "academy_attempt",
                str(attempt.id),
                None,
                {"hint": attempt.hints_used, "cost": hint.cost},
            )
            return {
                "hint": attempt.hints_used,
                "text": hint.text,
                "cost": hint.cost,
                "hints_left": len(exercise.hints) - attempt.hints_used,
            }

    def _others(
        self, session: Session, cohort_id: int, cohort: str, trainee: str
    ) -> tuple[dict[str, str], dict[str, set[str]]]:
        """Tokens and world identifiers of every other trainee of the cohort."""
        tokens: dict[str, str] = {}
        identifiers: dict[str, set[str]] = {}
        for other in session.scalars(select(AcademyEnrolment).where(AcademyEnrolment.cohort_id == cohort_id)):
            if other.trainee == trainee:
                continue
            tokens[other.trainee] = self.token(cohort, other.trainee)
            if other.world_status == "ready":
                identifiers[other.trainee] = set(self.world(cohort, other.trainee).identifiers())
        return tokens, identifiers

    def submit(
        self,
        cohort: str,
        trainee: str,
        exercise_id: str,
        answer: Mapping[str, Any],
        *,
        at: datetime | None = None,
        actor: Actor = SYSTEM,
        offline: bool = False,
    ) -> dict[str, Any]:
        """Check, grade and record an answer; raises :class:`AnswerRefusedError` (after recording it) if refused.

        ``offline`` grades an answer file collected by the instructor: the attempt is created if the trainee
        never started one online, and no time limit applies (there is no start time to measure from).
        """
        exercise = self._exercise(exercise_id)
        if not isinstance(answer, Mapping):
            raise InvalidInputError("an answer is a JSON object")
        submitted_at = at or self.clock()
        world = self.world(cohort, trainee)
        with session_scope(self.engine) as session:
            enrolment = self._enrolment(session, cohort, trainee)
            attempt = self._attempt(session, enrolment, exercise_id)
            if attempt is None and offline:
                attempt = AcademyAttempt(
                    enrolment_id=enrolment.id,
                    exercise_id=exercise_id,
                    status="started",
                    started_at=submitted_at,
                    hints_used=0,
                )
                session.add(attempt)
                session.flush()
            if attempt is None:
                raise ConflictError("start the exercise before submitting an answer", exercise=exercise_id)
            if attempt.status == "submitted":
                raise ConflictError("this exercise has already been graded", exercise=exercise_id)
            attempt_id, started_at, hints = attempt.id, attempt.started_at, attempt.hints_used
            tokens, others = self._others(session, enrolment.cohort_id, cohort, trainee)
        try:
            check_token(answer.get("token"), self.token(cohort, trainee), tokens)
            check_ownership(answer, set(world.identifiers()), others)
            grade = grade_exercise(
                exercise,
                world.answer_keys()[exercise_id],
                answer,
                started_at=submitted_at if offline else started_at,
                submitted_at=submitted_at,
                hints_used=hints,
            )
        except AnswerRefusedError as refusal:
            with session_scope(self.engine) as session:
                session.add(
                    AcademySubmission(
                        attempt_id=attempt_id,
                        submitted_at=submitted_at,
                        status="refused",
                        answer=dict(answer),
                        reason=refusal.message,
                        feedback={},
                    )
                )
                audit.record(
                    session,
                    actor,
                    "academy.submission_refused",
                    "academy_attempt",
                    str(attempt_id),
                    None,
                    {"exercise": exercise_id, "reason": refusal.message},
                )
            raise
        result = grade.as_dict()
        with session_scope(self.engine) as session:
            row = session.get(AcademyAttempt, attempt_id)
            assert row is not None
            if row.status == "submitted":  # a concurrent submission won the race
                raise ConflictError("this exercise has already been graded", exercise=exercise_id)
            row.status, row.submitted_at = "submitted", submitted_at
            row.score, row.max_score = grade.score, grade.max_score
            session.add(
                AcademySubmission(
                    attempt_id=attempt_id,
                    submitted_at=submitted_at,
                    status="graded",
                    answer=dict(answer),
                    score=grade.score,
                    feedback=result,
                )
            )
            audit.record(
                session,
                actor,
                "academy.submission_graded",
                "academy_attempt",
                str(attempt_id),
                None,
                {"exercise": exercise_id, "score": round(grade.score, 2), "offline": offline},
            )
        return result

    def submissions(self, cohort: str, trainee: str, exercise_id: str) -> list[dict[str, Any]]:
        """Every submission of an exercise, refused ones included (for the instructor and the trainee)."""
        with session_scope(self.engine) as session:
            enrolment = self._enrolment(session, cohort, trainee)
            attempt = self._attempt(session, enrolment, exercise_id)
            if attempt is None:
                return []
            rows = session.scalars(
                select(AcademySubmission)
                .where(AcademySubmission.attempt_id == attempt.id)
                .order_by(AcademySubmission.id)
            )
            return [
                {
                    "submitted_at": r.submitted_at.isoformat(),
                    "status": r.status,
                    "score": r.score,
                    "reason": r.reason,
                    "feedback": r.feedback,
                }
                for r in rows
            ]

    def grade_offline(self, cohort: str, answers_dir: Path, *, actor: Actor = SYSTEM) -> list[dict[str, Any]]:
        """Grade a folder of answer files: ``<answers_dir>/<trainee>/<exercise>.json|yaml``.

        Each file is graded and recorded like an online submission; problems (refusals, files for an unknown
        exercise, an exercise already graded) are reported per file instead of stopping the run.
        """
        root = Path(answers_dir)
        if not root.is_dir():
            raise NotFoundError("answers directory does not exist", path=str(root))
        results: list[dict[str, Any]] = []
        for path in sorted(p for p in root.glob("*/*") if p.suffix in (".json", ".yaml", ".yml")):
            trainee, exercise_id = path.parent.name, path.stem
            entry: dict[str, Any] = {"trainee": trainee, "exercise": exercise_id, "file": str(path)}
            try:
                text = path.read_text(encoding="utf-8")
                answer = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
                grade = self.submit(cohort, trainee, exercise_id, answer, actor=actor, offline=True)
                entry.update(status="graded", score=grade["score"], max_score=grade["max_score"])
            except AnswerRefusedError as refusal:
                entry.update(status="refused", reason=refusal.message)
            except (InvalidInputError, NotFoundError, ConflictError, ValueError, yaml.YAMLError) as error:
                entry.update(status="error", reason=str(error))
            results.append(entry)
        return results
