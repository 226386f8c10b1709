"""The expression parser and compiler: precedence, positions in errors, and refusing anything not whitelisted."""

from __future__ import annotations

import pytest

from chainsleuth.monitor.rules.compiler import Scope, compile_node, ir_text
from chainsleuth.monitor.rules.syntax import RuleSyntaxError, parse_expression, unparse


def compiled(text: str, **params: object) -> str:
    scope = Scope(params, {"risky": ("KP", "IR")}, {}, {})  # type: ignore[arg-type]
    return ir_text(compile_node(parse_expression(text), scope))


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("1 + 2 * 3", "(1.0 + (2.0 * 3.0))"),
        ("(1 + 2) * 3", "((1.0 + 2.0) * 3.0)"),
        ("1 - 2 - 3", "((1.0 - 2.0) - 3.0)"),
        ("8 / 4 / 2", "((8.0 / 4.0) / 2.0)"),
        ("-a * b", "((-a) * b)"),
        ("a or b and c", "(a or (b and c))"),
        ("not a and b", "((not a) and b)"),
        ("not a == b", "(not (a == b))"),
        ("a + 1 > b * 2 and c", "(((a + 1.0) > (b * 2.0)) and c)"),
        ("a or b or c", "(a or b or c)"),
        ("x in ['a', 'b']", "(x in ['a', 'b'])"),
        ("x not in ('a',)", "(x not in ['a'])"),
        ("10_000", "10000.0"),
        ("f(a, by=customer, window=24h)", "f(a, by=customer, window=86400s)"),
        ("customer.age_days", "customer.age_days"),
        ("'it\\'s'", '"it\'s"'),
    ],
)
def test_precedence(text: str, tree: str) -> None:
    assert unparse(parse_expression(text)) == tree


@pytest.mark.parametrize(
    ("text", "message", "pos"),
    [
        ("usd_value >", "unexpected end of expression", (1, 12)),
        ("usd_value > > 3", "unexpected '>'", (1, 13)),
        ("a == b == c", "comparisons cannot be chained", (1, 8)),
        ("a $ b", "unexpected character '$'", (1, 3)),
        ("(a + b", "expected ')'", (1, 7)),
        ("a and\n  b @", "unexpected character '@'", (2, 5)),
        ("x.__class__", "names starting with '_'", (1, 3)),
        ("__import__('os')", "names starting with '_'", (1, 1)),
        ("(1).real", "unexpected '.'", (1, 4)),
        ("a.b(1)", "only plain function names", (1, 4)),
        ("f(a=1, 2)", "positional argument after a named one", (1, 8)),
        ("x in y", "expected a list after 'in'", (1, 6)),
        ("'unterminated", "unexpected character", (1, 1)),
        ("", "empty expression", (1, 1)),
        ("lambda: 1", "unexpected character ':'", (1, 7)),
    ],
)
def test_parse_errors_have_positions(text: str, message: str, pos: tuple[int, int]) -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        parse_expression(text)
    assert message in caught.value.reason
    assert caught.value.pos == pos


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("eval('1')", "unknown function 'eval'"),
        ("open('/etc/passwd') == 'x'", "unknown function 'open'"),
        ("getattr(customer, 'x')", "unknown function 'getattr'"),
        ("customer.password_hash == 'x'", "unknown field 'customer.password_hash'"),
        ("event.full_name == 'x'", "unknown field"),
        ("nonsense > 1", "unknown name 'nonsense'"),
        ("usd_value > 'ten'", "cannot compare num with str"),
        ("usd_value + event_type > 1", "needs num"),
        ("usd_value", ""),  # compiles, but the loader refuses a non-boolean condition (see test_loader)
        ("sum(usd_value, by=customer)", "needs by= and window="),
        ("sum(usd_value, by=planet, window=1h)", "by= must be one of"),
        ("sum(usd_value, by=customer, window=5)", "window= must be a duration"),
        ("sum(event_type, by=customer, window=1h)", "sum() needs num"),
        ("count(by=customer, window=1h, where=customer.age_days > 1)", "profile fields cannot be used"),
        ("count(by=customer, window=1h, where=count(by=ip, window=1h) > 1)", "aggregates cannot be nested"),
        ("count(by=customer, window=1h, when=true)", "has no argument 'when'"),
        ("sum(usd_value, by=customer, window=999d) > 1", "longer than"),
        ("exposure(address, 'casino') > 0", "category must be one of"),
        ("in_list(ip_country, 'nowhere')", "unknown list 'nowhere'"),
        ("asset in [null]", "null is not allowed"),
        ("abs(1, 2)", "takes 1..1 arguments"),
        ("success > true", "booleans can only be compared"),
        ("days_since(usd_value) > 1", "days_since() needs ts"),
    ],
)
def test_compile_refuses(text: str, message: str) -> None:
    if not message:
        assert compiled(text) == "usd_value"
        return
    with pytest.raises(RuleSyntaxError) as caught:
        compiled(text)
    assert message in caught.value.reason


def test_params_and_lists_are_inlined() -> None:
    assert compiled("usd_value >= limit * 0.9", limit=10_000) == "(usd_value >= (10000.0 * 0.9))"
    assert compiled("in_list(ip_country, 'risky')") == "(ip_country in ['KP', 'IR'])"
    assert compiled("count(by=ip, window=1h, where=success == false) > 3") == (
        "(count(by=ip, window=3600s, where=(success == False)) > 3.0)"
    )
