"""Account actions: freeze, unfreeze, seize and preserve, each an explicit four-eyes state machine.

::

    proposed ──approve (another person, action.approve)──► approved ──► active ──► expired | released
        │                                                      │
        │                                                      └──► completed   (seize, unfreeze: executed at once)
        └──reject (reason)──► rejected          proposed past its expiry ──► expired (can no longer be approved)

Rules, each enforced here and not left to the caller:

* a proposal needs ``action.propose``, a reason, a legal basis *or* a case, and a review or expiry date in the
  future; seizures name their destination (an agency wallet address, or a designated seizure account);
* approval needs ``action.approve`` and a person other than the proposer (four-eyes; self-approval is a
  :class:`PolicyViolationError`, HTTP 403); an action past its expiry cannot be approved;
* idempotency: re-proposing an identical action that is still proposed or in force returns the existing one,
  also when two identical proposals race (a partial unique index on the fingerprint of open actions lets one
  insert win; the other gets the winner); approving (or rejecting) an action a second time changes nothing;
* effects happen on approval, in the same transaction: a freeze starts blocking outgoing movements (see
  :mod:`chainsleuth.cases.ledger_guard`), an unfreeze releases its freeze, a seizure moves exactly the
  account's balance out to the destination through the ledger, a preservation places a legal hold;
* every step is written to the audit log, and to the timeline of the linked case.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError as DBIntegrityError
from sqlalchemy.orm import Session

from chainsleuth.cases import ledger_guard
from chainsleuth.cases.common import (
    aware,
    canonical_json,
    check_version,
    get_case_row,
    iso,
    moment,
    record_event,
    required_text,
    sha256_hex,
)
from chainsleuth.errors import InvalidInputError, NotFoundError, PolicyViolationError
from chainsleuth.privacy import audit
from chainsleuth.privacy.policy import Actor, SystemActor, require
from chainsleuth.store.db import stale_version_guard
from chainsleuth.store.models.cases import ACTION_KINDS, AccountAction, LegalHold
from chainsleuth.store.models.exchange import Account, Balance, Customer

ACTION_OBJECT = "account_action"
#: Statuses in which an identical proposal is "the same action" (idempotent re-proposal).
PENDING_OR_IN_FORCE = ("proposed", "approved", "active")


def _fingerprint(fields: dict[str, Any]) -> str:
    return sha256_hex(canonical_json(fields).encode("utf-8"))


def _case_event(session: Session, action: AccountAction, actor: Actor, what: str, now: datetime) -> None:
    if action.case_id is not None:
        case = get_case_row(session, action.case_id)
        record_event(session, case, actor, f"action_{what}",
                     {"action_id": action.id, "kind": action.kind, "account_id": action.account_id,
                      "status": action.status}, now)  # fmt: skip


def _audit(session: Session, actor: Actor, verb: str, action: AccountAction, **details: Any) -> None:
    audit.record(session, actor, f"action.{verb}", ACTION_OBJECT, str(action.id),
                 purpose=action.legal_basis or (f"CASE-{action.case_id:06d}" if action.case_id else None),
                 details={"kind": action.kind, "status": action.status, "account_id": action.account_id,
                          "customer_id": action.customer_id, **details})  # fmt: skip


def propose(
    session: Session,
    actor: Actor,
    kind: str,
    *,
    reason: str,
    account_id: str | None = None,
    customer_id: str | None = None,
    legal_basis: str | None = None,
    case_id: int | None = None,
    review_at: datetime | None = None,
    expires_at: datetime | None = None,
    asset: str | None = None,
    destination_chain: str | None = None,
    destination_address: str | None = None,
    destination_account_id: str | None = None,
    target_action_id: int | None = None,
    now: datetime | None = None,
) -> tuple[AccountAction, bool]:
    """Propose an action; returns ``(action, created)`` (``created`` False for an idempotent re-proposal)."""
    require(actor, "action.propose")
    if kind not in ACTION_KINDS:
        raise InvalidInputError("unknown action", kind=kind, allowed=list(ACTION_KINDS))
    at = moment(now)
    text = required_text(reason, "reason", max_length=4000)
    basis = (legal_basis or "").strip() or None
    if basis is None and case_id is None:
        raise InvalidInputError("an account action needs a legal basis or a case", field="legal_basis")
    if case_id is not None:
        get_case_row(session, case_id)
    review, expiry = aware(review_at, "review_at"), aware(expires_at, "expires_at")
    if review is None and expiry is None:
        raise InvalidInputError("an account action needs a review or expiry date", field="expires_at")
    for name, value in (("review_at", review), ("expires_at", expiry)):
        if value is not None and value <= at:
            raise InvalidInputError(f"{name} must be in the future", field=name, value=value.isoformat())
    if kind == "preserve" and account_id is None:
        if not customer_id or session.get(Customer, customer_id) is None:
            raise NotFoundError("no such customer", customer_id=customer_id)
    else:
        if not account_id:
            raise InvalidInputError(f"a {kind} needs an account", field="account_id")
        account = session.get(Account, account_id)
        if account is None:
            raise NotFoundError("no such account", account_id=account_id)
        if customer_id is not None and customer_id != account.customer_id:
            raise InvalidInputError("the account belongs to another customer", account_id=account_id)
        customer_id = account.customer_id
    assert customer_id is not None
    if kind == "seize":
        has_address = bool(destination_chain and destination_address)
        if has_address == bool(destination_account_id):
            raise InvalidInputError("a seizure needs one destination: an agency wallet (chain and address) or a "
                                    "designated seizure account", field="destination")  # fmt: skip
        if destination_account_id and session.get(Account, destination_account_id) is None:
            raise NotFoundError("no such account", account_id=destination_account_id)
    elif destination_chain or destination_address or destination_account_id or asset:
        raise InvalidInputError("only a seizure has an asset and a destination", kind=kind)
    if kind == "unfreeze":
        target_action_id = _freeze_to_release(session, account_id or "", target_action_id, at)
    elif target_action_id is not None:
        raise InvalidInputError("only an unfreeze names the action it ends", kind=kind)
    identity = {"kind": kind, "account_id": account_id, "customer_id": customer_id, "asset": asset,
                "destination_chain": destination_chain, "destination_address": destination_address,
                "destination_account_id": destination_account_id, "target_action_id": target_action_id,
                "legal_basis": basis, "case_id": case_id}  # fmt: skip
    fingerprint = _fingerprint(identity)
    existing = _open_with(session, fingerprint)
    if existing is not None and _past_expiry(existing, at):
        _expire(session, existing, SystemActor("scheduler"), at)  # frees the fingerprint for the new proposal
        existing = None
    if existing is not None:
        _audit(session, actor, "propose_repeat", existing, note="identical action already exists")
        return existing, False
    action = AccountAction(
        kind=kind, status="proposed", customer_id=customer_id, account_id=account_id, case_id=case_id,
        legal_basis=basis, reason=text, asset=asset, destination_chain=destination_chain,
        destination_address=destination_address, destination_account_id=destination_account_id,
        target_action_id=target_action_id, review_at=review, expires_at=expiry, fingerprint=fingerprint,
        proposed_by=actor.username, proposed_at=at,
    )  # fmt: skip
    try:
        with session.begin_nested():
            session.add(action)
            session.flush()
    except DBIntegrityError:
        # a concurrent identical proposal committed first (the partial unique index on open fingerprints)
        winner = _open_with(session, fingerprint)
        if winner is None:
            raise
        _audit(session, actor, "propose_repeat", winner, note="identical action proposed concurrently")
        return winner, False
    _case_event(session, action, actor, "proposed", at)
    _audit(
        session,
        actor,
        "propose",
        action,
        reason=text,
        expires_at=expiry.isoformat() if expiry else None,
        review_at=review.isoformat() if review else None,
    )
    return action, True


def _open_with(session: Session, fingerprint: str) -> AccountAction | None:
    """The pending or in-force action with ``fingerprint`` (the unique index allows at most one)."""
    return session.scalars(
        select(AccountAction)
        .where(AccountAction.fingerprint == fingerprint, AccountAction.status.in_(PENDING_OR_IN_FORCE))
        .order_by(AccountAction.id)
        .limit(1)
    ).one_or_none()


def _freeze_to_release(session: Session, account_id: str, target_action_id: int | None, now: datetime) -> int:
    if target_action_id is not None:
        target = session.get(AccountAction, target_action_id)
        if target is None or target.kind != "freeze" or target.account_id != account_id:
            raise InvalidInputError("an unfreeze must name a freeze of the same account", target=target_action_id)
        if target.status != "active" or _past_expiry(target, now):
            raise PolicyViolationError("that freeze is not in force", freeze_id=target.id, status=target.status)
        return target.id
    freezes = ledger_guard.active_freezes(session, account_id, now)
    if not freezes:
        raise PolicyViolationError("the account is not frozen: nothing to unfreeze", account_id=account_id)
    return freezes[0].id


def _past_expiry(action: AccountAction, now: datetime) -> bool:
    return action.expires_at is not None and action.expires_at <= now


def get_action(session: Session, action_id: int) -> AccountAction:
    action = session.get(AccountAction, action_id)
    if action is None:
        raise NotFoundError("no such account action", action_id=action_id)
    return action


def approve(
    session: Session, approver: Actor, action_id: int, expected_version: int, *, now: datetime | None = None
) -> AccountAction:
    """Approve someone else's proposal and carry it out (four-eyes); a second approval is a no-op."""
    require(approver, "action.approve")
    at = moment(now)
    action = get_action(session, action_id)
    if action.approved_by is not None and action.status in ("approved", "active", "completed", "released",
                                                             "expired"):  # fmt: skip
        _audit(session, approver, "approve_repeat", action, note="already approved: nothing changed")
        return action
    if action.status != "proposed":
        raise PolicyViolationError(f"a {action.status} action cannot be approved", action_id=action.id,
                                   status=action.status)  # fmt: skip
    if approver.username == action.proposed_by:
        raise PolicyViolationError(
            "four-eyes rule: an action must be approved by someone other than its proposer",
            action_id=action.id, proposer=action.proposed_by,
        )  # fmt: skip
    check_version("action", action.id, action.version, expected_version)
    if _past_expiry(action, at):
        raise PolicyViolationError("the action is past its expiry date and can no longer be approved",
                                   action_id=action.id, expires_at=str(action.expires_at))  # fmt: skip
    action.status, action.approved_by, action.approved_at = "approved", approver.username, at
    _audit(session, approver, "approve", action)
    _carry_out(session, approver, action, at)
    with stale_version_guard():
        session.flush()
    _case_event(session, action, approver, "approved", at)
    _audit(session, approver, "execute", action, result=action.result)
    return action


def _carry_out(session: Session, actor: Actor, action: AccountAction, now: datetime) -> None:
    if action.kind == "freeze":
        action.status, action.activated_at = "active", now
    elif action.kind == "preserve":
        action.status, action.activated_at = "active", now
        session.add(
            LegalHold(
                customer_id=action.customer_id,
                action_id=action.id,
                case_id=action.case_id,
                legal_basis=action.legal_basis,
                active=True,
                placed_at=now,
                until=action.expires_at,
            )
        )
    elif action.kind == "unfreeze":
        target = get_action(session, action.target_action_id or 0)
        if target.status == "active":
            target.status, target.ended_at = "released", now
            target.end_reason = f"released by unfreeze #{action.id}: {action.reason}"
            _audit(session, actor, "release", target, by_action=action.id)
            _case_event(session, target, actor, "released", now)
        action.status, action.activated_at, action.ended_at = "completed", now, now
        action.result = {"released_action_id": target.id, "freeze_status": target.status}
    else:
        action.result = _seize(session, action, now)
        action.status, action.activated_at, action.ended_at = "completed", now, now


def _seize(session: Session, action: AccountAction, now: datetime) -> dict[str, Any]:
    """Move the whole balance (of ``action.asset``, or of every asset) out to the seizure destination."""
    account_id = action.account_id or ""
    query = select(Balance).where(Balance.account_id == account_id).order_by(Balance.asset)
    if action.asset:
        query = query.where(Balance.asset == action.asset)
    moved: dict[str, str] = {}
    events: list[str] = []
    for balance in list(session.scalars(query)):
        amount: Decimal = balance.balance
        if amount <= 0:
            continue
        event_id = f"SZ{action.id:08d}{balance.asset}"[:32]
        if action.destination_account_id:
            ledger_guard.post_internal_transfer(session, account_id, action.destination_account_id, balance.asset,
                                                amount, event_id=event_id, now=now, seizure=True)  # fmt: skip
        else:
            ledger_guard.post_withdrawal(session, account_id, balance.asset, amount,
                                         chain=action.destination_chain or "", address=action.destination_address or "",
                                         event_id=event_id, now=now, seizure=True)  # fmt: skip
        moved[balance.asset] = format(amount, "f")
        events.append(event_id)
    return {
        "moved": moved,
        "event_ids": events,
        "destination": action.destination_account_id or f"{action.destination_chain}:{action.destination_address}",
    }


def reject(
    session: Session, approver: Actor, action_id: int, expected_version: int, *, reason: str,
    now: datetime | None = None,
) -> AccountAction:  # fmt: skip
    """Reject a proposal with a reason (``action.approve``); rejecting twice is a no-op."""
    require(approver, "action.approve")
    at = moment(now)
    action = get_action(session, action_id)
    if action.status == "rejected":
        _audit(session, approver, "reject_repeat", action)
        return action
    if action.status != "proposed":
        raise PolicyViolationError(f"a {action.status} action cannot be rejected", action_id=action.id)
    check_version("action", action.id, action.version, expected_version)
    action.status, action.rejected_by, action.rejected_at = "rejected", approver.username, at
    action.rejection_reason = required_text(reason, "reason", max_length=4000)
    with stale_version_guard():
        session.flush()
    _case_event(session, action, approver, "rejected", at)
    _audit(session, approver, "reject", action, reason=action.rejection_reason)
    return action


def expire_due(session: Session, now: datetime | None = None, *, actor: Actor | None = None) -> list[AccountAction]:
    """Expire freezes and preservations past their expiry, and proposals past theirs (CLI / scheduler)."""
    at = moment(now)
    who = actor or SystemActor("scheduler")
    due = list(
        session.scalars(
            select(AccountAction)
            .where(
                AccountAction.status.in_(("proposed", "active")),
                AccountAction.expires_at.is_not(None),
                AccountAction.expires_at <= at,
            )
            .order_by(AccountAction.id)
        )
    )
    for action in due:
        _expire(session, action, who, at)
    with stale_version_guard():
        session.flush()
    return due


def _expire(session: Session, action: AccountAction, who: Actor, at: datetime) -> None:
    """Mark one action past its expiry as expired (releasing a preservation's hold), on the timeline and audited."""
    action.status, action.ended_at, action.end_reason = "expired", at, "expiry date reached"
    if action.kind == "preserve":
        for hold in session.scalars(select(LegalHold).where(LegalHold.action_id == action.id)):
            hold.active, hold.released_at = False, at
    _case_event(session, action, who, "expired", at)
    _audit(session, who, "expire", action)


def effective_status(action: AccountAction, now: datetime | None = None) -> str:
    """The status as it applies now: an active or proposed action past its expiry is ``expired``."""
    if action.status in ("active", "proposed") and _past_expiry(action, moment(now)):
        return "expired"
    return action.status


def review_due(action: AccountAction, now: datetime | None = None) -> bool:
    """Whether an action in force has reached its review date."""
    return action.status == "active" and action.review_at is not None and action.review_at <= moment(now)


def list_actions(
    session: Session,
    actor: Actor,
    *,
    status: str | None = None,
    kind: str | None = None,
    account_id: str | None = None,
    customer_id: str | None = None,
    case_id: int | None = None,
    review_due: bool = False,
    now: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[AccountAction], int]:
    """Actions matching the filters, newest first, and the total count (``case.read``).

    ``review_due`` keeps only actions in force whose review date has passed (what a compliance officer works
    through: re-justify, unfreeze or let expire)."""
    require(actor, "case.read")
    query = select(AccountAction)
    if review_due:
        query = query.where(AccountAction.status == "active", AccountAction.review_at.is_not(None),
                            AccountAction.review_at <= moment(now))  # fmt: skip
    for column, value in ((AccountAction.status, status), (AccountAction.kind, kind),
                          (AccountAction.account_id, account_id), (AccountAction.customer_id, customer_id),
                          (AccountAction.case_id, case_id)):  # fmt: skip
        if value is not None:
            query = query.where(column == value)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(AccountAction.id.desc()).limit(limit).offset(offset))
    return list(rows), int(total)


def action_view(action: AccountAction, now: datetime | None = None) -> dict[str, Any]:
    """An action as plain data (API and CLI)."""
    return {
        "id": action.id, "kind": action.kind, "status": action.status,
        "effective_status": effective_status(action, now), "review_due": review_due(action, now),
        "customer_id": action.customer_id, "account_id": action.account_id, "case_id": action.case_id,
        "legal_basis": action.legal_basis, "reason": action.reason, "asset": action.asset,
        "destination_chain": action.destination_chain, "destination_address": action.destination_address,
        "destination_account_id": action.destination_account_id, "target_action_id": action.target_action_id,
        "review_at": iso(action.review_at), "expires_at": iso(action.expires_at),
        "proposed_by": action.proposed_by, "proposed_at": iso(action.proposed_at),
        "approved_by": action.approved_by, "approved_at": iso(action.approved_at),
        "rejected_by": action.rejected_by, "rejected_at": iso(action.rejected_at),
        "rejection_reason": action.rejection_reason, "activated_at": iso(action.activated_at),
        "ended_at": iso(action.ended_at), "end_reason": action.end_reason, "result": action.result,
        "version": action.version,
    }  # fmt: skip


def action_detail(session: Session, action: AccountAction, now: datetime | None = None) -> dict[str, Any]:
    """:func:`action_view` plus the legal holds in force on the action's customer (a preservation's own hold
    among them), so that anyone acting on the account sees its records are preserved."""
    holds = ledger_guard.active_holds(session, action.customer_id, now)
    return {**action_view(action, now), "legal_holds": [
        {"id": h.id, "action_id": h.action_id, "case_id": h.case_id, "legal_basis": h.legal_basis,
         "placed_at": iso(h.placed_at), "until": iso(h.until)} for h in holds]}  # fmt: skip


def actions_for_accounts(session: Session, account_ids: Sequence[str]) -> list[AccountAction]:
    return list(session.scalars(select(AccountAction).where(AccountAction.account_id.in_(list(account_ids)))))
