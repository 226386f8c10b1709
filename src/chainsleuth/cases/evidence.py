"""Evidence of a case, each piece with a SHA-256 recorded when it was added and verifiable at any time.

Three kinds of content:

* **results** (``trace``, ``exposure``): a :class:`~chainsleuth.chain.tracing.TraceResult`,
  :class:`~chainsleuth.chain.exposure.query.EntityExposure` (anything with ``to_dict()``) or a plain mapping,
  stored as canonical JSON in the row; the hash is over those exact bytes.
* **ledger extracts**: the named ledger events as booked, without their personal columns (``ip``,
  ``bank_reference``): an extract must not become a side door to personal data.
* **documents**: uploaded bytes, encrypted under a per-file key (see :mod:`chainsleuth.cases.evidence_files`)
  and stored under ``<data dir>/evidence/case-<id>/`` with random names (written to a temporary file and
  renamed so a crash never leaves half a document), refused beyond ``Settings.max_upload_bytes`` with
  :class:`PayloadTooLargeError` while streaming, before anything is written. The recorded SHA-256 is of the
  clear document.

:func:`read_evidence` is the one audited way to get evidence content out (CLI ``cases evidence get``, HTTP
``GET /api/cases/evidence/{id}/content``). :func:`verify_evidence` recomputes the hash from what is stored
now; a modified file, a modified row or a missing file is reported, never silently accepted.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.cases.common import (
    canonical_json,
    case_changed,
    case_for_update,
    get_case_row,
    moment,
    required_text,
    sha256_hex,
)
from chainsleuth.cases.evidence_files import evidence_directory, open_sealed, seal_to_disk
from chainsleuth.config import Settings, get_settings
from chainsleuth.errors import IntegrityError, InvalidInputError, NotFoundError, PayloadTooLargeError, StorageError
from chainsleuth.privacy import audit
from chainsleuth.privacy.policy import Actor, require
from chainsleuth.store.models.cases import CaseEvidence
from chainsleuth.store.models.ledger import LedgerEvent
from chainsleuth.store.models.personal import personal_columns

JSON_KINDS = ("trace", "exposure")
_CHUNK = 1 << 16
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class HasToDict(Protocol):
    """A result object that can describe itself as JSON-ready data (traces, exposures)."""

    def to_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class EvidenceCheck:
    """The outcome of verifying one piece of evidence."""

    evidence_id: int
    ok: bool
    expected_sha256: str
    actual_sha256: str | None
    problem: str | None = None


def evidence_dir(settings: Settings, case_id: int) -> Path:
    """Where the (encrypted) documents of a case are stored."""
    return evidence_directory(settings.data_dir, case_id)


def _add(
    session: Session, actor: Actor, case_id: int, expected_version: int, now: datetime | None, **fields: Any
) -> CaseEvidence:
    case = case_for_update(session, case_id, expected_version)
    if case.status == "closed":
        raise InvalidInputError("a closed case takes no new evidence; reopen it first", case_id=case_id)
    at = moment(now)
    row = CaseEvidence(case_id=case.id, added_by=actor.username, added_at=at, **fields)
    session.add(row)
    session.flush()
    case_changed(session, case, actor, "evidence_added",
                 {"evidence_id": row.id, "kind": row.kind, "title": row.title, "sha256": row.sha256}, at)  # fmt: skip
    return row


def add_result(
    session: Session,
    actor: Actor,
    case_id: int,
    expected_version: int,
    kind: str,
    result: HasToDict | Mapping[str, Any],
    *,
    title: str,
    now: datetime | None = None,
) -> CaseEvidence:
    """Attach a trace or exposure result as evidence (``case.update``)."""
    require(actor, "case.update")
    if kind not in JSON_KINDS:
        raise InvalidInputError("unknown result kind", kind=kind, allowed=list(JSON_KINDS))
    payload = dict(result) if isinstance(result, Mapping) else result.to_dict()
    content = canonical_json(payload)
    data = content.encode("utf-8")
    return _add(session, actor, case_id, expected_version, now, kind=kind,
                title=required_text(title, "title", max_length=200), sha256=sha256_hex(data), size_bytes=len(data),
                media_type="application/json", content=content)  # fmt: skip


_LEDGER_COLUMNS = [
    column.name
    for column in LedgerEvent.__table__.columns
    if column.name not in personal_columns(LedgerEvent) and not column.name.endswith("_bidx")
]


def ledger_extract(session: Session, event_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The named ledger events as plain data (personal columns left out), in booking order."""
    wanted = list(dict.fromkeys(event_ids))
    rows = list(session.scalars(select(LedgerEvent).where(LedgerEvent.event_id.in_(wanted))))
    missing = sorted(set(wanted) - {row.event_id for row in rows})
    if missing:
        raise NotFoundError("no such ledger events", event_ids=missing)
    rows.sort(key=lambda row: (row.timestamp, row.event_id))
    out: list[dict[str, Any]] = []
    for row in rows:
        item = {name: getattr(row, name) for name in _LEDGER_COLUMNS}
        out.append({k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in item.items()})
    return out


def add_ledger_extract(
    session: Session, actor: Actor, case_id: int, expected_version: int, event_ids: Sequence[str],
    *, title: str = "Ledger extract", now: datetime | None = None,
) -> CaseEvidence:  # fmt: skip
    """Attach an extract of ledger events (``case.update`` and ``ledger.read``)."""
    require(actor, "case.update")
    require(actor, "ledger.read")
    if not event_ids:
        raise InvalidInputError("name at least one ledger event", field="event_ids")
    content = canonical_json(
        {"event_ids": list(dict.fromkeys(event_ids)), "events": ledger_extract(session, event_ids)}
    )
    data = content.encode("utf-8")
    return _add(session, actor, case_id, expected_version, now, kind="ledger_extract",
                title=required_text(title, "title", max_length=200), sha256=sha256_hex(data), size_bytes=len(data),
                media_type="application/json", content=content)  # fmt: skip


def _read_limited(stream: IO[bytes], limit: int) -> tuple[bytes, str]:
    """The whole of ``stream`` and its SHA-256; PayloadTooLargeError as soon as it passes ``limit`` bytes.

    Documents are encrypted in one AES-GCM operation, so they are held in memory; the upload limit bounds that.
    """
    digest, size, chunks = hashlib.sha256(), 0, []
    while chunk := stream.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"the document is larger than the upload limit of {limit} bytes", limit=limit)
        digest.update(chunk)
        chunks.append(chunk)
    return b"".join(chunks), digest.hexdigest()


def add_document(
    session: Session,
    actor: Actor,
    case_id: int,
    expected_version: int,
    data: bytes | IO[bytes],
    *,
    filename: str,
    title: str | None = None,
    media_type: str = "application/octet-stream",
    settings: Settings | None = None,
    now: datetime | None = None,
) -> CaseEvidence:
    """Store an uploaded document under the data directory and attach it with its hash (``case.update``)."""
    require(actor, "case.update")
    settings = settings or get_settings()
    case_for_update(session, case_id, expected_version)  # fail before writing anything
    name = _SAFE_NAME.sub("_", Path(required_text(filename, "filename", max_length=255)).name).strip("._") or "document"
    stream: IO[bytes] = io.BytesIO(bytes(data)) if isinstance(data, bytes | bytearray) else data
    try:
        content, digest = _read_limited(stream, settings.max_upload_bytes)
    except OSError as error:
        raise StorageError(f"cannot read the uploaded document: {error}") from error
    sealed = seal_to_disk(settings.data_dir, case_id, content, digest)
    try:
        return _add(session, actor, case_id, expected_version, now, kind="document",
                    title=required_text(title or name, "title", max_length=200), sha256=digest,
                    size_bytes=len(content), media_type=media_type[:100], filename=name,
                    storage_path=sealed.relative_path, data_key=sealed.data_key)  # fmt: skip
    except BaseException:
        (settings.data_dir / sealed.relative_path).unlink(missing_ok=True)
        raise


def list_evidence(session: Session, case_id: int) -> list[CaseEvidence]:
    return list(session.scalars(select(CaseEvidence).where(CaseEvidence.case_id == case_id).order_by(CaseEvidence.id)))


def _get(session: Session, evidence_id: int) -> CaseEvidence:
    row = session.get(CaseEvidence, evidence_id)
    if row is None:
        raise NotFoundError("no such evidence", evidence_id=evidence_id)
    return row


def evidence_bytes(row: CaseEvidence, settings: Settings) -> bytes:
    """The clear bytes of a piece of evidence, without permission check or audit: for :func:`read_evidence`
    and verification only (StorageError when a document's file is gone, IntegrityError when it was altered).
    """
    if row.kind != "document":
        return (row.content or "").encode("utf-8")
    path = settings.data_dir / (row.storage_path or "")
    try:
        blob = path.read_bytes()
    except OSError as error:
        raise StorageError(f"the stored document of evidence {row.id} cannot be read: {error}",
                           evidence_id=row.id, path=str(path)) from error  # fmt: skip
    if row.data_key is None:  # stored in clear before migration 0009, which encrypts every such file
        return blob
    return open_sealed(blob, row.data_key, row.case_id, row.sha256, evidence_id=row.id)


def read_evidence(
    session: Session, actor: Actor, evidence_id: int, *, settings: Settings | None = None
) -> tuple[CaseEvidence, bytes]:
    """The evidence row and its clear bytes (``case.read``): the audited read of evidence content."""
    require(actor, "case.read")
    row = _get(session, evidence_id)
    data = evidence_bytes(row, settings or get_settings())
    audit.record(session, actor, "evidence.read", "case_evidence", str(row.id), details={"case_id": row.case_id})
    return row, data


def check(row: CaseEvidence, settings: Settings) -> EvidenceCheck:
    """Recompute the hash of one piece of evidence from what is stored now."""
    try:
        actual = sha256_hex(evidence_bytes(row, settings))
    except (StorageError, IntegrityError) as error:
        return EvidenceCheck(row.id, False, row.sha256, None, error.message)
    if actual != row.sha256:
        return EvidenceCheck(row.id, False, row.sha256, actual, "content does not match the hash recorded when added")
    return EvidenceCheck(row.id, True, row.sha256, actual)


def verify_evidence(
    session: Session, actor: Actor, case_id: int, *, settings: Settings | None = None
) -> list[EvidenceCheck]:
    """Verify every piece of evidence of a case (``case.read``); the outcome is audited."""
    require(actor, "case.read")
    get_case_row(session, case_id)
    settings = settings or get_settings()
    results = [check(row, settings) for row in list_evidence(session, case_id)]
    bad = [r.evidence_id for r in results if not r.ok]
    audit.record(session, actor, "evidence.verify", "case", str(case_id),
                 details={"checked": len(results), "failed": bad})  # fmt: skip
    return results
