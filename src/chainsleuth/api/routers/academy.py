"""The academy over HTTP: courses, quizzes, exercises, submissions, progress, certificates and public verification.

Who may do what: taking courses needs ``academy.learn`` and an enrolment in the cohort (a trainee only ever
reaches their own world, attempts and certificate); running a cohort needs ``academy.teach`` and being that
cohort's instructor (administrators may run any cohort). Verifying a certificate is public on purpose: whoever
reads a certificate (an employer, a court) must be able to check it without an account, and the answer reveals
only what is printed on it. A refused answer (another trainee's world, a foreign token, too late) answers 403
with the reason, and is still recorded for the instructor.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from chainsleuth.academy.courses import courses, get_course
from chainsleuth.academy.exercises import get_exercise
from chainsleuth.academy.service import Academy
from chainsleuth.api.deps import Principal, current_principal, get_engine, get_settings
from chainsleuth.api.permissions import requires
from chainsleuth.config import Settings
from chainsleuth.errors import NotFoundError, PermissionDeniedError
from chainsleuth.privacy.policy import has_permission
from chainsleuth.store.models.users import Role

router = APIRouter(prefix="/api/academy", tags=["academy"])
Learner = Annotated[Principal, Depends(requires("academy.learn"))]
Teacher = Annotated[Principal, Depends(requires("academy.teach"))]


def get_academy(
    settings: Annotated[Settings, Depends(get_settings)], engine: Annotated[Engine, Depends(get_engine)]
) -> Academy:
    return Academy.from_settings(settings, engine)


AcademyDep = Annotated[Academy, Depends(get_academy)]


class QuizIn(BaseModel):
    answers: dict[str, Any]


class AnswerIn(BaseModel):
    answer: dict[str, Any]


class CohortIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    title: str = Field(min_length=1, max_length=200)
    world_size: str = "tiny"
    instructor: str | None = Field(default=None, description="Defaults to the caller.")


class EnrolIn(BaseModel):
    trainee: str = Field(min_length=1, max_length=64)
    display_name: str = Field(min_length=1, max_length=200)


class WorldsIn(BaseModel):
    trainees: list[str] | None = None


def _enrolled(academy: Academy, cohort: str, who: Principal) -> None:
    if not any(e["cohort"] == cohort for e in academy.enrolments_of(who.username)):
        raise NotFoundError("you are not enrolled in this cohort", cohort=cohort)


def _instructor(academy: Academy, cohort: str, who: Principal) -> None:
    if who.role != Role.ADMIN and not academy.is_instructor(cohort, who.username):
        raise PermissionDeniedError("only the cohort's instructor may do this", cohort=cohort)


# -- courses and quizzes ------------------------------------------------------------------------------------


@router.get("/courses")
def list_courses(_: Learner) -> list[dict[str, Any]]:
    return [
        {"id": c.id, "title": c.title, "description": c.description, "exercises": list(c.exercises),
         "modules": [{"id": m.id, "title": m.title, "minutes": m.minutes} for m in c.modules]}
        for c in courses()
    ]  # fmt: skip


@router.get("/courses/{course_id}/modules/{module_id}")
def show_module(course_id: str, module_id: str, _: Learner) -> dict[str, Any]:
    module = get_course(course_id).module(module_id)
    return {"id": module.id, "title": module.title, "minutes": module.minutes, "html": module.html,
            "markdown": module.markdown, "quiz": [q.public() for q in module.quiz]}  # fmt: skip


@router.post("/cohorts/{cohort}/quizzes/{module_id}")
def submit_quiz(cohort: str, module_id: str, body: QuizIn, who: Learner, academy: AcademyDep) -> dict[str, Any]:
    _enrolled(academy, cohort, who)
    result = academy.submit_quiz(cohort, who.username, module_id, body.answers, actor=who)
    return academy.quiz_feedback(cohort, who.username, result)


# -- the trainee's own work ---------------------------------------------------------------------------------


@router.get("/me")
def my_enrolments(who: Learner, academy: AcademyDep) -> list[dict[str, Any]]:
    return academy.enrolments_of(who.username)


@router.get("/cohorts/{cohort}/me")
def my_progress(cohort: str, who: Learner, academy: AcademyDep) -> dict[str, Any]:
    _enrolled(academy, cohort, who)
    return academy.trainee_progress(cohort, who.username)


@router.get("/cohorts/{cohort}/exercises")
def list_exercises(cohort: str, who: Learner, academy: AcademyDep) -> list[dict[str, Any]]:
    _enrolled(academy, cohort, who)
    progress = academy.trainee_progress(cohort, who.username)["exercises"]
    return [{**get_exercise(e).public(), "attempt": progress.get(e)} for e in academy.course.exercises]


@router.post("/cohorts/{cohort}/exercises/{exercise_id}/start")
def start_exercise(cohort: str, exercise_id: str, who: Learner, academy: AcademyDep) -> dict[str, Any]:
    _enrolled(academy, cohort, who)
    started = academy.start_exercise(cohort, who.username, exercise_id, actor=who)
    started["submission_token"] = academy.token(cohort, who.username)
    return started


@router.post("/cohorts/{cohort}/exercises/{exercise_id}/hint")
def take_hint(cohort: str, exercise_id: str, who: Learner, academy: AcademyDep) -> dict[str, Any]:
    _enrolled(academy, cohort, who)
    return academy.take_hint(cohort, who.username, exercise_id, actor=who)


@router.post("/cohorts/{cohort}/exercises/{exercise_id}/submissions")
def submit_answer(cohort: str, exercise_id: str, body: AnswerIn, who: Learner, academy: AcademyDep) -> dict[str, Any]:
    _enrolled(academy, cohort, who)
    return academy.submit(cohort, who.username, exercise_id, body.answer, actor=who)


@router.get("/cohorts/{cohort}/exercises/{exercise_id}/submissions")
def my_submissions(cohort: str, exercise_id: str, who: Learner, academy: AcademyDep) -> list[dict[str, Any]]:
    _enrolled(academy, cohort, who)
    return academy.submissions(cohort, who.username, exercise_id)


# -- instructors ---------------------------------------------------------------------------------------------


@router.post("/cohorts", status_code=201)
def create_cohort(body: CohortIn, who: Teacher, academy: AcademyDep) -> dict[str, Any]:
    return academy.create_cohort(body.name, body.title, body.instructor or who.username,
                                 world_size=body.world_size, actor=who)  # fmt: skip


@router.get("/cohorts")
def list_cohorts(_: Teacher, academy: AcademyDep) -> list[dict[str, Any]]:
    return academy.cohorts()


@router.post("/cohorts/{cohort}/enrolments", status_code=201)
def enrol(cohort: str, body: EnrolIn, who: Teacher, academy: AcademyDep) -> dict[str, Any]:
    _instructor(academy, cohort, who)
    return academy.enrol(cohort, body.trainee, body.display_name, actor=who)


@router.post("/cohorts/{cohort}/worlds")
def generate_worlds(cohort: str, body: WorldsIn, who: Teacher, academy: AcademyDep) -> list[dict[str, Any]]:
    """Generate trainees' worlds (synchronously: seconds per tiny world; use the CLI for large cohorts)."""
    _instructor(academy, cohort, who)
    return academy.generate_worlds(cohort, trainees=body.trainees, actor=who)


@router.get("/cohorts/{cohort}/progress")
def cohort_progress(cohort: str, who: Teacher, academy: AcademyDep) -> list[dict[str, Any]]:
    _instructor(academy, cohort, who)
    return academy.progress(cohort)


@router.get("/cohorts/{cohort}/trainees/{trainee}/exercises/{exercise_id}/submissions")
def trainee_submissions(
    cohort: str, trainee: str, exercise_id: str, who: Teacher, academy: AcademyDep
) -> list[dict[str, Any]]:
    _instructor(academy, cohort, who)
    return academy.submissions(cohort, trainee, exercise_id)


@router.post("/cohorts/{cohort}/certificates/{trainee}", status_code=201)
def issue_certificate(cohort: str, trainee: str, who: Teacher, academy: AcademyDep) -> dict[str, Any]:
    _instructor(academy, cohort, who)
    return academy.issue_certificate(cohort, trainee, issued_by=who.username, actor=who)


# -- certificates ----------------------------------------------------------------------------------------------


@router.get("/cohorts/{cohort}/certificate")
def my_certificate(cohort: str, who: Learner, academy: AcademyDep) -> dict[str, Any]:
    _enrolled(academy, cohort, who)
    return academy.certificate_of(cohort, who.username)


@router.get("/cohorts/{cohort}/trainees/{trainee}/certificate.pdf")
def certificate_pdf(
    cohort: str, trainee: str, who: Annotated[Principal, Depends(current_principal)], academy: AcademyDep
) -> Response:
    """The PDF, for the holder themself or the cohort's instructor."""
    if who.username == trainee and has_permission(who, "academy.learn"):
        _enrolled(academy, cohort, who)
    elif has_permission(who, "academy.teach"):
        _instructor(academy, cohort, who)
    else:
        raise PermissionDeniedError("only the holder or the cohort's instructor may download this certificate")
    serial = academy.certificate_of(cohort, trainee)["serial"]
    headers = {"Content-Disposition": f'attachment; filename="certificate-{serial}.pdf"'}
    return Response(academy.certificate_pdf(serial), media_type="application/pdf", headers=headers)


@router.get("/verify/{code}")
def verify(code: str, academy: AcademyDep) -> dict[str, Any]:
    """Public: is this certificate code valid, and whose is it?"""
    return academy.verify_certificate(code).as_dict()
