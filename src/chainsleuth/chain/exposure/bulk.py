"""Exposure of every address or cluster at once: category shares propagated k hops over a sparse flow matrix.

``W[u, v]`` is the value entity ``u`` sent to entity ``v`` over the whole history (USD when prices are
given): account transfers directly; a UTXO transaction split haircut-style, each input address sending
each output address ``input share × output value``. Self-flows (change, intra-cluster) are dropped.

Incoming exposure is the share of what ``v`` received that comes, within ``k`` hops, from entities of a
category: ``σ¹ = P·L`` and ``σʲ⁺¹ = P·Rʲ`` with ``P = D_in⁻¹·Wᵀ`` (row-normalised receipts), ``L`` the
category matrix of tagged entities (a row sums to 1 over its categories) and ``Rʲ`` equal to ``L`` on tagged
rows (an attributed entity passes on its own category, not what it received: funds that went through an
exchange are the exchange's) and ``σʲ`` elsewhere. Outgoing exposure is the same on ``Q = D_out⁻¹·W``.
Direct exposure is ``σ¹``; indirect is ``σᵏ − σ¹``. Rows of ``σ`` never sum above 1; the rest is
unattributed. The single-entity query (:mod:`.query`) gives the same quantities time-respecting with paths.

A tag change only alters rows within ``k`` hops of the changed entities (:meth:`ExposureModel.affected`),
but a full recompute is a handful of sparse products and usually fast enough (``docs/tracing.md`` has the
measurements), so :meth:`ExposureModel.update` simply recomputes and reports which rows changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from chainsleuth.chain.exposure.policy import ExposurePolicy
from chainsleuth.chain.tracing.graph import NODE_TX, Float64Array, FlowGraph, Int64Array
from chainsleuth.chain.tracing.loader import PriceTable
from chainsleuth.chain.tracing.stops import StopSet

DAY = 86_400


def edge_values_usd(graph: FlowGraph, prices: PriceTable | None) -> tuple[Float64Array, str]:
    """Each edge's value in USD (day price of its asset), or in coins when no prices are given."""
    if prices is None:
        return graph.value, "coin"
    names = {seg.asset_code: seg.asset for seg in graph.segments}
    key = graph.asset.astype(np.int64) * 1_000_000 + graph.ts // DAY
    uniq, inverse = np.unique(key, return_inverse=True)
    rate = np.empty(len(uniq), dtype=np.float64)
    for i, k in enumerate(uniq.tolist()):
        code, day = divmod(int(k), 1_000_000)
        found = prices.usd(names.get(code, ""), 1.0, day * DAY)
        rate[i] = np.nan if found is None else found
    if np.isnan(rate).any():  # days without a price take the asset's nearest earlier known price
        for code in np.unique(uniq // 1_000_000).tolist():
            sel = np.flatnonzero(uniq // 1_000_000 == code)
            r = rate[sel]
            good = ~np.isnan(r)
            if good.any():
                idx = np.maximum.accumulate(np.where(good, np.arange(len(r)), 0))
                r = r[idx]
                r[np.isnan(r)] = r[good][0]
            else:
                r = np.ones(len(r))
            rate[sel] = r
    return graph.value * rate[inverse.reshape(-1)], "USD"


def flow_matrix(
    graph: FlowGraph,
    entity_of: Int64Array | None = None,
    n_entities: int | None = None,
    prices: PriceTable | None = None,
) -> tuple[sp.csr_matrix, str]:
    """``W`` (entities × entities, see the module docstring); entities default to addresses."""
    ent = np.arange(graph.n_addresses, dtype=np.int64) if entity_of is None else np.asarray(entity_of, np.int64)
    n = int(ent.max(initial=-1)) + 1 if n_entities is None else n_entities
    usd, unit = edge_values_usd(graph, prices)
    kind = graph.node_kind
    node_of = np.where(graph.src >= 0, graph.src, graph.dst)
    account = (kind[node_of] != NODE_TX) & (graph.addr_from >= 0) & (graph.addr_to >= 0)
    rows = [ent[graph.addr_from[account]]]
    cols = [ent[graph.addr_to[account]]]
    data = [usd[account]]
    utxo_in = (graph.dst >= 0) & (kind[np.maximum(graph.dst, 0)] == NODE_TX) & (graph.addr_to >= 0)
    utxo_out = (graph.src >= 0) & (kind[np.maximum(graph.src, 0)] == NODE_TX) & (graph.addr_to >= 0)
    if utxo_in.any() and utxo_out.any():
        denom = graph.node_denom[graph.dst[utxo_in]]
        frac = np.divide(graph.value[utxo_in], denom, out=np.zeros(int(utxo_in.sum())), where=denom > 0)
        inputs = sp.csr_matrix((frac, (graph.dst[utxo_in], ent[graph.addr_to[utxo_in]])), shape=(graph.n_nodes, n))
        outputs = sp.csr_matrix(
            (usd[utxo_out], (graph.src[utxo_out], ent[graph.addr_to[utxo_out]])), shape=(graph.n_nodes, n)
        )
        pairs = (inputs.T @ outputs).tocoo()
        rows.append(pairs.row.astype(np.int64))
        cols.append(pairs.col.astype(np.int64))
        data.append(pairs.data)
    r, c, d = np.concatenate(rows), np.concatenate(cols), np.concatenate(data)
    keep = r != c
    w = sp.csr_matrix((d[keep], (r[keep], c[keep])), shape=(n, n))
    w.sum_duplicates()
    return w, unit


def category_matrix(
    policy: ExposurePolicy, tagged: StopSet, n_entities: int, entity_of: Int64Array | None = None
) -> sp.csr_matrix:
    """``L``: for every tagged entity, weight 1 split over the policy categories its tags map to."""
    per_entity: dict[int, set[int]] = {}
    for address, index in zip(tagged.addresses.tolist(), tagged.entity.tolist(), strict=True):
        entity = tagged.entities[index]
        found = policy.categories_of(entity.concepts or ((entity.category,) if entity.category else ()))
        if not found:
            continue
        row = address if entity_of is None else int(entity_of[address])
        per_entity.setdefault(row, set()).update(found)
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for row, cats in per_entity.items():
        for cat in sorted(cats):
            rows.append(row)
            cols.append(cat)
            vals.append(1.0 / len(cats))
    return sp.csr_matrix((vals, (rows, cols)), shape=(n_entities, len(policy.categories)))


@dataclass
class ExposureResult:
    """Shares per entity (rows) and category (columns); values are share × volume."""

    categories: tuple[str, ...]
    unit: str
    hops: int
    in_volume: Float64Array
    out_volume: Float64Array
    in_direct: npt.NDArray[np.float64]
    in_total: npt.NDArray[np.float64]
    out_direct: npt.NDArray[np.float64]
    out_total: npt.NDArray[np.float64]
    tagged: npt.NDArray[np.bool_]

    def shares(self, entity: int) -> dict[tuple[str, str, str], tuple[float, float]]:
        """``{(category, mode, direction): (share, value)}`` of one entity, non-zero entries only."""
        found: dict[tuple[str, str, str], tuple[float, float]] = {}
        for j, name in enumerate(self.categories):
            for direction, direct, total, volume in (
                ("incoming", self.in_direct, self.in_total, self.in_volume),
                ("outgoing", self.out_direct, self.out_total, self.out_volume),
            ):
                d, t = float(direct[entity, j]), float(total[entity, j])
                if d > 0:
                    found[(name, "direct", direction)] = (d, d * float(volume[entity]))
                if t - d > 1e-12:
                    found[(name, "indirect", direction)] = (t - d, (t - d) * float(volume[entity]))
        return found

    def tiers(self, policy: ExposurePolicy) -> npt.NDArray[np.int64]:
        """Tier index (into ``policy.tiers``) of every entity, vectorised; ``len(policy.tiers)``: none."""
        n = len(self.in_volume)
        best = np.full(n, len(policy.tiers), dtype=np.int64)
        for j, cat in enumerate(policy.categories):
            for direct_arr, total_arr, volume in (
                (self.in_direct, self.in_total, self.in_volume),
                (self.out_direct, self.out_total, self.out_volume),
            ):
                for mode, rules in (("direct", cat.direct), ("indirect", cat.indirect)):
                    share = direct_arr[:, j] if mode == "direct" else total_arr[:, j] - direct_arr[:, j]
                    fired_any = np.zeros(n, bool)
                    for tier, threshold in rules:
                        fired = (share >= threshold) & (share > 1e-12) & (share * volume >= policy.min_value)
                        fired &= ~fired_any
                        best[fired] = np.minimum(best[fired], policy.tiers.index(tier))
                        fired_any |= fired
        return best


class ExposureModel:
    """The flow matrix built once; exposures computed (and recomputed on tag changes) from it."""

    def __init__(self, flows: sp.csr_matrix, unit: str = "USD") -> None:
        self.flows = flows.tocsr()
        self.unit = unit
        self.in_volume = np.asarray(self.flows.sum(axis=0)).ravel()
        self.out_volume = np.asarray(self.flows.sum(axis=1)).ravel()
        inv_in = np.divide(1.0, self.in_volume, out=np.zeros_like(self.in_volume), where=self.in_volume > 0)
        inv_out = np.divide(1.0, self.out_volume, out=np.zeros_like(self.out_volume), where=self.out_volume > 0)
        self.receipts = (sp.diags(inv_in) @ self.flows.T).tocsr()
        self.payments = (sp.diags(inv_out) @ self.flows).tocsr()
        self._pattern: sp.csr_matrix | None = None

    @staticmethod
    def from_graph(
        graph: FlowGraph,
        *,
        entity_of: Int64Array | None = None,
        n_entities: int | None = None,
        prices: PriceTable | None = None,
    ) -> ExposureModel:
        flows, unit = flow_matrix(graph, entity_of, n_entities, prices)
        return ExposureModel(flows, unit)

    @property
    def n_entities(self) -> int:
        return int(self.flows.shape[0])

    def compute(self, labels: sp.csr_matrix, policy: ExposurePolicy, hops: int | None = None) -> ExposureResult:
        k = policy.hops if hops is None else hops
        dense = np.asarray(labels.toarray(), dtype=np.float64)
        tagged = np.asarray(labels.sum(axis=1)).ravel() > 0
        results = []
        for matrix in (self.receipts, self.payments):
            sigma = matrix @ dense
            direct = sigma.copy()
            for _ in range(max(k, 1) - 1):
                relay = np.where(tagged[:, None], dense, sigma)
                sigma = matrix @ relay
            results.append((direct, sigma))
        return ExposureResult(
            categories=policy.names,
            unit=self.unit,
            hops=k,
            in_volume=self.in_volume,
            out_volume=self.out_volume,
            in_direct=results[0][0],
            in_total=results[0][1],
            out_direct=results[1][0],
            out_total=results[1][1],
            tagged=tagged,
        )

    def affected(self, changed: Iterable[int], hops: int) -> Int64Array:
        """Entities whose exposure can change when the tags of ``changed`` change (within ``hops``)."""
        reach = np.zeros(self.n_entities, dtype=bool)
        frontier = np.zeros(self.n_entities, dtype=bool)
        frontier[np.asarray(list(changed), dtype=np.int64)] = True
        reach |= frontier
        if self._pattern is None:  # undirected reachability: exposure moves both ways
            self._pattern = (self.flows + self.flows.T).tocsr()
        pattern = self._pattern
        for _ in range(hops):
            frontier = (pattern @ frontier.astype(np.float64)) > 0
            frontier &= ~reach
            reach |= frontier
            if not frontier.any():
                break
        return np.flatnonzero(reach).astype(np.int64)

    def update(
        self, previous: ExposureResult, labels: sp.csr_matrix, policy: ExposurePolicy
    ) -> tuple[ExposureResult, Int64Array]:
        """Recompute after a tag change; returns the new result and the entities whose shares moved."""
        new = self.compute(labels, policy, previous.hops)
        moved = np.zeros(self.n_entities, dtype=bool)
        for a, b in (
            (previous.in_total, new.in_total),
            (previous.out_total, new.out_total),
            (previous.in_direct, new.in_direct),
            (previous.out_direct, new.out_direct),
        ):
            moved |= np.abs(a - b).max(axis=1) > 1e-12
        return new, np.flatnonzero(moved).astype(np.int64)
