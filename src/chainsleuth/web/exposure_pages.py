"""Exposure by category with its evidence (the address page's panel) and the cluster page.

Investigators must be able to check a risk rating, not just read it: the panel shows the tier with the rules that
fired, every category's incoming and outgoing share (direct counterparty or up to k hops away) and, one click
away, the tagged counterparties with the tag's source and confidence and the transaction path to them. The
cluster page shows what the clustering claims (members, attribution, conflicting tags kept side by side) and
why (co-spending transactions, heuristic links, merges). Both use the same queries as the HTTP API
(:mod:`chainsleuth.api.investigate`), on the process-wide cached flow graph.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from chainsleuth.api import investigate
from chainsleuth.api.routers.analytics import price_file
from chainsleuth.chain.attribution.store import tags_for
from chainsleuth.chain.exposure import EntityExposure
from chainsleuth.chain.exposure.policy import ExposurePolicy
from chainsleuth.errors import ChainsleuthError, NotFoundError
from chainsleuth.store.chainstore import ChainStore
from chainsleuth.store.chainstore.schema import chain_spec
from chainsleuth.web.core import DbSession, Viewer, page, render

router = APIRouter(include_in_schema=False)
ChainReader = Annotated[Viewer, Depends(page("chain.read"))]
#: Members listed per page of the cluster page.
MEMBERS_PAGE = 50
#: Tier → badge colour (the text is always shown too).
TIER_BADGES = {"severe": "danger", "high": "danger", "medium": "warn", "low": "ok"}


@dataclass(frozen=True)
class Paging:
    """What the ``pager`` macro of ``macros.html`` needs."""

    total: int
    limit: int
    offset: int
    items: list[dict[str, Any]]


def _store(request: Request) -> ChainStore:
    store: ChainStore = request.app.state.chain_store
    return store


def cluster_url(chain: str, cluster_id: int) -> str:
    return f"/chain/{chain}/clusters/{cluster_id}"


def exposure_context(result: EntityExposure) -> dict[str, Any]:
    """The panel's view of an exposure: categories by total share, largest first, with the tier's badge."""
    categories = sorted(result.categories, key=lambda c: -(c.direct_share + c.indirect_share))
    return {
        "result": result,
        "categories": categories,
        "tier_badge": TIER_BADGES.get(result.tier or "", "neutral"),
        "unit": result.unit,
    }


#: The direction named in a tier reason that comes from the entity's own tag rather than from its flows.
OWN_TAG = "own attribution"


def with_own_attribution(db: Session, chain: str, address: str, result: EntityExposure) -> EntityExposure:
    """``result`` with the address's own tags counted as direct exposure of the whole of its volume.

    Exposure measures the share of an entity's flows that reach tagged counterparties, so a sanctioned address's
    own page said "risk tier: none" when its counterparties were untagged. Being the tagged entity is the most
    direct attribution there is: each own abuse/category tag is run through the policy as a direct share of 1.0
    (for sanctions: severe), and the more severe of that and the flow-based tier is shown, with both reasons.
    """
    policy = ExposurePolicy.default()
    concepts = {c for tag in tags_for(db, chain, [address]).get(address, []) for c in (tag.abuse, tag.category) if c}
    shares = {(policy.categories[i].name, "direct", OWN_TAG): (1.0, max(policy.min_value, 1.0))
              for i in policy.categories_of(concepts)}  # fmt: skip
    tier, own = policy.tier(shares)
    if tier is None:
        return result
    reasons = sorted([*own, *result.reasons], key=lambda r: (policy.tiers.index(r.tier) if r.tier in policy.tiers
                                                               else len(policy.tiers), -r.share))  # fmt: skip
    return replace(result, tier=reasons[0].tier, reasons=reasons)


def address_panels(request: Request, db: Session, chain: str, address: str) -> dict[str, Any]:
    """The address page's exposure panel and cluster link; an explanation instead when they cannot be had.

    Called by :func:`chainsleuth.web.chain_pages.address_page`. A failure here (no flows, chain not in the
    graph) must never take the rest of the address page down, so it becomes a message in the panel.
    """
    store = _store(request)
    context: dict[str, Any] = {"exposure": None, "exposure_error": None, "cluster": None}
    try:
        inv = investigate.investigation(db, store, price_file(request))
        local = investigate.address_id(store, chain, address)
        result = with_own_attribution(db, chain, address, investigate.exposure(inv, chain, [local], address))
        context["exposure"] = exposure_context(result)
        array = inv.clusters.get(chain)
        if array is not None and local < len(array):
            cluster_id = int(array[local])
            size = int((array == cluster_id).sum())
            context["cluster"] = {"id": cluster_id, "size": size, "url": cluster_url(chain, cluster_id)}
    except ChainsleuthError as error:
        context["exposure_error"] = error.message
    return context


# -- customer page: incoming exposure of the deposit addresses (added for the customer page's panel) ----------


def incoming_only(result: EntityExposure) -> EntityExposure:
    """``result`` restricted to the incoming direction (the funds that were deposited); tier from those rules only.

    The policy's reasons are already ordered most severe first, so the first incoming one gives the tier.
    """
    reasons = [r for r in result.reasons if r.direction == "incoming"]
    return replace(
        result,
        volume={k: v for k, v in result.volume.items() if k == "incoming"},
        categories=[c for c in result.categories if c.direction == "incoming"],
        tier=reasons[0].tier if reasons else None,
        reasons=reasons,
    )


def deposit_panels(request: Request, db: Session, deposits: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """One exposure panel per chain for a customer's deposit addresses ``(chain, address)``, incoming only.

    Same query as the address and cluster panels, over all the customer's deposit addresses on the chain as
    one entity. A chain that cannot be answered (not ingested, addresses never seen) gets a message instead.
    """
    by_chain: dict[str, list[str]] = {}
    for chain, address in deposits:
        by_chain.setdefault(chain, []).append(address)
    store = _store(request)
    panels: list[dict[str, Any]] = []
    inv: investigate.Investigation | None = None
    for chain, addresses in sorted(by_chain.items()):
        panel: dict[str, Any] = {"chain": chain, "addresses": addresses, "exposure": None, "exposure_error": None}
        try:
            investigate.known_chain(store, chain)
            known = [local for a in addresses if (local := store.address_id(chain, a)) is not None]
            if not known:
                raise NotFoundError("no deposit address of this chain has been seen on chain yet", chain=chain)
            inv = inv or investigate.investigation(db, store, price_file(request))
            result = investigate.exposure(inv, chain, known, f"{chain} deposit addresses ({len(known)})")
            panel["exposure"] = exposure_context(incoming_only(result))
        except ChainsleuthError as error:
            panel["exposure_error"] = error.message
        panels.append(panel)
    return panels


@router.get("/chain/{chain}/clusters/{cluster_id}")
def cluster_page(
    request: Request,
    chain: str,
    cluster_id: int,
    viewer: ChainReader,
    db: DbSession,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> HTMLResponse:
    """One cluster: size, members (paged, tagged), attribution with conflicts, exposure, and its evidence."""
    store = _store(request)
    investigate.known_chain(store, chain)
    inv = investigate.investigation(db, store, price_file(request))
    view = investigate.cluster_view(inv, chain, cluster_id, offset=offset, limit=MEMBERS_PAGE)
    if offset and not view["members"]:
        raise NotFoundError("no members at this offset", offset=offset, size=view["size"])
    member_tags = tags_for(db, chain, [m["address"] for m in view["members"]])
    for member in view["members"]:
        tags = member_tags.get(member["address"], [])
        member["tags"] = [t.label + (f" · {(t.abuse or t.category or '').replace('_', ' ')}" if t.abuse or t.category
                                     else "") for t in tags]  # fmt: skip
    members = investigate.cluster_members(inv, chain, cluster_id)
    exposure_error = None
    exposure = None
    try:
        exposure = exposure_context(investigate.exposure(inv, chain, members, f"cluster {cluster_id}"))
    except ChainsleuthError as error:
        exposure_error = error.message
    context = {
        "title": f"Cluster {cluster_id} ({chain})",
        "chain": chain,
        "spec": chain_spec(chain),
        "view": view,
        "page": Paging(view["size"], MEMBERS_PAGE, offset, view["members"]),
        "attribution": view["attribution"],
        "exposure": exposure,
        "exposure_error": exposure_error,
    }
    return render(request, "cluster.html", viewer, context)
