"""The shipped rule library as one more method of the world evaluation, on the model's very test set.

``chainsleuth monitor backtest`` measures the rules over a world's whole history against every labelled
customer. To put the library next to the models the question must be the same: of the customers scored in the
test snapshot (``snapshot_labels(onset, val_time, test_time, eligible)``: the already-known illicit customers
dropped, victims negative), which ones did the rules alert on in the test period ``(val_time, test_time]``?

- Only *active* rules run: shadow rules never raise an alert, so they cannot count for a detector.
- The batch engine gets the ledger cut at ``test_time`` (nothing later is passed in). Its windows only look
  back, so this changes no hit inside the period; it makes "no event after T" hold by construction.
- A customer's score is the number of distinct active rules that hit it in the period (for PR-AUC; ties are
  fine); it is alerted when at least one did (threshold 1, fixed in advance, so nothing is tuned on validation
  and nothing is tuned on the test labels either). The test labels stay sealed until the scores exist.
- Time: the task's times are whole seconds since the epoch (``ledger_edges`` truncates the ledger's
  microsecond timestamps), hits carry microseconds; a hit belongs to second ``timestamp // 1_000_000``, the
  same second its event has as an edge, so a hit and its edge fall into the same snapshot.
- Reference data comes from ``world_context``: the customer and account profiles of ``exchange/`` (static
  fields; the library reads creation dates, declared income, residence and nationality, none of which the
  simulator changes after an incident) and *direct* exposure from the world's TagPacks only (a withdrawal's
  destination, a deposit's senders). Funds that reach a customer through intermediaries or over the bridge
  are invisible here (the store run with a chain store sees them), so the exposure rules' recall is a lower
  bound of what the deployment gets. TagPacks carry one ``lastmod`` per pack, not per tag, so their tags are
  treated as known throughout the period.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from numpy.typing import NDArray

from chainsleuth.monitor.backtest import world_context
from chainsleuth.monitor.engine.batch import run_batch
from chainsleuth.monitor.engine.context import EngineContext, RuleHit
from chainsleuth.monitor.evaluation.accounts import AccountTask, score_report, snapshot_labels
from chainsleuth.monitor.evaluation.guard import SealedLabels
from chainsleuth.monitor.evaluation.metrics import mean_std
from chainsleuth.monitor.features.edges import FeatureError
from chainsleuth.monitor.rules.loader import load_rules
from chainsleuth.monitor.rules.model import RuleSet

MICROS = 1_000_000
ALERT_THRESHOLD = 1.0  # at least one active rule hit in the period


def active_rules(rules: RuleSet) -> RuleSet:
    """The rules that raise alerts; shadow rules are left out because their hits never reach a queue."""
    return RuleSet(tuple(rule for rule in rules if rule.mode == "active"), rules.lists)


def ledger_until(world_dir: Path, until: int) -> pa.Table:
    """The world's ledger events with a timestamp in a second ``<= until`` (the engine sees nothing later)."""
    path = world_dir / "exchange" / "ledger_events.parquet"
    if not path.is_file():
        raise FeatureError(f"{world_dir} is not a world export (needs exchange/ledger_events.parquet)")
    table = pq.read_table(path)
    micros = pc.cast(pc.cast(table.column("timestamp"), pa.timestamp("us")), pa.int64())
    return table.filter(pc.less(micros, (until + 1) * MICROS))


def hit_second(hit: RuleHit) -> int:
    """The whole second of a hit, as ``ledger_edges`` gives its event (truncated microseconds)."""
    return hit.timestamp // MICROS


def hits_in_period(hits: Sequence[RuleHit], since: int, until: int) -> dict[str, set[str]]:
    """customer id -> ids of the rules that hit it in ``(since, until]`` (hits without a customer are dropped:
    no customer can be alerted for them)."""
    out: dict[str, set[str]] = defaultdict(set)
    for hit in hits:
        if hit.customer_id is not None and since < hit_second(hit) <= until:
            out[hit.customer_id].add(hit.rule_id)
    return dict(out)


def library_hits(
    task: AccountTask, world_dir: Path, rules: RuleSet | None = None, context: EngineContext | None = None
) -> tuple[RuleSet, list[RuleHit]]:
    """The active rules of ``rules`` (default: the shipped library) and their hits on the ledger up to the test
    time (``context`` defaults to ``world_context``: profiles and direct TagPack exposure)."""
    library = active_rules(load_rules() if rules is None else rules)
    ctx = context if context is not None else world_context(world_dir)
    return library, run_batch(ledger_until(world_dir, task.test_time), library, ctx).hits


def scored_customers(task: AccountTask) -> tuple[NDArray[np.int64], list[str], NDArray[np.int64]]:
    """The test snapshot's node ids, their customer ids and labels: exactly the rows the models are scored on."""
    eligible = task.eligible if task.eligible is not None else np.ones(task.edges.n_nodes, dtype=bool)
    rows, y = snapshot_labels(task.onset, task.val_time, task.test_time, eligible)
    return rows, [str(task.edges.labels[i]) for i in rows], y


def rule_library_method(
    task: AccountTask,
    world_dir: Path,
    *,
    rules: RuleSet | None = None,
    context: EngineContext | None = None,
) -> dict[str, Any]:
    """The active rules of ``rules`` (default: the shipped library) scored on the task's test snapshot.

    Returns a ``methods`` entry shaped like the single-rule baseline's (one run, no seeds: rules have none) plus
    ``rules_fired`` (rule id -> scored customers it hit in the period) and the counts behind them.
    """
    library, hits = library_hits(task, world_dir, rules, context)
    rows, ids, y_test = scored_customers(task)
    sealed = SealedLabels(y_test)
    del y_test  # from here on the labels are read only through ``sealed``, after the scores are final
    period = hits_in_period(hits, task.val_time, task.test_time)
    score = np.array([float(len(period.get(c, ()))) for c in ids], dtype=np.float64)
    groups_all = list(task.groups) if task.groups else [None] * task.edges.n_nodes
    y = sealed.open(score, threshold_frozen=True)
    rep = score_report(y, score, ALERT_THRESHOLD, [groups_all[i] for i in rows], task.budget)
    fired: dict[str, int] = defaultdict(int)
    for customer in ids:
        for rule_id in period.get(customer, ()):
            fired[rule_id] += 1
    return {
        "runs": [rep],
        "summary": mean_std([rep]),
        "rule": f"hits >= 1 of {len(library)} active rules",
        "n_scored": len(ids),
        "active_rules": [rule.id for rule in library],
        "rules_fired": dict(sorted(fired.items())),
        "hits_in_period": sum(
            1 for h in hits if h.customer_id is not None and task.val_time < hit_second(h) <= task.test_time
        ),
        "exposure": "direct (world TagPacks) only",
    }
