"""Evidence documents at rest: AES-256-GCM under a fresh per-file key, the key wrapped by the privacy layer.

The scheme is the one of ``le_files`` (:mod:`chainsleuth.lawenforcement.sealing`): every document gets its own
random 256-bit key; the file on disk is ``nonce | ciphertext | tag``; the key is kept, base64, in
``case_evidence.data_key``, an :class:`~chainsleuth.privacy.columns.EncryptedText` column. So the master key
never encrypts bulk data directly, ``chainsleuth privacy rotate-key`` re-wraps the small data keys instead of
rewriting files, and a copy of the evidence directory alone reveals nothing.

The associated data binds a file to its case and to the SHA-256 of its clear bytes (the hash recorded when the
document was added), so a file swapped with another case's fails authentication instead of decrypting. The
recorded hash stays the hash of the clear document: evidence verification and a court's copy still agree.

On-disk names are random (``<32 hex>.enc``): a file name such as ``passport-jane-doe.pdf`` is personal data
too, so it never reaches the file system.

Kept free of ORM imports so that migration 0009 (which encrypts documents stored in clear before it) uses the
very same functions.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from chainsleuth.errors import IntegrityError, StorageError

NONCE_BYTES = 12
SUFFIX = ".enc"


@dataclass(frozen=True)
class SealedFile:
    """A document written encrypted: its path relative to the data directory and its (clear) data key."""

    relative_path: str
    data_key: str


def associated_data(case_id: int, sha256: str) -> bytes:
    """What a stored document is bound to: its case and the hash of its clear bytes."""
    return f"chainsleuth|case_evidence|case-{case_id}|{sha256}".encode()


def evidence_directory(data_dir: Path, case_id: int) -> Path:
    """Where the documents of one case live."""
    return data_dir / "evidence" / f"case-{case_id}"


def seal_to_disk(data_dir: Path, case_id: int, data: bytes, sha256: str) -> SealedFile:
    """Encrypt ``data`` under a fresh key and write it atomically (temporary file, fsync, rename).

    StorageError when the directory cannot be written; nothing is left behind on failure.
    """
    key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(NONCE_BYTES)
    blob = nonce + AESGCM(key).encrypt(nonce, data, associated_data(case_id, sha256))
    directory = evidence_directory(data_dir, case_id)
    final = directory / f"{secrets.token_hex(16)}{SUFFIX}"
    temporary: str | None = None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=".upload-")
        with os.fdopen(handle, "wb") as out:
            out.write(blob)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, final)
    except OSError as error:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
        raise StorageError(f"cannot store the document under {directory}: {error}") from error
    return SealedFile(final.relative_to(data_dir).as_posix(), base64.b64encode(key).decode("ascii"))


def open_sealed(blob: bytes, data_key: str, case_id: int, sha256: str, *, evidence_id: int | None = None) -> bytes:
    """The clear bytes of a stored document; IntegrityError when the file was altered, swapped or truncated."""
    try:
        key = base64.b64decode(data_key, validate=True)
    except (binascii.Error, ValueError):
        raise IntegrityError("the data key of a stored document is malformed", evidence_id=evidence_id) from None
    if len(blob) < NONCE_BYTES + 16:
        raise IntegrityError("a stored evidence document is truncated", evidence_id=evidence_id)
    try:
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], associated_data(case_id, sha256))
    except InvalidTag:
        raise IntegrityError(
            "a stored evidence document fails authentication: it was altered, truncated or swapped with another",
            evidence_id=evidence_id,
        ) from None
