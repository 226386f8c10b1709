"""Each change heuristic on crafted transactions where it must fire and where it must stay silent."""

from __future__ import annotations

import pytest

from chainsleuth.chain.clustering.change import HEURISTICS, change_candidates
from chainsleuth.errors import InvalidInputError

from .builders import P2PKH, P2SH, Tx, view_of

D = 1_000_000


def fired(txs: list[Tx], heuristic: str, tx_id: int, types: dict[int, int] | None = None) -> int | None:
    """The output index ``heuristic`` picks as change in ``tx_id`` (None if it stays silent)."""
    result = change_candidates(view_of(txs, types), [heuristic])
    verdict = result.for_tx(tx_id)[0]
    return int(str(verdict["output_index"])) if verdict["fired"] else None


def test_input_reuse() -> None:
    assert fired([Tx(1, [(10, 5 * D)], [(11, 2 * D), (10, 3 * D - 500)])], "input_reuse", 1) == 1
    assert fired([Tx(1, [(10, 5 * D)], [(11, 2 * D), (12, 3 * D - 500)])], "input_reuse", 1) is None


def test_one_time_change() -> None:
    funding = Tx(0, [(9, 9 * D)], [(10, 5 * D), (11, D), (13, D)])  # 11 and 13 are known before tx 1
    payment = Tx(1, [(10, 5 * D)], [(11, 2 * D), (12, 3 * D - 500)])
    assert fired([funding, payment], "one_time", 1) == 1
    both_fresh = Tx(1, [(10, 5 * D)], [(14, 2 * D), (12, 3 * D - 500)])
    assert fired([funding, both_fresh], "one_time", 1) is None
    reused_later = Tx(2, [(13, D)], [(12, D - 500), (15, 1)])  # 12 receives again: not one-time
    assert fired([funding, payment, reused_later], "one_time", 1) is None


def test_address_type_match() -> None:
    types = {10: P2PKH, 11: P2SH, 12: P2PKH}
    tx = Tx(1, [(10, 5 * D)], [(11, 2 * D), (12, 3 * D - 500)])
    assert fired([tx], "address_type", 1, types) == 1
    same = {10: P2PKH, 11: P2PKH, 12: P2PKH}
    assert fired([tx], "address_type", 1, same) is None  # both outputs match
    mixed_inputs = Tx(1, [(10, 5 * D), (13, D)], [(11, 2 * D), (12, 4 * D - 500)])
    assert fired([mixed_inputs], "address_type", 1, {**types, 13: P2SH}) is None


def test_round_payment() -> None:
    tx = Tx(1, [(10, 5 * D)], [(11, 1_234_567), (12, 2_000_000)])
    assert fired([tx], "round_payment", 1) == 0
    neither = Tx(1, [(10, 5 * D)], [(11, 1_234_567), (12, 2_345_678)])
    assert fired([neither], "round_payment", 1) is None
    both = Tx(1, [(10, 5 * D)], [(11, 1_000_000), (12, 2_000_000)])
    assert fired([both], "round_payment", 1) is None


def test_optimal_change() -> None:
    tx = Tx(1, [(10, 5 * D), (11, 3 * D)], [(12, 6 * D), (13, 19 * D // 10)])
    assert fired([tx], "optimal_change", 1) == 1
    no_small = Tx(1, [(10, 5 * D), (11, 3 * D)], [(12, 4 * D), (13, 39 * D // 10)])
    assert fired([no_small], "optimal_change", 1) is None
    one_input = Tx(1, [(10, 5 * D)], [(12, 2 * D), (13, 29 * D // 10)])  # both smaller: ambiguous
    assert fired([one_input], "optimal_change", 1) is None


def test_peeling_chain() -> None:
    peel = Tx(1, [(10, 10 * D)], [(20, D), (21, 9 * D - 500)])
    next_step = Tx(2, [(21, 9 * D - 500)], [(22, D), (23, 8 * D - 1000)], spends=[(1, 1)])
    merchant = Tx(3, [(20, D), (30, D)], [(31, 2 * D - 500)], spends=[(1, 0), (-1, -1)])
    assert fired([peel, next_step, merchant], "peeling_chain", 1) == 1
    both_peel = Tx(3, [(20, D)], [(31, D // 2), (32, D // 2 - 500)], spends=[(1, 0)])
    assert fired([peel, next_step, both_peel], "peeling_chain", 1) is None


def test_coinjoins_and_single_output_transactions_are_not_examined() -> None:
    coinjoin = Tx(1, [(10 + i, D + 500) for i in range(5)], [(20 + i, D) for i in range(5)] + [(10, 400)])
    sweep = Tx(2, [(30, D), (31, D)], [(32, 2 * D - 500)])
    result = change_candidates(view_of([coinjoin, sweep]), exclude_tx=[1])
    assert len(result) == 0
    reasons = {str(v["reason"]) for v in result.for_tx(1)} | {str(v["reason"]) for v in result.for_tx(2)}
    assert all(reason.startswith("not applicable") for reason in reasons)


def test_every_heuristic_reports_a_verdict_and_links_skip_conflicts() -> None:
    types = {10: P2PKH, 11: P2PKH, 12: P2SH}
    # address_type says output 0 (P2PKH like the input); round_payment says output 1 (the non-round one)
    tx = Tx(1, [(10, 5 * D)], [(11, 2_000_000), (12, 2_345_678)])
    result = change_candidates(view_of([tx], types))
    verdicts = {str(v["heuristic"]): v for v in result.for_tx(1)}
    assert set(verdicts) == set(HEURISTICS)
    assert verdicts["address_type"]["output_index"] == 0
    assert verdicts["round_payment"]["output_index"] == 1
    assert str(verdicts["optimal_change"]["reason"]).startswith("ambiguous")
    src, dst, conflicts = result.links(["address_type", "round_payment"])
    assert (len(src), conflicts) == (0, 1)
    src, dst, conflicts = result.links(["address_type"])
    assert (src.tolist(), dst.tolist(), conflicts) == ([11], [10], 0)
    src, _, _ = result.links(["address_type"], min_confidence=0.99)
    assert len(src) == 0


def test_unknown_heuristic_is_a_clear_error() -> None:
    with pytest.raises(InvalidInputError, match="unknown change heuristic"):
        change_candidates(view_of([]), ["locktime"])
