"""The one table that maps chainsleuth errors to process exit codes.

Exit codes follow the BSD ``sysexits`` convention where one fits, so scripts can tell a user error from an
outage: 64 usage/input, 65 malformed data, 66 not found, 69 unavailable store, 75 temporary conflict (retry),
77 permission, 78 configuration.
"""

from __future__ import annotations

from chainsleuth.errors import (
    AuthenticationError,
    ChainsleuthError,
    ConfigurationError,
    ConflictError,
    IntegrityError,
    InvalidInputError,
    MalformedFileError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    PolicyViolationError,
    StorageError,
)

#: Most specific class first: the first ``isinstance`` match wins.
EXIT_CODES: tuple[tuple[type[ChainsleuthError], int], ...] = (
    (MalformedFileError, 65),
    (PayloadTooLargeError, 64),
    (InvalidInputError, 64),
    (NotFoundError, 66),
    (ConflictError, 75),
    (PolicyViolationError, 70),
    (AuthenticationError, 77),
    (PermissionDeniedError, 77),
    (IntegrityError, 70),
    (StorageError, 69),
    (ConfigurationError, 78),
    (ChainsleuthError, 1),
)


def exit_code_for(error: ChainsleuthError) -> int:
    """The process exit code for ``error``."""
    for error_class, code in EXIT_CODES:
        if isinstance(error, error_class):
            return code
    return 1
