"""The rule library as a method of the world evaluation: the models' test customers, test-period hits only.

The expected values are computed here independently of ``world_rules``: hits from a batch run over the *whole*
ledger, bounded in microseconds, and (for a hand-written rule) straight from the ledger's Parquet file.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from chainsleuth.monitor.backtest import world_context
from chainsleuth.monitor.engine.batch import run_batch
from chainsleuth.monitor.engine.context import RuleHit
from chainsleuth.monitor.evaluation.accounts import AccountTask
from chainsleuth.monitor.evaluation.report import to_markdown
from chainsleuth.monitor.evaluation.world import evaluate_world, world_labels, world_task
from chainsleuth.monitor.evaluation.world_rules import (
    hits_in_period,
    library_hits,
    rule_library_method,
    scored_customers,
)
from chainsleuth.monitor.models.lgbm import TrainConfig
from chainsleuth.monitor.rules.loader import load_rules
from chainsleuth.monitor.rules.model import RuleSet

FAST = TrainConfig(num_boost_round=80, early_stopping_rounds=15, imbalance="none")
US = 1_000_000

CUSTOM_RULES = """
rules:
  - id: big-withdrawal
    version: 1
    title: Any withdrawal of USD 1,000 or more
    severity: low
    scope: [withdrawal]
    condition: usd_value >= 1000
    explain: "withdrawal of USD {usd_value}"
  - id: any-deposit
    version: 1
    title: Every deposit (shadow, so it must never count)
    severity: low
    mode: shadow
    scope: [deposit, fiat_deposit]
    condition: usd_value >= 0
    explain: "deposit"
"""


@pytest.fixture(scope="module")
def task(tiny_world: Path) -> AccountTask:
    return world_task(tiny_world)


@pytest.fixture(scope="module")
def full_hits(tiny_world: Path) -> list[RuleHit]:
    """The active library's hits over the whole ledger (no cut at the test time)."""
    library = load_rules()
    active = RuleSet(tuple(rule for rule in library if rule.mode == "active"), library.lists)
    return run_batch(tiny_world, active, world_context(tiny_world)).hits


def _in_period(hits: list[RuleHit], task: AccountTask) -> set[str]:
    """Customers hit in (val_time, test_time] seconds, i.e. in [val_time + 1 s, test_time + 1 s) microseconds."""
    lo, hi = (task.val_time + 1) * US, (task.test_time + 1) * US
    return {h.customer_id for h in hits if h.customer_id is not None and lo <= h.timestamp < hi}


def test_world_report_has_the_rule_library_on_the_models_test_set(tiny_world: Path) -> None:
    report = evaluate_world(tiny_world, seeds=(0,), train_config=FAST)
    entry = report["methods"]["rule_library"]
    assert entry["n_scored"] == report["data"]["test"]["n"]
    assert len(entry["runs"]) == 1
    assert set(entry["runs"][0]) == set(report["methods"]["rules"]["runs"][0]) - {"rule"}
    assert set(entry["summary"]) == set(report["methods"]["lgbm_graph"]["summary"]) - {"threshold"}
    assert "high-risk-nationality-large-deposit" not in entry["active_rules"]  # the library's shadow rule
    # recall per typology: one key per typology among the test period's positives, from the labels file
    task = world_task(tiny_world)
    labels = world_labels(tiny_world)
    _, ids, y = scored_customers(task)
    typologies = {labels[c][1] for c, yy in zip(ids, y, strict=True) if yy}
    assert typologies
    assert set(entry["summary"]["recall_by_group"]) == typologies
    assert "belong under" not in report["note"]
    assert "rule_library" in report["note"]
    assert "| rule_library (`hits >= 1 of 17 active rules`) |" in to_markdown(report)


def test_cutting_the_ledger_at_the_test_time_changes_no_earlier_hit(
    tiny_world: Path, task: AccountTask, full_hits: list[RuleHit]
) -> None:
    """The engine gets no event after the test time, and losing them changes no hit before it (windows look back).

    The world's own test time is its last transfer, so the cut is moved to the second of the middle hit of the
    test period here, to make it drop something."""
    seconds = sorted(h.timestamp // US for h in full_hits if task.val_time < h.timestamp // US <= task.test_time)
    cut = dataclasses.replace(task, test_time=seconds[len(seconds) // 2])
    _, hits = library_hits(cut, tiny_world)
    before = [(h.rule_id, h.event_id, h.timestamp) for h in full_hits if h.timestamp < (cut.test_time + 1) * US]
    assert [(h.rule_id, h.event_id, h.timestamp) for h in hits] == before
    assert len(before) < len(full_hits)  # the cut did drop later hits


def test_only_hits_in_the_test_period_alert(tiny_world: Path, task: AccountTask, full_hits: list[RuleHit]) -> None:
    _, ids, y = scored_customers(task)
    in_period = _in_period(full_hits, task)
    early = {h.customer_id for h in full_hits if h.customer_id and h.timestamp < (task.val_time + 1) * US}
    scored = set(ids)
    hit_now = scored & in_period
    only_before = (scored & early) - in_period
    assert hit_now
    assert only_before

    _, hits = library_hits(task, tiny_world)
    period = hits_in_period(hits, task.val_time, task.test_time)
    assert all(len(period[c]) >= 1 for c in hit_now)
    assert not any(c in period for c in only_before)

    entry = rule_library_method(task, tiny_world)
    rep = entry["runs"][0]
    negatives = {c for c, yy in zip(ids, y, strict=True) if not yy}
    positives = scored - negatives
    assert rep["alerts"] == len(hit_now)
    assert rep["fp_per_1000"] == pytest.approx(1000.0 * len(hit_now & negatives) / len(ids))
    assert rep["recall"] == pytest.approx(len(hit_now & positives) / len(positives))
    for rule_id, customers in entry["rules_fired"].items():
        lo, hi = (task.val_time + 1) * US, (task.test_time + 1) * US
        expected = {h.customer_id for h in full_hits if h.rule_id == rule_id and lo <= h.timestamp < hi} & scored
        assert customers == len(expected) > 0


def _hit(customer: str | None, micros: int, rule_id: str = "r") -> RuleHit:
    return RuleHit(rule_id, 1, "h", "active", "low", f"E{micros}", micros, "withdrawal", "customer",
                   customer or "-", customer, None, {}, (), "")  # fmt: skip


def test_period_bounds_follow_the_snapshot_seconds() -> None:
    """A hit belongs to its event's second: the validation second itself is not in the test period, the test
    second is, whatever the microseconds."""
    val, test = 1_000, 2_000
    hits = [
        _hit("at_val", val * US),
        _hit("at_val_late", val * US + 999_999),
        _hit("after_val", (val + 1) * US, "a"),
        _hit("after_val", (val + 5) * US, "b"),
        _hit("after_val", (val + 6) * US, "b"),
        _hit("at_test_late", test * US + 999_999),
        _hit("after_test", (test + 1) * US),
        _hit(None, (val + 10) * US),
    ]
    assert hits_in_period(hits, val, test) == {"after_val": {"a", "b"}, "at_test_late": {"r"}}


def test_custom_rules_shadow_ignored_and_false_positives_counted_by_hand(
    tiny_world: Path, task: AccountTask, tmp_path: Path
) -> None:
    rule_file = tmp_path / "custom_rules.yaml"
    rule_file.write_text(CUSTOM_RULES, encoding="utf-8")
    entry = rule_library_method(task, tiny_world, rules=load_rules([rule_file]))
    assert entry["active_rules"] == ["big-withdrawal"]
    assert set(entry["rules_fired"]) <= {"big-withdrawal"}

    ledger = pq.read_table(tiny_world / "exchange" / "ledger_events.parquet")
    secs = pc.divide(pc.cast(pc.cast(ledger.column("timestamp"), pa.timestamp("us")), pa.int64()), US)
    mask = pc.and_(
        pc.and_(
            pc.equal(ledger.column("event_type"), "withdrawal"), pc.greater_equal(ledger.column("usd_value"), 1000)
        ),
        pc.and_(pc.greater(secs, task.val_time), pc.less_equal(secs, task.test_time)),
    )
    alerted = set(ledger.filter(mask).column("customer_id").to_pylist())
    _, ids, y = scored_customers(task)
    negatives = {c for c, yy in zip(ids, y, strict=True) if not yy}
    false_alerts = alerted & negatives
    assert false_alerts  # non-trivial: this rule does raise false alerts
    rep = entry["runs"][0]
    assert entry["rules_fired"]["big-withdrawal"] == len(alerted & set(ids)) == rep["alerts"]
    assert rep["fp_per_1000"] == pytest.approx(1000.0 * len(false_alerts) / len(ids))
    assert rep["fp_per_1000"] == entry["summary"]["fp_per_1000"]["mean"]
    positives = set(ids) - negatives
    assert rep["precision"] == pytest.approx(len(alerted & positives) / len(alerted & set(ids)))
    assert not math.isnan(rep["pr_auc"])
    # the rows are the test snapshot's: every scored id is an eligible customer not yet known as illicit
    labels = world_labels(tiny_world)
    known = {c for c, (onset, _) in labels.items() if onset <= task.val_time}
    assert not known & set(ids)
