"""Reading exchange export files (Parquet or CSV) into validated Arrow batches of the contract's exact types.

Every problem is a :class:`MalformedFileError` naming the file and where in it: ``line`` is the physical line
for CSV (the header is line 1, so a user can open the file at that line) and the 1-based row number for
Parquet; ``row`` (1-based data row) and ``column`` are in the details where known. Checks are vectorised with
``pyarrow.compute``, so validating costs little next to inserting; only when a batch is bad do we walk its
values one by one to name the first offending row.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as _compute
import pyarrow.parquet as _parquet

from chainsleuth.errors import MalformedFileError
from chainsleuth.ingest.exchange_schema import ARROW_TYPES, ColumnSpec, TableSpec, arrow_schema, type_matches

# pyarrow's bundled stubs are partial (compute functions are generated at run time), so these two modules are
# used untyped rather than sprinkling ignores over every call.
pc: Any = _compute
pq: Any = _parquet

_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OSError)


@dataclass(frozen=True)
class Batch:
    """Validated rows ``first_row .. first_row + len(data) - 1`` (0-based) of a file, in contract types."""

    data: pa.RecordBatch
    first_row: int
    lines: list[int] | None = None  # CSV: the physical line on which each row starts

    def line_of(self, index: int) -> int:
        """The ``line`` to report for row ``index`` of this batch."""
        return self.lines[index] if self.lines is not None else self.first_row + index + 1


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's bytes (what identifies a file already loaded)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class ExchangeFile:
    """One export file of one table; :meth:`check_header` is cheap, :meth:`batches` streams validated rows."""

    def __init__(self, path: Path, spec: TableSpec) -> None:
        self.path = path
        self.spec = spec
        self.is_csv = path.suffix.lower() == ".csv"

    def _error(self, message: str, *, line: int | None = None, **details: object) -> MalformedFileError:
        return MalformedFileError(f"{self.path.name}: {message}", path=str(self.path), line=line, **details)

    def _expect_columns(self, found: list[str], line: int | None) -> None:
        expected = self.spec.column_names
        if found == expected:
            return
        missing = [name for name in expected if name not in found]
        extra = [name for name in found if name not in expected]
        if missing or extra:
            raise self._error(f"wrong column set: missing {missing}, unexpected {extra}", line=line)
        raise self._error(f"columns out of order: expected {expected}", line=line)

    def check_header(self) -> int:
        """Check the column set (and Parquet types); return the number of data rows."""
        if self.is_csv:
            return self._check_csv_header()
        parquet = self._open_parquet()
        schema = parquet.schema_arrow
        self._expect_columns(schema.names, None)
        for column in self.spec.columns:
            actual = schema.field(column.name).type
            if not type_matches(column.kind, actual, nullable=column.nullable):
                raise self._error(
                    f"column {column.name} has type {actual}, expected {ARROW_TYPES[column.kind]}",
                    line=None,
                    column=column.name,
                )
        return int(parquet.metadata.num_rows)

    def _open_parquet(self) -> Any:
        try:
            return pq.ParquetFile(self.path)
        except _ARROW_ERRORS as error:
            raise self._error(f"not a readable Parquet file (truncated or corrupt): {error}") from error

    def _check_csv_header(self) -> int:
        with self.path.open("rb") as raw:
            raw.seek(0, 2)
            size = raw.tell()
            if size == 0:
                raise self._error("empty file, expected a header line", line=1)
            raw.seek(size - 1)
            if raw.read(1) != b"\n":
                starts = [line for line, _ in self._csv_rows()]
                last_line, records = (starts[-1] if starts else 1), len(starts)
                raise self._error(
                    "file does not end with a newline: truncated", line=last_line, row=max(records - 1, 0)
                )
        count = -1
        for line, row in self._csv_rows():
            if count == -1:
                self._expect_columns(row, 1)
            elif len(row) != len(self.spec.columns):
                raise self._error(
                    f"expected {len(self.spec.columns)} fields, found {len(row)} (truncated or malformed)",
                    line=line,
                    row=count + 1,
                )
            count += 1
        return max(count, 0)

    def _csv_rows(self) -> Iterator[tuple[int, list[str]]]:
        try:
            with self.path.open(newline="", encoding="utf-8") as handle:
                reader = csv.reader(handle, strict=True)
                start = 1
                for row in reader:
                    yield start, row
                    start = reader.line_num + 1
        except (csv.Error, UnicodeDecodeError) as error:
            raise self._error(f"unreadable CSV: {error}") from error

    def batches(self, batch_size: int, *, skip_rows: int = 0) -> Iterator[Batch]:
        """Validated batches of at most ``batch_size`` rows, starting after the first ``skip_rows`` rows."""
        raw = self._csv_batches(batch_size) if self.is_csv else self._parquet_batches(batch_size)
        for batch in raw:
            end = batch.first_row + batch.data.num_rows
            if end <= skip_rows:
                continue
            if batch.first_row < skip_rows:
                cut = skip_rows - batch.first_row
                lines = batch.lines[cut:] if batch.lines is not None else None
                batch = Batch(batch.data.slice(cut), skip_rows, lines)
            self._validate(batch)
            yield batch

    def _parquet_batches(self, batch_size: int) -> Iterator[Batch]:
        parquet = self._open_parquet()
        target = arrow_schema(self.spec)
        first = 0
        iterator = parquet.iter_batches(batch_size=batch_size, columns=self.spec.column_names)
        while True:
            try:
                record = next(iterator)
            except StopIteration:
                return
            except _ARROW_ERRORS as error:
                raise self._error(f"unreadable data (truncated or corrupt): {error}", line=first + 1) from error
            arrays = [
                self._cast(record.column(i), column, Batch(record, first)) for i, column in enumerate(self.spec.columns)
            ]
            yield Batch(pa.RecordBatch.from_arrays(arrays, schema=target), first)
            first += record.num_rows

    def _csv_batches(self, batch_size: int) -> Iterator[Batch]:
        target = arrow_schema(self.spec)
        width = len(self.spec.columns)
        columns: list[list[str | None]] = [[] for _ in range(width)]
        lines: list[int] = []
        first = 0
        rows = iter(self._csv_rows())
        next(rows, None)  # header, checked by check_header
        for line, row in rows:
            if len(row) != width:
                raise self._error(f"expected {width} fields, found {len(row)}", line=line, row=first + len(lines) + 1)
            for values, value in zip(columns, row, strict=True):
                values.append(value if value != "" else None)
            lines.append(line)
            if len(lines) == batch_size:
                yield self._csv_batch(columns, lines, first, target)
                first += len(lines)
                columns, lines = [[] for _ in range(width)], []
        if lines:
            yield self._csv_batch(columns, lines, first, target)

    def _csv_batch(self, columns: list[list[str | None]], lines: list[int], first: int, target: pa.Schema) -> Batch:
        text = Batch(
            pa.RecordBatch.from_arrays(
                [pa.array(values, pa.string()) for values in columns], names=self.spec.column_names
            ),
            first,
            lines,
        )
        arrays = [self._cast(text.data.column(i), column, text) for i, column in enumerate(self.spec.columns)]
        return Batch(pa.RecordBatch.from_arrays(arrays, schema=target), first, lines)

    def _cast(self, array: pa.Array, column: ColumnSpec, where: Batch) -> pa.Array:
        target = ARROW_TYPES[column.kind]
        if array.type == target:
            return array
        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        try:
            return pc.cast(array, target, safe=True)
        except _ARROW_ERRORS:
            for index in range(len(array)):
                try:
                    pc.cast(array.slice(index, 1), target, safe=True)
                except _ARROW_ERRORS as error:
                    raise self._error(
                        f"column {column.name}: {array[index].as_py()!r} is not a valid {column.kind} ({error})",
                        line=where.line_of(index),
                        row=where.first_row + index + 1,
                        column=column.name,
                    ) from error
            raise  # pragma: no cover - the whole array failed to cast but no single value does

    def _validate(self, batch: Batch) -> None:
        """Raise for the first row (in file order) that breaks any rule of the contract."""
        problems: list[tuple[int, str, str]] = []

        def first(mask: pa.Array, column: str, message: str) -> None:
            index = pc.index(pc.fill_null(mask, False), True).as_py()
            if index is not None and index >= 0:
                problems.append((index, column, message))

        data = batch.data
        for column in self.spec.columns:
            values = data.column(column.name)
            if not column.nullable:
                first(pc.is_null(values), column.name, "is missing")
            if column.choices is not None:
                allowed = pa.array(column.choices, pa.string())
                unknown = pc.and_(pc.is_valid(values), pc.invert(pc.is_in(values, value_set=allowed)))
                first(unknown, column.name, f"must be one of {column.choices}")
            if column.max_length is not None:
                first(
                    pc.greater(pc.utf8_length(values), column.max_length),
                    column.name,
                    f"is longer than {column.max_length} characters",
                )
            if column.minimum is not None:
                bound = _scalar(column.minimum, values.type)
                mask = pc.less_equal(values, bound) if column.exclusive_minimum else pc.less(values, bound)
                relation = "positive" if column.exclusive_minimum else f"at least {column.minimum}"
                first(mask, column.name, f"must be {relation}")
            if column.maximum is not None:
                first(
                    pc.greater(values, _scalar(column.maximum, values.type)),
                    column.name,
                    f"must be at most {column.maximum}",
                )
        for rule in self.spec.required_when:
            applies = pc.is_in(data.column(rule.column), value_set=pa.array(rule.values, pa.string()))
            for name in rule.required:
                first(
                    pc.and_(applies, pc.is_null(data.column(name))),
                    name,
                    f"is required when {rule.column} is one of {rule.values}",
                )
        if problems:
            index, name, message = min(problems)
            value = data.column(name)[index].as_py()
            raise self._error(
                f"row {batch.first_row + index + 1}, column {name} = {value!r}: {message}",
                line=batch.line_of(index),
                row=batch.first_row + index + 1,
                column=name,
            )


def _csv_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def write_exchange_table(
    directory: Path, spec: TableSpec, rows: Sequence[Mapping[str, object]], *, fmt: str = "parquet"
) -> Path:
    """Write ``rows`` as ``directory/<table>.parquet`` (or ``.csv``) exactly as the export contract specifies.

    Used by tests and fixtures; the contract's CSV edition holds the same values as text, timestamps in ISO
    8601 UTC, decimals as plain decimal strings, booleans as ``true``/``false`` and nulls as empty fields.
    """
    directory.mkdir(parents=True, exist_ok=True)
    names = spec.column_names
    if fmt == "parquet":
        path = directory / f"{spec.name}.parquet"
        table = pa.Table.from_pylist(
            [{name: row.get(name) for name in names} for row in rows], schema=arrow_schema(spec)
        )
        pq.write_table(table, path)
        return path
    if fmt != "csv":
        raise ValueError(f"unknown format {fmt!r}")
    path = directory / f"{spec.name}.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(names)
        for row in rows:
            writer.writerow([_csv_text(row.get(name)) for name in names])
    return path


def _scalar(value: Decimal | int, arrow_type: pa.DataType) -> pa.Scalar:
    return pa.scalar(Decimal(value) if pa.types.is_decimal(arrow_type) else value, arrow_type)
