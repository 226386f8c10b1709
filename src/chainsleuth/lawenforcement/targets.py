"""Bulk targets: a CSV of customer ids, e-mails, phones, wallet addresses (with chain) and transaction hashes.

Every row is kept. A valid value becomes a target, normalised the way the matching needs it (e-mail and phone
as the blind indexes normalise them, Ethereum addresses and hashes in lower case); a malformed one is kept with
its row number, column and reason, so the officer can correct exactly that cell and nothing they sent is lost.
A row may carry several values (the e-mail and the phone of one person): each becomes its own target.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from chainsleuth.errors import InvalidInputError, PayloadTooLargeError
from chainsleuth.privacy.crypto import FieldKeys, normalise_email, normalise_phone

COLUMNS = ("customer_id", "email", "phone", "wallet_address", "chain", "tx_hash")
KIND_OF_COLUMN = {"customer_id": "customer_id", "email": "email", "phone": "phone", "wallet_address": "address",
                  "tx_hash": "tx_hash"}  # fmt: skip
CHAINS = ("bitcoin", "ethereum")
#: The most targets one request may carry (a larger list is split into several requests).
MAX_TARGETS = 10_000
_CUSTOMER = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_ETH_ADDRESS = re.compile(r"^0x[0-9a-f]{40}$")
_BTC_ADDRESS = re.compile(r"^[A-Za-z0-9]{14,90}$")
_ETH_HASH = re.compile(r"^0x[0-9a-f]{64}$")
_BTC_HASH = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ParsedTarget:
    """One cell of the target list: a normalised target, or an error (``kind`` None for a row-level error)."""

    row_number: int
    kind: str | None
    value: str
    chain: str | None = None
    error: str | None = None
    column: str | None = None

    @property
    def valid(self) -> bool:
        return self.error is None


def target_key(keys: FieldKeys, kind: str, chain: str | None, value: str) -> str:
    """Keyed HMAC of a normalised target (blind-index key, its own domain label): equal targets, equal keys,
    so overlapping requests are found without decrypting any target."""
    message = f"le-target\x1f{kind}\x1f{chain or ''}\x1f{value}".encode()
    return hmac.new(keys.blind_index_key, message, hashlib.sha256).hexdigest()[:64]


def _chain_for_hash(value: str, chain: str | None) -> str | None:
    if chain:
        return chain
    return "ethereum" if value.startswith("0x") else "bitcoin"


def normalise_target(kind: str, raw: str, chain: str | None) -> tuple[str, str | None]:
    """``(normalised value, chain)``; ValueError with the reason when the value is malformed."""
    text = raw.strip()
    if kind == "customer_id":
        if not _CUSTOMER.match(text):
            raise ValueError("a customer id is 1-32 letters, digits, '.', '_' or '-'")
        return text.upper(), None
    if kind == "email":
        if not _EMAIL.match(text):
            raise ValueError("not an e-mail address")
        return normalise_email(text), None
    if kind == "phone":
        digits = normalise_phone(text)
        if not (text.startswith("+") or text.startswith("00")):
            raise ValueError("give the phone number with its country code (+44…), or it cannot be matched")
        if not 7 <= len(digits) <= 15:
            raise ValueError("a phone number has 7-15 digits with its country code")
        return digits, None
    if kind == "address":
        if chain not in CHAINS:
            raise ValueError(f"a wallet address needs its chain ({', '.join(CHAINS)})")
        if chain == "ethereum":
            value = text.lower()
            if not _ETH_ADDRESS.match(value):
                raise ValueError("an Ethereum address is 0x and 40 hexadecimal digits")
            return value, chain
        if not _BTC_ADDRESS.match(text):
            raise ValueError("not a Bitcoin address (14-90 letters and digits)")
        return (text.lower() if text.lower().startswith(("bc1", "tb1")) else text), chain
    if kind == "tx_hash":
        value = text.lower()
        resolved = _chain_for_hash(value, chain)
        if resolved not in CHAINS:
            raise ValueError(f"unknown chain {chain!r}")
        pattern = _ETH_HASH if resolved == "ethereum" else _BTC_HASH
        if not pattern.match(value):
            raise ValueError("an Ethereum hash is 0x and 64 hex digits; a Bitcoin hash is 64 hex digits")
        return value, resolved
    raise ValueError(f"unknown target kind {kind!r}")


def parse_correction(column: str, value: str, chain: str = "") -> ParsedTarget:
    """One corrected target, checked exactly like a CSV row with that single column (API, CLI and portal).

    InvalidInputError when ``column`` is not a target column; the returned target carries the row's error, if
    any, as :func:`parse_row` reports it.
    """
    if column not in KIND_OF_COLUMN:
        raise InvalidInputError("column is one of " + ", ".join(KIND_OF_COLUMN), field="column")
    return parse_row(0, {column: value, "chain": chain})[0]


def parse_row(row_number: int, row: Mapping[str, str | None]) -> list[ParsedTarget]:
    """The targets (and errors) of one row."""
    cells = {key: (value or "").strip() for key, value in row.items() if key}
    chain_raw = cells.get("chain", "").lower() or None
    found: list[ParsedTarget] = []
    for column, kind in KIND_OF_COLUMN.items():
        raw = cells.get(column, "")
        if not raw:
            continue
        try:
            value, chain = normalise_target(kind, raw, chain_raw)
        except ValueError as error:
            found.append(ParsedTarget(row_number, kind, raw, chain_raw, str(error), column))
            continue
        found.append(ParsedTarget(row_number, kind, value, chain))
    if chain_raw and chain_raw not in CHAINS:
        found.append(ParsedTarget(row_number, None, chain_raw, None, f"unknown chain (use {', '.join(CHAINS)})",
                                  "chain"))  # fmt: skip
    if not found:
        summary = ",".join(v for v in cells.values() if v)
        found.append(ParsedTarget(row_number, None, summary, None, "no target in this row", None))
    return found


def parse_targets_csv(data: bytes | str, *, max_bytes: int | None = None) -> list[ParsedTarget]:
    """Every cell of a target CSV (header: some of ``customer_id,email,phone,wallet_address,chain,tx_hash``).

    Row numbers are file line numbers (the header is line 1; a row with a multi-line quoted cell is numbered by
    its first line). Unknown or repeated header columns, a missing header, or a file that is not UTF-8 are
    refused as a whole; anything else is reported cell by cell.
    """
    if isinstance(data, bytes):
        if max_bytes is not None and len(data) > max_bytes:
            raise PayloadTooLargeError("the target list is larger than the upload limit", limit=max_bytes,
                                       size=len(data))  # fmt: skip
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise InvalidInputError("the target list is not UTF-8 text", position=error.start) from error
    else:
        text = data
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise InvalidInputError("the target list is empty (expected a header line)") from None
    unknown = [h for h in header if h and h not in COLUMNS]
    if unknown or not set(header) & set(KIND_OF_COLUMN):
        raise InvalidInputError("unknown or missing target columns", unknown=unknown, expected=list(COLUMNS))
    repeated = sorted({h for h in header if h and header.count(h) > 1})
    if repeated:  # a dict of the row would keep only the last cell of each repeated column: data would be lost
        raise InvalidInputError(f"the header names the column {repeated[0]!r} more than once: give each column once",
                                columns=repeated)  # fmt: skip
    parsed: list[ParsedTarget] = []
    previous_line = reader.line_num
    for cells in reader:
        # A quoted cell may span lines: the row is reported at its first line, where the officer will look.
        row_number, previous_line = previous_line + 1, reader.line_num
        if not any(cell.strip() for cell in cells):
            continue  # a blank line carries nothing to lose
        if len(cells) > len(header):
            parsed.append(ParsedTarget(row_number, None, ",".join(cells), None,
                                       f"{len(cells)} cells but the header has {len(header)}", None))  # fmt: skip
            continue
        parsed.extend(parse_row(row_number, dict(zip(header, cells, strict=False))))
        if len(parsed) > MAX_TARGETS:
            raise InvalidInputError(f"more than {MAX_TARGETS} targets: split the list into several requests")
    return parsed


def parse_target_dicts(rows: Iterable[Mapping[str, str | None]]) -> list[ParsedTarget]:
    """Targets given as JSON objects with the CSV's column names (row numbers count from 1)."""
    parsed: list[ParsedTarget] = []
    for number, row in enumerate(rows, start=1):
        unknown = [key for key in row if key not in COLUMNS]
        if unknown:
            parsed.append(ParsedTarget(number, None, ",".join(unknown), None, "unknown field(s)", unknown[0]))
            continue
        parsed.extend(parse_row(number, row))
    if len(parsed) > MAX_TARGETS:
        raise InvalidInputError(f"more than {MAX_TARGETS} targets: split the list into several requests")
    return parsed
