"""Name resolution and type checking: a syntax tree becomes a typed intermediate form (IR).

The IR is what both engines execute: :mod:`.evaluate` turns it into Python closures (streaming) and
:mod:`.sqlgen` into DuckDB SQL (batch). Checking types here, once, is what lets the two agree: every value is a
number (float), a string, a boolean or a timestamp (integer microseconds), operations are defined only between
the types where both engines compute the same result, and anything else is refused before a rule ever runs.

Names resolve as follows: a rule parameter (a named threshold) becomes a constant; a named aggregate of the
rule becomes a reference to its window column; ``customer.x`` / ``account.x`` are profile fields; any other
name (or ``event.x``) is a field of the event. Functions are a closed whitelist.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from chainsleuth.monitor.rules.syntax import (
    Binary,
    Call,
    Duration,
    InList,
    ListExpr,
    Literal,
    Logical,
    Name,
    Node,
    Not,
    Pos,
    RuleSyntaxError,
    Unary,
    unparse,
)

NUM, STR, BOOL, TS, NULL = "num", "str", "bool", "ts", "null"

EVENT_FIELDS: dict[str, str] = {
    "event_id": STR, "event_type": STR, "timestamp": TS, "customer_id": STR, "account_id": STR,
    "asset": STR, "amount": NUM, "usd_value": NUM, "chain": STR, "tx_hash": STR, "address": STR,
    "counterparty_customer_id": STR, "counterparty_account_id": STR, "side": STR, "quote_asset": STR,
    "quote_amount": NUM, "price": NUM, "bank_reference": STR, "ip": STR, "device_id": STR,
    "user_agent": STR, "ip_country": STR, "success": BOOL, "change_type": STR,
}  # fmt: skip
CUSTOMER_FIELDS: dict[str, str] = {
    "customer_id": STR, "created_at": TS, "nationality": STR, "id_document_country": STR,
    "country_of_residence": STR, "occupation": STR, "declared_annual_income_usd": NUM,
    "source_of_funds": STR, "risk_rating": STR, "kyc_level": NUM, "status": STR, "age_days": NUM,
}  # fmt: skip
ACCOUNT_FIELDS: dict[str, str] = {
    "account_id": STR, "account_type": STR, "opened_at": TS, "status": STR, "age_days": NUM,
}  # fmt: skip
PROFILE_FIELDS = {"customer": CUSTOMER_FIELDS, "account": ACCOUNT_FIELDS}

#: Aggregation keys: ``by=<key>`` groups events by this event field.
AGGREGATE_KEYS: dict[str, str] = {
    "customer": "customer_id",
    "account": "account_id",
    "address": "address",
    "device": "device_id",
    "ip": "ip",
    "counterparty": "counterparty_account_id",
    "counterparty_customer": "counterparty_customer_id",
}
AGGREGATES = ("count", "sum", "distinct_count", "max", "min", "avg")
#: Scalar functions (name → (minimum, maximum) number of arguments).
FUNCTIONS: dict[str, tuple[int, int]] = {
    "abs": (1, 1),
    "min": (2, 8),
    "max": (2, 8),
    "coalesce": (2, 8),
    "round_amount": (2, 2),
    "is_round": (2, 2),
    "days_since": (1, 1),
    "hours_between": (2, 2),
    "exposure": (2, 2),
    "in_list": (2, 2),
    "is_null": (1, 1),
}
#: Categories ``exposure(address, category)`` understands (see ``chainsleuth.monitor.exposure``).
EXPOSURE_CATEGORIES = ("sanctions", "mixer", "darknet", "ransomware", "scam", "stolen_funds")
#: Longest window we keep state for (memory of the streaming engine is bounded by it).
MAX_WINDOW_SECONDS = 400 * 86400

Value = float | str | bool | int | None


@dataclass(frozen=True)
class IR:
    """Base of typed nodes; ``type`` is one of num, str, bool, ts, null."""

    type: str


@dataclass(frozen=True)
class Const(IR):
    value: Value


@dataclass(frozen=True)
class Ref(IR):
    scope: str  # event, customer, account, agg
    name: str


@dataclass(frozen=True)
class Neg(IR):
    operand: IR


@dataclass(frozen=True)
class Arith(IR):
    op: str
    left: IR
    right: IR


@dataclass(frozen=True)
class Cmp(IR):
    op: str
    left: IR
    right: IR


@dataclass(frozen=True)
class BoolOp(IR):
    op: str
    operands: tuple[IR, ...]


@dataclass(frozen=True)
class NotOp(IR):
    operand: IR


@dataclass(frozen=True)
class Member(IR):
    operand: IR
    values: tuple[Value, ...]
    negated: bool


@dataclass(frozen=True)
class Func(IR):
    name: str
    args: tuple[IR, ...]


@dataclass(frozen=True)
class Exposure(IR):
    address: IR
    category: str


@dataclass(frozen=True)
class AggregateSpec:
    """One windowed aggregate: ``func(value, by=key, window=..., where=...)`` over the event stream."""

    func: str
    value: IR | None
    where: IR | None
    by: str
    window_seconds: int
    text: str

    @property
    def key(self) -> str:
        """Identity: two rules using the same aggregate share its state and its batch column."""
        return self.text

    @property
    def key_field(self) -> str:
        return AGGREGATE_KEYS[self.by]


@dataclass
class Scope:
    """What names mean while compiling one rule."""

    params: Mapping[str, Value]
    lists: Mapping[str, Sequence[Value]]
    named: dict[str, tuple[str, AggregateSpec]]  # aggregate name → (type, spec)
    aggregates: dict[str, AggregateSpec]  # key → spec, every aggregate the rule uses
    event_only: bool = False  # inside an aggregate's value/where: only event fields and constants


def _value_type(value: Value, pos: Pos) -> str:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int | float):
        return NUM
    if isinstance(value, str):
        return STR
    raise RuleSyntaxError(f"unsupported constant {value!r}", pos)


def _const(value: Value, pos: Pos) -> Const:
    if isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    return Const(_value_type(value, pos), value)


def _unify(left: IR, right: IR, op: str, pos: Pos) -> None:
    if NULL in (left.type, right.type):
        return
    if left.type != right.type:
        raise RuleSyntaxError(f"cannot compare {left.type} with {right.type} using {op!r}", pos)
    if left.type == BOOL and op not in ("==", "!="):
        raise RuleSyntaxError(f"booleans can only be compared with == or !=, not {op!r}", pos)


def _need(node: IR, types: tuple[str, ...], what: str, pos: Pos) -> None:
    if node.type not in (*types, NULL):
        raise RuleSyntaxError(f"{what} needs {' or '.join(types)}, got {node.type}", pos)


def compile_node(node: Node, scope: Scope) -> IR:
    """Resolve and type-check ``node`` in ``scope``; RuleSyntaxError naming the position of a problem."""
    if isinstance(node, Literal):
        return _const(node.value, node.pos)
    if isinstance(node, Duration):
        raise RuleSyntaxError("a duration is only allowed as window=", node.pos)
    if isinstance(node, Name):
        return _name(node, scope)
    if isinstance(node, Unary) and node.operand is not None:
        operand = compile_node(node.operand, scope)
        _need(operand, (NUM,), "'-'", node.pos)
        return Neg(NUM, operand)
    if isinstance(node, Binary) and node.left is not None and node.right is not None:
        left, right = compile_node(node.left, scope), compile_node(node.right, scope)
        if node.op in ("+", "-", "*", "/"):
            _need(left, (NUM,), f"{node.op!r}", node.pos)
            _need(right, (NUM,), f"{node.op!r}", node.pos)
            return Arith(NUM, node.op, left, right)
        _unify(left, right, node.op, node.pos)
        return Cmp(BOOL, node.op, left, right)
    if isinstance(node, Logical):
        operands = tuple(compile_node(item, scope) for item in node.operands)
        for item, source in zip(operands, node.operands, strict=True):
            _need(item, (BOOL,), f"'{node.op}'", source.pos)
        return BoolOp(BOOL, node.op, operands)
    if isinstance(node, Not) and node.operand is not None:
        operand = compile_node(node.operand, scope)
        _need(operand, (BOOL,), "'not'", node.pos)
        return NotOp(BOOL, operand)
    if isinstance(node, InList) and node.operand is not None and isinstance(node.items, ListExpr):
        operand = compile_node(node.operand, scope)
        values = tuple(_constant(item, scope) for item in node.items.items)
        return _member(operand, values, node.negated, node.pos)
    if isinstance(node, ListExpr):
        raise RuleSyntaxError("a list is only allowed after 'in'", node.pos)
    if isinstance(node, Call):
        return _call(node, scope)
    raise RuleSyntaxError(f"unsupported expression {type(node).__name__}", node.pos)


def _member(operand: IR, values: tuple[Value, ...], negated: bool, pos: Pos) -> Member:
    for value in values:
        if value is None:
            raise RuleSyntaxError("null is not allowed in a list (use is_null(x))", pos)
        _unify(operand, _const(value, pos), "in", pos)
    normalized = tuple(float(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in values)
    return Member(BOOL, operand, normalized, negated)


def _constant(node: Node, scope: Scope) -> Value:
    compiled = compile_node(node, scope)
    if isinstance(compiled, Neg) and isinstance(compiled.operand, Const):
        value = compiled.operand.value
        if isinstance(value, float):
            return -value
    if not isinstance(compiled, Const):
        raise RuleSyntaxError("list items must be constants", node.pos)
    return compiled.value


def _name(node: Name, scope: Scope) -> IR:
    parts = node.parts
    if len(parts) == 1:
        name = parts[0]
        if name in scope.params:
            return _const(scope.params[name], node.pos)
        if name in scope.named:
            if scope.event_only:
                raise RuleSyntaxError(f"aggregate {name!r} cannot be used inside an aggregate", node.pos)
            kind, spec = scope.named[name]
            scope.aggregates[spec.key] = spec
            return Ref(kind, "agg", spec.key)
        if name in scope.lists:
            raise RuleSyntaxError(f"list {name!r} can only be used as in_list(value, {name!r})", node.pos)
        if name in EVENT_FIELDS:
            return Ref(EVENT_FIELDS[name], "event", name)
        raise RuleSyntaxError(f"unknown name {name!r}", node.pos, name=name)
    if len(parts) == 2 and parts[0] == "event" and parts[1] in EVENT_FIELDS:
        return Ref(EVENT_FIELDS[parts[1]], "event", parts[1])
    if len(parts) == 2 and parts[0] in PROFILE_FIELDS:
        fields = PROFILE_FIELDS[parts[0]]
        if scope.event_only:
            raise RuleSyntaxError("profile fields cannot be used inside an aggregate", node.pos)
        if parts[1] in fields:
            return Ref(fields[parts[1]], parts[0], parts[1])
    raise RuleSyntaxError(f"unknown field {'.'.join(parts)!r}", node.pos, name=".".join(parts))


def _call(node: Call, scope: Scope) -> IR:
    if node.name in AGGREGATES and any(key == "window" for key, _ in node.kwargs):
        if scope.event_only:
            raise RuleSyntaxError("aggregates cannot be nested", node.pos)
        kind, spec = compile_aggregate(node, scope)
        scope.aggregates[spec.key] = spec
        return Ref(kind, "agg", spec.key)
    if node.name in AGGREGATES and node.name not in FUNCTIONS:
        raise RuleSyntaxError(f"aggregate {node.name}() needs by= and window=", node.pos)
    if node.name not in FUNCTIONS:
        raise RuleSyntaxError(f"unknown function {node.name!r}", node.pos, function=node.name)
    if node.kwargs:
        raise RuleSyntaxError(f"{node.name}() takes no named arguments", node.kwargs[0][1].pos)
    low, high = FUNCTIONS[node.name]
    if not low <= len(node.args) <= high:
        raise RuleSyntaxError(f"{node.name}() takes {low}..{high} arguments, got {len(node.args)}", node.pos)
    if node.name == "in_list":
        return _in_list(node, scope)
    if node.name == "exposure":
        if scope.event_only:
            raise RuleSyntaxError("exposure() cannot be used inside an aggregate", node.pos)
        address = compile_node(node.args[0], scope)
        if not isinstance(address, Ref) or address.scope != "event" or address.type != STR:
            raise RuleSyntaxError("exposure() looks up an address field of the event, e.g. address", node.args[0].pos)
        category = node.args[1]
        if not isinstance(category, Literal) or category.value not in EXPOSURE_CATEGORIES:
            raise RuleSyntaxError(f"exposure() category must be one of {', '.join(EXPOSURE_CATEGORIES)}", category.pos)
        assert isinstance(category.value, str)
        return Exposure(NUM, address, category.value)
    args = tuple(compile_node(arg, scope) for arg in node.args)
    if node.name in ("days_since", "hours_between"):
        for arg, source in zip(args, node.args, strict=True):
            _need(arg, (TS,), f"{node.name}()", source.pos)
        return Func(NUM, node.name, args)
    if node.name == "is_null":
        return Func(BOOL, node.name, args)
    if node.name == "coalesce":
        kinds = {arg.type for arg in args} - {NULL}
        if len(kinds) > 1:
            raise RuleSyntaxError(f"coalesce() arguments mix types {sorted(kinds)}", node.pos)
        return Func(kinds.pop() if kinds else NULL, node.name, args)
    for arg, source in zip(args, node.args, strict=True):
        _need(arg, (NUM,), f"{node.name}()", source.pos)
    return Func(BOOL if node.name == "is_round" else NUM, node.name, args)


def _in_list(node: Call, scope: Scope) -> IR:
    operand = compile_node(node.args[0], scope)
    name = node.args[1]
    if not isinstance(name, Literal) or not isinstance(name.value, str):
        raise RuleSyntaxError("in_list() needs the list's name as a string literal", name.pos)
    if name.value not in scope.lists:
        raise RuleSyntaxError(f"unknown list {name.value!r}", name.pos, list=name.value)
    return _member(operand, tuple(scope.lists[name.value]), False, node.pos)


def compile_aggregate(node: Call, scope: Scope) -> tuple[str, AggregateSpec]:
    """Compile ``func([value], by=..., window=..., where=...)`` into a spec and its result type."""
    kwargs = dict(node.kwargs)
    unknown = sorted(set(kwargs) - {"by", "window", "where"})
    if unknown:
        raise RuleSyntaxError(f"{node.name}() has no argument {unknown[0]!r}", kwargs[unknown[0]].pos)
    by = kwargs.get("by")
    if not isinstance(by, Name) or len(by.parts) != 1 or by.parts[0] not in AGGREGATE_KEYS:
        raise RuleSyntaxError(f"by= must be one of {', '.join(AGGREGATE_KEYS)}", (by or node).pos)
    window = kwargs["window"]
    if not isinstance(window, Duration):
        raise RuleSyntaxError("window= must be a duration such as 1h, 24h, 7d, 30d", window.pos)
    if window.seconds > MAX_WINDOW_SECONDS:
        raise RuleSyntaxError(f"window= is longer than {MAX_WINDOW_SECONDS // 86400}d", window.pos)
    inner = Scope(scope.params, scope.lists, scope.named, scope.aggregates, event_only=True)
    value: IR | None = None
    if node.name == "count":
        if len(node.args) > 1:
            raise RuleSyntaxError("count() takes at most one value", node.pos)
    elif len(node.args) != 1:
        raise RuleSyntaxError(f"{node.name}() takes exactly one value", node.pos)
    if node.args:
        value = compile_node(node.args[0], inner)
        if node.name in ("sum", "avg"):
            _need(value, (NUM,), f"{node.name}()", node.args[0].pos)
        if node.name in ("max", "min"):
            _need(value, (NUM, STR, TS), f"{node.name}()", node.args[0].pos)
    where: IR | None = None
    if "where" in kwargs:
        where = compile_node(kwargs["where"], inner)
        _need(where, (BOOL,), "where=", kwargs["where"].pos)
    kind = NUM
    if node.name in ("max", "min") and value is not None and value.type in (STR, TS):
        kind = value.type
    text = _spec_text(node, value, where)
    spec = AggregateSpec(node.name, value, where, by.parts[0], window.seconds, text)
    return kind, spec


def _spec_text(node: Call, value: IR | None, where: IR | None) -> str:
    """Canonical identity of an aggregate: resolved parameters make equal aggregates equal text."""
    parts = [ir_text(value)] if value is not None else []
    kwargs = dict(node.kwargs)
    parts.append(f"by={unparse(kwargs['by'])}")
    parts.append(f"window={unparse(kwargs['window'])}")
    if where is not None:
        parts.append(f"where={ir_text(where)}")
    return f"{node.name}({', '.join(parts)})"


def ir_text(node: IR) -> str:
    """Canonical text of a compiled node (constants inlined)."""
    if isinstance(node, Const):
        return repr(node.value)
    if isinstance(node, Ref):
        return node.name if node.scope in ("event", "agg") else f"{node.scope}.{node.name}"
    if isinstance(node, Neg):
        return f"(-{ir_text(node.operand)})"
    if isinstance(node, Arith | Cmp):
        return f"({ir_text(node.left)} {node.op} {ir_text(node.right)})"
    if isinstance(node, BoolOp):
        return "(" + f" {node.op} ".join(ir_text(item) for item in node.operands) + ")"
    if isinstance(node, NotOp):
        return f"(not {ir_text(node.operand)})"
    if isinstance(node, Member):
        keyword = "not in" if node.negated else "in"
        return f"({ir_text(node.operand)} {keyword} {list(node.values)!r})"
    if isinstance(node, Func):
        return f"{node.name}({', '.join(ir_text(arg) for arg in node.args)})"
    if isinstance(node, Exposure):
        return f"exposure({ir_text(node.address)}, {node.category!r})"
    raise TypeError(f"not an IR node: {node!r}")


def walk(node: IR) -> list[IR]:
    """Every node of the tree, parents first."""
    out: list[IR] = [node]
    children: tuple[IR, ...] = ()
    if isinstance(node, Neg | NotOp | Member):
        children = (node.operand,)
    elif isinstance(node, Arith | Cmp):
        children = (node.left, node.right)
    elif isinstance(node, BoolOp):
        children = node.operands
    elif isinstance(node, Func):
        children = node.args
    elif isinstance(node, Exposure):
        children = (node.address,)
    for child in children:
        out.extend(walk(child))
    return out
