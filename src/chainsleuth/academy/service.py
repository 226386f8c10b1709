"""The academy's Python API: cohorts, enrolment, worlds, quizzes, progress and certificates over the database.

One :class:`Academy` object is what the CLI, the HTTP router and the web pages call, so each rule lives
once. It opens its own short transactions on the engine rather than joining a caller's session because a
refused answer must be recorded even though the call then fails (see :mod:`chainsleuth.academy.attempts`).
Every change is written to the audit log.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from chainsleuth.academy import keys as akeys
from chainsleuth.academy.attempts import ExerciseWork
from chainsleuth.academy.base import SYSTEM
from chainsleuth.academy.certificates import CertificateWork
from chainsleuth.academy.quiz import QuizResult, feedback, grade_quiz
from chainsleuth.academy.worlds import TraineeWorld, check_name, generate_trainee_world
from chainsleuth.errors import ConflictError, InvalidInputError, NotFoundError
from chainsleuth.privacy import audit
from chainsleuth.privacy.policy import Actor
from chainsleuth.store.db import session_scope
from chainsleuth.store.models.academy import (
    AcademyCohort,
    AcademyEnrolment,
    AcademyQuizResult,
)
from chainsleuth.world.config import WorldConfig, parse_size

#: ``progress(cohort, trainee, stage)`` while worlds are generated.
WorldProgress = Callable[[str, str], None]


class Academy(ExerciseWork, CertificateWork):
    """The academy over one database and one data directory."""

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
                world_seed=akeys.world_seed(self.key, cohort, trainee),
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

    def generate_worlds(
        self,
        cohort: str,
        *,
        trainees: list[str] | None = None,
        progress: WorldProgress | None = None,
        regenerate: bool = False,
        actor: Actor = SYSTEM,
    ) -> list[dict[str, Any]]:
        """Generate the world of every trainee of ``cohort`` (or of those named).

        A world already generated for the same seed is kept unless ``regenerate``: an interrupted run over a
        large cohort resumes where it stopped, and generation is deterministic anyway.
        """
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
            place = self.world(cohort, trainee)
            reuse = not regenerate and self._generated(place, cohort, trainee)
            try:
                if reuse:
                    step("reused")
                else:
                    generate_trainee_world(
                        place,
                        seed=seed,
                        size=size,
                        customers=akeys.customer_count(self.key, cohort, trainee, base),
                        token=self.token(cohort, trainee),
                        display_name=display_name,
                        id_key=akeys.id_key(self.key, cohort, trainee),
                        step=step,
                    )
                status = "ready"
            finally:
                with session_scope(self.engine) as session:
                    enrolment = self._enrolment(session, cohort, trainee)
                    enrolment.world_status = status
                    audit.record(
                        session,
                        actor,
                        "academy.world_generate",
                        "academy_enrolment",
                        f"{cohort}/{trainee}",
                        None,
                        {"status": status, "size": size, "reused": reuse},
                    )
            done.append({"trainee": trainee, "status": status, "reused": reuse, "sandbox": str(place.sandbox)})
        return done

    def _generated(self, place: TraineeWorld, cohort: str, trainee: str) -> bool:
        """Whether ``place`` holds a complete world generated for this trainee's current seed and key."""
        if not place.ready or not place.database.exists():
            return False
        try:
            assignment = json.loads(place.assignment_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return akeys.same(str(assignment.get("submission_token", "")), self.token(cohort, trainee))

    # -- quizzes --------------------------------------------------------------------------------------------

    def quiz_feedback(self, cohort: str, trainee: str, result: QuizResult) -> dict[str, Any]:
        """A recorded try as the trainee may see it: answers and explanations only once the module is passed."""
        best = self.trainee_progress(cohort, trainee)["quizzes"].get(result.module_id)
        return feedback(result, pass_percent=self.course.quiz_pass_percent,
                        passed_before=best is not None and best >= self.course.quiz_pass_percent)  # fmt: skip

    def submit_quiz(
        self, cohort: str, trainee: str, module_id: str, answers: dict[str, Any], *, actor: Actor = SYSTEM
    ) -> QuizResult:
        """Grade and record a quiz try (every try is kept; progress counts the best).

        Show the trainee :meth:`quiz_feedback` of the result, not the result itself: it hides the expected answers
        until the module is passed, which is what makes counting the best of unlimited tries fair.
        """
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
            audit.record(
                session,
                actor,
                "academy.quiz_submit",
                "academy_enrolment",
                f"{cohort}/{trainee}",
                None,
                {"module": module_id, "score": result.score, "max": result.max_score},
            )
        return result


def _base_customers(size: str) -> int:
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
