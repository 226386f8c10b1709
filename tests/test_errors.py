"""The error hierarchy and its two translation tables (HTTP status, CLI exit code)."""

from __future__ import annotations

import inspect

import pytest

from chainsleuth import errors
from chainsleuth.api.errors import HTTP_STATUSES, http_status_for
from chainsleuth.cli.errors import EXIT_CODES, exit_code_for

ALL_ERRORS = [
    cls
    for _, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, errors.ChainsleuthError) and cls.__module__ == errors.__name__
]


@pytest.mark.parametrize("error_class", ALL_ERRORS, ids=lambda cls: cls.__name__)
def test_every_error_class_has_its_own_row_in_both_tables(error_class: type[errors.ChainsleuthError]) -> None:
    # A class without a row would silently inherit its parent's status: make that a decision, not an accident.
    http_classes = {cls for cls, _ in HTTP_STATUSES}
    exit_classes = {cls for cls, _ in EXIT_CODES}
    inherits_row = error_class in {errors.StaleVersionError, errors.MalformedFileError}
    assert error_class in http_classes or inherits_row
    assert error_class in exit_classes or error_class is errors.StaleVersionError


def test_specific_statuses() -> None:
    assert http_status_for(errors.NotFoundError("x")) == 404
    assert http_status_for(errors.StaleVersionError("x")) == 409
    assert http_status_for(errors.MalformedFileError("x", path="f", line=3)) == 422
    assert http_status_for(errors.PayloadTooLargeError("x")) == 413
    assert http_status_for(errors.AuthenticationError("x")) == 401
    assert http_status_for(errors.PermissionDeniedError("x")) == 403
    assert http_status_for(errors.StorageError("x")) == 503
    assert http_status_for(errors.GoneError("x")) == 410


def test_specific_exit_codes() -> None:
    assert exit_code_for(errors.MalformedFileError("x", path="f")) == 65
    assert exit_code_for(errors.InvalidInputError("x")) == 64
    assert exit_code_for(errors.NotFoundError("x")) == 66
    assert exit_code_for(errors.StaleVersionError("x")) == 75
    assert exit_code_for(errors.ConfigurationError("x")) == 78
    assert exit_code_for(errors.GoneError("x")) == 66
    assert exit_code_for(errors.ChainsleuthError("x")) == 1


def test_tables_list_subclasses_before_their_parents() -> None:
    for table in (HTTP_STATUSES, EXIT_CODES):
        classes = [cls for cls, _ in table]
        for position, cls in enumerate(classes):
            for parent in classes[:position]:
                assert not issubclass(cls, parent), f"{cls.__name__} is shadowed by {parent.__name__}"


def test_malformed_file_error_names_file_and_line() -> None:
    error = errors.MalformedFileError("bad JSON", path="blocks.jsonl", line=12)
    assert (error.path, error.line) == ("blocks.jsonl", 12)
    assert "blocks.jsonl" in str(error)
    assert "line=12" in str(error)


def test_gone_error_is_a_410_response_with_its_code() -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from chainsleuth.api.errors import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/package")
    def expired() -> None:
        raise errors.GoneError("this package has expired: ask the exchange to re-issue it", package="P1")

    response = TestClient(app).get("/package")
    assert response.status_code == 410
    assert response.json() == {
        "error": "gone",
        "message": "this package has expired: ask the exchange to re-issue it",
        "details": {"package": "P1"},
    }
