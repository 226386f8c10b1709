"""Python evaluation of compiled rule expressions (used by the streaming engine and to explain batch hits).

The IR is turned into nested closures once per rule, so evaluating an event costs a few function calls per node
and no tree walking or dictionary dispatch. Semantics are SQL's, so that DuckDB computes the same thing:
``null`` propagates through arithmetic and comparisons, ``and``/``or`` use three-valued logic, division by zero
is ``null``, and a condition fires only when it is exactly ``true``.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from chainsleuth.monitor.rules.compiler import (
    IR,
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
)

US_PER_DAY = 86_400_000_000.0
US_PER_HOUR = 3_600_000_000.0


class ExposureLookup(Protocol):
    """What an expression calls for ``exposure(address, category)``: a share in [0, 1]."""

    def __call__(self, env: Env, address: str, category: str) -> float: ...


class Env:
    """Everything an expression can read while one event is evaluated."""

    __slots__ = ("account", "aggs", "customer", "event", "evidence", "exposure", "ts")

    def __init__(
        self,
        event: Mapping[str, Any],
        customer: Mapping[str, Any] | None,
        account: Mapping[str, Any] | None,
        aggs: Mapping[str, Any],
        exposure: ExposureLookup | None = None,
    ) -> None:
        self.event = event
        self.ts: int = event["timestamp"]
        self.customer = customer
        self.account = account
        self.aggs = aggs
        self.exposure = exposure
        self.evidence: list[dict[str, Any]] = []


Fn = Callable[[Env], Any]

_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def profile_value(profile: Mapping[str, Any] | None, name: str, ts: int) -> Any:
    """A profile field; ``age_days`` is derived from ``created_at``/``opened_at`` at the event's time."""
    if profile is None:
        return None
    if name == "age_days":
        start = profile.get("created_at", profile.get("opened_at"))
        return None if start is None else (ts - start) / US_PER_DAY
    return profile.get(name)


def to_python(node: IR) -> Fn:
    """A closure computing ``node`` for an :class:`Env`."""
    if isinstance(node, Const):
        value = node.value
        return lambda env: value
    if isinstance(node, Ref):
        return _ref(node)
    if isinstance(node, Neg):
        inner = to_python(node.operand)

        def neg(env: Env) -> Any:
            value = inner(env)
            return None if value is None else -value

        return neg
    if isinstance(node, Arith):
        return _arith(node.op, to_python(node.left), to_python(node.right))
    if isinstance(node, Cmp):
        compare, left, right = _CMP[node.op], to_python(node.left), to_python(node.right)

        def cmp(env: Env) -> Any:
            a, b = left(env), right(env)
            return None if a is None or b is None else compare(a, b)

        return cmp
    if isinstance(node, BoolOp):
        return _logical(node.op, tuple(to_python(item) for item in node.operands))
    if isinstance(node, NotOp):
        inner_not = to_python(node.operand)

        def negate(env: Env) -> Any:
            value = inner_not(env)
            return None if value is None else not value

        return negate
    if isinstance(node, Member):
        values, negated, operand = frozenset(node.values), node.negated, to_python(node.operand)

        def member(env: Env) -> Any:
            value = operand(env)
            return None if value is None else (value in values) != negated

        return member
    if isinstance(node, Func):
        return _func(node.name, tuple(to_python(arg) for arg in node.args))
    if isinstance(node, Exposure):
        address, category = to_python(node.address), node.category

        def exposure(env: Env) -> Any:
            value = address(env)
            if value is None or env.exposure is None:
                return 0.0
            return env.exposure(env, value, category)

        return exposure
    raise TypeError(f"not an IR node: {node!r}")


def _ref(node: Ref) -> Fn:
    name = node.name
    if node.scope == "event":
        return lambda env: env.event.get(name)
    if node.scope == "agg":
        return lambda env: env.aggs.get(name)
    if node.scope == "customer":
        return lambda env: profile_value(env.customer, name, env.ts)
    return lambda env: profile_value(env.account, name, env.ts)


def _arith(op: str, left: Fn, right: Fn) -> Fn:
    if op == "/":

        def divide(env: Env) -> Any:
            a, b = left(env), right(env)
            if a is None or b is None or b == 0:
                return None
            return a / b

        return divide
    function = {"+": operator.add, "-": operator.sub, "*": operator.mul}[op]

    def arith(env: Env) -> Any:
        a, b = left(env), right(env)
        return None if a is None or b is None else function(a, b)

    return arith


def _logical(op: str, operands: tuple[Fn, ...]) -> Fn:
    stop = op != "and"  # the value that decides: False for and, True for or

    def logical(env: Env) -> Any:
        unknown = False
        for operand in operands:
            value = operand(env)
            if value is None:
                unknown = True
            elif value is stop:
                return stop
        return None if unknown else not stop

    return logical


def round_amount(value: float, step: float) -> float:
    """``value`` rounded to the nearest multiple of ``step`` (halves up), as DuckDB computes it."""
    return math.floor(value / step + 0.5) * step


def _func(name: str, args: tuple[Fn, ...]) -> Fn:
    def values(env: Env) -> list[Any] | None:
        out = [arg(env) for arg in args]
        return None if any(value is None for value in out) else out

    def fn(env: Env) -> Any:
        if name == "coalesce":
            for arg in args:
                value = arg(env)
                if value is not None:
                    return value
            return None
        if name == "is_null":
            return args[0](env) is None
        got = values(env)
        if got is None:
            return None
        if name == "abs":
            return abs(got[0])
        if name == "min":
            return min(got)
        if name == "max":
            return max(got)
        if name in ("round_amount", "is_round"):
            if got[1] == 0:
                return None
            rounded = round_amount(got[0], got[1])
            return rounded if name == "round_amount" else rounded == got[0]
        if name == "days_since":
            return (env.ts - got[0]) / US_PER_DAY
        if name == "hours_between":
            return (got[1] - got[0]) / US_PER_HOUR
        raise TypeError(f"unknown function {name}")

    return fn
