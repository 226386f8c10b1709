"""Evaluation on the world simulator's ground truth: recall per typology, false positives per 1,000 customers.

The exchange ledger becomes a customer-level transfer graph (amounts in USD, time in seconds; the mapping is
``chainsleuth.monitor.models.ledger.ledger_graph``, shared with the product's detector):

- ``internal_transfer``: customer -> counterparty customer;
- ``withdrawal``: customer -> ``address:<chain>:<destination>`` (a destination shared by customers shows up as fan-in);
- ``deposit``: ``deposit_address:<address>`` -> customer (the ledger knows our deposit address, not the sender);
- ``fiat_deposit`` / ``fiat_withdrawal``: ``bank:<reference>`` <-> customer (one bank account behind many
  customers is a red flag).

Labels come from ``ground_truth/customer_labels.csv``: a customer is illicit from ``first_illicit_at`` unless
its role is ``victim``. Only customers are scored. The report keeps one entry per detector under ``methods``, all
scored on the same test snapshot with the same metrics: the single-threshold baseline, the LightGBM models and
the shipped rule library (``rule_library``, run by the batch engine over the ledger; see ``world_rules``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from chainsleuth.monitor.evaluation.accounts import AccountTask, evaluate_accounts
from chainsleuth.monitor.evaluation.world_rules import rule_library_method
from chainsleuth.monitor.features.bulk import FeatureConfig
from chainsleuth.monitor.features.edges import EdgeList, FeatureError
from chainsleuth.monitor.models.ledger import LEDGER_CONFIG, read_labels, world_ledger
from chainsleuth.monitor.models.lgbm import TrainConfig
from chainsleuth.monitor.rules.model import RuleSet

WORLD_CONFIG = LEDGER_CONFIG
WEEK = 7 * 86_400


def ledger_edges(world_dir: Path) -> tuple[EdgeList, list[str]]:
    """The customer-level transfer graph of a world's ledger, and the list of customer ids.

    The mapping itself is ``chainsleuth.monitor.models.ledger.ledger_graph``, shared with the product's detector
    (which feeds it the relational store's events), so the evaluation measures the graph production scores.
    """
    graph = world_ledger(world_dir)
    return graph.edges, graph.customers


def world_labels(world_dir: Path) -> dict[str, tuple[float, str]]:
    """customer id -> (onset in unix seconds, typology) for illicit customers (earliest incident wins; victims
    are not illicit): the world's ``ground_truth/customer_labels.csv`` read as the detector reads confirmed cases."""
    return read_labels(world_dir / "ground_truth" / "customer_labels.csv")


def world_task(
    world_dir: Path, *, config: FeatureConfig = WORLD_CONFIG, budget: float = 0.01, score_every: int | None = WEEK
) -> AccountTask:
    """The customer-level account task on a world; the validation and test periods are scored weekly, as the
    detector runs in the product (``monitor/models/backfill.py``), and the rule library sees every event."""
    edges, customers = ledger_edges(world_dir)
    labels = world_labels(world_dir)
    ids = [str(x) for x in edges.labels]
    onset = np.array([labels[i][0] if i in labels else np.nan for i in ids], dtype=np.float64)
    groups = [labels[i][1] if i in labels else None for i in ids]
    cust = set(customers)
    eligible = np.array([i in cust for i in ids])
    t0, t1 = int(edges.time.min()), int(edges.time.max())
    times = _split_times(onset[eligible], t0, t1)
    return AccountTask(
        "world", edges, onset, tuple(times[:3]), times[3], times[4], t0 - 1, config, groups, eligible, budget,
        score_every=score_every,
    )  # fmt: skip


def _split_times(onset: np.ndarray, t0: int, t1: int) -> list[int]:
    """Snapshot times at the 20/40/60/80% quantiles of the illicit onsets, then the end of the data.

    A simulated world plants its incidents unevenly in time, so equal calendar periods can leave the test
    period without a single positive. Cutting at onset quantiles keeps positives in every period; the cut
    points are a property of the data set (like the published Elliptic steps 34/35), not tuned on any model.
    """
    on = np.sort(onset[np.isfinite(onset)])
    if on.size < 5:
        raise FeatureError(f"the world has {on.size} illicit customers: too few for a time split (need 5)")
    cuts = [int(np.quantile(on, q)) for q in (0.2, 0.4, 0.6, 0.8)]
    times = sorted(set([max(t0, c) for c in cuts] + [max(t1, cuts[-1] + 1)]))
    if len(times) < 5:
        raise FeatureError("illicit onsets are too concentrated in time for five snapshots")
    return times


def evaluate_world(
    world_dir: Path,
    *,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    train_config: TrainConfig | None = None,
    rules: RuleSet | None = None,
) -> dict[str, Any]:
    """Models, the simple threshold rule and the rule library on the world, all on one test snapshot.

    Per-typology recall and false positives per 1,000 customers. ``rules`` defaults to the shipped library
    (its active rules count; exposure is direct only, from the world's TagPacks: see ``world_rules``);
    ``train_config`` exists so tests can train small models.
    """
    task = world_task(world_dir)
    methods = ("rules", "lgbm_raw", "lgbm_graph", "lgbm_profile")
    report = evaluate_accounts(task, seeds=seeds, methods=methods, train_config=train_config)
    report["methods"]["rule_library"] = rule_library_method(task, world_dir, rules=rules)
    report["note"] = (
        "fp_per_1000 = false alerts per 1,000 customers scored in the test period. Every method is scored on "
        "the same test customers. rule_library = the active rules of the shipped library (batch engine, ledger "
        "up to the test time, direct TagPack exposure only); a customer is alerted when at least one rule hits "
        "it in the test period, its score (for PR-AUC) is the number of distinct rules that do; rules_fired "
        "counts the test customers each rule hit in that period"
    )
    return report
