"""GraphSense TagPacks: parse and validate a pack file into :class:`TagRecord` values, and write packs back.

A TagPack is a header (``title``, ``creator``, ``description``...) whose tag fields (``currency``, ``source``,
``confidence``, ``category``, ``lastmod``...) are inherited by every tag, then a ``tags:`` list. Validation
follows GraphSense's own tool (``graphsenselib.tagpack``) so that a pack accepted here is accepted there:

* every header field must be a known header or tag field, every tag field a known tag field;
* mandatory fields (``title``, ``creator``; per tag ``label``, ``source``, ``currency``/``network``) must be
  present on the tag or inherited; a tag has an ``address`` or a ``tx_hash``, never both;
* values have the schema's type and come from the taxonomies (``category``, ``abuse``, ``concepts`` from
  the concepts, ``confidence`` from the confidence levels, ``tag_type`` from the tag types);
* ``network`` defaults to ``currency``; a pack without any ``confidence`` gets the lowest level
  (``unknown``) with a warning, exactly as GraphSense does, rather than being refused;
* duplicates within a pack (same subject, currency, network, label, source) are skipped and counted.

Any violation raises :class:`MalformedFileError` naming the file and the line of the offending tag (or
field); nothing is returned half-validated.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chainsleuth.chain.attribution.packfile import (
    Entry,
    check_field,
    context_text,
    fail,
    parse_date,
    read_pack,
    write_pack,
)
from chainsleuth.chain.attribution.records import (
    TagRecord,
    merged_concepts,
    network_ticker,
    normalize_address,
    normalize_network,
    normalize_tx_hash,
)
from chainsleuth.chain.attribution.taxonomy import Taxonomy, get_taxonomy

#: Header fields that describe the pack itself (not inherited by tags).
PACK_FIELDS = ("title", "creator", "description", "owner", "is_public")
#: Tag fields that are written once in the header when every tag of an exported pack shares them.
_FACTORABLE = (
    "currency",
    "network",
    "source",
    "confidence",
    "category",
    "abuse",
    "lastmod",
    "is_cluster_definer",
)


@dataclass
class ParsedTagPack:
    """A validated pack: its header, its unique tags in file order, what was skipped and why."""

    path: str
    sha256: str
    title: str
    creator: str
    description: str | None
    is_public: bool
    lastmod: dt.date | None
    header: dict[str, Any]
    tags: list[TagRecord]
    total: int
    duplicates: int = 0
    warnings: list[str] = field(default_factory=list)


def _json_safe(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    return value


def _validate_header(doc_header: Mapping[str, Any], lines: Mapping[str, int], path: str, tax: Taxonomy) -> None:
    schema = tax.tagpack_schema
    header_specs, tag_specs = schema.section("header"), schema.section("tag")
    for name in schema.mandatory("header"):
        if name not in doc_header:
            raise fail(path, 1, f"mandatory header field {name!r} is missing", field=name)
    for name, value in doc_header.items():
        spec = header_specs.get(name) or tag_specs.get(name)
        if spec is None:
            raise fail(path, lines.get(name), f"field {name!r} is not allowed in a TagPack header", field=name)
        if name == "tags":
            if not isinstance(value, list):
                raise fail(path, lines.get(name), "'tags' must be a list of tags", field=name)
            continue
        problem = check_field(spec, value, tax)
        if problem is not None:
            raise fail(path, lines.get(name), f"header {problem}", field=name)


def _build_tag(
    entry: Entry, inherited: Mapping[str, Any], pack: Mapping[str, Any], path: str, tax: Taxonomy, index: int
) -> TagRecord:
    tag_specs = tax.tagpack_schema.section("tag")
    for name, value in entry.values.items():
        spec = tag_specs.get(name)
        if spec is None:
            raise fail(path, entry.line_of(name), f"field {name!r} is not allowed in a tag", field=name, tag=index)
        problem = check_field(spec, value, tax)
        if problem is not None:
            raise fail(path, entry.line_of(name), problem, field=name, tag=index)
    fields = {**inherited, **entry.values}
    if "network" not in fields and "currency" in fields:
        fields["network"] = fields["currency"]
    if "currency" not in fields and "network" in fields:
        fields["currency"] = fields["network"]
    address, tx_hash = fields.get("address"), fields.get("tx_hash")
    if address is None and tx_hash is None:
        raise fail(path, entry.line, "tag has neither 'address' nor 'tx_hash'", field="address", tag=index)
    if address is not None and tx_hash is not None:
        raise fail(path, entry.line, "'address' and 'tx_hash' are mutually exclusive", field="tx_hash", tag=index)
    for name in tax.tagpack_schema.mandatory("tag"):
        if name not in fields:
            raise fail(path, entry.line, f"mandatory tag field {name!r} is missing", field=name, tag=index)
    subject = str(address if address is not None else tx_hash)
    if not subject.strip():
        raise fail(path, entry.line_of("address"), "empty address", field="address", tag=index)
    category, abuse = fields.get("category"), fields.get("abuse")
    confidence = str(fields["confidence"])
    return TagRecord(
        network=normalize_network(str(fields["network"]), subject),
        currency=str(fields["currency"]).strip().upper(),
        address=normalize_address(str(address)) if address is not None else None,
        tx_hash=normalize_tx_hash(str(tx_hash)) if tx_hash is not None else None,
        label=str(fields["label"]).strip(),
        source=str(fields["source"]).strip(),
        confidence=confidence,
        confidence_level=tax.confidence_level(confidence),
        category=category,
        abuse=abuse,
        concepts=merged_concepts(list(fields.get("concepts") or []), category, abuse),
        actor=fields.get("actor"),
        is_public=bool(pack.get("is_public", False)),
        is_cluster_definer=fields.get("is_cluster_definer"),
        tag_type=fields.get("tag_type"),
        context=context_text(fields.get("context")),
        lastmod=parse_date(fields.get("lastmod")),
        creator=str(pack["creator"]),
        origin="tagpack",
        line=entry.line,
    )


def parse_tagpack(path: str | Path, *, taxonomy: Taxonomy | None = None, content: bytes | None = None) -> ParsedTagPack:
    """Read and validate the TagPack at ``path``; MalformedFileError (file, line) on the first problem."""
    tax = taxonomy or get_taxonomy()
    doc = read_pack(path, "tags", text=content)
    name = doc.path
    if "tags" not in doc.header:
        raise fail(name, 1, "mandatory header field 'tags' is missing", field="tags")
    _validate_header(doc.header, doc.header_lines, name, tax)
    tag_specs = tax.tagpack_schema.section("tag")
    inherited = {key: value for key, value in doc.header.items() if key in tag_specs}
    warnings: list[str] = []
    if "confidence" not in inherited and not all("confidence" in entry.values for entry in doc.entries):
        lowest = tax.lowest_confidence.id
        inherited["confidence"] = lowest
        warnings.append(f"not every tag has a confidence: {lowest!r} (the lowest level) assigned to those")
    tags: list[TagRecord] = []
    seen: set[tuple[str, ...]] = set()
    duplicates = 0
    for index, entry in enumerate(doc.entries):
        record = _build_tag(entry, inherited, doc.header, name, tax, index)
        key = record.dedup_key()
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        tags.append(record)
    if duplicates:
        warnings.append(f"{duplicates} duplicate tag(s) skipped")
    without_actor = sum(1 for tag in tags if not tag.actor)
    if tags and without_actor:
        warnings.append(f"{without_actor}/{len(tags)} tags have no actor")
    header = {key: _json_safe(value) for key, value in doc.header.items() if key != "tags"}
    return ParsedTagPack(
        path=name,
        sha256=doc.sha256,
        title=str(doc.header["title"]),
        creator=str(doc.header["creator"]),
        description=str(doc.header["description"]) if doc.header.get("description") is not None else None,
        is_public=bool(doc.header.get("is_public", False)),
        lastmod=parse_date(doc.header.get("lastmod")),
        header=header,
        tags=tags,
        total=len(doc.entries),
        duplicates=duplicates,
        warnings=warnings,
    )


def tag_to_fields(tag: TagRecord) -> dict[str, Any]:
    """A record as TagPack tag fields (GraphSense names and spelling), leaving out what is empty."""
    extra_concepts = [c for c in tag.concepts if c not in (tag.category, tag.abuse)]
    fields: dict[str, Any] = {
        "address": tag.address,
        "tx_hash": tag.tx_hash,
        "label": tag.label,
        "currency": tag.currency or network_ticker(tag.network),
        "network": network_ticker(tag.network),
        "source": tag.source,
        "confidence": tag.confidence,
        "category": tag.category,
        "abuse": tag.abuse,
        "concepts": extra_concepts or None,
        "actor": tag.actor,
        "is_cluster_definer": tag.is_cluster_definer,
        "tag_type": tag.tag_type,
        "context": tag.context,
        "lastmod": tag.lastmod,
    }
    return {key: value for key, value in fields.items() if value is not None}


def tagpack_document(
    *,
    title: str,
    creator: str,
    tags: Iterable[TagRecord],
    description: str | None = None,
    is_public: bool = False,
) -> dict[str, Any]:
    """A TagPack as a YAML-ready mapping; fields shared by all tags are written once in the header."""
    bodies = [tag_to_fields(tag) for tag in tags]
    header: dict[str, Any] = {"title": title, "creator": creator}
    if description:
        header["description"] = description
    if is_public:
        header["is_public"] = True
    for key in _FACTORABLE:
        values = {repr(body.get(key)) for body in bodies}
        if bodies and len(values) == 1 and key in bodies[0]:
            header[key] = bodies[0][key]
            for body in bodies:
                del body[key]
    header["tags"] = bodies
    return header


def write_tagpack(
    out_path: str | Path,
    *,
    title: str,
    creator: str,
    tags: Sequence[TagRecord],
    description: str | None = None,
    is_public: bool = False,
) -> Path:
    """Write ``tags`` as a valid TagPack to ``out_path`` (atomically: a temporary file then a rename)."""
    document = tagpack_document(title=title, creator=creator, tags=tags, description=description, is_public=is_public)
    return write_pack(out_path, document)


__all__ = [
    "PACK_FIELDS",
    "ParsedTagPack",
    "parse_tagpack",
    "tag_to_fields",
    "tagpack_document",
    "write_tagpack",
]
