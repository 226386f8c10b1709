"""The exchange ledger as a customer-level transfer graph, and the labels a detector is trained on.

One mapping serves the evaluation (a world's ``exchange/ledger_events.parquet``) and the product (the relational
store's ``ledger_events``), so a model measured by ``chainsleuth eval world`` sees exactly the graph it will
score in production. Amounts are in USD, times in whole seconds:

- ``internal_transfer``: customer -> counterparty customer;
- ``withdrawal``: customer -> ``address:<chain>:<destination>`` (a destination shared by customers shows up as
  fan-in);
- ``deposit``: ``deposit_address:<address>`` -> customer (the ledger knows our deposit address, not the sender);
- ``fiat_deposit`` / ``fiat_withdrawal``: ``bank:<reference>`` <-> customer (one bank account behind many
  customers is a red flag).

Other events (trades, logins, credential changes) are not transfers and are left out; so is a transfer whose
counterparty is unknown. Only customers are scored; addresses and bank accounts are nodes so that sharing them
is visible.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from numpy.typing import NDArray

from chainsleuth.errors import MalformedFileError, NotFoundError
from chainsleuth.monitor.features.bulk import FeatureConfig
from chainsleuth.monitor.features.edges import EdgeList, FeatureError, FloatArray

if TYPE_CHECKING:
    from sqlalchemy import Engine

DAY = 86_400
#: Windows for the ledger graph (seconds): one day, a week and a month; patterns within a week.
LEDGER_CONFIG = FeatureConfig(windows=(DAY, 7 * DAY, 30 * DAY), pattern_window=7 * DAY, fast_window=DAY)
#: Roles in a labels file that name a customer involved in an incident who is not a criminal.
NOT_ILLICIT_ROLES = frozenset({"victim"})
TRANSFER_TYPES = ("internal_transfer", "withdrawal", "deposit", "fiat_deposit", "fiat_withdrawal")
LEDGER_COLUMNS = ("event_id", "event_type", "timestamp", "customer_id", "counterparty_customer_id", "address",
                  "chain", "bank_reference", "usd_value")  # fmt: skip


@dataclass(frozen=True)
class LedgerGraph:
    """The transfer graph, the customer ids (the nodes that are scored) and each edge's ledger event id.

    ``event_ids`` is aligned with the edge list's sorted positions (None where the events carry no id), so an
    alert can point at the customer's latest transfer.
    """

    edges: EdgeList
    customers: list[str]
    event_ids: NDArray[np.object_]

    @property
    def eligible(self) -> NDArray[np.bool_]:
        """Per node: is it a customer (scored), rather than an address or a bank account."""
        customers = set(self.customers)
        return np.array([str(label) in customers for label in self.edges.labels], dtype=bool)

    def onset(self, labels: Mapping[str, tuple[float, str]]) -> FloatArray:
        """Per node: when it became illicit (unix seconds), NaN if never."""
        return np.array([labels[str(i)][0] if str(i) in labels else np.nan for i in self.edges.labels], np.float64)

    def last_event_ids(self, at: int) -> list[str | None]:
        """Per node: the id of its latest transfer (sent or received) at or before ``at``."""
        q = int(np.searchsorted(self.edges.time, at, side="right"))
        last = np.full(self.edges.n_nodes, -1, dtype=np.int64)
        positions = np.arange(q, dtype=np.int64)
        np.maximum.at(last, self.edges.src[:q], positions)
        np.maximum.at(last, self.edges.dst[:q], positions)
        return [None if k < 0 else self.event_ids[k] for k in last.tolist()]


def _col(t: pa.Table, name: str) -> list[Any]:
    return t.column(name).to_pylist() if name in t.column_names else [None] * t.num_rows


def _seconds(column: pa.ChunkedArray) -> list[int]:
    """Whole seconds since the epoch of a timestamp column, or of integer microseconds (the engines' domain)."""
    micros = pc.cast(pc.cast(column, pa.timestamp("us")), pa.int64())
    return [int(v) for v in pc.divide(micros, 1_000_000).to_pylist()]


def transfer_ends(
    kind: Any, customer: Any, counterparty: Any, address: Any, chain: Any, bank: Any
) -> tuple[str, str] | None:
    """Sender and receiver node of one ledger event, or None for events that move no value between parties.

    Internal transfers link two customers; a withdrawal goes to ``address:<chain>:<address>``; a deposit comes
    from ``deposit_address:<address>`` (the ledger knows our deposit address, not the sender); fiat movements go
    through ``bank:<reference>`` (one bank account behind many customers shows up as fan-in).
    """
    if kind == "internal_transfer":
        s, d = customer, counterparty
    elif kind == "withdrawal":
        s, d = customer, f"address:{chain}:{address}"
    elif kind == "deposit":
        s, d = f"deposit_address:{address}", customer
    elif kind == "fiat_deposit":
        s, d = f"bank:{bank}", customer
    elif kind == "fiat_withdrawal":
        s, d = customer, f"bank:{bank}"
    else:
        return None
    if s is None or d is None:
        return None
    return str(s), str(d)


def event_transfer(event: Mapping[str, Any]) -> tuple[str, str, float, int] | None:
    """One ledger event (a mapping, as the rule engines stream them) as ``(sender, receiver, usd, seconds)``."""
    ends = transfer_ends(
        event.get("event_type"), event.get("customer_id"), event.get("counterparty_customer_id"),
        event.get("address"), event.get("chain"), event.get("bank_reference"),
    )  # fmt: skip
    if ends is None:
        return None
    stamp = event.get("timestamp")
    if isinstance(stamp, dt.datetime):
        seconds = int((stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)).timestamp())
    elif isinstance(stamp, int | float):
        seconds = int(stamp) // 1_000_000  # the engines' integer microseconds
    else:
        raise FeatureError(f"event {event.get('event_id')!r} has no usable timestamp")
    return ends[0], ends[1], float(event.get("usd_value") or 0.0), seconds


def ledger_graph(events: pa.Table, customers: Sequence[str]) -> LedgerGraph:
    """The customer-level transfer graph of ledger events (any row order; other event types are skipped).

    ``events`` needs ``event_type``, ``timestamp`` (a timestamp, or integer microseconds) and the columns the
    event types use (``customer_id``, ``counterparty_customer_id``, ``address``, ``chain``, ``bank_reference``,
    ``usd_value``; ``event_id`` if alerts should point at events). ``customers`` fixes the scored nodes, active
    or not.
    """
    for needed in ("event_type", "timestamp"):
        if needed not in events.column_names:
            raise FeatureError(f"the ledger events lack the column {needed!r}")
    ts = _seconds(events.column("timestamp"))
    etype, cust = _col(events, "event_type"), _col(events, "customer_id")
    cpty, addr, chain = _col(events, "counterparty_customer_id"), _col(events, "address"), _col(events, "chain")
    bank, usd, ids = _col(events, "bank_reference"), _col(events, "usd_value"), _col(events, "event_id")
    src: list[str] = []
    dst: list[str] = []
    amt: list[float] = []
    tim: list[int] = []
    kept: list[str | None] = []
    for i, kind in enumerate(etype):
        ends = transfer_ends(kind, cust[i], cpty[i], addr[i], chain[i], bank[i])
        if ends is None:
            continue
        src.append(ends[0])
        dst.append(ends[1])
        amt.append(float(usd[i] or 0.0))
        tim.append(int(ts[i]))
        kept.append(None if ids[i] is None else str(ids[i]))
    customer_ids = [str(c) for c in customers]
    nodes = np.array(sorted(set(customer_ids) | set(src) | set(dst)), dtype=object)
    edges = EdgeList.from_arrays(np.array(src, dtype=object), np.array(dst, dtype=object), amt, tim, nodes=nodes)
    event_ids = np.array(kept, dtype=object)[edges.order] if kept else np.empty(0, dtype=object)
    return LedgerGraph(edges, customer_ids, event_ids)


def world_ledger(world_dir: Path) -> LedgerGraph:
    """The graph of a world export's ``exchange/ledger_events.parquet`` and ``exchange/customers.parquet``."""
    ledger = world_dir / "exchange" / "ledger_events.parquet"
    customers_p = world_dir / "exchange" / "customers.parquet"
    if not ledger.is_file() or not customers_p.is_file():
        raise FeatureError(f"{world_dir} is not a world export (needs exchange/ledger_events.parquet, customers)")
    customers = [str(c) for c in pq.read_table(customers_p, columns=["customer_id"]).column(0).to_pylist()]
    return ledger_graph(pq.read_table(ledger), customers)


def store_ledger(engine: Engine) -> LedgerGraph:
    """The graph of the relational store's ledger (transfers only; the bank reference is decrypted in memory to
    tell bank accounts apart and never leaves this process)."""
    from sqlalchemy import select

    from chainsleuth.store.models.exchange import Customer
    from chainsleuth.store.models.ledger import LedgerEvent

    columns = [getattr(LedgerEvent, name) for name in LEDGER_COLUMNS]
    query = (
        select(*columns)
        .where(LedgerEvent.event_type.in_(TRANSFER_TYPES))
        .order_by(LedgerEvent.timestamp, LedgerEvent.event_id)
    )
    with engine.connect() as connection:
        rows = [row._mapping for row in connection.execute(query.execution_options(yield_per=10_000))]
        customers = [str(c) for c in connection.scalars(select(Customer.customer_id).order_by(Customer.customer_id))]
    types = {"timestamp": pa.timestamp("us", tz="UTC"), "usd_value": pa.float64()}
    table = pa.table({name: pa.array([r[name] for r in rows], types.get(name, pa.string())) for name in LEDGER_COLUMNS})
    return ledger_graph(table, customers)


def _onset(text: str, path: Path, line: int) -> float:
    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        message = f"first_illicit_at {text!r} is not an ISO timestamp"
        raise MalformedFileError(message, path=str(path), line=line) from None
    if moment.tzinfo is None:  # a timestamp without a zone is UTC, like everywhere else in the platform
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def read_labels(path: Path) -> dict[str, tuple[float, str]]:
    """customer id -> (onset in unix seconds, label) of the illicit customers of a labels CSV.

    Columns: ``customer_id``, ``first_illicit_at`` (ISO timestamp; naive means UTC) and optionally ``label``
    (the typology) and ``role``. A world's ``ground_truth/customer_labels.csv`` has this shape; in production the
    same file is exported from confirmed cases (one row per customer a case confirmed as illicit, dated when the
    illicit activity began). Rows whose role is ``victim`` are not illicit and are skipped; a customer listed
    twice keeps the earliest onset.
    """
    if not path.is_file():
        raise NotFoundError(f"labels file {path} not found", path=str(path))
    out: dict[str, tuple[float, str]] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {"customer_id", "first_illicit_at"} - set(reader.fieldnames or ())
        if missing:
            raise MalformedFileError(f"labels file lacks the columns {sorted(missing)}", path=str(path), line=1)
        for row in reader:
            line = reader.line_num
            if (row.get("role") or "") in NOT_ILLICIT_ROLES:
                continue
            customer, when = (row.get("customer_id") or "").strip(), (row.get("first_illicit_at") or "").strip()
            if not customer or not when:
                raise MalformedFileError("a label needs customer_id and first_illicit_at", path=str(path), line=line)
            at = _onset(when, path, line)
            if customer not in out or at < out[customer][0]:
                out[customer] = (at, row.get("label") or "illicit")
    return out
