"""Reading pack YAML with line numbers, and checking field values against a pack schema.

Both TagPacks and ActorPacks are a header mapping plus one list (``tags:`` or ``actors:``). Errors must name
the line of the offending entry, which plain ``yaml.load`` forgets. We therefore *compose* the document (the
node graph, where every node keeps its start mark) with libyaml's C parser and construct the Python values
from those nodes: one pass, as fast as ``CSafeLoader`` alone, and every entry keeps its line.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from chainsleuth.chain.attribution.taxonomy import FieldSpec, Taxonomy
from chainsleuth.errors import MalformedFileError

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class Entry:
    """One item of the pack's list, with the line it starts on and the line of each of its keys."""

    values: dict[str, Any]
    line: int
    key_lines: dict[str, int] = field(default_factory=dict)

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


@dataclass
class PackDocument:
    """A parsed pack file: its header fields (with key lines), its entries, its bytes' sha256."""

    path: str
    sha256: str
    header: dict[str, Any]
    header_lines: dict[str, int]
    entries: list[Entry]
    list_line: int


def fail(path: str, line: int | None, message: str, **details: Any) -> MalformedFileError:
    """The error every pack problem becomes: file, line, and a message a pack author can act on."""
    where = f"{path}:{line}" if line is not None else path
    return MalformedFileError(f"{where}: {message}", path=path, line=line, **details)


def _key_lines(node: MappingNode, path: str) -> dict[str, int]:
    lines: dict[str, int] = {}
    for key_node, _ in node.value:
        key = str(key_node.value) if isinstance(key_node, ScalarNode) else repr(key_node)
        line = key_node.start_mark.line + 1
        if key in lines:
            raise fail(path, line, f"duplicate key {key!r} (first at line {lines[key]})")
        lines[key] = line
    return lines


def read_pack(path: str | Path, list_key: str, *, text: bytes | None = None) -> PackDocument:
    """Parse a pack file into header and entries; MalformedFileError naming file and line otherwise."""
    name = str(path)
    try:
        raw = text if text is not None else Path(path).read_bytes()
    except OSError as error:
        raise MalformedFileError(f"{name}: cannot read: {error.strerror or error}", path=name) from error
    sha256 = hashlib.sha256(raw).hexdigest()
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise fail(name, raw[: error.start].count(b"\n") + 1, "not UTF-8 text") from error
    try:
        root = yaml.compose(decoded, Loader=_Loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        context = ""
        if error.context and error.context_mark is not None:
            context = f" ({error.context} at line {error.context_mark.line + 1})"
        raise fail(
            name, mark.line + 1 if mark is not None else None, f"not valid YAML: {error.problem}{context}"
        ) from error
    except yaml.YAMLError as error:
        raise fail(name, None, f"not valid YAML: {error}") from error
    if not isinstance(root, MappingNode):
        line = root.start_mark.line + 1 if root is not None else 1
        raise fail(name, line, "a pack must be a YAML mapping (header fields and a list of entries)")
    header_node = root
    header_lines = _key_lines(root, name)
    # GraphSense also accepts the header fields nested under ``header:``.
    for key_node, value_node in root.value:
        if key_node.value == "header" and isinstance(value_node, MappingNode):
            header_lines.update(_key_lines(value_node, name))
    constructor = _Loader("")
    try:
        data = constructor.construct_document(header_node)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        raise fail(name, mark.line + 1 if mark else None, f"not valid YAML: {error.problem}") from error
    if isinstance(data.get("header"), dict):
        nested = data.pop("header")
        data.update(nested)
    list_node: Node | None = None
    for key_node, value_node in root.value:
        if key_node.value == list_key:
            list_node = value_node
    entries: list[Entry] = []
    list_line = header_lines.get(list_key, 1)
    raw_items = data.get(list_key)
    if isinstance(list_node, SequenceNode) and isinstance(raw_items, list):
        for item_node, values in zip(list_node.value, raw_items, strict=True):
            line = item_node.start_mark.line + 1
            if not isinstance(item_node, MappingNode) or not isinstance(values, dict):
                raise fail(name, line, f"each entry of {list_key!r} must be a mapping of fields")
            entries.append(Entry({str(k): v for k, v in values.items()}, line, _key_lines(item_node, name)))
    header = {str(key): value for key, value in data.items() if key != list_key}
    if list_key in data:
        header[list_key] = raw_items
    return PackDocument(name, sha256, header, header_lines, entries, list_line)


def parse_date(value: Any) -> dt.date | None:
    """A ``lastmod`` as a date: YAML dates, datetimes, and the quoted ``'2022-10-1'`` GraphSense allows."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return dt.datetime.fromisoformat(text).date()
        except ValueError:
            parts = text.split("-")
            if len(parts) == 3 and all(part.isdigit() for part in parts):
                try:
                    return dt.date(int(parts[0]), int(parts[1]), int(parts[2]))
                except ValueError:
                    return None
    return None


def _type_problem(spec: FieldSpec, value: Any) -> str | None:
    kind = spec.type
    if kind == "text":
        return None if isinstance(value, str) else f"must be text, not {type(value).__name__}"
    if kind == "boolean":
        return None if isinstance(value, bool) else f"must be true or false, not {value!r}"
    if kind == "datetime":
        return None if parse_date(value) is not None else f"must be a date (YYYY-MM-DD), not {value!r}"
    if kind == "json_text":
        if isinstance(value, dict):
            return None
        if not isinstance(value, str):
            return f"must be JSON text, not {type(value).__name__}"
        try:
            json.loads(value)
        except ValueError:
            return "must be valid JSON text"
        return None
    if kind == "list":
        if not isinstance(value, list):
            return f"must be a list, not {type(value).__name__}"
        if spec.item_type == "text" and not all(isinstance(item, str) for item in value):
            return "must be a list of text values"
        return None
    return None


def check_field(spec: FieldSpec, value: Any, taxonomy: Taxonomy) -> str | None:
    """Why ``value`` is not acceptable for ``spec`` (type, taxonomy), or None if it is."""
    if value is None:
        return f"field {spec.name!r} must not be empty"
    problem = _type_problem(spec, value)
    if problem is not None:
        return f"field {spec.name!r} {problem}"
    for taxonomy_name in spec.taxonomies:
        values = value if isinstance(value, list) else [value]
        unknown = taxonomy.check_terms(taxonomy_name, [str(item) for item in values])
        if unknown:
            return f"field {spec.name!r}: unknown {taxonomy_name} {', '.join(map(repr, unknown))}"
    return None


def context_text(value: Any) -> str | None:
    """A ``context`` given as a YAML mapping becomes JSON text, as GraphSense stores it."""
    if value is None:
        return None
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


__all__ = ["Entry", "PackDocument", "check_field", "context_text", "fail", "parse_date", "read_pack"]


def write_pack(out_path: str | Path, document: dict[str, Any]) -> Path:
    """Write a pack ``document`` as YAML to ``out_path`` (atomically: a temporary file, then a rename)."""
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(out.name + ".tmp")
    dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    with temporary.open("w", encoding="utf-8") as handle:
        yaml.dump(document, handle, Dumper=dumper, sort_keys=False, allow_unicode=True, width=200)
    temporary.replace(out)
    return out
