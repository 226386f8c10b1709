"""The batch engine: the same rules over history, with DuckDB window functions.

Each rule becomes one query: its aggregates as window functions over *all* events (partitioned by the key,
ordered by the microsecond timestamp, ``RANGE ... EXCLUDE TIES``), then the rule's scope and condition as a
filter, joined with the customer and account profiles. DuckDB does the heavy part (sorting and windowing
millions of events, in parallel and spilling to disk if needed); only the hits come back to Python, where the
condition is evaluated once more on the returned values to build the explanation, so that an alert's values are
produced by the same code in both engines. A hit the SQL found but Python does not confirm is counted in
``BatchResult.disagreements`` (it would be a bug; the property test keeps it at zero).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from chainsleuth.errors import InvalidInputError
from chainsleuth.monitor.engine.context import (
    ACCOUNT_COLUMNS,
    CUSTOMER_COLUMNS,
    EngineContext,
    RuleHit,
    make_hit,
    normalize_event,
)
from chainsleuth.monitor.rules.compiler import EVENT_FIELDS, Exposure, Ref, walk
from chainsleuth.monitor.rules.evaluate import Env
from chainsleuth.monitor.rules.model import Rule, RuleSet
from chainsleuth.monitor.rules.sqlgen import aggregate_sql, literal, to_sql

NUMERIC = ("amount", "usd_value", "quote_amount", "price")
PROFILE_TYPES = {"created_at": pa.int64(), "opened_at": pa.int64(), "declared_annual_income_usd": pa.float64(),
                 "kyc_level": pa.float64()}  # fmt: skip


@dataclass
class BatchResult:
    """Hits of a batch run, with per-rule timings."""

    hits: list[RuleHit]
    events: int
    seconds_per_rule: dict[str, float] = field(default_factory=dict)
    disagreements: int = 0


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _event_arrow(events: Iterable[Mapping[str, Any]]) -> pa.Table:
    rows = [normalize_event(event) for event in events]
    columns: dict[str, pa.Array] = {}
    for name, kind in EVENT_FIELDS.items():
        kind_type = {"ts": pa.int64(), "num": pa.float64(), "bool": pa.bool_()}.get(kind, pa.string())
        columns[name] = pa.array([row[name] for row in rows], type=kind_type)
    return pa.table(columns)


def _register_source(con: duckdb.DuckDBPyConnection, source: Any) -> None:
    """Make ``raw_events`` out of a Parquet file, a world directory, an Arrow table, a store engine or dicts."""
    if isinstance(source, str | Path):
        path = Path(source)
        if path.is_dir():
            path = path / "exchange" / "ledger_events.parquet"
        if not path.is_file():
            raise InvalidInputError("no ledger events Parquet file here", path=str(path))
        con.execute(f"CREATE VIEW raw_events AS SELECT * FROM read_parquet({literal(str(path))})")
        return
    if isinstance(source, pa.Table):
        con.register("raw_events", source)
        return
    from sqlalchemy import Engine

    if isinstance(source, Engine):
        source = store_events(source)
    con.register("raw_events", _event_arrow(source))


def store_events(engine: Any) -> Iterable[Mapping[str, Any]]:
    """The relational store's ledger in time order (the IP as its blind index)."""
    from sqlalchemy import select

    from chainsleuth.store.models.ledger import LedgerEvent

    # ``ip`` is stored encrypted (randomised ciphertext); its blind index is equal for equal addresses, which
    # is all a per-IP window needs, and reveals nothing.
    columns = [LedgerEvent.ip_bidx.label("ip") if name == "ip" else getattr(LedgerEvent, name) for name in EVENT_FIELDS]
    with engine.connect() as connection:
        query = select(*columns).order_by(LedgerEvent.timestamp, LedgerEvent.event_id)
        for row in connection.execute(query.execution_options(yield_per=10_000)):
            yield row._mapping


def _events_view(con: duckdb.DuckDBPyConnection) -> None:
    kinds = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE raw_events)").fetchall())
    missing = sorted(set(EVENT_FIELDS) - set(kinds))
    if missing:
        raise InvalidInputError("the ledger events lack columns", missing=missing)
    select = []
    for name, kind in EVENT_FIELDS.items():
        column = _quote(name)
        if name == "timestamp":
            ts_type = str(kinds[name]).upper()
            expr = column if ts_type in ("BIGINT", "INTEGER") else f"epoch_us({column})"
            select.append(f"{expr} AS __ts")
        elif kind == "num":
            select.append(f"CAST({column} AS DOUBLE) AS {column}")
        elif kind == "bool":
            select.append(f"CAST({column} AS BOOLEAN) AS {column}")
        else:
            select.append(f"CAST({column} AS VARCHAR) AS {column}")
    # Materialised once: every rule's query reads it, and Parquet decoding and casts are then paid once.
    con.execute(f"CREATE TEMP TABLE ev AS SELECT {', '.join(select)} FROM raw_events")


def _profiles(con: duckdb.DuckDBPyConnection, context: EngineContext) -> None:
    for table, rows, columns in (
        ("cust", context.customers, CUSTOMER_COLUMNS),
        ("acct", context.accounts, ACCOUNT_COLUMNS),
    ):
        data = {
            name: pa.array([row.get(name) for row in rows.values()], type=PROFILE_TYPES.get(name, pa.string()))
            for name in columns
        }
        con.register(table, pa.table(data))


def _exposure_tables(
    con: duckdb.DuckDBPyConnection, rule: Rule, context: EngineContext, done: dict[tuple[str, ...], str]
) -> dict[tuple[str, str], str]:
    """Exposure shares of the rule's in-scope events, computed once in Python and joined as tables.

    Calling the provider from SQL (a Python UDF) costs ~100 µs a row in DuckDB; here each distinct
    (chain, address, transaction, type) is looked up once and only non-zero shares are registered.
    """
    tables: dict[tuple[str, str], str] = {}
    scope = ", ".join(literal(event_type) for event_type in rule.scope)
    for node in walk(rule.condition):
        if not isinstance(node, Exposure) or not isinstance(node.address, Ref):
            continue
        field_name = node.address.name
        key = (field_name, node.category, *sorted(rule.scope))
        if key not in done:
            column = _quote(field_name)
            rows = con.execute(
                f"SELECT event_id, chain, {column}, tx_hash, event_type, address FROM ev "
                f"WHERE event_type IN ({scope}) AND {column} IS NOT NULL"
            ).fetchall()
            ids, shares = [], []
            for event_id, chain, value, tx_hash, event_type, own in rows:
                hit = context.exposure_hit(chain, value, tx_hash, event_type, own, node.category)
                if hit is not None and hit.share != 0.0:
                    ids.append(event_id)
                    shares.append(hit.share)
            name = f"xp_{len(done)}"
            con.register(
                name, pa.table({"event_id": pa.array(ids, pa.string()), "share": pa.array(shares, pa.float64())})
            )
            done[key] = name
        tables[(field_name, node.category)] = done[key]
    return tables


def _resolver(alias: str, columns: Mapping[str, str], exposures: Mapping[tuple[str, str], str] | None = None) -> Any:
    def resolve(ref: Ref | Exposure) -> str:
        if isinstance(ref, Exposure):
            assert exposures is not None
            assert isinstance(ref.address, Ref)
            table = exposures[(ref.address.name, ref.category)]
            return f"coalesce({table}.share, CAST(0.0 AS DOUBLE))"
        if ref.scope == "event":
            return f"{alias}.__ts" if ref.name == "timestamp" else f"{alias}.{_quote(ref.name)}"
        if ref.scope == "agg":
            return f"{alias}.{columns[ref.name]}"
        profile = "c" if ref.scope == "customer" else "a"
        if ref.name == "age_days":
            start = "created_at" if ref.scope == "customer" else "opened_at"
            return f"(CAST({alias}.__ts - {profile}.{start} AS DOUBLE) / CAST(86400000000.0 AS DOUBLE))"
        return f"{profile}.{_quote(ref.name)}"

    return resolve


def rule_sql(rule: Rule, exposures: Mapping[tuple[str, str], str] | None = None) -> tuple[str, dict[str, str]]:
    """The query returning the hits of ``rule`` (with its aggregate values), and aggregate key → column.

    The windows are computed over a narrow projection (the fields the condition reads, plus the window
    columns), so that sorting millions of events moves as few bytes as possible; the full events are joined
    back for the hits only. ``exposures`` names the precomputed exposure table of each exposure look-up.
    """
    columns = {key: f"agg_{index}" for index, key in enumerate(rule.aggregates)}
    inner = _resolver("e", columns)
    windows = [f"{aggregate_sql(spec, inner, 'e.__ts')} AS {columns[key]}" for key, spec in rule.aggregates.items()]
    needed = {"event_id", "event_type", "customer_id", "account_id"}
    for node in walk(rule.condition):
        if isinstance(node, Ref) and node.scope == "event":
            needed.add(node.name)
    needed.discard("timestamp")
    projection = ", ".join(["e.__ts", *(f"e.{_quote(name)}" for name in sorted(needed)), *windows])
    exposures = dict(exposures or {})
    for node in walk(rule.condition):  # placeholders when only the SQL text is wanted (``rules show --sql``)
        if isinstance(node, Exposure) and isinstance(node.address, Ref):
            exposures.setdefault((node.address.name, node.category), f"xp_{node.category}")
    outer = _resolver("w", columns, exposures)
    joins = "".join(f"LEFT JOIN {name} ON {name}.event_id = w.event_id " for name in sorted(set(exposures.values())))
    scope = ", ".join(literal(event_type) for event_type in rule.scope)
    aggregates = "".join(f", h.{column}" for column in columns.values())
    sql = (
        f"WITH w AS (SELECT {projection} FROM ev e), "
        f"h AS (SELECT w.* FROM w "
        "LEFT JOIN cust c ON c.customer_id = w.customer_id LEFT JOIN acct a ON a.account_id = w.account_id "
        f"{joins}WHERE w.event_type IN ({scope}) AND ({to_sql(rule.condition, outer)})) "
        f"SELECT ev.*{aggregates} FROM h JOIN ev ON ev.event_id = h.event_id ORDER BY ev.__ts, ev.event_id"
    )
    return sql, columns


def run_batch(
    source: Any,
    rules: RuleSet,
    context: EngineContext | None = None,
    *,
    connection: duckdb.DuckDBPyConnection | None = None,
    threads: int | None = None,
    memory_limit: str | None = None,
) -> BatchResult:
    """Evaluate ``rules`` over every event of ``source`` (Parquet path, world dir, Arrow table, store engine,
    or an iterable of event mappings). Hits are ordered by time, event id and rule order, as streaming yields
    them."""
    import time

    ctx = context or EngineContext()
    con = connection or duckdb.connect()
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    if memory_limit:
        con.execute(f"SET memory_limit = {literal(memory_limit)}")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")
    try:
        _register_source(con, source)
        _events_view(con)
        _profiles(con, ctx)
        total_row = con.execute("SELECT count(*) FROM ev").fetchone()
        total = int(total_row[0]) if total_row else 0
        order = {rule.id: index for index, rule in enumerate(rules)}
        hits: list[RuleHit] = []
        timings: dict[str, float] = {}
        disagreements = 0
        exposure_tables: dict[tuple[str, ...], str] = {}
        for rule in rules:
            started = time.perf_counter()
            sql, columns = rule_sql(rule, _exposure_tables(con, rule, ctx, exposure_tables))
            cursor = con.execute(sql)
            names = [item[0] for item in cursor.description or []]
            for row in cursor.fetchall():
                record = dict(zip(names, row, strict=True))
                event = {name: record[name] for name in EVENT_FIELDS if name != "timestamp"}
                event["timestamp"] = record["__ts"]
                aggs = {key: record[column] for key, column in columns.items()}
                customer = ctx.customers.get(event["customer_id"]) if event["customer_id"] else None
                account = ctx.accounts.get(event["account_id"]) if event["account_id"] else None
                hit = make_hit(rule, Env(event, customer, account, aggs, ctx.lookup))
                if hit is None:
                    disagreements += 1
                else:
                    hits.append(hit)
            timings[rule.id] = time.perf_counter() - started
        hits.sort(key=lambda hit: (hit.timestamp, hit.event_id, order[hit.rule_id]))
        return BatchResult(hits, total, timings, disagreements)
    finally:
        if connection is None:
            con.close()
