"""``chainsleuth monitor``: rules, batch runs over the store's ledger, backtests, alerts and the model detector.

Rules come from the shipped library unless ``--rules`` names files or directories. ``run`` evaluates them over
the relational store's ledger and stores alerts (and shadow-mode hits) there; ``backtest`` measures them on a
generated world against its ground truth. ``model train`` fits the LightGBM detector on the exchange's own
history and confirmed cases, ``model score`` turns its risk scores into explained alerts in the same queues.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from chainsleuth.cli.console import stage_bar
from chainsleuth.config import get_settings
from chainsleuth.errors import NotFoundError
from chainsleuth.monitor.rules.loader import load_rules
from chainsleuth.monitor.rules.model import RuleSet
from chainsleuth.store.db import open_store, session_scope

if TYPE_CHECKING:
    from chainsleuth.monitor.models.ledger import LedgerGraph
    from chainsleuth.privacy.policy import SystemActor

app = typer.Typer(help="Transaction monitoring: rules, batch runs, backtests and alerts.", no_args_is_help=True)
rules_app = typer.Typer(help="The rule library and your own rule files.", no_args_is_help=True)
alerts_app = typer.Typer(help="Stored alerts (trigger warnings).", no_args_is_help=True)
model_app = typer.Typer(
    help=(
        "The LightGBM detector: train it on the exchange's own ledger and confirmed cases, score customers, "
        "and raise explained model alerts in the same queues as rule alerts."
    ),
    no_args_is_help=True,
)
app.add_typer(rules_app, name="rules")
app.add_typer(alerts_app, name="alerts")
app.add_typer(model_app, name="model")
stdout = Console()

RulePaths = Annotated[
    list[Path] | None, typer.Option("--rules", "-r", help="Rule files or directories (default: the library).")
]


def _rules(paths: list[Path] | None) -> RuleSet:
    return load_rules(paths or None)


@contextmanager
def _store() -> Iterator[Engine]:
    engine = open_store(get_settings().resolved_database_url)
    try:
        yield engine
    finally:
        engine.dispose()


@rules_app.command("list")
def rules_list(rules: RulePaths = None) -> None:
    """List rules: id, version, mode, severity, content hash, scope and title (one line each)."""
    for rule in _rules(rules):
        typer.echo(
            f"{rule.id:38} v{rule.version:<3} {rule.mode:6} {rule.severity:8} {rule.content_hash[:12]} "
            f"[{','.join(rule.scope)}] {rule.title}"
        )


@rules_app.command("show")
def rules_show(rule_id: str, rules: RulePaths = None, sql: bool = typer.Option(False, help="Print its SQL.")) -> None:
    """Show one rule's definition (and, with --sql, the batch engine's query)."""
    try:
        rule = _rules(rules).get(rule_id)
    except KeyError:
        raise NotFoundError(f"no rule {rule_id!r} (see `chainsleuth monitor rules list`)", rule=rule_id) from None
    stdout.print_json(json.dumps(rule.definition(), default=str))
    if sql:
        from chainsleuth.monitor.engine.batch import rule_sql

        stdout.print(rule_sql(rule)[0], markup=False, highlight=False)


@rules_app.command("validate")
def rules_validate(paths: list[Path]) -> None:
    """Load and compile rule files; the first error names the file, rule, line and column (exit 65)."""
    loaded = load_rules(paths)
    stdout.print(f"{len(loaded)} rules valid ({sum(r.mode == 'shadow' for r in loaded)} in shadow mode)")


def _store_context(session: Session) -> object:
    from chainsleuth.monitor.service import store_context

    return store_context(session)


@app.command("run")
def run(
    rules: RulePaths = None,
    batch: bool = typer.Option(True, "--batch/--stream", help="DuckDB batch (default) or the streaming engine."),
    dry_run: bool = typer.Option(False, help="Report what would be stored, store nothing."),
    exposure_hops: int = typer.Option(3, min=1, help="Hops of indirect exposure (chain store)."),
    exposure_min_share: float = typer.Option(0.0, min=0.0, max=1.0, help="Ignore indirect shares below this."),
    model: Path | None = typer.Option(
        None, "--model", help="Also run this saved detector (`monitor model train`) on the stream of transfers."
    ),
    labels: Path | None = typer.Option(
        None, "--labels", help="With --model: confirmed cases (customer_id, first_illicit_at); never re-alerted."
    ),
) -> None:
    """Run the rules over the relational store's ledger and store alerts and shadow hits.

    With --model, the detector also reads the ledger transfer by transfer (the streaming path): each transfer
    re-scores the customers it touches, and those at or above the model's threshold become `model-<name>` alerts
    in the same queues, with their reason codes. Storing them is recorded in the audit log.
    """
    from chainsleuth.monitor.service import run_rules_over_store
    from chainsleuth.store.chainstore import ChainStore

    model_lines: list[str] = []
    with stage_bar("monitor run", 3 if model is not None else 2) as step:
        step("loading the rules")
        ruleset = _rules(rules)
        # Indirect exposure (issue 4): the configured chain store, when one was ingested.
        chain_dir = get_settings().chain_dir
        chain_store = ChainStore(chain_dir) if Path(chain_dir).is_dir() else None
        step(f"evaluating {len(ruleset)} rules over the ledger ({'batch' if batch else 'streaming'})")
        with _store() as engine, session_scope(engine) as session:
            result = run_rules_over_store(
                engine, session, ruleset, streaming=not batch, dry_run=dry_run, chain_store=chain_store,
                exposure_hops=exposure_hops, exposure_min_share=exposure_min_share,
            )  # fmt: skip
        if model is not None and result.stored is not None:
            step("streaming the ledger through the model")
            model_lines = _stream_model(model, labels, dry_run)
    if result.stored is None:
        stdout.print(f"{result.hits} hits, {result.alerts} alerts, {result.shadow_hits} shadow hits")
        return
    stdout.print(
        f"{result.hits} hits: {result.stored.created} alerts created, {result.stored.updated} updated, "
        f"{result.stored.shadow_hits} shadow hits recorded"
    )
    for line in model_lines:
        stdout.print(line)


def _stream_model(model_dir: Path, labels_path: Path | None, dry_run: bool) -> list[str]:
    """Run the detector over the ledger as a stream; returns the lines to print once the progress bar is gone."""
    from chainsleuth.monitor.engine.batch import store_events
    from chainsleuth.monitor.models.detector import load_detector
    from chainsleuth.monitor.models.ledger import read_labels
    from chainsleuth.monitor.models.model_alerts import model_rule, store_model_alerts
    from chainsleuth.monitor.models.streaming import StreamingDetector, stream_ledger
    from chainsleuth.privacy import audit
    from chainsleuth.store.models.exchange import Customer

    detector_model = load_detector(model_dir)
    flagged = set(read_labels(labels_path)) if labels_path is not None else set()
    with _store() as engine:
        with session_scope(engine) as session:
            customers = list(session.scalars(select(Customer.customer_id)))
        detector = StreamingDetector(detector_model, customers, flagged)
        transfers, candidates = stream_ledger(detector, store_events(engine))
        alerted = len({c.customer_id for c in candidates})
        lines = [f"model: {transfers:,} transfers streamed, {alerted:,} customers at or above its threshold"]
        if dry_run:
            return lines
        rule = model_rule(detector_model)
        with session_scope(engine) as session:
            report = store_model_alerts(session, candidates, rule)
            audit.record(session, _operator(), "monitor.model_score", "monitor_rule", rule.id,
                         details={"model_id": detector_model.metadata.get("model_id"), "streaming": True,
                                  "transfers": transfers, "customers_alerted": alerted, "created": report.created,
                                  "updated": report.updated})  # fmt: skip
    return [*lines, f"model: {report.created} alerts created, {report.updated} updated"]


@app.command("backtest")
def backtest_cmd(
    world_dir: Path,
    rules: RulePaths = None,
    engine: str = typer.Option("batch", help="batch or streaming"),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the report as JSON here."),
    store: bool = typer.Option(False, help="Store the report in the relational store."),
) -> None:
    """Backtest rules on a generated world: precision and recall per rule, overall and per typology."""
    from chainsleuth.monitor.alerts.store import store_backtest
    from chainsleuth.monitor.backtest import backtest

    if engine not in ("batch", "streaming"):
        raise typer.BadParameter("engine must be batch or streaming")
    ruleset = _rules(rules)
    report = backtest(world_dir, ruleset, engine=engine)
    typer.echo(report.table())
    if json_out is not None:
        json_out.write_text(report.to_json(), encoding="utf-8")
    if store:
        with _store() as db, session_scope(db) as session:
            number = store_backtest(session, str(world_dir), engine, ruleset, report.as_dict())
        stdout.print(f"stored as backtest {number}")


@alerts_app.command("list")
def alerts_list(
    queue: str | None = None,
    status: str | None = None,
    rule: str | None = None,
    customer: str | None = None,
    limit: int = 50,
) -> None:
    """Stored alerts, highest combined score first."""
    from chainsleuth.monitor.alerts.store import list_alerts

    with _store() as engine, session_scope(engine) as session:
        rows, total = list_alerts(session, queue=queue, status=status, rule_id=rule, customer_id=customer, limit=limit)
        for row in rows:
            typer.echo(
                f"{row.id:>6} {row.queue:13} {row.severity:8} {row.combined_score:5.1f} "
                f"{row.rule_id} v{row.rule_version}  {row.subject_type}:{row.subject_id}  hits {row.hit_count}  "
                f"last {row.last_event_at.isoformat()}  {row.status}"
            )
    stdout.print(f"{len(rows)} of {total} alerts")


@alerts_app.command("show")
def alerts_show(alert_id: int) -> None:
    """One alert with its explanation, values, thresholds, events and chain evidence."""
    from chainsleuth.monitor.alerts.store import alert_view, get_alert

    with _store() as engine, session_scope(engine) as session:
        view = alert_view(get_alert(session, alert_id))
    stdout.print_json(json.dumps(view, default=str))


# -- the model detector ---------------------------------------------------------------------------------------

WorldOpt = Annotated[
    Path | None,
    typer.Option(
        "--world", help="Read the ledger of this world folder (`chainsleuth world generate`) instead of the store."
    ),
]
LabelsOpt = Annotated[
    Path | None,
    typer.Option(
        "--labels",
        help="CSV of confirmed illicit customers: customer_id, first_illicit_at (ISO), optional label and role "
        "(victims are skipped); in production the export of confirmed cases. Default with --world: its "
        "ground_truth/customer_labels.csv.",
    ),
]


def _seconds(text: str | None, option: str) -> int | None:
    from chainsleuth.monitor.engine.context import to_micros

    if text is None:
        return None
    try:
        micros = to_micros(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not an ISO time such as 2024-05-01T00:00:00Z", param_hint=option
        ) from None
    assert micros is not None
    return micros // 1_000_000


def _labels_path(world: Path | None, labels: Path | None) -> tuple[Path | None, bool]:
    """The labels file and whether it is a world's complete ground truth (not a list of confirmed cases)."""
    if labels is not None:
        return labels, False
    if world is not None:
        return world / "ground_truth" / "customer_labels.csv", True
    return None, False


def _ledger(world: Path | None) -> LedgerGraph:
    from chainsleuth.monitor.models.ledger import store_ledger, world_ledger

    if world is not None:
        return world_ledger(world)
    with _store() as engine:
        return store_ledger(engine)


def _operator() -> SystemActor:
    """The local operator (who holds the database and the key file), as the audit log records them."""
    from chainsleuth.privacy.policy import SystemActor

    return SystemActor(f"operator:{getpass.getuser()}")


@model_app.command("train")
def model_train(
    out: Annotated[Path, typer.Option("--out", help="Folder to save the model in (model.txt, metadata.json).")],
    world: WorldOpt = None,
    labels: LabelsOpt = None,
    name: Annotated[str, typer.Option(help="Model name; its alerts come from the rule model-NAME.")] = "ledger",
    until: Annotated[
        str | None, typer.Option(help="Train on the history up to this ISO time only (default: all of it).")
    ] = None,
    seed: Annotated[int, typer.Option(help="LightGBM's seed (bagging and feature sampling).")] = 0,
    rounds: Annotated[int, typer.Option(min=10, help="Most boosting rounds (validation stops it earlier).")] = 400,
    budget: Annotated[
        float | None,
        typer.Option(
            min=0.0001,
            max=1.0,
            help="Set the alert threshold from a review budget, the share of customers that may alert "
            "(default: the threshold with the best F1 on the validation period).",
        ),
    ] = None,
) -> None:
    """Train the detector on the ledger (the store's, or --world's) and the confirmed cases in --labels.

    The ledger becomes a customer-level transfer graph; snapshots at the 25/50/75 % quantiles of the labelled
    onsets are the training periods and the most recent period, up to the end of the data, the validation
    period that stops boosting and sets the alert threshold. Features are the profile set (lifetime habits,
    neighbours, exposure to customers flagged earlier, windowed statistics), computed only from transfers up to
    each snapshot. Refuses with fewer than 8 labelled customers. Reading the store is recorded in the audit log.
    """
    from chainsleuth.monitor.models.detector import train_detector
    from chainsleuth.monitor.models.ledger import read_labels
    from chainsleuth.monitor.models.lgbm import TrainConfig
    from chainsleuth.monitor.models.threshold import ThresholdPolicy
    from chainsleuth.privacy import audit

    labels_path, _ = _labels_path(world, labels)
    if labels_path is None:
        raise typer.BadParameter("training on the store needs --labels (the confirmed cases)", param_hint="--labels")
    cut = _seconds(until, "--until")
    with stage_bar("model train", 3) as step:
        step("reading the ledger")
        graph = _ledger(world)
        policy = ThresholdPolicy("budget", budget) if budget is not None else ThresholdPolicy()
        config = TrainConfig(num_boost_round=rounds, threshold=policy)
        step("reading the labels")
        onset = graph.onset(read_labels(labels_path))
        step(f"computing features and boosting up to {rounds} rounds")
        model = train_detector(graph.edges, onset, graph.eligible, out, train_config=config, seed=seed, name=name,
                               until=cut)  # fmt: skip
    meta = model.metadata
    if world is None:
        with _store() as engine, session_scope(engine) as session:
            audit.record(session, _operator(), "monitor.model_train", "monitor_model", meta["model_id"][:16],
                         details={"name": name, "out": str(out), "labels": str(labels_path),
                                  "training_window": meta["training_window"]})  # fmt: skip
    table = Table(title=f"model-{name}: {len(model.features)} features, saved in {out}")
    for column in ("period", "until", "customers", "positives", "base rate"):
        table.add_column(column, justify="right" if column in ("customers", "positives", "base rate") else "left")
    for period in meta["periods"]:
        table.add_row(period["role"], period["until"][:19], str(period["n"]), str(period["positives"]),
                      f"{period['base_rate']:.4f}")  # fmt: skip
    stdout.print(table)
    val = meta["validation"]
    stdout.print(
        f"validation PR-AUC {val['pr_auc']:.3f} (base rate {meta['base_rates']['validation']:.4f}), "
        f"best F1 {val['best_f1']:.3f}, {meta['best_iteration']} trees, alert threshold {model.threshold:.4g}; "
        f"model {meta['model_id'][:12]}"
    )


@model_app.command("score")
def model_score(
    model_dir: Annotated[Path, typer.Argument(help="A folder written by `chainsleuth monitor model train`.")],
    world: WorldOpt = None,
    labels: LabelsOpt = None,
    at: Annotated[
        str | None, typer.Option(help="Score as of this ISO time, from transfers up to it (default: the latest).")
    ] = None,
    known_until: Annotated[
        str | None,
        typer.Option(
            help="Labelled customers whose onset is at or before this time count as already known (they feed the "
            "exposure features and are not alerted again). Default: --at for a confirmed-cases file; the end of "
            "the model's training data for a world's ground truth, which also lists crimes nobody found yet.",
        ),
    ] = None,
    store: Annotated[
        bool | None,
        typer.Option(
            "--store/--dry-run",
            help="Write the alerts into the relational store (default when scoring the store's ledger) or only "
            "print them (default with --world).",
        ),
    ] = None,
    queue: Annotated[str, typer.Option(help="Queue of the model's alerts.")] = "aml-high",
    shadow: Annotated[
        bool, typer.Option(help="Record shadow hits instead of alerts (watch a new model before it alerts).")
    ] = False,
    reasons: Annotated[int, typer.Option(min=1, max=20, help="Reason codes kept per alert.")] = 5,
    limit: Annotated[int, typer.Option(min=1, help="Rows printed (every alert is stored).")] = 50,
) -> None:
    """Score customers with a trained detector and raise explained alerts for those at or above its threshold.

    Every alert says why: the model's risk against its threshold and the features that pushed it most, with
    their values (LightGBM's exact per-feature contributions). Alerts come from the rule model-NAME (its hash is
    the model's id), are de-duplicated against open alerts of the same model and customer (re-scoring the same
    period adds nothing), scored by severity (from the risk) and routed to --queue, next to rule alerts.
    Storing is recorded in the audit log.
    """
    from chainsleuth.monitor.engine.context import from_micros
    from chainsleuth.monitor.models.detector import load_detector, score_ledger, training_end
    from chainsleuth.monitor.models.ledger import read_labels
    from chainsleuth.monitor.models.model_alerts import model_rule, reason_text, severity_for, store_model_alerts
    from chainsleuth.privacy import audit

    model = load_detector(model_dir)
    rule = model_rule(model, queue=queue, mode="shadow" if shadow else "active", source=str(model_dir))
    labels_path, ground_truth = _labels_path(world, labels)
    cut = _seconds(known_until, "--known-until")
    if cut is None and ground_truth:
        cut = training_end(model)
    with stage_bar("model score", 3) as step:
        step("reading the ledger")
        graph = _ledger(world)
        step("reading the labels")
        labelled = read_labels(labels_path) if labels_path is not None else None
        step("computing features and scoring every customer")
        result = score_ledger(graph, model, at=_seconds(at, "--at"), labels=labelled, known_until=cut,
                              top_k=reasons)  # fmt: skip
    when = from_micros(result.at * 1_000_000).isoformat()
    table = Table(title=f"{rule.id}: {len(result.candidates)} of {result.scored} customers at or above "
                        f"{model.threshold:.4g} as of {when}")  # fmt: skip
    for column in ("customer", "risk", "severity", "top reasons"):
        table.add_column(column, justify="right" if column == "risk" else "left")
    for candidate in result.candidates[:limit]:
        table.add_row(candidate.customer_id, f"{candidate.probability:.3f}", severity_for(candidate.probability),
                      "\n".join(reason_text(r) for r in candidate.reasons[:3]))  # fmt: skip
    stdout.print(table)
    if len(result.candidates) > limit:
        stdout.print(f"... and {len(result.candidates) - limit} more")
    stdout.print(f"{result.known} customers already known as illicit were not scored")
    if not (store if store is not None else world is None):
        return
    with _store() as engine, session_scope(engine) as session:
        report = store_model_alerts(session, result.candidates, rule)
        audit.record(session, _operator(), "monitor.model_score", "monitor_rule", rule.id,
                     details={"model_id": model.metadata["model_id"], "at": when, "scored": result.scored,
                              "alerts": len(result.candidates), "created": report.created,
                              "updated": report.updated, "shadow_hits": report.shadow_hits})  # fmt: skip
    stdout.print(
        f"{report.created} alerts created, {report.updated} updated, {report.shadow_hits} shadow hits recorded"
        + (f", {report.skipped_closed} already closed for this period" if report.skipped_closed else "")
    )
