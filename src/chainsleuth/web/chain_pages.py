"""Address, transaction and search pages over the chain store, the attribution layer and our deposit addresses.

The same functions back the HTTP API (:mod:`chainsleuth.api.routers.chain`): ``ChainStore.address_info``,
``ChainStore.transaction``, ``tags_for`` and ``deposit_address_owner``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import select

from chainsleuth.chain.attribution.records import TagRecord
from chainsleuth.chain.attribution.store import tags_for
from chainsleuth.errors import ChainsleuthError, NotFoundError
from chainsleuth.store.chainstore import CHAINS, ChainStore
from chainsleuth.store.chainstore.schema import chain_spec
from chainsleuth.store.exchange_read import deposit_address_owner
from chainsleuth.store.models.exchange import Account, Customer
from chainsleuth.web import exposure_pages  # the exposure panel and the cluster page (issue 7)
from chainsleuth.web.core import (
    DbSession,
    NavItem,
    Viewer,
    address_url,
    page,
    redirect,
    register_nav,
    render,
    tx_url,
)
from chainsleuth.web.graph import DEFAULT_LIMIT, neighbourhood, total_counterparties

router = APIRouter(include_in_schema=False)
ChainReader = Annotated[Viewer, Depends(page("chain.read"))]
_HEX64 = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")


def _store(request: Request) -> ChainStore:
    store: ChainStore = request.app.state.chain_store
    return store


def _known_chain(chain: str) -> str:
    if chain not in CHAINS:
        raise NotFoundError("unknown chain", chain=chain, known=", ".join(sorted(CHAINS)))
    return chain


def tag_conflicts(tags: list[TagRecord]) -> list[str]:
    """Where the tags of one address disagree: different actors, or categories of different kinds."""
    problems = []
    actors = sorted({t.actor or t.label for t in tags})
    categories = sorted({c for t in tags for c in (t.abuse or t.category,) if c})
    if len(actors) > 1:
        problems.append("attributed to different entities: " + ", ".join(actors))
    if len(categories) > 1:
        problems.append("different categories: " + ", ".join(categories))
    return problems


@router.get("/chain/{chain}/address/{address}")
def address_page(request: Request, chain: str, address: str, viewer: ChainReader, db: DbSession) -> HTMLResponse:
    """One address: what the store knows, whose deposit address it is, its tags, and its counterparty graph.

    An address the chain store has never seen can still be known: a tag (an attribution pack names addresses
    of the whole chain, such as miners, while the store holds the blocks loaded) or one of our deposit addresses
    that never received anything. Such an address gets its page with what is known and says it was not seen on
    chain, instead of a 404 behind links the console itself shows; an address nobody knows is still a 404.
    """
    store = _store(request)
    try:
        info: dict[str, Any] | None = store.address_info(_known_chain(chain), address)
    except NotFoundError:
        info = None
    canonical = str(info.get("address", address)) if info else _canonical(chain, address)
    owner = deposit_address_owner(db, chain, canonical)
    tags = tags_for(db, chain, [canonical]).get(canonical, [])
    if info is None and owner is None and not tags:
        raise NotFoundError("address not in the chain store, not tagged and not one of our deposit addresses",
                            chain=chain, address=address)  # fmt: skip
    context: dict[str, Any] = {
        "title": f"Address {canonical}",
        "chain": chain,
        "spec": chain_spec(chain),
        "info": info,
        "address": canonical,
        "owner": owner,
        "tags": tags,
        "conflicts": tag_conflicts(tags),
        "can_tag": viewer.can("tags.write"),
        "graph_url": address_url(chain, canonical) + "/neighbours.json",
    }
    # -- exposure panel and cluster link (exposure_pages, issue 7) ------------------------------------------
    if info is None:
        context.update(exposure=None, cluster=None,
                       exposure_error="the address has no transfers in the chain store")  # fmt: skip
    else:
        context.update(exposure_pages.address_panels(request, db, chain, canonical))
    return render(request, "address.html", viewer, context)


def _canonical(chain: str, address: str) -> str:
    """An address as the stores key it: account-based chains in lower case."""
    return address.strip().lower() if chain_spec(chain).kind == "account" else address.strip()


@router.get("/chain/{chain}/address/{address}/neighbours.json")
def neighbours(
    request: Request,
    chain: str,
    address: str,
    viewer: ChainReader,
    db: DbSession,
    limit: Annotated[int, Query(ge=1, le=200)] = DEFAULT_LIMIT,
) -> JSONResponse:
    """The address and its direct counterparties as Cytoscape.js elements (for the graph and "expand")."""
    try:
        graph = neighbourhood(_store(request), db, _known_chain(chain), address, limit=limit)
    except NotFoundError as error:
        return JSONResponse({"error": error.code, "message": error.message}, status_code=404)
    graph["counterparties"] = total_counterparties(graph)
    return JSONResponse(graph)


@router.get("/chain/{chain}/tx/{tx_hash}")
def transaction_page(request: Request, chain: str, tx_hash: str, viewer: ChainReader, db: DbSession) -> HTMLResponse:
    """One transaction with its inputs/outputs or transfers, each address linked and tagged."""
    store = _store(request)
    found = store.transaction(_known_chain(chain), tx_hash)
    if found is None:
        raise NotFoundError("transaction not in the chain store", chain=chain, tx_hash=tx_hash)
    addresses: set[str] = set()
    for key in ("inputs", "outputs"):
        addresses.update(row["address"] for row in found.get(key, []) if row.get("address"))
    for row in found.get("transfers", []):
        addresses.update(a for a in (row.get("from_address"), row.get("to_address")) if a)
    addresses.update(a for a in (found.get("from_address"), found.get("to_address")) if a)
    tags = tags_for(db, chain, sorted(addresses))
    symbols = {0: chain_spec(chain).currency} | {t.asset_id: t.symbol for t in store.tokens(chain)}
    context = {
        "title": f"Transaction {found['hash']}",
        "chain": chain,
        "spec": chain_spec(chain),
        "tx": found,
        "tags": {a: (t[0].abuse or t[0].category or t[0].label) for a, t in tags.items() if t},
        "symbols": symbols,
    }
    return render(request, "transaction.html", viewer, context)


def resolve_search(request: Request, db: DbSession, query: str) -> str | None:
    """Where a search for ``query`` should go: a customer, a transaction or an address page; None if nowhere."""
    text = query.strip()
    if not text:
        return None
    if db.get(Customer, text) is not None or db.get(Customer, text.upper()) is not None:
        found = db.get(Customer, text) or db.get(Customer, text.upper())
        assert found is not None
        return f"/customers/{found.customer_id}"
    account = db.scalar(select(Account).where(Account.account_id == text))
    if account is not None:
        return f"/customers/{account.customer_id}?account={account.account_id}"
    store = _store(request)
    chains = store.chains()
    if _HEX64.match(text):
        for chain in chains:
            if store.transaction(chain, text) is not None:
                return tx_url(chain, text.lower() if chain_spec(chain).kind == "account" else text)
    for chain in chains:
        try:
            if store.address_id(chain, text) is not None:
                return address_url(chain, text.lower() if chain_spec(chain).kind == "account" else text)
        except ChainsleuthError:
            continue
    return None


@router.get("/search")
def search(request: Request, viewer: Annotated[Viewer, Depends(page())], db: DbSession, q: str = "") -> Response:
    """The top bar's search: an address, a transaction hash, a customer or account id → its page."""
    target = None
    if q.strip() and (viewer.can("chain.read") or viewer.can("customer.read_pseudonymised")):
        target = resolve_search(request, db, q)
    if target is not None:
        return redirect(target)
    return render(request, "search.html", viewer, {"title": "Search", "q": q}, status_code=404 if q else 200)


register_nav(NavItem("Investigate", "Search", "/search", "chain.read", order=30))

# The cluster page lives in exposure_pages; mounted with these pages so the console has it wherever they are.
router.include_router(exposure_pages.router)
