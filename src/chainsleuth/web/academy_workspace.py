"""The trainee's investigation workspace pages: address, transaction, trace, exposure, accounts, customers and
alerts of *their own* sandbox, reachable from every exercise page.

Why separate pages from the analysts' ``/chain/...`` ones: those read the platform's real stores and need
``chain.read``; these need only ``academy.learn`` and open the viewer's own sandbox through
:func:`chainsleuth.academy.workspace.open_workspace` (explicit settings, never the platform database), so a
trainee works an exercise with the same engine the analysts use and cannot reach anyone else's world, or real
data. The cohort in the URL is checked against the viewer's enrolments; the trainee is always the viewer.
Looking at a sandbox account or customer is recorded in the platform's audit log (invented people, but the
trail shows what a trainee looked at).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from chainsleuth.academy.service import Academy
from chainsleuth.academy.workspace import DIRECTIONS, MAX_HOPS, POLICIES, Workspace, open_workspace
from chainsleuth.errors import ChainsleuthError, NotFoundError
from chainsleuth.privacy import audit
from chainsleuth.store.db import session_scope
from chainsleuth.web.core import Viewer, page, render

router = APIRouter(include_in_schema=False)
Learner = Annotated[Viewer, Depends(page("academy.learn"))]
PREFIX = "/academy/cohorts/{cohort}/workspace"
T = TypeVar("T")


def workspace_url(cohort: str, view: str = "", **params: Any) -> str:
    """A workspace link (templates build every address, transaction and account link with it)."""
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return f"/academy/cohorts/{cohort}/workspace{'/' + view if view else ''}{'?' + query if query else ''}"


@contextmanager
def _own_sandbox(request: Request, cohort: str, viewer: Viewer) -> Iterator[Workspace]:
    """The viewer's own sandbox in ``cohort`` (404 when they are not enrolled there)."""
    academy = Academy.from_settings(request.app.state.settings, request.app.state.engine)
    if not any(e["cohort"] == cohort for e in academy.enrolments_of(viewer.username)):
        raise NotFoundError("you are not enrolled in this cohort", cohort=cohort)
    with open_workspace(academy.world(cohort, viewer.username)) as workspace:
        yield workspace


def _audit(request: Request, viewer: Viewer, cohort: str, view: str, subject: str) -> None:
    with session_scope(request.app.state.engine) as session:
        audit.record(
            session,
            viewer.principal,
            "academy.workspace_view",
            "academy_sandbox",
            f"{cohort}/{viewer.username}",
            None,
            {"view": view, "subject": subject},
        )


def _page(
    request: Request, viewer: Viewer, cohort: str, view: str, title: str, body: Callable[[Workspace], T], **context: Any
) -> HTMLResponse:
    """Run ``body`` on the viewer's sandbox and render it; an engine error is shown on the page, as a 400/404."""
    error, status, result = None, 200, None
    with _own_sandbox(request, cohort, viewer) as workspace:
        try:
            result = body(workspace)
        except ChainsleuthError as failure:
            error, status = failure.message, 404 if isinstance(failure, NotFoundError) else 400
        chains = workspace.store.chains()
    return render(
        request,
        "academy/workspace.html",
        viewer,
        {
            "title": title,
            "cohort": cohort,
            "view": view,
            "result": result,
            "error": error,
            "chains": chains,
            "policies": POLICIES,
            "directions": DIRECTIONS,
            "max_hops": MAX_HOPS,
            "ws": workspace_url,
            **context,
        },
        status_code=status,
    )


@router.get(PREFIX)
def index(request: Request, cohort: str, viewer: Learner) -> HTMLResponse:
    return _page(request, viewer, cohort, "index", "Your workspace", lambda ws: {"rules": ws.alert_rules()})


@router.get(PREFIX + "/address")
def address(
    request: Request,
    cohort: str,
    viewer: Learner,
    chain: str = "bitcoin",
    address: str = "",
    hops: Annotated[int, Query(ge=1, le=6)] = 3,
) -> HTMLResponse:
    return _page(
        request,
        viewer,
        cohort,
        "address",
        f"Address {address}",
        lambda ws: ws.address(chain, address, hops=hops),
        chain=chain,
        query=address,
    )


@router.get(PREFIX + "/tx")
def transaction(request: Request, cohort: str, viewer: Learner, chain: str = "bitcoin", hash: str = "") -> HTMLResponse:
    return _page(
        request, viewer, cohort, "tx", f"Transaction {hash}", lambda ws: ws.transaction(chain, hash), chain=chain
    )


@router.get(PREFIX + "/trace")
def trace(
    request: Request,
    cohort: str,
    viewer: Learner,
    chain: str = "bitcoin",
    target: str = "",
    direction: str = "forward",
    policy: str = "poison",
    hops: Annotated[int, Query(ge=1, le=MAX_HOPS)] = 8,
) -> HTMLResponse:
    """The trace form, and with a target its terminals (accounts, services) with amounts and evidence paths."""
    form = {"chain": chain, "target": target, "direction": direction, "policy": policy, "hops": hops}
    if not target:
        return _page(request, viewer, cohort, "trace", "Trace", lambda ws: None, form=form)
    return _page(
        request,
        viewer,
        cohort,
        "trace",
        f"Trace from {target}",
        lambda ws: ws.trace(chain, target, direction=direction, policy=policy, hops=hops),
        form=form,
    )


@router.get(PREFIX + "/accounts")
def accounts(request: Request, cohort: str, viewer: Learner, q: str = "") -> HTMLResponse:
    """Find an account by account id, customer id, deposit address or transaction hash; one match is shown."""

    def body(ws: Workspace) -> dict[str, Any]:
        found = ws.find_accounts(q)
        if not found:
            raise NotFoundError("no account of your world matches this", query=q)
        return {"matches": found, "account": ws.account(found[0]) if len(found) == 1 else None}

    if q:
        _audit(request, viewer, cohort, "account", q)
    return _page(request, viewer, cohort, "accounts", f"Accounts: {q}", body if q else (lambda ws: None), query=q)


@router.get(PREFIX + "/customers/{customer_id}")
def customer(request: Request, cohort: str, customer_id: str, viewer: Learner) -> HTMLResponse:
    _audit(request, viewer, cohort, "customer", customer_id)
    return _page(request, viewer, cohort, "customer", f"Customer {customer_id}", lambda ws: ws.customer(customer_id))


@router.get(PREFIX + "/alerts")
def alerts(request: Request, cohort: str, viewer: Learner, rule: str = "") -> HTMLResponse:
    """The monitoring alerts of the sandbox, by rule (the structuring and unexplained-wealth exercises start here)."""
    return _page(
        request,
        viewer,
        cohort,
        "alerts",
        "Alerts",
        lambda ws: {"alerts": ws.alerts(rule=rule or None), "rules": ws.alert_rules()},
        rule=rule,
    )
