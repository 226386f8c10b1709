"""Triage: completeness, the matrix decision, matching targets to customers, "seen before", clocks and queues.

Matching works in batches because a request can carry a thousand targets: e-mails and phones through the
blind-index columns (the keyed HMAC of the normalised value: nothing is decrypted, exactly the mechanism of
:func:`chainsleuth.privacy.fields.find_customers`, one ``IN`` query per 500 values instead of one query per
target), wallet addresses through the deposit addresses the exchange issued, transaction hashes through our own
ledger first (deposits and withdrawals carry their hash) and then the chain store, whose transaction's
addresses lead to a deposit address and its owner.

"Seen before" compares the keyed target fingerprints (``le_targets.value_key``) and matched customers with every
other open request, of any agency. Only staff see the flags: officers never learn that another agency asked.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.cases.common import moment
from chainsleuth.errors import ConflictError, NotFoundError, PolicyViolationError
from chainsleuth.lawenforcement.agencies import get_agency
from chainsleuth.lawenforcement.matrix import Matrix, load_matrix
from chainsleuth.lawenforcement.requests import OPEN_STATUSES, REQUEST_OBJECT, get_request, request_targets
from chainsleuth.privacy import audit
from chainsleuth.privacy.keyring import crypto_for, engine_of
from chainsleuth.privacy.policy import Actor, SystemActor, require
from chainsleuth.store.chainstore import ChainStore
from chainsleuth.store.db import stale_version_guard
from chainsleuth.store.models.exchange import Customer, DepositAddress
from chainsleuth.store.models.lawenforcement import LeRequest, LeTarget
from chainsleuth.store.models.ledger import LedgerEvent

CALLBACK_TYPES = ("emergency_disclosure", "freeze", "seizure")
NEEDS_INSTRUMENT = ("production", "freeze", "seizure", "follow_up", "unfreeze")
NEEDS_CATEGORIES = ("production", "emergency_disclosure", "follow_up")
_CHUNK = 500


def _chunks(values: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), _CHUNK):
        yield list(values[start : start + _CHUNK])


def _match_bidx(session: Session, column: Any, kind: str, targets: list[LeTarget]) -> None:
    crypto = crypto_for(engine_of(session))
    by_digest: dict[str, list[LeTarget]] = defaultdict(list)
    for target in targets:
        digest = crypto.blind_index(kind, target.value)
        if digest is not None:
            by_digest[digest].append(target)
    for chunk in _chunks(sorted(by_digest)):
        rows = session.execute(select(Customer.customer_id, column).where(column.in_(chunk))
                               .order_by(Customer.customer_id))  # fmt: skip
        for customer_id, digest in rows:
            for target in by_digest[digest]:
                if target.customer_id is None:
                    target.customer_id, target.match_via = customer_id, f"blind_index:{kind}"


def _match_addresses(session: Session, pairs: dict[tuple[str, str], list[LeTarget]], via: str) -> None:
    by_chain: dict[str, list[str]] = defaultdict(list)
    for chain, address in pairs:
        by_chain[chain].append(address)
    for chain, addresses in by_chain.items():
        for chunk in _chunks(sorted(set(addresses))):
            query = select(DepositAddress).where(DepositAddress.chain == chain, DepositAddress.address.in_(chunk))
            for owner in session.scalars(query):
                for target in pairs.get((chain, owner.address), []):
                    if target.customer_id is None:
                        target.customer_id, target.account_id, target.match_via = (
                            owner.customer_id, owner.account_id, via)  # fmt: skip


def match_targets(session: Session, targets: Sequence[LeTarget], chain_store: ChainStore | None = None) -> int:
    """Resolve valid targets to customers (and accounts where the target names one); returns how many matched."""
    groups: dict[str, list[LeTarget]] = defaultdict(list)
    for target in targets:
        if target.error is None and target.kind is not None:
            target.customer_id = target.account_id = target.match_via = None
            groups[target.kind].append(target)
    ids = {t.value: t for t in groups["customer_id"]}
    for chunk in _chunks(sorted(ids)):
        for customer_id in session.scalars(select(Customer.customer_id).where(Customer.customer_id.in_(chunk))):
            ids[customer_id].customer_id, ids[customer_id].match_via = customer_id, "customer_id"
    _match_bidx(session, Customer.email_bidx, "email", groups["email"])
    _match_bidx(session, Customer.phone_bidx, "phone", groups["phone"])
    address_pairs: dict[tuple[str, str], list[LeTarget]] = defaultdict(list)
    for target in groups["address"]:
        address_pairs[(target.chain or "", target.value)].append(target)
    _match_addresses(session, address_pairs, "deposit_address")
    hashes = {t.value: t for t in groups["tx_hash"]}
    for chunk in _chunks(sorted(hashes)):
        query = select(LedgerEvent.tx_hash, LedgerEvent.customer_id, LedgerEvent.account_id).where(
            LedgerEvent.tx_hash.in_(chunk)
        )
        for tx_hash, customer_id, account_id in session.execute(query):
            target = hashes[tx_hash]
            if target.customer_id is None:
                target.customer_id, target.account_id, target.match_via = customer_id, account_id, "ledger_tx"
    if chain_store is not None:
        via_chain: dict[tuple[str, str], list[LeTarget]] = defaultdict(list)
        for target in hashes.values():
            if target.customer_id is None and target.chain in chain_store.chains():
                found = chain_store.transaction(target.chain, target.value)
                for address in _addresses_of(found or {}):
                    via_chain[(target.chain, address)].append(target)
        _match_addresses(session, via_chain, "chain_store")
    session.flush()
    return sum(1 for group in groups.values() for t in group if t.customer_id is not None)


def _addresses_of(tx: dict[str, Any]) -> list[str]:
    found = [tx.get("from_address"), tx.get("to_address")]
    for name in ("inputs", "outputs"):
        found += [row.get("address") for row in tx.get(name) or []]
    for row in tx.get("transfers") or []:
        found += [row.get("from_address"), row.get("to_address")]
    return [a for a in dict.fromkeys(found) if isinstance(a, str)]


def seen_before(session: Session, request: LeRequest, targets: Sequence[LeTarget]) -> list[dict[str, Any]]:
    """Other open requests sharing a target (same fingerprint) or a matched customer with ``request``."""
    keys = sorted({t.value_key for t in targets if t.value_key})
    customers = sorted({t.customer_id for t in targets if t.customer_id})
    hits: dict[tuple[int, str], dict[str, Any]] = {}
    for column, values, kind in ((LeTarget.value_key, keys, "same_target"), (LeTarget.customer_id, customers,
                                                                              "same_customer")):  # fmt: skip
        for chunk in _chunks(values):
            query = (
                select(LeRequest.id, LeRequest.reference, LeRequest.agency_id, LeRequest.submitted_at)
                .join(LeTarget, LeTarget.request_id == LeRequest.id)
                .where(column.in_(chunk), LeRequest.id != request.id, LeRequest.status.in_(OPEN_STATUSES))
                .distinct()
            )
            for other_id, reference, agency_id, submitted in session.execute(query):
                hits.setdefault((other_id, kind), {"request": reference, "agency_id": agency_id, "kind": kind,
                                                   "submitted_at": submitted.isoformat(),
                                                   "other_agency": agency_id != request.agency_id})  # fmt: skip
    return sorted(hits.values(), key=lambda h: (h["submitted_at"], h["request"], h["kind"]))[:100]


def triage(
    session: Session, staff: Actor, request_id: int | str, *, chain_store: ChainStore | None = None,
    matrix: Matrix | None = None, now: datetime | None = None,
) -> LeRequest:  # fmt: skip
    """Check, decide, match, flag; moves the request to ``awaiting_callback``, ``in_progress`` or ``in_triage``."""
    require(staff, "le_request.triage")
    at = moment(now)
    request = get_request(session, staff, request_id)
    rules = matrix or load_matrix()
    targets = request_targets(session, request)
    matched = match_targets(session, targets, chain_store)
    valid = [t for t in targets if t.error is None]
    decision = rules.decide(request.request_type, request.legal_basis, request.jurisdiction, request.data_categories)
    issues: list[str] = []
    if request.request_type in NEEDS_INSTRUMENT and request.instrument_file_id is None:
        issues.append("no legal instrument uploaded")
    if not valid and request.request_type != "informational":
        issues.append("no valid target")
    if len(valid) < len(targets):
        issues.append(f"{len(targets) - len(valid)} target row(s) malformed: correction requested")
    if request.request_type in NEEDS_CATEGORIES and not request.data_categories:
        issues.append("no data categories requested")
    if {"transactions", "login_ip"} & set(decision.disclose) and not (request.date_from and request.date_to):
        issues.append("transactions and log-ins need a date range")
    if decision.narrowed:
        issues.append(f"narrowed: the legal basis does not cover {', '.join(decision.narrowed)}")
    if request.data_categories and not decision.disclose and not decision.act:
        issues.append("the matrix allows nothing for this type, legal basis and jurisdiction")
    agency = get_agency(session, request.agency_id)
    allowed = set(agency.jurisdictions or [agency.country]) | {agency.country}
    customer_ids = sorted({t.customer_id for t in valid if t.customer_id})
    foreign = [c for chunk in _chunks(customer_ids)  # every matched customer, one IN query per 500
               for c, country in session.execute(select(Customer.customer_id, Customer.country_of_residence)
                                                 .where(Customer.customer_id.in_(chunk)))
               if country not in allowed]  # fmt: skip
    reasons = [r for r in request.risk_reasons if not r.startswith("targets outside")]
    if foreign:
        if len(reasons) == len(request.risk_reasons):  # first time: the points are added once
            request.risk_score = min(100, request.risk_score + 10)
        reasons.append(f"targets outside the agency's jurisdiction: {len(foreign)} matched customer(s)")
    request.risk_reasons = reasons
    needs_callback = request.request_type in CALLBACK_TYPES
    flags = seen_before(session, request, valid)
    blocking = [i for i in issues if not i.startswith(("narrowed", "0 target"))]
    allowed_categories, narrowed, kept_by_staff = _keep_staff_narrowing(request.triage or {}, decision.disclose,
                                                                        decision.narrowed)  # fmt: skip
    request.triage = {"complete": not blocking, "issues": issues, "rule": decision.rule,
                      "allowed_categories": allowed_categories, "allowed_actions": decision.act,
                      "narrowed": narrowed, "needs_callback": needs_callback, **kept_by_staff,
                      "targets": len(targets), "valid_targets": len(valid), "matched": matched,
                      "matched_customers": len(customer_ids), "seen_before": flags,
                      "triaged_at": at.isoformat(), "triaged_by": staff.username}  # fmt: skip
    if request.status in ("submitted", "in_triage", "in_progress", "awaiting_callback"):
        if needs_callback and request.callback_confirmed_at is None:
            request.status = "awaiting_callback"
        else:
            request.status = "in_progress" if not blocking else "in_triage"
    with stale_version_guard():
        session.flush()
    audit.record(session, staff, "le_request.triage", REQUEST_OBJECT, request.reference,
                 details={"complete": not blocking, "issues": len(issues), "matched": matched,
                          "seen_before": len(flags), "rule": decision.rule})  # fmt: skip
    return request


def _keep_staff_narrowing(
    previous: dict[str, Any], disclose: list[str], narrowed: list[str]
) -> tuple[list[str], list[str], dict[str, Any]]:
    """Re-apply an earlier staff narrowing to a new matrix decision: ``(allowed, narrowed, keys to carry)``.

    Triage runs again after a correction or a call-back; a narrowing is a decision of a person with its own
    templated reason, so the matrix must not silently give back what they cut.
    """
    kept = previous.get("staff_kept")
    if kept is None:
        return disclose, narrowed, {}
    allowed = [c for c in disclose if c in kept]
    cut = [c for c in disclose if c not in kept]
    carried = {"staff_kept": list(kept), "narrowing_reason": previous.get("narrowing_reason")}
    return allowed, sorted(set(narrowed) | set(cut)), carried


def rematch(session: Session, staff: Actor, request_id: int | str, chain_store: ChainStore | None = None) -> LeRequest:
    """Match an open request's targets again (``le_request.triage``): which customers matched is the exchange's
    knowledge, never shown to officers, and rewriting it changes what a package would disclose, so reading the
    request (auditors, compliance officers) is not enough."""
    require(staff, "le_request.triage")
    request = get_request(session, staff, request_id)
    if request.status not in OPEN_STATUSES:
        raise PolicyViolationError(f"a {request.status} request is closed: its matches are kept as answered",
                                   request=request.reference)  # fmt: skip
    matched = match_targets(session, request_targets(session, request), chain_store)
    audit.record(session, staff, "le_request.match", REQUEST_OBJECT, request.reference, details={"matched": matched})
    return request


def require_callback(request: LeRequest) -> None:
    """PolicyViolationError unless a call-back confirmed a request of a type that needs one."""
    if request.request_type in CALLBACK_TYPES and request.callback_confirmed_at is None:
        raise PolicyViolationError(f"a {request.request_type.replace('_', ' ')} request needs a confirmed call-back "
                                   "to the agency before anything is disclosed or done",
                                   request=request.reference)  # fmt: skip


# -- queues and clocks -------------------------------------------------------------------------------------------


def claim(session: Session, staff: Actor, request_id: int | str, now: datetime | None = None) -> LeRequest:
    """Take a request to work on (ConflictError when a colleague holds it)."""
    require(staff, "le_request.triage")
    request = get_request(session, staff, request_id)
    if request.claimed_by not in (None, staff.username):
        raise ConflictError("a colleague is working on this request", claimed_by=request.claimed_by)
    if request.claimed_by is None:
        request.claimed_by, request.claimed_at = staff.username, moment(now)
        with stale_version_guard():
            session.flush()
        audit.record(session, staff, "le_request.claim", REQUEST_OBJECT, request.reference)
    return request


def release(session: Session, staff: Actor, request_id: int | str) -> LeRequest:
    """Give a claimed request back to its queue."""
    require(staff, "le_request.triage")
    request = get_request(session, staff, request_id)
    if request.claimed_by is not None:
        request.claimed_by, request.claimed_at = None, None
        audit.record(session, staff, "le_request.release", REQUEST_OBJECT, request.reference)
    return request


def next_request(session: Session, staff: Actor, queue: str | None = None, now: datetime | None = None) -> LeRequest:
    """Claim the most urgent unclaimed open request (emergencies first, then by deadline)."""
    require(staff, "le_request.triage")
    query = select(LeRequest).where(LeRequest.status.in_(OPEN_STATUSES), LeRequest.claimed_by.is_(None))
    if queue is not None:
        query = query.where(LeRequest.queue == queue)
    urgency = (LeRequest.queue != "emergency", LeRequest.escalation_level.desc(), LeRequest.due_at, LeRequest.id)
    request = session.scalars(query.order_by(*urgency).limit(1).with_for_update(skip_locked=True)).first()
    if request is None:
        raise NotFoundError("the queue is empty", queue=queue)
    return claim(session, staff, request.id, now)


def escalate_overdue(session: Session, now: datetime | None = None, *, matrix: Matrix | None = None,
                     actor: Actor | None = None) -> list[LeRequest]:  # fmt: skip
    """Raise the escalation level of every open request past its clock (one level per escalation step)."""
    at = moment(now)
    step = (matrix or load_matrix()).escalation_step_hours * 3600
    who = actor or SystemActor("le-clock")
    raised = []
    query = select(LeRequest).where(LeRequest.status.in_(OPEN_STATUSES), LeRequest.due_at <= at)
    for request in session.scalars(query.order_by(LeRequest.due_at)):
        level = 1 + math.floor((at - request.due_at).total_seconds() / step)
        if level > request.escalation_level:
            request.escalation_level, request.escalated_at = level, at
            raised.append(request)
            audit.record(session, who, "le_request.escalate", REQUEST_OBJECT, request.reference,
                         details={"level": level, "due_at": request.due_at.isoformat(),
                                  "claimed_by": request.claimed_by})  # fmt: skip
    with stale_version_guard():
        session.flush()
    return raised
