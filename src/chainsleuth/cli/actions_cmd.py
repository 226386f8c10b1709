"""``chainsleuth actions``: propose, approve, reject, list (``--review-due``) and show account actions, and expire
those past their date.

``expire-due`` is what a scheduler (cron, systemd timer) runs; the ledger guard also ignores expired freezes
lazily, so a late run never keeps an account frozen past its expiry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from chainsleuth.cases import actions
from chainsleuth.cli.cases_cmd import As, acting, emit, store_session, utc_if_naive
from chainsleuth.privacy.policy import SystemActor, require

app = typer.Typer(help="Account actions: freeze, unfreeze, seize, preserve (four-eyes).", no_args_is_help=True)
Version = Annotated[int, typer.Option("--expected-version", "-v", help="The action version you read.")]


@app.command("propose")
def propose(
    kind: Annotated[str, typer.Argument(help="freeze, unfreeze, seize or preserve")],
    as_user: As,
    reason: str = typer.Option(...),
    account: str | None = typer.Option(None, help="Account id (freeze, unfreeze, seize)."),
    customer: str | None = typer.Option(None, help="Customer id (preserve)."),
    legal_basis: str | None = typer.Option(None, help="Court order, warrant, request reference…"),
    case: int | None = typer.Option(None, help="Case id."),
    expires: datetime | None = typer.Option(None, help="Expiry (ISO, UTC if no zone)."),
    review: datetime | None = typer.Option(None, help="Review date (ISO, UTC if no zone)."),
    asset: str | None = typer.Option(None, help="Seize: one asset (default: all)."),
    to_chain: str | None = typer.Option(None, help="Seize: agency wallet chain."),
    to_address: str | None = typer.Option(None, help="Seize: agency wallet address."),
    to_account: str | None = typer.Option(None, help="Seize: designated seizure account."),
) -> None:
    """Propose an action (four-eyes: step 1)."""
    with acting(as_user) as (session, who):
        action, created = actions.propose(
            session, who, kind, reason=reason, account_id=account, customer_id=customer, legal_basis=legal_basis,
            case_id=case, expires_at=utc_if_naive(expires), review_at=utc_if_naive(review), asset=asset,
            destination_chain=to_chain, destination_address=to_address, destination_account_id=to_account,
        )  # fmt: skip
        emit({**actions.action_view(action), "created": created})


@app.command("approve")
def approve(action_id: int, as_user: As, expected_version: Version) -> None:
    """Approve someone else's proposal and carry it out (four-eyes: step 2)."""
    with acting(as_user) as (session, who):
        emit(actions.action_view(actions.approve(session, who, action_id, expected_version)))


@app.command("reject")
def reject(action_id: int, as_user: As, expected_version: Version, reason: str = typer.Option(...)) -> None:
    """Reject a proposal with a reason."""
    with acting(as_user) as (session, who):
        emit(actions.action_view(actions.reject(session, who, action_id, expected_version, reason=reason)))


@app.command("list")
def list_actions(
    as_user: As, status: str | None = None, kind: str | None = None, account: str | None = None,
    customer: str | None = None, case: int | None = None,
    review_due: bool = typer.Option(False, "--review-due", help="Only actions in force past their review date."),
    limit: int = 50,
) -> None:  # fmt: skip
    """Actions, newest first."""
    with acting(as_user) as (session, who):
        rows, total = actions.list_actions(session, who, status=status, kind=kind, account_id=account,
                                           customer_id=customer, case_id=case, review_due=review_due,
                                           limit=limit)  # fmt: skip
        emit({"total": total, "items": [actions.action_view(row) for row in rows]})


@app.command("show")
def show(action_id: int, as_user: As) -> None:
    """One action with its effective status, review flag and the legal holds on its customer."""
    with acting(as_user) as (session, who):
        require(who, "case.read")
        emit(actions.action_detail(session, actions.get_action(session, action_id)))


@app.command("expire-due")
def expire_due() -> None:
    """Expire freezes, preservations and proposals past their expiry (run by the scheduler)."""
    with store_session() as session:
        expired = actions.expire_due(session, actor=SystemActor("scheduler"))
        emit([actions.action_view(row) for row in expired])
