"""Bookkeeping of bulk loads, so that loading is idempotent and resumable.

One row per (table, file content): the sha256 says whether this exact file was loaded before, ``rows_done``
says how far an interrupted load got. It is updated in the same transaction as each inserted batch, so after a
crash it is exactly right and a re-run continues where the last committed batch ended.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from chainsleuth.store.models.base import Base, one_of
from chainsleuth.store.types import UTCDateTime, utcnow

INGEST_STATUSES = ("running", "complete")


class IngestRun(Base):
    """One file being (or having been) loaded into one table."""

    __tablename__ = "ingest_runs"
    __table_args__ = (UniqueConstraint("table_name", "sha256"), one_of("status", INGEST_STATUSES))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32))
    table_name: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    rows_total: Mapped[int] = mapped_column(BigInteger)
    rows_done: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_inserted: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(10), default="running")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"IngestRun({self.table_name!r}, {self.status!r}, {self.rows_done}/{self.rows_total})"
