"""The shared core of the academy service: its key, clock, directories and database lookups.

Split from :mod:`chainsleuth.academy.service` so that exercise work (:mod:`~chainsleuth.academy.attempts`) and
certificates (:mod:`~chainsleuth.academy.certificates`) can be separate modules of one :class:`Academy` object.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from chainsleuth.academy import keys as akeys
from chainsleuth.academy.courses import Course, default_course
from chainsleuth.academy.worlds import TraineeWorld, trainee_world
from chainsleuth.errors import NotFoundError
from chainsleuth.privacy.policy import SystemActor
from chainsleuth.store.db import session_scope
from chainsleuth.store.models.academy import AcademyAttempt, AcademyCohort, AcademyEnrolment, AcademyQuizResult
from chainsleuth.store.types import utcnow

if TYPE_CHECKING:
    from chainsleuth.config import Settings

SYSTEM = SystemActor("academy")


class AcademyBase:
    """Key, clock, course and directories of the academy, plus the lookups every part needs."""

    def __init__(
        self,
        engine: Engine,
        academy_dir: Path,
        secret: str | bytes,
        *,
        course: Course | None = None,
        clock: Callable[[], datetime] = utcnow,
        settings: Settings | None = None,
    ) -> None:
        self.engine = engine
        self.dir = Path(academy_dir)
        self.key = akeys.academy_key(secret)
        self.course = course or default_course()
        self.clock = clock
        self.settings = settings

    @classmethod
    def from_settings(cls, settings: Settings, engine: Engine) -> Self:
        """The academy of a deployment: ``<data dir>/academy`` and a key derived from ``secret_key``."""
        return cls(engine, settings.data_dir / "academy", settings.secret_key.get_secret_value(), settings=settings)

    def world(self, cohort: str, trainee: str) -> TraineeWorld:
        return trainee_world(self.dir, cohort, trainee)

    def token(self, cohort: str, trainee: str) -> str:
        """The submission token of a trainee's world (also written into their ASSIGNMENT.json)."""
        seed = akeys.world_seed(self.key, cohort, trainee)
        return akeys.submission_token(self.key, cohort, trainee, seed)

    # -- progress -------------------------------------------------------------------------------------------

    def trainee_progress(self, cohort: str, trainee: str) -> dict[str, Any]:
        """Best quiz result per module, the result of every exercise, and whether the course is complete."""
        with session_scope(self.engine) as session:
            enrolment = self._enrolment(session, cohort, trainee)
            return self._progress(session, enrolment)

    def progress(self, cohort: str) -> list[dict[str, Any]]:
        with session_scope(self.engine) as session:
            row = self._cohort(session, cohort)
            query = select(AcademyEnrolment).where(AcademyEnrolment.cohort_id == row.id).order_by(AcademyEnrolment.id)
            return [self._progress(session, e) for e in session.scalars(query)]

    def _progress(self, session: Session, enrolment: AcademyEnrolment) -> dict[str, Any]:
        rows = session.execute(
            select(AcademyQuizResult.module_id, func.max(AcademyQuizResult.score / AcademyQuizResult.max_score))
            .where(AcademyQuizResult.enrolment_id == enrolment.id)
            .group_by(AcademyQuizResult.module_id)
        ).all()
        best: dict[str, float] = {str(module): float(value) for module, value in rows}
        quizzes = {m.id: round(100 * float(best[m.id]), 1) if m.id in best else None for m in self.course.modules}
        attempts = {
            a.exercise_id: a
            for a in session.scalars(select(AcademyAttempt).where(AcademyAttempt.enrolment_id == enrolment.id))
        }
        exercises: dict[str, Any] = {}
        for exercise_id in self.course.exercises:
            attempt = attempts.get(exercise_id)
            exercises[exercise_id] = (
                None
                if attempt is None
                else {
                    "status": attempt.status,
                    "score": attempt.score,
                    "max_score": attempt.max_score,
                    "hints_used": attempt.hints_used,
                    "started_at": attempt.started_at.isoformat(),
                    "submitted_at": attempt.submitted_at.isoformat() if attempt.submitted_at else None,
                }
            )
        graded = [e for e in exercises.values() if e and e["score"] is not None and e["max_score"]]
        exercise_percent = (
            100 * sum(e["score"] for e in graded) / sum(e["max_score"] for e in graded) if graded else 0.0
        )
        quizzes_passed = all(v is not None and v >= self.course.quiz_pass_percent for v in quizzes.values())
        all_exercises = len(graded) == len(self.course.exercises)
        complete = quizzes_passed and all_exercises and exercise_percent >= self.course.exercise_pass_percent
        missing = [m for m, v in quizzes.items() if v is None or v < self.course.quiz_pass_percent]
        return {
            "trainee": enrolment.trainee,
            "display_name": enrolment.display_name,
            "world_status": enrolment.world_status,
            "quizzes": quizzes,
            "exercises": exercises,
            "exercise_percent": round(exercise_percent, 1),
            "complete": complete,
            "missing": {
                "quizzes": missing,
                "exercises": [k for k, v in exercises.items() if not v or v["score"] is None],
            },
        }

    # -- lookups --------------------------------------------------------------------------------------------

    def _cohort(self, session: Session, name: str) -> AcademyCohort:
        row = session.scalar(select(AcademyCohort).where(AcademyCohort.name == name))
        if row is None:
            raise NotFoundError("no such cohort", cohort=name)
        return row

    @staticmethod
    def _enrolment_or_none(session: Session, cohort_id: int, trainee: str) -> AcademyEnrolment | None:
        return session.scalar(
            select(AcademyEnrolment).where(AcademyEnrolment.cohort_id == cohort_id, AcademyEnrolment.trainee == trainee)
        )

    def _enrolment(self, session: Session, cohort: str, trainee: str) -> AcademyEnrolment:
        enrolment = self._enrolment_or_none(session, self._cohort(session, cohort).id, trainee)
        if enrolment is None:
            raise NotFoundError("this trainee is not enrolled in this cohort", cohort=cohort, trainee=trainee)
        return enrolment
