"""Turning what an investigator types (an address, a transaction hash, an output) into a trace source, and
graph ids back into hashes and addresses for the evidence.

The start of a trace depends on the chain kind: on a UTXO chain an address *holds* outputs, so a forward
trace starts from those outputs (hop 0) and the first hop is the transaction spending them; on an account
chain the first hop is the address's own transfers. See ``docs/tracing.md``.
"""

from __future__ import annotations

import numpy as np

from chainsleuth.chain.tracing.graph import FlowGraph, Int64Array, Segment
from chainsleuth.chain.tracing.trace import Direction, Resolver, Source
from chainsleuth.errors import InvalidInputError, NotFoundError
from chainsleuth.store.chainstore import ChainStore


def _segments(graph: FlowGraph, chain: str) -> list[Segment]:
    if not graph.segments:  # a hand-built graph: one account-style segment over everything
        return [Segment(chain, "account", "coin", 0, 0, graph.n_nodes, 0, graph.n_addresses, 0, graph.n_edges)]
    found = [seg for seg in graph.segments if seg.chain == chain]
    if not found:
        raise NotFoundError("chain not loaded in the flow graph", chain=chain)
    return found


def _pick_asset(graph: FlowGraph, chain: str, asset: str | None) -> Segment:
    segments = _segments(graph, chain)
    if asset is None:
        return segments[0]
    for seg in segments:
        if seg.asset.upper() == asset.upper():
            return seg
    raise InvalidInputError(
        "asset not on this chain", chain=chain, asset=asset, known=", ".join(s.asset for s in segments)
    )


def _in_segment(graph: FlowGraph, edges: Int64Array, seg: Segment) -> Int64Array:
    nodes = np.where(graph.src[edges] >= 0, graph.src[edges], graph.dst[edges])
    keep = (nodes >= seg.node_offset) & (nodes < seg.node_offset + seg.node_count)
    return edges[keep]


def address_source(
    graph: FlowGraph,
    chain: str,
    local_address: int,
    direction: Direction,
    *,
    asset: str | None = None,
    label: str | None = None,
) -> Source:
    """The value an address held (UTXO) or moved (account), to trace forward or backward."""
    seg = _pick_asset(graph, chain, asset)
    address = seg.address_offset + local_address
    if seg.kind == "utxo":
        edges = _in_segment(graph, np.flatnonzero(graph.addr_to == address).astype(np.int64), seg)
        first_hop = 0
    else:
        column = graph.addr_from if direction == "forward" else graph.addr_to
        edges = _in_segment(graph, np.flatnonzero(column == address).astype(np.int64), seg)
        first_hop = 1
    if len(edges) == 0:
        raise NotFoundError(
            "the address has no value to trace in this direction",
            chain=chain,
            address_id=local_address,
            asset=seg.asset,
            direction=direction,
        )
    return Source(edges, graph.value[edges].copy(), first_hop, label or f"{chain}:{local_address}", seg.asset_code)


def tx_source(graph: FlowGraph, chain: str, local_tx: int, direction: Direction, *, label: str | None = None) -> Source:
    """The value a transaction moved: its outputs (forward) or inputs (backward) on UTXO chains, its
    transfers on account chains."""
    segments = _segments(graph, chain)
    seg = segments[0]
    node = seg.node_offset + local_tx
    if seg.kind == "utxo":
        column = graph.src if direction == "forward" else graph.dst
        edges = np.flatnonzero(column == node).astype(np.int64)
        first_hop = 1
    else:
        edges = np.flatnonzero(graph.tx == seg.tx_offset + local_tx).astype(np.int64)
        first_hop = 1 if direction == "forward" else 0
    if len(edges) == 0:
        raise NotFoundError("the transaction moved no value in the graph", chain=chain, tx_id=local_tx)
    asset = int(graph.asset[edges[0]])
    edges = edges[graph.asset[edges] == asset]
    return Source(edges, graph.value[edges].copy(), first_hop, label or f"{chain}:tx{local_tx}", asset)


def output_source(graph: FlowGraph, chain: str, local_tx: int, index: int, *, label: str | None = None) -> Source:
    """One UTXO output: the value itself (hop 0), whichever the direction."""
    seg = _segments(graph, chain)[0]
    if seg.kind != "utxo":
        raise InvalidInputError("outputs exist only on UTXO chains", chain=chain)
    edges = np.flatnonzero((graph.src == seg.node_offset + local_tx) & (graph.out_rank == index))
    if len(edges) == 0:
        raise NotFoundError("no such output", chain=chain, tx_id=local_tx, index=index)
    edges = edges.astype(np.int64)
    return Source(edges, graph.value[edges].copy(), 0, label or f"{chain}:tx{local_tx}:{index}", seg.asset_code)


def _tx_id(store: ChainStore, chain: str, tx_hash: str) -> int:
    found = store.transaction(chain, tx_hash)
    if found is None:
        raise NotFoundError("transaction not in the chain store", chain=chain, tx_hash=tx_hash)
    return int(found["tx_id"])


def resolve_source(
    graph: FlowGraph, store: ChainStore, chain: str, target: str, direction: Direction, *, asset: str | None = None
) -> Source:
    """An address, a transaction hash, or ``<tx hash>:<output index>`` on ``chain`` as a trace source."""
    text = target.strip()
    bare = text[2:] if text.startswith("0x") else text
    if ":" in text and chain == "bitcoin":
        tx_hash, _, index = text.rpartition(":")
        if not index.isdigit():
            raise InvalidInputError("an output is <transaction hash>:<output index>", target=target)
        return output_source(graph, chain, _tx_id(store, chain, tx_hash), int(index), label=text)
    if len(bare) == 64 and all(c in "0123456789abcdefABCDEF" for c in bare):
        return tx_source(graph, chain, _tx_id(store, chain, text), direction, label=text)
    local = store.address_id(chain, text)
    if local is None:
        raise NotFoundError("address not in the chain store", chain=chain, address=text)
    return address_source(graph, chain, local, direction, asset=asset, label=text)


class StoreResolver(Resolver):
    """Hashes and addresses from the chain store, fetched in one query per chain and kind."""

    def __init__(self, store: ChainStore) -> None:
        self.store = store

    def tx_hashes(self, graph: FlowGraph, txs: list[int]) -> dict[int, str]:
        result: dict[int, str] = {}
        seen: set[str] = set()
        for seg in graph.segments:
            if seg.chain in seen:
                continue
            seen.add(seg.chain)
            local = [t - seg.tx_offset for t in txs if seg.tx_offset <= t < seg.tx_offset + seg.tx_count]
            if not local:
                continue
            prefix = "btc" if seg.kind == "utxo" else "eth"
            ids = ",".join(str(t) for t in local)
            rows = self.store.query(f"SELECT tx_id, hash FROM {prefix}_transactions WHERE tx_id IN ({ids})")
            for tx_id, tx_hash in zip(rows.column("tx_id").to_pylist(), rows.column("hash").to_pylist(), strict=True):
                result[int(tx_id) + seg.tx_offset] = str(tx_hash)
        return result

    def addresses(self, graph: FlowGraph, addresses: list[int]) -> dict[int, str]:
        result: dict[int, str] = {}
        seen: set[str] = set()
        for seg in graph.segments:
            if seg.chain in seen:
                continue
            seen.add(seg.chain)
            wanted = [a for a in addresses if seg.address_offset <= a < seg.address_offset + seg.address_count]
            if not wanted:
                continue
            names = self.store.addresses(seg.chain, [a - seg.address_offset for a in wanted])
            result.update({a: n for a, n in zip(wanted, names, strict=True) if n is not None})
        return result
