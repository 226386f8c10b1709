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

from fastapi import UploadFile

from chainsleuth.errors import InvalidInputError, PayloadTooLargeError
from chainsleuth.web.core import fmt_time, templates

#: The seeded demo officer (``store.users.DEMO_USERS``) and the official address it registers with.
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
