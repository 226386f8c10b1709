# mypy: disable-error-code="no-untyped-call"
"""Loading the flow graph from the chain store: the only module of tracing that knows the store.

Everything downstream (kernel, trace API, exposure, paths) works on :class:`FlowGraph` arrays, so it runs
unchanged on hand-built graphs (tests), synthetic ones (the benchmark) and the store. The store's APIs may
still move; only this file follows them.

Bridge links are found from the public memos (``docs/export-formats.md``):

- bitcoin → ethereum: a bitcoin transaction with an ``=:ETH:<addr>`` OP_RETURN pays the bridge's custody
  address; the ethereum payout carries ``0xb1d9e0a5`` + that bitcoin transaction's hash. The custody leg is
  the output to a known bridge address when given, else the address paid most often by memo transactions.
- ethereum → bitcoin: a transfer to the bridge contract with ``0x3d2f19c0`` + the hex of a bitcoin address;
  the bitcoin payout has an ``OUT:<eth tx hash>`` OP_RETURN and pays that address.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from chainsleuth.chain.tracing.graph import (
    NODE_ADDRESS,
    NODE_TX,
    BridgeLinks,
    Float64Array,
    FlowGraph,
    Int64Array,
    Segment,
    account_in_positions,
    build_flow_graph,
)
from chainsleuth.errors import NotFoundError
from chainsleuth.store.chainstore import ChainStore
from chainsleuth.store.chainstore.schema import chain_spec

#: Output indices stay below this, so ``tx << 20 | index`` keys an output.
_OUTPUT_KEY = 1 << 20


@dataclass
class _Parts:
    src: list[Int64Array] = field(default_factory=list)
    dst: list[Int64Array] = field(default_factory=list)
    value: list[Float64Array] = field(default_factory=list)
    ts: list[Int64Array] = field(default_factory=list)
    tx: list[Int64Array] = field(default_factory=list)
    addr_to: list[Int64Array] = field(default_factory=list)
    addr_from: list[Int64Array] = field(default_factory=list)
    asset: list[Int64Array] = field(default_factory=list)
    out_rank: list[Int64Array] = field(default_factory=list)
    in_rank: list[Int64Array] = field(default_factory=list)
    pos_in: list[Float64Array] = field(default_factory=list)
    node_kind: list[Int64Array] = field(default_factory=list)
    node_addr: list[Int64Array] = field(default_factory=list)
    node_in: list[Float64Array] = field(default_factory=list)


def _i64(values: object) -> Int64Array:
    return np.asarray(values, dtype=np.int64)


def _utxo_segment(
    store: ChainStore, chain: str, parts: _Parts, node_off: int, addr_off: int, tx_off: int, asset_code: int
) -> Segment:
    """Transactions as nodes, outputs as edges to their spender (see :mod:`.graph`)."""
    spec = chain_spec(chain)
    txs = store.table(chain, "transactions", ["tx_id", "timestamp"])
    tx_ids = _i64(txs.column("tx_id").to_numpy())
    n_tx = int(tx_ids.max(initial=-1)) + 1
    tx_ts = np.zeros(n_tx, np.int64)
    tx_ts[tx_ids] = _i64(txs.column("timestamp").to_numpy())
    n_addr = store.chain_state(chain).address_count
    out = store.utxo_outputs(chain)
    keep = (out.address_ids >= 0) | (out.values_coin > 0)
    o_tx, o_idx = out.tx_ids[keep], out.index[keep].astype(np.int64)
    o_addr, o_val = out.address_ids[keep], out.values_coin[keep]
    okey = o_tx * _OUTPUT_KEY + o_idx
    order = np.argsort(okey, kind="stable")
    o_tx, o_idx, o_addr, o_val, okey = o_tx[order], o_idx[order], o_addr[order], o_val[order], okey[order]
    inp = store.utxo_inputs(chain)
    i_order = np.lexsort((inp.index, inp.tx_ids))
    i_tx, i_idx = inp.tx_ids[i_order], inp.index[i_order].astype(np.int64)
    i_val = inp.values_coin[i_order]
    i_stx, i_sidx = inp.spent_tx_ids[i_order], inp.spent_index[i_order].astype(np.int64)
    # Each input's start in its transaction's input queue (all inputs count, resolved or not).
    cum = np.cumsum(i_val)
    lo = cum - i_val
    first = np.flatnonzero(np.r_[True, i_tx[1:] != i_tx[:-1]]) if len(i_tx) else np.empty(0, np.int64)
    lengths = np.diff(np.r_[first, len(i_tx)])
    i_pos = lo - np.repeat(lo[first], lengths) if len(i_tx) else lo
    spender = np.full(len(okey), -1, np.int64)
    in_rank = np.zeros(len(okey), np.int64)
    pos_in = np.zeros(len(okey), np.float64)
    resolved = i_stx >= 0
    if len(okey) and resolved.any():
        skey = i_stx[resolved] * _OUTPUT_KEY + i_sidx[resolved]
        at = np.minimum(np.searchsorted(okey, skey), len(okey) - 1)
        hit = okey[at] == skey
        rows = at[hit]
        spender[rows] = i_tx[resolved][hit]
        in_rank[rows] = i_idx[resolved][hit]
        pos_in[rows] = i_pos[resolved][hit]
    parts.src.append(o_tx + node_off)
    parts.dst.append(np.where(spender >= 0, spender + node_off, -1))
    parts.value.append(o_val)
    parts.ts.append(tx_ts[o_tx])
    parts.tx.append(o_tx + tx_off)
    parts.addr_to.append(np.where(o_addr >= 0, o_addr + addr_off, -1))
    parts.addr_from.append(np.full(len(o_tx), -1, np.int64))
    parts.asset.append(np.full(len(o_tx), asset_code, np.int64))
    parts.out_rank.append(o_idx)
    parts.in_rank.append(in_rank)
    parts.pos_in.append(pos_in)
    parts.node_kind.append(np.full(n_tx, NODE_TX, np.int64))
    parts.node_addr.append(np.full(n_tx, -1, np.int64))
    parts.node_in.append(np.asarray(np.bincount(i_tx, weights=i_val, minlength=n_tx), dtype=np.float64)[:n_tx])
    return Segment(chain, "utxo", spec.currency, asset_code, node_off, n_tx, addr_off, n_addr, tx_off, n_tx)


def _account_segments(
    store: ChainStore, chain: str, parts: _Parts, node_off: int, addr_off: int, tx_off: int, asset_codes: dict[str, int]
) -> list[Segment]:
    """One address-level segment per asset (ETH, then each token of the registry)."""
    spec = chain_spec(chain)
    n_addr = store.chain_state(chain).address_count
    n_tx = store.chain_state(chain).next_tx_id
    edges = store.edges(chain)
    symbols = {0: spec.currency} | {t.asset_id: t.symbol for t in store.tokens(chain)}
    segments: list[Segment] = []
    for asset_id, symbol in sorted(symbols.items()):
        pick = edges.asset_ids == asset_id
        src, dst = edges.src_ids[pick], edges.dst_ids[pick]
        value, ts = edges.values[pick], edges.timestamps[pick]
        # The store keeps transfers in (tx, log) order: per transaction the native transfer, then the
        # ``internal`` ones (ETH a contract forwards, from traces) in call order, then token logs. Internal
        # transfers are ordinary value edges here, so a contract's inflow ranks before what it forwards.
        rank = np.arange(len(src), dtype=np.int64)
        code = asset_codes.setdefault(symbol, len(asset_codes))
        safe_src = np.where(src >= 0, src, -1)
        pos_in, in_total = account_in_positions(safe_src, dst, value, ts, rank, n_addr)
        parts.src.append(np.where(src >= 0, src + node_off, -1))
        parts.dst.append(np.where(dst >= 0, dst + node_off, -1))
        parts.value.append(value)
        parts.ts.append(ts)
        parts.tx.append(edges.tx_ids[pick] + tx_off)
        parts.addr_to.append(np.where(dst >= 0, dst + addr_off, -1))
        parts.addr_from.append(np.where(src >= 0, src + addr_off, -1))
        parts.asset.append(np.full(len(src), code, np.int64))
        parts.out_rank.append(rank)
        parts.in_rank.append(rank)
        parts.pos_in.append(pos_in)
        parts.node_kind.append(np.full(n_addr, NODE_ADDRESS, np.int64))
        parts.node_addr.append(np.arange(n_addr, dtype=np.int64) + addr_off)
        parts.node_in.append(in_total)
        segments.append(Segment(chain, "account", symbol, code, node_off, n_addr, addr_off, n_addr, tx_off, n_tx))
        node_off += n_addr
    return segments


def load_flow_graph(
    store: ChainStore,
    chains: Sequence[str] | None = None,
    *,
    bridge_addresses: Iterable[str] = (),
) -> FlowGraph:
    """The flow graph of ``chains`` (default: every chain in the store) with bridge links between them."""
    names = list(chains) if chains is not None else store.chains()
    if not names:
        raise NotFoundError("the chain store holds no chain to trace", root=str(store.root))
    parts = _Parts()
    segments: list[Segment] = []
    asset_codes: dict[str, int] = {}
    node_off = addr_off = tx_off = 0
    for chain in names:
        spec = chain_spec(chain)
        if spec.kind == "utxo":
            code = asset_codes.setdefault(spec.currency, len(asset_codes))
            seg = _utxo_segment(store, chain, parts, node_off, addr_off, tx_off, code)
            new = [seg]
        else:
            new = _account_segments(store, chain, parts, node_off, addr_off, tx_off, asset_codes)
        segments.extend(new)
        node_off = new[-1].node_offset + new[-1].node_count
        addr_off += new[0].address_count
        tx_off += new[0].tx_count
    cat = np.concatenate
    graph = build_flow_graph(
        n_nodes=node_off,
        src=cat(parts.src),
        dst=cat(parts.dst),
        value=cat(parts.value),
        ts=cat(parts.ts),
        tx=cat(parts.tx),
        addr_to=cat(parts.addr_to),
        addr_from=cat(parts.addr_from),
        asset=cat(parts.asset),
        node_kind=cat(parts.node_kind),
        node_addr=cat(parts.node_addr),
        out_rank=cat(parts.out_rank),
        in_rank=cat(parts.in_rank),
        pos_in=cat(parts.pos_in),
        node_in_total=cat(parts.node_in),
        segments=tuple(segments),
        n_addresses=addr_off,
    )
    if "bitcoin" in names and "ethereum" in names:
        graph.bridges = find_bridge_links(store, graph, bridge_addresses)
    return graph


def _segment(graph: FlowGraph, chain: str) -> Segment:
    for seg in graph.segments:
        if seg.chain == chain:
            return seg
    raise NotFoundError("chain not in the flow graph", chain=chain)


def find_bridge_links(store: ChainStore, graph: FlowGraph, bridge_addresses: Iterable[str] = ()) -> BridgeLinks:
    """Pair the legs of every bridge transfer by their memos (see the module docstring)."""
    btc, eth = _segment(graph, "bitcoin"), _segment(graph, "ethereum")
    known = {store.address_id("bitcoin", a) for a in bridge_addresses} - {None}
    to_eth = store.query(
        "SELECT e.tx_id AS eth_tx, b.tx_id AS btc_tx, o.memo AS memo FROM eth_transactions e "
        "JOIN btc_transactions b ON b.hash = lower(hex(e.input_data)) "
        "JOIN btc_outputs o ON o.tx_id = b.tx_id AND o.memo LIKE '=:ETH:%' "
        "WHERE e.method_id = '0xb1d9e0a5'"
    ).to_pylist()
    to_btc = store.query(
        "SELECT e.tx_id AS eth_tx, o.tx_id AS btc_tx, o.memo AS memo, a.address_id AS dest "
        "FROM btc_outputs o JOIN eth_transactions e ON e.hash = '0x' || lower(substr(o.memo, 5)) "
        "LEFT JOIN btc_addresses a ON a.address = e.input_text "
        "WHERE o.memo LIKE 'OUT:%' AND e.method_id = '0x3d2f19c0'"
    ).to_pylist()
    edge_tx = graph.tx
    by_tx_order = np.argsort(edge_tx, kind="stable")
    sorted_tx = edge_tx[by_tx_order]

    def edges_of(global_tx: int) -> Int64Array:
        lo, hi = np.searchsorted(sorted_tx, [global_tx, global_tx + 1])
        return by_tx_order[lo:hi]

    memo_payees: Counter[int] = Counter()
    for row in to_eth:
        for e in edges_of(btc.tx_offset + row["btc_tx"]):
            if graph.addr_to[e] >= 0:
                memo_payees[int(graph.addr_to[e] - btc.address_offset)] += 1
    custody = {a for a in known if a is not None} or ({memo_payees.most_common(1)[0][0]} if memo_payees else set())
    source: list[int] = []
    target: list[int] = []
    scale: list[float] = []
    memos: list[str] = []

    def link(src_edges: Sequence[int], dst_edges: Sequence[int], memo: str) -> None:
        total_src = float(graph.value[list(src_edges)].sum()) if src_edges else 0.0
        if total_src <= 0:
            return
        for s in src_edges:
            for d in dst_edges:
                source.append(int(s))
                target.append(int(d))
                scale.append(float(graph.value[d]) / total_src)
                memos.append(memo)

    for row in to_eth:
        src_edges = [
            int(e) for e in edges_of(btc.tx_offset + row["btc_tx"]) if graph.addr_to[e] - btc.address_offset in custody
        ]
        link(src_edges, [int(e) for e in edges_of(eth.tx_offset + row["eth_tx"])], row["memo"])
    for row in to_btc:
        if row["dest"] is None:
            continue
        dest = btc.address_offset + int(row["dest"])
        dst_edges = [int(e) for e in edges_of(btc.tx_offset + row["btc_tx"]) if graph.addr_to[e] == dest]
        link([int(e) for e in edges_of(eth.tx_offset + row["eth_tx"])], dst_edges, row["memo"])
    return BridgeLinks(_i64(source), _i64(target), np.asarray(scale, np.float64), tuple(memos))


@dataclass(frozen=True)
class PriceTable:
    """Daily USD reference prices (a world's ``prices.csv``: ``date,asset,usd``) for valuing amounts."""

    prices: dict[tuple[str, str], float]

    @staticmethod
    def read(path: Path) -> PriceTable:
        with Path(path).open(newline="") as handle:
            rows = {(r["asset"], r["date"]): float(r["usd"]) for r in csv.DictReader(handle)}
        return PriceTable(rows)

    def usd(self, asset: str, amount: float, timestamp: int) -> float | None:
        """``amount`` of ``asset`` in USD at the day of ``timestamp``; None when the day has no price."""
        if asset in ("USD", "USDT"):
            return amount
        day = datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%d")
        price = self.prices.get((asset, day))
        return None if price is None else amount * price


def global_address(graph: FlowGraph, chain: str, local_id: int) -> int:
    """The graph-wide address id of a chain's dense address id."""
    return _segment(graph, chain).address_offset + local_id


def split_address(graph: FlowGraph, address: int) -> tuple[str, int]:
    """(chain, dense address id) of a graph-wide address id."""
    seg = graph.segment_of_address(address)
    return seg.chain, address - seg.address_offset
