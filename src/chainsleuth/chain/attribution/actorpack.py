"""GraphSense ActorPacks: the actors (exchanges, ransomware groups, sanctioned persons) tags point to.

An ActorPack is a header (``title``, ``creator``, ``description``) and an ``actors:`` list; each actor has an
``id`` (what a tag's ``actor`` field refers to), ``uri``, ``label``, ``lastmod``, ``categories`` (concepts),
and optionally ``jurisdictions`` (ISO country codes), ``aliases`` and a ``context`` (JSON or a mapping with
``uris``, ``refs``, ``twitter_handle``...). Validation mirrors :mod:`tagpack`: file and line on every error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chainsleuth.chain.attribution.packfile import (
    check_field,
    context_text,
    fail,
    parse_date,
    read_pack,
    write_pack,
)
from chainsleuth.chain.attribution.records import ActorRecord
from chainsleuth.chain.attribution.taxonomy import Taxonomy, get_taxonomy


@dataclass
class ParsedActorPack:
    """A validated ActorPack: header values and its actors in file order (duplicate ids skipped)."""

    path: str
    sha256: str
    title: str
    creator: str
    description: str | None
    actors: list[ActorRecord]
    total: int
    duplicates: int = 0
    warnings: list[str] = field(default_factory=list)


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list):
        return tuple(str(item) for item in value)
    return (str(value),)


def parse_actorpack(
    path: str | Path, *, taxonomy: Taxonomy | None = None, content: bytes | None = None
) -> ParsedActorPack:
    """Read and validate the ActorPack at ``path``; MalformedFileError (file, line) on the first problem."""
    tax = taxonomy or get_taxonomy()
    schema = tax.actorpack_schema
    doc = read_pack(path, "actors", text=content)
    name = doc.path
    header_specs, actor_specs = schema.section("header"), schema.section("actor")
    for mandatory in schema.mandatory("header"):
        if mandatory not in doc.header:
            raise fail(name, 1, f"mandatory header field {mandatory!r} is missing", field=mandatory)
    for key, value in doc.header.items():
        spec = header_specs.get(key)
        if spec is None:
            raise fail(name, doc.header_lines.get(key), f"field {key!r} is not allowed in an ActorPack header")
        if key == "actors":
            if not isinstance(value, list):
                raise fail(name, doc.header_lines.get(key), "'actors' must be a list of actors", field=key)
            continue
        problem = check_field(spec, value, tax)
        if problem is not None:
            raise fail(name, doc.header_lines.get(key), f"header {problem}", field=key)
    actors: list[ActorRecord] = []
    seen: set[str] = set()
    duplicates = 0
    for index, entry in enumerate(doc.entries):
        for key, value in entry.values.items():
            spec = actor_specs.get(key)
            if spec is None:
                raise fail(name, entry.line_of(key), f"field {key!r} is not allowed in an actor", actor=index)
            problem = check_field(spec, value, tax)
            if problem is not None:
                raise fail(name, entry.line_of(key), problem, field=key, actor=index)
        for mandatory in schema.mandatory("actor"):
            if mandatory not in entry.values:
                raise fail(name, entry.line, f"mandatory actor field {mandatory!r} is missing", actor=index)
        actor_id = str(entry.values["id"]).strip()
        if actor_id in seen:
            duplicates += 1
            continue
        seen.add(actor_id)
        actors.append(
            ActorRecord(
                id=actor_id,
                label=str(entry.values["label"]),
                uri=str(entry.values["uri"]),
                categories=_as_tuple(entry.values.get("categories")),
                jurisdictions=_as_tuple(entry.values.get("jurisdictions")),
                aliases=_as_tuple(entry.values.get("aliases")),
                context=context_text(entry.values.get("context")),
                lastmod=parse_date(entry.values.get("lastmod")),
                line=entry.line,
            )
        )
    warnings = [f"{duplicates} duplicate actor id(s) skipped"] if duplicates else []
    description = doc.header.get("description")
    return ParsedActorPack(
        path=name,
        sha256=doc.sha256,
        title=str(doc.header["title"]),
        creator=str(doc.header["creator"]),
        description=str(description) if description is not None else None,
        actors=actors,
        total=len(doc.entries),
        duplicates=duplicates,
        warnings=warnings,
    )


def actor_to_fields(actor: ActorRecord) -> dict[str, Any]:
    """An actor as ActorPack fields, leaving out what is empty."""
    fields: dict[str, Any] = {
        "id": actor.id,
        "uri": actor.uri,
        "label": actor.label,
        "lastmod": actor.lastmod or dt.date.today(),
        "categories": list(actor.categories),
        "jurisdictions": list(actor.jurisdictions) or None,
        "aliases": list(actor.aliases) or None,
        "context": actor.context,
    }
    return {key: value for key, value in fields.items() if value is not None}


def write_actorpack(
    out_path: str | Path,
    *,
    title: str,
    creator: str,
    actors: Sequence[ActorRecord],
    description: str | None = None,
) -> Path:
    """Write ``actors`` as a valid ActorPack to ``out_path`` (a temporary file, then a rename)."""
    document: dict[str, Any] = {"title": title, "creator": creator}
    if description:
        document["description"] = description
    document["actors"] = [actor_to_fields(actor) for actor in actors]
    return write_pack(out_path, document)


__all__ = ["ParsedActorPack", "actor_to_fields", "parse_actorpack", "write_actorpack"]
