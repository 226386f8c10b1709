"""Reading rule files (YAML or TOML) into compiled :class:`RuleSet` s, with precise error positions.

A rule file holds optional ``lists`` (named lists of values: high-risk countries...), optional file-wide
``params`` (named thresholds) and ``rules``. YAML positions come from PyYAML's node marks, so an error inside
a condition is reported at its line and column in the file; TOML has no node positions in the standard
library, so there the rule's ``id =`` line is found in the text and the column is the expression's own.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from chainsleuth.errors import MalformedFileError
from chainsleuth.monitor.rules.compiler import (
    BOOL,
    NULL,
    AggregateSpec,
    Scope,
    Value,
    compile_aggregate,
    compile_node,
)
from chainsleuth.monitor.rules.model import MODES, SEVERITIES, SUBJECTS, Rule, RuleSet, build_rule
from chainsleuth.monitor.rules.syntax import Call, RuleSyntaxError, parse_expression
from chainsleuth.store.models.ledger import EVENT_TYPES

RULE_KEYS = frozenset(
    {
        "id", "version", "title", "description", "severity", "tags", "mode", "scope", "subject", "params",
        "aggregates", "condition", "explain", "weight", "queue", "typologies", "dedup_window",
    }
)  # fmt: skip
FILE_KEYS = frozenset({"lists", "params", "rules"})
_ID = re.compile(r"[a-z0-9][a-z0-9_.-]{0,79}")
_DURATION = re.compile(r"(\d+)([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class RuleFileError(MalformedFileError):
    """A rule file that cannot be loaded; names the file, the rule, the line and the column."""

    code = "rule_file_error"

    def __init__(self, message: str, *, path: str, rule: str | None, line: int | None, column: int | None):
        where = path + (f":{line}" if line else "") + (f":{column}" if column else "")
        text = f"{where}: " + (f"rule {rule!r}: " if rule else "") + message
        super().__init__(text, path=path, line=line, rule=rule, column=column)
        self.reason = message
        self.path, self.rule, self.line, self.column = path, rule, line, column


def library_paths() -> list[Path]:
    """The rule files shipped with chainsleuth (``monitor/rules/library/*.yaml``)."""
    root = Path(str(resources.files("chainsleuth.monitor.rules") / "library"))
    return sorted(root.glob("*.yaml")) + sorted(root.glob("*.toml"))


def load_rules(paths: Iterable[str | Path] | None = None) -> RuleSet:
    """Load and compile rule files (directories are searched for ``*.yaml``/``*.yml``/``*.toml``).

    ``None`` loads the shipped library. Rule ids must be unique across all files; lists and params are
    file-scoped. Raises :class:`RuleFileError` on the first problem.
    """
    files = library_paths() if paths is None else _expand(paths)
    rules: list[Rule] = []
    lists: dict[str, tuple[Value, ...]] = {}
    seen: dict[str, str] = {}
    for path in files:
        loaded, file_lists = load_file(path)
        lists.update(file_lists)
        for rule in loaded:
            if rule.id in seen:
                raise RuleFileError(
                    f"duplicate rule id (also in {seen[rule.id]})", path=str(path), rule=rule.id, line=rule.line,
                    column=None,
                )  # fmt: skip
            seen[rule.id] = str(path)
            rules.append(rule)
    return RuleSet(tuple(rules), lists)


def _expand(paths: Iterable[str | Path]) -> list[Path]:
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out.extend(sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml", ".toml")))
        elif path.is_file():
            out.append(path)
        else:
            raise RuleFileError("no such rule file or directory", path=str(path), rule=None, line=None, column=None)
    return out


class _Locator:
    """Maps a (line, column) inside a value of the file to a position in the file."""

    def __init__(self, text: str, node: yaml.Node | None, fallback_line: int | None) -> None:
        self.lines = text.splitlines()
        self.node = node
        self.fallback_line = fallback_line

    def locate(self, pos: tuple[int, int]) -> tuple[int | None, int | None]:
        node = self.node
        if not isinstance(node, yaml.ScalarNode):
            line = self.fallback_line
            return (line + pos[0] - 1 if line else None), pos[1]
        start_line, start_col = node.start_mark.line + 1, node.start_mark.column + 1
        if node.style == "|":
            line = start_line + pos[0]
            content = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
            return line, len(content) - len(content.lstrip()) + pos[1]
        if node.style == ">":  # folded: the source lines were joined with single spaces
            offset = pos[1] - 1
            for index in range(start_line, min(node.end_mark.line + 1, len(self.lines))):
                content = self.lines[index]
                body = content.strip()
                if offset <= len(body):
                    return index + 1, len(content) - len(content.lstrip()) + offset + 1
                offset -= len(body) + 1
            return start_line + 1, pos[1]
        shift = 1 if node.style in ("'", '"') else 0
        if pos[0] == 1:
            return start_line, start_col + shift + pos[1] - 1
        return start_line + pos[0] - 1, pos[1]


def load_file(path: str | Path) -> tuple[list[Rule], dict[str, tuple[Value, ...]]]:
    """Compile the rules of one file; returns them with the file's named lists."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise RuleFileError(f"cannot read: {error}", path=name, rule=None, line=None, column=None) from error
    nodes: list[dict[str, yaml.Node]] = []
    try:
        if name.endswith(".toml"):
            data: Any = tomllib.loads(text)
        else:
            data = yaml.safe_load(text)
            nodes = _yaml_rule_nodes(yaml.compose(text))
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else getattr(error, "lineno", None)
        raise RuleFileError(f"not valid: {error}", path=name, rule=None, line=line, column=None) from error
    if not isinstance(data, Mapping) or not isinstance(data.get("rules"), list):
        raise RuleFileError("a rule file needs a 'rules' list", path=name, rule=None, line=1, column=None)
    unknown = sorted(set(data) - FILE_KEYS)
    if unknown:
        raise RuleFileError(f"unknown top-level key {unknown[0]!r}", path=name, rule=None, line=1, column=None)
    lists = _lists(data.get("lists") or {}, name)
    file_params = _params(data.get("params") or {}, name, None)
    rules = []
    for index, raw in enumerate(data["rules"]):
        rule_nodes = nodes[index] if index < len(nodes) else {}
        rules.append(_rule(raw, name, text, rule_nodes, lists, file_params))
    return rules, lists


def _yaml_rule_nodes(root: yaml.Node | None) -> list[dict[str, yaml.Node]]:
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if key.value == "rules" and isinstance(value, yaml.SequenceNode):
            out = []
            for item in value.value:
                entry: dict[str, yaml.Node] = {"": item}
                if isinstance(item, yaml.MappingNode):
                    for k, v in item.value:
                        entry[str(k.value)] = v
                        if isinstance(v, yaml.MappingNode):
                            for k2, v2 in v.value:
                                entry[f"{k.value}.{k2.value}"] = v2
                out.append(entry)
            return out
    return []


def _lists(raw: Any, path: str) -> dict[str, tuple[Value, ...]]:
    if not isinstance(raw, Mapping):
        raise RuleFileError("'lists' must map names to lists", path=path, rule=None, line=None, column=None)
    out: dict[str, tuple[Value, ...]] = {}
    for key, values in raw.items():
        if not isinstance(values, list) or not all(isinstance(v, str | int | float) for v in values):
            raise RuleFileError(
                f"list {key!r} must be a list of strings or numbers", path=path, rule=None, line=None, column=None
            )
        out[str(key)] = tuple(values)
    return out


def _params(raw: Any, path: str, rule: str | None) -> dict[str, Value]:
    if not isinstance(raw, Mapping):
        raise RuleFileError("'params' must map names to values", path=path, rule=rule, line=None, column=None)
    out: dict[str, Value] = {}
    for key, value in raw.items():
        if not isinstance(value, str | int | float | bool):
            raise RuleFileError(f"param {key!r} must be a number, string or boolean", path=path, rule=rule,
                                line=None, column=None)  # fmt: skip
        out[str(key)] = value
    return out


def _duration(raw: Any, path: str, rule: str) -> int:
    match = _DURATION.fullmatch(str(raw))
    if not match or int(match.group(1)) <= 0:
        raise RuleFileError(f"dedup_window {raw!r} is not a duration such as 24h", path=path, rule=rule,
                            line=None, column=None)  # fmt: skip
    return int(match.group(1)) * _UNITS[match.group(2)]


def _strings(raw: Any, what: str, path: str, rule: str, line: int | None) -> tuple[str, ...]:
    values = [raw] if isinstance(raw, str) else raw
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        raise RuleFileError(f"{what} must be a list of strings", path=path, rule=rule, line=line, column=None)
    return tuple(values)


def _rule(
    raw: Any,
    path: str,
    text: str,
    nodes: Mapping[str, yaml.Node],
    lists: Mapping[str, Sequence[Value]],
    file_params: Mapping[str, Value],
) -> Rule:
    if not isinstance(raw, Mapping):
        raise RuleFileError("each rule must be a mapping", path=path, rule=None, line=None, column=None)
    rule_id = str(raw.get("id", ""))
    start = nodes.get("")
    line = start.start_mark.line + 1 if start is not None else _toml_line(text, rule_id)

    def fail(message: str, key: str | None = None) -> RuleFileError:
        node = nodes.get(key) if key else None
        at = node.start_mark.line + 1 if node is not None else line
        return RuleFileError(message, path=path, rule=rule_id or None, line=at, column=None)

    if not _ID.fullmatch(rule_id):
        raise fail("'id' must be lower-case letters, digits, '-', '_' or '.' (up to 80)", "id")
    unknown = sorted(set(raw) - RULE_KEYS)
    if unknown:
        raise fail(f"unknown key {unknown[0]!r}", unknown[0])
    for key in ("version", "title", "severity", "scope", "condition"):
        if key not in raw:
            raise fail(f"missing required key {key!r}")
    version = raw["version"]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise fail("'version' must be a positive integer", "version")
    severity = str(raw["severity"])
    if severity not in SEVERITIES:
        raise fail(f"'severity' must be one of {', '.join(SEVERITIES)}", "severity")
    mode = str(raw.get("mode", "active"))
    if mode not in MODES:
        raise fail("'mode' must be active or shadow", "mode")
    scope = _strings(raw["scope"], "'scope'", path, rule_id, line)
    bad = [item for item in scope if item not in EVENT_TYPES]
    if bad or not scope:
        raise fail(f"'scope' has unknown event type {bad[0] if bad else '(empty)'!r}", "scope")
    subject = str(raw.get("subject", "customer"))
    if subject not in SUBJECTS:
        raise fail(f"'subject' must be one of {', '.join(SUBJECTS)}", "subject")
    weight = raw.get("weight", 1.0)
    if not isinstance(weight, int | float) or isinstance(weight, bool) or not 0 < weight <= 10:
        raise fail("'weight' must be a number in (0, 10]", "weight")
    params = {**file_params, **_params(raw.get("params") or {}, path, rule_id)}
    clash = sorted(set(params) & (set(lists) | {"customer", "account", "event"}))
    if clash:
        raise fail(f"param {clash[0]!r} shadows a list or scope name", "params")
    scope_ = Scope(params, lists, {}, {})

    def locator_for(key: str) -> _Locator:
        return _Locator(text, nodes.get(key), _key_line(text, line, key) if not nodes else line)

    def compile_text(source: Any, key: str) -> Any:
        if not isinstance(source, str):
            raise fail(f"{key!r} must be an expression string", key)
        locator = locator_for(key)
        try:
            return parse_expression(source)
        except RuleSyntaxError as error:
            at_line, at_col = locator.locate(error.pos)
            raise RuleFileError(error.reason, path=path, rule=rule_id, line=at_line, column=at_col) from error

    aggregates = raw.get("aggregates") or {}
    if not isinstance(aggregates, Mapping):
        raise fail("'aggregates' must map names to aggregate expressions", "aggregates")
    named: dict[str, str] = {}
    for agg_name, source in aggregates.items():
        key = f"aggregates.{agg_name}"
        if agg_name in params or agg_name in lists or not re.fullmatch(r"[a-z][a-z0-9_]*", str(agg_name)):
            raise fail(f"aggregate name {agg_name!r} is invalid or already used", key)
        tree = compile_text(source, key)
        if not isinstance(tree, Call):
            raise fail(f"aggregate {agg_name!r} must be count/sum/distinct_count/max/min/avg(...)", key)
        try:
            kind, spec = compile_aggregate(tree, scope_)
        except RuleSyntaxError as error:
            at_line, at_col = locator_for(key).locate(error.pos)
            raise RuleFileError(error.reason, path=path, rule=rule_id, line=at_line, column=at_col) from error
        scope_.named[str(agg_name)] = (kind, spec)
        named[str(agg_name)] = spec.key
    tree = compile_text(raw["condition"], "condition")
    try:
        condition = compile_node(tree, scope_)
    except RuleSyntaxError as error:
        at_line, at_col = locator_for("condition").locate(error.pos)
        raise RuleFileError(error.reason, path=path, rule=rule_id, line=at_line, column=at_col) from error
    if condition.type not in (BOOL, NULL):
        raise fail(f"the condition must be true/false, not {condition.type}", "condition")
    all_aggs: dict[str, AggregateSpec] = dict(scope_.aggregates)
    for _, spec in scope_.named.values():
        all_aggs[spec.key] = spec
    return build_rule(
        id=rule_id,
        version=version,
        title=str(raw["title"]),
        description=str(raw.get("description", "")).strip(),
        severity=severity,
        tags=_strings(raw.get("tags", []), "'tags'", path, rule_id, line),
        mode=mode,
        scope=scope,
        subject=subject,
        condition_text=" ".join(str(raw["condition"]).split()),
        condition=condition,
        named=named,
        aggregates=all_aggs,
        params=params,
        explain=" ".join(str(raw.get("explain", raw["title"])).split()),
        weight=float(weight),
        queue=str(raw["queue"]) if raw.get("queue") else None,
        typologies=_strings(raw.get("typologies", []), "'typologies'", path, rule_id, line),
        dedup_seconds=_duration(raw.get("dedup_window", "24h"), path, rule_id),
        source=Path(path).name,
        line=line or 0,
    )


def _key_line(text: str, start: int | None, key: str) -> int | None:
    """TOML: the line of ``key =`` (or, for an aggregate, ``name =``) at or after the rule's ``id`` line."""
    if start is None:
        return None
    name = key.split(".")[-1]
    pattern = re.compile(r"\s*" + re.escape(name) + r"\s*=")
    for number, content in enumerate(text.splitlines()[start - 1 :], start=start):
        if pattern.match(content):
            return number
    return start


def _toml_line(text: str, rule_id: str) -> int | None:
    pattern = re.compile(r"^\s*id\s*=\s*[\"']" + re.escape(rule_id) + r"[\"']", re.MULTILINE)
    match = pattern.search(text)
    return text.count("\n", 0, match.start()) + 1 if match else None
