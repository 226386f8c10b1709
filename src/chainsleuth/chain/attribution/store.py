"""The tag store API: import packs and the OFAC list, record analysts' tags, look tags up, export them.

Every function takes a SQLAlchemy ``Session`` and only flushes: the caller owns the transaction
(``chainsleuth.store.db.session_scope``), so an import or an edit is all-or-nothing. Imports live in
:mod:`.imports` and are re-exported here, so that ``store`` is the one module callers need.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.chain.attribution.actorpack import parse_actorpack, write_actorpack
from chainsleuth.chain.attribution.imports import (
    OFAC_URI,
    ImportReport,
    import_actorpack,
    import_ofac,
    import_pack,
    import_tagpack,
    is_actorpack,
    pack_files,
)
from chainsleuth.chain.attribution.records import (
    ORIGINS,
    ActorRecord,
    TagRecord,
    merged_concepts,
    normalize_address,
    normalize_network,
    normalize_tx_hash,
)
from chainsleuth.chain.attribution.rows import CREATOR_CONTEXT_KEY, record_from_row, row_values
from chainsleuth.chain.attribution.tagpack import write_tagpack
from chainsleuth.chain.attribution.taxonomy import Taxonomy, get_taxonomy
from chainsleuth.errors import InvalidInputError
from chainsleuth.store.models.tags import Actor, Tag, TagPackRecord
from chainsleuth.store.types import utcnow

_IN_CHUNK = 500


def _text(value: str | None, name: str, *, required: bool) -> str | None:
    if value is None or not value.strip():
        if required:
            raise InvalidInputError(f"{name} must not be empty", field=name)
        return None
    if "\x00" in value:
        raise InvalidInputError(f"{name} contains a NUL character", field=name)
    return value.strip()


def validated_tag(
    *,
    network: str,
    label: str,
    source: str,
    confidence: str,
    creator: str,
    address: str | None = None,
    tx_hash: str | None = None,
    category: str | None = None,
    abuse: str | None = None,
    concepts: Sequence[str] = (),
    actor: str | None = None,
    context: str | None = None,
    is_public: bool = False,
    lastmod: dt.date | None = None,
    origin: str = "analyst",
    taxonomy: Taxonomy | None = None,
) -> TagRecord:
    """A tag checked against the taxonomy, as an analyst enters it; InvalidInputError naming the field."""
    tax = taxonomy or get_taxonomy()
    if (address is None) == (tx_hash is None):
        raise InvalidInputError("give exactly one of address and tx_hash", field="address")
    subject = _text(address if address is not None else tx_hash, "address", required=True)
    assert subject is not None
    if confidence not in tax.confidence:
        raise InvalidInputError(
            f"unknown confidence {confidence!r}; one of: {', '.join(sorted(tax.confidence))}",
            field="confidence",
        )
    for name, value in (("category", category), ("abuse", abuse), *(("concepts", c) for c in concepts)):
        if value is not None and value not in tax.concepts:
            raise InvalidInputError(f"unknown concept {value!r} for {name}", field=name)
    if origin not in ORIGINS:
        raise InvalidInputError(f"unknown origin {origin!r}", field="origin")
    if context is not None:
        try:
            json.loads(context)
        except ValueError as error:
            raise InvalidInputError("context must be JSON text", field="context") from error
    network_name = _text(network, "network", required=True)
    assert network_name is not None
    return TagRecord(
        network=normalize_network(network_name, subject),
        currency=None,
        address=normalize_address(subject) if address is not None else None,
        tx_hash=normalize_tx_hash(subject) if tx_hash is not None else None,
        label=_text(label, "label", required=True) or "",
        source=_text(source, "source", required=True) or "",
        confidence=confidence,
        confidence_level=tax.confidence_level(confidence),
        category=category,
        abuse=abuse,
        concepts=merged_concepts(list(concepts), category, abuse),
        actor=_text(actor, "actor", required=False),
        creator=_text(creator, "creator", required=True) or "",
        origin=origin,
        is_public=is_public,
        context=context,
        lastmod=lastmod or dt.datetime.now(dt.UTC).date(),
    )


def add_tag(session: Session, *, creator: str, **fields: Any) -> TagRecord:
    """Record an analyst's tag (fields as :func:`validated_tag`); returns it with its id and timestamp."""
    record = validated_tag(creator=creator, **fields)
    row = Tag(**row_values(record, None, utcnow()))
    session.add(row)
    session.flush()
    return record_from_row(row)


def _pack_uris(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(TagPackRecord.id, TagPackRecord.uri).where(TagPackRecord.id.in_(ids)))
    return dict(rows.tuples().all())


def tags_for(session: Session, network: str, addresses: Iterable[str]) -> dict[str, list[TagRecord]]:
    """All tags of ``addresses`` on ``network``, keyed by the address as given; untagged addresses are absent.

    Addresses are matched in their canonical spelling (hex and bech32 case-insensitively), in chunks, so a
    screening run can pass thousands at once. Each list is ordered by confidence level, then recency.
    """
    chain = normalize_network(network)
    wanted: dict[str, list[str]] = {}
    for address in addresses:
        wanted.setdefault(normalize_address(address), []).append(address)
    found: dict[str, list[Tag]] = {}
    keys = list(wanted)
    for start in range(0, len(keys), _IN_CHUNK):
        chunk = keys[start : start + _IN_CHUNK]
        query = select(Tag).where(Tag.network == chain, Tag.address.in_(chunk))
        for row in session.scalars(query):
            found.setdefault(row.address or "", []).append(row)
    uris = _pack_uris(session, {row.tagpack_id for rows in found.values() for row in rows if row.tagpack_id})
    result: dict[str, list[TagRecord]] = {}
    for canonical, rows in found.items():
        records = [record_from_row(row, uris.get(row.tagpack_id or -1)) for row in rows]
        records.sort(key=lambda tag: (-tag.confidence_level, -(tag.lastmod or dt.date.min).toordinal(), tag.id or 0))
        for given in wanted.get(canonical, []):
            result[given] = records
    return result


def find_tags(
    session: Session,
    *,
    network: str | None = None,
    origin: str | None = None,
    tagpack_uri: str | None = None,
    category: str | None = None,
    limit: int | None = None,
) -> list[TagRecord]:
    """Tags matching every given filter, in insertion order."""
    query = select(Tag, TagPackRecord.uri).outerjoin(TagPackRecord, Tag.tagpack_id == TagPackRecord.id)
    if network is not None:
        query = query.where(Tag.network == normalize_network(network))
    if origin is not None:
        query = query.where(Tag.origin == origin)
    if tagpack_uri is not None:
        query = query.where(TagPackRecord.uri == tagpack_uri)
    if category is not None:
        query = query.where((Tag.category == category) | (Tag.abuse == category))
    query = query.order_by(Tag.id)
    if limit is not None:
        query = query.limit(limit)
    return [record_from_row(row, uri) for row, uri in session.execute(query)]


def export_tagpack(
    session: Session,
    out_path: str | Path,
    *,
    title: str | None = None,
    creator: str | None = None,
    network: str | None = None,
    origin: str | None = None,
    tagpack_uri: str | None = None,
    category: str | None = None,
    is_public: bool = False,
) -> tuple[Path, int]:
    """Write the selected tags as one valid TagPack; returns the file and the number of tags written.

    A TagPack has one creator; tags by someone else keep theirs in ``context`` (key ``chainsleuth_creator``),
    which :func:`import_tagpack` reads back, so no tag loses who made it.
    """
    tags = find_tags(session, network=network, origin=origin, tagpack_uri=tagpack_uri, category=category)
    creators = sorted({tag.creator for tag in tags})
    pack_creator = creator or (creators[0] if len(creators) == 1 else "chainsleuth export")
    written: list[TagRecord] = []
    for tag in tags:
        lastmod = tag.lastmod or (tag.created_at.date() if isinstance(tag.created_at, dt.datetime) else None)
        context = tag.context
        if tag.creator != pack_creator:
            loaded = json.loads(context) if context else {}
            if not isinstance(loaded, dict):
                loaded = {"context": loaded}
            loaded[CREATOR_CONTEXT_KEY] = tag.creator
            context = json.dumps(loaded, sort_keys=True)
        written.append(tag.with_changes(lastmod=lastmod, context=context))
    selection = ", ".join(
        f"{name}={value}"
        for name, value in (
            ("network", network),
            ("origin", origin),
            ("pack", tagpack_uri),
            ("category", category),
        )
        if value
    )
    path = write_tagpack(
        out_path,
        title=title or "chainsleuth tag export" + (f" ({selection})" if selection else ""),
        creator=pack_creator,
        tags=written,
        description=f"Exported from chainsleuth on {dt.datetime.now(dt.UTC).date().isoformat()}",
        is_public=is_public,
    )
    return path, len(written)


def find_actors(
    session: Session, *, ids: Sequence[str] | None = None, category: str | None = None
) -> list[ActorRecord]:
    """Actors of the store (all, or those with ``ids``, or with ``category`` among theirs), ordered by id."""
    query = select(Actor).order_by(Actor.id)
    if ids is not None:
        query = query.where(Actor.id.in_(list(ids)))
    actors = [
        ActorRecord(
            id=row.id,
            label=row.label,
            uri=row.uri,
            categories=tuple(row.categories or ()),
            jurisdictions=tuple(row.jurisdictions or ()),
            aliases=tuple(row.aliases or ()),
            context=row.context,
            lastmod=row.lastmod,
        )
        for row in session.scalars(query)
    ]
    return [a for a in actors if category is None or category in a.categories]


def export_actorpack(
    session: Session,
    out_path: str | Path,
    *,
    title: str | None = None,
    creator: str = "chainsleuth export",
    ids: Sequence[str] | None = None,
    category: str | None = None,
) -> tuple[Path, int]:
    """Write the store's actors (or a selection) as one schema-valid ActorPack; returns the file and count.

    Tags refer to actors by id, so exporting them next to a TagPack export lets GraphSense (or another
    chainsleuth) resolve every ``actor`` field. The pack is validated by re-parsing before it is returned.
    """
    if not is_actorpack(out_path):
        raise InvalidInputError(
            "name the file *actorpack.yaml: importers tell ActorPacks from TagPacks by that suffix", path=str(out_path)
        )
    actors = find_actors(session, ids=ids, category=category)
    if ids is not None:
        missing = sorted(set(ids) - {a.id for a in actors})
        if missing:
            raise InvalidInputError(f"unknown actor id(s): {', '.join(missing[:10])}", field="ids")
    if not actors:
        raise InvalidInputError("no actors to export: import an ActorPack first (or relax the selection)")
    path = write_actorpack(
        out_path,
        title=title or "chainsleuth actor export" + (f" (category={category})" if category else ""),
        creator=creator,
        actors=actors,
        description=f"Exported from chainsleuth on {dt.datetime.now(dt.UTC).date().isoformat()}",
    )
    parse_actorpack(path)  # the schema check GraphSense would run: fails here rather than at the recipient
    return path, len(actors)


def list_packs(session: Session) -> list[TagPackRecord]:
    """Every imported pack, newest import first."""
    return list(session.scalars(select(TagPackRecord).order_by(TagPackRecord.imported_at.desc())))


__all__ = [
    "OFAC_URI",
    "ImportReport",
    "add_tag",
    "export_actorpack",
    "export_tagpack",
    "find_actors",
    "find_tags",
    "import_actorpack",
    "import_ofac",
    "import_pack",
    "import_tagpack",
    "is_actorpack",
    "list_packs",
    "pack_files",
    "tags_for",
    "validated_tag",
]
