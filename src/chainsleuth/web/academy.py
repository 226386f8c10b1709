"""The academy's pages: course modules with their quizzes, exercises on the trainee's own world, the instructor's
cohort view, certificates, and the public verification page.

Every page calls :class:`chainsleuth.academy.service.Academy`, the same API as the HTTP router and the CLI, so
the rules (enrolment, time limits, refusals of another trainee's answers, certificate requirements) hold
identically here. Module text is rendered by the academy's own escaping Markdown renderer, which is why it can be
marked safe in the template. Form posts run the service in a worker thread: it does blocking database work.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from chainsleuth.academy.exercises import get_exercise
from chainsleuth.academy.grading import AnswerRefusedError
from chainsleuth.academy.quiz import feedback as quiz_feedback
from chainsleuth.academy.quiz import grade_quiz
from chainsleuth.academy.service import Academy
from chainsleuth.errors import NotFoundError, PermissionDeniedError
from chainsleuth.store.models.users import Role
from chainsleuth.web import academy_teach, academy_workspace
from chainsleuth.web.core import NavItem, Viewer, csrf_protected, page, redirect, register_nav, render

router = APIRouter(include_in_schema=False)
router.include_router(academy_workspace.router)  # the trainee's sandbox investigation pages
router.include_router(academy_teach.router)  # instructors' forms: cohorts, enrolment, worlds, revocation
Learner = Annotated[Viewer, Depends(page("academy.learn"))]
Teacher = Annotated[Viewer, Depends(page("academy.teach"))]
register_nav(
    NavItem("Teach", "Academy", "/academy", "academy.learn", ("/academy/modules", "/academy/cohorts"), order=80)
)
register_nav(NavItem("Teach", "Cohorts", "/academy/teach", "academy.teach", order=81))


def _academy(request: Request) -> Academy:
    return Academy.from_settings(request.app.state.settings, request.app.state.engine)


def _enrolment(academy: Academy, cohort: str, viewer: Viewer) -> dict[str, Any]:
    for enrolment in academy.enrolments_of(viewer.username):
        if enrolment["cohort"] == cohort:
            return enrolment
    raise NotFoundError("you are not enrolled in this cohort", cohort=cohort)


def _instructor(academy: Academy, cohort: str, viewer: Viewer) -> None:
    if viewer.principal.role != Role.ADMIN and not academy.is_instructor(cohort, viewer.username):
        raise PermissionDeniedError("only the cohort's instructor may open this page", cohort=cohort)


@router.get("/academy")
def home(request: Request, viewer: Learner) -> HTMLResponse:
    academy = _academy(request)
    cohorts = []
    for enrolment in academy.enrolments_of(viewer.username):
        progress = academy.trainee_progress(enrolment["cohort"], viewer.username)
        exercises = [(get_exercise(e), progress["exercises"][e]) for e in academy.course.exercises]
        try:
            certificate: dict[str, Any] | None = academy.certificate_of(enrolment["cohort"], viewer.username)
        except NotFoundError:
            certificate = None
        cohorts.append({"enrolment": enrolment, "progress": progress, "exercises": exercises,
                        "certificate": certificate})  # fmt: skip
    return render(request, "academy/home.html", viewer, {"title": "Academy", "course": academy.course,
                                                         "cohorts": cohorts})  # fmt: skip


@router.get("/academy/modules/{module_id}")
def module_page(request: Request, module_id: str, viewer: Learner, cohort: str = "") -> HTMLResponse:
    academy = _academy(request)
    module = academy.course.module(module_id)
    cohorts = [e["cohort"] for e in academy.enrolments_of(viewer.username)]
    body = Markup(module.html)  # safe: the academy's renderer escapes every piece of text
    return render(request, "academy/module.html", viewer, {
        "title": module.title, "module": module, "body": body, "cohorts": cohorts,
        "cohort": cohort or (cohorts[0] if cohorts else ""),
    })  # fmt: skip


def _quiz_answers(form: FormData, questions: Any) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for question in questions:
        name = f"q.{question.id}"
        if question.type == "multiple":
            answers[question.id] = [str(v) for v in form.getlist(name)]
        else:
            value = form.get(name)
            answers[question.id] = str(value) if isinstance(value, str) and value != "" else None
    return answers


@router.post("/academy/modules/{module_id}/quiz", dependencies=[Depends(csrf_protected)])
async def submit_quiz(request: Request, module_id: str, viewer: Learner) -> HTMLResponse:
    academy = _academy(request)
    module = academy.course.module(module_id)
    form = await request.form()
    cohort = str(form.get("cohort") or "")
    answers = _quiz_answers(form, module.quiz)
    if cohort:
        await run_in_threadpool(_enrolment, academy, cohort, viewer)
        result = await run_in_threadpool(academy.submit_quiz, cohort, viewer.username, module_id, answers,
                                         actor=viewer.principal)  # fmt: skip
        shown = await run_in_threadpool(academy.quiz_feedback, cohort, viewer.username, result)
    else:  # practice without a cohort: graded, not recorded; answers shown only when passed, as for trainees
        shown = quiz_feedback(grade_quiz(module, answers), pass_percent=academy.course.quiz_pass_percent)
    return render(request, "academy/quiz_result.html", viewer, {
        "title": f"Quiz: {module.title}", "module": module, "result": shown, "recorded": bool(cohort),
        "prompts": {q.id: q for q in module.quiz},
    })  # fmt: skip


def _exercise_context(academy: Academy, cohort: str, exercise_id: str, viewer: Viewer) -> dict[str, Any]:
    _enrolment(academy, cohort, viewer)
    exercise = get_exercise(exercise_id)
    attempt = academy.trainee_progress(cohort, viewer.username)["exercises"].get(exercise_id)
    started = academy.start_exercise(cohort, viewer.username, exercise_id) if attempt else None
    if started is not None:  # ISO strings from the API; the page's |time filter formats datetimes
        for field in ("started_at", "deadline_at"):
            started[field] = datetime.fromisoformat(started[field]) if started[field] else None
    submissions = academy.submissions(cohort, viewer.username, exercise_id)
    graded = next((s for s in submissions if s["status"] == "graded"), None)
    return {
        "title": exercise.title, "cohort": cohort, "exercise": exercise, "attempt": attempt, "started": started,
        "token": academy.token(cohort, viewer.username), "submissions": submissions, "graded": graded,
        "refused": None, "ws": academy_workspace.workspace_url,
    }  # fmt: skip


@router.get("/academy/cohorts/{cohort}/exercises/{exercise_id}")
def exercise_page(request: Request, cohort: str, exercise_id: str, viewer: Learner) -> HTMLResponse:
    context = _exercise_context(_academy(request), cohort, exercise_id, viewer)
    return render(request, "academy/exercise.html", viewer, context)


@router.post("/academy/cohorts/{cohort}/exercises/{exercise_id}/start", dependencies=[Depends(csrf_protected)])
def start(request: Request, cohort: str, exercise_id: str, viewer: Learner) -> Response:
    academy = _academy(request)
    _enrolment(academy, cohort, viewer)
    academy.start_exercise(cohort, viewer.username, exercise_id, actor=viewer.principal)
    return redirect(f"/academy/cohorts/{cohort}/exercises/{exercise_id}")


@router.post("/academy/cohorts/{cohort}/exercises/{exercise_id}/hint", dependencies=[Depends(csrf_protected)])
def hint(request: Request, cohort: str, exercise_id: str, viewer: Learner) -> HTMLResponse:
    academy = _academy(request)
    _enrolment(academy, cohort, viewer)
    taken = academy.take_hint(cohort, viewer.username, exercise_id, actor=viewer.principal)
    context = _exercise_context(academy, cohort, exercise_id, viewer)
    context["hint"] = taken
    return render(request, "academy/exercise.html", viewer, context)


def _answer(form: FormData) -> dict[str, Any]:
    fields = ("token", "accounts", "amount_usd", "path", "legal_basis", "account", "justification", "deadline")
    return {name: str(form.get(name)) for name in fields if isinstance(form.get(name), str) and form.get(name)}


@router.post("/academy/cohorts/{cohort}/exercises/{exercise_id}/submit", dependencies=[Depends(csrf_protected)])
async def submit(request: Request, cohort: str, exercise_id: str, viewer: Learner) -> HTMLResponse:
    academy = _academy(request)
    answer = _answer(await request.form())
    refused = None
    try:
        await run_in_threadpool(_enrolment, academy, cohort, viewer)
        await run_in_threadpool(academy.submit, cohort, viewer.username, exercise_id, answer, actor=viewer.principal)
    except AnswerRefusedError as error:
        refused = error.message
    context = await run_in_threadpool(_exercise_context, academy, cohort, exercise_id, viewer)
    context["refused"] = refused
    return render(request, "academy/exercise.html", viewer, context, status_code=403 if refused else 200)


@router.get("/academy/cohorts/{cohort}/certificate.pdf")
def my_certificate(request: Request, cohort: str, viewer: Learner) -> Response:
    academy = _academy(request)
    _enrolment(academy, cohort, viewer)
    serial = academy.certificate_of(cohort, viewer.username)["serial"]
    headers = {"Content-Disposition": f'attachment; filename="certificate-{serial}.pdf"'}
    return Response(academy.certificate_pdf(serial), media_type="application/pdf", headers=headers)


@router.get("/academy/teach")
def teach(request: Request, viewer: Teacher) -> HTMLResponse:
    academy = _academy(request)
    mine = [c for c in academy.cohorts()
            if viewer.principal.role == Role.ADMIN or c["instructor"] == viewer.username]  # fmt: skip
    return render(request, "academy/teach.html", viewer, {"title": "Academy cohorts", "cohorts": mine})


@router.get("/academy/teach/{cohort}")
def cohort_page(request: Request, cohort: str, viewer: Teacher) -> HTMLResponse:
    academy = _academy(request)
    _instructor(academy, cohort, viewer)
    certificates = {c["trainee"]: c for c in academy.certificates(cohort)}
    rows = academy.progress(cohort)
    refused = [  # refused submissions stay visible: another trainee's identifiers, foreign tokens, late answers
        {"trainee": row["trainee"], "exercise": exercise, **s}
        for row in rows
        for exercise in academy.course.exercises
        if row["exercises"][exercise]
        for s in academy.submissions(cohort, row["trainee"], exercise)
        if s["status"] == "refused"
    ]
    return render(request, "academy/cohort.html", viewer, {
        "title": f"Cohort {cohort}", "cohort": cohort, "rows": rows, "course": academy.course,
        "certificates": certificates, "issued": request.query_params.get("issued"), "refused": refused,
        "done": request.query_params.get("done"),
    })  # fmt: skip


@router.post("/academy/teach/{cohort}/certificates/{trainee}", dependencies=[Depends(csrf_protected)])
def issue(request: Request, cohort: str, trainee: str, viewer: Teacher) -> Response:
    academy = _academy(request)
    _instructor(academy, cohort, viewer)
    academy.issue_certificate(cohort, trainee, issued_by=viewer.username, actor=viewer.principal)
    return redirect(f"/academy/teach/{cohort}?issued={trainee}")


@router.get("/academy/verify")
def verify(request: Request, code: str = "") -> HTMLResponse:
    """Public: anyone holding a certificate's code can check it, without an account."""
    check = _academy(request).verify_certificate(code).as_dict() if code else None
    return render(request, "academy/verify.html", None, {"title": "Verify a certificate", "code": code,
                                                         "check": check})  # fmt: skip
