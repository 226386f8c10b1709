"""Small helpers shared by the alert, case and approval pages: stale edits and form values.

Every case form carries the version the investigator read. When someone else changed the case meanwhile the
service raises :class:`StaleVersionError`; :func:`stale_guard` turns it into the plain sentence investigators
need ("someone else changed this case — reload") with status 409, and nothing is overwritten.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chainsleuth.errors import InvalidInputError, StaleVersionError

STALE_MESSAGE = (
    "someone else changed this case since you opened it — reload the page to see their change; nothing was overwritten"
)


@contextmanager
def stale_guard(message: str = STALE_MESSAGE) -> Iterator[None]:
    """Re-raise a stale-version error with the sentence the page shows (still a 409)."""
    try:
        yield
    except StaleVersionError as error:
        raise StaleVersionError(message, **error.details) from None


def optional_time(value: str | None, field: str) -> datetime | None:
    """A ``datetime-local`` or ISO date form value as an aware UTC time (empty: None)."""
    if not value or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInputError("not a date and time", field=field, value=value) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def text_or_none(value: str | None) -> str | None:
    """A form field with surrounding blanks removed; empty means not given."""
    stripped = (value or "").strip()
    return stripped or None


@dataclass(frozen=True)
class Paging:
    """What the layout's ``pager`` macro reads: total, limit, offset and the rows of this page."""

    total: int
    limit: int
    offset: int
    items: Sequence[Any]
