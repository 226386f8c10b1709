"""The deposit-address heuristic for account chains (Ethereum), after Victor (2020) and GraphSense.

Account chains have no multi-input transactions, but exchanges leave another trace: each customer gets a
*deposit address*, and the exchange sweeps whatever arrives there into its hot wallet soon after, almost to
the last wei (minus gas). So an address that

1. sends value to a known hot wallet (of exactly one exchange),
2. forwards (almost) everything it received of that asset to it (``min_forward_share``),
3. sends (almost) nothing anywhere else (``max_other_share``),
4. does so quickly: the median time from a receipt to the forward that follows is at most ``max_delay``,
5. and received from at least ``min_senders`` distinct senders (default 1: a per-customer deposit address may
   only ever be paid by its customer; many distinct senders raise the confidence instead),

is that exchange's deposit address and belongs to the exchange's cluster. Transfers from the exchange's own
wallets (gas top-ups before a token sweep) are not counted as receipts or senders, because exchanges send gas
to their deposit addresses and that ETH is burnt, not forwarded.

The confidence starts at 0.6 when all conditions hold and rises by 0.1 for each sign that the address is not a
personal wallet that happens to empty itself into an exchange: three or more distinct senders, a median delay
under an hour, a forward share of 99 % or more; 0.05 more for two or more separate forwards (at most 0.95).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from chainsleuth.chain.clustering.kernel import Int64Array, as_int64, group_starts

Float64Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class DepositParams:
    """Thresholds of the deposit-address heuristic (see the module docstring)."""

    min_senders: int = 1
    min_forward_share: float = 0.9
    max_other_share: float = 0.05
    max_delay: int = 2 * 86_400
    min_confidence: float = 0.0


@dataclass(frozen=True)
class DepositResult:
    """Detected deposit addresses, one row each, with the evidence behind the verdict."""

    address_id: Int64Array
    hot_wallet_id: Int64Array
    exchange: list[str]
    senders: Int64Array
    forwards: Int64Array
    forward_share: Float64Array
    other_share: Float64Array
    median_delay: Float64Array
    confidence: Float64Array

    def __len__(self) -> int:
        return len(self.address_id)

    def links(self, min_confidence: float = 0.0) -> tuple[Int64Array, Int64Array]:
        """Edges deposit address → the hot wallet it forwards to (at or above ``min_confidence``)."""
        keep = self.confidence >= min_confidence
        return self.address_id[keep], self.hot_wallet_id[keep]

    def rows(self) -> list[dict[str, object]]:
        return [
            {
                "address_id": int(self.address_id[i]),
                "hot_wallet_id": int(self.hot_wallet_id[i]),
                "exchange": self.exchange[i],
                "senders": int(self.senders[i]),
                "forwards": int(self.forwards[i]),
                "forward_share": round(float(self.forward_share[i]), 4),
                "other_share": round(float(self.other_share[i]), 4),
                "median_delay_s": float(self.median_delay[i]),
                "confidence": round(float(self.confidence[i]), 3),
            }
            for i in range(len(self))
        ]


def _sum_by(keys: Int64Array, values: Float64Array, wanted: Int64Array) -> Float64Array:
    """Sum of ``values`` per key, looked up for each of ``wanted`` (0 where absent)."""
    uniq, inverse = np.unique(keys, return_inverse=True)
    sums = np.bincount(inverse, weights=values, minlength=len(uniq))
    if len(uniq) == 0:
        return np.zeros(len(wanted))
    pos = np.minimum(np.searchsorted(uniq, wanted), len(uniq) - 1)
    result: Float64Array = np.where(uniq[pos] == wanted, sums[pos], 0.0)
    return result


def detect_deposit_addresses(
    src: npt.ArrayLike,
    dst: npt.ArrayLike,
    values: npt.ArrayLike,
    timestamps: npt.ArrayLike,
    hot_wallets: Mapping[int, str],
    *,
    asset_ids: npt.ArrayLike | None = None,
    params: DepositParams | None = None,
) -> DepositResult:
    """Find deposit addresses among the transfers ``src → dst`` (values in coins, unix timestamps).

    ``hot_wallets`` maps address ids of known exchange wallets (from tags) to the exchange's name; addresses
    of one exchange are treated as one destination.
    """
    p = params or DepositParams()
    s, d = as_int64(src), as_int64(dst)
    v = np.asarray(values, dtype=np.float64)
    t = as_int64(timestamps)
    a = np.zeros(len(s), dtype=np.int64) if asset_ids is None else as_int64(asset_ids)
    names = sorted(set(hot_wallets.values()))
    hot_ids = np.array(sorted(hot_wallets), dtype=np.int64)
    hot_exchange = np.array([names.index(hot_wallets[int(h)]) for h in hot_ids], dtype=np.int64)

    def exchange_of(ids: Int64Array) -> Int64Array:
        if len(hot_ids) == 0:
            return np.full(len(ids), -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(hot_ids, ids), len(hot_ids) - 1)
        result: Int64Array = np.where(hot_ids[pos] == ids, hot_exchange[pos], -1)
        return result

    src_ex, dst_ex = exchange_of(s), exchange_of(d)
    fwd = (dst_ex >= 0) & (src_ex < 0) & (s >= 0)
    cand = np.unique(s[fwd])
    # an address forwarding to two different exchanges is not one exchange's deposit address
    pairs = np.unique(np.column_stack((s[fwd], dst_ex[fwd])), axis=0) if fwd.any() else np.empty((0, 2), np.int64)
    one_exchange = np.bincount(np.searchsorted(cand, pairs[:, 0]), minlength=len(cand)) == 1
    cand = cand[one_exchange]

    incoming = np.isin(d, cand) & (src_ex < 0)
    outgoing = np.isin(s, cand)
    n = max(int(max(s.max(initial=-1), d.max(initial=-1))) + 1, 1)
    n_assets = int(a.max(initial=0)) + 1

    # distinct senders (not the exchange itself)
    pairs_in = np.unique(d[incoming] * n + s[incoming])
    senders = np.bincount(np.searchsorted(cand, pairs_in // n), minlength=len(cand))

    # per (address, asset): received, forwarded to the hot wallet, sent elsewhere
    key_in = d[incoming] * n_assets + a[incoming]
    key_fwd = s[fwd] * n_assets + a[fwd]
    fwd_keys = np.unique(key_fwd)
    fwd_keys = fwd_keys[np.isin(fwd_keys // n_assets, cand)]
    received = _sum_by(key_in, v[incoming], fwd_keys)
    forwarded = _sum_by(key_fwd, v[fwd], fwd_keys)
    slot = np.searchsorted(cand, fwd_keys // n_assets)
    rec_total = np.bincount(slot, weights=received, minlength=len(cand))
    fwd_total = np.bincount(slot, weights=forwarded, minlength=len(cand))
    share_per_asset = np.divide(forwarded, received, out=np.zeros(len(fwd_keys)), where=received > 0)
    worst_share = np.full(len(cand), np.inf)
    np.minimum.at(worst_share, slot, share_per_asset)
    worst_share[np.isinf(worst_share)] = 0.0
    sent_total = np.bincount(np.searchsorted(cand, s[outgoing]), weights=v[outgoing], minlength=len(cand))
    # value sent to non-exchange addresses, in the assets it forwards (gas-top-up ETH is burnt, not sent)
    out_fwd_asset = outgoing & np.isin(s * n_assets + a, fwd_keys)
    other = out_fwd_asset & (dst_ex < 0)
    sent_other = np.bincount(np.searchsorted(cand, s[other]), weights=v[other], minlength=len(cand))
    other_share = np.divide(sent_other, sent_total, out=np.zeros(len(cand)), where=sent_total > 0)

    # forwarding delay: time since the latest receipt of the same asset before each forward
    group_in, gtime_in = key_in, t[incoming]
    order = np.lexsort((gtime_in, group_in))
    group_in, gtime_in = group_in[order], gtime_in[order]
    fkey, ftime = key_fwd, t[fwd]
    keep_f = np.isin(fkey // n_assets, cand)
    fkey, ftime = fkey[keep_f], ftime[keep_f]
    delay = np.full(len(fkey), np.inf)
    if len(group_in) and len(fkey):
        span = int(max(gtime_in.max(), ftime.max()) - min(gtime_in.min(), ftime.min())) + 1
        base = int(min(gtime_in.min(), ftime.min()))
        _, inv = np.unique(np.concatenate((group_in, fkey)), return_inverse=True)
        gi, gf = inv[: len(group_in)], inv[len(group_in) :]
        comb_in = gi * span + (gtime_in - base)
        comb_f = gf * span + (ftime - base)
        pos = np.searchsorted(comb_in, comb_f, side="right") - 1
        valid = pos >= 0
        valid[valid] &= gi[pos[valid]] == gf[valid]
        delay[valid] = (ftime[valid] - gtime_in[pos[valid]]).astype(np.float64)
    fslot = np.searchsorted(cand, fkey // n_assets)
    forwards = np.bincount(fslot, minlength=len(cand)).astype(np.int64)
    median_delay = np.full(len(cand), np.inf)
    if len(fslot):
        order = np.lexsort((delay, fslot))
        fs, dl = fslot[order], delay[order]
        starts = group_starts(fs)
        counts = np.diff(np.append(starts, len(fs)))
        median_delay[fs[starts]] = dl[starts + (counts - 1) // 2]

    ok = (
        (senders >= p.min_senders)
        & (worst_share >= p.min_forward_share)
        & (other_share <= p.max_other_share)
        & (median_delay <= p.max_delay)
        & (rec_total > 0)
    )
    fwd_share = np.divide(fwd_total, rec_total, out=np.zeros(len(cand)), where=rec_total > 0)
    confidence = np.where(
        ok,
        np.minimum(
            0.95,
            0.6
            + 0.1 * (senders >= 3)
            + 0.1 * (median_delay <= 3_600)
            + 0.1 * (worst_share >= 0.99)
            + 0.05 * (forwards >= 2),
        ),
        0.0,
    )
    ok &= confidence >= p.min_confidence
    # the hot wallet each deposit address forwards to (the first one, by id)
    first_hot = np.full(len(cand), -1, dtype=np.int64)
    fs_all = np.searchsorted(cand, s[fwd])
    in_cand = (
        (fs_all < len(cand)) & (cand[np.minimum(fs_all, max(len(cand) - 1, 0))] == s[fwd]) if len(cand) else fs_all < 0
    )
    hot_of = np.full(len(cand), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(hot_of, fs_all[in_cand], d[fwd][in_cand])
    first_hot[:] = np.where(hot_of < np.iinfo(np.int64).max, hot_of, -1)
    rows = np.flatnonzero(ok)
    return DepositResult(
        address_id=cand[rows],
        hot_wallet_id=first_hot[rows],
        exchange=[hot_wallets[int(h)] for h in first_hot[rows]],
        senders=senders[rows].astype(np.int64),
        forwards=forwards[rows],
        forward_share=fwd_share[rows],
        other_share=other_share[rows],
        median_delay=median_delay[rows],
        confidence=confidence[rows],
    )
