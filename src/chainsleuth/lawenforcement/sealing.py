"""Bytes at rest and bytes in transit: envelope-encrypted files, and packages sealed for one agency.

At rest (:func:`store_file`, :func:`read_file`): every file gets a fresh random AES-256-GCM key; the bytes are
encrypted with it and the key itself is stored in ``le_files.data_key``, an encrypted column of the privacy
layer. So the master key never encrypts bulk data directly, a rotation of the field-encryption key re-wraps the
small data keys instead of re-encrypting megabytes, and the associated data (file id-independent: kind and
SHA-256) makes a blob swapped between rows fail authentication.

In transit (:func:`seal_for_agency`, :func:`open_sealed`): a disclosure package is encrypted with its own
AES-256-GCM key, and that key is wrapped

* to the agency's X25519 public key from the registry (an ephemeral key pair, ECDH, HKDF-SHA256), so only the
  holder of the agency's private key can open it; or
* when the agency has no key, with a key derived by scrypt from a random password that the portal shows to
  staff exactly once, to be given to the agency out of band (a call-back to a registry number). The password
  is never stored.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from sqlalchemy.orm import Session

from chainsleuth.errors import IntegrityError, InvalidInputError
from chainsleuth.store.models.lawenforcement import LeFile

_NONCE = 12
_WRAP_LABEL = b"chainsleuth/le-package/v1"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (ValueError, TypeError) as error:
        raise InvalidInputError(f"{what} is not valid base64") from error


def sha256_hex(data: bytes) -> str:
    """SHA-256 of ``data`` as hex."""
    return hashlib.sha256(data).hexdigest()


# -- at rest -----------------------------------------------------------------------------------------------------


def _aad(kind: str, digest: str) -> bytes:
    return f"chainsleuth|le_files|{kind}|{digest}".encode()


def store_file(
    session: Session,
    data: bytes,
    *,
    kind: str,
    filename: str,
    media_type: str,
    request_id: int | None = None,
) -> LeFile:
    """Encrypt ``data`` under a fresh data key and add it as an ``le_files`` row (flushed)."""
    key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(_NONCE)
    digest = sha256_hex(data)
    row = LeFile(
        request_id=request_id,
        kind=kind,
        filename=filename[:255] or "file",
        media_type=media_type,
        sha256=digest,
        size=len(data),
        data_key=_b64(key),
        blob=nonce + AESGCM(key).encrypt(nonce, data, _aad(kind, digest)),
    )
    session.add(row)
    session.flush()
    return row


def read_file(row: LeFile) -> bytes:
    """The clear bytes of a stored file; IntegrityError when they were altered (tag or SHA-256 mismatch)."""
    key = _unb64(row.data_key, "data key")
    blob = bytes(row.blob)
    try:
        data = AESGCM(key).decrypt(blob[:_NONCE], blob[_NONCE:], _aad(row.kind, row.sha256))
    except InvalidTag:
        raise IntegrityError("a stored law-enforcement file fails authentication", file_id=row.id) from None
    if sha256_hex(data) != row.sha256:  # pragma: no cover - the tag already covers this
        raise IntegrityError("a stored law-enforcement file does not match its hash", file_id=row.id)
    return data


# -- in transit --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sealed:
    """A sealed package: ciphertext, the public envelope header, and (password mode) the one-time password."""

    ciphertext: bytes
    envelope: dict[str, Any]
    password: str | None


def generate_agency_keypair() -> tuple[str, str]:
    """A new X25519 key pair as ``(private, public)`` base64 strings (what an agency registers: the public)."""
    private = X25519PrivateKey.generate()
    raw_private = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    raw_public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return _b64(raw_private), _b64(raw_public)


def parse_public_key(text: str) -> X25519PublicKey:
    """An X25519 public key from base64; InvalidInputError for anything else."""
    raw = _unb64(text.strip(), "public key")
    if len(raw) != 32:
        raise InvalidInputError("an X25519 public key is 32 bytes (base64)", length=len(raw))
    return X25519PublicKey.from_public_bytes(raw)


def _kek_x25519(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_WRAP_LABEL + ephemeral + recipient).derive(
        shared
    )


def _kek_password(password: str, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, n=2**15, r=8, p=1).derive(password.encode("utf-8"))


def seal_for_agency(data: bytes, *, reference: str, agency_public_key: str | None) -> Sealed:
    """Encrypt ``data`` with a fresh package key and wrap that key for the agency (X25519, else a password)."""
    package_key = AESGCM.generate_key(bit_length=256)
    aad = f"chainsleuth|package|{reference}".encode()
    nonce = os.urandom(_NONCE)
    ciphertext = AESGCM(package_key).encrypt(nonce, data, aad)
    wrap_nonce = os.urandom(_NONCE)
    envelope: dict[str, Any] = {
        "format": "chainsleuth-package-v1",
        "cipher": "AES-256-GCM",
        "reference": reference,
        "nonce": _b64(nonce),
        "wrap_nonce": _b64(wrap_nonce),
    }
    password: str | None = None
    if agency_public_key:
        recipient = parse_public_key(agency_public_key)
        recipient_raw = recipient.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        ephemeral = X25519PrivateKey.generate()
        ephemeral_raw = ephemeral.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        kek = _kek_x25519(ephemeral.exchange(recipient), ephemeral_raw, recipient_raw)
        envelope |= {"key_wrap": "X25519-HKDF-SHA256", "ephemeral_public_key": _b64(ephemeral_raw),
                     "recipient_public_key": _b64(recipient_raw)}  # fmt: skip
    else:
        password = "-".join(secrets.token_urlsafe(6) for _ in range(4))
        salt = os.urandom(16)
        kek = _kek_password(password, salt)
        envelope |= {"key_wrap": "scrypt-N32768-r8-p1", "salt": _b64(salt)}
    envelope["wrapped_key"] = _b64(AESGCM(kek).encrypt(wrap_nonce, package_key, aad))
    return Sealed(ciphertext=ciphertext, envelope=envelope, password=password)


def open_sealed(
    ciphertext: bytes, envelope: dict[str, Any], *, private_key: str | None = None, password: str | None = None
) -> bytes:
    """What an agency runs to open a package: its X25519 private key (base64) or the out-of-band password."""
    aad = f"chainsleuth|package|{envelope['reference']}".encode()
    if envelope.get("key_wrap") == "X25519-HKDF-SHA256":
        if private_key is None:
            raise InvalidInputError("this package is sealed to an agency key: give the private key")
        own = X25519PrivateKey.from_private_bytes(_unb64(private_key, "private key"))
        ephemeral_raw = _unb64(envelope["ephemeral_public_key"], "ephemeral key")
        recipient_raw = own.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        kek = _kek_x25519(own.exchange(X25519PublicKey.from_public_bytes(ephemeral_raw)), ephemeral_raw, recipient_raw)
    else:
        if password is None:
            raise InvalidInputError("this package is sealed with a password: give the password")
        kek = _kek_password(password, _unb64(envelope["salt"], "salt"))
    try:
        package_key = AESGCM(kek).decrypt(
            _unb64(envelope["wrap_nonce"], "nonce"), _unb64(envelope["wrapped_key"], "key"), aad
        )
        return AESGCM(package_key).decrypt(_unb64(envelope["nonce"], "nonce"), ciphertext, aad)
    except InvalidTag:
        raise IntegrityError("cannot open the package: wrong key or password, or the package was altered") from None
