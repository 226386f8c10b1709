"""Loading the exchange's own books (``exchange/*`` of a world export, or a real back-office export) into the store.

The load is

* **fast**: files are streamed in Arrow batches and each batch goes to the database in one statement without
  per-value Python objects (:mod:`chainsleuth.ingest.bulk`: ``COPY`` on PostgreSQL, one prepared ``INSERT``
  run with ``executemany`` on SQLite);
* **idempotent**: a file whose sha256 was loaded completely before is skipped, and rows whose primary key
  already exists are never inserted twice (so loading the CSV edition of an already loaded Parquet export adds
  nothing);
* **resumable**: every batch is committed together with the progress counter in ``ingest_runs``, so after a
  crash or Ctrl-C a re-run continues after the last committed batch and neither loses nor duplicates a row;
* **strict**: all files' headers are checked before anything is written; a bad value stops the load with a
  :class:`MalformedFileError` naming the file and row, and the batch containing it is rolled back entirely;
* **private**: personal columns are encrypted and their blind indexes computed
  (:func:`chainsleuth.privacy.fields.protect_batch`) before a batch reaches the database, and a load that
  added rows is recorded in the audit log.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from chainsleuth.errors import InvalidInputError, MalformedFileError, NotFoundError, StorageError
from chainsleuth.ingest.bulk import insert_batch, missing_keys, table_is_empty
from chainsleuth.ingest.exchange_files import Batch, ExchangeFile, sha256_of
from chainsleuth.ingest.exchange_schema import EXCHANGE_TABLES, TableSpec
from chainsleuth.privacy import audit
from chainsleuth.privacy.fields import protect_batch
from chainsleuth.privacy.keyring import ensure_keyring
from chainsleuth.privacy.policy import SystemActor
from chainsleuth.store.models.ingest import IngestRun
from chainsleuth.store.types import utcnow

#: Rows per committed batch: big enough that per-statement overhead vanishes, small enough to bound memory.
DEFAULT_BATCH_SIZE = 20_000
SOURCE = "exchange"

#: ``progress(table, rows_done, rows_total)``, called when a file starts and after every committed batch.
ProgressCallback = Callable[[str, int, int], None]


@dataclass
class TableLoad:
    """What happened to one file."""

    table: str
    path: Path
    rows_in_file: int
    rows_inserted: int = 0
    rows_already_present: int = 0
    resumed_from_row: int = 0
    already_loaded: bool = False


@dataclass
class LoadReport:
    """What :func:`load_exchange` did, per table in load order."""

    world_dir: Path
    tables: list[TableLoad] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rows_inserted(self) -> int:
        """Rows added by this run, over all tables (0 for a repeated load)."""
        return sum(table.rows_inserted for table in self.tables)

    def inserted(self, table: str) -> int:
        """Rows added to ``table`` by this run."""
        return sum(load.rows_inserted for load in self.tables if load.table == table)


def find_exchange_files(world_dir: Path) -> list[ExchangeFile]:
    """The five exchange files of a world, Parquet preferred over CSV; NotFoundError if one is missing."""
    exchange_dir = Path(world_dir) / "exchange"
    if not exchange_dir.is_dir():
        raise NotFoundError(f"{world_dir} has no exchange/ directory: is it a generated world?", path=str(world_dir))
    files = []
    for spec in EXCHANGE_TABLES:
        for suffix in (".parquet", ".csv"):
            path = exchange_dir / f"{spec.name}{suffix}"
            if path.is_file():
                files.append(ExchangeFile(path, spec))
                break
        else:
            raise NotFoundError(f"missing exchange/{spec.name}.parquet (or .csv)", path=str(exchange_dir))
    return files


def load_exchange(
    world_dir: Path,
    engine: Engine,
    progress: ProgressCallback | None = None,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> LoadReport:
    """Load customers, accounts, deposit addresses, balances and ledger events of ``world_dir`` into ``engine``.

    Safe to re-run at any time: see the module documentation. Raises MalformedFileError for bad input (earlier
    batches stay committed and a re-run after fixing the file resumes) and NotFoundError for missing files.
    """
    if batch_size < 1:
        raise InvalidInputError("batch_size must be positive", batch_size=batch_size)
    started = time.monotonic()
    files = find_exchange_files(world_dir)
    totals = [file.check_header() for file in files]  # fail before writing anything
    report = LoadReport(world_dir=Path(world_dir))
    for file, total in zip(files, totals, strict=True):
        report.tables.append(_load_file(engine, file, total, progress, batch_size))
    report.seconds = time.monotonic() - started
    if report.rows_inserted:  # loading personal data is an action on personal data: audited
        details = {table.table: table.rows_inserted for table in report.tables}
        audit.record_independently(
            engine, SystemActor("ingest"), "ingest.exchange", "world", str(world_dir), None, details
        )
    return report


def _load_file(
    engine: Engine, file: ExchangeFile, total: int, progress: ProgressCallback | None, batch_size: int
) -> TableLoad:
    spec = file.spec
    run_id, rows_done, complete = _start_run(engine, file, total)
    load = TableLoad(spec.name, file.path, total, resumed_from_row=rows_done, already_loaded=complete)
    if progress is not None:
        progress(spec.name, total if complete else rows_done, total)
    if complete:
        return load
    crypto = ensure_keyring(engine)  # outside the batch transactions: may record key version 1
    with engine.connect() as connection:
        # A first load into an empty table cannot meet existing keys (duplicates inside the file are still
        # rejected by the primary key), so it skips the look-up; re-runs and resumptions always look.
        check_existing = rows_done > 0 or not table_is_empty(connection, spec)
    for batch in file.batches(batch_size, skip_rows=rows_done):
        count = batch.data.num_rows
        fresh: list[int] = list(range(count))
        try:
            with engine.begin() as connection:  # one transaction: the batch and its progress, or neither
                if check_existing:
                    fresh = missing_keys(connection, spec, batch.data)
                data = batch.data if len(fresh) == count else batch.data.take(pa.array(fresh, pa.int64()))
                insert_batch(connection, *protect_batch(crypto, spec, data))
                rows_done = batch.first_row + count
                connection.execute(
                    update(IngestRun)
                    .where(IngestRun.id == run_id)
                    .values(rows_done=rows_done, rows_inserted=IngestRun.rows_inserted + len(fresh))
                )
        except (IntegrityError, DataError) as error:
            raise _locate_failure(engine, file, batch, fresh, error) from error
        except DBAPIError as error:
            raise StorageError(f"loading {file.path.name} failed: {_reason(error)}", path=str(file.path)) from error
        load.rows_inserted += len(fresh)
        load.rows_already_present += count - len(fresh)
        if progress is not None:
            progress(spec.name, rows_done, total)
    with engine.begin() as connection:
        connection.execute(
            update(IngestRun).where(IngestRun.id == run_id).values(status="complete", finished_at=utcnow())
        )
    return load


def _start_run(engine: Engine, file: ExchangeFile, total: int) -> tuple[int, int, bool]:
    """``(run id, rows already committed, whether this exact file was fully loaded before)``."""
    digest = sha256_of(file.path)
    with engine.begin() as connection:
        found = connection.execute(
            select(IngestRun.id, IngestRun.rows_done, IngestRun.status).where(
                IngestRun.table_name == file.spec.name, IngestRun.sha256 == digest
            )
        ).first()
        if found is not None:
            return int(found.id), int(found.rows_done), found.status == "complete"
        run_id = connection.execute(
            insert(IngestRun)
            .values(
                source=SOURCE,
                table_name=file.spec.name,
                path=str(file.path),
                sha256=digest,
                rows_total=total,
                rows_done=0,
                rows_inserted=0,
                status="running",
                started_at=utcnow(),
            )
            .returning(IngestRun.id)
        ).scalar_one()
        return int(run_id), 0, False


def _rows(batch: Batch, spec: TableSpec) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = batch.data.to_pylist()
    if spec.name == "customers":  # dates of birth are stored as ISO text (see models.exchange)
        for row in rows:
            born = row["date_of_birth"]
            if isinstance(born, date):
                row["date_of_birth"] = born.isoformat()
    return rows


def _locate_failure(
    engine: Engine,
    file: ExchangeFile,
    batch: Batch,
    fresh: Sequence[int],
    failure: DBAPIError,
) -> MalformedFileError:
    """Find the first row the database rejects (inserting one by one, then rolling everything back).

    Only runs when a batch failed, so it takes the slow, typed path for clear per-row errors.
    """
    rows = _rows(batch, file.spec)
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            for index in fresh:
                try:
                    with connection.begin_nested():
                        connection.execute(insert(file.spec.table), [rows[index]])
                except DBAPIError as error:
                    row = batch.first_row + index + 1
                    return MalformedFileError(
                        f"{file.path.name}: row {row} rejected by the database: {_reason(error)}",
                        path=str(file.path),
                        line=batch.line_of(index),
                        row=row,
                    )
        finally:
            transaction.rollback()
    first_row = batch.first_row + 1
    return MalformedFileError(
        f"{file.path.name}: rows {first_row}-{first_row + batch.data.num_rows - 1} rejected by the database: "
        f"{_reason(failure)}",
        path=str(file.path),
        line=batch.line_of(0),
        row=first_row,
    )


def _reason(error: DBAPIError) -> str:
    message = str(error.orig).strip()
    return message.splitlines()[0] if message else type(error.orig).__name__
