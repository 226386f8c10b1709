"""The rule expression language: tokens, syntax tree and a Pratt parser. Nothing here is ever ``eval``ed.

Why a hand-written Pratt parser rather than ``ast.parse(mode="eval")`` with a node whitelist: Python's grammar
is far larger than ours (lambdas, comprehensions, starred arguments, walrus, f-strings, chained comparisons...),
so a whitelist has to be audited against every new Python release, and its error messages speak Python, not
rules. Our grammar has a dozen productions; the parser below can only build the nodes defined here, so there is
nothing to escape from. Every node carries its (line, column) in the expression text, which the loader shifts to
the position in the rule file so that an error names the file, the rule, the line and the column.

Grammar (lowest to highest precedence)::

    expr     := or
    or       := and ("or" and)*
    and      := not ("and" not)*
    not      := "not" not | compare
    compare  := sum (("==" | "!=" | "<" | "<=" | ">" | ">=") sum | ["not"] "in" list)?
    sum      := product (("+" | "-") product)*
    product  := unary (("*" | "/") unary)*
    unary    := "-" unary | atom
    atom     := NUMBER | STRING | DURATION | "true" | "false" | "null" | name | call | "(" expr ")" | list
    name     := IDENT ("." IDENT)*          (no segment may start with "_")
    call     := IDENT "(" [arg ("," arg)*] ")"      arg := expr | IDENT "=" expr
    list     := ("[" | "(") [expr ("," expr)*] ("]" | ")")
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from chainsleuth.errors import InvalidInputError

Pos = tuple[int, int]


class RuleSyntaxError(InvalidInputError):
    """An expression that cannot be parsed or compiled; ``line``/``column`` are 1-based."""

    code = "rule_error"

    def __init__(self, message: str, pos: Pos, **details: object) -> None:
        super().__init__(message, line=pos[0], column=pos[1], **details)
        self.reason = message
        self.pos = pos


@dataclass(frozen=True)
class Node:
    """Base of every syntax-tree node; ``pos`` is (line, column) in the expression, 1-based."""

    pos: Pos = field(compare=False, repr=False)


@dataclass(frozen=True)
class Literal(Node):
    value: float | str | bool | None = None


@dataclass(frozen=True)
class Duration(Node):
    seconds: int = 0
    text: str = ""


@dataclass(frozen=True)
class Name(Node):
    parts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Unary(Node):
    op: str = "-"
    operand: Node | None = None


@dataclass(frozen=True)
class Binary(Node):
    op: str = "+"
    left: Node | None = None
    right: Node | None = None


@dataclass(frozen=True)
class Logical(Node):
    op: str = "and"
    operands: tuple[Node, ...] = ()


@dataclass(frozen=True)
class Not(Node):
    operand: Node | None = None


@dataclass(frozen=True)
class ListExpr(Node):
    items: tuple[Node, ...] = ()


@dataclass(frozen=True)
class InList(Node):
    operand: Node | None = None
    items: Node | None = None
    negated: bool = False


@dataclass(frozen=True)
class Call(Node):
    name: str = ""
    args: tuple[Node, ...] = ()
    kwargs: tuple[tuple[str, Node], ...] = ()


DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false", "null"})
COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})
_TOKEN = re.compile(
    r"""(?P<ws>[ \t\r\n]+)
      | (?P<duration>\d+(?:_\d+)*[smhdw](?![A-Za-z0-9_]))
      | (?P<number>(?:\d+(?:_\d+)*(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?)
      | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
      | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<op>==|!=|<=|>=|[-+*/<>=(),.\[\]])""",
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'"}


@dataclass(frozen=True)
class Token:
    kind: str  # number, string, duration, ident, keyword, op, end
    text: str
    pos: Pos


def _unescape(body: str, pos: Pos) -> str:
    out: list[str] = []
    chars = iter(body)
    for char in chars:
        if char == "\\":
            escaped = next(chars, "")
            if escaped not in _ESCAPES:
                raise RuleSyntaxError(f"unknown escape \\{escaped} in string", pos)
            out.append(_ESCAPES[escaped])
        else:
            out.append(char)
    return "".join(out)


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens; RuleSyntaxError at the first character that starts no token."""
    tokens: list[Token] = []
    index, line, line_start = 0, 1, 0
    while index < len(text):
        match = _TOKEN.match(text, index)
        pos = (line, index - line_start + 1)
        if match is None:
            raise RuleSyntaxError(f"unexpected character {text[index]!r}", pos)
        kind = match.lastgroup or ""
        value = match.group()
        if kind == "ws":
            newlines = value.count("\n")
            if newlines:
                line += newlines
                line_start = index + value.rindex("\n") + 1
        elif kind == "ident" and value in KEYWORDS:
            tokens.append(Token("keyword", value, pos))
        else:
            tokens.append(Token(kind, value, pos))
        index = match.end()
    tokens.append(Token("end", "", (line, index - line_start + 1)))
    return tokens


# Binding powers of infix operators (higher binds tighter).
_INFIX = {"or": 10, "and": 20, "in": 40, "not": 40, "+": 50, "-": 50, "*": 60, "/": 60}
_INFIX.update(dict.fromkeys(COMPARISONS, 40))
_NOT_POWER = 30
_UNARY_POWER = 70


class Parser:
    """Pratt parser over the token list of one expression."""

    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.index = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def expect(self, text: str) -> Token:
        token = self.current
        if token.text != text or token.kind not in ("op", "keyword"):
            raise RuleSyntaxError(f"expected {text!r}, found {_describe(token)}", token.pos)
        return self.advance()

    def parse(self) -> Node:
        if self.current.kind == "end":
            raise RuleSyntaxError("empty expression", self.current.pos)
        node = self.expression(0)
        if self.current.kind != "end":
            raise RuleSyntaxError(f"unexpected {_describe(self.current)}", self.current.pos)
        return node

    def expression(self, power: int) -> Node:
        left = self.prefix()
        while True:
            token = self.current
            if token.kind not in ("op", "keyword") or token.text not in _INFIX:
                return left
            bp = _INFIX[token.text]
            if bp <= power:
                return left
            left = self.infix(left, token, bp)

    def prefix(self) -> Node:
        token = self.advance()
        if token.kind == "number":
            return Literal(token.pos, float(token.text.replace("_", "")))
        if token.kind == "string":
            return Literal(token.pos, _unescape(token.text[1:-1], token.pos))
        if token.kind == "duration":
            body = token.text.replace("_", "")
            seconds = int(body[:-1]) * DURATION_UNITS[body[-1]]
            if seconds <= 0:
                raise RuleSyntaxError("a window must be longer than zero", token.pos)
            return Duration(token.pos, seconds, token.text)
        if token.kind == "keyword":
            if token.text == "not":
                return Not(token.pos, self.expression(_NOT_POWER))
            if token.text in ("true", "false"):
                return Literal(token.pos, token.text == "true")
            if token.text == "null":
                return Literal(token.pos, None)
        if token.kind == "op":
            if token.text == "-":
                return Unary(token.pos, "-", self.expression(_UNARY_POWER))
            if token.text == "(":
                inner = self.expression(0)
                if self.current.text == ",":
                    return self.sequence(token, inner, ")")
                self.expect(")")
                return inner
            if token.text == "[":
                if self.current.text == "]":
                    self.advance()
                    return ListExpr(token.pos, ())
                return self.sequence(token, self.expression(0), "]")
        if token.kind == "ident":
            return self.name_or_call(token)
        raise RuleSyntaxError(f"unexpected {_describe(token)}", token.pos)

    def sequence(self, opening: Token, first: Node, closing: str) -> ListExpr:
        items = [first]
        while self.current.text == ",":
            self.advance()
            if self.current.text == closing:
                break
            items.append(self.expression(0))
        self.expect(closing)
        return ListExpr(opening.pos, tuple(items))

    def name_or_call(self, token: Token) -> Node:
        _check_segment(token)
        if self.current.text == "(" and self.current.kind == "op":
            return self.call(token)
        parts = [token.text]
        while self.current.text == "." and self.current.kind == "op":
            self.advance()
            segment = self.advance()
            if segment.kind != "ident":
                raise RuleSyntaxError(f"expected a field name after '.', found {_describe(segment)}", segment.pos)
            _check_segment(segment)
            parts.append(segment.text)
        if self.current.text == "(" and self.current.kind == "op":
            raise RuleSyntaxError("only plain function names can be called", self.current.pos)
        return Name(token.pos, tuple(parts))

    def call(self, name: Token) -> Call:
        self.expect("(")
        args: list[Node] = []
        kwargs: list[tuple[str, Node]] = []
        while self.current.text != ")":
            token = self.current
            following = self.tokens[self.index + 1]
            if token.kind == "ident" and following.kind == "op" and following.text == "=":
                _check_segment(token)
                self.advance()
                self.advance()
                if any(key == token.text for key, _ in kwargs):
                    raise RuleSyntaxError(f"argument {token.text!r} given twice", token.pos)
                kwargs.append((token.text, self.expression(0)))
            else:
                if kwargs:
                    raise RuleSyntaxError("positional argument after a named one", token.pos)
                args.append(self.expression(0))
            if self.current.text != ",":
                break
            self.advance()
        self.expect(")")
        return Call(name.pos, name.text, tuple(args), tuple(kwargs))

    def infix(self, left: Node, token: Token, bp: int) -> Node:
        self.advance()
        if token.text in ("and", "or"):
            operands = [left, self.expression(bp)]
            while self.current.kind == "keyword" and self.current.text == token.text:
                self.advance()
                operands.append(self.expression(bp))
            return Logical(token.pos, token.text, tuple(operands))
        if token.text == "not":
            self.expect("in")
            node: Node = InList(token.pos, left, self.in_items(), True)
        elif token.text == "in":
            node = InList(token.pos, left, self.in_items(), False)
        else:
            node = Binary(token.pos, token.text, left, self.expression(bp))
        if bp == 40 and self.current.text in _INFIX and _INFIX[self.current.text] == 40:
            raise RuleSyntaxError("comparisons cannot be chained; combine them with 'and'", self.current.pos)
        return node

    def in_items(self) -> Node:
        token = self.current
        if token.text not in ("[", "(") or token.kind != "op":
            raise RuleSyntaxError(f"expected a list after 'in', found {_describe(token)}", token.pos)
        node = self.prefix()
        if not isinstance(node, ListExpr):
            node = ListExpr(token.pos, (node,))
        return node


def _check_segment(token: Token) -> None:
    if token.text.startswith("_"):
        raise RuleSyntaxError(f"names starting with '_' are not allowed: {token.text!r}", token.pos)


def _describe(token: Token) -> str:
    return "end of expression" if token.kind == "end" else repr(token.text)


def parse_expression(text: str) -> Node:
    """The syntax tree of ``text``; RuleSyntaxError with the (line, column) of the first problem."""
    return Parser(text).parse()


def unparse(node: Node) -> str:
    """A canonical text of ``node`` (fully parenthesised), used for hashing and aggregate identity."""
    if isinstance(node, Literal):
        if isinstance(node.value, bool):
            return "true" if node.value else "false"
        if node.value is None:
            return "null"
        return repr(node.value)
    if isinstance(node, Duration):
        return f"{node.seconds}s"
    if isinstance(node, Name):
        return ".".join(node.parts)
    if isinstance(node, Unary) and node.operand is not None:
        return f"(-{unparse(node.operand)})"
    if isinstance(node, Binary) and node.left is not None and node.right is not None:
        return f"({unparse(node.left)} {node.op} {unparse(node.right)})"
    if isinstance(node, Logical):
        return "(" + f" {node.op} ".join(unparse(item) for item in node.operands) + ")"
    if isinstance(node, Not) and node.operand is not None:
        return f"(not {unparse(node.operand)})"
    if isinstance(node, ListExpr):
        return "[" + ", ".join(unparse(item) for item in node.items) + "]"
    if isinstance(node, InList) and node.operand is not None and node.items is not None:
        keyword = "not in" if node.negated else "in"
        return f"({unparse(node.operand)} {keyword} {unparse(node.items)})"
    if isinstance(node, Call):
        parts = [unparse(arg) for arg in node.args] + [f"{key}={unparse(value)}" for key, value in node.kwargs]
        return f"{node.name}({', '.join(parts)})"
    raise TypeError(f"not a rule expression node: {node!r}")
