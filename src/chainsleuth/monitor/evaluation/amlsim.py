"""IBM AMLSim samples: loader and the account-classification evaluation.

Files (see ``../shared/data/amlsim/SOURCE.md``): ``nodes.csv`` = nodeid,isFraud,init_balance,fraudStep and
``transactions.csv`` = sourceNodeId,targetNodeId,value,time (time = simulation step). ``metadata.txt`` names
the planted pattern type (e.g. ``patterns: 200 fan-in``).

Onset (when an account became illicit) is ``fraudStep`` where given. About half of the fraud accounts have
``fraudStep = -1``; for them the onset is their first transaction with another fraud account (the first trace of
the pattern in the data), and failing that their first transaction. Labels then follow the snapshot protocol
of :mod:`chainsleuth.monitor.evaluation.accounts`.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from chainsleuth.monitor.evaluation.accounts import AccountTask
from chainsleuth.monitor.features.bulk import FeatureConfig
from chainsleuth.monitor.features.edges import EdgeList, FeatureError, FloatArray

AMLSIM_CONFIG = FeatureConfig(windows=(10, 30), pattern_window=10, fast_window=1)


@dataclass(frozen=True)
class AmlsimData:
    edges: EdgeList
    is_fraud: NDArray[np.bool_]
    fraud_step: NDArray[np.int64]
    pattern: str | None


def load_amlsim(directory: Path, *, max_nodes: int | None = None, max_step: int | None = None) -> AmlsimData:
    """Read an AMLSim sample folder.

    Subsamples for quick runs: ``max_nodes`` keeps nodes ``< max_nodes`` and the edges among them (this breaks
    patterns apart, so it makes detection harder); ``max_step`` keeps the edges up to that step (patterns intact).
    """
    nodes_p, tx_p = directory / "nodes.csv", directory / "transactions.csv"
    for p in (nodes_p, tx_p):
        if not p.is_file():
            raise FeatureError(f"{p} not found: an AMLSim folder holds nodes.csv and transactions.csv")
    with nodes_p.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    need = {"nodeid", "isFraud", "fraudStep"}
    if not rows or not need <= set(rows[0]):
        raise FeatureError(f"{nodes_p}: expected columns {sorted(need)}")
    ids = np.array([int(r["nodeid"]) for r in rows], dtype=np.int64)
    fraud = np.array([r["isFraud"] == "1" for r in rows])
    step = np.array([int(r["fraudStep"]) for r in rows], dtype=np.int64)
    with tx_p.open() as fh:
        header = fh.readline().strip().split(",")
    if header != ["sourceNodeId", "targetNodeId", "value", "time"]:
        raise FeatureError(f"{tx_p}: expected header sourceNodeId,targetNodeId,value,time, got {header}")
    tx = np.loadtxt(tx_p, delimiter=",", skiprows=1, ndmin=2)
    src, dst, amt, t = tx[:, 0].astype(np.int64), tx[:, 1].astype(np.int64), tx[:, 2], tx[:, 3].astype(np.int64)
    if max_nodes is not None:
        keep_n = ids < max_nodes
        ids, fraud, step = ids[keep_n], fraud[keep_n], step[keep_n]
        keep = (src < max_nodes) & (dst < max_nodes)
        src, dst, amt, t = src[keep], dst[keep], amt[keep], t[keep]
    if max_step is not None:
        keep = t <= max_step
        src, dst, amt, t = src[keep], dst[keep], amt[keep], t[keep]
    pattern = None
    meta = directory / "metadata.txt"
    if meta.is_file():
        m = re.search(r"patterns:\s*\d+\s+(.+)", meta.read_text())
        pattern = m.group(1).strip().rstrip("s") if m else None
    order = np.argsort(ids)
    edges = EdgeList.from_arrays(src, dst, amt, t, nodes=ids[order])
    return AmlsimData(edges, fraud[order], step[order], pattern)


def amlsim_onset(data: AmlsimData) -> FloatArray:
    e = data.edges
    n = e.n_nodes
    ff = data.is_fraud[e.src] & data.is_fraud[e.dst]
    first_ff = np.full(n, np.inf)
    np.minimum.at(first_ff, e.src[ff], e.time[ff].astype(np.float64))
    np.minimum.at(first_ff, e.dst[ff], e.time[ff].astype(np.float64))
    first_tx = np.full(n, np.inf)
    np.minimum.at(first_tx, np.concatenate([e.src, e.dst]), np.concatenate([e.time, e.time]).astype(np.float64))
    onset = np.where(data.fraud_step >= 0, data.fraud_step.astype(np.float64), first_ff)
    onset = np.where(np.isfinite(onset), onset, first_tx)
    return np.where(data.is_fraud & np.isfinite(onset), onset, np.nan)


def amlsim_task(
    data: AmlsimData, *, name: str = "amlsim", config: FeatureConfig = AMLSIM_CONFIG, budget: float = 0.01
) -> AccountTask:
    """Four equal label periods ending at the last step: three stacked for training, then validation, then test."""
    t_end = int(data.edges.time.max())
    period = max(1, t_end // 6)
    times = [t_end - k * period for k in range(4, -1, -1)]
    onset = amlsim_onset(data)
    groups = [data.pattern if np.isfinite(o) else None for o in onset]
    return AccountTask(
        name, data.edges, onset, tuple(times[:3]), times[3], times[4], times[0] - period, config, groups, budget=budget
    )
