"""Streaming feature extraction: per-account state updated edge by edge, same numbers as the bulk path.

A monitoring engine sees one transfer at a time and must score it at once, so it cannot rerun the bulk
computation. ``StreamingFeatures`` keeps, per node, the edges it sent and received that are still inside the
longest window (older ones are evicted, so memory is bounded by the window, not the history) plus the lifetime
profile of ``profile.ProfileState`` (bounded by distinct amounts and partners), and answers the
same per-edge features as :func:`edge_features` when an edge arrives and the same account features as
:func:`account_features` on demand. The definitions live in ``bulk``; tests check both paths agree.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Hashable, Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from chainsleuth.monitor.features.bulk import (
    FeatureConfig,
    FeatureMatrix,
    account_feature_names,
    edge_feature_names,
)
from chainsleuth.monitor.features.edges import FeatureError, FloatArray
from chainsleuth.monitor.features.profile import ProfileState


@dataclass
class _Edge:
    pos: int
    time: int
    src: int
    dst: int
    amount: float
    cyc: bool = False
    sg: int = 0
    gs: int = 0
    delay: float = math.nan
    feats: tuple[float, ...] = ()

    @property
    def loop(self) -> bool:
        return self.src == self.dst


class StreamingFeatures:
    """Incremental per-edge and per-account features. Edges must arrive in non-decreasing time order."""

    def __init__(self, config: FeatureConfig, nodes: Iterable[Hashable] = ()) -> None:
        self.config = config
        self.names = edge_feature_names(config)
        self._ids: dict[Hashable, int] = {}
        self._labels: list[Hashable] = []
        for n in nodes:
            self._id(n)
        self._out: list[deque[_Edge]] = [deque() for _ in self._labels]
        self._in: list[deque[_Edge]] = [deque() for _ in self._labels]
        self._last_in: dict[int, int] = {}
        self._retain = max((*config.windows, config.pattern_window))
        self._n = 0
        self._now: int | None = None
        self._profile = ProfileState()

    @property
    def labels(self) -> list[Hashable]:
        return list(self._labels)

    def _id(self, label: Hashable) -> int:
        i = self._ids.get(label)
        if i is None:
            i = self._ids[label] = len(self._labels)
            self._labels.append(label)
            if hasattr(self, "_out"):
                self._out.append(deque())
                self._in.append(deque())
        return i

    def _evict(self, node: int, now: int) -> None:
        for dq in (self._out[node], self._in[node]):
            while dq and dq[0].time < now - self._retain:
                dq.popleft()

    def update(self, src: Hashable, dst: Hashable, amount: float, time: int) -> dict[str, float]:
        """Add one edge; return its features (the row ``edge_features`` gives the same edge)."""
        if self._now is not None and time < self._now:
            raise FeatureError(f"edge at time {time} arrived after time {self._now}: streams must be time-ordered")
        if not math.isfinite(amount):
            raise FeatureError("amounts must be finite")
        u, v = self._id(src), self._id(dst)
        self._now = time
        self._evict(u, time)
        self._evict(v, time)
        e = _Edge(self._n, time, u, v, float(amount))
        self._n += 1
        feats: dict[str, float] = {}
        lo_p = time - self.config.pattern_window
        if not e.loop:
            c2, c3, sg, gs = self._patterns(u, v, lo_p)
            e.cyc, e.sg, e.gs = c2 + c3 > 0, sg, gs
        else:
            c2 = c3 = sg = gs = 0
        last = self._last_in.get(u)
        e.delay = float(time - last) if last is not None else math.nan
        self._out[u].append(e)
        self._in[v].append(e)
        self._profile.update(u, v, float(amount))
        self._last_in[v] = time
        for w in self.config.windows:
            lo = time - w
            for side, dq, far in (
                ("src_out", self._out[u], "dst"),
                ("src_in", self._in[u], "src"),
                ("dst_in", self._in[v], "src"),
                ("dst_out", self._out[v], "dst"),
            ):
                recs = [r for r in dq if r.time >= lo]
                feats[f"{side}_count_{w}"] = float(len(recs))
                feats[f"{side}_sum_{w}"] = float(sum(r.amount for r in recs))
                feats[f"{side}_fan_{w}"] = float(len({getattr(r, far) for r in recs}))
                feats[f"{side}_ratio_{w}"] = feats[f"{side}_fan_{w}"] / len(recs) if recs else math.nan
                amts = np.array([r.amount for r in recs], dtype=np.float64)
                feats[f"{side}_mean_{w}"] = float(amts.mean()) if recs else math.nan
                feats[f"{side}_std_{w}"] = float(amts.std()) if recs else math.nan
        feats.update(amount=float(amount), cycle2=float(c2), cycle3=float(c3))
        feats.update(scatter_gather=float(sg), gather_scatter=float(gs), src_passthrough_delay=e.delay)
        e.feats = tuple(feats[k] for k in self.names)
        return feats

    def _patterns(self, u: int, v: int, lo: int) -> tuple[int, int, int, int]:
        v_out = [r for r in self._out[v] if r.time >= lo and not r.loop]
        c2 = sum(1 for r in v_out if r.dst == u)
        first_to: dict[int, int] = {}
        for r in v_out:
            if r.dst != u and r.dst not in first_to:
                first_to[r.dst] = r.pos
        c3 = 0
        for x, j1 in first_to.items():
            if any(r.dst == u and r.pos > j1 and r.time >= lo and not r.loop for r in self._out[x]):
                c3 += 1
        senders_u = {r.src for r in self._in[u] if r.time >= lo and not r.loop}
        others = {r.src for r in self._in[v] if r.time >= lo and not r.loop and r.src != u}
        sg = sum(1 for y in others if any(r.src in senders_u for r in self._in[y] if r.time >= lo and not r.loop))
        recv_u = {r.dst for r in self._out[u] if r.time >= lo and not r.loop} | {v}
        return c2, c3, sg, len(senders_u) * len(recv_u)

    def account_features(
        self,
        at: int,
        exposure: Mapping[str, FloatArray] | None = None,
        known_illicit: NDArray[np.bool_] | None = None,
    ) -> FeatureMatrix:
        """Features of every known node as of ``at`` (not earlier than the last edge seen)."""
        if self._now is not None and at < self._now:
            raise FeatureError("streaming state can only answer as of the latest edge time or later")
        cfg = self.config
        n = len(self._labels)
        profile = self._profile.rows(n, known_illicit)
        rows = [self._account_row(a, at) + profile[a].tolist() for a in range(n)]
        for k in sorted(exposure or {}):
            arr = np.asarray((exposure or {})[k], dtype=np.float64)
            if arr.shape != (n,):
                raise FeatureError(f"exposure '{k}' must have one value per node ({n}), got shape {arr.shape}")
            for a in range(n):
                rows[a].append(float(arr[a]))
        names = account_feature_names(cfg, exposure, known=known_illicit is not None)
        return FeatureMatrix(names, np.array(rows, dtype=np.float64).reshape(n, len(names)))

    def account_row(self, label: Hashable, at: int, flagged: AbstractSet[Hashable] | None = None) -> list[float]:
        """One account's row of ``account_features(at, known_illicit=...)`` (names: ``account_feature_names(config,
        known=flagged is not None)``), from its own and its partners' state only: cheap enough to score the
        accounts each arriving transfer touches. ``flagged`` holds the labels of accounts already known illicit."""
        if self._now is not None and at < self._now:
            raise FeatureError("streaming state can only answer as of the latest edge time or later")
        if label not in self._ids:
            raise FeatureError(f"unknown account {label!r}")
        a = self._ids[label]
        flagged_ids = None if flagged is None else {self._ids[x] for x in flagged if x in self._ids}
        return self._account_row(a, at) + self._profile.row(a, flagged_ids)

    def _account_row(self, a: int, at: int) -> list[float]:
        cfg = self.config
        row: list[float] = []
        for w in cfg.windows:
            for dq, far in ((self._out[a], "dst"), (self._in[a], "src")):
                amts = np.array([r.amount for r in dq if at - w <= r.time <= at], dtype=np.float64)
                fan = len({getattr(r, far) for r in dq if at - w <= r.time <= at})
                if amts.size:
                    row += [float(amts.size), float(amts.sum()), float(amts.mean()), float(amts.min())]
                    row += [float(amts.max()), float(np.sqrt(np.mean((amts - amts.mean()) ** 2))), float(fan)]
                    row.append(fan / amts.size)
                else:
                    row += [0.0] * 7 + [math.nan]
        lp = at - cfg.pattern_window
        outs = [r for r in self._out[a] if r.time >= lp]
        ins = [r for r in self._in[a] if r.time >= lp]
        row.append(float(sum(r.cyc for r in outs) + sum(r.cyc for r in ins)))
        row += [float(sum(r.sg for r in ins)), float(sum(r.sg for r in outs)), float(max([0, *(r.gs for r in outs)]))]
        lv = at - max(cfg.windows)
        delays = [r.delay for r in self._out[a] if r.time >= lv and not math.isnan(r.delay)]
        row.append(float(np.mean(delays)) if delays else math.nan)
        inflow = quick = 0.0
        out_list = list(self._out[a])
        for r in self._in[a]:
            if r.time < lv:
                continue
            inflow += r.amount
            nxt = next((o for o in out_list if o.pos > r.pos), None)
            if nxt is not None and nxt.time - r.time <= cfg.fast_window:
                quick += r.amount
        row.append(quick / inflow if inflow > 0 else math.nan)
        for dq in (self._out[a], self._in[a]):
            vals = np.array([r.feats for r in dq if at - max(cfg.windows) <= r.time <= at], dtype=np.float64)
            for j in range(len(self.names)):
                col = vals[:, j][~np.isnan(vals[:, j])] if vals.size else np.zeros(0)
                row += [float(col.mean()), float(col.max())] if col.size else [math.nan, math.nan]
        return row
