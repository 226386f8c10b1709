"""Shared pieces of the law-enforcement pages (officers' portal and the response team's desk).

Uploads are read in chunks and refused as soon as they pass the deployment's limit, exactly like the HTTP API,
so a browser cannot make the server buffer more than it would accept. A browser loses response headers on a
download, so the sealed package is handed out as one self-contained zip: the ciphertext, the public envelope
(the API's ``X-Package-Envelope``) and a short text on how to open it.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
from fastapi import UploadFile
from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.errors import InvalidInputError, PayloadTooLargeError
from chainsleuth.lawenforcement import agencies, officers
from chainsleuth.privacy.policy import Actor
from chainsleuth.store.models.lawenforcement import LeOfficer
from chainsleuth.store.models.users import User
from chainsleuth.web.core import fmt_time, templates

#: The seeded demo officer (``store.users.DEMO_USERS``) and the official address it registers with.
DEMO_OFFICER = ("officer", "officer@police.example")
OPENING_HELP = """This is a sealed law-enforcement disclosure package from the exchange.

package.zip.enc   the package (a zip: one CSV per data category, data.json, report.pdf, manifest.json),
                  encrypted with AES-256-GCM
envelope.json     the public header: algorithm, nonces and the wrapped package key

Open it with your agency's X25519 private key or, when the agency has no key on the registry, with the password
the exchange gave you by telephone:

    from chainsleuth.lawenforcement.sealing import open_sealed
    zip_bytes = open_sealed(ciphertext, envelope, private_key=...)   # or password=...

Check every file against manifest.json (SHA-256 and size) before relying on it.
"""


async def read_upload(upload: UploadFile | None, limit: int, what: str) -> bytes | None:
    """The upload's bytes (None when no file was chosen), refused as soon as they pass ``limit``."""
    if upload is None or not upload.filename:
        return None
    chunks, size = [], 0
    while chunk := await upload.read(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(
                f"the {what} is larger than the upload limit of {limit // (1024 * 1024) or 1} MB", limit=limit
            )
        chunks.append(chunk)
    return b"".join(chunks)


def fmt_when(value: Any) -> str:
    """An ISO time string of the API's views (or a datetime) as the console shows times."""
    if isinstance(value, str) and value:
        try:
            return fmt_time(datetime.fromisoformat(value))
        except ValueError:
            return value
    return fmt_time(value)


templates.env.filters["when"] = fmt_when


def parse_day(value: str | None, field: str, *, end: bool = False) -> datetime | None:
    """A date field (``YYYY-MM-DD`` or an ISO time) as an aware UTC time; ``end`` takes the end of that day."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(f"{field.replace('_', ' ')} is not a date (YYYY-MM-DD)", field=field) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if end and len(text) == 10:
        moment += timedelta(days=1) - timedelta(seconds=1)
    return moment


def safe_filename(name: str, fallback: str = "attachment") -> str:
    """A file name safe inside a Content-Disposition header (letters, digits, dot, dash, underscore)."""
    return "".join(ch for ch in name if ch.isalnum() or ch in "._-")[:100] or fallback


def sealed_container(ciphertext: bytes, envelope: dict[str, Any]) -> bytes:
    """The download an officer keeps: ciphertext, envelope and opening instructions in one zip."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("package.zip.enc", ciphertext)
        archive.writestr("envelope.json", json.dumps(envelope, indent=1, sort_keys=True))
        archive.writestr("README.txt", OPENING_HELP)
    return buffer.getvalue()


def open_container(data: bytes) -> tuple[bytes, dict[str, Any]]:
    """``(ciphertext, envelope)`` of a downloaded container (what an agency's tool reads first)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        envelope: dict[str, Any] = json.loads(archive.read("envelope.json"))
        return archive.read("package.zip.enc"), envelope


def seed_demo_officer(session: Session, admin: Actor, *, now: datetime | None = None) -> str:
    """Make the seeded ``officer`` a verified, enrolled, approved officer of DEMO-POLICE; returns its TOTP secret.

    Demo and tests only, like the seeded users themselves: it loads the example agency registry (audited) when
    the agency is missing, then writes the registration directly as verified, enrolled and approved, because a
    demo has no mailbox and no phone to complete those steps with.
    """
    username, email = DEMO_OFFICER
    at = now or datetime.now(UTC)
    if not any(a.agency_id == "DEMO-POLICE" for a in agencies.list_agencies(session)):
        agencies.load_registry(session, admin, agencies.EXAMPLE_FILE, now=at - timedelta(days=400))
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise InvalidInputError("seed the demo users first", username=username)
    officer = session.scalar(select(LeOfficer).where(LeOfficer.username == username))
    if officer is None:
        officer = LeOfficer(username=username, agency_id=user.agency_id or "DEMO-POLICE", email=email,
                            email_nonce="", status="pending", failed_checks=0,
                            created_at=at - timedelta(days=200))  # fmt: skip
        session.add(officer)
        session.flush()
    officer.email_verified_at = officer.email_verified_at or at
    if officer.totp_confirmed_at is None or not user.totp_secret:
        user.totp_secret = pyotp.random_base32()
        officer.totp_confirmed_at, officer.totp_last_step = at, None
    if officer.status != "approved":
        officer.status, officer.approved_by, officer.approved_at = "approved", admin.username, at
    session.flush()
    return str(officers.get_officer(session, username) and user.totp_secret)
