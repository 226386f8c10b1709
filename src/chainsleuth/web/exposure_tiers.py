"""Clusters by exposure risk tier: the bulk exposure snapshot as a page, most severe first.

Investigators triage by tier across the whole chain store, not one address at a time; the snapshot that
``GET /api/chain/exposure`` and ``chainsleuth chain cluster exposure`` read already holds every cluster's tier and
shares, so this page reads it through the same :func:`ensure_exposure` and :func:`select_rows`. Going through
``ensure_exposure`` means a tag imported or added a moment ago shows here on the next load; the page says when
the snapshot was computed and, when this request recomputed it, what had changed (compared with the state on disk
before the call), so an analyst knows whether a tier reflects their latest tag.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from chainsleuth.api.routers.analytics import price_file
from chainsleuth.chain.exposure.snapshot import (
    DIRECTIONS,
    ExposureSnapshot,
    ExposureStore,
    SnapshotKey,
    SnapshotState,
    ensure_exposure,
    select_rows,
)
from chainsleuth.errors import InvalidInputError, NotFoundError
from chainsleuth.store.chainstore import ChainStore
from chainsleuth.web.core import DbSession, NavItem, Viewer, address_url, page, register_nav, render
from chainsleuth.web.exposure_pages import TIER_BADGES, Paging, cluster_url

router = APIRouter(include_in_schema=False)
ChainReader = Annotated[Viewer, Depends(page("chain.read"))]
#: Clusters listed per page.
PAGE_SIZE = 50
#: Categories shown per row (the largest total shares); the cluster page has the rest with evidence.
TOP_CATEGORIES = 3
#: What each part of a snapshot's key means, for the "recomputed because …" note.
KEY_PARTS = {
    "tags": "the tag set changed",
    "store": "new blocks were ingested",
    "clusters": "the clustering changed",
    "policy": "the exposure policy changed",
    "hops": "the hop limit changed",
    "prices": "the price file changed",
}


def _store(request: Request) -> ChainStore:
    store: ChainStore = request.app.state.chain_store
    return store


def _filter(value: str, name: str, allowed: list[str]) -> str | None:
    """A filter's value, None for "any"; InvalidInputError naming the field and the allowed values otherwise."""
    text = value.strip()
    if not text:
        return None
    if text not in allowed:
        raise InvalidInputError(f"unknown {name} {text!r}; one of: {', '.join(allowed)}", field=name)
    return text


def _offset(value: str) -> int:
    """The paging offset: a whole number ≥ 0, parsed here so a bad one is a page error rather than raw JSON."""
    text = value.strip() or "0"
    if not text.isdigit():
        raise InvalidInputError(f"offset must be a whole number of 0 or more, not {value!r}", field="offset")
    return int(text)


def recompute_reasons(before: SnapshotState | None, after: ExposureSnapshot) -> list[str]:
    """Why this request recomputed the snapshot: which parts of its key differ from the one on disk before.

    Empty when the snapshot was read as it was. A recomputation with an unchanged key (forced elsewhere, or a
    format upgrade) still gets a reason, so the note never claims a recomputation without saying why.
    """
    if not after.recomputed:
        return []
    if before is None:
        return ["no snapshot existed yet"]
    old: SnapshotKey = before.key
    new: SnapshotKey = after.state.key
    changed = [text for part, text in KEY_PARTS.items() if getattr(old, part) != getattr(new, part)]
    return changed or ["the stored snapshot was of an older format"]


def _top_categories(row: dict[str, Any], categories: list[str]) -> list[dict[str, Any]]:
    """The row's categories by total share (either direction), largest first, with value = share × volume.

    The snapshot stores shares and each direction's volume, so a category's value in a direction is its
    direct plus indirect share of that direction's volume (in the snapshot's unit).
    """
    found = []
    for name in categories:
        entry: dict[str, Any] = {"category": name}
        for short, direction in DIRECTIONS:
            direct = float(row[f"{name}_{short}_direct"])
            indirect = float(row[f"{name}_{short}_indirect"])
            share = direct + indirect
            entry[direction] = {"share": share, "direct": direct, "indirect": indirect,
                                "value": share * float(row[f"{short}_volume"])}  # fmt: skip
        entry["total"] = max(entry["incoming"]["share"], entry["outgoing"]["share"])
        if entry["total"] > 0:
            found.append(entry)
    found.sort(key=lambda e: (-e["total"], e["category"]))
    return found[:TOP_CATEGORIES]


def _rows(store: ChainStore, snapshot: ExposureSnapshot, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The page's view of each row: a link to its cluster page (its address page on an unclustered chain)."""
    clustered = set(snapshot.state.clustered_chains)
    unclustered: dict[str, list[int]] = {}
    for row in rows:
        if row["chain"] not in clustered:
            unclustered.setdefault(row["chain"], []).append(int(row["cluster_id"]))
    names: dict[tuple[str, int], str | None] = {}
    for chain, ids in unclustered.items():
        names.update(((chain, i), a) for i, a in zip(ids, store.addresses(chain, ids), strict=True))
    view = []
    for row in rows:
        chain, cluster_id = row["chain"], int(row["cluster_id"])
        if chain in clustered:
            href: str | None = cluster_url(chain, cluster_id)
        else:
            address = names.get((chain, cluster_id))
            href = address_url(chain, address) if address else None
        view.append({
            "chain": chain, "cluster_id": cluster_id, "clustered": chain in clustered, "href": href,
            "size": row["size"], "tier": row["tier"] or "none", "badge": TIER_BADGES.get(row["tier"] or "", "neutral"),
            "tagged": row["tagged"], "in_volume": row["in_volume"], "out_volume": row["out_volume"],
            "categories": _top_categories(row, snapshot.state.categories),
            "more": max(len(row["categories"]) - TOP_CATEGORIES, 0),
        })  # fmt: skip
    return view


@router.get("/chain/exposure")
def exposure_tiers(
    request: Request,
    viewer: ChainReader,
    db: DbSession,
    chain: str = "",
    tier: str = "",
    category: str = "",
    offset: str = "0",
) -> HTMLResponse:
    """Every cluster with volume or a tag, most severe tier first, filtered by chain, tier and category, paged.

    A bad filter value answers 422 with the page, its form and the reason (so the analyst can correct it in
    place); an empty chain store shows that instead of a table.
    """
    store = _store(request)
    filters = {"chain": chain.strip(), "tier": tier.strip(), "category": category.strip()}
    context: dict[str, Any] = {"title": "Clusters by exposure tier", "filters": filters, "chains": store.chains(),
                               "tiers": [], "categories": [], "rows": [], "page": None, "snapshot": None,
                               "reasons": [], "error": None, "empty_store": None}  # fmt: skip
    directory = Path(store.root) / "exposure"
    before = ExposureStore(directory).state()
    try:
        snapshot = ensure_exposure(db, store, price_file=price_file(request), directory=directory)
    except NotFoundError as error:  # nothing ingested: say so rather than show an error page
        context["empty_store"] = error.message
        return render(request, "exposure_tiers.html", viewer, context)
    state = snapshot.state
    context.update(tiers=[*state.tiers, "none"], categories=state.categories, snapshot=state,
                   reasons=recompute_reasons(before, snapshot))  # fmt: skip
    try:
        start = _offset(offset)
        total, rows = select_rows(
            snapshot,
            chain=_filter(chain, "chain", context["chains"]),
            tier=_filter(tier, "tier", context["tiers"]),
            category=_filter(category, "category", state.categories),
            offset=start,
            limit=PAGE_SIZE,
        )
    except InvalidInputError as error:
        context["error"] = error.message
        return render(request, "exposure_tiers.html", viewer, context, status_code=422)
    view = _rows(store, snapshot, rows)
    context.update(rows=view, page=Paging(total, PAGE_SIZE, start, view))
    return render(request, "exposure_tiers.html", viewer, context)


register_nav(NavItem("Investigate", "Clusters by exposure", "/chain/exposure", "chain.read", order=35))
