"""Loaders for the published Elliptic and AMLworld formats, on small fixtures written in exactly those formats."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from chainsleuth.monitor.evaluation.amlworld import HEADER, find_amlworld_files, load_amlworld, load_patterns
from chainsleuth.monitor.evaluation.elliptic import load_elliptic
from chainsleuth.monitor.features.edges import FeatureError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
ELLIPTIC = FIXTURES / "elliptic"
AMLWORLD = FIXTURES / "amlworld"


def test_elliptic_loader_reads_the_published_format() -> None:
    d = load_elliptic(ELLIPTIC)
    assert d.features.shape == (60, 165)  # txId and time step stripped, 165 features as released
    assert d.time_step.min() == 1
    assert d.time_step.max() == 49
    assert set(np.unique(d.label)) == {-1, 0, 1}  # unknown, licit (class 2), illicit (class 1)
    assert int((d.label == 1).sum()) == 12
    assert d.edges.shape == (40, 2)
    assert d.feature_names[0] == "local_1"
    assert d.feature_names[-1] == "agg_72"


def test_elliptic_loader_errors(tmp_path: Path) -> None:
    with pytest.raises(FeatureError, match="not found"):
        load_elliptic(tmp_path)
    for f in ELLIPTIC.iterdir():
        shutil.copy(f, tmp_path / f.name)
    classes = tmp_path / "elliptic_txs_classes.csv"
    classes.write_text(classes.read_text().replace(",unknown", ",3", 1))
    with pytest.raises(FeatureError, match="class must be 1, 2 or unknown"):
        load_elliptic(tmp_path)
    classes.write_text("id,label\n")
    with pytest.raises(FeatureError, match="header txId,class"):
        load_elliptic(tmp_path)


def test_amlworld_header_has_account_twice_and_is_read_by_position() -> None:
    assert HEADER.count("Account") == 2
    trans, patterns = find_amlworld_files(AMLWORLD)
    assert trans.name == "Tiny_Trans.csv"
    assert patterns is not None
    d = load_amlworld(trans, patterns)
    assert d.edges.n_edges == 102
    assert int(d.label.sum()) == 12
    # both Account columns were used: sender and receiver differ (bank:account)
    first = trans.read_text().splitlines()[1].split(",")
    i = int(np.flatnonzero(d.edges.order == 0)[0])
    assert d.edges.labels[d.edges.src[i]] == f"{first[1]}:{first[2]}"
    assert d.edges.labels[d.edges.dst[i]] == f"{first[3]}:{first[4]}"
    assert d.raw[i, d.raw_names.index("amount_paid")] == float(first[7])


def test_amlworld_patterns_file_maps_each_laundering_transaction() -> None:
    pats = load_patterns(AMLWORLD / "Tiny_Patterns.txt")
    assert sorted(set(pats.values())) == ["CYCLE", "FAN-OUT"]  # "CYCLE: Max 3 hops" -> CYCLE
    assert len(pats) == 12
    d = load_amlworld(AMLWORLD / "Tiny_Trans.csv", AMLWORLD / "Tiny_Patterns.txt")
    tagged = [p for p, y in zip(d.pattern, d.label, strict=True) if y]
    assert all(tagged)
    assert not any(p for p, y in zip(d.pattern, d.label, strict=True) if not y)


def test_amlworld_errors(tmp_path: Path) -> None:
    bad = tmp_path / "X_Trans.csv"
    bad.write_text("Timestamp,From,To\n")
    with pytest.raises(FeatureError, match="AMLworld header"):
        load_amlworld(bad)
    bad.write_text(",".join(HEADER) + "\n2022/09/01 00:20,1,A,2,B,1.0,US Dollar\n")
    with pytest.raises(FeatureError, match="11 columns"):
        load_amlworld(bad)
    pat = tmp_path / "X_Patterns.txt"
    pat.write_text("2022/09/01 00:20,1,A,2,B,1.0,US Dollar,1.0,US Dollar,ACH,1\n")
    with pytest.raises(FeatureError, match="outside a BEGIN"):
        load_patterns(pat)
    with pytest.raises(FeatureError, match="no AMLworld"):
        find_amlworld_files(tmp_path / "empty")


def test_gfp_baseline_is_skipped_cleanly_without_snapml(monkeypatch: pytest.MonkeyPatch) -> None:
    from chainsleuth.monitor.evaluation import gfp
    from chainsleuth.monitor.evaluation.amlworld import evaluate_amlworld
    from chainsleuth.monitor.models.lgbm import TrainConfig

    monkeypatch.setattr(gfp, "snapml_available", lambda: False)
    assert gfp.gfp_edge_features(load_amlworld(AMLWORLD / "Tiny_Trans.csv").edges, 60) is None
    report = evaluate_amlworld(load_amlworld(AMLWORLD / "Tiny_Trans.csv"), seeds=(0,))
    assert "not installed" in report["methods"]["lgbm_gfp"]["skipped"]
    assert "summary" in report["methods"]["lgbm_graph"]
    assert TrainConfig().imbalance == "auto"
