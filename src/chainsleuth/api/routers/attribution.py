"""Attribution and clustering administration over HTTP: pack and OFAC imports, exports, clustering runs, quality.

The same operations as ``chainsleuth tags import|import-ofac|export`` and ``chainsleuth chain cluster
run|quality``, on the same functions. Importing and clustering change what every trace, exposure and alert
sees, so they need ``tags.import`` and ``chain.cluster`` (senior analysts, compliance officers and admins, not
every analyst); exporting and listing are reading (``chain.read``). Every call that imports, exports or
clusters is written to the audit log. Uploads are read in chunks and refused (413) beyond
``Settings.max_upload_bytes``; a malformed pack answers 422 naming the file and line, and nothing of it is
written.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from chainsleuth.api.deps import Principal, get_chain_store, get_session, get_settings
from chainsleuth.api.investigate import known_chain
from chainsleuth.api.permissions import requires
from chainsleuth.chain.attribution.actorpack import ParsedActorPack, parse_actorpack
from chainsleuth.chain.attribution.imports import ImportReport, import_actorpack, import_ofac, import_tagpack
from chainsleuth.chain.attribution.store import export_actorpack, export_tagpack, find_tags, is_actorpack, list_packs
from chainsleuth.chain.attribution.tagpack import parse_tagpack
from chainsleuth.chain.clustering.change import check_heuristics
from chainsleuth.chain.clustering.engine import ClusterOptions, cluster_chain
from chainsleuth.chain.clustering.quality import quality_report, wallets_from_tags
from chainsleuth.config import Settings
from chainsleuth.errors import InvalidInputError, NotFoundError, PayloadTooLargeError
from chainsleuth.privacy import audit
from chainsleuth.store.chainstore import ChainStore, chain_spec

router = APIRouter(prefix="/api/attribution", tags=["attribution"])
Importer = Annotated[Principal, Depends(requires("tags.import"))]
Clusterer = Annotated[Principal, Depends(requires("chain.cluster"))]
Reader = Annotated[Principal, Depends(requires("chain.read"))]
DbSession = Annotated[Session, Depends(get_session)]
Store = Annotated[ChainStore, Depends(get_chain_store)]
Config = Annotated[Settings, Depends(get_settings)]
YAML = "application/yaml"
#: The names the OFAC reader accepts (others in a directory are silently skipped: here they are refused).
OFAC_FILE_NAME = re.compile(r"sanctioned_addresses_([A-Z0-9]+)\.(txt|json)")


async def _read(upload: UploadFile, limit: int) -> bytes:
    """The upload's bytes, read in chunks and refused (413) as soon as they pass ``limit``."""
    chunks, size = [], 0
    while chunk := await upload.read(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"{upload.filename}: larger than the upload limit", limit=limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _name(upload: UploadFile) -> str:
    """The upload's base name (never a path), required: it tells ActorPacks and OFAC tickers apart."""
    name = Path(upload.filename or "").name
    if not name or name.startswith("."):
        raise InvalidInputError("every uploaded file needs a file name", field="files")
    return name


def _report(report: ImportReport) -> dict[str, Any]:
    return {**asdict(report), "path": Path(report.path).name}


@router.post("/packs", summary="Import TagPacks and ActorPacks", status_code=201)
async def import_packs(
    principal: Importer,
    session: DbSession,
    settings: Config,
    files: Annotated[list[UploadFile], File(description="TagPack YAML files; *actorpack.yaml are ActorPacks.")],
) -> dict[str, Any]:
    """Validate every file first, then import all (or nothing): the same as ``chainsleuth tags import``.

    A pack is known by ``upload:<file name>``: uploading the same bytes again adds nothing, changed bytes
    replace the tags that file brought before. Audited as ``tags.import``.
    """
    if not files:
        raise InvalidInputError("upload at least one pack", field="files")
    contents = [(_name(upload), await _read(upload, settings.max_upload_bytes)) for upload in files]
    parsed = [
        (name, parse_actorpack(name, content=data) if is_actorpack(name) else parse_tagpack(name, content=data))
        for name, data in contents
    ]
    reports: list[ImportReport] = []
    for name, pack in sorted(parsed, key=lambda item: not is_actorpack(item[0])):  # actors first, like the CLI
        uri = f"upload:{name}"
        if isinstance(pack, ParsedActorPack):
            reports.append(import_actorpack(session, name, uri=uri, parsed=pack))
        else:
            reports.append(import_tagpack(session, name, uri=uri, parsed=pack))
    for report in reports:
        audit.record(session, principal, "tags.import", report.kind, report.uri,
                     details={"status": report.status, "imported": report.imported, "removed": report.removed,
                              "title": report.title[:200]})  # fmt: skip
    return {"reports": [_report(r) for r in reports]}


@router.post("/ofac", summary="Import the OFAC sanctioned-address list", status_code=201)
async def import_ofac_route(
    principal: Importer,
    session: DbSession,
    settings: Config,
    files: Annotated[list[UploadFile], File(description="sanctioned_addresses_<TICKER>.txt or .json files.")],
    list_date: Annotated[str | None, Form(description="Date of the list, YYYY-MM-DD (default: today).")] = None,
) -> dict[str, Any]:
    """Replace the OFAC list with the uploaded files (delisted addresses stop matching). Audited."""
    try:
        when = dt.date.fromisoformat(list_date) if list_date else dt.datetime.now(dt.UTC).date()
    except ValueError:
        raise InvalidInputError("list_date: expected YYYY-MM-DD", field="list_date", value=list_date) from None
    if not files:
        raise InvalidInputError("upload at least one sanctioned_addresses_<TICKER> file", field="files")
    remaining = settings.max_upload_bytes
    with tempfile.TemporaryDirectory(prefix="ofac-upload-") as folder:
        for upload in files:
            name = _name(upload)
            if not OFAC_FILE_NAME.fullmatch(name):
                raise InvalidInputError(f"{name}: not a sanctioned_addresses_<TICKER>.txt/.json file", field="files")
            data = await _read(upload, remaining)
            remaining -= len(data)
            (Path(folder) / name).write_bytes(data)
        report = import_ofac(session, folder, list_date=when)
    audit.record(session, principal, "tags.import_ofac", "ofac", report.uri,
                 details={"status": report.status, "imported": report.imported, "removed": report.removed,
                          "list_date": when.isoformat()})  # fmt: skip
    return {"reports": [_report(report)]}


@router.get("/packs", summary="Imported packs")
def packs(_: Reader, session: DbSession) -> dict[str, Any]:
    """Every imported TagPack, ActorPack and OFAC list: uri, kind, title, creator, tags, import time."""
    rows = list_packs(session)
    return {"packs": [{"uri": p.uri, "kind": p.kind, "title": p.title, "creator": p.creator,
                       "tags": p.tag_count, "sha256": p.sha256, "imported_at": p.imported_at.isoformat()}
                      for p in rows]}  # fmt: skip


def _yaml_file(principal: Principal, session: Session, kind: str, filename: str, path: Path, count: int,
               selection: dict[str, str | None]) -> Response:  # fmt: skip
    audit.record(session, principal, f"{kind}.export", kind, filename,
                 details={"count": count, **{k: v for k, v in selection.items() if v}})  # fmt: skip
    return Response(path.read_bytes(), media_type=YAML,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})  # fmt: skip


@router.get("/export/tagpack", summary="Export tags as a TagPack", response_class=Response)
def export_tags(
    principal: Reader,
    session: DbSession,
    origin: Annotated[str | None, Query(description="tagpack, ofac or analyst.")] = None,
    network: str | None = None,
    category: Annotated[str | None, Query(description="Category or abuse concept.")] = None,
    title: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """A schema-valid GraphSense TagPack of the selected tags (re-importable here and by GraphSense). Audited."""
    with tempfile.TemporaryDirectory(prefix="tagpack-export-") as folder:
        path, count = export_tagpack(session, Path(folder) / "export.yaml", origin=origin, network=network,
                                     category=category, title=title)  # fmt: skip
        selection = {"origin": origin, "network": network, "category": category}
        return _yaml_file(principal, session, "tagpack", "chainsleuth-tagpack.yaml", path, count, selection)


@router.get("/export/actorpack", summary="Export actors as an ActorPack", response_class=Response)
def export_actors(
    principal: Reader,
    session: DbSession,
    category: Annotated[str | None, Query(description="Only actors with this category.")] = None,
    title: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """A schema-valid GraphSense ActorPack of the store's actors (the ids tags refer to). Audited."""
    with tempfile.TemporaryDirectory(prefix="actorpack-export-") as folder:
        path, count = export_actorpack(session, Path(folder) / "export-actorpack.yaml", category=category,
                                       title=title)  # fmt: skip
        return _yaml_file(principal, session, "actorpack", "chainsleuth-actorpack.yaml", path, count,
                          {"category": category})  # fmt: skip


class ClusterRunIn(BaseModel):
    """Options of a clustering run (those of ``chainsleuth chain cluster run``)."""

    change: list[str] = Field(default_factory=list, description="Change heuristics to link (UTXO chains).")
    min_confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    full: bool = Field(default=False, description="Recompute from scratch instead of only new blocks.")
    super_cluster_size: int = Field(default=100_000, ge=2)


@router.post("/clusters/{chain}/run", summary="Cluster a chain")
def cluster_run(
    chain: str, body: ClusterRunIn, principal: Clusterer, session: DbSession, store: Store
) -> dict[str, Any]:
    """Run the clustering (incremental unless ``full``); Ethereum's exchange wallets are the tag store's
    ``exchange`` tags. Returns the run's report with its super-cluster warnings. Audited as ``cluster.run``."""
    known_chain(store, chain)
    utxo = chain_spec(chain).kind == "utxo"
    if body.change and not utxo:
        raise InvalidInputError("change heuristics apply to UTXO chains only", field="change", chain=chain)
    hot = None
    if not utxo:
        hot = wallets_from_tags(store, chain, find_tags(session, network=chain, category="exchange"))
        if not hot:
            raise InvalidInputError("no exchange-tagged wallets on this chain: import a TagPack with exchanges first",
                                    chain=chain)  # fmt: skip
    options = ClusterOptions(change=tuple(check_heuristics(body.change)), min_confidence=body.min_confidence,
                             hot_wallets=hot, super_cluster_size=body.super_cluster_size)  # fmt: skip
    report = cluster_chain(store, chain, options, full=body.full)
    audit.record(session, principal, "cluster.run", "chain", chain,
                 details={"mode": report.mode, "clusters": report.clusters, "merges": report.merges,
                          "change": body.change, "warnings": len(report.warnings)})  # fmt: skip
    return asdict(report)


@router.post("/clusters/quality", summary="Cluster quality against the world's ground truth")
def cluster_quality(
    request: Request,
    principal: Clusterer,
    session: DbSession,
    store: Store,
    chain: Annotated[list[str] | None, Query(description="Chains to score (default: all ingested).")] = None,
    change: Annotated[list[str] | None, Query(description="Change heuristics to link first.")] = None,
) -> dict[str, Any]:
    """Precision, recall and F1 (pairwise, B-cubed) against the served world's true owners (demo and
    training servers, started with a world); clusters incrementally first. Audited as ``cluster.quality``."""
    world: Path | None = request.app.state.world_dir
    if world is None:
        raise NotFoundError("this server has no simulated world: cluster quality needs its ground truth")
    chains = [known_chain(store, name) for name in chain] if chain else None
    results = quality_report(store, world, chains, change=change or ())
    audit.record(session, principal, "cluster.quality", "chain", ",".join(results),
                 details={"change": change or []})  # fmt: skip
    return results
