"""One exception hierarchy for the whole package.

Every error a user can cause is a :class:`ChainsleuthError` subclass carrying a human-readable message and,
optionally, structured ``details`` (file, line, field...). The HTTP layer (``chainsleuth.api.errors``) and the CLI
(``chainsleuth.cli.errors``) each translate these classes to a status or exit code in exactly one table, so the
domain code never needs to know how it is being called.
"""

from __future__ import annotations

from typing import Any


class ChainsleuthError(Exception):
    """Base of every error chainsleuth raises on purpose."""

    code = "error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details
        # set by code that already wrote this refusal to the audit log, so the request layer does not write it twice
        self.audited = False

    def __str__(self) -> str:
        if not self.details:
            return self.message
        extra = ", ".join(f"{key}={value}" for key, value in self.details.items())
        return f"{self.message} ({extra})"


class ConfigurationError(ChainsleuthError):
    """Settings are missing, inconsistent or unsafe (for example default secrets outside the demo)."""

    code = "configuration_error"


class InvalidInputError(ChainsleuthError):
    """Input that cannot be accepted: wrong type, out of range, malformed file."""

    code = "invalid_input"


class MalformedFileError(InvalidInputError):
    """A file that cannot be parsed; ``details`` names the file and, where known, the line."""

    code = "malformed_file"

    def __init__(self, message: str, *, path: str, line: int | None = None, **details: Any) -> None:
        if line is not None:
            super().__init__(message, path=path, line=line, **details)
        else:
            super().__init__(message, path=path, **details)
        self.path = path
        self.line = line


class PayloadTooLargeError(InvalidInputError):
    """An upload or request larger than the configured limit."""

    code = "payload_too_large"


class NotFoundError(ChainsleuthError):
    """The requested object does not exist (or the caller may not know that it does)."""

    code = "not_found"


class GoneError(ChainsleuthError):
    """The object existed but is no longer available: an expired disclosure package, a revoked or used link.

    Kept apart from :class:`NotFoundError` so a client can tell "ask for it to be re-issued" from "wrong id"
    (HTTP 410 rather than 404).
    """

    code = "gone"


class ConflictError(ChainsleuthError):
    """The request conflicts with the current state: a duplicate, or a concurrent edit (stale version)."""

    code = "conflict"


class StaleVersionError(ConflictError):
    """Optimistic locking: somebody else changed the object since the caller read it."""

    code = "stale_version"


class PolicyViolationError(ChainsleuthError):
    """The action is well-formed but forbidden by a business rule (frozen account, missing approver...)."""

    code = "policy_violation"


class AuthenticationError(ChainsleuthError):
    """The caller could not be identified (bad password, bad second factor, expired session)."""

    code = "authentication_failed"


class PermissionDeniedError(ChainsleuthError):
    """The caller is identified but their role or agency does not allow this."""

    code = "permission_denied"


class StorageError(ChainsleuthError):
    """A store is unreachable, corrupt or at an unexpected schema version."""

    code = "storage_error"


class IntegrityError(StorageError):
    """Stored data fails a consistency check (for example a tampered audit log)."""

    code = "integrity_error"
