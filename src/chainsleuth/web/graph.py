"""An address's direct counterparties from the chain store, as Cytoscape.js elements.

This is the seed of the case workspace graph: the address page draws it and "expand" asks
``/chain/{chain}/address/{address}/neighbours.json`` for a node's neighbours. Edges aggregate every transfer
between two addresses in one direction and asset: total amount, number of transfers, first and last time.
On UTXO chains an address "pays" each address that received an output of a transaction it funded, and
"receives from" each input address of a transaction that paid it (the amount is what it received there): the
usual address-graph reading of multi-input transactions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.chain.attribution.store import tags_for
from chainsleuth.errors import NotFoundError
from chainsleuth.store.chainstore import ChainStore
from chainsleuth.store.chainstore.schema import chain_spec, table_schema
from chainsleuth.store.models.exchange import DepositAddress

DEFAULT_LIMIT = 25


@dataclass
class _Edge:
    source: str
    target: str
    asset: str
    amount: float = 0.0
    count: int = 0
    first: int = 2**62
    last: int = 0
    tx_ids: list[int] = field(default_factory=list)

    def add(self, amount: float, timestamp: int, tx_id: int) -> None:
        self.amount += amount
        self.count += 1
        self.first = min(self.first, timestamp)
        self.last = max(self.last, timestamp)
        if len(self.tx_ids) < 5:
            self.tx_ids.append(tx_id)


def _read(store: ChainStore, chain: str, table: str, condition: Any, columns: list[str]) -> pa.Table:
    files = store.files(chain, table)
    schema = table_schema(chain_spec(chain), table)
    if not files:
        return schema.empty_table().select(columns)
    return ds.dataset(files, schema=schema, format="parquet").to_table(columns=columns, filter=condition)


def _account_edges(store: ChainStore, chain: str, address_id: int) -> dict[tuple[int, int, str], _Edge]:
    condition = (ds.field("from_id") == address_id) | (ds.field("to_id") == address_id)
    rows = _read(
        store, chain, "transfers", condition, ["from_id", "to_id", "asset_id", "value_coin", "timestamp", "tx_id"]
    )
    symbols = {0: chain_spec(chain).currency} | {t.asset_id: t.symbol for t in store.tokens(chain)}
    edges: dict[tuple[int, int, str], _Edge] = {}
    for src, dst, asset, value, ts, tx in zip(*(rows.column(c).to_pylist() for c in rows.column_names), strict=True):
        symbol = symbols.get(asset, str(asset))
        edge = edges.setdefault((src, dst, symbol), _Edge(str(src), str(dst), symbol))
        edge.add(float(value), int(ts), int(tx))
    return edges


def _tx_times(store: ChainStore, chain: str, tx_ids: Iterable[int]) -> dict[int, int]:
    ids = sorted(set(tx_ids))
    if not ids:
        return {}
    rows = _read(store, chain, "transactions", ds.field("tx_id").isin(ids), ["tx_id", "timestamp"])
    return dict(zip(rows.column("tx_id").to_pylist(), rows.column("timestamp").to_pylist(), strict=True))


def _utxo_edges(store: ChainStore, chain: str, address_id: int) -> dict[tuple[int, int, str], _Edge]:
    symbol = chain_spec(chain).currency
    mine = ds.field("address_id") == address_id
    received = _read(store, chain, "outputs", mine, ["tx_id", "value_coin"])
    spent = _read(store, chain, "inputs", mine, ["tx_id"])
    in_txs = sorted(set(received.column("tx_id").to_pylist()))
    out_txs = sorted(set(spent.column("tx_id").to_pylist()))
    times = _tx_times(store, chain, in_txs + out_txs)
    edges: dict[tuple[int, int, str], _Edge] = {}
    if in_txs:
        got: dict[int, float] = {}
        for tx, value in zip(
            received.column("tx_id").to_pylist(), received.column("value_coin").to_pylist(), strict=True
        ):
            got[tx] = got.get(tx, 0.0) + float(value)
        payers = _read(store, chain, "inputs", ds.field("tx_id").isin(in_txs), ["tx_id", "address_id"])
        seen: set[tuple[int, int]] = set()
        for tx, payer in zip(payers.column("tx_id").to_pylist(), payers.column("address_id").to_pylist(), strict=True):
            if payer == address_id or payer < 0 or (tx, payer) in seen:
                continue
            seen.add((tx, payer))
            edges.setdefault((payer, address_id, symbol), _Edge(str(payer), str(address_id), symbol)).add(
                got.get(tx, 0.0), times.get(tx, 0), tx
            )
    if out_txs:
        paid = _read(store, chain, "outputs", ds.field("tx_id").isin(out_txs), ["tx_id", "address_id", "value_coin"])
        for tx, payee, value in zip(*(paid.column(c).to_pylist() for c in paid.column_names), strict=True):
            if payee == address_id or payee < 0:
                continue
            edges.setdefault((address_id, payee, symbol), _Edge(str(address_id), str(payee), symbol)).add(
                float(value), times.get(tx, 0), tx
            )
    return edges


def _tx_hashes(store: ChainStore, chain: str, tx_ids: Iterable[int]) -> dict[int, str]:
    ids = sorted(set(tx_ids))
    if not ids:
        return {}
    rows = _read(store, chain, "transactions", ds.field("tx_id").isin(ids), ["tx_id", "hash"])
    return dict(zip(rows.column("tx_id").to_pylist(), rows.column("hash").to_pylist(), strict=True))


def neighbourhood(
    store: ChainStore, db: Session, chain: str, address: str, *, limit: int = DEFAULT_LIMIT
) -> dict[str, Any]:
    """The address and its ``limit`` busiest counterparties as ``{"nodes": [...], "edges": [...]}``.

    Nodes carry the address, whether it is one of our customers' deposit addresses, and its tags (label,
    category, confidence); edges carry direction, asset, total amount, transfer count, first and last time
    (Unix seconds) and up to five transaction hashes. ``truncated`` says how many counterparties were left out.
    """
    address_id = store.address_id(chain, address)
    if address_id is None:
        raise NotFoundError("address not in the chain store", chain=chain, address=address)
    kind = chain_spec(chain).kind
    edges = _account_edges(store, chain, address_id) if kind == "account" else _utxo_edges(store, chain, address_id)
    weight: dict[int, float] = {}
    for (src, dst, _), edge in edges.items():
        other = dst if src == address_id else src
        weight[other] = weight.get(other, 0.0) + edge.count
    ranked = sorted(weight, key=lambda other: (-weight[other], other))
    kept = set(ranked[:limit])
    kept_edges = [e for (s, d, _), e in edges.items() if (d if s == address_id else s) in kept]
    ids = [address_id, *sorted(kept)]
    names = dict(zip(ids, store.addresses(chain, ids), strict=True))
    resolved = [name for name in names.values() if name]
    tags = tags_for(db, chain, resolved)
    ours = {
        row.address: row.customer_id
        for row in db.scalars(
            select(DepositAddress).where(DepositAddress.chain == chain, DepositAddress.address.in_(resolved))
        )
    }
    hashes = _tx_hashes(store, chain, [tx for e in kept_edges for tx in e.tx_ids])
    nodes = []
    for node_id in ids:
        name = names.get(node_id) or str(node_id)
        node_tags = tags.get(name, [])
        nodes.append(
            {
                "data": {
                    "id": name,
                    "label": name[:8] + "…" + name[-4:] if len(name) > 14 else name,
                    "chain": chain,
                    "center": node_id == address_id,
                    "customer": ours.get(name),
                    "tags": [
                        {"label": t.label, "category": t.abuse or t.category, "confidence": t.confidence}
                        for t in node_tags[:5]
                    ],
                    "badge": (node_tags[0].abuse or node_tags[0].category or node_tags[0].label) if node_tags else "",
                    "illicit": any(t.abuse for t in node_tags),
                }
            }
        )
    edge_elements = []
    for edge in sorted(kept_edges, key=lambda e: (e.source, e.target, e.asset)):
        source = names.get(int(edge.source)) or edge.source
        target = names.get(int(edge.target)) or edge.target
        edge_elements.append(
            {
                "data": {
                    "id": f"{source}>{target}:{edge.asset}",
                    "source": source,
                    "target": target,
                    "asset": edge.asset,
                    "amount": round(edge.amount, 8),
                    "count": edge.count,
                    "first": edge.first,
                    "last": edge.last,
                    "txs": [hashes[t] for t in edge.tx_ids if t in hashes],
                }
            }
        )
    return {
        "center": names.get(address_id),
        "chain": chain,
        "nodes": nodes,
        "edges": edge_elements,
        "truncated": max(0, len(weight) - len(kept)),
    }


def total_counterparties(graph: dict[str, Any]) -> int:
    """How many counterparties the address has in all (shown, plus left out)."""
    return len(graph["nodes"]) - 1 + int(graph["truncated"])
