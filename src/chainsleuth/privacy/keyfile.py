"""The master key file: created once per deployment, never by the server itself outside the demo.

The privacy layer derives field-encryption and blind-index keys from it; keeping it a separate file (rather than a
setting) lets operators keep it on a different volume or a secrets mount.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from chainsleuth.errors import ConfigurationError, ConflictError

KEY_BYTES = 32


def create_key_file(path: Path, *, overwrite: bool = False) -> None:
    """Write a new random key to ``path`` with owner-only permissions."""
    if path.exists() and not overwrite:
        raise ConflictError("key file already exists; refusing to overwrite it without --force", path=str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    encoded = base64.b64encode(secrets.token_bytes(KEY_BYTES))
    temporary = path.with_suffix(path.suffix + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(encoded + b"\n")
    temporary.replace(path)


def read_key_file(path: Path) -> bytes:
    """Read and validate the master key."""
    try:
        raw = path.read_bytes().strip()
    except FileNotFoundError:
        raise ConfigurationError("encryption key file not found", path=str(path)) from None
    try:
        key = base64.b64decode(raw, validate=True)
    except ValueError:
        raise ConfigurationError("encryption key file is not valid base64", path=str(path)) from None
    if len(key) != KEY_BYTES:
        raise ConfigurationError(f"encryption key must be {KEY_BYTES} bytes", path=str(path), found=len(key))
    return key
