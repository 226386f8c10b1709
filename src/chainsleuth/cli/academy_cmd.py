"""``chainsleuth academy``: courses, quizzes, cohorts, per-trainee worlds, exercises, offline grading, certificates.

Instructors run the academy from the command line as much as from the web: create a cohort, enrol trainees,
``worlds generate`` every trainee's world (with a progress bar), collect answer files and ``grade-offline`` them,
then issue certificates. With ``--as USERNAME`` a command authenticates that platform user (password from
``CHAINSLEUTH_PASSWORD`` or a prompt) and checks the ``academy.teach`` / ``academy.learn`` permission *and* the
subject: a trainee acts only for themselves, an instructor only on their own cohorts (an administrator on any);
without ``--as`` the command acts as the local operator (who already holds the database and the secret key) and
is audited as ``system:academy-cli``. ``academy run`` runs any chainsleuth command on a trainee's sandbox with
the sandbox's settings forced (a production ``CHAINSLEUTH_DATABASE_URL`` in the environment would otherwise
win). Output is JSON on stdout; progress goes to stderr.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from chainsleuth.academy.courses import courses, get_course
from chainsleuth.academy.quiz import grade_quiz
from chainsleuth.academy.service import Academy
from chainsleuth.academy.worlds import WORLD_STAGES
from chainsleuth.cli.console import console, progress_bar
from chainsleuth.config import get_settings
from chainsleuth.errors import InvalidInputError, PermissionDeniedError
from chainsleuth.privacy.keyring import configure_privacy
from chainsleuth.privacy.policy import Actor, SystemActor, require
from chainsleuth.store.db import open_store, session_scope
from chainsleuth.store.models.users import Role
from chainsleuth.store.users import authenticate

app = typer.Typer(
    help="Academy: courses, quizzes, cohorts, trainee worlds, exercises, certificates.", no_args_is_help=True
)
courses_app = typer.Typer(help="Courses and their modules.", no_args_is_help=True)
quiz_app = typer.Typer(help="Module quizzes.", no_args_is_help=True)
cohort_app = typer.Typer(help="Cohorts, enrolment and progress.", no_args_is_help=True)
worlds_app = typer.Typer(help="Per-trainee simulated worlds.", no_args_is_help=True)
exercise_app = typer.Typer(help="Hands-on exercises.", no_args_is_help=True)
certificate_app = typer.Typer(help="Certificates of completion.", no_args_is_help=True)
for sub, name in ((courses_app, "courses"), (quiz_app, "quiz"), (cohort_app, "cohort"), (worlds_app, "worlds"),
                  (exercise_app, "exercise"), (certificate_app, "certificate")):  # fmt: skip
    app.add_typer(sub, name=name)

As = Annotated[str | None, typer.Option("--as", help="Act as this platform user (else: the local operator).")]


def emit(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _read_answers(path: Path) -> Any:
    """An answer file: JSON or YAML (YAML is easier to write by hand)."""
    if not path.is_file():
        raise InvalidInputError("answer file not found", path=str(path))
    text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise InvalidInputError(f"unreadable answer file: {error}", path=str(path)) from error


@contextmanager
def academy(
    as_user: str | None, permission: str, *, cohort: str | None = None, trainee: str | None = None
) -> Iterator[tuple[Academy, Actor]]:
    """The academy of the configured deployment and who is acting, with the subject checked: ``cohort`` is
    managed only by its instructor (:func:`check_instructor`), ``trainee`` acts only for themselves
    (:func:`check_self`)."""
    settings = get_settings()
    engine = open_store(settings.resolved_database_url)
    configure_privacy(engine, settings)
    try:
        actor: Actor = SystemActor("academy-cli")
        if as_user:
            with session_scope(engine) as session:
                password = os.environ.get("CHAINSLEUTH_PASSWORD") or str(typer.prompt("password", hide_input=True))
                user = authenticate(session, as_user, password)
                from chainsleuth.api.deps import Principal

                principal = Principal(user.username, user.display_name, Role(user.role), user.agency_id)
                require(principal, permission)
                actor = principal
        acad = Academy.from_settings(settings, engine)
        if cohort is not None:
            check_instructor(acad, actor, cohort)
        if trainee is not None:
            check_self(actor, trainee)
        yield acad, actor
    finally:
        engine.dispose()


def _is_admin(actor: Actor) -> bool:
    return getattr(actor, "role", None) == Role.ADMIN


def check_self(actor: Actor, trainee: str) -> None:
    """With ``--as``, a trainee's work (quizzes, exercises) may only be done by that trainee."""
    if isinstance(actor, SystemActor):
        return
    if actor.username != trainee:
        raise PermissionDeniedError("you may only act for yourself: --as must be the trainee named",
                                    user=actor.username, trainee=trainee)  # fmt: skip


def check_instructor(acad: Academy, actor: Actor, cohort: str) -> None:
    """With ``--as``, a cohort is managed only by its instructor (or an administrator)."""
    if isinstance(actor, SystemActor) or _is_admin(actor):
        return
    if not acad.is_instructor(cohort, actor.username):
        raise PermissionDeniedError("only the cohort's instructor may do this", user=actor.username, cohort=cohort)


# -- courses and quizzes ------------------------------------------------------------------------------------


@courses_app.command("list")
def courses_list() -> None:
    """Courses with their modules and exercises."""
    emit([{"id": c.id, "title": c.title, "modules": [{"id": m.id, "title": m.title, "minutes": m.minutes}
                                                      for m in c.modules], "exercises": list(c.exercises)}
          for c in courses()])  # fmt: skip


@courses_app.command("show")
def courses_show(
    module: str,
    course: Annotated[str, typer.Option(help="Course id.")] = "blockchain-investigations",
    html: Annotated[bool, typer.Option("--html", help="Print the rendered HTML instead of Markdown.")] = False,
) -> None:
    """Print one module (Markdown or HTML) followed by its quiz questions (without answers)."""
    found = get_course(course).module(module)
    typer.echo(found.html if html else found.markdown)
    console.print(f"[bold]Quiz[/] ({len(found.quiz)} questions):")
    emit([q.public() for q in found.quiz])


@quiz_app.command("grade")
def quiz_grade(
    module: str,
    answers: Annotated[Path, typer.Option("--answers", help="JSON/YAML mapping question id -> answer.")],
    cohort: Annotated[str | None, typer.Option(help="Record the result for this cohort...")] = None,
    trainee: Annotated[str | None, typer.Option(help="...and this trainee.")] = None,
    course: Annotated[str, typer.Option(help="Course id.")] = "blockchain-investigations",
    as_user: As = None,
) -> None:
    """Grade a quiz, with feedback per question (and record it when --cohort and --trainee are given)."""
    given = _read_answers(answers)
    if not isinstance(given, dict):
        raise InvalidInputError("the answers file must map question ids to answers")
    if cohort and trainee:
        with academy(as_user, "academy.learn", trainee=trainee) as (acad, actor):
            emit(acad.quiz_feedback(cohort, trainee, acad.submit_quiz(cohort, trainee, module, given, actor=actor)))
    else:
        emit(grade_quiz(get_course(course).module(module), given).as_dict())


# -- cohorts ------------------------------------------------------------------------------------------------


@cohort_app.command("create")
def cohort_create(
    name: str,
    title: Annotated[str, typer.Option(help="Human-readable title.")],
    instructor: Annotated[str, typer.Option(help="Username of the instructor.")],
    size: Annotated[str, typer.Option(help="World size of every trainee (preset or transfers).")] = "tiny",
    as_user: As = None,
) -> None:
    """Create a cohort."""
    with academy(as_user, "academy.teach") as (acad, actor):
        emit(acad.create_cohort(name, title, instructor, world_size=size, actor=actor))


@cohort_app.command("enrol")
def cohort_enrol(
    cohort: str,
    trainee: str,
    name: Annotated[str, typer.Option("--name", help="Full name, as printed on the certificate.")],
    as_user: As = None,
) -> None:
    """Enrol a trainee (a platform username or an offline id)."""
    with academy(as_user, "academy.teach", cohort=cohort) as (acad, actor):
        emit(acad.enrol(cohort, trainee, name, actor=actor))


@cohort_app.command("progress")
def cohort_progress(cohort: str, as_user: As = None) -> None:
    """Progress and scores per trainee and per exercise."""
    with academy(as_user, "academy.teach", cohort=cohort) as (acad, _):
        emit(acad.progress(cohort))


# -- worlds -------------------------------------------------------------------------------------------------


@worlds_app.command("generate")
def worlds_generate(
    cohort: str,
    trainee: Annotated[list[str] | None, typer.Option("--trainee", help="Only these trainees.")] = None,
    regenerate: Annotated[
        bool, typer.Option("--regenerate", help="Rebuild worlds already generated (else they are reused).")
    ] = False,
    as_user: As = None,
) -> None:
    """Generate every trainee's world: simulate, renumber, split off the answer key, load and prepare their stores.

    A tiny world takes about 20 seconds (simulation, loading, tags, clustering and monitoring)."""
    with academy(as_user, "academy.teach", cohort=cohort) as (acad, actor):
        count = len(trainee) if trainee else len(acad.trainees(cohort))
        stages = len(WORLD_STAGES)
        with progress_bar() as bar:
            task = bar.add_task(f"worlds of {cohort}", total=count * stages)

            def tick(name: str, stage: str) -> None:
                bar.update(task, advance=stages if stage == "reused" else 1, description=f"{name}: {stage}")

            emit(acad.generate_worlds(cohort, trainees=trainee, progress=tick, regenerate=regenerate, actor=actor))


# -- exercises ----------------------------------------------------------------------------------------------


@exercise_app.command("start")
def exercise_start(cohort: str, trainee: str, exercise: str, as_user: As = None) -> None:
    """Start an exercise (the clock runs from now) and print its brief and the facts given."""
    with academy(as_user, "academy.learn", trainee=trainee) as (acad, actor):
        emit(acad.start_exercise(cohort, trainee, exercise, actor=actor))


@exercise_app.command("hint")
def exercise_hint(cohort: str, trainee: str, exercise: str, as_user: As = None) -> None:
    """Reveal the next hint (its cost is deducted from the score)."""
    with academy(as_user, "academy.learn", trainee=trainee) as (acad, actor):
        emit(acad.take_hint(cohort, trainee, exercise, actor=actor))


@exercise_app.command("submit")
def exercise_submit(
    cohort: str,
    trainee: str,
    exercise: str,
    answer: Annotated[Path, typer.Option("--answer", help="JSON/YAML answer file (with your token).")],
    as_user: As = None,
) -> None:
    """Submit an answer; prints the grade, the feedback and the explanation (or why it was refused)."""
    with academy(as_user, "academy.learn", trainee=trainee) as (acad, actor):
        emit(acad.submit(cohort, trainee, exercise, _read_answers(answer), actor=actor))


@app.command("grade-offline")
def grade_offline(
    cohort: str,
    answers: Annotated[Path, typer.Option("--answers", help="Folder of <trainee>/<exercise>.json|yaml files.")],
    as_user: As = None,
) -> None:
    """Grade a folder of collected answer files and record the results."""
    with academy(as_user, "academy.teach", cohort=cohort) as (acad, actor):
        results = acad.grade_offline(cohort, answers, actor=actor)
        emit(results)
        refused = sum(1 for r in results if r["status"] != "graded")
        if refused:
            console.print(f"[yellow]{refused} file(s) not graded (refused or invalid): see 'reason'.[/]")


# -- certificates -------------------------------------------------------------------------------------------


@certificate_app.command("issue")
def certificate_issue(
    cohort: str,
    trainee: str,
    out: Annotated[Path | None, typer.Option("--out", help="Write the PDF here.")] = None,
    waive: Annotated[bool, typer.Option("--waive-requirements", help="Certify without online completion.")] = False,
    as_user: As = None,
) -> None:
    """Issue the certificate of a trainee who completed the course (and write the PDF)."""
    with academy(as_user, "academy.teach", cohort=cohort) as (acad, actor):
        issued_by = actor.username
        certificate = acad.issue_certificate(cohort, trainee, issued_by=issued_by, waive_requirements=waive,
                                             actor=actor)  # fmt: skip
        if out is not None:
            out.write_bytes(acad.certificate_pdf(certificate["serial"]))
            certificate["pdf"] = str(out)
        emit(certificate)


@certificate_app.command("revoke")
def certificate_revoke(
    cohort: str,
    trainee: str,
    reason: Annotated[str, typer.Option("--reason", help="Why (shown when the code is checked).")],
    as_user: As = None,
) -> None:
    """Revoke a trainee's certificate: its code then fails verification, with the reason."""
    with academy(as_user, "academy.teach", cohort=cohort) as (acad, actor):
        serial = acad.certificate_of(cohort, trainee)["serial"]
        acad.revoke_certificate(serial, reason, actor=actor)
        emit(acad.certificate_of(cohort, trainee))


@certificate_app.command("verify")
def certificate_verify(code: str) -> None:
    """Check a certificate's verification code (exit code 1 when it is not valid)."""
    settings = get_settings()
    engine = open_store(settings.resolved_database_url)
    try:
        check = Academy.from_settings(settings, engine).verify_certificate(code)
    finally:
        engine.dispose()
    emit(check.as_dict())
    if not check.valid:
        raise typer.Exit(1)


# -- working on a sandbox -----------------------------------------------------------------------------------


@app.command(
    "run",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def run_in_sandbox(
    ctx: typer.Context,
    cohort: str,
    trainee: str,
    as_user: As = None,
) -> None:
    """Run a chainsleuth command on a trainee's sandbox: `chainsleuth academy run COHORT TRAINEE -- chain trace ...`.

    Every CHAINSLEUTH_* variable of the environment is dropped and the sandbox's own data directory, database and
    key are set, so the command cannot reach the platform's database even when CHAINSLEUTH_DATABASE_URL is set."""
    from chainsleuth.academy.sandbox import sandbox_env

    args = [a for a in ctx.args if a != "--"]
    if not args:
        raise InvalidInputError("name the chainsleuth command to run after --, e.g. -- chain trace ...")
    with academy(as_user, "academy.learn", trainee=trainee) as (acad, _):
        place = acad.world(cohort, trainee)
        if not place.ready or not (place.sandbox / "chainsleuth.toml").is_file():
            raise InvalidInputError("this trainee's world is not generated yet", cohort=cohort, trainee=trainee)
        env = sandbox_env(place)
    completed = subprocess.run([sys.executable, "-m", "chainsleuth", *args], env=env, check=False)
    raise typer.Exit(completed.returncode)
