"""Password hashing with argon2id (argon2-cffi), the current OWASP recommendation.

Only hashes are ever stored. The hash string carries its own parameters, so raising the cost later is safe:
old hashes still verify, and :func:`needs_rehash` tells the login path to re-hash with the new parameters on
the next successful login. Tests swap in cheap parameters with :func:`configure`; production uses
argon2-cffi's defaults (argon2id, t=3, m=64 MiB, p=4).
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


def default_hasher() -> PasswordHasher:
    """The production hasher: argon2id with argon2-cffi's RFC 9106 "low memory" defaults."""
    return PasswordHasher()


_hasher = default_hasher()


def get_hasher() -> PasswordHasher:
    """The hasher in use."""
    return _hasher


def set_hasher(hasher: PasswordHasher) -> None:
    """Use ``hasher`` from now on (for example one with a higher cost)."""
    global _hasher
    _hasher = hasher


def configure(*, time_cost: int, memory_cost: int, parallelism: int) -> PasswordHasher:
    """Switch to argon2id with these parameters (``memory_cost`` in KiB) and return the new hasher."""
    hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)
    set_hasher(hasher)
    return hasher


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (salted: two calls give different strings)."""
    if not password:
        raise ValueError("empty password")
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``; False (never an exception) for a mismatch or a bad
    hash.
    """
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with parameters other than the current ones (so it should be re-hashed)."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except (InvalidHashError, ValueError):
        return True
