"""The academy's Python API: cohorts, enrolment, worlds, quizzes, progress and certificates over the database.

One :class:`Academy` object is what the CLI, the HTTP router and (later) the web pages call, so each rule lives
once. It opens its own short transactions on the engine rather than joining a caller's session because a
refused answer must be recorded even though the call then fails (see :mod:`chainsleuth.academy.attempts`).
Every change is written to the audit log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from chainsleuth.academy import keys as K
from chainsleuth.academy.courses import Course, default_course
from chainsleuth.academy.quiz import QuizResult, grade_quiz
from chainsleuth.academy.worlds import TraineeWorld, check_name, generate_trainee_world, trainee_world
from chainsleuth.errors import ConflictError, InvalidInputError, NotFoundError
from chainsleuth.privacy import audit
from chainsleuth.privacy.policy import Actor, SystemActor
from chainsleuth.store.db import session_scope
from chainsleuth.store.models.academy import (
    AcademyAttempt,
    AcademyCohort,
    AcademyEnrolment,
    AcademyQuizResult,
)
from chainsleuth.store.types import utcnow
from chainsleuth.world.config import parse_size

if TYPE_CHECKING:
    from chainsleuth.config import Settings

SYSTEM = SystemActor("academy")
#: ``progress(cohort, trainee, stage)`` while worlds are generated.
WorldProgress = Callable[[str, str], None]


@dataclass(frozen=True)
class CertificateCheck:
    """The answer of the public verification: who holds it, for which course, since when, and whether valid."""

    code: str
    valid: bool
    holder: str | None = None
    course: str | None = None
    date: str | None = None
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Academy:
    """The academy over one database and one data directory."""

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
        self.key = K.academy_key(secret)
        self.course = course or default_course()
        self.clock = clock
        self.settings = settings

    @classmethod
    def from_settings(cls, settings: Settings, engine: Engine) -> Academy:
        """The academy of a deployment: ``<data dir>/academy`` and a key derived from ``secret_key``."""
        return cls(engine, settings.data_dir / "academy", settings.secret_key.get_secret_value(), settings=settings)

    # -- cohorts and enrolment ----------------------------------------------------------------------------

    def create_cohort(
        self, name: str, title: str, instructor: str, *, world_size: str = "tiny", actor: Actor = SYSTEM
    ) -> dict[str, Any]:
        """A new cohort; ``world_size`` is a world preset or a transfer count (small worlds train best)."""
        check_name("cohort", name)
        parse_size(world_size)  # refuse a bad size now, not when worlds are generated
        with session_scope(self.engine) as session:
            if session.scalar(select(AcademyCohort).where(AcademyCohort.name == name)) is not None:
                raise ConflictError("a cohort with this name exists", cohort=name)
            cohort = AcademyCohort(name=name, title=title, instructor=instructor, world_size=world_size)
            session.add(cohort)
            session.flush()
            audit.record(session, actor, "academy.cohort_create", "academy_cohort", name, None, {"title": title})
            return _cohort_dict(cohort)

    def cohorts(self) -> list[dict[str, Any]]:
        with session_scope(self.engine) as session:
            return [_cohort_dict(c) for c in session.scalars(select(AcademyCohort).order_by(AcademyCohort.id))]

    def enrol(self, cohort: str, trainee: str, display_name: str, *, actor: Actor = SYSTEM) -> dict[str, Any]:
        """Enrol ``trainee`` (a platform username or an offline id); their world seed is fixed now."""
        check_name("trainee", trainee)
        if not display_name.strip():
            raise InvalidInputError("a display name is required (it is printed on the certificate)")
        with session_scope(self.engine) as session:
            row = self._cohort(session, cohort)
            if self._enrolment_or_none(session, row.id, trainee) is not None:
                raise ConflictError("already enrolled", cohort=cohort, trainee=trainee)
            enrolment = AcademyEnrolment(
                cohort_id=row.id,
                trainee=trainee,
                display_name=display_name.strip(),
                world_seed=K.world_seed(self.key, cohort, trainee),
                world_status="pending",
            )
            session.add(enrolment)
            session.flush()
            audit.record(session, actor, "academy.enrol", "academy_enrolment", f"{cohort}/{trainee}")
            return _enrolment_dict(enrolment, cohort)

    def trainees(self, cohort: str) -> list[dict[str, Any]]:
        with session_scope(self.engine) as session:
            row = self._cohort(session, cohort)
            query = select(AcademyEnrolment).where(AcademyEnrolment.cohort_id == row.id).order_by(AcademyEnrolment.id)
            return [_enrolment_dict(e, cohort) for e in session.scalars(query)]

    def enrolments_of(self, trainee: str) -> list[dict[str, Any]]:
        """Every cohort a user is enrolled in (what makes a platform user a trainee)."""
        with session_scope(self.engine) as session:
            rows = session.execute(
                select(AcademyEnrolment, AcademyCohort.name)
                .join(AcademyCohort, AcademyCohort.id == AcademyEnrolment.cohort_id)
                .where(AcademyEnrolment.trainee == trainee)
            ).all()
            return [_enrolment_dict(e, name) for e, name in rows]

    def is_instructor(self, cohort: str, username: str) -> bool:
        with session_scope(self.engine) as session:
            return self._cohort(session, cohort).instructor == username

    # -- worlds ---------------------------------------------------------------------------------------------

    def world(self, cohort: str, trainee: str) -> TraineeWorld:
        return trainee_world(self.dir, cohort, trainee)

    def token(self, cohort: str, trainee: str) -> str:
        """The submission token of a trainee's world (also written into their ASSIGNMENT.json)."""
        seed = K.world_seed(self.key, cohort, trainee)
        return K.submission_token(self.key, cohort, trainee, seed)

    def generate_worlds(
        self,
        cohort: str,
        *,
        trainees: list[str] | None = None,
        progress: WorldProgress | None = None,
        actor: Actor = SYSTEM,
    ) -> list[dict[str, Any]]:
        """Generate (or regenerate) the world of every trainee of ``cohort`` (or of those named)."""
        with session_scope(self.engine) as session:
            row = self._cohort(session, cohort)
            enrolments = [
                (e.trainee, e.display_name, e.world_seed)
                for e in session.scalars(select(AcademyEnrolment).where(AcademyEnrolment.cohort_id == row.id))
                if trainees is None or e.trainee in trainees
            ]
            size = row.world_size
        if trainees is not None and len(enrolments) != len(set(trainees)):
            raise NotFoundError("not every trainee named is enrolled in this cohort", cohort=cohort)
        base = _base_customers(size)
        done = []
        for trainee, display_name, seed in enrolments:

            def step(stage: str, trainee: str = trainee) -> None:
                if progress is not None:
                    progress(trainee, stage)

            status = "failed"
            try:
                generate_trainee_world(
                    self.world(cohort, trainee),
                    seed=seed,
                    size=size,
                    customers=K.customer_count(self.key, cohort, trainee, base),
                    token=self.token(cohort, trainee),
                    display_name=display_name,
                    step=step,
                    master_key_settings=self.settings,
                )
                status = "ready"
            finally:
                with session_scope(self.engine) as session:
                    enrolment = self._enrolment(session, cohort, trainee)
                    enrolment.world_status = status
                    audit.record(session, actor, "academy.world_generate", "academy_enrolment", f"{cohort}/{trainee}",
                                 None, {"status": status, "size": size})
            done.append({"trainee": trainee, "status": status, "sandbox": str(self.world(cohort, trainee).sandbox)})
        return done

    # -- quizzes --------------------------------------------------------------------------------------------

    def submit_quiz(
        self, cohort: str, trainee: str, module_id: str, answers: dict[str, Any], *, actor: Actor = SYSTEM
    ) -> QuizResult:
        """Grade and record a quiz try (every try is kept; progress counts the best)."""
        result = grade_quiz(self.course.module(module_id), answers)
        with session_scope(self.engine) as session:
            enrolment = self._enrolment(session, cohort, trainee)
            session.add(
                AcademyQuizResult(
                    enrolment_id=enrolment.id,
                    module_id=module_id,
                    score=result.score,
                    max_score=result.max_score,
                    answers=dict(answers),
                    submitted_at=self.clock(),
                )
            )
            audit.record(session, actor, "academy.quiz_submit", "academy_enrolment", f"{cohort}/{trainee}", None,
                         {"module": module_id, "score": result.score, "max": result.max_score})
        return result

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
        best = dict(
            session.execute(
                select(AcademyQuizResult.module_id, func.max(AcademyQuizResult.score / AcademyQuizResult.max_score))
                .where(AcademyQuizResult.enrolment_id == enrolment.id)
                .group_by(AcademyQuizResult.module_id)
            ).all()
        )
        quizzes = {m.id: round(100 * float(best[m.id]), 1) if m.id in best else None for m in self.course.modules}
        attempts = {
            a.exercise_id: a
            for a in session.scalars(select(AcademyAttempt).where(AcademyAttempt.enrolment_id == enrolment.id))
        }
        exercises: dict[str, Any] = {}
        for exercise_id in self.course.exercises:
            attempt = attempts.get(exercise_id)
            exercises[exercise_id] = None if attempt is None else {
                "status": attempt.status,
                "score": attempt.score,
                "max_score": attempt.max_score,
                "hints_used": attempt.hints_used,
                "started_at": attempt.started_at.isoformat(),
                "submitted_at": attempt.submitted_at.isoformat() if attempt.submitted_at else None,
            }
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
            "missing": {"quizzes": missing, "exercises": [k for k, v in exercises.items() if not v or v["score"] is None]},
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


def _base_customers(size: str) -> int:
    from chainsleuth.world.config import WorldConfig

    return WorldConfig.from_size(size).n_customers


def _cohort_dict(cohort: AcademyCohort) -> dict[str, Any]:
    return {
        "name": cohort.name,
        "title": cohort.title,
        "instructor": cohort.instructor,
        "world_size": cohort.world_size,
        "created_at": cohort.created_at.isoformat() if cohort.created_at else None,
    }


def _enrolment_dict(enrolment: AcademyEnrolment, cohort: str) -> dict[str, Any]:
    return {
        "cohort": cohort,
        "trainee": enrolment.trainee,
        "display_name": enrolment.display_name,
        "world_status": enrolment.world_status,
    }
