"""The flow graph every tracing kernel runs on: value-carrying edges between holders, as plain numpy arrays.

One representation serves both chain kinds and both directions, so that poison, haircut and FIFO are each
written once:

- **UTXO chains** are a *transaction-level* graph: a node is a transaction, an edge is one of its outputs,
  leading to the transaction that spends it (``dst = -1`` while unspent). The edge's ``addr_to`` is the
  output's address. A transaction's in-queue is its inputs in input order, its out-queue its outputs in
  output order, which is exactly what FIFO needs; inputs minus outputs is the fee.
- **Account chains** are an *address-level* graph per asset: a node is an (address, asset) pair, an edge
  a transfer; both queues are in time order.

Nodes of several chains and assets live in one id space (each chain/asset is a contiguous segment), so a
trace crosses the bridge by jumping from one edge to another (:class:`BridgeLinks`) with no special casing
in the kernel.

The kernel never looks at the arrays here directly but at a :class:`DirectedView`: the forward view is the
graph as is; the backward view swaps tails and heads, negates time (so "later" is always ``>=``) and swaps
the FIFO queues. Backward tracing is then the same code as forward tracing.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

Int64Array = npt.NDArray[np.int64]
Int32Array = npt.NDArray[np.int32]
Int8Array = npt.NDArray[np.int8]
Float64Array = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: ``node_kind`` values.
NODE_ADDRESS = 0
NODE_TX = 1


@dataclass(frozen=True)
class Segment:
    """A contiguous block of node ids (and of address ids) belonging to one chain and asset."""

    chain: str
    kind: str  # "utxo" | "account"
    asset: str
    asset_code: int
    node_offset: int
    node_count: int
    address_offset: int
    address_count: int
    tx_offset: int = 0
    tx_count: int = 0


@dataclass(frozen=True)
class BridgeLinks:
    """Cross-chain hand-overs: value arriving on edge ``source[i]`` reappears on edge ``target[i]``.

    ``scale[i]`` converts an amount on the source edge (its asset units) into target units
    (``target value / source value``), so shares survive a change of asset. ``memo[i]`` is the evidence
    (the OP_RETURN text or the input selector) that ties the two legs together.
    """

    source: Int64Array
    target: Int64Array
    scale: Float64Array
    memo: tuple[str, ...] = ()

    @staticmethod
    def empty() -> BridgeLinks:
        return BridgeLinks(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64), ())

    def __len__(self) -> int:
        return len(self.source)

    @functools.cached_property
    def memo_by_pair(self) -> dict[tuple[int, int], str]:
        """``(source edge, target edge) → memo``, built once per graph: an evidence path looks up each hop
        here, and rebuilding it per trace cost more than the trace itself on a large world."""
        return {
            (int(s), int(t)): m for s, t, m in zip(self.source.tolist(), self.target.tolist(), self.memo, strict=False)
        }


@dataclass(frozen=True)
class DirectedView:
    """The graph seen in one direction, with the CSR the kernels walk (see the module docstring)."""

    n_nodes: int
    tail: Int64Array
    head: Int64Array
    time: Int64Array
    holder: Int64Array
    value: Float64Array
    pos_in: Float64Array
    ptr: Int64Array
    order: Int64Array
    #: Queue interval of each CSR slot, shifted by ``row_base`` of its row so that both are globally
    #: nondecreasing along ``order``: FIFO finds a node's overlapping outflows with one searchsorted.
    cum_lo: Float64Array
    cum_hi: Float64Array
    row_base: Float64Array
    #: The same intervals unshifted (positions inside the node's own queue), for exact overlaps.
    slot_lo: Float64Array
    slot_hi: Float64Array
    denom: Float64Array
    node_addr: Int64Array
    #: ``NODE_ADDRESS`` or ``NODE_TX`` per node: a transaction node's outflows all happen at its own time.
    node_kind: Int8Array
    bridge_from: Int64Array
    bridge_to: Int64Array
    bridge_scale: Float64Array
    backward: bool


def sort_order(*columns: npt.NDArray[np.generic]) -> Int64Array:
    """A sorting permutation by the first column, then the next...: one int64 composite key when the columns'
    value ranges fit in 62 bits (a single sort, several times faster than ``lexsort``), else lexsort. Callers
    pass columns whose combination is unique (or whose ties are interchangeable), so stability is not needed."""
    lows = [int(c.min()) if len(c) else 0 for c in columns]
    bits = [max(1, (int(c.max()) - lo + 1).bit_length()) if len(c) else 1 for c, lo in zip(columns, lows, strict=True)]
    if sum(bits) > 62:
        return np.lexsort(tuple(reversed(columns))).astype(np.int64)
    key = np.zeros(len(columns[0]), dtype=np.int64)
    for column, low, width in zip(columns, lows, bits, strict=True):
        key <<= width
        key |= np.asarray(column, dtype=np.int64) - low
    return np.argsort(key).astype(np.int64)


def _csr(keys: Int64Array, rank: npt.NDArray[np.generic], n: int) -> tuple[Int64Array, Int64Array]:
    """Edge ids sorted by (key, rank) for keys >= 0, and the row pointer over ``n`` nodes."""
    valid = np.flatnonzero(keys >= 0)
    order = valid[sort_order(keys[valid], rank[valid])]
    counts = np.bincount(keys[order], minlength=n)
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    return ptr, order


def queue_positions(
    keys: Int64Array, rank: npt.NDArray[np.generic], value: Float64Array, n: int
) -> tuple[Int64Array, Int64Array, Float64Array, Float64Array]:
    """CSR over ``keys`` in queue order and each edge's start position in its node's queue."""
    ptr, order = _csr(keys, rank, n)
    sorted_values = value[order]
    cum_hi = np.cumsum(sorted_values)
    cum_lo = cum_hi - sorted_values
    base = np.zeros(n, dtype=np.float64)
    nonempty = ptr[1:] > ptr[:-1]
    base[nonempty] = cum_lo[ptr[:-1][nonempty]]
    pos = np.zeros(len(keys), dtype=np.float64)
    pos[order] = cum_lo - base[keys[order]]
    return ptr, order, pos, np.stack([cum_lo, cum_hi])


@dataclass
class FlowGraph:
    """Edges with value, time, transaction and addresses; nodes with queues and haircut denominators.

    Built by :func:`build_flow_graph` (from any arrays) or by :mod:`.loader` (from the chain store).
    ``tx`` indexes ``tx_chain``/``tx_local`` style lookups kept by the loader; here it is an opaque id that
    the evidence resolver turns into a hash.
    """

    n_nodes: int
    src: Int64Array
    dst: Int64Array
    value: Float64Array
    ts: Int64Array
    tx: Int64Array
    addr_to: Int64Array
    addr_from: Int64Array
    asset: Int32Array
    out_rank: npt.NDArray[np.int64]
    in_rank: npt.NDArray[np.int64]
    pos_out: Float64Array
    pos_in: Float64Array
    node_kind: Int8Array
    node_addr: Int64Array
    node_denom: Float64Array
    segments: tuple[Segment, ...] = ()
    bridges: BridgeLinks = field(default_factory=BridgeLinks.empty)
    n_addresses: int = 0
    _views: dict[bool, DirectedView] = field(default_factory=dict, repr=False)
    #: Derived structures built on first use by other modules (kernels, address indexes, matrices).
    cache: dict[str, object] = field(default_factory=dict, repr=False)

    @property
    def n_edges(self) -> int:
        return len(self.src)

    def view(self, backward: bool = False) -> DirectedView:
        """The forward or backward view, built once and cached (two CSRs; about 40 bytes per edge each)."""
        cached = self._views.get(backward)
        if cached is not None:
            return cached
        if backward:
            tail, head, time, rank = self.dst, self.src, -self.ts, self.in_rank
            holder = np.where(self.addr_from >= 0, self.addr_from, self.addr_to)
            pos_in, pos_out = self.pos_out, self.pos_in
            bridge_from, bridge_to = self.bridges.target, self.bridges.source
            scale = np.divide(
                1.0, self.bridges.scale, where=self.bridges.scale > 0, out=np.zeros_like(self.bridges.scale)
            )
        else:
            tail, head, time, rank = self.src, self.dst, self.ts, self.out_rank
            holder, pos_in, pos_out = self.addr_to, self.pos_in, self.pos_out
            bridge_from, bridge_to, scale = self.bridges.source, self.bridges.target, self.bridges.scale
        ptr, order = _csr(tail, rank, self.n_nodes)
        slot_lo = pos_out[order]
        slot_hi = slot_lo + self.value[order]
        span = np.zeros(self.n_nodes, dtype=np.float64)
        nonempty = ptr[1:] > ptr[:-1]
        # Positions grow along each row, so a row's span ends at its last slot.
        span[nonempty] = np.maximum.reduceat(slot_hi, ptr[:-1][nonempty]) if len(order) else 0.0
        row_base = np.zeros(self.n_nodes, dtype=np.float64)
        np.cumsum(span[:-1], out=row_base[1:])
        shift = row_base[tail[order]]
        view = DirectedView(
            n_nodes=self.n_nodes,
            tail=tail,
            head=head,
            time=time,
            holder=holder,
            value=self.value,
            pos_in=pos_in,
            ptr=ptr,
            order=order,
            cum_lo=slot_lo + shift,
            cum_hi=slot_hi + shift,
            row_base=row_base,
            slot_lo=slot_lo,
            slot_hi=slot_hi,
            denom=self.node_denom,
            node_addr=self.node_addr,
            node_kind=self.node_kind,
            bridge_from=np.asarray(bridge_from, dtype=np.int64),
            bridge_to=np.asarray(bridge_to, dtype=np.int64),
            bridge_scale=np.asarray(scale, dtype=np.float64),
            backward=backward,
        )
        self._views[backward] = view
        return view

    def drop_views(self) -> None:
        """Free the cached views, kernels and derived structures (rebuilt on demand): a 10M-transfer graph's
        views take about 1 GiB that a memory-bound job (the all-cluster exposure) can use instead."""
        self._views.clear()
        self.cache.clear()

    def node_asset(self) -> npt.NDArray[np.int32]:
        """The asset code of every node (from the segments; 0 when the graph has none)."""
        found = self.cache.get("node_asset")
        if found is None:
            found = np.zeros(self.n_nodes, dtype=np.int32)
            for seg in self.segments:
                found[seg.node_offset : seg.node_offset + seg.node_count] = seg.asset_code
            self.cache["node_asset"] = found
        return found  # type: ignore[return-value]

    def segment_of_node(self, node: int) -> Segment:
        for segment in self.segments:
            if segment.node_offset <= node < segment.node_offset + segment.node_count:
                return segment
        raise KeyError(node)

    def segment_of_address(self, address: int) -> Segment:
        for segment in self.segments:
            if segment.address_offset <= address < segment.address_offset + segment.address_count:
                return segment
        raise KeyError(address)

    def nbytes(self) -> int:
        """Memory held by the edge and node arrays and the cached views (for the benchmark)."""
        total = 0
        for value in vars(self).values():
            if isinstance(value, np.ndarray):
                total += value.nbytes
        for view in self._views.values():
            total += sum(v.nbytes for v in vars(view).values() if isinstance(v, np.ndarray))
        return total


def account_in_positions(
    src: Int64Array, dst: Int64Array, value: Float64Array, ts: Int64Array, rank: Int64Array, n: int
) -> tuple[Float64Array, Float64Array]:
    """In-queue positions (after the opening balance) and total inflow (with it) of an account graph."""
    _, _, pos, _ = queue_positions(dst, rank, value, n)
    opening = opening_deficit(src, dst, value, ts, n)
    pos = pos + opening[np.maximum(dst, 0)]
    total = np.asarray(np.bincount(dst[dst >= 0], weights=value[dst >= 0], minlength=n), dtype=np.float64) + opening
    return pos, total


def opening_deficit(src: Int64Array, dst: Int64Array, value: Float64Array, ts: Int64Array, n: int) -> Float64Array:
    """Per node, the balance it must have held before its first recorded movement.

    Account chains move value the transfer list does not show (genesis allocations, block rewards, fees);
    without an opening balance a FIFO queue would hand an outflow units that arrive only later. Received
    value is counted before sent value at the same timestamp.
    """
    keep_in, keep_out = dst >= 0, src >= 0
    node = np.concatenate([dst[keep_in], src[keep_out]])
    amount = np.concatenate([value[keep_in], -value[keep_out]])
    when = np.concatenate([ts[keep_in], ts[keep_out]])
    flag = np.concatenate([np.zeros(int(keep_in.sum()), np.int8), np.ones(int(keep_out.sum()), np.int8)])
    deficit = np.zeros(n, dtype=np.float64)
    if len(node) == 0:
        return deficit
    order = sort_order(node, when, flag)
    node, amount = node[order], amount[order]
    running = np.cumsum(amount)
    starts = np.flatnonzero(np.r_[True, node[1:] != node[:-1]])
    before = np.r_[0.0, running][starts]
    lengths = np.diff(np.r_[starts, len(node)])
    running = running - np.repeat(before, lengths)
    lowest = np.minimum.reduceat(running, starts)
    deficit[node[starts]] = np.maximum(0.0, -lowest)
    return deficit


def build_flow_graph(
    *,
    n_nodes: int,
    src: npt.ArrayLike,
    dst: npt.ArrayLike,
    value: npt.ArrayLike,
    ts: npt.ArrayLike,
    tx: npt.ArrayLike | None = None,
    addr_to: npt.ArrayLike | None = None,
    addr_from: npt.ArrayLike | None = None,
    asset: npt.ArrayLike | None = None,
    node_kind: npt.ArrayLike | None = None,
    node_addr: npt.ArrayLike | None = None,
    out_rank: npt.ArrayLike | None = None,
    in_rank: npt.ArrayLike | None = None,
    pos_in: npt.ArrayLike | None = None,
    node_in_total: npt.ArrayLike | None = None,
    segments: tuple[Segment, ...] = (),
    bridges: BridgeLinks | None = None,
    n_addresses: int | None = None,
) -> FlowGraph:
    """A :class:`FlowGraph` from parallel edge arrays; defaults make an account-style graph.

    Defaults: node ``i`` is address ``i``; ``addr_to = dst``, ``addr_from = src``; queues in time order (then
    edge order); an opening balance for nodes that send before they receive (:func:`opening_deficit`).
    UTXO loaders pass ``pos_in`` (positions among all inputs, known or not) and ``node_in_total`` (the
    inputs' value) explicitly.
    """
    s = np.asarray(src, dtype=np.int64)
    d = np.asarray(dst, dtype=np.int64)
    v = np.asarray(value, dtype=np.float64)
    t = np.asarray(ts, dtype=np.int64)
    m = len(s)
    seq = np.arange(m, dtype=np.int64)
    tx_ids = seq if tx is None else np.asarray(tx, dtype=np.int64)
    a_to = d.copy() if addr_to is None else np.asarray(addr_to, dtype=np.int64)
    a_from = s.copy() if addr_from is None else np.asarray(addr_from, dtype=np.int64)
    assets = np.zeros(m, np.int32) if asset is None else np.asarray(asset, dtype=np.int32)
    kinds = np.full(n_nodes, NODE_ADDRESS, np.int8) if node_kind is None else np.asarray(node_kind, np.int8)
    naddr = np.arange(n_nodes, dtype=np.int64) if node_addr is None else np.asarray(node_addr, np.int64)
    # Time-ordered queues: rank by (ts, edge order); edges already in time order (the store's) rank as they are.
    if (out_rank is None or in_rank is None) and not bool(np.all(t[1:] >= t[:-1])):
        time_rank = np.empty(m, dtype=np.int64)
        time_rank[sort_order(t, seq)] = seq
    else:
        time_rank = seq
    o_rank = time_rank if out_rank is None else np.asarray(out_rank, dtype=np.int64)
    i_rank = time_rank if in_rank is None else np.asarray(in_rank, dtype=np.int64)
    _, _, p_out, _ = queue_positions(s, o_rank, v, n_nodes)
    out_total = np.asarray(np.bincount(s[s >= 0], weights=v[s >= 0], minlength=n_nodes), dtype=np.float64)
    if pos_in is None:
        p_in, in_total = account_in_positions(s, d, v, t, i_rank, n_nodes)
    else:
        p_in = np.asarray(pos_in, dtype=np.float64)
        in_total = (
            np.asarray(np.bincount(d[d >= 0], weights=v[d >= 0], minlength=n_nodes), dtype=np.float64)
            if node_in_total is None
            else np.asarray(node_in_total, dtype=np.float64)
        )
    denom = np.maximum(in_total, out_total)
    count = n_addresses
    if count is None:
        count = int(max(a_to.max(initial=-1), a_from.max(initial=-1), naddr.max(initial=-1))) + 1
    return FlowGraph(
        n_nodes=n_nodes,
        src=s,
        dst=d,
        value=v,
        ts=t,
        tx=tx_ids,
        addr_to=a_to,
        addr_from=a_from,
        asset=assets,
        out_rank=o_rank,
        in_rank=i_rank,
        pos_out=p_out,
        pos_in=p_in,
        node_kind=kinds,
        node_addr=naddr,
        node_denom=denom,
        segments=segments,
        bridges=bridges if bridges is not None else BridgeLinks.empty(),
        n_addresses=count,
    )
