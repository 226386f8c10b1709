"""The attribution tags page (list, filter, add) and the audit-log page (tail, filter, verify the chain).

Tags are validated by the attribution layer (:func:`chainsleuth.chain.attribution.store.add_tag` checks the
taxonomy, the network and the subject) and every added tag is audited. The audit page reads and verifies the
log through :mod:`chainsleuth.privacy.audit`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select

from chainsleuth.chain.attribution.records import ORIGINS
from chainsleuth.chain.attribution.store import add_tag
from chainsleuth.chain.attribution.taxonomy import get_taxonomy
from chainsleuth.errors import ChainsleuthError
from chainsleuth.privacy import audit
from chainsleuth.store.models.audit import AuditEntry
from chainsleuth.store.models.tags import Tag, TagPackRecord
from chainsleuth.web.core import DbSession, NavItem, Viewer, csrf_protected, page, register_nav, render

router = APIRouter(include_in_schema=False)
TAGS_PAGE = 50
AUDIT_PAGE = 50
NETWORKS = ("bitcoin", "ethereum")


def _tag_rows(db: DbSession, network: str, origin: str, category: str, offset: int) -> tuple[int, list[Any]]:
    query = select(Tag, TagPackRecord.uri).outerjoin(TagPackRecord, Tag.tagpack_id == TagPackRecord.id)
    if network:
        query = query.where(Tag.network == network)
    if origin:
        query = query.where(Tag.origin == origin)
    if category:
        query = query.where((Tag.category == category) | (Tag.abuse == category))
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.execute(query.order_by(Tag.id.desc()).limit(TAGS_PAGE).offset(offset)).all()
    return total, list(rows)


def _tags_context(
    db: DbSession, viewer: Viewer, network: str, origin: str, category: str, offset: int
) -> dict[str, Any]:
    total, rows = _tag_rows(db, network, origin, category, offset)
    used = db.execute(select(func.coalesce(Tag.abuse, Tag.category)).distinct()).scalars().all()
    taxonomy = get_taxonomy()
    return {
        "title": "Attribution tags",
        "rows": rows,
        "total": total,
        "offset": offset,
        "limit": TAGS_PAGE,
        "filters": {"network": network, "origin": origin, "category": category},
        "networks": NETWORKS,
        "origins": ORIGINS,
        "categories": sorted(c for c in used if c),
        "all_concepts": sorted(taxonomy.concepts),
        "confidences": sorted(taxonomy.confidence, key=lambda c: -taxonomy.confidence_level(c)),
        "can_add": viewer.can("tags.write"),
        "form": {},
        "error": None,
        "added": None,
    }


@router.get("/tags")
def tags_page(
    request: Request,
    viewer: Annotated[Viewer, Depends(page("chain.read"))],
    db: DbSession,
    network: str = "",
    origin: str = "",
    category: str = "",
    offset: Annotated[int, Query(ge=0)] = 0,
    address: str = "",
) -> HTMLResponse:
    """Every tag, newest first, filtered by network, origin and category; with the add form for taggers."""
    context = _tags_context(db, viewer, network, origin, category, offset)
    context["form"] = {"address": address, "network": network or "bitcoin"}
    return render(request, "tags.html", viewer, context)


@router.post("/tags", dependencies=[Depends(csrf_protected)])
async def add_tag_form(
    request: Request, viewer: Annotated[Viewer, Depends(page("tags.write"))], db: DbSession
) -> HTMLResponse:
    """Record an analyst's tag; a validation error re-shows the form with the message and what was typed."""
    form = {k: str(v).strip() for k, v in (await request.form()).items() if k != "csrf_token"}
    context = _tags_context(db, viewer, "", "", "", 0)
    context["form"] = form
    try:
        with db.begin_nested():
            record = add_tag(
                db,
                creator=viewer.username,
                network=form.get("network", ""),
                address=form.get("address") or None,
                label=form.get("label", ""),
                source=form.get("source", ""),
                confidence=form.get("confidence", ""),
                category=form.get("category") or None,
                abuse=form.get("abuse") or None,
            )
            audit.record(
                db,
                viewer.principal,
                "tag.add",
                "address",
                record.address,
                details={"network": record.network, "label": record.label, "tag_id": record.id},
            )
    except ChainsleuthError as error:
        context["error"] = error
        return render(request, "tags.html", viewer, context, status_code=422)
    context.update(_tags_context(db, viewer, "", "", "", 0))
    context["added"] = record
    return render(request, "tags.html", viewer, context)


# -- audit log ------------------------------------------------------------------------------------------------


@router.get("/audit")
def audit_page(
    request: Request,
    viewer: Annotated[Viewer, Depends(page("audit.read"))],
    db: DbSession,
    actor: str = "",
    action: str = "",
    object_type: str = "",
    object_id: str = "",
    before: Annotated[int | None, Query(ge=1)] = None,
) -> HTMLResponse:
    """The newest entries first, filtered by actor, action and object; older pages by sequence number."""
    query = select(AuditEntry)
    for column, value in (
        (AuditEntry.actor, actor),
        (AuditEntry.action, action),
        (AuditEntry.object_type, object_type),
        (AuditEntry.object_id, object_id),
    ):
        if value.strip():
            query = query.where(column == value.strip())
    if before is not None:
        query = query.where(AuditEntry.seq < before)
    entries = db.scalars(query.order_by(AuditEntry.seq.desc()).limit(AUDIT_PAGE)).all()
    actions = db.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)).all()
    context = {
        "title": "Audit log",
        "entries": [audit.entry_dict(e) for e in entries],
        "filters": {"actor": actor, "action": action, "object_type": object_type, "object_id": object_id},
        "actions": actions,
        "older": entries[-1].seq if len(entries) == AUDIT_PAGE else None,
        "can_verify": viewer.can("audit.verify"),
        "total": db.scalar(select(func.count()).select_from(AuditEntry)) or 0,
    }
    return render(request, "audit.html", viewer, context)


@router.post("/audit/verify", dependencies=[Depends(csrf_protected)])
def audit_verify(request: Request, viewer: Annotated[Viewer, Depends(page("audit.verify"))], db: DbSession) -> Response:
    """Recompute the hash chain and MACs and show the verdict (the first bad entry if any)."""
    report = audit.verify(db)
    audit.record(
        db,
        viewer.principal,
        "audit.verify",
        "audit_log",
        None,
        details={"ok": report.ok, "entries": report.entries, "first_bad_seq": report.first_bad_seq},
    )
    return render(request, "fragments/verify.html", viewer, {"report": report})


register_nav(NavItem("Investigate", "Attribution tags", "/tags", "chain.read", order=40))
register_nav(NavItem("Protect", "Audit log", "/audit", "audit.read", order=90))
