"""Streaming writers: JSON lines or CSV for chain exports, Parquet or CSV for exchange tables.

Everything is written incrementally in bounded batches so memory does not grow with the world. Parquet files
use fixed settings (zstd, no pandas metadata, no timestamps) so that the same rows always give the same bytes.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import pyarrow as pa
import pyarrow.parquet as _parquet

DEC = pa.decimal128(38, 18)
TS = pa.timestamp("us", tz="UTC")
#: pyarrow's parquet module is only partly annotated; treat it as dynamic.
pq: Any = _parquet


class RecordWriter:
    """Chain records (dicts) to ``<base>.jsonl`` or ``<base>.csv``; nested fields are JSON text in CSV."""

    def __init__(self, base: Path, columns: Sequence[str], fmt: str, buffer_rows: int = 20_000) -> None:
        self.path = base.with_suffix("." + fmt)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.columns = list(columns)
        self.fmt = fmt
        self.rows = 0
        self._buffer: list[str] | list[list[Any]] = []
        self._limit = buffer_rows
        self._fh: TextIO = self.path.open("w", encoding="utf-8", newline="")
        self._csv = csv.writer(self._fh, lineterminator="\n") if fmt == "csv" else None
        if self._csv is not None:
            self._csv.writerow(self.columns)

    def write(self, record: dict[str, Any]) -> None:
        self.rows += 1
        if self._csv is None:
            self._buffer.append(json.dumps(record, separators=(",", ":"), ensure_ascii=False))  # type: ignore[arg-type]
        else:
            self._buffer.append([_csv_value(record[c]) for c in self.columns])  # type: ignore[arg-type]
        if len(self._buffer) >= self._limit:
            self.flush()

    def flush(self) -> None:
        if not self._buffer:
            return
        if self._csv is None:
            self._fh.write("\n".join(self._buffer) + "\n")  # type: ignore[arg-type]
        else:
            self._csv.writerows(self._buffer)
        self._buffer = []
        self._fh.flush()

    def close(self) -> None:
        self.flush()
        self._fh.close()


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return value


def units_to_decimal_str(units: int, decimals: int) -> str:
    """Exact decimal text of an integer amount with ``decimals`` places, without trailing zeros."""
    sign = "-" if units < 0 else ""
    units = abs(units)
    whole, frac = divmod(units, 10**decimals)
    if decimals == 0 or frac == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{frac:0{decimals}d}".rstrip("0")


def decimal_array(units: Sequence[int | None], decimals: Sequence[int]) -> pa.Array:
    """A decimal128(38,18) array from integer amounts and their number of decimals, built from raw bytes."""
    raw = bytearray()
    validity = bytearray((len(units) + 7) // 8)
    nulls = 0
    for i, (value, dec) in enumerate(zip(units, decimals, strict=True)):
        if value is None:
            raw += bytes(16)
            nulls += 1
        else:
            raw += (value * 10 ** (18 - dec)).to_bytes(16, "little", signed=True)
            validity[i >> 3] |= 1 << (i & 7)
    bitmap = pa.py_buffer(bytes(validity)) if nulls else None
    return pa.Array.from_buffers(DEC, len(units), [bitmap, pa.py_buffer(bytes(raw))], null_count=nulls)


def iso_us(ts_us: int) -> str:
    """ISO 8601 UTC text of a microsecond timestamp (the CSV form of timestamps)."""
    moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=ts_us)
    return moment.isoformat().replace("+00:00", "Z")


class TableWriter:
    """An exchange table to Parquet (fixed settings) or CSV, fed with pyarrow record batches."""

    def __init__(self, base: Path, schema: pa.Schema, fmt: str) -> None:
        self.schema = schema
        self.fmt = "parquet" if fmt == "jsonl" else "csv"
        self.path = base.with_suffix("." + self.fmt)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.rows = 0
        self._pq: Any = None
        self._fh: TextIO | None = None
        if self.fmt == "parquet":
            self._pq = pq.ParquetWriter(
                str(self.path), schema, compression="zstd", compression_level=3, write_statistics=True
            )
        else:
            self._fh = self.path.open("w", encoding="utf-8", newline="")
            csv.writer(self._fh, lineterminator="\n").writerow(schema.names)

    def write(self, columns: dict[str, pa.Array | list[Any]]) -> None:
        batch = pa.record_batch(
            [
                pa.array(columns[f.name], f.type) if not isinstance(columns[f.name], pa.Array) else columns[f.name]
                for f in self.schema
            ],
            schema=self.schema,
        )
        self.rows += batch.num_rows
        if self._pq is not None:
            self._pq.write_batch(batch)
            return
        assert self._fh is not None
        texts = [_column_text(batch.column(i), f.type) for i, f in enumerate(self.schema)]
        csv.writer(self._fh, lineterminator="\n").writerows(zip(*texts, strict=True))

    def close(self) -> None:
        if self._pq is not None:
            self._pq.close()
        if self._fh is not None:
            self._fh.close()


def _column_text(column: pa.Array, kind: pa.DataType) -> list[str]:
    if pa.types.is_timestamp(kind):
        ints = column.cast(pa.int64()).to_pylist()
        return ["" if v is None else iso_us(v) for v in ints]
    if pa.types.is_decimal(kind):
        return ["" if v is None else units_to_decimal_str(int(v.scaleb(18)), 18) for v in column.to_pylist()]
    if pa.types.is_boolean(kind):
        return ["" if v is None else ("true" if v else "false") for v in column.to_pylist()]
    return ["" if v is None else str(v) for v in column.to_pylist()]
