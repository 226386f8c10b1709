"""Vectorised taint propagation: one frontier of tainted edges per hop, numpy only, no per-edge Python.

A trace is a sequence of frontiers. Frontier ``h`` holds the edges that carry taint at hop ``h`` with the
amount each carries (``taint``, in the edge's asset units) and the same amount expressed in units of the
traced value (``units``: it differs from ``taint`` only after a bridge changed the asset, and under poison,
where amounts are whole edge values but units are conserved). Each step:

1. edges whose receiving address (``holder``) is a stopping service end there (a *terminal*), except that a
   bridge's deposit leg is replaced by its payout leg on the other chain when crossing is on;
2. edges into nothing (an unspent output) end at their address; at the hop limit every edge ends there;
   so does an output whose spending transaction lies outside the time window (*window*: the value was
   still held at that address when the window closed);
3. the others hand their taint to the node they reach, which passes it on along its outgoing edges:
   - **poison**: every outgoing edge at or after the arrival is fully tainted (once); the node keeps
     ``τ − Σ out`` (an address's retained balance) or, for a UTXO transaction, its fee;
   - **haircut**: every outgoing edge at or after the arrival carries ``value × τ / D`` where ``τ`` is the
     taint that arrived and ``D`` the node's haircut denominator (max of all it received, including an
     opening balance, and all it sent; for a UTXO transaction: its inputs);
   - **FIFO**: each tainted interval of the node's in-queue is matched with the same positions of its
     out-queue (outputs in order for a UTXO transaction, transfers in time order for an address);
4. what a node does not pass on stays there (*residual*: retained balance, fee, or unexplained origin).
   Backward, a transaction's input created before the window is an origin at that input's address.

Units are conserved: the units of every terminal plus those dropped below ``min_value`` add up to the
traced value, under every policy (tests/chain/tracing/test_conservation.py). Every frontier is kept for the
evidence (paths).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from chainsleuth.chain.tracing.graph import NODE_TX, BoolArray, DirectedView, Float64Array, Int64Array

Policy = Literal["poison", "haircut", "fifo"]
POLICIES: tuple[Policy, ...] = ("poison", "haircut", "fifo")

#: Terminal kinds.
STOPPED = 0
DEAD_END = 1
HOP_LIMIT = 2
RESIDUAL = 3
WINDOW = 4
KIND_NAMES = ("service", "unspent", "hop_limit", "residual", "window")


@dataclass
class Frontier:
    """The tainted edges of one hop (``injected``: arrived over a bridge, so not stopped at it)."""

    hop: int
    edges: Int64Array
    taint: Float64Array
    units: Float64Array
    offset: Float64Array
    injected: BoolArray
    _by_head: tuple[Int64Array, Int64Array] | None = None
    _by_edge: tuple[Int64Array, Int64Array] | None = None

    def locate(self, edges: Int64Array) -> Int64Array:
        """Row of each edge in this frontier (the largest piece when FIFO split it), -1 where absent."""
        if self._by_edge is None:
            perm = np.lexsort((-self.taint, self.edges)).astype(np.int64)
            self._by_edge = (self.edges[perm], perm)
        keys, perm = self._by_edge
        if len(keys) == 0:
            return np.full(len(edges), -1, np.int64)
        at = np.minimum(np.searchsorted(keys, edges), len(keys) - 1)
        return np.where(keys[at] == edges, perm[at], -1)

    def best_into(self, view: DirectedView, nodes: Int64Array) -> Int64Array:
        """Row of the heaviest edge reaching each node in this frontier, -1 where none."""
        if self._by_head is None:
            heads = view.head[self.edges]
            perm = np.lexsort((-self.taint, heads)).astype(np.int64)
            sorted_heads = heads[perm]
            first = np.r_[True, sorted_heads[1:] != sorted_heads[:-1]] if len(perm) else np.zeros(0, bool)
            self._by_head = (sorted_heads[first], perm[first])
        heads, rows = self._by_head
        if len(heads) == 0:
            return np.full(len(nodes), -1, np.int64)
        at = np.minimum(np.searchsorted(heads, nodes), len(heads) - 1)
        return np.where(heads[at] == nodes, rows[at], -1)


@dataclass
class Propagation:
    """Everything a trace produced: the frontiers and the terminal events (parallel arrays)."""

    frontiers: list[Frontier]
    kind: list[Int64Array] = field(default_factory=list)
    addr: list[Int64Array] = field(default_factory=list)
    node: list[Int64Array] = field(default_factory=list)
    edge: list[Int64Array] = field(default_factory=list)
    step: list[Int64Array] = field(default_factory=list)
    taint: list[Float64Array] = field(default_factory=list)
    units: list[Float64Array] = field(default_factory=list)
    dropped_units: float = 0.0
    traced_units: float = 0.0
    edges_visited: int = 0

    def record(
        self,
        kind: int,
        addr: Int64Array,
        node: Int64Array,
        edge: Int64Array,
        step: int,
        taint: Float64Array,
        units: Float64Array,
    ) -> None:
        if len(taint) == 0:
            return
        self.kind.append(np.full(len(taint), kind, np.int64))
        self.addr.append(addr)
        self.node.append(node)
        self.edge.append(edge)
        self.step.append(np.full(len(taint), step, np.int64))
        self.taint.append(taint)
        self.units.append(units)

    def events(self) -> dict[str, npt.NDArray[Any]]:
        """The terminal events as one dict of concatenated arrays."""
        names = ("kind", "addr", "node", "edge", "step", "taint", "units")
        out: dict[str, npt.NDArray[Any]] = {}
        for name in names:
            parts = getattr(self, name)
            dtype = np.float64 if name in ("taint", "units") else np.int64
            out[name] = np.concatenate(parts) if parts else np.empty(0, dtype)
        return out


def _expand(ptr: Int64Array, rows: Int64Array) -> tuple[Int64Array, Int64Array]:
    """CSR slots of ``rows`` and, for each slot, the position of its row in ``rows``."""
    starts = ptr[rows]
    counts = ptr[rows + 1] - starts
    total = int(counts.sum())
    owner = np.repeat(np.arange(len(rows), dtype=np.int64), counts)
    first = np.cumsum(counts) - counts
    slots = np.arange(total, dtype=np.int64) - first[owner] + starts[owner]
    return slots, owner


def _group(keys: Int64Array) -> tuple[Int64Array, Int64Array]:
    uniq, inverse = np.unique(keys, return_inverse=True)
    return uniq.astype(np.int64), inverse.astype(np.int64).reshape(-1)


def _group_min(inverse: Int64Array, values: Int64Array, n: int) -> Int64Array:
    out = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(out, inverse, values)
    return out


class Kernel:
    """Runs propagations over one :class:`DirectedView` (create once, reuse for many traces)."""

    def __init__(self, view: DirectedView) -> None:
        self.view = view
        order = np.argsort(view.bridge_from, kind="stable")
        self._bridge_from = view.bridge_from[order]
        self._bridge_to = view.bridge_to[order]
        self._bridge_scale = view.bridge_scale[order]

    def run(
        self,
        edges: Int64Array,
        taint: Float64Array,
        *,
        policy: Policy,
        hops: int,
        first_hop: int = 1,
        min_value: float = 0.0,
        t_min: int | None = None,
        t_max: int | None = None,
        stop_mask: BoolArray | None = None,
        cross_bridge: bool = True,
    ) -> Propagation:
        """Propagate ``taint`` on ``edges`` (frontier number ``first_hop``) for up to ``hops`` hops.

        Times are in the view's orientation (negated for backward views), so the window is
        ``t_min <= time <= t_max``.
        """
        if policy not in POLICIES:
            raise ValueError(f"unknown policy {policy!r}")
        view = self.view
        edges = np.asarray(edges, dtype=np.int64)
        taint = np.minimum(np.asarray(taint, dtype=np.float64), view.value[edges])
        result = Propagation(frontiers=[], traced_units=float(taint.sum()))
        frontier = Frontier(first_hop, edges, taint, taint.copy(), np.zeros(len(edges)), np.zeros(len(edges), bool))
        poisoned = np.zeros(len(view.value), dtype=bool) if policy == "poison" else None
        if poisoned is not None:
            poisoned[edges] = True
        while len(frontier.edges):
            result.frontiers.append(frontier)
            step = len(result.frontiers) - 1
            result.edges_visited += len(frontier.edges)
            frontier = self._step(
                frontier,
                step,
                result,
                policy,
                hops,
                min_value,
                t_min,
                t_max,
                stop_mask,
                cross_bridge,
                poisoned,
            )
        return result

    def _step(
        self,
        fr: Frontier,
        step: int,
        result: Propagation,
        policy: Policy,
        hops: int,
        min_value: float,
        t_min: int | None,
        t_max: int | None,
        stop_mask: BoolArray | None,
        cross_bridge: bool,
        poisoned: BoolArray | None,
    ) -> Frontier:
        view = self.view
        e, t, u, off = fr.edges, fr.taint, fr.units, fr.offset
        holder = view.holder[e]
        head = view.head[e]
        go = np.ones(len(e), dtype=bool)
        inj_e = np.empty(0, np.int64)
        inj_t = np.empty(0, np.float64)
        inj_u = np.empty(0, np.float64)
        if fr.hop > 0:
            stopped = np.zeros(len(e), dtype=bool)
            if stop_mask is not None:
                stopped = (holder >= 0) & ~fr.injected
                stopped[stopped] = stop_mask[holder[stopped]]
            if cross_bridge and len(self._bridge_from) and fr.hop < hops:
                # a bridge deposit leg continues on its payout leg, whether or not the bridge is a stop
                where = np.flatnonzero(~fr.injected)
                lo = np.searchsorted(self._bridge_from, e[where], side="left")
                hi = np.searchsorted(self._bridge_from, e[where], side="right")
                crossing = hi > lo
                if crossing.any():
                    cw = where[crossing]
                    slots, owner = self._links(lo[crossing], hi[crossing])
                    src_rows = cw[owner]
                    scale = self._bridge_scale[slots]
                    inj_e = self._bridge_to[slots]
                    inj_t = np.minimum(t[src_rows] * scale, view.value[inj_e])
                    # units are in traced-value terms: undo the scale so shares survive the asset change
                    inj_u = np.divide(
                        inj_t * u[src_rows],
                        t[src_rows] * scale,
                        out=np.zeros(len(slots)),
                        where=(t[src_rows] > 0) & (scale > 0),
                    )
                    stopped[cw] = False
                    go[cw] = False
            result.record(STOPPED, holder[stopped], head[stopped], e[stopped], step, t[stopped], u[stopped])
            go &= ~stopped
        dead = go & (head < 0)
        result.record(DEAD_END, holder[dead], head[dead], e[dead], step, t[dead], u[dead])
        go &= ~dead
        if fr.hop >= hops:
            result.record(HOP_LIMIT, holder[go], head[go], e[go], step, t[go], u[go])
            go[:] = False
        if not view.backward and (t_min is not None or t_max is not None) and go.any():
            late = self._spent_outside(head, go, t_min, t_max)
            result.record(WINDOW, holder[late], head[late], e[late], step, t[late], u[late])
            go &= ~late
        if policy == "fifo":
            new_e, new_t, new_u, new_off = self._fifo(e[go], t[go], u[go], off[go], step, result, t_min, t_max)
        else:
            new_e, new_t, new_u = self._by_node(e[go], t[go], u[go], step, result, policy, t_min, t_max, poisoned)
            new_off = np.zeros(len(new_e))
        small = new_t < min_value
        if small.any():
            result.dropped_units += float(new_u[small].sum())
            keep = ~small
            new_e, new_t, new_u, new_off = new_e[keep], new_t[keep], new_u[keep], new_off[keep]
        injected = np.r_[np.zeros(len(new_e), bool), np.ones(len(inj_e), bool)]
        new_e = np.r_[new_e, inj_e]
        new_t = np.r_[new_t, inj_t]
        new_u = np.r_[new_u, inj_u]
        new_off = np.r_[new_off, np.zeros(len(inj_e))]
        if policy != "fifo" and len(new_e):
            uniq, inv = _group(new_e)
            if len(uniq) < len(new_e):
                new_t = np.asarray(np.bincount(inv, weights=new_t, minlength=len(uniq)), dtype=np.float64)
                new_u = np.asarray(np.bincount(inv, weights=new_u, minlength=len(uniq)), dtype=np.float64)
                flag = np.zeros(len(uniq), bool)
                flag[inv[injected]] = True
                new_e, injected, new_off = uniq, flag, np.zeros(len(uniq))
        return Frontier(fr.hop + 1, new_e, new_t, new_u, new_off, injected)

    def _links(self, lo: Int64Array, hi: Int64Array) -> tuple[Int64Array, Int64Array]:
        counts = hi - lo
        owner = np.repeat(np.arange(len(lo), dtype=np.int64), counts)
        first = np.cumsum(counts) - counts
        slots = np.arange(int(counts.sum()), dtype=np.int64) - first[owner] + lo[owner]
        return slots, owner

    def _spent_outside(self, head: Int64Array, go: BoolArray, t_min: int | None, t_max: int | None) -> BoolArray:
        """Forward: edges into a UTXO transaction that happens outside the window (its outputs share its time).

        Such an output was not yet spent when the window closed, so its value stays at the output's address;
        handing it to the transaction would turn it into that transaction's "fee"."""
        view = self.view
        late = np.zeros(len(head), dtype=bool)
        rows = np.flatnonzero(go & (head >= 0))
        rows = rows[view.node_kind[head[rows]] == NODE_TX]
        nodes = head[rows]
        has_out = view.ptr[nodes + 1] > view.ptr[nodes]
        rows, nodes = rows[has_out], nodes[has_out]
        if len(rows):
            late[rows] = ~self._window(view.order[view.ptr[nodes]], t_min, t_max)
        return late

    def _before_window(self, cand: Int64Array, node_of_cand: Int64Array, inside: BoolArray) -> BoolArray:
        """Backward: a transaction's inputs created outside the window (an origin at the input's address)."""
        if not self.view.backward:
            return np.zeros(len(cand), dtype=bool)
        is_tx: BoolArray = self.view.node_kind[node_of_cand] == NODE_TX
        return ~inside & is_tx

    def _window(self, cand: Int64Array, t_min: int | None, t_max: int | None) -> BoolArray:
        ok = np.ones(len(cand), dtype=bool)
        if t_min is not None:
            ok &= self.view.time[cand] >= t_min
        if t_max is not None:
            ok &= self.view.time[cand] <= t_max
        return ok

    def _by_node(
        self,
        e: Int64Array,
        t: Float64Array,
        u: Float64Array,
        step: int,
        result: Propagation,
        policy: Policy,
        t_min: int | None,
        t_max: int | None,
        poisoned: BoolArray | None,
    ) -> tuple[Int64Array, Float64Array, Float64Array]:
        view = self.view
        empty = (np.empty(0, np.int64), np.empty(0, np.float64), np.empty(0, np.float64))
        if len(e) == 0:
            return empty
        nodes, inv = _group(view.head[e])
        tau = np.asarray(np.bincount(inv, weights=t, minlength=len(nodes)), dtype=np.float64)
        units = np.asarray(np.bincount(inv, weights=u, minlength=len(nodes)), dtype=np.float64)
        arrival = _group_min(inv, view.time[e], len(nodes))
        slots, owner = _expand(view.ptr, nodes)
        cand = view.order[slots]
        after = view.time[cand] >= arrival[owner]
        inside = self._window(cand, t_min, t_max)
        early = after & self._before_window(cand, nodes[owner], inside)
        ok = after & (inside | early)
        if policy == "poison":
            assert poisoned is not None
            ok &= ~poisoned[cand]
            cand, owner, early = cand[ok], owner[ok], early[ok]
            poisoned[cand] = True
            out_t = view.value[cand].copy()
            moved = np.asarray(np.bincount(owner, weights=out_t, minlength=len(nodes)), dtype=np.float64)
            # What stays: an address's retained balance (the taint it received minus what it sent on);
            # a transaction's fee (its inputs minus its outputs), all tainted under poison.
            is_tx = view.node_kind[nodes] == NODE_TX
            cap = np.where(is_tx, np.maximum(view.denom[nodes], tau), tau)
            rest = np.maximum(cap - moved, 0.0)
            # Amounts are whole values, units are conserved: split the arriving units by amount.
            total = moved + rest
            per_amount = np.divide(units, total, out=np.zeros(len(nodes)), where=total > 0)
            out_u = out_t * per_amount[owner]
            rest_u = rest * per_amount
        else:
            cand, owner, early = cand[ok], owner[ok], early[ok]
            denom = np.maximum(view.denom[nodes], tau)
            share = np.divide(tau, denom, out=np.zeros(len(nodes)), where=denom > 0)
            out_t = view.value[cand] * share[owner]
            moved = np.asarray(np.bincount(owner, weights=out_t, minlength=len(nodes)), dtype=np.float64)
            ratio = np.divide(units, tau, out=np.zeros(len(nodes)), where=tau > 0)
            out_u = out_t * ratio[owner]
            rest = np.maximum(tau - moved, 0.0)
            rest_u = rest * ratio
        has_rest = rest > 1e-12 * np.maximum(tau, 1.0)
        result.record(
            RESIDUAL,
            view.node_addr[nodes[has_rest]],
            nodes[has_rest],
            np.full(int(has_rest.sum()), -1, np.int64),
            step,
            rest[has_rest],
            rest_u[has_rest],
        )
        if early.any():
            at = nodes[owner[early]]
            none = np.full(len(at), -1, np.int64)
            result.record(WINDOW, view.holder[cand[early]], at, none, step, out_t[early], out_u[early])
            cand, out_t, out_u = cand[~early], out_t[~early], out_u[~early]
        return cand, out_t, out_u

    def _fifo(
        self,
        e: Int64Array,
        t: Float64Array,
        u: Float64Array,
        off: Float64Array,
        step: int,
        result: Propagation,
        t_min: int | None,
        t_max: int | None,
    ) -> tuple[Int64Array, Float64Array, Float64Array, Float64Array]:
        view = self.view
        if len(e) == 0:
            z = np.empty(0, np.float64)
            return np.empty(0, np.int64), z, z, z
        v = view.head[e]
        a = view.pos_in[e] + off
        b = a + t
        base = view.row_base[v]
        lo = np.searchsorted(view.cum_hi, base + a, side="right")
        hi = np.searchsorted(view.cum_lo, base + b, side="left")
        lo = np.clip(lo, view.ptr[v], view.ptr[v + 1])
        hi = np.clip(hi, lo, view.ptr[v + 1])
        slots, owner = self._links(lo.astype(np.int64), hi.astype(np.int64))
        cand = view.order[slots]
        start = np.maximum(a[owner], view.slot_lo[slots])
        overlap = np.minimum(b[owner], view.slot_hi[slots]) - start
        inside = self._window(cand, t_min, t_max)
        early = (overlap > 0) & self._before_window(cand, v[owner], inside)
        ok = (overlap > 0) & (inside | early)
        cand, owner, overlap, start, slots, early = cand[ok], owner[ok], overlap[ok], start[ok], slots[ok], early[ok]
        moved = np.asarray(np.bincount(owner, weights=overlap, minlength=len(e)), dtype=np.float64)
        ratio = np.divide(u, t, out=np.zeros(len(e)), where=t > 0)
        if early.any():
            at, none = v[owner[early]], np.full(int(early.sum()), -1, np.int64)
            units = overlap[early] * ratio[owner[early]]
            result.record(WINDOW, view.holder[cand[early]], at, none, step, overlap[early], units)
            keep = ~early
            cand, owner, overlap, start, slots = cand[keep], owner[keep], overlap[keep], start[keep], slots[keep]
        rest = np.maximum(t - moved, 0.0)
        has_rest = rest > 1e-12 * np.maximum(t, 1.0)
        if has_rest.any():
            nodes, inv = _group(v[has_rest])
            r_t = np.asarray(np.bincount(inv, weights=rest[has_rest], minlength=len(nodes)), dtype=np.float64)
            r_u = np.asarray(np.bincount(inv, weights=(rest * ratio)[has_rest], minlength=len(nodes)), dtype=np.float64)
            result.record(RESIDUAL, view.node_addr[nodes], nodes, np.full(len(nodes), -1, np.int64), step, r_t, r_u)
        # Offset of each tainted piece inside its edge (its queue start minus the edge's slot start).
        return cand, overlap, overlap * ratio[owner], start - view.slot_lo[slots]
