"""The case workspace's fund-flow graph: its seed, traces drawn on it, and saving either as evidence.

``graph.json`` seeds the canvas with the case's linked addresses and their busiest counterparties (the same
``neighbourhood`` the address page draws; "expand" asks that page's ``neighbours.json``), or with the graph
last saved with the case, pins and annotations included. ``trace.json`` runs a trace under the chosen policy
and returns it as elements to overlay. Saving a trace re-runs it on the server (the browser is never trusted
with evidence content) and stores the result with its SHA-256; saving the graph stores what the investigator
drew as a JSON document. Paths end in ``.json``, so errors answer JSON for the script to show.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from chainsleuth.api.deps import Principal
from chainsleuth.cases import evidence, service
from chainsleuth.config import Settings
from chainsleuth.errors import InvalidInputError
from chainsleuth.store.chainstore import ChainStore
from chainsleuth.store.models.cases import CaseEvidence
from chainsleuth.web.case_forms import stale_guard
from chainsleuth.web.case_trace import enrich, exposure, run_trace, trace_elements
from chainsleuth.web.core import DbSession, Viewer, csrf_protected, page
from chainsleuth.web.graph import neighbourhood

router = APIRouter(include_in_schema=False)
Reader = Annotated[Viewer, Depends(page("case.read", "chain.read"))]
Updater = Annotated[Viewer, Depends(page("case.update", "chain.read"))]
CSRF = [Depends(csrf_protected)]
GRAPH_FILENAME = "case-graph.json"
#: A saved graph is a document; far below the upload limit, but bounded all the same.
MAX_GRAPH_BYTES = 5 * 1024 * 1024


class TraceIn(BaseModel):
    chain: str = Field(max_length=16)
    target: str = Field(min_length=1, max_length=130)
    direction: str = "forward"
    policy: str = "haircut"
    hops: int = Field(default=6, ge=1, le=20)
    since: str | None = None
    until: str | None = None


class SaveTraceIn(TraceIn):
    version: int = Field(ge=1)
    title: str | None = Field(default=None, max_length=200)


class SaveGraphIn(BaseModel):
    version: int = Field(ge=1)
    elements: list[dict[str, Any]]
    annotations: dict[str, str] = Field(default_factory=dict)
    time_filter: dict[str, Any] = Field(default_factory=dict)


def _store(request: Request) -> ChainStore:
    store: ChainStore = request.app.state.chain_store
    return store


def _saved_graph(db: Session, actor: Principal, case_id: int, settings: Settings) -> dict[str, Any] | None:
    """The latest graph saved with the case, read through the audited evidence read (its annotations are the
    investigator's words about people)."""
    rows = [r for r in evidence.list_evidence(db, case_id) if r.kind == "document" and r.filename == GRAPH_FILENAME]
    if not rows:
        return None
    latest: CaseEvidence = max(rows, key=lambda r: r.id)
    _, data = evidence.read_evidence(db, actor, latest.id, settings=settings)
    saved: dict[str, Any] = json.loads(data)
    saved["evidence_id"] = latest.id
    return saved


@router.get("/cases/{case_id}/graph.json")
def graph_seed(request: Request, case_id: int, viewer: Reader, db: DbSession) -> dict[str, Any]:
    """The saved graph if there is one, else the linked addresses with their direct counterparties."""
    case = service.get_case(db, viewer.principal, case_id)
    saved = _saved_graph(db, viewer.principal, case.id, request.app.state.settings)
    if saved is not None:
        return {"saved": True, **saved}
    store = _store(request)
    nodes: dict[str, dict[str, Any]] = {}
    edges: dict[str, dict[str, Any]] = {}
    roots = []
    for link in service.links(db, case.id):
        if link.link_type != "address" or not link.chain or store.address_id(link.chain, link.target) is None:
            continue
        roots.append(link.target)
        part = neighbourhood(store, db, link.chain, link.target, limit=15)
        for node in part["nodes"]:
            nodes.setdefault(node["data"]["id"], node)
        for edge in part["edges"]:
            edges.setdefault(edge["data"]["id"], edge)
    for node in nodes.values():
        node["data"]["center"] = node["data"]["id"] in roots
    return {"saved": False, "roots": roots, "nodes": list(nodes.values()), "edges": list(edges.values())}


@router.post("/cases/{case_id}/trace.json", dependencies=CSRF)
def trace_json(request: Request, case_id: int, viewer: Reader, db: DbSession, body: TraceIn) -> dict[str, Any]:
    """Trace from a node under a policy; the answer is the result's summary, terminals and elements."""
    service.get_case(db, viewer.principal, case_id)
    result = run_trace(db, _store(request), chain=body.chain, target=body.target, direction=body.direction,
                       policy=body.policy, hops=body.hops, since=body.since, until=body.until)  # fmt: skip
    drawn = trace_elements(result, body.target)
    enrich(db, drawn["nodes"])
    return drawn


@router.get("/cases/{case_id}/exposure.json")
def exposure_json(
    request: Request,
    case_id: int,
    viewer: Reader,
    db: DbSession,
    chain: Annotated[str, Query(max_length=16)],
    address: Annotated[str, Query(max_length=130)],
) -> dict[str, Any]:
    """Exposure of a node by category with evidence: the badge the graph draws on it."""
    service.get_case(db, viewer.principal, case_id)
    return exposure(db, _store(request), chain, address)


@router.post("/cases/{case_id}/trace-evidence.json", dependencies=CSRF)
def save_trace(request: Request, case_id: int, viewer: Updater, db: DbSession, body: SaveTraceIn) -> dict[str, Any]:
    """Store the trace (re-run here with the same parameters) as evidence with its hash."""
    result = run_trace(db, _store(request), chain=body.chain, target=body.target, direction=body.direction,
                       policy=body.policy, hops=body.hops, since=body.since, until=body.until)  # fmt: skip
    title = body.title or f"{body.policy} trace {body.direction} from {body.target[:16]}… ({body.hops} hops)"
    with stale_guard():
        row = evidence.add_result(db, viewer.principal, case_id, body.version, "trace", result, title=title)
    case = service.get_case(db, viewer.principal, case_id)
    return {"evidence_id": row.id, "sha256": row.sha256, "title": row.title, "version": case.version}


@router.post("/cases/{case_id}/graph-evidence.json", dependencies=CSRF)
def save_graph(request: Request, case_id: int, viewer: Updater, db: DbSession, body: SaveGraphIn) -> dict[str, Any]:
    """Store the graph as drawn (positions, pins, annotations, time filter) as a JSON document."""
    payload = {"elements": body.elements, "annotations": body.annotations, "time_filter": body.time_filter}
    data = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8")
    if len(data) > MAX_GRAPH_BYTES:
        raise InvalidInputError("the graph is too large to save; remove some nodes", limit=MAX_GRAPH_BYTES)
    with stale_guard():
        row = evidence.add_document(db, viewer.principal, case_id, body.version, data, filename=GRAPH_FILENAME,
                                    title=f"Fund-flow graph ({len(body.elements)} elements)",
                                    media_type="application/json", settings=request.app.state.settings)  # fmt: skip
    case = service.get_case(db, viewer.principal, case_id)
    return {"evidence_id": row.id, "sha256": row.sha256, "title": row.title, "version": case.version}
