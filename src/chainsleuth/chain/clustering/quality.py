# mypy: disable-error-code="no-untyped-call,attr-defined"
"""Cluster quality against ground truth (the simulator's true owner of every address).

:func:`evaluate_clusters` reports two standard families of measures, both computed from the contingency table
of (cluster, true owner) counts in O(addresses):

* **pairwise** precision = share of address pairs put in one cluster that really have one owner; recall =
share
  of same-owner pairs that ended up in one cluster. This is the measure of the clustering literature (Harrigan
  & Fretter; BlockSci's evaluation) and what investigators feel: one wrong merge of two big clusters costs
  many pairs. It is dominated by the largest owners (an exchange with 10,000 addresses outweighs 1,000
  persons).
* **B-cubed** precision/recall average, over addresses, the share of the address's cluster that has its owner
  and the share of its owner's addresses in its cluster; every address counts once, so it reflects the typical
  address. The headline F1 is pairwise; both are shown.

Only addresses with a known owner are scored.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from chainsleuth.chain.clustering.kernel import Int64Array, as_int64
from chainsleuth.errors import MalformedFileError, NotFoundError
from chainsleuth.store.chainstore import ChainStore


@dataclass(frozen=True)
class ClusterQuality:
    """Precision, recall and F1 (pairwise and B-cubed) with the counts behind them."""

    addresses: int
    clusters: int
    owners: int
    singletons: int
    pairwise_precision: float
    pairwise_recall: float
    pairwise_f1: float
    bcubed_precision: float
    bcubed_recall: float
    bcubed_f1: float
    true_pairs_found: int
    predicted_pairs: int
    true_pairs: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _f1(p: float, r: float) -> float:
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def _pairs(counts: npt.NDArray[np.int64]) -> int:
    c = counts.astype(np.float64)
    return int(np.sum(c * (c - 1) / 2))


def evaluate_clusters(cluster_of: npt.ArrayLike, true_owner: npt.ArrayLike) -> ClusterQuality:
    """Score a clustering against true owners (parallel arrays; owner ``-1``/``None``/``""`` = unknown).

    ``true_owner`` may hold integers or strings. Pairwise precision is 1.0 when no pair is predicted (all
    singletons), recall 1.0 when no pair exists; B-cubed is over the scored addresses.
    """
    clusters = as_int64(cluster_of)
    owners_raw = np.asarray(true_owner)
    if len(clusters) != len(owners_raw):
        raise ValueError("cluster_of and true_owner must have the same length")
    if owners_raw.dtype.kind in "iu":
        known = owners_raw >= 0
        owner_codes = owners_raw.astype(np.int64)
    else:
        known = np.array([o is not None and o != "" for o in owners_raw.tolist()], dtype=bool)
        owner_codes = np.full(len(owners_raw), -1, dtype=np.int64)
        if known.any():
            _, owner_codes[known] = np.unique(owners_raw[known].astype(str), return_inverse=True)
    c, o = clusters[known], owner_codes[known]
    n = len(c)
    if n == 0:
        return ClusterQuality(0, 0, 0, 0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0, 0, 0)
    _, c_codes = np.unique(c, return_inverse=True)
    _, o_codes = np.unique(o, return_inverse=True)
    n_o = int(o_codes.max()) + 1
    cell_keys, cell_counts = np.unique(c_codes.astype(np.int64) * n_o + o_codes, return_counts=True)
    cluster_sizes = np.bincount(c_codes)
    owner_sizes = np.bincount(o_codes)
    tp, pred, true = _pairs(cell_counts), _pairs(cluster_sizes), _pairs(owner_sizes)
    precision = tp / pred if pred else 1.0
    recall = tp / true if true else 1.0
    cell_c, cell_o = cell_keys // n_o, cell_keys % n_o
    sq = cell_counts.astype(np.float64) ** 2
    b_precision = float(np.sum(sq / cluster_sizes[cell_c]) / n)
    b_recall = float(np.sum(sq / owner_sizes[cell_o]) / n)
    return ClusterQuality(
        addresses=n,
        clusters=len(cluster_sizes),
        owners=len(owner_sizes),
        singletons=int(np.count_nonzero(cluster_sizes == 1)),
        pairwise_precision=precision,
        pairwise_recall=recall,
        pairwise_f1=_f1(precision, recall),
        bcubed_precision=b_precision,
        bcubed_recall=b_recall,
        bcubed_f1=_f1(b_precision, b_recall),
        true_pairs_found=tp,
        predicted_pairs=pred,
        true_pairs=true,
    )


def _address_index(store: ChainStore, chain: str) -> pa.Array:
    column = store.table(chain, "addresses", ["address"]).column("address")
    return column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)


def address_ids(store: ChainStore, chain: str, addresses: list[str]) -> Int64Array:
    """Dense ids of many addresses at once (``-1`` for unknown ones), by one vectorised lookup."""
    index = _address_index(store, chain)
    wanted = pa.array([a.lower() for a in addresses] if chain == "ethereum" else addresses, pa.string())
    found = pc.index_in(wanted, value_set=index)
    return as_int64(found.fill_null(-1).to_numpy(zero_copy_only=False))


def true_owners(store: ChainStore, chain: str, world_dir: Path) -> tuple[Int64Array, list[str]]:
    """Owner code of every address id of ``chain`` from ``ground_truth/address_owners.csv`` (-1 unknown)."""
    path = Path(world_dir) / "ground_truth" / "address_owners.csv"
    if not path.is_file():
        raise NotFoundError("no ground_truth/address_owners.csv in the world directory", path=str(path))
    addresses: list[str] = []
    entities: list[str] = []
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"chain", "address", "entity_id"} - set(reader.fieldnames or [])
        if missing:
            raise MalformedFileError(f"missing columns {sorted(missing)}", path=str(path), line=1)
        for row in reader:
            if row["chain"] == chain:
                addresses.append(row["address"])
                entities.append(row["entity_id"])
    n = store.chain_state(chain).address_count
    owner = np.full(n, -1, dtype=np.int64)
    names = sorted(set(entities))
    if not addresses:
        return owner, names
    code = {name: i for i, name in enumerate(names)}
    ids = address_ids(store, chain, addresses)
    codes = np.array([code[e] for e in entities], dtype=np.int64)
    hit = (ids >= 0) & (ids < n)
    owner[ids[hit]] = codes[hit]
    return owner, names


def wallets_from_tags(store: ChainStore, chain: str, tags: Iterable[Any]) -> dict[int, str]:
    """Address id → label of tag records (anything with ``address`` and ``label``, e.g. the attribution
    store's ``find_tags(session, network=..., category="exchange")``): the ``hot_wallets`` of the deposit
    heuristic. Tags of addresses the chain store has never seen are skipped."""
    pairs = [(str(t.address), str(t.label)) for t in tags if getattr(t, "address", None)]
    if not pairs:
        return {}
    ids = address_ids(store, chain, [address for address, _ in pairs])
    return {int(i): label for i, (_, label) in zip(ids.tolist(), pairs, strict=True) if i >= 0}


def tagpack_wallets(
    store: ChainStore, chain: str, tagpacks_dir: Path, categories: tuple[str, ...] = ("exchange",)
) -> dict[int, str]:
    """Address id → label of the wallets of ``categories`` tagged in the GraphSense TagPacks of a directory.

    A stop-gap reader for the clustering CLI and tests (network, category and label only); the attribution tag
    store is the place for validated tags, and its exchange wallets can be passed to the API directly.
    """
    import yaml

    network = {"bitcoin": "BTC", "ethereum": "ETH"}.get(chain, chain.upper())
    wanted: list[tuple[str, str]] = []
    for path in sorted(Path(tagpacks_dir).glob("*.yaml")):
        pack = yaml.safe_load(path.read_text()) or {}
        header = {k: v for k, v in pack.items() if k != "tags"}
        for tag in pack.get("tags") or []:
            merged: Mapping[str, Any] = {**header, **tag}
            if merged.get("network") == network and merged.get("category") in categories:
                wanted.append((str(merged["address"]), str(merged["label"])))
    if not wanted:
        return {}
    ids = address_ids(store, chain, [a for a, _ in wanted])
    return {int(i): label for i, (_, label) in zip(ids.tolist(), wanted, strict=True) if i >= 0}


def link_precision(src: npt.ArrayLike, dst: npt.ArrayLike, owner: Int64Array) -> tuple[int, int, float]:
    """Of the links ``src → dst`` with both owners known: how many, how many join one owner, and the share."""
    s, d = as_int64(src), as_int64(dst)
    known = (owner[s] >= 0) & (owner[d] >= 0) if len(s) else np.zeros(0, dtype=bool)
    total = int(np.count_nonzero(known))
    right = int(np.count_nonzero(owner[s[known]] == owner[d[known]]))
    return total, right, (right / total if total else float("nan"))


def quality_report(
    store: ChainStore,
    world_dir: Path,
    chains: Iterable[str] | None = None,
    *,
    change: Iterable[str] = (),
    min_confidence: float = 0.0,
    progress: Any = None,
) -> dict[str, dict[str, object]]:
    """Cluster each chain (incrementally) and score it against the world's true owners.

    Per chain: pairwise and B-cubed figures of the clustering and of the all-singletons baseline, the run's
    mode, counts and warnings, and on UTXO chains the precision of every change heuristic's links where it
    fired. Ethereum's exchange wallets come from the world's public TagPacks (``tagpacks/``). Shared by
    ``chainsleuth chain cluster quality`` and ``POST /api/attribution/clusters/{chain}/quality``.
    """
    from chainsleuth.chain.clustering.change import HEURISTICS, change_candidates, check_heuristics
    from chainsleuth.chain.clustering.coinjoin import detect_coinjoins
    from chainsleuth.chain.clustering.engine import ClusterOptions, cluster_chain
    from chainsleuth.chain.clustering.persist import ClusterStore
    from chainsleuth.chain.clustering.view import load_utxo_view
    from chainsleuth.store.chainstore import chain_spec

    if not (Path(world_dir) / "ground_truth").is_dir():
        raise NotFoundError("not a world directory (no ground_truth/)", path=str(world_dir))
    results: dict[str, dict[str, object]] = {}
    for name in list(chains) if chains is not None else store.chains():
        utxo = chain_spec(name).kind == "utxo"
        hot = None if utxo else tagpack_wallets(store, name, Path(world_dir) / "tagpacks")
        if not utxo and not hot:
            raise NotFoundError("no exchange wallets in the world's tagpacks/ for the deposit heuristic", chain=name)
        options = ClusterOptions(
            change=tuple(check_heuristics(list(change))) if utxo else (), min_confidence=min_confidence, hot_wallets=hot
        )
        report = cluster_chain(store, name, options, progress=progress)
        owner, _ = true_owners(store, name, world_dir)
        cluster_of = ClusterStore(store.root, name).cluster_of()
        entry: dict[str, object] = {
            "clustering": evaluate_clusters(cluster_of, owner).as_dict(),
            "singletons_baseline": evaluate_clusters(np.arange(len(owner)), owner).as_dict(),
            "run": {"mode": report.mode, "counts": report.counts, "warnings": report.warnings},
        }
        if utxo:
            view = load_utxo_view(store, name)
            coinjoins = detect_coinjoins(view.in_tx, view.in_address, view.out_tx, view.out_address, view.out_value)
            every = change_candidates(view, exclude_tx=coinjoins.flagged_tx_ids)
            first = every.first_input[np.searchsorted(every.eligible_tx, every.tx_ids)]
            entry["change_link_precision"] = {
                h: dict(
                    zip(
                        ("links", "correct", "precision"),
                        link_precision(every.address_id[every.heuristic == i], first[every.heuristic == i], owner),
                        strict=True,
                    )
                )
                for i, h in enumerate(HEURISTICS)
            }
        results[name] = entry
    return results
