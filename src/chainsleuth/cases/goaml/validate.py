"""Validation of generated reports against the goAML 5.0.2 XSD shipped in ``schema/``.

The schema is parsed once per process (about 300 kB; lxml compiles it in well under a second) and reused.
Errors come back as readable lines (``line 12: Element 'first_name': [facet 'pattern'] …``) so that an
investigator sees *what* to fix before a report can be approved.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

from lxml import etree  # type: ignore[import-untyped]  # lxml ships no type information

from chainsleuth.errors import ConfigurationError

SCHEMA_FILE = "goAMLSchema-5.0.2.xsd"
_XS = "{http://www.w3.org/2001/XMLSchema}"


def schema_path() -> Path:
    """Where the shipped schema is."""
    return Path(str(resources.files("chainsleuth.cases.goaml").joinpath("schema").joinpath(SCHEMA_FILE)))


@lru_cache(maxsize=4)
def _parsed(path: Path) -> etree._ElementTree:
    try:
        return etree.parse(str(path))
    except (OSError, etree.XMLSyntaxError) as error:
        raise ConfigurationError(f"cannot read the goAML schema {path}: {error}", path=str(path)) from error


@lru_cache(maxsize=4)
def load_schema(path: Path | None = None) -> etree.XMLSchema:
    """The compiled schema (the shipped one unless ``path`` names another file, e.g. an FIU's variant)."""
    target = path or schema_path()
    try:
        return etree.XMLSchema(_parsed(target))
    except etree.XMLSchemaParseError as error:
        raise ConfigurationError(f"the goAML schema {target} does not compile: {error}", path=str(target)) from error


def validate(xml: bytes, *, schema: Path | None = None) -> list[str]:
    """Every schema violation of ``xml`` as ``line N: message`` (empty when valid)."""
    try:
        document = etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as error:
        return [f"not well-formed XML: {error}"]
    compiled = load_schema(schema)
    if compiled.validate(document):
        return []
    return [f"line {entry.line}: {entry.message}" for entry in compiled.error_log]


@lru_cache(maxsize=64)
def enumeration(type_name: str, schema: Path | None = None) -> frozenset[str]:
    """The values of one of the schema's enumerated simple types (the FIU lookup lists), e.g. ``funds_type``."""
    root = _parsed(schema or schema_path()).getroot()
    simple = root.find(f"{_XS}simpleType[@name='{type_name}']")
    if simple is None:
        raise ConfigurationError(f"the goAML schema has no type {type_name!r}")
    return frozenset(str(node.get("value")) for node in simple.iter(f"{_XS}enumeration"))
