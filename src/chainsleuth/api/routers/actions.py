"""Account actions over HTTP: propose, approve (four-eyes), reject, list, expire.

Self-approval and approving an action past its expiry answer 403 with the reason; a stale
``expected_version`` answers 409. Approving or re-proposing an identical action twice is harmless.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from chainsleuth.api.deps import Principal, get_session
from chainsleuth.api.permissions import requires
from chainsleuth.cases import actions

router = APIRouter(prefix="/api/actions", tags=["actions"])
Reader = Annotated[Principal, Depends(requires("case.read"))]
Proposer = Annotated[Principal, Depends(requires("action.propose"))]
Approver = Annotated[Principal, Depends(requires("action.approve"))]
DbSession = Annotated[Session, Depends(get_session)]


class ProposalIn(BaseModel):
    kind: Literal["freeze", "unfreeze", "seize", "preserve"]
    reason: str
    account_id: str | None = None
    customer_id: str | None = None
    legal_basis: str | None = None
    case_id: int | None = None
    review_at: datetime | None = None
    expires_at: datetime | None = None
    asset: str | None = None
    destination_chain: str | None = None
    destination_address: str | None = None
    destination_account_id: str | None = None
    target_action_id: int | None = None


class Versioned(BaseModel):
    expected_version: int = Field(ge=1)


class RejectIn(Versioned):
    reason: str


@router.get("", summary="List account actions")
def list_actions(
    who: Reader, session: DbSession, status: str | None = None, kind: str | None = None,
    account_id: str | None = None, customer_id: str | None = None, case_id: int | None = None,
    review_due: Annotated[bool, Query(description="Only actions in force past their review date.")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:  # fmt: skip
    rows, total = actions.list_actions(
        session,
        who,
        status=status,
        kind=kind,
        account_id=account_id,
        customer_id=customer_id,
        case_id=case_id,
        review_due=review_due,
        limit=limit,
        offset=offset,
    )
    return {"total": total, "items": [actions.action_view(row) for row in rows]}


@router.get("/{action_id}", summary="One account action")
def get_action(action_id: int, who: Reader, session: DbSession) -> dict[str, Any]:
    return actions.action_detail(session, actions.get_action(session, action_id))


@router.post("", summary="Propose an action (four-eyes: step 1)", status_code=201)
def propose(who: Proposer, session: DbSession, body: ProposalIn) -> dict[str, Any]:
    action, created = actions.propose(session, who, **body.model_dump())
    return {**actions.action_view(action), "created": created}


@router.post("/{action_id}/approve", summary="Approve someone else's proposal (four-eyes: step 2)")
def approve(action_id: int, who: Approver, session: DbSession, body: Versioned) -> dict[str, Any]:
    return actions.action_view(actions.approve(session, who, action_id, body.expected_version))


@router.post("/{action_id}/reject", summary="Reject a proposal with a reason")
def reject(action_id: int, who: Approver, session: DbSession, body: RejectIn) -> dict[str, Any]:
    return actions.action_view(actions.reject(session, who, action_id, body.expected_version, reason=body.reason))


@router.post("/expire-due", summary="Expire actions past their expiry date")
def expire_due(who: Approver, session: DbSession) -> list[dict[str, Any]]:
    return [actions.action_view(row) for row in actions.expire_due(session, actor=who)]
