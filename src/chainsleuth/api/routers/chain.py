"""The chain store over HTTP (``chain.read``): what is stored, one address, one transaction."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from sqlalchemy.orm import Session

from chainsleuth.api.deps import Principal, get_chain_store, get_session
from chainsleuth.api.permissions import requires
from chainsleuth.errors import NotFoundError
from chainsleuth.store.chainstore import CHAINS, ChainStore
from chainsleuth.store.exchange_read import deposit_address_owner

router = APIRouter(prefix="/api/chain", tags=["chain"])
ChainReader = Annotated[Principal, Depends(requires("chain.read"))]
Store = Annotated[ChainStore, Depends(get_chain_store)]
ChainName = Annotated[str, Path(description="Chain name", examples=sorted(CHAINS))]


def _known_chain(chain: str) -> str:
    if chain not in CHAINS:
        raise NotFoundError("unknown chain", chain=chain, known=", ".join(sorted(CHAINS)))
    return chain


@router.get("/stats", summary="What the chain store holds")
def stats(_: ChainReader, store: Store) -> dict[str, dict[str, Any]]:
    """Per chain: block range, rows per table, addresses, tokens, files and bytes."""
    return store.stats()


@router.get("/{chain}/addresses/{address}", summary="One address")
def address(
    chain: ChainName, address: str, _: ChainReader, store: Store, session: Annotated[Session, Depends(get_session)]
) -> dict[str, Any]:
    """Dense id, type, first block, activity totals, and whether it is one of our customers' deposit addresses."""
    info = store.address_info(_known_chain(chain), address)
    owner = deposit_address_owner(session, chain, address)
    info["our_deposit_address"] = (
        {"customer_id": owner.customer_id, "account_id": owner.account_id} if owner is not None else None
    )
    return info


@router.get("/{chain}/transactions/{tx_hash}", summary="One transaction")
def transaction(chain: ChainName, tx_hash: str, _: ChainReader, store: Store) -> dict[str, Any]:
    """The transaction with its inputs and outputs (UTXO) or transfers (account), addresses resolved."""
    found = store.transaction(_known_chain(chain), tx_hash)
    if found is None:
        raise NotFoundError("transaction not in the chain store", chain=chain, tx_hash=tx_hash)
    return found
