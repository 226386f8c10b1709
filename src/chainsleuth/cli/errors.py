"""The one table that maps chainsleuth errors to process exit codes.

Exit codes follow the BSD ``sysexits`` convention where one fits, so scripts can tell a user error from an
outage: 64 usage/input, 65 malformed data, 66 not found or gone (an expired package: the input no longer
exists), 69 unavailable store, 70 refused by a business rule or failed integrity check, 75 temporary conflict
(retry), 77 permission, 78 configuration, 1 anything else.
"""

from __future__ import annotations

from chainsleuth.cli.console import console
from chainsleuth.errors import (
    AuthenticationError,
    ChainsleuthError,
    ConfigurationError,
    ConflictError,
    GoneError,
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
    (GoneError, 66),
    (ConflictError, 75),
    (PolicyViolationError, 70),
    (AuthenticationError, 77),
    (PermissionDeniedError, 77),
    (IntegrityError, 70),
    (StorageError, 69),
    (ConfigurationError, 78),
    (ChainsleuthError, 1),
)


def print_error(error: ChainsleuthError) -> None:
    """Print ``error`` on stderr as exactly one line, whatever the terminal width, so scripts can grep it.

    ``soft_wrap`` stops rich from wrapping at the console width (80 columns when stderr is not a terminal);
    ``markup=False``/``highlight=False`` print the message verbatim (file names may contain square brackets).
    """
    message = " ".join(str(error).split())  # a message with line breaks would still span lines
    console.print("[bold red]error:[/] ", end="")
    console.print(message, soft_wrap=True, markup=False, highlight=False)


def exit_code_for(error: ChainsleuthError) -> int:
    """The process exit code for ``error``."""
    for error_class, code in EXIT_CODES:
        if isinstance(error, error_class):
            return code
    return 1
