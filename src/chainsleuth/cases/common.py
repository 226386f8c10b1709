"""What every mutation of a case shares: the version check, the timeline entry and the audit record.

Every mutating call of :mod:`chainsleuth.cases` takes the ``expected_version`` its caller read and goes through
:func:`case_for_update`: a different stored version raises :class:`StaleVersionError` at once, and because
:func:`touch` always updates the ``cases`` row (whose ``version`` is SQLAlchemy's ``version_id_col``), a
concurrent writer that passed the check at the same moment still loses at UPDATE time (``WHERE version = …``
matches nothing). So two investigators can never silently overwrite each other, not even by adding a note.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from chainsleuth.errors import InvalidInputError, NotFoundError, StaleVersionError
from chainsleuth.privacy import audit
from chainsleuth.privacy.policy import Actor
from chainsleuth.store.db import stale_version_guard
from chainsleuth.store.models.cases import Case, CaseEvent
from chainsleuth.store.types import utcnow

#: The ``object_type`` of cases in the audit log.
CASE_OBJECT = "case"


def moment(now: datetime | None) -> datetime:
    """``now`` as an aware UTC datetime (the current time when None); naive datetimes are refused."""
    if now is None:
        return utcnow()
    if now.tzinfo is None or now.utcoffset() is None:
        raise InvalidInputError("times must carry a time zone (UTC)", value=now.isoformat())
    return now.astimezone(UTC)


def aware(value: datetime | None, field: str) -> datetime | None:
    """A caller-supplied time as aware UTC (InvalidInputError naming ``field`` when naive)."""
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInputError(f"{field} must carry a time zone (UTC)", field=field)
    return value.astimezone(UTC)


def iso(value: datetime | None) -> str | None:
    """``value`` in ISO 8601, or None (the views' time format)."""
    return value.isoformat() if value else None


def required_text(value: str | None, field: str, *, max_length: int | None = None) -> str:
    """``value`` stripped; InvalidInputError when empty or longer than ``max_length``."""
    text = (value or "").strip()
    if not text:
        raise InvalidInputError(f"{field} is required", field=field)
    if max_length is not None and len(text) > max_length:
        raise InvalidInputError(f"{field} is longer than {max_length} characters", field=field, length=len(text))
    return text


def canonical_json(payload: Any) -> str:
    """Canonical JSON (sorted keys, no spaces, UTF-8): the bytes whose SHA-256 is an evidence hash."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def get_case_row(session: Session, case_id: int) -> Case:
    """The case, or NotFoundError."""
    case = session.get(Case, case_id)
    if case is None:
        raise NotFoundError("no such case", case_id=case_id)
    return case


def check_version(kind: str, object_id: int, stored: int, expected: int) -> None:
    """StaleVersionError unless the caller read the current version."""
    if stored != expected:
        raise StaleVersionError(
            f"the {kind} was changed by someone else since you read it (you read version {expected}, it is now "
            f"version {stored}); reload it and try again",
            **{f"{kind}_id": object_id, "expected_version": expected, "current_version": stored},
        )


def case_for_update(session: Session, case_id: int, expected_version: int) -> Case:
    """The case, checked against ``expected_version`` (StaleVersionError when someone changed it since)."""
    case = get_case_row(session, case_id)
    check_version("case", case.id, case.version, expected_version)
    return case


def touch(session: Session, case: Case, now: datetime) -> None:
    """Bump the case's version (an UPDATE of its row) and flush, turning a lost race into StaleVersionError."""
    case.updated_at = now
    flag_modified(case, "updated_at")  # an UPDATE even when the time did not change: the version must move
    with stale_version_guard():
        session.flush()


def record_event(
    session: Session, case: Case, actor: Actor, event_type: str, details: Mapping[str, Any], now: datetime
) -> CaseEvent:
    """Append one timeline entry to ``case``."""
    event = CaseEvent(
        case_id=case.id, occurred_at=now, actor=actor.username, event_type=event_type, details=dict(details)
    )
    session.add(event)
    return event


def audited(
    session: Session,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: int | str,
    details: Mapping[str, Any] | None = None,
    purpose: str | None = None,
) -> None:
    """Record ``action`` in the audit log inside the caller's transaction (no audit, no change)."""
    audit.record(session, actor, action, object_type, str(object_id), purpose=purpose, details=details)


def case_changed(
    session: Session,
    case: Case,
    actor: Actor,
    event_type: str,
    details: Mapping[str, Any],
    now: datetime,
) -> None:
    """The tail of every case mutation: timeline entry, version bump, audit entry ``case.<event_type>``."""
    record_event(session, case, actor, event_type, details, now)
    touch(session, case, now)
    audited(session, actor, f"case.{event_type}", CASE_OBJECT, case.id, details)
