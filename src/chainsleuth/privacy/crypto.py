"""Key derivation, field encryption (AES-256-GCM), blind indexes and pseudonym/audit MACs.

Everything here is pure: no database, no settings. One 32-byte master key (the key file) is expanded with HKDF
into independent keys, one per purpose label, so that compromising one derived key (say the blind-index key,
which lives in every search) reveals nothing about another, and so that field-encryption keys can be versioned
and rotated without touching the others:

``chainsleuth/field-encryption/v{N}``  encrypts personal fields (one key per version N)
``chainsleuth/blind-index/v1``         keyed HMAC of normalised values (searchable without decrypting)
``chainsleuth/pseudonym/v1``           stable per-deployment customer pseudonyms
``chainsleuth/audit-mac/v1``           HMAC over audit-log entry hashes

A ciphertext is ``v{N}:`` + base64(nonce | ciphertext | tag). The associated data binds it to its table,
column and key version, so a value copied into another column, or given another version prefix, fails
authentication instead of decrypting to something misleading.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import os
import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from chainsleuth.errors import ConfigurationError, IntegrityError

KEY_BYTES = 32
NONCE_BYTES = 12
#: Bytes of HMAC-SHA256 kept in a blind index (hex: twice as many characters). 128 bits make accidental
#: collisions negligible at any customer count while still not storing the full MAC; see docs/privacy.md.
BLIND_INDEX_BYTES = 16
_CIPHERTEXT = re.compile(r"^v([1-9][0-9]{0,5}):([A-Za-z0-9+/]+={0,2})$")
_KEY_CHECK_LABEL = b"chainsleuth key check"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def derive_key(master_key: bytes, label: str) -> bytes:
    """A 32-byte key for ``label`` (HKDF-SHA256 over the master key; the label is the HKDF ``info``)."""
    if len(master_key) != KEY_BYTES:
        raise ConfigurationError(f"the master key must be {KEY_BYTES} bytes", found=len(master_key))
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=label.encode()).derive(master_key)


def field_key_label(version: int) -> str:
    """The HKDF label of field-encryption key ``version``."""
    return f"chainsleuth/field-encryption/v{version}"


BLIND_INDEX_LABEL = "chainsleuth/blind-index/v1"
PSEUDONYM_LABEL = "chainsleuth/pseudonym/v1"
AUDIT_MAC_LABEL = "chainsleuth/audit-mac/v1"


def associated_data(table: str, column: str, version: int) -> bytes:
    """What a ciphertext is bound to: its table, its column and its key version."""
    return f"chainsleuth|{table}.{column}|v{version}".encode()


def parse_ciphertext(value: str) -> tuple[int, bytes] | None:
    """``(version, nonce|ciphertext|tag)`` of a stored value, or None when it is not in ciphertext format."""
    match = _CIPHERTEXT.match(value)
    if match is None:
        return None
    try:
        blob = base64.b64decode(match.group(2), validate=True)
    except binascii.Error:
        return None
    if len(blob) < NONCE_BYTES + 16:
        return None
    return int(match.group(1)), blob


def ciphertext_version(value: str) -> int | None:
    """The key version named by a stored value's prefix (None if it is not a ciphertext)."""
    parsed = parse_ciphertext(value)
    return parsed[0] if parsed is not None else None


class FieldKeys:
    """The field-encryption keys of one master key, derived on demand and cached per version."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != KEY_BYTES:
            raise ConfigurationError(f"the master key must be {KEY_BYTES} bytes", found=len(master_key))
        self._master = master_key
        self._ciphers: dict[int, AESGCM] = {}
        self.blind_index_key = derive_key(master_key, BLIND_INDEX_LABEL)
        self.pseudonym_key = derive_key(master_key, PSEUDONYM_LABEL)
        self.audit_mac_key = derive_key(master_key, AUDIT_MAC_LABEL)

    def _cipher(self, version: int) -> AESGCM:
        cipher = self._ciphers.get(version)
        if cipher is None:
            cipher = AESGCM(derive_key(self._master, field_key_label(version)))
            self._ciphers[version] = cipher
        return cipher

    def check_value(self, version: int) -> str:
        """A fingerprint of key ``version`` (stored in ``privacy_keys`` to recognise a wrong master key)."""
        key = derive_key(self._master, field_key_label(version))
        return hmac.new(key, _KEY_CHECK_LABEL, hashlib.sha256).hexdigest()

    def encrypt(self, plaintext: str, *, table: str, column: str, version: int) -> str:
        """``v{version}:`` + base64(nonce | ciphertext | tag), with a fresh random 96-bit nonce."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._cipher(version).encrypt(
            nonce, plaintext.encode("utf-8"), associated_data(table, column, version)
        )
        return f"v{version}:" + base64.b64encode(nonce + sealed).decode("ascii")

    def decrypt(self, stored: str, *, table: str, column: str) -> str:
        """The plaintext of a stored ciphertext; IntegrityError if it is malformed or fails authentication."""
        parsed = parse_ciphertext(stored)
        if parsed is None:
            raise IntegrityError(
                f"{table}.{column} holds a value that is not chainsleuth ciphertext (clear text written around "
                "the privacy layer?); encrypt legacy values with `chainsleuth privacy rotate-key`",
                table=table,
                column=column,
            )
        version, blob = parsed
        return self.decrypt_parsed(version, blob, table=table, column=column)

    def decrypt_parsed(self, version: int, blob: bytes, *, table: str, column: str) -> str:
        """Decrypt an already parsed ciphertext (see :func:`parse_ciphertext`)."""
        nonce, sealed = blob[:NONCE_BYTES], blob[NONCE_BYTES:]
        try:
            plain = self._cipher(version).decrypt(nonce, sealed, associated_data(table, column, version))
        except InvalidTag:
            raise IntegrityError(
                f"cannot decrypt {table}.{column} (key v{version}): the master key is not the one this value "
                "was encrypted with, or the value was altered or moved from another column",
                table=table,
                column=column,
                key_version=version,
            ) from None
        return plain.decode("utf-8")

    # -- keyed hashes -------------------------------------------------------------------------------------

    def blind_index(self, kind: str, value: str | None) -> str | None:
        """The blind index of ``value`` for search ``kind`` (None when the value normalises to nothing)."""
        if value is None:
            return None
        normalised = normalise(kind, value)
        if not normalised:
            return None
        message = kind.encode() + b"\x1f" + normalised.encode("utf-8")
        return hmac.digest(self.blind_index_key, message, "sha256")[:BLIND_INDEX_BYTES].hex()

    def pseudonym(self, customer_id: str, prefix: str = "CUST") -> str:
        """A stable pseudonym such as ``CUST-7F3A-91B2-XK4M`` (60 bits of a keyed HMAC, Crockford base32)."""
        digest = hmac.new(self.pseudonym_key, customer_id.encode("utf-8"), hashlib.sha256).digest()
        number = int.from_bytes(digest[:8], "big") >> 4  # 60 bits
        chars = "".join(_CROCKFORD[(number >> shift) & 31] for shift in range(55, -1, -5))
        return f"{prefix}-{chars[0:4]}-{chars[4:8]}-{chars[8:12]}"

    def audit_mac(self, message: str) -> str:
        """HMAC-SHA256 (hex) of an audit-log message under the audit key."""
        return hmac.new(self.audit_mac_key, message.encode("utf-8"), hashlib.sha256).hexdigest()


# -- normalisation for blind indexes ---------------------------------------------------------------------


def normalise_email(value: str) -> str:
    """Trimmed and lower-cased (NFKC first so that full-width look-alikes compare equal)."""
    return unicodedata.normalize("NFKC", value).strip().lower()


def normalise_phone(value: str) -> str:
    """E.164 digits without the ``+``: ``+44 20 7946-0018``, ``0044 20 79460018`` -> ``442079460018``.

    A number written without its country code (``020 …``) cannot be turned into E.164 without knowing the
    country, so it keeps its national digits and will not match the stored E.164 number (see docs).
    """
    text = unicodedata.normalize("NFKC", value).strip()
    digits = "".join(ch for ch in text if ch.isdigit())
    if not text.startswith("+") and digits.startswith("00"):
        digits = digits[2:]
    return digits


def normalise_name(value: str) -> str:
    """Case-folded, accents stripped, punctuation as spaces, whitespace collapsed: ``Zoë  Ünicode-Example``
    -> ``zoe unicode example``.
    """
    decomposed = unicodedata.normalize("NFKD", value)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    spaced = "".join(ch if ch.isalnum() else " " for ch in stripped)
    return " ".join(spaced.split())


def normalise_document(value: str) -> str:
    """Upper-cased, letters and digits only: ``ab-123 456`` -> ``AB123456``."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", value).upper() if ch.isalnum())


def normalise_ip(value: str) -> str:
    """The canonical text of an IP address (``2001:DB8::0:1`` -> ``2001:db8::1``); other text trimmed."""
    text = value.strip()
    try:
        return ipaddress.ip_address(text).compressed
    except ValueError:
        return text.lower()


NORMALISERS: dict[str, Callable[[str], str]] = {
    "email": normalise_email,
    "phone": normalise_phone,
    "name": normalise_name,
    "document": normalise_document,
    "ip": normalise_ip,
}


def normalise(kind: str, value: str) -> str:
    """Normalise ``value`` for blind-index ``kind``; ValueError for an unknown kind."""
    try:
        return NORMALISERS[kind](value)
    except KeyError:
        raise ValueError(f"unknown blind-index kind {kind!r}") from None


@lru_cache(maxsize=8)
def keys_for(master_key: bytes) -> FieldKeys:
    """The (cached) :class:`FieldKeys` of a master key."""
    return FieldKeys(master_key)
