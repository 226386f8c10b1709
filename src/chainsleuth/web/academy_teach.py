"""Instructor pages that change a cohort: create it, enrol trainees, generate their worlds, revoke certificates.

Why pages as well as the CLI: instructors are police trainers, not operators with a shell on the server. Every
form carries the CSRF token, is checked against the cohort's instructor (or an administrator) and calls the same
:class:`~chainsleuth.academy.service.Academy` methods as the CLI and the HTTP API, which write the audit log.
World generation runs in a worker thread while the request waits (about 20 seconds per trainee for tiny
worlds); large cohorts are better generated with ``chainsleuth academy worlds generate``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from chainsleuth.academy.service import Academy
from chainsleuth.errors import InvalidInputError, PermissionDeniedError
from chainsleuth.store.models.users import Role
from chainsleuth.web.core import Viewer, csrf_protected, page, redirect

router = APIRouter(include_in_schema=False)
Teacher = Annotated[Viewer, Depends(page("academy.teach"))]


def _academy(request: Request) -> Academy:
    return Academy.from_settings(request.app.state.settings, request.app.state.engine)


def _instructor(academy: Academy, cohort: str, viewer: Viewer) -> None:
    if viewer.principal.role != Role.ADMIN and not academy.is_instructor(cohort, viewer.username):
        raise PermissionDeniedError("only the cohort's instructor may change it", cohort=cohort)


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


@router.post("/academy/teach", dependencies=[Depends(csrf_protected)])
async def create_cohort(request: Request, viewer: Teacher) -> Response:
    """Create a cohort taught by the viewer (an administrator may name another instructor)."""
    form = await request.form()
    name, title = _field(form, "name"), _field(form, "title")
    if not title:
        raise InvalidInputError("a cohort needs a title")
    instructor = _field(form, "instructor") if viewer.principal.role == Role.ADMIN else ""
    academy = _academy(request)
    await run_in_threadpool(
        academy.create_cohort,
        name,
        title,
        instructor or viewer.username,
        world_size=_field(form, "size") or "tiny",
        actor=viewer.principal,
    )
    return redirect(f"/academy/teach/{name}?done=created")


@router.post("/academy/teach/{cohort}/enrolments", dependencies=[Depends(csrf_protected)])
async def enrol(request: Request, cohort: str, viewer: Teacher) -> Response:
    academy = _academy(request)
    await run_in_threadpool(_instructor, academy, cohort, viewer)
    form = await request.form()
    await run_in_threadpool(
        academy.enrol, cohort, _field(form, "trainee"), _field(form, "display_name"), actor=viewer.principal
    )
    return redirect(f"/academy/teach/{cohort}?done=enrolled")


@router.post("/academy/teach/{cohort}/worlds", dependencies=[Depends(csrf_protected)])
async def generate_worlds(request: Request, cohort: str, viewer: Teacher) -> Response:
    """Generate the worlds not generated yet (``regenerate`` rebuilds all of them)."""
    academy = _academy(request)
    await run_in_threadpool(_instructor, academy, cohort, viewer)
    form = await request.form()
    regenerate = _field(form, "regenerate") == "1"
    await run_in_threadpool(lambda: academy.generate_worlds(cohort, regenerate=regenerate, actor=viewer.principal))
    return redirect(f"/academy/teach/{cohort}?done=worlds")


@router.post("/academy/teach/{cohort}/certificates/{trainee}/revoke", dependencies=[Depends(csrf_protected)])
async def revoke(request: Request, cohort: str, trainee: str, viewer: Teacher) -> Response:
    academy = _academy(request)
    await run_in_threadpool(_instructor, academy, cohort, viewer)
    reason = _field(await request.form(), "reason")
    if not reason:
        raise InvalidInputError("say why the certificate is revoked (shown when its code is checked)")
    serial = (await run_in_threadpool(academy.certificate_of, cohort, trainee))["serial"]
    await run_in_threadpool(academy.revoke_certificate, serial, reason, actor=viewer.principal)
    return redirect(f"/academy/teach/{cohort}?done=revoked")
