"""The append-only, hash-chained, keyed audit log: record, verify, tail and export.

Every entry stores its sequence number, time, actor, role, agency, action, object, purpose and details, the
hash of the previous entry and its own hash: SHA-256 over a canonical JSON encoding of all those fields. So
changing, removing, inserting or reordering an entry breaks the chain at that point. A chain alone can be
rebuilt by someone who rewrites every later entry too; each entry therefore also carries an HMAC of its hash
under a key derived from the master key (``chainsleuth/audit-mac/v1``), which an attacker with database
access but without the key file cannot produce. The single ``audit_chain_head`` row names the last entry (with
its own HMAC), so entries cut off the end are noticed as well.

Concurrency: :func:`record` first updates the head row, which takes a row lock on PostgreSQL (a second writer
waits until the first commits, then reads the new head) and the database write lock on SQLite (writers wait
up to the busy timeout). Sequence number and previous hash are therefore allocated inside the caller's
transaction: if it rolls back, so does the entry, and no gap remains. Records that must survive a refusal
(the caller's transaction will roll back) use :func:`record_independently`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Engine, Table, select, update
from sqlalchemy.orm import Session

from chainsleuth.errors import IntegrityError, InvalidInputError
from chainsleuth.privacy.crypto import FieldKeys
from chainsleuth.privacy.keyring import crypto_for, engine_of
from chainsleuth.privacy.policy import Actor, role_of
from chainsleuth.store.db import session_scope
from chainsleuth.store.models.audit import AuditChainHead, AuditEntry
from chainsleuth.store.types import utcnow

#: The "previous hash" of entry 1 (also written by migration 0003 into the head row).
GENESIS_HASH = "0" * 64
_HEAD = cast(Table, AuditChainHead.__table__)
_BATCH = 5_000


def canonical_details(details: Mapping[str, Any] | None) -> str:
    """Details as canonical JSON (sorted keys, no spaces; dates, decimals… as strings)."""
    return json.dumps(dict(details or {}), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _chained_fields(entry: AuditEntry) -> dict[str, Any]:
    """Every field of ``entry`` but its own hash and MAC (``details`` as stored: canonical JSON text)."""
    return {
        "seq": entry.seq,
        "occurred_at": _stamp(entry.occurred_at),
        "actor": entry.actor,
        "actor_role": entry.actor_role,
        "agency_id": entry.agency_id,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "purpose": entry.purpose,
        "details": entry.details,
        "prev_hash": entry.prev_hash,
    }


def compute_hash(entry: AuditEntry) -> str:
    """SHA-256 (hex) over the canonical JSON of every field of ``entry`` but its own hash and MAC."""
    encoded = json.dumps(_chained_fields(entry), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def entry_mac(keys: FieldKeys, seq: int, entry_hash: str) -> str:
    """The keyed MAC of entry ``seq``."""
    return keys.audit_mac(f"entry|{seq}|{entry_hash}")


def head_mac(keys: FieldKeys, seq: int, entry_hash: str) -> str:
    """The keyed MAC of the chain head."""
    return keys.audit_mac(f"head|{seq}|{entry_hash}")


def record(
    session: Session,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str | None = None,
    purpose: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry in ``session``'s transaction (committed or rolled back with the caller's work).

    ``action`` is a dotted verb (``customer.reveal``, ``action.approve``…), ``object_type``/``object_id``
    what it was done to. Never put personal values into ``details``: name the fields, not their contents.
    """
    if not action or not object_type:
        raise InvalidInputError("an audit entry needs an action and an object type")
    keys = crypto_for(engine_of(session)).keys
    session.flush()  # earlier pending writes first, so the lock below is the transaction's next statement
    locked = session.execute(update(_HEAD).where(_HEAD.c.id == 1).values(seq=_HEAD.c.seq))
    head = session.execute(select(_HEAD.c.seq, _HEAD.c.entry_hash).where(_HEAD.c.id == 1)).one_or_none()
    if head is None or getattr(locked, "rowcount", 1) == 0:
        raise IntegrityError("the audit chain head row is missing: the audit log has been tampered with")
    entry = AuditEntry(
        seq=int(head.seq) + 1,
        occurred_at=utcnow(),
        actor=actor.username,
        actor_role=role_of(actor),
        agency_id=actor.agency_id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        purpose=purpose,
        details=canonical_details(details),
        prev_hash=str(head.entry_hash),
    )
    entry.entry_hash = compute_hash(entry)
    entry.entry_mac = entry_mac(keys, entry.seq, entry.entry_hash)
    session.add(entry)
    session.flush()
    session.execute(
        update(_HEAD)
        .where(_HEAD.c.id == 1)
        .values(seq=entry.seq, entry_hash=entry.entry_hash, head_mac=head_mac(keys, entry.seq, entry.entry_hash))
    )
    return entry


def record_independently(
    engine: Engine,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str | None = None,
    purpose: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> int:
    """Append one entry in a transaction of its own (for refusals: the caller's transaction rolls back).

    Returns the new entry's sequence number.
    """
    with session_scope(engine) as session:
        return record(session, actor, action, object_type, object_id, purpose, details).seq


# -- verification ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of :func:`verify`: ``ok``, or the first bad sequence number and what is wrong there."""

    ok: bool
    entries: int
    last_seq: int
    keyed: bool
    first_bad_seq: int | None = None
    problem: str | None = None


def _entries(session: Session) -> Iterator[AuditEntry]:
    after = 0
    while True:
        batch = session.scalars(
            select(AuditEntry).where(AuditEntry.seq > after).order_by(AuditEntry.seq).limit(_BATCH)
        ).all()
        if not batch:
            return
        yield from batch
        after = batch[-1].seq
        session.expunge_all()


def verify(session: Session, *, keyed: bool = True) -> VerifyReport:
    """Check the whole chain: sequence, links, hashes, MACs (when ``keyed``) and the head row.

    Detects altered, removed, inserted and reordered entries and names the first bad sequence number.
    ``keyed=False`` checks only what needs no key (an auditor without the key file): a chain rewritten
    consistently from some entry onwards then passes, which is why the keyed check is the default.
    """
    keys = crypto_for(engine_of(session)).keys if keyed else None
    expected_seq, prev_hash, count = 1, GENESIS_HASH, 0

    def bad(seq: int, problem: str) -> VerifyReport:
        return VerifyReport(False, count, expected_seq - 1, keyed, seq, problem)

    for entry in _entries(session):
        if entry.seq != expected_seq:
            return bad(expected_seq, f"entry {expected_seq} is missing (next entry found is {entry.seq})")
        if entry.prev_hash != prev_hash:
            return bad(entry.seq, "previous-hash link broken: an entry before it was removed, inserted or reordered")
        recomputed = compute_hash(entry)
        if recomputed != entry.entry_hash:
            return bad(entry.seq, "entry content does not match its hash: altered (or swapped with another entry)")
        if keys is not None and entry.entry_mac != entry_mac(keys, entry.seq, entry.entry_hash):
            return bad(entry.seq, "entry MAC invalid: the entry was rewritten by someone without the audit key")
        prev_hash, expected_seq, count = entry.entry_hash, expected_seq + 1, count + 1
    head = session.execute(select(_HEAD.c.seq, _HEAD.c.entry_hash, _HEAD.c.head_mac).where(_HEAD.c.id == 1)).first()
    last = expected_seq - 1
    if head is None:
        return bad(last + 1, "the chain head row is missing")
    if int(head.seq) > last:
        return bad(last + 1, f"entries {last + 1}..{head.seq} were removed from the end of the log")
    if int(head.seq) < last:
        return bad(int(head.seq) + 1, "entries were appended after the recorded chain head")
    if head.entry_hash != prev_hash:
        return bad(last, "the chain head does not name the last entry's hash")
    if keys is not None and last > 0 and head.head_mac != head_mac(keys, last, prev_hash):
        return bad(last, "chain head MAC invalid: the head was rewritten by someone without the audit key")
    return VerifyReport(True, count, last, keyed)


# -- reading --------------------------------------------------------------------------------------------------


def entry_dict(entry: AuditEntry) -> dict[str, Any]:
    """An entry as a JSON-ready dictionary (``details`` parsed)."""
    return {
        **_chained_fields(entry),
        "details": json.loads(entry.details),
        "entry_hash": entry.entry_hash,
        "entry_mac": entry.entry_mac,
    }


def tail(session: Session, limit: int = 20) -> list[AuditEntry]:
    """The last ``limit`` entries, oldest first."""
    if limit < 1:
        raise InvalidInputError("limit must be positive", limit=limit)
    newest = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)).all()
    return list(reversed(newest))


def entries_since(
    session: Session, since: datetime | None = None, *, object_type: str | None = None, object_id: str | None = None
) -> Iterator[AuditEntry]:
    """Entries in sequence order, from ``since`` (inclusive) and optionally for one object."""
    after = 0
    while True:
        query = select(AuditEntry).where(AuditEntry.seq > after)
        if since is not None:
            query = query.where(AuditEntry.occurred_at >= since)
        if object_type is not None:
            query = query.where(AuditEntry.object_type == object_type)
        if object_id is not None:
            query = query.where(AuditEntry.object_id == object_id)
        batch = session.scalars(query.order_by(AuditEntry.seq).limit(_BATCH)).all()
        if not batch:
            return
        yield from batch
        after = batch[-1].seq
