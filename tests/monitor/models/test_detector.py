"""The product's detector: the ledger graph from files and the store, labels, training, leak-free scoring, model
alerts in the alert store (both databases), and the ``monitor model`` CLI on a world folder."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from chainsleuth.cli.monitor_cmd import app
from chainsleuth.config import get_settings
from chainsleuth.errors import MalformedFileError, NotFoundError
from chainsleuth.monitor.features.edges import FeatureError
from chainsleuth.monitor.features.names import describe
from chainsleuth.monitor.models.detector import (
    ModelAlertCandidate,
    customer_risk,
    feature_names,
    load_detector,
    score_ledger,
    train_detector,
)
from chainsleuth.monitor.models.ledger import LedgerGraph, ledger_graph, read_labels, store_ledger, world_ledger
from chainsleuth.monitor.models.lgbm import (
    DEFAULT_PARAMS,
    METADATA_FILE,
    Reason,
    TrainConfig,
    TrainedModel,
    load_model,
)
from chainsleuth.monitor.models.model_alerts import (
    explanation,
    model_alert_book,
    model_hits,
    model_rule,
    severity_for,
    store_model_alerts,
)
from chainsleuth.store.db import create_engine_for, session_scope
from chainsleuth.store.models.alerts import MonitorAlert, MonitorRuleVersion, MonitorShadowHit
from chainsleuth.store.models.audit import AuditEntry

PARAMS = {**DEFAULT_PARAMS, "min_child_samples": 5, "num_leaves": 7}
FAST = TrainConfig(params=PARAMS, num_boost_round=60, early_stopping_rounds=15, imbalance="none")
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
DAY = 86_400
N_CUSTOMERS, N_MULES, EVERY = 150, 20, 5
SCORE_DAY = 105  # the model knows days 0-80; the mules of days 85-100 are what it should find
runner = CliRunner(env={"COLUMNS": "200"})  # rich wraps at 80 columns otherwise


def _secs(day: float) -> int:
    return int((T0 + dt.timedelta(days=day)).timestamp())


def _iso(day: float) -> str:
    return (T0 + dt.timedelta(days=day)).isoformat().replace("+00:00", "Z")


def _events(seed: int = 0, days: int = 120) -> list[dict[str, Any]]:
    """Customers paying each other small random amounts; 16 mules over time, each taking a large fiat deposit
    from one of two shared bank accounts and withdrawing it to one shared address two hours later."""
    rng = np.random.default_rng(seed)
    customers = [f"C{i:07d}" for i in range(N_CUSTOMERS)]
    rows: list[dict[str, Any]] = []
    for day in range(days):
        for _ in range(25):
            a, b = rng.choice(N_CUSTOMERS, 2, replace=False)
            rows.append({"event_type": "internal_transfer", "customer_id": customers[a],
                         "counterparty_customer_id": customers[b], "usd_value": float(rng.uniform(10, 500)),
                         "timestamp": T0 + dt.timedelta(days=day, minutes=int(rng.integers(0, 1400)))})  # fmt: skip
    for k in range(N_MULES):
        mule, day = customers[N_CUSTOMERS - N_MULES + k], 5 + EVERY * k
        rows.append({"event_type": "fiat_deposit", "customer_id": mule, "bank_reference": f"bank{k % 2}",
                     "usd_value": 9000.0 + 10 * k, "timestamp": T0 + dt.timedelta(days=day)})  # fmt: skip
        rows.append({"event_type": "withdrawal", "customer_id": mule, "chain": "bitcoin", "address": "1Shared",
                     "usd_value": 8900.0, "timestamp": T0 + dt.timedelta(days=day, hours=2)})  # fmt: skip
    rows.append({"event_type": "login", "customer_id": customers[0], "timestamp": T0})  # not a transfer
    for i, row in enumerate(sorted(rows, key=lambda r: r["timestamp"])):
        row["event_id"] = f"E{i:07d}"
    return rows


def _table(rows: list[dict[str, Any]]) -> pa.Table:
    cols = ["event_id", "event_type", "customer_id", "counterparty_customer_id", "usd_value", "chain", "address",
            "bank_reference"]  # fmt: skip
    return pa.table({c: [r.get(c) for r in rows] for c in cols} | {
        "timestamp": pa.array([r["timestamp"] for r in rows], pa.timestamp("us", tz="UTC"))})  # fmt: skip


def _labels_text(mules: int = N_MULES) -> str:
    lines = ["customer_id,label,incident_id,first_illicit_at,role"]
    for k in range(mules):
        lines.append(f"C{N_CUSTOMERS - N_MULES + k:07d},money_mule,I{k:04d},{_iso(5 + EVERY * k)},mule")
    lines.append(f"C0000001,pig_butchering,I0099,{_iso(3)},victim")  # a victim: not illicit
    return "\n".join(lines) + "\n"


def _write_world(root: Path, rows: list[dict[str, Any]] | None = None, mules: int = N_MULES) -> Path:
    (root / "exchange").mkdir(parents=True)
    (root / "ground_truth").mkdir()
    pq.write_table(_table(rows if rows is not None else _events()), root / "exchange" / "ledger_events.parquet")
    customers = [f"C{i:07d}" for i in range(N_CUSTOMERS)]
    pq.write_table(pa.table({"customer_id": customers}), root / "exchange" / "customers.parquet")
    (root / "ground_truth" / "customer_labels.csv").write_text(_labels_text(mules))
    return root


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_world(tmp_path_factory.mktemp("funnel") / "world")


@pytest.fixture(scope="module")
def trained(world: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[TrainedModel, Path, LedgerGraph]:
    """Trained on the first 80 days; the mules of days 85-100 are still unknown then."""
    graph = world_ledger(world)
    onset = graph.onset(read_labels(world / "ground_truth" / "customer_labels.csv"))
    out = tmp_path_factory.mktemp("model") / "m"
    model = train_detector(graph.edges, onset, graph.eligible, out, train_config=FAST, until=_secs(80))
    return model, out, graph


def _candidates(trained: tuple[TrainedModel, Path, LedgerGraph], world: Path) -> list[ModelAlertCandidate]:
    model, _, graph = trained
    labels = read_labels(world / "ground_truth" / "customer_labels.csv")
    return score_ledger(graph, model, at=_secs(SCORE_DAY), labels=labels, known_until=_secs(80)).candidates


# -- ledger graph and labels ------------------------------------------------------------------------------------


def test_ledger_graph_maps_event_types_and_keeps_event_ids(world: Path) -> None:
    graph = world_ledger(world)
    labels = [str(x) for x in graph.edges.labels]
    assert {"bank:bank0", "bank:bank1", "address:bitcoin:1Shared"} <= set(labels)
    assert int(graph.eligible.sum()) == N_CUSTOMERS  # banks and addresses are nodes, not scored customers
    assert graph.edges.n_edges == 120 * 25 + 2 * N_MULES  # the login is not a transfer
    mule = labels.index(f"C{N_CUSTOMERS - 1:07d}")
    last = graph.last_event_ids(_secs(5 + EVERY * (N_MULES - 1)) + 2 * 3600)[mule]  # its withdrawal
    position = list(graph.event_ids).index(last)
    assert graph.edges.src[position] == mule
    assert graph.edges.dst[position] == labels.index("address:bitcoin:1Shared")
    # the same events in another order, timestamps as integer microseconds (the engines' domain): same graph
    table = _table(_events()[::-1])
    micros = pa.array([int(t.timestamp()) * 1_000_000 for t in table.column("timestamp").to_pylist()], pa.int64())
    again = ledger_graph(table.set_column(table.column_names.index("timestamp"), "timestamp", micros), graph.customers)
    assert _multiset(again) == _multiset(graph)


def _multiset(graph: LedgerGraph) -> Counter[tuple[str, str, float, int, str | None]]:
    e, labels = graph.edges, graph.edges.labels
    return Counter(
        (str(labels[s]), str(labels[d]), float(a), int(t), graph.event_ids[i] if graph.event_ids.size else None)
        for i, (s, d, a, t) in enumerate(zip(e.src, e.dst, e.amount, e.time, strict=True))
    )


def test_labels_skip_victims_keep_earliest_onset_and_name_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text(
        "customer_id,first_illicit_at,role\nC1,2024-02-01T00:00:00Z,mule\nC1,2024-01-15T00:00:00,mule\n"
        "C2,2024-01-01T00:00:00Z,victim\n"
    )
    labels = read_labels(path)
    assert set(labels) == {"C1"}
    assert labels["C1"][0] == _secs(14)  # the earlier onset; a zone-less time is UTC
    path.write_text("customer_id,first_illicit_at\nC1,2024-01-01\nC2,yesterday\n")
    with pytest.raises(MalformedFileError) as bad:
        read_labels(path)
    assert bad.value.line == 3
    path.write_text("customer,when\nC1,2024-01-01\n")
    with pytest.raises(MalformedFileError, match="lacks the columns"):
        read_labels(path)
    with pytest.raises(NotFoundError):
        read_labels(tmp_path / "missing.csv")


# -- training and the saved model -------------------------------------------------------------------------------


def test_training_refuses_too_few_labelled_customers(tmp_path: Path) -> None:
    small = _write_world(tmp_path / "w", mules=5)
    graph = world_ledger(small)
    onset = graph.onset(read_labels(small / "ground_truth" / "customer_labels.csv"))
    with pytest.raises(FeatureError, match=r"only 5 labelled customers.*at least 8"):
        train_detector(graph.edges, onset, graph.eligible, tmp_path / "m", train_config=FAST)
    assert not (tmp_path / "m").exists()


def test_saved_model_records_its_making_reloads_and_refuses_another_feature_list(
    trained: tuple[TrainedModel, Path, LedgerGraph],
) -> None:
    model, out, graph = trained
    meta = json.loads((out / METADATA_FILE).read_text())
    assert meta["features"] == feature_names(model_config := _config(meta)) == model.features
    assert model_config.windows == (DAY, 7 * DAY, 30 * DAY)
    assert meta["training_window"]["end"] <= _iso(80).replace("Z", "+00:00")  # nothing after --until
    assert [p["role"] for p in meta["periods"]] == ["training"] * 3 + ["validation"]
    assert all(p["positives"] > 0 for p in meta["periods"])
    assert 0 < meta["base_rates"]["validation"] < 0.2
    assert meta["threshold"] == model.threshold
    assert meta["model_id"]
    loaded = load_detector(out)
    at = _secs(100)
    known = np.zeros(graph.edges.n_nodes, dtype=bool)
    np.testing.assert_array_equal(
        customer_risk(loaded, graph.edges, at, known, graph.eligible).probability,
        customer_risk(model, graph.edges, at, known, graph.eligible).probability,
    )
    with pytest.raises(FeatureError, match="different feature list"):
        load_model(out, list(reversed(model.features)))
    tampered = out.parent / "tampered"
    shutil.copytree(out, tampered)
    meta["detector"]["feature_config"]["windows"] = [DAY, 7 * DAY]  # the saved windows no longer match its columns
    (tampered / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(FeatureError, match="different feature list"):
        load_detector(tampered)


def _config(meta: dict[str, Any]) -> Any:
    from chainsleuth.monitor.features.bulk import FeatureConfig

    raw = meta["detector"]["feature_config"]
    return FeatureConfig(tuple(raw["windows"]), raw["pattern_window"], raw["fast_window"])


def test_the_model_finds_the_later_mules(trained: tuple[TrainedModel, Path, LedgerGraph], world: Path) -> None:
    candidates = _candidates(trained, world)
    later = {f"C{N_CUSTOMERS - N_MULES + k:07d}" for k in range(N_MULES) if 5 + EVERY * k > 80}
    alerted = {c.customer_id for c in candidates}
    assert len(alerted & later) >= len(later) - 1  # measured: all 4 mules after day 80
    assert len(alerted - later) <= 2  # measured: no one else
    assert [c.probability for c in candidates] == sorted((c.probability for c in candidates), reverse=True)
    top = candidates[0]
    assert top.probability >= top.threshold
    assert len(top.reasons) == 5
    assert top.event_id is not None
    assert top.event_id.startswith("E")


def test_scoring_as_of_t_reads_no_later_event(trained: tuple[TrainedModel, Path, LedgerGraph], world: Path) -> None:
    model, _, graph = trained
    at = _secs(60)
    rows = _events()
    later = [r for r in _events(seed=1, days=130) if r["timestamp"] > T0 + dt.timedelta(days=60)]
    for i, row in enumerate(later):
        row["event_id"] = f"L{i:07d}"
        row["usd_value"] = row["usd_value"] * 3  # a different future, not a copy of the present
    more = ledger_graph(_table(rows + later), graph.customers)
    assert more.edges.n_edges > graph.edges.n_edges
    known = graph.onset(read_labels(world / "ground_truth" / "customer_labels.csv")) <= _secs(40)
    before = customer_risk(model, graph.edges, at, known, graph.eligible)
    after = customer_risk(model, more.edges, at, known, more.eligible)
    assert list(graph.edges.labels) == list(more.edges.labels)
    np.testing.assert_array_equal(before.x, after.x)
    np.testing.assert_array_equal(before.probability, after.probability)


# -- model alerts -----------------------------------------------------------------------------------------------


def test_candidates_become_explained_alerts(trained: tuple[TrainedModel, Path, LedgerGraph], world: Path) -> None:
    model, out, _ = trained
    candidates = _candidates(trained, world)
    rule = model_rule(model, source=str(out))
    assert rule.id == "model-ledger"
    assert rule.queue == "aml-high"
    assert rule.condition_text == f"model_risk >= {model.threshold:.6g}"
    assert rule.content_hash != model_rule(load_detector(out), dedup_seconds=DAY).content_hash
    assert rule.content_hash == model_rule(load_detector(out)).content_hash  # the model's id, not the process
    book = model_alert_book(candidates, rule)
    assert len(book.alerts) == len(candidates)
    alert = book.alerts[0]
    assert alert.rule_id == "model-ledger"
    assert alert.subject_id == candidates[0].customer_id
    sentence = (
        r"model risk 0\.\d+ ≥ threshold 0\.\d+ as of 2024-04-\d\d \d\d:\d\d UTC: "
        r"[^;]+ = [-\d.,n/a]+ \((raises|lowers)\)"
    )
    assert re.match(sentence, alert.explanation), alert.explanation
    assert alert.explanation.count(";") == 2  # the three strongest reasons
    reasons = alert.values["reasons"]
    assert len(reasons) == 5
    assert {"feature", "description", "value", "contribution", "direction"} <= set(reasons[0])
    assert alert.values["model_risk"] == candidates[0].probability
    assert alert.thresholds == {"model_risk": model.threshold}
    assert alert.score == {"low": 10.0, "medium": 25.0, "high": 50.0, "critical": 80.0}[alert.severity]


def test_explanation_reads_as_a_sentence_and_values_stay_json_safe() -> None:
    reasons = (
        Reason("life_out_std", describe("life_out_std"), 48.2, 1.3),
        Reason("out_ratio_86400", describe("out_ratio_86400"), float("nan"), -0.2),
    )
    candidate = ModelAlertCandidate("C0000007", 7, 0.934, 0.4137, _secs(10) + 3600, reasons, "E1")
    assert explanation(candidate) == (
        "model risk 0.93 ≥ threshold 0.41 as of 2024-01-11 01:00 UTC: spread (std) of the amounts of all outgoing "
        "transfers = 48.2 (raises); distinct counterparties per transfer among outgoing transfers in the last 1 day "
        "= n/a (lowers)"
    )
    assert [severity_for(p) for p in (0.95, 0.6, 0.45, 0.05)] == ["critical", "high", "medium", "low"]
    hit = model_hits([candidate], _stub_rule())[0]
    assert hit.values["out_ratio_86400"] is None  # PostgreSQL's JSON has no NaN
    assert hit.values["reasons"][1]["value"] is None
    assert (hit.event_id, hit.severity, hit.timestamp) == ("E1", "critical", (_secs(10) + 3600) * 1_000_000)


def _stub_rule() -> Any:
    from chainsleuth.monitor.rules.compiler import BOOL, Const
    from chainsleuth.monitor.rules.model import Rule

    return Rule("model-x", 1, "t", "d", "high", (), "active", ("model_score",), "customer", "model_risk >= 0.5",
                Const(BOOL, True), {}, {}, {"model_risk": 0.5}, "", content_hash="h")  # fmt: skip


def test_model_alerts_are_stored_deduplicated_and_not_resurrected(
    engine: Engine, trained: tuple[TrainedModel, Path, LedgerGraph], world: Path
) -> None:
    model, _, graph = trained
    candidates = _candidates(trained, world)
    assert candidates
    rule = model_rule(model)
    with session_scope(engine) as session:
        first = store_model_alerts(session, candidates, rule)
    with session_scope(engine) as session:
        again = store_model_alerts(session, candidates, rule)  # the same period scored twice
        rows = list(session.scalars(select(MonitorAlert).order_by(MonitorAlert.id)))
        versions = list(session.scalars(select(MonitorRuleVersion).where(MonitorRuleVersion.rule_id == rule.id)))
    assert (first.created, first.updated) == (len(candidates), 0)
    assert (again.created, again.updated) == (0, len(candidates))
    assert len(rows) == len(candidates)
    assert {row.rule_id for row in rows} == {"model-ledger"}
    assert {row.queue for row in rows} == {"aml-high"}
    assert all(row.hit_count == 1 for row in rows)
    details = rows[0].details
    assert details["values"]["reasons"][0]["feature"] in model.features
    assert details["thresholds"]["model_risk"] == pytest.approx(model.threshold)
    assert details["expression"].startswith("model_risk >= ")
    assert [(v.revision, v.content_hash) for v in versions] == [(1, rule.content_hash)]
    # three days later: the customers still alerted extend their open alerts, new ones get their own
    labels = read_labels(world / "ground_truth" / "customer_labels.csv")
    later = score_ledger(graph, model, at=_secs(SCORE_DAY + 3), labels=labels, known_until=_secs(80)).candidates
    with session_scope(engine) as session:
        fourth = store_model_alerts(session, later, rule)
        extended = session.scalars(select(MonitorAlert).where(MonitorAlert.subject_id == later[0].customer_id)).one()
    before, after = {c.customer_id for c in candidates}, {c.customer_id for c in later}
    assert (fourth.created, fourth.updated) == (len(after - before), len(after & before))
    assert extended.last_event_at.timestamp() == _secs(SCORE_DAY + 3)
    # an analyst closes one; scoring its period again does not raise it anew
    with session_scope(engine) as session:
        closed = session.scalars(select(MonitorAlert).order_by(MonitorAlert.id)).first()
        assert closed is not None
        closed.status = "closed"
    with session_scope(engine) as session:
        third = store_model_alerts(session, candidates, rule)
    assert (third.created, third.skipped_closed) == (0, 1)
    # a model in shadow mode records hits, raises nothing
    shadow = model_rule(model, mode="shadow")
    with session_scope(engine) as session:
        quiet = store_model_alerts(session, candidates, shadow)
        assert (quiet.created, quiet.updated, quiet.shadow_hits) == (0, 0, len(candidates))
        assert session.scalar(select(MonitorShadowHit.rule_id)) == "model-ledger"


# -- the relational store as the source, and the CLI --------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_store(tiny_world: Path, module_database_url: str) -> str:
    from chainsleuth.ingest.ledger import load_exchange

    engine = create_engine_for(module_database_url)
    try:
        load_exchange(tiny_world, engine)
    finally:
        engine.dispose()
    return module_database_url


def test_the_store_ledger_is_the_world_ledger(tiny_store: str, tiny_world: Path) -> None:
    engine = create_engine_for(tiny_store)
    try:
        stored = store_ledger(engine)
    finally:
        engine.dispose()
    files = world_ledger(tiny_world)
    assert stored.customers == sorted(files.customers)
    assert list(stored.edges.labels) == list(files.edges.labels)  # bank references decrypted in memory
    assert _multiset(stored) == _multiset(files)


def _configure(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("CHAINSLEUTH_DATABASE_URL", url)
    get_settings.cache_clear()


def test_cli_trains_and_scores_the_store(
    tiny_store: str, tiny_world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _configure(monkeypatch, tiny_store)
    try:
        labels = tiny_world / "ground_truth" / "customer_labels.csv"
        missing = runner.invoke(app, ["model", "train", "--out", str(tmp_path / "m")])
        assert missing.exit_code != 0
        assert "--labels" in missing.output
        trained = runner.invoke(app, ["model", "train", "--labels", str(labels), "--out", str(tmp_path / "m"),
                                      "--until", "2024-03-10T00:00:00Z", "--rounds", "40"])  # fmt: skip
        assert trained.exit_code == 0, trained.output
        assert "validation" in trained.output
        args = ["model", "score", str(tmp_path / "m"), "--labels", str(labels), "--known-until", "2024-03-10"]
        scored = runner.invoke(app, args)
        assert scored.exit_code == 0, scored.output
        engine = create_engine_for(tiny_store)
        try:
            with session_scope(engine) as session:
                alerts = list(session.scalars(select(MonitorAlert).where(MonitorAlert.rule_id == "model-ledger")))
                actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.seq))]
        finally:
            engine.dispose()
        created = int(re.search(r"(\d+) alerts created", scored.output).group(1))  # type: ignore[union-attr]
        assert created == len(alerts) >= 1
        illicit = set(read_labels(labels))
        assert sum(alert.customer_id in illicit for alert in alerts) * 2 >= len(alerts)  # measured: 5 of 5
        assert {"monitor.model_train", "monitor.model_score"} <= set(actions)
        assert alerts[0].event_ids[0].startswith("E")  # the customer's latest transfer, shown with the alert
        again = runner.invoke(app, args)
        assert f"0 alerts created, {created} updated" in again.output, again.output
        # the same detector on the stream: `monitor run --stream --model`, cases confirmed by the cut known
        confirmed = tmp_path / "confirmed.csv"
        with labels.open(newline="") as src, confirmed.open("w", newline="") as dst:
            reader = csv.DictReader(src)
            writer = csv.DictWriter(dst, fieldnames=list(reader.fieldnames or []))
            writer.writeheader()
            writer.writerows(r for r in reader if r["first_illicit_at"] < "2024-03-10")
        streamed = runner.invoke(app, ["run", "--stream", "--model", str(tmp_path / "m"), "--labels", str(confirmed)])
        assert streamed.exit_code == 0, streamed.output
        assert "transfers streamed" in streamed.output
        engine = create_engine_for(tiny_store)
        try:
            with session_scope(engine) as session:
                after = list(session.scalars(select(MonitorAlert).where(MonitorAlert.rule_id == "model-ledger")))
                scorings = [e.details for e in session.scalars(select(AuditEntry).where(
                    AuditEntry.action == "monitor.model_score"))]  # fmt: skip
        finally:
            engine.dispose()
        assert len(after) >= len(alerts)  # alerts raised on arrival join (or extend) the weekly job's
        assert any('"streaming":true' in str(d).replace(" ", "") for d in scorings)
        assert not {a.customer_id for a in after} & set(read_labels(confirmed)) - {a.customer_id for a in alerts}
    finally:
        get_settings.cache_clear()


def test_cli_round_trip_on_a_world_folder(world: Path, tmp_path: Path) -> None:
    out = tmp_path / "model"
    trained = runner.invoke(app, ["model", "train", "--world", str(world), "--out", str(out), "--until",
                                  _iso(80), "--rounds", "60"])  # fmt: skip
    assert trained.exit_code == 0, trained.output
    assert (out / "model.txt").is_file()
    assert "alert threshold" in trained.output
    scored = runner.invoke(app, ["model", "score", str(out), "--world", str(world), "--at", _iso(SCORE_DAY),
                                 "--reasons", "3"])  # fmt: skip
    assert scored.exit_code == 0, scored.output
    later = [f"C{N_CUSTOMERS - N_MULES + k:07d}" for k in range(N_MULES) if 5 + EVERY * k > 80]
    assert sum(customer in scored.output for customer in later) >= len(later) - 1
    assert "(raises)" in scored.output
    assert "model-ledger" in scored.output
    assert "alerts created" not in scored.output  # --world prints only (--dry-run is its default)
    refused = runner.invoke(app, ["model", "score", str(tmp_path / "nothing"), "--world", str(world)])
    assert refused.exit_code != 0
    assert "not a saved model" in str(refused.exception)


def test_precomputed_edge_features_score_exactly_like_a_fresh_computation(
    trained: tuple[TrainedModel, Path, LedgerGraph], world: Path
) -> None:
    """The back-fill computes per-edge features once for the whole ledger; scoring earlier weeks with them must
    give the same candidates as computing them from the prefix alone (they are causal)."""
    from chainsleuth.monitor.features.bulk import edge_features
    from chainsleuth.monitor.models.detector import detector_config

    model, _, graph = trained
    labels = read_labels(world / "ground_truth" / "customer_labels.csv")
    whole = edge_features(graph.edges, detector_config(model))
    for day in (SCORE_DAY - 10, SCORE_DAY):
        fresh = score_ledger(graph, model, at=_secs(day), labels=labels, known_until=_secs(80)).candidates
        reused = score_ledger(graph, model, at=_secs(day), labels=labels, known_until=_secs(80), edge_feats=whole)
        assert [(c.customer_id, c.probability) for c in reused.candidates] == [
            (c.customer_id, c.probability) for c in fresh
        ]
    assert fresh  # the comparison covers alerted customers, not only empty lists


def test_streaming_detector_scores_like_the_batch_path_and_alerts_as_transfers_arrive(
    trained: tuple[TrainedModel, Path, LedgerGraph], world: Path
) -> None:
    from chainsleuth.monitor.models.detector import customer_risk
    from chainsleuth.monitor.models.streaming import StreamingDetector

    model, _, graph = trained
    labels = read_labels(world / "ground_truth" / "customer_labels.csv")
    onset = graph.onset(labels)
    known = (onset <= _secs(80)) & graph.eligible
    flagged = {graph.edges.labels[i] for i in np.flatnonzero(known)}
    detector = StreamingDetector(model, graph.customers, flagged)
    e = graph.edges
    end = int(np.searchsorted(e.time, _secs(SCORE_DAY), side="right"))
    alerted: set[str] = set()
    for i in range(end):
        found = detector.update(e.labels[e.src[i]], e.labels[e.dst[i]], float(e.amount[i]), int(e.time[i]))
        alerted.update(c.customer_id for c in found)
        assert all(c.probability >= model.threshold and c.reasons for c in found)
    at = int(e.time[end - 1])
    batch = customer_risk(model, e, at, known, graph.eligible)
    by_customer = dict(zip((str(e.labels[n]) for n in batch.nodes), batch.probability, strict=True))
    sample = [c for c in graph.customers if c in by_customer][:: max(1, len(by_customer) // 25)]
    for customer in sample:  # the stream's score of any customer equals the batch score at the same moment
        assert detector.score(customer, at) == pytest.approx(by_customer[customer], rel=1e-9, abs=1e-12)
    batch_alerted = {c.customer_id for c in _candidates(trained, world)}
    assert batch_alerted <= alerted  # whoever the weekly job alerts, the stream alerted on arrival
    assert not alerted & {str(x) for x in flagged}
