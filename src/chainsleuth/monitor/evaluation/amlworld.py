"""IBM AMLworld (Altman et al. 2023): loader for the published files and the edge-classification evaluation.

Transactions CSV (e.g. ``HI-Small_Trans.csv``), 11 columns with a header whose ``Account`` appears twice:
``Timestamp,From Bank,Account,To Bank,Account,Amount Received,Receiving Currency,Amount Paid,Payment Currency,
Payment Format,Is Laundering``; timestamps look like ``2022/09/01 00:20``. Columns are therefore read by position,
never by name. Accounts are identified by (bank, account).

Patterns file (e.g. ``HI-Small_Patterns.txt``): blocks of transaction lines in the same 11-column format,
opened by ``BEGIN LAUNDERING ATTEMPT - <PATTERN>`` (``FAN-OUT``, ``CYCLE: Max 5 hops``, ...) and closed by
``END LAUNDERING ATTEMPT``; each laundering transaction is matched to its block's pattern.

Protocol (as published): transactions sorted by time, the first 60% train, the next 20% validation, the last 20%
test; minority-class (laundering) F1 at the threshold chosen on validation. Published: GFP + gradient boosting
reaches minority F1 up to about 0.76 on HI-Small.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from chainsleuth.monitor.evaluation.gfp import gfp_edge_features
from chainsleuth.monitor.evaluation.guard import SealedLabels
from chainsleuth.monitor.evaluation.metrics import f1_at, mean_std, pr_auc, recall_at_budget, recall_by_group
from chainsleuth.monitor.features.bulk import FeatureConfig, edge_features
from chainsleuth.monitor.features.edge_profile import edge_profile_features, edge_profile_names
from chainsleuth.monitor.features.edges import EdgeList, FeatureError, FloatArray
from chainsleuth.monitor.models.lgbm import TrainConfig, train_model

HEADER = [
    "Timestamp", "From Bank", "Account", "To Bank", "Account", "Amount Received", "Receiving Currency",
    "Amount Paid", "Payment Currency", "Payment Format", "Is Laundering",
]  # fmt: skip
AMLWORLD_CONFIG = FeatureConfig(windows=(86_400, 7 * 86_400), pattern_window=86_400, fast_window=86_400)
_BEGIN = re.compile(r"BEGIN LAUNDERING ATTEMPT\s*-\s*(.+)")


@dataclass(frozen=True)
class AmlworldData:
    edges: EdgeList  # sorted by time; edges.order maps to file rows
    label: NDArray[np.int64]  # per sorted edge
    pattern: list[str | None]  # per sorted edge
    raw: FloatArray  # per sorted edge: amount received, amount paid, currencies, format (codes), hour
    raw_names: list[str]


def _ts(text: str) -> int:
    return int(dt.datetime.strptime(text.strip(), "%Y/%m/%d %H:%M").replace(tzinfo=dt.UTC).timestamp())


def _key(row: Sequence[str]) -> tuple[str, ...]:
    return tuple(c.strip() for c in row[:10])


def load_patterns(path: Path) -> dict[tuple[str, ...], str]:
    """Transaction (first 10 columns) -> pattern name, from an AMLworld ``*_Patterns.txt`` file."""
    out: dict[tuple[str, ...], str] = {}
    current: str | None = None
    with path.open(newline="") as fh:
        for n, line in enumerate(fh, 1):
            text = line.strip()
            if not text:
                continue
            m = _BEGIN.match(text)
            if m:
                current = m.group(1).split(":")[0].strip().upper()
            elif text.startswith("END LAUNDERING ATTEMPT"):
                current = None
            elif current is None:
                raise FeatureError(f"{path}:{n}: transaction line outside a BEGIN/END LAUNDERING ATTEMPT block")
            else:
                row = next(csv.reader([text]))
                if len(row) != 11:
                    raise FeatureError(f"{path}:{n}: expected 11 columns, got {len(row)}")
                out[_key(row)] = current
    return out


def load_amlworld(transactions: Path, patterns: Path | None = None) -> AmlworldData:
    with transactions.open(newline="") as fh:
        reader = csv.reader(fh)
        header = [h.strip() for h in next(reader, [])]
        if header != HEADER:
            raise FeatureError(f"{transactions}: expected the AMLworld header {','.join(HEADER)}")
        rows = [r for r in reader if r]
    for i, r in enumerate(rows, 2):
        if len(r) != 11:
            raise FeatureError(f"{transactions}:{i}: expected 11 columns, got {len(r)}")
    src = np.array([f"{r[1].strip()}:{r[2].strip()}" for r in rows], dtype=object)
    dst = np.array([f"{r[3].strip()}:{r[4].strip()}" for r in rows], dtype=object)
    try:
        times = np.array([_ts(r[0]) for r in rows], dtype=np.int64)
        paid = np.array([float(r[7]) for r in rows])
        received = np.array([float(r[5]) for r in rows])
        label = np.array([int(r[10]) for r in rows], dtype=np.int64)
    except ValueError as err:
        raise FeatureError(f"{transactions}: bad value: {err}") from err
    edges = EdgeList.from_arrays(src, dst, paid, times)
    codes: list[NDArray[np.float64]] = []
    for col in (6, 8, 9):
        _, inv = np.unique(np.array([r[col].strip() for r in rows], dtype=object), return_inverse=True)
        codes.append(inv.astype(np.float64))
    hour = ((times // 3600) % 24).astype(np.float64)
    raw = np.column_stack([received, paid, *codes, hour, (received != paid).astype(np.float64)])[edges.order]
    names = ["amount_received", "amount_paid", "receiving_currency", "payment_currency", "payment_format"]
    names += ["hour", "currency_exchange"]
    pat_of = load_patterns(patterns) if patterns is not None else {}
    pattern = [pat_of.get(_key(rows[i])) for i in edges.order]
    return AmlworldData(edges, label[edges.order], pattern, raw, names)


def find_amlworld_files(directory: Path) -> tuple[Path, Path | None]:
    trans = sorted(directory.glob("*_Trans.csv")) or sorted(directory.glob("*.csv"))
    if not trans:
        raise FeatureError(f"no AMLworld transactions CSV (*_Trans.csv) in {directory}")
    pats = sorted(directory.glob(trans[0].name.replace("_Trans.csv", "_Patterns.txt"))) or sorted(
        directory.glob("*_Patterns.txt")
    )
    return trans[0], (pats[0] if pats else None)


def evaluate_amlworld(
    data: AmlworldData,
    *,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    config: FeatureConfig = AMLWORLD_CONFIG,
    budget: float = 0.01,
) -> dict[str, Any]:
    """LightGBM on raw columns; raw plus lifetime habits (profile); raw plus all our edge features (graph); raw
    plus GFP's (if snapml); 60/20/20 split by time."""
    e = data.edges
    n = e.n_edges
    a, b = int(0.6 * n), int(0.8 * n)
    ours = edge_features(e, config)
    habits, habit_names = edge_profile_features(e), edge_profile_names()
    blocks: dict[str, tuple[list[str], FloatArray]] = {
        "lgbm_raw": (data.raw_names, data.raw),
        # the sender's and receiver's lifetime habits as of each transfer (the drift-robust set, as for accounts)
        "lgbm_profile": (data.raw_names + habit_names, np.column_stack([data.raw, habits])),
        "lgbm_graph": (
            data.raw_names + ours.names + habit_names,
            np.column_stack([data.raw, ours.values, habits]),
        ),
    }
    gfp = gfp_edge_features(e, config.pattern_window)
    methods: dict[str, Any] = {}
    if gfp is not None:
        names = data.raw_names + [f"gfp_{j}" for j in range(gfp.shape[1])]
        blocks["lgbm_gfp"] = (names, np.column_stack([data.raw, gfp]))
    else:
        methods["lgbm_gfp"] = {"skipped": "snapml (IBM GraphFeaturePreprocessor) is not installed"}
    y_tr, y_va = data.label[:a], data.label[a:b]
    test_patterns = data.pattern[b:]
    for method, (names, x) in blocks.items():
        runs = []
        for seed in seeds:
            model = train_model(x[:a], y_tr, x[a:b], y_va, names, TrainConfig(seed=seed),
                                training_window={"edges": [0, a], "validation": [a, b]})  # fmt: skip
            score = model.predict_proba(x[b:])
            y = SealedLabels(data.label[b:]).open(score, threshold_frozen=True)
            at = f1_at(y, score, model.threshold)
            groups = [p if yy else None for p, yy in zip(test_patterns, y, strict=True)]
            runs.append({"pr_auc": pr_auc(y, score), "f1": at["f1"], "precision": at["precision"],
                         "recall": at["recall"], f"recall_at_{budget:g}": recall_at_budget(y, score, budget),
                         "recall_by_group": recall_by_group(score >= model.threshold, groups)})  # fmt: skip
        methods[method] = {"runs": runs, "summary": mean_std(runs), "n_features": len(names)}
    return {
        "task": "amlworld",
        "protocol": "edges sorted by time: 60% train, 20% validation (early stopping, threshold), 20% test",
        "data": {
            "train": {"n": a, "positives": int(y_tr.sum())},
            "validation": {"n": b - a, "positives": int(y_va.sum())},
            "test": {"n": n - b, "positives": int(data.label[b:].sum()), "base_rate": float(data.label[b:].mean())},
        },
        "published": {"minority_f1_hi_small": 0.76, "source": "Altman et al. 2023; Blanuša et al. (GFP + GBT)"},
        "seeds": list(seeds),
        "methods": methods,
    }
