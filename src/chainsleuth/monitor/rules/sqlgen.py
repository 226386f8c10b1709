"""DuckDB SQL for compiled rule expressions and windowed aggregates (the batch engine).

Every construct is written so that DuckDB computes bit-for-bit what :mod:`.evaluate` computes in Python:
numbers are DOUBLE throughout (literals are cast, never DECIMAL), division goes through ``NULLIF`` (null on
zero), rounding is ``floor(x + 0.5)``, and sums are taken over integers of micro-units (HUGEINT) so that the
order of additions (a segment tree in DuckDB, a running total in the streaming engine) cannot change the
result. A window is ``RANGE BETWEEN <w> PRECEDING AND CURRENT ROW EXCLUDE TIES``: the events of the key in
[t - w, t) plus the event itself, and never other events booked in the same microsecond, whose order would
otherwise decide the outcome.
"""

from __future__ import annotations

from collections.abc import Callable

from chainsleuth.monitor.rules.compiler import (
    IR,
    AggregateSpec,
    Arith,
    BoolOp,
    Cmp,
    Const,
    Exposure,
    Func,
    Member,
    Neg,
    NotOp,
    Ref,
    Value,
)

#: Sums are exact over integers of 1e-6 units (micro-dollars for USD values).
SUM_SCALE = 1_000_000
Resolver = Callable[[Ref | Exposure], str]


def literal(value: Value) -> str:
    """A SQL literal of the same type the Python evaluator uses."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return f"CAST('{float(value)!r}' AS DOUBLE)"
    return "'" + value.replace("'", "''") + "'"


def _double(number: float) -> str:
    return f"CAST({number!r} AS DOUBLE)"


def to_sql(node: IR, resolve: Resolver) -> str:
    """SQL text of ``node``; ``resolve`` maps field and aggregate references to column expressions."""
    if isinstance(node, Const):
        return literal(node.value)
    if isinstance(node, Ref):
        return resolve(node)
    if isinstance(node, Neg):
        return f"(-{to_sql(node.operand, resolve)})"
    if isinstance(node, Arith):
        left, right = to_sql(node.left, resolve), to_sql(node.right, resolve)
        if node.op == "/":
            return f"({left} / NULLIF({right}, {_double(0.0)}))"
        return f"({left} {node.op} {right})"
    if isinstance(node, Cmp):
        op = {"==": "=", "!=": "<>"}.get(node.op, node.op)
        return f"({to_sql(node.left, resolve)} {op} {to_sql(node.right, resolve)})"
    if isinstance(node, BoolOp):
        return "(" + f" {node.op.upper()} ".join(to_sql(item, resolve) for item in node.operands) + ")"
    if isinstance(node, NotOp):
        return f"(NOT {to_sql(node.operand, resolve)})"
    if isinstance(node, Member):
        keyword = "NOT IN" if node.negated else "IN"
        items = ", ".join(literal(value) for value in node.values)
        if not items:
            return "FALSE" if not node.negated else "TRUE"
        return f"({to_sql(node.operand, resolve)} {keyword} ({items}))"
    if isinstance(node, Func):
        return _func(node, resolve)
    if isinstance(node, Exposure):
        return resolve(node)  # the batch engine precomputes exposure per event and joins it
    raise TypeError(f"not an IR node: {node!r}")


def _func(node: Func, resolve: Resolver) -> str:
    args = [to_sql(arg, resolve) for arg in node.args]
    if node.name == "coalesce":
        return f"coalesce({', '.join(args)})"
    if node.name == "is_null":
        return f"({args[0]} IS NULL)"
    if node.name == "abs":
        return f"abs({args[0]})"
    if node.name in ("min", "max"):
        any_null = " OR ".join(f"{arg} IS NULL" for arg in args)
        function = "least" if node.name == "min" else "greatest"
        return f"(CASE WHEN {any_null} THEN NULL ELSE {function}({', '.join(args)}) END)"
    if node.name in ("round_amount", "is_round"):
        rounded = f"(floor({args[0]} / NULLIF({args[1]}, {_double(0.0)}) + {_double(0.5)}) * {args[1]})"
        return rounded if node.name == "round_amount" else f"({rounded} = {args[0]})"
    now = resolve(Ref("ts", "event", "timestamp"))
    if node.name == "days_since":
        return f"(CAST({now} - {args[0]} AS DOUBLE) / {_double(86_400_000_000.0)})"
    if node.name == "hours_between":
        return f"(CAST({args[1]} - {args[0]} AS DOUBLE) / {_double(3_600_000_000.0)})"
    raise TypeError(f"unknown function {node.name}")


def aggregate_sql(spec: AggregateSpec, resolve: Resolver, ts_column: str) -> str:
    """The window-function expression computing ``spec`` for every event."""
    value = to_sql(spec.value, resolve) if spec.value is not None else "1"
    if spec.where is not None:
        value = f"(CASE WHEN {to_sql(spec.where, resolve)} THEN {value} END)"
    key = resolve(Ref("str", "event", spec.key_field))
    # Events without a key each get a partition of their own: their result is null anyway, and one huge
    # partition of all of them (every non-login event for a device aggregate) would dominate the cost.
    event_id = resolve(Ref("str", "event", "event_id"))
    partition = f"coalesce({key}, chr(0) || {event_id})"
    window = (
        f"OVER (PARTITION BY {partition} ORDER BY {ts_column} RANGE BETWEEN {spec.window_seconds * 1_000_000} "
        "PRECEDING AND CURRENT ROW EXCLUDE TIES)"
    )
    scaled = f"CAST(floor({value} * {_double(SUM_SCALE)} + {_double(0.5)}) AS HUGEINT)"
    if spec.func == "count":
        body = f"CAST(count({value}) {window} AS DOUBLE)"
    elif spec.func == "distinct_count":
        # DuckDB's DISTINCT window aggregate degrades to quadratic time with EXCLUDE TIES, so the same quantity
        # is computed as: distinct values strictly before t (a plain frame ending 1 µs earlier), plus one if
        # the event's own value did not occur in that frame (a count partitioned by key and value).
        before = f"{spec.window_seconds * 1_000_000} PRECEDING AND 1 PRECEDING"
        earlier = f"count(DISTINCT {value}) OVER (PARTITION BY {partition} ORDER BY {ts_column} RANGE BETWEEN {before})"
        seen = f"count({value}) OVER (PARTITION BY {partition}, {value} ORDER BY {ts_column} RANGE BETWEEN {before})"
        body = f"(CAST({earlier} AS DOUBLE) + CASE WHEN {value} IS NOT NULL AND {seen} = 0 THEN 1.0 ELSE 0.0 END)"
    elif spec.func == "sum":
        body = f"(CAST(coalesce(sum({scaled}) {window}, 0) AS DOUBLE) / {_double(SUM_SCALE)})"
    elif spec.func == "avg":
        total = f"(CAST(sum({scaled}) {window} AS DOUBLE) / {_double(SUM_SCALE)})"
        body = f"({total} / NULLIF(CAST(count({value}) {window} AS DOUBLE), {_double(0.0)}))"
    else:
        body = f"{spec.func}({value}) {window}"
    return f"(CASE WHEN {key} IS NULL THEN NULL ELSE {body} END)"
