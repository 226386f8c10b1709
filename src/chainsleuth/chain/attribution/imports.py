"""Importing packs into the tag store: TagPacks, ActorPacks and the OFAC list, idempotent by content.

Files are parsed and validated completely *before* the first row is written, so a malformed pack raises
:class:`MalformedFileError` and leaves the store exactly as it was even if the caller commits afterwards.
A pack is identified by its ``uri`` (by default the file's absolute path) and versioned by the sha256 of its
bytes. Importing the same bytes again adds nothing; importing changed bytes under the same uri replaces that
pack's tags (and only those). The OFAC list is one pack (``ofac:sdn``): a newer list replaces the older one,
so delisted addresses stop being flagged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from chainsleuth.chain.attribution.actorpack import ParsedActorPack, parse_actorpack
from chainsleuth.chain.attribution.records import TagRecord
from chainsleuth.chain.attribution.rows import restore_creator, row_values
from chainsleuth.chain.attribution.tagpack import ParsedTagPack, parse_tagpack
from chainsleuth.chain.attribution.taxonomy import Taxonomy
from chainsleuth.errors import InvalidInputError
from chainsleuth.store.models.tags import Actor, Tag, TagPackRecord
from chainsleuth.store.types import utcnow

OFAC_URI = "ofac:sdn"


@dataclass
class ImportReport:
    """What one import did: ``status`` is ``imported`` (new), ``replaced`` (changed pack) or ``unchanged``."""

    path: str
    uri: str
    kind: str
    title: str
    status: str
    in_file: int
    imported: int
    duplicates: int
    removed: int = 0
    warnings: list[str] = field(default_factory=list)


def _store_pack(
    session: Session,
    *,
    uri: str,
    kind: str,
    sha256: str,
    title: str,
    creator: str,
    description: str | None,
    is_public: bool,
    lastmod: dt.date | None,
    header: dict[str, Any],
    tags: Sequence[TagRecord],
) -> tuple[str, int, int]:
    """Insert or replace one pack and its tags; returns (status, tags inserted, tags removed)."""
    existing = session.scalars(select(TagPackRecord).where(TagPackRecord.uri == uri)).one_or_none()
    if existing is not None and existing.sha256 == sha256:
        return "unchanged", 0, 0
    removed = 0
    now = utcnow()
    if existing is None:
        pack = TagPackRecord(uri=uri, kind=kind)
        session.add(pack)
        status = "imported"
    else:
        pack = existing
        removed = session.scalar(select(func.count()).select_from(Tag).where(Tag.tagpack_id == pack.id)) or 0
        session.execute(delete(Tag).where(Tag.tagpack_id == pack.id))
        status = "replaced"
    pack.kind, pack.sha256, pack.title, pack.creator = kind, sha256, title, creator
    pack.description, pack.is_public, pack.lastmod, pack.header = description, is_public, lastmod, header
    pack.tag_count, pack.imported_at = len(tags), now
    session.flush()
    rows = [row_values(tag, pack.id, now) for tag in tags]
    if rows:
        session.execute(insert(Tag), rows)
    session.flush()
    return status, len(rows), removed


def import_tagpack(
    session: Session,
    path: str | Path,
    *,
    uri: str | None = None,
    taxonomy: Taxonomy | None = None,
    parsed: ParsedTagPack | None = None,
) -> ImportReport:
    """Validate and import one TagPack file (see the module docstring for idempotency)."""
    pack = parsed or parse_tagpack(path, taxonomy=taxonomy)
    pack_uri = uri or str(Path(path).resolve())
    tags = [restore_creator(tag) for tag in pack.tags]
    status, inserted, removed = _store_pack(
        session,
        uri=pack_uri,
        kind="tagpack",
        sha256=pack.sha256,
        title=pack.title,
        creator=pack.creator,
        description=pack.description,
        is_public=pack.is_public,
        lastmod=pack.lastmod,
        header=pack.header,
        tags=tags,
    )
    return ImportReport(
        path=str(path),
        uri=pack_uri,
        kind="tagpack",
        title=pack.title,
        status=status,
        in_file=pack.total,
        imported=inserted,
        duplicates=pack.duplicates,
        removed=removed,
        warnings=list(pack.warnings),
    )


def import_actorpack(
    session: Session,
    path: str | Path,
    *,
    uri: str | None = None,
    taxonomy: Taxonomy | None = None,
    parsed: ParsedActorPack | None = None,
) -> ImportReport:
    """Validate and import one ActorPack; actors are upserted by id (the newest pack's version wins)."""
    pack = parsed or parse_actorpack(path, taxonomy=taxonomy)
    pack_uri = uri or str(Path(path).resolve())
    status, _, _ = _store_pack(
        session,
        uri=pack_uri,
        kind="actorpack",
        sha256=pack.sha256,
        title=pack.title,
        creator=pack.creator,
        description=pack.description,
        is_public=False,
        lastmod=None,
        header={"title": pack.title, "creator": pack.creator},
        tags=(),
    )
    written = 0
    if status != "unchanged":
        pack_id = session.scalars(select(TagPackRecord.id).where(TagPackRecord.uri == pack_uri)).one()
        for actor in pack.actors:
            row = session.get(Actor, actor.id) or Actor(id=actor.id)
            row.label, row.uri, row.categories = actor.label, actor.uri, list(actor.categories)
            row.jurisdictions, row.aliases, row.context = (
                list(actor.jurisdictions),
                list(actor.aliases),
                actor.context,
            )
            row.lastmod, row.tagpack_id = actor.lastmod, pack_id
            session.add(row)
            written += 1
        session.flush()
    return ImportReport(
        path=str(path),
        uri=pack_uri,
        kind="actorpack",
        title=pack.title,
        status=status,
        in_file=pack.total,
        imported=written,
        duplicates=pack.duplicates,
        warnings=list(pack.warnings),
    )


def is_actorpack(path: str | Path) -> bool:
    """GraphSense's convention: ActorPack files are named ``*actorpack.yaml``."""
    return Path(path).name.endswith("actorpack.yaml")


def import_pack(session: Session, path: str | Path, *, taxonomy: Taxonomy | None = None) -> ImportReport:
    """Import a TagPack or an ActorPack, told apart by file name."""
    if is_actorpack(path):
        return import_actorpack(session, path, taxonomy=taxonomy)
    return import_tagpack(session, path, taxonomy=taxonomy)


def pack_files(paths: Iterable[str | Path]) -> list[Path]:
    """The ``.yaml``/``.yml`` files among ``paths``, directories searched recursively, in a stable order."""
    found: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()))
        elif path.is_file():
            found.append(path)
        else:
            raise InvalidInputError(f"{path}: no such file or directory", path=str(path))
    # ActorPacks first, so that tags importing next can be checked against the actors.
    return sorted(dict.fromkeys(found), key=lambda p: (not is_actorpack(p), str(p)))


def import_ofac(
    session: Session, path: str | Path, *, list_date: dt.date | None = None, taxonomy: Taxonomy | None = None
) -> ImportReport:
    """Import an OFAC sanctioned-address list directory or file as ``sanction`` tags (one pack, replaced)."""
    from chainsleuth.ingest.ofac import OFAC_CREATOR, ofac_tags, read_ofac

    snapshot = read_ofac(path, list_date=list_date)
    tags = ofac_tags(snapshot, taxonomy=taxonomy)
    status, inserted, removed = _store_pack(
        session,
        uri=OFAC_URI,
        kind="ofac",
        sha256=snapshot.sha256,
        title="OFAC SDN list: sanctioned digital currency addresses",
        creator=OFAC_CREATOR,
        description=f"Read from {snapshot.path}",
        is_public=True,
        lastmod=snapshot.list_date,
        header={"per_ticker": {ticker: len(values) for ticker, values in snapshot.addresses.items()}},
        tags=tags,
    )
    return ImportReport(
        path=str(path),
        uri=OFAC_URI,
        kind="ofac",
        title="OFAC SDN list",
        status=status,
        in_file=snapshot.total,
        imported=inserted,
        duplicates=snapshot.total - len(tags),
        removed=removed,
        warnings=[],
    )


__all__ = [
    "OFAC_URI",
    "ImportReport",
    "import_actorpack",
    "import_ofac",
    "import_pack",
    "import_tagpack",
    "is_actorpack",
    "pack_files",
]
