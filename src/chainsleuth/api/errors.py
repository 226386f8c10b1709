"""The one table that maps chainsleuth errors to HTTP statuses, and the FastAPI handler that uses it.

Responses carry a stable machine-readable ``error`` code, the human message and the structured details, so a
client (or the web pages) can show the same clear error the CLI prints.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from chainsleuth.errors import (
    AuthenticationError,
    ChainsleuthError,
    ConfigurationError,
    ConflictError,
    GoneError,
    IntegrityError,
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    PolicyViolationError,
    StaleVersionError,
    StorageError,
)

#: Most specific class first: the first ``isinstance`` match wins.
HTTP_STATUSES: tuple[tuple[type[ChainsleuthError], int], ...] = (
    (PayloadTooLargeError, 413),
    (InvalidInputError, 422),
    (NotFoundError, 404),
    (GoneError, 410),
    (StaleVersionError, 409),
    (ConflictError, 409),
    (PolicyViolationError, 403),
    (AuthenticationError, 401),
    (PermissionDeniedError, 403),
    (IntegrityError, 500),
    (StorageError, 503),
    (ConfigurationError, 500),
    (ChainsleuthError, 500),
)


def http_status_for(error: ChainsleuthError) -> int:
    """The HTTP status for ``error``."""
    for error_class, status in HTTP_STATUSES:
        if isinstance(error, error_class):
            return status
    return 500


def _json_safe(value: object) -> object:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    return str(value)


async def _handle(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ChainsleuthError)
    status = http_status_for(error)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    body = {"error": error.code, "message": error.message, "details": _json_safe(error.details)}
    return JSONResponse(status_code=status, content=body, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handler for the whole hierarchy on ``app``."""
    app.add_exception_handler(ChainsleuthError, _handle)
