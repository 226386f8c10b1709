"""Change-address heuristics: which output of a payment returns to the payer.

A typical wallet payment spends a few outputs and creates two: the payment and the *change* back to the payer.
Linking the change address to the inputs extends a cluster along the payer's later spends, but every heuristic
guesses, so each one is available on its own, carries its own confidence, is off by default for clustering and
is shown per transaction (``chainsleuth chain cluster change TX``).

A heuristic *fires* on a transaction only when exactly one output qualifies; ties are not guessed. It
considers only transactions with at least one input and two outputs with an address, and never CoinJoins.

=================  ==========================================================================================
``input_reuse``    the one output paid back to an address that is also an input (wallets without HD keys)
``one_time``       the one output whose address is first seen in this transaction and never receives again
                   (HD wallets draw change from a fresh key; payees hand out addresses that get reused)
``address_type``   the one output whose script type equals the (single) type of all inputs
``round_payment``  the one output that is *not* a round amount while every other output is (people pay round
                   sums; change absorbs the remainder)
``optimal_change`` the one output smaller than every input (otherwise the wallet would not have needed the
                   smallest input, BlockSci's "optimal change")
``peeling_chain``  of two outputs, the one spent by a transaction that again has one input and two outputs
                   (the next step of a peeling chain continues with the change)
=================  ==========================================================================================

``one_time`` and ``peeling_chain`` look *ahead* (at later receipts and spends), so their verdict on a
transaction can change as the chain grows; the others look only at the transaction itself. The default
confidences were measured as the precision of each heuristic on the simulator (see ``docs/clustering.md``) and
rounded down; pass your own to reflect your chain. BlockSci's locktime and legacy-script heuristics need
fields (lock_time, sequence, script versions) that the chain store does not keep.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from chainsleuth.chain.clustering.kernel import (
    Int64Array,
    as_int64,
    group_counts,
    group_starts,
    rows_in_groups,
    sorted_intersection,
)
from chainsleuth.chain.clustering.view import UtxoView
from chainsleuth.errors import InvalidInputError

Float64Array = npt.NDArray[np.float64]

HEURISTICS: tuple[str, ...] = (
    "input_reuse",
    "one_time",
    "address_type",
    "round_payment",
    "optimal_change",
    "peeling_chain",
)
LOOKAHEAD: frozenset[str] = frozenset({"one_time", "peeling_chain"})

#: Precision measured on simulated worlds, rounded down (docs/clustering.md); override per chain.
DEFAULT_CONFIDENCE: dict[str, float] = {
    "input_reuse": 0.95,
    "one_time": 0.55,
    "address_type": 0.9,
    "round_payment": 0.8,
    "optimal_change": 0.9,
    "peeling_chain": 0.8,
}

#: A value is "round" when it is a multiple of 10**ROUND_DIGITS base units (1e5 sat = 0.001 BTC).
ROUND_DIGITS = 5


def check_heuristics(names: Sequence[str]) -> list[str]:
    """Validate heuristic names (a user error names the known ones)."""
    unknown = [name for name in names if name not in HEURISTICS]
    if unknown:
        raise InvalidInputError(f"unknown change heuristic {unknown[0]!r}", known=", ".join(HEURISTICS))
    return list(dict.fromkeys(names))


@dataclass(frozen=True)
class ChangeResult:
    """Per heuristic, the change output it picked in each transaction where it fired.

    ``tx_ids``/``output_index``/``address_id``/``heuristic``/``confidence`` are parallel, one row per (tx,
    heuristic) that fired, sorted by tx. ``qualifying`` keeps, per heuristic, how many outputs qualified in
    every eligible transaction (``eligible_tx``), which is what explains a silence: 0 = nothing looked like
    change, 2+ = ambiguous.
    """

    tx_ids: Int64Array
    output_index: Int64Array
    address_id: Int64Array
    heuristic: Int64Array
    confidence: Float64Array
    heuristics: tuple[str, ...]
    eligible_tx: Int64Array
    qualifying: Mapping[str, Int64Array]
    first_input: Int64Array

    def __len__(self) -> int:
        return len(self.tx_ids)

    def for_tx(self, tx_id: int) -> list[dict[str, object]]:
        """Each requested heuristic's verdict on one transaction, fired or not, with the reason."""
        row = int(np.searchsorted(self.eligible_tx, tx_id))
        eligible = row < len(self.eligible_tx) and int(self.eligible_tx[row]) == tx_id
        fired = np.flatnonzero(self.tx_ids == tx_id)
        by_name = {HEURISTICS[int(self.heuristic[i])]: int(i) for i in fired}
        verdicts: list[dict[str, object]] = []
        for name in self.heuristics:
            if name in by_name:
                i = by_name[name]
                verdicts.append(
                    {
                        "heuristic": name,
                        "fired": True,
                        "output_index": int(self.output_index[i]),
                        "address_id": int(self.address_id[i]),
                        "confidence": float(self.confidence[i]),
                        "reason": "exactly one output qualifies",
                    }
                )
                continue
            if not eligible:
                reason = "not applicable: needs an input and two outputs with addresses, and no CoinJoin"
            else:
                count = int(self.qualifying[name][row])
                reason = "no output qualifies" if count == 0 else f"ambiguous: {count} outputs qualify"
            verdicts.append({"heuristic": name, "fired": False, "reason": reason})
        return verdicts

    def links(
        self, heuristics: Sequence[str] | None = None, min_confidence: float = 0.0
    ) -> tuple[Int64Array, Int64Array, int]:
        """Edges (change address → first input address) where the chosen heuristics agree.

        Heuristics below ``min_confidence`` are ignored. When the remaining ones pick different outputs of one
        transaction, that transaction gives no link (counted in the third return value): a conflict means at
        least one of them is wrong and we cannot tell which.
        """
        chosen = set(check_heuristics(heuristics if heuristics is not None else list(self.heuristics)))
        codes = np.array([HEURISTICS.index(name) for name in chosen], dtype=np.int64)
        keep = np.isin(self.heuristic, codes) & (self.confidence >= min_confidence)
        tx, addr = self.tx_ids[keep], self.address_id[keep]
        empty = np.empty(0, dtype=np.int64)
        if len(tx) == 0:
            return empty, empty, 0
        starts = group_starts(tx)
        lo = np.minimum.reduceat(addr, starts)
        hi = np.maximum.reduceat(addr, starts)
        agree = lo == hi
        txs = tx[starts]
        first = self.first_input[np.searchsorted(self.eligible_tx, txs)]
        src, dst = lo[agree], first[agree]
        return src, dst, int(np.count_nonzero(~agree))


def _per_tx(starts: Int64Array, flags: npt.NDArray[np.bool_]) -> Int64Array:
    result: Int64Array = np.add.reduceat(flags.astype(np.int64), starts) if len(starts) else np.empty(0, np.int64)
    return result


def _count_of(ids: Int64Array, counts: Int64Array, keys: Int64Array) -> Int64Array:
    """``counts`` of each key in the sorted ``ids`` (0 where the key is absent or negative)."""
    if len(ids) == 0:
        return np.zeros(len(keys), dtype=np.int64)
    pos = np.minimum(np.searchsorted(ids, keys), len(ids) - 1)
    found = (keys >= 0) & (ids[pos] == keys)
    result: Int64Array = np.where(found, counts[pos], 0).astype(np.int64)
    return result


def _is_round(values: Int64Array, digits: int) -> npt.NDArray[np.bool_]:
    result: npt.NDArray[np.bool_] = (values % (10**digits) == 0) & (values > 0)
    return result


def change_candidates(
    view: UtxoView,
    heuristics: Sequence[str] | None = None,
    *,
    tx_ids: npt.ArrayLike | None = None,
    exclude_tx: npt.ArrayLike | None = None,
    confidence: Mapping[str, float] | None = None,
    round_digits: int = ROUND_DIGITS,
) -> ChangeResult:
    """Run the chosen change heuristics (default: all) on ``view``'s transactions (or only ``tx_ids``).

    ``exclude_tx`` are skipped (pass the detected CoinJoins). Everything is vectorised over the outputs of the
    eligible transactions; the look-ahead heuristics use the whole view, so give them a full one.
    """
    names = check_heuristics(heuristics if heuristics is not None else HEURISTICS)
    conf = {**DEFAULT_CONFIDENCE, **(confidence or {})}
    has_addr = view.out_address >= 0
    out_rows = np.flatnonzero(has_addr)
    otx = view.out_tx[out_rows]
    in_ids, in_n = group_counts(view.in_tx)
    out_ids, out_n = group_counts(otx)
    eligible = sorted_intersection(in_ids, out_ids[out_n >= 2])
    if tx_ids is not None:
        eligible = np.intersect1d(eligible, as_int64(tx_ids)).astype(np.int64)
    if exclude_tx is not None:
        eligible = np.setdiff1d(eligible, as_int64(exclude_tx)).astype(np.int64)

    rows = out_rows[rows_in_groups(otx, eligible)]
    tx = view.out_tx[rows]
    addr = view.out_address[rows]
    value = view.out_value[rows]
    starts = group_starts(tx)
    lengths = np.diff(np.append(starts, len(tx)))
    slot = np.repeat(np.arange(len(eligible)), lengths)  # eligible row of each output

    # per-transaction input facts
    in_mask = rows_in_groups(view.in_tx, eligible)
    itx, iaddr, ival = view.in_tx[in_mask], view.in_address[in_mask], view.in_value[in_mask]
    istarts = group_starts(itx)
    first_input = iaddr[istarts] if len(istarts) else np.empty(0, np.int64)
    min_in = np.minimum.reduceat(ival, istarts) if len(istarts) else np.empty(0, np.int64)
    itype = view.address_type[np.maximum(iaddr, 0)] if len(view.address_type) else np.full(len(iaddr), -1)
    itype = np.where(iaddr >= 0, itype, -1)
    tmin = np.minimum.reduceat(itype, istarts) if len(istarts) else np.empty(0, np.int64)
    tmax = np.maximum.reduceat(itype, istarts) if len(istarts) else np.empty(0, np.int64)
    in_type = np.where((tmin == tmax) & (tmin >= 0), tmin, -2)

    n_addr = max(view.n_addresses, int(addr.max(initial=-1)) + 1, int(iaddr.max(initial=-1)) + 1)
    in_keys = np.unique(itx * n_addr + np.maximum(iaddr, 0))
    reuse = np.isin(tx * n_addr + addr, in_keys)

    qualifies: dict[str, npt.NDArray[np.bool_]] = {}
    if "input_reuse" in names:
        qualifies["input_reuse"] = reuse
    if "one_time" in names:
        all_addr = view.out_address[has_addr]
        receipts = np.bincount(all_addr, minlength=n_addr)
        order = np.lexsort((view.out_tx[has_addr], all_addr))
        first_tx = np.full(n_addr, -1, dtype=np.int64)
        addr_sorted = all_addr[order]
        first_rows = group_starts(addr_sorted)
        first_tx[addr_sorted[first_rows]] = view.out_tx[has_addr][order][first_rows]
        qualifies["one_time"] = (first_tx[addr] == tx) & (receipts[addr] == 1) & ~reuse
    if "address_type" in names:
        otype = view.address_type[addr] if len(view.address_type) else np.full(len(addr), -1)
        qualifies["address_type"] = otype == in_type[slot]
    if "round_payment" in names:
        not_round = ~_is_round(value, round_digits)
        round_count = lengths - _per_tx(starts, not_round)
        # change = the only non-round output, and every other output is round
        qualifies["round_payment"] = not_round & (round_count[slot] == lengths[slot] - 1)
    if "optimal_change" in names:
        qualifies["optimal_change"] = value < min_in[slot]
    if "peeling_chain" in names:
        spender = view.out_spent_by[rows]
        next_step = (_count_of(in_ids, in_n, spender) == 1) & (_count_of(out_ids, out_n, spender) == 2)
        qualifies["peeling_chain"] = next_step & (lengths[slot] == 2)

    out_tx_l: list[Int64Array] = []
    out_idx_l: list[Int64Array] = []
    out_addr_l: list[Int64Array] = []
    out_h_l: list[Int64Array] = []
    counts: dict[str, Int64Array] = {}
    for name in names:
        flags = qualifies[name]
        per_tx = _per_tx(starts, flags)
        counts[name] = per_tx
        pick = flags & (per_tx[slot] == 1)
        out_tx_l.append(tx[pick])
        out_idx_l.append(view.out_index[rows][pick])
        out_addr_l.append(addr[pick])
        out_h_l.append(np.full(int(np.count_nonzero(pick)), HEURISTICS.index(name), dtype=np.int64))
    all_tx = np.concatenate(out_tx_l) if out_tx_l else np.empty(0, np.int64)
    order = np.argsort(all_tx, kind="stable")
    heuristic = (np.concatenate(out_h_l) if out_h_l else np.empty(0, np.int64))[order]
    conf_table = np.array([conf[name] for name in HEURISTICS], dtype=np.float64)
    return ChangeResult(
        tx_ids=all_tx[order],
        output_index=(np.concatenate(out_idx_l) if out_idx_l else np.empty(0, np.int64))[order],
        address_id=(np.concatenate(out_addr_l) if out_addr_l else np.empty(0, np.int64))[order],
        heuristic=heuristic,
        confidence=conf_table[heuristic],
        heuristics=tuple(names),
        eligible_tx=eligible,
        qualifying=counts,
        first_input=as_int64(first_input),
    )
